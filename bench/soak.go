package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SoakOptions are a soak's length and the binary it starts.
type SoakOptions struct {
	// Exe is the credtrace binary whose `serve` the soak starts as a child process, so that
	// the memory, goroutines and open files measured are the service's own.
	Exe      string
	Duration time.Duration
}

// soakBounds are how far each figure may rise over a soak (see judgeTrend): memory may grow
// by half and 32 MiB more (caches filling as the store grows), goroutines and open files by a
// fixed count only (a leak of one per request or per subscriber passes it within minutes),
// and the p99 latencies may double and add a little (the machine is shared, and an index
// deepens as the store grows).
var soakBounds = []trendBound{
	{Name: "resident memory", Unit: "MiB", Factor: 1.5, Margin: 32},
	{Name: "goroutines", Unit: "goroutines", Factor: 1, Margin: 25},
	{Name: "open files", Unit: "files", Factor: 1, Margin: 10},
	{Name: "trace p99", Unit: "ms", Factor: 2, Margin: 25},
	{Name: "ingest p99", Unit: "ms", Factor: 2, Margin: 50},
}

// The soak's load: soakBatch events every second from each of soakIngesters carriers'
// clients, a trace lookup every soakTraceEvery, soakFollowers SSE subscribers each following
// a parcel in flight for soakFollowFor, then another, two alert subscribers for the whole run,
// two webhook subscriptions (a merchant's parcel statuses, the regulator's alerts) on a
// receiver in this process, and a scoring run started soakScoreGap after the last ended.
const (
	soakIngesters  = 2
	soakBatch      = 500
	soakTraceEvery = 20 * time.Millisecond
	soakFollowers  = 8
	soakFollowFor  = 20 * time.Second
	soakScoreGap   = 15 * time.Second
	// soakPrefill is how many parcels the soak ingests as fast as it can before it measures:
	// more than the service's parcel-summary cache holds (100,000), so that the measured run
	// starts with that cache full and its filling is not taken for a leak.
	soakPrefill  = 110000
	soakAdmin    = "ct_bench-soak-regulator-0123456789ab"
	soakMerchant = "soak-merchant"
	// soakMaxErrors is the share of failed requests a soak tolerates.
	soakMaxErrors = 0.01
)

// soakPeriod is the report's period: a minute, or a sixth of a run shorter than six minutes
// (at least 5 s) so that a short run still has a warm-up and three thirds to judge.
func soakPeriod(d time.Duration) time.Duration {
	if d >= 6*time.Minute {
		return time.Minute
	}
	return max(d/6, 5*time.Second)
}

// soakRow is one period of the report.
type soakRow struct {
	at                       time.Duration
	rss                      int64
	heap                     float64 // the Go heap in use (go_memstats_heap_inuse_bytes), shown to tell a Go leak from other memory; not judged
	goroutines, files        float64
	trace, ingest            latencies
	events, streamed, hooked int64
	runs, failed, requests   int64
}

// soakCounters are what the load counts in the current period, reset by the sampler.
type soakCounters struct {
	mu                       sync.Mutex
	trace, ingest            []time.Duration
	events, streamed, hooked int64
	runs, failed, requests   int64
}

func (c *soakCounters) add(f func(c *soakCounters)) {
	c.mu.Lock()
	f(c)
	c.mu.Unlock()
}

