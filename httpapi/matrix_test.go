package httpapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
)

// nextMethod is the default methodology as a new version taking effect in 2027.
var nextMethod = strings.NewReplacer(`"version": "2026.1"`, `"version": "2027.1"`,
	`"effective_from": "2026-01-01T00:00:00+08:00"`, `"effective_from": "2027-01-01T00:00:00+08:00"`).Replace(scoring.DefaultMethod)

// parties are the callers of the matrix: brand A's firm token (firm_own) and brand B's
// (firm_other) act on brand A's objects; staff is the world's courier, of brand A.
var parties = []string{"public", "regulator", "firm_own", "firm_other", "merchant", "platform", "metrics", "staff"}

// roleOf is the role of a party's token.
var roleOf = map[string]credtrace.Role{
	"public": credtrace.RolePublic, "regulator": credtrace.RoleRegulator, "firm_own": credtrace.RoleFirm, "firm_other": credtrace.RoleFirm,
	"merchant": credtrace.RoleMerchant, "platform": credtrace.RolePlatform, "metrics": credtrace.RoleMetrics, "staff": credtrace.RoleStaff,
}

func (w world) tokenOf(party string) string {
	switch party {
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
	case "staff":
		return w.staffTk
	}
	return ""
}

// skip marks a party whose call the matrix does not make.
const skip = -1

// cell is a request of the access matrix. The route it reaches is found in the route table as
// Fiber finds it, and the route's roles say what each party gets: a party whose role the route
// lacks is refused, 401 without a token on an API route, 403 otherwise (a dashboard refuses a
// browser with its sign-in page, 403, signed in or not); a party it lets in gets the route's
// success. The cell declares only what the roles cannot say.
type cell struct {
	method string
	path   func(w world) string
	body   func(w world, party string) any // nil: no body; on a dashboard route, url.Values
	// ok is the success status; 0: the first response the route's operation documents, or 200
	// on a dashboard route.
	ok int
	// other is firm_other's status on a route firms may call, when it is not ok: 404 when brand
	// A's ids do not exist for brand B, 422 when the foreign id is a field of the body.
	other int
	// want are the statuses the roles do not decide, by party (skip: not called).
	want map[string]int
	// changesA are the parties other than brand A and the regulator whose call may change brand
	// A's state, with why (see TestWriteEffects).
	changesA map[string]string
}

// want is the status party must get from route r.
func (c cell) wantOf(r httpapi.Route, party string) int {
	if st, ok := c.want[party]; ok {
		return st
	}
	if !slices.Contains(r.Roles, credtrace.RolePublic) && !slices.Contains(r.Roles, roleOf[party]) {
		if party == "public" && !r.Dashboard() {
			return 401
		}
		return 403
	}
	if party == "firm_other" && c.other != 0 {
		return c.other
	}
	switch {
	case c.ok != 0:
		return c.ok
	case r.Doc != nil:
		return r.Doc.Responses[0].Status
	}
	return 200
}

func p(s string) func(world) string { return func(world) string { return s } }

func fixed(b any) func(world, string) any { return func(world, string) any { return b } }

func form(kv ...string) func(world, string) any {
	return func(world, string) any {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
}

func mayChange(why string, parties ...string) map[string]string {
	m := map[string]string{}
	for _, p := range parties {
		m[p] = why
	}
	return m
}

func recordFor(w world, party string) any {
	src := map[string]string{"firm_own": "firm_self", "firm_other": "firm_self", "merchant": "merchant", "platform": "platform"}[party]
	if src == "" {
		src = "regulator"
	}
	cat := "supervision"
	if party == "merchant" || party == "platform" {
		cat = "complaint"
	}
	return map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1}, "category": cat, "source": src,
		"severity": "minor", "occurred_at": "2026-05-20T09:00:00+08:00", "summary": "延误投递"}
}

// notBrandA are the subscribers that are not brand A: another party's subscription does not
// exist for them, a regulator's included.
var notBrandA = map[string]int{"regulator": 404, "merchant": 404, "platform": 404}

