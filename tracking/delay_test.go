package tracking_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/credtrace/credtrace/tracking"
)

// share is one subject's late statistics summed over the days: its late share, slow segments
// by kind, fallback attributions and (the delivering outlet's) late count.
func (w *world) share(t *testing.T, kind tracking.SubjectKind, id string) map[tracking.Metric]int {
	t.Helper()
	out := map[tracking.Metric]int{}
	for _, m := range []tracking.Metric{tracking.MLateShare, tracking.MSlowPickup, tracking.MSlowSorting, tracking.MSlowLineHaul,
		tracking.MSlowLastMile, tracking.MLateFallback, tracking.MLate} {
		if n := w.sum(t, kind, id, m); n != 0 {
			out[m] = n
		}
	}
	return out
}

// The delay of a late parcel goes to the holders whose custody segments exceeded their norm
// (issue 12, item 3), in proportion to how far each did, and to the delivering outlet only
// when none did. The late count itself stays the delivering outlet's (2026.1–2026.3 read it).
func TestDelayGoesToWhoeverCausedIt(t *testing.T) {
	t.Parallel()
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	type want map[string]map[tracking.Metric]int
	tests := []struct {
		name   string
		events func(w *world, wb string) []tracking.EventInput
		want   func(w *world) want
	}{
		{"a slow line haul, the last mile on time: the line haul's holder answers", func(w *world, wb string) []tracking.EventInput {
			return []tracking.EventInput{
				ev("c", wb, w.hqA, tracking.Collected, h(0), w.siteA, w.xA),
				ev("a1", wb, w.hqA, tracking.Arrived, h(3), w.siteA2, w.wA),
				ev("d1", wb, w.hqA, tracking.Departed, h(6), w.siteA2, ""), // line haul from siteA2: 60 h, 12 h over its 48 h
				ev("a2", wb, w.hqA, tracking.Arrived, h(66), w.siteBr, w.yBr),
				ev("o", wb, w.hqA, tracking.OutForDelivery, h(70), w.siteBr, w.yBr),
				ev("dl", wb, w.hqA, tracking.Delivered, h(74), w.siteBr, w.yBr), // last mile 8 h
			}
		}, func(w *world) want {
			line := map[tracking.Metric]int{tracking.MLateShare: 1000, tracking.MSlowLineHaul: 1}
			return want{"site siteA2": line, "firm hqA": line, "staff wA": {}, "site siteA": {},
				"site siteBr": {tracking.MLate: 1}, "firm brA": {tracking.MLate: 1}, "staff yBr": {tracking.MLate: 1}}
		}},
		{"a slow pickup and a slow last mile: shared by how far each exceeded its norm", func(w *world, wb string) []tracking.EventInput {
			return []tracking.EventInput{
				ev("c", wb, w.hqA, tracking.Collected, h(0), w.siteA, w.xA),
				ev("a1", wb, w.hqA, tracking.Arrived, h(30), w.siteBr, w.yBr), // pickup 30 h: 6 h over 24 h
				ev("o", wb, w.hqA, tracking.OutForDelivery, h(80), w.siteBr, w.yBr),
				ev("dl", wb, w.hqA, tracking.Delivered, h(84), w.siteBr, w.yBr), // last mile with yBr at siteBr 54 h: 18 h over 36 h
			}
		}, func(w *world) want {
			return want{"site siteA": {tracking.MLateShare: 250, tracking.MSlowPickup: 1}, "staff xA": {tracking.MLateShare: 250, tracking.MSlowPickup: 1},
				"firm hqA":    {tracking.MLateShare: 250, tracking.MSlowPickup: 1},
				"site siteBr": {tracking.MLateShare: 750, tracking.MSlowLastMile: 1, tracking.MLate: 1},
				"staff yBr":   {tracking.MLateShare: 750, tracking.MSlowLastMile: 1, tracking.MLate: 1},
				"firm brA":    {tracking.MLateShare: 750, tracking.MSlowLastMile: 1, tracking.MLate: 1}}
		}},
		{"late with no segment over its norm: the delivering outlet, as before", func(w *world, wb string) []tracking.EventInput {
			return []tracking.EventInput{
				ev("c", wb, w.hqA, tracking.Collected, h(0), w.siteA, w.xA),
				ev("a1", wb, w.hqA, tracking.Arrived, h(20), w.siteA2, w.wA),
				ev("d1", wb, w.hqA, tracking.Departed, h(40), w.siteA2, ""),
				ev("a2", wb, w.hqA, tracking.Arrived, h(60), w.siteBr, w.yBr),
				ev("dl", wb, w.hqA, tracking.Delivered, h(80), w.siteBr, w.yBr),
			}
		}, func(w *world) want {
			outlet := map[tracking.Metric]int{tracking.MLateShare: 1000, tracking.MLateFallback: 1, tracking.MLate: 1}
			return want{"site siteBr": outlet, "firm brA": outlet, "staff yBr": outlet, "site siteA": {}, "site siteA2": {}, "firm hqA": {}}
		}},
	}
	for _, tc := range tests {
		for _, order := range []string{"in order", "newest first"} {
			t.Run(tc.name+", "+order, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				evs := tc.events(w, "DL0000000001")
				if order == "newest first" {
					for i := len(evs) - 1; i >= 0; i-- {
						w.clk.Set(w.clk.Now().Add(time.Second)) // received in this order (Check replays by receipt)
						w.accept(t, evs[i])
					}
				} else {
					w.accept(t, evs...)
				}
				subjects := map[string][2]string{"site siteA": {"site", w.siteA}, "site siteA2": {"site", w.siteA2}, "site siteBr": {"site", w.siteBr},
					"firm hqA": {"firm", w.hqA}, "firm brA": {"firm", w.brA}, "staff xA": {"staff", w.xA}, "staff wA": {"staff", w.wA}, "staff yBr": {"staff", w.yBr}}
				for name, want := range tc.want(w) {
					s := subjects[name]
					if got := w.share(t, tracking.SubjectKind(s[0]), s[1]); fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s: %v, want %v", name, got, want)
					}
				}
				// Refolding the stored events from nothing rebuilds the same summary (its custody
				// and shares) and the same statistics.
				if diffs, err := w.svc.Check(w.ctx); err != nil || len(diffs) > 0 {
					t.Errorf("Check = %v, %v; want no difference", diffs, err)
				}
			})
		}
	}
}

