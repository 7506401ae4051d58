package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/credtrace/credtrace/tracking"
)

// The journal: the ingestion contract that tracking's Pipeline consumes on every backend.
var journalBehaviours = []trackingBehaviour{
	{"JournalAppend", testJournalAppend},
	{"JournalSaveDerived", testJournalSaveDerived},
	{"JournalReplayAfterSave", testJournalReplayAfterSave},
}

// withoutDeltas is e as a journal gives it back: events read back need not keep their Deltas.
func withoutDeltas(es ...tracking.Event) []tracking.Event {
	out := make([]tracking.Event, len(es))
	for i, e := range es {
		e.Deltas = nil
		out[i] = e
	}
	return out
}

// journalEvent is a third event of carrier c1's parcel SF1000000001.
func journalEvent() tracking.Event {
	e := sparseEvent()
	e.ID, e.Code, e.At, e.Hash, e.Signer, e.Holder = "ev-3", tracking.Departed, at(2), "hash-3", "", tracking.Holder{Kind: tracking.HolderFirm, FirmID: "c1"}
	return e
}

// appendEvents appends es and returns what AppendEvents answered.
func appendEvents(ctx context.Context, t *testing.T, s tracking.Store, what string, es ...tracking.Event) ([]bool, int64) {
	t.Helper()
	stored, last, err := s.AppendEvents(ctx, es)
	if err != nil {
		t.Fatalf("%s: AppendEvents: %v", what, err)
	}
	return stored, last
}

// replay returns the events the journal holds after seq, with their sequences.
func replay(ctx context.Context, t *testing.T, s tracking.Store, seq int64) ([]tracking.Event, []int64) {
	t.Helper()
	evs, seqs, err := s.EventsAfter(ctx, seq, 100)
	if err != nil {
		t.Fatalf("EventsAfter %d: %v", seq, err)
	}
	if len(evs) != len(seqs) {
		t.Fatalf("EventsAfter %d: %d events with %d sequences", seq, len(evs), len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Errorf("EventsAfter %d: sequences %v not increasing", seq, seqs)
		}
	}
	return evs, seqs
}

func checkpointOf(ctx context.Context, t *testing.T, s tracking.Store) int64 {
	t.Helper()
	cp, err := s.Checkpoint(ctx)
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	return cp
}

// testJournalAppend: new keys are stored in order and durably, a stored key is not stored
// again, and the journal replays what it holds, every field but the deltas kept.
func testJournalAppend(ctx context.Context, t *testing.T, s tracking.Store) {
	if cp := checkpointOf(ctx, t, s); cp != 0 {
		t.Errorf("checkpoint of an empty store = %d, want 0", cp)
	}
	stored, last := appendEvents(ctx, t, s, "first", fullEvent(), sparseEvent())
	if !slices.Equal(stored, []bool{true, true}) || last <= 0 {
		t.Errorf("first append: stored %v, last %d; want both, a positive sequence", stored, last)
	}
	again := sparseEvent()
	again.Hash = "other content"
	stored, last2 := appendEvents(ctx, t, s, "second", again, journalEvent())
	if !slices.Equal(stored, []bool{false, true}) || last2 <= last {
		t.Errorf("second append: stored %v, last %d; want only the new key, a sequence above %d", stored, last2, last)
	}
	if stored, none := appendEvents(ctx, t, s, "repeat", fullEvent()); !slices.Equal(stored, []bool{false}) || none != 0 {
		t.Errorf("append of a stored key: stored %v, last %d; want nothing stored, 0", stored, none)
	}

	evs, seqs := replay(ctx, t, s, 0)
	checkList(t, "events after 0", evs, withoutDeltas(fullEvent(), sparseEvent(), journalEvent()), eventID)
	if len(seqs) == 3 && seqs[2] != last2 {
		t.Errorf("sequence of the last event = %d, want %d as AppendEvents said", seqs[2], last2)
	}
	if len(seqs) == 3 {
		tail, _ := replay(ctx, t, s, seqs[0])
		checkIDs(t, "events after the first", tail, eventID, "ev-2", "ev-3")
	}
	hashes, err := s.EventHashes(ctx, []string{fullEvent().Key(), sparseEvent().Key()})
	must(t, "EventHashes", err)
	if hashes[sparseEvent().Key()] != "hash-2" || hashes[fullEvent().Key()] != "hash-1" {
		t.Errorf("hashes of appended events = %v, want the first content of each", hashes)
	}
	checkIDs(t, "the parcel's events", events(ctx, t, s, "SF1000000001"), eventID, "ev-1", "ev-2", "ev-3")
}

// testJournalSaveDerived: saving the derived state writes summaries, statistics and anomalies
// and moves the checkpoint past its events, which the journal then no longer replays.
func testJournalSaveDerived(ctx context.Context, t *testing.T, s tracking.Store) {
	e1, e2 := fullEvent(), sparseEvent()
	_, last := appendEvents(ctx, t, s, "append", e1, e2)
	a := anomaly("a1", tracking.AnWeight, "c1")
	d := tracking.Derived{Parcels: []tracking.Parcel{fullParcel()}, Anomalies: []tracking.Anomaly{a}, Through: last,
		Events: []tracking.EventStats{{Key: e1.Key(), Deltas: e1.Deltas}, {Key: e2.Key()}}}
	must(t, "SaveDerived", s.SaveDerived(ctx, d))

	cp := checkpointOf(ctx, t, s)
	if cp < last {
		t.Errorf("checkpoint after the save = %d, want at least %d", cp, last)
	}
	if evs, _ := replay(ctx, t, s, cp); len(evs) != 0 {
		t.Errorf("events after the checkpoint of a save of all: %v, want none", ids(evs, eventID))
	}
	k := fullParcel().Key()
	got, err := s.ParcelsByKey(ctx, []tracking.ParcelKey{k})
	must(t, "ParcelsByKey", err)
	check(t, "saved summary", got[k], fullParcel())
	if _, err := s.Anomaly(ctx, a.ID); err != nil {
		t.Errorf("saved anomaly: %v", err)
	}
	for _, kind := range []tracking.SubjectKind{tracking.SubjectFirm, tracking.SubjectSite, tracking.SubjectStaff} {
		id := map[tracking.SubjectKind]string{tracking.SubjectFirm: "f1", tracking.SubjectSite: "s1", tracking.SubjectStaff: "p1"}[kind]
		checkStats(t, "statistics of "+id, stats(ctx, t, s, tracking.StatsQuery{Kind: kind, IDs: []string{id}, From: day(1), To: day(1)}),
			stat(kind, id, day(1), map[tracking.Metric]int{tracking.MHandled: 1}))
	}
}

// testJournalReplayAfterSave: what was appended after a save is what the journal replays, from
// the checkpoint, as a restart after a crash asks for it.
func testJournalReplayAfterSave(ctx context.Context, t *testing.T, s tracking.Store) {
	e1 := fullEvent()
	_, last := appendEvents(ctx, t, s, "append", e1)
	must(t, "SaveDerived", s.SaveDerived(ctx, tracking.Derived{Through: last, Events: []tracking.EventStats{{Key: e1.Key(), Deltas: e1.Deltas}}}))
	appendEvents(ctx, t, s, "append after the save", sparseEvent(), journalEvent())
	evs, _ := replay(ctx, t, s, checkpointOf(ctx, t, s))
	checkList(t, "events to replay", evs, withoutDeltas(sparseEvent(), journalEvent()), eventID)
}
