package scoring_test

import (
	"testing"

	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// trackingParts are a score's tracking components, in order.
func trackingParts(sc scoring.Score) []scoring.Component {
	var out []scoring.Component
	for _, c := range sc.Components {
		if c.Party == "tracking" {
			out = append(out, c)
		}
	}
	return out
}

// Under 2026.4 the late rate is weighed by its own error, apart from the rare incidents. 40
// late of 400 parcels is 1000 per 10,000, measure 20 → 333.33, with the binomial error of 40
// in 400 (p = 40.5/401) × 1e4 × 0.02 = 3.01 → ± 33.82, credibility 0.95 of 0.15; no incident
// in 400 (p = 0.5/401, error 0.00177) is 0 ± √(17.65² + 8.83² + 88.2²) = 0 ± 90.4 → 1000 ±
// 450.2, credibility 0.10 of 0.15. Under 2026.3 the two are one sum, 333.33 ± 458.49: the
// incidents' error takes the late rate's credibility with it (0.10 of 0.30).
func TestTrackingInPartsUnder2026_4(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("outlet"),
		Stats: firmStats(map[string]scoring.Counts{"outlet": {Handled: 400, Delivered: 400, OnTime: 360, Late: 40, LateShare: 40 * tracking.ShareUnit, SlowLastMile: 40}})}
	old := trackingParts(find(t, scoring.Compute(method2026_3(t), in, "run"), scoring.Firm, "outlet"))
	if len(old) != 1 {
		t.Fatalf("2026.3: %d tracking components, want 1", len(old))
	}
	near(t, "2026.3 tracking", old[0].Value, 333.33)
	parts := trackingParts(find(t, scoring.Compute(method2026_4(t), in, "run"), scoring.Firm, "outlet"))
	if len(parts) != 2 {
		t.Fatalf("2026.4: %d tracking components, want timeliness and incidents", len(parts))
	}
	timely, inc := parts[0], parts[1]
	near(t, "timeliness", timely.Value, 333.33)
	near(t, "incidents", inc.Value, 1000)
	if timely.Uncertainty > 40 || inc.Uncertainty < 400 {
		t.Errorf("timeliness ± %.2f, incidents ± %.2f: want the late rate well measured and the incidents not", timely.Uncertainty, inc.Uncertainty)
	}
	if timely.Weight < 0.14 || timely.Weight <= old[0].Weight {
		t.Errorf("timeliness weighs %.4f (2026.3's sum %.4f): want nearly its 0.15", timely.Weight, old[0].Weight)
	}
	hasDelay := false
	for _, it := range timely.Items {
		hasDelay = hasDelay || it.Kind == "delay"
	}
	if !hasDelay {
		t.Errorf("the timeliness part does not cite the delay segments: %+v", timely.Items)
	}
}

// Under 2026.4 the record count's error is over the parcels handled: no record in 40 parcels
// is 0 ± 3/0.004 = 750 per 10,000 → ± 468.75, in 480 parcels 0 ± 62.5 → ± 277.78; under
// 2026.3 both are over the floor of 500 parcels, 0 ± 60 → ± 272.73. The rate itself stays
// over the floor: no record is 1000 either way.
func TestRecordErrorByVolumeUnder2026_4(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("small", "mid"),
		Stats: firmStats(map[string]scoring.Counts{"small": {Handled: 40, Delivered: 40, OnTime: 40}, "mid": {Handled: 480, Delivered: 480, OnTime: 480}})}
	for _, tc := range []struct {
		m          scoring.Methodology
		small, mid float64
	}{{method2026_3(t), 272.73, 272.73}, {method2026_4(t), 468.75, 277.78}} {
		scores := scoring.Compute(tc.m, in, "run")
		small, mid := mustComponent(t, find(t, scores, scoring.Firm, "small"), "regulator"), mustComponent(t, find(t, scores, scoring.Firm, "mid"), "regulator")
		near(t, tc.m.Version+" small regulator ±", small.Uncertainty, tc.small)
		near(t, tc.m.Version+" mid regulator ±", mid.Uncertainty, tc.mid)
		near(t, tc.m.Version+" small regulator", small.Value, 1000)
	}
}
