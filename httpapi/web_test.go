package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// browser keeps the cookies a page sets, as a browser would.
type browser struct {
	t       *testing.T
	e       *env
	cookies map[string]string
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.e.srv.App().Test(req, 10000)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			b.t.Errorf("cookie %s is not HttpOnly and SameSite=Strict", c.Name)
		}
	}
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header
}

func TestDashboardSignInAndCSRF(t *testing.T) {
	e := newEnv(t)
	e.world()
	b := &browser{t: t, e: e, cookies: map[string]string{}}
	status, page, h := b.do("GET", "/ui/signin", nil)
	if status != 200 || !strings.Contains(page, `name="csrf"`) || h.Get("Content-Security-Policy") == "" {
		t.Fatalf("sign-in page: %d %s", status, page)
	}
	csrf := b.cookies["ct_csrf"]
	// A form without the token is refused, and nothing signs in.
	if status, _, _ := b.do("POST", "/ui/signin", url.Values{"token": {adminTk}}); status != 403 {
		t.Fatalf("sign-in without the CSRF token: %d, want 403", status)
	}
	if status, _, _ := b.do("POST", "/ui/signin", url.Values{"token": {"ct_wrong"}, "csrf": {csrf}}); status != 401 {
		t.Fatalf("sign-in with a wrong token: %d, want 401", status)
	}
	if status, _, _ := b.do("POST", "/ui/signin", url.Values{"token": {adminTk}, "csrf": {csrf}}); status != 303 {
		t.Fatalf("sign-in: %d, want 303", status)
	}
	if _, page, _ := b.do("GET", "/ui/", nil); !strings.Contains(page, "regulator") || !strings.Contains(page, "/ui/signout") {
		t.Fatalf("signed-in page does not show the session: %s", page)
	}
	// A signed-in regulator traces without the phone digits and sees sites' regions in full.
	if status, page, _ := b.do("GET", "/ui/parcels?waybill="+waybill, nil); status != 200 || !strings.Contains(page, "130111") || !strings.Contains(page, "Custody chain") {
		t.Fatalf("regulator trace with its custody chain: %d %s", status, page)
	}
	// The token is bound to the session and drawn at sign-in: the one from before sign-in,
	// or another browser's session's, no longer passes; the page carries the new one.
	fresh := b.cookies["ct_csrf"]
	if fresh == "" || fresh == csrf {
		t.Fatalf("the CSRF token was not rotated at sign-in (before %q, after %q)", csrf, fresh)
	}
	if _, page, _ := b.do("GET", "/ui/signin", nil); !strings.Contains(page, `value="`+fresh+`"`) || strings.Contains(page, csrf) {
		t.Errorf("the signed-in page does not carry the session's token only")
	}
	if status, _, _ := b.do("POST", "/ui/signout", url.Values{"csrf": {csrf}}); status != 403 {
		t.Fatalf("sign-out with the token from before sign-in: %d, want 403", status)
	}
	other := &browser{t: t, e: e, cookies: map[string]string{}}
	other.do("GET", "/ui/signin", nil)
	other.do("POST", "/ui/signin", url.Values{"token": {adminTk}, "csrf": {other.cookies["ct_csrf"]}})
	if status, _, _ := b.do("POST", "/ui/signout", url.Values{"csrf": {other.cookies["ct_csrf"]}}); status != 403 {
		t.Fatalf("sign-out with another session's token: %d, want 403", status)
	}
	// The cookie alone is not the check: a browser whose cookie was overwritten with a
	// token of its own choosing still needs the session's.
	planted := &browser{t: t, e: e, cookies: map[string]string{"ct_session": b.cookies["ct_session"], "ct_csrf": "planted"}}
	if status, _, _ := planted.do("POST", "/ui/signout", url.Values{"csrf": {"planted"}}); status != 403 {
		t.Fatalf("sign-out with a planted cookie token: %d, want 403", status)
	}
	if status, _, _ := b.do("POST", "/ui/signout", url.Values{"csrf": {fresh}}); status != 303 {
		t.Fatalf("sign-out: %d", status)
	}
	if _, page, _ := b.do("GET", "/ui/", nil); strings.Contains(page, "/ui/signout") {
		t.Fatal("still signed in after sign-out")
	}
}

