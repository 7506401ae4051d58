package mongodb_test

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/tracking"
)

// liveOn starts the live poller of a tracking service on st, polling every every, and
// collects what it tells onError.
func liveOn(t *testing.T, st *mongodb.Store, every time.Duration) (*tracking.Service, *tracking.Live, func() []string) {
	t.Helper()
	trk := tracking.NewService(st.Tracking(), nil, nil, courier.NewHasher([]byte("live-test-key-0123456789abcdefghij")), tracking.Options{}, nil)
	var mu sync.Mutex
	var errs []string
	live, err := tracking.StartLive(testCtx(t), trk, tracking.LiveOptions{Every: every, OnError: func(err error) {
		mu.Lock()
		errs = append(errs, err.Error())
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(live.Close)
	return trk, live, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// TestLiveChoosesPollingOnFerretDB: the embedded FerretDB answers hello as a standalone
// server, which has no change streams: the store says so, its Watch declines, and the live
// streams poll.
func TestLiveChoosesPollingOnFerretDB(t *testing.T) {
	t.Parallel()
	if os.Getenv(mongotest.EnvURI) != "" {
		t.Skip("CREDTRACE_TEST_MONGO_URI points at a real server, whose topology this test does not know")
	}
	st := open(t)
	if st.ChangeStreams() {
		t.Fatal("ChangeStreams() = true on FerretDB, which has none")
	}
	notify := make(chan struct{}, 1)
	if ok, err := st.Tracking().Watch(testCtx(t), notify, func(error) {}); ok || err != nil {
		t.Fatalf("Watch on FerretDB = %v, %v; want false, nil", ok, err)
	}
	if _, live, _ := liveOn(t, st, time.Second); live.Mode() != "poll" {
		t.Errorf("live mode on FerretDB = %q, want poll", live.Mode())
	}
}

// TestLivePollsWhenTheChangeStreamIsRefused: behind a proxy that answers hello as a replica
// set's primary, the store believes it has change streams; FerretDB then refuses the one the
// live streams open, and they poll instead of failing the start, saying why.
func TestLivePollsWhenTheChangeStreamIsRefused(t *testing.T) {
	st, _ := txnStore(t)
	if !st.ChangeStreams() {
		t.Fatal("ChangeStreams() = false behind the fake primary")
	}
	_, live, errs := liveOn(t, st, time.Second)
	if live.Mode() != "poll" {
		t.Errorf("live mode = %q, want poll once the change stream was refused", live.Mode())
	}
	if got := errs(); len(got) == 0 || !strings.Contains(got[0], "polling") {
		t.Errorf("errors told: %q, want the refused change stream", got)
	}
}

// TestLiveChangeStream needs a MongoDB replica set or mongos (CREDTRACE_TEST_MONGO_URI): a
// replica whose poller would not poll for an hour gets the events and the alerts stored by
// another replica at once, woken by its change streams.
func TestLiveChangeStream(t *testing.T) {
	if os.Getenv(mongotest.EnvURI) == "" {
		t.Skip("set CREDTRACE_TEST_MONGO_URI to a MongoDB replica set or mongos: the embedded FerretDB has no change streams")
	}
	uri, db := mongotest.NewDB(t)
	a, b := openAt(t, uri, db), openAt(t, uri, db)
	if !b.ChangeStreams() {
		t.Skip("the server named by CREDTRACE_TEST_MONGO_URI is standalone: no change streams")
	}
	trk, live, errs := liveOn(t, b, time.Hour)
	if live.Mode() != "change stream" {
		t.Fatalf("live mode = %q on a server with change streams, want change stream (errors: %q)", live.Mode(), errs())
	}
	const wb = "SF7000000001"
	events, cancelEvents := trk.Hub().SubscribeParcel(tracking.ParcelKey{Carrier: "c1", Waybill: wb})
	defer cancelEvents()
	alerts, cancelAlerts := trk.Hub().SubscribeAlerts()
	defer cancelAlerts()
	ctx := testCtx(t)
	at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	for i, id := range []string{"cs-1", "cs-2"} {
		e := tracking.Event{ID: id, Waybill: wb, Carrier: "c1", Code: tracking.Collected, At: at.Add(time.Duration(i) * time.Hour), Hash: "hash-" + id}
		if _, _, err := a.Tracking().AppendEvents(ctx, []tracking.Event{e}); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-events:
			if got.ID != id {
				t.Fatalf("streamed %s, want %s", got.ID, id)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("event %s stored on A never reached B (errors: %q)", id, errs())
		}
	}
	in := tracking.Incident{ID: "cs-incident", Waybill: wb, Carrier: "c1", Kind: tracking.IncLost, At: at}
	if err := a.Tracking().CreateIncident(ctx, in); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-alerts:
		if got.Kind != "incident" || got.Incident == nil || got.Incident.ID != in.ID {
			t.Fatalf("alert %+v, want incident %s", got, in.ID)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the incident created on A never reached B's alert stream (errors: %q)", errs())
	}
}
