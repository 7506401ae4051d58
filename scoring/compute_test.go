package scoring_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
)

var cst = time.FixedZone("CST", 8*3600)

// asOf is the as-of time of the Compute tests: Monday 1 June 2026, midnight in China.
var asOf = time.Date(2026, 6, 1, 0, 0, 0, 0, cst)

func defaultMethod(t *testing.T) scoring.Methodology {
	t.Helper()
	m, err := scoring.ParseMethod(scoring.DefaultMethod)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func monthsAgo(n int) time.Time { return asOf.AddDate(0, -n, 0) }

func record(id string, kind scoring.SubjectKind, subject, category, severity string, at time.Time) scoring.RecordIn {
	return scoring.RecordIn{ID: id, SubjectKind: kind, SubjectID: subject, Category: category, Severity: severity, OccurredAt: at}
}

func rating(id string, kind scoring.RaterKind, rater, firm string, stars int, weight float64, at time.Time) scoring.Rating {
	return scoring.Rating{ID: id, RaterKind: kind, RaterID: rater, Waybill: "WB" + id, FirmID: firm, Stars: stars,
		Weight: weight, CreatedAt: at, UpdatedAt: at}
}

// manyRatings gives n ratings of firm by n different raters, a day apart, ending a week before asOf.
func manyRatings(prefix string, kind scoring.RaterKind, firm string, n, stars int) []scoring.Rating {
	var rs []scoring.Rating
	for i := range n {
		rs = append(rs, rating(fmt.Sprintf("%s%02d", prefix, i), kind, fmt.Sprintf("%s-rater%02d", prefix, i), firm, stars, 1,
			asOf.AddDate(0, 0, -7-i)))
	}
	return rs
}

func firmStats(byID map[string]scoring.Counts) map[scoring.SubjectKind]map[string]scoring.Counts {
	return map[scoring.SubjectKind]map[string]scoring.Counts{scoring.Firm: byID}
}

func find(t *testing.T, scores []scoring.Score, kind scoring.SubjectKind, id string) scoring.Score {
	t.Helper()
	for _, sc := range scores {
		if sc.Subject == kind && sc.SubjectID == id {
			return sc
		}
	}
	t.Fatalf("no score for %s %s in %d scores", kind, id, len(scores))
	return scoring.Score{}
}

func component(sc scoring.Score, party string) (scoring.Component, bool) {
	for _, c := range sc.Components {
		if c.Party == party {
			return c, true
		}
	}
	return scoring.Component{}, false
}

func mustComponent(t *testing.T, sc scoring.Score, party string) scoring.Component {
	t.Helper()
	c, ok := component(sc, party)
	if !ok {
		t.Fatalf("%s %s has no %s component: %+v", sc.Subject, sc.SubjectID, party, sc.Components)
	}
	return c
}

// monthLen is the month monthsBetween counts in: 30.436875 days.
const monthLen = time.Duration(30.436875 * 24 * float64(time.Hour))

func TestComputeTimeWeights(t *testing.T) {
	m := defaultMethod(t)
	tests := []struct {
		name    string
		at      time.Time
		parcels int
		want    float64
	}{
		// general (3) × supervision (1) × time weight; regulator = 1000×10/(10 + points/exposure);
		// exposure = max(parcels/10000, 1).
		{"3 months, no parcels", monthsAgo(3), 0, 526.32},                         // 3×1×3 = 9 → 10000/19 = 526.3157… → 526.32
		{"9 months, no parcels", monthsAgo(9), 0, 625},                            // 3×1×2 = 6 → 10000/16 = 625
		{"18 months, no parcels", monthsAgo(18), 0, 769.23},                       // 3×1×1 = 3 → 10000/13 = 769.2307… → 769.23
		{"30 months, no parcels", monthsAgo(30), 0, 1000},                         // weight 0 → 0 points → 10000/10 = 1000
		{"5,000 parcels count as 10,000", monthsAgo(3), 5000, 526.32},             // exposure max(0.5, 1) = 1 → 9 → 526.32
		{"3 months, 20,000 parcels", monthsAgo(3), 20000, 689.66},                 // exposure 2: 9/2 = 4.5 → 10000/14.5 = 689.655… → 689.66
		{"9 months, 20,000 parcels", monthsAgo(9), 20000, 769.23},                 // 6/2 = 3 → 10000/13 = 769.23
		{"18 months, 20,000 parcels", monthsAgo(18), 20000, 869.57},               // 3/2 = 1.5 → 10000/11.5 = 869.565… → 869.57
		{"30 months, 20,000 parcels", monthsAgo(30), 20000, 1000},                 // 0 points → 1000
		{"a day under 6 months", asOf.Add(-6*monthLen + 24*time.Hour), 0, 526.32}, // still the 0–6 band: 9 points
		{"a day over 6 months", asOf.Add(-6*monthLen - 24*time.Hour), 0, 625},     // the 6–12 band: 6 points
		{"a day over 24 months", asOf.Add(-24*monthLen - 24*time.Hour), 0, 1000},  // past the last band: 0 points
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}},
				Records: []scoring.RecordIn{record("r1", scoring.Firm, "f", "supervision", "general", tc.at)},
				Stats:   firmStats(map[string]scoring.Counts{"f": {Handled: tc.parcels, OnTime: tc.parcels}})}
			sc := find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
			if got := mustComponent(t, sc, "regulator").Value; got != tc.want {
				t.Errorf("regulator component = %v, want %v", got, tc.want)
			}
			if got, want := sc.Parcels, tc.parcels; got != want {
				t.Errorf("Parcels = %d, want %d", got, want)
			}
		})
	}
}

