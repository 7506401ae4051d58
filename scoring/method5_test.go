package scoring_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
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

// Under 2026.5 an outlet's empty-parcel suspects weigh by their share of what it collected:
// 100 suspects beside 300 real parcels take a quarter of its score, and the explanation says
// so; under 2026.4 they weigh as a loss each. A subject with nothing but suspects scores 0.
func TestEmptyParcelsWeighByTheirShareUnder2026_5(t *testing.T) {
	m := method2026_5(t)
	clean := scoring.Counts{Handled: 300, Delivered: 300, OnTime: 290, Late: 10}
	fraud := clean
	fraud.EmptySuspect = 100
	score := func(m scoring.Methodology, c scoring.Counts) scoring.Score {
		in := scoring.Inputs{AsOf: asOf, Firms: outlets("f"), Stats: firmStats(map[string]scoring.Counts{"f": c})}
		return find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f")
	}
	c, f := score(m, clean), score(m, fraud)
	near(t, "2026.5 score with a quarter suspects", f.Value, round2(c.Value*0.75))
	ep := mustComponent(t, f, "empty_parcels")
	if ep.Weight != 0 || len(ep.Items) != 1 || !strings.Contains(ep.Detail, "100 empty-parcel suspects of 400") || !strings.Contains(ep.Items[0].Ref, "/empty_suspect") {
		t.Errorf("empty_parcels component = %+v", ep)
	}
	near(t, "its effect", ep.Value, -round2(c.Value*0.25))
	for _, cp := range c.Components {
		if cp.Party == "empty_parcels" {
			t.Errorf("clean outlet has an empty_parcels component: %+v", cp)
		}
	}
	if only := score(m, scoring.Counts{EmptySuspect: 40}); only.Value != 0 {
		t.Errorf("2026.5, nothing but suspects: score %v, want 0", only.Value)
	}
	// 2026.4 is as published: the suspects weigh in the incidents part, as losses.
	if f4, c4 := score(method2026_4(t), fraud), score(method2026_4(t), clean); !(f4.Value < c4.Value) {
		t.Errorf("2026.4: with suspects %v, without %v", f4.Value, c4.Value)
	}
	for _, cp := range score(method2026_4(t), fraud).Components {
		if cp.Party == "empty_parcels" {
			t.Errorf("2026.4 has an empty_parcels component: %+v", cp)
		}
	}
	// The suspects weigh once: a document weighing them both ways is refused.
	bad := strings.Replace(scoring.Method2026_5, `"empty_suspect_per_10k": 0`, `"empty_suspect_per_10k": 1.0`, 1)
	if _, err := scoring.ParseMethod(bad); err == nil || !strings.Contains(err.Error(), "empty_suspect_per_10k") {
		t.Errorf("empty_share with a suspect weight: %v, want refused", err)
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

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
