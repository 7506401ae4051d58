package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The service of BenchmarkTraceRoute, started once for all of its runs (and left to the
// process's end: the store is in a temporary folder).
var (
	traceSetup sync.Once
	traceSvc   *traceService
	traceErr   error
	client     = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
)

// BenchmarkTraceRoute drives GET /v1/parcels/{waybill} with a regulator token over loopback,
// for profiling the route (go test -bench TraceRoute -cpuprofile ... -mutexprofile ...).
func BenchmarkTraceRoute(b *testing.B) {
	ctx := context.Background()
	traceSetup.Do(func() {
		dir, err := os.MkdirTemp("", "credtrace-bench-trace-")
		if err != nil {
			traceErr = err
			return
		}
		if traceSvc, traceErr = startTraceService(ctx, dir, nil, nil); traceErr != nil {
			return
		}
		traceErr = traceSvc.ingest(ctx, client, 1, 20000)
	})
	if traceErr != nil {
		b.Fatal(traceErr)
	}
	ts := traceSvc
	// CPU time per request (service and client together) is the figure to compare on a shared
	// machine: wall time per request follows the other work on it.
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
	b.ResetTimer()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/v1/parcels/"+fmt.Sprintf("BN%012d", i%1000), nil)
			req.Header.Set("Authorization", "Bearer "+ts.admin)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("answered %d", resp.StatusCode)
			}
		}
	})
}
