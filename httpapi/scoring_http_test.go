package httpapi_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
)

// TestRatingRules covers who may rate what, once, and for how long.
func TestRatingRules(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	cases := []struct {
		name   string
		path   string
		token  string
		body   map[string]any
		status int
		field  string
	}{
		{"a parcel never delivered", "/v1/ratings", w.merch, map[string]any{"waybill": waybill, "stars": 1}, 422, "waybill"},
		{"another merchant's parcel", "/v1/ratings", "", map[string]any{"waybill": rated, "stars": 1}, 422, "waybill"},
		{"an unknown waybill", "/v1/ratings", w.merch, map[string]any{"waybill": "SF9999999999", "stars": 3}, 422, "waybill"},
		{"stars out of range", "/v1/ratings", w.merch, map[string]any{"waybill": rated, "stars": 6}, 422, "stars"},
		{"an unknown tag", "/v1/ratings", w.merch, map[string]any{"waybill": rated, "stars": 3, "tags": []string{"cheap"}}, 422, "tags[0]"},
		{"consumer with wrong digits", "/v1/public/ratings", "", map[string]any{"waybill": rated, "stars": 5, "phone4": "0000"}, 422, "waybill"},
		{"consumer without digits", "/v1/public/ratings", "", map[string]any{"waybill": rated, "stars": 5}, 422, "phone4"},
	}
	other := e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "merchant", "merchant_id": "M-777"})["token"].(string)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.token
			if c.name == "another merchant's parcel" {
				tok = other
			}
			got, out := e.call("POST", c.path, tok, c.body)
			if got != c.status {
				t.Fatalf("status %d, want %d: %v", got, c.status, out)
			}
			if !contains(fields(out), c.field) {
				t.Errorf("fields %v do not name %q", fields(out), c.field)
			}
		})
	}
	// One rating per rater and waybill: a second one edits the first, for seven days.
	first := e.must(201, "POST", "/v1/ratings", w.merch, map[string]any{"waybill": rated, "stars": 2, "tags": []string{"late"}})
	edit := e.must(200, "POST", "/v1/ratings", w.merch, map[string]any{"waybill": rated, "stars": 4})
	if edit["id"] != first["id"] || edit["stars"].(float64) != 4 {
		t.Fatalf("edit %v of %v", edit, first)
	}
	e.clock.add(8 * 24 * time.Hour)
	e.must(409, "POST", "/v1/ratings", w.merch, map[string]any{"waybill": rated, "stars": 1})
	// The consumer's rating of the same parcel is a different rater.
	c := e.must(201, "POST", "/v1/public/ratings", "", map[string]any{"waybill": rated, "stars": 5, "phone4": "1234"})
	if c["id"] == first["id"] || c["weight"].(float64) != 1 {
		t.Errorf("consumer rating %v", c)
	}
}

// TestSuspectFiveStarCountsNothing rates five stars on a parcel with an empty-parcel signal.
func TestSuspectFiveStarCountsNothing(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	// Collected at 10 g and delivered with no transit scan: two empty-parcel signals.
	e.must(200, "POST", "/v1/events", w.firmA, []map[string]any{
		{"id": "x1", "waybill": "SF1000000077", "carrier": w.hqA, "code": "collected", "at": "2026-05-31T09:00:00+08:00", "site": w.site, "merchant": "M-001", "weight_g": 10},
		{"id": "x2", "waybill": "SF1000000077", "carrier": w.hqA, "code": "delivered", "at": "2026-05-31T10:00:00+08:00", "site": w.site, "signer": "locker"},
	})
	r := e.must(201, "POST", "/v1/ratings", w.merch, map[string]any{"waybill": "SF1000000077", "stars": 5})
	if r["weight"].(float64) != 0 || len(r["flags"].([]any)) == 0 || !strings.Contains(r["flags"].([]any)[0].(string), "empty-parcel") {
		t.Errorf("five stars on a suspect: %v", r)
	}
}

