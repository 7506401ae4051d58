package tracking_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// The scheduled scans read only the window since their previous run (issue 13, item 5), and
// miss nothing a full scan finds: parcels breaching, stalling and being deemed lost between
// scans, a parcel whose old events arrive late (backfilled, already stale on arrival), and a
// clock that steps back. A new process's full scan afterwards finds nothing new and moves no
// statistic.
func TestScanWindows(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	day := 24 * time.Hour
	for i := range 6 {
		wb := fmt.Sprintf("YT%010d", 100+i)
		at := t0.Add(time.Duration(i) * 13 * time.Hour)
		w.ingestAt(t, ev("c"+wb, wb, w.hqA, tracking.Collected, at, w.siteA, w.xA),
			ev("t"+wb, wb, w.hqA, tracking.Departed, at.Add(2*time.Hour), w.siteA, w.xA))
	}
	hourly := func(from, to time.Time) (scanned, found int) {
		for at := from; !at.After(to); at = at.Add(time.Hour) {
			w.clk.Set(at)
			res, err := w.svc.Scan(w.ctx)
			if err != nil {
				t.Fatalf("scan at %s: %v", at, err)
			}
			scanned += res.Scanned
			found += len(res.New)
		}
		return scanned, found
	}
	start := t0.Add(4 * day)
	hourly(start, start.Add(3*day))
	// Old events arriving late: stale and breached the moment they are stored.
	w.clk.Set(start.Add(3*day + 30*time.Minute))
	w.accept(t, ev("cLATE", "YT0000000999", w.hqA, tracking.Collected, t0.Add(-2*day), w.siteA, w.xA),
		ev("tLATE", "YT0000000999", w.hqA, tracking.Departed, t0.Add(-2*day+time.Hour), w.siteA, w.xA))
	// The next scan is not a full one (the daily one ran at start+3d): its window must find it.
	hourly(start.Add(3*day+time.Hour), start.Add(3*day+time.Hour))
	late := map[tracking.AnomalyKind]bool{}
	for _, a := range w.anomalies(t, "") {
		if a.Waybill == "YT0000000999" {
			late[a.Kind] = true
		}
	}
	if !late[tracking.AnStalled] || !late[tracking.AnPromiseBreached] {
		t.Errorf("the backfilled parcel's anomalies after the next scan: %v, want stalled and promise breached", late)
	}
	hourly(start.Add(3*day+2*time.Hour), start.Add(9*day))
	// The clock steps back an hour, then goes on.
	hourly(start.Add(9*day-time.Hour), start.Add(12*day))

	// Quiet hours read nothing once every parcel's thresholds have passed.
	scanned, _ := hourly(start.Add(12*day+time.Hour), start.Add(12*day+3*time.Hour))
	if scanned != 0 {
		t.Errorf("three quiet scans read %d parcels, want 0 (only the window since the previous scan)", scanned)
	}
	if n := len(ofKind(w.anomalies(t, tracking.AnStalled), tracking.AnStalled)); n < 7 {
		t.Errorf("stalled anomalies = %d, want one per parcel (7)", n)
	}
	if got := w.sum(t, tracking.SubjectSite, w.siteA, tracking.MLost); got != 7 {
		t.Errorf("lost at the collecting site = %d, want 7", got)
	}

	before := w.stats(t, tracking.SubjectSite, w.siteA)
	hasher := courier.NewHasher([]byte("tracking-test-key-0123456789abcdef"))
	fresh := tracking.NewService(w.ts, w.arch, w.props, hasher, w.opts, w.clk.Now)
	res, err := fresh.Scan(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Scanned == 0 {
		t.Error("a new process's first scan read nothing: it must read every open parcel")
	}
	if len(res.New) != 0 {
		t.Errorf("a full scan found %d anomalies the windowed scans missed: %v", len(res.New), anomalyKinds(res.New))
	}
	if after := w.stats(t, tracking.SubjectSite, w.siteA); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a full scan moved the statistics: %v, want %v", after, before)
	}
}
