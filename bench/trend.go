package bench

import (
	"fmt"
	"math"
)

// trendBound is how far a soak figure may rise: the mean of the last third of its samples
// (after the warm-up sample) may exceed the mean of the first third by at most Factor times
// that mean plus Margin, in the figure's unit.
type trendBound struct {
	Name   string
	Unit   string
	Factor float64 // the last third may be up to Factor × the first third ...
	Margin float64 // ... plus Margin
}

func (b trendBound) String() string {
	return fmt.Sprintf("%s: last third ≤ %.2f × first third + %g %s", b.Name, b.Factor, b.Margin, b.Unit)
}

// trendVerdict is what judgeTrend found for one figure.
type trendVerdict struct {
	First, Last, Limit float64
	OK                 bool
	Reason             string
}

// judgeTrend judges a series of per-period samples, oldest first, against b. The first
// sample is the warm-up (a fresh process filling its caches) and is left out; the rest is
// cut in thirds (at least one sample each) and the last third's mean must not exceed
// b.Factor × the first third's mean + b.Margin. Fewer than three samples after the warm-up,
// or a third with no sample that is a number, fail: a soak too short to judge passes nothing.
func judgeTrend(series []float64, b trendBound) trendVerdict {
	if len(series) < 4 {
		return trendVerdict{Reason: fmt.Sprintf("%d samples: at least 4 (a warm-up and three thirds) are needed to judge", len(series))}
	}
	rest := series[1:]
	k := len(rest) / 3
	first, last := meanOf(rest[:k]), meanOf(rest[len(rest)-k:])
	if math.IsNaN(first) || math.IsNaN(last) {
		return trendVerdict{First: first, Last: last, Reason: "a third has no measured sample"}
	}
	v := trendVerdict{First: first, Last: last, Limit: b.Factor*first + b.Margin}
	v.OK = last <= v.Limit
	if !v.OK {
		v.Reason = fmt.Sprintf("rose from %.4g to %.4g %s, above the bound %.4g", first, last, b.Unit, v.Limit)
	}
	return v
}

// meanOf is the mean of the samples that are numbers: NaN when none is.
func meanOf(xs []float64) float64 {
	sum, n := 0.0, 0
	for _, x := range xs {
		if !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