// A person answers (MCarriedShare, methodology 2026.5) for the time they had a parcel in
// hand, not for the wait at a site after an arrival they scanned: wA scans the arrival at
// siteBr and the parcel waits there 60 h; yBr takes it out and keeps it 40 h; xA collects it
// and hands it in after 30 h. Their late shares (MLateShare) still follow the holders.
func TestCarriedShareIsTheTimeInHand(t *testing.T) {
	t.Parallel()
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	w := newWorld(t)
	w.clk.Set(h(140))
	wb := "DL0000000002"
	w.accept(t,
		ev("c", wb, w.hqA, tracking.Collected, h(0), w.siteA, w.xA),  // pickup 30 h: 6 over 24
		ev("a1", wb, w.hqA, tracking.Arrived, h(30), w.siteBr, w.wA), // last mile at siteBr with wA 60 h: 24 over 36
		ev("o", wb, w.hqA, tracking.OutForDelivery, h(90), w.siteBr, w.yBr),
		ev("dl", wb, w.hqA, tracking.Delivered, h(130), w.siteBr, w.yBr), // yBr's round 40 h: 4 over 36
	)
	for _, tc := range []struct {
		name         string
		id           string
		late, inHand int
	}{{"collector xA", w.xA, 176, 176}, {"arrival scanner wA", w.wA, 706, 0}, {"courier yBr", w.yBr, 118, 118}} {
		if got, in := w.sum(t, tracking.SubjectStaff, tc.id, tracking.MLateShare), w.sum(t, tracking.SubjectStaff, tc.id, tracking.MCarriedShare); got != tc.late || in != tc.inHand {
			t.Errorf("%s: late share %d, in hand %d; want %d, %d", tc.name, got, in, tc.late, tc.inHand)
		}
	}
	// The same person scanning the arrival and taking the parcel out holds one segment; they
	// had it in hand from the round on: 20 h of its 80 h.
	wb = "DL0000000003"
	w.accept(t,
		ev("c2", wb, w.hqA, tracking.Collected, h(0), w.siteA, w.xA),
		ev("a2", wb, w.hqA, tracking.Arrived, h(10), w.siteBr, w.yBr),
		ev("o2", wb, w.hqA, tracking.OutForDelivery, h(70), w.siteBr, w.yBr),
		ev("dl2", wb, w.hqA, tracking.Delivered, h(90), w.siteBr, w.yBr), // last mile 80 h: 44 over 36, all of the share
	)
	if got, in := w.sum(t, tracking.SubjectStaff, w.yBr, tracking.MLateShare), w.sum(t, tracking.SubjectStaff, w.yBr, tracking.MCarriedShare); got != 118+1000 || in != 118+250 {
		t.Errorf("courier yBr after the second parcel: late share %d, in hand %d; want %d, %d", got, in, 1118, 368)
	}
	if diffs, err := w.svc.Check(w.ctx); err != nil || len(diffs) > 0 {
		t.Errorf("Check = %v, %v; want no difference", diffs, err)
	}
}

