// Package httpapi is credtrace's HTTP interface on Fiber: routes with the roles that may call
// them, bearer-token authentication, request decoding and validation, and the one table that
// maps domain errors to statuses.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/google/uuid"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi/openapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
)

// Limits of the API.
const (
	// BodyLimit is the largest request body of an ordinary route.
	BodyLimit = 1 << 20
	// MaxBodyLimit is the largest body any route takes (bulk ingestion routes).
	MaxBodyLimit = 16 << 20
)

// Pinger is the store health check.
type Pinger interface {
	Ping(ctx context.Context) error
	Name() string
}

// Deps is what the API is built from; main wires it.
type Deps struct {
	Courier  *courier.Service
	Tracking *tracking.Service // optional: without it the tracking routes are absent
	Scoring  *scoring.Service  // optional: without it the scoring routes are absent
	Webhooks *webhook.Service  // optional: without it the webhook routes are absent
	Store    Pinger
	Logger   *slog.Logger
	Validate *validator.Validate
	Metrics  *Metrics // optional: nil builds a fresh registry
	// AddressChecks is how many requests a minute one address may send that check a
	// recipient's phone digits (0: the default AddressChecks).
	AddressChecks int
	// Live is the live streams' reader of the store (optional), whose mode /healthz reports.
	Live interface{ Mode() string }
}

// Route is one endpoint, declared once: its method and pattern, the roles that may call it
// (RolePublic: anyone, signed in or not), its handler, and the OpenAPI operation that documents
// it. A dashboard route (see Dashboard) is called by a browser: its roles are those of the
// browser's session, and it has no operation, for it answers pages, not the API.
type Route struct {
	Method string
	Path   string
	Roles  []credtrace.Role
	// Doc documents an API route in GET /openapi.json; nil on a dashboard route.
	Doc     *openapi.Operation
	handler fiber.Handler
	limit   int // the largest body; 0: BodyLimit
}

// Dashboard reports whether r is one of the dashboard's routes: under /ui, or the root that
// leads there.
func (r Route) Dashboard() bool { return r.Path == "/" || dashboardPath(r.Path) }

// dashboardPath reports whether a request's path is the dashboard's; as Fiber routes it, case
// does not count.
func dashboardPath(path string) bool {
	return len(path) >= 3 && strings.EqualFold(path[:3], "/ui") && (len(path) == 3 || path[3] == '/')
}

// Server holds the Fiber app and its route table.
type Server struct {
	app    *fiber.App
	deps   Deps
	routes []Route
	log    *slog.Logger
	stop   chan struct{} // closed by StopStreams
	once   sync.Once
	web    *web
	large  map[string]int // "METHOD /path" → body limit of the routes above BodyLimit
	slots  chan struct{}  // large bodies being read (see body.go)
}

// New builds the API.
func New(d Deps) *Server {
	if d.Validate == nil {
		d.Validate = NewValidator()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics()
	}
	if d.Tracking != nil {
		d.Metrics.streams(d.Tracking.Hub().Dropped, d.Tracking.Hub().Subscribers)
	}
	s := &Server{deps: d, log: d.Logger, stop: make(chan struct{})}
	s.app = fiber.New(fiber.Config{
		// Bodies are streamed and read by bodyGate and guard, bounded per route. fasthttp's own
		// limit is set out of the way: above it fasthttp would prefetch differently (reading
		// past the 8 KiB it otherwise takes), and it never bounds a streamed body anyway.
		BodyLimit:         math.MaxInt32,
		StreamRequestBody: true,
		// Multipart forms would be read before any handler, to any size; the API takes none.
		DisablePreParseMultipartForm: true,
		ErrorHandler:                 s.handleError,
		DisableStartupMessage:        true,
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  120 * time.Second,
	})
	// The goroutine that served a connection waits for the next one for this long before it
	// ends (fasthttp's default is 10 s; idle ones are swept every as long): the thousands of a
	// wave of departed streams go within half a second, not up to twenty.
	s.app.Server().MaxIdleWorkerDuration = 200 * time.Millisecond
	s.app.Use(requestid.New(requestid.Config{Generator: func() string { return uuid.NewString() }}))
	s.app.Use(recover.New())
	s.app.Use(s.logRequests)
	s.app.Use(treeScope)
	s.app.Use(s.bodyGate)
	s.app.Use(s.authenticate)
	s.web = newWeb()
	s.app.Use("/ui", s.webSecurity, s.webSession)
	s.app.Use("/v1/parcels", s.phoneLimiter())
	s.app.Use("/v1/public/ratings", s.phoneLimiter())
	s.app.Use("/ui/parcels", s.phoneLimiter())
	s.courierRoutes()
	s.trackingRoutes()
	s.scoringRoutes()
	s.bulkRoutes()
	s.webhookRoutes()
	s.webRoutes()
	s.largeRoutes()
	for _, r := range s.routes {
		s.app.Add(r.Method, r.Path, s.guard(r), r.handler)
		if r.Dashboard() && r.Method == fiber.MethodGet {
			s.app.Add(fiber.MethodHead, r.Path, s.guard(r), r.handler) // a page answers HEAD too
		}
	}
	s.app.Use(func(c *fiber.Ctx) error {
		return &apiError{status: fiber.StatusNotFound, code: "not_found", msg: "no such route"}
	})
	return s
}