func TestDashboardRevokedTokenEndsSession(t *testing.T) {
	e := newEnv(t)
	e.world()
	tok := e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "platform", "label": "browser"})
	b := &browser{t: t, e: e, cookies: map[string]string{}}
	b.do("GET", "/ui/signin", nil)
	b.do("POST", "/ui/signin", url.Values{"token": {tok["token"].(string)}, "csrf": {b.cookies["ct_csrf"]}})
	if _, page, _ := b.do("GET", "/ui/", nil); !strings.Contains(page, "platform") {
		t.Fatal("not signed in")
	}
	e.must(204, "DELETE", "/v1/tokens/"+tok["id"].(string), adminTk, nil)
	if _, page, _ := b.do("GET", "/ui/", nil); strings.Contains(page, "/ui/signout") {
		t.Fatal("a revoked token's session goes on")
	}
}

func TestDashboardPublicPages(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	b := &browser{t: t, e: e, cookies: map[string]string{}}
	if _, page, _ := b.do("GET", "/ui/firms?q=顺达", nil); !strings.Contains(page, usccA) || !strings.Contains(page, usccFor(1)) {
		t.Fatalf("search by name: %s", page)
	}
	if _, page, _ := b.do("GET", "/ui/firms?q="+usccB, nil); !strings.Contains(page, "飞鸿快递") || strings.Contains(page, usccA) {
		t.Fatalf("search by code: %s", page)
	}
	_, page, _ := b.do("GET", "/ui/firms/"+usccFor(1), nil)
	if !strings.Contains(page, "随机抽查发现未按规定验视") || !strings.Contains(page, "public_exposure") {
		t.Fatalf("firm page lacks its public record or its sanction in force: %s", page)
	}
	if status, _, _ := b.do("GET", "/ui/firms/91110000802100433X", nil); status != 404 {
		t.Errorf("unknown firm page: %d, want 404", status)
	}
	if status, _, _ := b.do("GET", "/ui/lists", nil); status != 200 {
		t.Errorf("lists: %d", status)
	}
	// The public trace needs the phone digits and shows cities, no sites or couriers.
	if status, _, _ := b.do("GET", "/ui/parcels?waybill="+waybill+"&phone4=0000", nil); status != 404 {
		t.Errorf("wrong digits: %d, want 404", status)
	}
	status, page, _ := b.do("GET", "/ui/parcels?waybill="+waybill+"&phone4=5678", nil)
	if status != 200 || !strings.Contains(page, "130100") || !strings.Contains(page, "collected") {
		t.Fatalf("public trace: %d %s", status, page)
	}
	for _, secret := range []string{w.site, w.staff, "130111", "Custody chain"} {
		if strings.Contains(page, secret) {
			t.Errorf("the public trace page shows %q", secret)
		}
	}
	if status, _, h := b.do("GET", "/ui/static/style.css", nil); status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", status, h.Get("Content-Type"))
	}
}

