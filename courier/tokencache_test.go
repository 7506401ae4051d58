package courier_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// replica is a second service on the fixture's store, on its own clock, as another replica
// of the service would be.
func (f *fixture) replica() (*courier.Service, *testClock) {
	clk := &testClock{t: f.clock.Now()}
	return courier.NewService(f.st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), clk.Now), clk
}

// TestTokenCacheRevocation: a revoked token is refused at once by the service that revoked it,
// although it had just authenticated (and so was cached), and by another service on the same
// store within courier.TokenCacheFor, never later.
func TestTokenCacheRevocation(t *testing.T) {
	f := newFixture(t)
	other, otherClock := f.replica()
	tk, secret, err := f.svc.IssueToken(f.ctx, f.reg, courier.TokenInput{Role: credtrace.RolePlatform, Label: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range map[string]*courier.Service{"this service": f.svc, "the other service": other} {
		if _, err := svc.Authenticate(f.ctx, secret); err != nil {
			t.Fatalf("%s: authenticate before the revocation: %v", name, err)
		}
	}
	if err := f.svc.RevokeToken(f.ctx, f.reg, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(f.ctx, secret); !errors.Is(err, credtrace.ErrNotFound) {
		t.Fatalf("this service right after the revocation: got %v, want ErrNotFound", err)
	}
	// The other service trusts its cached copy for at most TokenCacheFor.
	otherClock.Advance(courier.TokenCacheFor)
	if _, err := other.Authenticate(f.ctx, secret); !errors.Is(err, credtrace.ErrNotFound) {
		t.Fatalf("the other service %s after the revocation: got %v, want ErrNotFound", courier.TokenCacheFor, err)
	}
}

// TestTokenCacheExpiryAndRotation: a cached token still expires on time, and a rotation through
// this service ends the old secret's cached entry: it works for the grace period, then not, on
// this service, and on another within TokenCacheFor of the grace's end.
func TestTokenCacheExpiryAndRotation(t *testing.T) {
	f := newFixture(t)
	expires := f.clock.Now().Add(time.Hour)
	_, secret, err := f.svc.IssueToken(f.ctx, f.reg, courier.TokenInput{Role: credtrace.RolePlatform, Label: "p", ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(f.ctx, secret); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(expires)
	if _, err := f.svc.Authenticate(f.ctx, secret); !errors.Is(err, courier.ErrTokenExpired) {
		t.Fatalf("at its expiry: got %v, want ErrTokenExpired", err)
	}

	f.svc.SetTokenGrace(time.Minute)
	tk, old, err := f.svc.IssueToken(f.ctx, f.reg, courier.TokenInput{Role: credtrace.RolePlatform, Label: "q"})
	if err != nil {
		t.Fatal(err)
	}
	other, otherClock := f.replica()
	for _, svc := range []*courier.Service{f.svc, other} {
		if _, err := svc.Authenticate(f.ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	_, fresh, err := f.svc.RotateToken(f.ctx, f.reg, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"old secret in its grace": old, "new secret": fresh} {
		if _, err := f.svc.Authenticate(f.ctx, s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	f.clock.Advance(time.Minute)
	if _, err := f.svc.Authenticate(f.ctx, old); !errors.Is(err, courier.ErrTokenRotated) {
		t.Fatalf("old secret after its grace: got %v, want ErrTokenRotated", err)
	}
	otherClock.Set(f.clock.Now().Add(courier.TokenCacheFor))
	if _, err := other.Authenticate(f.ctx, old); !errors.Is(err, courier.ErrTokenRotated) {
		t.Fatalf("old secret on the other service %s after its grace: got %v, want ErrTokenRotated", courier.TokenCacheFor, err)
	}
	if _, err := other.Authenticate(f.ctx, fresh); err != nil {
		t.Fatalf("new secret on the other service: %v", err)
	}
}
