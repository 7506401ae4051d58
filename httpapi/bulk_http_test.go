package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/bulk"
)

// exportCall makes one export request and returns the response (its trailers read) and body.
func (e *env) exportCall(t *testing.T, path, token, accept string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := e.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	e.bodies.Write(b.Bytes())
	return resp, b.String()
}

// wantManifest checks the trailers against the bytes received.
func wantManifest(t *testing.T, resp *http.Response, body string, rows int) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	if got, want := resp.Trailer.Get("Digest"), "sha-256="+base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest trailer = %q, want %q (the hash of the %d bytes received)", got, want, len(body))
	}
	if got := resp.Trailer.Get("X-Count"); got != strconv.Itoa(rows) {
		t.Errorf("X-Count trailer = %q, want %d", got, rows)
	}
}

func ndjsonRows(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestExportHTTP: disclosures as NDJSON and CSV (BOM, chosen by ?format= or Accept), the
// trailers' count and digest match the bytes, and an increment from X-Export-Until holds only
// what changed since.
func TestExportHTTP(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	e.clock.add(time.Minute)

	resp, body := e.exportCall(t, "/v1/exports/disclosures", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	rows := ndjsonRows(t, body)
	if len(rows) == 0 || rows[0]["uscc"] == nil {
		t.Fatalf("disclosures = %s", body)
	}
	for _, r := range rows {
		if r["subject_kind"] == "staff" || r["status"] == "pending" || r["record_id"] == w.pending {
			t.Errorf("public disclosure row %v: a person's or a pending record", r)
		}
	}
	wantManifest(t, resp, body, len(rows))
	until := resp.Header.Get("X-Export-Until")
	if _, err := time.Parse(time.RFC3339Nano, until); err != nil {
		t.Fatalf("X-Export-Until = %q", until)
	}

	for _, how := range []struct{ path, accept string }{{"/v1/exports/disclosures?format=csv", ""}, {"/v1/exports/disclosures", "text/csv"}} {
		resp, body := e.exportCall(t, how.path, "", how.accept)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, "\ufeffrecord_id,") {
			t.Fatalf("%s (Accept %q): %s %.80q", how.path, how.accept, resp.Header.Get("Content-Type"), body)
		}
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
		if err != nil || len(recs) != len(rows)+1 {
			t.Errorf("csv rows = %d (%v), want a header and %d", len(recs), err, len(rows))
		}
		wantManifest(t, resp, body, len(rows))
	}

	// An increment: a record entered after the first export's end, and nothing else.
	e.clock.add(time.Minute)
	fresh := e.must(201, "POST", "/v1/records", adminTk, map[string]any{"subject": map[string]any{"kind": "firm", "id": w.hqA},
		"category": "supervision", "source": "regulator", "severity": "minor", "occurred_at": "2026-05-30T10:00:00+08:00", "summary": "增量"})["id"]
	e.clock.add(time.Minute)
	resp, body = e.exportCall(t, "/v1/exports/disclosures?since="+until, "", "")
	inc := ndjsonRows(t, body)
	if resp.StatusCode != 200 || len(inc) != 1 || inc[0]["record_id"] != fresh {
		t.Errorf("increment = %s, want the one new record %v", body, fresh)
	}
	wantManifest(t, resp, body, 1)
	next := resp.Header.Get("X-Export-Until")
	// At once again: the clock has not moved, the window is empty, and the cursor stays.
	if resp, body := e.exportCall(t, "/v1/exports/disclosures?since="+next, "", ""); resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Export-Until") != next {
		t.Errorf("the next increment, nothing changed = %d %q until %s, want empty until %s", resp.StatusCode, body, resp.Header.Get("X-Export-Until"), next)
	}
	if st, out := e.call("GET", "/v1/exports/disclosures?since=yesterday", "", nil); st != 422 {
		t.Errorf("a bad since: %d %v", st, out)
	}
	if st, out := e.call("GET", "/v1/exports/disclosures?format=xlsx", "", nil); st != 422 {
		t.Errorf("a bad format: %d %v", st, out)
	}
}

