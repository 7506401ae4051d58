package httpapi

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
)

// Request bodies are streamed (fiber.Config.StreamRequestBody): fasthttp reads the headers and
// at most 8 KiB of the body before the handlers run, and the rest is read here, bounded by the
// route's limit. Without that, fasthttp reads every announced body whole before any handler
// runs, so 150 connections announcing 16 MiB to /healthz pinned 2.4 GiB.
//
//   - bodyGate (before authentication) refuses a Content-Encoding, and any announced body above
//     the route's limit with 413, unread; it reads the body of an ordinary route (1 MiB at most,
//     chunked bodies included) so that handlers find it in memory as before.
//   - On the large routes (bulk ingestion, 16 MiB) the body is left unread until guard has
//     checked the token and its role, and a large body then waits for one of MaxLargeBodies
//     slots, so that authorised clients too can pin at most MaxLargeBodies × 16 MiB at once.

const (
	// MaxLargeBodies bounds the large bodies (above BodyLimit, or chunked) read at once: each
	// may hold MaxBodyLimit and its decoded events, so a few suffice to keep ingestion busy.
	MaxLargeBodies = 2
	// largeBodyWait is how long a large body waits for a slot before 503.
	largeBodyWait = 10 * time.Second
	bodyReadKey   = "credtrace.body-read"
)

// routeKey is how a request finds its large route before Fiber routes it: Fiber matches paths
// case-insensitively and ignores a trailing slash, so the key does the same.
func routeKey(method, path string) string {
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	return method + " " + strings.ToLower(path)
}

// largeRoutes indexes the routes whose body limit exceeds BodyLimit; their paths have no
// parameters, so the key is exact.
func (s *Server) largeRoutes() {
	s.large = map[string]int{}
	for _, r := range s.routes {
		if r.limit > BodyLimit {
			s.large[routeKey(r.Method, r.Path)] = r.limit
		}
	}
	s.slots = make(chan struct{}, MaxLargeBodies)
}

func tooLarge(limit int) error {
	return &apiError{status: fiber.StatusRequestEntityTooLarge, code: "too_large",
		msg: "request body exceeds the limit of this route", fields: []credtrace.FieldError{{Field: "body", Reason: "larger than " + humanBytes(limit)}}}
}

// bodyGate runs before authentication: see the comment at the top of this file.
func (s *Server) bodyGate(c *fiber.Ctx) error {
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		// Fiber would inflate a compressed body without a bound: a 1 MiB body can hold GiBs.
		c.Context().SetConnectionClose()
		return &apiError{status: fiber.StatusUnsupportedMediaType, code: "unsupported_encoding",
			msg:    "compressed request bodies are not accepted; send the body without Content-Encoding",
			fields: []credtrace.FieldError{{Field: "Content-Encoding", Reason: "must be absent or identity"}}}
	}
	limit, large := s.large[routeKey(c.Method(), c.Path())]
	if !large {
		limit = BodyLimit
	}
	if n := c.Request().Header.ContentLength(); n > limit {
		c.Context().SetConnectionClose() // the unread body must not be parsed as the next request
		return tooLarge(limit)
	}
	if !large {
		if err := readBody(c, limit); err != nil {
			return err
		}
		return c.Next()
	}
	err := c.Next()
	if c.Locals(bodyReadKey) == nil && c.Request().Header.ContentLength() != 0 {
		c.Context().SetConnectionClose() // refused before its body was read
	}
	return err
}

// largeBody reads the body of a large route for an authorised caller, taking a slot when the
// body is large (announced above BodyLimit, or chunked); release gives the slot back once the
// handler is done with the body.
func (s *Server) largeBody(c *fiber.Ctx, limit int) (release func(), err error) {
	release = func() {}
	if n := c.Request().Header.ContentLength(); n > BodyLimit || n == -1 {
		select {
		case s.slots <- struct{}{}:
		default:
			t := time.NewTimer(largeBodyWait)
			defer t.Stop()
			select {
			case s.slots <- struct{}{}:
			case <-t.C:
				c.Context().SetConnectionClose()
				c.Set(fiber.HeaderRetryAfter, "5")
				return release, &apiError{status: fiber.StatusServiceUnavailable, code: "busy",
					msg: "too many large request bodies are being received; try again shortly"}
			}
		}
		release = func() { <-s.slots }
	}
	if err := readBody(c, limit); err != nil {
		release()
		return func() {}, err
	}
	return release, nil
}

// readBody reads the streamed body into memory, refusing it once it passes limit (a chunked
// body announces no length), and hands it to the request so that c.Body() answers it.
func readBody(c *fiber.Ctx, limit int) error {
	req := c.Request()
	c.Locals(bodyReadKey, true)
	stream := req.BodyStream()
	if stream == nil { // already in memory
		if len(req.Body()) > limit {
			return tooLarge(limit)
		}
		return nil
	}
	n := req.Header.ContentLength()
	var buf []byte
	switch {
	case n == 0:
		req.SetBodyRaw(nil)
		return nil
	case n > 0: // at most limit: bodyGate checked the announced length
		buf = make([]byte, n)
		if _, err := io.ReadFull(stream, buf); err != nil {
			c.Context().SetConnectionClose()
			return badRequest("malformed", "the body ended before its Content-Length")
		}
	default: // chunked
		var b bytes.Buffer
		m, err := b.ReadFrom(io.LimitReader(stream, int64(limit)+1))
		if m > int64(limit) {
			c.Context().SetConnectionClose()
			return tooLarge(limit)
		}
		if err != nil {
			c.Context().SetConnectionClose()
			return badRequest("malformed", "the chunked body could not be read")
		}
		buf = b.Bytes()
	}
	req.SetBodyRaw(buf)
	return nil
}
