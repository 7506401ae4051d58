package tracking_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

func (w *world) retract(t *testing.T, c credtrace.Caller, carrier, id string, corrective ...string) tracking.LinkResult {
	t.Helper()
	res, err := w.svc.Retract(w.ctx, c, tracking.RetractInput{Carrier: carrier, EventID: id, Reason: "incorrect_data",
		DeclaredAt: t0.Add(20 * time.Hour), CorrectiveIDs: corrective})
	if err != nil {
		t.Fatalf("retract %s: %v", id, err)
	}
	return res
}

// sameStats fails unless every subject's statistics in w equal those in d (the same world
// built from the remaining events only), subject for subject.
func sameStats(t *testing.T, w, d *world) {
	t.Helper()
	for _, k := range []struct {
		kind  tracking.SubjectKind
		w, in string
	}{{tracking.SubjectFirm, w.hqA, d.hqA}, {tracking.SubjectFirm, w.hqB, d.hqB}, {tracking.SubjectSite, w.siteA, d.siteA},
		{tracking.SubjectSite, w.siteA2, d.siteA2}, {tracking.SubjectStaff, w.xA, d.xA}, {tracking.SubjectStaff, w.wA, d.wA}} {
		if got, want := w.stats(t, k.kind, k.w), d.stats(t, k.kind, k.in); !reflect.DeepEqual(got, want) {
			t.Errorf("%s statistics after the retraction %v, rebuilt from the remaining events %v", k.kind, got, want)
		}
	}
}

