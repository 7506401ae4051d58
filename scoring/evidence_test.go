package scoring_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
)

// The figures in these tests are worked by hand (and checked with a calculator): halving(m, h)
// = 1000·h/(h+m); spread(m, sd, h) = (halving(max(m−sd, 0), h) − halving(m+sd, h))/2; the
// binomial error of k in n is √(p(1−p)/n) with p = (k+½)/(n+1); a component weighs its party's
// weight w × its credibility z = 150²/(150² + SE²); the score's SE is √Σ w²·(1−z)·150² over the
// four parties (z = 0 for a party with no data).

func method2026_3(t *testing.T) scoring.Methodology {
	t.Helper()
	m, err := scoring.ParseMethod(scoring.Method2026_3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.011 {
		t.Errorf("%s = %.2f, want %.2f", what, got, want)
	}
}

func outlets(ids ...string) []scoring.FirmIn {
	var fs []scoring.FirmIn
	for _, id := range ids {
		fs = append(fs, scoring.FirmIn{ID: id, Kind: "outlet"})
	}
	return fs
}

// A general supervision record two months old is 3 × 1 × 3 = 9 points. Under 2026.3 it is a
// rate of the volume over at least 500 parcels, halving at 50 per 10,000: over 100,000
// parcels 0.9 per 10,000 → 982.32; over 50 parcels (the floor, 500) 180 → 217.39. Under
// 2026.1 (at least 10,000 parcels, halving at 10): 917.43 and 526.32.
func TestEvidenceRecordIsARateOfTheVolume(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("big", "tiny"),
		Records: []scoring.RecordIn{
			record("r-big", scoring.Firm, "big", "supervision", "general", monthsAgo(2)),
			record("r-tiny", scoring.Firm, "tiny", "supervision", "general", monthsAgo(2)),
		},
		Stats: firmStats(map[string]scoring.Counts{"big": {Handled: 100000, OnTime: 100000}, "tiny": {Handled: 50, OnTime: 50}})}
	for _, tc := range []struct {
		m         scoring.Methodology
		big, tiny float64
	}{{method2026_3(t), 982.32, 217.39}, {defaultMethod(t), 917.43, 526.32}} {
		scores := scoring.Compute(tc.m, in, "run")
		big, tiny := mustComponent(t, find(t, scores, scoring.Firm, "big"), "regulator"), mustComponent(t, find(t, scores, scoring.Firm, "tiny"), "regulator")
		near(t, tc.m.Version+" big regulator", big.Value, tc.big)
		near(t, tc.m.Version+" tiny regulator", tiny.Value, tc.tiny)
		near(t, tc.m.Version+" big record's effect", big.Items[0].Effect, tc.big-1000)
		if g := find(t, scores, scoring.Firm, "tiny").Grade; g == scoring.Insufficient {
			t.Errorf("%s: the tiny outlet with a record in force is insufficient; a record is never ignored", tc.m.Version)
		}
	}
}

// The standard errors under 2026.3. Regulator, 50 parcels (floor 500 = 0.05 units): with no
// record sd = 3/0.05 = 60 per 10,000 → spread(0, 60, 50) = 272.73; with the 9-point record sd =
// √(81+9)/0.05 = 189.74 → spread(180, 189.74, 50) = 440.44. Tracking, 10,000 parcels all on
// time: late √(p(1−p)/n)·10⁴·0.02 with p = 0.5/10,001 (0.14), lost ·1.0 (7.07), damaged ·0.5
// (3.54), complaints ·10⁶·0.05 (3.54 … 353.5·0.05) → sd 3.62 → spread(0, 3.62, 10) = 132.96.
// Merchants: 10 four-star ratings, 10 pseudo-ratings at variance 1: variance (10·1 + 0)/20 =
// 0.5, SE 250·√(0.5/20) = 39.53.
func TestEvidenceStandardErrors(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("none", "rec", "ten", "rated"),
		Records: []scoring.RecordIn{record("r", scoring.Firm, "rec", "supervision", "general", monthsAgo(2))},
		Stats: firmStats(map[string]scoring.Counts{"none": {Handled: 50, OnTime: 50}, "rec": {Handled: 50, OnTime: 50},
			"ten": {Handled: 10000, OnTime: 10000}}),
		Ratings: manyRatings("m", scoring.RaterMerchant, "rated", 10, 4)}
	scores := scoring.Compute(method2026_3(t), in, "run")
	near(t, "regulator SE, no record", mustComponent(t, find(t, scores, scoring.Firm, "none"), "regulator").Uncertainty, 272.73)
	near(t, "regulator SE, one record", mustComponent(t, find(t, scores, scoring.Firm, "rec"), "regulator").Uncertainty, 440.44)
	near(t, "tracking SE, 10,000 parcels", mustComponent(t, find(t, scores, scoring.Firm, "ten"), "tracking").Uncertainty, 132.96)
	near(t, "merchant SE, 10 ratings", mustComponent(t, find(t, scores, scoring.Firm, "rated"), "merchant").Uncertainty, 39.53)
}

