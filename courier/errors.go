// Package courier is the credit archive of courier firms, their sites and their staff: the
// franchise tree, the seven record categories with their lifecycle, objections and credit repair
// with their statutory clocks, credit commitments, access tokens and the tamper-evident audit trail.
//
// It holds the types, the rules (Service) and the Store it needs; it imports no driver and no
// HTTP framework.
package courier

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Backends translate driver errors into them; httpapi maps them to statuses.
var (
	// ErrNotFound means the object does not exist or is outside the caller's scope.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique key is taken or the object changed since it was read.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the input breaks a rule; a *ValidationError names the fields.
	ErrInvalid = errors.New("invalid input")
	// ErrForbidden means the caller's role may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrState means the object is not in a state that allows the transition.
	ErrState = errors.New("not allowed in the current state")
)

// FieldError names one offending field and why.
type FieldError struct {
	Field  string
	Reason string
}

// ValidationError lists the fields that broke a rule. It matches ErrInvalid with errors.Is.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Reason
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Add records one offending field.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds a field, else nil.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Invalid returns a ValidationError for one field.
func Invalid(field, format string, args ...any) error {
	v := &ValidationError{}
	v.Add(field, format, args...)
	return v
}

// StateError explains a refused transition. It matches ErrState with errors.Is.
type StateError struct {
	Msg string
}

func (e *StateError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrState) true.
func (e *StateError) Is(target error) bool { return target == ErrState }

func stateErr(format string, args ...any) error {
	return &StateError{Msg: fmt.Sprintf(format, args...)}
}
