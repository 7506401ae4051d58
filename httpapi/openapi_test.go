package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/webhook"
)

// openAPIDoc fetches GET /openapi.json as an anonymous caller.
func openAPIDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	resp, err := e.srv.App().Test(httptest.NewRequest("GET", "/openapi.json", nil), 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: status %d: %s", resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v, want 3.1.0", doc["openapi"])
	}
	return doc
}

// specPath turns a Fiber pattern into its OpenAPI path.
func specPath(pattern string) string {
	return regexp.MustCompile(`:([A-Za-z_]+)`).ReplaceAllString(pattern, "{$1}")
}

// specOp is the operation documenting route r, or nil.
func specOp(doc map[string]any, r httpapi.Route) map[string]any {
	item, _ := doc["paths"].(map[string]any)[specPath(r.Path)].(map[string]any)
	op, _ := item[strings.ToLower(r.Method)].(map[string]any)
	return op
}

var specMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	routes := map[string]bool{}
	for _, r := range e.srv.Routes() {
		if r.Dashboard() {
			continue // its pages are no part of the API's document
		}
		key := r.Method + " " + specPath(r.Path)
		if routes[key] {
			t.Errorf("route %s is registered twice", key)
		}
		routes[key] = true
	}
	documented := map[string]bool{}
	ids := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, v := range item.(map[string]any) {
			key := strings.ToUpper(method) + " " + path
			if !slices.Contains(specMethods, method) {
				t.Errorf("%s: %q is not an HTTP method", path, method)
				continue
			}
			documented[key] = true
			if !routes[key] {
				t.Errorf("the document has %s, which is no route", key)
			}
			op := v.(map[string]any)
			id, _ := op["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("%s: operationId %q is empty or also used by %s", key, id, prev)
			}
			ids[id] = key
			var success []string
			for status, r := range op["responses"].(map[string]any) {
				if strings.HasPrefix(status, "2") && (status == "204" || r.(map[string]any)["content"] != nil) {
					success = append(success, status)
				}
			}
			if len(success) == 0 {
				t.Errorf("%s documents no success response: give its operation one", key)
			}
			var declared []string
			for _, p := range asList(op["parameters"]) {
				if p := p.(map[string]any); p["in"] == "path" {
					declared = append(declared, p["name"].(string))
				}
			}
			var inPath []string
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				inPath = append(inPath, m[1])
			}
			if !slices.Equal(declared, inPath) {
				t.Errorf("%s declares path parameters %v, want %v", key, declared, inPath)
			}
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("route %s is not in the document", key)
		}
	}
}

// TestEveryRouteDeclaresItsOperation: an API route added without its OpenAPI operation, or
// with one that names no operationId or no success, fails here; a dashboard page declares none,
// for the document leaves the dashboard out.
func TestEveryRouteDeclaresItsOperation(t *testing.T) {
	e := newEnv(t)
	api, pages := 0, 0
	for _, r := range e.srv.Routes() {
		switch {
		case r.Dashboard() && r.Doc != nil:
			t.Errorf("dashboard route %s %s declares an OpenAPI operation", r.Method, r.Path)
		case r.Dashboard():
			pages++
		case r.Doc == nil:
			t.Errorf("route %s %s declares no OpenAPI operation", r.Method, r.Path)
		default:
			api++
			if r.Doc.ID == "" || r.Doc.Summary == "" || len(r.Doc.Responses) == 0 || r.Doc.Responses[0].Status/100 != 2 {
				t.Errorf("route %s %s: operation %q without a summary or a first response that is a success", r.Method, r.Path, r.Doc.ID)
			}
		}
	}
	if api == 0 || pages == 0 {
		t.Fatalf("%d API routes and %d dashboard routes in the table", api, pages)
	}
	doc := openAPIDoc(t, e)
	for _, r := range e.srv.Routes() {
		if r.Dashboard() && specOp(doc, r) != nil {
			t.Errorf("dashboard route %s %s is in the API's document", r.Method, r.Path)
		}
	}
}