func TestComputeTrackingComponent(t *testing.T) {
	m := defaultMethod(t)
	tests := []struct {
		name string
		c    scoring.Counts
		want float64
	}{
		// measure = 0.02×late per 10k judged + 1.0×lost per 10k + 0.5×damaged per 10k + 0.05×complaints per million;
		// component = 1000×10/(10 + measure).
		{"late and lost", scoring.Counts{Handled: 10000, OnTime: 9500, Late: 500, Lost: 10}, 333.33},     // 500/10000×1e4×0.02 = 10, 10/10000×1e4×1 = 10 → 10000/30 = 333.33
		{"perfect", scoring.Counts{Handled: 10000, OnTime: 10000}, 1000},                                 // measure 0 → 1000
		{"damaged", scoring.Counts{Handled: 10000, OnTime: 10000, Damaged: 20}, 500},                     // 20 per 10k × 0.5 = 10 → 10000/20 = 500
		{"complaints", scoring.Counts{Handled: 10000, OnTime: 10000, Complaints: 100}, 19.61},            // 100/10000×1e6 = 10000 per million × 0.05 = 500 → 10000/510 = 19.607… → 19.61
		{"late over judged parcels only", scoring.Counts{Handled: 10000, OnTime: 4000, Late: 1000}, 200}, // 1000/5000×1e4 = 2000 × 0.02 = 40 → 10000/50 = 200
		{"nothing judged", scoring.Counts{Handled: 10000}, 1000},                                         // no on-time or late: late rate 0 → 1000
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}}, Stats: firmStats(map[string]scoring.Counts{"f": tc.c})}
			sc := find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
			tr := mustComponent(t, sc, "tracking")
			if got := tr.Value; got != tc.want {
				t.Errorf("tracking component = %v, want %v (%s)", got, tc.want, tr.Detail)
			}
			// One standard error: 1000/√(10000+1) = 9.9995 → 10.
			if got, want := tr.Uncertainty, 10.0; got != want {
				t.Errorf("tracking uncertainty = %v, want %v", got, want)
			}
			if len(tr.Items) != 1 || tr.Items[0].Kind != "statistic" || !strings.HasPrefix(tr.Items[0].Ref, "firm/f/") {
				t.Errorf("tracking items = %+v, want one statistic of firm/f", tr.Items)
			}
		})
	}
	t.Run("no parcels, no tracking component", func(t *testing.T) {
		in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}}}
		sc := find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
		if c, ok := component(sc, "tracking"); ok {
			t.Errorf("tracking component %+v without parcels", c)
		}
	})
}

