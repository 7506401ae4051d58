package scoring_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// oneStars gives one-star ratings by rater at t0 plus each offset.
func oneStars(kind scoring.RaterKind, rater, prefix string, t0 time.Time, offsets ...time.Duration) []scoring.Rating {
	var rs []scoring.Rating
	for i, d := range offsets {
		rs = append(rs, rating(fmt.Sprintf("%s%d", prefix, i), kind, rater, "f", 1, 1, t0.Add(d)))
	}
	return rs
}

func hasFlag(flags []string, prefix string) bool {
	for _, f := range flags {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

func TestReassessBursts(t *testing.T) {
	m := defaultMethod(t) // burst_count 5, burst_weight 0.2
	t0 := time.Date(2026, 5, 20, 9, 0, 0, 0, cst)
	h := time.Hour
	flagged := func(rs []scoring.Rating, ids ...string) map[string]float64 {
		w := map[string]float64{}
		for _, r := range rs {
			w[r.ID] = 1
		}
		for _, id := range ids {
			w[id] = 0.2
		}
		return w
	}
	five := oneStars(scoring.RaterMerchant, "m1", "a", t0, 0, h, 5*h, 12*h, 23*h)
	tests := []struct {
		name string
		rs   []scoring.Rating
		want map[string]float64 // id → weight; 0.2 ones carry a burst flag
	}{
		{"five one-stars within 24 hours", five, flagged(five, "a0", "a1", "a2", "a3", "a4")},
		{"four one-stars within 24 hours", five[:4], flagged(five[:4])},
		{"five one-stars over three days", oneStars(scoring.RaterMerchant, "m1", "a", t0, 0, 18*h, 36*h, 54*h, 72*h),
			flagged(five)}, // each has at most two others within 24 hours either side
		{"five raters, one one-star each", []scoring.Rating{
			rating("a0", scoring.RaterMerchant, "m1", "f", 1, 1, t0), rating("a1", scoring.RaterMerchant, "m2", "f", 1, 1, t0),
			rating("a2", scoring.RaterMerchant, "m3", "f", 1, 1, t0), rating("a3", scoring.RaterMerchant, "m4", "f", 1, 1, t0),
			rating("a4", scoring.RaterMerchant, "m5", "f", 1, 1, t0)}, flagged(five)},
		{"a merchant and a consumer with the same id", append(five[:4:4], rating("c", scoring.RaterConsumer, "m1", "f", 1, 1, t0.Add(2*h))),
			map[string]float64{"a0": 1, "a1": 1, "a2": 1, "a3": 1, "c": 1}},
		{"four one-stars and a two-star", append(five[:4:4], rating("b", scoring.RaterMerchant, "m1", "f", 2, 1, t0.Add(2*h))),
			map[string]float64{"a0": 1, "a1": 1, "a2": 1, "a3": 1, "b": 1}},
		{"a burst and a later one-star", append(five[:5:5], rating("late", scoring.RaterMerchant, "m1", "f", 1, 1, t0.Add(72*h))),
			map[string]float64{"a0": 0.2, "a1": 0.2, "a2": 0.2, "a3": 0.2, "a4": 0.2, "late": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]scoring.Rating(nil), tc.rs...)
			got := scoring.Reassess(m, tc.rs, nil)
			if len(got) != len(tc.rs) {
				t.Fatalf("Reassess gave %d ratings for %d", len(got), len(tc.rs))
			}
			for _, r := range got {
				want, ok := tc.want[r.ID]
				if !ok {
					t.Fatalf("unexpected rating %s", r.ID)
				}
				if r.Weight != want {
					t.Errorf("%s weight = %v, want %v (flags %q)", r.ID, r.Weight, want, r.Flags)
				}
				if burst := hasFlag(r.Flags, "burst:"); burst != (want < 1) {
					t.Errorf("%s burst flag = %v, want %v (flags %q)", r.ID, burst, want < 1, r.Flags)
				}
			}
			if !reflect.DeepEqual(tc.rs, before) {
				t.Errorf("Reassess changed its input")
			}
		})
	}
	t.Run("five one-stars spread over 40 hours", func(t *testing.T) {
		// No 24-hour window holds five of these (0, 12, 23, 30, 40 h: the five span 40 h), so none
		// is a burst; but the one at 23 h has the other four within 24 hours either side.
		for _, r := range scoring.Reassess(m, oneStars(scoring.RaterMerchant, "m1", "a", t0, 0, 12*h, 23*h, 30*h, 40*h), nil) {
			if r.Weight != 1 || len(r.Flags) != 0 {
				t.Errorf("%s = weight %v flags %q, want 1 and no flag", r.ID, r.Weight, r.Flags)
			}
		}
	})
	t.Run("flagged at rating time, flagged once", func(t *testing.T) {
		rs := append([]scoring.Rating(nil), five...)
		rs[4].Weight, rs[4].Flags = 0.2, []string{"burst: 5 one-star ratings by this rater within 24 hours"}
		got := scoring.Reassess(m, rs, nil)
		if got[4].Weight != 0.2 || len(got[4].Flags) != 1 {
			t.Errorf("a4 = weight %v flags %q, want 0.2 and one burst flag", got[4].Weight, got[4].Flags)
		}
		if want := "burst: 5 one-star ratings"; !strings.HasPrefix(got[0].Flags[0], want) {
			t.Errorf("a0 flags %q, want %q", got[0].Flags, want)
		}
	})
}

