package courier

import (
	"context"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
)

const (
	// MaxTokenLifetime is the furthest ahead a token's expiry may be set at issue: two years.
	// A token without an expiry does not expire (the bootstrap and admin tokens, and every
	// token issued before expiries existed).
	MaxTokenLifetime = 730 * 24 * time.Hour
	// DefaultTokenGrace is how long a rotated-out secret keeps working, so that its users can
	// switch to the new one without an outage (CREDTRACE_TOKEN_GRACE changes it).
	DefaultTokenGrace = 24 * time.Hour
	// TouchEvery is how stale a token's last-used time may get: it is written at most once
	// this often per token, so that authenticating costs a write once a minute, not per request.
	TouchEvery = time.Minute
)

var (
	// ErrTokenExpired is a token past its expiry (kind credtrace.NotFound, so that every check
	// for an unknown token refuses it too).
	ErrTokenExpired = &credtrace.Error{Kind: credtrace.NotFound, Code: "token_expired"}
	// ErrTokenRotated is a secret that a rotation replaced, after its grace period.
	ErrTokenRotated = &credtrace.Error{Kind: credtrace.NotFound, Code: "token_rotated"}
)

// SetTokenGrace sets how long a rotated-out secret keeps working (0: not at all).
func (s *Service) SetTokenGrace(d time.Duration) { s.tokenGrace = d }

// TokenGrace is how long a rotated-out secret keeps working.
func (s *Service) TokenGrace() time.Duration { return s.tokenGrace }

// live returns the caller of t when t is neither revoked nor expired, and records its use.
func (s *Service) live(ctx context.Context, t Token, now time.Time) (credtrace.Caller, error) {
	if !t.RevokedAt.IsZero() {
		return credtrace.Caller{}, credtrace.ErrNotFound
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return credtrace.Caller{}, &credtrace.Error{Kind: credtrace.NotFound, Code: ErrTokenExpired.Code,
			Msg: fmt.Sprintf("token %s expired at %s: ask a regulator for a new one", t.ID, t.ExpiresAt.Format(time.RFC3339))}
	}
	if now.Sub(t.LastUsedAt) >= TouchEvery {
		// The last use is bookkeeping for the token list: a request is not refused because it
		// could not be written, and the next request a minute on tries again.
		if s.store.TouchToken(ctx, t.ID, now) == nil {
			s.tokens.touched(t.ID, now)
		}
	}
	return credtrace.Caller{TokenID: t.ID, Role: t.Role, FirmID: t.FirmID, MerchantID: t.MerchantID, StaffID: t.StaffID}, nil
}

// Tokens lists tokens one page at a time, never their secrets: regulators every token (or one
// firm's, with q.FirmID), a firm the tokens that act for it. Other callers are
// credtrace.ErrForbidden; a bad cursor or limit is credtrace.ErrInvalid.
func (s *Service) Tokens(ctx context.Context, a credtrace.Caller, q TokenQuery, cursor string, limit int) ([]Token, string, error) {
	switch {
	case a.IsRegulator():
	case a.IsFirm():
		q.FirmID = a.FirmID
	default:
		return nil, "", credtrace.ErrForbidden
	}
	var err error
	if q.Page, limit, err = pageOf(cursor, limit); err != nil {
		return nil, "", err
	}
	items, err := s.store.Tokens(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list tokens: %w", err)
	}
	items, next := trim(items, limit, func(t Token) string { return t.ID })
	return items, next, nil
}

// RotateToken gives token id a new secret, returned once, and keeps the old one working for the
// grace period (SetTokenGrace); a second rotation within it ends the first secret at once.
// Regulators rotate any token, every other caller only its own. The expiry stays: a rotation
// does not lengthen a token's life. Errors: credtrace.ErrForbidden, credtrace.ErrNotFound, and
// credtrace.ErrState for a revoked or expired token.
func (s *Service) RotateToken(ctx context.Context, a credtrace.Caller, id string) (Token, string, error) {
	if !a.IsRegulator() && (a.TokenID == "" || id != a.TokenID) {
		return Token{}, "", credtrace.ErrForbidden
	}
	secret := newSecret()
	var out Token
	defer s.tokens.drop(id) // as RevokeToken does: the old secret's grace counts here at once
	err := s.store.Atomic(ctx, func(st Store) error {
		t, err := st.Token(ctx, id)
		if err != nil {
			return err
		}
		now := s.Now()
		switch {
		case !t.RevokedAt.IsZero():
			return stateErr("token revoked: issue a new one")
		case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
			return stateErr("token expired: issue a new one")
		}
		r := Rotation{Hash: HashToken(secret), RetiredHash: t.Hash, RetiredUntil: now.Add(s.tokenGrace), At: now}
		if err := st.RotateToken(ctx, id, r); err != nil {
			return err
		}
		t.Hash, t.RetiredHash, t.RetiredUntil, t.RotatedAt = r.Hash, r.RetiredHash, r.RetiredUntil, r.At
		out = t
		return s.audit(ctx, st, a, "token.rotate", "token", id, "old secret valid until "+r.RetiredUntil.Format(time.RFC3339))
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("rotate token %s: %w", id, err)
	}
	return out, secret, nil
}