// TestRunIsReproducible runs twice as of the same time with the same methodology and compares
// every score and its explanation.
func TestRunIsReproducible(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	e.must(201, "POST", "/v1/ratings", w.merch, map[string]any{"waybill": rated, "stars": 3})
	asOf := e.clock.now().Format(time.RFC3339)
	e.clock.add(time.Hour)
	a := e.must(201, "POST", "/v1/scoring/runs", adminTk, map[string]any{"as_of": asOf})
	e.clock.add(time.Hour)
	b := e.must(201, "POST", "/v1/scoring/runs", adminTk, map[string]any{"as_of": asOf})
	if a["status"] != "succeeded" || b["status"] != "succeeded" || a["total"] != b["total"] {
		t.Fatalf("runs %v %v", a, b)
	}
	hist := e.must(200, "GET", "/v1/firms/"+w.a1+"/score", adminTk, nil)["history"].([]any)
	var fromA, fromB map[string]any
	for _, h := range hist {
		m := h.(map[string]any)
		switch m["run_id"] {
		case a["id"]:
			fromA = m
		case b["id"]:
			fromB = m
		}
	}
	if fromA == nil || fromB == nil {
		t.Fatalf("history lacks a run: %v", hist)
	}
	delete(fromA, "run_id")
	delete(fromB, "run_id")
	if !reflect.DeepEqual(fromA, fromB) {
		t.Errorf("same as-of, different scores:\n%v\n%v", fromA, fromB)
	}
	// The explanation names the records that moved the score.
	cur := e.must(200, "GET", "/v1/firms/"+w.a1+"/score", w.firmA, nil)["current"].(map[string]any)
	found := false
	for _, comp := range cur["components"].([]any) {
		for _, it := range comp.(map[string]any)["items"].([]any) {
			found = found || it.(map[string]any)["ref"] == w.confirmed
		}
	}
	if !found {
		t.Errorf("the explanation does not cite the confirmed record %s: %v", w.confirmed, cur["components"])
	}
	e.must(404, "GET", "/v1/scoring/runs/nope", adminTk, nil)
}

// TestMethodVersionsHTTP: PUT stores a new version once (201), the same text again is 200,
// other text under a stored label 409; versions are listed with hash and in-force flag and
// read back byte for byte; runs name the version and hash.
func TestMethodVersionsHTTP(t *testing.T) {
	e := newEnv(t)
	e.world()
	e.must(201, "PUT", "/v1/scoring/method", adminTk, []byte(nextMethod))
	again := e.must(200, "PUT", "/v1/scoring/method", adminTk, []byte(nextMethod))
	if again["version"] != "2027.1" || again["in_force"] != false || again["hash"] != scoring.MethodHash(nextMethod) {
		t.Errorf("the same version again: %v", again)
	}
	changed := strings.Replace(nextMethod, `"prior_count": `, `"prior_count": 1`, 1)
	if got, out := e.call("PUT", "/v1/scoring/method", adminTk, []byte(changed)); got != 409 {
		t.Fatalf("other content under 2027.1: %d %v", got, out)
	}
	builtinChanged := strings.Replace(scoring.DefaultMethod, `"prior_count": `, `"prior_count": 1`, 1)
	if got, out := e.call("PUT", "/v1/scoring/method", adminTk, []byte(builtinChanged)); got != 409 {
		t.Fatalf("other content under the built-in 2026.1: %d %v", got, out)
	}
	list := items(e.must(200, "GET", "/v1/scoring/methods", "", nil), "items")
	if len(list) != 2 || list[0]["version"] != "2026.1" || list[0]["in_force"] != true || list[1]["version"] != "2027.1" {
		t.Fatalf("versions: %v", list)
	}
	status, raw := e.send("GET", "/v1/scoring/methods/2027.1", "", "", nil)
	if status != 200 || string(raw) != nextMethod {
		t.Fatalf("2027.1 read back: %d, not byte for byte", status)
	}
	if got, _ := e.call("GET", "/v1/scoring/methods/2031.1", "", nil); got != 404 {
		t.Fatalf("unknown version: %d", got)
	}
	run := e.must(201, "POST", "/v1/scoring/runs", adminTk, map[string]any{"publish": false})
	if run["method"] != "2026.1" || run["method_hash"] != scoring.MethodHash(scoring.DefaultMethod) {
		t.Errorf("run names %v %v", run["method"], run["method_hash"])
	}
}

