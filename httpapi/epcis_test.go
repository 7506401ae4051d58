package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// registerGLNs gives the world's sorting centre its GLN 0614141007776 and brand A's HQ its
// party GLN 0614141008889, as the fixtures name them, and sets A's cold chain to 2–8 °C.
func registerGLNs(t *testing.T, e *env, w world) {
	t.Helper()
	site := e.must(200, "GET", "/v1/sites/"+w.site, adminTk, nil)
	put := map[string]any{"name": site["name"], "kind": site["kind"], "region": site["region"], "address": site["address"], "gln": "0614141007776"}
	if got := e.must(200, "PUT", "/v1/sites/"+w.site, adminTk, put); got["gln"] != "0614141007776" {
		t.Fatalf("site after PUT with a gln: %v", got)
	}
	if got := e.must(200, "PATCH", "/v1/firms/"+w.hqA, adminTk, map[string]any{"gln": "0614141008889"}); got["gln"] != "0614141008889" {
		t.Fatalf("firm after PATCH with a gln: %v", got)
	}
	cfg := e.must(200, "PUT", "/v1/carriers/"+w.hqA+"/config", adminTk, map[string]any{"temp_min_c": 2, "temp_max_c": 8})
	var glns []string
	for _, g := range items(cfg, "glns") {
		glns = append(glns, fmt.Sprint(g["gln"], "/", g["site"]))
	}
	if want := []string{"0614141008889/<nil>"}; !slices.Equal(glns, want) {
		t.Errorf("carrier config glns %v, want the HQ's %v (the site is A1's, listed in A1's config)", glns, want)
	}
}

