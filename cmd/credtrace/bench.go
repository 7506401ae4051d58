package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
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
	s := &eventStream{w: w, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), base: time.Now().Add(-36 * time.Hour).UTC()}
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

// bench measures credtrace on this machine and prints each figure beside its reference, all
// measured in the same run.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "a quick run (under two minutes)")
	events := fs.Int("events", 200000, "events to ingest in the ingestion figures")
	out := fs.String("out", "", "also write the raw results as JSON to this file")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *short && *events > 50000 {
		*events = 50000
	}
	dir, err := os.MkdirTemp("", "credtrace-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(stdout, "credtrace bench: %d events, batches of 1,000, %d CPUs, %s\n\n", *events, runtime.NumCPU(), runtime.Version())

	var results []benchResult
	ing, lat, sent, err := benchIngest(ctx, dir, *events)
	if err != nil {
		return err
	}
	raw, err := benchRawInsert(ctx, filepath.Join(dir, "raw.db"), sent)
	if err != nil {
		return err
	}
	results = append(results, benchResult{"HTTP ingestion (SQLite)", fmt.Sprintf("%.0f events/s", ing), fmt.Sprintf("%.0f rows/s raw insert", raw),
		fmt.Sprintf("%.2f", ing/raw), "POST /v1/events, 4 concurrent clients, 1,000 events per request, end to end over loopback; reference: the same events' JSON inserted into one indexed SQLite table, 1,000 per transaction, same pragmas"})
	results = append(results, benchResult{"trace lookup while ingesting", fmt.Sprintf("p50 %s, p99 %s", lat.p50, lat.p99), "", "",
		"GET /v1/parcels/{waybill} of random ingested parcels by a third client during the ingestion run"})

	w := tabWriter(stdout)
	fmt.Fprintf(w, "%-32s %-26s %-26s %-6s\n", "figure", "credtrace", "reference", "ratio")
	for _, r := range results {
		fmt.Fprintf(w, "%-32s %-26s %-26s %-6s\n", r.name, r.value, r.reference, r.ratio)
	}
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "- %s: %s\n", r.name, r.how)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func tabWriter(w io.Writer) io.Writer { return w }

type latencies struct{ p50, p99 time.Duration }

// benchWorldIn registers a carrier with 20 sites and 200 couriers.
func benchWorldIn(ctx context.Context, svc *courier.Service) (benchWorld, error) {
	a := courier.SystemActor
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
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(base[i]-'0') * weights[i]
	}
	return base + string("10X98765432"[sum%11])
}

func benchIngest(ctx context.Context, dir string, n int) (float64, latencies, [][]byte, error) {
	st, err := sqlite.Open(ctx, filepath.Join(dir, "credtrace.db"))
	if err != nil {
		return 0, latencies{}, nil, err
	}
	defer st.Close()
	hasher := courier.NewHasher([]byte("bench-key-0123456789abcdefghijklmnop"))
	svc := courier.NewService(st, hasher, courier.DefaultPolicy(), nil)
	admin := "ct_bench-admin-token-0123456789abcdef"
	if _, err := svc.Bootstrap(ctx, admin); err != nil {
		return 0, latencies{}, nil, err
	}
	w, err := benchWorldIn(ctx, svc)
	if err != nil {
		return 0, latencies{}, nil, err
	}
	trk := tracking.NewService(st.Tracking(), svc, proposer{svc}, hasher, tracking.Options{}, nil)
	api := httpapi.New(httpapi.Deps{Courier: svc, Tracking: trk, Store: st, Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, latencies{}, nil, err
	}
	go api.App().Listener(ln)
	defer api.App().Shutdown()
	url := "http://" + ln.Addr().String()

	// Pre-encode the bodies so the clients measure the service, not the generator.
	gen := newEventStream(w, 1, 2000)
	var bodies [][]byte
	var waybills []string
	for sent := 0; sent < n; sent += 1000 {
		b := gen.batch(1000)
		for _, e := range b[:5] {
			waybills = append(waybills, e["waybill"].(string))
		}
		raw, _ := json.Marshal(b)
		bodies = append(bodies, raw)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	post := func(body []byte) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var res struct{ Accepted, Rejected int }
		json.NewDecoder(resp.Body).Decode(&res)
		if resp.StatusCode != 200 || res.Rejected > 0 {
			return fmt.Errorf("ingest answered %d with %d rejected", resp.StatusCode, res.Rejected)
		}
		return nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	stop := make(chan struct{})
	var lat []time.Duration
	var latMu sync.Mutex
	go func() { // the tracer
		rng := rand.New(rand.NewPCG(2, 3))
		for {
			select {
			case <-stop:
				return
			default:
			}
			k := int(next.Load()) * 5
			if k == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/parcels/"+waybills[rng.IntN(min(k, len(waybills)))], nil)
			req.Header.Set("Authorization", "Bearer "+admin)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latMu.Lock()
				lat = append(lat, time.Since(t0))
				latMu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	start := time.Now()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				if err := post(bodies[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	select {
	case err := <-errs:
		return 0, latencies{}, nil, err
	default:
	}
	latMu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var l latencies
	if len(lat) > 0 {
		l = latencies{p50: lat[len(lat)/2].Round(10 * time.Microsecond), p99: lat[len(lat)*99/100].Round(10 * time.Microsecond)}
	}
	latMu.Unlock()
	return float64(len(bodies)*1000) / elapsed.Seconds(), l, bodies, nil
}

// benchRawInsert is the reference: the very events the service took, each as its JSON, into
// one SQLite table with a primary key and a waybill index, 1,000 rows per transaction, with the
// service's pragmas, and no HTTP, no rules and no derived state.
func benchRawInsert(ctx context.Context, path string, bodies [][]byte) (float64, error) {
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
	type row struct{ carrier, id, waybill, doc string }
	batches := make([][]row, len(bodies))
	for i, body := range bodies {
		var evs []map[string]any
		if err := json.Unmarshal(body, &evs); err != nil {
			return 0, err
		}
		for _, e := range evs {
			doc, _ := json.Marshal(e)
			batches[i] = append(batches[i], row{e["carrier"].(string), e["id"].(string), e["waybill"].(string), string(doc)})
		}
	}
	start := time.Now()
	for _, b := range batches {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (carrier, id, waybill, doc) VALUES (?,?,?,?)`)
		if err != nil {
			return 0, err
		}
		for _, r := range b {
			if _, err := stmt.ExecContext(ctx, r.carrier, r.id, r.waybill, r.doc); err != nil {
				return 0, err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return float64(len(bodies)*1000) / time.Since(start).Seconds(), nil
}

// benchClients is how many carriers push at once in the ingestion figures.
const benchClients = 4