func TestComputeRatingShrinkage(t *testing.T) {
	m := defaultMethod(t)
	tests := []struct {
		name    string
		ratings []scoring.Rating
		want    map[string]float64 // firm → merchant component
	}{
		{
			// One firm: the prior is its own mean, 4 → (4×4 + 10×4)/(4+10) = 4 → (4−1)/4×1000 = 750.
			name:    "one firm",
			ratings: manyRatings("a", scoring.RaterMerchant, "f1", 4, 4),
			want:    map[string]float64{"f1": 750},
		},
		{
			// Prior over both firms: (4×5 + 6×2)/10 = 3.2.
			// f1: (20 + 10×3.2)/(4+10) = 52/14 = 3.7142… → 2.7142…/4×1000 = 678.57
			// f2: (12 + 32)/(6+10) = 44/16 = 2.75 → 1.75/4×1000 = 437.5
			name:    "two firms",
			ratings: append(manyRatings("a", scoring.RaterMerchant, "f1", 4, 5), manyRatings("b", scoring.RaterMerchant, "f2", 6, 2)...),
			want:    map[string]float64{"f1": 678.57, "f2": 437.5},
		},
		{
			// Consumers' ratings are another prior: f2's consumer 1-stars do not move the merchant prior.
			// Merchant prior: 4×5/4 = 5 → f1 (20+50)/14 = 5 → 1000.
			name:    "consumer ratings have their own prior",
			ratings: append(manyRatings("a", scoring.RaterMerchant, "f1", 4, 5), manyRatings("b", scoring.RaterConsumer, "f2", 6, 1)...),
			want:    map[string]float64{"f1": 1000},
		},
		{
			// Total weight 0.5 < 1: the prior is the method's 4.2 → (1×0.5 + 10×4.2)/(0.5+10) = 42.5/10.5 = 4.0476… → 761.90
			name:    "too little weight for a prior of the data",
			ratings: []scoring.Rating{rating("x", scoring.RaterMerchant, "m1", "f1", 1, 0.5, monthsAgo(1))},
			want:    map[string]float64{"f1": 761.9},
		},
		{
			// Weights count: prior (5×1 + 1×0.2)/1.2 = 4.3333…; f1 = (5.2 + 43.333…)/(1.2 + 10) = 48.5333…/11.2 = 4.3333… → 833.33
			name: "weighted ratings",
			ratings: []scoring.Rating{rating("x", scoring.RaterMerchant, "m1", "f1", 5, 1, monthsAgo(1)),
				rating("y", scoring.RaterMerchant, "m2", "f1", 1, 0.2, monthsAgo(1))},
			want: map[string]float64{"f1": 833.33},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f1", Kind: "outlet"}, {ID: "f2", Kind: "outlet"}}, Ratings: tc.ratings}
			scores := scoring.Compute(m, in, "run")
			for firm, want := range tc.want {
				if got := mustComponent(t, find(t, scores, scoring.Firm, firm), "merchant").Value; got != want {
					t.Errorf("%s merchant component = %v, want %v", firm, got, want)
				}
			}
		})
	}
}

func TestComputeWeightsComponents(t *testing.T) {
	m := defaultMethod(t)
	commits := func(n int) map[string][]string {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf("c%d", i))
		}
		return map[string][]string{"firm/f": ids}
	}
	fresh := []scoring.RecordIn{record("r1", scoring.Firm, "f", "supervision", "general", monthsAgo(3))} // 9 points → 526.32
	tests := []struct {
		name      string
		records   []scoring.RecordIn
		counts    scoring.Counts
		ratings   []scoring.Rating
		commits   map[string][]string
		want      float64
		wantGrade scoring.Grade
		parties   []string
	}{
		{"regulator only", fresh, scoring.Counts{}, nil, nil,
			526.32, scoring.GradeD, []string{"regulator"}}, // 0.4×526.32/0.4
		{"regulator and tracking", fresh, scoring.Counts{Handled: 10000, OnTime: 9500, Late: 500, Lost: 10}, nil, nil,
			443.61, scoring.GradeD, []string{"regulator", "tracking"}}, // (0.4×526.32 + 0.3×333.33)/0.7 = 310.527/0.7 = 443.61
		{"regulator and merchants", nil, scoring.Counts{}, manyRatings("m", scoring.RaterMerchant, "f", 20, 3), nil,
			863.64, scoring.GradeA, []string{"regulator", "merchant"}}, // (0.4×1000 + 0.15×500)/0.55 = 475/0.55 = 863.636…
		{"all four", nil, scoring.Counts{Handled: 10000, OnTime: 10000},
			append(manyRatings("m", scoring.RaterMerchant, "f", 20, 3), manyRatings("c", scoring.RaterConsumer, "f", 20, 5)...), nil,
			925, scoring.GradeA, []string{"regulator", "tracking", "merchant", "consumer"}}, // 0.4×1000 + 0.3×1000 + 0.15×500 + 0.15×1000 = 925
		{"one commitment", fresh, scoring.Counts{}, nil, commits(1),
			536.32, scoring.GradeD, []string{"regulator", "bonus"}}, // 526.32 + 10
		{"four commitments, capped", fresh, scoring.Counts{}, nil, commits(4),
			556.32, scoring.GradeC, []string{"regulator", "bonus"}}, // 526.32 + min(4×10, 30) = 556.32
		{"never above 1000", nil, scoring.Counts{Handled: 1000, OnTime: 1000}, nil, commits(2),
			1000, scoring.GradeA, []string{"regulator", "tracking", "bonus"}}, // 1000 + 20 → capped at 1000
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}}, Records: tc.records,
				Stats: firmStats(map[string]scoring.Counts{"f": tc.counts}), Ratings: tc.ratings, Commitments: tc.commits}
			sc := find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
			if got := sc.Value; got != tc.want {
				t.Errorf("Value = %v, want %v (%+v)", got, tc.want, sc.Components)
			}
			if got := sc.Grade; got != tc.wantGrade {
				t.Errorf("Grade = %q, want %q", got, tc.wantGrade)
			}
			var parties []string
			for _, c := range sc.Components {
				parties = append(parties, c.Party)
			}
			if !reflect.DeepEqual(parties, tc.parties) {
				t.Errorf("components = %q, want %q", parties, tc.parties)
			}
		})
	}
}