// TestDashboardApproveSanction signs in as a regulator, approves a proposal from its form, and
// finds it on the firm's public page.
func TestDashboardApproveSanction(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	pub := &browser{t: t, e: e, cookies: map[string]string{}}
	_, before, _ := pub.do("GET", "/ui/firms/"+usccFor(1), nil)

	b := &browser{t: t, e: e, cookies: map[string]string{}}
	if status, _, _ := b.do("GET", "/ui/sanctions", nil); status != 403 {
		t.Fatalf("proposals page without a session: %d, want 403", status)
	}
	b.do("GET", "/ui/signin", nil)
	b.do("POST", "/ui/signin", url.Values{"token": {adminTk}, "csrf": {b.cookies["ct_csrf"]}})
	_, page, _ := b.do("GET", "/ui/sanctions", nil)
	if !strings.Contains(page, "/ui/sanctions/"+w.proposal+"/decision") {
		t.Fatalf("the proposal is not listed with its form: %s", page)
	}
	if status, _, _ := b.do("POST", "/ui/sanctions/"+w.proposal+"/decision", url.Values{"approve": {"true"}, "reason": {"核实"}}); status != 403 {
		t.Fatalf("decision without the CSRF token: %d, want 403", status)
	}
	if status, _, _ := b.do("POST", "/ui/sanctions/"+w.proposal+"/decision", url.Values{"approve": {"true"}, "reason": {"核实"}, "csrf": {b.cookies["ct_csrf"]}}); status != 303 {
		t.Fatalf("decision: %d, want 303", status)
	}
	if _, page, _ := b.do("GET", "/ui/sanctions", nil); strings.Contains(page, w.proposal) {
		t.Error("the decided proposal is still listed")
	}
	_, after, _ := pub.do("GET", "/ui/firms/"+usccFor(1), nil)
	if got, want := strings.Count(after, "public_exposure"), strings.Count(before, "public_exposure")+1; got != want {
		t.Errorf("public page shows %d public exposures after the approval, want %d", got, want)
	}
}

// signedIn returns a browser signed in with token.
func signedIn(t *testing.T, e *env, token string) *browser {
	t.Helper()
	b := &browser{t: t, e: e, cookies: map[string]string{}}
	b.do("GET", "/ui/signin", nil)
	if status, _, _ := b.do("POST", "/ui/signin", url.Values{"token": {token}, "csrf": {b.cookies["ct_csrf"]}}); status != 303 {
		t.Fatalf("sign-in: %d", status)
	}
	return b
}

func TestDashboardOverviewAndFile(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	reg := signedIn(t, e, adminTk)
	status, page, _ := reg.do("GET", "/ui/overview", nil)
	if status != 200 || !strings.Contains(page, "<svg") || !strings.Contains(page, "grade distribution") || !strings.Contains(page, "待审批提议") {
		t.Fatalf("overview: %d %s", status, page)
	}
	status, page, _ = reg.do("GET", "/ui/firms/"+w.a1+"/file", nil)
	if status != 200 || !strings.Contains(page, "score history") || !strings.Contains(page, "regulator") || !strings.Contains(page, "/ui/records/"+w.pending+"/decision") {
		t.Fatalf("file page: %d %s", status, page)
	}
	// Confirm the pending record from its form.
	if status, _, _ := reg.do("POST", "/ui/records/"+w.pending+"/decision", url.Values{"confirm": {"true"}, "reason": {"核实"}, "back": {w.a1}, "csrf": {reg.cookies["ct_csrf"]}}); status != 303 {
		t.Fatalf("confirm: %d", status)
	}
	if got := e.must(200, "GET", "/v1/records/"+w.pending, adminTk, nil)["status"]; got != "confirmed" {
		t.Errorf("record status %v after the form, want confirmed", got)
	}
	// The firm sees its own file, without the decision forms; another brand and the public do not.
	own := signedIn(t, e, w.firmA)
	if status, page, _ := own.do("GET", "/ui/firms/"+w.a1+"/file", nil); status != 200 || strings.Contains(page, "/ui/records/") {
		t.Errorf("own file: %d, forms shown: %v", status, strings.Contains(page, "/ui/records/"))
	}
	if status, _, _ := own.do("GET", "/ui/overview", nil); status != 403 {
		t.Errorf("a firm on the overview: %d, want 403", status)
	}
	other := signedIn(t, e, w.firmB)
	if status, _, _ := other.do("GET", "/ui/firms/"+w.a1+"/file", nil); status != 404 {
		t.Errorf("another brand's file: %d, want 404", status)
	}
	anon := &browser{t: t, e: e, cookies: map[string]string{}}
	if status, _, _ := anon.do("GET", "/ui/firms/"+w.a1+"/file", nil); status != 403 {
		t.Errorf("anonymous file: %d, want 403", status)
	}
}

