package httpapi_test

import (
	"strings"
	"testing"
	"time"
)

func fields(out map[string]any) []string {
	e, _ := out["error"].(map[string]any)
	fs, _ := e["fields"].([]any)
	var names []string
	for _, f := range fs {
		names = append(names, f.(map[string]any)["field"].(string))
	}
	return names
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"malformed JSON", "POST", "/v1/firms", `{"uscc": `, 400, ""},
		{"trailing data", "POST", "/v1/firms", `{} {}`, 400, ""},
		{"unknown field", "POST", "/v1/firms", `{"uscc":"x","colour":"red"}`, 400, "colour"},
		{"wrong type", "POST", "/v1/firms", `{"uscc": 12}`, 422, "uscc"},
		{"bad check character", "POST", "/v1/firms", firmBody("91130100MA0CX7Q2K7", "x", "hq", ""), 422, "uscc"},
		{"unknown kind", "POST", "/v1/firms", firmBody(usccFor(9), "x", "depot", ""), 422, "kind"},
		{"bad region", "POST", "/v1/firms", func() any { b := firmBody(usccFor(9), "x", "hq", ""); b["region"] = "13"; return b }(), 422, "region"},
		{"time without offset", "POST", "/v1/firms", func() any {
			b := firmBody(usccFor(9), "x", "hq", "")
			b["licence"].(map[string]any)["valid_from"] = "2024-01-01 00:00"
			return b
		}(), 422, "licence.valid_from"},
		{"licence ends before it starts", "POST", "/v1/firms", func() any {
			b := firmBody(usccFor(9), "x", "hq", "")
			b["licence"].(map[string]any)["valid_to"] = "2020-01-01T00:00:00Z"
			return b
		}(), 422, "licence.valid_to"},
		{"duplicate USCC", "POST", "/v1/firms", firmBody(usccA, "again", "hq", ""), 409, ""},
		{"branch without parent", "POST", "/v1/firms", firmBody(usccFor(9), "x", "branch", ""), 422, "parent_id"},
		{"unknown parent", "POST", "/v1/firms", firmBody(usccFor(9), "x", "branch", "nope"), 422, "parent_id"},
		{"cycle", "PATCH", "/v1/firms/" + w.hqA, map[string]any{"parent_id": w.a1}, 422, "parent_id"},
		{"body over 1 MiB", "POST", "/v1/firms", big, 413, "body"},
		{"bad resident ID", "POST", "/v1/staff", map[string]any{"name": "王五", "id_number": "110105194912310021", "phone": phone}, 422, "id_number"},
		{"bad phone", "POST", "/v1/staff", map[string]any{"name": "王五", "id_number": residentIDFor(3), "phone": "12345"}, 422, "phone"},
		{"duplicate person", "POST", "/v1/staff", map[string]any{"name": "张三", "id_number": idNum, "phone": phone}, 409, ""},
		{"occurred in the future", "POST", "/v1/records", map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1},
			"category": "supervision", "source": "regulator", "severity": "minor", "occurred_at": "2027-01-01T00:00:00Z", "summary": "x"}, 422, "occurred_at"},
		{"decided in the future", "POST", "/v1/records", map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1},
			"category": "enforcement", "source": "regulator", "severity": "general", "occurred_at": "2026-01-01T00:00:00Z",
			"decided_at": "2027-01-01T00:00:00Z", "summary": "x"}, 422, "decided_at"},
		{"decided before it occurred", "POST", "/v1/records", map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1},
			"category": "enforcement", "source": "regulator", "severity": "general", "occurred_at": "2026-01-01T00:00:00Z",
			"decided_at": "2025-12-31T00:00:00Z", "summary": "x"}, 422, "decided_at"},
		{"unknown category", "POST", "/v1/records", map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1},
			"category": "gossip", "source": "regulator", "severity": "minor", "occurred_at": "2026-01-01T00:00:00Z", "summary": "x"}, 422, "category"},
		{"unknown subject", "POST", "/v1/records", map[string]any{"subject": map[string]any{"kind": "firm", "id": "nope"},
			"category": "supervision", "source": "regulator", "severity": "minor", "occurred_at": "2026-01-01T00:00:00Z", "summary": "x"}, 422, "subject.id"},
		{"bad evidence link", "POST", "/v1/records", map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1},
			"category": "media", "source": "media", "severity": "minor", "occurred_at": "2026-01-01T00:00:00Z", "summary": "x",
			"evidence": []map[string]any{{"kind": "link", "ref": "javascript:alert(1)"}}}, 422, "evidence[0].ref"},
		{"unknown firm", "GET", "/v1/firms/nope", nil, 404, ""},
		{"unknown record", "POST", "/v1/records/nope/confirm", nil, 404, ""},
		{"confirm twice", "POST", "/v1/records/" + w.confirmed + "/confirm", nil, 409, ""},
		{"bad cursor", "GET", "/v1/firms?cursor=%%%", nil, 422, "cursor"},
		{"bad limit", "GET", "/v1/firms?limit=0", nil, 422, "limit"},
		{"dismiss without reason", "POST", "/v1/records/" + w.pending + "/dismiss", nil, 422, "reason"},
		{"no such route", "GET", "/v1/nothing", nil, 404, ""},
		{"wrong token", "GET", "/v1/me", nil, 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := adminTk
			if c.name == "wrong token" {
				tok = "ct_not-a-token"
			}
			before := auditCount(t, e)
			got, out := e.call(c.method, c.path, tok, c.body)
			if got != c.status {
				t.Fatalf("status %d, want %d: %v", got, c.status, out)
			}
			if c.field != "" {
				fs := fields(out)
				if !contains(fs, c.field) {
					t.Errorf("fields %v do not name %q", fs, c.field)
				}
			}
			if after := auditCount(t, e); after != before {
				t.Errorf("a refused request wrote %d audit entries", after-before)
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func auditCount(t *testing.T, e *env) int {
	t.Helper()
	out := e.must(200, "GET", "/v1/audit/verify", adminTk, nil)
	return int(out["entries"].(float64))
}

// TestRecordLifecycle walks a record from pending to repaired through the API, checking the
// public disclosure at each step.
func TestRecordLifecycle(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	publicIDs := func() []string {
		out := e.must(200, "GET", "/v1/public/firms/"+usccFor(1), "", nil)
		var ids []string
		for _, r := range out["records"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		return ids
	}
	// A merchant's complaint starts pending and stays out of the public view.
	rec := e.must(201, "POST", "/v1/records", w.merch, map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1},
		"category": "complaint", "source": "merchant", "severity": "general", "occurred_at": "2026-05-30T12:00:00+08:00",
		"summary": "包裹破损拒赔", "evidence": []map[string]any{{"kind": "waybill", "ref": "SF1234567890"}}})
	id := rec["id"].(string)
	if rec["status"] != "pending" {
		t.Fatalf("merchant record status %v, want pending", rec["status"])
	}
	if contains(publicIDs(), id) {
		t.Fatal("a pending record is public")
	}
	conf := e.must(200, "POST", "/v1/records/"+id+"/confirm", adminTk, map[string]any{"reason": "核实"})
	if conf["status"] != "confirmed" || conf["public_until"] == nil || conf["repair_eligible_at"] == nil {
		t.Fatalf("confirmed record: %v", conf)
	}
	until, _ := time.Parse(time.RFC3339, conf["public_until"].(string))
	// The window runs from the decision, here left out and so the complaint's occurrence.
	if want := time.Date(2027, 5, 30, 4, 0, 0, 0, time.UTC); !until.Equal(want) {
		t.Errorf("general record public until %v, want %v (12 months from occurred_at)", until, want)
	}
	if !contains(publicIDs(), id) {
		t.Fatal("a confirmed record is not public")
	}
	// Repair before the minimum period (3 months for general) is refused.
	repair := map[string]any{"evidence": []map[string]any{{"kind": "document", "ref": "ZG-9"}}, "commitment": "加强包装"}
	e.must(409, "POST", "/v1/records/"+id+"/repair", w.firmA, repair)
	// An objection disputes it; the review clock is 10 days.
	obj := e.must(201, "POST", "/v1/objections", w.firmA, map[string]any{"record_id": id, "reasons": "破损系寄件人包装"})
	filed, _ := time.Parse(time.RFC3339, obj["filed_at"].(string))
	review, _ := time.Parse(time.RFC3339, obj["review_by"].(string))
	if review.Sub(filed) != 10*24*time.Hour {
		t.Errorf("review_by - filed_at = %v, want 10 days", review.Sub(filed))
	}
	e.clock.add(11 * 24 * time.Hour)
	overdue := e.must(200, "GET", "/v1/objections?overdue=true", adminTk, nil)["items"].([]any)
	if len(overdue) != 2 { // this one and the world's
		t.Errorf("%d overdue objections, want 2", len(overdue))
	}
	e.must(200, "POST", "/v1/objections/"+obj["id"].(string)+"/decision", adminTk, map[string]any{"outcome": "upheld", "reason": "证据不足"})
	if got := e.must(200, "GET", "/v1/records/"+id, w.firmA, nil)["status"]; got != "upheld" {
		t.Fatalf("status after upheld objection %v", got)
	}
	// After three months the firm asks for repair; the regulator approves; the record leaves
	// the public view and stays in the file.
	e.clock.add(90 * 24 * time.Hour)
	e.must(201, "POST", "/v1/records/"+id+"/repair", w.firmA, repair)
	e.must(409, "POST", "/v1/records/"+id+"/repair", w.firmA, repair) // one pending at a time
	e.must(200, "POST", "/v1/records/"+id+"/repair/decision", adminTk, map[string]any{"approve": true, "reason": "整改到位"})
	if contains(publicIDs(), id) {
		t.Fatal("a repaired record is public")
	}
	file := e.must(200, "GET", "/v1/firms/"+w.a1+"/file", w.firmA, nil)
	repaired := file["records"].(map[string]any)["complaint"].(map[string]any)["repaired"].([]any)
	if len(repaired) != 1 || repaired[0].(map[string]any)["id"] != id {
		t.Fatalf("the repaired record is not in the file: %v", file["records"])
	}
	// A record revoked on objection also stays in the archive.
	e.must(200, "POST", "/v1/objections/"+w.objection+"/decision", adminTk, map[string]any{"outcome": "revoked", "reason": "记录有误"})
	if got := e.must(200, "GET", "/v1/records/"+w.disputed, adminTk, nil)["status"]; got != "revoked" {
		t.Fatalf("status after revoked objection %v", got)
	}
	if contains(publicIDs(), w.disputed) {
		t.Fatal("a revoked record is public")
	}
	// The audit chain is intact.
	if v := e.must(200, "GET", "/v1/audit/verify", adminTk, nil); v["ok"] != true {
		t.Fatalf("audit verify: %v", v)
	}
}

// TestPersonalDataNeverLeaves searches every answer of a full session for the ID number and
// phone in clear.
func TestPersonalDataNeverLeaves(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	e.must(200, "GET", "/v1/staff/"+w.staff, adminTk, nil)
	e.must(200, "GET", "/v1/staff/"+w.staff+"/file", w.firmA, nil)
	found := e.must(200, "POST", "/v1/staff/search", adminTk, map[string]any{"id_number": strings.ToLower(idNum)})
	if found["id"] != w.staff {
		t.Fatalf("search by ID number found %v, want %s", found["id"], w.staff)
	}
	if found["id_number_masked"] != "110105********002X" || found["phone_masked"] != "138****8000" {
		t.Errorf("masked forms %v %v", found["id_number_masked"], found["phone_masked"])
	}
	e.call("POST", "/v1/staff", adminTk, map[string]any{"name": "张三", "id_number": idNum, "phone": phone}) // 409
	e.must(200, "GET", "/v1/audit?limit=500", adminTk, nil)
	all := e.bodies.String()
	for _, secret := range []string{idNum, phone} {
		if strings.Contains(all, secret) {
			t.Errorf("an answer carries %q in clear", secret)
		}
	}
	var n int
	if err := e.store.DB().QueryRow(`SELECT COUNT(*) FROM staff WHERE id_masked LIKE '%' || ? || '%' OR phone_hash = ?`, idNum, phone).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("the store holds personal data in clear")
	}
}

