package tracking_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/credtrace/credtrace/tracking"
)

func TestScratch(t *testing.T) {
	t.Run("data leak twice same firm", func(t *testing.T) {
		w := newWorld(t)
		w.accept(t, ev("e1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
			ev("e2", "YT0000000001", w.hqA, tracking.Arrived, hours(5), w.siteA2, w.wA),
			ev("e3", "YT0000000001", w.hqA, tracking.Arrived, hours(8), w.siteBr, w.yBr))
		inc, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncDataLeak, At: hours(10)})
		if err != nil { t.Fatal(err) }
		for _, p := range w.props.all() { t.Logf("proposal %s %s", p.SubjectKind, p.SubjectID) }
		t.Logf("hqA=%s brA=%s records=%d", w.hqA, w.brA, len(inc.RecordIDs))
		t.Logf("complaints hqA %v", w.stats(t, tracking.SubjectFirm, w.hqA))
		for _, c := range inc.Attribution.Candidates { t.Logf("cand %+v %.3f", c.Party, c.Confidence) }
	})
	t.Run("data leak confidence A B A", func(t *testing.T) {
		evs := []tracking.Event{by("c", tracking.Collected, 0, pA), by("a", tracking.Arrived, 10, pB), by("r", tracking.Returned, 20, pA)}
		a := tracking.Attribute(tracking.IncDataLeak, tracking.BuildTrace(evs, tracking.CarrierConfig{}, hours(30)), tracking.CarrierConfig{}, hours(30))
		sum := 0.0
		for _, c := range a.Candidates { t.Logf("cand %+v %.3f", c.Party, c.Confidence); sum += c.Confidence }
		t.Logf("sum %.3f", sum)
	})
	t.Run("evidence over 50", func(t *testing.T) {
		w := newWorld(t)
		w.useArchive()
		var ins []tracking.EventInput
		ins = append(ins, ev("c0", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA))
		for i := 1; i <= 49; i++ {
			ins = append(ins, ev(fmt.Sprintf("t%d", i), "YT0000000001", w.hqA, tracking.InTransit, hours(0).Add(time.Duration(i)*time.Minute), w.siteA, w.xA))
		}
		w.accept(t, ins...)
		_, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncDelayed, At: hours(90)})
		t.Logf("delayed: %v", err)
		_, err = w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncDamaged, At: hours(90)})
		t.Logf("damaged: %v", err)
	})
	t.Run("burst same recipient", func(t *testing.T) {
		w := newWorldOpts(t, tracking.Options{BurstParcels: 5, BurstWindow: time.Hour})
		var ins []tracking.EventInput
		for i := 0; i < 5; i++ {
			ins = append(ins, shipped(ev(fmt.Sprintf("c%d", i), fmt.Sprintf("YT%010d", i+1), w.hqA, tracking.Collected, t0.Add(time.Duration(5+5*i)*time.Minute), w.siteA, w.xA), "m1", recipientPhone))
		}
		w.ingestAt(t, ins...)
		got := ofKind(w.scanAt(t, t0.Add(50*time.Minute)), tracking.AnMerchantBurst)
		t.Logf("bursts to ONE recipient: %d %+v", len(got), got)
	})
	t.Run("burst across slot", func(t *testing.T) {
		w := newWorldOpts(t, tracking.Options{BurstParcels: 5, BurstWindow: time.Hour})
		var ins []tracking.EventInput
		for i := 0; i < 5; i++ {
			ins = append(ins, shipped(ev(fmt.Sprintf("c%d", i), fmt.Sprintf("YT%010d", i+1), w.hqA, tracking.Collected, t0.Add(time.Duration(50+5*i)*time.Minute), w.siteA, w.xA), "m1", fmt.Sprintf("139000%05d", i)))
		}
		w.ingestAt(t, ins...)
		got := ofKind(w.scanAt(t, t0.Add(80*time.Minute)), tracking.AnMerchantBurst)
		t.Logf("bursts within 20 minutes across an hour boundary: %d", len(got))
	})
	t.Run("repeat anomaly reported", func(t *testing.T) {
		w := newWorld(t)
		w.accept(t, ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
			ev("a1", "YT0000000001", w.hqA, tracking.Arrived, hours(2), w.siteBr, w.yBr), ev("v1", "YT0000000001", w.hqA, tracking.Delivered, hours(5), w.siteBr, w.yBr))
		r1 := w.accept(t, ev("c2", "YT0000000001", w.hqA, tracking.Collected, hours(20), w.siteA2, w.wA))
		ch, cancel := w.svc.Hub().SubscribeAlerts()
		defer cancel()
		r2 := w.accept(t, ev("c3", "YT0000000001", w.hqA, tracking.Collected, hours(30), w.siteA2, w.wA))
		t.Logf("first %v second %v alerts queued %d stored %d", anomalyKinds(r1.Anomalies), anomalyKinds(r2.Anomalies), len(ch), len(w.anomalies(t, tracking.AnAfterDelivery)))
	})
	t.Run("damage after delivery", func(t *testing.T) {
		evs := []tracking.Event{by("c", tracking.Collected, 0, pA), by("v", tracking.Delivered, 10, pB), by("dm", tracking.Damaged, 11, pB)}
		a := tracking.Attribute(tracking.IncDamaged, tracking.BuildTrace(evs, tracking.CarrierConfig{}, hours(30)), tracking.CarrierConfig{}, hours(30))
		t.Logf("%+v", a)
	})
	t.Run("lost twice", func(t *testing.T) {
		w := newWorld(t)
		w.accept(t, ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
			ev("l1", "YT0000000001", w.hqA, tracking.Lost, hours(2), w.siteA, w.xA), ev("l2", "YT0000000001", w.hqA, tracking.Lost, hours(3), w.siteA, w.xA))
		t.Logf("%v", w.stats(t, tracking.SubjectStaff, w.xA))
	})
	t.Run("conflict then dup in batch", func(t *testing.T) {
		w := newWorld(t)
		w.accept(t, ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA))
		e := ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(1), w.siteA, w.xA)
		r := w.ingest(t, regulator, e, e)
		t.Logf("%+v", r.Results)
	})
	t.Run("no transit out of order", func(t *testing.T) {
		w := newWorld(t)
		r1 := w.accept(t, ev("v1", "YT0000000001", w.hqA, tracking.Delivered, hours(5), w.siteA, w.xA))
		r2 := w.accept(t, ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA))
		t.Logf("%v %v", anomalyKinds(r1.Anomalies), anomalyKinds(r2.Anomalies))
	})
	t.Run("frame another brand", func(t *testing.T) {
		w := newWorld(t)
		r := w.ingest(t, firmCaller(w.hqA), ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.zB),
			with(ev("h1", "YT0000000001", w.hqA, tracking.Handover, hours(1), w.siteA, w.xA), func(e *tracking.EventInput) { e.Holder = &tracking.HolderInput{Site: w.siteB, Staff: w.zB} }))
		t.Logf("%+v", r.Results)
		inc, err := w.svc.ReportIncident(w.ctx, firmCaller(w.hqA), tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, At: hours(2)})
		t.Logf("%v resp %+v (hqB=%s zB=%s) props %d", err, inc.Attribution.Responsible, w.hqB, w.zB, len(w.props.all()))
	})
	t.Run("evidence carrier", func(t *testing.T) {
		w := newWorld(t)
		w.accept(t, ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
			ev("b1", "YT0000000001", w.hqB, tracking.Arrived, hours(2), w.siteB, w.zB))
		_, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, At: hours(3)})
		for _, p := range w.props.all() { t.Logf("%v %v %v", err, p.SubjectID == w.hqB, p.Evidence) ; break}
	})
}
