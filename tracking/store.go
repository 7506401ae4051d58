package tracking

import (
	"context"
	"fmt"
	"time"
)

// Batch is what one ingestion writes: the new events (each carrying the statistics it moved),
// the parcel summaries they changed, and the anomalies they raised.
type Batch struct {
	Events    []Event
	Parcels   []Parcel
	Anomalies []Anomaly
}

// ParcelQuery selects parcel summaries for the scheduled scans; zero fields do not filter.
type ParcelQuery struct {
	Carriers       []string  // nil: any
	NotFinal       bool      // only parcels still on their way
	LastBefore     time.Time // last event before this time
	PromiseBefore  time.Time // promise due before this time
	CollectedAfter time.Time // collected at or after this time
	// LastFrom, PromiseFrom and UpdatedFrom are lower bounds (inclusive): the last event, the
	// promise, and the latest save of the summary at or after them. They give the scheduled
	// scans the window since their previous run.
	LastFrom, PromiseFrom, UpdatedFrom time.Time
	HasMerchant                        bool
	MerchantID                         string // only this merchant's parcels
	// NewestCollected orders the parcels newest CollectedAt first, ties in key order, instead
	// of by key: the first Limit of them, without paging (After must be empty).
	NewestCollected bool
	After           string // the key (ParcelKey.String) of the last parcel of the previous page
	Limit           int
}

// MerchantCount is one merchant's parcels and distinct recipients in a window.
type MerchantCount struct {
	MerchantID          string
	Parcels, Recipients int
}

// AnomalyQuery selects anomalies.
type AnomalyQuery struct {
	Carriers []string // nil: any
	Kind     AnomalyKind
	Waybill  string // only this waybill's (of any carrier among Carriers)
	Open     bool   // only those not yet turned into an incident
	// Newest lists the latest first (descending id), the first Limit of them; After is not
	// used with it. The overview shows the latest few this way without reading the rest.
	Newest bool
	After  string
	Limit  int
}

// IncidentQuery selects incidents.
type IncidentQuery struct {
	Carriers []string
	Waybill  string
	After    string
	Limit    int
}

// StatsQuery selects day statistics of subjects between two days (inclusive, YYYY-MM-DD).
type StatsQuery struct {
	Kind     SubjectKind
	IDs      []string // nil: every subject of the kind
	From, To string
}

