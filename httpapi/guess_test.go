package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
)

// TestPhoneGuessingLocksPerWaybill: the four phone digits are checked on the trace, its
// stream, the dashboard's parcel page and the recipient's rating. Five wrong answers spread
// over those routes and over callers (anonymous and signed in) lock the waybill's check for
// an hour for everyone, the right answer included, and no rating is written; an unknown
// waybill behaves the same, so the answers tell nothing; the refusals show in /metrics.
func TestPhoneGuessingLocksPerWaybill(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	const ghost = "SF1999999999"
	for _, wb := range []string{rated, ghost} {
		wrong := []struct {
			method, path, token string
			body                any
			want                int
		}{
			{"GET", "/v1/parcels/" + wb + "?phone4=0001", "", nil, 404},
			{"GET", "/v1/parcels/" + wb + "?phone4=0002", w.firmB, nil, 404},
			{"POST", "/v1/public/ratings", "", map[string]any{"waybill": wb, "stars": 5, "phone4": "0003"}, 422},
			{"GET", "/ui/parcels?waybill=" + wb + "&phone4=0004", "", nil, 404},
			{"GET", "/v1/parcels/" + wb + "/stream?phone4=0005", w.plat, nil, 404},
		}
		for i, r := range wrong {
			if resp, body := e.raw(r.method, r.path, r.token, r.body); resp.StatusCode != r.want {
				t.Fatalf("%s wrong answer %d (%s %s): status %d, want %d: %s", wb, i+1, r.method, r.path, resp.StatusCode, r.want, body)
			}
		}
		right := []struct{ method, path, token string }{
			{"GET", "/v1/parcels/" + wb + "?phone4=1234", ""},
			{"GET", "/v1/parcels/" + wb + "?phone4=1234", w.plat},
			{"POST", "/v1/public/ratings", ""},
			{"GET", "/ui/parcels?waybill=" + wb + "&phone4=1234", ""},
		}
		for _, r := range right {
			var body any
			if r.method == "POST" {
				body = map[string]any{"waybill": wb, "stars": 5, "phone4": "1234"}
			}
			resp, out := e.raw(r.method, r.path, r.token, body)
			if resp.StatusCode != 429 {
				t.Fatalf("%s locked, the right answer on %s %s: status %d, want 429: %s", wb, r.method, r.path, resp.StatusCode, out)
			}
			if ra := resp.Header.Get("Retry-After"); ra != "3601" {
				t.Errorf("%s %s: Retry-After %q, want 3601 (the hour of the lock)", r.method, r.path, ra)
			}
			if strings.HasPrefix(r.path, "/v1/") && !strings.Contains(out, `"check_locked"`) {
				t.Errorf("%s %s: body %s does not say check_locked", r.method, r.path, out)
			}
		}
	}
	// The carrier still traces its parcel, and the merchant rates it: the lock is on the
	// phone check only.
	e.must(200, "GET", "/v1/parcels/"+rated, w.firmA, nil)
	if got, err := e.store.Scoring().Ratings(t.Context(), scoring.RatingQuery{}); err != nil || len(got) != 0 {
		t.Fatalf("ratings after the guesses: %v, %v; want none", got, err)
	}
	// An hour later the recipient gets through.
	e.clock.add(time.Hour + time.Second)
	e.must(200, "GET", "/v1/parcels/"+rated+"?phone4=1234", "", nil)
	e.must(201, "POST", "/v1/public/ratings", "", map[string]any{"waybill": rated, "stars": 4, "phone4": "1234"})

	metrics := e.metricsText()
	for _, want := range []string{`credtrace_phone_checks_total{outcome="wrong"} 10`, `credtrace_phone_checks_total{outcome="locked"} 8`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRecipientRatingAnswersAlike: a consumer's rating of a parcel not yet delivered, with the
// right digits, is answered exactly as a wrong phone and an unknown waybill are.
func TestRecipientRatingAnswersAlike(t *testing.T) {
	e := newEnv(t)
	e.world()
	answer := func(wb, phone4 string) string {
		resp, body := e.raw("POST", "/v1/public/ratings", "", map[string]any{"waybill": wb, "stars": 1, "phone4": phone4})
		var out map[string]any
		json.Unmarshal([]byte(body), &out)
		delete(out, "request_id")
		b, _ := json.Marshal(out)
		return resp.Status + " " + string(b)
	}
	undelivered := answer(waybill, "5678") // the right digits of a parcel on its way
	if wrong := answer(rated, "0000"); wrong != undelivered {
		t.Errorf("wrong phone answered %s, undelivered %s", wrong, undelivered)
	}
	if unknown := answer("SF1888888888", "5678"); unknown != undelivered {
		t.Errorf("unknown waybill answered %s, undelivered %s", unknown, undelivered)
	}
}

// TestSignedInPhoneChecksLimitedPerAddress: a token does not lift the per-address limit of
// requests that carry phone digits.
func TestSignedInPhoneChecksLimitedPerAddress(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	limited := 0
	for i := 0; i < 40; i++ {
		// Different waybills, so the per-waybill lock is not what refuses them.
		wb := "SF2" + strings.Repeat("0", 8-len(itoa(i))) + itoa(i) + "0"
		if resp, _ := e.raw("GET", "/v1/parcels/"+wb+"?phone4=0000", w.firmB, nil); resp.StatusCode == 429 {
			limited++
		}
	}
	if limited != 40-30 {
		t.Fatalf("%d of 40 signed-in phone checks refused, want 10 (the limit is 30 a minute)", limited)
	}
	// Without digits, a signed-in caller is not limited.
	e.must(200, "GET", "/v1/parcels/"+waybill, w.firmA, nil)
	metrics := e.metricsText()
	if !strings.Contains(metrics, `credtrace_phone_checks_total{outcome="rate_limited"} 10`) {
		t.Errorf("/metrics does not count the 10 refusals")
	}
}

// metricsText reads /metrics with a metrics token.
func (e *env) metricsText() string {
	e.t.Helper()
	tok := e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "metrics", "label": "scraper"})["token"].(string)
	resp, body := e.raw("GET", "/metrics", tok, nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return body
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
