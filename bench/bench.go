// Package bench measures credtrace on this machine against references measured in the same run:
// HTTP ingestion against raw SQLite inserts, the authenticated trace route against a bare Fiber
// handler, trace latency and memory over a long run, bodies announced by many connections at
// once, and a scoring run against one of a quarter of the size. credtrace bench runs it.
package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// benchWorld is what the bench registers before it streams events.
type benchWorld struct {
	carrier string
	sites   []string
	staff   []string
}

// eventStream generates the events of parcels in flight the way a carrier's system sends
// them: many parcels at once, each with 6 to 12 scans, interleaved in time.
type eventStream struct {
	w       benchWorld
	rng     *rand.Rand
	next    int // next parcel number
	live    []*benchParcel
	base    time.Time
	emitted int
}

type benchParcel struct {
	waybill string
	steps   []string
	i       int
	at      time.Time
}

func newEventStream(w benchWorld, seed uint64, inFlight int) *eventStream {
	return newEventStreamFrom(w, seed, inFlight, 0)
}

// newEventStreamFrom is newEventStream with parcels numbered from first, so that two streams
// of one store never share a waybill.
func newEventStreamFrom(w benchWorld, seed uint64, inFlight, first int) *eventStream {
	s := &eventStream{w: w, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), base: time.Now().Add(-36 * time.Hour).UTC(), next: first}
	for i := 0; i < inFlight; i++ {
		s.live = append(s.live, s.parcel())
	}
	return s
}

func (s *eventStream) parcel() *benchParcel {
	n := s.next
	s.next++
	hops := 2 + s.rng.IntN(5) // 2..6 hub passes → 6..12 events
	steps := []string{"collected"}
	for h := 0; h < hops; h++ {
		steps = append(steps, "departed", "arrived")[:len(steps)+2]
	}
	steps = append(steps, "out_for_delivery", "delivered")
	if len(steps) > 12 {
		steps = steps[:12]
	}
	return &benchParcel{waybill: fmt.Sprintf("BN%012d", n), steps: steps, at: s.base.Add(time.Duration(n%3600) * time.Second)}
}

// batch returns n events as JSON objects.
func (s *eventStream) batch(n int) []map[string]any {
	out := make([]map[string]any, 0, n)
	for len(out) < n {
		k := s.rng.IntN(len(s.live))
		p := s.live[k]
		code := p.steps[p.i]
		p.at = p.at.Add(time.Duration(10+s.rng.IntN(170)) * time.Minute)
		e := map[string]any{"id": fmt.Sprintf("%s-%02d", p.waybill, p.i), "waybill": p.waybill, "carrier": s.w.carrier, "code": code,
			"at": p.at.Format(time.RFC3339), "site": s.w.sites[s.rng.IntN(len(s.w.sites))], "staff": s.w.staff[s.rng.IntN(len(s.w.staff))],
			"region": "130111"}
		switch code {
		case "collected":
			e["merchant"] = fmt.Sprintf("M%04d", s.rng.IntN(500))
			e["weight_g"] = 200 + s.rng.IntN(5000)
			e["recipient_phone"] = fmt.Sprintf("139%08d", s.rng.IntN(1e8))
		case "delivered":
			e["signer"] = "recipient"
		}
		out = append(out, e)
		p.i++
		if p.i == len(p.steps) {
			s.live[k] = s.parcel()
		}
	}
	s.emitted += len(out)
	return out
}

type benchResult struct {
	name, value, reference, ratio, how string
}

// Options are a bench run's sizes and the wiring it borrows from the service.
type Options struct {
	Short      bool // a quick run (under two minutes): caps Events, Long and ScoreFirms
	Rounds     int  // alternating rounds of ingestion and reference; the table shows medians
	Events     int  // events per round in the ingestion ratio
	Long       int  // events of the long run that measures memory and trace cost (0 skips it)
	ScoreFirms int  // firms of the 4× scoring world (0 skips it)
	// ScoreNational is the firms of the national scoring world (ten staff each, statistics
	// over the whole window), timed against the 4× world; 0 skips it.
	ScoreNational int
	Out           string // also write the raw results as JSON to this file, when set

	// Exe is the credtrace binary whose `serve` the body attack starts as a child process, so
	// that the memory measured is the service's own.
	Exe string
	// Proposer and Watcher connect an ingestion round's services as the service connects them:
	// back-tracking's proposals into the archive, the archive's verdicts into tracking.
	Proposer func(*courier.Service) tracking.Proposer
	Watcher  func(*tracking.Service) courier.Watcher
}

