package bench_test

import (
	"math"
	"testing"

	"github.com/credtrace/credtrace/bench"
)

// TestJudgeTrend: a flat or noisy series passes, one that climbs past the bound fails, the
// warm-up sample is left out, and a series too short to judge fails.
func TestJudgeTrend(t *testing.T) {
	mib := bench.TrendBound{Name: "resident memory", Unit: "MiB", Factor: 1.5, Margin: 32}
	count := bench.TrendBound{Name: "goroutines", Unit: "", Factor: 1, Margin: 20}
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		series []float64
		b      bench.TrendBound
		ok     bool
	}{
		{"flat", []float64{100, 100, 100, 100, 100, 100, 100}, mib, true},
		{"noisy but flat", []float64{80, 120, 95, 130, 110, 90, 125}, mib, true},
		{"warm-up ramp left out", []float64{10, 200, 205, 198, 202, 201, 199}, mib, true},
		{"rising within the margin", []float64{100, 100, 110, 120, 140, 150, 160}, mib, true},
		{"rising memory", []float64{100, 100, 150, 200, 250, 300, 350}, mib, false},
		{"slow goroutine leak", []float64{40, 40, 45, 50, 55, 62, 68}, count, false},
		{"goroutines flat", []float64{40, 42, 41, 43, 40, 42, 41}, count, true},
		{"falling", []float64{300, 300, 250, 200, 150, 100, 50}, mib, true},
		{"long run rising", rising(25, 50, 2), count, false},
		{"long run flat", rising(25, 50, 0), count, true},
		{"too short", []float64{100, 100, 100}, mib, false},
		{"unmeasured last third", []float64{100, 100, 100, nan}, count, false},
		{"a missing sample inside a third", []float64{40, 40, nan, 41, 40, 41, 40}, count, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := bench.JudgeTrend(tc.series, tc.b)
			if ok != tc.ok {
				t.Fatalf("JudgeTrend(%v) = %v (%s); want %v", tc.series, ok, reason, tc.ok)
			}
			if !ok && reason == "" {
				t.Fatal("a failed judgement gives no reason")
			}
		})
	}
}

// TestSoakBoundsAreStated: every bound the soak applies lets a flat series through and
// names its figure.
func TestSoakBoundsAreStated(t *testing.T) {
	for _, b := range bench.SoakBounds {
		if b.Name == "" || b.Factor < 1 || b.Margin < 0 {
			t.Errorf("bound %+v: want a name, a factor of at least 1 and a margin of at least 0", b)
		}
		if ok, reason := bench.JudgeTrend([]float64{5, 5, 5, 5, 5, 5, 5}, b); !ok {
			t.Errorf("%s: a flat series fails: %s", b.Name, reason)
		}
	}
}

// rising is n samples from start, each step higher than the one before.
func rising(n int, start, step float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = start + float64(i)*step
	}
	return out
}
