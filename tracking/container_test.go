package tracking_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

func (w *world) pack(t *testing.T, c credtrace.Caller, in tracking.PackInput) tracking.LinkResult {
	t.Helper()
	res, err := w.svc.Pack(w.ctx, c, in)
	if err != nil {
		t.Fatalf("pack %s: %v", in.ID, err)
	}
	return res
}

// noDiffs fails the test unless the consistency check finds the derived state equal to the
// one rebuilt from the stored events.
func (w *world) noDiffs(t *testing.T) {
	t.Helper()
	diffs, err := w.svc.Check(w.ctx)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(diffs) > 0 {
		t.Errorf("consistency check:\n%s", strings.Join(diffs, "\n"))
	}
}

func TestContainerScanIsAScanOfEachParcelInside(t *testing.T) {
	w := newWorld(t)
	a := firmCaller(w.hqA)
	w.accept(t, ev("c-1", "SF7000000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA),
		ev("c-2", "SF7000000002", w.hqA, tracking.Collected, t0, w.siteA, w.xA),
		ev("c-3", "SF7000000003", w.hqB, tracking.Collected, t0, w.siteB, w.zB))
	if r := w.pack(t, a, tracking.PackInput{ID: "agg-1", Carrier: w.hqA, Container: "BAG-01", Waybills: []string{"SF7000000001", "SF7000000002"},
		At: t0.Add(time.Hour), Site: w.siteA, Staff: w.xA}); r.Status != tracking.Accepted || r.Links != 2 {
		t.Fatalf("pack = %+v, want accepted with 2 links", r)
	}
	if r := w.pack(t, a, tracking.PackInput{ID: "agg-1", Carrier: w.hqA, Container: "BAG-01", Waybills: []string{"SF7000000001", "SF7000000002"},
		At: t0.Add(time.Hour), Site: w.siteA}); r.Status != tracking.Duplicate {
		t.Errorf("the same packing again = %+v, want duplicate", r)
	}
	// An id in the body is a claim, not a right.
	for name, tc := range map[string]struct {
		c    credtrace.Caller
		in   tracking.PackInput
		want string
	}{
		"another firm's carrier": {firmCaller(w.hqB), tracking.PackInput{ID: "x-1", Carrier: w.hqA, Container: "BAG-01", Waybills: []string{"SF7000000001"}, At: t0.Add(time.Hour)},
			"carrier: outside your firm tree"},
		"another firm's parcel into own container": {firmCaller(w.hqB), tracking.PackInput{ID: "x-2", Carrier: w.hqB, Container: "CAGE-9", Waybills: []string{"SF7000000001"}, At: t0.Add(time.Hour)},
			"childEPCs[0]: no parcel SF7000000001 of the carrier"},
		"another carrier's parcel": {a, tracking.PackInput{ID: "x-3", Carrier: w.hqA, Container: "BAG-01", Waybills: []string{"SF7000000003"}, At: t0.Add(time.Hour)},
			"childEPCs[0]: no parcel SF7000000003 of the carrier"},
		"a parcel as container": {a, tracking.PackInput{ID: "x-4", Carrier: w.hqA, Container: "SF7000000002", Waybills: []string{"SF7000000001"}, At: t0.Add(time.Hour)},
			"parentID: SF7000000002 is a parcel of the carrier, not a container"},
		"another tree's site": {a, tracking.PackInput{ID: "x-5", Carrier: w.hqA, Container: "BAG-02", Waybills: []string{"SF7000000001"}, At: t0.Add(time.Hour), Site: w.siteB},
			"site: not a site of the carrier's firm tree"},
	} {
		if r := w.pack(t, tc.c, tc.in); r.Status != tracking.Rejected || r.Reason != tc.want {
			t.Errorf("%s: %+v, want rejected: %s", name, r, tc.want)
		}
	}

	scan := ev("scan-1", "BAG-01", w.hqA, tracking.Departed, t0.Add(2*time.Hour), w.siteA, w.xA)
	res := w.ingest(t, a, scan)
	if len(res.Results) != 1 || res.Results[0].Status != tracking.Accepted || res.Results[0].ID != "scan-1" || res.Accepted != 1 {
		t.Fatalf("container scan = %+v, want one accepted result", res)
	}
	for _, wb := range []string{"SF7000000001", "SF7000000002"} {
		if p := w.parcel(t, wb); p.Status != tracking.Departed || p.TransitScans != 1 {
			t.Errorf("%s after the container scan: %s with %d transit scans, want departed with 1", wb, p.Status, p.TransitScans)
		}
	}
	if res := w.ingest(t, a, scan); res.Results[0].Status != tracking.Duplicate {
		t.Errorf("the container scan again = %+v, want duplicate", res.Results[0])
	}
	// Another firm can neither scan the container as the carrier nor reach it under its own.
	if res := w.ingest(t, firmCaller(w.hqB), scan); res.Results[0].Status != tracking.Rejected || res.Results[0].Reason != "carrier: outside your firm tree" {
		t.Errorf("another firm's scan of the container = %+v, want rejected", res.Results[0])
	}

	// Unpacking one, then all: later scans reach only what is inside.
	if r := w.pack(t, a, tracking.PackInput{ID: "agg-2", Carrier: w.hqA, Container: "BAG-01", Waybills: []string{"SF7000000001"}, Unpack: true,
		At: t0.Add(3 * time.Hour), Site: w.siteA2}); r.Status != tracking.Accepted {
		t.Fatalf("unpack one = %+v", r)
	}
	w.accept(t, ev("scan-2", "BAG-01", w.hqA, tracking.Arrived, t0.Add(4*time.Hour), w.siteA2, w.wA))
	if got := w.parcel(t, "SF7000000001").Status; got != tracking.Departed {
		t.Errorf("an unpacked parcel followed its container: %s", got)
	}
	if got := w.parcel(t, "SF7000000002").Status; got != tracking.Arrived {
		t.Errorf("the parcel still inside: %s, want arrived", got)
	}
	if r := w.pack(t, a, tracking.PackInput{ID: "agg-3", Carrier: w.hqA, Container: "BAG-01", Unpack: true, At: t0.Add(5 * time.Hour), Site: w.siteA2}); r.Status != tracking.Accepted || r.Links != 1 {
		t.Fatalf("unpack all = %+v, want the one parcel left", r)
	}
	res = w.ingest(t, a, ev("scan-3", "BAG-01", w.hqA, tracking.Arrived, t0.Add(6*time.Hour), w.siteA2, w.wA))
	if r := res.Results[0]; r.Status != tracking.Rejected || !strings.Contains(r.Reason, "holds no parcel") {
		t.Errorf("a scan of the empty container = %+v, want rejected", r)
	}
	// To another firm the carrier's container is no more than the carrier's: not its to scan.
	res = w.ingest(t, firmCaller(w.hqB), ev("scan-4", "BAG-01", w.hqA, tracking.Arrived, t0.Add(6*time.Hour), "", ""))
	if r := res.Results[0]; r.Status != tracking.Rejected || r.Reason != "carrier: outside your firm tree" {
		t.Errorf("another firm's scan of the empty container = %+v, want rejected as outside its tree", r)
	}

	tr := w.trace(t, "SF7000000001")
	want := []tracking.Stay{{Container: "BAG-01", PackedAt: t0.Add(time.Hour), PackedSite: w.siteA, PackedEvent: "agg-1",
		UnpackedAt: t0.Add(3 * time.Hour), UnpackedSite: w.siteA2, UnpackedEvent: "agg-2"}}
	if !reflect.DeepEqual(tr.Containers, want) {
		t.Errorf("trace containers:\n got %+v\nwant %+v", tr.Containers, want)
	}
	if ids := eventIDs(tr.Events); !reflect.DeepEqual(ids, []string{"c-1", "scan-1~SF7000000001"}) {
		t.Errorf("trace events %q", ids)
	}
	w.noDiffs(t)

	// The statistics are those of the same scans sent parcel by parcel.
	d := newWorld(t)
	d.accept(t, ev("c-1", "SF7000000001", d.hqA, tracking.Collected, t0, d.siteA, d.xA),
		ev("c-2", "SF7000000002", d.hqA, tracking.Collected, t0, d.siteA, d.xA))
	d.accept(t, ev("s1", "SF7000000001", d.hqA, tracking.Departed, t0.Add(2*time.Hour), d.siteA, d.xA),
		ev("s2", "SF7000000002", d.hqA, tracking.Departed, t0.Add(2*time.Hour), d.siteA, d.xA))
	d.accept(t, ev("s3", "SF7000000002", d.hqA, tracking.Arrived, t0.Add(4*time.Hour), d.siteA2, d.wA))
	for _, k := range []struct {
		kind   tracking.SubjectKind
		id, in string
	}{{tracking.SubjectFirm, w.hqA, d.hqA}, {tracking.SubjectSite, w.siteA, d.siteA}, {tracking.SubjectSite, w.siteA2, d.siteA2},
		{tracking.SubjectStaff, w.xA, d.xA}, {tracking.SubjectStaff, w.wA, d.wA}} {
		if got, want := w.stats(t, k.kind, k.id), d.stats(t, k.kind, k.in); !reflect.DeepEqual(got, want) {
			t.Errorf("%s statistics by container scans %v, by direct scans %v", k.kind, got, want)
		}
	}
}

func TestOrderLinkShownToThoseWhoSeeTheParcel(t *testing.T) {
	w := newWorld(t)
	w.accept(t, shipped(ev("c-1", "SF7100000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA), "M-7", recipientPhone))
	res, err := w.svc.LinkOrder(w.ctx, firmCaller(w.hqA), tracking.OrderInput{ID: "tx-1", Carrier: w.hqA, Waybills: []string{"SF7100000001"},
		Refs: []tracking.OrderRef{{Type: "urn:epcglobal:cbv:btt:po", ID: "PO-2026-77"}}, At: t0.Add(time.Minute)})
	if err != nil || res.Status != tracking.Accepted {
		t.Fatalf("link order = %+v, %v", res, err)
	}
	if res, _ := w.svc.LinkOrder(w.ctx, firmCaller(w.hqB), tracking.OrderInput{ID: "tx-2", Carrier: w.hqA, Waybills: []string{"SF7100000001"},
		Refs: []tracking.OrderRef{{Type: "po", ID: "PO-X"}}, At: t0}); res.Status != tracking.Rejected {
		t.Errorf("another firm linked the carrier's parcel: %+v", res)
	}
	want := []tracking.OrderRef{{Type: "po", ID: "PO-2026-77", EventID: "tx-1", At: t0.Add(time.Minute)}}
	for name, c := range map[string]credtrace.Caller{"carrier": firmCaller(w.hqA), "merchant": merchantCaller("M-7"), "regulator": regulator} {
		tr, err := w.svc.TraceParcel(w.ctx, c, "SF7100000001", "", "")
		if err != nil {
			t.Fatalf("%s trace: %v", name, err)
		}
		if !reflect.DeepEqual(tr.Orders, want) {
			t.Errorf("%s sees orders %+v, want %+v", name, tr.Orders, want)
		}
	}
	tr, err := w.svc.TraceParcel(w.ctx, public, "SF7100000001", "", recipientLast4)
	if err != nil {
		t.Fatalf("public trace: %v", err)
	}
	if len(tr.Orders) != 0 || len(tr.Containers) != 0 {
		t.Errorf("the public sees orders %+v, containers %+v", tr.Orders, tr.Containers)
	}
}

func TestRetractAPackingOrAnOrderLink(t *testing.T) {
	w := newWorld(t)
	a := firmCaller(w.hqA)
	w.accept(t, ev("c-1", "SF7200000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA),
		ev("c-2", "SF7200000002", w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	w.pack(t, a, tracking.PackInput{ID: "agg-1", Carrier: w.hqA, Container: "BAG-07", Waybills: []string{"SF7200000001", "SF7200000002"},
		At: t0.Add(time.Hour), Site: w.siteA})
	w.accept(t, ev("scan-1", "BAG-07", w.hqA, tracking.Departed, t0.Add(2*time.Hour), w.siteA, w.xA))
	if r, err := w.svc.LinkOrder(w.ctx, a, tracking.OrderInput{ID: "tx-1", Carrier: w.hqA, Waybills: []string{"SF7200000001"},
		Refs: []tracking.OrderRef{{Type: "po", ID: "PO-1"}}, At: t0.Add(time.Minute)}); err != nil || r.Status != tracking.Accepted {
		t.Fatalf("link order = %+v, %v", r, err)
	}

	if r := w.retract(t, firmCaller(w.hqB), w.hqA, "agg-1"); r.Status != tracking.Rejected || !strings.Contains(r.Reason, "no event agg-1") {
		t.Errorf("another firm's declaration = %+v, want rejected as no such event", r)
	}
	if r := w.retract(t, a, w.hqA, "agg-1"); r.Status != tracking.Accepted || r.Links != 2 {
		t.Fatalf("retract the packing = %+v, want accepted with 2 links", r)
	}
	if r := w.retract(t, a, w.hqA, "agg-1"); r.Status != tracking.Duplicate {
		t.Errorf("the declaration again = %+v, want duplicate", r)
	}
	if r := w.retract(t, a, w.hqA, "tx-1"); r.Status != tracking.Accepted || r.Links != 1 {
		t.Fatalf("retract the order link = %+v, want accepted with 1 link", r)
	}
	for _, wb := range []string{"SF7200000001", "SF7200000002"} {
		tr := w.trace(t, wb)
		if len(tr.Containers) != 0 || len(tr.Orders) != 0 {
			t.Errorf("%s still shows containers %+v, orders %+v", wb, tr.Containers, tr.Orders)
		}
		for _, seg := range tr.Custody {
			if len(seg.Containers) != 0 {
				t.Errorf("%s custody segment %+v still in a container", wb, seg)
			}
		}
		last := len(tr.RetractedLinks) - 1 // in time order: the packing is the latest
		if last < 0 || tr.RetractedLinks[last].EventID != "agg-1" || tr.RetractedLinks[last].Retracted == nil ||
			tr.RetractedLinks[last].Retracted.Reason != "incorrect_data" {
			t.Errorf("%s retracted links %+v, want the packing, with its reason", wb, tr.RetractedLinks)
		}
		// The container scan expanded before the retraction is an event of its own: it stays.
		if p := w.parcel(t, wb); p.Status != tracking.Departed {
			t.Errorf("%s after the retraction: %s, want departed (scan-1 stays)", wb, p.Status)
		}
	}
	if tr := w.trace(t, "SF7200000001"); len(tr.RetractedLinks) != 2 || tr.RetractedLinks[0].Kind != tracking.LinkOrder {
		t.Errorf("retracted links %+v, want the packing and the order", tr.RetractedLinks)
	}
	res := w.ingest(t, a, ev("scan-2", "BAG-07", w.hqA, tracking.Arrived, t0.Add(3*time.Hour), w.siteA, w.xA))
	if len(res.Results) != 1 || res.Results[0].Status != tracking.Rejected || !strings.Contains(res.Results[0].Reason, "holds no parcel") {
		t.Errorf("a scan of the container after the retraction = %+v, want rejected: it holds no parcel", res)
	}
	w.noDiffs(t)
}

func TestRetractAnUnpackingPutsTheParcelBackInside(t *testing.T) {
	w := newWorld(t)
	a := firmCaller(w.hqA)
	w.accept(t, ev("c-1", "SF7400000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	w.pack(t, a, tracking.PackInput{ID: "agg-1", Carrier: w.hqA, Container: "CAGE-3", Waybills: []string{"SF7400000001"}, At: t0.Add(time.Hour)})
	w.pack(t, a, tracking.PackInput{ID: "un-1", Carrier: w.hqA, Container: "CAGE-3", Unpack: true, At: t0.Add(2 * time.Hour)})
	if r := w.retract(t, a, w.hqA, "un-1"); r.Status != tracking.Accepted || r.Links != 1 {
		t.Fatalf("retract the unpacking = %+v, want accepted with 1 link", r)
	}
	if cs := w.trace(t, "SF7400000001").Containers; len(cs) != 1 || !cs[0].UnpackedAt.IsZero() {
		t.Errorf("stays after the unpacking's retraction %+v, want one, still open", cs)
	}
	res := w.ingest(t, a, ev("scan-1", "CAGE-3", w.hqA, tracking.Departed, t0.Add(3*time.Hour), w.siteA, w.xA))
	if len(res.Results) != 1 || res.Results[0].Status != tracking.Accepted {
		t.Fatalf("a scan of the cage after the retraction = %+v, want accepted", res)
	}
	if p := w.parcel(t, "SF7400000001"); p.Status != tracking.Departed {
		t.Errorf("the parcel after the cage's scan: %s, want departed", p.Status)
	}
}