// Run measures credtrace on this machine and prints each figure beside its reference, all
// measured in the same run, to stdout; progress goes to stderr.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if o.Exe == "" || o.Proposer == nil || o.Watcher == nil {
		return errors.New("bench: Options.Exe, Proposer and Watcher are required")
	}
	if o.Rounds < 1 {
		return errors.New("bench: rounds must be at least 1")
	}
	if o.Short {
		o.Events, o.Long, o.ScoreFirms = min(o.Events, 40000), min(o.Long, 200000), min(o.ScoreFirms, 800)
		o.ScoreNational = min(o.ScoreNational, 8000)
	}
	dir, err := os.MkdirTemp("", "credtrace-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(stdout, "credtrace bench: %d rounds of %d events, long run %d events, batches of 1,000, %d CPUs, %s\n\n",
		o.Rounds, o.Events, o.Long, runtime.NumCPU(), runtime.Version())

	// Bodies announced by many connections at once, against a child service process.
	attacks, err := benchBodyAttack(ctx, o.Exe, filepath.Join(dir, "attack"), attackConns, 16<<20, "/healthz", "/v1/events")
	if err != nil {
		return fmt.Errorf("body attack: %w", err)
	}
	for _, a := range attacks {
		fmt.Fprintf(stderr, "body attack on %s: peak %d MiB resident (%d MiB after start), answers %s, %s\n",
			a.path, a.peakRSS>>20, a.baseRSS>>20, a.answers(), a.took.Round(time.Millisecond))
	}

	// SSE fan-out to many streams and their release, against a child service process.
	fanRounds := fanoutRounds
	if o.Short {
		fanRounds = 5
	}
	fan, err := benchFanout(ctx, o.Exe, filepath.Join(dir, "fanout"), fanRounds)
	if err != nil {
		return fmt.Errorf("SSE fan-out: %w", err)
	}
	fmt.Fprintf(stderr, "SSE fan-out: %d arrivals, %d missed; release: files %s, goroutines %s\n", len(fan.lat), fan.missed, fan.files, fan.goroutines)

	// The long run goes first, so that its peak memory is its own.
	var long1 ingestRun
	if o.Long > 0 {
		var err error
		if long1, err = benchLongChild(ctx, o.Exe, filepath.Join(dir, "long"), o.Long, 99); err != nil {
			return err
		}
	}
	longResults := func(small latencies) []benchResult {
		if o.Long == 0 {
			return nil
		}
		run := long1
		lat := run.all
		return []benchResult{
			{"trace lookup while ingesting", fmt.Sprintf("p50 %s, p99 %s", lat.p50, lat.p99), "", "",
				"GET /v1/parcels/{waybill} (regulator token) of random ingested parcels, one client every 2 ms, during the long run"},
			{"trace p50, large vs small store", fmt.Sprintf("%s at %d events", run.idle.p50, o.Long), fmt.Sprintf("%s at %d events", small.p50, o.Events),
				fmt.Sprintf("%.2f", float64(run.idle.p50)/float64(max(small.p50, 1))),
				"500 lookups of complete parcels (6-12 events each) with nothing else running, after the long run against after the first round: a trace reads one parcel's events by index, so its cost follows the parcel, not the store"},
			{"peak resident memory", fmt.Sprintf("%d MiB", run.peakRSS>>20), fmt.Sprintf("%d MiB after setup", run.baseRSS>>20), "",
				fmt.Sprintf("VmHWM of the service alone (a child `credtrace serve` with its default --memory-limit; the load generator is the bench process, events generated as they are sent), run first, over the ingestion of %d events at %.0f events/s; resident memory at 25/50/75/100%%: %d/%d/%d/%d MiB; largest WAL file %d MiB (the issue asks for under 512 MiB)",
					o.Long, run.rate, run.rssAt[0]>>20, run.rssAt[1]>>20, run.rssAt[2]>>20, run.rssAt[3]>>20, run.walPeak>>20)}}
	}

	var ing, raw, ratio []float64
	var small latencies
	var rps ingestRun
	for r := 0; r < o.Rounds; r++ {
		rd := filepath.Join(dir, fmt.Sprint("round", r))
		rpsFor := time.Duration(0)
		if r == 0 {
			rpsFor = 5 * time.Second
			if o.Short {
				rpsFor = 2 * time.Second
			}
		}
		run, err := benchIngest(ctx, o, rd, o.Events, uint64(r+1), false, rpsFor)
		if err != nil {
			return err
		}
		ref, err := benchRawInsert(ctx, filepath.Join(rd, "raw.db"), o.Events, uint64(r+1))
		if err != nil {
			return err
		}
		ing, raw, ratio = append(ing, run.rate), append(raw, ref), append(ratio, run.rate/ref)
		if r == 0 {
			small, rps = run.idle, run
		}
		fmt.Fprintf(stderr, "round %d: %.0f events/s against %.0f rows/s (%.2f)\n", r+1, run.rate, ref, run.rate/ref)
	}
	results := []benchResult{
		{"HTTP ingestion (SQLite)", fmt.Sprintf("%.0f events/s", median(ing)), fmt.Sprintf("%.0f rows/s raw insert", median(raw)), fmt.Sprintf("%.2f", median(ratio)),
			fmt.Sprintf("POST /v1/events, %d concurrent clients, 1,000 events per request, end to end over loopback; reference: the same events as JSON rows into one SQLite table with a primary key and a waybill index, 1,000 per transaction, same pragmas (WAL, synchronous=FULL); median of %d alternating rounds (ratios %s)",
				benchClients, o.Rounds, fmtList(ratio))},
	}
	results = append(results, benchResult{"authenticated trace route", fmt.Sprintf("%.0f requests/s", rps.traceRPS), fmt.Sprintf("%.0f requests/s bare Fiber", rps.bare),
		fmt.Sprintf("%.2f", rps.traceRPS/rps.bare),
		fmt.Sprintf("GET /v1/parcels/{waybill} with a regulator token (authentication, route guard, request log, store read, custody), %d clients for 5 s each (2 s with -short), against a Fiber handler with no middleware sending the same bytes, on the same machine in the same run", benchClients)})
	results = append(results, longResults(small)...)
	loadRows, err := traceLoadResults(ctx, o, filepath.Join(dir, "traceload"), stderr)
	if err != nil {
		return fmt.Errorf("trace under ingestion: %w", err)
	}
	results = append(results, loadRows...)
	for _, a := range attacks {
		who := "no token: refused before its body is read (413 above the route's 1 MiB)"
		if a.path != "/healthz" {
			who = fmt.Sprintf("a regulator token: each body read whole and decoded, at most %d large bodies at once, the others told 503 after 10 s", httpapi.MaxLargeBodies)
		}
		results = append(results, benchResult{"16 MiB bodies ×" + fmt.Sprint(attackConns) + " " + a.path,
			fmt.Sprintf("%d MiB peak resident", a.peakRSS>>20), fmt.Sprintf("%d MiB after start", a.baseRSS>>20), "",
			fmt.Sprintf("%d connections at once, each announcing and sending a 16 MiB body to POST %s, with %s; VmRSS of the service (a child `credtrace serve`, so the figure is its own) sampled every 10 ms; answers %s in %s (the issue asks for under 300 MiB)",
				attackConns, a.path, who, a.answers(), a.took.Round(time.Millisecond))})
	}
	results = append(results, fan.results()...)
	if o.ScoreFirms > 0 {
		var took [2]time.Duration
		var runs [2]scoring.Run
		var evs [2]int
		var sr [2]scoreRun
		for i, n := range []int{o.ScoreFirms / 4, o.ScoreFirms} {
			r, err := benchScoring(ctx, filepath.Join(dir, fmt.Sprint("score", i)), scoreWorld{firms: n, staffPerFirm: 10, days: 1})
			if err != nil {
				return fmt.Errorf("scoring bench: %w", err)
			}
			sr[i], took[i], runs[i], evs[i] = r, r.took, r.run, r.events
			fmt.Fprintf(stderr, "scoring %d firms: %s (%d subjects, statistics of %d events), %s\n", n, r.took.Round(time.Millisecond), r.run.Total, r.events, r.mem)
		}
		results = append(results, benchResult{"scoring run, 1× → 4× subjects",
			fmt.Sprintf("%s for %d subjects", took[1].Round(time.Millisecond), runs[1].Total),
			fmt.Sprintf("%s for %d subjects", took[0].Round(time.Millisecond), runs[0].Total),
			fmt.Sprintf("%.2f", took[1].Seconds()/took[0].Seconds()),
			fmt.Sprintf("one published run (gather, compute, store scores, proposals) over %d firms in trees of ten, %d staff, %d records and day statistics standing for %d events (4×), against a quarter of that (1×); a run reads subjects, records and statistic rows, never raw events, so 4× the subjects should cost about 4×",
				o.ScoreFirms, o.ScoreFirms*10, o.ScoreFirms/4, evs[1])})
		if o.ScoreNational > 0 {
			res, err := benchNational(ctx, filepath.Join(dir, "national"), o.ScoreNational, sr[1], stderr)
			if err != nil {
				return fmt.Errorf("national scoring bench: %w", err)
			}
			results = append(results, res)
		}
	}

	w := stdout
	fmt.Fprintf(w, "%-34s %-28s %-28s %-6s\n", "figure", "credtrace", "reference", "ratio")
	for _, r := range results {
		fmt.Fprintf(w, "%-34s %-28s %-28s %-6s\n", r.name, r.value, r.reference, r.ratio)
	}
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "- %s: %s\n", r.name, r.how)
	}
	if o.Out != "" {
		type row struct{ Name, Value, Reference, Ratio, How string }
		var rows []row
		for _, r := range results {
			rows = append(rows, row{r.name, r.value, r.reference, r.ratio, r.how})
		}
		b, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(o.Out, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func median(xs []float64) float64 {
	ys := append([]float64(nil), xs...)
	sort.Float64s(ys)
	return ys[len(ys)/2]
}

func fmtList(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(parts, ", ")
}

// rss reads the resident set (VmRSS) and its peak (VmHWM) of this process, in bytes.
func rss() (cur, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if strings.HasPrefix(line, "VmRSS:") {
			fmt.Sscan(strings.TrimPrefix(line, "VmRSS:"), &kb)
			cur = kb << 10
		}
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Sscan(strings.TrimPrefix(line, "VmHWM:"), &kb)
			peak = kb << 10
		}
	}
	return cur, peak
}