// 20,000 parcels, 1,000 of them late (measure 0.02·500 = 10 → tracking 500 ± 46.33), and the
// 9-point record (0.45 per 10,000 … 9/2 = 4.5 → regulator 917.43 ± 78.01). Credibility:
// regulator 0.4·150²/(150²+78.01²) = 0.3148, tracking 0.3·150²/(150²+46.33²) = 0.2739. Score
// (0.3148·917.43 + 0.2739·500)/0.5887 = 723.22, SE 150·√(0.16·(1−0.7870) + 0.09·(1−0.9129) +
// 0.0225 + 0.0225) = 44.22: grade B, and C within one standard error (679.00 < 700).
// 1,000,000 parcels on time, no record and no rating: 1000 ± 31.82 (the ratings' weight alone,
// 150·√(2·0.0225)), an A that holds.
func TestEvidenceGradeRange(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("mid", "huge"),
		Records: []scoring.RecordIn{record("r", scoring.Firm, "mid", "supervision", "general", monthsAgo(2))},
		Stats: firmStats(map[string]scoring.Counts{"mid": {Handled: 20000, OnTime: 19000, Late: 1000},
			"huge": {Handled: 1000000, OnTime: 1000000}})}
	scores := scoring.Compute(method2026_3(t), in, "run")
	mid := find(t, scores, scoring.Firm, "mid")
	near(t, "mid score", mid.Value, 723.22)
	near(t, "mid SE", mid.Uncertainty, 44.22)
	ev := mustComponent(t, mid, "evidence")
	if mid.Grade != scoring.GradeB || len(ev.Items) != 1 || ev.Items[0].Ref != "C–B" || !strings.Contains(ev.Detail, "within one standard error C–B") {
		t.Errorf("mid: grade %s, evidence %+v; want B with the range C–B", mid.Grade, ev)
	}
	if ev.Weight != 0 {
		t.Errorf("the evidence component weighs %v; it explains, it does not count", ev.Weight)
	}
	huge := find(t, scores, scoring.Firm, "huge")
	near(t, "huge SE", huge.Uncertainty, 31.82)
	if ev := mustComponent(t, huge, "evidence"); huge.Grade != scoring.GradeA || ev.Items[0].Ref != "A" || !strings.Contains(ev.Detail, "holds") {
		t.Errorf("huge: grade %s, evidence %+v; want an A that holds", huge.Grade, ev)
	}
}

// 600 parcels on time, nothing else: 2026.1 grades it (600 ≥ 500 parcels); under 2026.3 its
// score's SE is 150·√(0.16·(1−0.2647) + 0.09·(1−0.1090) + 0.0225 + 0.0225) = 73.92 (regulator
// spread(0, 3/0.06, 50) = 250 at credibility 0.2647, tracking 428.88 at 0.1090), over 70:
// insufficient, with the reason in the explanation.
func TestEvidenceInsufficientByStandardError(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("six"), Stats: firmStats(map[string]scoring.Counts{"six": {Handled: 600, OnTime: 600}})}
	if sc := find(t, scoring.Compute(defaultMethod(t), in, "run"), scoring.Firm, "six"); sc.Grade == scoring.Insufficient {
		t.Fatalf("2026.1 grades 600 parcels; got %s", sc.Grade)
	}
	sc := find(t, scoring.Compute(method2026_3(t), in, "run"), scoring.Firm, "six")
	near(t, "SE", sc.Uncertainty, 73.92)
	if sc.Grade != scoring.Insufficient {
		t.Errorf("grade %s, want insufficient (SE %.2f > 70)", sc.Grade, sc.Uncertainty)
	}
	if ev := mustComponent(t, sc, "evidence"); !strings.Contains(ev.Detail, "too little evidence") {
		t.Errorf("evidence detail %q does not say why", ev.Detail)
	}
}

