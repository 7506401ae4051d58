package httpapi_test

import (
	"strings"
	"testing"
)

// recordsIn lists the ids of the records of a file answer.
func recordsIn(file map[string]any) map[string]string {
	out := map[string]string{}
	for _, byStatus := range file["records"].(map[string]any) {
		for status, recs := range byStatus.(map[string]any) {
			for _, r := range recs.([]any) {
				out[r.(map[string]any)["id"].(string)] = status
			}
		}
	}
	return out
}

// TestHireAcrossFirms: brand B hires brand A's courier by ID number; from then on only B (and
// regulators) change them, B sees A's confirmed record but not A's pending one, and A keeps
// seeing only what happened while it employed them.
func TestHireAcrossFirms(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	staff := "/v1/staff/" + w.staff
	pendingA := e.must(201, "POST", "/v1/records", w.merch, map[string]any{
		"subject": map[string]any{"kind": "staff", "id": w.staff}, "category": "complaint", "source": "merchant",
		"severity": "minor", "occurred_at": "2026-05-21T10:00:00+08:00", "summary": "态度恶劣"})["id"].(string)

	e.must(409, "POST", "/v1/staff", w.firmB, map[string]any{"name": "张三", "id_number": idNum, "phone": phone,
		"employment": map[string]any{"firm_id": w.hqB, "role": "courier", "from": "2026-05-25T00:00:00+08:00"}})
	e.must(422, "POST", "/v1/staff/hire", w.firmB, map[string]any{"id_number": idNum, "firm_id": w.hqB, "role": "courier",
		"from": "2024-12-01T00:00:00+08:00"}) // before the open employment began
	hired := e.must(200, "POST", "/v1/staff/hire", w.firmB, map[string]any{"id_number": idNum, "firm_id": w.hqB, "role": "courier",
		"from": "2026-05-25T00:00:00+08:00"})
	emp := hired["employment"].([]any)
	if len(emp) != 2 || emp[0].(map[string]any)["to"] == nil || emp[1].(map[string]any)["firm_id"] != w.hqB {
		t.Fatalf("employment after the hire = %v, want A's ended and B's open", emp)
	}
	e.must(404, "POST", "/v1/staff/hire", w.firmB, map[string]any{"id_number": residentIDFor(9), "firm_id": w.hqB, "role": "courier",
		"from": "2026-05-25T00:00:00+08:00"})
	recordB := e.must(201, "POST", "/v1/records", adminTk, map[string]any{
		"subject": map[string]any{"kind": "staff", "id": w.staff}, "category": "supervision", "source": "regulator",
		"severity": "minor", "occurred_at": "2026-05-30T10:00:00+08:00", "summary": "未着工装"})["id"].(string)

	for _, c := range []struct {
		name, method, path string
		body               any
	}{
		{"change the phone", "PATCH", staff, map[string]any{"phone": "13700137000"}},
		{"start an employment", "POST", staff + "/employments", map[string]any{"firm_id": w.hqA, "role": "courier", "from": "2026-05-31T00:00:00+08:00"}},
		{"end the employment", "POST", staff + "/employments/end", map[string]any{"to": "2026-05-31T00:00:00+08:00"}},
	} {
		if got, out := e.call(c.method, c.path, w.firmA, c.body); got != 403 {
			t.Errorf("former employer may %s: status %d, want 403: %v", c.name, got, out)
		}
	}
	e.must(200, "PATCH", staff, w.firmB, map[string]any{"name": "张三丰"})

	ofB := recordsIn(e.must(200, "GET", staff+"/file", w.firmB, nil))
	if ofB[w.staffRecord] != "confirmed" || ofB[recordB] != "confirmed" || ofB[pendingA] != "" {
		t.Errorf("new employer's file = %v, want A's confirmed %s and its own %s, not A's pending %s", ofB, w.staffRecord, recordB, pendingA)
	}
	ofA := recordsIn(e.must(200, "GET", staff+"/file", w.firmA, nil))
	if ofA[w.staffRecord] == "" || ofA[pendingA] != "pending" || ofA[recordB] != "" {
		t.Errorf("former employer's file = %v, want its own %s and %s, not B's %s", ofA, w.staffRecord, pendingA, recordB)
	}
	seenByA := e.must(200, "GET", staff, w.firmA, nil)["employment"].([]any)
	if len(seenByA) != 1 || seenByA[0].(map[string]any)["firm_id"] != w.a1 {
		t.Errorf("former employer sees employment %v, want only its own period", seenByA)
	}
	if strings.Contains(e.bodies.String(), idNum) {
		t.Error("an answer carries the ID number in clear")
	}
}

