package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
)

// TestParcelStatusAnnouncedOnMongoDB: on a MongoDB-backed service (the embedded FerretDB unless
// CREDTRACE_TEST_MONGO_URI is set), a merchant's subscription finds its parcel's status change
// in the outbox once the batch is saved; the same batch sent again, and the same save retried
// (what a crash between the outbox and the summaries on a server without transactions does),
// write no second delivery.
func TestParcelStatusAnnouncedOnMongoDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	uri, db := mongotest.NewDB(t)
	r := startReplicasOn(t, uri, db, 1, "--webhook-allow-private", "true")[0]
	as := func(want int, token, method, path string, body any) map[string]any {
		t.Helper()
		if token == replicaAdmin {
			return r.must(ctx, t, want, method, path, body)
		}
		// r.call sends the admin's token; another party's requests are built here.
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, r.base+path, strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %v (want %d)", method, path, resp.StatusCode, out, want)
		}
		return out
	}
	firm := as(201, replicaAdmin, "POST", "/v1/firms", map[string]any{"uscc": "91130100MA0CX7Q2K6", "name": "顺达", "kind": "hq", "region": "130102",
		"licence": map[string]any{"number": "L1", "valid_from": "2024-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z", "status": "active"}})["id"].(string)
	token := func(body map[string]any) string {
		return as(201, replicaAdmin, "POST", "/v1/tokens", body)["token"].(string)
	}
	merchant, firmTk := token(map[string]any{"role": "merchant", "merchant_id": "M-001"}), token(map[string]any{"role": "firm", "firm_id": firm, "label": "f"})
	sub := as(201, merchant, "POST", "/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9/m", "events": []string{string(webhook.ParcelStatus)}})["id"].(string)

	at := time.Now().Add(-3 * time.Hour).UTC()
	batch := []map[string]any{
		{"id": "c1", "waybill": "SF1000000001", "carrier": firm, "code": "collected", "at": at.Format(time.RFC3339), "merchant": "M-001", "weight_g": 500},
		{"id": "c2", "waybill": "SF1000000001", "carrier": firm, "code": "departed", "at": at.Add(time.Hour).Format(time.RFC3339)}}
	wh := r.app.st.webhooksOf(r.app.st.courier)
	outbox := func() []string {
		t.Helper()
		ds, err := wh.Deliveries(ctx, webhook.DeliveryQuery{SubscriptionID: sub})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			var p struct {
				Data map[string]string `json:"data"`
			}
			if err := json.Unmarshal([]byte(d.Body), &p); err != nil {
				t.Fatalf("delivery %s: %v", d.ID, err)
			}
			out = append(out, fmt.Sprintf("%s %s %s %s", d.Type, p.Data["waybill"], p.Data["merchant_id"], p.Data["status"]))
		}
		slices.Sort(out)
		return out
	}
	send := func(accepted float64) {
		t.Helper()
		if res := as(200, firmTk, "POST", "/v1/events", batch); res["accepted"].(float64) != accepted {
			t.Fatalf("events: %v, want %v accepted", res, accepted)
		}
		if err := r.app.pipe.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send(2)
	first := outbox()
	if !slices.Contains(first, "parcel.status_changed SF1000000001 M-001 departed") {
		t.Fatalf("the merchant's outbox after the batch: %q, want the parcel's departure", first)
	}
	send(0)
	if got := outbox(); !slices.Equal(got, first) {
		t.Errorf("the outbox after the same batch again: %q, want %q", got, first)
	}
	parcels, err := r.app.st.tracking.Parcels(ctx, tracking.ParcelQuery{Carriers: []string{firm}})
	if err != nil || len(parcels) != 1 {
		t.Fatalf("parcels: %v %v", parcels, err)
	}
	ann := announcer{st: r.app.st, now: time.Now}
	if err := ann.Stored(ctx, r.app.st.tracking, parcels, nil); err != nil {
		t.Fatalf("the save retried: %v", err)
	}
	if got := outbox(); !slices.Equal(got, first) {
		t.Errorf("the outbox after the save retried: %q, want %q", got, first)
	}
}
