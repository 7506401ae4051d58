package mongodb_test

import (
	"context"

	"fmt"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// BenchmarkMongoIngest ingests batches of 200 events through the tracking service on the
// MongoDB backend. Against the embedded FerretDB, which scans instead of using indexes, the
// figure is functional only: it says the path works end to end, not how MongoDB performs.
func BenchmarkMongoIngest(b *testing.B) {
	st, svc, reg := auditedStore(b)
	ctx := b.Context()
	trk := tracking.NewService(st.Tracking(), svc, nil, svc.Hasher(), tracking.Options{}, nil)
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{Shared: true})
	b.Cleanup(func() { pipe.Close(context.Background()) })
	caller := credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: reg.TokenID}
	firms, _, err := svc.Firms(ctx, reg, courier.FirmQuery{}, "", 1)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-48 * time.Hour)
	b.ResetTimer()
	start := time.Now()
	events := 0
	for i := 0; i < b.N; i++ {
		var batch []tracking.EventInput
		for k := 0; k < 200; k++ {
			wb := fmt.Sprintf("MB%04d%06d", i, k/4)
			code := []tracking.Code{tracking.Collected, tracking.Departed, tracking.Arrived, tracking.OutForDelivery}[k%4]
			batch = append(batch, tracking.EventInput{ID: fmt.Sprintf("b%d-%d", i, k), Waybill: wb, Carrier: firms[0].ID, Code: string(code),
				At: at.Add(time.Duration(k%4) * time.Hour)})
		}
		res, err := trk.Ingest(ctx, caller, batch)
		if err != nil || res.Accepted != 200 {
			b.Fatalf("ingest: %+v %v", res, err)
		}
		events += 200
	}
	b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkMongoTrace traces one parcel on the MongoDB backend (functional only, as above).
func BenchmarkMongoTrace(b *testing.B) {
	st, svc, reg := auditedStore(b)
	ctx := b.Context()
	trk := tracking.NewService(st.Tracking(), svc, nil, svc.Hasher(), tracking.Options{}, nil)
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{Shared: true})
	b.Cleanup(func() { pipe.Close(context.Background()) })
	caller := credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: reg.TokenID}
	firms, _, err := svc.Firms(ctx, reg, courier.FirmQuery{}, "", 1)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-48 * time.Hour)
	var batch []tracking.EventInput
	for k := 0; k < 400; k++ {
		code := []tracking.Code{tracking.Collected, tracking.Departed, tracking.Arrived, tracking.OutForDelivery}[k%4]
		batch = append(batch, tracking.EventInput{ID: fmt.Sprintf("t%d", k), Waybill: fmt.Sprintf("MT%08d", k/4), Carrier: firms[0].ID,
			Code: string(code), At: at.Add(time.Duration(k%4) * time.Hour)})
	}
	if _, err := trk.Ingest(ctx, caller, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr, err := trk.TraceParcel(ctx, caller, fmt.Sprintf("MT%08d", i%100), "", "")
		if err != nil || len(tr.Events) != 4 {
			b.Fatalf("trace: %d events, %v", len(tr.Events), err)
		}
	}
}
