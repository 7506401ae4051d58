package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestTokenLifecycle: a token issued with an expiry is listed without its secret, its last use
// is written at most once a minute, it rotates itself with the old secret kept for the grace
// period, and it is refused with a clear 401 once it has expired.
func TestTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	hq := e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccA, "顺达速运", "hq", ""))["id"].(string)
	now := e.clock.now()
	expires := now.Add(48 * time.Hour)
	for _, tc := range []struct {
		name string
		at   time.Time
	}{{"past", now.Add(-time.Minute)}, {"beyond the maximum lifetime", now.Add(731 * 24 * time.Hour)}} {
		code, out := e.call("POST", "/v1/tokens", adminTk, map[string]any{"role": "firm", "firm_id": hq, "expires_at": tc.at})
		if code != 422 || !strings.Contains(strings.ToLower(toJSON(t, out)), "expires_at") {
			t.Errorf("expiry %s: %d %v, want 422 naming expires_at", tc.name, code, out)
		}
	}
	issued := e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "firm", "firm_id": hq, "label": "brand A", "expires_at": expires})
	id, secret := issued["id"].(string), issued["token"].(string)
	if issued["expires_at"] != expires.Format(time.RFC3339) {
		t.Errorf("issued expires_at %v, want %s", issued["expires_at"], expires.Format(time.RFC3339))
	}
	e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "platform", "label": "mall"})

	find := func(token string) map[string]any {
		t.Helper()
		resp, raw := e.raw("GET", "/v1/tokens", token, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("list tokens: %d %s", resp.StatusCode, raw)
		}
		if strings.Contains(raw, secret) || strings.Contains(raw, `"token"`) || strings.Contains(raw, `"hash"`) {
			t.Fatalf("the token list shows a secret or a hash: %s", raw)
		}
		out := fromJSON(t, raw)
		for _, it := range out["items"].([]any) {
			if m := it.(map[string]any); m["id"] == id {
				return m
			}
		}
		return nil
	}
	if got := find(adminTk); got == nil || got["label"] != "brand A" || got["last_used_at"] != nil {
		t.Fatalf("regulator's list: %v, want brand A's token, never used", got)
	}

	e.must(200, "GET", "/v1/me", secret, nil)
	used := e.clock.now().Format(time.RFC3339)
	e.clock.add(30 * time.Second)
	e.must(200, "GET", "/v1/me", secret, nil) // within the minute: not written again
	if got := find(adminTk)["last_used_at"]; got != used {
		t.Errorf("last_used_at %v within the minute, want the first use %s", got, used)
	}
	e.clock.add(31 * time.Second)
	e.must(200, "GET", "/v1/me", secret, nil)
	if got, want := find(adminTk)["last_used_at"], e.clock.now().Format(time.RFC3339); got != want {
		t.Errorf("last_used_at %v a minute on, want %s", got, want)
	}

	// The firm sees its own tokens and nobody else's.
	resp, raw := e.raw("GET", "/v1/tokens", secret, nil)
	if items := fromJSON(t, raw)["items"].([]any); resp.StatusCode != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Errorf("the firm's list: %d %s, want its one token", resp.StatusCode, raw)
	}
	if code, _ := e.call("POST", "/v1/tokens/"+findAdmin(t, e)+"/rotate", secret, nil); code != 403 {
		t.Errorf("a firm rotating the regulator's token: %d, want 403", code)
	}

	// Rotation: the new secret is shown once; the old one works for the grace period only.
	rot := e.must(200, "POST", "/v1/tokens/"+id+"/rotate", secret, nil)
	fresh := rot["token"].(string)
	if fresh == "" || fresh == secret || rot["old_secret_valid_until"] != e.clock.now().Add(24*time.Hour).Format(time.RFC3339) {
		t.Fatalf("rotation answer: %v", rot)
	}
	e.must(200, "GET", "/v1/me", secret, nil)
	e.must(200, "GET", "/v1/me", fresh, nil)
	e.clock.add(24*time.Hour + time.Second)
	code, out := e.call("GET", "/v1/me", secret, nil)
	if code != 401 || errCode(out) != "token_rotated" || !strings.Contains(errMsg(out), "use the new secret") {
		t.Errorf("the old secret after the grace period: %d %v, want 401 token_rotated", code, out)
	}
	e.must(200, "GET", "/v1/me", fresh, nil)

	// Expiry: refused with a message that says so; a rotation does not revive it.
	e.clock.add(24 * time.Hour)
	code, out = e.call("GET", "/v1/me", fresh, nil)
	if code != 401 || errCode(out) != "token_expired" || !strings.Contains(errMsg(out), "expired at "+expires.Format(time.RFC3339)) {
		t.Errorf("an expired token: %d %v, want 401 token_expired naming the time", code, out)
	}
	if code, out := e.call("POST", "/v1/tokens/"+id+"/rotate", adminTk, nil); code != 409 {
		t.Errorf("rotating an expired token: %d %v, want 409", code, out)
	}

	// The regulators' dashboard page lists the tokens with their state in Chinese.
	b := signedIn(t, e, adminTk)
	status, page, _ := b.do("GET", "/ui/tokens", nil)
	if status != 200 || !strings.Contains(page, "brand A") || !strings.Contains(page, "已过期 <small class=\"code\">expired</small>") || strings.Contains(page, fresh) {
		t.Errorf("tokens page: %d %.2000s", status, page)
	}
}

// findAdmin is the id of the regulator token the env bootstraps.
func findAdmin(t *testing.T, e *env) string {
	t.Helper()
	return e.must(200, "GET", "/v1/me", adminTk, nil)["token_id"].(string)
}

func errCode(out map[string]any) string {
	m, _ := out["error"].(map[string]any)
	s, _ := m["code"].(string)
	return s
}

func errMsg(out map[string]any) string {
	m, _ := out["error"].(map[string]any)
	s, _ := m["message"].(string)
	return s
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fromJSON(t *testing.T, raw string) map[string]any {
	t.Helper()
	out := map[string]any{}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	return out
}
