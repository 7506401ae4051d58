package tracking_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/credtrace/credtrace/tracking"
)

// sum adds up one metric over every day of a subject's statistics.
func (w *world) sum(t *testing.T, kind tracking.SubjectKind, id string, m tracking.Metric) int {
	t.Helper()
	n := 0
	for _, c := range w.stats(t, kind, id) {
		n += c[m]
	}
	return n
}

// A parcel that silently stops being scanned is lost once past its promise plus the total
// delay (issue 12, item 1): against the holder at its last scan and the carrier, once however
// often the scan runs, and exactly back when a later scan revives it.
func TestDeemedLost(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000001"
	tests := []struct {
		name  string
		last  tracking.Code
		limit time.Duration // the total delay that applies
	}{
		{"between cities (in transit)", tracking.Arrived, 7 * 24 * time.Hour},
		{"within the city (out for delivery where collected)", tracking.OutForDelivery, 3 * 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.ingestAt(t, ev("c1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA),
				ev("t1", wb, w.hqA, tracking.Departed, t0.Add(3*time.Hour), w.siteA, w.xA),
				ev("a1", wb, w.hqA, tc.last, t0.Add(6*time.Hour), w.siteBr, w.yBr))
			deadline := t0.Add(72*time.Hour + tc.limit) // promise 72h, then the total delay
			lost := func() map[string]int {
				return map[string]int{"site": w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MLost),
					"staff": w.sum(t, tracking.SubjectStaff, w.yBr, tracking.MLost), "holder firm": w.sum(t, tracking.SubjectFirm, w.brA, tracking.MLost),
					"carrier": w.sum(t, tracking.SubjectFirm, w.hqA, tracking.MLost), "collector": w.sum(t, tracking.SubjectSite, w.siteA, tracking.MLost)}
			}
			want := func(n int) map[string]int {
				return map[string]int{"site": n, "staff": n, "holder firm": n, "carrier": n, "collector": 0}
			}
			check := func(when string, w map[string]int, n int) {
				t.Helper()
				if fmt.Sprint(w) != fmt.Sprint(want(n)) {
					t.Errorf("%s: lost %v, want %v", when, w, want(n))
				}
			}
			w.scanAt(t, deadline.Add(-time.Minute))
			check("before the total delay ran out", lost(), 0)
			w.scanAt(t, deadline.Add(time.Minute))
			w.scanAt(t, deadline.Add(2*time.Minute)) // idempotent: a second scan (another replica) counts nothing more
			check("after the total delay", lost(), 1)
			if got := w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MLate); got != 1 {
				t.Errorf("late at the holder's site = %d, want 1: a lost parcel was not on time either", got)
			}
			// A later scan revives it: the loss moves back exactly; the delivery is judged late
			// the normal way.
			w.clk.Set(deadline.Add(time.Hour))
			w.accept(t, ev("d1", wb, w.hqA, tracking.Delivered, deadline.Add(30*time.Minute), w.siteBr, w.yBr))
			w.scanAt(t, deadline.Add(2*time.Hour))
			check("after a later scan", lost(), 0)
			if got := w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MLate); got != 1 {
				t.Errorf("late at the delivering site = %d, want 1 (the normal judgement only)", got)
			}
			if got := w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MOnTime); got != 0 {
				t.Errorf("on time = %d, want 0", got)
			}
		})
	}
}