// Store is what tracking needs from a backend. Every backend ingests through the same
// contract, the Journal methods, which the Pipeline consumes.
type Store interface {
	Journal

	// Atomic runs fn so that its writes land together where the backend can offer that.
	Atomic(ctx context.Context, fn func(Store) error) error

	// EventHashes returns the content hash of each stored event among keys (carrier|id).
	EventHashes(ctx context.Context, keys []string) (map[string]string, error)
	// ParcelsByKey returns the stored summaries of the given parcels; unknown ones are absent.
	ParcelsByKey(ctx context.Context, keys []ParcelKey) (map[ParcelKey]Parcel, error)
	// WriteBatch stores the batch. Each event's Deltas are added to the statistics exactly
	// once, however often the batch is re-sent and wherever the process stops: an event whose
	// key is already stored (a writer elsewhere won the race) is skipped with its deltas.
	WriteBatch(ctx context.Context, b Batch) error

	// ParcelEvents returns one parcel's events (its carrier's events of its waybill) in any order.
	ParcelEvents(ctx context.Context, key ParcelKey) ([]Event, error)
	// WaybillCarriers returns the carriers that sent events for a waybill, sorted, from the
	// stored events (so in step with them, whatever the summaries).
	WaybillCarriers(ctx context.Context, waybill string) ([]string, error)
	// Parcels lists summaries in key order (waybill, then carrier).
	Parcels(ctx context.Context, q ParcelQuery) ([]Parcel, error)
	// MerchantCounts counts, per merchant, the parcels collected at or after since and their
	// distinct recipients (parcels without a recipient count as parcels only), for the merchants
	// with at least minParcels of them, in merchant order. The burst scan reads these counts,
	// not every parcel of the window.
	MerchantCounts(ctx context.Context, since time.Time, minParcels int) ([]MerchantCount, error)

	// AddStats adds deltas once for source key (an incident id): a repeated key adds nothing.
	AddStats(ctx context.Context, source string, deltas []StatDelta) error
	// Stats returns the day statistics that match q.
	Stats(ctx context.Context, q StatsQuery) ([]DayStats, error)
	// StatTotals sums the statistics of every subject of kind between two days (inclusive),
	// by subject id: the cost follows subjects and days, never raw events.
	StatTotals(ctx context.Context, kind SubjectKind, from, to string) (map[string]map[Metric]int, error)
	// StatTotalsPage is StatTotals a page at a time: the totals of the subjects of kind with
	// an id after after, in id order, at most limit of them (no limit when limit <= 0), so that
	// a national run reads them as a stream. A subject's totals leave out zero metrics.
	StatTotalsPage(ctx context.Context, kind SubjectKind, from, to, after string, limit int) ([]SubjectTotals, error)

	CarrierConfig(ctx context.Context, firmID string) (CarrierConfig, error) // credtrace.ErrNotFound when unset
	PutCarrierConfig(ctx context.Context, c CarrierConfig) error

	CreateIncident(ctx context.Context, in Incident) error
	// JoinIncident counts one more report joined into incident id (JoinedReports) and returns
	// the incident as stored after. credtrace.ErrNotFound for an unknown id.
	JoinIncident(ctx context.Context, id string) (Incident, error)
	Incident(ctx context.Context, id string) (Incident, error)
	Incidents(ctx context.Context, q IncidentQuery) ([]Incident, error)
	// CountIncidents counts the incidents q selects (After and Limit are ignored), on the server.
	CountIncidents(ctx context.Context, q IncidentQuery) (int, error)

	// PutAnomalies stores anomalies not yet stored (by id) and returns those that were new.
	PutAnomalies(ctx context.Context, as []Anomaly) ([]Anomaly, error)
	Anomaly(ctx context.Context, id string) (Anomaly, error)
	Anomalies(ctx context.Context, q AnomalyQuery) ([]Anomaly, error)
	// CountAnomalies counts the anomalies q selects (After and Limit are ignored), on the server.
	CountAnomalies(ctx context.Context, q AnomalyQuery) (int, error)
	// LinkAnomaly records the incident an anomaly became; credtrace.ErrConflict when it already has one.
	LinkAnomaly(ctx context.Context, id, incidentID string) error

	// WrongGuess records a wrong answer to the check named by key at now, and forgets the
	// wrong answers (to any check) older than keep. Answers recorded at once by several
	// processes all land.
	WrongGuess(ctx context.Context, key string, now time.Time, keep time.Duration) error
	// WrongGuesses returns the times of the wrong answers to the check named by key at or
	// after since, oldest first.
	WrongGuesses(ctx context.Context, key string, since time.Time) ([]time.Time, error)

	// AppendLinks stores the links whose key (Link.Key) is new, and reports which were stored.
	AppendLinks(ctx context.Context, links []Link) ([]bool, error)
	// ParcelLinks returns one parcel's links, in any order, retracted ones with their mark.
	ParcelLinks(ctx context.Context, key ParcelKey) ([]Link, error)
	// ContainerLinks returns the packed and unpacked links of carrier's container, in any
	// order, retracted ones with their mark.
	ContainerLinks(ctx context.Context, carrier, container string) ([]Link, error)
	// EventLinks returns the links the event id of carrier stored (its Link.EventID is id),
	// with their retraction marks, in any order.
	EventLinks(ctx context.Context, carrier, id string) ([]Link, error)
	// RetractLinks marks each of links (stored before) as retracted with its Retracted, unless
	// it is marked already, and reports which it marked. A mark is never removed, nor the link.
	RetractLinks(ctx context.Context, links []Link) ([]bool, error)
	// KnownContainers reports which of keys (carrier and id) name a container: one a packed
	// link names, retracted or not. Ids that do not are absent.
	KnownContainers(ctx context.Context, keys []ParcelKey) (map[ParcelKey]bool, error)
	// Retract records r, unless a retraction with its key is stored (it then reports false and
	// writes nothing), and with it saves summary p over the stored one and adds deltas to the
	// statistics, once.
	Retract(ctx context.Context, r Retraction, p Parcel, deltas []StatDelta) (bool, error)
	// Retractions returns the retractions of one parcel's events, in any order.
	Retractions(ctx context.Context, key ParcelKey) ([]Retraction, error)
	// EventsByID returns carrier's stored events whose id is id, or id followed by '#' or '~'
	// and more: what one EPCIS event became (one event per EPC, one per parcel of a container).
	EventsByID(ctx context.Context, carrier, id string) ([]Event, error)

	// LastSeq returns the highest sequence of a stored event, 0 when none is stored.
	LastSeq(ctx context.Context) (int64, error)
	// EventsSince returns stored events, folded or not, whose sequence is above q.After or in
	// one of q.Gaps, in sequence order, at most q.Limit, with their sequences. It is what the
	// live streams poll, so it reads every process's events.
	EventsSince(ctx context.Context, q SeqQuery) ([]Event, []int64, error)
	// LastAlertSeq returns the highest sequence of a stored alert (a new incident or anomaly),
	// 0 when none is stored.
	LastAlertSeq(ctx context.Context) (int64, error)
	// AlertsSince returns the alerts stored by any process whose sequence is above q.After or
	// in one of q.Gaps, in sequence order, at most q.Limit, with their sequences: each incident
	// created and each anomaly stored once, as they are when read. It is what the alert stream
	// polls.
	AlertsSince(ctx context.Context, q SeqQuery) ([]Alert, []int64, error)

	// AddHit records one request counted by the limit named by key at at. Hits recorded at
	// once by several processes all land.
	AddHit(ctx context.Context, key string, at time.Time) error
	// CountHits counts the hits of key at or after since.
	CountHits(ctx context.Context, key string, since time.Time) (int, error)
	// PruneHits forgets the hits (of any key) before before.
	PruneHits(ctx context.Context, before time.Time) error
}