// The access matrix: a request to every route, the dashboard's included, made by every party.
var matrix = []cell{
	{method: "GET", path: p("/healthz")},
	{method: "GET", path: p("/openapi.json")},
	{method: "GET", path: p("/v1/me")},
	{method: "GET", path: p("/metrics")},
	// A firm issues staff tokens only; the cell asks for a platform's.
	{method: "POST", path: p("/v1/tokens"), body: fixed(map[string]any{"role": "platform", "label": "x"}), want: map[string]int{"firm_own": 403, "firm_other": 403}},
	{method: "DELETE", path: func(w world) string { return "/v1/tokens/" + w.spareToken }},
	// Firms list the tokens that act for them (firm_other: brand B's own).
	{method: "GET", path: p("/v1/tokens")},
	// Every token rotates its own secret only; the spare token is the regulator's to rotate.
	{method: "POST", path: func(w world) string { return "/v1/tokens/" + w.spareToken + "/rotate" },
		want: map[string]int{"firm_own": 403, "firm_other": 403, "merchant": 403, "platform": 403, "staff": 403}},
	{method: "POST", path: p("/v1/firms"), body: fixed(firmBody(usccFor(7), "新锐快递", "hq", ""))},
	{method: "GET", path: p("/v1/firms")},
	{method: "GET", path: func(w world) string { return "/v1/firms/" + w.a1 }, other: 404},
	{method: "PATCH", path: func(w world) string { return "/v1/firms/" + w.a1 }, body: fixed(map[string]any{"name": "更名"})},
	{method: "GET", path: func(w world) string { return "/v1/firms/" + w.a1 + "/file" }, other: 404},
	{method: "POST", path: func(w world) string { return "/v1/firms/" + w.a1 + "/sites" }, body: fixed(map[string]any{"name": "驿站", "kind": "locker", "region": "130111"}), other: 404},
	{method: "GET", path: func(w world) string { return "/v1/firms/" + w.a1 + "/sites" }, other: 404},
	{method: "GET", path: func(w world) string { return "/v1/sites/" + w.site }, other: 404},
	{method: "PUT", path: func(w world) string { return "/v1/sites/" + w.site }, body: fixed(map[string]any{"name": "栾城分拨中心二号", "kind": "sorting_centre", "region": "130111"}), other: 404},
	{method: "POST", path: p("/v1/staff"), body: func(w world, _ string) any {
		return map[string]any{"name": "李四", "id_number": residentIDFor(7), "phone": "13900139000",
			"employment": map[string]any{"firm_id": w.a1, "role": "sorter", "from": "2026-01-01T00:00:00+08:00"}}
	}, other: 422},
	{method: "GET", path: p("/v1/staff")},
	{method: "POST", path: p("/v1/staff/search"), body: fixed(map[string]any{"id_number": idNum})},
	// Each firm hires brand A's courier into its own tree: brand B too, which never employed them.
	{method: "POST", path: p("/v1/staff/hire"), body: func(w world, role string) any {
		firm := w.hqB
		if role == "firm_own" {
			firm = w.hqA
		}
		return map[string]any{"id_number": idNum, "firm_id": firm, "role": "courier", "from": "2026-05-15T00:00:00+08:00"}
	}, changesA: map[string]string{"firm_other": "hiring a courier ends the previous employment at the new start: the one change another firm makes to A's people"}},
	{method: "GET", path: func(w world) string { return "/v1/staff/" + w.staff }, other: 404},
	{method: "PATCH", path: func(w world) string { return "/v1/staff/" + w.staff }, body: fixed(map[string]any{"phone": "13700137000"}), other: 404},
	{method: "POST", path: func(w world) string { return "/v1/staff/" + w.staff + "/employments" }, body: func(w world, _ string) any {
		return map[string]any{"firm_id": w.hqA, "role": "dispatcher", "from": "2026-05-01T00:00:00+08:00"}
	}, other: 404},
	{method: "POST", path: func(w world) string { return "/v1/staff/" + w.staff + "/employments/end" }, body: fixed(map[string]any{"to": "2026-05-31T00:00:00+08:00"}), other: 404},
	{method: "GET", path: func(w world) string { return "/v1/staff/" + w.staff + "/file" }, other: 404},
	{method: "POST", path: p("/v1/records"), body: recordFor, other: 422, changesA: map[string]string{
		"merchant": "a merchant's complaint is a pending record in the file", "platform": "a platform's complaint is a pending record in the file"}},
	{method: "GET", path: p("/v1/records")},
	{method: "GET", path: func(w world) string { return "/v1/records/" + w.confirmed }, other: 404},
	{method: "POST", path: func(w world) string { return "/v1/records/" + w.pending + "/confirm" }},
	{method: "POST", path: func(w world) string { return "/v1/records/" + w.pending + "/dismiss" }, body: fixed(map[string]any{"reason": "查无实据"})},
	{method: "POST", path: func(w world) string { return "/v1/records/" + w.confirmed + "/repair" }, body: fixed(map[string]any{"evidence": []map[string]any{{"kind": "document", "ref": "ZG-2"}}, "commitment": "保证整改"}), other: 404},
	{method: "POST", path: func(w world) string { return "/v1/records/" + w.repairPending + "/repair/decision" }, body: fixed(map[string]any{"approve": true, "reason": "整改到位"})},
	{method: "POST", path: p("/v1/objections"), body: func(w world, _ string) any {
		return map[string]any{"record_id": w.confirmed, "reasons": "不属实"}
	}, other: 422,
		want: map[string]int{"staff": 422}}, // the record is about firm A1, not about the person
	{method: "GET", path: p("/v1/objections")},
	{method: "GET", path: func(w world) string { return "/v1/objections/" + w.objection }, other: 404},
	{method: "POST", path: func(w world) string { return "/v1/objections/" + w.objection + "/decision" }, body: fixed(map[string]any{"outcome": "upheld", "reason": "证据充分"})},
	{method: "POST", path: p("/v1/commitments"), body: func(w world, _ string) any {
		return map[string]any{"subject": map[string]any{"kind": "firm", "id": w.a1}, "text": "守法经营，诚信服务", "signer": "王经理", "signed_at": "2026-05-01T00:00:00+08:00"}
	}, other: 422},
	{method: "GET", path: p("/v1/commitments")},
	{method: "GET", path: p("/v1/public/firms/" + usccA)},
	{method: "POST", path: p("/v1/public/staff/file"), body: fixed(map[string]any{"id_number": idNum, "phone": phone})},
	{method: "POST", path: p("/v1/public/staff/objections"), body: func(w world, _ string) any {
		return map[string]any{"id_number": idNum, "phone": phone, "record_id": w.staffRecord, "reasons": "当天我不在岗"}
	}, changesA: mayChange("the person objects to a record about them", "public", "firm_other", "merchant", "platform", "metrics")},
	{method: "POST", path: p("/v1/events"), body: func(w world, _ string) any {
		return []map[string]any{{"id": "m1", "waybill": "SF1000000002", "carrier": w.hqA, "code": "collected", "at": "2026-06-01T07:00:00+08:00"}}
	}},
	{method: "POST", path: func(w world) string { return "/v1/events/epcis?carrier=" + w.hqA }, body: func(w world, _ string) any {
		return map[string]any{"type": "EPCISDocument", "epcisBody": map[string]any{"eventList": []map[string]any{{"type": "ObjectEvent",
			"eventTime": "2026-06-01T07:30:00+08:00", "eventID": "urn:uuid:ep-1", "epcList": []string{"urn:waybill:SF1000000003"},
			"action": "OBSERVE", "bizStep": "urn:epcglobal:cbv:bizstep:accepting"}}}}
	}},
	// The EPCIS query: a firm outside the parcel's tree reads no events (200, an empty list).
	{method: "GET", path: p("/v1/epcis/events?MATCH_epc=urn:waybill:" + waybill)},
	// Without the phone digits, a caller that is neither a regulator nor the parcel's carrier or
	// merchant finds no parcel.
	{method: "GET", path: p("/v1/parcels/" + waybill), want: map[string]int{"public": 404, "firm_other": 404, "platform": 404, "metrics": 404, "staff": 404}},
	// Allowed stream cells never end; TestParcelStream covers them over a real listener.
	{method: "GET", path: p("/v1/parcels/" + waybill + "/stream"), want: map[string]int{"public": 404, "regulator": skip, "firm_own": skip, "firm_other": 404, "merchant": skip, "platform": 404, "metrics": 404, "staff": 404}},
	// The world's parcel has no handover offered to another tree: nobody finds one to accept.
	{method: "POST", path: p("/v1/parcels/" + waybill + "/handovers/e3/accept"), other: 404, want: map[string]int{"regulator": 404, "firm_own": 404}},
	{method: "GET", path: p("/v1/alerts/stream"), want: map[string]int{"regulator": skip}},
	{method: "POST", path: p("/v1/incidents"), body: fixed(map[string]any{"waybill": waybill, "kind": "lost"}), other: 404, changesA: map[string]string{"merchant": "the merchant's own parcel: an incident with pending records for the regulator"}},
	{method: "GET", path: p("/v1/incidents")},
	{method: "GET", path: func(w world) string { return "/v1/incidents/" + w.incident }, other: 404},
	{method: "GET", path: p("/v1/anomalies")},
	{method: "POST", path: func(w world) string { return "/v1/anomalies/" + url.PathEscape(w.anomaly) + "/incident" }},
	{method: "PUT", path: func(w world) string { return "/v1/carriers/" + w.hqA + "/config" }, body: fixed(map[string]any{"promise_hours": 48, "codes": map[string]string{"10": "collected"}}), other: 404},
	{method: "GET", path: func(w world) string { return "/v1/carriers/" + w.hqA + "/config" }, other: 404},
	{method: "GET", path: func(w world) string { return "/v1/stats/firm/" + w.a1 }, other: 404},
	{method: "POST", path: p("/v1/ratings"), body: fixed(map[string]any{"waybill": rated, "stars": 4, "tags": []string{"on_time"}})},
	{method: "POST", path: p("/v1/public/ratings"), body: fixed(map[string]any{"waybill": rated, "stars": 5, "phone4": "1234"})},
	// The platform may rate for M-001, the merchant that shipped the parcel: a rating of brand
	// A's delivery, as the merchant's own is (ratings are not in ownState; see TestPlatformRatings).
	{method: "POST", path: p("/v1/platform/ratings"), body: fixed([]map[string]any{{"waybill": rated, "stars": 4, "rated_at": "2026-05-31T20:00:00+08:00",
		"rater_kind": "merchant", "merchant_id": "M-001"}})},
	{method: "GET", path: func(w world) string { return "/v1/firms/" + w.a1 + "/score" }, other: 404},
	{method: "GET", path: func(w world) string { return "/v1/sites/" + w.site + "/score" }, other: 404},
	{method: "GET", path: func(w world) string { return "/v1/staff/" + w.staff + "/score" }, other: 404},
	{method: "POST", path: p("/v1/scoring/runs"), body: fixed(map[string]any{"publish": false})},
	{method: "GET", path: p("/v1/scoring/runs")},
	{method: "GET", path: func(w world) string { return "/v1/scoring/runs/" + w.run }},
	{method: "GET", path: func(w world) string { return "/v1/scoring/runs/" + w.run + "/inputs" }},
	{method: "GET", path: p("/v1/scoring/method")},
	{method: "PUT", path: p("/v1/scoring/method"), body: fixed(json.RawMessage(nextMethod))},
	{method: "GET", path: p("/v1/scoring/methods")},
	{method: "GET", path: p("/v1/scoring/methods/2026.1")},
	{method: "GET", path: p("/v1/sanctions")},
	{method: "GET", path: func(w world) string { return "/v1/sanctions/" + w.proposal }, other: 404},
	{method: "POST", path: func(w world) string { return "/v1/sanctions/" + w.proposal + "/decision" }, body: fixed(map[string]any{"approve": true, "reason": "属实"})},
	{method: "POST", path: func(w world) string { return "/v1/sanctions/" + w.sanction + "/lift" }, body: fixed(map[string]any{"reason": "整改完成"})},
	{method: "GET", path: p("/v1/supervision")},
	{method: "GET", path: p("/v1/platform/eligibility/" + usccA)},
	{method: "GET", path: p("/v1/public/redlist")},
	{method: "GET", path: p("/v1/public/blacklist")},
	{method: "GET", path: p("/v1/audit")},
	{method: "GET", path: p("/v1/audit/verify")},
	{method: "POST", path: p("/v1/audit/checkpoints")},
	{method: "GET", path: p("/v1/audit/checkpoints")},
	{method: "GET", path: p("/v1/public/audit/head")},
	// Exports: disclosures are public data; records in force, the full data and the report are
	// the regulators' (TestExportScopes covers the other kinds).
	{method: "GET", path: p("/v1/exports/disclosures")},
	{method: "GET", path: func(w world) string { return "/v1/firms/" + w.a1 + "/report" }},
	// Imports, regulators only: each cell's one line is a one-line NDJSON file.
	{method: "POST", path: p("/v1/import/firms"), body: fixed(map[string]any{"uscc": usccFor(8), "name": "迁移快递", "kind": "branch",
		"parent_uscc": usccA, "region": "130102", "licence": licence()})},
	{method: "POST", path: p("/v1/import/sites"), body: fixed(map[string]any{"firm_uscc": usccA, "name": "迁移驿站", "kind": "locker", "region": "130102"})},
	{method: "POST", path: p("/v1/import/staff"), body: fixed(map[string]any{"name": "王五", "id_number": residentIDFor(8), "phone": "13900139001",
		"employment": []map[string]any{{"firm_uscc": usccA, "role": "courier", "from": "2025-01-01"}}})},
	{method: "POST", path: p("/v1/import/records"), body: fixed(map[string]any{"ref": "OLD-1", "subject": map[string]any{"kind": "firm", "uscc": usccA},
		"category": "supervision", "source": "regulator", "severity": "minor", "occurred_at": "2025-01-01", "decided_at": "2025-01-02", "summary": "历史记录"})},
	// Webhooks: each party creates and lists its own; the world's subscription is brand A's,
	// which every other party finds nowhere.
	{method: "POST", path: p("/v1/webhooks"), body: fixed(map[string]any{"url": "http://127.0.0.1:9/mine", "events": []string{}})},
	{method: "GET", path: p("/v1/webhooks")},
	{method: "GET", path: func(w world) string { return "/v1/webhooks/" + w.hook }, other: 404, want: notBrandA},
	{method: "DELETE", path: func(w world) string { return "/v1/webhooks/" + w.hook }, other: 404, want: notBrandA},
	{method: "POST", path: func(w world) string { return "/v1/webhooks/" + w.hook + "/rotate" }, other: 404, want: notBrandA},
	{method: "GET", path: func(w world) string { return "/v1/webhooks/" + w.hook + "/dead" }, other: 404, want: notBrandA},
	{method: "POST", path: func(w world) string { return "/v1/webhooks/" + w.hook + "/replay" }, other: 404, want: notBrandA},

	// The dashboard: a browser signed in with the party's token (the public: signed out).
	{method: "GET", path: p("/"), ok: 302},
	{method: "GET", path: p("/ui/static/style.css")},
	{method: "GET", path: p("/ui/")},
	{method: "GET", path: p("/ui/signin")},
	{method: "POST", path: p("/ui/signin"), body: form("token", adminTk), ok: 303},
	{method: "POST", path: p("/ui/signout"), ok: 303},
	{method: "GET", path: p("/ui/firms?q=" + url.QueryEscape("顺达"))},
	{method: "GET", path: p("/ui/firms/" + usccA)},
	{method: "GET", path: p("/ui/lists")},
	{method: "GET", path: p("/ui/parcels?waybill=" + waybill + "&phone4=5678")},
	{method: "GET", path: p("/ui/tokens")},
	{method: "GET", path: p("/ui/overview")},
	{method: "GET", path: func(w world) string { return "/ui/firms/" + w.a1 + "/file" }, other: 404},
	{method: "POST", path: func(w world) string { return "/ui/records/" + w.pending + "/decision" },
		body: func(w world, _ string) any {
			return url.Values{"confirm": {"true"}, "reason": {"核实"}, "back": {w.a1}}
		}, ok: 303},
	{method: "GET", path: p("/ui/objections")},
	{method: "POST", path: p("/ui/objections"), body: func(w world, _ string) any {
		return url.Values{"record_id": {w.confirmed}, "reasons": {"记录有误"}}
	}, ok: 303, other: 422, want: map[string]int{"staff": 422}},
	{method: "GET", path: p("/ui/sanctions")},
	{method: "POST", path: func(w world) string { return "/ui/sanctions/" + w.proposal + "/decision" },
		body: form("approve", "true", "reason", "属实"), ok: 303},
	{method: "GET", path: p("/ui/ratings")},
	{method: "POST", path: p("/ui/ratings"), body: form("waybill", rated, "stars", "4")},
}