// A revival that reaches the store before the scan ever counted the loss moves nothing, and
// the scan that comes after does not count it either: the parcel was heard of again, so its
// total delay runs from that scan.
func TestDeemedLostRevivedBeforeTheScan(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000002"
	w := newWorld(t)
	w.ingestAt(t, ev("c1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	late := t0.Add(72*time.Hour + 8*24*time.Hour)
	w.clk.Set(late)
	w.accept(t, ev("a1", wb, w.hqA, tracking.Arrived, late.Add(-time.Minute), w.siteBr, w.yBr))
	w.scanAt(t, late.Add(time.Minute))
	if got := w.sum(t, tracking.SubjectFirm, w.hqA, tracking.MLost); got != 0 {
		t.Errorf("carrier lost = %d, want 0: the parcel moved again", got)
	}
	if got := w.sum(t, tracking.SubjectSite, w.siteA, tracking.MLost); got != 0 {
		t.Errorf("collecting site lost = %d, want 0", got)
	}
	// Silent for the total delay after that scan, it is lost, against its holder then.
	w.scanAt(t, late.Add(7*24*time.Hour))
	if got := w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MLost); got != 1 {
		t.Errorf("holder's site lost = %d, want 1", got)
	}
}

// Parcels with empty-parcel signals are not service (issue 12, item 2): a collection and
// delivery with no transit, and a merchant burst found by the scan after its parcels were
// counted, leave handled, delivered and on-time and count as empty_suspect for the collector.
func TestEmptyParcelsLeaveService(t *testing.T) {
	t.Parallel()
	w := newWorldOpts(t, tracking.Options{BurstParcels: 5, BurstWindow: time.Hour})
	// One real parcel, on time, through the outlet siteA2.
	w.ingestAt(t, ev("r1", "YT0000000100", w.hqA, tracking.Collected, t0, w.siteA2, w.wA),
		ev("r2", "YT0000000100", w.hqA, tracking.Departed, t0.Add(2*time.Hour), w.siteA, w.xA),
		ev("r3", "YT0000000100", w.hqA, tracking.Delivered, t0.Add(20*time.Hour), w.siteA2, w.wA))
	// A no-transit fake: collected and signed for at the outlet.
	w.ingestAt(t, ev("n1", "YT0000000200", w.hqA, tracking.Collected, t0.Add(time.Hour), w.siteA2, w.wA),
		ev("n2", "YT0000000200", w.hqA, tracking.Delivered, t0.Add(3*time.Hour), w.siteA2, w.wA))
	// A campaign: 5 parcels of one merchant to 5 recipients within the hour, with transit
	// scans, counted before the scan finds the burst, delivered on time after it.
	var coll []tracking.EventInput
	for i := range 5 {
		wb := fmt.Sprintf("YT%010d", 300+i)
		coll = append(coll, shipped(ev(fmt.Sprintf("b%dc", i), wb, w.hqA, tracking.Collected, t0.Add(time.Duration(5+i)*time.Minute), w.siteA2, w.wA), "m1", fmt.Sprintf("139000%05d", i)),
			ev(fmt.Sprintf("b%dd", i), wb, w.hqA, tracking.Departed, t0.Add(time.Duration(20+i)*time.Minute), w.siteA, w.xA))
	}
	w.ingestAt(t, coll...)
	w.scanAt(t, t0.Add(50*time.Minute))
	var del []tracking.EventInput
	for i := range 5 {
		del = append(del, ev(fmt.Sprintf("b%dx", i), fmt.Sprintf("YT%010d", 300+i), w.hqA, tracking.Delivered, t0.Add(30*time.Hour), w.siteA2, w.wA))
	}
	w.ingestAt(t, del...)
	w.scanAt(t, t0.Add(31*time.Hour))
	w.scanAt(t, t0.Add(32*time.Hour)) // again: nothing moves twice

	for _, tc := range []struct {
		kind tracking.SubjectKind
		id   string
		m    tracking.Metric
		want int
	}{
		{tracking.SubjectSite, w.siteA2, tracking.MHandled, 2}, // the real parcel, on the day of its collection and of its delivery
		{tracking.SubjectSite, w.siteA2, tracking.MDelivered, 1},
		{tracking.SubjectSite, w.siteA2, tracking.MOnTime, 1},
		{tracking.SubjectSite, w.siteA2, tracking.MEmptySuspect, 6},
		{tracking.SubjectStaff, w.wA, tracking.MEmptySuspect, 6},
		{tracking.SubjectFirm, w.hqA, tracking.MEmptySuspect, 6},
		{tracking.SubjectFirm, w.hqA, tracking.MHandled, 2},
		{tracking.SubjectSite, w.siteA, tracking.MHandled, 1}, // the real parcel's transit; the burst's withdrawn
		{tracking.SubjectSite, w.siteA, tracking.MEmptySuspect, 0},
		{tracking.SubjectFirm, w.hqA, tracking.MOnTime, 1},
	} {
		if got := w.sum(t, tc.kind, tc.id, tc.m); got != tc.want {
			t.Errorf("%s %s %s = %d, want %d", tc.kind, tc.id, tc.m, got, tc.want)
		}
	}
}