// Ratings shrink toward the peer group without the subject itself: a (ten 5-star ratings)
// and b (ten 3-star) are outlets of one band, c (ten 4-star) an HQ. Under 2026.3 a shrinks
// toward b's 3.0: (50 + 10·3)/20 = 4.0 stars → 750. Under 2026.1 toward all firms' 4.0:
// (50 + 40)/20 = 4.5 → 875.
func TestEvidenceShrinksTowardThePeerGroup(t *testing.T) {
	rs := append(append(manyRatings("a", scoring.RaterMerchant, "a", 10, 5), manyRatings("b", scoring.RaterMerchant, "b", 10, 3)...),
		manyRatings("c", scoring.RaterMerchant, "c", 10, 4)...)
	in := scoring.Inputs{AsOf: asOf, Firms: append(outlets("a", "b"), scoring.FirmIn{ID: "c", Kind: "hq"}), Ratings: rs}
	a3 := mustComponent(t, find(t, scoring.Compute(method2026_3(t), in, "run"), scoring.Firm, "a"), "merchant")
	near(t, "2026.3 merchant component", a3.Value, 750)
	if !strings.Contains(a3.Detail, "peer group firm:outlet/0-10000") {
		t.Errorf("detail %q does not name the peer group", a3.Detail)
	}
	near(t, "2026.1 merchant component", mustComponent(t, find(t, scoring.Compute(defaultMethod(t), in, "run"), scoring.Firm, "a"), "merchant").Value, 875)
}

// 2026.1 has no evidence rules: no evidence component, the fixed insufficient rule.
func TestEvidenceAbsentFrom2026_1(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("small"), Stats: firmStats(map[string]scoring.Counts{"small": {Handled: 499, OnTime: 499}})}
	sc := find(t, scoring.Compute(defaultMethod(t), in, "run"), scoring.Firm, "small")
	if _, ok := component(sc, "evidence"); ok || sc.Grade != scoring.Insufficient {
		t.Errorf("2026.1: grade %s, components %+v; want insufficient (499 < 500 parcels) and no evidence component", sc.Grade, sc.Components)
	}
}

func TestParseMethodEvidence(t *testing.T) {
	bad := strings.Replace(scoring.Method2026_3, `"shrink": "peer"`, `"shrink": "firm"`, 1)
	bad = strings.Replace(bad, `"exposure_floor": 500`, `"exposure_floor": 0`, 1)
	_, err := scoring.ParseMethod(bad)
	if err == nil || !strings.Contains(err.Error(), "evidence.shrink") || !strings.Contains(err.Error(), "evidence.exposure_floor") {
		t.Errorf("ParseMethod(bad evidence) = %v, want it to name evidence.shrink and evidence.exposure_floor", err)
	}
}

// 2026.3 is stored beside 2026.2, as a new version (2026.2 is unchanged), and takes effect a
// quarter after it.
func TestMethod2026_3StoresAfter2026_2(t *testing.T) {
	w := newWorld(t)
	for _, doc := range []string{scoring.Method2026_2, scoring.Method2026_3} {
		if d, created, err := w.svc.PutMethod(w.ctx, regulator, doc); err != nil || !created {
			t.Fatalf("store %s: %+v, %v, %v", d.Version, d, created, err)
		}
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), "2026.2"}, {time.Date(2027, 4, 2, 0, 0, 0, 0, time.UTC), "2026.3"}} {
		if m, _, err := w.svc.MethodAt(w.ctx, tc.at); err != nil || m.Version != tc.want {
			t.Errorf("in force on %s: %s, %v; want %s", tc.at.Format("2006-01-02"), m.Version, err, tc.want)
		}
	}
}
