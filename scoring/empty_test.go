package scoring_test

import (
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
)

// trackingValue is the tracking component of an outlet with counts c under m.
func trackingValue(t *testing.T, m scoring.Methodology, c scoring.Counts) float64 {
	t.Helper()
	in := scoring.Inputs{AsOf: asOf, Firms: []scoring.FirmIn{{ID: "f", Kind: "outlet"}}, Stats: firmStats(map[string]scoring.Counts{"f": c})}
	return mustComponent(t, find(t, scoring.Compute(m, in, "run"), scoring.Firm, "f"), "tracking").Value
}

// Issue 12: a lost parcel scores worse than a late one (a deemed loss counts as lost and
// late), and under 2026.2 a campaign of fake parcels weighs against the outlet that collected
// them instead of lifting it.
func TestLostAndEmptyParcelsScore(t *testing.T) {
	def := defaultMethod(t)
	v2, err := scoring.ParseMethod(scoring.Method2026_2)
	if err != nil {
		t.Fatalf("parse 2026.2: %v", err)
	}
	late := trackingValue(t, def, scoring.Counts{Handled: 1000, OnTime: 999, Late: 1})
	lost := trackingValue(t, def, scoring.Counts{Handled: 1000, OnTime: 999, Late: 1, Lost: 1})
	if !(lost < late) {
		t.Errorf("lost parcel: tracking %v, late parcel %v: losing must score worse", lost, late)
	}

	// The worse outlet: 800 of 1000 real parcels on time, and 300 fakes, which tracking now
	// counts as empty_suspect only; the better one: 950 of 1000.
	better := scoring.Counts{Handled: 1000, Delivered: 1000, OnTime: 950, Late: 50}
	worse := scoring.Counts{Handled: 1000, Delivered: 1000, OnTime: 800, Late: 200, EmptySuspect: 300}
	worseClean := worse
	worseClean.EmptySuspect = 0
	if b, w := trackingValue(t, v2, better), trackingValue(t, v2, worse); !(w < b) {
		t.Errorf("2026.2: worse outlet with fakes %v, better outlet %v", w, b)
	}
	if w, c := trackingValue(t, v2, worse), trackingValue(t, v2, worseClean); !(w < c) {
		t.Errorf("2026.2: the fakes must count against the outlet: with %v, without %v", w, c)
	}
	// 2026.1 does not weigh them (versions never change), but they no longer lift it either.
	if w, c := trackingValue(t, def, worse), trackingValue(t, def, worseClean); w != c {
		t.Errorf("2026.1: with fakes %v, without %v: want equal", w, c)
	}
	// Nothing but fakes is never a perfect tracking score under 2026.2.
	if got := trackingValue(t, v2, scoring.Counts{EmptySuspect: 300}); got >= 100 {
		t.Errorf("2026.2: only fakes gives tracking %v, want near 0", got)
	}
}

// 2026.2 is a new version a regulator can store now: it takes effect later than now, and the
// built-in 2026.1 stays in force until then.
func TestMethod2026_2Stores(t *testing.T) {
	w := newWorld(t)
	d, created, err := w.svc.PutMethod(w.ctx, regulator, scoring.Method2026_2)
	if err != nil || !created {
		t.Fatalf("store 2026.2: %+v, %v, %v", d, created, err)
	}
	m, _, err := w.svc.MethodAt(w.ctx, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil || m.Version != "2026.1" {
		t.Errorf("in force on 2026-12-31: %s, %v; want 2026.1", m.Version, err)
	}
	m, _, err = w.svc.MethodAt(w.ctx, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
	if err != nil || m.Version != "2026.2" {
		t.Errorf("in force on 2027-01-02: %s, %v; want 2026.2", m.Version, err)
	}
}
