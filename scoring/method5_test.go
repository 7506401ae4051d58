package scoring_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

func method2026_5(t *testing.T) scoring.Methodology {
	t.Helper()
	m, err := scoring.ParseMethod(scoring.Method2026_5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// 2026.5 is stored after 2026.4, as a new version, and takes effect on 2028-01-01.
func TestMethod2026_5StoresAfter2026_4(t *testing.T) {
	w := newWorld(t)
	for _, doc := range []string{scoring.Method2026_2, scoring.Method2026_3, scoring.Method2026_4, scoring.Method2026_5} {
		if d, created, err := w.svc.PutMethod(w.ctx, regulator, doc); err != nil || !created {
			t.Fatalf("store %s: %+v, %v, %v", d.Version, d, created, err)
		}
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC), "2026.4"}, {time.Date(2028, 1, 2, 0, 0, 0, 0, time.UTC), "2026.5"}} {
		if m, _, err := w.svc.MethodAt(w.ctx, tc.at); err != nil || m.Version != tc.want {
			t.Errorf("in force on %s: %s, %v; want %s", tc.at.Format("2006-01-02"), m.Version, err, tc.want)
		}
	}
	// The segment norms are 2026.4's: the shares measured for 2026.4 are 2026.5's too.
	if a, b := method2026_4(t).TrackingNorms(), method2026_5(t).TrackingNorms(); len(a) != len(b) || a[tracking.SegLastMile] != b[tracking.SegLastMile] || a[tracking.SegPickup] != b[tracking.SegPickup] {
		t.Errorf("2026.5 norms %v, 2026.4's %v", b, a)
	}
}

// Under 2026.5 an outlet's empty-parcel suspects weigh as under 2026.4, a loss each per 10,000
// parcels collected, in the tracking part, and its explanation cites them: 100 suspects beside
// 300 real parcels score the outlet as 2026.4 does, far below the same outlet without them.
// (A rule that weighed them by their share of what was collected, the score times the share
// that was service, ranked the validity bench's outlets worse: METHOD.md, 2026.5.)
func TestEmptyParcelsWeighAsUnder2026_4In2026_5(t *testing.T) {
	m4, m5 := method2026_4(t), method2026_5(t)
	if m5.TrackingWeights["empty_suspect_per_10k"] != m4.TrackingWeights["empty_suspect_per_10k"] || m5.TrackingWeights["empty_suspect_per_10k"] != 1 {
		t.Fatalf("empty_suspect_per_10k 2026.5 %v, 2026.4 %v", m5.TrackingWeights["empty_suspect_per_10k"], m4.TrackingWeights["empty_suspect_per_10k"])
	}
	clean := scoring.Counts{Handled: 300, Delivered: 300, OnTime: 290, Late: 10}
	fraud := clean
	fraud.EmptySuspect = 100
	score := func(m scoring.Methodology, c scoring.Counts) scoring.Score {
		in := scoring.Inputs{AsOf: asOf, Firms: outlets("f"), Stats: firmStats(map[string]scoring.Counts{"f": c})}
		return find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
	}
	f5, c5, f4 := score(m5, fraud), score(m5, clean), score(m4, fraud)
	near(t, "2026.5 score with suspects, against 2026.4's", f5.Value, f4.Value)
	if !(f5.Value < c5.Value-100) {
		t.Errorf("2026.5: with 100 suspects %v, without %v; want far below", f5.Value, c5.Value)
	}
	cited := false
	for _, cp := range f5.Components {
		if cp.Party == "empty_parcels" {
			t.Errorf("2026.5 has a component of its own for the suspects: %+v", cp)
		}
		for _, it := range cp.Items {
			cited = cited || strings.Contains(it.Detail, "100 empty-parcel suspects")
		}
		cited = cited || (cp.Party == "tracking" && strings.Contains(cp.Detail, "100 empty-parcel suspects"))
	}
	if !cited {
		t.Errorf("2026.5's explanation does not cite the suspects: %+v", f5.Components)
	}
}

