package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// The dashboard: server-rendered pages (html/template, assets embedded in the binary), Chinese
// labels first with English beside them. This slice has the public pages and sign-in; the
// regulators', firms' and merchants' pages build on the same session.

//go:embed web
var webFS embed.FS

const (
	sessionCookie = "ct_session"
	csrfCookie    = "ct_csrf"
	sessionTTL    = 12 * time.Hour
)

// session is a signed-in browser: the token's actor, kept in the store (courier.Session) so
// that every replica knows it; the cookie holds only a random id. csrf is the forms' token of
// this session, drawn at sign-in: a token seen before sign-in (or in another session) is worth
// nothing after it.
type session struct {
	actor courier.Actor
	csrf  string
}

type web struct {
	pages map[string]*template.Template
}

func newWeb() *web {
	w := &web{pages: map[string]*template.Template{}}
	for _, p := range []string{"home", "firms", "firm", "lists", "parcel", "signin", "sanctions", "overview", "file", "objections", "ratings"} {
		w.pages[p] = template.Must(template.ParseFS(webFS, "web/layout.html", "web/"+p+".html"))
	}
	return w
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// view is what every page template gets.
type view struct {
	Title   string
	Session *struct{ Role string }
	CSRF    string
	Error   string
	Data    any
}

func (s *Server) webRoutes() {
	s.web = newWeb()
	s.app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/ui/", fiber.StatusFound) })
	ui := s.app.Group("/ui", s.webSecurity)
	ui.Get("/static/style.css", func(c *fiber.Ctx) error {
		b, err := webFS.ReadFile("web/style.css")
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Send(b)
	})
	ui.Get("/", func(c *fiber.Ctx) error { return s.render(c, "home", "寄递信用查询", nil, "") })
	ui.Get("/signin", func(c *fiber.Ctx) error { return s.render(c, "signin", "登录", nil, "") })
	ui.Post("/signin", s.webSignIn)
	ui.Post("/signout", s.webSignOut)
	ui.Get("/firms", s.webFirms)
	ui.Get("/firms/:uscc", s.webFirm)
	ui.Get("/lists", s.webLists)
	ui.Get("/parcels", s.webParcel)
	ui.Get("/sanctions", s.webSanctions)
	ui.Get("/overview", s.webOverview)
	ui.Get("/firms/:id/file", s.webFile)
	ui.Post("/records/:id/decision", s.webRecordDecision)
	ui.Get("/objections", s.webObjections)
	ui.Post("/objections", s.webFileObjection)
	ui.Get("/ratings", s.webRatings)
	ui.Post("/ratings", s.webRatings)
	ui.Post("/sanctions/:id/decision", s.webDecide)
}

// regulatorOnly answers the sign-in page unless a regulator is signed in.
func (s *Server) regulatorOnly(c *fiber.Ctx) (courier.Actor, bool, error) {
	a, ok := s.webActor(c)
	if ok && a.Role == courier.RoleRegulator {
		return a, true, nil
	}
	c.Status(fiber.StatusForbidden)
	return a, false, s.render(c, "signin", "登录", nil, "请以监管部门令牌登录 · sign in with a regulator token")
}

type proposalRow struct {
	ID, Name, USCC, Kind, Reason, Basis string
	FourEyes                            bool
	ReviewedBy, Review, ReviewedAt      string
	Mine                                bool // the signed-in regulator gave the review: another one decides
}

// webSanctions lists the proposals waiting for a regulator's decision.
func (s *Server) webSanctions(c *fiber.Ctx) error { return s.sanctionsPage(c, "") }

// sanctionsPage renders the proposals with msg (a refused decision) above them.
func (s *Server) sanctionsPage(c *fiber.Ctx, msg string) error {
	a, ok, err := s.regulatorOnly(c)
	if !ok || s.deps.Scoring == nil {
		return err
	}
	ps, err := s.deps.Scoring.Sanctions(ctx(c), scoring.Caller{TokenID: a.TokenID, Role: string(a.Role)},
		scoring.SanctionQuery{Status: []scoring.SanctionStatus{scoring.Proposed, scoring.Reviewed}, Limit: courier.MaxLimit})
	if err != nil {
		return err
	}
	var rows []proposalRow
	for _, x := range ps {
		f, err := s.deps.Courier.Firm(ctx(c), a, x.FirmID)
		if err != nil {
			return err
		}
		row := proposalRow{ID: x.ID, Name: f.Name, USCC: f.USCC, Kind: string(x.Kind), Reason: x.Reason, Basis: x.LegalBasis,
			FourEyes: x.Kind.FourEyes(), ReviewedBy: x.ReviewedBy, Review: x.ReviewReason, Mine: x.ReviewedBy != "" && x.ReviewedBy == a.TokenID}
		if !x.ReviewedAt.IsZero() {
			row.ReviewedAt = x.ReviewedAt.In(tracking.CST).Format("2006-01-02 15:04")
		}
		rows = append(rows, row)
	}
	return s.render(c, "sanctions", "待审批", map[string]any{"Proposals": rows}, msg)
}

// webDecide approves or rejects a proposal from the form.
func (s *Server) webDecide(c *fiber.Ctx) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	a, ok, err := s.regulatorOnly(c)
	if !ok || s.deps.Scoring == nil {
		return err
	}
	_, err = s.deps.Scoring.Decide(ctx(c), scoring.Caller{TokenID: a.TokenID, Role: string(a.Role)}, c.Params("id"),
		c.FormValue("approve") == "true", c.FormValue("reason"))
	switch {
	case errors.Is(err, scoring.ErrState):
		c.Status(fiber.StatusConflict)
		return s.sanctionsPage(c, "未能决定 · not decided: "+err.Error())
	case errors.Is(err, scoring.ErrInvalid):
		c.Status(fiber.StatusUnprocessableEntity)
		return s.sanctionsPage(c, "请填写理由 · a reason is required")
	case err != nil:
		return err
	}
	return c.Redirect("/ui/sanctions", fiber.StatusSeeOther)
}

