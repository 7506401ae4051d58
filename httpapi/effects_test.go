package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// ownState is everything of brand A that another party could damage, read as a regulator: its
// firms, sites and people, the credit file of its branch, its parcels with their custody, its
// statistics, its carrier configuration, its objections, sanctions, incidents and anomalies.
func ownState(e *env, w world) map[string]string {
	e.t.Helper()
	paths := []string{
		"/v1/firms/" + w.hqA, "/v1/firms/" + w.a1, "/v1/firms/" + w.a1 + "/file", "/v1/firms/" + w.hqA + "/file",
		"/v1/firms/" + w.a1 + "/sites", "/v1/sites/" + w.site,
		"/v1/staff/" + w.staff, "/v1/staff/" + w.staff + "/file", "/v1/staff?firm_id=" + w.a1,
		"/v1/parcels/" + w.waybill + "?carrier=" + w.hqA, "/v1/parcels/" + rated + "?carrier=" + w.hqA,
		"/v1/stats/firm/" + w.hqA + "?from=2026-05-01", "/v1/stats/firm/" + w.a1 + "?from=2026-05-01",
		"/v1/stats/site/" + w.site + "?from=2026-05-01", "/v1/stats/staff/" + w.staff + "?from=2026-05-01",
		"/v1/carriers/" + w.hqA + "/config",
		"/v1/records?firm_id=" + w.a1, "/v1/objections", "/v1/sanctions?firm_id=" + w.a1,
		"/v1/incidents?carrier=" + w.hqA, "/v1/anomalies?carrier=" + w.hqA, "/v1/commitments?firm_id=" + w.a1,
	}
	out := map[string]string{}
	for _, p := range paths {
		status, body := e.call("GET", p, adminTk, nil)
		delete(body, "request_id")
		b, _ := json.Marshal(body)
		out[p] = fmt.Sprintf("%d %s", status, b)
	}
	return out
}

func diffState(before, after map[string]string) []string {
	var d []string
	for k, v := range before {
		if after[k] != v {
			d = append(d, fmt.Sprintf("%s\n  before: %.400s\n  after:  %.400s", k, v, after[k]))
		}
	}
	return d
}

// attack is a write that a foreign party sends to reach brand A's objects in ways the matrix
// bodies do not: its own carrier on A's waybill, a handover of its parcel into A's custody.
type attack struct {
	name, role, method, path string
	body                     func(w world) any
}

var attacks = []attack{
	{"B collects and delivers A's waybill as its own carrier", "firm_other", "POST", "/v1/events", func(w world) any {
		return []map[string]any{
			{"id": "x1", "waybill": waybill, "carrier": w.hqB, "code": "collected", "at": "2026-05-31T10:00:00+08:00",
				"merchant": "M-001", "recipient_phone": "13800000000"},
			{"id": "x2", "waybill": waybill, "carrier": w.hqB, "code": "delivered", "at": "2026-05-31T12:00:00+08:00", "signer": "recipient"}}
	}},
	{"B squats a waybill A has not used yet", "firm_other", "POST", "/v1/events", func(w world) any {
		return []map[string]any{{"id": "x3", "waybill": rated, "carrier": w.hqB, "code": "arrived", "at": "2026-06-01T07:00:00+08:00"}}
	}},
	{"B hands its parcel over to A's site", "firm_other", "POST", "/v1/events", func(w world) any {
		return []map[string]any{
			{"id": "x4", "waybill": "FH7000000001", "carrier": w.hqB, "code": "collected", "at": "2026-05-31T10:00:00+08:00"},
			{"id": "x5", "waybill": "FH7000000001", "carrier": w.hqB, "code": "handover", "at": "2026-05-31T12:00:00+08:00",
				"holder": map[string]any{"firm": w.a1, "site": w.site, "staff": w.staff}}}
	}},
	{"B changes A's courier", "firm_other", "PATCH", "/v1/staff/{staff}", func(w world) any {
		return map[string]any{"name": "王五", "phone": "13600136000"}
	}},
	{"B starts an employment that ends A's", "firm_other", "POST", "/v1/staff/{staff}/employments", func(w world) any {
		return map[string]any{"firm_id": w.hqB, "role": "courier", "from": "2026-05-15T00:00:00+08:00"}
	}},
	{"B reports an incident on A's waybill", "firm_other", "POST", "/v1/incidents", func(w world) any {
		return map[string]any{"waybill": waybill, "kind": "lost", "reporter": "12305"}
	}},
}

// TestWriteEffects calls every route that changes state, the dashboard's forms included, as
// every party other than brand A and the regulator, on a fresh world each, and checks that
// nothing of brand A changed, whatever the status (a cell's changesA names the writes that may);
// then the attacks that aim at A's objects with bodies of the attacker's own.
func TestWriteEffects(t *testing.T) {
	t.Parallel()
	foreign := []string{"public", "firm_other", "merchant", "platform", "metrics"}
	e := newEnv(t)
	routes := routesOf(t, e, e.world())
	for i, c := range matrix {
		r := routes[i]
		if c.method == "GET" {
			continue
		}
		for _, party := range foreign {
			if c.wantOf(r, party) == skip || c.changesA[party] != "" {
				continue
			}
			t.Run(r.Method+" "+r.Path+"/"+party, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				w := e.world()
				before := ownState(e, w)
				status, _, out := send(t, e, w, r, c, party)
				if d := diffState(before, ownState(e, w)); len(d) > 0 {
					t.Errorf("status %d (%.300s) changed brand A's state:\n%s", status, out, strings.Join(d, "\n"))
				}
			})
		}
	}
	for _, a := range attacks {
		t.Run("attack/"+a.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			w := e.world()
			before := ownState(e, w)
			path := strings.NewReplacer("{staff}", w.staff, "{site}", w.site).Replace(a.path)
			status, out := e.call(a.method, path, w.tokenOf(a.role), a.body(w))
			if d := diffState(before, ownState(e, w)); len(d) > 0 {
				t.Errorf("status %d (%v) changed brand A's state:\n%s", status, out, strings.Join(d, "\n"))
			}
		})
	}
}
