package httpapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/tracking"
)

// hostile are values that a store would run as query if they reached it as anything but
// data: SQL, MongoDB operators (as JSON and as the keys some query-string parsers turn into
// objects), LIKE and regular-expression wildcards, dotted and $-keys.
var hostile = []string{
	`{"$gt": ""}`, `{"$ne": null}`, `{"$where": "sleep(100) || true"}`, `{"$regex": ".*"}`,
	`' OR '1'='1`, `1; DROP TABLE firms; --`, `" OR 1=1 --`, `%`, `_`, `.*`, `$gt`, `a.b`, `$where`, `\`,
}

// injectionEnvs are the world on both backends: SQLite, and MongoDB (the embedded FerretDB,
// or CREDTRACE_TEST_MONGO_URI).
func injectionEnvs(t *testing.T) map[string]*env {
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
		scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*mongodb.Store).Scoring() }})
	return map[string]*env{"sqlite": newEnv(t), "mongodb": mongo}
}

// listed is how many entries an answer lists (its "items", or the array it is), -1 when it
// lists none.
func listed(raw string) int {
	var v any
	if json.Unmarshal([]byte(raw), &v) != nil {
		return -1
	}
	switch v := v.(type) {
	case []any:
		return len(v)
	case map[string]any:
		if l, ok := v["items"].([]any); ok {
			return len(l)
		}
	}
	return -1
}

var pathParam = regexp.MustCompile(`:[a-z_]+`)

// apiRoutes are the API's routes of method among methods (the route table: a new route is
// covered), but the streams, which answer until the client hangs up.
func apiRoutes(srv *httpapi.Server, methods ...string) []httpapi.Route {
	var out []httpapi.Route
	for _, r := range srv.Routes() {
		if r.Doc == nil || r.Dashboard() || !slices.Contains(methods, r.Method) || strings.HasSuffix(r.Path, "/stream") {
			continue
		}
		stream := false
		for _, resp := range r.Doc.Responses {
			for _, c := range resp.Body {
				stream = stream || c.Media == "text/event-stream"
			}
		}
		if !stream {
			out = append(out, r)
		}
	}
	return out
}

// TestInjectionIsData sends the hostile values, on both backends, as every query parameter of
// every list route, as every path parameter of every GET route, and in every body field of the
// documented examples: no answer is a 500, a list never lists more than it does for a value
// that matches nothing, a path that names no object finds none, and a value sent as an
// operator object where a string belongs is refused.
func TestInjectionIsData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the world on both backends")
	}
	for name, e := range injectionEnvs(t) {
		t.Run(name, func(t *testing.T) {
			e.t = t
			e.world()
			for _, r := range apiRoutes(e.srv, "GET") {
				if pathParam.MatchString(r.Path) {
					for _, p := range hostile {
						path := pathParam.ReplaceAllLiteralString(r.Path, url.PathEscape(p))
						resp, raw := e.raw("GET", path, adminTk, nil)
						// 4xx, as nothing is named so; or an answer about the literal itself
						// (a carrier's configuration: the defaults of one that set none).
						literal := resp.StatusCode < 300 && listed(raw) <= 0 && strings.Contains(raw, `"`+url.PathEscape(p)+`"`)
						if resp.StatusCode >= 500 || (resp.StatusCode < 400 && !literal) {
							t.Errorf("GET %s: %d %.200s (want 4xx: nothing is named so)", path, resp.StatusCode, raw)
						}
					}
					continue
				}
				// Every parameter a value that matches nothing, then each a hostile value.
				_, all := e.raw("GET", r.Path, adminTk, nil)
				for _, q := range r.Doc.Params {
					if q.In == "path" {
						continue
					}
					base := r.Path + "?" + url.Values{q.Name: {"zz-matches-nothing"}}.Encode()
					bresp, braw := e.raw("GET", base, adminTk, nil)
					for _, p := range hostile {
						path := r.Path + "?" + url.Values{q.Name: {p}}.Encode()
						resp, raw := e.raw("GET", path, adminTk, nil)
						switch {
						case resp.StatusCode >= 500:
							t.Errorf("GET %s: %d %.200s", path, resp.StatusCode, raw)
						case resp.StatusCode < 300 && bresp.StatusCode < 300 && listed(raw) > listed(braw):
							t.Errorf("GET %s lists %d, more than the %d of a value that matches nothing", path, listed(raw), listed(braw))
						case resp.StatusCode < 300 && bresp.StatusCode >= 400 && listed(raw) > 0:
							t.Errorf("GET %s: %d listing %d, where a plain value is refused (%d)", path, resp.StatusCode, listed(raw), bresp.StatusCode)
						}
					}
					// Names a query-string parser may turn into operators: parameters the
					// route does not have, so never a narrower nor a wider list than none.
					for _, query := range []string{url.QueryEscape(q.Name+"[$gt]") + "=", url.QueryEscape(q.Name+"[$ne]") + "=x", url.QueryEscape(q.Name+".$ne") + "=x"} {
						path := r.Path + "?" + query
						resp, raw := e.raw("GET", path, adminTk, nil)
						if resp.StatusCode >= 500 || (resp.StatusCode < 300 && listed(raw) > listed(all)) {
							t.Errorf("GET %s: %d listing %d (%d without it)", path, resp.StatusCode, listed(raw), listed(all))
						}
					}
				}
			}
			for _, r := range apiRoutes(e.srv, "POST", "PUT", "PATCH", "DELETE") {
				if r.Doc.Body == nil {
					continue // takes no body
				}
				path := pathParam.ReplaceAllLiteralString(r.Path, url.PathEscape(`{"$gt": ""}`))
				ops := map[string]any{"$where": "sleep(100) || true", "$gt": "", "a.b": 1, "id": map[string]any{"$ne": nil}}
				if resp, raw := e.raw(r.Method, path, adminTk, ops); resp.StatusCode >= 500 || (resp.StatusCode < 400 && !refusedEach(raw)) {
					t.Errorf("%s %s with operator keys: %d %.200s (want 4xx)", r.Method, path, resp.StatusCode, raw)
				}
				if r.Doc.Example == nil || pathParam.MatchString(r.Path) {
					continue
				}
				for _, body := range operatorVariants(r.Doc.Example) {
					resp, raw := e.raw(r.Method, r.Path, adminTk, body)
					if resp.StatusCode >= 500 || (resp.StatusCode < 400 && !refusedEach(raw)) {
						b, _ := json.Marshal(body)
						t.Errorf("%s %s %.300s: %d %.200s (want 4xx)", r.Method, r.Path, b, resp.StatusCode, raw)
					}
				}
			}
		})
	}
}

// refusedEach reports an answer of a batch (POST /v1/events, or an import) that took none of its entries:
// a batch answers per entry, and refuses each bad one.
func refusedEach(raw string) bool {
	var res struct {
		Accepted *int `json:"accepted"`
		Rejected int  `json:"rejected"`
	}
	if json.Unmarshal([]byte(raw), &res) == nil && res.Accepted != nil {
		return *res.Accepted == 0 && res.Rejected > 0
	}
	// An import answers each line on its own (NDJSON): refused when every line is invalid.
	lines := strings.Split(strings.TrimSpace(raw), "\n")
	for _, l := range lines {
		var line struct {
			Status string `json:"status"`
		}
		if json.Unmarshal([]byte(l), &line) != nil || line.Status != "invalid" {
			return false
		}
	}
	return len(lines) > 0
}

// operatorVariants are copies of example (a decoded JSON value) with one string in it
// replaced by an operator object, one copy per string.
func operatorVariants(example any) []any {
	b, _ := json.Marshal(example)
	var doc any
	json.Unmarshal(b, &doc)
	var out []any
	var walk func(v any, set func(any))
	walk = func(v any, set func(any)) {
		switch v := v.(type) {
		case string:
			set(map[string]any{"$gt": ""})
			var c any
			b, _ := json.Marshal(doc)
			json.Unmarshal(b, &c)
			out = append(out, c)
			set(v)
		case map[string]any:
			for k, x := range v {
				walk(x, func(n any) { v[k] = n })
			}
		case []any:
			for i, x := range v {
				walk(x, func(n any) { v[i] = n })
			}
		}
	}
	walk(doc, func(any) {})
	return out
}

// TestInjectionStoredAsLiteral stores the hostile values as a firm's name on both backends and
// finds them again as they were, each by a search for itself and for nothing else.
func TestInjectionStoredAsLiteral(t *testing.T) {
	for name, e := range injectionEnvs(t) {
		t.Run(name, func(t *testing.T) {
			e.t = t
			ids := map[string]string{}
			for i, p := range hostile {
				ids[p] = e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccFor(100+i), "名"+p, "hq", ""))["id"].(string)
			}
			for p, id := range ids {
				got := e.must(200, "GET", "/v1/firms/"+id, adminTk, nil)
				if got["name"] != "名"+p {
					t.Errorf("firm %s: name %q, want %q", id, got["name"], "名"+p)
				}
			}
		})
	}
}
