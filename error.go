// Package credtrace is the vocabulary every part of credtrace shares: the kinds of error a
// domain answers (invalid, not found, conflict, forbidden, state, locked, unavailable) with the fields at
// fault, and the caller, with its role and scope, that every domain decides access from.
//
// It imports only the standard library; the domains (courier, tracking, scoring), the backends
// and the HTTP API import it, so that an error made anywhere is read the same way everywhere.
package credtrace

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the class of an error: what the caller can do about it.
type Kind uint8

// The kinds. The zero Kind is an unclassified (internal) error.
const (
	Other Kind = iota
	// Invalid means the input breaks a rule; the Error's Fields name the offending fields.
	Invalid
	// NotFound means the object does not exist or is outside the caller's scope.
	NotFound
	// Conflict means a unique key is taken or the object changed since it was read.
	Conflict
	// Forbidden means the caller's role may not do this.
	Forbidden
	// State means the object is not in a state that allows the transition.
	State
	// Locked means too many attempts were made; the call is refused for a while.
	Locked
	// Unavailable means a dependency (the store) did not answer in time, lost its connection or
	// could not confirm the write to a majority: nothing is known to be wrong with the request,
	// and the same call may succeed when tried again shortly. A write that failed this way may
	// have been applied; every write a caller retries must be safe to repeat.
	Unavailable
)

var kindText = [...]string{
	Other:       "internal error",
	Invalid:     "invalid input",
	NotFound:    "not found",
	Conflict:    "conflict",
	Forbidden:   "forbidden",
	State:       "not allowed in the current state",
	Locked:      "too many attempts; try again later",
	Unavailable: "temporarily unavailable; try again shortly",
}

// String returns the kind's text, the message of an Error that has no other.
func (k Kind) String() string {
	if int(k) < len(kindText) {
		return kindText[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// FieldError names one offending field and why.
type FieldError struct {
	Field  string
	Reason string
}

// Error is an error of a Kind. Code, when set, refines the kind with a machine-readable name
// that the API answers as it is (run_in_progress); Msg is for people; Fields name the input at
// fault; Err is the cause, kept for errors.Is and errors.As.
type Error struct {
	Kind   Kind
	Code   string
	Msg    string
	Fields []FieldError
	Err    error
}

// Error returns Msg (or the kind's text), the fields and the cause.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Msg != "":
		b.WriteString(e.Msg)
	case len(e.Fields) > 0 || e.Err == nil:
		b.WriteString(e.Kind.String())
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Reason)
	}
	if e.Err != nil {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of e's kind whose Code, if it has one, is e's: so
// errors.Is(err, ErrNotFound) holds for every not-found error however it was wrapped, and
// errors.Is(err, x) for a sentinel x with a Code only for errors of that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && t.Kind != Other && (t.Code == "" || t.Code == e.Code)
}

// The kinds as sentinels, for errors.Is and for wrapping with fmt.Errorf("...: %w", ErrX).
var (
	ErrInvalid     = &Error{Kind: Invalid}
	ErrNotFound    = &Error{Kind: NotFound}
	ErrConflict    = &Error{Kind: Conflict}
	ErrForbidden   = &Error{Kind: Forbidden}
	ErrState       = &Error{Kind: State}
	ErrLocked      = &Error{Kind: Locked}
	ErrUnavailable = &Error{Kind: Unavailable}
)

// E returns an error of kind with a formatted message.
func E(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// InvalidField returns an Invalid error naming one field.
func InvalidField(field, format string, args ...any) error {
	v := &Validation{}
	v.Add(field, format, args...)
	return v.Err()
}

// KindOf returns the kind of the first *Error in err's chain, Other when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// FieldsOf returns the offending fields of the first *Error in err's chain that has any.
func FieldsOf(err error) []FieldError {
	for err != nil {
		if e, ok := err.(*Error); ok && len(e.Fields) > 0 {
			return e.Fields
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				if fs := FieldsOf(inner); len(fs) > 0 {
					return fs
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

// Validation collects the offending fields of an input; Err makes them one Invalid error.
type Validation struct {
	Fields []FieldError
}

// Add records one offending field.
func (v *Validation) Add(field, format string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Err returns an Invalid error with the fields, or nil when there is none.
func (v *Validation) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Fields: append([]FieldError(nil), v.Fields...)}
}
