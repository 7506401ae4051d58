package tracking_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// A waybill belongs to the carrier that issued it: another carrier's events on the same number
// are another parcel, and never change the first one, its custody or its statistics.
func TestAnotherCarrierLeavesTheParcelAlone(t *testing.T) {
	t.Parallel()
	const wb = "SF0000000001"
	const otherPhone = "13700001111"
	w := newWorld(t)
	w.accept(t, shipped(ev("a1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "mA", recipientPhone),
		ev("a2", wb, w.hqA, tracking.Arrived, t0.Add(5*time.Hour), w.siteA2, w.wA))
	before := w.stats(t, tracking.SubjectFirm, w.hqA)

	// Firm B, with its own token, claims the number: collected and delivered at once.
	res := w.ingest(t, firmCaller(w.hqB), shipped(ev("b1", wb, w.hqB, tracking.Collected, t0.Add(6*time.Hour), w.siteB, w.zB), "mB", otherPhone),
		ev("b2", wb, w.hqB, tracking.Delivered, t0.Add(7*time.Hour), w.siteB, w.zB))
	if res.Accepted != 2 {
		t.Fatalf("B's own events: %+v, want both accepted (they are B's parcel)", res.Results)
	}

	a := w.parcelOf(t, tracking.ParcelKey{Carrier: w.hqA, Waybill: wb})
	if a.Status != tracking.Arrived || a.Final || !a.DeliveredAt.IsZero() || a.Holder.FirmID != w.hqA || a.Events != 2 || a.MerchantID != "mA" {
		t.Errorf("A's parcel after B's events: status %s final %v delivered %v holder %+v events %d merchant %s; want arrived, open, held by A, 2 events, mA",
			a.Status, a.Final, a.DeliveredAt, a.Holder, a.Events, a.MerchantID)
	}
	if got := w.stats(t, tracking.SubjectFirm, w.hqA); !equalCounts(got, before) {
		t.Errorf("A's statistics moved with B's events: %v, was %v", got, before)
	}
	tr, err := w.svc.TraceParcel(w.ctx, firmCaller(w.hqA), wb, "", "")
	if err != nil {
		t.Fatalf("A traces its own waybill: %v", err)
	}
	if got := eventIDs(tr.Events); !slices.Equal(got, []string{"a1", "a2"}) || tr.Carrier != w.hqA || tr.Holder.FirmID != w.hqA {
		t.Errorf("A's trace: events %v carrier %s holder %+v; want a1, a2 of A, held by A", got, tr.Carrier, tr.Holder)
	}

	// B's merchant reads B's parcel only: none of A's sites or staff.
	tr, err = w.svc.TraceParcel(w.ctx, merchantCaller("mB"), wb, "", "")
	if err != nil {
		t.Fatalf("B's merchant: %v", err)
	}
	if tr.Carrier != w.hqB || !slices.Equal(eventIDs(tr.Events), []string{"b1", "b2"}) {
		t.Errorf("B's merchant sees carrier %s events %v, want B's b1, b2 only", tr.Carrier, eventIDs(tr.Events))
	}
	if _, err := w.svc.TraceParcel(w.ctx, merchantCaller("mB"), wb, w.hqA, ""); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("B's merchant asking for A's parcel: %v, want not found", err)
	}

	// The public check: the real recipient's digits open A's parcel, B's phone opens only B's.
	tr, err = w.svc.TraceParcel(w.ctx, public, wb, "", recipientLast4)
	if err != nil || tr.Carrier != w.hqA || tr.Status != tracking.Arrived {
		t.Errorf("the real recipient: carrier %s status %s, %v; want A's parcel, arrived", tr.Carrier, tr.Status, err)
	}
	tr, err = w.svc.TraceParcel(w.ctx, public, wb, "", otherPhone[len(otherPhone)-4:])
	if err != nil || tr.Carrier != w.hqB {
		t.Errorf("B's phone: carrier %s, %v; want B's parcel only", tr.Carrier, err)
	}
}

// Using a number first does not take it from the carrier that issued it.
func TestSquattedWaybillStillTracesForItsCarrier(t *testing.T) {
	t.Parallel()
	const wb = "SF0000000002"
	w := newWorld(t)
	w.ingest(t, firmCaller(w.hqB), ev("b1", wb, w.hqB, tracking.Collected, t0, w.siteB, w.zB))
	w.ingest(t, firmCaller(w.hqA), ev("a1", wb, w.hqA, tracking.Collected, t0.Add(time.Hour), w.siteA, w.xA),
		ev("a2", wb, w.hqA, tracking.Departed, t0.Add(2*time.Hour), w.siteA, w.xA))
	tr, err := w.svc.TraceParcel(w.ctx, firmCaller(w.hqA), wb, "", "")
	if err != nil {
		t.Fatalf("A's trace of a squatted waybill: %v", err)
	}
	if tr.Carrier != w.hqA || !slices.Equal(eventIDs(tr.Events), []string{"a1", "a2"}) {
		t.Errorf("A's trace: carrier %s events %v, want A's a1, a2", tr.Carrier, eventIDs(tr.Events))
	}
	if got := w.anomalies(t, tracking.AnSecondCarrier); len(got) != 1 || got[0].Carrier != w.hqA {
		t.Errorf("reused_second_carrier: %+v, want one, on the second parcel (A's)", got)
	}
}

// A waybill with parcels at two carriers is ambiguous only for a caller who may see both; the
// answer names only those.
func TestAmbiguousWaybill(t *testing.T) {
	t.Parallel()
	const wb = "SF0000000003"
	w := newWorld(t)
	w.accept(t, shipped(ev("a1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "m1", recipientPhone),
		shipped(ev("b1", wb, w.hqB, tracking.Collected, t0, w.siteB, w.zB), "m1", recipientPhone))
	_, err := w.svc.TraceParcel(w.ctx, regulator, wb, "", "")
	var amb *tracking.AmbiguousError
	if !errors.As(err, &amb) || !errors.Is(err, credtrace.ErrConflict) {
		t.Fatalf("regulator without carrier: %v, want an AmbiguousError", err)
	}
	want := []string{w.hqA, w.hqB}
	slices.Sort(want)
	if !slices.Equal(amb.Carriers, want) {
		t.Errorf("carriers %v, want %v", amb.Carriers, want)
	}
	for _, c := range []string{w.hqA, w.hqB} {
		tr, err := w.svc.TraceParcel(w.ctx, regulator, wb, c, "")
		if err != nil || tr.Carrier != c {
			t.Errorf("regulator with carrier %s: %s, %v", c, tr.Carrier, err)
		}
	}
	for _, c := range []string{w.hqA, w.hqB} {
		tr, err := w.svc.TraceParcel(w.ctx, firmCaller(c), wb, "", "")
		if err != nil || tr.Carrier != c {
			t.Errorf("firm %s without carrier: %s, %v; want its own parcel", c, tr.Carrier, err)
		}
	}
	if _, err := w.svc.TraceParcel(w.ctx, firmCaller(w.hqA), wb, w.hqB, ""); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("firm A asking for B's parcel: %v, want not found", err)
	}
	if _, err := w.svc.TraceParcel(w.ctx, merchantCaller("m1"), wb, "", ""); !errors.As(err, &amb) {
		t.Errorf("the merchant of both: %v, want ambiguous", err)
	}
}

// The live stream of a parcel carries its carrier's events only.
func TestStreamOfOneCarrier(t *testing.T) {
	t.Parallel()
	const wb = "SF0000000004"
	w := newWorld(t)
	w.accept(t, ev("a1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	live, err := tracking.StartLive(w.ctx, w.svc, tracking.LiveOptions{Every: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	ch, cancel := w.svc.Hub().SubscribeParcel(tracking.ParcelKey{Carrier: w.hqA, Waybill: wb})
	defer cancel()
	// a1 was stored before the poller started: it may come again (a stream's snapshot holds it).
	w.accept(t, ev("b1", wb, w.hqB, tracking.Collected, t0, w.siteB, w.zB), ev("a2", wb, w.hqA, tracking.Departed, t0.Add(time.Hour), w.siteA, w.xA),
		ev("a3", wb, w.hqA, tracking.Arrived, t0.Add(2*time.Hour), w.siteA, w.xA))
	var got []string
	for len(got) < 2 || got[len(got)-1] != "a3" {
		select {
		case e := <-ch:
			if e.Carrier != w.hqA {
				t.Fatalf("B's event %s streamed on A's parcel", e.ID)
			}
			got = append(got, e.ID)
		case <-time.After(10 * time.Second):
			t.Fatalf("streamed %v, then nothing for 10 s; want a2, a3", got)
		}
	}
	if n := len(got); got[n-2] != "a2" {
		t.Errorf("streamed %v, want a2 then a3 last", got)
	}
}

func equalCounts(a, b map[string]map[tracking.Metric]int) bool {
	if len(a) != len(b) {
		return false
	}
	for d, m := range a {
		if len(m) != len(b[d]) {
			return false
		}
		for k, v := range m {
			if b[d][k] != v {
				return false
			}
		}
	}
	return true
}
