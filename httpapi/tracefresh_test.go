package httpapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// sqliteReplica is a second service on e's SQLite file, with its own store handle (its own
// connections and prepared statements), services and caches, as another process would be.
func sqliteReplica(t *testing.T, e *env) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := newEnvOn(t, backend{courier: st, tracking: st.Tracking(), scoring: st.Scoring(), health: st,
		trackingOf: func(cs courier.Store) tracking.Store { return cs.(*sqlite.Store).Tracking() },
		scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*sqlite.Store).Scoring() }})
	r.store = st
	return r
}

// TestTraceFreshAfterEachEvent: with the token cache and the prepared read statements warm,
// a trace holds every accepted event from the next request on, on the service that accepted
// it and on another service on the same file.
func TestTraceFreshAfterEachEvent(t *testing.T) {
	a := newEnv(t)
	w := a.world()
	b := sqliteReplica(t, a)
	const wb = "SF3000000001"
	codes := []string{"collected", "departed", "arrived", "departed", "arrived", "out_for_delivery", "delivered"}
	at := time.Date(2026, 5, 30, 9, 0, 0, 0, time.UTC)
	for i, code := range codes {
		ev := map[string]any{"id": fmt.Sprintf("f%d", i), "waybill": wb, "carrier": w.hqA, "code": code,
			"at": at.Add(time.Duration(i) * time.Hour).Format(time.RFC3339), "site": w.site, "region": "130111"}
		switch code {
		case "collected":
			ev["merchant"], ev["recipient_phone"], ev["weight_g"] = "M-001", "13912345678", 800
		case "delivered":
			ev["staff"], ev["signer"] = w.staff, "recipient"
		}
		if res := a.must(200, "POST", "/v1/events", w.firmA, []map[string]any{ev}); res["accepted"].(float64) != 1 {
			t.Fatalf("event %d: %v", i, res)
		}
		for name, e := range map[string]*env{"the accepting service": a, "the other service": b} {
			got := eventCodes(t, e, adminTk, wb)
			if len(got) != i+1 || got[i] != code {
				t.Fatalf("%s after event %d (%s): trace has %v", name, i, code, got)
			}
		}
	}
}

// TestRevokedTokenRefusedAcrossServices: a token that just authenticated on two services is
// refused by the one that revoked it from the next request, and by the other within
// courier.TokenCacheFor.
func TestRevokedTokenRefusedAcrossServices(t *testing.T) {
	a := newEnv(t)
	b := sqliteReplica(t, a)
	tk := a.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "platform", "label": "mall"})
	secret, id := tk["token"].(string), tk["id"].(string)
	for name, e := range map[string]*env{"this service": a, "the other service": b} {
		// An unknown parcel: 404 to a valid token, 401 to a revoked one.
		if got, out := e.call("GET", "/v1/parcels/SF0000000000", secret, nil); got != 404 {
			t.Fatalf("%s before the revocation: %d %v", name, got, out)
		}
	}
	a.must(204, "DELETE", "/v1/tokens/"+id, adminTk, nil)
	if got, _ := a.call("GET", "/v1/parcels/SF0000000000", secret, nil); got != 401 {
		t.Fatalf("this service right after the revocation: %d, want 401", got)
	}
	b.clock.add(courier.TokenCacheFor)
	if got, _ := b.call("GET", "/v1/parcels/SF0000000000", secret, nil); got != 401 {
		t.Fatalf("the other service %s after the revocation: %d, want 401", courier.TokenCacheFor, got)
	}
}