// routesOf pairs each cell with the route its request reaches: the first route of the table
// whose method and pattern match, as Fiber finds it.
func routesOf(t *testing.T, e *env, w world) []httpapi.Route {
	t.Helper()
	table := e.srv.Routes()
	out := make([]httpapi.Route, len(matrix))
	for i, c := range matrix {
		path, _, _ := strings.Cut(c.path(w), "?")
		found := false
		for _, r := range table {
			if r.Method == c.method && matches(r.Path, path) {
				out[i], found = r, true
				break
			}
		}
		if !found {
			t.Fatalf("the matrix's %s %s reaches no route of the table", c.method, path)
		}
	}
	return out
}

// matches reports whether a path fits a Fiber pattern of literal segments and :parameters.
func matches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], ":") {
			if xs[i] == "" {
				return false
			}
		} else if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// send makes a cell's request as party: with the party's token on an API route, from a
// browser signed in with it on a dashboard route, a form carrying the browser's CSRF token.
func send(t *testing.T, e *env, w world, r httpapi.Route, c cell, party string) (status int, ctype, body string) {
	t.Helper()
	var in any
	if c.body != nil {
		in = c.body(w, party)
	}
	if !r.Dashboard() {
		resp, raw := e.raw(c.method, c.path(w), w.tokenOf(party), in)
		return resp.StatusCode, resp.Header.Get("Content-Type"), raw
	}
	b := &browser{t: t, e: e, cookies: map[string]string{}}
	if party == "public" {
		b.do("GET", "/ui/signin", nil)
	} else {
		b = signedIn(t, e, w.tokenOf(party))
	}
	var f url.Values
	if c.method == "POST" {
		f, _ = in.(url.Values)
		if f == nil {
			f = url.Values{}
		}
		f.Set("csrf", csrfFrom(b))
	}
	status, page, h := b.do(c.method, c.path(w), f)
	return status, h.Get("Content-Type"), page
}

