package scoring_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// parcels is a tracker of delivered parcels, by waybill.
type parcels map[string]tracking.Trace

func (p parcels) Totals(context.Context, tracking.SubjectKind, string, string) (map[string]map[tracking.Metric]int, error) {
	return nil, nil
}

func (p parcels) TotalsPage(context.Context, tracking.SubjectKind, string, string, string, int) ([]tracking.SubjectTotals, error) {
	return nil, nil
}

func (p parcels) TraceParcel(_ context.Context, c credtrace.Caller, waybill, _, _ string) (tracking.Trace, error) {
	t, ok := p[waybill]
	if !ok || (c.Role == credtrace.RoleMerchant && t.MerchantID != c.MerchantID) {
		return tracking.Trace{}, credtrace.ErrNotFound
	}
	return t, nil
}

func (p parcels) Suspect(context.Context, tracking.ParcelKey) ([]tracking.AnomalyKind, error) {
	return nil, nil
}

// TestRatePlatformBursts pushes one merchant's one-star ratings under 2026.2: a burst is of one
// firm tree and of the times the ratings were given, whatever the order they arrive in.
func TestRatePlatformBursts(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "credtrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a1 := firm("a1", "91130100A1")
	a1.ParentID = "hqA"
	arch := &fakeArchive{firms: []courier.Firm{firm("hqA", "91130100HA"), a1, firm("hqB", "91130100HB")}}
	delivered := time.Date(2027, 1, 4, 9, 0, 0, 0, cst)
	ps := parcels{}
	for i, carrier := range []string{"a1", "hqA", "hqB", "hqB", "a1", "a1", "hqA", "hqA"} {
		wb := fmt.Sprintf("WB%d", i)
		ps[wb] = tracking.Trace{Waybill: wb, Carrier: carrier, MerchantID: "M-1", DeliveredAt: delivered,
			Events: []tracking.Event{{Code: tracking.Delivered, Waybill: wb, Carrier: carrier, At: delivered}}}
	}
	now := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	svc := scoring.NewService(db.Scoring(), arch, ps, nil, func() time.Time { return now })
	if _, _, err := svc.PutMethod(ctx, regulator, scoring.Method2026_2); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC)
	h := time.Hour
	one := func(wb string, at time.Time) scoring.PlatformRating {
		return scoring.PlatformRating{RatingInput: scoring.RatingInput{Waybill: wb, Stars: 1}, RaterKind: scoring.RaterMerchant, RaterID: "M-1", RatedAt: at}
	}
	t0 := delivered.Add(h)
	// Three one-stars of brand A's tree and two of brand B's within five hours: no tree has five.
	out, err := svc.RatePlatform(ctx, platform, []scoring.PlatformRating{
		one("WB0", t0), one("WB1", t0.Add(h)), one("WB2", t0.Add(2*h)), one("WB3", t0.Add(3*h)), one("WB4", t0.Add(4*h))})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Err != nil || o.Rating.Weight != 1 {
			t.Errorf("item %d: %+v, %v; want accepted with weight 1 (no burst within one tree)", o.Index, o.Rating, o.Err)
		}
	}
	// The one given three days later is no part of a burst; the fourth of A's tree is none yet
	// (under 2026.1 it would be: the rater's sixth that day); the fifth, given first of all
	// and pushed last, is.
	out, err = svc.RatePlatform(ctx, platform, []scoring.PlatformRating{one("WB7", t0.Add(72*h)), one("WB6", t0.Add(5*h)), one("WB5", t0.Add(-30*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out[:2] {
		if o.Err != nil || o.Rating.Weight != 1 {
			t.Errorf("item %d: %+v, %v; want weight 1", o.Index, o.Rating, o.Err)
		}
	}
	if o := out[2]; o.Err != nil || o.Rating.Weight != 0.2 || len(o.Rating.Flags) != 1 || scoring.FlagKindOf(o.Rating.Flags[0]) != scoring.FlagBurst {
		t.Errorf("fifth of A's tree given within the day: %+v, %v; want weight 0.2 with a burst flag", o.Rating, o.Err)
	}
	// Another role may not push.
	if _, err := svc.RatePlatform(ctx, regulator, nil); err == nil || credtrace.KindOf(err) != credtrace.Forbidden {
		t.Errorf("a regulator's push: %v, want forbidden", err)
	}
}