func TestComputeInsufficientData(t *testing.T) {
	m := defaultMethod(t)
	oneWeek := func(n int) []scoring.Rating { // n ratings by one merchant in the week of Monday 25 May
		var rs []scoring.Rating
		for i := range n {
			rs = append(rs, rating(fmt.Sprintf("w%02d", i), scoring.RaterMerchant, "m1", "f", 4, 1, time.Date(2026, 5, 25, 9, i, 0, 0, cst)))
		}
		return rs
	}
	tests := []struct {
		name    string
		parcels int
		ratings []scoring.Rating
		records []scoring.RecordIn
		want    scoring.Grade
	}{
		{"nothing", 0, nil, nil, scoring.Insufficient},
		{"499 parcels and 19 ratings", 499, manyRatings("m", scoring.RaterMerchant, "f", 19, 4), nil, scoring.Insufficient},
		{"500 parcels", 500, nil, nil, scoring.GradeA},                                              // regulator 1000, tracking 1000 → 1000
		{"20 ratings", 0, manyRatings("m", scoring.RaterMerchant, "f", 20, 4), nil, scoring.GradeA}, // (0.4×1000 + 0.15×750)/0.55 = 931.82
		{"10 merchant and 10 consumer ratings", 0,
			append(manyRatings("m", scoring.RaterMerchant, "f", 10, 4), manyRatings("c", scoring.RaterConsumer, "f", 10, 4)...), nil, scoring.GradeA}, // (400 + 112.5 + 112.5)/0.7 = 892.86
		{"20 ratings by one merchant in one week count as one", 0, oneWeek(20), nil, scoring.Insufficient},
		{"one record", 0, nil, []scoring.RecordIn{record("r1", scoring.Firm, "f", "supervision", "general", monthsAgo(3))}, scoring.GradeD}, // 526.32
		{"one record past the time bands", 0, nil, []scoring.RecordIn{record("r1", scoring.Firm, "f", "supervision", "general", monthsAgo(30))}, scoring.Insufficient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}}, Records: tc.records,
				Stats: firmStats(map[string]scoring.Counts{"f": {Handled: tc.parcels, OnTime: tc.parcels}}), Ratings: tc.ratings}
			sc := find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
			if got := sc.Grade; got != tc.want {
				t.Errorf("Grade = %q (value %v), want %q", got, sc.Value, tc.want)
			}
		})
	}
}

func TestComputeGradeCutoffs(t *testing.T) {
	tests := []struct {
		value float64
		want  scoring.Grade
	}{
		{850, scoring.GradeA}, {849.99, scoring.GradeB},
		{700, scoring.GradeB}, {699.99, scoring.GradeC},
		{550, scoring.GradeC}, {549.99, scoring.GradeD},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			// A subject with one general record (3 points × time weight 1 at 18 months) in a category
			// weighing w scores 10000/(10 + 3w); w = (10000/value − 10)/3 gives exactly value after
			// rounding to cents, e.g. 850: w = 0.5882… → 3w = 1.7647… → 10000/11.7647… = 850.
			m := defaultMethod(t)
			m.CategoryWeights = map[string]float64{"calibrated": (10000/tc.value - 10) / 3}
			in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}},
				Records: []scoring.RecordIn{record("r1", scoring.Firm, "f", "calibrated", "general", monthsAgo(18))}}
			sc := find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
			if sc.Value != tc.value {
				t.Fatalf("Value = %v, want %v", sc.Value, tc.value)
			}
			if got := sc.Grade; got != tc.want {
				t.Errorf("Grade of %v = %q, want %q", sc.Value, got, tc.want)
			}
		})
	}
}

