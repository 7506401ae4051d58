package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// epcisDoc wraps events in an EPCIS 2.0 document.
func epcisDocument(events ...map[string]any) map[string]any {
	return map[string]any{"@context": []string{"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"},
		"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-06-01T15:00:00+08:00",
		"epcisBody": map[string]any{"eventList": events}}
}

// statuses lists the results' statuses in order, each with its eventList index.
func statuses(out map[string]any) []string {
	var got []string
	for _, r := range items(out, "results") {
		got = append(got, fmt.Sprintf("%v:%v", num(r["epcis_index"]), r["status"]))
	}
	return got
}

// TestEPCISConsolidationAndCorrections posts, as a carrier's capture system would, parcels
// packed into a bag, a scan of the bag, an order reference, a wrong scan of the bag declared
// erroneous with its corrective event, and the bag's unpacking; and checks trace, custody,
// statistics and the audit trail after each.
func TestEPCISConsolidationAndCorrections(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	epcisConsolidation(t, e, w)
}

// TestEPCISConsolidationAndCorrectionsMongo is the same on a MongoDB replica (the embedded
// FerretDB), whose pipeline folds as one of several processes.
func TestEPCISConsolidationAndCorrectionsMongo(t *testing.T) {
	e := replicas(t, 1)[0]
	var w world
	w.hqA, w.firmA = carrierOn(e)
	w.a1 = e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccFor(1), "顺达速运石家庄分公司", "branch", w.hqA))["id"].(string)
	w.hqB = e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccB, "飞鸿快递", "hq", ""))["id"].(string)
	w.firmB = e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "firm", "firm_id": w.hqB, "label": "brand B"})["token"].(string)
	w.site = e.must(201, "POST", "/v1/firms/"+w.a1+"/sites", adminTk, map[string]any{"name": "栾城分拨中心", "kind": "sorting_centre", "region": "130111"})["id"].(string)
	epcisConsolidation(t, e, w)
}