// TestFirmScopeFollowsTree checks that an HQ token sees its branches and a branch token does
// not see its HQ.
func TestFirmScopeFollowsTree(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	branchTk := e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "firm", "firm_id": w.a1})["token"].(string)
	e.must(200, "GET", "/v1/firms/"+w.a1, w.firmA, nil)
	e.must(404, "GET", "/v1/firms/"+w.hqA, branchTk, nil)
	list := e.must(200, "GET", "/v1/firms", w.firmA, nil)["items"].([]any)
	if len(list) != 2 {
		t.Errorf("HQ token lists %d firms, want 2 (itself and its branch)", len(list))
	}
	// Paging through a list with an opaque cursor visits every firm once.
	seen := map[string]bool{}
	cursor := ""
	for i := 0; i < 10; i++ {
		out := e.must(200, "GET", "/v1/firms?limit=1&cursor="+cursor, adminTk, nil)
		for _, it := range out["items"].([]any) {
			seen[it.(map[string]any)["id"].(string)] = true
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 3 {
		t.Errorf("paging saw %d firms, want 3", len(seen))
	}
	// Revoked tokens stop working at once.
	id := e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "merchant", "merchant_id": "M-9"})
	e.must(200, "GET", "/v1/me", id["token"].(string), nil)
	e.must(204, "DELETE", "/v1/tokens/"+id["id"].(string), adminTk, nil)
	e.must(401, "GET", "/v1/me", id["token"].(string), nil)
}

