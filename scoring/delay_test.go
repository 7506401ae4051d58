package scoring_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

func method2026_4(t *testing.T) scoring.Methodology {
	t.Helper()
	m, err := scoring.ParseMethod(scoring.Method2026_4)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The norms 2026.4 publishes are the ones tracking measures by when nothing is wired.
func TestMethod2026_4PublishesTheTrackingNorms(t *testing.T) {
	got := method2026_4(t).TrackingNorms()
	if fmt.Sprint(got) != fmt.Sprint(tracking.DefaultSegmentNorms) {
		t.Errorf("2026.4 segment norms = %v, want tracking's defaults %v", got, tracking.DefaultSegmentNorms)
	}
	if n := method2026_3(t).TrackingNorms(); n != nil {
		t.Errorf("2026.3 segment norms = %v, want none", n)
	}
}

// A sorting centre that sat on 1,000 of its 10,000 parcels past the norm, and the outlet that
// delivered them late (1,000 of 10,000): under 2026.3 the outlet answers (late 1,000 per
// 10,000 delivered, measure 20 → 333.33) and the centre is spotless; under 2026.4 the
// centre does (1,000 attributed late parcels per 10,000 handled, 333.33) and the outlet is
// spotless, and the centre's explanation cites its slow segments.
func TestDelayAttributedUnder2026_4(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("outlet", "centre"),
		Stats: firmStats(map[string]scoring.Counts{
			"outlet": {Handled: 10000, Delivered: 10000, OnTime: 9000, Late: 1000},
			"centre": {Handled: 10000, LateShare: 1000 * tracking.ShareUnit, SlowSorting: 900, SlowLineHaul: 100}})}
	for _, tc := range []struct {
		m              scoring.Methodology
		outlet, centre float64
	}{{method2026_3(t), 333.33, 1000}, {method2026_4(t), 1000, 333.33}} {
		scores := scoring.Compute(tc.m, in, "run")
		near(t, tc.m.Version+" outlet tracking", mustComponent(t, find(t, scores, scoring.Firm, "outlet"), "tracking").Value, tc.outlet)
		centre := mustComponent(t, find(t, scores, scoring.Firm, "centre"), "tracking")
		near(t, tc.m.Version+" centre tracking", centre.Value, tc.centre)
		var delay *scoring.Item
		for i, it := range centre.Items {
			if it.Kind == "delay" {
				delay = &centre.Items[i]
			}
		}
		switch {
		case tc.m.Version == "2026.3" && delay != nil:
			t.Errorf("2026.3 cites delay segments: %+v", *delay)
		case tc.m.Version == "2026.4" && delay == nil:
			t.Errorf("2026.4: the centre's tracking component cites no delay segments: %+v", centre.Items)
		case delay != nil:
			near(t, "the attributed lateness's effect", delay.Effect, 333.33-1000)
			for _, want := range []string{"1000.00 late parcels attributed", "sorting 900 (norm 24 h)", "line haul 100 (norm 48 h)"} {
				if !strings.Contains(delay.Detail, want) {
					t.Errorf("delay detail %q does not say %q", delay.Detail, want)
				}
			}
		}
	}
}

// A late parcel delivered with no slow segment stays the delivering outlet's, and its
// explanation says so.
func TestDelayFallbackExplained(t *testing.T) {
	in := scoring.Inputs{AsOf: asOf, Firms: outlets("outlet"),
		Stats: firmStats(map[string]scoring.Counts{"outlet": {Handled: 10000, Delivered: 10000, OnTime: 9990, Late: 10, LateShare: 10 * tracking.ShareUnit, LateFallback: 10}})}
	tr := mustComponent(t, find(t, scoring.Compute(method2026_4(t), in, "run"), scoring.Firm, "outlet"), "tracking")
	found := false
	for _, it := range tr.Items {
		found = found || it.Kind == "delay" && strings.Contains(it.Detail, "10 late parcels delivered with no segment over its norm")
	}
	if !found {
		t.Errorf("the tracking component does not explain the fallback: %+v", tr.Items)
	}
}

func TestParseMethodSegmentNorms(t *testing.T) {
	for _, tc := range []struct{ name, from, to, field string }{
		{"a kind left out", `"pickup": 24, `, ``, "segment_norms.pickup"},
		{"a norm past the total delay", `"last_mile": 36`, `"last_mile": 96`, "segment_norms.last_mile"},
		{"an unknown kind", `"pickup": 24`, `"pickup": 24, "customs": 12`, "segment_norms.customs"},
		{"the weight without norms", `"segment_norms": {"pickup": 24, "sorting": 24, "line_haul": 48, "last_mile": 36},`, ``, "segment_norms.sorting"},
	} {
		bad := strings.Replace(scoring.Method2026_4, tc.from, tc.to, 1)
		if _, err := scoring.ParseMethod(bad); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: ParseMethod = %v, want it to name %s", tc.name, err, tc.field)
		}
	}
}

// 2026.4 is stored after 2026.3, as a new version, and takes effect a quarter after it.
func TestMethod2026_4StoresAfter2026_3(t *testing.T) {
	w := newWorld(t)
	for _, doc := range []string{scoring.Method2026_2, scoring.Method2026_3, scoring.Method2026_4} {
		if d, created, err := w.svc.PutMethod(w.ctx, regulator, doc); err != nil || !created {
			t.Fatalf("store %s: %+v, %v, %v", d.Version, d, created, err)
		}
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), "2026.3"}, {time.Date(2027, 7, 2, 0, 0, 0, 0, time.UTC), "2026.4"}} {
		if m, _, err := w.svc.MethodAt(w.ctx, tc.at); err != nil || m.Version != tc.want {
			t.Errorf("in force on %s: %s, %v; want %s", tc.at.Format("2006-01-02"), m.Version, err, tc.want)
		}
	}
}