// TestPublishPerPeriodHTTP: the README's publishing run twice, minutes apart, is one period:
// the second is 409 without a regulator's reason; with one it replaces the period's grades.
func TestPublishPerPeriodHTTP(t *testing.T) {
	e := newEnv(t)
	e.world() // 1 June: the period that has ended is May
	first := e.must(201, "POST", "/v1/scoring/runs", adminTk, map[string]any{"publish": true})
	if first["period"] != "2026-05" || first["as_of"] != "2026-05-31T16:00:00Z" {
		t.Fatalf("publication: period %v as of %v, want 2026-05 as of its end", first["period"], first["as_of"])
	}
	e.clock.add(7 * time.Minute)
	if got := e.must(409, "POST", "/v1/scoring/runs", adminTk, map[string]any{"publish": true}); !strings.Contains(fmt.Sprint(got), "reason") {
		t.Errorf("second publication: %v, want 409 asking for a reason", got)
	}
	again := e.must(201, "POST", "/v1/scoring/runs", adminTk, map[string]any{"publish": true, "period": "2026-05", "reason": "复核更正"})
	if again["replaces"] != first["id"] || again["reason"] != "复核更正" || again["period"] != "2026-05" {
		t.Errorf("republication = %v, want it to replace %v with its reason", again, first["id"])
	}
	if old := e.must(200, "GET", "/v1/scoring/runs/"+first["id"].(string), adminTk, nil); old["superseded_by"] != again["id"] {
		t.Errorf("first run superseded_by = %v, want %v", old["superseded_by"], again["id"])
	}
	e.must(422, "POST", "/v1/scoring/runs", adminTk, map[string]any{"publish": true, "period": "2026-06", "reason": "x"}) // not ended
	e.must(422, "POST", "/v1/scoring/runs", adminTk, map[string]any{"period": "2026-05"})                                 // a preview names none
	preview := e.must(201, "POST", "/v1/scoring/runs", adminTk, map[string]any{"publish": false})
	if preview["period"] != "2026-06" {
		t.Errorf("preview period = %v, want the period in progress, 2026-06", preview["period"])
	}
}