func TestComputeHQRollUp(t *testing.T) {
	m := defaultMethod(t)
	in := scoring.Inputs{AsOf: asOf,
		Firms: []scoring.FirmIn{{ID: "hq", Kind: "hq"}, {ID: "br", ParentID: "hq", Kind: "branch"},
			{ID: "out", ParentID: "br", Kind: "outlet"}, {ID: "tiny", ParentID: "hq", Kind: "outlet"}},
		Records: []scoring.RecordIn{
			record("r-br", scoring.Firm, "br", "supervision", "general", monthsAgo(3)),    // 9 points → 526.32
			record("r-out", scoring.Firm, "out", "supervision", "general", monthsAgo(18)), // 3 points → 769.23
		},
		Stats: firmStats(map[string]scoring.Counts{
			"hq":   {Handled: 1000, OnTime: 1000},
			"br":   {Handled: 3000, OnTime: 3000},
			"out":  {Handled: 6000, OnTime: 6000},
			"tiny": {Handled: 100, OnTime: 100}, // below 500 parcels, no rating, no record: insufficient
		}),
	}
	scores := scoring.Compute(m, in, "run")
	own := map[string]float64{
		"br":  729.33, // (0.4×526.32 + 0.3×1000)/0.7 = 510.528/0.7 = 729.3257…
		"out": 868.13, // (0.4×769.23 + 0.3×1000)/0.7 = 607.692/0.7 = 868.1314…
	}
	for id, want := range own {
		if got := find(t, scores, scoring.Firm, id).Value; got != want {
			t.Errorf("%s own score = %v, want %v", id, got, want)
		}
	}
	if got := find(t, scores, scoring.Firm, "tiny").Grade; got != scoring.Insufficient {
		t.Fatalf("tiny grade = %q, want insufficient", got)
	}
	hq := find(t, scores, scoring.Firm, "hq")
	// HQ own 1000 (no record, perfect tracking); (1000×1000 + 3000×729.33 + 6000×868.13)/10000
	// = (1,000,000 + 2,187,990 + 5,208,780)/10000 = 839.677 → 839.68; tiny left out.
	if got, want := hq.Value, 839.68; got != want {
		t.Errorf("HQ value = %v, want %v", got, want)
	}
	if got, want := hq.Grade, scoring.GradeB; got != want {
		t.Errorf("HQ grade = %q, want %q", got, want)
	}
	// The tree's parcels: 1000 + 3000 + 6000 + 100.
	if got, want := hq.Parcels, 10100; got != want {
		t.Errorf("HQ parcels = %d, want %d", got, want)
	}
	if got, want := hq.PeerGroup, "firm:hq/10000-100000"; got != want {
		t.Errorf("HQ peer group = %q, want %q", got, want)
	}
	tree := mustComponent(t, hq, "tree")
	var refs []string
	for _, it := range tree.Items {
		refs = append(refs, it.Ref)
	}
	if want := []string{"hq", "br", "out"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("tree items = %q, want %q", refs, want)
	}
	// A branch is not an HQ: it keeps its own score.
	if got, want := find(t, scores, scoring.Firm, "br").Parcels, 3000; got != want {
		t.Errorf("branch parcels = %d, want %d", got, want)
	}
}

func TestComputePeerPercentiles(t *testing.T) {
	m := defaultMethod(t)
	firms := []scoring.FirmIn{}
	stats := map[string]scoring.Counts{}
	for _, id := range []string{"o1", "o2", "o3", "o4", "o5"} {
		firms = append(firms, scoring.FirmIn{ID: id, Kind: "outlet"})
		stats[id] = scoring.Counts{Handled: 1000, OnTime: 1000}
	}
	firms = append(firms, scoring.FirmIn{ID: "o6", Kind: "outlet"}, scoring.FirmIn{ID: "big", Kind: "outlet"}, scoring.FirmIn{ID: "h1", Kind: "hq"})
	stats["o6"] = scoring.Counts{Handled: 100, OnTime: 100}      // insufficient, and scores 1000: it must not count as better
	stats["big"] = scoring.Counts{Handled: 20000, OnTime: 20000} // another volume band
	stats["h1"] = scoring.Counts{Handled: 1000, OnTime: 1000}    // another kind
	in := scoring.Inputs{AsOf: asOf, Firms: firms, Stats: firmStats(stats), Records: []scoring.RecordIn{
		record("r2", scoring.Firm, "o2", "supervision", "general", monthsAgo(18)), // 3 points → 868.13
		record("r3", scoring.Firm, "o3", "supervision", "general", monthsAgo(9)),  // 6 points → 785.71
		record("r4", scoring.Firm, "o4", "supervision", "general", monthsAgo(9)),  // 6 points → 785.71
		record("r5", scoring.Firm, "o5", "supervision", "general", monthsAgo(3)),  // 9 points → 729.33
		record("rh", scoring.Firm, "h1", "supervision", "general", monthsAgo(3)),  // h1 is alone among HQs
	}}
	scores := scoring.Compute(m, in, "run")
	tests := []struct {
		id    string
		group string
		want  float64
	}{
		// Five sufficient outlets in the 0-10000 band: percentile = peers scoring strictly higher / 4 × 100.
		{"o1", "firm:outlet/0-10000", 0},   // 1000: none higher
		{"o2", "firm:outlet/0-10000", 25},  // 868.13: o1 → 1/4
		{"o3", "firm:outlet/0-10000", 50},  // 785.71: o1, o2 → 2/4 (o4 ties, not higher)
		{"o4", "firm:outlet/0-10000", 50},  // same
		{"o5", "firm:outlet/0-10000", 100}, // 729.33: all four → 4/4
		{"o6", "firm:outlet/0-10000", 0},   // insufficient: not ranked
		{"big", "firm:outlet/10000-100000", 0},
		{"h1", "firm:hq/0-10000", 0},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			sc := find(t, scores, scoring.Firm, tc.id)
			if sc.PeerGroup != tc.group {
				t.Errorf("PeerGroup = %q, want %q", sc.PeerGroup, tc.group)
			}
			if sc.Percentile != tc.want {
				t.Errorf("Percentile = %v (value %v), want %v", sc.Percentile, sc.Value, tc.want)
			}
		})
	}
}