// Soak runs ingestion, trace lookups, SSE subscribers, webhook deliveries and scoring runs at
// once against a child `credtrace serve` for o.Duration, prints resident memory, goroutines,
// open files and the p99 latencies per period, and fails when a figure rises past its bound
// (soakBounds) or more than 1% of the requests failed.
func Soak(ctx context.Context, o SoakOptions, stdout, stderr io.Writer) error {
	if o.Exe == "" {
		return errors.New("soak: SoakOptions.Exe is required")
	}
	if o.Duration < 30*time.Second {
		return errors.New("soak: the duration must be at least 30s")
	}
	period := soakPeriod(o.Duration)
	dir, err := os.MkdirTemp("", "credtrace-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The webhook receiver: answers 200 and counts what it got.
	var c soakCounters
	recv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c.add(func(c *soakCounters) { c.hooked++ })
	})}
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go recv.Serve(rln)
	defer recv.Close()

	addr, pid, stop, err := startServe(ctx, o.Exe, filepath.Join(dir, "data"), []string{"CREDTRACE_ADMIN_TOKEN=" + soakAdmin},
		"--webhook-allow-private", "true", "--anomaly-schedule", "@every 1m", "--score-schedule", "", "--publish-schedule", "")
	if err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	defer stop()
	api := &soakAPI{base: "http://" + addr, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	w, metricsToken, err := soakSetup(ctx, api, "http://"+rln.Addr().String())
	if err != nil {
		return fmt.Errorf("soak: setup: %w", err)
	}
	gen := &soakGen{s: newEventStream(w, 7, 2000), rng: rand.New(rand.NewPCG(7, 5))}
	fmt.Fprintf(stderr, "soak: ingesting %d parcels before the measured run\n", soakPrefill)
	t0 := time.Now()
	events, err := soakFill(ctx, api, gen, soakPrefill)
	if err != nil {
		return fmt.Errorf("soak: prefill: %w", err)
	}
	took := time.Since(t0)
	fmt.Fprintf(stdout, "credtrace soak: %s against a child `credtrace serve` (pid %d, SQLite), report every %s, %d CPUs, %s\n",
		o.Duration, pid, period, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(stdout, "load: %d carriers' clients posting %d events a second each, a trace lookup every %s, %d SSE subscribers following parcels in flight (%s each, then another) and 2 on the alert stream, webhooks for a merchant's parcel statuses and the regulator's alerts on a receiver in the soak, a scoring run %s after the last ended, the anomaly scan every minute\n",
		soakIngesters, soakBatch, soakTraceEvery, soakFollowers, soakFollowFor, soakScoreGap)
	fmt.Fprintf(stdout, "before the measured run: %d events of %d parcels ingested as fast as they were taken (%s), more parcels than the service's parcel-summary cache holds (100,000)\n",
		events, soakPrefill, took.Round(time.Second))
	fmt.Fprintln(stdout, "bounds (the first period is the warm-up and left out; the rest is cut in thirds):")
	for _, b := range soakBounds {
		fmt.Fprintf(stdout, "  %s\n", b)
	}
	fmt.Fprintf(stdout, "  failed requests: at most %.0f%% of all\n\n", soakMaxErrors*100)

	load, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	for i := 0; i < soakIngesters; i++ {
		run(func() { soakIngest(load, api, gen, &c) })
	}
	run(func() { soakTrace(load, api, gen, &c) })
	for i := 0; i < soakFollowers; i++ {
		run(func() { soakFollow(load, api, gen, &c, uint64(i)) })
	}
	for i := 0; i < 2; i++ {
		run(func() { soakStream(load, api, "/v1/alerts/stream", 0, &c) })
	}
	run(func() { soakScore(load, api, &c) })

	var rows []soakRow
	start := time.Now()
	tick := time.NewTicker(period)
	fmt.Fprintf(stdout, "%-7s %8s %9s %10s %6s %12s %12s %8s %8s %8s %5s %7s\n", "at", "RSS MiB", "heap MiB", "goroutines", "files", "trace p99", "ingest p99", "events", "SSE", "hooks", "runs", "failed")
	for len(rows) < int(o.Duration/period) {
		select {
		case <-ctx.Done():
			tick.Stop()
			cancel()
			wg.Wait()
			return ctx.Err()
		case <-tick.C:
		}
		r := soakRow{at: time.Since(start).Round(time.Second)}
		r.rss, _ = procRSS(pid)
		r.files = float64(openFiles(pid))
		r.goroutines = math.NaN()
		if g, err := api.gauge(load, metricsToken, "go_goroutines"); err == nil {
			r.goroutines = g
		} else {
			fmt.Fprintf(stderr, "soak: /metrics: %v\n", err)
		}
		r.heap = math.NaN()
		if h, err := api.gauge(load, metricsToken, "go_memstats_heap_inuse_bytes"); err == nil {
			r.heap = h / (1 << 20)
		}
		c.add(func(c *soakCounters) {
			r.trace, r.ingest = p99(c.trace), p99(c.ingest)
			r.events, r.streamed, r.hooked, r.runs, r.failed, r.requests = c.events, c.streamed, c.hooked, c.runs, c.failed, c.requests
			c.trace, c.ingest = nil, nil
			c.events, c.streamed, c.hooked, c.runs, c.failed, c.requests = 0, 0, 0, 0, 0, 0
		})
		rows = append(rows, r)
		fmt.Fprintf(stdout, "%-7s %8d %9.0f %10.0f %6.0f %12s %12s %8d %8d %8d %5d %7d\n", r.at, r.rss>>20, r.heap, r.goroutines, r.files,
			r.trace.p99, r.ingest.p99, r.events, r.streamed, r.hooked, r.runs, r.failed)
	}
	tick.Stop()
	cancel()
	wg.Wait()

	series := make([][]float64, len(soakBounds))
	var failed, requests int64
	for _, r := range rows {
		for i, x := range []float64{float64(r.rss) / (1 << 20), r.goroutines, r.files, ms(r.trace.p99), ms(r.ingest.p99)} {
			series[i] = append(series[i], x)
		}
		failed, requests = failed+r.failed, requests+r.requests
	}
	fmt.Fprintln(stdout)
	var bad []string
	for i, b := range soakBounds {
		v := judgeTrend(series[i], b)
		verdict := "ok"
		if !v.OK {
			verdict, bad = "FAIL: "+v.Reason, append(bad, b.Name)
		}
		fmt.Fprintf(stdout, "%-16s first third %8.2f, last third %8.2f, bound %8.2f %-10s %s\n", b.Name, v.First, v.Last, v.Limit, b.Unit, verdict)
	}
	share := float64(failed) / float64(max(requests, 1))
	verdict := "ok"
	if share > soakMaxErrors {
		verdict, bad = "FAIL", append(bad, "failed requests")
	}
	fmt.Fprintf(stdout, "%-16s %d of %d (%.2f%%), bound %.0f%% %s\n", "failed requests", failed, requests, share*100, soakMaxErrors*100, verdict)
	if len(bad) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(bad, ", "))
	}
	fmt.Fprintln(stdout, "soak passed")
	return nil
}

