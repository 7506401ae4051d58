package httpapi

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
)

func (s *Server) courierRoutes() {
	s.add("GET", "/healthz", "Service and store health", public, s.health)
	s.add("GET", "/openapi.json", "This OpenAPI document", public, s.openapi())
	s.add("GET", "/metrics", "Prometheus metrics (metrics tokens only)", []courier.Role{courier.RoleMetrics}, s.deps.Metrics.handler())
	s.add("GET", "/v1/me", "Who the token belongs to", anyToken, s.me)

	s.add("POST", "/v1/tokens", "Issue a token (firms: staff tokens for their own people)", firms, s.issueToken)
	s.add("DELETE", "/v1/tokens/:id", "Revoke a token", regulators, s.revokeToken)

	s.add("POST", "/v1/firms", "Register a firm", regulators, s.createFirm)
	s.add("GET", "/v1/firms", "List firms", firms, s.listFirms)
	s.add("GET", "/v1/firms/:id", "Get a firm", firms, s.getFirm)
	s.add("PATCH", "/v1/firms/:id", "Change a firm", regulators, s.patchFirm)
	s.add("GET", "/v1/firms/:id/file", "A firm's credit file", firms, s.firmFile)
	s.add("POST", "/v1/firms/:id/sites", "Register a site of a firm", firms, s.createSite)
	s.add("GET", "/v1/firms/:id/sites", "List a firm's sites", firms, s.listSites)
	s.add("GET", "/v1/sites/:id", "Get a site", firms, s.getSite)
	s.add("PUT", "/v1/sites/:id", "Replace a site's description", firms, s.putSite)

	s.add("POST", "/v1/staff", "Register a person", firms, s.createStaff)
	s.add("GET", "/v1/staff", "List staff", firms, s.listStaff)
	s.add("POST", "/v1/staff/search", "Find a person by resident ID number", regulators, s.searchStaff)
	s.add("POST", "/v1/staff/hire", "Hire a registered person by resident ID number", firms, s.hireStaff)
	s.add("GET", "/v1/staff/:id", "Get a person", firmsAndStaff, s.getStaff)
	s.add("PATCH", "/v1/staff/:id", "Change a person's name or phone", firms, s.patchStaff)
	s.add("POST", "/v1/staff/:id/employments", "Start an employment", firms, s.startEmployment)
	s.add("POST", "/v1/staff/:id/employments/end", "End the open employment", firms, s.endEmployment)
	s.add("GET", "/v1/staff/:id/file", "A person's credit file", firmsAndStaff, s.staffFile)

	s.add("POST", "/v1/records", "Enter a credit record", signedIn, s.createRecord)
	s.add("GET", "/v1/records", "List credit records", firms, s.listRecords)
	s.add("GET", "/v1/records/:id", "Get a credit record", firms, s.getRecord)
	s.add("POST", "/v1/records/:id/confirm", "Confirm a pending record", regulators, s.confirmRecord)
	s.add("POST", "/v1/records/:id/dismiss", "Dismiss a pending record", regulators, s.dismissRecord)
	s.add("POST", "/v1/records/:id/repair", "Ask for credit repair", firms, s.requestRepair)
	s.add("POST", "/v1/records/:id/repair/decision", "Decide a credit repair request", regulators, s.decideRepair)

	s.add("POST", "/v1/objections", "File an objection", firmsAndStaff, s.fileObjection)
	s.add("GET", "/v1/objections", "List objections (?overdue=true)", firms, s.listObjections)
	s.add("GET", "/v1/objections/:id", "Get an objection", firms, s.getObjection)
	s.add("POST", "/v1/objections/:id/decision", "Decide an objection", regulators, s.decideObjection)

	s.add("POST", "/v1/commitments", "Record a credit commitment", firms, s.createCommitment)
	s.add("GET", "/v1/commitments", "List credit commitments (public)", public, s.listCommitments)

	s.add("GET", "/v1/public/firms/:uscc", "Public disclosure of a firm", public, s.disclose)
	s.add("POST", "/v1/public/staff/file", "A person's own credit file, by resident ID number and phone", public, s.personFile)
	s.add("POST", "/v1/public/staff/objections", "A person's objection to a record about them, by resident ID number and phone", public, s.personObjection)

	s.add("GET", "/v1/audit", "Audit trail entries", regulators, s.listAudit)
	s.add("GET", "/v1/audit/verify", "Recompute the audit hash chain and check it against the latest signed checkpoint", regulators, s.verifyAudit)
	s.add("POST", "/v1/audit/checkpoints", "Sign and store a checkpoint of the audit trail's head now", regulators, s.createCheckpoint)
	s.add("GET", "/v1/audit/checkpoints", "Signed checkpoints of the audit trail, oldest first (export)", regulators, s.listCheckpoints)
	s.add("GET", "/v1/public/audit/head", "The latest signed checkpoint of the audit trail and the public key that verifies it", public, s.auditHead)
}

func ctx(c *fiber.Ctx) context.Context { return c.UserContext() }

func (s *Server) health(c *fiber.Ctx) error {
	cx, cancel := context.WithTimeout(ctx(c), 2*time.Second)
	defer cancel()
	if err := s.deps.Store.Ping(cx); err != nil {
		s.log.Warn("health check failed", "request_id", requestID(c), "store", s.deps.Store.Name(), "error", err.Error())
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "store": s.deps.Store.Name()})
	}
	out := fiber.Map{"status": "ok", "store": s.deps.Store.Name()}
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
	t, secret, err := s.deps.Courier.IssueToken(ctx(c), actor(c), courier.TokenInput{
		Role: courier.Role(req.Role), FirmID: req.FirmID, MerchantID: req.MerchantID, StaffID: req.StaffID, Label: req.Label})
	if err != nil {
		return err
	}
	out := tokenOut(t)
	out.Token = secret
	return c.Status(fiber.StatusCreated).JSON(out)
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
		Kind: courier.FirmKind(req.Kind), ParentID: req.ParentID, Region: req.Region, Licence: req.Licence.toDomain()})
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
	p := courier.FirmPatch{Name: req.Name, ParentID: req.ParentID, Region: req.Region}
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
func (s *Server) person(c *fiber.Ctx, idNumber, phone string) (courier.Actor, error) {
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
	firm := firmOut(f.Firm)
	out := fileJSON{Firm: &firm, Sites: []siteJSON{}, Commitments: commitmentsOut(f.Commitments),
		Objections: objectionsOut(f.Objections, f.AsOf), AsOf: f.AsOf}
	for _, site := range f.Sites {
		out.Sites = append(out.Sites, siteOut(site))
	}
	out.Records, out.Counts = groupRecords(f.Records)
	if s.deps.Scoring != nil {
		out.Sanctions = []sanctionJSON{}
		ss, err := s.deps.Scoring.Sanctions(ctx(c), scoring.Caller{Role: "regulator"}, scoring.SanctionQuery{FirmID: f.Firm.ID})
		if err != nil {
			return err
		}
		for _, x := range ss {
			out.Sanctions = append(out.Sanctions, sanctionOut(x))
		}
	}
	return c.JSON(out)
}

func (s *Server) staffFile(c *fiber.Ctx) error {
	return s.writeStaffFile(c, actor(c), c.Params("id"))
}

func (s *Server) writeStaffFile(c *fiber.Ctx, a courier.Actor, id string) error {
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
			return courier.Invalid("subject_id", "subject_kind and subject_id go together")
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
			return courier.Invalid("overdue", "must be true or false")
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
		return 0, courier.Invalid("after", "must be a non-negative sequence number")
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
