package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// Several replicas on one MongoDB database (the embedded FerretDB: no change streams, so the
// live streams poll): what one replica holds, the others must see.

// replicas returns n envs, each its own services and API, on one fresh database.
func replicas(t *testing.T, n int) []*env {
	t.Helper()
	uri, db := mongotest.NewDB(t)
	out := make([]*env, n)
	for i := range out {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := mongodb.Open(ctx, uri, db)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(context.Background()) })
		out[i] = newEnvOn(t, backend{courier: st, tracking: st.Tracking(), scoring: st.Scoring(), health: st,
			trackingOf: func(cs courier.Store) tracking.Store { return cs.(*mongodb.Store).Tracking() },
			scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*mongodb.Store).Scoring() }})
	}
	return out
}

// carrierOn registers a carrier on e and returns its id and a token of it.
func carrierOn(e *env) (id, token string) {
	e.t.Helper()
	id = e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccA, "顺达速运", "hq", ""))["id"].(string)
	token = e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "firm", "firm_id": id, "label": "brand A"})["token"].(string)
	return id, token
}

func replicaEvent(id, carrier, code, at string) map[string]any {
	e := map[string]any{"id": id, "waybill": waybill, "carrier": carrier, "code": code, "at": at, "region": "130111"}
	if code == "collected" {
		e["recipient_phone"] = "13912345678"
	}
	return e
}

// TestStreamAcrossReplicas: a stream open on replica B carries the events ingested on A (and
// the trace it starts with holds those ingested before).
func TestStreamAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	carrier, tk := carrierOn(a)
	if res := a.must(200, "POST", "/v1/events", tk, []map[string]any{replicaEvent("e1", carrier, "collected", "2026-05-31T09:00:00+08:00")}); res["accepted"] != 1.0 {
		t.Fatalf("ingestion on A: %v", res)
	}
	la, lb := a.serve(t), b.serve(t)
	s := lb.open("/v1/parcels/"+waybill+"/stream", adminTk)
	first := s.next()
	if first.event != "trace" || !strings.Contains(first.data, `"collected"`) {
		t.Fatalf("first message on B: %s %s, want the trace with the collection", first.event, first.data)
	}
	if res := la.must(200, "POST", "/v1/events", tk, []map[string]any{replicaEvent("e2", carrier, "departed", "2026-05-31T18:00:00+08:00")}); res["accepted"] != 1.0 {
		t.Fatalf("ingestion on A: %v", res)
	}
	if m := s.next(); m.event != "tracking" || m.object(t)["code"] != "departed" {
		t.Fatalf("on B after ingestion on A: %s %s, want the departure", m.event, m.data)
	}
	if got := lb.must(200, "GET", "/healthz", "", nil)["live"]; got != "poll" {
		t.Errorf("/healthz live = %v, want poll (FerretDB has no change streams)", got)
	}
}

// TestAlertsAcrossReplicas: an alert stream open on replica B carries the incidents reported
// and the anomalies found on A (FerretDB: the alert feed polled by sequence).
func TestAlertsAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	alertsAcross(t, rs[0], rs[1])
}

// TestAlertsAcrossServicesOnSQLite: the same with two services on one SQLite store, which only
// one of them writes: the other learns of the alerts from the store, not from the writer.
func TestAlertsAcrossServicesOnSQLite(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var rs []*env
	for range 2 {
		rs = append(rs, newEnvOn(t, backend{courier: st, tracking: st.Tracking(), scoring: st.Scoring(), health: st,
			trackingOf: func(cs courier.Store) tracking.Store { return cs.(*sqlite.Store).Tracking() },
			scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*sqlite.Store).Scoring() }}))
	}
	alertsAcross(t, rs[0], rs[1])
}

