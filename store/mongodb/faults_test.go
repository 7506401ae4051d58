package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/tracking"
)

// faultRig is ingestion on a fresh database reached through the fault injector: a carrier with
// a site, a tracking service with a shared pipeline (as every replica runs it), and the caller.
type faultRig struct {
	st     *mongodb.Store
	proxy  *mongotest.TxnProxy
	trk    *tracking.Service
	pipe   *tracking.Pipeline
	caller credtrace.Caller
	site   string
	ev     func(id, wb string, code tracking.Code, h int) tracking.EventInput
}

func newFaultRig(t *testing.T, opts ...mongodb.Option) *faultRig {
	t.Helper()
	p := mongotest.NewTxnProxy(t)
	_, db := mongotest.NewDB(t)
	st := openAt(t, p.URI(), db, opts...)
	svc, reg, firm := txnService(t, st)
	ctx := auditCtx(t)
	site, err := svc.CreateSite(ctx, reg, firm.ID, courier.SiteInput{Name: "分拨中心", Kind: courier.SiteSortingCentre, Region: "130111"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	// As cmd wires it: the firm tree read through a cache.
	trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(svc), nil, svc.Hasher(), tracking.Options{}, func() time.Time { return now })
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{Shared: true})
	t.Cleanup(func() { pipe.Close(context.Background()) })
	at := now.Add(-30 * time.Hour)
	return &faultRig{st: st, proxy: p, trk: trk, pipe: pipe, caller: credtrace.Caller{TokenID: reg.TokenID, Role: credtrace.RoleRegulator}, site: site.ID,
		ev: func(id, wb string, code tracking.Code, h int) tracking.EventInput {
			in := tracking.EventInput{ID: id, Waybill: wb, Carrier: firm.ID, Code: string(code), At: at.Add(time.Duration(h) * time.Hour), Site: site.ID}
			if code == tracking.Delivered {
				in.Signer = tracking.SignerRecipient
			}
			return in
		}}
}

// batch is n events on n/2 parcels (collected, then departed), numbered from the prefix.
func (r *faultRig) batch(prefix string, n int) []tracking.EventInput {
	var out []tracking.EventInput
	for i := 0; i < n; i++ {
		wb := fmt.Sprintf("ZT%s%06d", prefix, i/2)
		code, h := tracking.Collected, 0
		if i%2 == 1 {
			code, h = tracking.Departed, 2
		}
		out = append(out, r.ev(fmt.Sprintf("%s%d", prefix, i), wb, code, h))
	}
	return out
}

// siteTotals sums the site statistics of the rig's days by metric.
func (r *faultRig) siteTotals(t *testing.T) map[tracking.Metric]int {
	t.Helper()
	stats, err := r.trk.Stats(auditCtx(t), tracking.SubjectSite, r.site, "2026-05-30", "2026-06-02")
	if err != nil {
		t.Fatal(err)
	}
	got := map[tracking.Metric]int{}
	for _, d := range stats {
		for m, n := range d.Counts {
			got[m] += n
		}
	}
	return got
}

