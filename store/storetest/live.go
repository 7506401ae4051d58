package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// State that every replica shares: the live streams' reading of the events, the hits of
// per-address limits, and dashboard sessions.

var liveBehaviours = []trackingBehaviour{
	{"EventsSinceAfterAndGaps", testEventsSince},
	{"AlertsSinceIncidentsAndAnomalies", testAlertsSince},
	{"HitsCountedPerKeyAndPruned", testHits},
	{"HitsConcurrentAllCount", testHitsConcurrent},
}

var sessionBehaviours = []behaviour{
	{"SessionRoundTripAndDelete", testSessions},
}

// The live streams read every stored event by sequence, folded or not: those above a
// sequence, and those within the gaps asked for, in sequence order, at most the limit.
func testEventsSince(ctx context.Context, t *testing.T, s tracking.Store) {
	last, err := s.LastSeq(ctx)
	must(t, "LastSeq", err)
	if last != 0 {
		t.Fatalf("LastSeq of an empty store = %d, want 0", last)
	}
	e1, e2, e3 := fullEvent(), sparseEvent(), journalEvent()
	_, last2 := appendEvents(ctx, t, s, "append", e1, e2)
	// Folded events are read too: the derived state says nothing about what a stream saw.
	must(t, "SaveDerived", s.SaveDerived(ctx, tracking.Derived{Through: last2,
		Events: []tracking.EventStats{{Key: e1.Key(), Deltas: e1.Deltas}, {Key: e2.Key()}}}))
	_, last3 := appendEvents(ctx, t, s, "append again", e3)
	if got, err := s.LastSeq(ctx); err != nil || got != last3 {
		t.Fatalf("LastSeq = %d, %v; want %d", got, err, last3)
	}
	evs, seqs, err := s.EventsSince(ctx, tracking.SeqQuery{Limit: 10})
	must(t, "EventsSince 0", err)
	if got, want := ids(evs, eventID), []string{e1.ID, e2.ID, e3.ID}; !slices.Equal(got, want) {
		t.Fatalf("events since 0: %v, want %v", got, want)
	}
	if !slices.IsSorted(seqs) || seqs[2] != last3 || seqs[1] != last2 {
		t.Fatalf("sequences %v, want ascending, ending %d, %d", seqs, last2, last3)
	}
	check(t, "event read back", withoutDeltas(evs[2])[0], withoutDeltas(e3)[0])
	evs, _, err = s.EventsSince(ctx, tracking.SeqQuery{After: seqs[1], Limit: 10})
	must(t, "EventsSince", err)
	if got := ids(evs, eventID); !slices.Equal(got, []string{e3.ID}) {
		t.Errorf("events after the second: %v, want %s", got, e3.ID)
	}
	evs, _, err = s.EventsSince(ctx, tracking.SeqQuery{After: last3, Gaps: []tracking.SeqRange{{From: seqs[0], To: seqs[0]}}, Limit: 10})
	must(t, "EventsSince with a gap", err)
	if got := ids(evs, eventID); !slices.Equal(got, []string{e1.ID}) {
		t.Errorf("events in the gap of the first: %v, want %s", got, e1.ID)
	}
	evs, _, err = s.EventsSince(ctx, tracking.SeqQuery{Limit: 2})
	must(t, "EventsSince limited", err)
	if got := ids(evs, eventID); !slices.Equal(got, []string{e1.ID, e2.ID}) {
		t.Errorf("two events since 0: %v, want the first two", got)
	}
}

