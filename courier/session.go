package courier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
)

// Sessions live by the wall clock the browser lives by, not by the service clock: the callers
// hand in the times.

// OpenSession signs a into the dashboard until expires: it stores a session and returns its id
// (for the browser's cookie) and the CSRF token of its forms.
func (s *Service) OpenSession(ctx context.Context, a credtrace.Caller, expires time.Time) (id, csrf string, err error) {
	id, csrf = newSecret(), newSecret()
	ss := Session{IDHash: HashToken(id), TokenID: a.TokenID, CSRF: csrf, Expires: expires.UTC().Truncate(time.Millisecond)}
	if err := s.store.CreateSession(ctx, ss); err != nil {
		return "", "", fmt.Errorf("open session: %w", err)
	}
	return id, csrf, nil
}

// SessionOf returns the actor signed in as session id at now and the session's CSRF token. An
// unknown or expired session, or one whose token was revoked since, is credtrace.ErrNotFound; an
// expired one is forgotten.
func (s *Service) SessionOf(ctx context.Context, id string, now time.Time) (credtrace.Caller, string, error) {
	if id == "" {
		return credtrace.Caller{}, "", credtrace.ErrNotFound
	}
	ss, err := s.store.Session(ctx, HashToken(id))
	if err != nil {
		return credtrace.Caller{}, "", err
	}
	if !now.Before(ss.Expires) {
		if err := s.store.DeleteSession(ctx, ss.IDHash); err != nil {
			return credtrace.Caller{}, "", fmt.Errorf("forget expired session: %w", err)
		}
		return credtrace.Caller{}, "", credtrace.ErrNotFound
	}
	// The token may have been revoked since sign-in: ask the archive each time.
	a, err := s.ActorOf(ctx, ss.TokenID)
	if errors.Is(err, credtrace.ErrNotFound) {
		if err := s.store.DeleteSession(ctx, ss.IDHash); err != nil {
			return credtrace.Caller{}, "", fmt.Errorf("forget session of a revoked token: %w", err)
		}
		return credtrace.Caller{}, "", credtrace.ErrNotFound
	}
	if err != nil {
		return credtrace.Caller{}, "", err
	}
	return a, ss.CSRF, nil
}

// CloseSession signs session id out; closing an unknown session is no error.
func (s *Service) CloseSession(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := s.store.DeleteSession(ctx, HashToken(id)); err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}

// PruneSessions forgets the sessions expired at now (a scheduled job: reads refuse them anyway).
func (s *Service) PruneSessions(ctx context.Context, now time.Time) error {
	if err := s.store.DeleteSessionsBefore(ctx, now); err != nil {
		return fmt.Errorf("prune sessions: %w", err)
	}
	return nil
}