func TestOpenAPIRoles(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	for _, r := range e.srv.Routes() {
		if r.Dashboard() {
			continue
		}
		op := specOp(doc, r)
		if op == nil {
			t.Errorf("%s %s: not documented", r.Method, r.Path)
			continue
		}
		var want []string
		for _, role := range r.Roles {
			want = append(want, string(role))
		}
		var got []string
		for _, role := range asList(op["x-roles"]) {
			got = append(got, role.(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: x-roles %v, want %v", r.Method, r.Path, got, want)
		}
		sec, ok := op["security"].([]any)
		public := slices.Contains(r.Roles, credtrace.RolePublic)
		switch {
		case !ok:
			t.Errorf("%s %s: no security", r.Method, r.Path)
		case public && len(sec) != 0:
			t.Errorf("%s %s: a public route with security %v, want []", r.Method, r.Path, sec)
		case !public && (len(sec) != 1 || sec[0].(map[string]any)["bearerAuth"] == nil):
			t.Errorf("%s %s: security %v, want bearerAuth", r.Method, r.Path, sec)
		}
		if d, _ := op["description"].(string); !strings.Contains(d, "Roles: ") {
			t.Errorf("%s %s: description %q names no roles", r.Method, r.Path, d)
		}
	}
	scheme, _ := dig(doc, "components", "securitySchemes", "bearerAuth").(map[string]any)
	if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
		t.Errorf("bearerAuth scheme %v, want http bearer", scheme)
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	refs := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				refs++
				if _, err := resolveRef(doc, ref); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, c := range x {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range x {
				walk(c, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
	if refs == 0 {
		t.Fatal("the document has no $ref at all")
	}
	// The schemas generated from Go types keep their rules.
	for _, c := range []struct {
		name     string
		schema   string
		required []string
	}{
		{"request: validate:\"required\"", "FirmCreateRequest", []string{"uscc", "name", "kind", "region", "licence"}},
		{"response: all but omitempty", "Token", []string{"id", "role", "created_at"}},
		{"error shape", "Error", []string{"error"}},
		{"error body", "ErrorBody", []string{"code", "message"}},
	} {
		s, _ := dig(doc, "components", "schemas", c.schema).(map[string]any)
		var got []string
		for _, r := range asList(s["required"]) {
			got = append(got, r.(string))
		}
		if !slices.Equal(got, c.required) {
			t.Errorf("%s: %s requires %v, want %v", c.name, c.schema, got, c.required)
		}
	}
	if ts := dig(doc, "components", "schemas", "Token", "properties", "created_at", "format"); ts != "date-time" {
		t.Errorf("Token.created_at format %v, want date-time", ts)
	}
	if v := dig(doc, "components", "schemas", "FirmCreateRequest", "additionalProperties"); v != false {
		t.Errorf("FirmCreateRequest admits unknown fields (%v), but the handler refuses them", v)
	}
}

// TestOpenAPIExamples sends each documented request example to its handler and checks the
// documented status and response schema against the answer.
func TestOpenAPIExamples(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	doc := openAPIDoc(t, e)
	ids := map[string]string{"{firm_id}": w.a1, "{carrier_id}": w.hqA, "{site_id}": w.site, "{staff_id}": w.staff, "{waybill}": w.waybill, "{delivered_waybill}": rated}
	var tried []string
	for _, r := range e.srv.Routes() {
		key := r.Method + " " + r.Path
		op := specOp(doc, r)
		media, _ := dig(op, "requestBody", "content", "application/json").(map[string]any)
		example, ok := media["example"]
		if !ok {
			continue
		}
		tried = append(tried, key)
		raw, _ := json.Marshal(example)
		body := string(raw)
		for k, v := range ids {
			body = strings.ReplaceAll(body, k, v)
		}
		if left := regexp.MustCompile(`\{[a-z_]+\}`).FindString(body); left != "" {
			t.Errorf("%s: the example's placeholder %s has no value in the test world", key, left)
			continue
		}
		if strings.Contains(r.Path, ":") {
			t.Errorf("%s: examples of routes with path parameters are not exercised yet", key)
			continue
		}
		var sent any
		_ = json.Unmarshal([]byte(body), &sent)
		for _, p := range conform(doc, media["schema"], sent, "example") {
			t.Errorf("%s: the example breaks its own schema: %s", key, p)
		}
		want := successStatus(op)
		got, out := e.call(r.Method, r.Path, tokenForRoles(w, r.Roles), body)
		if got >= 200 && got < 300 && dig(op, "responses", strconv.Itoa(got)) != nil {
			want = got // an operation may document several successes (201 created, 200 joined)
		}
		if got != want {
			t.Errorf("%s: the example answers %d, the document says %d: %v", key, got, want, out)
			continue
		}
		respSchema := dig(op, "responses", strconv.Itoa(want), "content", "application/json", "schema")
		if respSchema == nil {
			t.Errorf("%s: no schema for %d", key, want)
			continue
		}
		for _, p := range conform(doc, respSchema, any(out), "answer") {
			t.Errorf("%s: %s", key, p)
		}
		if n, ok := out["rejected"].(float64); ok && n != 0 {
			t.Errorf("%s: the example's events are rejected: %v", key, out["results"])
		}
	}
	for _, want := range []string{"POST /v1/firms", "POST /v1/records", "POST /v1/events", "POST /v1/incidents", "POST /v1/tokens"} {
		if !slices.Contains(tried, want) {
			t.Errorf("%s has no request example", want)
		}
	}
}

func TestOpenAPIErrorShape(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	doc := openAPIDoc(t, e)
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"malformed JSON", "POST", "/v1/firms", adminTk, `{"uscc": `, 400},
		{"no token", "GET", "/v1/firms", "", nil, 401},
		{"role refused", "POST", "/v1/firms", w.merch, firmBody(usccFor(9), "x", "hq", ""), 403},
		{"unknown id", "GET", "/v1/firms/nope", adminTk, nil, 404},
		{"taken USCC", "POST", "/v1/firms", adminTk, firmBody(usccA, "again", "hq", ""), 409},
		{"body over the limit", "POST", "/v1/firms", adminTk, big, 413},
		{"wrong type", "POST", "/v1/firms", adminTk, `{"uscc": 12}`, 422},
		{"bad limit", "GET", "/v1/records?limit=0", adminTk, nil, 422},
	}
	routes := map[string]httpapi.Route{}
	for _, r := range e.srv.Routes() {
		routes[r.Method+" "+r.Path] = r
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, out := e.call(c.method, c.path, c.token, c.body)
			if got != c.status {
				t.Fatalf("status %d, want %d: %v", got, c.status, out)
			}
			pattern, _, _ := strings.Cut(c.path, "?")
			if strings.HasPrefix(pattern, "/v1/firms/") {
				pattern = "/v1/firms/:id"
			}
			op := specOp(doc, routes[c.method+" "+pattern])
			s := dig(op, "responses", strconv.Itoa(c.status), "content", "application/json", "schema")
			if s == nil {
				t.Fatalf("%s %s does not document %d", c.method, pattern, c.status)
			}
			if ref := s.(map[string]any)["$ref"]; ref != "#/components/schemas/Error" {
				t.Errorf("the %d schema is %v, want the shared Error", c.status, ref)
			}
			for _, p := range conform(doc, s, any(out), "answer") {
				t.Error(p)
			}
			if c.status == 422 || c.status == 413 {
				if len(fields(out)) == 0 {
					t.Errorf("a %d names no field: %v", c.status, out)
				}
			}
		})
	}
}

// successStatus is the lowest 2xx an operation documents.
func successStatus(op map[string]any) int {
	best := 0
	for k := range dig(op, "responses").(map[string]any) {
		if n, err := strconv.Atoi(k); err == nil && n >= 200 && n < 300 && (best == 0 || n < best) {
			best = n
		}
	}
	return best
}

// tokenForRoles is a token the route accepts: the regulator's when it may call it, else the
// platform's when it may.
func tokenForRoles(w world, roles []credtrace.Role) string {
	switch {
	case slices.Contains(roles, credtrace.RoleRegulator):
		return adminTk
	case slices.Contains(roles, credtrace.RolePlatform):
		return w.plat
	}
	return ""
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// dig follows keys through nested objects; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// resolveRef follows a local JSON pointer (#/components/schemas/X).
func resolveRef(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var v any = doc
	for _, k := range strings.Split(rest, "/") {
		k = strings.NewReplacer("~1", "/", "~0", "~").Replace(k)
		m, ok := v.(map[string]any)
		if !ok || m[k] == nil {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		v = m[k]
	}
	return v, nil
}

// conform checks v against the subset of JSON Schema the document uses ($ref, oneOf, type,
// enum, required, properties, additionalProperties, items) and lists what does not fit.
func conform(doc map[string]any, s any, v any, at string) []string {
	sm, _ := s.(map[string]any)
	if ref, ok := sm["$ref"].(string); ok {
		target, err := resolveRef(doc, ref)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return conform(doc, target, v, at)
	}
	if alts, ok := sm["oneOf"].([]any); ok {
		matched := 0
		var why []string
		for _, a := range alts {
			p := conform(doc, a, v, at)
			if len(p) == 0 {
				matched++
			}
			why = append(why, p...)
		}
		if matched != 1 {
			return []string{fmt.Sprintf("%s: matches %d of oneOf: %v", at, matched, why)}
		}
		return nil
	}
	if t, ok := sm["type"]; ok && !typeFits(t, v) {
		return []string{fmt.Sprintf("%s: %s is not of type %v", at, jsonType(v), t)}
	}
	if values, ok := sm["enum"].([]any); ok && !slices.Contains(values, v) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, values)}
	}
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for _, r := range asList(sm["required"]) {
			if _, ok := x[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: required, absent", at, r))
			}
		}
		props, _ := sm["properties"].(map[string]any)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				out = append(out, conform(doc, ps, x[k], at+"."+k)...)
			} else if ap, ok := sm["additionalProperties"]; ok {
				if ap == false {
					out = append(out, fmt.Sprintf("%s.%s: not in the schema", at, k))
				} else {
					out = append(out, conform(doc, ap, x[k], at+"."+k)...)
				}
			}
		}
	case []any:
		if items, ok := sm["items"]; ok {
			for i, it := range x {
				out = append(out, conform(doc, items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return out
}

func typeFits(t any, v any) bool {
	var names []string
	switch x := t.(type) {
	case string:
		names = []string{x}
	case []any:
		for _, n := range x {
			names = append(names, n.(string))
		}
	}
	got := jsonType(v)
	for _, n := range names {
		if n == got || (n == "number" && got == "integer") {
			return true
		}
	}
	return false
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// TestOpenAPILintBasics: what a linter (redocly's recommended rules) asks of the document
// beyond the operations: a server, a licence, a description on every tag; and the webhooks
// (OpenAPI 3.1) describe every event type a party may subscribe to, signed and de-duplicated.
func TestOpenAPILintBasics(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	servers, _ := doc["servers"].([]any)
	if len(servers) == 0 || servers[0].(map[string]any)["url"] == "" {
		t.Errorf("servers %v, want one with a url", doc["servers"])
	}
	lic, _ := doc["info"].(map[string]any)["license"].(map[string]any)
	if lic["name"] == nil || (lic["url"] == nil && lic["identifier"] == nil) {
		t.Errorf("info.license %v, want a name and an identifier or url", lic)
	}
	for _, tag := range doc["tags"].([]any) {
		if d, _ := tag.(map[string]any)["description"].(string); d == "" {
			t.Errorf("tag %v has no description", tag)
		}
	}
	hooks, _ := doc["webhooks"].(map[string]any)
	for _, typ := range webhook.AllTypes() {
		item, _ := hooks[string(typ)].(map[string]any)
		post, _ := item["post"].(map[string]any)
		if post == nil {
			t.Errorf("webhooks: no post for %s", typ)
			continue
		}
		var headers []string
		for _, p := range post["parameters"].([]any) {
			headers = append(headers, p.(map[string]any)["name"].(string))
		}
		if !slices.Contains(headers, webhook.SignatureHeader) || !slices.Contains(headers, webhook.EventHeader) {
			t.Errorf("webhook %s documents headers %v, want the signature and the event id", typ, headers)
		}
	}
	if len(hooks) != len(webhook.AllTypes()) {
		t.Errorf("webhooks document %d events, want %d", len(hooks), len(webhook.AllTypes()))
	}
}