// Every incident created and every anomaly stored (by PutAnomalies or with the derived state)
// is one alert, in the order stored, read by sequence like the events; an anomaly stored again
// is no new alert.
func testAlertsSince(ctx context.Context, t *testing.T, s tracking.Store) {
	last, err := s.LastAlertSeq(ctx)
	must(t, "LastAlertSeq", err)
	if last != 0 {
		t.Fatalf("LastAlertSeq of an empty store = %d, want 0", last)
	}
	in := fullIncident()
	must(t, "CreateIncident", s.CreateIncident(ctx, in))
	a1, a2 := anomaly("a1", tracking.AnWeight, "c1"), anomaly("a2", tracking.AnWeight, "c1")
	_, err = s.PutAnomalies(ctx, []tracking.Anomaly{a1})
	must(t, "PutAnomalies", err)
	_, err = s.PutAnomalies(ctx, []tracking.Anomaly{a1})
	must(t, "PutAnomalies again", err)
	e1 := fullEvent()
	_, through := appendEvents(ctx, t, s, "append", e1)
	must(t, "SaveDerived", s.SaveDerived(ctx, tracking.Derived{Anomalies: []tracking.Anomaly{a2}, Through: through,
		Events: []tracking.EventStats{{Key: e1.Key(), Deltas: e1.Deltas}}}))

	label := func(as []tracking.Alert) []string {
		out := make([]string, len(as))
		for i, a := range as {
			switch {
			case a.Incident != nil:
				out[i] = a.Kind + ":" + a.Incident.ID
			case a.Anomaly != nil:
				out[i] = a.Kind + ":" + a.Anomaly.ID
			default:
				out[i] = a.Kind + ":?"
			}
		}
		return out
	}
	as, seqs, err := s.AlertsSince(ctx, tracking.SeqQuery{Limit: 10})
	must(t, "AlertsSince 0", err)
	if got, want := label(as), []string{"incident:i1", "anomaly:a1", "anomaly:a2"}; !slices.Equal(got, want) {
		t.Fatalf("alerts since 0: %v, want %v", got, want)
	}
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != 3 {
		t.Fatalf("alert sequences %v, want three ascending", seqs)
	}
	if got, err := s.LastAlertSeq(ctx); err != nil || got != seqs[2] {
		t.Errorf("LastAlertSeq = %d, %v; want %d", got, err, seqs[2])
	}
	check(t, "incident alert", *as[0].Incident, in)
	check(t, "anomaly alert", *as[1].Anomaly, a1)
	as, _, err = s.AlertsSince(ctx, tracking.SeqQuery{After: seqs[2], Gaps: []tracking.SeqRange{{From: seqs[1], To: seqs[1]}}, Limit: 10})
	must(t, "AlertsSince with a gap", err)
	if got, want := label(as), []string{"anomaly:a1"}; !slices.Equal(got, want) {
		t.Errorf("alerts in the gap of the second: %v, want %v", got, want)
	}
	as, _, err = s.AlertsSince(ctx, tracking.SeqQuery{After: seqs[0], Limit: 1})
	must(t, "AlertsSince limited", err)
	if got, want := label(as), []string{"anomaly:a1"}; !slices.Equal(got, want) {
		t.Errorf("one alert after the first: %v, want %v", got, want)
	}
}

// Hits are counted per key from a time on; pruning forgets those before a time, of any key.
func testHits(ctx context.Context, t *testing.T, s tracking.Store) {
	count := func(key string, since time.Time) int {
		t.Helper()
		n, err := s.CountHits(ctx, key, since)
		must(t, "CountHits", err)
		return n
	}
	for _, h := range []struct {
		key string
		at  time.Time
	}{{"address|a", at(0)}, {"address|a", at(1)}, {"address|a", at(1)}, {"address|b", at(1)}} {
		must(t, "AddHit", s.AddHit(ctx, h.key, h.at))
	}
	if got := count("address|a", at(0)); got != 3 {
		t.Errorf("hits of a = %d, want 3", got)
	}
	if got := count("address|a", at(1)); got != 2 {
		t.Errorf("hits of a since at(1) = %d, want 2", got)
	}
	if got := count("address|c", at(0)); got != 0 {
		t.Errorf("hits of an unknown key = %d, want 0", got)
	}
	must(t, "PruneHits", s.PruneHits(ctx, at(1)))
	if got := count("address|a", time.Time{}); got != 2 {
		t.Errorf("hits of a after pruning before at(1) = %d, want 2", got)
	}
	if got := count("address|b", time.Time{}); got != 1 {
		t.Errorf("hits of b after pruning = %d, want 1", got)
	}
}

// Hits recorded at once all count (an insert each, no read-modify-write to lose).
func testHitsConcurrent(ctx context.Context, t *testing.T, s tracking.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- s.AddHit(ctx, "address|x", at(1)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "AddHit", err)
	}
	if got, err := s.CountHits(ctx, "address|x", at(0)); err != nil || got != n {
		t.Errorf("hits recorded at once = %d, %v; want %d", got, err, n)
	}
}

// A session comes back by its id's hash until it is deleted; a taken hash is a conflict;
// deleting the expired ones keeps the others.
func testSessions(ctx context.Context, t *testing.T, s courier.Store) {
	a := courier.Session{IDHash: "hash-a", TokenID: "tok-1", CSRF: "csrf-a", Expires: at(2)}
	b := courier.Session{IDHash: "hash-b", TokenID: "tok-2", CSRF: "csrf-b", Expires: at(1)}
	must(t, "CreateSession a", s.CreateSession(ctx, a))
	must(t, "CreateSession b", s.CreateSession(ctx, b))
	if err := s.CreateSession(ctx, courier.Session{IDHash: "hash-a", TokenID: "tok-3", CSRF: "x", Expires: at(3)}); !errors.Is(err, credtrace.ErrConflict) {
		t.Errorf("a taken hash: %v, want ErrConflict", err)
	}
	got, err := s.Session(ctx, "hash-a")
	must(t, "Session", err)
	check(t, "session", got, a)
	if _, err := s.Session(ctx, "hash-none"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}
	must(t, "DeleteSessionsBefore", s.DeleteSessionsBefore(ctx, at(2)))
	if _, err := s.Session(ctx, "hash-b"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("expired session after pruning: %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, "hash-a"); err != nil {
		t.Errorf("live session after pruning: %v", err)
	}
	must(t, "DeleteSession", s.DeleteSession(ctx, "hash-a"))
	must(t, "DeleteSession again", s.DeleteSession(ctx, "hash-a"))
	if _, err := s.Session(ctx, "hash-a"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("deleted session: %v, want ErrNotFound", err)
	}
}
