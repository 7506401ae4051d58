package bench

import (
	"math"
	"sort"
)

// spearman is the rank correlation of xs and ys (equal lengths), ties given their mean rank:
// NaN with fewer than two pairs or when either side is constant.
func spearman(xs, ys []float64) float64 {
	if len(xs) != len(ys) || len(xs) < 2 {
		return math.NaN()
	}
	return pearson(ranks(xs), ranks(ys))
}

// ranks are the 1-based ranks of xs, the mean rank for ties.
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}

func pearson(xs, ys []float64) float64 {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// detection counts a detector's verdicts against what was planted.
type detection struct {
	tp, fp, fn, tn int
}

// add counts one item: whether it was planted and whether the detector flagged it.
func (d *detection) add(planted, flagged bool) {
	switch {
	case planted && flagged:
		d.tp++
	case flagged:
		d.fp++
	case planted:
		d.fn++
	default:
		d.tn++
	}
}

// precision is the share of flagged items that were planted: NaN when nothing was flagged.
func (d detection) precision() float64 {
	if d.tp+d.fp == 0 {
		return math.NaN()
	}
	return float64(d.tp) / float64(d.tp+d.fp)
}

// recall is the share of planted items that were flagged: NaN when nothing was planted.
func (d detection) recall() float64 {
	if d.tp+d.fn == 0 {
		return math.NaN()
	}
	return float64(d.tp) / float64(d.tp+d.fn)
}

// bands are the true-quality bands of the confusion matrix, best first, named after the grade
// each should get: a quality at or above a band's floor and below the previous floor is in it.
var bands = []struct {
	name  string
	floor float64
}{{"A", 0.75}, {"B", 0.5}, {"C", 0.25}, {"D", 0}}

// grades are the confusion matrix's columns: the grades, insufficient, and no score at all.
var grades = []string{"A", "B", "C", "D", "insufficient", "none"}

// bandOf is the band of quality q.
func bandOf(q float64) string {
	for _, b := range bands {
		if q >= b.floor {
			return b.name
		}
	}
	return bands[len(bands)-1].name
}

// confusion counts subjects by true-quality band (rows) and grade (columns).
type confusion map[string]map[string]int

func (c confusion) add(q float64, grade string) {
	b := bandOf(q)
	if c[b] == nil {
		c[b] = map[string]int{}
	}
	c[b][grade]++
}

// agreement is the share of graded subjects (A to D) whose grade is their band's.
func (c confusion) agreement() float64 {
	hit, n := 0, 0
	for b, row := range c {
		for g, k := range row {
			if g == "insufficient" || g == "none" {
				continue
			}
			n += k
			if g == b {
				hit += k
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return float64(hit) / float64(n)
}

// meanMin is the mean and the minimum of the figures that are numbers (NaN when none is).
func meanMin(xs []float64) (mean, lo float64) {
	n := 0
	lo = math.Inf(1)
	for _, x := range xs {
		if math.IsNaN(x) {
			continue
		}
		mean += x
		lo = min(lo, x)
		n++
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return mean / float64(n), lo
}
