package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

// nextMethod is the default methodology as a new version taking effect in 2027.
var nextMethod = strings.NewReplacer(`"version": "2026.1"`, `"version": "2027.1"`,
	`"effective_from": "2026-01-01T00:00:00+08:00"`, `"effective_from": "2027-01-01T00:00:00+08:00"`).Replace(scoring.DefaultMethod)

// roles in the order of the matrix columns.
var roleNames = []string{"public", "regulator", "firm_own", "firm_other", "merchant", "platform", "metrics"}

func (w world) tokenOf(role string) string {
	switch role {
	case "regulator":
		return adminTk
	case "firm_own":
		return w.firmA
	case "firm_other":
		return w.firmB
	case "merchant":
		return w.merch
	case "platform":
		return w.plat
	case "metrics":
		return w.metrics
	}
	return ""
}

type cell struct {
	route string                         // "METHOD /pattern" as the route table has it
	path  func(w world) string           // the concrete path
	body  func(w world, role string) any // nil for no body
	want  [7]int                         // by roleNames
}

func p(s string) func(world) string { return func(world) string { return s } }

func fixed(b any) func(world, string) any { return func(world, string) any { return b } }

func recordFor(w world, role string) any {
	src := map[string]string{"firm_own": "firm_self", "firm_other": "firm_self", "merchant": "merchant", "platform": "platform"}[role]
	if src == "" {
		src = "regulator"
	}
	cat := "supervision"
	if role == "merchant" || role == "platform" {
		cat = "complaint"
	}
	return map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1}, "category": cat, "source": src,
		"severity": "minor", "occurred_at": "2026-05-20T09:00:00+08:00", "summary": "延误投递"}
}