// TestExportScopes: a firm cannot export records in force, the public gets only public data,
// and the public sanctions carry no records or deciding tokens.
func TestExportScopes(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	e.bodies.Reset() // the world's own answers name the courier
	e.clock.add(time.Minute)
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/v1/exports/records", w.firmA, 403},
		{"/v1/exports/records", "", 403},
		{"/v1/exports/records_all", w.merch, 403},
		{"/v1/exports/sanctions_all", w.plat, 403},
		{"/v1/exports/payroll", adminTk, 422},
		{"/v1/exports/records", adminTk, 200},
		{"/v1/exports/sanctions", "", 200},
		{"/v1/exports/redlist", w.staffTk, 200},
		{"/v1/exports/blacklist", "", 200},
		{"/v1/exports/sanctions_all", adminTk, 200},
	} {
		resp, body := e.exportCall(t, c.path, c.token, "")
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d: %.200s", c.path, resp.StatusCode, c.want, body)
		}
	}
	_, body := e.exportCall(t, "/v1/exports/records", adminTk, "")
	var staffRow bool
	for _, r := range ndjsonRows(t, body) {
		if r["record_id"] == w.pending {
			t.Errorf("records in force hold the pending record")
		}
		staffRow = staffRow || r["subject_id"] == w.staff
	}
	if !staffRow {
		t.Errorf("records in force lack the person's record (by id): %s", body)
	}
	_, body = e.exportCall(t, "/v1/exports/sanctions", "", "")
	rows := ndjsonRows(t, body)
	if len(rows) != 1 || rows[0]["sanction_id"] != w.sanction || rows[0]["record_ids"] != nil || rows[0]["decided_by"] != nil {
		t.Errorf("public sanctions = %s, want the one in force without records or actors", body)
	}
	_, body = e.exportCall(t, "/v1/exports/sanctions_all", adminTk, "")
	if rows := ndjsonRows(t, body); len(rows) != 2 || rows[0]["rule"] == nil {
		t.Errorf("all sanctions = %s, want both with their rule", body)
	}
	for _, x := range []string{idNum, phone, "张三"} {
		if i := strings.Index(e.bodies.String(), x); i >= 0 {
			t.Errorf("an export carries personal data in clear: %q", e.bodies.String()[max(0, i-300):i+20])
		}
	}
}

// TestFirmReport: the regulator's JSON document and printable page; firms are refused.
func TestFirmReport(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	out := e.must(200, "GET", "/v1/firms/"+w.a1+"/report", adminTk, nil)
	if out["firm"] == nil || out["records"] == nil || out["sanctions"] == nil {
		t.Errorf("report json = %v", out)
	}
	for _, path := range []string{"/v1/firms/" + w.a1 + "/report?format=html", "/v1/firms/" + w.a1 + "/report"} {
		accept := ""
		if !strings.Contains(path, "format") {
			accept = "text/html"
		}
		resp, page := e.exportCall(t, path, adminTk, accept)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{"信用报告", "顺达", "@media print", "--accent", "日常监管", "public_exposure"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the page lacks %q", path, want)
			}
		}
		if strings.Contains(page, "张三") || strings.Contains(page, idNum) || strings.Contains(page, phone) {
			t.Errorf("%s: the page names a person in clear", path)
		}
	}
	if st, _ := e.call("GET", "/v1/firms/"+w.a1+"/report", w.firmA, nil); st != 403 {
		t.Errorf("a firm's own report: %d, want 403", st)
	}
}

// TestImportHTTP: a mixed file answers each line, stores the valid ones, is audited, and a
// re-run answers unchanged; the line limit is named.
func TestImportHTTP(t *testing.T) {
	e := newEnv(t)
	e.world()
	line := func(n int, kind, parent string) string {
		b, _ := json.Marshal(map[string]any{"uscc": usccFor(n), "name": "迁移 " + strconv.Itoa(n), "kind": kind, "parent_uscc": parent,
			"region": "130102", "licence": licence()})
		return string(b)
	}
	file := strings.Join([]string{line(40, "branch", usccFor(41)), `{"uscc":"x"}`, line(41, "hq", ""), "not json"}, "\n")
	post := func() (*http.Response, []bulk.Answer) {
		resp, raw := e.raw("POST", "/v1/import/firms", adminTk, file)
		if resp.StatusCode != 200 {
			t.Fatalf("import: %d %s", resp.StatusCode, raw)
		}
		var out []bulk.Answer
		for _, l := range strings.Split(strings.TrimSpace(raw), "\n") {
			var a bulk.Answer
			if err := json.Unmarshal([]byte(l), &a); err != nil {
				t.Fatalf("answer %q: %v", l, err)
			}
			out = append(out, a)
		}
		return resp, out
	}
	resp, answers := post()
	got := map[int]string{}
	for _, a := range answers {
		got[a.Index] = a.Status
	}
	if got[1] != "created" || got[2] != "invalid" || got[3] != "created" || got[4] != "invalid" || len(answers) != 4 {
		t.Errorf("answers = %+v", answers)
	}
	if resp.Header.Get("X-Import-Created") != "2" || resp.Header.Get("X-Import-Invalid") != "2" {
		t.Errorf("summary headers = %v", resp.Header)
	}
	audit := e.must(200, "GET", "/v1/audit?limit=500", adminTk, nil)
	if !strings.Contains(mustJSON(t, audit), `"import.run"`) || !strings.Contains(mustJSON(t, audit), `"firm.create"`) {
		t.Errorf("the import is not in the audit trail")
	}
	resp, answers = post()
	for _, a := range answers {
		if a.Status == "created" {
			t.Errorf("re-run created line %d", a.Index)
		}
	}
	if resp.Header.Get("X-Import-Unchanged") != "2" {
		t.Errorf("re-run: %v", answers)
	}
	big := strings.Repeat(`{}`+"\n", bulk.MaxAPILines+1)
	if st, out := e.call("POST", "/v1/import/firms", adminTk, big); st != 422 || !strings.Contains(mustJSON(t, out), strconv.Itoa(bulk.MaxAPILines)) {
		t.Errorf("too many lines: %d %v", st, out)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
