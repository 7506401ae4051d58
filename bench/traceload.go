package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GenEnv carries a generator child's orders (genOrders as JSON): `credtrace bench -gen-ingest`
// reads it.
const GenEnv = "CREDTRACE_BENCH_GEN"

// genOrders tell a generator child what to send where.
type genOrders struct {
	URL      string        `json:"url"`
	Token    string        `json:"token"`
	Carrier  string        `json:"carrier"`
	Sites    []string      `json:"sites"`
	Staff    []string      `json:"staff"`
	Seed     uint64        `json:"seed"`
	First    int           `json:"first"` // first parcel number: above the prefill's
	Duration time.Duration `json:"duration"`
}

// GenIngest is the generator child of the trace-under-ingestion figure: it posts events
// (benchClients requests of 1,000 at once, as fast as the service answers) to the service
// its orders name, for their duration, then prints the events acknowledged. It runs in its own
// process so that its CPU and memory are not the service's.
func GenIngest(ctx context.Context, stdout io.Writer) error {
	var o genOrders
	if err := json.Unmarshal([]byte(os.Getenv(GenEnv)), &o); err != nil {
		return fmt.Errorf("bench: %s: %w", GenEnv, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	w := benchWorld{carrier: o.Carrier, sites: o.Sites, staff: o.Staff}
	bodies := make(chan []byte, benchClients)
	go func() {
		defer close(bodies)
		gen := newEventStreamFrom(w, o.Seed, 2000, o.First)
		for {
			raw, _ := json.Marshal(gen.batch(1000))
			select {
			case bodies <- raw:
			case <-ctx.Done():
				return
			}
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	fmt.Fprintln(stdout, "ready")
	var done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range bodies {
				if err := postEvents(ctx, client, o.URL, o.Token, body); err != nil {
					if ctx.Err() == nil {
						failed.Store(err)
					}
					for range bodies {
					}
					return
				}
				done.Add(1000)
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	fmt.Fprintf(stdout, "events %d\n", done.Load())
	return nil
}

// loadLatencies are the percentiles of one target's lookups under load.
type loadLatencies struct {
	n              int
	p50, p99, p999 time.Duration
}

func percentiles(ls []time.Duration) loadLatencies {
	if len(ls) == 0 {
		return loadLatencies{}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	at := func(q float64) time.Duration {
		return ls[min(len(ls)-1, int(float64(len(ls))*q))].Round(10 * time.Microsecond)
	}
	return loadLatencies{n: len(ls), p50: at(0.5), p99: at(0.99), p999: at(0.999)}
}

// traceLoadRun is what benchTraceUnderLoad measured.
type traceLoadRun struct {
	trace, bare loadLatencies
	events      int64         // acknowledged by the service to the generator child
	took        time.Duration // the generator's run
}

// traceLoadPrefill is how many events are ingested before the measurement: the parcels traced.
const traceLoadPrefill = 30000

// benchTraceUnderLoad measures trace latency while a generator child process ingests at full
// rate, against a bare Fiber handler (in this process, sending a trace's bytes) sampled by the
// same loop under the same load: each tick (every 2 ms) looks one up from each, in alternating
// order. The traced parcels are random complete ones of a prefill.
func benchTraceUnderLoad(ctx context.Context, o Options, dir string, d time.Duration) (traceLoadRun, error) {
	var run traceLoadRun
	ts, err := startTraceService(ctx, dir, o.Proposer, o.Watcher)
	if err != nil {
		return run, err
	}
	defer ts.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	if err := ts.ingest(ctx, client, 7, traceLoadPrefill); err != nil {
		return run, fmt.Errorf("prefill: %w", err)
	}
	body, err := get(ctx, client, ts.url+"/v1/parcels/BN000000000017", ts.admin)
	if err != nil {
		return run, err
	}
	bare, stopBare, err := bareFiber(body)
	if err != nil {
		return run, err
	}
	defer stopBare()

	orders, _ := json.Marshal(genOrders{URL: ts.url, Token: ts.admin, Carrier: ts.world.carrier, Sites: ts.world.sites, Staff: ts.world.staff,
		Seed: 8, First: traceLoadPrefill, Duration: d})
	cmd := exec.CommandContext(ctx, o.Exe, "bench", "-gen-ingest")
	cmd.Env = append(os.Environ(), GenEnv+"="+string(orders))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return run, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return run, err
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Wait()
		return run, fmt.Errorf("generator child: %s", strings.TrimSpace(stderr.String()))
	}
	start := time.Now()
	stop := make(chan struct{})
	var traceLs, bareLs []time.Duration
	var failures []string
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		rng := rand.New(rand.NewPCG(9, 9))
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		lookup := func(url, token string, into *[]time.Duration) {
			t0 := time.Now()
			if _, err := get(ctx, client, url, token); err != nil {
				failures = append(failures, err.Error())
				return
			}
			*into = append(*into, time.Since(t0))
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			wb := fmt.Sprintf("%s/v1/parcels/BN%012d", ts.url, rng.IntN(traceLoadPrefill/20))
			if i%2 == 0 {
				lookup(wb, ts.admin, &traceLs)
				lookup(bare, "", &bareLs)
			} else {
				lookup(bare, "", &bareLs)
				lookup(wb, ts.admin, &traceLs)
			}
		}
	}()
	var last string
	for lines.Scan() {
		last = lines.Text()
	}
	werr := cmd.Wait()
	run.took = time.Since(start)
	close(stop)
	<-sampled
	if werr != nil {
		return run, fmt.Errorf("generator child: %v: %s", werr, strings.TrimSpace(stderr.String()))
	}
	if _, err := fmt.Sscanf(last, "events %d", &run.events); err != nil {
		return run, fmt.Errorf("generator child said %q", last)
	}
	if len(failures) > 0 {
		return run, fmt.Errorf("%d lookups failed under load, the first: %s", len(failures), failures[0])
	}
	run.trace, run.bare = percentiles(traceLs), percentiles(bareLs)
	return run, nil
}

// get reads url with token (when given) and answers the body; anything but 200 is an error.
func get(ctx context.Context, client *http.Client, url, token string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, errors.New(url + " answered " + resp.Status)
	}
	return body, nil
}

// traceLoadResults runs benchTraceUnderLoad (20 s of ingestion, 8 s with -short) and turns it
// into the table's rows.
func traceLoadResults(ctx context.Context, o Options, dir string, stderr io.Writer) ([]benchResult, error) {
	d := 20 * time.Second
	if o.Short {
		d = 8 * time.Second
	}
	run, err := benchTraceUnderLoad(ctx, o, dir, d)
	if err != nil {
		return nil, err
	}
	rate := float64(run.events) / run.took.Seconds()
	fmt.Fprintf(stderr, "trace under ingestion: trace p50/p99/p99.9 %s/%s/%s, bare %s/%s/%s, %d lookups each, generator child %.0f events/s\n",
		run.trace.p50, run.trace.p99, run.trace.p999, run.bare.p50, run.bare.p99, run.bare.p999, run.trace.n, rate)
	return []benchResult{{"trace p99 under ingestion (child)",
		fmt.Sprintf("p99 %s, p99.9 %s", run.trace.p99, run.trace.p999),
		fmt.Sprintf("p99 %s, p99.9 %s bare Fiber", run.bare.p99, run.bare.p999),
		fmt.Sprintf("%.2f", float64(run.trace.p99)/float64(max(run.bare.p99, 1))),
		fmt.Sprintf("GET /v1/parcels/{waybill} (regulator token; authentication, route guard, request log as JSON, metrics) of random complete parcels of a %d-event prefill, against a Fiber handler with no middleware in the same process sending a trace's bytes, one lookup of each every 2 ms in alternating order, while a generator child process (`credtrace bench -gen-ingest`) posts events at full rate for %s (%.0f events/s, %d lookups each); p50 %s against %s; ratio of the p99s",
			traceLoadPrefill, d, rate, run.trace.n, run.trace.p50, run.bare.p50)}}, nil
}

// Trace measures the trace figures alone (`credtrace bench -trace`): the authenticated trace
// route's requests per second against a bare Fiber handler sending the same bytes, in
// alternating rounds, then trace latency under ingestion by a generator child.
func Trace(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if o.Exe == "" {
		return errors.New("bench: Options.Exe is required")
	}
	dir, err := os.MkdirTemp("", "credtrace-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	row, err := traceRPSResult(ctx, o, dir+"/rps")
	if err != nil {
		return err
	}
	rows, err := traceLoadResults(ctx, o, dir+"/load", stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-34s %-28s %-28s %-6s\n", "figure", "credtrace", "reference", "ratio")
	for _, r := range append([]benchResult{row}, rows...) {
		fmt.Fprintf(stdout, "%-34s %-28s %-28s %-6s\n", r.name, r.value, r.reference, r.ratio)
	}
	for _, r := range append([]benchResult{row}, rows...) {
		fmt.Fprintf(stdout, "\n- %s: %s", r.name, r.how)
	}
	fmt.Fprintln(stdout)
	return nil
}

// traceRPSResult is the authenticated trace route against a bare Fiber handler sending the
// same bytes, benchClients clients, three alternating rounds of 3 s (1 s with -short), the
// median ratio.
func traceRPSResult(ctx context.Context, o Options, dir string) (benchResult, error) {
	ts, err := startTraceService(ctx, dir, o.Proposer, o.Watcher)
	if err != nil {
		return benchResult{}, err
	}
	defer ts.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	if err := ts.ingest(ctx, client, 7, traceLoadPrefill); err != nil {
		return benchResult{}, fmt.Errorf("prefill: %w", err)
	}
	traceURL := ts.url + "/v1/parcels/BN000000000017"
	body, err := get(ctx, client, traceURL, ts.admin)
	if err != nil {
		return benchResult{}, err
	}
	bare, stop, err := bareFiber(body)
	if err != nil {
		return benchResult{}, err
	}
	defer stop()
	d := 3 * time.Second
	if o.Short {
		d = time.Second
	}
	var tr, br, ratio []float64
	for r := 0; r < 3; r++ {
		t, err := loadRPS(ctx, traceURL, ts.admin, benchClients, d)
		if err != nil {
			return benchResult{}, err
		}
		b, err := loadRPS(ctx, bare, "", benchClients, d)
		if err != nil {
			return benchResult{}, err
		}
		tr, br, ratio = append(tr, t), append(br, b), append(ratio, t/b)
	}
	return benchResult{"authenticated trace, 3 rounds", fmt.Sprintf("%.0f requests/s", median(tr)), fmt.Sprintf("%.0f requests/s bare Fiber", median(br)),
		fmt.Sprintf("%.2f", median(ratio)),
		fmt.Sprintf("GET /v1/parcels/{waybill} with a regulator token (authentication, route guard, request log formatted as JSON, metrics, store reads, custody), %d clients, against a Fiber handler with no middleware sending the same bytes, 3 alternating rounds of %s each, median (ratios %s)",
			benchClients, d, fmtList(ratio))}, nil
}