func TestComputeExplainsRecords(t *testing.T) {
	m := defaultMethod(t)
	in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}}, Records: []scoring.RecordIn{
		record("r6", scoring.Firm, "f", "complaint", "minor", monthsAgo(18)),    // 1×0.8×1 = 0.8
		record("r3", scoring.Firm, "f", "supervision", "minor", monthsAgo(3)),   // 1×1×3 = 3
		record("r1", scoring.Firm, "f", "supervision", "general", monthsAgo(3)), // 3×1×3 = 9
		record("r5", scoring.Firm, "f", "supervision", "minor", monthsAgo(18)),  // 1×1×1 = 1
		record("r2", scoring.Firm, "f", "supervision", "general", monthsAgo(9)), // 3×1×2 = 6
		record("r4", scoring.Firm, "f", "supervision", "minor", monthsAgo(9)),   // 1×1×2 = 2
		record("other", scoring.Firm, "g", "supervision", "serious", monthsAgo(1)),
	}}
	sc := find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
	reg := mustComponent(t, sc, "regulator")
	// Total 21.8 points → 10000/31.8 = 314.4654…
	if got, want := reg.Value, 314.47; got != want {
		t.Errorf("regulator = %v, want %v", got, want)
	}
	want := []scoring.Item{
		{Kind: "record", Ref: "r1", Effect: -124.13}, // 314.4654 − 10000/22.8 (438.5965) = −124.1311
		{Kind: "record", Ref: "r2", Effect: -73.13},  // 314.4654 − 10000/25.8 (387.5969) = −73.1315
		{Kind: "record", Ref: "r3", Effect: -32.76},  // 314.4654 − 10000/28.8 (347.2222) = −32.7568
		{Kind: "record", Ref: "r4", Effect: -21.11},  // 314.4654 − 10000/29.8 (335.5705) = −21.1051
		{Kind: "record", Ref: "r5", Effect: -10.21},  // 314.4654 − 10000/30.8 (324.6753) = −10.2099
		// r6: 314.4654 − 10000/31 (322.5806) = −8.1152, the sixth: left out
	}
	var got []scoring.Item
	for _, it := range reg.Items {
		got = append(got, scoring.Item{Kind: it.Kind, Ref: it.Ref, Effect: it.Effect})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("regulator items =\n%v\nwant\n%v", got, want)
	}
	if d := reg.Items[0].Detail; !strings.Contains(d, "supervision/general") || !strings.Contains(d, "9.0 points") {
		t.Errorf("first item detail = %q, want the class and points", d)
	}
}

