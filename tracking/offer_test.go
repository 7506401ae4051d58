package tracking_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// offered is A's handover of wb to brand B's site: an offer, since B is another tree.
func offered(w *world, t *testing.T, wb string) {
	t.Helper()
	w.accept(t, ev("a1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA),
		with(ev("a2", wb, w.hqA, tracking.Handover, t0.Add(2*time.Hour), w.siteA, w.xA), func(in *tracking.EventInput) {
			in.Holder = &tracking.HolderInput{Firm: w.hqB, Site: w.siteB}
		}))
}

func (w *world) lostBy(t *testing.T, c credtrace.Caller, wb string) tracking.Incident {
	t.Helper()
	inc, err := w.svc.ReportIncident(w.ctx, c, tracking.IncidentInput{Waybill: wb, Kind: tracking.IncLost, Reporter: "12305", At: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatalf("report lost: %v", err)
	}
	return inc
}

func complaints(t *testing.T, w *world, firm string) int {
	n := 0
	for _, d := range w.stats(t, tracking.SubjectFirm, firm) {
		n += d[tracking.MComplaints]
	}
	return n
}

// A handover to another tree is only offered: custody, the summary and the responsibility for a
// loss stay with the giver, and the trace shows the offer.
func TestOfferedHandoverLeavesCustodyWithTheGiver(t *testing.T) {
	t.Parallel()
	const wb = "ZT0000000001"
	w := newWorld(t)
	offered(w, t, wb)
	tr := w.trace(t, wb)
	if tr.Holder.FirmID != w.hqA || tr.Holder.SiteID != w.siteA {
		t.Errorf("holder %+v, want the giver (A at siteA)", tr.Holder)
	}
	if len(tr.Offers) != 1 || tr.Offers[0].ID != "a2" || tr.Offers[0].To.FirmID != w.hqB || tr.Offers[0].Accepted {
		t.Fatalf("offers %+v, want a2 to B, pending", tr.Offers)
	}
	if p := w.parcel(t, wb); p.Holder.FirmID != w.hqA {
		t.Errorf("summary holder %+v, want A", p.Holder)
	}
	inc := w.lostBy(t, regulator, wb)
	if inc.Attribution.Responsible.FirmID != w.hqA {
		t.Errorf("lost on an open offer: responsible %+v, want the giver A", inc.Attribution.Responsible)
	}
	for _, pr := range w.props.all() {
		if pr.SubjectID == w.hqB || pr.SubjectID == w.siteB {
			t.Errorf("a record was proposed against the offered receiver: %+v", pr)
		}
	}
	if got := complaints(t, w, w.hqB); got != 0 {
		t.Errorf("B's complaints %d, want 0", got)
	}
}

// The receiver's own scan of the carrier's parcel takes it: the one case a firm may push for a
// carrier outside its tree.
func TestReceiverScanTakesTheParcel(t *testing.T) {
	t.Parallel()
	const wb = "ZT0000000002"
	w := newWorld(t)
	// Before any offer, B may not scan A's parcel.
	res := w.ingest(t, firmCaller(w.hqB), ev("b0", "ZT0000000009", w.hqA, tracking.Arrived, t0, w.siteB, w.zB))
	if res.Rejected != 1 {
		t.Fatalf("B scanning a parcel never offered to it: %+v, want rejected", res.Results)
	}
	offered(w, t, wb)
	res = w.ingest(t, firmCaller(w.hqB), ev("b1", wb, w.hqA, tracking.Arrived, t0.Add(150*time.Minute), w.siteB, w.zB))
	if res.Accepted != 1 {
		t.Fatalf("the receiver's scan: %+v, want accepted", res.Results)
	}
	tr := w.trace(t, wb)
	if tr.Holder.FirmID != w.hqB || len(tr.Offers) != 1 || !tr.Offers[0].Accepted || tr.Offers[0].AcceptedBy != "b1" {
		t.Errorf("after B's scan: holder %+v offers %+v; want B holding, a2 accepted by b1", tr.Holder, tr.Offers)
	}
	inc := w.lostBy(t, regulator, wb)
	if inc.Attribution.Responsible.FirmID != w.hqB {
		t.Errorf("lost after B took it: responsible %+v, want B", inc.Attribution.Responsible)
	}
	// Another tree still may not scan it.
	res = w.ingest(t, firmCaller(w.brA), ev("x1", wb, w.hqA, tracking.Arrived, t0.Add(4*time.Hour), w.siteBr, w.yBr))
	if res.Rejected != 1 {
		t.Errorf("a third tree scanning: %+v, want rejected", res.Results)
	}
}

// POST .../accept by the receiving tree or a regulator takes the parcel; the giver cannot.
func TestAcceptHandover(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		who  func(w *world) credtrace.Caller
	}{{"the receiver", func(w *world) credtrace.Caller { return firmCaller(w.hqB) }}, {"a regulator", func(*world) credtrace.Caller { return regulator }}} {
		t.Run(c.name, func(t *testing.T) {
			const wb = "ZT0000000003"
			w := newWorld(t)
			offered(w, t, wb)
			if _, err := w.svc.AcceptHandover(w.ctx, firmCaller(w.hqA), wb, "", "a2"); !errors.Is(err, credtrace.ErrNotFound) {
				t.Errorf("the giver accepting its own offer: %v, want not found", err)
			}
			o, err := w.svc.AcceptHandover(w.ctx, c.who(w), wb, "", "a2")
			if err != nil || !o.Accepted {
				t.Fatalf("accept: %+v, %v", o, err)
			}
			tr := w.trace(t, wb)
			if tr.Holder.FirmID != w.hqB || !tr.Offers[0].Accepted {
				t.Errorf("after accept: holder %+v offers %+v, want B holding", tr.Holder, tr.Offers)
			}
			if o, err := w.svc.AcceptHandover(w.ctx, c.who(w), wb, "", "a2"); err != nil || !o.Accepted {
				t.Errorf("accepting again: %+v, %v; want the accepted offer", o, err)
			}
			if got := len(w.trace(t, wb).Events); got != 3 {
				t.Errorf("events after two accepts: %d, want 3", got)
			}
		})
	}
}

// Back-tracking on the reporter's own evidence alone never proposes a record against another
// tree: a branch that hands a parcel to its HQ's site (one brand, so custody moves at once) and
// reports it lost gets the HQ's site as a listed candidate, not a record.
func TestForeignCandidateOnOwnEvidenceIsListed(t *testing.T) {
	t.Parallel()
	const wb = "ZT0000000004"
	w := newWorld(t)
	w.accept(t, ev("r1", wb, w.brA, tracking.Collected, t0, w.siteBr, w.yBr),
		with(ev("r2", wb, w.brA, tracking.Handover, t0.Add(time.Hour), w.siteBr, w.yBr), func(in *tracking.EventInput) {
			in.Holder = &tracking.HolderInput{Firm: w.hqA, Site: w.siteA}
		}))
	inc := w.lostBy(t, firmCaller(w.brA), wb)
	a := inc.Attribution
	if !a.Responsible.IsZero() || len(inc.RecordIDs) != 0 {
		t.Errorf("responsible %+v records %v, want none", a.Responsible, inc.RecordIDs)
	}
	if len(a.Candidates) == 0 || a.Candidates[0].SiteID != w.siteA || a.Candidates[0].Reason == "" {
		t.Errorf("candidates %+v, want A's site listed with a reason", a.Candidates)
	}
	if got := complaints(t, w, w.hqA); got != 0 {
		t.Errorf("HQ complaints %d, want 0", got)
	}
	// The same incident reported by a regulator proposes the record.
	inc = w.lostBy(t, regulator, wb)
	if inc.Attribution.Responsible.SiteID != w.siteA || len(inc.RecordIDs) == 0 {
		t.Errorf("regulator: responsible %+v records %v, want A's site and records", inc.Attribution.Responsible, inc.RecordIDs)
	}
}
