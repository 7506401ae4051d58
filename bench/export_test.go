package bench

// Exported for the external tests: the metric functions of the validity bench.
var (
	Spearman = spearman
	MeanMin  = meanMin
	BandOf   = bandOf
)

// Detection exposes detection's counts and rates.
type Detection = detection

// Add counts one item.
func (d *Detection) Add(planted, flagged bool) { d.add(planted, flagged) }

// Precision and Recall are the detector's rates.
func (d Detection) Precision() float64 { return d.precision() }
func (d Detection) Recall() float64    { return d.recall() }

// Confusion is a confusion matrix.
type Confusion = confusion

// Add counts one subject of quality q graded grade.
func (c Confusion) Add(q float64, grade string) { c.add(q, grade) }

// Agreement is the share of graded subjects in their band.
func (c Confusion) Agreement() float64 { return c.agreement() }

// TrendBound and JudgeTrend are the soak's trend judgement.
type TrendBound = trendBound

// JudgeTrend judges series against b: whether it passes, and why not.
func JudgeTrend(series []float64, b TrendBound) (ok bool, reason string) {
	v := judgeTrend(series, b)
	return v.OK, v.Reason
}

// SoakBounds are the bounds the soak states and applies.
var SoakBounds = soakBounds