func TestRetractUndoesAnEventExactly(t *testing.T) {
	steps := func(w *world, wrong bool) [][]tracking.EventInput {
		out := [][]tracking.EventInput{
			{shipped(ev("c-1", "SF7200000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA), "M-1", recipientPhone)},
			{ev("a-1", "SF7200000001", w.hqA, tracking.Arrived, t0.Add(2*time.Hour), w.siteA2, w.wA)},
		}
		if wrong {
			// Declared erroneous below: a damage and a delivery by the wrong person, days early.
			out = append(out, []tracking.EventInput{ev("bad-1", "SF7200000001", w.hqA, tracking.Damaged, t0.Add(3*time.Hour), w.siteA2, w.wA),
				ev("bad-2", "SF7200000001", w.hqA, tracking.Delivered, t0.Add(4*time.Hour), w.siteA2, w.wA)})
		}
		return append(out, []tracking.EventInput{ev("fix-1", "SF7200000001", w.hqA, tracking.OutForDelivery, t0.Add(5*time.Hour), w.siteA, w.xA)})
	}
	w, d := newWorld(t), newWorld(t)
	for _, b := range steps(w, true) {
		w.accept(t, b...)
	}
	for _, b := range steps(d, false) {
		d.accept(t, b...)
	}
	if p := w.parcel(t, "SF7200000001"); !p.Damaged || p.Status != tracking.Delivered {
		t.Fatalf("before: %+v", p)
	}
	if r := w.retract(t, firmCaller(w.hqB), w.hqA, "bad-1"); r.Status != tracking.Rejected {
		t.Errorf("another firm retracted the carrier's event: %+v", r)
	}
	if r := w.retract(t, regulator, w.hqA, "bad-1"); r.Status != tracking.Rejected {
		t.Errorf("a regulator retracted a carrier's event: %+v", r)
	}
	for i, want := range []string{tracking.Accepted, tracking.Duplicate} {
		for _, id := range []string{"bad-1", "bad-2"} {
			if r := w.retract(t, firmCaller(w.hqA), w.hqA, id, "fix-1"); r.Status != want {
				t.Errorf("retraction #%d of %s = %+v, want %s", i+1, id, r, want)
			}
		}
		p, q := w.parcel(t, "SF7200000001"), d.parcel(t, "SF7200000001")
		if p.Status != q.Status || p.Damaged || p.Final || !p.DeliveredAt.IsZero() || p.Judged || p.Events != q.Events || len(p.Handled) != len(q.Handled) || p.TransitScans != q.TransitScans {
			t.Errorf("summary after the retraction %+v,\nrebuilt from the remaining events %+v", p, q)
		}
		sameStats(t, w, d)
		w.noDiffs(t)
	}
	tr := w.trace(t, "SF7200000001")
	if ids := eventIDs(tr.Events); !reflect.DeepEqual(ids, []string{"c-1", "a-1", "fix-1"}) {
		t.Errorf("trace events %q, want the retracted ones left out", ids)
	}
	if len(tr.Retracted) != 2 || tr.Retracted[0].Event.ID != "bad-1" || tr.Retracted[0].Reason != "incorrect_data" ||
		!tr.Retracted[0].DeclaredAt.Equal(t0.Add(20*time.Hour)) || !reflect.DeepEqual(tr.Retracted[0].Corrective, []string{"fix-1"}) {
		t.Errorf("trace retracted %+v", tr.Retracted)
	}
	if tr.Status != tracking.OutForDelivery || tr.Holder.SiteID != w.siteA {
		t.Errorf("trace status %s holder %+v, want out for delivery at siteA", tr.Status, tr.Holder)
	}
	// A later event folds onto the rebuilt summary.
	w.accept(t, ev("d-1", "SF7200000001", w.hqA, tracking.Delivered, t0.Add(6*time.Hour), w.siteA, w.xA))
	d.accept(t, ev("d-1", "SF7200000001", d.hqA, tracking.Delivered, t0.Add(6*time.Hour), d.siteA, d.xA))
	sameStats(t, w, d)
	w.noDiffs(t)
}

func TestRetractAContainerScanRetractsEveryParcelOfIt(t *testing.T) {
	w := newWorld(t)
	a := firmCaller(w.hqA)
	w.accept(t, ev("c-1", "SF7300000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA),
		ev("c-2", "SF7300000002", w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	w.pack(t, a, tracking.PackInput{ID: "agg-1", Carrier: w.hqA, Container: "CAGE-1", Waybills: []string{"SF7300000001", "SF7300000002"}, At: t0.Add(time.Hour)})
	w.accept(t, ev("scan-1", "CAGE-1", w.hqA, tracking.Lost, t0.Add(2*time.Hour), w.siteA2, w.wA))
	if got := w.stats(t, tracking.SubjectSite, w.siteA2); got["2026-06-01"][tracking.MLost] != 2 {
		t.Fatalf("lost at siteA2 = %v, want 2", got)
	}
	if r := w.retract(t, a, w.hqA, "scan-1"); r.Status != tracking.Accepted || r.Links != 2 {
		t.Fatalf("retract the container scan = %+v, want both parcels", r)
	}
	if got := w.stats(t, tracking.SubjectSite, w.siteA2); got["2026-06-01"][tracking.MLost] != 0 || got["2026-06-01"][tracking.MHandled] != 0 {
		t.Errorf("siteA2 after the retraction = %v, want nothing", got)
	}
	for _, wb := range []string{"SF7300000001", "SF7300000002"} {
		if p := w.parcel(t, wb); p.Lost || p.Final || p.Status != tracking.Collected {
			t.Errorf("%s after the retraction: %+v", wb, p)
		}
	}
	w.noDiffs(t)
}

func TestRetractEveryEventOfAParcel(t *testing.T) {
	w := newWorld(t)
	w.accept(t, ev("only-1", "SF7400000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	if r := w.retract(t, firmCaller(w.hqA), w.hqA, "only-1"); r.Status != tracking.Accepted {
		t.Fatalf("retract = %+v", r)
	}
	if got := w.stats(t, tracking.SubjectFirm, w.hqA); len(got) != 0 {
		t.Errorf("statistics of a parcel without events %v", got)
	}
	tr := w.trace(t, "SF7400000001")
	if len(tr.Events) != 0 || len(tr.Retracted) != 1 {
		t.Errorf("trace %+v", tr)
	}
	w.noDiffs(t)
}

func TestRetractTakesBackWhatAnEmptyParcelSignalWithdrew(t *testing.T) {
	w, d := newWorld(t), newWorld(t)
	w.accept(t, with(ev("c-1", "SF7500000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA), func(in *tracking.EventInput) { in.WeightGrams = 5 }))
	w.accept(t, ev("a-1", "SF7500000001", w.hqA, tracking.Arrived, t0.Add(2*time.Hour), w.siteA2, w.wA))
	if got := w.stats(t, tracking.SubjectSite, w.siteA); got["2026-06-01"][tracking.MEmptySuspect] != 1 {
		t.Fatalf("siteA before = %v, want an empty-parcel suspect", got)
	}
	// The weight was a typo: the collection is declared erroneous and sent again.
	w.accept(t, with(ev("c-2", "SF7500000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA), func(in *tracking.EventInput) { in.WeightGrams = 900 }))
	if r := w.retract(t, firmCaller(w.hqA), w.hqA, "c-1", "c-2"); r.Status != tracking.Accepted {
		t.Fatalf("retract = %+v", r)
	}
	d.accept(t, ev("a-1", "SF7500000001", d.hqA, tracking.Arrived, t0.Add(2*time.Hour), d.siteA2, d.wA))
	d.accept(t, with(ev("c-2", "SF7500000001", d.hqA, tracking.Collected, t0, d.siteA, d.xA), func(in *tracking.EventInput) { in.WeightGrams = 900 }))
	sameStats(t, w, d)
	if p := w.parcel(t, "SF7500000001"); p.Empty || p.WeightGrams != 900 {
		t.Errorf("summary after the retraction: empty %v, weight %d", p.Empty, p.WeightGrams)
	}
	w.noDiffs(t)
}
