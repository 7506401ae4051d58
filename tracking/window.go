package tracking

import (
	"sync"
	"time"
)

// The scheduled scans read the parcels whose thresholds were crossed, or whose summaries were
// saved, since the previous scan of this process, not every open parcel: at national volume
// the parcels lost or breached long ago would otherwise be read again every few minutes for
// as long as they stay open. A process's first scan, a scan after the clock stepped back, and
// one scan a day read them all, so that nothing is missed for good whatever happened between.
const (
	// ScanSkew widens each window backwards: summaries saved by another replica whose clock
	// is behind by up to this much, or saved this long after their update time, are still read.
	ScanSkew = 10 * time.Minute
	// FullScanEvery is how often a scan reads every open parcel all the same.
	FullScanEvery = 24 * time.Hour
)

// scanMark is where the previous successful scan of this process ended. It is only a
// shortcut: a process without one (a new replica, a restart, a new lease holder) scans in full.
type scanMark struct {
	mu   sync.Mutex
	at   time.Time // the clock of the previous successful scan
	full time.Time // the clock of the previous full one
}

// since returns the lower bound of this scan's windows, or full when it must read everything.
func (m *scanMark) since(now time.Time) (since time.Time, full bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at.IsZero() || now.Before(m.at) || now.Sub(m.full) >= FullScanEvery {
		return time.Time{}, true
	}
	return m.at.Add(-ScanSkew), false
}

// done records a successful scan that started at now.
func (m *scanMark) done(now time.Time, full bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.at) || full {
		m.at = now
	}
	if full {
		m.full = now
	}
}

// window returns the queries that find the parcels q finds whose bound crossed since since:
// q itself when the scan is full; otherwise q restricted to a bound at or after each of the
// given lower bounds in turn (set by each of the functions), and q restricted to summaries
// saved since.
func window(q ParcelQuery, since time.Time, full bool, bounds ...func(*ParcelQuery)) []ParcelQuery {
	if full {
		return []ParcelQuery{q}
	}
	out := make([]ParcelQuery, 0, len(bounds)+1)
	for _, b := range bounds {
		w := q
		b(&w)
		out = append(out, w)
	}
	changed := q
	changed.UpdatedFrom = since
	return append(out, changed)
}