// webSecurity sets the headers of every page and the CSRF cookie a form needs.
func (s *Server) webSecurity(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	if c.Cookies(csrfCookie) == "" {
		tok := randomToken()
		c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: tok, Path: "/ui", HTTPOnly: true, SameSite: "Strict", Secure: c.Protocol() == "https"})
		c.Locals(csrfCookie, tok)
	}
	return c.Next()
}

// csrfOf is the token the page's forms carry: the session's when signed in, else the
// anonymous cookie's.
func (s *Server) csrfOf(c *fiber.Ctx) string {
	if ss, ok := s.sessionOf(c); ok {
		return ss.csrf
	}
	if v, ok := c.Locals(csrfCookie).(string); ok {
		return v
	}
	return strings.Clone(c.Cookies(csrfCookie))
}

// checkCSRF compares the form's token with the one the browser's state expects. Signed in, it
// is the session's own token, kept server-side and replaced at every sign-in, so a token from
// before sign-in or from another session fails. Signed out (the sign-in form itself), it is
// the double-submit cookie. The cookies are also SameSite=Strict, so another site's form
// never carries them.
func (s *Server) checkCSRF(c *fiber.Ctx) error {
	want := c.Cookies(csrfCookie)
	if ss, ok := s.sessionOf(c); ok {
		want = ss.csrf
	}
	got := c.FormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return &apiError{status: fiber.StatusForbidden, code: "csrf", msg: "the form's security token is missing or stale; reload the page"}
	}
	return nil
}

// sessionLocal is the request's local holding its session, read once from the store.
const sessionLocal = "ct_session"

// sessionOf is the browser's live session, if its cookie names one: known to the store, not
// expired, its token not revoked since sign-in (the archive is asked at each request).
func (s *Server) sessionOf(c *fiber.Ctx) (session, bool) {
	if ss, ok := c.Locals(sessionLocal).(*session); ok {
		return *ss, ss.csrf != ""
	}
	var ss session
	if id := c.Cookies(sessionCookie); id != "" {
		a, csrf, err := s.deps.Courier.SessionOf(c.UserContext(), id, time.Now())
		switch {
		case err == nil:
			ss = session{actor: a, csrf: csrf}
		case !errors.Is(err, courier.ErrNotFound):
			// Signed out for this request; the next one asks again.
			s.log.Warn("dashboard session", "request_id", requestID(c), "error", err.Error())
		}
	}
	c.Locals(sessionLocal, &ss)
	return ss, ss.csrf != ""
}

// webActor is the signed-in actor of the browser, or the public.
func (s *Server) webActor(c *fiber.Ctx) (courier.Actor, bool) {
	ss, ok := s.sessionOf(c)
	if !ok {
		return courier.Public, false
	}
	return ss.actor, true
}

func (s *Server) render(c *fiber.Ctx, page, title string, data any, problem string) error {
	v := view{Title: title, CSRF: s.csrfOf(c), Error: problem, Data: data}
	if a, ok := s.webActor(c); ok {
		v.Session = &struct{ Role string }{string(a.Role)}
	}
	var b strings.Builder
	if err := s.web.pages[page].ExecuteTemplate(&b, "layout", pageData(v)); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(b.String())
}

// pageData flattens the view so that templates read .Title, .Session and the page's fields alike.
func pageData(v view) map[string]any {
	m := map[string]any{"Title": v.Title, "Session": v.Session, "CSRF": v.CSRF, "Error": v.Error}
	if d, ok := v.Data.(map[string]any); ok {
		for k, x := range d {
			m[k] = x
		}
	}
	return m
}

