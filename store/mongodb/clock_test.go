package mongodb_test

import (
	"testing"
	"time"

	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/tracking"
)

// TestReplicasShareTheServersClock: two replicas whose host clocks are two hours apart read
// one time from the store (the server's, measured at Open), and judge the age of a pending
// event by it alike: an event one replica has just received is not the other's to replay,
// whichever way its host clock is wrong, and one received long enough ago is either's.
func TestReplicasShareTheServersClock(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	uri, db := mongotest.NewDB(t)
	ahead := openAt(t, uri, db, mongodb.WithHostClock(func() time.Time { return time.Now().Add(time.Hour) }))
	behind := openAt(t, uri, db, mongodb.WithHostClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	for name, s := range map[string]*mongodb.Store{"ahead": ahead, "behind": behind} {
		// The embedded server runs on this host, so its clock is this host's true one.
		if d := time.Until(s.Now()); d > 5*time.Second || d < -5*time.Second {
			t.Fatalf("the replica whose clock is an hour %s reads the server's time %v off", name, d)
		}
	}
	const age = 2 * time.Minute
	ahead.SetReplayAge(age)
	behind.SetReplayAge(age)
	young := tracking.Event{ID: "young", Waybill: "ZT0000000001", Carrier: "c1", Code: tracking.Collected,
		At: time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC), ReceivedAt: behind.Now(), Hash: "h1"}
	old := tracking.Event{ID: "old", Waybill: "ZT0000000002", Carrier: "c1", Code: tracking.Collected,
		At: time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC), ReceivedAt: behind.Now().Add(-2 * age), Hash: "h2"}
	if _, _, err := behind.Tracking().AppendEvents(ctx, []tracking.Event{young, old}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*mongodb.Store{"ahead": ahead, "behind": behind} {
		evs, _, err := s.Tracking().EventsAfter(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].ID != "old" {
			ids := []string{}
			for _, e := range evs {
				ids = append(ids, e.ID)
			}
			t.Fatalf("the replica whose clock is an hour %s would replay %v, want [old]", name, ids)
		}
	}
}
