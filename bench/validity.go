package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/synth"
	"github.com/credtrace/credtrace/synth/send"
	"github.com/credtrace/credtrace/tracking"
)

// ValiditySize is the validity bench's world: 30 outlets in three brands, 4,000 parcels over
// 30 days, two empty-parcel campaigns. Ingestion decides its cost (the carriers upload every
// four hours, so a world is many small batches): a seed takes about a minute on a shared
// two-core machine, and about 22 outlets come out graded, the scale of the worlds.
var ValiditySize = synth.Size{HQs: 3, BranchesPerHQ: 2, OutletsPerBranch: 5, LockersPerOutlet: 1, CouriersPerOutlet: 3, SortersPerCentre: 2,
	Merchants: 60, Parcels: 4000, Campaigns: 2, CampaignParcels: 40, Days: 30}

// Served is the service as `credtrace serve` assembles it, running in this process on its own
// data directory and listening on a loopback port.
type Served struct {
	URL string
	// Tracking is the service's tracking, for what its schedule would run while the events come
	// in (the anomaly and deemed-lost scan) and for each parcel's empty-parcel signals, which
	// the API does not list.
	Tracking *tracking.Service
	Stop     func()
}

// ValidityOptions say which worlds the validity bench scores and how it starts the service.
type ValidityOptions struct {
	Seeds    []uint64
	Size     synth.Size
	SizeName string // for the report
	Out      string // also write the figures as JSON to this file, when set
	// Keep, when set, is a directory where each seed's run inputs (inputs.ndjson) and its truth
	// keyed by the service's ids (truth.json) are kept, to study a methodology on them offline.
	Keep string
	// Serve starts the service on the embedded store in dir with token as a regulator token.
	Serve func(ctx context.Context, dir, token string) (Served, error)
}

