package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credtrace/credtrace/bench"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/synth"
	"github.com/credtrace/credtrace/tracking"
)

func near(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) < 1e-9
}

func TestSpearman(t *testing.T) {
	tests := []struct {
		name   string
		xs, ys []float64
		want   float64
	}{
		{"same order", []float64{0.1, 0.5, 0.9}, []float64{10, 500, 900}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{40, 30, 20, 10}, -1},
		// ranks x = 1, 2.5, 2.5, 4 and y = 1, 3, 2, 4: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5.
		{"ties share their mean rank", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}, 4.5 / math.Sqrt(4.5*5)},
		{"tied on both sides", []float64{1, 1, 2}, []float64{5, 5, 9}, 1},
		{"constant side", []float64{1, 2, 3}, []float64{7, 7, 7}, math.NaN()},
		{"one pair", []float64{1}, []float64{2}, math.NaN()},
		{"lengths differ", []float64{1, 2}, []float64{1}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bench.Spearman(tt.xs, tt.ys); !near(got, tt.want) {
				t.Errorf("Spearman(%v, %v) = %v, want %v", tt.xs, tt.ys, got, tt.want)
			}
		})
	}
}

func TestDetection(t *testing.T) {
	var d bench.Detection
	for i := 0; i < 3; i++ {
		d.Add(true, true)
	}
	d.Add(false, true)
	d.Add(true, false)
	d.Add(true, false)
	for i := 0; i < 10; i++ {
		d.Add(false, false)
	}
	if got := d.Precision(); !near(got, 3.0/4) {
		t.Errorf("precision = %v, want 3/4", got)
	}
	if got := d.Recall(); !near(got, 3.0/5) {
		t.Errorf("recall = %v, want 3/5", got)
	}
	var none bench.Detection
	none.Add(false, false)
	if !math.IsNaN(none.Precision()) || !math.IsNaN(none.Recall()) {
		t.Errorf("nothing flagged, nothing planted: precision %v, recall %v, want NaN (no figure)", none.Precision(), none.Recall())
	}
}

func TestConfusion(t *testing.T) {
	for _, tt := range []struct {
		q    float64
		want string
	}{{1, "A"}, {0.75, "A"}, {0.7499, "B"}, {0.5, "B"}, {0.25, "C"}, {0.2, "D"}, {0, "D"}} {
		if got := bench.BandOf(tt.q); got != tt.want {
			t.Errorf("band of %v = %s, want %s", tt.q, got, tt.want)
		}
	}
	c := bench.Confusion{}
	c.Add(0.8, "A")
	c.Add(0.8, "B")
	c.Add(0.3, "C")
	c.Add(0.5, "B")
	c.Add(0.1, "insufficient") // not graded: outside the agreement
	if c["A"]["A"] != 1 || c["A"]["B"] != 1 || c["D"]["insufficient"] != 1 || c["B"]["B"] != 1 {
		t.Errorf("confusion = %v", c)
	}
	if got := c.Agreement(); !near(got, 3.0/4) {
		t.Errorf("agreement = %v, want 3/4", got)
	}
	if got := (bench.Confusion{}).Agreement(); !math.IsNaN(got) {
		t.Errorf("agreement of nothing = %v, want NaN", got)
	}
	if mean, lo := bench.MeanMin([]float64{0.5, math.NaN(), 0.9}); !near(mean, 0.7) || !near(lo, 0.5) {
		t.Errorf("MeanMin skipping NaN = %v, %v, want 0.7, 0.5", mean, lo)
	}
}

