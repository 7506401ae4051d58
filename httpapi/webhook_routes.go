package httpapi

import (
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
