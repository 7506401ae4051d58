package mongodb_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/webhook"
)

// commandCounter counts the commands a client sends, by name, while on.
type commandCounter struct {
	mu     sync.Mutex
	on     bool
	counts map[string]int
}

func (c *commandCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch e.CommandName {
		case "hello", "isMaster", "ismaster", "ping", "endSessions":
			return // the driver's own housekeeping
		}
		if c.on {
			name := e.CommandName
			if v, err := e.Command.LookupErr(name); err == nil {
				if s, ok := v.StringValueOK(); ok {
					name += ":" + s
				}
			}
			c.counts[name]++
		}
	}}
}

// during counts the commands fn sends.
func (c *commandCounter) during(fn func()) map[string]int {
	c.mu.Lock()
	c.on, c.counts = true, map[string]int{}
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.counts
}

// TestRoundTripsPerBatchConstant: ingesting a batch costs the same round trips to the server
// whatever its size (group commit: one insertMany for the events, bulk writes for the derived
// state), so that a replica's throughput is not its number of round trips per event.
func TestRoundTripsPerBatchConstant(t *testing.T) {
	t.Parallel()
	cc := &commandCounter{}
	r := newFaultRig(t, mongodb.WithMonitor(cc.monitor()))
	ctx := auditCtx(t)
	// A first batch warms what is read once (carrier configuration, caches).
	if _, err := r.trk.Ingest(ctx, r.caller, r.batch("w", 4)); err != nil {
		t.Fatal(err)
	}
	var got []map[string]int
	for i, n := range []int{8, 40} {
		counts := cc.during(func() {
			// One request, as the HTTP layer scopes it: the tree generation is read once.
			res, err := r.trk.Ingest(courier.WithTreeScope(ctx), r.caller, r.batch(fmt.Sprintf("s%d", i), n))
			if err != nil || res.Accepted != n {
				t.Fatalf("ingest %d events: %+v %v", n, res, err)
			}
		})
		got = append(got, counts)
	}
	if !maps.Equal(got[0], got[1]) {
		names := slices.Sorted(maps.Keys(got[1]))
		var diff []string
		for _, k := range names {
			diff = append(diff, fmt.Sprintf("%s %d→%d", k, got[0][k], got[1][k]))
		}
		t.Errorf("commands per batch of 8 and of 40 events differ: %v (8: %v)", diff, got[0])
	}
}

// TestAnnouncingABatchIsOneInsert: the outbox rows of a save of tracking (webhook.EmitBatch, as
// cmd wires it on MongoDB) cost the same commands whatever the number of events: one read of
// the subscriptions and one unordered insert of the deliveries, nothing read from the outbox;
// the same batch again stores no second row.
func TestAnnouncingABatchIsOneInsert(t *testing.T) {
	t.Parallel()
	cc := &commandCounter{}
	uri, db := mongotest.NewDB(t)
	st := openAt(t, uri, db, mongodb.WithMonitor(cc.monitor()))
	ctx := testCtx(t)
	wh := st.Tracking().Webhooks()
	sub := webhook.Subscription{ID: "sub-m1", Role: credtrace.RoleMerchant, Owner: webhook.MerchantOwner("M-1"), URL: "https://example.com/h",
		Events: []webhook.EventType{webhook.ParcelStatus}, Secret: "s", CreatedAt: t0, CreatedBy: "tok", Version: 1}
	if err := wh.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	batch := func(prefix string, n int) []webhook.Event {
		var out []webhook.Event
		for i := range n {
			wb := fmt.Sprintf("%s%08d", prefix, i)
			out = append(out, webhook.Event{ID: webhook.KeyID(webhook.ParcelStatus, wb), Type: webhook.ParcelStatus, At: t0,
				Owners: []string{webhook.MerchantOwner("M-1")}, Data: map[string]string{"waybill": wb, "status": "collected"}})
		}
		return out
	}
	var got []map[string]int
	for _, b := range [][]webhook.Event{batch("A", 8), batch("B", 40), batch("B", 40)} {
		got = append(got, cc.during(func() {
			if err := webhook.EmitBatch(ctx, wh, t0, b...); err != nil {
				t.Fatal(err)
			}
		}))
	}
	want := map[string]int{"find:webhook_subscriptions": 1, "insert:webhook_deliveries": 1}
	for i, counts := range got {
		if !maps.Equal(counts, want) {
			t.Errorf("commands of batch %d: %v, want %v", i, counts, want)
		}
	}
	n, err := wh.CountDeliveries(ctx, sub.ID, webhook.Pending)
	if err != nil || n != 48 {
		t.Errorf("deliveries after batches of 8, 40 and the 40 again: %d %v, want 48", n, err)
	}
}
