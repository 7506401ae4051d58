package httpapi

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/httpapi/openapi"
	"github.com/credtrace/credtrace/scoring"
)

var (
	merchants = []credtrace.Role{credtrace.RoleMerchant}
	platforms = []credtrace.Role{credtrace.RoleRegulator, credtrace.RolePlatform}
	// platformOnly: the ratings a platform pushes are its raters'; a regulator has none to push.
	platformOnly = []credtrace.Role{credtrace.RolePlatform}
)

// scoringRoutes declares the routes of scoring and sanctions, when the service has scoring.
func (s *Server) scoringRoutes() {
	if s.deps.Scoring == nil {
		return
	}
	s.add(Route{Method: "POST", Path: "/v1/ratings", Roles: merchants, handler: s.rate,
		Doc: &openapi.Operation{ID: "rate", Summary: "Rate a delivery of one of your waybills (merchants)",
			Body: openapi.JSON(openapi.In[ratingReq]()), Errors: []int{404, 409},
			Responses: []openapi.Response{{Status: 201, Desc: "A new rating", Body: openapi.JSON(openapi.Out[ratingJSON]())},
				{Status: 200, Desc: "The caller's earlier rating, edited", Body: openapi.JSON(openapi.Out[ratingJSON]())}}}})
	s.add(Route{Method: "POST", Path: "/v1/public/ratings", Roles: public, handler: s.rateAsRecipient,
		Doc: &openapi.Operation{ID: "rateAsRecipient", Summary: "Rate a delivery as its recipient (waybill and phone check)",
			Body: openapi.JSON(openapi.In[ratingReq]()), Errors: []int{404, 409},
			BodyDesc: "phone4 (the last four digits of the recipient's phone) entitles the rater",
			Responses: []openapi.Response{{Status: 201, Desc: "A new rating", Body: openapi.JSON(openapi.Out[ratingJSON]())},
				{Status: 200, Desc: "The rater's earlier rating, edited", Body: openapi.JSON(openapi.Out[ratingJSON]())}}}})
	s.add(Route{Method: "POST", Path: "/v1/platform/ratings", Roles: platformOnly, handler: s.pushRatings, limit: MaxBodyLimit,
		Doc: &openapi.Operation{ID: "pushRatings", Summary: "Push the ratings a platform's merchants and buyers gave (JSON array or NDJSON, up to 10,000)",
			Body: []openapi.Content{
				{Media: fiber.MIMEApplicationJSON, Schema: openapi.Describe(openapi.Array(openapi.In[platformRatingReq]()).WithMaxItems(scoring.MaxRatingBatch), "A JSON array of ratings")},
				{Media: "application/x-ndjson", Schema: openapi.String("One rating object per line, as in the JSON array")}},
			BodyDesc: "Each rating is answered on its own: a rejected one (with its index and reason) stops none of the others. rated_at is when the rater gave it: " +
				"no later than now, no earlier than the parcel's delivery. A merchant's rating (merchant_id) is of a parcel that merchant shipped; a buyer's (buyer_id, the platform's pseudonym) of a delivered parcel",
			Responses: openapi.OK(openapi.Out[platformRatingsJSON]()),
			Example: []any{map[string]any{"waybill": "{delivered_waybill}", "stars": 1, "rated_at": "2026-05-31T20:00:00+08:00", "rater_kind": "merchant", "merchant_id": "M-001"},
				map[string]any{"waybill": "{delivered_waybill}", "stars": 5, "rated_at": "2026-05-31T21:00:00+08:00", "rater_kind": "consumer", "buyer_id": "b-7f3a"}}}})
	s.add(Route{Method: "GET", Path: "/v1/firms/:id/score", Roles: firms, handler: s.subjectScore(scoring.Firm),
		Doc: &openapi.Operation{ID: "firmScore", Summary: "A firm's score, its explanation and history",
			Responses: openapi.OK(oaScoreView)}})
	s.add(Route{Method: "GET", Path: "/v1/sites/:id/score", Roles: firms, handler: s.subjectScore(scoring.Site),
		Doc: &openapi.Operation{ID: "siteScore", Summary: "A site's score, its explanation and history",
			Responses: openapi.OK(oaScoreView)}})
	s.add(Route{Method: "GET", Path: "/v1/staff/:id/score", Roles: firms, handler: s.subjectScore(scoring.Staff),
		Doc: &openapi.Operation{ID: "staffScore", Summary: "A courier's score, its explanation and history",
			Responses: openapi.OK(oaScoreView)}})
	s.add(Route{Method: "POST", Path: "/v1/scoring/runs", Roles: regulators, handler: s.startRun,
		Doc: &openapi.Operation{ID: "startRun", Summary: "Start a scoring run",
			Body: openapi.JSON(openapi.In[runReq]()), Optional: true, Errors: []int{409},
			BodyDesc: "A publishing run publishes one period that has ended (period, or the last one ended at as_of) as of its end; " +
				"a period published already is 409 unless reason gives a regulator's reason, and then its grades are replaced. Without publish: a preview of the period in progress",
			Responses: []openapi.Response{{Status: 201, Desc: "The run, finished", Body: openapi.JSON(openapi.Out[runJSON]())},
				{Status: 202, Desc: "The run, still running: follow it at GET /v1/scoring/runs/{id}", Body: openapi.JSON(openapi.Out[runJSON]())}}}})
	s.add(Route{Method: "GET", Path: "/v1/scoring/runs", Roles: regulators, handler: s.listRuns,
		Doc: &openapi.Operation{ID: "listRuns", Summary: "Recent scoring runs",
			Responses: openapi.OK(openapi.Out[listJSON[runJSON]]()),
			Params:    []openapi.Param{{Name: "limit", Desc: "The latest this many runs (default 20, at most 500)", Schema: openapi.Range(1, 500, 20)}}}})
	s.add(Route{Method: "GET", Path: "/v1/scoring/runs/:id", Roles: regulators, handler: s.getRun,
		Doc: &openapi.Operation{ID: "getRun", Summary: "A scoring run: as-of, methodology, inputs, progress, outcome",
			Responses: openapi.OK(openapi.Out[runJSON]())}})
	s.add(Route{Method: "GET", Path: "/v1/scoring/runs/:id/inputs", Roles: regulators, handler: s.runInputs,
		Doc: &openapi.Operation{ID: "runInputs", Summary: "The inputs a run used, as NDJSON: a header line, then one line per input",
			Responses: []openapi.Response{{Status: 200, Desc: "The inputs the run used, as of its as-of time", Body: []openapi.Content{{Media: "application/x-ndjson",
				Schema: openapi.String("First a header line {\"type\":\"run\",\"run_id\",\"as_of\",\"period\",\"method\",\"method_hash\",\"inputs_hash\",\"stats_from\"}, " +
					"then one line per input: firm, site, staff, record (with the status used), stat (the window's totals), rating (as it was at as_of), commitment")}}}}}})
	s.add(Route{Method: "GET", Path: "/v1/scoring/method", Roles: public, handler: s.getMethod,
		Doc: &openapi.Operation{ID: "getMethod", Summary: "The current scoring methodology (public)",
			Responses: openapi.OK(oaMethodology)}})
	s.add(Route{Method: "PUT", Path: "/v1/scoring/method", Roles: regulators, handler: s.putMethod,
		Doc: &openapi.Operation{ID: "putMethod", Summary: "Store a new methodology version",
			Body: openapi.JSON(oaMethodology), Raw: true, Errors: []int{400, 409},
			BodyDesc: "A new version: its label not stored yet, effective_from no earlier than now and unlike any other version's",
			Responses: []openapi.Response{{Status: 201, Desc: "The new version", Body: openapi.JSON(openapi.Out[methodJSON]())},
				{Status: 200, Desc: "The same label with the same text was stored already: the stored version", Body: openapi.JSON(openapi.Out[methodJSON]())}}}})
	s.add(Route{Method: "GET", Path: "/v1/scoring/methods", Roles: public, handler: s.listMethods,
		Doc: &openapi.Operation{ID: "listMethods", Summary: "Every methodology version, in the order they take effect (public)",
			Responses: openapi.OK(openapi.Out[listJSON[methodJSON]]())}})
	s.add(Route{Method: "GET", Path: "/v1/scoring/methods/:version", Roles: public, handler: s.getMethodVersion,
		Doc: &openapi.Operation{ID: "getMethodVersion", Summary: "One methodology version, as stored (public)",
			Responses: openapi.OK(oaMethodology)}})
	s.add(Route{Method: "GET", Path: "/v1/sanctions", Roles: firms, handler: s.listSanctions,
		Doc: &openapi.Operation{ID: "listSanctions", Summary: "List proposals and sanctions (?status=&kind=&firm_id=)",
			Responses: openapi.OK(openapi.Out[listJSON[sanctionJSON]]()), Params: oaIDPaged(
				openapi.QueryEnum("status", "", scoring.Proposed, scoring.Reviewed, scoring.Approved, scoring.Rejected, scoring.Lifted, scoring.Withdrawn),
				openapi.QueryEnum("kind", "", scoring.RedList, scoring.BlackList, scoring.PublicExposure, scoring.PlatformRestriction,
					scoring.Suspension, scoring.RevocationProposal),
				openapi.Query("firm_id", "Sanctions of this firm"))}})
	s.add(Route{Method: "GET", Path: "/v1/sanctions/:id", Roles: firms, handler: s.getSanction,
		Doc: &openapi.Operation{ID: "getSanction", Summary: "A proposal or sanction",
			Responses: openapi.OK(openapi.Out[sanctionJSON]())}})
	s.add(Route{Method: "POST", Path: "/v1/sanctions/:id/decision", Roles: regulators, handler: s.decideSanction,
		Doc: &openapi.Operation{ID: "decideSanction", Summary: "Approve or reject a proposal",
			Body: openapi.JSON(openapi.In[decisionReq]()), Responses: openapi.OK(openapi.Out[sanctionJSON]()),
			Errors: []int{409}}})
	s.add(Route{Method: "POST", Path: "/v1/sanctions/:id/lift", Roles: regulators, handler: s.liftSanction,
		Doc: &openapi.Operation{ID: "liftSanction", Summary: "Lift a sanction in force",
			Body: openapi.JSON(openapi.In[reasonReq]()), Responses: openapi.OK(openapi.Out[sanctionJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "GET", Path: "/v1/supervision", Roles: regulators, handler: s.supervision,
		Doc: &openapi.Operation{ID: "supervision", Summary: "Classified supervision: inspection frequency and mandatory reviews",
			Responses: openapi.OK(openapi.Out[listJSON[supervisionJSON]]())}})
	s.add(Route{Method: "GET", Path: "/v1/platform/eligibility/:uscc", Roles: platforms, handler: s.eligibility,
		Doc: &openapi.Operation{ID: "eligibility", Summary: "May a platform onboard this courier firm?",
			Responses: openapi.OK(openapi.Object(
				openapi.Req("uscc", openapi.String("")), openapi.Req("name", openapi.String("")),
				openapi.Req("allowed", &openapi.Schema{Type: "boolean", Description: "May a platform onboard the firm"}),
				openapi.Req("reasons", openapi.Array(openapi.String(""))),
				openapi.Req("grade", openapi.Enum("The latest published grade; empty when none", scoring.GradeA, scoring.GradeB, scoring.GradeC,
					scoring.GradeD, scoring.Insufficient, "")),
				openapi.Req("score", &openapi.Schema{Type: "number"}),
				openapi.Req("sanctions", openapi.Array(openapi.Out[sanctionJSON]()))))}})
	s.add(Route{Method: "GET", Path: "/v1/public/redlist", Roles: public, handler: s.publicList(scoring.RedList),
		Doc: &openapi.Operation{ID: "redList", Summary: "Firms on the red list",
			Responses: openapi.OK(oaListEntries)}})
	s.add(Route{Method: "GET", Path: "/v1/public/blacklist", Roles: public, handler: s.publicList(scoring.BlackList),
		Doc: &openapi.Operation{ID: "blackList", Summary: "Firms on the black list",
			Responses: openapi.OK(oaListEntries)}})
}

// runWait is how long POST /v1/scoring/runs waits for a run before answering 202.
const runWait = 10 * time.Second

type ratingReq struct {
	Waybill string   `json:"waybill" validate:"required,max=40"`
	Carrier string   `json:"carrier" validate:"max=100"` // firm id or USCC: which carrier's parcel, when several use the waybill
	Stars   int      `json:"stars" validate:"required"`
	Tags    []string `json:"tags" validate:"max=8"`
	Comment string   `json:"comment" validate:"max=500"`
	Phone4  string   `json:"phone4"`
}

type ratingJSON struct {
	ID        string    `json:"id"`
	Waybill   string    `json:"waybill"`
	FirmID    string    `json:"firm_id"`
	Stars     int       `json:"stars"`
	Tags      []string  `json:"tags"`
	Comment   string    `json:"comment,omitempty"`
	Weight    float64   `json:"weight"`
	Flags     []string  `json:"flags"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *Server) rate(c *fiber.Ctx) error { return s.rateAs(c, actor(c)) }

// rateAsRecipient rates as the parcel's recipient, whoever holds a token: the phone check is
// what entitles a consumer.
func (s *Server) rateAsRecipient(c *fiber.Ctx) error {
	return s.rateAs(c, credtrace.Caller{Role: credtrace.RolePublic})
}

func (s *Server) rateAs(c *fiber.Ctx, who credtrace.Caller) error {
	var req ratingReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	carrier, err := s.carrierOf(c, req.Carrier)
	if err != nil {
		return err
	}
	r, err := s.deps.Scoring.Rate(ctx(c), who, scoring.RatingInput{Waybill: req.Waybill, Carrier: carrier, Stars: req.Stars, Tags: req.Tags, Comment: req.Comment, Phone4: req.Phone4})
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if r.Version > 1 {
		status = fiber.StatusOK
	}
	return c.Status(status).JSON(ratingJSON{ID: r.ID, Waybill: r.Waybill, FirmID: r.FirmID, Stars: r.Stars, Tags: nonNil(r.Tags), Comment: r.Comment,
		Weight: r.Weight, Flags: nonNil(r.Flags), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt})
}

// platformRatingReq is one rating a platform pushes.
type platformRatingReq struct {
	Waybill    string   `json:"waybill" validate:"required,max=40"`
	Carrier    string   `json:"carrier" validate:"max=100"` // firm id or USCC, when several carriers use the waybill
	Stars      int      `json:"stars" validate:"required"`
	Tags       []string `json:"tags" validate:"max=8"`
	Comment    string   `json:"comment" validate:"max=500"`
	RatedAt    string   `json:"rated_at" validate:"required"`   // RFC 3339, read by pushRatings so that a bad one is named
	RaterKind  string   `json:"rater_kind" validate:"required"` // merchant or consumer
	MerchantID string   `json:"merchant_id" validate:"max=100"` // the rater, for rater_kind merchant
	BuyerID    string   `json:"buyer_id" validate:"max=100"`    // the platform's pseudonymous buyer id, for rater_kind consumer
}

type platformRatingsJSON struct {
	Accepted int                      `json:"accepted"`
	Rejected int                      `json:"rejected"`
	Results  []platformRatingItemJSON `json:"results"`
}

type platformRatingItemJSON struct {
	Index    int      `json:"index"`
	Status   string   `json:"status"` // accepted or rejected
	Reason   string   `json:"reason,omitempty"`
	RatingID string   `json:"rating_id,omitempty"`
	Weight   *float64 `json:"weight,omitempty"`
	Flags    []string `json:"flags,omitempty"`
}

// pushRatings records a platform's batch of ratings, each answered on its own.
func (s *Server) pushRatings(c *fiber.Ctx) error {
	reqs, bad, err := decodeBatch[platformRatingReq](c, "ratings", "rating", scoring.MaxRatingBatch)
	if err != nil {
		return err
	}
	out := platformRatingsJSON{Results: make([]platformRatingItemJSON, len(reqs))}
	var items []scoring.PlatformRating
	var index []int // items[n] is the body's element index[n]
	for i, r := range reqs {
		out.Results[i] = platformRatingItemJSON{Index: i, Status: "rejected", Reason: bad[i]}
		if _, rejected := bad[i]; rejected {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, r.RatedAt)
		if err != nil && r.RatedAt != "" {
			out.Results[i].Reason = "rated_at: must be an RFC 3339 time"
			continue
		}
		carrier, err := s.carrierOf(c, r.Carrier)
		if errors.Is(err, credtrace.ErrNotFound) {
			out.Results[i].Reason = "waybill: no delivered parcel of this rater with this waybill"
			continue
		} else if err != nil {
			return err
		}
		rater := r.MerchantID
		if r.RaterKind == string(scoring.RaterConsumer) {
			rater = r.BuyerID
		}
		items = append(items, scoring.PlatformRating{
			RatingInput: scoring.RatingInput{Waybill: r.Waybill, Carrier: carrier, Stars: r.Stars, Tags: r.Tags, Comment: r.Comment},
			RaterKind:   scoring.RaterKind(r.RaterKind), RaterID: rater, RatedAt: at})
		index = append(index, i)
	}
	res, err := s.deps.Scoring.RatePlatform(ctx(c), actor(c), items)
	if err != nil {
		return err
	}
	for _, o := range res {
		x := &out.Results[index[o.Index]]
		if o.Err != nil {
			x.Reason = itemReason(o.Err)
			continue
		}
		w := o.Rating.Weight
		x.Status, x.RatingID, x.Weight, x.Flags = "accepted", o.Rating.ID, &w, nonNil(o.Rating.Flags)
	}
	for _, x := range out.Results {
		if x.Status == "accepted" {
			out.Accepted++
		} else {
			out.Rejected++
		}
	}
	return c.JSON(out)
}

// itemReason is why an item of a batch was rejected: its offending fields, else the message.
func itemReason(err error) string {
	fs := credtrace.FieldsOf(err)
	if len(fs) == 0 {
		return err.Error()
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Field + ": " + f.Reason
	}
	return strings.Join(parts, "; ")
}

type itemJSON struct {
	Kind   string  `json:"kind"`
	Ref    string  `json:"ref"`
	Effect float64 `json:"effect"`
	Detail string  `json:"detail,omitempty"`
}

type componentJSON struct {
	Party       string     `json:"party"`
	Value       float64    `json:"value"`
	Weight      float64    `json:"weight"`
	Uncertainty float64    `json:"uncertainty"`
	Detail      string     `json:"detail"`
	Items       []itemJSON `json:"items"`
}

type scoreJSON struct {
	RunID       string          `json:"run_id"`
	Subject     string          `json:"subject"`
	SubjectID   string          `json:"subject_id"`
	AsOf        time.Time       `json:"as_of"`
	Method      string          `json:"method"`
	MethodHash  string          `json:"method_hash"`
	Value       float64         `json:"score"`
	Uncertainty float64         `json:"uncertainty"`
	Grade       string          `json:"grade"`
	PeerGroup   string          `json:"peer_group"`
	Percentile  float64         `json:"percentile"`
	Parcels     int             `json:"parcels"`
	Published   bool            `json:"published"`
	Period      string          `json:"period"`
	Components  []componentJSON `json:"components,omitempty"`
}

func scoreOut(sc scoring.Score, explain bool) scoreJSON {
	out := scoreJSON{RunID: sc.RunID, Subject: string(sc.Subject), SubjectID: sc.SubjectID, AsOf: sc.AsOf, Method: sc.Method, MethodHash: sc.MethodHash, Value: sc.Value,
		Uncertainty: sc.Uncertainty, Grade: string(sc.Grade), PeerGroup: sc.PeerGroup, Percentile: sc.Percentile, Parcels: sc.Parcels, Published: sc.Published, Period: sc.Period}
	if explain {
		out.Components = []componentJSON{}
		for _, cp := range sc.Components {
			cj := componentJSON{Party: cp.Party, Value: cp.Value, Weight: cp.Weight, Uncertainty: cp.Uncertainty, Detail: cp.Detail, Items: []itemJSON{}}
			for _, it := range cp.Items {
				cj.Items = append(cj.Items, itemJSON{Kind: it.Kind, Ref: it.Ref, Effect: it.Effect, Detail: it.Detail})
			}
			out.Components = append(out.Components, cj)
		}
	}
	return out
}

func (s *Server) subjectScore(kind scoring.SubjectKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := s.deps.Scoring.SubjectScore(ctx(c), actor(c), kind, c.Params("id"))
		if err != nil {
			return err
		}
		out := fiber.Map{"current": nil, "history": []scoreJSON{}}
		if v.Current != nil {
			out["current"] = scoreOut(*v.Current, true)
		}
		hist := []scoreJSON{}
		for _, sc := range v.History {
			hist = append(hist, scoreOut(sc, false))
		}
		out["history"] = hist
		return c.JSON(out)
	}
}

type runReq struct {
	AsOf    *Time `json:"as_of"`
	Publish bool  `json:"publish"`
	// Period is the period a publishing run publishes (default: the last one that has ended).
	Period string `json:"period" validate:"max=10"`
	// Reason is a regulator's reason to publish a period again, replacing its grades.
	Reason string `json:"reason" validate:"max=500"`
}

type runJSON struct {
	ID         string         `json:"id"`
	AsOf       time.Time      `json:"as_of"`
	Method     string         `json:"method"`
	MethodHash string         `json:"method_hash"`
	Trigger    string         `json:"trigger"`
	Publish    bool           `json:"publish"`
	Period     string         `json:"period"`
	Reason     string         `json:"reason,omitempty"`
	Replaces   string         `json:"replaces,omitempty"`
	Superseded string         `json:"superseded_by,omitempty"`
	InputsHash string         `json:"inputs_hash,omitempty"`
	Status     string         `json:"status"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	DurationMS int64          `json:"duration_ms,omitempty"`
	Inputs     map[string]int `json:"inputs"`
	Progress   int            `json:"progress"`
	Total      int            `json:"total"`
	Proposals  int            `json:"proposals"`
	Error      string         `json:"error,omitempty"`
}

func runOut(r scoring.Run) runJSON {
	out := runJSON{ID: r.ID, AsOf: r.AsOf, Method: r.Method, MethodHash: r.MethodHash, Trigger: r.Trigger, Publish: r.Publish, Status: string(r.Status), StartedAt: r.StartedAt,
		Period: r.Period, Reason: r.Reason, Replaces: r.Replaces, Superseded: r.SupersededBy, InputsHash: r.InputsHash,
		FinishedAt: ts(r.FinishedAt), Inputs: r.Inputs, Progress: r.Progress, Total: r.Total, Proposals: r.Proposals, Error: r.Error}
	if out.Inputs == nil {
		out.Inputs = map[string]int{}
	}
	if !r.FinishedAt.IsZero() {
		out.DurationMS = r.FinishedAt.Sub(r.StartedAt).Milliseconds()
	}
	return out
}

// startRun answers 202 once the run is recorded; the run goes on in the background.
func (s *Server) startRun(c *fiber.Ctx) error {
	var req runReq
	if len(c.Body()) > 0 {
		if err := s.decode(c, &req); err != nil {
			return err
		}
	}
	var asOf time.Time
	if req.AsOf != nil {
		asOf = req.AsOf.Time
	}
	r, finish, err := s.deps.Scoring.Begin(ctx(c), actor(c), scoring.RunRequest{AsOf: asOf, Trigger: "manual", Publish: req.Publish, Period: req.Period, Reason: req.Reason})
	if errors.Is(err, scoring.ErrLeaseHeld) {
		return &apiError{status: fiber.StatusConflict, code: "run_in_progress", msg: err.Error()}
	}
	if err != nil {
		return err
	}
	done := make(chan scoring.Run, 1)
	go func() {
		fin, err := finish(context.Background())
		if err != nil {
			s.log.Error("scoring run failed", "run", r.ID, "error", err.Error())
		}
		s.deps.Metrics.run(string(fin.Status), fin.FinishedAt.Sub(fin.StartedAt))
		done <- fin
	}()
	// A district's run takes moments: answer with its outcome when it is quick, else at once
	// with the running run, whose progress GET /v1/scoring/runs/{id} shows.
	select {
	case fin := <-done:
		return c.Status(fiber.StatusCreated).JSON(runOut(fin))
	case <-time.After(runWait):
		return c.Status(fiber.StatusAccepted).JSON(runOut(r))
	}
}

func (s *Server) listRuns(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = 20
	}
	rs, err := s.deps.Scoring.Runs(ctx(c), actor(c), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(rs, "", runOut))
}

func (s *Server) getRun(c *fiber.Ctx) error {
	r, err := s.deps.Scoring.Run(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(runOut(r))
}

// runInputs streams the inputs of a run as NDJSON. They are read first, so that a failure is
// still an error status; only the encoding streams.
func (s *Server) runInputs(c *fiber.Ctx) error {
	h, in, err := s.deps.Scoring.RunInputs(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="run-`+h.RunID+`-inputs.ndjson"`)
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		if err := scoring.WriteInputs(w, h, in); err != nil {
			s.log.Warn("inputs export cut short", "run", h.RunID, "error", err.Error())
		}
	}))
	return nil
}

// sendMethod answers a methodology document exactly as stored, its version and hash in headers.
func sendMethod(c *fiber.Ctx, d scoring.MethodDoc) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set("X-Method-Version", d.Version)
	c.Set("X-Method-Hash", d.Hash)
	return c.SendString(d.Doc)
}

func (s *Server) getMethod(c *fiber.Ctx) error {
	_, doc, err := s.deps.Scoring.CurrentMethod(ctx(c))
	if err != nil {
		return err
	}
	return sendMethod(c, doc)
}

func (s *Server) getMethodVersion(c *fiber.Ctx) error {
	d, err := s.deps.Scoring.MethodVersion(ctx(c), c.Params("version"))
	if err != nil {
		return err
	}
	return sendMethod(c, d)
}

type methodJSON struct {
	Version       string     `json:"version"`
	EffectiveFrom time.Time  `json:"effective_from"`
	Hash          string     `json:"hash"`
	InForce       bool       `json:"in_force"`
	Builtin       bool       `json:"builtin"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
}

func methodOut(d scoring.MethodDoc, inForce string) methodJSON {
	return methodJSON{Version: d.Version, EffectiveFrom: d.EffectiveFrom, Hash: d.Hash, InForce: d.Version == inForce,
		Builtin: d.Builtin, CreatedAt: ts(d.CreatedAt)}
}

func (s *Server) listMethods(c *fiber.Ctx) error {
	all, err := s.deps.Scoring.Methods(ctx(c))
	if err != nil {
		return err
	}
	_, now, err := s.deps.Scoring.CurrentMethod(ctx(c))
	if err != nil {
		return err
	}
	out := listJSON[methodJSON]{Items: []methodJSON{}}
	for _, d := range all {
		out.Items = append(out.Items, methodOut(d, now.Version))
	}
	return c.JSON(out)
}

func (s *Server) putMethod(c *fiber.Ctx) error {
	if err := checkJSON(c.Body(), ""); err != nil {
		return err
	}
	d, created, err := s.deps.Scoring.PutMethod(ctx(c), actor(c), string(c.Body()))
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	_, now, err := s.deps.Scoring.CurrentMethod(ctx(c))
	if err != nil {
		return err
	}
	return c.Status(status).JSON(methodOut(d, now.Version))
}

type sanctionJSON struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	FirmID     string     `json:"firm_id"`
	Rule       string     `json:"rule"`
	Reason     string     `json:"reason"`
	LegalBasis string     `json:"legal_basis"`
	RecordIDs  []string   `json:"record_ids"`
	ScoreRuns  []string   `json:"score_runs"`
	Status     string     `json:"status"`
	ProposedAt time.Time  `json:"proposed_at"`
	ProposedBy string     `json:"proposed_by"`
	FourEyes   bool       `json:"four_eyes"` // needs a review and a decision by two regulators
	ReviewedAt *time.Time `json:"reviewed_at,omitempty"`
	ReviewedBy string     `json:"reviewed_by,omitempty"`
	Review     string     `json:"review_reason,omitempty"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	DecidedBy  string     `json:"decided_by,omitempty"`
	Decision   string     `json:"decision,omitempty"`
	Start      *time.Time `json:"start,omitempty"`
	End        *time.Time `json:"end,omitempty"`
	LiftedAt   *time.Time `json:"lifted_at,omitempty"`
	LiftReason string     `json:"lift_reason,omitempty"`
	Period     string     `json:"period,omitempty"` // the evaluation period whose publication proposed it
}

func sanctionOut(x scoring.Sanction) sanctionJSON {
	return sanctionJSON{ID: x.ID, Kind: string(x.Kind), FirmID: x.FirmID, Rule: x.Rule, Reason: x.Reason, LegalBasis: x.LegalBasis,
		RecordIDs: nonNil(x.RecordIDs), ScoreRuns: nonNil(x.ScoreRuns), Status: string(x.Status), ProposedAt: x.ProposedAt,
		ProposedBy: x.ProposedBy, FourEyes: x.Kind.FourEyes(), ReviewedAt: ts(x.ReviewedAt), ReviewedBy: x.ReviewedBy, Review: x.ReviewReason,
		DecidedAt: ts(x.DecidedAt), DecidedBy: x.DecidedBy, Decision: x.Decision, Start: ts(x.Start), End: ts(x.End), LiftedAt: ts(x.LiftedAt), LiftReason: x.LiftReason,
		Period: x.Period}
}

func (s *Server) listSanctions(c *fiber.Ctx) error {
	after, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	q := scoring.SanctionQuery{FirmID: c.Query("firm_id"), Kind: scoring.SanctionKind(c.Query("kind")), After: after, Limit: limit + 1}
	if st := c.Query("status"); st != "" {
		q.Status = []scoring.SanctionStatus{scoring.SanctionStatus(st)}
	}
	items, err := s.deps.Scoring.Sanctions(ctx(c), actor(c), q)
	if err != nil {
		return err
	}
	return c.JSON(pageOut(items, limit, func(x scoring.Sanction) string { return x.ID }, sanctionOut))
}

func (s *Server) getSanction(c *fiber.Ctx) error {
	x, err := s.deps.Scoring.Sanction(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(sanctionOut(x))
}

type decisionReq struct {
	Approve *bool  `json:"approve" validate:"required"`
	Reason  string `json:"reason" validate:"required,max=2000"`
}

func (s *Server) decideSanction(c *fiber.Ctx) error {
	var req decisionReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	x, err := s.deps.Scoring.Decide(ctx(c), actor(c), c.Params("id"), *req.Approve, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(sanctionOut(x))
}

func (s *Server) liftSanction(c *fiber.Ctx) error {
	var req reasonReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	x, err := s.deps.Scoring.Lift(ctx(c), actor(c), c.Params("id"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(sanctionOut(x))
}

type supervisionJSON struct {
	FirmID             string  `json:"firm_id"`
	Grade              string  `json:"grade"`
	Percentile         float64 `json:"percentile"`
	InspectionsPerYear int     `json:"inspections_per_year"`
	WorstDecilePeriods int     `json:"worst_decile_periods"`
	MandatoryReview    bool    `json:"mandatory_review"`
}

func (s *Server) supervision(c *fiber.Ctx) error {
	sv, err := s.deps.Scoring.Supervise(ctx(c), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(listOf(sv, "", func(x scoring.Supervision) supervisionJSON {
		return supervisionJSON{FirmID: x.FirmID, Grade: string(x.Grade), Percentile: x.Percentile, InspectionsPerYear: x.InspectionsYear,
			WorstDecilePeriods: x.WorstDecilePeriod, MandatoryReview: x.MandatoryReview}
	}))
}

func (s *Server) eligibility(c *fiber.Ctx) error {
	e, err := s.deps.Scoring.Eligible(ctx(c), actor(c), c.Params("uscc"))
	if err != nil {
		return err
	}
	out := fiber.Map{"uscc": e.USCC, "name": e.Name, "allowed": e.Allowed, "reasons": nonNil(e.Reasons), "grade": e.Grade, "score": e.Score}
	ss := []sanctionJSON{}
	for _, x := range e.Sanctions {
		ss = append(ss, sanctionOut(x))
	}
	out["sanctions"] = ss
	return c.JSON(out)
}

func (s *Server) publicList(kind scoring.SanctionKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		es, err := s.deps.Scoring.PublicList(ctx(c), kind)
		if err != nil {
			return err
		}
		items := []fiber.Map{}
		for _, e := range es {
			items = append(items, fiber.Map{"uscc": e.USCC, "name": e.Name, "since": e.Sanction.Start, "until": ts(e.Sanction.End),
				"reason": e.Sanction.Reason, "legal_basis": e.Sanction.LegalBasis})
		}
		return c.JSON(fiber.Map{"items": items})
	}
}