func TestAssess(t *testing.T) {
	m := defaultMethod(t) // burst_count 5, burst_weight 0.2, suspect_five_star 0
	now := time.Date(2026, 5, 20, 18, 0, 0, 0, cst)
	h := time.Hour
	r := func(stars int) scoring.Rating {
		return rating("new", scoring.RaterMerchant, "m1", "f", stars, 0, now)
	}
	tests := []struct {
		name      string
		r         scoring.Rating
		recent    []scoring.Rating
		suspect   []tracking.AnomalyKind
		want      float64
		wantFlags []string // parts of the flags, in order
	}{
		{"five stars on an empty-parcel suspect", r(5), nil, []tracking.AnomalyKind{tracking.AnNoTransit}, 0,
			[]string{"five stars on an empty-parcel suspect (no_transit)"}},
		{"two signals named", r(5), nil, []tracking.AnomalyKind{tracking.AnNoTransit, tracking.AnWeight}, 0,
			[]string{"(no_transit, implausible_weight)"}},
		{"one star on a suspect", r(1), nil, []tracking.AnomalyKind{tracking.AnNoTransit}, 1, nil},
		{"four stars on a suspect", r(4), nil, []tracking.AnomalyKind{tracking.AnNoTransit}, 1, nil},
		{"five stars, no signal", r(5), nil, nil, 1, nil},
		{"the fifth one-star in a day", r(1), oneStars(scoring.RaterMerchant, "m1", "o", now, -h, -2*h, -10*h, -23*h), nil, 0.2,
			[]string{"burst: 5 one-star ratings by this rater within 24 hours"}},
		{"the fourth one-star in a day", r(1), oneStars(scoring.RaterMerchant, "m1", "o", now, -h, -2*h, -10*h), nil, 1, nil},
		{"one-stars older than a day", r(1), oneStars(scoring.RaterMerchant, "m1", "o", now, -h, -2*h, -10*h, -25*h), nil, 1, nil},
		{"an edit does not count itself twice", r(1),
			append(oneStars(scoring.RaterMerchant, "m1", "o", now, -h, -2*h, -10*h), rating("new", scoring.RaterMerchant, "m1", "f", 1, 1, now.Add(-3*h))), nil, 1, nil},
		{"other stars do not make a burst", r(1),
			append(oneStars(scoring.RaterMerchant, "m1", "o", now, -h, -2*h, -10*h), rating("two", scoring.RaterMerchant, "m1", "f", 2, 1, now.Add(-3*h))), nil, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, flags := scoring.Assess(m, tc.r, tc.recent, tc.suspect)
			if w != tc.want {
				t.Errorf("weight = %v, want %v (flags %q)", w, tc.want, flags)
			}
			if len(flags) != len(tc.wantFlags) {
				t.Fatalf("flags = %q, want %d like %q", flags, len(tc.wantFlags), tc.wantFlags)
			}
			for i, f := range tc.wantFlags {
				if !strings.Contains(flags[i], f) {
					t.Errorf("flag %d = %q, want it to contain %q", i, flags[i], f)
				}
			}
		})
	}
}