func TestDashboardFirmAndMerchantPages(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	firm := signedIn(t, e, w.firmA)
	status, page, _ := firm.do("GET", "/ui/objections", nil)
	if status != 200 || !strings.Contains(page, w.disputed) || !strings.Contains(page, `value="`+w.confirmed+`"`) {
		t.Fatalf("objections page: %d %s", status, page)
	}
	if status, _, _ := firm.do("POST", "/ui/objections", url.Values{"record_id": {w.confirmed}, "reasons": {"记录有误"}, "csrf": {firm.cookies["ct_csrf"]}}); status != 303 {
		t.Fatalf("file objection: %d", status)
	}
	if got := e.must(200, "GET", "/v1/records/"+w.confirmed, adminTk, nil)["status"]; got != "disputed" {
		t.Errorf("record %v after the objection form, want disputed", got)
	}
	e.clock.add(11 * 24 * time.Hour)
	if _, page, _ := firm.do("GET", "/ui/objections", nil); !strings.Contains(page, "overdue") {
		t.Error("an objection past its review date is not marked overdue")
	}

	merchant := signedIn(t, e, w.merch)
	if _, page, _ := merchant.do("GET", "/ui/ratings", nil); !strings.Contains(page, rated) || !strings.Contains(page, waybill) {
		t.Errorf("the merchant's page does not list its recent parcels: %s", page)
	}
	if status, page, _ := merchant.do("POST", "/ui/ratings", url.Values{"waybill": {rated}, "stars": {"4"}, "csrf": {merchant.cookies["ct_csrf"]}}); status != 200 || !strings.Contains(page, "4 ★") {
		t.Fatalf("rating form: %d %s", status, page)
	}
	if status, page, _ := merchant.do("POST", "/ui/ratings", url.Values{"waybill": {waybill}, "stars": {"1"}, "csrf": {merchant.cookies["ct_csrf"]}}); status != 422 || !strings.Contains(page, "not been delivered") {
		t.Errorf("rating an undelivered parcel: %d %s", status, page)
	}
	if status, _, _ := firm.do("GET", "/ui/ratings", nil); status != 403 {
		t.Errorf("a firm on the merchants' page: %d, want 403", status)
	}
}

// TestDashboardFourEyes: a heavy proposal is reviewed by one regulator and decided by another
// on the dashboard; the page shows who reviewed it and why, the reviewer cannot approve it too.
func TestDashboardFourEyes(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	heavy := scoring.Sanction{ID: "sanction-heavy", Kind: scoring.PlatformRestriction, FirmID: w.a1, Rule: "ladder/2",
		Reason: "连续两期 D 级", LegalBasis: "关于全面加强电子商务领域诚信建设的通知 三(二)", Status: scoring.Proposed,
		ProposedAt: e.clock.now(), ProposedBy: "run test", Version: 1}
	if err := e.store.Scoring().CreateSanction(t.Context(), heavy); err != nil {
		t.Fatal(err)
	}
	second := e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "regulator", "label": "法制审核员"})
	first := signedIn(t, e, adminTk)
	decide := func(b *browser, approve, reason string) (int, string) {
		_, _, _ = b.do("GET", "/ui/sanctions", nil)
		status, page, _ := b.do("POST", "/ui/sanctions/"+heavy.ID+"/decision", url.Values{"approve": {approve}, "reason": {reason}, "csrf": {csrfFrom(b)}})
		return status, page
	}
	if status, _ := decide(first, "true", "事实清楚，证据确凿"); status != 303 {
		t.Fatalf("review: %d, want 303", status)
	}
	_, page, _ := first.do("GET", "/ui/sanctions", nil)
	if !strings.Contains(page, `id="review-sanction-heavy"`) || !strings.Contains(page, "事实清楚，证据确凿") || !strings.Contains(page, "another regulator decides") {
		t.Fatalf("the reviewer's page does not show the review: %s", page)
	}
	if status, page := decide(first, "true", "我也批准"); status != 409 || !strings.Contains(page, "four eyes") {
		t.Fatalf("the reviewer approves too: %d", status)
	}
	if got := e.must(200, "GET", "/v1/sanctions/"+heavy.ID, adminTk, nil); got["status"] != "reviewed" || got["reviewed_by"] == "" {
		t.Fatalf("after the review: %v", got)
	}
	other := signedIn(t, e, second["token"].(string))
	if status, _ := decide(other, "true", "集体讨论决定"); status != 303 {
		t.Fatalf("decision by the second regulator: %d, want 303", status)
	}
	got := e.must(200, "GET", "/v1/sanctions/"+heavy.ID, adminTk, nil)
	if got["status"] != "approved" || got["decided_by"] != second["id"] || got["reviewed_by"] == got["decided_by"] || got["review_reason"] != "事实清楚，证据确凿" {
		t.Fatalf("after the decision: %v", got)
	}
}