// TestLostReplyNeverDoubleCounts injects one fault into each write of an ingested batch in turn
// (a reply dropped after the server applied the write, a retryable refusal, a write concern
// error), lets the carrier re-send the batch while it is refused, and checks that the stored
// summaries and statistics are exactly the ones the events give (tracking.Service.Check
// rebuilds them from the stored events), every event accepted once.
func TestLostReplyNeverDoubleCounts(t *testing.T) {
	t.Parallel()
	type tc struct {
		name  string
		fault mongotest.Fault
	}
	var cases []tc
	for _, a := range []struct {
		name   string
		action mongotest.FaultAction
	}{{"drop", mongotest.DropReply}, {"retryable", mongotest.RetryableError}, {"wc", mongotest.WriteConcernError}} {
		for _, cmd := range []struct {
			name string
			nths []int
		}{{"insert", []int{1, 2}}, {"update", []int{1, 2, 3, 4, 5}}, {"findAndModify", []int{1}}} {
			for _, n := range cmd.nths {
				cases = append(cases, tc{fmt.Sprintf("%s_%s_%d", a.name, cmd.name, n), mongotest.Fault{Command: cmd.name, Nth: n, Action: a.action}})
			}
		}
	}
	// The statistics of both batches ingested without a fault.
	ref := newFaultRig(t)
	for _, prefix := range []string{"a", "b"} {
		if _, err := ref.trk.Ingest(auditCtx(t), ref.caller, ref.batch(prefix, 6)); err != nil {
			t.Fatal(err)
		}
	}
	want := ref.siteTotals(t)
	if len(want) == 0 {
		t.Fatal("no site statistics without a fault")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := auditCtx(t)
			r := newFaultRig(t, mongodb.WithTimeout(5*time.Second))
			if _, err := r.trk.Ingest(ctx, r.caller, r.batch("a", 6)); err != nil {
				t.Fatalf("first batch: %v", err)
			}
			r.proxy.Inject(c.fault)
			in := r.batch("b", 6)
			// Re-send while refused, as a carrier does on 503; every refusal must be unavailable.
			var res tracking.IngestResult
			var err error
			for attempt := 0; attempt < 5; attempt++ {
				res, err = r.trk.Ingest(ctx, r.caller, in)
				if err == nil {
					break
				}
				t.Logf("attempt %d refused: %v", attempt, err)
				if !errors.Is(err, credtrace.ErrUnavailable) {
					t.Fatalf("attempt %d: %v, want nil or ErrUnavailable", attempt, err)
				}
			}
			if err != nil {
				t.Fatalf("batch still refused after re-sends: %v", err)
			}
			if r.proxy.Fired() != 1 {
				t.Fatalf("the fault did not fire (%d fired)", r.proxy.Fired())
			}
			if res.Accepted+res.Duplicates != len(in) || res.Rejected != 0 {
				t.Errorf("last answer: %+v, want every event accepted or duplicate", res)
			}
			// A refused batch's events may wait pending for the next replay.
			if _, err := r.pipe.Recover(ctx); err != nil {
				t.Fatalf("recover: %v", err)
			}
			diffs, err := r.trk.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) > 0 {
				t.Errorf("derived state differs from the events: %v", diffs)
			}
			if got := r.siteTotals(t); !reflect.DeepEqual(got, want) {
				t.Errorf("site statistics %v, want %v as without the fault", got, want)
			}
		})
	}
}

// TestStalledServerIsUnavailable: a server that stops answering fails an ingestion within the
// operation timeout with credtrace.ErrUnavailable (the API's 503), though the pipeline writes
// under a context the client's deadline does not bound; once it answers again, the re-sent
// batch lands and nothing is counted twice.
func TestStalledServerIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := auditCtx(t)
	r := newFaultRig(t, mongodb.WithTimeout(time.Second))
	if _, err := r.trk.Ingest(ctx, r.caller, r.batch("a", 4)); err != nil {
		t.Fatal(err)
	}
	in := r.batch("b", 4)
	r.proxy.Stall()
	done := make(chan error, 1)
	go func() {
		_, err := r.trk.Ingest(context.Background(), r.caller, in)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, credtrace.ErrUnavailable) {
			t.Fatalf("ingest on a stalled server: %v, want ErrUnavailable", err)
		}
	case <-ctx.Done():
		t.Fatal("ingest on a stalled server did not return: no operation timeout")
	}
	if err := r.st.Ping(context.Background()); !errors.Is(err, credtrace.ErrUnavailable) {
		t.Errorf("ping on a stalled server: %v, want ErrUnavailable", err)
	}
	r.proxy.Resume()
	if _, err := r.trk.Ingest(ctx, r.caller, in); err != nil {
		t.Fatalf("re-send after the stall: %v", err)
	}
	if _, err := r.pipe.Recover(ctx); err != nil {
		t.Fatalf("recover: %v", err)
	}
	diffs, err := r.trk.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("derived state differs from the events: %v", diffs)
	}
}