// A courier who scanned the arrival of 100 parcels that then waited at the outlet past the
// norm (late share 100, in hand 0) is on time under 2026.5, which reads the in-hand share for
// people, and late under 2026.4; a site with the same late share is late under both.
func TestStaffAnswerForTheTimeInHandUnder2026_5(t *testing.T) {
	c := scoring.Counts{Handled: 1000, LateShare: 100 * tracking.ShareUnit, SlowLastMile: 100}
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("f"), Sites: []scoring.SiteIn{{ID: "s", FirmID: "f"}}, Staff: []scoring.StaffIn{{ID: "p", FirmID: "f"}},
		Stats: map[scoring.SubjectKind]map[string]scoring.Counts{scoring.Site: {"s": c}, scoring.Staff: {"p": c}}}
	timely := func(m scoring.Methodology, kind scoring.SubjectKind, id string) scoring.Component {
		for _, cp := range find(t, scoring.Compute(m, in, "run"), kind, id).Components {
			if cp.Party == "tracking" && strings.HasPrefix(cp.Detail, "timeliness") {
				return cp
			}
		}
		t.Fatalf("%s %s under %s: no timeliness part", kind, id, m.Version)
		return scoring.Component{}
	}
	m4, m5 := method2026_4(t), method2026_5(t)
	if v := timely(m5, scoring.Staff, "p").Value; v != 1000 {
		t.Errorf("2026.5 courier timeliness %v, want 1000", v)
	}
	if v := timely(m4, scoring.Staff, "p").Value; !(v < 1000) {
		t.Errorf("2026.4 courier timeliness %v, want below 1000", v)
	}
	near(t, "2026.5 site timeliness", timely(m5, scoring.Site, "s").Value, timely(m4, scoring.Site, "s").Value)
	var delay string
	for _, it := range timely(m5, scoring.Staff, "p").Items {
		if it.Kind == "delay" {
			delay = it.Detail
		}
	}
	if !strings.Contains(delay, "of these 0.00 on segments the person had in hand") {
		t.Errorf("2026.5 courier delay item: %q", delay)
	}
}

// paced gives rater's ratings of firm f with stars at t0 plus each offset, ids prefix0, prefix1, ...
func paced(rater, prefix string, stars int, t0 time.Time, offsets ...time.Duration) []scoring.Rating {
	var rs []scoring.Rating
	for i, d := range offsets {
		rs = append(rs, rating(fmt.Sprintf("%s%d", prefix, i), scoring.RaterMerchant, rater, "f", stars, 1, t0.Add(d)))
	}
	return rs
}

// Under 2026.5 a burst is one-star ratings that follow one another within a tenth of the
// rater's own pace: a busy merchant that rates a parcel every three hours and smears a carrier
// with six one-star ratings five minutes apart has the six flagged, not its honest one-star
// rating four hours later at its usual pace, which 2026.4 flags with them. A rater with no
// ratings before keeps 2026.4's rule: five one-star ratings four hours apart are a burst.
func TestBurstsJudgedByTheRatersPaceUnder2026_5(t *testing.T) {
	m4, m5 := method2026_4(t), method2026_5(t)
	if m5.BurstPace != 0.1 || m4.BurstPace != 0 {
		t.Fatalf("burst_pace 2026.5 %v, 2026.4 %v", m5.BurstPace, m4.BurstPace)
	}
	const h = time.Hour
	t0 := asOf.AddDate(0, 0, -3)
	var usual []time.Duration
	for d := 3 * h; d <= 20*24*h; d += 3 * h {
		usual = append(usual, -d)
	}
	var smear []time.Duration
	for i := range 6 {
		smear = append(smear, time.Duration(i)*5*time.Minute)
	}
	rs := append(paced("busy", "u", 4, t0, usual...), paced("busy", "s", 1, t0, smear...)...)
	rs = append(rs, paced("busy", "honest", 1, t0, 25*time.Minute+4*h)...)
	flagged := func(m scoring.Methodology, rs []scoring.Rating) map[string]bool {
		out := map[string]bool{}
		for _, r := range scoring.Reassess(m, rs, nil) {
			for _, f := range r.Flags {
				if scoring.FlagKindOf(f) == scoring.FlagBurst {
					out[r.ID] = true
					if r.Weight != m.BurstWeight {
						t.Errorf("%s %s: weight %v, want %v", m.Version, r.ID, r.Weight, m.BurstWeight)
					}
				}
			}
		}
		return out
	}
	f4, f5 := flagged(m4, rs), flagged(m5, rs)
	for i := range 6 {
		if id := fmt.Sprint("s", i); !f4[id] || !f5[id] {
			t.Errorf("smear rating %s flagged 2026.4 %v, 2026.5 %v; want both", id, f4[id], f5[id])
		}
	}
	if !f4["honest0"] || f5["honest0"] || len(f5) != 6 {
		t.Errorf("the honest one-star 4 h after: flagged 2026.4 %v, 2026.5 %v (2026.5 flags %d); want 2026.4 only, 6", f4["honest0"], f5["honest0"], len(f5))
	}
	rare := paced("rare", "r", 1, t0, 0, 4*h, 8*h, 12*h, 16*h)
	if n4, n5 := len(flagged(m4, rare)), len(flagged(m5, rare)); n4 != 5 || n5 != 5 {
		t.Errorf("a rater with no pace, five one-stars 4 h apart: flagged 2026.4 %d, 2026.5 %d; want 5 each", n4, n5)
	}

	// The run judges afresh under 2026.5: a flag the honest rating got on arrival, when fewer of
	// the rater's ratings were in, goes with its weight; 2026.4 only ever adds flags.
	early := append([]scoring.Rating(nil), rs...)
	last := &early[len(early)-1]
	last.Weight, last.Flags = 0.2, []string{"burst: 7 one-star ratings by this rater within 24 hours"}
	for _, r := range scoring.Reassess(m5, early, nil) {
		if r.ID == "honest0" && (r.Weight != 1 || len(r.Flags) != 0) {
			t.Errorf("2026.5, honest0 flagged on arrival: weight %v flags %q, want 1 and none", r.Weight, r.Flags)
		}
	}
	for _, r := range scoring.Reassess(m4, early, nil) {
		if r.ID == "honest0" && (r.Weight != 0.2 || len(r.Flags) != 1) {
			t.Errorf("2026.4, honest0 flagged on arrival: weight %v flags %q, want as given", r.Weight, r.Flags)
		}
	}

	// RejudgeBursts weighs a run's ratings by another version's rule: inputs flagged by 2026.4
	// read as 2026.5 would have flagged them.
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("f"), Ratings: scoring.Reassess(m4, rs, nil)}
	for _, r := range scoring.RejudgeBursts(m5, in) {
		if got := hasFlag(r.Flags, "burst"); got != f5[r.ID] || (!got && r.Weight != 1) {
			t.Errorf("rejudged %s: burst %v weight %v, want burst %v", r.ID, got, r.Weight, f5[r.ID])
		}
	}

	bad := strings.Replace(scoring.Method2026_5, `"burst_pace": 0.1`, `"burst_pace": 2`, 1)
	if _, err := scoring.ParseMethod(bad); err == nil || !strings.Contains(err.Error(), "burst_pace") {
		t.Errorf("burst_pace 2: %v, want refused", err)
	}
}

