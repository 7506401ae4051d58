package tracking_test

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// fullStore is a tracking store whose writes of derived state fail as on a full disk while
// full is set; the events' own writes still land (the journal's last free pages).
type fullStore struct {
	tracking.Store
	full *atomic.Bool
}

var errFull = &credtrace.Error{Kind: credtrace.Unavailable, Code: "disk_full", Msg: "the store cannot write (disk full)"}

func (f fullStore) AddStats(ctx context.Context, source string, deltas []tracking.StatDelta) error {
	if f.full.Load() {
		return errFull
	}
	return f.Store.AddStats(ctx, source, deltas)
}

func (f fullStore) SaveDerived(ctx context.Context, d tracking.Derived) error {
	if f.full.Load() {
		return errFull
	}
	return f.Store.SaveDerived(ctx, d)
}

// TestDerivedStateSurvivesAFullDisk fails the saves of derived state after the events of a
// batch were stored: the batch is answered Unavailable (not accepted), the pipeline does not
// wedge, and once the store takes writes again, without a restart, the carriers' re-sends are
// duplicates and the statistics match the journal exactly.
func TestDerivedStateSurvivesAFullDisk(t *testing.T) {
	full := &atomic.Bool{}
	ref := newWorld(t) // the same world and batches, no full disk
	w := newWorldWrapped(t, tracking.Options{}, func(s tracking.Store) tracking.Store { return fullStore{s, full} })
	c := credtrace.Caller{TokenID: "tok", Role: credtrace.RoleRegulator}
	batchOf := func(w *world, n int) []tracking.EventInput {
		var in []tracking.EventInput
		for i := range 6 {
			wb := fmt.Sprintf("YT%04d%06d", n, i)
			at := t0.Add(time.Duration(n*10+i) * time.Minute)
			in = append(in, ev(fmt.Sprintf("c%d-%d", n, i), wb, w.hqA, tracking.Collected, at, w.siteA, w.xA),
				ev(fmt.Sprintf("d%d-%d", n, i), wb, w.hqA, tracking.Delivered, at.Add(2*time.Hour), w.siteA2, w.wA))
		}
		return in
	}
	ingest := func(n int) (tracking.IngestResult, error) { return w.svc.Ingest(w.ctx, c, batchOf(w, n)) }
	for n := 0; n <= 4; n++ {
		if _, err := ref.svc.Ingest(ref.ctx, c, batchOf(ref, n)); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := ingest(0); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	failed := 0
	for n := 1; n <= 3; n++ {
		_, err := ingest(n)
		if err != nil {
			if credtrace.KindOf(err) != credtrace.Unavailable {
				t.Fatalf("batch %d on a full disk: %v (want Unavailable)", n, err)
			}
			failed++
		}
	}
	if err := w.svc.Flush(w.ctx); credtrace.KindOf(err) != credtrace.Unavailable {
		t.Errorf("a flush on a full disk: %v (want Unavailable)", err)
	}
	if failed == 0 {
		t.Fatal("no batch met the full disk")
	}
	full.Store(false)
	for n := 1; n <= 4; n++ {
		res, err := ingest(n)
		if err != nil {
			t.Fatalf("batch %d once space returned: %v", n, err)
		}
		for _, r := range res.Results {
			if r.Status != tracking.Accepted && r.Status != tracking.Duplicate {
				t.Errorf("batch %d: %s %s %s", n, r.ID, r.Status, r.Reason)
			}
		}
	}
	diffs, err := w.svc.Check(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	for _, sub := range []struct {
		kind      tracking.SubjectKind
		got, want string
	}{{tracking.SubjectFirm, w.hqA, ref.hqA}, {tracking.SubjectSite, w.siteA, ref.siteA}, {tracking.SubjectStaff, w.xA, ref.xA}} {
		got, err := w.svc.Stats(w.ctx, sub.kind, sub.got, "2026-05-01", "2026-07-01")
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.svc.Stats(ref.ctx, sub.kind, sub.want, "2026-05-01", "2026-07-01")
		if err != nil {
			t.Fatal(err)
		}
		if g, w := countsOf(got), countsOf(want); !reflect.DeepEqual(g, w) || len(w) == 0 {
			t.Errorf("%s statistics after the full disk:\n got %v\nwant %v", sub.kind, g, w)
		}
	}
}

// countsOf is the counts of stats by day, without the subject's id.
func countsOf(ds []tracking.DayStats) map[string]map[tracking.Metric]int {
	out := map[string]map[tracking.Metric]int{}
	for _, d := range ds {
		out[d.Key.Day] = d.Counts
	}
	return out
}