// TestRunInputsHTTP: a regulator downloads the NDJSON inputs of a run; its header names the run.
func TestRunInputsHTTP(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	req := httptest.NewRequest("GET", "/v1/scoring/runs/"+w.run+"/inputs", nil)
	req.Header.Set("Authorization", "Bearer "+adminTk)
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		t.Fatalf("inputs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if !strings.Contains(lines[0], `"type":"run"`) || !strings.Contains(lines[0], w.run) || !strings.Contains(lines[0], `"method_hash":"sha256:`) {
		t.Errorf("header line %s", lines[0])
	}
	if !strings.Contains(string(body), `"type":"firm","id":"`+w.a1+`"`) || !strings.Contains(string(body), `"type":"record","id":"`+w.confirmed+`"`) {
		t.Errorf("inputs lack A1 or its confirmed record:\n%s", body)
	}
	e.must(404, "GET", "/v1/scoring/runs/nope/inputs", adminTk, nil)
}

// TestPlatformRatings covers the platform's batch of ratings: each item answered on its own,
// JSON array or NDJSON, with the time the rater gave it, and only of parcels the named rater
// has a relation to.
func TestPlatformRatings(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	// rated was delivered 2026-05-31 15:00 +08:00; the clock is 2026-06-01 16:00 +08:00.
	item := func(stars int, ratedAt, kind, rater string) map[string]any {
		m := map[string]any{"waybill": rated, "stars": stars, "rated_at": ratedAt, "rater_kind": kind}
		if kind == "merchant" {
			m["merchant_id"] = rater
		} else {
			m["buyer_id"] = rater
		}
		return m
	}
	body := []any{
		item(2, "2026-05-31T20:00:00+08:00", "merchant", "M-001"),
		item(5, "2026-06-02T09:00:00+08:00", "consumer", "b-1"),   // in the future
		item(5, "2026-05-31T14:00:00+08:00", "consumer", "b-1"),   // before the delivery
		item(3, "2026-05-31T21:00:00+08:00", "merchant", "M-777"), // not M-777's parcel
		map[string]any{"waybill": "SF9999999999", "stars": 3, "rated_at": "2026-05-31T21:00:00+08:00", "rater_kind": "consumer", "buyer_id": "b-1"},
		map[string]any{"waybill": rated, "stars": 9, "rated_at": "2026-05-31T21:00:00+08:00", "rater_kind": "robot"},
		item(4, "2026-05-31T22:00:00+08:00", "consumer", "b-1"),
		map[string]any{"waybill": rated, "stars": 4, "rated_at": "yesterday", "rater_kind": "consumer", "buyer_id": "b-2"},
	}
	out := e.must(200, "POST", "/v1/platform/ratings", w.plat, body)
	results := out["results"].([]any)
	want := []struct{ status, reason string }{
		{"accepted", ""}, {"rejected", "rated_at: is in the future"}, {"rejected", "rated_at: is before the parcel was delivered"},
		{"rejected", "waybill: no delivered parcel of this rater with this waybill"}, {"rejected", "waybill: no delivered parcel of this rater with this waybill"},
		{"rejected", "stars"}, {"accepted", ""}, {"rejected", "rated_at"},
	}
	if len(results) != len(want) || out["accepted"].(float64) != 2 || out["rejected"].(float64) != 6 {
		t.Fatalf("answer %v", out)
	}
	for i, r := range results {
		x := r.(map[string]any)
		if x["index"].(float64) != float64(i) || x["status"] != want[i].status || !strings.HasPrefix(fmt.Sprint(x["reason"]), want[i].reason) {
			t.Errorf("result %d = %v, want %s %q…", i, x, want[i].status, want[i].reason)
		}
		if want[i].status == "accepted" && (x["rating_id"] == "" || x["weight"].(float64) != 1) {
			t.Errorf("result %d = %v: want a rating id and weight 1", i, x)
		}
	}
	// The buyer is the platform's own pseudonym: stored under the platform token, never a phone.
	rs, err := e.store.Scoring().Ratings(t.Context(), scoring.RatingQuery{RaterKind: scoring.RaterConsumer})
	if err != nil || len(rs) != 1 || !strings.HasSuffix(rs[0].RaterID, ":b-1") || !rs[0].RatedAt.Equal(time.Date(2026, 5, 31, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("consumer ratings %+v, %v; want b-1's, rated 2026-05-31T22:00+08:00", rs, err)
	}

	// NDJSON: one item a line; a line that is not a rating is rejected on its own.
	nd := `{"waybill":"` + rated + `","stars":1,"rated_at":"2026-05-31T23:00:00+08:00","rater_kind":"consumer","buyer_id":"b-3"}
{"waybill":"` + rated + `","stars":1,"unknown":true}
`
	out = e.must(200, "POST", "/v1/platform/ratings", w.plat, nd)
	if out["accepted"].(float64) != 1 || out["rejected"].(float64) != 1 {
		t.Fatalf("NDJSON answer %v", out)
	}

	// Whole-body problems are one answer naming the field.
	for _, c := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"not JSON", "ratings!", 400, ""},
		{"an empty array", []any{}, 422, "ratings"},
		{"more than 10,000 items", strings.Repeat(`{"waybill":"x","stars":1}`+"\n", scoring.MaxRatingBatch+1), 422, "ratings"},
	} {
		got, res := e.call("POST", "/v1/platform/ratings", w.plat, c.body)
		if got != c.status || (c.field != "" && !contains(fields(res), c.field)) {
			t.Errorf("%s: status %d, fields %v; want %d naming %q", c.name, got, fields(res), c.status, c.field)
		}
	}
	// Other roles may not push ratings: a merchant rates through /v1/ratings.
	e.must(403, "POST", "/v1/platform/ratings", w.merch, body[:1])
}
