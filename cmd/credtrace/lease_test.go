package main

import (
	"context"
	"testing"
	"time"
)

// TestLeaseContextEndsByTheLocalClock: the work under a lease ends ttl after the lease was
// asked for, by the monotonic clock, whatever the wall clock says meanwhile. (A deadline at
// the lease's Until, the server's time, ran an hour past the lease on a host whose clock was
// an hour behind the server's, while another replica took the next term.)
func TestLeaseContextEndsByTheLocalClock(t *testing.T) {
	const ttl = time.Minute
	asked := time.Now()
	ctx, cancel := leaseContext(context.Background(), asked, ttl)
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	if dl.After(asked.Add(ttl)) {
		t.Errorf("deadline %v is past the lease's end %v", dl, asked.Add(ttl))
	}
	// Asked for longer ago than ttl: the lease may have lapsed already; the work must not start.
	ctx, cancel = leaseContext(context.Background(), time.Now().Add(-2*ttl), ttl)
	defer cancel()
	if ctx.Err() == nil {
		t.Error("a lease asked for two ttls ago still runs")
	}
}