func (s *Server) webSignIn(c *fiber.Ctx) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	a, err := s.deps.Courier.Authenticate(ctx(c), strings.TrimSpace(c.FormValue("token")))
	if errors.Is(err, courier.ErrNotFound) {
		c.Status(fiber.StatusUnauthorized)
		return s.render(c, "signin", "登录", nil, "令牌无效或已吊销 · unknown or revoked token")
	}
	if err != nil {
		return err
	}
	if err := s.deps.Courier.CloseSession(ctx(c), c.Cookies(sessionCookie)); err != nil {
		return err // signing in again ends the previous session
	}
	id, csrf, err := s.deps.Courier.OpenSession(ctx(c), a, time.Now().Add(sessionTTL))
	if err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: id, Path: "/ui", HTTPOnly: true, SameSite: "Strict", Secure: c.Protocol() == "https",
		Expires: time.Now().Add(sessionTTL)})
	// The pre-sign-in token is replaced by the session's, so that a token planted or seen
	// before sign-in is useless after it.
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: csrf, Path: "/ui", HTTPOnly: true, SameSite: "Strict", Secure: c.Protocol() == "https"})
	return c.Redirect("/ui/", fiber.StatusSeeOther)
}

func (s *Server) webSignOut(c *fiber.Ctx) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	if err := s.deps.Courier.CloseSession(ctx(c), c.Cookies(sessionCookie)); err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/ui", HTTPOnly: true, SameSite: "Strict", Expires: time.Unix(0, 0)})
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: randomToken(), Path: "/ui", HTTPOnly: true, SameSite: "Strict", Secure: c.Protocol() == "https"})
	return c.Redirect("/ui/", fiber.StatusSeeOther)
}

type firmRow struct{ Name, USCC, Licence string }

// webFirms looks a firm up by its code, or lists firms whose name contains the query: identity
// and licence status are public.
func (s *Server) webFirms(c *fiber.Ctx) error {
	q := strings.TrimSpace(c.Query("q"))
	var rows []firmRow
	if q != "" {
		if courier.CheckUSCC(strings.ToUpper(q)) == "" {
			if f, err := s.deps.Courier.FirmByUSCC(ctx(c), q); err == nil {
				rows = append(rows, firmRow{f.Name, f.USCC, string(f.Licence.Status)})
			} else if !errors.Is(err, courier.ErrNotFound) {
				return err
			}
		} else {
			fs, _, err := s.deps.Courier.Firms(ctx(c), courier.SystemActor, courier.FirmQuery{Name: q}, "", 50)
			if err != nil {
				return err
			}
			for _, f := range fs {
				rows = append(rows, firmRow{f.Name, f.USCC, string(f.Licence.Status)})
			}
		}
	}
	return s.render(c, "firms", "企业查询", map[string]any{"Query": q, "Firms": rows}, "")
}

type publicSanction struct{ Kind, Start, End, Reason, Basis string }
type publicRecord struct{ Date, Category, Severity, Summary, Until string }
type publicCommitment struct{ Text, Signer, Date string }

const day = "2006-01-02"

func (s *Server) webFirm(c *fiber.Ctx) error {
	d, err := s.deps.Courier.Disclose(ctx(c), c.Params("uscc"))
	if errors.Is(err, courier.ErrNotFound) {
		c.Status(fiber.StatusNotFound)
		return s.render(c, "firms", "企业查询", map[string]any{"Query": c.Params("uscc")}, "未找到该企业 · no such firm")
	}
	if err != nil {
		return err
	}
	data := map[string]any{"Firm": firmRow{d.Firm.Name, d.Firm.USCC, string(d.Firm.Licence.Status)}}
	var recs []publicRecord
	for _, r := range d.Records {
		recs = append(recs, publicRecord{r.OccurredAt.In(tracking.CST).Format(day), string(r.Category), string(r.Severity), r.Summary, r.PublicUntil.In(tracking.CST).Format(day)})
	}
	data["Records"] = recs
	var cs []publicCommitment
	for _, cm := range d.Commitments {
		cs = append(cs, publicCommitment{cm.Text, cm.Signer, cm.SignedAt.In(tracking.CST).Format(day)})
	}
	data["Commitments"] = cs
	if s.deps.Scoring != nil {
		if sc, ok, err := s.deps.Scoring.PublishedGrade(ctx(c), d.Firm.ID); err != nil {
			return err
		} else if ok {
			data["Grade"], data["Score"], data["GradeAsOf"] = string(sc.Grade), sc.Value, sc.AsOf.In(tracking.CST).Format(day)
		}
		in, err := s.deps.Scoring.InForce(ctx(c), d.Firm.ID)
		if err != nil {
			return err
		}
		var ss []publicSanction
		for _, x := range in {
			ps := publicSanction{Kind: string(x.Kind), Start: x.Start.In(tracking.CST).Format(day), Reason: x.Reason, Basis: x.LegalBasis}
			if !x.End.IsZero() {
				ps.End = x.End.In(tracking.CST).Format(day)
			}
			ss = append(ss, ps)
		}
		data["Sanctions"] = ss
	}
	return s.render(c, "firm", d.Firm.Name, data, "")
}

