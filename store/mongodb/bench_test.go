package mongodb_test

import (
	"context"
	"slices"

	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/tracking"
)

// BenchmarkMongoIngest ingests batches of 40 events through the tracking service on the
// MongoDB backend. Against the embedded FerretDB, which scans instead of using indexes, the
// figure is functional only: it says the path works end to end, not how MongoDB performs.
// (Batches of 200, one site's statistics document taking 200 guarded increments at once, took
// FerretDB past the 10 s operation timeout.)
func BenchmarkMongoIngest(b *testing.B) {
	const benchBatch = 40
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
		for k := 0; k < benchBatch; k++ {
			wb := fmt.Sprintf("MB%04d%06d", i, k/4)
			code := []tracking.Code{tracking.Collected, tracking.Departed, tracking.Arrived, tracking.OutForDelivery}[k%4]
			batch = append(batch, tracking.EventInput{ID: fmt.Sprintf("b%d-%d", i, k), Waybill: wb, Carrier: firms[0].ID, Code: string(code),
				At: at.Add(time.Duration(k%4) * time.Hour)})
		}
		res, err := trk.Ingest(ctx, caller, batch)
		if err != nil || res.Accepted != benchBatch {
			b.Fatalf("ingest: %+v %v", res, err)
		}
		events += benchBatch
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
	for part := range slices.Chunk(batch, 40) { // FerretDB: see BenchmarkMongoIngest
		if _, err := trk.Ingest(ctx, caller, part); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr, err := trk.TraceParcel(ctx, caller, fmt.Sprintf("MT%08d", i%100), "", "")
		if err != nil || len(tr.Events) != 4 {
			b.Fatalf("trace: %d events, %v", len(tr.Events), err)
		}
	}
}

// BenchmarkMongoIngestReplicas ingests through 1, 2 and 3 replicas at once, each a process of
// its own as far as the store is concerned (its own client, tracking service and shared
// pipeline) on one database, with two clients per replica sending batches of 40 events of
// their own parcels. Against the embedded FerretDB, which scans every query and serialises its
// writes, the events/s are functional only: they show that replicas ingest side by side and
// what each costs in round trips, not what MongoDB does with more replicas; run it with
// CREDTRACE_TEST_MONGO_URI on a replica set to measure. Each replica's round trips per batch
// are constant (TestRoundTripsPerBatchConstant), so on a server that scales, replicas add up.
// benchBatch is the batch of BenchmarkMongoIngestReplicas: small, for FerretDB answers a bulk
// write of a few hundred guarded upserts of the statistics in tens of seconds.
const benchBatch = 40

func BenchmarkMongoIngestReplicas(b *testing.B) {
	for _, replicas := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("replicas=%d/functional-on-FerretDB", replicas), func(b *testing.B) {
			uri, db := mongotest.NewDB(b)
			ctx := b.Context()
			// FerretDB takes seconds for a bulk write of many updates (each a scan).
			slow := mongodb.WithTimeout(time.Minute)
			first, svc, reg := auditedStoreAt(b, uri, db, slow)
			caller := credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: reg.TokenID}
			firms, _, err := svc.Firms(ctx, reg, courier.FirmQuery{}, "", 1)
			if err != nil {
				b.Fatal(err)
			}
			var trks []*tracking.Service
			for r := 0; r < replicas; r++ {
				st := first
				if r > 0 {
					st = openAt(b, uri, db, slow)
				}
				rsvc := courier.NewService(st, svc.Hasher(), courier.DefaultPolicy(), time.Now)
				trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(rsvc), nil, svc.Hasher(), tracking.Options{}, nil)
				pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{Shared: true})
				b.Cleanup(func() { pipe.Close(context.Background()) })
				trks = append(trks, trk)
			}
			at := time.Now().Add(-48 * time.Hour)
			var sent atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for c := 0; c < 2*replicas; c++ {
				trk := trks[c%replicas]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := sent.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						var batch []tracking.EventInput
						for k := 0; k < benchBatch; k++ {
							code := []tracking.Code{tracking.Collected, tracking.Departed, tracking.Arrived, tracking.OutForDelivery}[k%4]
							batch = append(batch, tracking.EventInput{ID: fmt.Sprintf("r%d-%d", i, k), Waybill: fmt.Sprintf("MR%04d%06d", i, k/4),
								Carrier: firms[0].ID, Code: string(code), At: at.Add(time.Duration(k%4) * time.Hour)})
						}
						res, err := trk.Ingest(courier.WithTreeScope(ctx), caller, batch)
						if err != nil || res.Accepted != benchBatch {
							b.Errorf("ingest: %+v %v", res, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(benchBatch*b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
