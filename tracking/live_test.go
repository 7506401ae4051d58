package tracking_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// afterRead is a store on which, once armed, reading a parcel's events runs a function right
// after the read: a write of another replica that lands between a stream's snapshot and
// whatever comes next.
type afterRead struct {
	tracking.Store
	mu   sync.Mutex
	then func()
}

func (s *afterRead) ParcelEvents(ctx context.Context, k tracking.ParcelKey) ([]tracking.Event, error) {
	evs, err := s.Store.ParcelEvents(ctx, k)
	s.mu.Lock()
	then := s.then
	s.then = nil
	s.mu.Unlock()
	if then != nil {
		then()
	}
	return evs, err
}

// TestFollowLosesNothingAfterTheSnapshot: an event stored just after a stream read its
// snapshot still comes on the stream, because the stream subscribed first; the events of the
// snapshot do not come again.
func TestFollowLosesNothingAfterTheSnapshot(t *testing.T) {
	t.Parallel()
	const wb = "SF0000000077"
	w := newWorld(t)
	w.accept(t, ev("a1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	st := &afterRead{Store: w.ts}
	// The follower is another process's service on the same store: it ingests nothing.
	follower := tracking.NewService(st, w.arch, w.props, courier.NewHasher([]byte("tracking-test-key-0123456789abcdef")), tracking.Options{}, w.clk.Now)
	live, err := tracking.StartLive(w.ctx, follower, tracking.LiveOptions{Every: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	st.then = func() { w.accept(t, ev("a2", wb, w.hqA, tracking.Departed, t0.Add(time.Hour), w.siteA, w.xA)) }
	tr, ch, cancel, err := follower.FollowParcel(w.ctx, regulator, wb, w.hqA, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if len(tr.Events) != 1 || tr.Events[0].ID != "a1" {
		t.Fatalf("snapshot holds %d events, want a1 alone", len(tr.Events))
	}
	for {
		select {
		case e := <-ch:
			if tr.Holds(e) {
				continue // stored before the poller's start: the snapshot has it
			}
			if e.ID != "a2" {
				t.Fatalf("streamed %s, want a2", e.ID)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatal("a2, stored right after the snapshot, never came on the stream")
		}
	}
}
