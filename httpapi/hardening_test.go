package httpapi_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
)

// fieldsOf returns the fields an error answer names.
func fieldsOf(out map[string]any) []string {
	e, _ := out["error"].(map[string]any)
	fs, _ := e["fields"].([]any)
	var names []string
	for _, f := range fs {
		if m, ok := f.(map[string]any); ok {
			names = append(names, fmt.Sprint(m["field"]))
		}
	}
	return names
}

func names(out map[string]any, field string) bool {
	for _, f := range fieldsOf(out) {
		if f == field {
			return true
		}
	}
	return false
}

// TestListLimitAboveMaximum: every list refuses ?limit= above 500 with 422 naming limit,
// instead of quietly answering a smaller page; 500 itself is served.
func TestListLimitAboveMaximum(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	lists := []string{
		"/v1/firms", "/v1/firms/" + w.a1 + "/sites", "/v1/staff", "/v1/records", "/v1/objections",
		"/v1/commitments", "/v1/audit", "/v1/incidents", "/v1/anomalies", "/v1/scoring/runs", "/v1/sanctions",
	}
	for _, path := range lists {
		t.Run(path, func(t *testing.T) {
			if got, out := e.call("GET", path+"?limit=500", adminTk, nil); got != 200 {
				t.Errorf("limit=500: status %d, want 200: %v", got, out)
			}
			got, out := e.call("GET", path+"?limit=501", adminTk, nil)
			if got != 422 || !names(out, "limit") {
				t.Errorf("limit=501: status %d %v, want 422 naming limit", got, out)
			}
		})
	}
}

// TestRecordOccurredAtRange: a record dated before 2000 or in the future is 422 naming
// occurred_at.
func TestRecordOccurredAtRange(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	tests := []struct {
		name string
		at   string
		want int
	}{
		{"the first moment of 2000", "2000-01-01T00:00:00+08:00", 201},
		{"before 2000", "1999-12-31T23:59:59+08:00", 422},
		{"a typo for 2026", "0026-05-01T10:00:00+08:00", 422},
		{"in the future", "2026-06-02T08:00:00+08:00", 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, out := e.call("POST", "/v1/records", adminTk, map[string]any{
				"subject": map[string]any{"kind": "firm", "id": w.a1}, "category": "supervision", "source": "regulator",
				"severity": "minor", "occurred_at": tt.at, "summary": "抽查"})
			if got != tt.want || (tt.want == 422 && !names(out, "occurred_at")) {
				t.Errorf("occurred_at %s: status %d %v, want %d (naming occurred_at when refused)", tt.at, got, out, tt.want)
			}
		})
	}
}

// TestREADMEPublicRoutes: the README's line of public routes names every route the table
// opens to callers without a token (a route under a prefix written "/prefix/..." counts).
func TestREADMEPublicRoutes(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "| public | no token:") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("README has no \"| public | no token:\" line")
	}
	e := newEnv(t)
	for _, r := range e.srv.Routes() {
		if !slices.Contains(r.Roles, credtrace.RolePublic) {
			continue
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		path := strings.Join(parts, "/")
		covered := strings.Contains(line, "`"+r.Method+" "+path+"`")
		for i := len(parts) - 1; i > 1 && !covered; i-- {
			covered = strings.Contains(line, "`"+strings.Join(parts[:i], "/")+"/...`")
		}
		if !covered {
			t.Errorf("README's public routes do not name %s %s", r.Method, path)
		}
	}
}

// TestJSONDuplicateKeysAndUTF8: a key given twice in one object and text that is not UTF-8
// are refused with 400 naming the JSON path, on every kind of JSON body, instead of being
// taken silently (the last key winning, bad bytes turned into U+FFFD).
func TestJSONDuplicateKeysAndUTF8(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	record := func(subject, summary string) string {
		return `{"subject":` + subject + `,"category":"supervision","source":"regulator","severity":"minor",` +
			`"occurred_at":"2026-05-20T09:00:00+08:00","summary":"` + summary + `"}`
	}
	subj := `{"kind":"firm","id":"` + w.a1 + `"}`
	event := func(id, extra string) string {
		return `{"id":"` + id + `","waybill":"SF2000000001","carrier":"` + w.hqA + `","code":"collected","at":"2026-06-01T07:00:00+08:00"` + extra + `}`
	}
	tests := []struct {
		name, path, body string
		want             int
		field            string
	}{
		{"a clean record", "/v1/records", record(subj, `抽查 😀 \ud83d\ude00`), 201, ""},
		{"a key twice at the top", "/v1/tokens", `{"role":"platform","label":"a","label":"b"}`, 400, "label"},
		{"a key twice, nested", "/v1/records", record(`{"kind":"firm","id":"`+w.a1+`","kind":"site"}`, "x"), 400, "subject.kind"},
		{"a key twice, once escaped", "/v1/tokens", `{"role":"platform","label":"a","l\u0061bel":"b"}`, 400, "label"},
		{"bytes that are not UTF-8", "/v1/records", record(subj, "bad \xff\xfe"), 400, "summary"},
		{"an encoded surrogate", "/v1/records", record(subj, "bad \xed\xa0\x80"), 400, "summary"},
		{"a lone surrogate escape", "/v1/records", record(subj, `bad \ud800 half`), 400, "summary"},
		{"a key that is not UTF-8", "/v1/records", record(`{"kind":"firm","id":"`+w.a1+"\",\"\xff\":1}", "x"), 400, "subject"},
		{"events: a key twice in the third", "/v1/events", "[" + event("d1", "") + "," + event("d2", "") + "," + event("d3", `,"code":"lost"`) + "]", 400, "[2].code"},
		{"events: bad UTF-8 in the second", "/v1/events", "[" + event("d1", "") + "," + event("d2", ",\"remark\":\"\xc3\"") + "]", 400, "[1].remark"},
		{"NDJSON: a key twice on the second line", "/v1/events", event("n1", "") + "\n" + event("n2", `,"waybill":"SF2000000002"`) + "\n", 400, "[1].waybill"},
		{"EPCIS: a key twice in an event", "/v1/events/epcis?carrier=" + w.hqA, `{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent","type":"AggregationEvent"}]}}`, 400, "epcisBody.eventList[0].type"},
		{"methodology: a key twice", "/v1/scoring/method", `{"version":"2027.1","version":"2027.2"}`, 400, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.path == "/v1/scoring/method" {
				method = "PUT"
			}
			got, out := e.call(method, tt.path, adminTk, tt.body)
			if got != tt.want {
				t.Fatalf("status %d %v, want %d", got, out, tt.want)
			}
			if tt.field != "" && !names(out, tt.field) {
				t.Errorf("error names %v, want %q: %v", fieldsOf(out), tt.field, out)
			}
		})
	}
}