// Validity measures how well today's scoring finds what a synthetic world hides: for each
// seed it writes the world through the API of an in-process service, runs the scan the
// service schedules and a scoring run (a preview, as gen does), and compares the scores,
// grades and manipulation flags with the world's Truth. It prints each figure's mean and
// minimum over the seeds, then the grade confusion against true-quality bands.
func Validity(ctx context.Context, o ValidityOptions, stdout, stderr io.Writer) error {
	if o.Serve == nil || len(o.Seeds) == 0 {
		return errors.New("bench: ValidityOptions.Serve and Seeds are required")
	}
	dir, err := os.MkdirTemp("", "credtrace-validity-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	started := time.Now()
	var results []validityResult
	for _, seed := range o.Seeds {
		t0 := time.Now()
		r, err := validitySeed(ctx, o, filepath.Join(dir, fmt.Sprint("seed", seed)), seed, stderr)
		if err != nil {
			return fmt.Errorf("validity, seed %d: %w", seed, err)
		}
		r.Took = time.Since(t0).Round(100 * time.Millisecond).String()
		fmt.Fprintf(stderr, "validity seed %d: %d outlets, %d graded, ρ outlets %.3f, in %s\n", seed, r.Outlets, r.Graded[methodInForce]["outlets"],
			r.Spearman[methodInForce]["outlets"], r.Took)
		results = append(results, r)
	}
	printValidity(stdout, o, results, time.Since(started))
	if o.Out != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(o.Out, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// The methods a seed is scored by: the run's own, and 2026.2 to 2026.5 recomputed from the
// run's inputs.
const (
	methodInForce = "in force"
	method2026_2  = "2026.2"
	method2026_3  = "2026.3"
	method2026_4  = "2026.4"
	method2026_5  = "2026.5"
)

// validityMethods are the methods of the figures, in the order printed, with their documents
// (the run's own is read from the service).
var validityMethods = []struct{ name, doc string }{
	{methodInForce, ""}, {method2026_2, scoring.Method2026_2}, {method2026_3, scoring.Method2026_3},
	{method2026_4, scoring.Method2026_4}, {method2026_5, scoring.Method2026_5},
}

// methodLabel names a method in the figures: the run's own by its version.
func methodLabel(m, inForce string) string {
	if m == methodInForce {
		return inForce
	}
	return m
}

// subject kinds of the figures, in the order printed.
var validityKinds = []string{"outlets", "sites", "couriers"}

// detector names, in the order printed, with what each is measured against.
var detectors = []struct{ name, against string }{
	{"empty-parcel signal", "parcels of the empty-parcel campaigns, per parcel (reused numbers left out: their own detector below)"},
	{"bought five-star flag", "ratings bought on campaign parcels, per rating"},
	{"smear burst flag", "the malicious merchant's one-star ratings, per rating (the run's rule)"},
	{"smear burst flag (2026.5)", "the same, the ratings judged by 2026.5's rule (burst_pace)"},
	{"reused waybill flag", "waybill numbers a second carrier used, per number"},
}

// validityResult is one seed's figures; NaN figures are written as null.
type validityResult struct {
	Seed     uint64
	Method   string // the version the run was scored by
	Took     string
	Outlets  int
	Refused  string `json:",omitempty"`
	Spearman map[string]map[string]float64
	Graded   map[string]map[string]int
	// Detectors: true and false positives and negatives per detector.
	Detectors map[string]detection
	// Tiny: subjects of the tiny outlets (the outlets, their sites, couriers only ever there)
	// and how many were graded insufficient, under each method.
	Tiny             int
	TinyInsufficient map[string]int
	// TinyGradedWithRecord counts the tiny subjects the run graded that have a record in force
	// (the rule grades any subject with a record, whatever its volume).
	TinyGradedWithRecord int
	// Confusion of outlets: true band → grade → count, under each method.
	Confusion map[string]confusion
	// Mismatches counts subjects whose 2026.1 recomputation from the run's inputs differs from
	// the stored score: 0 unless the replay is broken.
	Mismatches int
}

// MarshalJSON writes NaN as null.
func (r validityResult) MarshalJSON() ([]byte, error) {
	type plain validityResult
	sp := map[string]map[string]*float64{}
	for m, byKind := range r.Spearman {
		sp[m] = map[string]*float64{}
		for k, v := range byKind {
			if !math.IsNaN(v) {
				v := v
				sp[m][k] = &v
			}
		}
	}
	det := map[string]map[string]int{}
	for k, d := range r.Detectors {
		det[k] = map[string]int{"tp": d.tp, "fp": d.fp, "fn": d.fn, "tn": d.tn}
	}
	p := plain(r)
	p.Spearman, p.Detectors = nil, nil
	return json.Marshal(struct {
		plain
		Spearman  map[string]map[string]*float64
		Detectors map[string]map[string]int
	}{p, sp, det})
}

func validitySeed(ctx context.Context, o ValidityOptions, dir string, seed uint64, stderr io.Writer) (validityResult, error) {
	res := validityResult{Seed: seed, Spearman: map[string]map[string]float64{}, Graded: map[string]map[string]int{},
		Detectors: map[string]detection{}, TinyInsufficient: map[string]int{}, Confusion: map[string]confusion{}}
	token := fmt.Sprintf("ct_validity-%d-regulator-token-0123456789", seed)
	sv, err := o.Serve(ctx, dir, token)
	if err != nil {
		return res, err
	}
	defer sv.Stop()
	w := synth.New(seed, o.Size)
	w.Shift(time.Now().Add(-time.Minute).Truncate(time.Second).Sub(w.End))
	wr := send.New(w, sv.URL, token, 8)
	wr.AfterEvents(func(ctx context.Context) error {
		_, err := sv.Tracking.Scan(ctx)
		return err
	})
	if err := wr.Ready(ctx, 10*time.Second); err != nil {
		return res, err
	}
	if err := wr.Write(ctx, io.Discard); err != nil {
		return res, err
	}
	if err := wr.Refusals(); err != nil {
		res.Refused = err.Error()
	}
	run := wr.Run()
	runID, _ := run["id"].(string)
	res.Method, _ = run["method"].(string)
	api := apiClient{base: sv.URL, token: token, hc: &http.Client{Timeout: time.Minute}}

	// The run's inputs, recomputed under the run's method (a check) and under 2026.2 to 2026.5.
	raw, err := api.get(ctx, "/v1/scoring/runs/"+runID+"/inputs")
	if err != nil {
		return res, err
	}
	_, in, err := scoring.ReadInputs(strings.NewReader(string(raw)))
	if err != nil {
		return res, fmt.Errorf("read the run's inputs: %w", err)
	}
	if o.Keep != "" {
		if err := keepSeed(filepath.Join(o.Keep, fmt.Sprint("seed", seed)), raw, &w, wr.ID); err != nil {
			return res, err
		}
	}
	doc, err := api.get(ctx, "/v1/scoring/methods/"+url.PathEscape(res.Method))
	if err != nil {
		return res, err
	}
	mRun, err := scoring.ParseMethod(string(doc))
	if err != nil {
		return res, err
	}
	recomputed := map[string]map[string]scoring.Score{}
	var rejudged5 []scoring.Rating
	for _, vm := range validityMethods {
		m := mRun
		if vm.doc != "" {
			if m, err = scoring.ParseMethod(vm.doc); err != nil {
				return res, err
			}
		}
		recomputed[vm.name] = map[string]scoring.Score{}
		inM := in
		if vm.doc != "" {
			// The ratings as a run under m weighs them: its burst rule, not the run's.
			inM.Ratings = scoring.RejudgeBursts(m, in)
			if vm.name == method2026_5 {
				rejudged5 = inM.Ratings
			}
		}
		for _, sc := range scoring.Compute(m, inM, runID) {
			recomputed[vm.name][string(sc.Subject)+"/"+sc.SubjectID] = sc
		}
	}

	// Scores as the run stored them, through the API.
	type graded struct {
		q                    float64
		score                map[string]float64
		grade                map[string]string
		tiny, outlet, record bool
	}
	recorded := map[string]bool{}
	for _, rec := range in.Records {
		recorded[string(rec.SubjectKind)+"/"+rec.SubjectID] = true
	}
	tinyOutlet := map[string]bool{}
	for _, ref := range w.Truth.Tiny {
		tinyOutlet[ref] = true
	}
	tinyCourier := map[string]bool{}
	for _, p := range w.Staff {
		only := true
		for _, e := range p.Employment {
			only = only && tinyOutlet[e.Firm]
		}
		tinyCourier[p.Ref] = only
	}
	siteFirm := map[string]string{}
	for _, s := range w.Sites {
		siteFirm[s.Ref] = s.Firm
	}
	subjects := map[string][]graded{}
	for _, k := range []struct {
		name, path string
		kind       scoring.SubjectKind
		truth      map[string]float64
		tiny       func(ref string) bool
	}{
		{"outlets", "firms", scoring.Firm, w.Truth.Outlets, func(ref string) bool { return tinyOutlet[ref] }},
		{"sites", "sites", scoring.Site, w.Truth.Sites, func(ref string) bool { return tinyOutlet[siteFirm[ref]] }},
		{"couriers", "staff", scoring.Staff, w.Truth.Couriers, func(ref string) bool { return tinyCourier[ref] }},
	} {
		refs := make([]string, 0, len(k.truth))
		for ref := range k.truth {
			refs = append(refs, ref)
		}
		sort.Strings(refs)
		for _, ref := range refs {
			id := wr.ID(ref)
			var view struct {
				Current *struct {
					RunID string  `json:"run_id"`
					Score float64 `json:"score"`
					Grade string  `json:"grade"`
				} `json:"current"`
			}
			if err := api.getJSON(ctx, "/v1/"+k.path+"/"+id+"/score", &view); err != nil {
				return res, err
			}
			g := graded{q: k.truth[ref], score: map[string]float64{}, grade: map[string]string{},
				tiny: k.tiny(ref), outlet: k.name == "outlets", record: recorded[string(k.kind)+"/"+id]}
			for _, vm := range validityMethods {
				g.grade[vm.name] = "none"
			}
			if c := view.Current; c != nil && c.RunID == runID {
				g.score[methodInForce], g.grade[methodInForce] = c.Score, c.Grade
				if re, ok := recomputed[methodInForce][string(k.kind)+"/"+id]; !ok || math.Abs(re.Value-c.Score) > 1e-6 || string(re.Grade) != c.Grade {
					res.Mismatches++
				}
			}
			for _, vm := range validityMethods[1:] {
				if re, ok := recomputed[vm.name][string(k.kind)+"/"+id]; ok {
					g.score[vm.name], g.grade[vm.name] = re.Value, string(re.Grade)
				}
			}
			subjects[k.name] = append(subjects[k.name], g)
		}
	}
	res.Outlets = len(subjects["outlets"])
	for _, vm := range validityMethods {
		m := vm.name
		res.Spearman[m], res.Graded[m], res.Confusion[m] = map[string]float64{}, map[string]int{}, confusion{}
		for _, kind := range validityKinds {
			var qs, ss []float64
			for _, g := range subjects[kind] {
				if gr := g.grade[m]; gr != "insufficient" && gr != "none" {
					qs, ss = append(qs, g.q), append(ss, g.score[m])
				}
				if g.outlet {
					res.Confusion[m].add(g.q, g.grade[m])
				}
				if g.tiny && m == methodInForce {
					res.Tiny++
				}
				if g.tiny && g.grade[m] == "insufficient" {
					res.TinyInsufficient[m]++
				}
				if g.tiny && m == methodInForce && g.grade[m] != "insufficient" && g.record {
					res.TinyGradedWithRecord++
				}
			}
			res.Spearman[m][kind], res.Graded[m][kind] = spearman(qs, ss), len(qs)
		}
	}

	// The detectors against what was planted.
	campaign, reused := map[string]bool{}, map[string]bool{}
	smear := map[string]bool{} // merchant|waybill
	for _, mp := range w.Truth.Manipulations {
		for _, wb := range mp.Waybills {
			switch mp.Kind {
			case synth.ManipBought:
				campaign[wb] = true
			case synth.ManipReused:
				reused[wb] = true
			case synth.ManipSmear:
				smear[mp.Merchant+"|"+wb] = true
			}
		}
	}
	var empty, bought, burst, reuse detection
	numbers := map[string]bool{}
	for _, p := range w.Parcels {
		numbers[p.Waybill] = true
		if reused[p.Waybill] {
			continue
		}
		sig, err := sv.Tracking.Suspect(ctx, tracking.ParcelKey{Carrier: wr.ID(p.Carrier), Waybill: p.Waybill})
		if err != nil {
			return res, err
		}
		empty.add(campaign[p.Waybill], len(sig) > 0)
	}
	burst5 := burstDetection(rejudged5, smear)
	for _, r := range in.Ratings {
		flaggedBought, flaggedBurst := false, false
		for _, f := range r.Flags {
			flaggedBought = flaggedBought || strings.HasPrefix(f, "five stars on an empty-parcel suspect")
			flaggedBurst = flaggedBurst || strings.HasPrefix(f, "burst")
		}
		bought.add(campaign[r.Waybill], flaggedBought)
		burst.add(r.RaterKind == scoring.RaterMerchant && smear[r.RaterID+"|"+r.Waybill], flaggedBurst)
	}
	flagged := map[string]bool{}
	for _, kind := range []string{"reused_second_carrier", "reused_after_delivery"} {
		wbs, err := api.anomalyWaybills(ctx, kind)
		if err != nil {
			return res, err
		}
		for _, wb := range wbs {
			flagged[wb] = true
		}
	}
	for wb := range numbers {
		reuse.add(reused[wb], flagged[wb])
	}
	for i, d := range []detection{empty, bought, burst, burst5, reuse} {
		res.Detectors[detectors[i].name] = d
	}
	return res, nil
}

// KeptTruth is a seed's truth as Keep writes it, keyed by the service's ids: qualities by
// subject kind (firm, site, staff), the tiny outlets, and the planted manipulation (campaign
// waybills, smear ratings as merchant id|waybill).
type KeptTruth struct {
	Quality  map[string]map[string]float64
	Tiny     []string
	Campaign []string
	Smear    []string
}

// keepSeed writes a seed's inputs and truth under dir.
func keepSeed(dir string, inputs []byte, w *synth.World, id func(ref string) string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	t := KeptTruth{Quality: map[string]map[string]float64{}}
	for kind, q := range map[scoring.SubjectKind]map[string]float64{scoring.Firm: w.Truth.Outlets, scoring.Site: w.Truth.Sites, scoring.Staff: w.Truth.Couriers} {
		t.Quality[string(kind)] = map[string]float64{}
		for ref, v := range q {
			t.Quality[string(kind)][id(ref)] = v
		}
	}
	for _, ref := range w.Truth.Tiny {
		t.Tiny = append(t.Tiny, id(ref))
	}
	for _, mp := range w.Truth.Manipulations {
		for _, wb := range mp.Waybills {
			switch mp.Kind {
			case synth.ManipBought:
				t.Campaign = append(t.Campaign, wb)
			case synth.ManipSmear:
				t.Smear = append(t.Smear, mp.Merchant+"|"+wb)
			}
		}
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "truth.json"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "inputs.ndjson"), inputs, 0o644)
}

// burstDetection counts the burst flags of rs against the smear ratings (merchant id|waybill).
func burstDetection(rs []scoring.Rating, smear map[string]bool) detection {
	var d detection
	for _, r := range rs {
		flagged := false
		for _, f := range r.Flags {
			flagged = flagged || scoring.FlagKindOf(f) == scoring.FlagBurst
		}
		d.add(r.RaterKind == scoring.RaterMerchant && smear[r.RaterID+"|"+r.Waybill], flagged)
	}
	return d
}

// apiClient reads the service's API with a regulator token.
type apiClient struct {
	base, token string
	hc          *http.Client
}

func (a apiClient) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func (a apiClient) getJSON(ctx context.Context, path string, out any) error {
	body, err := a.get(ctx, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, out)
}

// anomalyWaybills lists the waybills of every anomaly of kind, page by page.
func (a apiClient) anomalyWaybills(ctx context.Context, kind string) ([]string, error) {
	var out []string
	cursor := ""
	for {
		var page struct {
			Items []struct {
				Waybill string `json:"waybill"`
			} `json:"items"`
			Next string `json:"next_cursor"`
		}
		if err := a.getJSON(ctx, "/v1/anomalies?kind="+kind+"&limit=100&cursor="+url.QueryEscape(cursor), &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			out = append(out, it.Waybill)
		}
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// printValidity prints the figures: mean and minimum over the seeds, each seed's value, the
// goal; then the outlets' grade confusion summed over the seeds.
func printValidity(w io.Writer, o ValidityOptions, rs []validityResult, took time.Duration) {
	seeds := make([]string, len(rs))
	for i, r := range rs {
		seeds[i] = fmt.Sprint(r.Seed)
	}
	method := ""
	if len(rs) > 0 {
		method = rs[0].Method
	}
	fmt.Fprintf(w, "credtrace validity bench: %d worlds (seeds %s) of size %s, %d outlets each; scored by the run (methodology %s) and by 2026.2 to 2026.5 recomputed from the run's inputs; %s\n\n",
		len(rs), strings.Join(seeds, ", "), o.SizeName, rs[0].Outlets, method, took.Round(time.Second))
	row := func(name, goal string, vals []float64, format string) {
		mean, lo := meanMin(vals)
		per := make([]string, len(vals))
		for i, v := range vals {
			per[i] = fmtNum(v, format)
		}
		fmt.Fprintf(w, "%-52s %-7s %-7s %-7s %s\n", name, fmtNum(mean, format), fmtNum(lo, format), goal, strings.Join(per, " "))
	}
	fmt.Fprintf(w, "%-52s %-7s %-7s %-7s %s\n", "figure", "mean", "min", "goal", "per seed")
	for _, vm := range validityMethods {
		m := vm.name
		label := methodLabel(m, method)
		for _, kind := range validityKinds {
			var vals []float64
			ns := make([]string, len(rs))
			for i, r := range rs {
				vals = append(vals, r.Spearman[m][kind])
				ns[i] = fmt.Sprint(r.Graded[m][kind])
			}
			goal := ""
			if kind == "outlets" {
				goal = "≥0.90"
			}
			row(fmt.Sprintf("Spearman %s (%s), graded n=%s", kind, label, strings.Join(ns, "/")), goal, vals, "%.3f")
		}
	}
	for _, d := range detectors {
		var p, rc []float64
		for _, r := range rs {
			p, rc = append(p, r.Detectors[d.name].precision()), append(rc, r.Detectors[d.name].recall())
		}
		row(d.name+" precision", "≥0.90", p, "%.2f")
		row(d.name+" recall", "≥0.90", rc, "%.2f")
	}
	for _, vm := range validityMethods {
		m := vm.name
		var vals []float64
		for _, r := range rs {
			v := math.NaN()
			if r.Tiny > 0 {
				v = float64(r.TinyInsufficient[m]) / float64(r.Tiny)
			}
			vals = append(vals, v)
		}
		label := methodLabel(m, method)
		row(fmt.Sprintf("tiny subjects graded insufficient (%s), n=%d", label, rs[0].Tiny), "", vals, "%.2f")
	}
	for _, vm := range validityMethods {
		m := vm.name
		var vals []float64
		for _, r := range rs {
			vals = append(vals, r.Confusion[m].agreement())
		}
		label := methodLabel(m, method)
		row(fmt.Sprintf("outlets graded in their band (%s)", label), "", vals, "%.2f")
	}
	mismatches, refused, tinyGraded, tinyRecord := 0, 0, 0, 0
	for _, r := range rs {
		tinyGraded += r.Tiny - r.TinyInsufficient[methodInForce]
		tinyRecord += r.TinyGradedWithRecord
		mismatches += r.Mismatches
		if r.Refused != "" {
			refused++
		}
	}
	for _, vm := range validityMethods {
		m := vm.name
		label := methodLabel(m, method)
		fmt.Fprintf(w, "\noutlets, true-quality band × grade (%s), summed over the seeds:\n", label)
		fmt.Fprintf(w, "%-14s", "band")
		for _, g := range grades {
			fmt.Fprintf(w, " %-12s", g)
		}
		fmt.Fprintln(w)
		for i, b := range bands {
			hi := 1.0
			if i > 0 {
				hi = bands[i-1].floor
			}
			fmt.Fprintf(w, "%-14s", fmt.Sprintf("%s [%.2f,%.2f)", b.name, b.floor, hi))
			for _, g := range grades {
				n := 0
				for _, r := range rs {
					n += r.Confusion[m][b.name][g]
				}
				fmt.Fprintf(w, " %-12d", n)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "- Spearman: rank correlation of true quality and score over the subjects the run graded (A to D); ties share their mean rank.")
	for _, d := range detectors {
		fmt.Fprintf(w, "- %s: against %s.\n", d.name, d.against)
	}
	fmt.Fprintf(w, "- tiny subjects: the planted tiny outlets (no merchant, at most %d deliveries, no inspection), their sites and the couriers who only ever worked there; %d of them graded over the seeds, %d of those with a record in force.\n",
		synth.TinyDeliveries, tinyGraded, tinyRecord)
	fmt.Fprintln(w, "- 2026.2 takes effect on 2027-01-01, 2026.3 on 2027-04-01, 2026.4 on 2027-07-01 and 2026.5 on 2028-01-01, and a period is scored by the version in force at its start, so no run can use them before then; their figures are scoring.Compute under each over the run's own inputs (GET /v1/scoring/runs/{id}/inputs), as a replay computes, the ratings' bursts judged by each version's own rule (scoring.RejudgeBursts). The late shares 2026.4 and 2026.5 read (2026.5 a person's in-hand share) are measured as the events come in, with the segment norms they publish.")
	if mismatches > 0 {
		fmt.Fprintf(w, "- WARNING: %d stored scores differ from their recomputation from the run's inputs.\n", mismatches)
	}
	if refused > 0 {
		for _, r := range rs {
			if r.Refused != "" {
				fmt.Fprintf(w, "- seed %d: the service refused some of the world: %s\n", r.Seed, r.Refused)
			}
		}
	}
}

func fmtNum(v float64, format string) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf(format, v)
}