// The access matrix: each route against each role, with the status each must get. A firm
// token acting on another brand's objects gets 404 (its ids do not exist for it), or 422 when
// the foreign id is a field of the body.
var matrix = []cell{
	{"GET /healthz", p("/healthz"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"GET /openapi.json", p("/openapi.json"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"GET /v1/me", p("/v1/me"), nil, [7]int{401, 200, 200, 200, 200, 200, 403}},
	{"GET /metrics", p("/metrics"), nil, [7]int{401, 403, 403, 403, 403, 403, 200}},
	{"POST /v1/tokens", p("/v1/tokens"), fixed(map[string]any{"role": "platform", "label": "x"}), [7]int{401, 201, 403, 403, 403, 403, 403}},
	{"DELETE /v1/tokens/:id", func(w world) string { return "/v1/tokens/" + w.spareToken }, nil, [7]int{401, 204, 403, 403, 403, 403, 403}},
	{"POST /v1/firms", p("/v1/firms"), fixed(firmBody(usccFor(7), "新锐快递", "hq", "")), [7]int{401, 201, 403, 403, 403, 403, 403}},
	{"GET /v1/firms", p("/v1/firms"), nil, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"GET /v1/firms/:id", func(w world) string { return "/v1/firms/" + w.a1 }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"PATCH /v1/firms/:id", func(w world) string { return "/v1/firms/" + w.a1 }, fixed(map[string]any{"name": "更名"}), [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/firms/:id/file", func(w world) string { return "/v1/firms/" + w.a1 + "/file" }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/firms/:id/sites", func(w world) string { return "/v1/firms/" + w.a1 + "/sites" },
		fixed(map[string]any{"name": "驿站", "kind": "locker", "region": "130111"}), [7]int{401, 201, 201, 404, 403, 403, 403}},
	{"GET /v1/firms/:id/sites", func(w world) string { return "/v1/firms/" + w.a1 + "/sites" }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"GET /v1/sites/:id", func(w world) string { return "/v1/sites/" + w.site }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"PUT /v1/sites/:id", func(w world) string { return "/v1/sites/" + w.site },
		fixed(map[string]any{"name": "栾城分拨中心二号", "kind": "sorting_centre", "region": "130111"}), [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/staff", p("/v1/staff"), func(w world, _ string) any {
		return map[string]any{"name": "李四", "id_number": residentIDFor(7), "phone": "13900139000",
			"employment": map[string]any{"firm_id": w.a1, "role": "sorter", "from": "2026-01-01T00:00:00+08:00"}}
	}, [7]int{401, 201, 201, 422, 403, 403, 403}},
	{"GET /v1/staff", p("/v1/staff"), nil, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"POST /v1/staff/search", p("/v1/staff/search"), fixed(map[string]any{"id_number": idNum}), [7]int{401, 200, 403, 403, 403, 403, 403}},
	// Each firm hires brand A's courier into its own tree: brand B too, which never employed them.
	{"POST /v1/staff/hire", p("/v1/staff/hire"), func(w world, role string) any {
		firm := w.hqB
		if role == "firm_own" {
			firm = w.hqA
		}
		return map[string]any{"id_number": idNum, "firm_id": firm, "role": "courier", "from": "2026-05-15T00:00:00+08:00"}
	}, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"GET /v1/staff/:id", func(w world) string { return "/v1/staff/" + w.staff }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"PATCH /v1/staff/:id", func(w world) string { return "/v1/staff/" + w.staff }, fixed(map[string]any{"phone": "13700137000"}), [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/staff/:id/employments", func(w world) string { return "/v1/staff/" + w.staff + "/employments" }, func(w world, _ string) any {
		return map[string]any{"firm_id": w.hqA, "role": "dispatcher", "from": "2026-05-01T00:00:00+08:00"}
	}, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/staff/:id/employments/end", func(w world) string { return "/v1/staff/" + w.staff + "/employments/end" },
		fixed(map[string]any{"to": "2026-05-31T00:00:00+08:00"}), [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"GET /v1/staff/:id/file", func(w world) string { return "/v1/staff/" + w.staff + "/file" }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/records", p("/v1/records"), recordFor, [7]int{401, 201, 201, 422, 201, 201, 403}},
	{"GET /v1/records", p("/v1/records"), nil, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"GET /v1/records/:id", func(w world) string { return "/v1/records/" + w.confirmed }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/records/:id/confirm", func(w world) string { return "/v1/records/" + w.pending + "/confirm" }, nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"POST /v1/records/:id/dismiss", func(w world) string { return "/v1/records/" + w.pending + "/dismiss" },
		fixed(map[string]any{"reason": "查无实据"}), [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"POST /v1/records/:id/repair", func(w world) string { return "/v1/records/" + w.confirmed + "/repair" },
		fixed(map[string]any{"evidence": []map[string]any{{"kind": "document", "ref": "ZG-2"}}, "commitment": "保证整改"}), [7]int{401, 201, 201, 404, 403, 403, 403}},
	{"POST /v1/records/:id/repair/decision", func(w world) string { return "/v1/records/" + w.repairPending + "/repair/decision" },
		fixed(map[string]any{"approve": true, "reason": "整改到位"}), [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"POST /v1/objections", p("/v1/objections"), func(w world, _ string) any {
		return map[string]any{"record_id": w.confirmed, "reasons": "不属实"}
	}, [7]int{401, 201, 201, 422, 403, 403, 403}},
	{"GET /v1/objections", p("/v1/objections"), nil, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"GET /v1/objections/:id", func(w world) string { return "/v1/objections/" + w.objection }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/objections/:id/decision", func(w world) string { return "/v1/objections/" + w.objection + "/decision" },
		fixed(map[string]any{"outcome": "upheld", "reason": "证据充分"}), [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"POST /v1/commitments", p("/v1/commitments"), func(w world, _ string) any {
		return map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1}, "text": "守法经营，诚信服务", "signer": "王经理", "signed_at": "2026-05-01T00:00:00+08:00"}
	}, [7]int{401, 201, 201, 422, 403, 403, 403}},
	{"GET /v1/commitments", p("/v1/commitments"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"GET /v1/public/firms/:uscc", p("/v1/public/firms/" + usccA), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"POST /v1/public/staff/file", p("/v1/public/staff/file"), fixed(map[string]any{"id_number": idNum, "phone": phone}), [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"POST /v1/public/staff/objections", p("/v1/public/staff/objections"), func(w world, _ string) any {
		return map[string]any{"id_number": idNum, "phone": phone, "record_id": w.staffRecord, "reasons": "当天我不在岗"}
	}, [7]int{201, 201, 201, 201, 201, 201, 201}},
	{"POST /v1/events", p("/v1/events"), func(w world, _ string) any {
		return []map[string]any{{"id": "m1", "waybill": "SF1000000002", "carrier": w.hqA, "code": "collected", "at": "2026-06-01T07:00:00+08:00"}}
	}, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"POST /v1/events/epcis", func(w world) string { return "/v1/events/epcis?carrier=" + w.hqA }, func(w world, _ string) any {
		return map[string]any{"type": "EPCISDocument", "epcisBody": map[string]any{"eventList": []map[string]any{{"type": "ObjectEvent",
			"eventTime": "2026-06-01T07:30:00+08:00", "eventID": "urn:uuid:ep-1", "epcList": []string{"urn:waybill:SF1000000003"},
			"action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:accepting"}}}}
	}, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"GET /v1/parcels/:waybill", p("/v1/parcels/" + waybill), nil, [7]int{404, 200, 200, 404, 200, 404, 404}},
	// Allowed stream cells never end; TestParcelStream covers them over a real listener.
	{"GET /v1/parcels/:waybill/stream", p("/v1/parcels/" + waybill + "/stream"), nil, [7]int{404, 0, 0, 404, 0, 404, 404}},
	// The world's parcel has no handover offered to another tree: nobody finds one to accept.
	{"POST /v1/parcels/:waybill/handovers/:id/accept", p("/v1/parcels/" + waybill + "/handovers/e3/accept"), nil, [7]int{401, 404, 404, 404, 403, 403, 403}},
	{"GET /v1/alerts/stream", p("/v1/alerts/stream"), nil, [7]int{401, 0, 403, 403, 403, 403, 403}},
	{"POST /v1/incidents", p("/v1/incidents"), fixed(map[string]any{"waybill": waybill, "kind": "lost"}), [7]int{401, 201, 201, 404, 201, 403, 403}},
	{"GET /v1/incidents", p("/v1/incidents"), nil, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"GET /v1/incidents/:id", func(w world) string { return "/v1/incidents/" + w.incident }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"GET /v1/anomalies", p("/v1/anomalies"), nil, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"POST /v1/anomalies/:id/incident", func(w world) string { return "/v1/anomalies/" + url.PathEscape(w.anomaly) + "/incident" }, nil, [7]int{401, 201, 403, 403, 403, 403, 403}},
	{"PUT /v1/carriers/:id/config", func(w world) string { return "/v1/carriers/" + w.hqA + "/config" },
		fixed(map[string]any{"promise_hours": 48, "codes": map[string]string{"10": "collected"}}), [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"GET /v1/carriers/:id/config", func(w world) string { return "/v1/carriers/" + w.hqA + "/config" }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"GET /v1/stats/:kind/:id", func(w world) string { return "/v1/stats/firm/" + w.a1 }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/ratings", p("/v1/ratings"), fixed(map[string]any{"waybill": rated, "stars": 4, "tags": []string{"on_time"}}), [7]int{401, 403, 403, 403, 201, 403, 403}},
	{"POST /v1/public/ratings", p("/v1/public/ratings"), fixed(map[string]any{"waybill": rated, "stars": 5, "phone4": "1234"}), [7]int{201, 201, 201, 201, 201, 201, 201}},
	{"GET /v1/firms/:id/score", func(w world) string { return "/v1/firms/" + w.a1 + "/score" }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"GET /v1/sites/:id/score", func(w world) string { return "/v1/sites/" + w.site + "/score" }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"GET /v1/staff/:id/score", func(w world) string { return "/v1/staff/" + w.staff + "/score" }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/scoring/runs", p("/v1/scoring/runs"), fixed(map[string]any{"publish": false}), [7]int{401, 201, 403, 403, 403, 403, 403}},
	{"GET /v1/scoring/runs", p("/v1/scoring/runs"), nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/scoring/runs/:id", func(w world) string { return "/v1/scoring/runs/" + w.run }, nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/scoring/runs/:id/inputs", func(w world) string { return "/v1/scoring/runs/" + w.run + "/inputs" }, nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/scoring/method", p("/v1/scoring/method"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"PUT /v1/scoring/method", p("/v1/scoring/method"), fixed(json.RawMessage(nextMethod)), [7]int{401, 201, 403, 403, 403, 403, 403}},
	{"GET /v1/scoring/methods", p("/v1/scoring/methods"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"GET /v1/scoring/methods/:version", p("/v1/scoring/methods/2026.1"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"GET /v1/sanctions", p("/v1/sanctions"), nil, [7]int{401, 200, 200, 200, 403, 403, 403}},
	{"GET /v1/sanctions/:id", func(w world) string { return "/v1/sanctions/" + w.proposal }, nil, [7]int{401, 200, 200, 404, 403, 403, 403}},
	{"POST /v1/sanctions/:id/decision", func(w world) string { return "/v1/sanctions/" + w.proposal + "/decision" },
		fixed(map[string]any{"approve": true, "reason": "属实"}), [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"POST /v1/sanctions/:id/lift", func(w world) string { return "/v1/sanctions/" + w.sanction + "/lift" },
		fixed(map[string]any{"reason": "整改完成"}), [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/supervision", p("/v1/supervision"), nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/platform/eligibility/:uscc", p("/v1/platform/eligibility/" + usccA), nil, [7]int{401, 200, 403, 403, 403, 200, 403}},
	{"GET /v1/public/redlist", p("/v1/public/redlist"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"GET /v1/public/blacklist", p("/v1/public/blacklist"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
	{"GET /v1/audit", p("/v1/audit"), nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/audit/verify", p("/v1/audit/verify"), nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"POST /v1/audit/checkpoints", p("/v1/audit/checkpoints"), nil, [7]int{401, 201, 403, 403, 403, 403, 403}},
	{"GET /v1/audit/checkpoints", p("/v1/audit/checkpoints"), nil, [7]int{401, 200, 403, 403, 403, 403, 403}},
	{"GET /v1/public/audit/head", p("/v1/public/audit/head"), nil, [7]int{200, 200, 200, 200, 200, 200, 200}},
}

// staffWant is the matrix's column for a staff token (the world's courier, brand A): a route
// missing here answers a public route's status when the route is public, 403 otherwise.
var staffWant = map[string]int{
	"GET /v1/me":             200,
	"POST /v1/tokens":        403, // a person issues no tokens
	"GET /v1/staff/:id":      200, // their own
	"GET /v1/staff/:id/file": 200,
	"POST /v1/objections":    422, // the matrix's record is about firm A1, not about them
}

// TestRoleMatrixStaff runs every route with a staff token, each on a fresh world.
func TestRoleMatrixStaff(t *testing.T) {
	publicRoute := map[string]bool{}
	for _, r := range newEnv(t).srv.Routes() {
		publicRoute[r.Method+" "+r.Path] = slices.Contains(r.Roles, credtrace.RolePublic)
	}
	for _, c := range matrix {
		c := c
		want, ok := staffWant[c.route]
		if !ok {
			want = 403
			if publicRoute[c.route] {
				want = c.want[0]
			}
		}
		if want == 0 {
			continue
		}
		t.Run(c.route, func(t *testing.T) {
			e := newEnv(t)
			w := e.world()
			var body any
			if c.body != nil {
				body = c.body(w, "staff")
			}
			method, _, _ := strings.Cut(c.route, " ")
			got, out := e.call(method, c.path(w), w.staffTk, body)
			if got != want {
				t.Errorf("status %d, want %d: %v", got, want, out)
			}
		})
	}
}

// TestRoleMatrix runs every route as every role, each cell on a fresh world so that cells do
// not depend on each other, and fails when a route lacks a row.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t)
	var routes []string
	for _, r := range e.srv.Routes() {
		routes = append(routes, r.Method+" "+r.Path)
	}
	var rows []string
	for _, c := range matrix {
		rows = append(rows, c.route)
	}
	sort.Strings(routes)
	sort.Strings(rows)
	if strings.Join(routes, "\n") != strings.Join(rows, "\n") {
		t.Fatalf("the matrix does not cover the route table:\nroutes:\n%s\nrows:\n%s", strings.Join(routes, "\n"), strings.Join(rows, "\n"))
	}
	for _, c := range matrix {
		for i, role := range roleNames {
			c, i, role := c, i, role
			if c.want[i] == 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", c.route, role), func(t *testing.T) {
				e := newEnv(t)
				w := e.world()
				var body any
				if c.body != nil {
					body = c.body(w, role)
				}
				method, _, _ := strings.Cut(c.route, " ")
				got, out := e.call(method, c.path(w), w.tokenOf(role), body)
				if got != c.want[i] {
					t.Errorf("status %d, want %d: %v", got, c.want[i], out)
				}
			})
		}
	}
}