type latencies struct{ p50, p99 time.Duration }

// benchWorldIn registers a carrier with 20 sites and 200 couriers.
func benchWorldIn(ctx context.Context, svc *courier.Service) (benchWorld, error) {
	a := credtrace.System
	f, err := svc.CreateFirm(ctx, a, courier.FirmInput{USCC: "91130100MA0CX7Q2K6", Name: "bench express", Kind: courier.KindHQ, Region: "130102",
		Licence: courier.Licence{Number: "B-1", ValidFrom: time.Now().AddDate(-1, 0, 0), ValidTo: time.Now().AddDate(5, 0, 0), Status: courier.LicenceActive}})
	if err != nil {
		return benchWorld{}, err
	}
	w := benchWorld{carrier: f.ID}
	for i := 0; i < 20; i++ {
		s, err := svc.CreateSite(ctx, a, f.ID, courier.SiteInput{Name: fmt.Sprintf("site %d", i), Kind: courier.SiteSortingCentre, Region: "130111"})
		if err != nil {
			return benchWorld{}, err
		}
		w.sites = append(w.sites, s.ID)
	}
	for i := 0; i < 200; i++ {
		p, err := svc.CreateStaff(ctx, a, courier.StaffInput{Name: fmt.Sprintf("courier %d", i), IDNumber: residentID(i), Phone: fmt.Sprintf("138%08d", i),
			Employment: &courier.EmploymentInput{FirmID: f.ID, Role: "courier", From: time.Now().AddDate(0, -6, 0)}})
		if err != nil {
			return benchWorld{}, err
		}
		w.staff = append(w.staff, p.ID)
	}
	return w, nil
}