// serve starts the service on a SQLite store in dir, as cmd wires it (without back-tracking's
// proposals, which cmd's adapters make).
func serve(t *testing.T) func(ctx context.Context, dir, token string) (bench.Served, error) {
	t.Helper()
	return func(ctx context.Context, dir, token string) (bench.Served, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return bench.Served{}, err
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "credtrace.db"))
		if err != nil {
			return bench.Served{}, err
		}
		hasher := courier.NewHasher([]byte("validity-test-key-0123456789abcdefghij"))
		svc := courier.NewService(st, hasher, courier.DefaultPolicy(), nil)
		if _, err := svc.Bootstrap(ctx, token); err != nil {
			st.Close()
			return bench.Served{}, err
		}
		trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(svc), nil, hasher, tracking.Options{}, nil)
		pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{})
		sc := scoring.NewService(st.Scoring(), st, trk, svc.InTree, nil)
		api := httpapi.New(httpapi.Deps{Courier: svc, Tracking: trk, Scoring: sc, Store: st, Logger: slog.New(slog.DiscardHandler), AddressChecks: 1_000_000})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			st.Close()
			return bench.Served{}, err
		}
		go api.App().Listener(ln)
		return bench.Served{URL: "http://" + ln.Addr().String(), Tracking: trk, Stop: func() {
			api.StopStreams()
			api.App().Shutdown()
			pipe.Close(context.Background())
			st.Close()
		}}, nil
	}
}

// TestValidityTinyWorld runs the validity bench on one tiny world and checks that it counts
// what the world planted and scores what it holds; the figures themselves are measured, not
// asserted.
func TestValidityTinyWorld(t *testing.T) {
	size, err := synth.Named("tiny")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "validity.json")
	var stdout, stderr bytes.Buffer
	if err := bench.Validity(context.Background(), bench.ValidityOptions{Seeds: []uint64{1}, Size: size, SizeName: "tiny", Out: out, Serve: serve(t)},
		&stdout, &stderr); err != nil {
		t.Fatalf("Validity: %v\n%s", err, &stderr)
	}
	for _, want := range []string{"Spearman outlets (2026.1)", "Spearman couriers (2026.2)", "smear burst flag precision", "reused waybill flag recall",
		"tiny subjects graded insufficient", "true-quality band × grade"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, &stdout)
		}
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Seed       uint64
		Method     string
		Outlets    int
		Refused    string
		Tiny       int
		Mismatches int
		Detectors  map[string]map[string]int
		Confusion  map[string]map[string]map[string]int
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("JSON: %v\n%s", err, raw)
	}
	if len(got) != 1 {
		t.Fatalf("%d results, want one per seed", len(got))
	}
	r := got[0]
	w := synth.New(1, size)
	if r.Outlets != len(w.Truth.Outlets) || r.Method != "2026.1" || r.Refused != "" || r.Mismatches != 0 {
		t.Errorf("result: %d outlets (want %d), method %q, refused %q, %d replay mismatches", r.Outlets, len(w.Truth.Outlets), r.Method, r.Refused, r.Mismatches)
	}
	planted := map[string]int{}
	for _, m := range w.Truth.Manipulations {
		planted[m.Kind] += len(m.Waybills)
	}
	bought := 0
	for _, rt := range w.Ratings {
		if rt.Kind == synth.RatingBought {
			bought++
		}
	}
	for name, want := range map[string]int{"empty-parcel signal": planted[synth.ManipBought], "bought five-star flag": bought,
		"smear burst flag": planted[synth.ManipSmear], "reused waybill flag": planted[synth.ManipReused]} {
		d := r.Detectors[name]
		if d["tp"]+d["fn"] != want || want == 0 {
			t.Errorf("%s: %d planted items counted (tp %d + fn %d), the world planted %d", name, d["tp"]+d["fn"], d["tp"], d["fn"], want)
		}
	}
	if len(w.Truth.Tiny) == 0 || r.Tiny < len(w.Truth.Tiny) {
		t.Errorf("%d tiny subjects counted for %d tiny outlets", r.Tiny, len(w.Truth.Tiny))
	}
	n := 0
	for _, row := range r.Confusion["in force"] {
		for _, k := range row {
			n += k
		}
	}
	if n != len(w.Truth.Outlets) {
		t.Errorf("confusion counts %d outlets, want %d", n, len(w.Truth.Outlets))
	}
}