// checkMatrix makes every cell's request as each of the parties, each on a fresh world so that
// cells do not depend on each other. A refusal is an API error in JSON, or a dashboard page.
func checkMatrix(t *testing.T, parties ...string) {
	e := newEnv(t)
	routes := routesOf(t, e, e.world())
	for i, c := range matrix {
		r := routes[i]
		for _, party := range parties {
			want := c.wantOf(r, party)
			if want == skip {
				continue
			}
			t.Run(r.Method+" "+r.Path+"/"+party, func(t *testing.T) {
				e := newEnv(t)
				w := e.world()
				got, ctype, body := send(t, e, w, r, c, party)
				if got != want {
					t.Fatalf("status %d, want %d: %.300s", got, want, body)
				}
				if got < 400 {
					return
				}
				if r.Dashboard() {
					if !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, `href="/ui/static/style.css"`) {
						t.Errorf("a dashboard refusal answers %s, not a dashboard page: %.300s", ctype, body)
					}
					return
				}
				var out struct {
					Error struct{ Code string } `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &out); err != nil || out.Error.Code == "" {
					t.Errorf("an API refusal answers %s without the JSON error: %.300s", ctype, body)
				}
			})
		}
	}
}

// TestRoleMatrix runs every route as every party but staff.
func TestRoleMatrix(t *testing.T) {
	checkMatrix(t, parties[:len(parties)-1]...)
}

// TestRoleMatrixStaff runs every route with a staff token (the world's courier, brand A).
func TestRoleMatrixStaff(t *testing.T) {
	checkMatrix(t, "staff")
}

// TestRoleMatrixCoversRoutes: the matrix reaches every route of the table once, and the table
// holds every route the app serves, the dashboard's included.
func TestRoleMatrixCoversRoutes(t *testing.T) {
	e := newEnv(t)
	table := map[string]int{}
	for _, r := range e.srv.Routes() {
		table[r.Method+" "+r.Path] = 0
	}
	for _, r := range routesOf(t, e, e.world()) {
		table[r.Method+" "+r.Path]++
	}
	var missing []string
	for route, n := range table {
		if n != 1 {
			missing = append(missing, route)
			t.Errorf("route %s is reached by %d cells of the matrix, want 1", route, n)
		}
	}
	dashboard := 0
	for _, fr := range e.srv.App().GetRoutes(true) {
		route := fr.Method + " " + fr.Path
		if fr.Method == "HEAD" {
			route = "GET " + fr.Path // the dashboard's pages answer HEAD as GET
		}
		if _, ok := table[route]; !ok {
			t.Errorf("the app serves %s %s, which is not in the route table", fr.Method, fr.Path)
		}
		if strings.HasPrefix(fr.Path, "/ui/") && fr.Method != "HEAD" {
			dashboard++
		}
	}
	if dashboard == 0 {
		t.Error("the app serves no dashboard route")
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Logf("routes without exactly one cell:\n%s", strings.Join(missing, "\n"))
	}
}