// csrfFrom is the CSRF token the browser's last page carries in its forms.
func csrfFrom(b *browser) string { return b.cookies["ct_csrf"] }

// get sends one request with an Accept header (none when accept is empty) and the browser's
// cookies, if any.
func get(t *testing.T, e *env, b *browser, method, path, accept, token string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if b != nil {
		for k, v := range b.cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
	}
	resp, err := e.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(raw)
}

// browserAccept is what Chromium sends when it follows a link.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// isPage reports whether an answer is a page of the dashboard: HTML in its layout.
func isPage(ctype, body string) bool {
	return strings.HasPrefix(ctype, "text/html") && strings.Contains(body, `href="/ui/static/style.css"`) &&
		strings.Contains(body, `<a class="brand" href="/ui/">`)
}

// jsonError is the code of an answer in the API's error shape, or "".
func jsonError(ctype, body string) string {
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	if !strings.HasPrefix(ctype, "application/json") || json.Unmarshal([]byte(body), &out) != nil {
		return ""
	}
	return out.Error.Code
}

// TestDashboardRefusalIsHTML: a page the browser's session may not open answers 403 with the
// dashboard's sign-in page naming the tokens that open it, signed in or not; a client that asks
// for JSON gets the API's error.
func TestDashboardRefusalIsHTML(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	anon := &browser{t: t, e: e, cookies: map[string]string{}}
	firm := signedIn(t, e, w.firmA)
	for _, c := range []struct {
		name    string
		b       *browser
		session string
	}{{"signed out", anon, ""}, {"signed in as a firm", firm, `<span class="who"><span class="term">企业 <small class="code">firm</small></span></span>`}} {
		t.Run(c.name, func(t *testing.T) {
			for _, accept := range []string{"", browserAccept, "*/*"} {
				status, ctype, page := get(t, e, c.b, "GET", "/ui/overview", accept, "")
				if status != 403 || !isPage(ctype, page) {
					t.Fatalf("Accept %q: %d %s, want 403 and a dashboard page: %.300s", accept, status, ctype, page)
				}
				if !strings.Contains(page, `action="/ui/signin"`) || !strings.Contains(page, "请以监管部门令牌登录") {
					t.Errorf("Accept %q: the refusal is not the sign-in page naming the regulator's token: %s", accept, page)
				}
				if c.session != "" && !strings.Contains(page, c.session) {
					t.Errorf("Accept %q: the refusal does not show the session: %s", accept, page)
				}
			}
			status, ctype, body := get(t, e, c.b, "GET", "/ui/overview", "application/json", "")
			if status != 403 || jsonError(ctype, body) != "forbidden" {
				t.Errorf("Accept: application/json: %d %s %s, want 403 and the JSON error forbidden", status, ctype, body)
			}
		})
	}
	// A bearer token opens no page: the dashboard goes by its session.
	if status, ctype, page := get(t, e, nil, "GET", "/ui/overview", browserAccept, adminTk); status != 403 || !isPage(ctype, page) {
		t.Errorf("a bearer token on the dashboard: %d %s, want 403 and the sign-in page", status, ctype)
	}
}

