package httpapi

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/httpapi/openapi"
	"github.com/credtrace/credtrace/webhook"
)

// subscribers are the roles that receive events (webhook.Types).
var subscribers = []credtrace.Role{credtrace.RoleRegulator, credtrace.RoleFirm, credtrace.RoleMerchant, credtrace.RolePlatform}

type webhookReq struct {
	URL    string   `json:"url" validate:"required,max=2048"`
	Events []string `json:"events" validate:"max=20"`
}

type webhookJSON struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// Secret is only in the answers that create or rotate it.
	Secret        string     `json:"secret,omitempty"`
	PreviousUntil *time.Time `json:"previous_secret_until,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	// Status: active (the last attempt succeeded, or none was made) or failing.
	Status        string     `json:"status"`
	Failures      int        `json:"consecutive_failures"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
	Pending       *int       `json:"pending,omitempty"`
	Dead          *int       `json:"dead,omitempty"`
}

func webhookOut(x webhook.Subscription) webhookJSON {
	out := webhookJSON{ID: x.ID, URL: x.URL, Events: []string{}, PreviousUntil: ts(x.PrevUntil), CreatedAt: x.CreatedAt, Status: "active",
		Failures: x.Failures, LastAttemptAt: ts(x.LastAttemptAt), LastSuccessAt: ts(x.LastSuccessAt), LastError: x.LastError, LastErrorAt: ts(x.LastErrorAt)}
	if x.PrevSecret == "" {
		out.PreviousUntil = nil
	}
	for _, e := range x.Events {
		out.Events = append(out.Events, string(e))
	}
	if x.Failures > 0 {
		out.Status = "failing"
	}
	return out
}

type deliveryJSON struct {
	ID         string     `json:"id"`
	EventID    string     `json:"event_id"`
	Type       string     `json:"type"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	LastAt     *time.Time `json:"last_attempt_at,omitempty"`
	LastStatus int        `json:"last_status,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	// Payload is the body that was (and on replay will be) sent.
	Payload string `json:"payload"`
}

func deliveryOut(d webhook.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, EventID: d.EventID, Type: string(d.Type), Status: string(d.Status), Attempts: d.Attempts, CreatedAt: d.CreatedAt,
		LastAt: ts(d.LastAt), LastStatus: d.LastStatus, LastError: d.LastError, Payload: d.Body}
}

type replayJSON struct {
	Replayed int `json:"replayed"`
}

