package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
)

// hookEnvs are envs with webhooks on both backends: SQLite, and MongoDB (the embedded FerretDB,
// or CREDTRACE_TEST_MONGO_URI). Each keeps its webhook store for the test to reach.
func hookEnvs(t *testing.T) map[string]struct {
	e     *env
	hooks webhook.Store
} {
	t.Helper()
	uri, db := mongotest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	st, err := mongodb.Open(ctx, uri, db)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	mongo := newEnvOn(t, backend{courier: st, tracking: st.Tracking(), scoring: st.Scoring(), health: st,
		trackingOf: func(cs courier.Store) tracking.Store { return cs.(*mongodb.Store).Tracking() },
		scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*mongodb.Store).Scoring() },
		webhooks:   st.Webhooks(),
		webhooksOf: func(cs courier.Store) webhook.Store { return cs.(*mongodb.Store).Webhooks() }})
	lite := newEnv(t)
	return map[string]struct {
		e     *env
		hooks webhook.Store
	}{"sqlite": {lite, lite.store.Webhooks()}, "mongodb": {mongo, st.Webhooks()}}
}

// TestSubscriptionChangesAudited: creating a subscription, rotating its secret, replaying its
// dead letters and deleting it each leave one entry with the caller's token id, naming the
// receiver's host but never its path, query or secret; the chain still verifies.
func TestSubscriptionChangesAudited(t *testing.T) {
	for name, b := range hookEnvs(t) {
		t.Run(name, func(t *testing.T) {
			e := b.e
			admin := e.must(200, "GET", "/v1/me", adminTk, nil)["token_id"].(string)
			sub := e.must(201, "POST", "/v1/webhooks", adminTk, map[string]any{"url": "http://127.0.0.1:9/hook?token=receiver-secret",
				"events": []string{"anomaly.found"}})
			id, secret := sub["id"].(string), sub["secret"].(string)
			e.must(200, "POST", "/v1/webhooks/"+id+"/rotate", adminTk, nil)
			// No dead letter yet: nothing is replayed, and nothing changes to audit.
			if got := e.must(200, "POST", "/v1/webhooks/"+id+"/replay", adminTk, nil)["replayed"]; num(got) != 0 {
				t.Fatalf("replayed %v with no dead letters", got)
			}
			now := e.clock.now().UTC().Truncate(time.Millisecond)
			dead := webhook.Delivery{ID: "dl1", SubscriptionID: id, EventID: "evt_1", Type: webhook.AnomalyFound, Body: "{}",
				Status: webhook.Dead, Attempts: 3, NextAt: now, Until: now, CreatedAt: now.Add(-25 * time.Hour)}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := b.hooks.PutDeliveries(ctx, []webhook.Delivery{dead}); err != nil {
				t.Fatal(err)
			}
			if got := e.must(200, "POST", "/v1/webhooks/"+id+"/replay", adminTk, nil)["replayed"]; num(got) != 1 {
				t.Fatalf("replayed %v, want the one dead letter", got)
			}
			e.must(204, "DELETE", "/v1/webhooks/"+id, adminTk, nil)

			all := auditEntries(t, e)
			for _, c := range []struct {
				action string
				detail []string
			}{
				{"webhook.subscribe", []string{"role=regulator", "host=127.0.0.1:9", "events=anomaly.found"}},
				{"webhook.rotate", []string{"old secret valid until"}},
				{"webhook.replay", []string{"replayed=1"}},
				{"webhook.unsubscribe", []string{"host=127.0.0.1:9"}},
			} {
				got := entriesOf(all, c.action, id)
				if len(got) != 1 {
					t.Errorf("%s %s: %d entries, want 1", c.action, id, len(got))
					continue
				}
				if got[0]["actor"] != admin {
					t.Errorf("%s: actor %v, want %s", c.action, got[0]["actor"], admin)
				}
				d, _ := got[0]["detail"].(string)
				for _, part := range c.detail {
					if !strings.Contains(d, part) {
						t.Errorf("%s: detail %q lacks %q", c.action, d, part)
					}
				}
				if strings.Contains(d, "receiver-secret") || strings.Contains(d, secret) || strings.Contains(d, "/hook") {
					t.Errorf("%s: detail %q shows the receiver's path, query or the secret", c.action, d)
				}
			}
			if v := e.must(200, "GET", "/v1/audit/verify", adminTk, nil); v["ok"] != true {
				t.Errorf("audit verify = %v", v)
			}
		})
	}
}