// fixture reads testdata/epcis/name, its ids filled in.
func fixture(t *testing.T, name string) (string, []map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "epcis", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Body struct {
			EventList []map[string]any `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(raw), doc.Body.EventList
}

// TestEPCISFixtures posts our own EPCIS 2.0 documents, one per event type, action and
// identifier form: every event is answered with its eventList index as its test:expect field
// says (one answer per EPC), none is a 500, and everything not used is noted.
func TestEPCISFixtures(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	registerGLNs(t, e, w)
	files, err := filepath.Glob(filepath.Join("testdata", "epcis", "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("fixtures %v, %v", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		body, events := fixture(t, name)
		out := e.must(200, "POST", "/v1/events/epcis?carrier="+url.QueryEscape(w.hqA), w.firmA, body)
		byEvent := map[int][]map[string]any{}
		for _, r := range items(out, "results") {
			byEvent[num(r["epcis_index"])] = append(byEvent[num(r["epcis_index"])], r)
		}
		for i, ev := range events {
			var want []string
			for _, x := range ev["test:expect"].([]any) {
				want = append(want, x.(string))
			}
			got := byEvent[i]
			if len(got) != len(want) {
				t.Errorf("%s event %d: %d answers %v, want %d", name, i, len(got), got, len(want))
				continue
			}
			for j, r := range got {
				status, reason, _ := strings.Cut(want[j], ":")
				if r["status"] != status || !strings.Contains(fmt.Sprint(r["reason"]), reason) {
					t.Errorf("%s event %d answer %d: %v, want %s naming %q", name, i, j, r, status, reason)
				}
				notes := fmt.Sprint(r["notes"])
				if r["status"] == "accepted" && !strings.Contains(notes, "test:expect") {
					t.Errorf("%s event %d: notes %s do not say the extension field test:expect was kept", name, i, notes)
				}
				if _, ok := ev["recordTime"]; ok && !strings.Contains(notes, "recordTime") {
					t.Errorf("%s event %d: recordTime ignored without a note: %s", name, i, notes)
				}
			}
		}
		if name == "sensors.json" {
			var kinds []string
			for _, a := range items(out, "anomalies") {
				kinds = append(kinds, fmt.Sprint(a["kind"], " ", a["detail"]))
			}
			if len(kinds) != 1 || !strings.Contains(kinds[0], "temperature_excursion") || !strings.Contains(kinds[0], "12.0 °C") {
				t.Errorf("sensors.json anomalies %v, want one temperature excursion at 12.0 °C (53.6 °F)", kinds)
			}
		}
	}

	// The SSCC's URN and Digital Link name one parcel, at the site its SGLN names, held by the
	// firm its PGLN names.
	tr := e.must(200, "GET", "/v1/parcels/106141412345678908", w.firmA, nil)
	var codes []string
	for i, ev := range items(tr, "events") {
		codes = append(codes, fmt.Sprint(ev["code"]))
		if ext, _ := ev["extensions"].(map[string]any); ext["action"] == nil || i == 1 && ext["example:dock"] == nil {
			t.Errorf("event %d of the trace: extensions %v, want the EPCIS fields as sent", i, ev["extensions"])
		}
		if ev["site"] != w.site {
			t.Errorf("event %v: site, want %s (by GLN)", ev, w.site)
		}
	}
	if !slices.Equal(codes, []string{"collected", "departed", "arrived"}) {
		t.Errorf("the SSCC's trace %v, want collected, departed, arrived", codes)
	}
	// A DELETE takes the parcel out: returned, never a departure.
	tr = e.must(200, "GET", "/v1/parcels/011061414112345921400", w.firmA, nil)
	if evs := items(tr, "events"); len(evs) != 2 || evs[1]["code"] != "returned" || tr["status"] != "returned" {
		t.Errorf("the SGTIN after a DELETE: status %v events %v, want returned", tr["status"], evs)
	}

	// A partner reads back what it sent: its eventIDs, extension fields and sensor reports.
	q := "/v1/epcis/events?MATCH_epc=" + url.QueryEscape("urn:epc:id:sscc:0614141.1234567890") + "&carrier=" + url.QueryEscape(w.hqA)
	doc := e.must(200, "GET", q, w.firmA, nil)
	if doc["type"] != "EPCISQueryDocument" {
		t.Fatalf("query answer %v, want an EPCISQueryDocument", doc)
	}
	evs := queryEvents(t, doc)
	if len(evs) != 3 || evs[1]["eventID"] != "urn:uuid:0b1e5e6a-0002-4c1e-9a01-000000000002" || evs[0]["action"] != "ADD" {
		t.Fatalf("read back %v, want the three events as sent", evs)
	}
	if dock, _ := evs[1]["example:dock"].(map[string]any); dock["label"] != "北门" {
		t.Errorf("extension field example:dock read back as %v", evs[1]["example:dock"])
	}
	if _, ok := evs[2]["sensorElementList"]; !ok || evs[2]["eventTime"] != "2026-06-01T12:00:00+08:00" {
		t.Errorf("third event read back %v, want its sensor reports and eventTime at +08:00", evs[2])
	}
	// Filters and pages.
	for _, c := range []struct {
		query string
		want  int
	}{
		{"&EQ_bizStep=departing", 1},
		{"&EQ_bizStep=" + url.QueryEscape("urn:epcglobal:cbv:bizstep:arriving"), 1},
		{"&EQ_bizLocation=" + url.QueryEscape("urn:epc:id:sgln:0614141.00777.0"), 3},
		{"&GE_eventTime=" + url.QueryEscape("2026-06-01T11:00:00+08:00") + "&LT_eventTime=" + url.QueryEscape("2026-06-01T12:00:00+08:00"), 1},
	} {
		if got := queryEvents(t, e.must(200, "GET", q+c.query, w.firmA, nil)); len(got) != c.want {
			t.Errorf("query %s: %d events, want %d", c.query, len(got), c.want)
		}
	}
	resp, raw := e.raw("GET", q+"&perPage=2", w.firmA, nil)
	link := resp.Header.Get("Link")
	if !strings.Contains(raw, "0001") || !strings.Contains(link, `rel="next"`) {
		t.Fatalf("first page of 2: link %q, %s", link, raw)
	}
	next, _ := url.Parse(strings.Trim(strings.Split(link, ";")[0], "<>"))
	page2 := queryEvents(t, e.must(200, "GET", next.RequestURI(), w.firmA, nil))
	if len(page2) != 1 || page2[0]["eventID"] != "urn:uuid:0b1e5e6a-0003-4c1e-9a01-000000000003" {
		t.Errorf("second page %v, want the third event", page2)
	}
	// Firm B sees none of A's events; a regulator sees them all.
	if got := queryEvents(t, e.must(200, "GET", q, w.firmB, nil)); len(got) != 0 {
		t.Errorf("firm B reads %d of A's events", len(got))
	}
	if got := queryEvents(t, e.must(200, "GET", q, adminTk, nil)); len(got) != 3 {
		t.Errorf("the regulator reads %d events, want 3", len(got))
	}
	e.must(422, "GET", "/v1/epcis/events", w.firmA, nil)
}

func queryEvents(t *testing.T, doc map[string]any) []map[string]any {
	t.Helper()
	body, _ := doc["epcisBody"].(map[string]any)
	res, _ := body["queryResults"].(map[string]any)
	rb, _ := res["resultsBody"].(map[string]any)
	return items(rb, "eventList")
}

// A document that is not EPCIS is one 400 naming what is wrong; an event with too much kept
// beside its tracking fields is rejected alone, naming the limit.
func TestEPCISRefusals(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	path := "/v1/events/epcis?carrier=" + url.QueryEscape(w.hqA)
	for _, c := range []struct{ name, body, field string }{
		{"a query document", `{"type":"EPCISQueryDocument","epcisBody":{"queryResults":{}}}`, "type"},
		{"no type", `{"epcisBody":{"eventList":[]}}`, "type"},
		{"a bad @context", `{"@context":5,"type":"EPCISDocument","epcisBody":{"eventList":[]}}`, "@context"},
		{"no eventList", `{"type":"EPCISDocument","epcisBody":{}}`, "epcisBody.eventList"},
		{"eventList not an array", `{"type":"EPCISDocument","epcisBody":{"eventList":{"type":"ObjectEvent"}}}`, "epcisBody.eventList"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, out := e.call("POST", path, w.firmA, c.body)
			if got != 400 || !contains(fields(out), c.field) {
				t.Errorf("status %d fields %v, want 400 naming %s: %v", got, fields(out), c.field, out)
			}
		})
	}
	big := map[string]any{"type": "ObjectEvent", "eventTime": "2026-06-01T10:00:00+08:00", "action": "ADD",
		"epcList": []string{"urn:epc:id:sscc:0614141.1234567890"}, "example:blob": strings.Repeat("x", 9000)}
	doc := map[string]any{"type": "EPCISDocument", "epcisBody": map[string]any{"eventList": []any{big, 7}}}
	out := e.must(200, "POST", path, w.firmA, doc)
	res := items(out, "results")
	if len(res) != 2 || !strings.Contains(fmt.Sprint(res[0]["reason"]), "MaxExtensionBytes") || res[1]["status"] != "rejected" {
		t.Errorf("results %v, want the big event rejected naming MaxExtensionBytes and the number rejected alone", res)
	}
}