func TestComputeNetsWeeklyRatings(t *testing.T) {
	m := defaultMethod(t)
	// Firm g has nine 5-star merchant ratings by nine merchants, to make the prior differ from f's mean.
	others := manyRatings("g", scoring.RaterMerchant, "g", 9, 5)
	day := func(d, h, min int) time.Time { return time.Date(2026, 5, d, h, min, 0, 0, cst) }
	type netted struct {
		stars  int
		weight string
	}
	tests := []struct {
		name   string
		f      []scoring.Rating
		want   float64
		items  int
		netted *netted // the netted rating, when there is one
	}{
		{
			// One rating of 4 stars (5+4+3)/3, weight min(3, 1) = 1. Prior (4 + 9×5)/10 = 4.9;
			// f = (4 + 10×4.9)/(1 + 10) = 53/11 = 4.8181… → 3.8181…/4×1000 = 954.55.
			name: "three in one ISO week",
			f: []scoring.Rating{
				rating("a1", scoring.RaterMerchant, "m1", "f", 5, 1, day(25, 10, 0)),  // Monday
				rating("a2", scoring.RaterMerchant, "m1", "f", 4, 1, day(27, 10, 0)),  // Wednesday
				rating("a3", scoring.RaterMerchant, "m1", "f", 3, 1, day(31, 23, 30)), // Sunday night
			},
			want: 954.55, items: 1, netted: &netted{4, "weight 1.00"},
		},
		{
			// Sunday 23:30 and Monday 00:30 in China are two ISO weeks (though one in UTC): two ratings.
			// Prior (5 + 3 + 45)/11 = 53/11 = 4.8181…; f = (8 + 10×53/11)/(2 + 10) = 56.1818…/12 = 4.6818… → 920.45.
			name: "Sunday night and Monday morning in China",
			f: []scoring.Rating{
				rating("b1", scoring.RaterMerchant, "m1", "f", 5, 1, day(24, 23, 30)),
				rating("b2", scoring.RaterMerchant, "m1", "f", 3, 1, day(25, 0, 30)),
			},
			want: 920.45, items: 2,
		},
		{
			// Two merchants in one week are two raters: the same sums as above, 920.45.
			name: "two merchants in one week",
			f: []scoring.Rating{
				rating("c1", scoring.RaterMerchant, "m1", "f", 5, 1, day(25, 10, 0)),
				rating("c2", scoring.RaterMerchant, "m2", "f", 3, 1, day(25, 11, 0)),
			},
			want: 920.45, items: 2,
		},
		{
			// Weighted mean (5×1 + 1×0.2)/1.2 = 4.33 → 4 stars, weight min(1.2, 1) = 1: as the first case, 954.55.
			name: "weighted mean in one week",
			f: []scoring.Rating{
				rating("d1", scoring.RaterMerchant, "m1", "f", 5, 1, day(25, 10, 0)),
				rating("d2", scoring.RaterMerchant, "m1", "f", 1, 0.2, day(26, 10, 0)),
			},
			want: 954.55, items: 1, netted: &netted{4, "weight 1.00"},
		},
		{
			// Two 1-star ratings weighing 0.2 each: one rating of 1 star weighing 0.4.
			// Prior (0.4 + 45)/9.4 = 4.8297…; f = (0.4 + 48.2978…)/10.4 = 4.6825… → 920.62.
			name: "light ratings stay light",
			f: []scoring.Rating{
				rating("e1", scoring.RaterMerchant, "m1", "f", 1, 0.2, day(25, 10, 0)),
				rating("e2", scoring.RaterMerchant, "m1", "f", 1, 0.2, day(25, 11, 0)),
			},
			want: 920.62, items: 1, netted: &netted{1, "weight 0.40"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}, {ID: "g", Kind: "outlet"}},
				Ratings: append(append([]scoring.Rating(nil), tc.f...), others...)}
			mc := mustComponent(t, find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f"), "merchant")
			if mc.Value != tc.want {
				t.Errorf("merchant component = %v, want %v (%s)", mc.Value, tc.want, mc.Detail)
			}
			if len(mc.Items) != tc.items {
				t.Fatalf("items = %+v, want %d", mc.Items, tc.items)
			}
			for _, it := range mc.Items {
				isNet := strings.Contains(it.Detail, "netted:")
				if isNet != (tc.netted != nil) {
					t.Errorf("item %q netted = %v, want %v", it.Detail, isNet, tc.netted != nil)
				}
				if tc.netted == nil {
					continue
				}
				if want := fmt.Sprintf("%d stars on ", tc.netted.stars); !strings.HasPrefix(it.Detail, want) {
					t.Errorf("netted item %q, want it to start %q", it.Detail, want)
				}
				if !strings.Contains(it.Detail, tc.netted.weight) {
					t.Errorf("netted item %q, want %q", it.Detail, tc.netted.weight)
				}
				if want := fmt.Sprintf("netted: %d ratings", len(tc.f)); !strings.Contains(it.Detail, want) {
					t.Errorf("netted item %q, want %q", it.Detail, want)
				}
			}
		})
	}
}

