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

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// openapi serves GET /openapi.json: an OpenAPI 3.1 document of the route table. It is built on
// the first request, when every route is registered, and kept: the route table never changes
// after New. It returns a handler rather than being one because Server has no field to keep the
// document in; the closure keeps it.
func (s *Server) openapi() fiber.Handler {
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

// oaOperation is what the route table does not say about a route: its request and response
// types, query parameters, example and the errors its handler answers beyond those the route's
// shape implies (401 always, 403 when a signed-in role is excluded, 404 with path parameters,
// 400/413/422 with a body, 422 with query parameters).
type oaOperation struct {
	id       string      // operationId
	body     []oaContent // request body by media type; nil: none
	optional bool        // the body may be left out
	raw      bool        // the body goes to the domain as text: no 400 for malformed JSON
	bodyDesc string
	example  any // on the first body media type; ids of the caller's objects as {placeholders}
	resp     []oaResponse
	params   []oaParam
	errs     []int
}

type oaContent struct {
	media  string
	schema *jsonSchema
}

type oaResponse struct {
	status int
	desc   string
	body   []oaContent
}

type oaParam struct {
	name   string
	in     string // "query" unless it names a path segment
	desc   string
	schema *jsonSchema
}

func oaBody(s *jsonSchema) []oaContent { return []oaContent{{fiber.MIMEApplicationJSON, s}} }

func oaOK(s *jsonSchema) []oaResponse { return []oaResponse{{200, "OK", oaBody(s)}} }

func oaCreated(s *jsonSchema) []oaResponse { return []oaResponse{{201, "Created", oaBody(s)}} }

func oaNoContent() []oaResponse { return []oaResponse{{204, "Done; no body", nil}} }

// Query parameters shared by the lists.
var (
	oaLimit  = oaParam{name: "limit", desc: "Page size, 1–500 (default 50)", schema: oaRange(1, 500, 50)}
	oaCursor = oaParam{name: "cursor", desc: "The next_cursor of the previous page", schema: oaString("")}
)

// paged is a courier list's parameters; idPaged a list that pages by id. Both refuse a limit
// above 500 with 422.
func oaPaged(more ...oaParam) []oaParam { return append([]oaParam{oaLimit, oaCursor}, more...) }

func oaIDPaged(more ...oaParam) []oaParam { return append([]oaParam{oaLimit, oaCursor}, more...) }

func oaQuery(name, desc string) oaParam {
	return oaParam{name: name, desc: desc, schema: oaString("")}
}

func oaQBool(name, desc string) oaParam {
	return oaParam{name: name, desc: desc, schema: &jsonSchema{Type: "boolean"}}
}

func oaQEnum[T ~string](name, desc string, values ...T) oaParam {
	return oaParam{name: name, desc: desc, schema: oaEnum("", values...)}
}

// Hand-written schemas of the handlers that answer fiber.Map or text.
var (
	oaHealth = oaObject(
		oaReq("status", oaEnum("ok when the store answers, unavailable when it does not", "ok", "unavailable")),
		oaReq("store", oaEnum("The storage backend", "sqlite", "mongodb")),
		oaOpt("live", oaEnum("How the live streams learn of the events stored by every replica: poll reads the store's event sequence", "poll")))
	oaScoreView = oaObject(
		oaReq("current", oaNullable(oaOut[scoreJSON]())),
		oaReq("history", oaArray(oaOut[scoreJSON]())))
	oaListEntries = oaObject(oaReq("items", oaArray(oaObject(
		oaReq("uscc", oaString("")), oaReq("name", oaString("")),
		oaReq("since", oaTime("Start of the entry")), oaReq("until", oaNullable(oaTime("End of the entry; null: until lifted"))),
		oaReq("reason", oaString("")), oaReq("legal_basis", oaString(""))))))
	oaMethodology = oaDescribe(oaIn[scoring.Methodology](), "A scoring methodology document (METHOD.md); version is required")
	oaSSE         = []oaContent{{"text/event-stream", oaString("Server-sent events; a comment line every 15 s keeps the stream open")}}
)

// oaOperations maps each route, keyed "METHOD /pattern" as registered, to its documentation.
var oaOperations = map[string]oaOperation{
	"GET /healthz": {id: "health", resp: []oaResponse{
		{200, "The store answers", oaBody(oaHealth)},
		{503, "The store cannot be reached", oaBody(oaHealth)}}},
	"GET /metrics": {id: "metrics", resp: []oaResponse{{200, "Prometheus text exposition format",
		[]oaContent{{fiber.MIMETextPlain, oaString("Metrics in the Prometheus text format")}}}}},
	"GET /openapi.json": {id: "openapi", resp: oaOK(oaObject(oaReq("openapi", oaString("3.1.0")),
		oaReq("info", oaAnyObject("")), oaReq("paths", oaAnyObject("")), oaOpt("components", oaAnyObject(""))))},
	"GET /v1/me": {id: "me", resp: oaOK(oaObject(
		oaReq("token_id", oaString("")),
		oaReq("role", oaEnum("", courier.RoleRegulator, courier.RoleFirm, courier.RoleMerchant, courier.RolePlatform, courier.RoleStaff)),
		oaReq("firm_id", oaString("The firm of a firm token; empty otherwise")),
		oaReq("merchant_id", oaString("The merchant of a merchant token; empty otherwise")),
		oaReq("staff_id", oaString("The person of a staff token; empty otherwise"))))},

	"POST /v1/tokens": {id: "issueToken", body: oaBody(oaIn[tokenReq]()), resp: oaCreated(oaOut[tokenJSON]()),
		example: map[string]any{"role": "firm", "firm_id": "{firm_id}", "label": "顺达 HQ"}},
	"DELETE /v1/tokens/:id": {id: "revokeToken", resp: oaNoContent(), errs: []int{409}},

	"POST /v1/firms": {id: "createFirm", body: oaBody(oaIn[firmCreateReq]()), resp: oaCreated(oaOut[firmJSON]()), errs: []int{409},
		example: map[string]any{"uscc": "91130100MA0D8N3X4Q", "name": "新锐快递", "kind": "hq", "region": "130102",
			"licence": map[string]any{"number": "冀邮2026007", "scope": "省内", "status": "active",
				"valid_from": "2026-01-01T00:00:00+08:00", "valid_to": "2031-01-01T00:00:00+08:00"}}},
	"GET /v1/firms": {id: "listFirms", resp: oaOK(oaOut[listJSON[firmJSON]]()), params: oaPaged(
		oaQEnum("kind", "", courier.KindHQ, courier.KindBranch, courier.KindOutlet),
		oaQuery("region", "Region code prefix"),
		oaQEnum("licence_status", "", courier.LicenceActive, courier.LicenceSuspended, courier.LicenceRevoked),
		oaQuery("name", "Part of the name"),
		oaQuery("parent_id", "Children of this firm"))},
	"GET /v1/firms/:id":        {id: "getFirm", resp: oaOK(oaOut[firmJSON]())},
	"PATCH /v1/firms/:id":      {id: "patchFirm", body: oaBody(oaIn[firmPatchReq]()), resp: oaOK(oaOut[firmJSON]()), errs: []int{409}},
	"GET /v1/firms/:id/file":   {id: "firmFile", resp: oaOK(oaOut[fileJSON]())},
	"POST /v1/firms/:id/sites": {id: "createSite", body: oaBody(oaIn[siteReq]()), resp: oaCreated(oaOut[siteJSON]())},
	"GET /v1/firms/:id/sites":  {id: "listSites", resp: oaOK(oaOut[listJSON[siteJSON]]()), params: oaPaged()},
	"GET /v1/sites/:id":        {id: "getSite", resp: oaOK(oaOut[siteJSON]())},
	"PUT /v1/sites/:id":        {id: "putSite", body: oaBody(oaIn[siteReq]()), resp: oaOK(oaOut[siteJSON]()), errs: []int{409}},

	"POST /v1/staff":        {id: "createStaff", body: oaBody(oaIn[staffCreateReq]()), resp: oaCreated(oaOut[staffJSON]()), errs: []int{409}},
	"GET /v1/staff":         {id: "listStaff", resp: oaOK(oaOut[listJSON[staffJSON]]()), params: oaPaged(oaQuery("firm_id", "People employed by this firm"))},
	"POST /v1/staff/search": {id: "searchStaff", body: oaBody(oaIn[staffSearchReq]()), resp: oaOK(oaOut[staffJSON]()), errs: []int{404}},
	"POST /v1/staff/hire": {id: "hireStaff", body: oaBody(oaIn[hireReq]()), resp: oaOK(oaOut[staffJSON]()), errs: []int{404, 409},
		bodyDesc: "Ends the person's open employment, at any firm, at from and starts the new one; 404 when no person has " +
			"this ID number (register them with POST /v1/staff), 409 when they work for firm_id already",
		example: map[string]any{"id_number": "11010519491231002X", "firm_id": "{carrier_id}", "role": "courier", "from": "2026-06-01T00:00:00+08:00"}},
	"GET /v1/staff/:id":   {id: "getStaff", resp: oaOK(oaOut[staffJSON]())},
	"PATCH /v1/staff/:id": {id: "patchStaff", body: oaBody(oaIn[staffPatchReq]()), resp: oaOK(oaOut[staffJSON]()), errs: []int{409}},
	"POST /v1/staff/:id/employments": {id: "startEmployment", body: oaBody(oaIn[employmentReq]()), resp: oaOK(oaOut[staffJSON]()),
		errs: []int{409}},
	"POST /v1/staff/:id/employments/end": {id: "endEmployment", body: oaBody(oaIn[employmentEndReq]()), resp: oaOK(oaOut[staffJSON]()),
		errs: []int{409}},
	"GET /v1/staff/:id/file": {id: "staffFile", resp: oaOK(oaOut[fileJSON]())},
	"POST /v1/public/staff/file": {id: "personFile", body: oaBody(oaIn[personReq]()), resp: oaOK(oaOut[fileJSON]()), errs: []int{404, 429},
		bodyDesc: "A wrong ID number and a wrong phone both answer 404; 5 wrong answers for one ID number, or 20 from one address, " +
			"lock the check (429) until an hour after the last"},
	"POST /v1/public/staff/objections": {id: "personObjection", body: oaBody(oaIn[personObjectionReq]()), resp: oaCreated(oaOut[objectionJSON]()),
		errs: []int{404, 409, 429}, bodyDesc: "The person's objection to a confirmed record about them; the check is that of POST /v1/public/staff/file"},

	"POST /v1/records": {id: "createRecord", body: oaBody(oaIn[recordReq]()), resp: oaCreated(oaOut[recordJSON]()), errs: []int{403},
		bodyDesc: "decided_at is the date of the decision the record records (the penalty decision, the inspection report); " +
			"the publicity window and the repair clock run from it, not from the entry. Left out, it is occurred_at. " +
			"422 when it lies in the future or before occurred_at",
		example: map[string]any{"subject": map[string]any{"kind": "firm", "id": "{firm_id}"}, "category": "supervision",
			"source": "regulator", "severity": "general", "occurred_at": "2026-05-20T10:00:00+08:00", "decided_at": "2026-05-22T09:00:00+08:00",
			"summary": "双随机抽查：未落实收寄验视", "legal_basis": "快递市场管理办法 第三十四条",
			"evidence": []any{map[string]any{"kind": "document", "ref": "冀邮检〔2026〕12号"}}}},
	"GET /v1/records": {id: "listRecords", resp: oaOK(oaOut[listJSON[recordJSON]]()), params: oaPaged(
		oaQEnum("status", "", courier.StatusPending, courier.StatusConfirmed, courier.StatusDismissed, courier.StatusDisputed,
			courier.StatusUpheld, courier.StatusRevoked, courier.StatusRepaired),
		oaQEnum("category", "", courier.Categories...),
		oaQEnum("subject_kind", "Goes with subject_id", courier.SubjectFirm, courier.SubjectSite, courier.SubjectStaff),
		oaQuery("subject_id", "Goes with subject_kind"),
		oaQBool("repair_pending", "Only records with a repair request waiting for a decision"))},
	"GET /v1/records/:id": {id: "getRecord", resp: oaOK(oaOut[recordJSON]())},
	"POST /v1/records/:id/confirm": {id: "confirmRecord", body: oaBody(oaIn[reasonReq]()), optional: true,
		resp: oaOK(oaOut[recordJSON]()), errs: []int{409}},
	"POST /v1/records/:id/dismiss": {id: "dismissRecord", body: oaBody(oaIn[reasonReq]()), optional: true,
		bodyDesc: "The reason is required to dismiss", resp: oaOK(oaOut[recordJSON]()), errs: []int{409}},
	"POST /v1/records/:id/repair": {id: "requestRepair", body: oaBody(oaIn[repairReq]()), resp: oaCreated(oaOut[recordJSON]()),
		errs: []int{409}},
	"POST /v1/records/:id/repair/decision": {id: "decideRepair", body: oaBody(oaIn[repairDecisionReq]()), resp: oaOK(oaOut[recordJSON]()),
		errs: []int{409}},

	"POST /v1/objections": {id: "fileObjection", body: oaBody(oaIn[objectionReq]()), resp: oaCreated(oaOut[objectionJSON]()),
		errs: []int{409}},
	"GET /v1/objections": {id: "listObjections", resp: oaOK(oaOut[listJSON[objectionJSON]]()),
		params: oaPaged(oaQBool("overdue", "Only objections whose review or correction clock has run out"))},
	"GET /v1/objections/:id": {id: "getObjection", resp: oaOK(oaOut[objectionJSON]())},
	"POST /v1/objections/:id/decision": {id: "decideObjection", body: oaBody(oaIn[objectionDecisionReq]()),
		resp: oaOK(oaOut[objectionJSON]()), errs: []int{409}},

	"POST /v1/commitments": {id: "createCommitment", body: oaBody(oaIn[commitmentReq]()), resp: oaCreated(oaOut[commitmentJSON]())},
	"GET /v1/commitments": {id: "listCommitments", resp: oaOK(oaOut[listJSON[commitmentJSON]]()),
		params: oaPaged(oaQuery("firm_id", "Commitments of this firm"))},

	"GET /v1/public/firms/:uscc": {id: "disclose", resp: oaOK(oaOut[disclosureJSON]())},

	"GET /v1/audit": {id: "listAudit", resp: oaOK(oaOut[listJSON[auditJSON]]()), params: []oaParam{
		{name: "limit", desc: "At most this many entries (default 50, at most 500)", schema: oaRange(1, 500, 50)},
		{name: "after", desc: "Entries after this sequence number", schema: oaRange(0, 0, 0)}}},
	"GET /v1/audit/verify": {id: "verifyAudit", resp: oaOK(oaObject(
		oaReq("ok", &jsonSchema{Type: "boolean"}),
		oaReq("entries", &jsonSchema{Type: "integer", Description: "Entries checked"}),
		oaOpt("first_bad_seq", &jsonSchema{Type: "integer", Description: "The first entry altered or missing (when not ok)"}),
		oaOpt("reason", oaString("What is wrong with it (when not ok)")),
		oaReq("checkpoint_seq", &jsonSchema{Type: "integer", Description: "The latest signed checkpoint checked against (0: none)"}),
		oaOpt("cut_from", &jsonSchema{Type: "integer", Description: "First entry cut off the end of the trail (a cut tail)"}),
		oaOpt("cut_to", &jsonSchema{Type: "integer", Description: "Last entry cut off the end: the checkpoint's sequence number"})))},
	// 201 for a new checkpoint, 200 with the latest one when the head has not moved since.
	"POST /v1/audit/checkpoints": {id: "createCheckpoint", resp: append(oaCreated(oaOut[checkpointJSON]()), oaOK(oaOut[checkpointJSON]())...), errs: []int{409}},
	"GET /v1/audit/checkpoints": {id: "listCheckpoints", resp: oaOK(oaOut[listJSON[checkpointJSON]]()), params: []oaParam{
		{name: "limit", desc: "At most this many checkpoints (default 50, at most 500)", schema: oaRange(1, 500, 50)},
		{name: "after", desc: "Checkpoints after this sequence number", schema: oaRange(0, 0, 0)}}},
	"GET /v1/public/audit/head": {id: "auditHead", resp: oaOK(oaOut[auditHeadJSON]())},

	"POST /v1/events": {id: "pushEvents", body: []oaContent{
		{fiber.MIMEApplicationJSON, oaDescribe(oaArray(oaIn[eventReq]()).withMaxItems(tracking.MaxBatch), "A JSON array of events")},
		{"application/x-ndjson", oaString("One event object per line, as in the JSON array")}},
		bodyDesc: "Each event is answered on its own: a bad one is rejected with its index, the others are stored",
		resp:     oaOK(oaOut[ingestJSON]()),
		example: []any{map[string]any{"id": "evt-0001", "waybill": "SF2000000001", "carrier": "{carrier_id}", "code": "collected",
			"at": "2026-05-31T09:00:00+08:00", "site": "{site_id}", "staff": "{staff_id}", "merchant": "M-001",
			"recipient_phone": "13912345678", "weight_g": 900, "region": "130111"}}},
	"POST /v1/events/epcis": {id: "pushEPCIS", body: oaBody(oaInLax[epcisDoc]()), resp: oaOK(oaOut[ingestJSON]()),
		params: []oaParam{oaQuery("carrier", "The carrier's firm id (default: the token's firm)")}},
	"GET /v1/parcels/:waybill": {id: "traceParcel", resp: oaOK(oaOut[traceJSON]()), errs: []int{409},
		params: []oaParam{oaQuery("phone4", "Last four digits of the recipient's phone: what entitles an anonymous caller (reduced trace)"), oaCarrier}},
	"GET /v1/parcels/:waybill/stream": {id: "streamParcel", errs: []int{409},
		resp:   []oaResponse{{200, "A trace event with the current trace, then a tracking event per new event", oaSSE}},
		params: []oaParam{oaQuery("phone4", "As for the trace"), oaCarrier}},
	"POST /v1/parcels/:waybill/handovers/:id/accept": {id: "acceptHandover", resp: oaOK(oaOut[offerJSON]()), errs: []int{404, 409},
		params: []oaParam{oaCarrier}},
	"GET /v1/alerts/stream": {id: "streamAlerts", resp: []oaResponse{{200, "An event per new incident or anomaly", oaSSE}}},
	"POST /v1/incidents": {id: "reportIncident", body: oaBody(oaIn[incidentReq]()), errs: []int{404, 409},
		resp: []oaResponse{{201, "Created: a new incident, back-tracked, its records proposed", oaBody(oaOut[incidentJSON]())},
			{200, "Joined: the same parcel, kind and reporting party within 7 days; the first incident, with joined true " +
				"and joined_reports counted; nothing proposed", oaBody(oaOut[incidentJSON]())}},
		bodyDesc: "Reports are de-duplicated by parcel, kind and reporting party (the merchant, the firm tree, or the source " +
			"a regulator names, such as the 12305 hotline). Proposed records count as complaints only once a regulator confirms them",
		example: map[string]any{"waybill": "{waybill}", "kind": "lost", "reporter": "12305", "description": "收件人称未收到包裹"}},
	"GET /v1/incidents":     {id: "listIncidents", resp: oaOK(oaOut[listJSON[incidentJSON]]()), params: oaIDPaged(oaQuery("waybill", "Incidents of this waybill"), oaQuery("carrier", "Only this carrier's (firm id or USCC)"))},
	"GET /v1/incidents/:id": {id: "getIncident", resp: oaOK(oaOut[incidentJSON]())},
	"GET /v1/anomalies": {id: "listAnomalies", resp: oaOK(oaOut[listJSON[anomalyJSON]]()), params: oaIDPaged(
		oaQEnum("kind", "", tracking.AnStalled, tracking.AnPromiseBreached, tracking.AnWeight, tracking.AnNoTransit,
			tracking.AnMerchantBurst, tracking.AnSecondCarrier, tracking.AnAfterDelivery),
		oaQBool("open", "Only anomalies not turned into an incident"),
		oaQuery("waybill", "Only anomalies of this waybill"), oaQuery("carrier", "Only this carrier's (firm id or USCC)"))},
	"POST /v1/anomalies/:id/incident": {id: "anomalyIncident", body: oaBody(oaIn[anomalyIncidentReq]()), optional: true,
		resp: oaCreated(oaOut[incidentJSON]()), errs: []int{409}},
	"PUT /v1/carriers/:id/config": {id: "putCarrier", body: oaBody(oaIn[carrierReq]()), resp: oaOK(oaOut[carrierJSON]())},
	"GET /v1/carriers/:id/config": {id: "getCarrier", resp: oaOK(oaOut[carrierJSON]())},
	"GET /v1/stats/:kind/:id": {id: "stats", resp: oaOK(oaOut[statsJSON]()), params: []oaParam{
		{name: "kind", in: "path", desc: "The subject's kind", schema: oaEnum("", tracking.SubjectFirm, tracking.SubjectSite, tracking.SubjectStaff)},
		{name: "from", desc: "First day, YYYY-MM-DD in China Standard Time (default 30 days ago)", schema: &jsonSchema{Type: "string", Format: "date"}},
		{name: "to", desc: "Last day, YYYY-MM-DD (default today)", schema: &jsonSchema{Type: "string", Format: "date"}}}},

	"POST /v1/ratings": {id: "rate", body: oaBody(oaIn[ratingReq]()), errs: []int{404, 409},
		resp: []oaResponse{{201, "A new rating", oaBody(oaOut[ratingJSON]())}, {200, "The caller's earlier rating, edited", oaBody(oaOut[ratingJSON]())}}},
	"POST /v1/public/ratings": {id: "rateAsRecipient", body: oaBody(oaIn[ratingReq]()), errs: []int{404, 409},
		bodyDesc: "phone4 (the last four digits of the recipient's phone) entitles the rater",
		resp:     []oaResponse{{201, "A new rating", oaBody(oaOut[ratingJSON]())}, {200, "The rater's earlier rating, edited", oaBody(oaOut[ratingJSON]())}}},
	"GET /v1/firms/:id/score": {id: "firmScore", resp: oaOK(oaScoreView)},
	"GET /v1/sites/:id/score": {id: "siteScore", resp: oaOK(oaScoreView)},
	"GET /v1/staff/:id/score": {id: "staffScore", resp: oaOK(oaScoreView)},
	"POST /v1/scoring/runs": {id: "startRun", body: oaBody(oaIn[runReq]()), optional: true, errs: []int{409},
		bodyDesc: "A publishing run publishes one period that has ended (period, or the last one ended at as_of) as of its end; " +
			"a period published already is 409 unless reason gives a regulator's reason, and then its grades are replaced. Without publish: a preview of the period in progress",
		resp: []oaResponse{{201, "The run, finished", oaBody(oaOut[runJSON]())},
			{202, "The run, still running: follow it at GET /v1/scoring/runs/{id}", oaBody(oaOut[runJSON]())}}},
	"GET /v1/scoring/runs": {id: "listRuns", resp: oaOK(oaOut[listJSON[runJSON]]()),
		params: []oaParam{{name: "limit", desc: "The latest this many runs (default 20, at most 500)", schema: oaRange(1, 500, 20)}}},
	"GET /v1/scoring/runs/:id": {id: "getRun", resp: oaOK(oaOut[runJSON]())},
	"GET /v1/scoring/runs/:id/inputs": {id: "runInputs", resp: []oaResponse{{200, "The inputs the run used, as of its as-of time", []oaContent{{"application/x-ndjson",
		oaString("First a header line {\"type\":\"run\",\"run_id\",\"as_of\",\"period\",\"method\",\"method_hash\",\"inputs_hash\",\"stats_from\"}, " +
			"then one line per input: firm, site, staff, record (with the status used), stat (the window's totals), rating (as it was at as_of), commitment")}}}}},
	"GET /v1/scoring/method": {id: "getMethod", resp: oaOK(oaMethodology)},
	"PUT /v1/scoring/method": {id: "putMethod", body: oaBody(oaMethodology), raw: true, errs: []int{400, 409},
		bodyDesc: "A new version: its label not stored yet, effective_from no earlier than now and unlike any other version's",
		resp: []oaResponse{{201, "The new version", oaBody(oaOut[methodJSON]())},
			{200, "The same label with the same text was stored already: the stored version", oaBody(oaOut[methodJSON]())}}},
	"GET /v1/scoring/methods":          {id: "listMethods", resp: oaOK(oaOut[listJSON[methodJSON]]())},
	"GET /v1/scoring/methods/:version": {id: "getMethodVersion", resp: oaOK(oaMethodology)},
	"GET /v1/sanctions": {id: "listSanctions", resp: oaOK(oaOut[listJSON[sanctionJSON]]()), params: oaIDPaged(
		oaQEnum("status", "", scoring.Proposed, scoring.Reviewed, scoring.Approved, scoring.Rejected, scoring.Lifted, scoring.Withdrawn),
		oaQEnum("kind", "", scoring.RedList, scoring.BlackList, scoring.PublicExposure, scoring.PlatformRestriction,
			scoring.Suspension, scoring.RevocationProposal),
		oaQuery("firm_id", "Sanctions of this firm"))},
	"GET /v1/sanctions/:id": {id: "getSanction", resp: oaOK(oaOut[sanctionJSON]())},
	"POST /v1/sanctions/:id/decision": {id: "decideSanction", body: oaBody(oaIn[decisionReq]()), resp: oaOK(oaOut[sanctionJSON]()),
		errs: []int{409}},
	"POST /v1/sanctions/:id/lift": {id: "liftSanction", body: oaBody(oaIn[reasonReq]()), resp: oaOK(oaOut[sanctionJSON]()), errs: []int{409}},
	"GET /v1/supervision":         {id: "supervision", resp: oaOK(oaOut[listJSON[supervisionJSON]]())},
	"GET /v1/platform/eligibility/:uscc": {id: "eligibility", resp: oaOK(oaObject(
		oaReq("uscc", oaString("")), oaReq("name", oaString("")),
		oaReq("allowed", &jsonSchema{Type: "boolean", Description: "May a platform onboard the firm"}),
		oaReq("reasons", oaArray(oaString(""))),
		oaReq("grade", oaEnum("The latest published grade; empty when none", scoring.GradeA, scoring.GradeB, scoring.GradeC,
			scoring.GradeD, scoring.Insufficient, "")),
		oaReq("score", &jsonSchema{Type: "number"}),
		oaReq("sanctions", oaArray(oaOut[sanctionJSON]()))))},
	"GET /v1/public/redlist":   {id: "redList", resp: oaOK(oaListEntries)},
	"GET /v1/public/blacklist": {id: "blackList", resp: oaOK(oaListEntries)},
}

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
var oaCarrier = oaQuery("carrier", "The carrier whose parcel this is (firm id or USCC), when several carriers use the waybill: "+
	"without it, a waybill with several parcels the caller may see answers 409 ambiguous_waybill, naming those carriers")

var oaErrorCodes = []int{400, 401, 403, 404, 409, 413, 422, 429}

func oaErrorDesc(status int, r Route) string {
	switch status {
	case 400:
		return "Malformed JSON, trailing data, an unknown field, a key given twice in one object or text that is not UTF-8 (error.fields names its JSON path)"
	case 401:
		if slices.Contains(r.Roles, courier.RolePublic) {
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
	OpenAPI    string                        `json:"openapi"`
	Info       oaInfo                        `json:"info"`
	Tags       []oaTag                       `json:"tags"`
	Paths      oaOrdered[map[string]oaOpDoc] `json:"paths"`
	Components oaComponents                  `json:"components"`
}

type oaInfo struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description"`
}

type oaTag struct {
	Name string `json:"name"`
}

type oaComponents struct {
	Schemas         map[string]*jsonSchema      `json:"schemas"`
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
	Name        string      `json:"name"`
	In          string      `json:"in"`
	Description string      `json:"description,omitempty"`
	Required    bool        `json:"required"`
	Schema      *jsonSchema `json:"schema"`
}

type oaBodyDoc struct {
	Description string                 `json:"description,omitempty"`
	Required    bool                   `json:"required"`
	Content     oaOrdered[oaMediaType] `json:"content"`
}

type oaMediaType struct {
	Schema  *jsonSchema `json:"schema"`
	Example any         `json:"example,omitempty"`
}

type oaRespDoc struct {
	Description string                 `json:"description"`
	Content     oaOrdered[oaMediaType] `json:"content,omitempty"`
}

// oaOrdered is a JSON object that keeps its keys in the order they were added.
type oaOrdered[V any] []oaEntry[V]

type oaEntry[V any] struct {
	key   string
	value V
}

func (o oaOrdered[V]) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.key)
		v, err := json.Marshal(e.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// buildOpenAPI documents routes with the oaOperations table. A route missing from the table is
// still documented, with no success response, which the tests refuse.
func buildOpenAPI(routes []Route) ([]byte, error) {
	g := &oaSchemaGen{schemas: map[string]*jsonSchema{}, names: map[reflect.Type]string{}, modes: map[reflect.Type]schemaMode{}}
	errRef := g.of(reflect.TypeFor[errorJSON](), modeOutput)
	doc := oaDocument{
		OpenAPI: "3.1.0",
		Info: oaInfo{Title: "credtrace", Version: "v1", Description: "The credit archive of courier firms and their staff, " +
			"parcel traceability, and scoring. Errors are {\"error\": {\"code\", \"message\", \"fields\"}, \"request_id\"}; " +
			"lists are {\"items\", \"next_cursor\"}. Request examples write the ids of the caller's own objects as " +
			"placeholders in braces, such as {firm_id}."},
		Components: oaComponents{Schemas: g.schemas, SecuritySchemes: map[string]oaSecurityScheme{
			"bearerAuth": {Type: "http", Scheme: "bearer", Description: "A token a regulator issued (POST /v1/tokens)"}}},
	}
	index := map[string]int{}
	seenTag := map[string]bool{}
	for _, r := range routes {
		key := r.Method + " " + r.Path
		op := oaOperations[key]
		path, pathParams := oaPath(r.Path)
		d := oaOpDoc{OperationID: op.id, Summary: r.Summary, Tags: []string{oaTagOf(r.Path)}, Responses: map[string]oaRespDoc{}}
		if d.OperationID == "" {
			d.OperationID = strings.ToLower(r.Method) + strings.NewReplacer("/", "_", ":", "", ".", "_").Replace(r.Path)
		}
		if !seenTag[d.Tags[0]] {
			seenTag[d.Tags[0]] = true
			doc.Tags = append(doc.Tags, oaTag{d.Tags[0]})
		}
		var roles []string
		for _, role := range r.Roles {
			roles = append(roles, string(role))
		}
		d.Roles = roles
		public := slices.Contains(r.Roles, courier.RolePublic)
		if public {
			d.Description = "Roles: public (no token needed)."
			d.Security = []map[string][]string{}
		} else {
			d.Description = "Roles: " + strings.Join(roles, ", ") + "."
			d.Security = []map[string][]string{{"bearerAuth": {}}}
		}
		overrides := map[string]oaParam{}
		for _, p := range op.params {
			if p.in == "path" {
				overrides[p.name] = p
			}
		}
		for _, name := range pathParams {
			p, ok := overrides[name]
			if !ok {
				p = oaParam{name: name, desc: oaPathParamDesc[name], schema: oaString("")}
			}
			d.Parameters = append(d.Parameters, oaParamDoc{Name: name, In: "path", Description: p.desc, Required: true, Schema: g.resolve(p.schema)})
		}
		query := false
		for _, p := range op.params {
			if p.in != "path" {
				query = true
				d.Parameters = append(d.Parameters, oaParamDoc{Name: p.name, In: "query", Description: p.desc, Schema: g.resolve(p.schema)})
			}
		}
		if op.body != nil {
			b := &oaBodyDoc{Description: op.bodyDesc, Required: !op.optional}
			for i, c := range op.body {
				m := oaMediaType{Schema: g.resolve(c.schema)}
				if i == 0 {
					m.Example = op.example
				}
				b.Content = append(b.Content, oaEntry[oaMediaType]{c.media, m})
			}
			d.RequestBody = b
		}
		for _, rs := range op.resp {
			rd := oaRespDoc{Description: rs.desc}
			for _, c := range rs.body {
				rd.Content = append(rd.Content, oaEntry[oaMediaType]{c.media, oaMediaType{Schema: g.resolve(c.schema)}})
			}
			d.Responses[strconv.Itoa(rs.status)] = rd
		}
		errs := map[int]bool{401: true}
		for _, st := range op.errs {
			errs[st] = true
		}
		if !public && !oaCoversSignedIn(r.Roles) {
			errs[403] = true
		}
		if len(pathParams) > 0 {
			errs[404] = true
		}
		if op.body != nil {
			errs[413], errs[422] = true, true
			if !op.raw {
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
					Content: oaOrdered[oaMediaType]{{fiber.MIMEApplicationJSON, oaMediaType{Schema: errRef}}}}
			}
		}
		i, ok := index[path]
		if !ok {
			i = len(doc.Paths)
			index[path] = i
			doc.Paths = append(doc.Paths, oaEntry[map[string]oaOpDoc]{path, map[string]oaOpDoc{}})
		}
		doc.Paths[i].value[strings.ToLower(r.Method)] = d
	}
	if g.err != nil {
		return nil, g.err
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

func oaCoversSignedIn(roles []courier.Role) bool {
	for _, r := range signedIn {
		if !slices.Contains(roles, r) {
			return false
		}
	}
	return true
}

// ----- JSON Schema -----

// jsonSchema is a JSON Schema (the 2020-12 dialect OpenAPI 3.1 uses). goType marks a node the
// generator replaces by the schema of that Go type when the document is built.
type jsonSchema struct {
	Ref                  string                 `json:"$ref,omitempty"`
	Type                 any                    `json:"type,omitempty"` // a name, or [name, "null"]
	Format               string                 `json:"format,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Enum                 []any                  `json:"enum,omitempty"`
	Properties           oaOrdered[*jsonSchema] `json:"properties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	AdditionalProperties any                    `json:"additionalProperties,omitempty"` // false or a schema
	Items                *jsonSchema            `json:"items,omitempty"`
	OneOf                []*jsonSchema          `json:"oneOf,omitempty"`
	MinLength            *int                   `json:"minLength,omitempty"`
	MaxLength            *int                   `json:"maxLength,omitempty"`
	MinItems             *int                   `json:"minItems,omitempty"`
	MaxItems             *int                   `json:"maxItems,omitempty"`
	Minimum              *float64               `json:"minimum,omitempty"`
	Maximum              *float64               `json:"maximum,omitempty"`
	Default              any                    `json:"default,omitempty"`

	goType reflect.Type
	mode   schemaMode
}

// schemaMode is how a Go type crosses the API, which decides what its schema requires.
type schemaMode int

const (
	// modeOutput is encoded by a handler: every field without omitempty is present.
	modeOutput schemaMode = iota
	// modeInput is decoded strictly: fields are required by validate:"required", unknown fields refused.
	modeInput
	// modeInputLax is decoded leniently: unknown fields are ignored.
	modeInputLax
)

func (m schemaMode) String() string { return [...]string{"output", "input", "lenient input"}[m] }

func oaOut[T any]() *jsonSchema { return &jsonSchema{goType: reflect.TypeFor[T](), mode: modeOutput} }
func oaIn[T any]() *jsonSchema  { return &jsonSchema{goType: reflect.TypeFor[T](), mode: modeInput} }
func oaInLax[T any]() *jsonSchema {
	return &jsonSchema{goType: reflect.TypeFor[T](), mode: modeInputLax}
}

func oaString(desc string) *jsonSchema { return &jsonSchema{Type: "string", Description: desc} }

func oaTime(desc string) *jsonSchema {
	return &jsonSchema{Type: "string", Format: "date-time", Description: desc}
}

func oaAnyObject(desc string) *jsonSchema {
	return &jsonSchema{Type: "object", Description: desc, AdditionalProperties: &jsonSchema{}}
}

func oaArray(items *jsonSchema) *jsonSchema { return &jsonSchema{Type: "array", Items: items} }

func oaEnum[T ~string](desc string, values ...T) *jsonSchema {
	s := &jsonSchema{Type: "string", Description: desc}
	for _, v := range values {
		s.Enum = append(s.Enum, string(v))
	}
	return s
}

func oaRange(min, max, def int) *jsonSchema {
	s := &jsonSchema{Type: "integer", Default: def}
	lo := float64(min)
	s.Minimum = &lo
	if max > 0 {
		hi := float64(max)
		s.Maximum = &hi
	}
	return s
}

func oaDescribe(s *jsonSchema, desc string) *jsonSchema {
	c := *s
	c.Description = desc
	return &c
}

func (s *jsonSchema) withMaxItems(n int) *jsonSchema {
	c := *s
	c.MaxItems = &n
	return &c
}

type oaProp struct {
	name     string
	required bool
	schema   *jsonSchema
}

func oaReq(name string, s *jsonSchema) oaProp { return oaProp{name, true, s} }
func oaOpt(name string, s *jsonSchema) oaProp { return oaProp{name, false, s} }

func oaObject(props ...oaProp) *jsonSchema {
	s := &jsonSchema{Type: "object"}
	for _, p := range props {
		s.Properties = append(s.Properties, oaEntry[*jsonSchema]{p.name, p.schema})
		if p.required {
			s.Required = append(s.Required, p.name)
		}
	}
	return s
}

// nullable also admits null.
func oaNullable(s *jsonSchema) *jsonSchema {
	if t, ok := s.Type.(string); ok && s.Ref == "" && s.goType == nil {
		c := *s
		c.Type = []string{t, "null"}
		return &c
	}
	return &jsonSchema{OneOf: []*jsonSchema{s, {Type: "null"}}}
}

// oaSchemaGen turns Go types into component schemas. It never changes the table's schemas,
// which every server shares: resolve copies them.
type oaSchemaGen struct {
	schemas map[string]*jsonSchema
	names   map[reflect.Type]string
	modes   map[reflect.Type]schemaMode
	err     error
}

var (
	oaTimeType    = reflect.TypeFor[Time]()
	oaRawJSONType = reflect.TypeFor[json.RawMessage]()
)

// resolve copies a hand-written schema, replacing Go type markers by their schemas.
func (g *oaSchemaGen) resolve(s *jsonSchema) *jsonSchema {
	if s == nil {
		return nil
	}
	if s.goType != nil {
		r := g.of(s.goType, s.mode)
		if s.Description != "" {
			r.Description = s.Description
		}
		if s.MaxItems != nil {
			r.MaxItems = s.MaxItems
		}
		return r
	}
	c := *s
	c.Properties = nil
	for _, p := range s.Properties {
		c.Properties = append(c.Properties, oaEntry[*jsonSchema]{p.key, g.resolve(p.value)})
	}
	c.Items = g.resolve(s.Items)
	c.OneOf = nil
	for _, o := range s.OneOf {
		c.OneOf = append(c.OneOf, g.resolve(o))
	}
	if a, ok := s.AdditionalProperties.(*jsonSchema); ok {
		c.AdditionalProperties = g.resolve(a)
	}
	return &c
}

// of returns the schema of t: inline for scalars, slices and maps, a $ref for named structs.
func (g *oaSchemaGen) of(t reflect.Type, m schemaMode) *jsonSchema {
	switch t {
	case timeType:
		return oaTime("")
	case oaTimeType:
		return oaTime("RFC 3339 with its offset, for example 2026-03-01T08:00:00+08:00")
	case oaRawJSONType:
		return &jsonSchema{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem(), m)
	case reflect.String:
		return &jsonSchema{Type: "string"}
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return &jsonSchema{Type: "integer"}
	case reflect.Int64, reflect.Uint64:
		return &jsonSchema{Type: "integer", Format: "int64"}
	case reflect.Float32, reflect.Float64:
		return &jsonSchema{Type: "number"}
	case reflect.Slice, reflect.Array:
		return oaArray(g.of(t.Elem(), m))
	case reflect.Map:
		return &jsonSchema{Type: "object", AdditionalProperties: g.of(t.Elem(), m)}
	case reflect.Interface:
		return &jsonSchema{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, m)
		}
		name := g.name(t)
		if prev, ok := g.modes[t]; ok {
			if prev != m {
				g.fail(fmt.Errorf("%s is used both as %s and as %s", t, prev, m))
			}
		} else {
			if _, taken := g.schemas[name]; taken {
				g.fail(fmt.Errorf("schema name %s of %s is taken by another type", name, t))
			}
			g.modes[t] = m
			g.names[t] = name
			g.schemas[name] = &jsonSchema{} // a placeholder while the fields are walked
			g.schemas[name] = g.object(t, m)
		}
		return &jsonSchema{Ref: "#/components/schemas/" + name}
	}
	g.fail(fmt.Errorf("no jsonSchema for %s", t))
	return &jsonSchema{}
}

func (g *oaSchemaGen) fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// name derives a component name: firmJSON → Firm, tokenReq → TokenRequest,
// listJSON[firmJSON] → FirmList, scoring.Methodology → ScoringMethodology.
func (g *oaSchemaGen) name(t reflect.Type) string {
	if n, ok := oaSchemaNames[t]; ok {
		return n
	}
	n := t.Name()
	if base, arg, ok := strings.Cut(n, "["); ok {
		arg = strings.TrimSuffix(arg, "]")
		return oaGoName(arg[strings.LastIndex(arg, ".")+1:]) + oaGoName(base)
	}
	if t.PkgPath() != oaTimeType.PkgPath() {
		pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
		return oaGoName(pkg) + oaGoName(n)
	}
	return oaGoName(n)
}

func oaGoName(n string) string {
	switch {
	case strings.HasSuffix(n, "JSON") && n != "JSON":
		n = strings.TrimSuffix(n, "JSON")
	case strings.HasSuffix(n, "Req"):
		n = strings.TrimSuffix(n, "Req") + "Request"
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

// object walks a struct's fields as encoding/json sees them.
func (g *oaSchemaGen) object(t reflect.Type, m schemaMode) *jsonSchema {
	s := &jsonSchema{Type: "object"}
	if m == modeInput {
		s.AdditionalProperties = false
	}
	g.fields(t, m, s)
	return s
}

func (g *oaSchemaGen) fields(t reflect.Type, m schemaMode, s *jsonSchema) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, m, s)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		rules := strings.Split(f.Tag.Get("validate"), ",")
		mustGive := slices.Contains(rules[:oaDiveAt(rules)], "required")
		fs := g.of(f.Type, m)
		oaApplyRules(fs, f.Type, rules)
		var required, null bool
		ptr := f.Type.Kind() == reflect.Pointer
		switch m {
		case modeOutput:
			required = !omit
			null = ptr && !omit
		default:
			// A struct field is validated even when it is left out, so it is required as soon as
			// one of its own fields is.
			required = mustGive || (f.Type.Kind() == reflect.Struct && g.requires(f.Type))
			null = ptr && !mustGive
		}
		if null {
			fs = oaNullable(fs)
		}
		s.Properties = append(s.Properties, oaEntry[*jsonSchema]{name, fs})
		if required {
			s.Required = append(s.Required, name)
		}
	}
}

// requires reports whether the component of struct type t has required properties.
func (g *oaSchemaGen) requires(t reflect.Type) bool {
	c, ok := g.schemas[g.names[t]]
	return ok && len(c.Required) > 0
}

func oaDiveAt(rules []string) int {
	if i := slices.Index(rules, "dive"); i >= 0 {
		return i
	}
	return len(rules)
}

// applyRules carries the validate tags JSON Schema can say: lengths, counts, bounds and
// choices; rules after dive apply to the items.
func oaApplyRules(s *jsonSchema, t reflect.Type, rules []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i, r := range rules {
		if r == "dive" {
			if s.Items != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				oaApplyRules(s.Items, t.Elem(), rules[i+1:])
			}
			return
		}
		name, arg, _ := strings.Cut(r, "=")
		n, err := strconv.Atoi(arg)
		switch name {
		case "max", "min":
			if err != nil {
				continue
			}
			switch t.Kind() {
			case reflect.Slice, reflect.Array, reflect.Map:
				if name == "max" {
					s.MaxItems = &n
				} else {
					s.MinItems = &n
				}
			case reflect.String:
				if name == "max" {
					s.MaxLength = &n
				} else {
					s.MinLength = &n
				}
			default:
				v := float64(n)
				if name == "max" {
					s.Maximum = &v
				} else {
					s.Minimum = &v
				}
			}
		case "gte", "lte":
			if err != nil {
				continue
			}
			v := float64(n)
			if name == "gte" {
				s.Minimum = &v
			} else {
				s.Maximum = &v
			}
		case "oneof":
			for _, v := range strings.Fields(arg) {
				s.Enum = append(s.Enum, v)
			}
		}
	}
}