// TestBurstOneRule: a rating is a burst by the same rule when it is given (Assess, seeing the
// rater's other ratings) and when a run looks at all of them (Reassess): BurstCount one-stars in
// one 24-hour window that holds it, and not merely four others within 24 hours either side.
func TestBurstOneRule(t *testing.T) {
	m := defaultMethod(t)
	t0 := time.Date(2026, 5, 20, 9, 0, 0, 0, cst)
	h := time.Hour
	tests := []struct {
		name  string
		hours []time.Duration
		burst bool
	}{
		{"five within 24 hours", []time.Duration{0, h, 5 * h, 12 * h, 23 * h}, true},
		{"five over 40 hours", []time.Duration{0, 12 * h, 23 * h, 30 * h, 40 * h}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := oneStars(scoring.RaterMerchant, "m1", "a", t0, tc.hours...)
			re := scoring.Reassess(m, rs, nil)
			for i, r := range rs {
				w, flags := scoring.Assess(m, r, rs, nil)
				if got := hasFlag(flags, "burst:"); got != tc.burst {
					t.Errorf("Assess(%s) burst = %v, want %v (flags %q)", r.ID, got, tc.burst, flags)
				}
				if w != re[i].Weight {
					t.Errorf("%s: Assess weighs %v, Reassess %v", r.ID, w, re[i].Weight)
				}
			}
		})
	}
}

func method2026_2(t *testing.T) scoring.Methodology {
	t.Helper()
	m, err := scoring.ParseMethod(scoring.Method2026_2)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// given returns rs with each rating given (RatedAt) at t0 plus its offset, all stored at
// stored: a platform's push of ratings given over days.
func given(rs []scoring.Rating, stored, t0 time.Time, offsets ...time.Duration) []scoring.Rating {
	out := append([]scoring.Rating(nil), rs...)
	for i := range out {
		out[i].CreatedAt, out[i].UpdatedAt, out[i].RatedAt = stored, stored, t0.Add(offsets[i])
	}
	return out
}

func TestBurstsByRatedAt(t *testing.T) {
	t0 := time.Date(2026, 5, 20, 9, 0, 0, 0, cst)
	h := time.Hour
	push := t0.Add(10 * 24 * h)
	for _, m := range []scoring.Methodology{defaultMethod(t), method2026_2(t)} {
		t.Run(m.Version, func(t *testing.T) {
			// Five one-stars pushed at one instant, given a day and more apart: no burst.
			spread := given(oneStars(scoring.RaterMerchant, "m1", "a", t0, 0, 0, 0, 0, 0), push, t0, 0, 25*h, 50*h, 75*h, 100*h)
			for _, r := range scoring.Reassess(m, spread, nil) {
				if r.Weight != 1 || hasFlag(r.Flags, "burst:") {
					t.Errorf("%s given %v, pushed with the others: weight %v flags %q, want 1 and no burst", r.ID, r.RatedAt, r.Weight, r.Flags)
				}
			}
			// Five stored a day apart but given within 23 hours: a burst.
			close := oneStars(scoring.RaterMerchant, "m1", "a", t0, 0, 25*h, 50*h, 75*h, 100*h)
			for i := range close {
				close[i].RatedAt = t0.Add(time.Duration(i) * 5 * h)
			}
			for _, r := range scoring.Reassess(m, close, nil) {
				if r.Weight != 0.2 || !hasFlag(r.Flags, "burst: 5 one-star") {
					t.Errorf("%s given %v: weight %v flags %q, want 0.2 and a burst of 5", r.ID, r.RatedAt, r.Weight, r.Flags)
				}
			}
		})
	}
}

func TestBurstsPerTree(t *testing.T) {
	t0 := time.Date(2026, 5, 20, 9, 0, 0, 0, cst)
	h := time.Hour
	// Firms a1 and a2 are under brand hqA, b1 under hqB.
	roots := map[string]string{"hqA": "hqA", "a1": "hqA", "a2": "hqA", "hqB": "hqB", "b1": "hqB"}
	ones := func(firms ...string) []scoring.Rating {
		var rs []scoring.Rating
		for i, f := range firms {
			rs = append(rs, rating(fmt.Sprintf("r%d", i), scoring.RaterMerchant, "m1", f, 1, 1, t0.Add(time.Duration(i)*h)))
		}
		return rs
	}
	tests := []struct {
		name   string
		m      scoring.Methodology
		rs     []scoring.Rating
		weight float64 // of every rating
	}{
		{"2026.1: one rater's ones across two brands are one burst", defaultMethod(t), ones("a1", "a1", "a2", "b1", "b1"), 0.2},
		{"2026.2: three of one brand and two of another are no burst", method2026_2(t), ones("a1", "a1", "a2", "b1", "b1"), 1},
		{"2026.2: five of one brand's tree, two of its firms, are a burst", method2026_2(t), ones("a1", "a2", "hqA", "a1", "a2"), 0.2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range scoring.Reassess(tc.m, tc.rs, roots) {
				if r.Weight != tc.weight {
					t.Errorf("%s of %s: weight %v (flags %q), want %v", r.ID, r.FirmID, r.Weight, r.Flags, tc.weight)
				}
			}
		})
	}
	t.Run("2026.2 without a tree: each firm its own", func(t *testing.T) {
		for _, r := range scoring.Reassess(method2026_2(t), ones("a1", "a1", "a2", "a2", "a2"), nil) {
			if r.Weight != 1 {
				t.Errorf("%s: weight %v, want 1 (no firm has five)", r.ID, r.Weight)
			}
		}
	})
}