func epcisConsolidation(t *testing.T, e *env, w world) {
	const p1, p2 = "SF4100000001", "SF4100000002"
	post := func(tok string, evs ...map[string]any) map[string]any {
		t.Helper()
		return e.must(200, "POST", "/v1/events/epcis?carrier="+url.QueryEscape(w.hqA), tok, epcisDocument(evs...))
	}
	site := map[string]any{"id": "urn:credtrace:site:" + w.site}
	totals := func() map[string]any {
		t.Helper()
		return e.must(200, "GET", "/v1/stats/site/"+w.site+"?from=2026-05-01&to=2026-06-30", w.firmA, nil)["totals"].(map[string]any)
	}

	out := post(w.firmA,
		map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T10:00:00+08:00", "eventID": "urn:uuid:acc-7",
			"epcList": []string{"urn:waybill:" + p1, "urn:waybill:" + p2}, "action": "ADD", "bizStep": "urn:epcglobal:cbv:bizstep:accepting", "bizLocation": site},
		map[string]any{"type": "AggregationEvent", "eventTime": "2026-06-01T11:00:00+08:00", "eventID": "urn:uuid:agg-7", "action": "ADD",
			"parentID": "urn:credtrace:container:BAG-77", "childEPCs": []string{"urn:waybill:" + p1, "urn:waybill:" + p2},
			"bizStep": "urn:epcglobal:cbv:bizstep:packing", "bizLocation": site},
		map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T12:00:00+08:00", "eventID": "urn:uuid:dep-bag",
			"epcList": []string{"urn:credtrace:container:BAG-77"}, "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:departing", "bizLocation": site},
		map[string]any{"type": "TransactionEvent", "eventTime": "2026-06-01T10:30:00+08:00", "eventID": "urn:uuid:tx-7", "action": "ADD",
			"epcList": []string{"urn:waybill:" + p1}, "bizTransactionList": []map[string]any{{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-88"}}},
	)
	if got, want := strings.Join(statuses(out), " "), "0:accepted 0:accepted 1:accepted 2:accepted 3:accepted"; got != want { // one result per EPC
		t.Fatalf("first document: %s, want %s: %v", got, want, out)
	}
	tr := e.must(200, "GET", "/v1/parcels/"+p1, w.firmA, nil)
	if tr["status"] != "departed" {
		t.Errorf("%s after the bag's scan: %v, want departed", p1, tr["status"])
	}
	var ids []string
	for _, ev := range items(tr, "events") {
		ids = append(ids, fmt.Sprint(ev["id"]))
	}
	if got, want := strings.Join(ids, " "), "acc-7#0 dep-bag~"+p1; got != want {
		t.Errorf("trace events %s, want %s", got, want)
	}
	cs := items(tr, "containers")
	if len(cs) != 1 || cs[0]["container"] != "BAG-77" || cs[0]["packed_event"] != "agg-7" || cs[0]["packed_site"] != w.site || cs[0]["unpacked_at"] != nil {
		t.Errorf("trace containers %v, want BAG-77 packed by agg-7 at the site", cs)
	}
	segs := items(tr, "custody")
	if len(segs) == 0 || !strings.Contains(fmt.Sprint(segs[len(segs)-1]["containers"]), "BAG-77") {
		t.Errorf("custody %v does not show the bag", segs)
	}
	if os := items(tr, "orders"); len(os) != 1 || os[0]["id"] != "urn:epcglobal:cbv:bt:0614141000005:PO-88" || os[0]["type"] != "po" || os[0]["event_id"] != "tx-7" {
		t.Errorf("trace orders %v", os)
	}
	if code, _ := e.call("GET", "/v1/parcels/"+p1, w.firmB, nil); code != 404 {
		t.Errorf("another firm traced the parcel: %d", code)
	}
	// Another firm can neither pack the carrier's parcels nor scan its bag.
	out = e.must(200, "POST", "/v1/events/epcis?carrier="+url.QueryEscape(w.hqA), w.firmB, epcisDocument(
		map[string]any{"type": "AggregationEvent", "eventTime": "2026-06-01T11:30:00+08:00", "eventID": "urn:uuid:agg-x", "action": "ADD",
			"parentID": "urn:credtrace:container:BAG-77", "childEPCs": []string{"urn:waybill:" + p1}},
		map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T12:10:00+08:00", "eventID": "urn:uuid:x-bag",
			"epcList": []string{"urn:credtrace:container:BAG-77"}, "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:arriving"}))
	if got, want := strings.Join(statuses(out), " "), "0:rejected 1:rejected"; got != want {
		t.Errorf("another firm's document: %s, want %s: %v", got, want, out)
	}

	// A scan of the bag that marks both parcels damaged, then its declaration as erroneous
	// with the corrective scan.
	wrong := map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T12:30:00+08:00", "eventID": "urn:uuid:dmg-bag",
		"epcList": []string{"urn:credtrace:container:BAG-77"}, "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:arriving",
		"disposition": "urn:epcglobal:cbv:disp:damaged", "bizLocation": site}
	before := totals()
	out = post(w.firmA, wrong)
	if got := strings.Join(statuses(out), " "); got != "0:accepted" {
		t.Fatalf("wrong scan: %s: %v", got, out)
	}
	if got := num(totals()["damaged"]); got != num(before["damaged"])+2 {
		t.Fatalf("damaged at the site %d, want %d", got, num(before["damaged"])+2)
	}
	declared := map[string]any{}
	for k, v := range wrong {
		declared[k] = v
	}
	declared["errorDeclaration"] = map[string]any{"declarationTime": "2026-06-01T14:00:00+08:00", "reason": "urn:epcglobal:cbv:er:incorrect_data",
		"correctiveEventIDs": []string{"urn:uuid:arr-bag"}}
	corrective := map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T12:30:00+08:00", "eventID": "urn:uuid:arr-bag",
		"epcList": []string{"urn:credtrace:container:BAG-77"}, "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:arriving", "bizLocation": site}
	if got := strings.Join(statuses(e.must(200, "POST", "/v1/events/epcis?carrier="+url.QueryEscape(w.hqA), w.firmB, epcisDocument(declared))), " "); got != "0:rejected" {
		t.Errorf("another firm's declaration: %s, want rejected", got)
	}
	out = post(w.firmA, declared, corrective)
	if got, want := strings.Join(statuses(out), " "), "0:accepted 1:accepted"; got != want {
		t.Fatalf("declaration with its corrective event: %s, want %s: %v", got, want, out)
	}
	after := totals()
	for _, m := range []string{"damaged", "handled", "lost", "delivered"} {
		if num(after[m]) != num(before[m]) {
			t.Errorf("%s at the site after the correction %v, before the wrong scan %v", m, after[m], before[m])
		}
	}
	tr = e.must(200, "GET", "/v1/parcels/"+p2, w.firmA, nil)
	if tr["status"] != "arrived" {
		t.Errorf("%s after the correction: %v, want arrived", p2, tr["status"])
	}
	rs := items(tr, "retracted")
	if len(rs) != 1 || rs[0]["reason"] != "incorrect_data" || rs[0]["event"].(map[string]any)["id"] != "dmg-bag~"+p2 ||
		!strings.Contains(fmt.Sprint(rs[0]["corrective_event_ids"]), "arr-bag") {
		t.Errorf("trace retracted %v", rs)
	}
	for _, ev := range items(tr, "events") {
		if ev["code"] == "damaged" {
			t.Errorf("the retracted damage is still among the trace's events: %v", ev)
		}
	}
	if got := entriesOf(auditEntries(t, e), "event.retract", w.hqA+"|dmg-bag"); len(got) != 2 { // one per parcel
		t.Errorf("audit entries of the retraction: %v", got)
	}
	// Declared again: nothing moves.
	out = post(w.firmA, declared, corrective)
	if got, want := strings.Join(statuses(out), " "), "0:duplicate 1:duplicate"; got != want {
		t.Errorf("the declaration again: %s, want %s", got, want)
	}
	if again := totals(); num(again["handled"]) != num(after["handled"]) || num(again["damaged"]) != num(after["damaged"]) {
		t.Errorf("statistics moved on a repeated declaration: %v, then %v", after, again)
	}

	// Unpacked (every parcel: no childEPCs), the bag scans nothing.
	out = post(w.firmA,
		map[string]any{"type": "AggregationEvent", "eventTime": "2026-06-01T13:00:00+08:00", "eventID": "urn:uuid:unp-7", "action": "DELETE",
			"parentID": "urn:credtrace:container:BAG-77", "bizLocation": site},
		map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T13:30:00+08:00", "eventID": "urn:uuid:late-bag",
			"epcList": []string{"urn:credtrace:container:BAG-77"}, "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:departing", "bizLocation": site})
	if got, want := strings.Join(statuses(out), " "), "0:accepted 1:rejected"; got != want {
		t.Errorf("unpack and a later scan of the bag: %s, want %s: %v", got, want, out)
	}
	cs = items(e.must(200, "GET", "/v1/parcels/"+p1, w.firmA, nil), "containers")
	if len(cs) != 1 || cs[0]["unpacked_event"] != "unp-7" || cs[0]["unpacked_at"] == nil {
		t.Errorf("containers after the unpacking %v", cs)
	}
	diffs, err := e.trk.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("consistency check after the retraction:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestEPCISDeclaresAnAggregationErroneous declares a packing and an order reference
// erroneous: the bag's contents, the custody and the orders no longer show them, the trace
// shows them as retracted, a later scan of the bag reaches no parcel, and the scan of the bag
// made before the declaration stays (an event of its own).
func TestEPCISDeclaresAnAggregationErroneous(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	const p1, p2 = "SF4200000001", "SF4200000002"
	post := func(tok string, evs ...map[string]any) string {
		t.Helper()
		return strings.Join(statuses(e.must(200, "POST", "/v1/events/epcis?carrier="+url.QueryEscape(w.hqA), tok, epcisDocument(evs...))), " ")
	}
	site := map[string]any{"id": "urn:credtrace:site:" + w.site}
	pack := map[string]any{"type": "AggregationEvent", "eventTime": "2026-06-01T11:00:00+08:00", "eventID": "urn:uuid:agg-8", "action": "ADD",
		"parentID": "urn:credtrace:container:BAG-88", "childEPCs": []string{"urn:waybill:" + p1, "urn:waybill:" + p2},
		"bizStep": "urn:epcglobal:cbv:bizstep:packing", "bizLocation": site}
	order := map[string]any{"type": "TransactionEvent", "eventTime": "2026-06-01T10:30:00+08:00", "eventID": "urn:uuid:tx-8", "action": "ADD",
		"epcList": []string{"urn:waybill:" + p1}, "bizTransactionList": []map[string]any{{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "PO-99"}}}
	got := post(w.firmA,
		map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T10:00:00+08:00", "eventID": "urn:uuid:acc-8",
			"epcList": []string{"urn:waybill:" + p1, "urn:waybill:" + p2}, "action": "ADD", "bizStep": "urn:epcglobal:cbv:bizstep:accepting", "bizLocation": site},
		pack, order,
		map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T12:00:00+08:00", "eventID": "urn:uuid:dep-88",
			"epcList": []string{"urn:credtrace:container:BAG-88"}, "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:departing", "bizLocation": site})
	if want := "0:accepted 0:accepted 1:accepted 2:accepted 3:accepted"; got != want {
		t.Fatalf("first document: %s, want %s", got, want)
	}
	declare := func(ev map[string]any) map[string]any {
		d := map[string]any{}
		for k, v := range ev {
			d[k] = v
		}
		d["errorDeclaration"] = map[string]any{"declarationTime": "2026-06-01T14:00:00+08:00", "reason": "urn:epcglobal:cbv:er:incorrect_data"}
		return d
	}
	if got := post(w.firmB, declare(pack)); got != "0:rejected" {
		t.Errorf("another firm's declaration of the packing: %s, want rejected", got)
	}
	if got, want := post(w.firmA, declare(pack), declare(order)), "0:accepted 1:accepted"; got != want {
		t.Fatalf("declarations of the packing and the order: %s, want %s", got, want)
	}
	if got, want := post(w.firmA, declare(pack)), "0:duplicate"; got != want {
		t.Errorf("the declaration again: %s, want %s", got, want)
	}
	for _, wb := range []string{p1, p2} {
		tr := e.must(200, "GET", "/v1/parcels/"+wb, w.firmA, nil)
		if cs, os := items(tr, "containers"), items(tr, "orders"); len(cs) != 0 || len(os) != 0 {
			t.Errorf("%s still shows containers %v, orders %v", wb, cs, os)
		}
		for _, seg := range items(tr, "custody") {
			if seg["containers"] != nil {
				t.Errorf("%s custody segment still in a container: %v", wb, seg)
			}
		}
		var kinds []string
		for _, l := range items(tr, "retracted_links") {
			kinds = append(kinds, fmt.Sprintf("%v:%v:%v", l["event_id"], l["kind"], l["reason"]))
		}
		want := "agg-8:packed:incorrect_data"
		if wb == p1 {
			want = "tx-8:order:incorrect_data " + want
		}
		if got := strings.Join(kinds, " "); got != want {
			t.Errorf("%s retracted links %s, want %s", wb, got, want)
		}
		if tr["status"] != "departed" {
			t.Errorf("%s after the retraction: %v, want departed (the bag's scan before it stays)", wb, tr["status"])
		}
	}
	if got := entriesOf(auditEntries(t, e), "link.retract", w.hqA+"|agg-8"); len(got) != 1 {
		t.Errorf("audit entries of the packing's retraction: %v, want one", got)
	}
	if got := post(w.firmA, map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T15:00:00+08:00", "eventID": "urn:uuid:arr-88",
		"epcList": []string{"urn:credtrace:container:BAG-88"}, "action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:arriving", "bizLocation": site}); got != "0:rejected" {
		t.Errorf("a scan of the bag after the retraction: %s, want rejected (it holds no parcel)", got)
	}
}