func ms(d time.Duration) float64 {
	if d == 0 {
		return math.NaN() // nothing measured in the period
	}
	return float64(d) / float64(time.Millisecond)
}

func p99(ls []time.Duration) latencies {
	if len(ls) == 0 {
		return latencies{}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	return latencies{p50: ls[len(ls)/2].Round(100 * time.Microsecond), p99: ls[len(ls)*99/100].Round(100 * time.Microsecond)}
}

// openFiles counts the open file descriptors of process pid (its /proc/<pid>/fd).
func openFiles(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// soakGen is the event stream shared by the ingesting clients, and a sample of the waybills
// of acknowledged events for the trace lookups.
type soakGen struct {
	mu    sync.Mutex
	s     *eventStream
	seen  []string // at most soakSeen waybills of acknowledged events, replaced at random
	added int
	rng   *rand.Rand
}

const soakSeen = 10000

// batch is the next n events and their waybills; a tenth of the parcels are the soak
// merchant's, whose webhook receives their status changes.
func (g *soakGen) batch(n int) ([]byte, []string, error) {
	g.mu.Lock()
	evs := g.s.batch(n)
	g.mu.Unlock()
	wbs := make([]string, 0, len(evs))
	for _, e := range evs {
		wb := e["waybill"].(string)
		wbs = append(wbs, wb)
		if _, ok := e["merchant"]; ok && strings.HasSuffix(wb, "0") {
			e["merchant"] = soakMerchant
		}
	}
	b, err := json.Marshal(evs)
	return b, wbs, err
}

// acked keeps a sample of the waybills of an acknowledged batch (reservoir sampling, so that
// old parcels are looked up as well as new ones).
func (g *soakGen) acked(wbs []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, wb := range wbs {
		g.added++
		if len(g.seen) < soakSeen {
			g.seen = append(g.seen, wb)
		} else if k := g.rng.IntN(g.added); k < soakSeen {
			g.seen[k] = wb
		}
	}
}

// traced is a waybill of an acknowledged event, or "" before any.
func (g *soakGen) traced() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) == 0 {
		return ""
	}
	return g.seen[g.rng.IntN(len(g.seen))]
}

