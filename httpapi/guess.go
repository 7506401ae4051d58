package httpapi

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// AddressChecks is the default per-address limit of the routes that check the recipient's
// phone digits (the trace, its stream, the dashboard's parcel page, the recipient's rating):
// requests a minute from one address (Deps.AddressChecks, --address-checks). It comes on top of
// the per-waybill lock of tracking.PhoneGuesses, which no setting lifts.
const AddressChecks = 30

// phoneLimiter limits, per address, the requests that could guess the phone digits: every
// anonymous request on the route, and any request that carries phone4 whoever signs it. The
// requests are counted in the store, so the limit holds across replicas.
func (s *Server) phoneLimiter() fiber.Handler {
	max := s.deps.AddressChecks
	if max <= 0 {
		max = AddressChecks
	}
	return func(c *fiber.Ctx) error {
		// Without tracking there is no phone to check.
		if s.deps.Tracking == nil || actor(c).Role != credtrace.RolePublic && c.Query("phone4") == "" {
			return c.Next()
		}
		ok, err := s.deps.Tracking.AllowAddress(ctx(c), c.IP(), max)
		if err != nil {
			return err
		}
		if !ok {
			s.deps.Metrics.PhoneCheck(PhoneRateLimited)
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(tracking.AddressWindow.Seconds())))
			return &apiError{status: fiber.StatusTooManyRequests, code: "rate_limited",
				msg: "too many requests from this address that check a phone; try again in a minute"}
		}
		return c.Next()
	}
}

// PhoneRateLimited is the outcome of a phone check refused by the per-address limit.
const PhoneRateLimited = "rate_limited"

// lockedError answers a check locked after too many wrong answers: 429 with Retry-After.
func lockedError(c *fiber.Ctx, err error) (*apiError, bool) {
	var le *tracking.LockedError
	if !errors.As(err, &le) {
		return nil, false
	}
	wait := int(le.Wait.Seconds()) + 1
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(wait))
	return &apiError{status: fiber.StatusTooManyRequests, code: "check_locked",
		msg:    "too many wrong answers to this parcel's phone check; it is locked for everyone until " + le.Until.UTC().Format(time.RFC3339),
		fields: []credtrace.FieldError{{Field: le.Check, Reason: "locked after too many wrong answers"}}}, true
}