// TestMetrics scrapes /metrics after a session and finds the request, event and anomaly
// counters, labelled by route pattern (never by path: no waybill or id ends up in a label).
// Only a metrics token reads them; the role matrix checks that everyone else is refused.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	e.must(401, "GET", "/metrics", "", nil)
	text := e.must(200, "GET", "/metrics", w.metrics, nil)["text"].(string)
	for _, want := range []string{
		`credtrace_http_requests_total{method="POST",route="/v1/firms",status="201"} 3`,
		`credtrace_http_requests_total{method="GET",route="/metrics",status="401"} 1`,
		`credtrace_events_total{outcome="accepted"} 6`,
		`credtrace_anomalies_found_total 1`,
		`credtrace_http_request_duration_seconds_bucket{method="POST",route="/v1/events"`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, waybill) || strings.Contains(text, idNum) {
		t.Error("a metric label carries a waybill or personal data")
	}
}

// TestBackfilledPenaltyClocks enters a penalty decided eleven months ago: the record answers
// its decided_at, and its year of publicity ends a month from now.
func TestBackfilledPenaltyClocks(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	now := e.clock.now()
	decided := now.AddDate(0, -11, 0)
	rec := e.must(201, "POST", "/v1/records", adminTk, map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1},
		"category": "enforcement", "source": "regulator", "severity": "general",
		"occurred_at": now.AddDate(0, -12, 0).Format(time.RFC3339), "decided_at": decided.Format(time.RFC3339),
		"summary": "行政处罚决定书：未按规定实名收寄", "legal_basis": "快递暂行条例 第四十一条"})
	got, _ := time.Parse(time.RFC3339, rec["decided_at"].(string))
	if !got.Equal(decided) {
		t.Errorf("decided_at %v, want %v", got, decided)
	}
	until, _ := time.Parse(time.RFC3339, rec["public_until"].(string))
	if want := decided.AddDate(1, 0, 0); !until.Equal(want) {
		t.Errorf("public_until %v, want %v: a year from the decision, a month from now", until, want)
	}
	eligible, _ := time.Parse(time.RFC3339, rec["repair_eligible_at"].(string))
	if want := decided.AddDate(0, 3, 0); !eligible.Equal(want) {
		t.Errorf("repair_eligible_at %v, want %v: three months from the decision", eligible, want)
	}
}
