package mongodb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/storetest"
	"github.com/credtrace/credtrace/tracking"
)

func TestTrackingContract(t *testing.T) {
	t.Parallel()
	storetest.RunTracking(t, func(t *testing.T) tracking.Store { return open(t).Tracking() })
}

// The crash tests write documents as WriteBatch and AddStats leave them when the process stops
// between two steps: an event or source stored with counted false and its deltas, a statistics
// document whose pend list holds the sources whose deltas it has taken.

const day1 = "2026-04-01"

type rawDelta struct {
	kind, id, metric string
	n                int
}

func rawDeltas(ds []rawDelta) bson.A {
	out := bson.A{}
	for _, d := range ds {
		out = append(out, bson.D{{Key: "kind", Value: d.kind}, {Key: "id", Value: d.id}, {Key: "day", Value: day1},
			{Key: "metric", Value: d.metric}, {Key: "n", Value: int64(d.n)}})
	}
	return out
}

// storeUncounted inserts an event as step 1 of WriteBatch leaves it: stored, its deltas not
// yet in the statistics.
func storeUncounted(ctx context.Context, t *testing.T, s *mongodb.Store, id string, received time.Time, counted bool, ds ...rawDelta) {
	t.Helper()
	doc := bson.D{
		{Key: "_id", Value: "c1|" + id}, {Key: "id", Value: id}, {Key: "waybill", Value: "W0001"}, {Key: "carrier", Value: "c1"},
		{Key: "code", Value: "arrived"}, {Key: "at", Value: bson.NewDateTimeFromTime(t0)}, {Key: "firm_id", Value: "f1"},
		{Key: "holder", Value: bson.D{{Key: "kind", Value: "firm"}, {Key: "firm_id", Value: "f1"}}},
		{Key: "lat", Value: nil}, {Key: "lng", Value: nil}, {Key: "hash", Value: "h-" + id},
		{Key: "received_at", Value: bson.NewDateTimeFromTime(received)},
		{Key: "deltas", Value: rawDeltas(ds)}, {Key: "counted", Value: counted},
	}
	if _, err := s.DB().Collection("events").InsertOne(ctx, doc); err != nil {
		t.Fatalf("insert event %s: %v", id, err)
	}
}

// applyManually does what the guarded update of WriteBatch does for one key and one source.
func applyManually(ctx context.Context, t *testing.T, s *mongodb.Store, kind, id, metric string, n int, src string) {
	t.Helper()
	update := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "counts." + metric, Value: int64(n)}}},
		{Key: "$push", Value: bson.D{{Key: "pend", Value: src}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "kind", Value: kind}, {Key: "id", Value: id}, {Key: "day", Value: day1}}},
	}
	_, err := s.DB().Collection("stats").UpdateOne(ctx, bson.D{{Key: "_id", Value: kind + "|" + id + "|" + day1}}, update, options.UpdateOne().SetUpsert(true))
	if err != nil {
		t.Fatalf("apply %s of %s by hand: %v", metric, src, err)
	}
}

// wantCounts checks the statistics of one subject on day1, a missing metric counting as zero.
func wantCounts(ctx context.Context, t *testing.T, st tracking.Store, what string, kind tracking.SubjectKind, id string, want map[tracking.Metric]int) {
	t.Helper()
	got, err := st.Stats(ctx, tracking.StatsQuery{Kind: kind, IDs: []string{id}, From: day1, To: day1})
	if err != nil {
		t.Fatalf("%s: Stats: %v", what, err)
	}
	var counts map[tracking.Metric]int
	if len(got) == 1 {
		counts = got[0].Counts
	} else if len(got) > 1 {
		t.Fatalf("%s: %d statistics for %s %s on %s, want at most 1", what, len(got), kind, id, day1)
	}
	for _, m := range tracking.Metrics {
		if counts[m] != want[m] {
			t.Errorf("%s: %s %s %s = %d, want %d", what, kind, id, m, counts[m], want[m])
		}
	}
}

