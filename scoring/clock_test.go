package scoring_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
)

// TestClockStepsDuringARun steps the injected clock back an hour or forward a day between a
// run's start and its end, across a month's boundary: the run succeeds and stores its scores
// once, and its period is the calendar period of its as-of time, not of the stepped clock.
func TestClockStepsDuringARun(t *testing.T) {
	cases := []struct {
		name       string
		start      time.Time
		step       time.Duration
		publish    bool
		wantPeriod string
	}{
		{"forward a day, preview", time.Date(2026, 6, 30, 23, 30, 0, 0, cst), 24 * time.Hour, false, "2026-06"},
		{"back an hour, preview", time.Date(2026, 7, 1, 0, 30, 0, 0, cst), -time.Hour, false, "2026-07"},
		{"forward a day, publishing", time.Date(2026, 7, 1, 0, 30, 0, 0, cst), 24 * time.Hour, true, "2026-06"},
		{"back an hour, publishing", time.Date(2026, 7, 1, 0, 30, 0, 0, cst), -time.Hour, true, "2026-06"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.now = c.start
			begun, finish, err := w.svc.BeginRun(w.ctx, regulator, time.Time{}, "manual", c.publish)
			if err != nil {
				t.Fatal(err)
			}
			w.now = w.now.Add(c.step)
			r, err := finish(w.ctx)
			if err != nil || r.Status != scoring.RunSucceeded {
				t.Fatalf("run after the clock stepped: %+v, %v", r, err)
			}
			if r.Period != c.wantPeriod || begun.Period != c.wantPeriod {
				t.Errorf("period = %q (at begin %q), want %q: the period of the as-of time %s", r.Period, begun.Period, c.wantPeriod, r.AsOf)
			}
			if !r.AsOf.Equal(begun.AsOf) {
				t.Errorf("as-of moved with the clock: %s, then %s", begun.AsOf, r.AsOf)
			}
			runs, err := w.store.Runs(w.ctx, scoring.RunQuery{})
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs = %+v, %v; want the one run", runs, err)
			}
			scores, err := w.store.Scores(w.ctx, scoring.ScoreQuery{RunID: r.ID, Subject: scoring.Firm})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, sc := range scores {
				if seen[sc.SubjectID] {
					t.Errorf("%s scored twice", sc.SubjectID)
				}
				seen[sc.SubjectID] = true
				if sc.Period != c.wantPeriod {
					t.Errorf("%s score period %q, want %q", sc.SubjectID, sc.Period, c.wantPeriod)
				}
			}
			if len(seen) != 4 || r.Total != 4 {
				t.Errorf("scores of %d firms, Total %d; want 4 each", len(seen), r.Total)
			}
			// The clock steps back again: the same period is not published twice.
			if c.publish {
				w.now = c.start
				if _, err := w.svc.StartRun(w.ctx, regulator, time.Time{}, "manual", true); err == nil {
					t.Errorf("the period was published again once the clock stepped")
				}
			}
		})
	}
}

// TestSteppedInstanceDoesNotShareTheLease runs a second instance on the same store, its clock
// an hour behind the first's, while the first holds the run lease: it must not take the lease
// until the first gives it up. A clock ahead by more than the lease's TTL is not here: the
// lease compares the holder's expiry, from its clock, with the other's now, so an instance a
// day ahead takes it over while the first still runs (see /work/notes/faults2-report.md).
func TestSteppedInstanceDoesNotShareTheLease(t *testing.T) {
	for _, skew := range []time.Duration{-time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			w := newWorld(t)
			other := scoring.NewService(w.store, w.archive, &fakeTracker{}, nil, func() time.Time { return w.now.Add(skew) })
			_, finish, err := w.svc.BeginRun(w.ctx, regulator, time.Time{}, "manual", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := other.BeginRun(w.ctx, regulator, w.now.Add(skew-time.Minute), "manual", false); !errors.Is(err, scoring.ErrLeaseHeld) {
				t.Errorf("an instance %s off began a run while the first held the lease: %v", skew, err)
			}
			if r, err := finish(w.ctx); err != nil || r.Status != scoring.RunSucceeded {
				t.Fatalf("the first run: %+v, %v", r, err)
			}
			if _, err := other.StartRun(w.ctx, regulator, w.now.Add(skew-time.Minute), "manual", false); err != nil {
				t.Errorf("the second instance once the lease was given up: %v", err)
			}
		})
	}
}
