package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/webhook"
)

// hookReceiver counts the deliveries of each event id whose signature verifies with secret.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	byID   map[string]int
	bad    []string
	bodies []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	r := &hookReceiver{byID: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := webhook.Verify(req.Header.Get(webhook.SignatureHeader), body, r.secret, 5*time.Minute, time.Now()); err != nil {
			r.bad = append(r.bad, err.Error())
			w.WriteHeader(400)
			return
		}
		r.byID[req.Header.Get(webhook.EventHeader)]++
		r.bodies = append(r.bodies, string(body))
		w.WriteHeader(204)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) counts() (map[string]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.byID {
		out[k] = v
	}
	return out, append([]string(nil), r.bad...)
}

// callAs sends a request with token.
func (p *proc) callAs(t *testing.T, want int, token, method, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://"+p.addr+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: waitLimit}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %v (want %d)", method, path, resp.StatusCode, out, want)
	}
	return out
}

// TestWebhookCrashNothingLost kills the service after a change wrote its outbox entry and the
// dispatcher claimed the delivery (nothing sent), and after the receiver accepted it (its
// outcome not stored); restarted, the service delivers the event: once in the first case, and
// in the second a second time under the same event id, which the receiver de-duplicates.
func TestWebhookCrashNothingLost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts the binary")
	}
	bin := buildBinary(t)
	for _, c := range []struct {
		failpoint         string
		before, afterWant int // deliveries of the event before the restart, and in all
	}{{"webhook.claimed", 0, 1}, {"webhook.sent", 1, 2}} {
		t.Run(c.failpoint, func(t *testing.T) {
			recv := newHookReceiver(t)
			data := t.TempDir()
			allow := "CREDTRACE_WEBHOOK_ALLOW_PRIVATE=true"
			p := startProcEnv(t, bin, data, c.failpoint, allow)
			firm, _, _ := crashWorld(t, p)
			tok := p.must(t, 201, "POST", "/v1/tokens", map[string]any{"role": "firm", "firm_id": firm, "label": "firm"})["token"].(string)
			sub := p.callAs(t, 201, tok, "POST", "/v1/webhooks", map[string]any{"url": recv.srv.URL + "/hook", "events": []string{"record.pending"}})
			recv.mu.Lock()
			recv.secret = sub["secret"].(string)
			recv.mu.Unlock()
			rec := p.must(t, 201, "POST", "/v1/records", map[string]any{"subject": map[string]any{"kind": "firm", "id": firm}, "category": "complaint",
				"source": "consumer", "severity": "general", "occurred_at": "2026-05-20T09:00:00+08:00", "summary": "延误"})
			if rec["status"] != "pending" {
				t.Fatalf("record %v", rec)
			}
			select {
			case <-p.done:
			case <-time.After(waitLimit):
				t.Fatal("the dispatcher never reached the failpoint")
			}
			if !strings.Contains(p.errb.String(), "failpoint "+c.failpoint+" reached") {
				t.Fatalf("the process died otherwise: %s", p.errb)
			}
			got, bad := recv.counts()
			if total(got) != c.before || len(bad) > 0 {
				t.Fatalf("before the restart: %v (bad signatures %v), want %d deliveries", got, bad, c.before)
			}
			q := startProcEnv(t, bin, data, "", allow)
			// The dead process's claim lapses after the request timeout and a little more.
			deadline := time.Now().Add(webhook.RequestTimeout + time.Minute)
			for {
				got, bad = recv.counts()
				if total(got) >= c.afterWant || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(got) != 1 || total(got) != c.afterWant || len(bad) > 0 {
				t.Fatalf("after the restart: deliveries by event id %v (bad signatures %v), want one event %d times", got, bad, c.afterWant)
			}
			// Nothing more comes, and the subscription shows nothing pending.
			status := map[string]any{}
			for time.Now().Before(deadline) {
				status = q.callAs(t, 200, tok, "GET", "/v1/webhooks/"+sub["id"].(string), nil)
				if status["pending"].(float64) == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if status["pending"].(float64) != 0 || status["dead"].(float64) != 0 {
				t.Errorf("subscription after delivery: %v", status)
			}
			if again, _ := recv.counts(); total(again) != c.afterWant {
				t.Errorf("deliveries went on: %v", again)
			}
			recv.mu.Lock()
			body := recv.bodies[0]
			recv.mu.Unlock()
			for _, personal := range []string{"延误", "13800138000", "张三"} {
				if strings.Contains(body, personal) {
					t.Errorf("the payload carries %q: %s", personal, body)
				}
			}
		})
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestEligibilityBySchedule: a barring sanction approved ahead of its start reaches the
// platforms on its start day, by the clock sweep (not at its approval), once however often the
// sweep runs; its lift reaches them too.
func TestEligibilityBySchedule(t *testing.T) {
	ctx := context.Background()
	st, err := openStore(ctx, config.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	wh := st.webhooksOf(st.courier)
	svc := webhook.NewService(wh, webhook.Options{AllowPrivate: true}, nil)
	plat := credtrace.Caller{TokenID: "tok-p", Role: credtrace.RolePlatform}
	sub, err := svc.Subscribe(ctx, plat, webhook.Input{URL: "http://127.0.0.1:9/p"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	x := scoring.Sanction{ID: "x1", Kind: scoring.PlatformRestriction, FirmID: "f1", Rule: "r", Reason: "r", LegalBasis: "b", Status: scoring.Approved,
		ProposedAt: start.AddDate(0, 0, -10), DecidedAt: start.AddDate(0, 0, -3), Start: start, Version: 1}
	exposure := x
	exposure.ID, exposure.Kind = "x2", scoring.PublicExposure // bars no one
	for _, s := range []scoring.Sanction{x, exposure} {
		if err := st.scoring.CreateSanction(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	pending := func() []webhook.Delivery {
		ds, err := wh.Deliveries(ctx, webhook.DeliveryQuery{SubscriptionID: sub.ID})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	sweep := func(at time.Time) {
		if err := webhookClock(st, func() time.Time { return at })(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sweep(start.Add(-time.Hour))
	if ds := pending(); len(ds) != 0 {
		t.Fatalf("announced before the start: %v", ds)
	}
	sweep(start.Add(time.Minute))
	sweep(start.Add(2 * time.Minute))
	ds := pending()
	if len(ds) != 1 || !strings.Contains(ds[0].Body, `"change":"barred"`) || !strings.Contains(ds[0].Body, `"firm_id":"f1"`) {
		t.Fatalf("deliveries after the start: %+v, want one barred", ds)
	}
	x.Status, x.LiftedAt, x.Version = scoring.Lifted, start.AddDate(0, 0, 5), 2
	if err := st.scoring.UpdateSanction(ctx, x); err != nil {
		t.Fatal(err)
	}
	sweep(start.AddDate(0, 0, 5).Add(time.Minute))
	if ds := pending(); len(ds) != 2 || !strings.Contains(ds[1].Body+ds[0].Body, `"change":"cleared"`) {
		t.Fatalf("deliveries after the lift: %+v", ds)
	}
}

// TestAnnouncedWithTheirChanges: on the wired service (embedded store), a merchant's parcel
// statuses, the anomaly its collection raised and the incident a regulator reported each land
// in the outbox of the party that may see them, and in no other's.
func TestAnnouncedWithTheirChanges(t *testing.T) {
	ctx := context.Background()
	const admin = "ct_webhook-test-regulator-token-0123456789"
	env := map[string]string{"CREDTRACE_ADMIN_TOKEN": admin}
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load(getenv, []string{"--data", t.TempDir(), "--webhook-allow-private", "true"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := assemble(ctx, cfg, policy(cfg), getenv, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	call := func(want int, token, method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := a.api.App().Test(req, 10000)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	firm := call(201, admin, "POST", "/v1/firms", map[string]any{"uscc": "91130100MA0CX7Q2K6", "name": "顺达", "kind": "hq", "region": "130102",
		"licence": map[string]any{"number": "L1", "valid_from": "2024-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z", "status": "active"}})["id"].(string)
	token := func(body map[string]any) string {
		return call(201, admin, "POST", "/v1/tokens", body)["token"].(string)
	}
	merchant, other := token(map[string]any{"role": "merchant", "merchant_id": "M-001"}), token(map[string]any{"role": "merchant", "merchant_id": "M-002"})
	firmTk := token(map[string]any{"role": "firm", "firm_id": firm, "label": "f"})
	subs := map[string]string{}
	for name, tk := range map[string]string{"merchant": merchant, "other": other, "regulator": admin} {
		subs[name] = call(201, tk, "POST", "/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9/" + name})["id"].(string)
	}
	at := time.Now().Add(-3 * time.Hour).UTC()
	res := call(200, firmTk, "POST", "/v1/events", []map[string]any{
		{"id": "c1", "waybill": "SF1000000001", "carrier": firm, "code": "collected", "at": at.Format(time.RFC3339), "merchant": "M-001", "recipient_phone": "13912345678", "weight_g": 5},
		{"id": "c2", "waybill": "SF1000000001", "carrier": firm, "code": "departed", "at": at.Add(time.Hour).Format(time.RFC3339)}})
	if res["accepted"].(float64) != 2 {
		t.Fatalf("events: %v", res)
	}
	if err := a.pipe.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	call(201, admin, "POST", "/v1/incidents", map[string]any{"waybill": "SF1000000001", "kind": "delayed", "reporter": "12305"})
	wh := a.st.webhooksOf(a.st.courier)
	types := func(sub string) map[string]int {
		ds, err := wh.Deliveries(ctx, webhook.DeliveryQuery{SubscriptionID: sub})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, d := range ds {
			out[string(d.Type)]++
			if strings.Contains(d.Body, "13912345678") {
				t.Errorf("a payload carries the phone: %s", d.Body)
			}
		}
		return out
	}
	if got := types(subs["merchant"]); got["parcel.status_changed"] < 1 || len(got) != 1 {
		t.Errorf("the merchant's outbox: %v, want its parcel's statuses", got)
	}
	if got := types(subs["other"]); len(got) != 0 {
		t.Errorf("another merchant's outbox: %v, want nothing", got)
	}
	if got := types(subs["regulator"]); got["anomaly.found"] != 1 || got["incident.reported"] != 1 {
		t.Errorf("the regulator's outbox: %v, want the anomaly and the incident", got)
	}
}
