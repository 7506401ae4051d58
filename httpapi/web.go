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

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// The dashboard: server-rendered pages (html/template, assets embedded in the binary), Chinese
// labels first with English beside them: the public pages, sign-in, and the regulators', firms'
// and merchants' pages on the same session. Its routes are in the route table with the roles of
// the session that may open them; guard refuses the others with the sign-in page.

//go:embed web
var webFS embed.FS

const (
	sessionCookie = "ct_session"
	csrfCookie    = "ct_csrf"
	sessionTTL    = 12 * time.Hour
	signedInKey   = "credtrace.signed-in" // a dashboard request's actor is a live session's
)

// session is a signed-in browser: the token's actor, kept in the store (courier.Session) so
// that every replica knows it; the cookie holds only a random id. csrf is the forms' token of
// this session, drawn at sign-in: a token seen before sign-in (or in another session) is worth
// nothing after it.
type session struct {
	actor credtrace.Caller
	csrf  string
}

type web struct {
	pages   map[string]*template.Template
	regions regionTable
}

func newWeb() *web {
	f, err := webFS.Open("web/regions.csv")
	if err != nil {
		panic(err) // embedded: present in every build
	}
	regions, err := readRegions(f)
	f.Close()
	if err != nil {
		panic(err) // embedded and checked by TestRegions
	}
	w := &web{pages: map[string]*template.Template{}, regions: regions}
	funcs := template.FuncMap{"term": term, "region": regions.HTML}
	for _, p := range []string{"home", "firms", "firm", "lists", "parcel", "signin", "sanctions", "overview", "file", "objections", "ratings", "tokens", "error"} {
		w.pages[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(webFS, "web/layout.html", "web/"+p+".html"))
	}
	// The printable credit report stands alone: the dashboard's style inlined, no navigation.
	w.pages["report"] = template.Must(template.ParseFS(webFS, "web/report.html"))
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

// webRoutes declares the dashboard's routes. Their roles are the browser's session's (see
// webSession); the pages that need scoring exist only with it, as its API routes do.
func (s *Server) webRoutes() {
	s.add(Route{Method: "GET", Path: "/", Roles: public, handler: func(c *fiber.Ctx) error { return c.Redirect("/ui/", fiber.StatusFound) }})
	s.add(Route{Method: "GET", Path: "/ui/static/style.css", Roles: public, handler: webStyle})
	s.add(Route{Method: "GET", Path: "/ui/", Roles: public, handler: func(c *fiber.Ctx) error { return s.render(c, "home", "寄递信用查询", nil, "") }})
	s.add(Route{Method: "GET", Path: "/ui/signin", Roles: public, handler: func(c *fiber.Ctx) error { return s.render(c, "signin", "登录", nil, "") }})
	s.add(Route{Method: "POST", Path: "/ui/signin", Roles: public, handler: s.webSignIn})
	s.add(Route{Method: "POST", Path: "/ui/signout", Roles: public, handler: s.webSignOut})
	s.add(Route{Method: "GET", Path: "/ui/firms", Roles: public, handler: s.webFirms})
	s.add(Route{Method: "GET", Path: "/ui/firms/:uscc", Roles: public, handler: s.webFirm})
	s.add(Route{Method: "GET", Path: "/ui/lists", Roles: public, handler: s.webLists})
	s.add(Route{Method: "GET", Path: "/ui/parcels", Roles: public, handler: s.webParcel})
	s.add(Route{Method: "GET", Path: "/ui/overview", Roles: regulators, handler: s.webOverview})
	s.add(Route{Method: "GET", Path: "/ui/tokens", Roles: regulators, handler: s.webTokens})
	s.add(Route{Method: "GET", Path: "/ui/firms/:id/file", Roles: firms, handler: s.webFile})
	s.add(Route{Method: "POST", Path: "/ui/records/:id/decision", Roles: regulators, handler: s.webRecordDecision})
	s.add(Route{Method: "GET", Path: "/ui/objections", Roles: firms, handler: s.webObjections})
	s.add(Route{Method: "POST", Path: "/ui/objections", Roles: firmsAndStaff, handler: s.webFileObjection})
	if s.deps.Scoring == nil {
		return
	}
	s.add(Route{Method: "GET", Path: "/ui/sanctions", Roles: regulators, handler: s.webSanctions})
	s.add(Route{Method: "POST", Path: "/ui/sanctions/:id/decision", Roles: regulators, handler: s.webDecide})
	s.add(Route{Method: "GET", Path: "/ui/ratings", Roles: merchants, handler: s.webRatings})
	s.add(Route{Method: "POST", Path: "/ui/ratings", Roles: merchants, handler: s.webRatings})
}

func webStyle(c *fiber.Ctx) error {
	b, err := webFS.ReadFile("web/style.css")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Send(b)
}

// roleNames name the roles in the dashboard's refusals, in Chinese and in English.
var roleNames = map[credtrace.Role][2]string{
	credtrace.RoleRegulator: {"监管部门", "a regulator's"},
	credtrace.RoleFirm:      {"企业", "a firm's"},
	credtrace.RoleMerchant:  {"商家", "a merchant's"},
	credtrace.RolePlatform:  {"平台", "a platform's"},
	credtrace.RoleStaff:     {"从业人员", "a person's own"},
	credtrace.RoleMetrics:   {"监控", "a metrics"},
}

// signInAs is the dashboard's refusal of a page to a session without one of roles.
func signInAs(roles []credtrace.Role) string {
	var zh, en []string
	for _, r := range roles {
		zh, en = append(zh, roleNames[r][0]), append(en, roleNames[r][1])
	}
	return "请以" + strings.Join(zh, "或") + "令牌登录 · sign in with " + strings.Join(en, " or ") + " token"
}

// errorHeadings head the error page by status, in Chinese and in English.
var errorHeadings = map[int][2]string{
	fiber.StatusBadRequest:            {"请求有误", "Bad request"},
	fiber.StatusUnauthorized:          {"请登录", "Sign in"},
	fiber.StatusForbidden:             {"无权访问", "Forbidden"},
	fiber.StatusNotFound:              {"未找到", "Not found"},
	fiber.StatusConflict:              {"无法完成", "Conflict"},
	fiber.StatusRequestEntityTooLarge: {"内容过大", "Too large"},
	fiber.StatusUnsupportedMediaType:  {"格式不支持", "Unsupported"},
	fiber.StatusUnprocessableEntity:   {"内容有误", "Invalid"},
	fiber.StatusTooManyRequests:       {"请求过多", "Too many requests"},
	fiber.StatusInternalServerError:   {"服务器错误", "Server error"},
	fiber.StatusServiceUnavailable:    {"暂不可用", "Unavailable"},
}

// errorPage answers an error as a page of the dashboard. A dashboard page refused to the
// browser's session, or to a browser without one, answers the sign-in page, as the pages did
// when each checked its own roles; anything else a page that names the problem, its fields and
// the request id.
func (s *Server) errorPage(c *fiber.Ctx, status int, e errorJSON) error {
	securityHeaders(c)
	c.Status(status)
	if dashboardPath(c.Path()) && (status == fiber.StatusUnauthorized || status == fiber.StatusForbidden && e.Error.Code == "forbidden") {
		return s.render(c, "signin", "登录", nil, e.Error.Message)
	}
	h, ok := errorHeadings[status]
	if !ok {
		h = [2]string{"出错了", "Error"}
	}
	return s.render(c, "error", h[0], map[string]any{"Heading": h[0], "HeadingEN": h[1], "Status": status, "Code": e.Error.Code,
		"Fields": e.Error.Fields, "RequestID": e.RequestID}, e.Error.Message)
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
	a := actor(c)
	ps, err := s.deps.Scoring.Sanctions(ctx(c), a,
		scoring.SanctionQuery{Status: []scoring.SanctionStatus{scoring.Proposed, scoring.Reviewed}, Limit: courier.MaxLimit})
	if err != nil {
		return err
	}
	ids := make([]string, len(ps))
	for i, x := range ps {
		ids[i] = x.FirmID
	}
	firms, err := s.deps.Courier.FirmIdentities(ctx(c), ids)
	if err != nil {
		return err
	}
	var rows []proposalRow
	for _, x := range ps {
		f := firms[x.FirmID]
		if f.Name == "" {
			f.Name = x.FirmID
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
	a := actor(c)
	_, err := s.deps.Scoring.Decide(ctx(c), a, c.Params("id"),
		c.FormValue("approve") == "true", c.FormValue("reason"))
	switch {
	case errors.Is(err, credtrace.ErrState):
		c.Status(fiber.StatusConflict)
		return s.sanctionsPage(c, "未能决定 · not decided: "+err.Error())
	case errors.Is(err, credtrace.ErrInvalid):
		c.Status(fiber.StatusUnprocessableEntity)
		return s.sanctionsPage(c, "请填写理由 · a reason is required")
	case err != nil:
		return err
	}
	return c.Redirect("/ui/sanctions", fiber.StatusSeeOther)
}

// webSecurity sets the headers of every page and the CSRF cookie a form needs.
func (s *Server) webSecurity(c *fiber.Ctx) error {
	securityHeaders(c)
	if c.Cookies(csrfCookie) == "" {
		tok := randomToken()
		c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: tok, Path: "/ui", HTTPOnly: true, SameSite: "Strict", Secure: c.Protocol() == "https"})
		c.Locals(csrfCookie, tok)
	}
	return c.Next()
}

func securityHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
}

