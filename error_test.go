package credtrace_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/credtrace/credtrace"
)

func TestErrorIs(t *testing.T) {
	lease := &credtrace.Error{Kind: credtrace.Conflict, Code: "run_in_progress", Msg: "another instance is running this job"}
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"the sentinel itself", credtrace.ErrNotFound, credtrace.ErrNotFound, true},
		{"wrapped with %w", fmt.Errorf("confirm record r1: %w", credtrace.ErrNotFound), credtrace.ErrNotFound, true},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", credtrace.ErrState)), credtrace.ErrState, true},
		{"made by E", credtrace.E(credtrace.State, "only a pending record can be confirmed"), credtrace.ErrState, true},
		{"another kind", fmt.Errorf("x: %w", credtrace.ErrConflict), credtrace.ErrNotFound, false},
		{"a field error is invalid", credtrace.InvalidField("name", "required"), credtrace.ErrInvalid, true},
		{"a field error is not a conflict", credtrace.InvalidField("name", "required"), credtrace.ErrConflict, false},
		{"a code is of its kind", fmt.Errorf("lost the lease: %w", lease), credtrace.ErrConflict, true},
		{"a code matches its sentinel", fmt.Errorf("lost the lease: %w", lease), lease, true},
		{"a plain conflict is not of the code", credtrace.ErrConflict, lease, false},
		{"a cause is kept", &credtrace.Error{Kind: credtrace.Conflict, Err: errTaken}, errTaken, true},
		{"a plain error has no kind", errors.New("disk full"), credtrace.ErrInvalid, false},
		{"through errors.Join", errors.Join(errors.New("a"), credtrace.ErrForbidden), credtrace.ErrForbidden, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

var errTaken = errors.New("UNIQUE constraint failed")

func TestErrorText(t *testing.T) {
	v := &credtrace.Validation{}
	v.Add("name", "required")
	v.Add("region", "%q is not a region code", "99")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a kind alone", credtrace.ErrNotFound, "not found"},
		{"wrapped", fmt.Errorf("firm f1: %w", credtrace.ErrNotFound), "firm f1: not found"},
		{"a message", credtrace.E(credtrace.State, "only a pending record can be confirmed"), "only a pending record can be confirmed"},
		{"fields", v.Err(), `invalid input: name: required; region: "99" is not a region code`},
		{"a cause", &credtrace.Error{Kind: credtrace.Conflict, Msg: "create firm", Err: errTaken}, "create firm: UNIQUE constraint failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFieldsAndKinds(t *testing.T) {
	if err := (&credtrace.Validation{}).Err(); err != nil {
		t.Errorf("an empty Validation's Err() = %v, want nil", err)
	}
	v := &credtrace.Validation{}
	v.Add("stars", "must be 1 to 5")
	err := fmt.Errorf("rate w1: %w", v.Err())
	want := []credtrace.FieldError{{Field: "stars", Reason: "must be 1 to 5"}}
	if got := credtrace.FieldsOf(err); !reflect.DeepEqual(got, want) {
		t.Errorf("FieldsOf = %v, want %v", got, want)
	}
	v.Add("tags", "at most 10")
	if got := credtrace.FieldsOf(err); !reflect.DeepEqual(got, want) {
		t.Errorf("FieldsOf after a later Add = %v, want the fields when the error was made, %v", got, want)
	}
	var ce *credtrace.Error
	if !errors.As(err, &ce) || ce.Kind != credtrace.Invalid {
		t.Errorf("errors.As(%v) = %+v, want an Invalid *Error", err, ce)
	}
	for _, tt := range []struct {
		err  error
		want credtrace.Kind
	}{
		{fmt.Errorf("x: %w", credtrace.ErrLocked), credtrace.Locked},
		{fmt.Errorf("x: %w", credtrace.ErrUnavailable), credtrace.Unavailable},
		{err, credtrace.Invalid},
		{errors.New("boom"), credtrace.Other},
		{nil, credtrace.Other},
	} {
		if got := credtrace.KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if got := credtrace.FieldsOf(errors.New("boom")); got != nil {
		t.Errorf("FieldsOf(plain error) = %v, want nil", got)
	}
}

func TestCallerRoles(t *testing.T) {
	tests := []struct {
		c         credtrace.Caller
		regulator bool
		firm      bool
	}{
		{credtrace.Caller{Role: credtrace.RoleRegulator}, true, false},
		{credtrace.System, true, false},
		{credtrace.Caller{Role: credtrace.RoleFirm, FirmID: "f1"}, false, true},
		{credtrace.Public, false, false},
		{credtrace.Caller{}, false, false},
	}
	for _, tt := range tests {
		if got := tt.c.IsRegulator(); got != tt.regulator {
			t.Errorf("%+v.IsRegulator() = %v, want %v", tt.c, got, tt.regulator)
		}
		if got := tt.c.IsFirm(); got != tt.firm {
			t.Errorf("%+v.IsFirm() = %v, want %v", tt.c, got, tt.firm)
		}
	}
	c := credtrace.Caller{Role: credtrace.RoleMerchant}
	if !c.OneOf(credtrace.RolePlatform, credtrace.RoleMerchant) || c.OneOf(credtrace.RoleRegulator, credtrace.RoleFirm) {
		t.Errorf("OneOf does not follow the role of %+v", c)
	}
}
