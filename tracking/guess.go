package tracking

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
)

// The phone check: the last four digits of the recipient's phone entitle anyone to a parcel's
// reduced trace and to rate it as its consumer. Four digits are only 10,000 values, so wrong
// answers are limited per waybill, whoever asks and from wherever: PhoneGuesses wrong answers
// within PhoneLock of the first lock the check of that waybill for PhoneLock, right answer
// included. The per-address limit of the HTTP layer comes on top.
const (
	PhoneGuesses = 5
	PhoneLock    = time.Hour
)

// Outcomes of a phone check, as reported to Options.OnPhoneCheck.
const (
	PhonePassed = "passed"
	PhoneWrong  = "wrong"
	PhoneLocked = "locked"
)

// LockedError says a check is locked after too many wrong answers, and until when. It is
// answered the same whether the waybill exists or not.
type LockedError struct {
	Check string
	Until time.Time
	Wait  time.Duration // from the moment of the answer to Until, by the service's clock
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: too many wrong answers; locked until %s", e.Check, e.Until.UTC().Format(time.RFC3339))
}

// Is makes a locked check a credtrace.Locked error.
func (e *LockedError) Is(target error) bool { return credtrace.ErrLocked.Is(target) }

// phoneGuessKey names the check of one waybill number; it does not depend on whether the
// waybill exists or at which carriers, so a lock tells nothing about the parcel.
func phoneGuessKey(waybill string) string { return "phone4|" + waybill }

// checkPhone4 returns, reduced, the parcels of waybill among candidates whose recipient's phone
// ends in last4 (none when the waybill is unknown to the caller). A wrong answer and an
// unknown waybill count alike against the waybill's check, once per call; a locked check
// refuses even the right answer.
func (s *Service) checkPhone4(ctx context.Context, waybill, last4 string, candidates []Trace) ([]Trace, error) {
	if len(last4) != 4 || !isDigits(last4) {
		return nil, credtrace.InvalidField("phone4", "must be the last four digits of the recipient's phone")
	}
	key, now := phoneGuessKey(waybill), s.Now()
	wrong, err := s.store.WrongGuesses(ctx, key, now.Add(-2*PhoneLock))
	if err != nil {
		return nil, fmt.Errorf("phone check %s: %w", waybill, err)
	}
	if until := LockedUntil(wrong, now, PhoneGuesses, PhoneLock); !until.IsZero() {
		s.observePhone(PhoneLocked)
		return nil, &LockedError{Check: "phone4", Until: until, Wait: until.Sub(now)}
	}
	// The key is computed even for an unknown waybill, so both answers cost the same.
	got := s.RecipientKey(waybill, last4)
	var match []Trace
	for _, t := range candidates {
		for _, e := range t.Events {
			if e.RecipientKey != "" {
				if subtle.ConstantTimeCompare([]byte(e.RecipientKey), []byte(got)) == 1 {
					match = append(match, reduce(t))
				}
				break
			}
		}
	}
	if len(match) > 0 {
		s.observePhone(PhonePassed)
		return match, nil
	}
	if err := s.store.WrongGuess(ctx, key, now, 2*PhoneLock); err != nil {
		return nil, fmt.Errorf("phone check %s: %w", waybill, err)
	}
	s.observePhone(PhoneWrong)
	return nil, nil
}

func (s *Service) observePhone(outcome string) {
	if s.opts.OnPhoneCheck != nil {
		s.opts.OnPhoneCheck(outcome)
	}
}

// LockedUntil returns until when a check is locked at now, given the times of its recent
// wrong answers (oldest first; those of the last 2×window suffice): max wrong answers within
// one window lock it for a window after the last of them. Zero when it is not locked. Wrong
// answers are never recorded while the check is locked, so a lock ends on time.
func LockedUntil(wrong []time.Time, now time.Time, max int, window time.Duration) time.Time {
	var until time.Time
	for i := 0; i+max-1 < len(wrong); i++ {
		last := wrong[i+max-1]
		if last.Sub(wrong[i]) < window && last.Add(window).After(until) {
			until = last.Add(window)
		}
	}
	if until.After(now) {
		return until
	}
	return time.Time{}
}

// AddressWindow is the window of the per-address limit of phone checks (see AllowAddress).
const AddressWindow = time.Minute

func addressKey(addr string) string { return "address|" + addr }

// AllowAddress counts one request that could check a phone from addr, and reports whether it
// is within max requests in the last AddressWindow. The hit is recorded before the count, in
// the store, so requests from one address to several processes at once are all counted, and a
// refused request counts too.
func (s *Service) AllowAddress(ctx context.Context, addr string, max int) (bool, error) {
	key, now := addressKey(addr), s.Now()
	if err := s.store.AddHit(ctx, key, now); err != nil {
		return false, fmt.Errorf("address limit: %w", err)
	}
	n, err := s.store.CountHits(ctx, key, now.Add(-AddressWindow))
	if err != nil {
		return false, fmt.Errorf("address limit: %w", err)
	}
	return n <= max, nil
}

// PruneHits forgets the hits of the per-address limit that no window counts any more (a
// scheduled job).
func (s *Service) PruneHits(ctx context.Context) error {
	if err := s.store.PruneHits(ctx, s.Now().Add(-AddressWindow)); err != nil {
		return fmt.Errorf("prune address hits: %w", err)
	}
	return nil
}
