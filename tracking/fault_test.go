package tracking_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
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

// stalledStore is a tracking store whose AppendEvents waits, once started, until release is
// closed: a store that went away, as the pipeline sees it until its operation timeout.
type stalledStore struct {
	tracking.Store
	entered chan struct{} // gets a value when an AppendEvents starts waiting
	release chan struct{}
}

func (s stalledStore) AppendEvents(ctx context.Context, events []tracking.Event) ([]bool, int64, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.Store.AppendEvents(ctx, events)
}

// TestIngestionBacklogIsBounded stalls the store under a pipeline bounded to 12 queued events:
// a batch past the bound is refused at once as Unavailable (ErrBacklog) instead of queueing,
// and once the store answers again the batches that waited are taken, and so is a new one.
func TestIngestionBacklogIsBounded(t *testing.T) {
	st := stalledStore{entered: make(chan struct{}, 10), release: make(chan struct{})}
	w := newWorldWrapped(t, tracking.Options{}, func(s tracking.Store) tracking.Store { st.Store = s; return st })
	w.svc = tracking.NewService(w.ts, w.arch, w.props, courier.NewHasher([]byte("tracking-test-key-0123456789abcdef")), tracking.Options{}, w.clk.Now)
	p := tracking.NewPipeline(w.svc, tracking.PipelineOptions{MaxQueued: 12})
	t.Cleanup(func() { p.Close(context.Background()) })
	c := credtrace.Caller{TokenID: "tok", Role: credtrace.RoleRegulator}
	batch := func(n, size int) []tracking.EventInput {
		var in []tracking.EventInput
		for i := range size {
			in = append(in, ev(fmt.Sprintf("q%d-%d", n, i), fmt.Sprintf("YT%04d%06d", n, i), w.hqA, tracking.Collected, t0.Add(time.Duration(i)*time.Minute), w.siteA, w.xA))
		}
		return in
	}
	waiting := make(chan error, 1)
	go func() { _, err := w.svc.Ingest(w.ctx, c, batch(1, 10)); waiting <- err }()
	<-st.entered // the first batch is with the store, which does not answer
	if _, err := w.svc.Ingest(w.ctx, c, batch(2, 3)); !errors.Is(err, tracking.ErrBacklog) || credtrace.KindOf(err) != credtrace.Unavailable {
		t.Fatalf("a batch past the bound: %v (want ErrBacklog, Unavailable)", err)
	}
	close(st.release)
	if err := <-waiting; err != nil {
		t.Fatalf("the batch that waited: %v", err)
	}
	res, err := w.svc.Ingest(w.ctx, c, batch(2, 3))
	if err != nil || res.Accepted != 3 {
		t.Fatalf("the refused batch once the store answers: %+v %v", res, err)
	}
}

// TestClockStepsDuringIngestion steps the service's clock back an hour, then forward a day,
// while a carrier with a correct clock sends events stamped with the true time: none is
// refused as being in the future, and one truly in the future still is.
func TestClockStepsDuringIngestion(t *testing.T) {
	w := newWorld(t)
	c := credtrace.Caller{TokenID: "tok", Role: credtrace.RoleRegulator}
	truth := w.clk.Now()
	send := func(id string, at time.Time) tracking.EventResult {
		t.Helper()
		res, err := w.svc.Ingest(w.ctx, c, []tracking.EventInput{ev(id, "YT"+id, w.hqA, tracking.Collected, at, w.siteA, w.xA)})
		if err != nil {
			t.Fatal(err)
		}
		return res.Results[0]
	}
	if r := send("0000000001", truth); r.Status != tracking.Accepted {
		t.Fatalf("before the step: %s %s", r.Status, r.Reason)
	}
	w.clk.Set(truth.Add(-time.Hour)) // the host clock steps back; true time goes on
	if r := send("0000000002", truth.Add(time.Minute)); r.Status != tracking.Accepted {
		t.Errorf("an event at the true time, the clock an hour behind: %s %s", r.Status, r.Reason)
	}
	if r := send("0000000003", truth.Add(2*time.Hour)); r.Status != tracking.Rejected {
		t.Errorf("an event two hours ahead of the true time: %s (want rejected)", r.Status)
	}
	w.clk.Set(truth.Add(24 * time.Hour)) // and forward a day
	if r := send("0000000004", truth.Add(2*time.Minute)); r.Status != tracking.Accepted {
		t.Errorf("an event at the true time, the clock a day ahead: %s %s", r.Status, r.Reason)
	}
}