// webhookRoutes declares the subscriptions' routes, when the service has webhooks.
func (s *Server) webhookRoutes() {
	if s.deps.Webhooks == nil {
		return
	}
	s.add(Route{Method: "POST", Path: "/v1/webhooks", Roles: subscribers, handler: s.subscribe,
		Doc: &openapi.Operation{ID: "createWebhook", Summary: "Subscribe a receiver to the events your role may see (the secret is shown once)",
			Body: openapi.JSON(openapi.In[webhookReq]()), Responses: openapi.Created(openapi.Out[webhookJSON]()), Errors: []int{409},
			BodyDesc: "events: empty for every type the role may receive (see webhooks). A receiver on a loopback, private or link-local address is refused unless the operator set CREDTRACE_WEBHOOK_ALLOW_PRIVATE=true",
			Example:  map[string]any{"url": "https://hooks.example.com/credtrace", "events": []string{"anomaly.found", "incident.reported"}}}})
	s.add(Route{Method: "GET", Path: "/v1/webhooks", Roles: subscribers, handler: s.listWebhooks,
		Doc: &openapi.Operation{ID: "listWebhooks", Summary: "Your subscriptions, with their delivery health (never the secret)",
			Responses: openapi.OK(openapi.Out[listJSON[webhookJSON]]())}})
	s.add(Route{Method: "GET", Path: "/v1/webhooks/:id", Roles: subscribers, handler: s.getWebhook,
		Doc: &openapi.Operation{ID: "getWebhook", Summary: "One subscription: status, last errors, pending and dead deliveries",
			Responses: openapi.OK(openapi.Out[webhookJSON]())}})
	s.add(Route{Method: "DELETE", Path: "/v1/webhooks/:id", Roles: subscribers, handler: s.deleteWebhook,
		Doc: &openapi.Operation{ID: "deleteWebhook", Summary: "Unsubscribe (its pending and dead deliveries go too)",
			Responses: openapi.NoContent()}})
	s.add(Route{Method: "POST", Path: "/v1/webhooks/:id/rotate", Roles: subscribers, handler: s.rotateWebhook,
		Doc: &openapi.Operation{ID: "rotateWebhookSecret", Summary: "A new signing secret (shown once); the previous one signs too for 24 hours",
			Responses: openapi.OK(openapi.Out[webhookJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "GET", Path: "/v1/webhooks/:id/dead", Roles: subscribers, handler: s.deadLetters,
		Doc: &openapi.Operation{ID: "listDeadLetters", Summary: "Deliveries given up after 24 hours of retries",
			Responses: openapi.OK(openapi.Out[listJSON[deliveryJSON]]()), Params: oaIDPaged()}})
	s.add(Route{Method: "POST", Path: "/v1/webhooks/:id/replay", Roles: subscribers, handler: s.replayDead,
		Doc: &openapi.Operation{ID: "replayDeadLetters", Summary: "Send dead letters again (?delivery= one of them; without it, all)",
			Responses: openapi.OK(openapi.Out[replayJSON]()), Errors: []int{409},
			Params: []openapi.Param{openapi.Query("delivery", "The id of one dead delivery")}}})
}

func (s *Server) subscribe(c *fiber.Ctx) error {
	var req webhookReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	in := webhook.Input{URL: req.URL}
	for _, e := range req.Events {
		in.Events = append(in.Events, webhook.EventType(e))
	}
	sub, err := s.deps.Webhooks.Subscribe(ctx(c), actor(c), in)
	if err != nil {
		return err
	}
	out := webhookOut(sub)
	out.Secret = sub.Secret
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) listWebhooks(c *fiber.Ctx) error {
	subs, err := s.deps.Webhooks.Subscriptions(ctx(c), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(listOf(subs, "", webhookOut))
}

func (s *Server) getWebhook(c *fiber.Ctx) error {
	st, err := s.deps.Webhooks.Status(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	out := webhookOut(st.Subscription)
	out.Pending, out.Dead = &st.Pending, &st.Dead
	return c.JSON(out)
}

func (s *Server) deleteWebhook(c *fiber.Ctx) error {
	if err := s.deps.Webhooks.Unsubscribe(ctx(c), actor(c), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) rotateWebhook(c *fiber.Ctx) error {
	sub, err := s.deps.Webhooks.Rotate(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	out := webhookOut(sub)
	out.Secret = sub.Secret
	return c.JSON(out)
}

func (s *Server) deadLetters(c *fiber.Ctx) error {
	after, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	items, err := s.deps.Webhooks.DeadLetters(ctx(c), actor(c), c.Params("id"), after, limit+1)
	if err != nil {
		return err
	}
	return c.JSON(pageOut(items, limit, func(d webhook.Delivery) string { return d.ID }, deliveryOut))
}

func (s *Server) replayDead(c *fiber.Ctx) error {
	n, err := s.deps.Webhooks.Replay(ctx(c), actor(c), c.Params("id"), c.Query("delivery"))
	if err != nil {
		return err
	}
	return c.JSON(replayJSON{Replayed: n})
}

// oaEvents documents each event type: what it announces and the fields of its data (ids,
// codes and times only).
var oaEvents = []struct {
	typ     webhook.EventType
	summary string
	data    [][2]string
}{
	{webhook.ParcelStatus, "A merchant's parcel has a new status", [][2]string{{"waybill", "Waybill number"}, {"carrier", "The carrier's firm id"},
		{"merchant_id", "The merchant"}, {"status", "The status code (collected, in_transit, delivered, ...)"}, {"status_at", "When the status was reached (RFC 3339)"}}},
	{webhook.RecordPending, "A pending credit record about the firm's tree was entered", [][2]string{{"record_id", "The record"}, {"firm_id", "The firm that answers for it"},
		{"subject_kind", "firm, site or staff"}, {"subject_id", "The subject's id"}, {"category", "The record's category"}, {"severity", "minor, general or serious"},
		{"source", "Who entered it"}, {"status", "pending"}}},
	{webhook.ObjectionClock, "A statutory clock of an objection of the firm's tree runs out within 48 hours", [][2]string{{"objection_id", "The objection"},
		{"record_id", "The record objected to"}, {"firm_id", "The firm"}, {"clock", "review or correction"}, {"due_at", "When the clock runs out (RFC 3339)"}}},
	{webhook.SanctionProposed, "A sanction on a firm of the tree was proposed", [][2]string{{"sanction_id", "The proposal"}, {"firm_id", "The firm"},
		{"kind", "The sanction's kind"}, {"status", "proposed"}, {"rule", "The rule that proposed it"}, {"period", "The evaluation period behind it, if any"}}},
	{webhook.EligibilityChanged, "A barring sanction took effect (barred: stop onboarding the firm) or ended (cleared: ask GET /v1/platform/eligibility/{uscc})",
		[][2]string{{"firm_id", "The firm"}, {"sanction_id", "The sanction"}, {"kind", "The sanction's kind"}, {"change", "barred or cleared"},
			{"effective_at", "When it took effect or ended (RFC 3339)"}}},
	{webhook.AnomalyFound, "A scan or an ingestion found an anomaly", [][2]string{{"anomaly_id", "The anomaly"}, {"kind", "Its kind"}, {"waybill", "The waybill, if one"},
		{"carrier", "The carrier's firm id"}, {"merchant_id", "The merchant, for a merchant burst"}}},
	{webhook.IncidentReported, "An incident was reported", [][2]string{{"incident_id", "The incident"}, {"kind", "Its kind"}, {"waybill", "The waybill"},
		{"carrier", "The carrier's firm id"}, {"anomaly_id", "The anomaly it came from, if any"}}},
	{webhook.ObjectionOverdue, "A statutory clock of an objection ran out", [][2]string{{"objection_id", "The objection"}, {"record_id", "The record objected to"},
		{"firm_id", "The firm"}, {"clock", "review or correction"}, {"due_at", "When the clock ran out (RFC 3339)"}}},
}

// oaWebhooks describes the deliveries, one per event type (OpenAPI 3.1 webhooks): a signed
// POST of the event to the subscription's URL.
func oaWebhooks(g *openapi.Generator) openapi.Ordered[map[string]oaOpDoc] {
	header := func(name, desc string) oaParamDoc {
		return oaParamDoc{Name: name, In: "header", Description: desc, Required: true, Schema: g.Resolve(openapi.String(""))}
	}
	params := []oaParamDoc{
		header(webhook.SignatureHeader, "t=<Unix seconds>,v1=<hex HMAC-SHA256 with the subscription's secret over \"<t>.<body>\">; during the 24 hours after a rotation a second v1 signs with the previous secret. "+
			"Verify one v1 with your secret, compare in constant time, and refuse a t more than 5 minutes away"),
		header(webhook.EventHeader, "The event id, the same in every attempt and replay: de-duplicate by it (delivery is at least once)"),
		header("Credtrace-Event-Type", "The event type"),
		header("Credtrace-Delivery-Attempt", "The attempt's number, from 1"),
	}
	var out openapi.Ordered[map[string]oaOpDoc]
	for _, e := range oaEvents {
		var data []openapi.Prop
		for _, f := range e.data {
			data = append(data, openapi.Opt(f[0], openapi.String(f[1])))
		}
		body := openapi.Object(
			openapi.Req("id", openapi.String("The event id (as in "+webhook.EventHeader+")")),
			openapi.Req("type", openapi.Enum("The event type", e.typ)),
			openapi.Req("created_at", openapi.Time("When the change happened")),
			openapi.Req("data", openapi.Describe(openapi.Object(data...), "Ids, codes and times only: never personal data")))
		role := string(webhook.RoleOf(e.typ))
		op := oaOpDoc{OperationID: "event_" + strings.NewReplacer(".", "_").Replace(string(e.typ)), Summary: e.summary, Tags: []string{"webhooks"},
			Description: "Sent to the subscriptions of role " + role + " that may see it and asked for " + string(e.typ) + ". " +
				"Answer 2xx within 10 s; anything else (or no answer) is retried with exponential backoff and jitter for 24 hours, then kept as a dead letter (GET /v1/webhooks/{id}/dead, POST /v1/webhooks/{id}/replay).",
			Roles: []string{role}, Security: []map[string][]string{}, Parameters: params,
			RequestBody: &oaBodyDoc{Required: true, Content: openapi.Ordered[oaMediaType]{{Key: openapi.MediaJSON, Value: oaMediaType{Schema: g.Resolve(body)}}}},
			Responses: map[string]oaRespDoc{
				"2XX": {Description: "Received: the delivery is done"},
				"4XX": {Description: "Refused: retried as any failure (a receiver that wants no more deletes the subscription)"},
				"5XX": {Description: "Failed: retried with backoff"}}}
		out = append(out, openapi.Entry[map[string]oaOpDoc]{Key: string(e.typ), Value: map[string]oaOpDoc{"post": op}})
	}
	return out
}
