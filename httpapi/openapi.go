package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/httpapi/openapi"
	"github.com/credtrace/credtrace/scoring"
)

// openAPIDoc serves GET /openapi.json: an OpenAPI 3.1 document of the route table. It is
// built on the first request, when every route is registered, and kept: the route table never
// changes after New. It returns a handler rather than being one because Server has no field to
// keep the document in; the closure keeps it.
func (s *Server) openAPIDoc() fiber.Handler {
	var (
		once sync.Once
		doc  []byte
		err  error
	)
	return func(c *fiber.Ctx) error {
		once.Do(func() { doc, err = buildOpenAPI(s.Routes()) })
		if err != nil {
			return fmt.Errorf("openapi document: %w", err)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(doc)
	}
}

// Query parameters shared by the lists.
var (
	oaLimit  = openapi.Param{Name: "limit", Desc: "Page size, 1–500 (default 50)", Schema: openapi.Range(1, 500, 50)}
	oaCursor = openapi.Param{Name: "cursor", Desc: "The next_cursor of the previous page", Schema: openapi.String("")}
)

// oaPaged is a courier list's parameters; oaIDPaged a list that pages by id. Both refuse a
// limit above 500 with 422.
func oaPaged(more ...openapi.Param) []openapi.Param {
	return append([]openapi.Param{oaLimit, oaCursor}, more...)
}

func oaIDPaged(more ...openapi.Param) []openapi.Param {
	return append([]openapi.Param{oaLimit, oaCursor}, more...)
}

// Hand-written schemas of the handlers that answer fiber.Map or text.
var (
	oaHealth = openapi.Object(
		openapi.Req("status", openapi.Enum("ok when the store answers, degraded when it reads but cannot write, unavailable when it does not answer", "ok", "degraded", "unavailable")),
		openapi.Opt("reason", openapi.Enum("Why the store cannot write, when degraded", "disk full", "read-only", "disk I/O error")),
		openapi.Opt("since", openapi.Time("Since when the store cannot write, when degraded")),
		openapi.Req("store", openapi.Enum("The storage backend", "sqlite", "mongodb")),
		openapi.Opt("live", openapi.Enum("How the live streams learn of the events stored by every replica: poll reads the store's event sequence", "poll")))
	oaScoreView = openapi.Object(
		openapi.Req("current", openapi.Nullable(openapi.Out[scoreJSON]())),
		openapi.Req("history", openapi.Array(openapi.Out[scoreJSON]())))
	oaListEntries = openapi.Object(openapi.Req("items", openapi.Array(openapi.Object(
		openapi.Req("uscc", openapi.String("")), openapi.Req("name", openapi.String("")),
		openapi.Req("since", openapi.Time("Start of the entry")), openapi.Req("until", openapi.Nullable(openapi.Time("End of the entry; null: until lifted"))),
		openapi.Req("reason", openapi.String("")), openapi.Req("legal_basis", openapi.String(""))))))
	oaMethodology = openapi.Describe(openapi.In[scoring.Methodology](), "A scoring methodology document (METHOD.md); version is required")
	oaSSE         = []openapi.Content{{Media: "text/event-stream", Schema: openapi.String("Server-sent events; a comment line every 15 s keeps the stream open")}}
)

// oaSchemaNames override the names derived from Go type names.
var oaSchemaNames = map[reflect.Type]string{
	reflect.TypeFor[fieldJSON]():     "FieldError",
	reflect.TypeFor[fileJSON]():      "CreditFile",
	reflect.TypeFor[ingestJSON]():    "IngestResult",
	reflect.TypeFor[resultJSON]():    "EventResult",
	reflect.TypeFor[epcisDoc]():      "EPCISDocument",
	reflect.TypeFor[epcisBody]():     "EPCISBody",
	reflect.TypeFor[itemJSON]():      "ScoreItem",
	reflect.TypeFor[componentJSON](): "ScoreComponent",
	reflect.TypeFor[dayJSON]():       "StatsDay",
}

// oaCarrier chooses among the parcels of a waybill that several carriers use.
var oaCarrier = openapi.Query("carrier", "The carrier whose parcel this is (firm id or USCC), when several carriers use the waybill: "+
	"without it, a waybill with several parcels the caller may see answers 409 ambiguous_waybill, naming those carriers")

var oaErrorCodes = []int{400, 401, 403, 404, 409, 413, 422, 429}

func oaErrorDesc(status int, r Route) string {
	switch status {
	case 400:
		return "Malformed JSON, trailing data, an unknown field, a key given twice in one object or text that is not UTF-8 (error.fields names its JSON path)"
	case 401:
		if slices.Contains(r.Roles, credtrace.RolePublic) {
			return "An Authorization header that is malformed, unknown or revoked (this route needs none)"
		}
		return "No token, or an unknown or revoked one"
	case 403:
		return "The token's role may not call this route"
	case 404:
		return "No such object, or one outside the caller's scope"
	case 409:
		if strings.Contains(r.Path, "parcels") || strings.Contains(r.Path, "incidents") || strings.Contains(r.Path, "ratings") {
			return "A taken key, a concurrent change, a transition the current state does not allow, or ambiguous_waybill " +
				"(several carriers use the waybill: error.carriers names those the caller may see; choose one with carrier)"
		}
		return "A taken key, a concurrent change, or a transition the current state does not allow"
	case 413:
		return "The body is larger than " + humanBytes(r.limit) + " (error.fields names body)"
	case 422:
		return "Wrong types or broken rules; error.fields names each offending field"
	case 429:
		if strings.HasPrefix(r.Path, "/v1/public/staff/") {
			return "Too many wrong answers for this ID number or from this address; try again in an hour"
		}
		return "Too many requests from this address (rate_limited), or too many wrong phone answers for this waybill (check_locked, for everyone, for an hour); Retry-After says when to try again"
	}
	return "Error " + strconv.Itoa(status)
}

// ----- the document -----

type oaDocument struct {
	OpenAPI    string                              `json:"openapi"`
	Info       oaInfo                              `json:"info"`
	Servers    []oaServer                          `json:"servers"`
	Tags       []oaTag                             `json:"tags"`
	Paths      openapi.Ordered[map[string]oaOpDoc] `json:"paths"`
	Webhooks   openapi.Ordered[map[string]oaOpDoc] `json:"webhooks"`
	Components oaComponents                        `json:"components"`
}

type oaInfo struct {
	Title       string    `json:"title"`
	Version     string    `json:"version"`
	Description string    `json:"description"`
	License     oaLicense `json:"license"`
}

type oaLicense struct {
	Name       string `json:"name"`
	Identifier string `json:"identifier"` // an SPDX expression
}

type oaServer struct {
	URL         string `json:"url"`
	Description string `json:"description"`
}

type oaTag struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// oaTagDesc describes each tag: the first segment of a route's path after /v1/. A tag not
// listed here (a route family added without one) is described by its path.
var oaTagDesc = map[string]string{
	"service":     "Health, the OpenAPI document and the metrics",
	"me":          "Who the token is",
	"tokens":      "API tokens: issue and revoke",
	"firms":       "Courier firms, their tree, sites and credit files",
	"sites":       "Sites of a firm: outlets, sorting centres, lockers",
	"staff":       "Couriers and other staff, their employments and credit files (personal data is hashed)",
	"records":     "Credit records: entry, confirmation, dismissal and repair",
	"objections":  "Objections to credit records and their statutory clocks",
	"commitments": "Public credit commitments",
	"public":      "What anyone may read: disclosures, lists, a person's own file, public ratings",
	"audit":       "The hash-chained audit trail and its signed checkpoints",
	"events":      "Tracking events from carriers (JSON, NDJSON, EPCIS)",
	"parcels":     "Parcel traces, live streams and handovers",
	"alerts":      "Live incidents and anomalies for regulators",
	"incidents":   "Reported incidents and their back-tracking",
	"anomalies":   "Anomalies the scans found",
	"carriers":    "A carrier's configuration: promise, dwell times, status codes",
	"stats":       "Day statistics of firms, sites and staff",
	"ratings":     "Service ratings of delivered parcels",
	"platform":    "What e-commerce platforms ask: eligibility of a firm, ratings in bulk",
	"scoring":     "Scoring runs, their inputs and the methodology",
	"sanctions":   "Sanction proposals, decisions and lifts",
	"supervision": "Classified supervision: inspection frequency by grade",
	"webhooks":    "Subscriptions to signed webhook deliveries, their health, dead letters and replay (the events are under webhooks)",
}

func oaTagFor(name string) oaTag {
	if d, ok := oaTagDesc[name]; ok {
		return oaTag{Name: name, Description: d}
	}
	return oaTag{Name: name, Description: "The routes under /v1/" + name}
}

type oaComponents struct {
	Schemas         map[string]*openapi.Schema  `json:"schemas"`
	SecuritySchemes map[string]oaSecurityScheme `json:"securitySchemes"`
}

type oaSecurityScheme struct {
	Type        string `json:"type"`
	Scheme      string `json:"scheme"`
	Description string `json:"description"`
}

type oaOpDoc struct {
	OperationID string                `json:"operationId"`
	Summary     string                `json:"summary"`
	Description string                `json:"description"`
	Tags        []string              `json:"tags"`
	Roles       []string              `json:"x-roles"`
	Security    []map[string][]string `json:"security"`
	Parameters  []oaParamDoc          `json:"parameters,omitempty"`
	RequestBody *oaBodyDoc            `json:"requestBody,omitempty"`
	Responses   map[string]oaRespDoc  `json:"responses"`
}

type oaParamDoc struct {
	Name        string          `json:"name"`
	In          string          `json:"in"`
	Description string          `json:"description,omitempty"`
	Required    bool            `json:"required"`
	Schema      *openapi.Schema `json:"schema"`
}

type oaBodyDoc struct {
	Description string                       `json:"description,omitempty"`
	Required    bool                         `json:"required"`
	Content     openapi.Ordered[oaMediaType] `json:"content"`
}

type oaMediaType struct {
	Schema  *openapi.Schema `json:"schema"`
	Example any             `json:"example,omitempty"`
}

type oaRespDoc struct {
	Description string                       `json:"description"`
	Content     openapi.Ordered[oaMediaType] `json:"content,omitempty"`
}

// buildOpenAPI documents the API's routes with the operations they declare; the dashboard's
// pages are no part of it. An API route without an operation is an error.
func buildOpenAPI(routes []Route) ([]byte, error) {
	g := openapi.NewGenerator(openapi.Config{
		Home:  reflect.TypeFor[Time]().PkgPath(),
		Names: oaSchemaNames,
		Fixed: map[reflect.Type]*openapi.Schema{
			reflect.TypeFor[Time](): openapi.Time("RFC 3339 with its offset, for example 2026-03-01T08:00:00+08:00")},
	})
	errRef := g.Resolve(openapi.Out[errorJSON]())
	doc := oaDocument{
		OpenAPI: "3.1.0",
		Info: oaInfo{Title: "credtrace", Version: "v1", Description: "The credit archive of courier firms and their staff, " +
			"parcel traceability, and scoring. Errors are {\"error\": {\"code\", \"message\", \"fields\"}, \"request_id\"}; " +
			"lists are {\"items\", \"next_cursor\"}. Request examples write the ids of the caller's own objects as " +
			"placeholders in braces, such as {firm_id}. Parties may subscribe to signed webhooks (POST /v1/webhooks); the events are described under webhooks.",
			// No licence is granted with the repository (it has no LICENSE file): the document says so
			// with SPDX's form for a licence of one's own rather than naming a public one.
			License: oaLicense{Name: "Proprietary: no licence is granted", Identifier: "LicenseRef-Proprietary"}},
		// The document is served by the service it describes: paths are relative to it.
		Servers: []oaServer{{URL: "/", Description: "The credtrace service that serves this document (GET /openapi.json)"}},
		Components: oaComponents{Schemas: g.Schemas(), SecuritySchemes: map[string]oaSecurityScheme{
			"bearerAuth": {Type: "http", Scheme: "bearer", Description: "A token a regulator issued (POST /v1/tokens)"}}},
	}
	index := map[string]int{}
	seenTag := map[string]bool{}
	for _, r := range routes {
		if r.Dashboard() {
			continue
		}
		op := r.Doc
		if op == nil {
			return nil, fmt.Errorf("route %s %s declares no OpenAPI operation", r.Method, r.Path)
		}
		path, pathParams := oaPath(r.Path)
		d := oaOpDoc{OperationID: op.ID, Summary: op.Summary, Tags: []string{oaTagOf(r.Path)}, Responses: map[string]oaRespDoc{}}
		if d.OperationID == "" {
			d.OperationID = strings.ToLower(r.Method) + strings.NewReplacer("/", "_", ":", "", ".", "_").Replace(r.Path)
		}
		if !seenTag[d.Tags[0]] {
			seenTag[d.Tags[0]] = true
			doc.Tags = append(doc.Tags, oaTagFor(d.Tags[0]))
		}
		var roles []string
		for _, role := range r.Roles {
			roles = append(roles, string(role))
		}
		d.Roles = roles
		public := slices.Contains(r.Roles, credtrace.RolePublic)
		if public {
			d.Description = "Roles: public (no token needed)."
			d.Security = []map[string][]string{}
		} else {
			d.Description = "Roles: " + strings.Join(roles, ", ") + "."
			d.Security = []map[string][]string{{"bearerAuth": {}}}
		}
		overrides := map[string]openapi.Param{}
		for _, p := range op.Params {
			if p.In == "path" {
				overrides[p.Name] = p
			}
		}
		for _, name := range pathParams {
			p, ok := overrides[name]
			if !ok {
				p = openapi.Param{Name: name, Desc: oaPathParamDesc[name], Schema: openapi.String("")}
			}
			d.Parameters = append(d.Parameters, oaParamDoc{Name: name, In: "path", Description: p.Desc, Required: true, Schema: g.Resolve(p.Schema)})
		}
		query := false
		for _, p := range op.Params {
			if p.In != "path" {
				query = true
				d.Parameters = append(d.Parameters, oaParamDoc{Name: p.Name, In: "query", Description: p.Desc, Schema: g.Resolve(p.Schema)})
			}
		}
		if op.Body != nil {
			b := &oaBodyDoc{Description: op.BodyDesc, Required: !op.Optional}
			for i, c := range op.Body {
				m := oaMediaType{Schema: g.Resolve(c.Schema)}
				if i == 0 {
					m.Example = op.Example
				}
				b.Content = append(b.Content, openapi.Entry[oaMediaType]{Key: c.Media, Value: m})
			}
			d.RequestBody = b
		}
		for _, rs := range op.Responses {
			rd := oaRespDoc{Description: rs.Desc}
			for _, c := range rs.Body {
				rd.Content = append(rd.Content, openapi.Entry[oaMediaType]{Key: c.Media, Value: oaMediaType{Schema: g.Resolve(c.Schema)}})
			}
			d.Responses[strconv.Itoa(rs.Status)] = rd
		}
		errs := map[int]bool{401: true}
		for _, st := range op.Errors {
			errs[st] = true
		}
		if !public && !oaCoversSignedIn(r.Roles) {
			errs[403] = true
		}
		if len(pathParams) > 0 {
			errs[404] = true
		}
		if op.Body != nil {
			errs[413], errs[422] = true, true
			if !op.Raw {
				errs[400] = true
			}
		}
		if query {
			errs[422] = true
		}
		if strings.HasPrefix(r.Path, "/v1/parcels/") || r.Path == "/v1/public/ratings" {
			errs[429] = true
		}
		for _, st := range oaErrorCodes {
			if errs[st] {
				d.Responses[strconv.Itoa(st)] = oaRespDoc{Description: oaErrorDesc(st, r),
					Content: openapi.Ordered[oaMediaType]{{Key: fiber.MIMEApplicationJSON, Value: oaMediaType{Schema: errRef}}}}
			}
		}
		i, ok := index[path]
		if !ok {
			i = len(doc.Paths)
			index[path] = i
			doc.Paths = append(doc.Paths, openapi.Entry[map[string]oaOpDoc]{Key: path, Value: map[string]oaOpDoc{}})
		}
		doc.Paths[i].Value[strings.ToLower(r.Method)] = d
	}
	doc.Webhooks = oaWebhooks(g)
	if err := g.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

var oaPathParamDesc = map[string]string{
	"id":      "The object's id",
	"uscc":    "Unified social credit code (GB 32100, 18 characters)",
	"waybill": "Waybill number",
}

// oaPath turns a Fiber pattern (/v1/firms/:id) into OpenAPI's (/v1/firms/{id}).
func oaPath(pattern string) (string, []string) {
	segs := strings.Split(pattern, "/")
	var params []string
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
			params = append(params, name)
		}
	}
	return strings.Join(segs, "/"), params
}

func oaTagOf(pattern string) string {
	rest, ok := strings.CutPrefix(pattern, "/v1/")
	if !ok {
		return "service"
	}
	first, _, _ := strings.Cut(rest, "/")
	return first
}

func oaCoversSignedIn(roles []credtrace.Role) bool {
	for _, r := range signedIn {
		if !slices.Contains(roles, r) {
			return false
		}
	}
	return true
}