// soakFill ingests events from two clients as fast as the service takes them until parcels
// parcels have begun, and answers how many events that was.
func soakFill(ctx context.Context, api *soakAPI, gen *soakGen, parcels int) (int64, error) {
	var events atomic.Int64
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			for {
				gen.mu.Lock()
				done := gen.s.next >= parcels
				gen.mu.Unlock()
				if done {
					errs <- nil
					return
				}
				body, wbs, err := gen.batch(1000)
				if err != nil {
					errs <- err
					return
				}
				var res struct{ Accepted, Rejected int }
				if _, err := api.do(ctx, "POST", "/v1/events", soakAdmin, json.RawMessage(body), &res); err != nil {
					errs <- err
					return
				}
				if res.Rejected > 0 {
					errs <- fmt.Errorf("%d events rejected", res.Rejected)
					return
				}
				gen.acked(wbs)
				events.Add(int64(res.Accepted))
			}
		}()
	}
	err := errors.Join(<-errs, <-errs)
	return events.Load(), err
}

// inFlight is a waybill of a parcel in flight (one of the stream's live parcels).
func (g *soakGen) inFlight(rng *rand.Rand) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.s.live[rng.IntN(len(g.s.live))].waybill
}

// soakAPI calls the service.
type soakAPI struct {
	base   string
	client *http.Client
}

