package scoring

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// MaxRatingBatch is the most ratings a platform pushes in one call.
const MaxRatingBatch = 10000

// PlatformRating is one rating a platform pushes for a rater on it: a merchant (RaterID its
// merchant id) or a buyer (RaterID the platform's pseudonymous buyer id), with the time the
// rater gave it.
type PlatformRating struct {
	RatingInput
	RaterKind RaterKind
	RaterID   string
	RatedAt   time.Time
}

// RatingOutcome is what became of one pushed rating: Rating when it was accepted, Err (an
// error of kind invalid or state, naming the field at fault) when it was rejected.
type RatingOutcome struct {
	Index  int
	Rating Rating
	Err    error
}

// noPlatformParcel answers every item whose parcel the platform may not rate, alike, so that
// the answer tells nothing of other firms' parcels.
const noPlatformParcel = "no delivered parcel of this rater with this waybill"

// RatePlatform records the ratings a platform (role platform) pushes, each on its own: a
// rejected item stops none of the others. A platform rates as an intermediary of its raters:
// a merchant's rating only of a parcel that merchant shipped, a buyer's only of a delivered
// parcel, its rater the platform's buyer id (kept apart from other platforms' by the token:
// "<token id>:<buyer id>"). rated_at may be no later than now and no earlier than the
// parcel's delivery. Errors: credtrace.ErrForbidden for another role, an invalid error for
// more than MaxRatingBatch items; a store failure ends the batch (the items before it stay
// accepted and a repeated push edits them).
func (s *Service) RatePlatform(ctx context.Context, c credtrace.Caller, items []PlatformRating) ([]RatingOutcome, error) {
	if c.Role != credtrace.RolePlatform {
		return nil, credtrace.ErrForbidden
	}
	if len(items) > MaxRatingBatch {
		return nil, credtrace.InvalidField("ratings", "at most %d in one call", MaxRatingBatch)
	}
	m, err := s.method(ctx, "")
	if err != nil {
		return nil, err
	}
	roots := map[string]string{}
	out := make([]RatingOutcome, 0, len(items))
	for i, it := range items {
		r, err := s.ratePlatformOne(ctx, c, m, it, roots)
		if k := credtrace.KindOf(err); err != nil && k != credtrace.Invalid && k != credtrace.State && k != credtrace.Conflict {
			return out, err
		}
		out = append(out, RatingOutcome{Index: i, Rating: r, Err: err})
	}
	return out, nil
}

func (s *Service) ratePlatformOne(ctx context.Context, c credtrace.Caller, m Methodology, it PlatformRating, roots map[string]string) (Rating, error) {
	v := &credtrace.Validation{}
	if err := checkRating(it.RatingInput); err != nil {
		v.Fields = append(v.Fields, credtrace.FieldsOf(err)...)
	}
	rater := strings.TrimSpace(it.RaterID)
	switch it.RaterKind {
	case RaterMerchant:
		if rater == "" {
			v.Add("merchant_id", "required for a merchant's rating")
		}
	case RaterConsumer:
		if rater == "" {
			v.Add("buyer_id", "required for a buyer's rating")
		}
	default:
		v.Add("rater_kind", "must be %s or %s", RaterMerchant, RaterConsumer)
	}
	now := s.Now()
	switch {
	case it.RatedAt.IsZero():
		v.Add("rated_at", "required")
	case it.RatedAt.After(now):
		v.Add("rated_at", "is in the future")
	}
	if err := v.Err(); err != nil {
		return Rating{}, err
	}
	var t tracking.Trace
	var err error
	if it.RaterKind == RaterMerchant {
		// Resolved among the merchant's own parcels, as the merchant's own call is.
		t, err = s.tracker.TraceParcel(ctx, credtrace.Caller{Role: credtrace.RoleMerchant, MerchantID: rater, TokenID: c.TokenID}, it.Waybill, it.Carrier, "")
		if err == nil && t.MerchantID != rater {
			err = credtrace.ErrNotFound
		}
		if err == nil {
			t, err = s.tracker.TraceParcel(ctx, credtrace.System, it.Waybill, t.Carrier, "")
		}
	} else {
		t, err = s.tracker.TraceParcel(ctx, credtrace.System, it.Waybill, it.Carrier, "")
		rater = c.TokenID + ":" + rater
	}
	var amb *tracking.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return Rating{}, credtrace.InvalidField("carrier", "several carriers use this waybill: name the carrier")
	case errors.Is(err, credtrace.ErrNotFound):
		return Rating{}, credtrace.InvalidField("waybill", noPlatformParcel)
	case err != nil:
		return Rating{}, err
	}
	if t.DeliveredAt.IsZero() {
		return Rating{}, credtrace.InvalidField("waybill", noPlatformParcel)
	}
	if it.RatedAt.Before(t.DeliveredAt) {
		return Rating{}, credtrace.InvalidField("rated_at", "is before the parcel was delivered")
	}
	return s.keepRating(ctx, m, it.RaterKind, rater, t, it.RatingInput, it.RatedAt.UTC().Truncate(time.Millisecond), roots)
}
