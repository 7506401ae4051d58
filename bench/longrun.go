package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// longAdmin is the regulator token of the long run's child service.
const longAdmin = "ct_bench-long-admin-token-0123456789abcdef"

// benchLongChild is the long run against a child `credtrace serve` (exe) on its own data
// directory, with this process as the load generator: the events are generated here as they
// are sent, so that the resident memory measured, sampled from /proc of the child at each
// quarter of the run and at its peak (VmHWM), is the service's alone. It also samples the
// service's WAL file and looks up parcels while it ingests, as benchIngest does in process.
func benchLongChild(ctx context.Context, exe, dir string, n int, seed uint64) (ingestRun, error) {
	var run ingestRun
	data := filepath.Join(dir, "data")
	addr, pid, stop, err := startServe(ctx, exe, data, []string{"CREDTRACE_ADMIN_TOKEN=" + longAdmin},
		"--score-schedule", "", "--publish-schedule", "")
	if err != nil {
		return run, fmt.Errorf("long run: %w", err)
	}
	defer stop()
	url := "http://" + addr
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}
	api := &soakAPI{base: url, client: client}
	w, err := longSetup(ctx, api)
	if err != nil {
		return run, fmt.Errorf("long run: setup: %w", err)
	}
	run.baseRSS, _ = procRSS(pid)

	// The WAL's size, sampled while the run goes.
	var walPeak atomic.Int64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			if fi, err := os.Stat(filepath.Join(data, "credtrace.db-wal")); err == nil && fi.Size() > walPeak.Load() {
				walPeak.Store(fi.Size())
			}
		}
	}()

	post := func(body []byte) error { return postEvents(ctx, client, url, longAdmin, body) }
	bodies := benchBodies(w, seed, n)
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	stopTrace := make(chan struct{})
	var lats []time.Duration
	var lmu sync.Mutex
	traced := make(chan struct{})
	go func() { // one lookup of an ingested parcel every 2 ms
		defer close(traced)
		rng := rand.New(rand.NewPCG(seed, 3))
		for {
			select {
			case <-stopTrace:
				return
			case <-time.After(2 * time.Millisecond):
			}
			k := done.Load()
			if k < 1000 {
				continue
			}
			if d, ok := traceOnce(ctx, client, url+"/v1/parcels/"+fmt.Sprintf("BN%012d", rng.IntN(int(k/12)+1))); ok {
				lmu.Lock()
				lats = append(lats, d)
				lmu.Unlock()
			}
		}
	}()
	var rmu sync.Mutex
	start := time.Now()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range bodies {
				if err := post(body); err != nil {
					errs <- err
					for range bodies {
					}
					return
				}
				k := done.Add(1000)
				for q := 0; q < 4; q++ {
					if mark := int64(n) * int64(q+1) / 4; k >= mark && k-1000 < mark {
						cur, _ := procRSS(pid)
						rmu.Lock()
						run.rssAt[q] = cur
						rmu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopTrace)
	<-traced
	close(stopSampling)
	<-sampled
	select {
	case err := <-errs:
		return run, fmt.Errorf("long run: %w", err)
	default:
	}
	_, run.peakRSS = procRSS(pid)
	run.walPeak = walPeak.Load()
	run.rate = float64(n) / elapsed.Seconds()
	run.all = quantiles(lats, 10*time.Microsecond)
	// Complete parcels (the oldest 5,000 waybills), looked up with nothing else running.
	var idle []time.Duration
	rng := rand.New(rand.NewPCG(seed, 5))
	for i := 0; i < 500; i++ {
		d, ok := traceOnce(ctx, client, url+"/v1/parcels/"+fmt.Sprintf("BN%012d", rng.IntN(5000)))
		if !ok {
			return run, fmt.Errorf("long run: a complete parcel's trace failed")
		}
		idle = append(idle, d)
	}
	run.idle = quantiles(idle, time.Microsecond)
	return run, nil
}

// traceOnce looks up one parcel's trace with the regulator token and answers how long it took,
// and whether the service answered 200.
func traceOnce(ctx context.Context, client *http.Client, u string) (time.Duration, bool) {
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+longAdmin)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(t0), resp.StatusCode == 200
}

// quantiles are the p50 and p99 of ls, rounded to r.
func quantiles(ls []time.Duration, r time.Duration) latencies {
	if len(ls) == 0 {
		return latencies{}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	return latencies{p50: ls[len(ls)/2].Round(r), p99: ls[len(ls)*99/100].Round(r)}
}

// longSetup registers over the API the world benchWorldIn registers in process: a carrier
// with 20 sites and 200 couriers.
func longSetup(ctx context.Context, api *soakAPI) (benchWorld, error) {
	now := time.Now().UTC()
	var w benchWorld
	var firm struct{ ID string }
	if _, err := api.do(ctx, "POST", "/v1/firms", longAdmin, map[string]any{"uscc": "91130100MA0CX7Q2K6", "name": "bench express", "kind": "hq", "region": "130102",
		"licence": map[string]any{"number": "B-1", "valid_from": now.AddDate(-1, 0, 0), "valid_to": now.AddDate(5, 0, 0), "status": "active"}}, &firm); err != nil {
		return w, err
	}
	w.carrier = firm.ID
	for i := 0; i < 20; i++ {
		var s struct{ ID string }
		if _, err := api.do(ctx, "POST", "/v1/firms/"+firm.ID+"/sites", longAdmin, map[string]any{"name": fmt.Sprintf("site %d", i), "kind": "sorting_centre", "region": "130111"}, &s); err != nil {
			return w, err
		}
		w.sites = append(w.sites, s.ID)
	}
	for i := 0; i < 200; i++ {
		var p struct{ ID string }
		if _, err := api.do(ctx, "POST", "/v1/staff", longAdmin, map[string]any{"name": fmt.Sprintf("courier %d", i), "id_number": residentID(i), "phone": fmt.Sprintf("138%08d", i),
			"employment": map[string]any{"firm_id": firm.ID, "role": "courier", "from": now.AddDate(0, -6, 0)}}, &p); err != nil {
			return w, err
		}
		w.staff = append(w.staff, p.ID)
	}
	return w, nil
}