// TestPersonOwnView: a courier sees their file by ID number and phone, without a token, and
// objects to a record about them; wrong answers look alike and lock the check.
func TestPersonOwnView(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	file := e.must(200, "POST", "/v1/public/staff/file", "", map[string]any{"id_number": strings.ToLower(idNum), "phone": phone})
	if file["staff"].(map[string]any)["id"] != w.staff || recordsIn(file)[w.staffRecord] != "confirmed" {
		t.Fatalf("own file = %v, want the courier's with record %s", file, w.staffRecord)
	}
	_, wrongPhone := e.call("POST", "/v1/public/staff/file", "", map[string]any{"id_number": idNum, "phone": "13900000000"})
	_, wrongID := e.call("POST", "/v1/public/staff/file", "", map[string]any{"id_number": residentIDFor(9), "phone": phone})
	if wrongPhone["error"].(map[string]any)["message"] != wrongID["error"].(map[string]any)["message"] {
		t.Errorf("wrong phone answers %v, wrong ID number %v; want them alike", wrongPhone, wrongID)
	}
	e.must(201, "POST", "/v1/public/staff/objections", "", map[string]any{"id_number": idNum, "phone": phone,
		"record_id": w.staffRecord, "reasons": "当天我不在岗", "evidence": []map[string]any{{"kind": "document", "ref": "考勤表"}}})
	if got := e.must(200, "GET", "/v1/records/"+w.staffRecord, adminTk, nil)["status"]; got != "disputed" {
		t.Errorf("record after the person's objection is %v, want disputed", got)
	}
	e.must(422, "POST", "/v1/public/staff/objections", "", map[string]any{"id_number": idNum, "phone": phone,
		"record_id": w.confirmed, "reasons": "不是我"}) // a record about firm A1
	e.must(200, "GET", "/v1/staff/"+w.staff+"/file", w.staffTk, nil)
	e.must(404, "GET", "/v1/staff/"+w.staff, e.must(201, "POST", "/v1/tokens", w.firmA, map[string]any{"role": "staff",
		"staff_id": e.must(201, "POST", "/v1/staff", w.firmA, map[string]any{"name": "李四", "id_number": residentIDFor(8), "phone": "13600136000",
			"employment": map[string]any{"firm_id": w.a1, "role": "sorter", "from": "2026-01-01T00:00:00+08:00"}})["id"]})["token"].(string), nil)

	for i := 0; i < 4; i++ { // with the wrong phone above, five wrong answers for this ID number
		e.must(404, "POST", "/v1/public/staff/file", "", map[string]any{"id_number": idNum, "phone": "13900000000"})
	}
	e.must(429, "POST", "/v1/public/staff/file", "", map[string]any{"id_number": idNum, "phone": phone})
	e.must(429, "POST", "/v1/public/staff/objections", "", map[string]any{"id_number": idNum, "phone": phone, "record_id": w.staffRecord, "reasons": "x"})
}

// TestTreeChangesTakeEffectAtOnce: after an outlet moves to another HQ the old HQ can neither
// ingest for it nor trace its parcels, and after an employment ends the former employer cannot
// name the courier in its events, on the very next request (the answers were cached before).
func TestTreeChangesTakeEffectAtOnce(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	outlet := e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccFor(8), "顺达速运栾城网点", "outlet", w.hqA))["id"].(string)
	event := func(id, waybill string) []map[string]any {
		return []map[string]any{{"id": id, "waybill": waybill, "carrier": outlet, "code": "collected", "at": "2026-06-01T07:00:00+08:00", "region": "130111"}}
	}
	if res := e.must(200, "POST", "/v1/events", w.firmA, event("o1", "SF1000000101")); res["accepted"].(float64) != 1 {
		t.Fatalf("before the move: %v", res)
	}
	e.must(200, "GET", "/v1/parcels/SF1000000101", w.firmA, nil)

	e.must(200, "PATCH", "/v1/firms/"+outlet, adminTk, map[string]any{"parent_id": w.hqB})
	if res := e.must(200, "POST", "/v1/events", w.firmA, event("o2", "SF1000000102")); res["accepted"].(float64) != 0 {
		t.Errorf("the old HQ ingests for the moved outlet: %v", res)
	}
	e.must(404, "GET", "/v1/parcels/SF1000000101", w.firmA, nil)
	e.must(200, "GET", "/v1/parcels/SF1000000101", w.firmB, nil)

	scan := func(id, waybill string) []map[string]any {
		return []map[string]any{{"id": id, "waybill": waybill, "carrier": w.hqA, "code": "collected", "at": "2026-06-01T07:30:00+08:00",
			"site": w.site, "staff": w.staff, "region": "130111"}}
	}
	if res := e.must(200, "POST", "/v1/events", w.firmA, scan("s1", "SF1000000103")); res["accepted"].(float64) != 1 {
		t.Fatalf("before the courier left: %v", res)
	}
	e.must(200, "POST", "/v1/staff/"+w.staff+"/employments/end", w.firmA, map[string]any{"to": "2026-06-01T15:00:00+08:00"})
	if res := e.must(200, "POST", "/v1/events", w.firmA, scan("s2", "SF1000000104")); res["accepted"].(float64) != 0 {
		t.Errorf("the former employer names the courier who left: %v", res)
	}
}