// SeqQuery selects stored events (or alerts) by sequence: those above After, and those in Gaps.
type SeqQuery struct {
	After int64
	Gaps  []SeqRange
	Limit int
}

// SeqRange is the sequences From to To, both included.
type SeqRange struct{ From, To int64 }

// Derived is the state that follows from the event log: parcel summaries, statistics and
// anomalies, with the sequence of the last event they include.
type Derived struct {
	Parcels []Parcel
	// Events are the events whose effects the state adds, in the order they were folded, each
	// with the statistics it moved (none for many).
	Events    []EventStats
	Anomalies []Anomaly
	Through   int64
}

// EventStats is the statistics one event (by its key, carrier|id) moved.
type EventStats struct {
	Key    string
	Parcel ParcelKey // the parcel the event was folded into; zero for statistics of no parcel
	Deltas []StatDelta
	// Sources are statistics the fold named by key (revivals, empty-parcel withdrawals), added
	// once each by SaveDerived, when the fold's summary is saved. A pipeline on a store only it
	// writes adds them while folding and leaves this empty.
	Sources []StatSource
}

// StatSource is statistics added once by key (Store.AddStats).
type StatSource struct {
	Key    string
	Deltas []StatDelta
}

// FoldConflictError is returned by SaveDerived when another process saved a summary of some
// parcels since they were read (the same Version): nothing of those parcels' folds was written
// (their events stay for a replay), everything else was. The caller reads the summaries again
// and folds, onto them, the events they do not hold yet (Parcel.Folded).
type FoldConflictError struct {
	Parcels []ParcelKey
}

func (e *FoldConflictError) Error() string {
	return fmt.Sprintf("%d parcel summaries were saved by another process meanwhile", len(e.Parcels))
}

// Journal is how ingestion writes, whatever the backend. Ingestion makes only the events
// durable before it answers, folds them, and saves the derived state after (in bulk a moment
// later when one process writes the store, before the answer when several do); after a crash,
// the events whose derived state was not saved are replayed in their stored order from the
// saved state, which folds them exactly as the first time and so moves exactly the same
// statistics. Events read back from a journal need not keep their Deltas.
type Journal interface {
	// AppendEvents stores events whose key is new, in the given order and durably, and reports
	// which were stored and the sequence of the last stored event (0 when none was).
	AppendEvents(ctx context.Context, events []Event) (stored []bool, last int64, err error)
	// Checkpoint is a sequence at or below which the derived state holds every event's effects.
	Checkpoint(ctx context.Context) (int64, error)
	// EventsAfter returns, in sequence order, stored events with a sequence above seq whose
	// effects the derived state does not hold yet, with their sequences.
	EventsAfter(ctx context.Context, seq int64, limit int) ([]Event, []int64, error)
	// SaveDerived writes the derived state and moves the checkpoint past d.Events (to
	// d.Through). Should it stop half-way, EventsAfter still returns the events whose effects
	// did not all land, and saving their replay adds each event's statistics once in all.
	// Where several processes fold (Parcel.Version set), a summary whose version another
	// process saved first is not written: *FoldConflictError names those parcels.
	SaveDerived(ctx context.Context, d Derived) error
}

// SubjectTotals is one subject's statistics summed over a day range (StatTotalsPage).
type SubjectTotals struct {
	ID     string
	Totals map[Metric]int
}