// richInputs exercise every part of Compute: a franchise tree, sites and staff, records on all
// three, statistics, ratings that net (delivered by different sites and couriers), commitments.
func richInputs() scoring.Inputs {
	at := func(d, h int) time.Time { return time.Date(2026, 5, d, h, 0, 0, 0, cst) }
	rate := func(id string, kind scoring.RaterKind, rater, firm, site, staff string, stars int, w float64, t time.Time) scoring.Rating {
		r := rating(id, kind, rater, firm, stars, w, t)
		r.SiteID, r.StaffID = site, staff
		return r
	}
	return scoring.Inputs{
		AsOf: asOf,
		Firms: []scoring.FirmIn{{ID: "hq", Kind: "hq"}, {ID: "br", ParentID: "hq", Kind: "branch"},
			{ID: "o1", ParentID: "br", Kind: "outlet"}, {ID: "o2", ParentID: "br", Kind: "outlet"}, {ID: "o3", ParentID: "hq", Kind: "outlet"},
			{ID: "lone", Kind: "hq"}},
		Sites: []scoring.SiteIn{{ID: "s1", FirmID: "o1"}, {ID: "s2", FirmID: "o1"}, {ID: "s3", FirmID: "o2"}},
		Staff: []scoring.StaffIn{{ID: "p1", FirmID: "o1"}, {ID: "p2", FirmID: "o1"}, {ID: "p3", FirmID: "o2"}},
		Records: []scoring.RecordIn{
			record("r1", scoring.Firm, "o1", "complaint", "minor", monthsAgo(2)),
			record("r2", scoring.Firm, "o1", "media", "general", monthsAgo(7)),
			record("r3", scoring.Site, "s1", "delivery_safety", "serious", monthsAgo(13)),
			record("r4", scoring.Staff, "p1", "service_quality", "general", monthsAgo(1)),
			record("r5", scoring.Firm, "o2", "licence", "minor", monthsAgo(20)),
			record("r6", scoring.Firm, "br", "enforcement", "general", monthsAgo(4)),
			record("r7", scoring.Firm, "lone", "supervision", "minor", monthsAgo(5)),
		},
		Stats: map[scoring.SubjectKind]map[string]scoring.Counts{
			scoring.Firm: {"hq": {Handled: 1200, OnTime: 1100, Late: 100}, "br": {Handled: 3300, OnTime: 3000, Late: 300, Lost: 2},
				"o1": {Handled: 7100, OnTime: 6500, Late: 600, Damaged: 3, Complaints: 4}, "o2": {Handled: 900, OnTime: 880, Late: 20},
				"o3": {Handled: 40000, OnTime: 39000, Late: 1000, Lost: 7}, "lone": {Handled: 2500, OnTime: 2500}},
			scoring.Site:  {"s1": {Handled: 4000, OnTime: 3700, Late: 300}, "s2": {Handled: 3100, OnTime: 2800, Late: 300, Damaged: 3}, "s3": {Handled: 900, OnTime: 880, Late: 20}},
			scoring.Staff: {"p1": {Handled: 2000, OnTime: 1900, Late: 100}, "p2": {Handled: 1500, OnTime: 1400, Late: 100}, "p3": {Handled: 900, OnTime: 880, Late: 20}},
		},
		StatsFrom: "2024-06-01",
		Ratings: []scoring.Rating{
			// m1 rates o1 three times in one week, delivered by s1/p1, s2/p2 and s1/p1.
			rate("x1", scoring.RaterMerchant, "m1", "o1", "s1", "p1", 1, 1, at(25, 9)),
			rate("x2", scoring.RaterMerchant, "m1", "o1", "s2", "p2", 2, 1, at(26, 9)),
			rate("x3", scoring.RaterMerchant, "m1", "o1", "s1", "p1", 5, 0.2, at(27, 9)),
			rate("x4", scoring.RaterMerchant, "m2", "o1", "s2", "p2", 4, 1, at(20, 9)),
			rate("x5", scoring.RaterMerchant, "m2", "o2", "s3", "p3", 3, 1, at(21, 9)),
			rate("y1", scoring.RaterConsumer, "c1", "o1", "s1", "p1", 5, 1, at(18, 9)),
			rate("y2", scoring.RaterConsumer, "c2", "o2", "s3", "p3", 2, 1, at(19, 9)),
			rate("y3", scoring.RaterConsumer, "c3", "o3", "", "", 4, 0, at(12, 9)),
		},
		Commitments: map[string][]string{"firm/hq": {"k1", "k2"}, "site/s1": {"k3"}, "staff/p3": {"k4"}},
	}
}

func TestComputeIsReproducible(t *testing.T) {
	m := defaultMethod(t)
	first := scoring.Compute(m, richInputs(), "run")
	if again := scoring.Compute(m, richInputs(), "run"); !reflect.DeepEqual(again, first) {
		t.Fatalf("Compute twice differs:\n%+v\n%+v", first, again)
	}
	// 6 firms + 3 sites + 3 staff, in subject key order.
	if got, want := len(first), 12; got != want {
		t.Fatalf("scores = %d, want %d", got, want)
	}
	for i := 1; i < len(first); i++ {
		a, b := string(first[i-1].Subject)+"/"+first[i-1].SubjectID, string(first[i].Subject)+"/"+first[i].SubjectID
		if a >= b {
			t.Errorf("scores out of order: %s before %s", a, b)
		}
	}
}

func TestComputeIgnoresInputOrder(t *testing.T) {
	m := defaultMethod(t)
	want := scoring.Compute(m, richInputs(), "run")
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			in := richInputs()
			rng.Shuffle(len(in.Firms), func(i, j int) { in.Firms[i], in.Firms[j] = in.Firms[j], in.Firms[i] })
			rng.Shuffle(len(in.Sites), func(i, j int) { in.Sites[i], in.Sites[j] = in.Sites[j], in.Sites[i] })
			rng.Shuffle(len(in.Staff), func(i, j int) { in.Staff[i], in.Staff[j] = in.Staff[j], in.Staff[i] })
			rng.Shuffle(len(in.Records), func(i, j int) { in.Records[i], in.Records[j] = in.Records[j], in.Records[i] })
			rng.Shuffle(len(in.Ratings), func(i, j int) { in.Ratings[i], in.Ratings[j] = in.Ratings[j], in.Ratings[i] })
			got := scoring.Compute(m, in, "run")
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("%s %s after shuffling:\n got %+v\nwant %+v", want[i].Subject, want[i].SubjectID, got[i], want[i])
				}
			}
		})
	}
}
