package httpapi

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi/openapi"
)

// courierRoutes declares the service's own routes and the archive's.
func (s *Server) courierRoutes() {
	s.add(Route{Method: "GET", Path: "/healthz", Roles: public, handler: s.health,
		Doc: &openapi.Operation{ID: "health", Summary: "Service and store health",
			Responses: []openapi.Response{
				{Status: 200, Desc: "The store answers (status degraded: it reads but cannot write, and reason says why)", Body: openapi.JSON(oaHealth)},
				{Status: 503, Desc: "The store cannot be reached", Body: openapi.JSON(oaHealth)}}}})
	s.add(Route{Method: "GET", Path: "/openapi.json", Roles: public, handler: s.openAPIDoc(),
		Doc: &openapi.Operation{ID: "openapi", Summary: "This OpenAPI document",
			Responses: openapi.OK(openapi.Object(openapi.Req("openapi", openapi.String("3.1.0")),
				openapi.Req("info", openapi.AnyObject("")), openapi.Req("paths", openapi.AnyObject("")), openapi.Opt("components", openapi.AnyObject(""))))}})
	s.add(Route{Method: "GET", Path: "/metrics", Roles: []credtrace.Role{credtrace.RoleMetrics}, handler: s.deps.Metrics.handler(),
		Doc: &openapi.Operation{ID: "metrics", Summary: "Prometheus metrics (metrics tokens only)",
			Responses: []openapi.Response{{Status: 200, Desc: "Prometheus text exposition format",
				Body: []openapi.Content{{Media: fiber.MIMETextPlain, Schema: openapi.String("Metrics in the Prometheus text format")}}}}}})
	s.add(Route{Method: "GET", Path: "/v1/me", Roles: anyToken, handler: s.me,
		Doc: &openapi.Operation{ID: "me", Summary: "Who the token belongs to",
			Responses: openapi.OK(openapi.Object(
				openapi.Req("token_id", openapi.String("")),
				openapi.Req("role", openapi.Enum("", credtrace.RoleRegulator, credtrace.RoleFirm, credtrace.RoleMerchant, credtrace.RolePlatform, credtrace.RoleStaff)),
				openapi.Req("firm_id", openapi.String("The firm of a firm token; empty otherwise")),
				openapi.Req("merchant_id", openapi.String("The merchant of a merchant token; empty otherwise")),
				openapi.Req("staff_id", openapi.String("The person of a staff token; empty otherwise"))))}})

	s.add(Route{Method: "POST", Path: "/v1/tokens", Roles: firms, handler: s.issueToken,
		Doc: &openapi.Operation{ID: "issueToken", Summary: "Issue a token (firms: staff tokens for their own people)",
			Body: openapi.JSON(openapi.In[tokenReq]()), Responses: openapi.Created(openapi.Out[tokenJSON]()),
			Example: map[string]any{"role": "firm", "firm_id": "{firm_id}", "label": "顺达 HQ"}}})
	s.add(Route{Method: "GET", Path: "/v1/tokens", Roles: firms, handler: s.listTokens,
		Doc: &openapi.Operation{ID: "listTokens", Summary: "List tokens, never their secrets (regulators: every token; firms: the tokens that act for them)",
			Responses: openapi.OK(openapi.Out[listJSON[tokenJSON]]()),
			Params:    oaPaged(openapi.Query("firm_id", "Regulators: only the tokens of this firm"))}})
	s.add(Route{Method: "POST", Path: "/v1/tokens/:id/rotate", Roles: anyToken, handler: s.rotateToken,
		Doc: &openapi.Operation{ID: "rotateToken", Summary: "Give a token a new secret, shown once; the old one works for the grace period (CREDTRACE_TOKEN_GRACE, 24 h by default). Regulators rotate any token, others their own",
			Responses: openapi.OK(openapi.Out[tokenJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "DELETE", Path: "/v1/tokens/:id", Roles: regulators, handler: s.revokeToken,
		Doc: &openapi.Operation{ID: "revokeToken", Summary: "Revoke a token",
			Responses: openapi.NoContent(), Errors: []int{409}}})

	s.add(Route{Method: "POST", Path: "/v1/firms", Roles: regulators, handler: s.createFirm,
		Doc: &openapi.Operation{ID: "createFirm", Summary: "Register a firm",
			Body: openapi.JSON(openapi.In[firmCreateReq]()), Responses: openapi.Created(openapi.Out[firmJSON]()), Errors: []int{409},
			Example: map[string]any{"uscc": "91130100MA0D8N3X4Q", "name": "新锐快递", "kind": "hq", "region": "130102",
				"licence": map[string]any{"number": "冀邮2026007", "scope": "省内", "status": "active",
					"valid_from": "2026-01-01T00:00:00+08:00", "valid_to": "2031-01-01T00:00:00+08:00"}}}})
	s.add(Route{Method: "GET", Path: "/v1/firms", Roles: firms, handler: s.listFirms,
		Doc: &openapi.Operation{ID: "listFirms", Summary: "List firms",
			Responses: openapi.OK(openapi.Out[listJSON[firmJSON]]()), Params: oaPaged(
				openapi.QueryEnum("kind", "", courier.KindHQ, courier.KindBranch, courier.KindOutlet),
				openapi.Query("region", "Region code prefix"),
				openapi.QueryEnum("licence_status", "", courier.LicenceActive, courier.LicenceSuspended, courier.LicenceRevoked),
				openapi.Query("name", "Part of the name"),
				openapi.Query("parent_id", "Children of this firm"))}})
	s.add(Route{Method: "GET", Path: "/v1/firms/:id", Roles: firms, handler: s.getFirm,
		Doc: &openapi.Operation{ID: "getFirm", Summary: "Get a firm",
			Responses: openapi.OK(openapi.Out[firmJSON]())}})
	s.add(Route{Method: "PATCH", Path: "/v1/firms/:id", Roles: regulators, handler: s.patchFirm,
		Doc: &openapi.Operation{ID: "patchFirm", Summary: "Change a firm",
			Body: openapi.JSON(openapi.In[firmPatchReq]()), Responses: openapi.OK(openapi.Out[firmJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "GET", Path: "/v1/firms/:id/file", Roles: firms, handler: s.firmFile,
		Doc: &openapi.Operation{ID: "firmFile", Summary: "A firm's credit file",
			Responses: openapi.OK(openapi.Out[fileJSON]())}})
	s.add(Route{Method: "POST", Path: "/v1/firms/:id/sites", Roles: firms, handler: s.createSite,
		Doc: &openapi.Operation{ID: "createSite", Summary: "Register a site of a firm",
			Body: openapi.JSON(openapi.In[siteReq]()), Responses: openapi.Created(openapi.Out[siteJSON]())}})
	s.add(Route{Method: "GET", Path: "/v1/firms/:id/sites", Roles: firms, handler: s.listSites,
		Doc: &openapi.Operation{ID: "listSites", Summary: "List a firm's sites",
			Responses: openapi.OK(openapi.Out[listJSON[siteJSON]]()), Params: oaPaged()}})
	s.add(Route{Method: "GET", Path: "/v1/sites/:id", Roles: firms, handler: s.getSite,
		Doc: &openapi.Operation{ID: "getSite", Summary: "Get a site",
			Responses: openapi.OK(openapi.Out[siteJSON]())}})
	s.add(Route{Method: "PUT", Path: "/v1/sites/:id", Roles: firms, handler: s.putSite,
		Doc: &openapi.Operation{ID: "putSite", Summary: "Replace a site's description",
			Body: openapi.JSON(openapi.In[siteReq]()), Responses: openapi.OK(openapi.Out[siteJSON]()), Errors: []int{409}}})

	s.add(Route{Method: "POST", Path: "/v1/staff", Roles: firms, handler: s.createStaff,
		Doc: &openapi.Operation{ID: "createStaff", Summary: "Register a person",
			Body: openapi.JSON(openapi.In[staffCreateReq]()), Responses: openapi.Created(openapi.Out[staffJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "GET", Path: "/v1/staff", Roles: firms, handler: s.listStaff,
		Doc: &openapi.Operation{ID: "listStaff", Summary: "List staff",
			Responses: openapi.OK(openapi.Out[listJSON[staffJSON]]()), Params: oaPaged(openapi.Query("firm_id", "People employed by this firm"))}})
	s.add(Route{Method: "POST", Path: "/v1/staff/search", Roles: regulators, handler: s.searchStaff,
		Doc: &openapi.Operation{ID: "searchStaff", Summary: "Find a person by resident ID number",
			Body: openapi.JSON(openapi.In[staffSearchReq]()), Responses: openapi.OK(openapi.Out[staffJSON]()), Errors: []int{404}}})
	s.add(Route{Method: "POST", Path: "/v1/staff/hire", Roles: firms, handler: s.hireStaff,
		Doc: &openapi.Operation{ID: "hireStaff", Summary: "Hire a registered person by resident ID number",
			Body: openapi.JSON(openapi.In[hireReq]()), Responses: openapi.OK(openapi.Out[staffJSON]()), Errors: []int{404, 409},
			BodyDesc: "Ends the person's open employment, at any firm, at from and starts the new one; 404 when no person has " +
				"this ID number (register them with POST /v1/staff), 409 when they work for firm_id already",
			Example: map[string]any{"id_number": "11010519491231002X", "firm_id": "{carrier_id}", "role": "courier", "from": "2026-06-01T00:00:00+08:00"}}})
	s.add(Route{Method: "GET", Path: "/v1/staff/:id", Roles: firmsAndStaff, handler: s.getStaff,
		Doc: &openapi.Operation{ID: "getStaff", Summary: "Get a person",
			Responses: openapi.OK(openapi.Out[staffJSON]())}})
	s.add(Route{Method: "PATCH", Path: "/v1/staff/:id", Roles: firms, handler: s.patchStaff,
		Doc: &openapi.Operation{ID: "patchStaff", Summary: "Change a person's name or phone",
			Body: openapi.JSON(openapi.In[staffPatchReq]()), Responses: openapi.OK(openapi.Out[staffJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "POST", Path: "/v1/staff/:id/employments", Roles: firms, handler: s.startEmployment,
		Doc: &openapi.Operation{ID: "startEmployment", Summary: "Start an employment",
			Body: openapi.JSON(openapi.In[employmentReq]()), Responses: openapi.OK(openapi.Out[staffJSON]()),
			Errors: []int{409}}})
	s.add(Route{Method: "POST", Path: "/v1/staff/:id/employments/end", Roles: firms, handler: s.endEmployment,
		Doc: &openapi.Operation{ID: "endEmployment", Summary: "End the open employment",
			Body: openapi.JSON(openapi.In[employmentEndReq]()), Responses: openapi.OK(openapi.Out[staffJSON]()),
			Errors: []int{409}}})
	s.add(Route{Method: "GET", Path: "/v1/staff/:id/file", Roles: firmsAndStaff, handler: s.staffFile,
		Doc: &openapi.Operation{ID: "staffFile", Summary: "A person's credit file",
			Responses: openapi.OK(openapi.Out[fileJSON]())}})

	s.add(Route{Method: "POST", Path: "/v1/records", Roles: signedIn, handler: s.createRecord,
		Doc: &openapi.Operation{ID: "createRecord", Summary: "Enter a credit record",
			Body: openapi.JSON(openapi.In[recordReq]()), Responses: openapi.Created(openapi.Out[recordJSON]()), Errors: []int{403},
			BodyDesc: "decided_at is the date of the decision the record records (the penalty decision, the inspection report); " +
				"the publicity window and the repair clock run from it, not from the entry. Left out, it is occurred_at. " +
				"422 when it lies in the future or before occurred_at",
			Example: map[string]any{"subject": map[string]any{"kind": "firm", "id": "{firm_id}"}, "category": "supervision",
				"source": "regulator", "severity": "general", "occurred_at": "2026-05-20T10:00:00+08:00", "decided_at": "2026-05-22T09:00:00+08:00",
				"summary": "双随机抽查：未落实收寄验视", "legal_basis": "快递市场管理办法 第三十四条",
				"evidence": []any{map[string]any{"kind": "document", "ref": "冀邮检〔2026〕12号"}}}}})
	s.add(Route{Method: "GET", Path: "/v1/records", Roles: firms, handler: s.listRecords,
		Doc: &openapi.Operation{ID: "listRecords", Summary: "List credit records",
			Responses: openapi.OK(openapi.Out[listJSON[recordJSON]]()), Params: oaPaged(
				openapi.QueryEnum("status", "", courier.StatusPending, courier.StatusConfirmed, courier.StatusDismissed, courier.StatusDisputed,
					courier.StatusUpheld, courier.StatusRevoked, courier.StatusRepaired),
				openapi.QueryEnum("category", "", courier.Categories...),
				openapi.QueryEnum("subject_kind", "Goes with subject_id", courier.SubjectFirm, courier.SubjectSite, courier.SubjectStaff),
				openapi.Query("subject_id", "Goes with subject_kind"),
				openapi.QueryBool("repair_pending", "Only records with a repair request waiting for a decision"))}})
	s.add(Route{Method: "GET", Path: "/v1/records/:id", Roles: firms, handler: s.getRecord,
		Doc: &openapi.Operation{ID: "getRecord", Summary: "Get a credit record",
			Responses: openapi.OK(openapi.Out[recordJSON]())}})
	s.add(Route{Method: "POST", Path: "/v1/records/:id/confirm", Roles: regulators, handler: s.confirmRecord,
		Doc: &openapi.Operation{ID: "confirmRecord", Summary: "Confirm a pending record",
			Body: openapi.JSON(openapi.In[reasonReq]()), Optional: true,
			Responses: openapi.OK(openapi.Out[recordJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "POST", Path: "/v1/records/:id/dismiss", Roles: regulators, handler: s.dismissRecord,
		Doc: &openapi.Operation{ID: "dismissRecord", Summary: "Dismiss a pending record",
			Body: openapi.JSON(openapi.In[reasonReq]()), Optional: true,
			BodyDesc: "The reason is required to dismiss", Responses: openapi.OK(openapi.Out[recordJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "POST", Path: "/v1/records/:id/repair", Roles: firms, handler: s.requestRepair,
		Doc: &openapi.Operation{ID: "requestRepair", Summary: "Ask for credit repair",
			Body: openapi.JSON(openapi.In[repairReq]()), Responses: openapi.Created(openapi.Out[recordJSON]()),
			Errors: []int{409}}})
	s.add(Route{Method: "POST", Path: "/v1/records/:id/repair/decision", Roles: regulators, handler: s.decideRepair,
		Doc: &openapi.Operation{ID: "decideRepair", Summary: "Decide a credit repair request",
			Body: openapi.JSON(openapi.In[repairDecisionReq]()), Responses: openapi.OK(openapi.Out[recordJSON]()),
			Errors: []int{409}}})

	s.add(Route{Method: "POST", Path: "/v1/objections", Roles: firmsAndStaff, handler: s.fileObjection,
		Doc: &openapi.Operation{ID: "fileObjection", Summary: "File an objection",
			Body: openapi.JSON(openapi.In[objectionReq]()), Responses: openapi.Created(openapi.Out[objectionJSON]()),
			Errors: []int{409}}})
	s.add(Route{Method: "GET", Path: "/v1/objections", Roles: firms, handler: s.listObjections,
		Doc: &openapi.Operation{ID: "listObjections", Summary: "List objections (?overdue=true)",
			Responses: openapi.OK(openapi.Out[listJSON[objectionJSON]]()),
			Params:    oaPaged(openapi.QueryBool("overdue", "Only objections whose review or correction clock has run out"))}})
	s.add(Route{Method: "GET", Path: "/v1/objections/:id", Roles: firms, handler: s.getObjection,
		Doc: &openapi.Operation{ID: "getObjection", Summary: "Get an objection",
			Responses: openapi.OK(openapi.Out[objectionJSON]())}})
	s.add(Route{Method: "POST", Path: "/v1/objections/:id/decision", Roles: regulators, handler: s.decideObjection,
		Doc: &openapi.Operation{ID: "decideObjection", Summary: "Decide an objection",
			Body:      openapi.JSON(openapi.In[objectionDecisionReq]()),
			Responses: openapi.OK(openapi.Out[objectionJSON]()), Errors: []int{409}}})

	s.add(Route{Method: "POST", Path: "/v1/commitments", Roles: firms, handler: s.createCommitment,
		Doc: &openapi.Operation{ID: "createCommitment", Summary: "Record a credit commitment",
			Body: openapi.JSON(openapi.In[commitmentReq]()), Responses: openapi.Created(openapi.Out[commitmentJSON]())}})
	s.add(Route{Method: "GET", Path: "/v1/commitments", Roles: public, handler: s.listCommitments,
		Doc: &openapi.Operation{ID: "listCommitments", Summary: "List credit commitments (public)",
			Responses: openapi.OK(openapi.Out[listJSON[commitmentJSON]]()),
			Params:    oaPaged(openapi.Query("firm_id", "Commitments of this firm"))}})

	s.add(Route{Method: "GET", Path: "/v1/public/firms/:uscc", Roles: public, handler: s.disclose,
		Doc: &openapi.Operation{ID: "disclose", Summary: "Public disclosure of a firm",
			Responses: openapi.OK(openapi.Out[disclosureJSON]())}})
	s.add(Route{Method: "POST", Path: "/v1/public/staff/file", Roles: public, handler: s.personFile,
		Doc: &openapi.Operation{ID: "personFile", Summary: "A person's own credit file, by resident ID number and phone",
			Body: openapi.JSON(openapi.In[personReq]()), Responses: openapi.OK(openapi.Out[fileJSON]()), Errors: []int{404, 429},
			BodyDesc: "A wrong ID number and a wrong phone both answer 404; 5 wrong answers for one ID number, or 20 from one address, " +
				"lock the check (429) until an hour after the last"}})
	s.add(Route{Method: "POST", Path: "/v1/public/staff/objections", Roles: public, handler: s.personObjection,
		Doc: &openapi.Operation{ID: "personObjection", Summary: "A person's objection to a record about them, by resident ID number and phone",
			Body: openapi.JSON(openapi.In[personObjectionReq]()), Responses: openapi.Created(openapi.Out[objectionJSON]()),
			Errors: []int{404, 409, 429}, BodyDesc: "The person's objection to a confirmed record about them; the check is that of POST /v1/public/staff/file"}})

	s.add(Route{Method: "GET", Path: "/v1/audit", Roles: regulators, handler: s.listAudit,
		Doc: &openapi.Operation{ID: "listAudit", Summary: "Audit trail entries",
			Responses: openapi.OK(openapi.Out[listJSON[auditJSON]]()), Params: []openapi.Param{
				{Name: "limit", Desc: "At most this many entries (default 50, at most 500)", Schema: openapi.Range(1, 500, 50)},
				{Name: "after", Desc: "Entries after this sequence number", Schema: openapi.Range(0, 0, 0)}}}})
	s.add(Route{Method: "GET", Path: "/v1/audit/verify", Roles: regulators, handler: s.verifyAudit,
		Doc: &openapi.Operation{ID: "verifyAudit", Summary: "Recompute the audit hash chain and check it against the latest signed checkpoint",
			Responses: openapi.OK(openapi.Object(
				openapi.Req("ok", &openapi.Schema{Type: "boolean"}),
				openapi.Req("entries", &openapi.Schema{Type: "integer", Description: "Entries checked"}),
				openapi.Opt("first_bad_seq", &openapi.Schema{Type: "integer", Description: "The first entry altered or missing (when not ok)"}),
				openapi.Opt("reason", openapi.String("What is wrong with it (when not ok)")),
				openapi.Req("checkpoint_seq", &openapi.Schema{Type: "integer", Description: "The latest signed checkpoint checked against (0: none)"}),
				openapi.Opt("cut_from", &openapi.Schema{Type: "integer", Description: "First entry cut off the end of the trail (a cut tail)"}),
				openapi.Opt("cut_to", &openapi.Schema{Type: "integer", Description: "Last entry cut off the end: the checkpoint's sequence number"})))}})
	// 201 for a new checkpoint, 200 with the latest one when the head has not moved since.
	s.add(Route{Method: "POST", Path: "/v1/audit/checkpoints", Roles: regulators, handler: s.createCheckpoint,
		Doc: &openapi.Operation{ID: "createCheckpoint", Summary: "Sign and store a checkpoint of the audit trail's head now",
			Responses: append(openapi.Created(openapi.Out[checkpointJSON]()), openapi.OK(openapi.Out[checkpointJSON]())...), Errors: []int{409}}})
	s.add(Route{Method: "GET", Path: "/v1/audit/checkpoints", Roles: regulators, handler: s.listCheckpoints,
		Doc: &openapi.Operation{ID: "listCheckpoints", Summary: "Signed checkpoints of the audit trail, oldest first (export)",
			Responses: openapi.OK(openapi.Out[listJSON[checkpointJSON]]()), Params: []openapi.Param{
				{Name: "limit", Desc: "At most this many checkpoints (default 50, at most 500)", Schema: openapi.Range(1, 500, 50)},
				{Name: "after", Desc: "Checkpoints after this sequence number", Schema: openapi.Range(0, 0, 0)}}}})
	s.add(Route{Method: "GET", Path: "/v1/public/audit/head", Roles: public, handler: s.auditHead,
		Doc: &openapi.Operation{ID: "auditHead", Summary: "The latest signed checkpoint of the audit trail and the public key that verifies it",
			Responses: openapi.OK(openapi.Out[auditHeadJSON]())}})
}

func ctx(c *fiber.Ctx) context.Context { return c.UserContext() }

func (s *Server) health(c *fiber.Ctx) error {
	cx, cancel := context.WithTimeout(ctx(c), 2*time.Second)
	defer cancel()
	if err := s.deps.Store.Ping(cx); err != nil {
		s.log.Warn("health check failed", "request_id", requestID(c), "store", s.deps.Store.Name(), "error", err.Error())
		c.Set(fiber.HeaderRetryAfter, retryAfter)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "store": s.deps.Store.Name()})
	}
	out := fiber.Map{"status": "ok", "store": s.deps.Store.Name()}
	// A store that reads but cannot write (disk full, read-only) is degraded, not down: reads
	// keep working, so the answer stays 200 and says why writes get 503.
	if d, ok := s.deps.Store.(interface{ Degraded() (string, time.Time) }); ok {
		if reason, since := d.Degraded(); reason != "" {
			out["status"], out["reason"], out["since"] = "degraded", reason, since
		}
	}
	// Whether a change and its audit entry commit together (a store that cannot say is not asked).
	if t, ok := s.deps.Store.(interface{ Transactions() bool }); ok {
		out["transactions"] = t.Transactions()
	}
	// How the live streams learn of events stored by other replicas.
	if s.deps.Live != nil {
		out["live"] = s.deps.Live.Mode()
	}
	return c.JSON(out)
}

func (s *Server) me(c *fiber.Ctx) error {
	a := actor(c)
	return c.JSON(fiber.Map{"token_id": a.TokenID, "role": a.Role, "firm_id": a.FirmID, "merchant_id": a.MerchantID, "staff_id": a.StaffID})
}

func (s *Server) issueToken(c *fiber.Ctx) error {
	var req tokenReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	in := courier.TokenInput{Role: credtrace.Role(req.Role), FirmID: req.FirmID, MerchantID: req.MerchantID, StaffID: req.StaffID, Label: req.Label}
	if req.ExpiresAt != nil {
		in.ExpiresAt = *req.ExpiresAt
	}
	t, secret, err := s.deps.Courier.IssueToken(ctx(c), actor(c), in)
	if err != nil {
		return err
	}
	out := tokenOut(t)
	out.Token = secret
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	items, next, err := s.deps.Courier.Tokens(ctx(c), actor(c), courier.TokenQuery{FirmID: c.Query("firm_id")}, c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next, tokenOut))
}

func (s *Server) rotateToken(c *fiber.Ctx) error {
	t, secret, err := s.deps.Courier.RotateToken(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	out := tokenOut(t)
	out.Token = secret
	return c.JSON(out)
}

func (s *Server) revokeToken(c *fiber.Ctx) error {
	if err := s.deps.Courier.RevokeToken(ctx(c), actor(c), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) createFirm(c *fiber.Ctx) error {
	var req firmCreateReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	f, err := s.deps.Courier.CreateFirm(ctx(c), actor(c), courier.FirmInput{USCC: req.USCC, Name: req.Name,
		Kind: courier.FirmKind(req.Kind), ParentID: req.ParentID, Region: req.Region, Licence: req.Licence.toDomain(), GLN: req.GLN})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(firmOut(f))
}

func (s *Server) patchFirm(c *fiber.Ctx) error {
	var req firmPatchReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	p := courier.FirmPatch{Name: req.Name, ParentID: req.ParentID, Region: req.Region, GLN: req.GLN}
	if req.Licence != nil {
		l := req.Licence.toDomain()
		p.Licence = &l
	}
	f, err := s.deps.Courier.UpdateFirm(ctx(c), actor(c), c.Params("id"), p)
	if err != nil {
		return err
	}
	return c.JSON(firmOut(f))
}

func (s *Server) getFirm(c *fiber.Ctx) error {
	f, err := s.deps.Courier.Firm(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(firmOut(f))
}

func (s *Server) listFirms(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	q := courier.FirmQuery{Kind: courier.FirmKind(c.Query("kind")), Region: c.Query("region"),
		Licence: courier.LicenceStatus(c.Query("licence_status")), Name: c.Query("name")}
	if p := c.Query("parent_id"); p != "" {
		q.ParentIDs = []string{p}
	}
	items, next, err := s.deps.Courier.Firms(ctx(c), actor(c), q, c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next, firmOut))
}

func (s *Server) createSite(c *fiber.Ctx) error {
	var req siteReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	site, err := s.deps.Courier.CreateSite(ctx(c), actor(c), c.Params("id"), req.toDomain())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(siteOut(site))
}

func (s *Server) listSites(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	items, next, err := s.deps.Courier.Sites(ctx(c), actor(c), c.Params("id"), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next, siteOut))
}

func (s *Server) getSite(c *fiber.Ctx) error {
	site, err := s.deps.Courier.Site(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(siteOut(site))
}

func (s *Server) putSite(c *fiber.Ctx) error {
	var req siteReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	site, err := s.deps.Courier.UpdateSite(ctx(c), actor(c), c.Params("id"), req.toDomain())
	if err != nil {
		return err
	}
	return c.JSON(siteOut(site))
}

func (s *Server) createStaff(c *fiber.Ctx) error {
	var req staffCreateReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	in := courier.StaffInput{Name: req.Name, IDNumber: req.IDNumber, Phone: req.Phone}
	if req.Employment != nil {
		e := req.Employment.toDomain()
		in.Employment = &e
	}
	p, err := s.deps.Courier.CreateStaff(ctx(c), actor(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(staffOut(p))
}

func (s *Server) listStaff(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	items, next, err := s.deps.Courier.StaffList(ctx(c), actor(c), c.Query("firm_id"), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next, staffOut))
}

func (s *Server) searchStaff(c *fiber.Ctx) error {
	var req staffSearchReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	p, err := s.deps.Courier.FindStaff(ctx(c), actor(c), req.IDNumber)
	if err != nil {
		return err
	}
	return c.JSON(staffOut(p))
}

func (s *Server) hireStaff(c *fiber.Ctx) error {
	var req hireReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	p, err := s.deps.Courier.Hire(ctx(c), actor(c), courier.HireInput{IDNumber: req.IDNumber, FirmID: req.FirmID, Role: req.Role, From: req.From.Time})
	if err != nil {
		return err
	}
	return c.JSON(staffOut(p))
}

// person proves, by the resident ID number and phone of the body, who an anonymous caller is.
func (s *Server) person(c *fiber.Ctx, idNumber, phone string) (credtrace.Caller, error) {
	return s.deps.Courier.Person(ctx(c), idNumber, phone, strings.Clone(c.IP()))
}

func (s *Server) personFile(c *fiber.Ctx) error {
	var req personReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	a, err := s.person(c, req.IDNumber, req.Phone)
	if err != nil {
		return err
	}
	return s.writeStaffFile(c, a, a.StaffID)
}

func (s *Server) personObjection(c *fiber.Ctx) error {
	var req personObjectionReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	a, err := s.person(c, req.IDNumber, req.Phone)
	if err != nil {
		return err
	}
	o, err := s.deps.Courier.FileObjection(ctx(c), a, courier.ObjectionInput{RecordID: req.RecordID, Reasons: req.Reasons, Evidence: evidenceIn(req.Evidence)})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(objectionOut(s.deps.Courier.Now())(o))
}

func (s *Server) getStaff(c *fiber.Ctx) error {
	p, err := s.deps.Courier.Staff(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(staffOut(p))
}

func (s *Server) patchStaff(c *fiber.Ctx) error {
	var req staffPatchReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	p, err := s.deps.Courier.UpdateStaff(ctx(c), actor(c), c.Params("id"), courier.StaffPatch{Name: req.Name, Phone: req.Phone})
	if err != nil {
		return err
	}
	return c.JSON(staffOut(p))
}

func (s *Server) startEmployment(c *fiber.Ctx) error {
	var req employmentReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	p, err := s.deps.Courier.StartEmployment(ctx(c), actor(c), c.Params("id"), req.toDomain())
	if err != nil {
		return err
	}
	return c.JSON(staffOut(p))
}

func (s *Server) endEmployment(c *fiber.Ctx) error {
	var req employmentEndReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	p, err := s.deps.Courier.EndEmployment(ctx(c), actor(c), c.Params("id"), req.To.Time)
	if err != nil {
		return err
	}
	return c.JSON(staffOut(p))
}

type fileJSON struct {
	Firm        *firmJSON                          `json:"firm,omitempty"`
	Staff       *staffJSON                         `json:"staff,omitempty"`
	Sites       []siteJSON                         `json:"sites,omitempty"`
	Records     map[string]map[string][]recordJSON `json:"records"`
	Counts      map[string]int                     `json:"counts"`
	Commitments []commitmentJSON                   `json:"commitments"`
	Objections  []objectionJSON                    `json:"objections"`
	Sanctions   []sanctionJSON                     `json:"sanctions,omitempty"`
	AsOf        time.Time                          `json:"as_of"`
}

// groupRecords arranges records by category, then status; every category is present.
func groupRecords(recs []courier.Record) (map[string]map[string][]recordJSON, map[string]int) {
	out := map[string]map[string][]recordJSON{}
	counts := map[string]int{}
	for _, cat := range courier.Categories {
		out[string(cat)] = map[string][]recordJSON{}
	}
	for _, r := range recs {
		out[string(r.Category)][string(r.Status)] = append(out[string(r.Category)][string(r.Status)], recordOut(r))
		counts[string(r.Status)]++
	}
	return out, counts
}

func commitmentsOut(cs []courier.Commitment) []commitmentJSON {
	out := make([]commitmentJSON, len(cs))
	for i, c := range cs {
		out[i] = commitmentOut(c)
	}
	return out
}

func objectionsOut(os []courier.Objection, now time.Time) []objectionJSON {
	conv := objectionOut(now)
	out := make([]objectionJSON, len(os))
	for i, o := range os {
		out[i] = conv(o)
	}
	return out
}

func (s *Server) firmFile(c *fiber.Ctx) error {
	f, err := s.deps.Courier.FirmFile(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	out, _, err := s.fileOf(c, f)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) staffFile(c *fiber.Ctx) error {
	return s.writeStaffFile(c, actor(c), c.Params("id"))
}

func (s *Server) writeStaffFile(c *fiber.Ctx, a credtrace.Caller, id string) error {
	f, err := s.deps.Courier.StaffFile(ctx(c), a, id)
	if err != nil {
		return err
	}
	p := staffOut(f.Staff)
	out := fileJSON{Staff: &p, Commitments: commitmentsOut(f.Commitments), Objections: objectionsOut(f.Objections, f.AsOf), AsOf: f.AsOf}
	out.Records, out.Counts = groupRecords(f.Records)
	return c.JSON(out)
}

func (s *Server) createRecord(c *fiber.Ctx) error {
	var req recordReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	r, err := s.deps.Courier.CreateRecord(ctx(c), actor(c), courier.RecordInput{
		Subject:  courier.Subject{Kind: courier.SubjectKind(req.Subject.Kind), ID: req.Subject.ID},
		Category: courier.Category(req.Category), Source: courier.Source(req.Source), Severity: courier.Severity(req.Severity),
		OccurredAt: req.OccurredAt.Time, DecidedAt: req.DecidedAt.Time, Summary: req.Summary, Evidence: evidenceIn(req.Evidence), LegalBasis: req.LegalBasis})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(recordOut(r))
}

func (s *Server) listRecords(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	q := courier.RecordQuery{Category: courier.Category(c.Query("category")), RepairPending: c.QueryBool("repair_pending")}
	if st := c.Query("status"); st != "" {
		q.Status = []courier.RecordStatus{courier.RecordStatus(st)}
	}
	if kind, id := c.Query("subject_kind"), c.Query("subject_id"); kind != "" || id != "" {
		if kind == "" || id == "" {
			return credtrace.InvalidField("subject_id", "subject_kind and subject_id go together")
		}
		q.Subject = &courier.Subject{Kind: courier.SubjectKind(kind), ID: id}
	}
	items, next, err := s.deps.Courier.Records(ctx(c), actor(c), q, c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next, recordOut))
}

func (s *Server) getRecord(c *fiber.Ctx) error {
	r, err := s.deps.Courier.Record(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(recordOut(r))
}

// optionalReason decodes {"reason": ...} when a body is given.
func (s *Server) optionalReason(c *fiber.Ctx) (string, error) {
	if len(c.Body()) == 0 {
		return "", nil
	}
	var req reasonReq
	if err := s.decode(c, &req); err != nil {
		return "", err
	}
	return req.Reason, nil
}

func (s *Server) confirmRecord(c *fiber.Ctx) error {
	reason, err := s.optionalReason(c)
	if err != nil {
		return err
	}
	r, err := s.deps.Courier.ConfirmRecord(ctx(c), actor(c), c.Params("id"), reason)
	if err != nil {
		return err
	}
	return c.JSON(recordOut(r))
}

func (s *Server) dismissRecord(c *fiber.Ctx) error {
	reason, err := s.optionalReason(c)
	if err != nil {
		return err
	}
	r, err := s.deps.Courier.DismissRecord(ctx(c), actor(c), c.Params("id"), reason)
	if err != nil {
		return err
	}
	return c.JSON(recordOut(r))
}

func (s *Server) requestRepair(c *fiber.Ctx) error {
	var req repairReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	r, err := s.deps.Courier.RequestRepair(ctx(c), actor(c), c.Params("id"), courier.RepairInput{Evidence: evidenceIn(req.Evidence), Commitment: req.Commitment})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(recordOut(r))
}

func (s *Server) decideRepair(c *fiber.Ctx) error {
	var req repairDecisionReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	r, err := s.deps.Courier.DecideRepair(ctx(c), actor(c), c.Params("id"), *req.Approve, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(recordOut(r))
}

func (s *Server) fileObjection(c *fiber.Ctx) error {
	var req objectionReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	o, err := s.deps.Courier.FileObjection(ctx(c), actor(c), courier.ObjectionInput{RecordID: req.RecordID, Reasons: req.Reasons, Evidence: evidenceIn(req.Evidence)})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(objectionOut(s.deps.Courier.Now())(o))
}

func (s *Server) listObjections(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	overdue := false
	if v := c.Query("overdue"); v != "" {
		if overdue, err = strconv.ParseBool(v); err != nil {
			return credtrace.InvalidField("overdue", "must be true or false")
		}
	}
	items, next, err := s.deps.Courier.Objections(ctx(c), actor(c), overdue, c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next, objectionOut(s.deps.Courier.Now())))
}

func (s *Server) getObjection(c *fiber.Ctx) error {
	o, err := s.deps.Courier.Objection(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(objectionOut(s.deps.Courier.Now())(o))
}

func (s *Server) decideObjection(c *fiber.Ctx) error {
	var req objectionDecisionReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	o, err := s.deps.Courier.DecideObjection(ctx(c), actor(c), c.Params("id"), courier.ObjectionStatus(req.Outcome), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(objectionOut(s.deps.Courier.Now())(o))
}

func (s *Server) createCommitment(c *fiber.Ctx) error {
	var req commitmentReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	cm, err := s.deps.Courier.CreateCommitment(ctx(c), actor(c), courier.CommitmentInput{
		Subject: courier.Subject{Kind: courier.SubjectKind(req.Subject.Kind), ID: req.Subject.ID},
		Text:    req.Text, Scope: req.Scope, Signer: req.Signer, SignedAt: req.SignedAt.Time})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(commitmentOut(cm))
}

func (s *Server) listCommitments(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	items, next, err := s.deps.Courier.Commitments(ctx(c), c.Query("firm_id"), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next, commitmentOut))
}

type disclosureJSON struct {
	USCC          string             `json:"uscc"`
	Name          string             `json:"name"`
	Kind          string             `json:"kind"`
	Region        string             `json:"region"`
	LicenceNumber string             `json:"licence_number"`
	LicenceStatus string             `json:"licence_status"`
	LicenceValid  *time.Time         `json:"licence_valid_to,omitempty"`
	Records       []publicRecordJSON `json:"records"`
	Commitments   []commitmentJSON   `json:"commitments"`
	Grade         *publicGradeJSON   `json:"grade,omitempty"`
	Sanctions     []sanctionJSON     `json:"sanctions"`
	AsOf          time.Time          `json:"as_of"`
}

// publicGradeJSON is a firm's grade of the latest published period.
type publicGradeJSON struct {
	Grade  string    `json:"grade"`
	Score  float64   `json:"score"`
	AsOf   time.Time `json:"as_of"`
	Method string    `json:"method"`
}

func (s *Server) disclose(c *fiber.Ctx) error {
	d, err := s.deps.Courier.Disclose(ctx(c), c.Params("uscc"))
	if err != nil {
		return err
	}
	out := disclosureJSON{USCC: d.Firm.USCC, Name: d.Firm.Name, Kind: string(d.Firm.Kind), Region: d.Firm.Region,
		LicenceNumber: d.Firm.Licence.Number, LicenceStatus: string(d.Firm.Licence.Status), LicenceValid: ts(d.Firm.Licence.ValidTo),
		Records: []publicRecordJSON{}, Commitments: commitmentsOut(d.Commitments), AsOf: d.AsOf}
	for _, r := range d.Records {
		out.Records = append(out.Records, publicRecordOut(r))
	}
	for i := range out.Commitments {
		out.Commitments[i].FirmID = ""
	}
	out.Sanctions = []sanctionJSON{}
	if s.deps.Scoring != nil {
		if sc, ok, err := s.deps.Scoring.PublishedGrade(ctx(c), d.Firm.ID); err != nil {
			return err
		} else if ok {
			out.Grade = &publicGradeJSON{Grade: string(sc.Grade), Score: sc.Value, AsOf: sc.AsOf, Method: sc.Method}
		}
		in, err := s.deps.Scoring.InForce(ctx(c), d.Firm.ID)
		if err != nil {
			return err
		}
		for _, x := range in {
			sj := sanctionOut(x)
			sj.RecordIDs, sj.ScoreRuns = []string{}, []string{}
			out.Sanctions = append(out.Sanctions, sj)
		}
	}
	return c.JSON(out)
}

// queryAfterSeq reads ?after=, the audit sequence number a page of the trail starts after.
func queryAfterSeq(c *fiber.Ctx) (int64, error) {
	v := c.Query("after")
	if v == "" {
		return 0, nil
	}
	after, err := strconv.ParseInt(v, 10, 64)
	if err != nil || after < 0 {
		return 0, credtrace.InvalidField("after", "must be a non-negative sequence number")
	}
	return after, nil
}

func (s *Server) listAudit(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	after, err := queryAfterSeq(c)
	if err != nil {
		return err
	}
	items, err := s.deps.Courier.AuditList(ctx(c), actor(c), after, limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, "", auditOut))
}

func (s *Server) verifyAudit(c *fiber.Ctx) error {
	res, err := s.deps.Courier.VerifyAudit(ctx(c), actor(c))
	if err != nil {
		return err
	}
	out := fiber.Map{"ok": res.OK, "entries": res.Entries, "checkpoint_seq": res.Checkpoint}
	if !res.OK {
		out["first_bad_seq"] = res.FirstBad
		out["reason"] = res.Reason
	}
	if res.CutTo != 0 {
		out["cut_from"], out["cut_to"] = res.CutFrom, res.CutTo
	}
	return c.JSON(out)
}

func (s *Server) createCheckpoint(c *fiber.Ctx) error {
	cp, created, err := s.deps.Courier.Checkpoint(ctx(c), actor(c))
	if err != nil {
		return err
	}
	if created {
		c.Status(fiber.StatusCreated)
	}
	return c.JSON(checkpointOut(cp))
}

func (s *Server) listCheckpoints(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	after, err := queryAfterSeq(c)
	if err != nil {
		return err
	}
	items, err := s.deps.Courier.Checkpoints(ctx(c), actor(c), after, limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, "", checkpointOut))
}

func (s *Server) auditHead(c *fiber.Ctx) error {
	cp, pub, ok, err := s.deps.Courier.AuditHead(ctx(c))
	if err != nil {
		return err
	}
	out := auditHeadJSON{Algorithm: "Ed25519"}
	if pub != nil {
		out.PublicKey, out.KeyID = base64.StdEncoding.EncodeToString(pub), courier.AuditKeyID(pub)
	}
	if ok {
		j := checkpointOut(cp)
		out.Checkpoint = &j
	}
	return c.JSON(out)
}