// TestDashboardErrorPages: errors other than a refused page answer a dashboard page naming
// the status and the request id; a stale form token is such an error, not the sign-in page.
func TestDashboardErrorPages(t *testing.T) {
	e := newEnv(t)
	e.world()
	b := &browser{t: t, e: e, cookies: map[string]string{}}
	status, ctype, page := get(t, e, b, "GET", "/ui/nowhere", "", "")
	if status != 404 || !isPage(ctype, page) || !strings.Contains(page, "未找到") || !strings.Contains(page, `id="request-id"`) {
		t.Errorf("unknown dashboard path: %d %s, want 404 and the error page: %s", status, ctype, page)
	}
	b.do("GET", "/ui/signin", nil)
	status, page, h := b.do("POST", "/ui/signin", url.Values{"token": {adminTk}, "csrf": {"stale"}})
	if status != 403 || !isPage(h.Get("Content-Type"), page) || strings.Contains(page, `action="/ui/signin"`) || !strings.Contains(page, "security token") {
		t.Errorf("stale CSRF token: %d, want 403 and an error page saying so: %s", status, page)
	}
	if h.Get("Content-Security-Policy") == "" {
		t.Error("the error page lacks the dashboard's security headers")
	}
}

// TestAPIErrorsByAccept: the API answers its errors in JSON unless the client prefers HTML, as
// a browser following a link does; then it gets the dashboard's error page.
func TestAPIErrorsByAccept(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		accept string
		html   bool
	}{{"", false}, {"application/json", false}, {"*/*", false}, {"application/json, text/html;q=0.5", false}, {browserAccept, true}} {
		for _, r := range []struct {
			path, code string
			status     int
		}{{"/v1/firms", "unauthorized", 401}, {"/nowhere", "not_found", 404}} {
			status, ctype, body := get(t, e, nil, "GET", r.path, c.accept, "")
			if status != r.status {
				t.Fatalf("GET %s, Accept %q: status %d, want %d", r.path, c.accept, status, r.status)
			}
			if c.html {
				if !isPage(ctype, body) || strings.Contains(body, `action="/ui/signin"`) {
					t.Errorf("GET %s, Accept %q: %s, want the dashboard's error page: %.300s", r.path, c.accept, ctype, body)
				}
			} else if got := jsonError(ctype, body); got != r.code {
				t.Errorf("GET %s, Accept %q: %s %.300s, want the JSON error %s", r.path, c.accept, ctype, body, r.code)
			}
		}
	}
}

// TestDashboardOverviewCounts: the overview's figures, counted by the store, are the lengths of
// the lists they stand for, also once an objection's review clock has run out.
func TestDashboardOverviewCounts(t *testing.T) {
	e := newEnv(t)
	e.world()
	reg := signedIn(t, e, adminTk)
	ctx := context.Background()
	admin := credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "t"}
	for _, later := range []time.Duration{0, 40 * 24 * time.Hour} {
		e.clock.add(later)
		overdue, _, err := e.svc.Objections(ctx, admin, true, "", courier.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		open, err := e.trk.Anomalies(ctx, admin, tracking.AnomalyQuery{Open: true})
		if err != nil {
			t.Fatal(err)
		}
		incs, err := e.trk.Incidents(ctx, admin, "", "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := e.sc.Sanctions(ctx, admin, scoring.SanctionQuery{Status: []scoring.SanctionStatus{scoring.Proposed, scoring.Reviewed}})
		if err != nil {
			t.Fatal(err)
		}
		if later > 0 && len(overdue) == 0 {
			t.Fatalf("no objection overdue %s on: the world has none pending", later)
		}
		status, page, _ := reg.do("GET", "/ui/overview", nil)
		if status != 200 {
			t.Fatalf("overview: %d %s", status, page)
		}
		for _, want := range []string{
			fmt.Sprintf("proposals</small>: %d<", len(ps)),
			fmt.Sprintf("overdue objections</small>: %d<", len(overdue)),
			fmt.Sprintf("open anomalies</small>: %d<", len(open)),
			fmt.Sprintf("incidents</small>: %d<", len(incs)),
		} {
			if !strings.Contains(page, want) {
				t.Errorf("%s on: the overview lacks %q", later, want)
			}
		}
	}
}
