package mongodb

// IsDuplicateKey is isDuplicateKey, for the classification test.
var IsDuplicateKey = isDuplicateKey

// QueryLog records the filters and sorts a monitored store sends (see its Option).
type QueryLog = queryLog

// NewQueryLog returns an empty log.
var NewQueryLog = newQueryLog

// Uncovered returns the recorded queries no declared index serves.
func (l *queryLog) Uncovered() []string { return l.uncovered() }

// Count returns how many distinct queries were recorded.
func (l *queryLog) Count() int { return l.count() }

// Option is the Open option that records every command's filter and sort in l.
func (l *queryLog) Option() Option { return WithMonitor(l.monitor()) }

// Unavailable is unavailable, for the classification test.
var Unavailable = unavailable

// UnavailableResult is unavailableResult, for the classification test.
var UnavailableResult = unavailableResult

// GroupSums reports what Open detected of the server's $group (see detectGroupSums).
func (s *Store) GroupSums() bool { return s.groupSums }

// SetGroupSums makes StatTotals group as if the server could (or could not) sum several fields.
func (s *Store) SetGroupSums(v bool) { s.groupSums = v }