// alertsAcross opens the alert stream on b, then finds an anomaly and reports an incident on
// a, and expects each on b's stream, in that order.
func alertsAcross(t *testing.T, a, b *env) {
	t.Helper()
	carrier, tk := carrierOn(a)
	la, lb := a.serve(t), b.serve(t)
	s := lb.open("/v1/alerts/stream", adminTk)
	if m := s.read(); !m.comment {
		t.Fatalf("first message on B %+v, want the opening comment", m)
	}
	light := replicaEvent("light-1", carrier, "collected", "2026-05-31T09:00:00+08:00")
	light["weight_g"] = 1
	res := la.must(200, "POST", "/v1/events", tk, []map[string]any{light})
	if anoms := items(res, "anomalies"); num(res["accepted"]) != 1 || len(anoms) != 1 {
		t.Fatalf("a 1 g collection on A: %v, want one anomaly", res)
	}
	if m := s.next(); m.event != "anomaly" || m.object(t)["kind"] != "implausible_weight" {
		t.Fatalf("on B after the anomaly on A: %s %s, want the anomaly", m.event, m.data)
	}
	inc := la.must(201, "POST", "/v1/incidents", adminTk, map[string]any{"waybill": waybill, "carrier": carrier, "kind": "damaged", "reporter": "12305"})
	if m := s.next(); m.event != "incident" || m.object(t)["id"] != inc["id"] {
		t.Fatalf("on B after the incident on A: %s %s, want incident %v", m.event, m.data, inc["id"])
	}
}

// TestSessionAcrossReplicas: a dashboard session opened on A is valid on B, and signing out on
// B ends it on A.
func TestSessionAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	jar := map[string]string{}
	on := func(e *env) *browser { return &browser{t: t, e: e, cookies: jar} }
	on(rs[0]).do("GET", "/ui/signin", nil)
	if status, _, _ := on(rs[0]).do("POST", "/ui/signin", url.Values{"token": {adminTk}, "csrf": {jar["ct_csrf"]}}); status != 303 {
		t.Fatalf("sign-in on A: %d, want 303", status)
	}
	if _, page, _ := on(rs[1]).do("GET", "/ui/", nil); !strings.Contains(page, "/ui/signout") {
		t.Fatalf("the session of A is unknown on B: %s", page)
	}
	// B knows the session's own CSRF token, drawn on A.
	if status, _, _ := on(rs[1]).do("POST", "/ui/signout", url.Values{"csrf": {jar["ct_csrf"]}}); status != 303 {
		t.Fatalf("sign-out on B: %d, want 303", status)
	}
	if _, page, _ := on(rs[0]).do("GET", "/ui/", nil); strings.Contains(page, "/ui/signout") {
		t.Fatal("signed out on B, still signed in on A")
	}
}

// TestAddressLimitAcrossReplicas: the requests of one address that check a phone count against
// one limit, whichever replica they reach.
func TestAddressLimitAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	limited := 0
	for i := range 40 {
		// Unknown waybills, each its own, so the per-waybill lock is not what refuses them.
		wb := fmt.Sprintf("SF3%09d", i)
		if resp, _ := rs[i%2].raw("GET", "/v1/parcels/"+wb+"?phone4=0000", "", nil); resp.StatusCode == 429 {
			limited++
		}
	}
	if limited != 40-30 {
		t.Fatalf("%d of 40 phone checks from one address over two replicas refused, want 10 (30 a minute in all)", limited)
	}
}

// TestBootstrapAcrossReplicas: three replicas starting at once on an empty database make one
// regulator token between them, and exactly one of them has its secret to print.
func TestBootstrapAcrossReplicas(t *testing.T) {
	uri, db := mongotest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var svcs []*courier.Service
	var st *mongodb.Store
	for range 3 {
		s, err := mongodb.Open(ctx, uri, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		st = s
		svcs = append(svcs, courier.NewService(s, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), nil))
	}
	secrets := make([]string, len(svcs))
	errs := make([]error, len(svcs))
	var wg sync.WaitGroup
	for i, svc := range svcs {
		wg.Go(func() { secrets[i], errs[i] = svc.Bootstrap(ctx, "") })
	}
	wg.Wait()
	printed := 0
	for i := range svcs {
		if errs[i] != nil {
			t.Fatalf("replica %d: bootstrap: %v", i, errs[i])
		}
		if secrets[i] != "" {
			printed++
			if _, err := svcs[(i+1)%3].Authenticate(ctx, secrets[i]); err != nil {
				t.Errorf("the printed secret does not sign in on another replica: %v", err)
			}
		}
	}
	if n, err := st.CountTokens(ctx); err != nil || n != 1 || printed != 1 {
		t.Fatalf("%d tokens (%v), %d secrets printed; want one of each", n, err, printed)
	}
}