// webSession makes the browser's live session, or the public, the actor of a dashboard
// request, for guard and the pages alike. A bearer token opens no page: the dashboard's forms
// are guarded for the session its cookies carry.
func (s *Server) webSession(c *fiber.Ctx) error {
	a, ok := s.sessionActor(c)
	c.Locals(actorKey, a)
	c.Locals(signedInKey, ok)
	return c.Next()
}

// webActor is the actor webSession found (also actor(c)), and whether it is a signed-in
// browser's.
func (s *Server) webActor(c *fiber.Ctx) (credtrace.Caller, bool) {
	ok, _ := c.Locals(signedInKey).(bool)
	if !ok {
		return credtrace.Public, false
	}
	return actor(c), true
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
		case !errors.Is(err, credtrace.ErrNotFound):
			// Signed out for this request; the next one asks again.
			s.log.Warn("dashboard session", "request_id", requestID(c), "error", err.Error())
		}
	}
	c.Locals(sessionLocal, &ss)
	return ss, ss.csrf != ""
}

// sessionActor is the signed-in actor of the browser, or the public.
func (s *Server) sessionActor(c *fiber.Ctx) (credtrace.Caller, bool) {
	ss, ok := s.sessionOf(c)
	if !ok {
		return credtrace.Public, false
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
	var ce *credtrace.Error
	if (errors.Is(err, courier.ErrTokenExpired) || errors.Is(err, courier.ErrTokenRotated)) && errors.As(err, &ce) {
		c.Status(fiber.StatusUnauthorized)
		return s.render(c, "signin", "登录", nil, "令牌已过期或已轮换 · "+ce.Msg)
	}
	if errors.Is(err, credtrace.ErrNotFound) {
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

type firmRow struct{ Name, USCC, Licence, Region string }

// webFirms looks a firm up by its code, or lists firms whose name contains the query: identity
// and licence status are public.
func (s *Server) webFirms(c *fiber.Ctx) error {
	q := strings.TrimSpace(c.Query("q"))
	var rows []firmRow
	if q != "" {
		if courier.CheckUSCC(strings.ToUpper(q)) == "" {
			if f, err := s.deps.Courier.FirmByUSCC(ctx(c), q); err == nil {
				rows = append(rows, firmRow{f.Name, f.USCC, string(f.Licence.Status), f.Region})
			} else if !errors.Is(err, credtrace.ErrNotFound) {
				return err
			}
		} else {
			fs, err := s.deps.Courier.FirmsByName(ctx(c), q, 50)
			if err != nil {
				return err
			}
			for _, f := range fs {
				rows = append(rows, firmRow{f.Name, f.USCC, string(f.Licence.Status), f.Region})
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
	if errors.Is(err, credtrace.ErrNotFound) {
		c.Status(fiber.StatusNotFound)
		return s.render(c, "firms", "企业查询", map[string]any{"Query": c.Params("uscc")}, "未找到该企业 · no such firm")
	}
	if err != nil {
		return err
	}
	data := map[string]any{"Firm": firmRow{d.Firm.Name, d.Firm.USCC, string(d.Firm.Licence.Status), d.Firm.Region}}
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
	a := actor(c)
	data := map[string]any{"Waybill": waybill, "Carrier": strings.TrimSpace(c.Query("carrier")), "Phone4": phone4}
	if waybill == "" || s.deps.Tracking == nil {
		return s.render(c, "parcel", "包裹查询", data, "")
	}
	who := a
	carrier, err := s.carrierOf(c)
	var t tracking.Trace
	if err == nil {
		t, err = s.deps.Tracking.TraceParcel(ctx(c), who, waybill, carrier, phone4)
	}
	var amb *tracking.AmbiguousError
	switch {
	case errors.As(err, &amb):
		c.Status(fiber.StatusConflict)
		firms, err := s.deps.Courier.FirmIdentities(ctx(c), amb.Carriers)
		if err != nil {
			return err
		}
		type carrierRow struct{ ID, Name string }
		var carriers []carrierRow
		for _, id := range amb.Carriers {
			carriers = append(carriers, carrierRow{id, firms[id].Name})
		}
		data["Carriers"] = carriers
		return s.render(c, "parcel", "包裹查询", data, "多家快递企业使用该运单号，请选择 · several carriers use this waybill: choose one")
	case errors.Is(err, credtrace.ErrNotFound):
		c.Status(fiber.StatusNotFound)
		return s.render(c, "parcel", "包裹查询", data, "未找到该包裹，或手机后四位不符 · no such parcel, or the digits do not match")
	case errors.Is(err, credtrace.ErrInvalid):
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
	var holders []string
	for _, sg := range t.Custody {
		holders = append(holders, sg.Holder.FirmID)
	}
	firms, err := s.deps.Courier.FirmIdentities(ctx(c), holders)
	if err != nil {
		return err
	}
	for _, sg := range t.Custody { // empty in the public, reduced trace
		holder := "收件人 recipient"
		if sg.Holder.Kind == tracking.HolderFirm {
			holder = "企业 firm " + sg.Holder.FirmID
			if n := firms[sg.Holder.FirmID].Name; n != "" {
				holder = n + " (" + sg.Holder.FirmID + ")"
			}
			if sg.Holder.SiteID != "" {
				holder += " · 网点 site " + sg.Holder.SiteID
			}
			if sg.Holder.StaffID != "" {
				holder += " · 人员 staff " + sg.Holder.StaffID
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