// do sends body (JSON, when not nil) and decodes a 2xx answer into out (when not nil); any
// other answer is an error.
func (a *soakAPI) do(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// gauge reads one gauge of the service's /metrics.
func (a *soakAPI) gauge(ctx context.Context, token, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("answered %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// soakSetup registers a carrier with 20 sites and 100 couriers, issues a metrics token and a
// merchant's token, and subscribes the merchant's parcel statuses and the regulator's alerts
// to the receiver at hook. It answers the world and the metrics token.
func soakSetup(ctx context.Context, api *soakAPI, hook string) (benchWorld, string, error) {
	now := time.Now().UTC()
	var w benchWorld
	var firm struct{ ID string }
	if _, err := api.do(ctx, "POST", "/v1/firms", soakAdmin, map[string]any{"uscc": "91130100MA0CX7Q2K6", "name": "soak express", "kind": "hq", "region": "130102",
		"licence": map[string]any{"number": "S-1", "valid_from": now.AddDate(-1, 0, 0), "valid_to": now.AddDate(5, 0, 0), "status": "active"}}, &firm); err != nil {
		return w, "", err
	}
	w.carrier = firm.ID
	for i := 0; i < 20; i++ {
		var s struct{ ID string }
		if _, err := api.do(ctx, "POST", "/v1/firms/"+firm.ID+"/sites", soakAdmin, map[string]any{"name": fmt.Sprintf("site %d", i), "kind": "sorting_centre", "region": "130111"}, &s); err != nil {
			return w, "", err
		}
		w.sites = append(w.sites, s.ID)
	}
	for i := 0; i < 100; i++ {
		var p struct{ ID string }
		if _, err := api.do(ctx, "POST", "/v1/staff", soakAdmin, map[string]any{"name": fmt.Sprintf("courier %d", i), "id_number": residentID(i), "phone": fmt.Sprintf("138%08d", i),
			"employment": map[string]any{"firm_id": firm.ID, "role": "courier", "from": now.AddDate(0, -6, 0)}}, &p); err != nil {
			return w, "", err
		}
		w.staff = append(w.staff, p.ID)
	}
	var metrics, merchant struct{ Token string }
	if _, err := api.do(ctx, "POST", "/v1/tokens", soakAdmin, map[string]any{"role": "metrics", "label": "soak"}, &metrics); err != nil {
		return w, "", err
	}
	if _, err := api.do(ctx, "POST", "/v1/tokens", soakAdmin, map[string]any{"role": "merchant", "merchant_id": soakMerchant, "label": "soak"}, &merchant); err != nil {
		return w, "", err
	}
	if _, err := api.do(ctx, "POST", "/v1/webhooks", merchant.Token, map[string]any{"url": hook + "/merchant", "events": []string{"parcel.status_changed"}}, nil); err != nil {
		return w, "", err
	}
	if _, err := api.do(ctx, "POST", "/v1/webhooks", soakAdmin, map[string]any{"url": hook + "/regulator"}, nil); err != nil {
		return w, "", err
	}
	return w, metrics.Token, nil
}

// soakIngest posts a batch of soakBatch events every second until ctx ends.
func soakIngest(ctx context.Context, api *soakAPI, gen *soakGen, c *soakCounters) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		body, wbs, err := gen.batch(soakBatch)
		if err != nil {
			return
		}
		var res struct{ Accepted, Rejected int }
		t0 := time.Now()
		_, err = api.do(ctx, "POST", "/v1/events", soakAdmin, json.RawMessage(body), &res)
		d := time.Since(t0)
		if ctx.Err() != nil {
			return
		}
		ok := err == nil && res.Rejected == 0
		if ok {
			gen.acked(wbs)
		}
		c.add(func(c *soakCounters) {
			c.requests++
			if !ok {
				c.failed++
				return
			}
			c.ingest = append(c.ingest, d)
			c.events += int64(res.Accepted)
		})
	}
}

// soakTrace looks up a parcel of the acknowledged events every soakTraceEvery.
func soakTrace(ctx context.Context, api *soakAPI, gen *soakGen, c *soakCounters) {
	tick := time.NewTicker(soakTraceEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		wb := gen.traced()
		if wb == "" {
			continue
		}
		t0 := time.Now()
		_, err := api.do(ctx, "GET", "/v1/parcels/"+wb, soakAdmin, nil, nil)
		d := time.Since(t0)
		if ctx.Err() != nil {
			return
		}
		c.add(func(c *soakCounters) {
			c.requests++
			if err != nil {
				c.failed++
				return
			}
			c.trace = append(c.trace, d)
		})
	}
}

// soakFollow follows parcels in flight on their SSE stream, soakFollowFor each, until ctx ends.
func soakFollow(ctx context.Context, api *soakAPI, gen *soakGen, c *soakCounters, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	for ctx.Err() == nil {
		soakStream(ctx, api, "/v1/parcels/"+gen.inFlight(rng)+"/stream", soakFollowFor, c)
	}
}

// soakStream reads the SSE stream at path, counting its events, for d (0: until ctx ends,
// reconnecting when it drops). A parcel not ingested yet (404) is not a failure: the
// follower waits a second and takes another.
func soakStream(ctx context.Context, api *soakAPI, path string, d time.Duration, c *soakCounters) {
	for ctx.Err() == nil {
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if d > 0 {
			sctx, cancel = context.WithTimeout(ctx, d)
		}
		req, _ := http.NewRequestWithContext(sctx, "GET", api.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+soakAdmin)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := (&http.Client{Transport: api.client.Transport}).Do(req)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return
			}
			c.add(func(c *soakCounters) { c.requests++; c.failed++ })
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			if d > 0 {
				return
			}
			continue
		}
		failed := resp.StatusCode != 200 && resp.StatusCode != 404
		c.add(func(c *soakCounters) {
			c.requests++
			if failed {
				c.failed++
			}
		})
		if resp.StatusCode == 200 {
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "event:") {
					c.add(func(c *soakCounters) { c.streamed++ })
				}
			}
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != 200 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if d > 0 {
			return
		}
	}
}

// soakScore starts a scoring run (a preview), waits for it to end, and starts the next
// soakScoreGap later, until ctx ends. A run refused because one is running (409) waits too.
func soakScore(ctx context.Context, api *soakAPI, c *soakCounters) {
	for {
		var r struct{ ID, Status string }
		status, err := api.do(ctx, "POST", "/v1/scoring/runs", soakAdmin, nil, &r)
		for err == nil && r.Status == "running" && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
			_, err = api.do(ctx, "GET", "/v1/scoring/runs/"+r.ID, soakAdmin, nil, &r)
		}
		if ctx.Err() != nil {
			return
		}
		ok := err == nil && r.Status == "succeeded"
		c.add(func(c *soakCounters) {
			c.requests++
			switch {
			case ok:
				c.runs++
			case status != 409:
				c.failed++
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(soakScoreGap):
		}
	}
}