// Under 2026.5 a platform's rating is weighed on arrival by the rater's pace over the 30 days
// before it: a merchant that rated a parcel every three hours for ten days, then five one-star
// ratings five minutes apart, has the fifth a burst on arrival and its one-star rating two hours
// later not (the ratings of the last day alone would make its pace 9 hours, and the one a burst).
func TestRatePlatformBurstsByPaceUnder2026_5(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "credtrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	arch := &fakeArchive{firms: []courier.Firm{firm("hqA", "91130100HA")}}
	delivered := time.Date(2028, 1, 2, 9, 0, 0, 0, cst)
	ps := parcels{}
	wb := func(i int) string { return fmt.Sprintf("WB%03d", i) }
	for i := range 100 {
		ps[wb(i)] = tracking.Trace{Waybill: wb(i), Carrier: "hqA", MerchantID: "M-1", DeliveredAt: delivered,
			Events: []tracking.Event{{Code: tracking.Delivered, Waybill: wb(i), Carrier: "hqA", At: delivered}}}
	}
	now := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	svc := scoring.NewService(db.Scoring(), arch, ps, nil, func() time.Time { return now })
	for _, doc := range []string{scoring.Method2026_2, scoring.Method2026_3, scoring.Method2026_4, scoring.Method2026_5} {
		if _, _, err := svc.PutMethod(ctx, regulator, doc); err != nil {
			t.Fatal(err)
		}
	}
	now = time.Date(2028, 1, 14, 0, 0, 0, 0, time.UTC)
	rate := func(i, stars int, at time.Time) scoring.PlatformRating {
		return scoring.PlatformRating{RatingInput: scoring.RatingInput{Waybill: wb(i), Stars: stars}, RaterKind: scoring.RaterMerchant, RaterID: "M-1", RatedAt: at}
	}
	t0 := delivered.Add(time.Hour)
	var usual []scoring.PlatformRating
	for i := range 80 {
		usual = append(usual, rate(i, 4, t0.Add(time.Duration(i)*3*time.Hour)))
	}
	if _, err := svc.RatePlatform(ctx, platform, usual); err != nil {
		t.Fatal(err)
	}
	s0 := t0.Add(80 * 3 * time.Hour)
	var push []scoring.PlatformRating
	for i := range 5 {
		push = append(push, rate(80+i, 1, s0.Add(time.Duration(i)*5*time.Minute)))
	}
	push = append(push, rate(85, 1, s0.Add(20*time.Minute+2*time.Hour)))
	out, err := svc.RatePlatform(ctx, platform, push)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		burst := len(o.Rating.Flags) == 1 && scoring.FlagKindOf(o.Rating.Flags[0]) == scoring.FlagBurst
		// On arrival only the fifth one-star makes five (the run flags the first four with it).
		if want := o.Index == 4; o.Err != nil || burst != want || (want && o.Rating.Weight != 0.2) || (!want && o.Rating.Weight != 1) {
			t.Errorf("item %d: weight %v flags %q, %v; want a burst %v", o.Index, o.Rating.Weight, o.Rating.Flags, o.Err, want)
		}
	}
}
