package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// NewValidator returns the validator the API uses, reporting fields by their JSON names.
func NewValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// Time is an RFC 3339 timestamp that must carry its offset; a bad one is reported with its field.
type Time struct{ time.Time }

var timeType = reflect.TypeOf(time.Time{})

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: "non-string", Type: timeType}
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s), Type: timeType}
	}
	t.Time = v
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(t.Time) }

// decode reads the body strictly into dst (no unknown fields, no trailing data, no key given
// twice, nothing but UTF-8) and validates its tags. Malformed JSON, unknown fields, duplicate
// keys and invalid UTF-8 are 400; wrong types and broken rules are 422.
func (s *Server) decode(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("malformed", "a JSON body is required")
	}
	if err := checkJSON(body, ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed", "unexpected data after the JSON value")
	}
	return s.validate(dst)
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("malformed", fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		reason := "must be " + typeName(typ.Type)
		return &credtrace.Error{Kind: credtrace.Invalid, Fields: []credtrace.FieldError{{Field: field, Reason: reason}}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed", "malformed JSON: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return badRequest("unknown_field", "unknown field "+strconv.Quote(name), credtrace.FieldError{Field: name, Reason: "unknown field"})
	}
	return badRequest("malformed", "malformed JSON: "+err.Error())
}

func typeName(t reflect.Type) string {
	if t == timeType {
		return "an RFC 3339 time with offset, for example 2026-03-01T08:00:00+08:00"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}

// validate runs the struct tags and names each failed field by its JSON path.
func (s *Server) validate(v any) error {
	err := s.deps.Validate.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return fmt.Errorf("validate: %w", err)
	}
	out := &credtrace.Validation{}
	for _, fe := range ves {
		ns := fe.Namespace()
		if _, rest, ok := strings.Cut(ns, "."); ok {
			ns = rest
		}
		out.Add(ns, "%s", tagReason(fe))
	}
	return out.Err()
}

func tagReason(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "max":
		if fe.Kind() == reflect.Slice {
			return "at most " + fe.Param() + " items"
		}
		return "at most " + fe.Param() + " characters"
	case "min":
		if fe.Kind() == reflect.Slice {
			return "at least " + fe.Param() + " items"
		}
		return "at least " + fe.Param() + " characters"
	case "oneof":
		return "must be one of " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "gte", "lte":
		return "must be " + map[string]string{"gte": ">=", "lte": "<="}[fe.Tag()] + " " + fe.Param()
	}
	return "fails rule " + fe.Tag()
}

// queryLimit reads ?limit=, reporting a bad one as a field error: every list refuses a limit
// above courier.MaxLimit rather than quietly answering fewer items than asked.
func queryLimit(c *fiber.Ctx) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, credtrace.InvalidField("limit", "must be a positive integer")
	}
	if n > courier.MaxLimit {
		return 0, credtrace.InvalidField("limit", "must be at most %d", courier.MaxLimit)
	}
	return n, nil
}

type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func listOf[S any, T any](items []S, next string, conv func(S) T) listJSON[T] {
	out := make([]T, len(items))
	for i, it := range items {
		out[i] = conv(it)
	}
	return listJSON[T]{Items: out, NextCursor: next}
}

// ts renders a zero time as absent.
func ts(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// pageParams reads ?cursor= and ?limit= for a list served by a store that pages by id: the
// id to start after and the page size (the store is asked for one more, to know if a next
// page exists).
func pageParams(c *fiber.Ctx) (after string, limit int, err error) {
	if limit, err = queryLimit(c); err != nil {
		return "", 0, err
	}
	if after, err = courier.DecodeCursor(c.Query("cursor")); err != nil {
		return "", 0, err
	}
	if limit == 0 {
		limit = courier.DefaultLimit
	}
	return after, limit, nil
}

// pageOut trims a page fetched with one extra item and renders it with its next cursor.
func pageOut[S any, T any](items []S, limit int, id func(S) string, conv func(S) T) listJSON[T] {
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = courier.EncodeCursor(id(items[len(items)-1]))
	}
	return listOf(items, next, conv)
}
