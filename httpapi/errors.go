package httpapi

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// apiError is an error that already knows its status and shape.
type apiError struct {
	status int
	code   string
	msg    string
	fields []credtrace.FieldError
}

func (e *apiError) Error() string { return e.msg }

func errUnauthorized(msg string) error {
	return &apiError{status: fiber.StatusUnauthorized, code: "unauthorized", msg: msg}
}

func badRequest(code, msg string, fields ...credtrace.FieldError) error {
	return &apiError{status: fiber.StatusBadRequest, code: code, msg: msg, fields: fields}
}

// kinds maps each kind of credtrace error to its status and code: the one table of the API. An
// error with a Code of its own (run_in_progress) answers that code with its kind's status.
var kinds = map[credtrace.Kind]struct {
	status int
	code   string
}{
	credtrace.Invalid:     {fiber.StatusUnprocessableEntity, "invalid"},
	credtrace.NotFound:    {fiber.StatusNotFound, "not_found"},
	credtrace.Conflict:    {fiber.StatusConflict, "conflict"},
	credtrace.State:       {fiber.StatusConflict, "wrong_state"},
	credtrace.Forbidden:   {fiber.StatusForbidden, "forbidden"},
	credtrace.Locked:      {fiber.StatusTooManyRequests, "rate_limited"},
	credtrace.Unavailable: {fiber.StatusServiceUnavailable, "unavailable"},
}

// retryAfter is the Retry-After (seconds) of a 503: long enough for a driver to find a new
// primary or a connection to come back, short enough that a client's retry is not idle.
const retryAfter = "2"

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	if k, ok := kinds[kindOf(err)]; ok {
		return k.status
	}
	return fiber.StatusInternalServerError
}

// kindOf is the kind of err, also for the domain errors of their own shape (an ambiguous
// waybill is a conflict) that answer errors.Is for a kind.
func kindOf(err error) credtrace.Kind {
	if k := credtrace.KindOf(err); k != credtrace.Other {
		return k
	}
	for k := range kinds {
		if errors.Is(err, &credtrace.Error{Kind: k}) {
			return k
		}
	}
	return credtrace.Other
}

type fieldJSON struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

type errorBody struct {
	Code    string      `json:"code"`
	Message string      `json:"message"`
	Fields  []fieldJSON `json:"fields,omitempty"`
	// Carriers, on ambiguous_waybill, are the carriers (firm ids) whose parcels of the waybill
	// the caller may see: pass one as ?carrier= (or "carrier" in a body).
	Carriers []string `json:"carriers,omitempty"`
}

type errorJSON struct {
	Error     errorBody `json:"error"`
	RequestID string    `json:"request_id,omitempty"`
}

// handleError writes every error as {"error": {...}, "request_id": ...}. Unknown errors get a
// generic 500 and one log line; their text never reaches the client.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	if le, ok := lockedError(c, err); ok {
		err = le
	}
	body := errorBody{}
	status := statusOf(err)
	var ae *apiError
	var fe *fiber.Error
	var ce *credtrace.Error
	var amb *tracking.AmbiguousError
	switch {
	case errors.As(err, &amb):
		body.Code, body.Message, body.Carriers = "ambiguous_waybill", amb.Error(), amb.Carriers
	case errors.As(err, &ae):
		body.Code, body.Message = ae.code, ae.msg
		for _, f := range ae.fields {
			body.Fields = append(body.Fields, fieldJSON{f.Field, f.Reason})
		}
	case errors.As(err, &fe):
		body.Code, body.Message = "http_"+strconv.Itoa(fe.Code), fe.Message
		if fe.Code == fiber.StatusRequestEntityTooLarge {
			body.Code = "too_large"
			body.Fields = []fieldJSON{{"body", "larger than " + humanBytes(MaxBodyLimit)}}
		}
	case kindOf(err) == credtrace.Unavailable:
		// The cause names hosts and driver detail: logged, not answered.
		body.Code, body.Message = kinds[credtrace.Unavailable].code, "the store did not answer in time; try again shortly"
		reason := "no answer"
		if errors.As(err, &ce) && ce.Code != "" {
			// The store or the pipeline said why (disk full, read-only, a backlog of events
			// waiting for the store): the message says it too, for the client can do nothing
			// but wait, and knowing why spares a support call.
			reason = strings.ReplaceAll(ce.Code, "_", " ")
			body.Message = ce.Msg + "; try again shortly"
		}
		c.Set(fiber.HeaderRetryAfter, retryAfter)
		s.log.LogAttrs(c.UserContext(), slog.LevelWarn, "store unavailable",
			slog.String("request_id", requestID(c)), slog.String("route", c.Route().Path), slog.String("reason", reason), slog.String("error", err.Error()))
	case status == fiber.StatusInternalServerError:
		body.Code, body.Message = "internal", "internal error; quote the request id when reporting it"
		s.log.LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(c)), slog.String("route", c.Route().Path), slog.String("error", err.Error()))
	default:
		body.Code, body.Message = kinds[kindOf(err)].code, err.Error()
		if errors.As(err, &ce) && ce.Code != "" {
			body.Code = ce.Code
		}
		if fs := credtrace.FieldsOf(err); len(fs) > 0 {
			body.Message = "the request breaks a rule"
			for _, f := range fs {
				body.Fields = append(body.Fields, fieldJSON{f.Field, f.Reason})
			}
		}
	}
	return s.writeError(c, status, errorJSON{Error: body, RequestID: requestID(c)})
}

// writeError answers an error in the form the client prefers, as wtf's http.Error does: a
// dashboard page (errorPage) when its Accept prefers text/html, JSON when it prefers JSON.
// Without a preference (no Accept, or */*) the path decides: the dashboard's (/ui) gets the
// page, for it is a browser's; the API's gets JSON, for its clients seldom send Accept.
func (s *Server) writeError(c *fiber.Ctx, status int, e errorJSON) error {
	offers := []string{fiber.MIMEApplicationJSON, fiber.MIMETextHTML}
	if dashboardPath(c.Path()) {
		offers[0], offers[1] = offers[1], offers[0]
	}
	if c.Accepts(offers...) == fiber.MIMETextHTML {
		return s.errorPage(c, status, e)
	}
	return c.Status(status).JSON(e)
}
