package mongodb_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
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