// StopStreams ends every open server-sent event stream, so that a graceful shutdown does not
// wait for clients that never hang up.
func (s *Server) StopStreams() { s.once.Do(func() { close(s.stop) }) }

// App returns the Fiber app, to listen with or to test through app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Routes returns the route table.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// add declares a route.
func (s *Server) add(r Route) {
	if r.limit == 0 {
		r.limit = BodyLimit
	}
	s.routes = append(s.routes, r)
}

var (
	public     = []credtrace.Role{credtrace.RolePublic}
	regulators = []credtrace.Role{credtrace.RoleRegulator}
	firms      = []credtrace.Role{credtrace.RoleRegulator, credtrace.RoleFirm}
	signedIn   = []credtrace.Role{credtrace.RoleRegulator, credtrace.RoleFirm, credtrace.RoleMerchant, credtrace.RolePlatform}
	// anyToken adds the staff role, a person's own view, to signedIn.
	anyToken = []credtrace.Role{credtrace.RoleRegulator, credtrace.RoleFirm, credtrace.RoleMerchant, credtrace.RolePlatform, credtrace.RoleStaff}
	// firmsAndStaff are the firm routes a person also calls on their own file.
	firmsAndStaff = []credtrace.Role{credtrace.RoleRegulator, credtrace.RoleFirm, credtrace.RoleStaff}
)

const actorKey = "credtrace.actor"

// actor returns the caller.
func actor(c *fiber.Ctx) credtrace.Caller {
	if a, ok := c.Locals(actorKey).(credtrace.Caller); ok {
		return a
	}
	return credtrace.Public
}

// treeScope makes each request one scope of the firm-tree cache: it reads the tree generation
// from the store at most once, so changes to firms and employments count from the next request.
func treeScope(c *fiber.Ctx) error {
	c.SetUserContext(courier.WithTreeScope(c.UserContext()))
	return c.Next()
}

// authenticate resolves the bearer token, when there is one, into the actor. A token that is
// given but wrong is refused outright rather than treated as anonymous.
func (s *Server) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	if h == "" {
		return c.Next()
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return errUnauthorized("the Authorization header must be \"Bearer <token>\"")
	}
	a, err := s.deps.Courier.Authenticate(c.UserContext(), strings.TrimSpace(secret))
	var ce *credtrace.Error
	if (errors.Is(err, courier.ErrTokenExpired) || errors.Is(err, courier.ErrTokenRotated)) && errors.As(err, &ce) {
		return &apiError{status: fiber.StatusUnauthorized, code: ce.Code, msg: ce.Msg}
	}
	if errors.Is(err, credtrace.ErrNotFound) {
		return errUnauthorized("unknown or revoked token")
	}
	if err != nil {
		return err
	}
	c.Locals(actorKey, a)
	return c.Next()
}

// guard enforces the route's roles and body limit. A large route's body is read only here,
// once the caller is known to be allowed (see body.go).
func (s *Server) guard(r Route) fiber.Handler {
	allowed := map[credtrace.Role]bool{}
	for _, role := range r.Roles {
		allowed[role] = true
	}
	return func(c *fiber.Ctx) error {
		a := actor(c)
		if allowed[credtrace.RolePublic] || allowed[a.Role] {
			if r.limit > BodyLimit {
				release, err := s.largeBody(c, r.limit)
				if err != nil {
					return err
				}
				defer release()
			} else if len(c.Body()) > r.limit {
				return tooLarge(r.limit)
			}
			return c.Next()
		}
		if r.Dashboard() {
			// A browser is refused with the sign-in page (see errorPage), signed in or not, as the
			// dashboard always did: it has no token to retry with, only a session to change.
			return &apiError{status: fiber.StatusForbidden, code: "forbidden", msg: signInAs(r.Roles)}
		}
		if a.Role == credtrace.RolePublic {
			return errUnauthorized("this route needs a token")
		}
		return &apiError{status: fiber.StatusForbidden, code: "forbidden", msg: "role " + string(a.Role) + " may not call this route"}
	}
}

func humanBytes(n int) string {
	if n%(1<<20) == 0 {
		return itoa(n>>20) + " MiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func (s *Server) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// The error handler has not run yet; predict its status for the log line.
		status = statusOf(err)
	}
	route := c.Route().Path
	// Label values outlive the request: copy them out of fasthttp's reused buffers.
	s.deps.Metrics.request(strings.Clone(route), strings.Clone(c.Method()), status, time.Since(start))
	s.log.LogAttrs(c.UserContext(), slog.LevelInfo, "request",
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Method()),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("role", string(actor(c).Role)),
	)
	return err
}

func requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals("requestid").(string); ok {
		return id
	}
	return ""
}