// Taking a late judgement back (the parcel turns out an empty-parcel suspect) takes back
// exactly the shares it counted.
func TestDelaySharesWithdrawnExactly(t *testing.T) {
	t.Parallel()
	const wb = "DL0000000002"
	w := newWorld(t)
	w.accept(t, ev("c", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA),
		ev("a1", wb, w.hqA, tracking.Arrived, t0.Add(30*time.Hour), w.siteBr, w.yBr),
		ev("dl", wb, w.hqA, tracking.Delivered, t0.Add(84*time.Hour), w.siteBr, w.yBr))
	if got := w.sum(t, tracking.SubjectSite, w.siteA, tracking.MLateShare) + w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MLateShare); got != tracking.ShareUnit {
		t.Fatalf("late shares of the sites = %d, want %d", got, tracking.ShareUnit)
	}
	// A new collection after the delivery: a reused number, so the parcel is no service.
	w.accept(t, ev("c2", wb, w.hqA, tracking.Collected, t0.Add(90*time.Hour), w.siteA, w.xA))
	for name, s := range map[string][2]string{"siteA": {"site", w.siteA}, "siteBr": {"site", w.siteBr}, "hqA": {"firm", w.hqA}, "brA": {"firm", w.brA}, "xA": {"staff", w.xA}, "yBr": {"staff", w.yBr}} {
		if got := w.share(t, tracking.SubjectKind(s[0]), s[1]); len(got) != 0 {
			t.Errorf("%s after the withdrawal: %v, want nothing", name, got)
		}
	}
}

// A parcel deemed lost shares its delay along the chain up to the loss, and a later scan that
// revives it takes exactly that back: the delivery's own judgement then counts one parcel.
func TestDeemedLostDelayShares(t *testing.T) {
	t.Parallel()
	const wb = "DL0000000003"
	w := newWorld(t)
	w.ingestAt(t, ev("c", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA),
		ev("a1", wb, w.hqA, tracking.Arrived, t0.Add(30*time.Hour), w.siteBr, w.yBr)) // pickup 6 h over its norm
	deadline := t0.Add(72*time.Hour + 7*24*time.Hour)
	w.scanAt(t, deadline.Add(time.Minute))
	w.scanAt(t, deadline.Add(2*time.Minute))
	shares := func() [2]int {
		return [2]int{w.sum(t, tracking.SubjectSite, w.siteA, tracking.MLateShare), w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MLateShare)}
	}
	// siteBr's open segment (sorting: it never went out for delivery) ran 210 h, 186 h over;
	// the pickup 6 h: 360 and 11,160 minutes of 11,520.
	if got, want := shares(), [2]int{31, 969}; got != want {
		t.Errorf("after the loss: shares of siteA, siteBr = %v, want %v", got, want)
	}
	if got := w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MSlowSorting); got != 1 {
		t.Errorf("slow sorting at siteBr = %d, want 1", got)
	}
	w.clk.Set(deadline.Add(time.Hour))
	w.accept(t, ev("dl", wb, w.hqA, tracking.Delivered, deadline.Add(30*time.Minute), w.siteBr, w.yBr))
	w.scanAt(t, deadline.Add(2*time.Hour))
	// Delivered: siteBr's stretch is now its last mile, 210.5 h, 174.5 h over its 36 h.
	if got, want := shares(), [2]int{33, 967}; got != want {
		t.Errorf("after the delivery: shares of siteA, siteBr = %v, want %v", got, want)
	}
	if got := w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MSlowSorting); got != 0 {
		t.Errorf("slow sorting at siteBr after the revival = %d, want 0", got)
	}
	if got := w.sum(t, tracking.SubjectSite, w.siteBr, tracking.MSlowLastMile); got != 1 {
		t.Errorf("slow last mile at siteBr = %d, want 1", got)
	}
}