// wantSettled checks that nothing is left for recovery: every event and source counted and every
// pend list empty.
func wantSettled(ctx context.Context, t *testing.T, s *mongodb.Store) {
	t.Helper()
	for _, coll := range []string{"events", "stat_sources"} {
		n, err := s.DB().Collection(coll).CountDocuments(ctx, bson.D{{Key: "counted", Value: false}})
		if err != nil || n != 0 {
			t.Errorf("%d %s left uncounted (%v), want none", n, coll, err)
		}
	}
	n, err := s.DB().Collection("stats").CountDocuments(ctx, bson.D{{Key: "pend.0", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil || n != 0 {
		t.Errorf("%d statistics still hold pending sources (%v), want none", n, err)
	}
}

func recoverStats(ctx context.Context, t *testing.T, tr *mongodb.Tracking, olderThan time.Duration, want int) {
	t.Helper()
	n, err := tr.RecoverStats(ctx, olderThan)
	if err != nil {
		t.Fatalf("RecoverStats: %v", err)
	}
	if n != want {
		t.Errorf("RecoverStats finished %d events and sources, want %d", n, want)
	}
}

// TestStatsRecoverAfterCrash stops WriteBatch and AddStats at each point between their steps
// and checks that recovery, run twice, counts every delta exactly once.
func TestStatsRecoverAfterCrash(t *testing.T) {
	t.Parallel()
	t.Run("stored, nothing counted", func(t *testing.T) {
		ctx := testCtx(t)
		s := open(t)
		tr := s.Tracking()
		storeUncounted(ctx, t, s, "e1", t0, false, rawDelta{"firm", "f1", "handled", 1}, rawDelta{"site", "s1", "handled", 1})
		storeUncounted(ctx, t, s, "e2", t0, false, rawDelta{"firm", "f1", "delivered", 1}, rawDelta{"firm", "f1", "handled", 1})
		src := bson.D{{Key: "_id", Value: "incident|i1"}, {Key: "deltas", Value: bson.A{bson.D{{Key: "kind", Value: "firm"}, {Key: "id", Value: "f1"},
			{Key: "day", Value: day1}, {Key: "metric", Value: "complaints"}, {Key: "n", Value: int64(1)}}}}, {Key: "counted", Value: false},
			{Key: "recorded_at", Value: bson.NewDateTimeFromTime(t0)}}
		if _, err := s.DB().Collection("stat_sources").InsertOne(ctx, src); err != nil {
			t.Fatalf("insert source: %v", err)
		}

		// The batch sent again after the crash finds its event stored and skips it; so does a
		// repeated AddStats.
		e1 := tracking.Event{ID: "e1", Waybill: "W0001", Carrier: "c1", Code: tracking.Arrived, At: t0, Hash: "h-e1", ReceivedAt: t0,
			Deltas: []tracking.StatDelta{{Key: tracking.StatKey{Kind: tracking.SubjectFirm, ID: "f1", Day: day1}, Metric: tracking.MHandled, N: 1}}}
		if err := tr.WriteBatch(ctx, tracking.Batch{Events: []tracking.Event{e1}}); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		if err := tr.AddStats(ctx, "incident|i1", []tracking.StatDelta{{Key: tracking.StatKey{Kind: tracking.SubjectFirm, ID: "f1", Day: day1}, Metric: tracking.MComplaints, N: 1}}); err != nil {
			t.Fatalf("AddStats: %v", err)
		}
		wantCounts(ctx, t, tr, "before recovery", tracking.SubjectFirm, "f1", nil)

		recoverStats(ctx, t, tr, 0, 3)
		want := map[tracking.Metric]int{tracking.MHandled: 2, tracking.MDelivered: 1, tracking.MComplaints: 1}
		wantCounts(ctx, t, tr, "after recovery", tracking.SubjectFirm, "f1", want)
		wantCounts(ctx, t, tr, "after recovery", tracking.SubjectSite, "s1", map[tracking.Metric]int{tracking.MHandled: 1})
		wantSettled(ctx, t, s)

		recoverStats(ctx, t, tr, 0, 0)
		wantCounts(ctx, t, tr, "after a second recovery", tracking.SubjectFirm, "f1", want)
		wantCounts(ctx, t, tr, "after a second recovery", tracking.SubjectSite, "s1", map[tracking.Metric]int{tracking.MHandled: 1})
	})

	t.Run("one key counted, the event not marked", func(t *testing.T) {
		ctx := testCtx(t)
		s := open(t)
		tr := s.Tracking()
		storeUncounted(ctx, t, s, "e1", t0, false, rawDelta{"firm", "f1", "handled", 1}, rawDelta{"site", "s1", "handled", 1},
			rawDelta{"firm", "f1", "on_time", 1})
		applyManually(ctx, t, s, "firm", "f1", "handled", 1, "c1|e1")
		applyManually(ctx, t, s, "firm", "f1", "on_time", 1, "c1|e1")

		recoverStats(ctx, t, tr, 0, 1)
		want := map[tracking.Metric]int{tracking.MHandled: 1, tracking.MOnTime: 1}
		wantCounts(ctx, t, tr, "after recovery", tracking.SubjectFirm, "f1", want)
		wantCounts(ctx, t, tr, "after recovery", tracking.SubjectSite, "s1", map[tracking.Metric]int{tracking.MHandled: 1})
		wantSettled(ctx, t, s)

		recoverStats(ctx, t, tr, 0, 0)
		wantCounts(ctx, t, tr, "after a second recovery", tracking.SubjectFirm, "f1", want)
	})

	t.Run("counted, guard not released", func(t *testing.T) {
		ctx := testCtx(t)
		s := open(t)
		tr := s.Tracking()
		storeUncounted(ctx, t, s, "e1", t0, true, rawDelta{"firm", "f1", "handled", 1})
		applyManually(ctx, t, s, "firm", "f1", "handled", 1, "c1|e1")
		applyManually(ctx, t, s, "firm", "f1", "lost", 1, "c1|e9") // an event still being counted elsewhere

		recoverStats(ctx, t, tr, 0, 0)
		wantCounts(ctx, t, tr, "after recovery", tracking.SubjectFirm, "f1", map[tracking.Metric]int{tracking.MHandled: 1, tracking.MLost: 1})
		var doc struct {
			Pend []string `bson:"pend"`
		}
		if err := s.DB().Collection("stats").FindOne(ctx, bson.D{{Key: "_id", Value: "firm|f1|" + day1}}).Decode(&doc); err != nil {
			t.Fatalf("read statistics: %v", err)
		}
		if len(doc.Pend) != 1 || doc.Pend[0] != "c1|e9" {
			t.Errorf("pend after recovery = %q, want only the source that is not counted [c1|e9]", doc.Pend)
		}
	})

	t.Run("recent events are left to their writer", func(t *testing.T) {
		ctx := testCtx(t)
		s := open(t)
		tr := s.Tracking()
		storeUncounted(ctx, t, s, "old", time.Now().Add(-2*time.Hour), false, rawDelta{"firm", "f1", "handled", 1})
		storeUncounted(ctx, t, s, "new", time.Now(), false, rawDelta{"firm", "f1", "lost", 1})

		recoverStats(ctx, t, tr, time.Hour, 1)
		wantCounts(ctx, t, tr, "after recovery of events older than an hour", tracking.SubjectFirm, "f1", map[tracking.Metric]int{tracking.MHandled: 1})
		recoverStats(ctx, t, tr, 0, 1)
		wantCounts(ctx, t, tr, "after recovery of every event", tracking.SubjectFirm, "f1", map[tracking.Metric]int{tracking.MHandled: 1, tracking.MLost: 1})
	})

	t.Run("a batch meets a key that took one of its events", func(t *testing.T) {
		// A recovery raced the batch and counted e1 on the firm's key: the batch's combined
		// update of that key is refused, its events are then tried one by one, and the keys
		// after it in the same bulk write (which FerretDB leaves unwritten) are written too.
		ctx := testCtx(t)
		s := open(t)
		tr := s.Tracking()
		applyManually(ctx, t, s, "firm", "f1", "handled", 1, "c1|e1")
		key := func(kind tracking.SubjectKind, id string) tracking.StatKey {
			return tracking.StatKey{Kind: kind, ID: id, Day: day1}
		}
		ev := func(id string, ds ...tracking.StatDelta) tracking.Event {
			return tracking.Event{ID: id, Waybill: "W0001", Carrier: "c1", Code: tracking.Arrived, At: t0, Hash: "h-" + id, ReceivedAt: t0, Deltas: ds}
		}
		b := tracking.Batch{Events: []tracking.Event{
			ev("e1", tracking.StatDelta{Key: key(tracking.SubjectFirm, "f1"), Metric: tracking.MHandled, N: 1},
				tracking.StatDelta{Key: key(tracking.SubjectSite, "s1"), Metric: tracking.MHandled, N: 1}),
			ev("e2", tracking.StatDelta{Key: key(tracking.SubjectFirm, "f1"), Metric: tracking.MHandled, N: 1},
				tracking.StatDelta{Key: key(tracking.SubjectStaff, "p1"), Metric: tracking.MHandled, N: 1}),
		}}
		if err := tr.WriteBatch(ctx, b); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		wantCounts(ctx, t, tr, "after the batch", tracking.SubjectFirm, "f1", map[tracking.Metric]int{tracking.MHandled: 2})
		wantCounts(ctx, t, tr, "after the batch", tracking.SubjectSite, "s1", map[tracking.Metric]int{tracking.MHandled: 1})
		wantCounts(ctx, t, tr, "after the batch", tracking.SubjectStaff, "p1", map[tracking.Metric]int{tracking.MHandled: 1})
		wantSettled(ctx, t, s)
	})
}

// TestTrackingRefusesFieldNameMetrics: a metric becomes a field name under counts, so one that
// cannot be is refused before anything is written.
func TestTrackingRefusesFieldNameMetrics(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	tr := open(t).Tracking()
	bad := []tracking.StatDelta{{Key: tracking.StatKey{Kind: tracking.SubjectFirm, ID: "f1", Day: day1}, Metric: "a.b", N: 1}}
	ev := tracking.Event{ID: "e1", Waybill: "W0001", Carrier: "c1", Code: tracking.Arrived, At: t0, Hash: "h", Deltas: bad}
	if err := tr.WriteBatch(ctx, tracking.Batch{Events: []tracking.Event{ev}}); !errors.Is(err, credtrace.ErrInvalid) {
		t.Errorf("WriteBatch with metric a.b: error %v, want credtrace.ErrInvalid", err)
	}
	if got, err := tr.EventHashes(ctx, []string{ev.Key()}); err != nil || len(got) != 0 {
		t.Errorf("after the refused batch EventHashes = %v, %v; want nothing stored", got, err)
	}
	if err := tr.AddStats(ctx, "src", bad); !errors.Is(err, credtrace.ErrInvalid) {
		t.Errorf("AddStats with metric a.b: error %v, want credtrace.ErrInvalid", err)
	}
}