// residentID makes a valid GB 11643 number with serial n.
func residentID(n int) string {
	base := fmt.Sprintf("1101051990%04d%03d", 101+n/1000%1000, n%1000)[:17]
	check, _ := courier.ResidentIDCheck(base)
	return base + string(check)
}

// ingestRun is what one ingestion run measured.
type ingestRun struct {
	rate             float64
	all, early, late latencies
	idle             latencies // lookups of complete parcels once ingestion is over
	baseRSS, peakRSS int64
	rssAt            [4]int64 // resident memory at a quarter, half, three quarters and the end
	traceRPS, bare   float64  // authenticated trace route against a bare Fiber handler
	walPeak          int64    // largest WAL file seen (the long run)
}

// benchBodies generates the request bodies of n events, as they are sent, from a seed.
func benchBodies(w benchWorld, seed uint64, n int) <-chan []byte {
	ch := make(chan []byte, 8)
	go func() {
		defer close(ch)
		gen := newEventStream(w, seed, 2000)
		for sent := 0; sent < n; sent += 1000 {
			raw, _ := json.Marshal(gen.batch(min(1000, n-sent)))
			ch <- raw
		}
	}()
	return ch
}

func benchIngest(ctx context.Context, o Options, dir string, n int, seed uint64, trace bool, rpsFor time.Duration) (ingestRun, error) {
	var run ingestRun
	st, err := sqlite.Open(ctx, filepath.Join(dir, "credtrace.db"))
	if err != nil {
		return run, err
	}
	defer st.Close()
	hasher := courier.NewHasher([]byte("bench-key-0123456789abcdefghijklmnop"))
	svc := courier.NewService(st, hasher, courier.DefaultPolicy(), nil)
	admin := "ct_bench-admin-token-0123456789abcdef"
	if _, err := svc.Bootstrap(ctx, admin); err != nil {
		return run, err
	}
	w, err := benchWorldIn(ctx, svc)
	if err != nil {
		return run, err
	}
	trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(svc), o.Proposer(svc), hasher, tracking.Options{}, nil)
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{})
	defer pipe.Close(context.Background())
	svc.SetWatcher(o.Watcher(trk))
	api := httpapi.New(httpapi.Deps{Courier: svc, Tracking: trk, Store: st, Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return run, err
	}
	go api.App().Listener(ln)
	defer api.App().Shutdown()
	url := "http://" + ln.Addr().String()
	runtime.GC()
	run.baseRSS, _ = rss()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchClients}}
	post := func(body []byte) error { return postEvents(ctx, client, url, admin, body) }
	bodies := benchBodies(w, seed, n)
	var done atomic.Int64 // events acknowledged
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	stop := make(chan struct{})
	type sample struct {
		at       int64 // events acknowledged when the lookup ran
		lat      time.Duration
		perEvent time.Duration // lat divided by the parcel's events
	}
	var samples []sample
	var smu sync.Mutex
	go func() { // the tracer: looks up parcels that exist (waybills below the acknowledged count)
		if !trace {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 3))
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			k := done.Load()
			if k < 1000 {
				continue
			}
			wb := fmt.Sprintf("BN%012d", rng.IntN(int(k/12)+1))
			req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/parcels/"+wb, nil)
			req.Header.Set("Authorization", "Bearer "+admin)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				evs := bytes.Count(body, []byte(`"code":`))
				if resp.StatusCode == 200 && evs > 0 {
					smu.Lock()
					samples = append(samples, sample{k, d, d / time.Duration(evs)})
					smu.Unlock()
				}
			}
		}
	}()
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
				k := done.Add(int64(1000))
				for q := 0; q < 4; q++ {
					if mark := int64(n) * int64(q+1) / 4; k >= mark && k-1000 < mark {
						run.rssAt[q], _ = rss()
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	select {
	case err := <-errs:
		return run, err
	default:
	}
	_, run.peakRSS = rss()
	run.rate = float64(n) / elapsed.Seconds()
	// Complete parcels (the oldest 5,000 waybills), looked up with nothing else running.
	var idle []time.Duration
	rng := rand.New(rand.NewPCG(seed, 5))
	for i := 0; i < 500; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/parcels/"+fmt.Sprintf("BN%012d", rng.IntN(5000)), nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return run, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		idle = append(idle, time.Since(t0))
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i] < idle[j] })
	run.idle = latencies{p50: idle[len(idle)/2].Round(time.Microsecond), p99: idle[len(idle)*99/100].Round(time.Microsecond)}
	if rpsFor > 0 {
		// One parcel's trace, authenticated, against a bare Fiber handler sending the same bytes.
		traceURL := url + "/v1/parcels/" + fmt.Sprintf("BN%012d", 17)
		req, _ := http.NewRequestWithContext(ctx, "GET", traceURL, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := client.Do(req)
		if err != nil {
			return run, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bare, stop, err := bareFiber(body)
		if err != nil {
			return run, err
		}
		defer stop()
		if run.traceRPS, err = loadRPS(ctx, traceURL, admin, benchClients, rpsFor); err != nil {
			return run, err
		}
		if run.bare, err = loadRPS(ctx, bare, "", benchClients, rpsFor); err != nil {
			return run, err
		}
	}
	smu.Lock()
	defer smu.Unlock()
	pick := func(keep func(sample) bool, perEvent bool) latencies {
		var ls []time.Duration
		for _, s := range samples {
			if keep(s) {
				if perEvent {
					ls = append(ls, s.perEvent)
				} else {
					ls = append(ls, s.lat)
				}
			}
		}
		if len(ls) == 0 {
			return latencies{}
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		return latencies{p50: ls[len(ls)/2].Round(10 * time.Microsecond), p99: ls[len(ls)*99/100].Round(10 * time.Microsecond)}
	}
	run.all = pick(func(sample) bool { return true }, false)
	run.early = pick(func(s sample) bool { return s.at <= int64(n/10) }, true)
	run.late = pick(func(s sample) bool { return s.at >= int64(n-n/10) }, true)
	return run, nil
}

// benchRawInsert is the reference: the very events of the ingestion round (regenerated from
// the same seed), each as its JSON, into one SQLite table with a primary key and a waybill
// index, 1,000 rows per transaction, with the service's pragmas, and no HTTP, no rules and no
// derived state.
func benchRawInsert(ctx context.Context, path string, n int, seed uint64) (float64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE events (carrier TEXT NOT NULL, id TEXT NOT NULL, waybill TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (carrier, id));
		CREATE INDEX events_waybill ON events(waybill)`); err != nil {
		return 0, err
	}
	// The same ids as the round's world: the ingestion store holds them.
	w, err := worldOf(filepath.Join(filepath.Dir(path), "credtrace.db"))
	if err != nil {
		return 0, err
	}
	type row struct{ carrier, id, waybill, doc string }
	var elapsed time.Duration
	for body := range benchBodies(w, seed, n) {
		var evs []map[string]any
		if err := json.Unmarshal(body, &evs); err != nil {
			return 0, err
		}
		rows := make([]row, len(evs))
		for i, e := range evs {
			doc, _ := json.Marshal(e)
			rows[i] = row{e["carrier"].(string), e["id"].(string), e["waybill"].(string), string(doc)}
		}
		start := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (carrier, id, waybill, doc) VALUES (?,?,?,?)`)
		if err != nil {
			return 0, err
		}
		for _, r := range rows {
			if _, err := stmt.ExecContext(ctx, r.carrier, r.id, r.waybill, r.doc); err != nil {
				return 0, err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
		elapsed += time.Since(start)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// worldOf reads back the bench world (carrier, sites, staff) from a round's store.
func worldOf(path string) (benchWorld, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return benchWorld{}, err
	}
	defer db.Close()
	var w benchWorld
	if err := db.QueryRow(`SELECT id FROM firms LIMIT 1`).Scan(&w.carrier); err != nil {
		return w, err
	}
	for _, q := range []struct {
		sql string
		dst *[]string
	}{{`SELECT id FROM sites ORDER BY created_at, id`, &w.sites}, {`SELECT id FROM staff ORDER BY created_at, id`, &w.staff}} {
		rows, err := db.Query(q.sql)
		if err != nil {
			return w, err
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			*q.dst = append(*q.dst, id)
		}
		rows.Close()
	}
	return w, nil
}

// attackConns is how many connections announce 16 MiB bodies at once in the memory figure.
const attackConns = 150

// benchClients is how many carriers push at once in the ingestion figures.
const benchClients = 4