type listRow struct{ Name, USCC, Since, Until, Reason string }

func (s *Server) webLists(c *fiber.Ctx) error {
	data := map[string]any{}
	if s.deps.Scoring != nil {
		for key, kind := range map[string]scoring.SanctionKind{"Red": scoring.RedList, "Black": scoring.BlackList} {
			es, err := s.deps.Scoring.PublicList(ctx(c), kind)
			if err != nil {
				return err
			}
			var rows []listRow
			for _, e := range es {
				r := listRow{Name: e.Name, USCC: e.USCC, Since: e.Sanction.Start.In(tracking.CST).Format(day), Reason: e.Sanction.Reason}
				if !e.Sanction.End.IsZero() {
					r.Until = e.Sanction.End.In(tracking.CST).Format(day)
				}
				rows = append(rows, r)
			}
			data[key] = rows
		}
	}
	return s.render(c, "lists", "红黑名单", data, "")
}

type timelineRow struct{ At, Code, Place string }

// webParcel traces a parcel for the signed-in actor, or for the public with the phone check
// (the reduced trace: status, times and cities).
func (s *Server) webParcel(c *fiber.Ctx) error {
	waybill, phone4 := strings.TrimSpace(c.Query("waybill")), strings.TrimSpace(c.Query("phone4"))
	a, _ := s.webActor(c)
	data := map[string]any{"Waybill": waybill, "Carrier": strings.TrimSpace(c.Query("carrier")), "Phone4": phone4}
	if waybill == "" || s.deps.Tracking == nil {
		return s.render(c, "parcel", "包裹查询", data, "")
	}
	who := tracking.Caller{TokenID: a.TokenID, Role: string(a.Role), FirmID: a.FirmID, MerchantID: a.MerchantID}
	carrier, err := s.carrierOf(c)
	var t tracking.Trace
	if err == nil {
		t, err = s.deps.Tracking.TraceParcel(ctx(c), who, waybill, carrier, phone4)
	}
	var amb *tracking.AmbiguousError
	switch {
	case errors.As(err, &amb):
		c.Status(fiber.StatusConflict)
		data["Carriers"] = amb.Carriers
		return s.render(c, "parcel", "包裹查询", data, "多家快递企业使用该运单号，请选择 · several carriers use this waybill: choose one")
	case errors.Is(err, tracking.ErrNotFound):
		c.Status(fiber.StatusNotFound)
		return s.render(c, "parcel", "包裹查询", data, "未找到该包裹，或手机后四位不符 · no such parcel, or the digits do not match")
	case errors.Is(err, tracking.ErrInvalid):
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, "parcel", "包裹查询", data, "手机后四位应为四位数字 · the last four digits, please")
	case errors.As(err, new(*tracking.LockedError)):
		lockedError(c, err) // sets Retry-After
		c.Status(fiber.StatusTooManyRequests)
		return s.render(c, "parcel", "包裹查询", data, "该运单的手机号核验错误次数过多，已锁定一小时 · too many wrong answers: this waybill's phone check is locked for an hour")
	case err != nil:
		return err
	}
	var evs []timelineRow
	for _, e := range t.Events {
		place := tracking.City(e.Region)
		if !t.Reduced && e.Region != "" {
			place = e.Region
		}
		evs = append(evs, timelineRow{e.At.In(tracking.CST).Format("2006-01-02 15:04"), string(e.Code), place})
	}
	type segRow struct{ Holder, From, To, Dwell string }
	var custody []segRow
	for _, sg := range t.Custody { // empty in the public, reduced trace
		holder := "recipient 收件人"
		if sg.Holder.Kind == tracking.HolderFirm {
			holder = "firm " + sg.Holder.FirmID
			if sg.Holder.SiteID != "" {
				holder += " · site " + sg.Holder.SiteID
			}
			if sg.Holder.StaffID != "" {
				holder += " · staff " + sg.Holder.StaffID
			}
		}
		to := ""
		if !sg.To.IsZero() {
			to = sg.To.In(tracking.CST).Format("2006-01-02 15:04")
		}
		custody = append(custody, segRow{holder, sg.From.In(tracking.CST).Format("2006-01-02 15:04"), to, sg.Dwell.Round(time.Minute).String()})
	}
	data["Trace"] = map[string]any{"Status": string(t.Status), "Breached": t.Promise.Breached, "Events": evs, "Custody": custody}
	return s.render(c, "parcel", "包裹查询 "+t.Waybill, data, "")
}