func TestNettingKeepsBurstWeight(t *testing.T) {
	// Monday 2026-05-18 (+08:00): a burst of five ones of firm f, then an honest five-star of
	// f on Thursday, by the same merchant, in one ISO week.
	t0 := time.Date(2026, 5, 18, 9, 0, 0, 0, cst)
	h := time.Hour
	rs := oneStars(scoring.RaterMerchant, "m1", "a", t0, 0, h, 2*h, 3*h, 4*h)
	rs = append(rs, rating("honest", scoring.RaterMerchant, "m1", "f", 5, 1, t0.Add(72*h)))
	type net struct {
		stars  int
		weight float64
	}
	run := func(m scoring.Methodology) []net {
		var out []net
		for _, r := range scoring.Netted(m, scoring.Reassess(m, rs, nil)) {
			out = append(out, net{r.Stars, math.Round(r.Weight*1000) / 1000})
		}
		return out
	}
	// 2026.1: the six net to one rating: stars round((5×1×0.2 + 5×1)/(5×0.2 + 1)) = 3, weight
	// min(2, 1) = 1: the burst weighs as much as the honest rating.
	if got, want := run(defaultMethod(t)), []net{{3, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("2026.1 netted = %+v, want %+v", got, want)
	}
	// 2026.2: the burst nets apart, to one one-star of min(5×0.2, 0.2) = 0.2; the honest
	// five-star keeps its weight of one.
	if got, want := run(method2026_2(t)), []net{{1, 0.2}, {5, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("2026.2 netted = %+v, want %+v", got, want)
	}
	// Honest ratings alone net as before: two honest fours and a two in one week.
	plain := []scoring.Rating{rating("p1", scoring.RaterMerchant, "m1", "f", 4, 1, t0), rating("p2", scoring.RaterMerchant, "m1", "f", 4, 1, t0.Add(h)),
		rating("p3", scoring.RaterMerchant, "m1", "f", 1, 1, t0.Add(2*h))}
	got := scoring.Netted(method2026_2(t), plain)
	if len(got) != 1 || got[0].Stars != 3 || got[0].Weight != 1 {
		t.Errorf("2026.2 netted honest ratings = %+v, want one of 3 stars weight 1", got)
	}
}
