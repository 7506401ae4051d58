package scoring_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/scoring"
)

// TestInterruptedRunIsClosed: a run whose process stopped before it recorded its outcome (kill
// -9: stored as running, its lease lapsed) is recorded as failed, interrupted, by the next run
// to take the lease, so that it does not read as running for ever; a run under way holds the
// lease, so it is never taken for an interrupted one.
func TestInterruptedRunIsClosed(t *testing.T) {
	w := newWorld(t)
	began := w.now.Add(-2 * time.Hour)
	orphan := scoring.Run{ID: "orphan-run", AsOf: began, Period: "2026-04", Trigger: "manual", Status: scoring.RunRunning, StartedAt: began, Version: 1,
		Method: "2026.1"}
	if err := w.store.CreateRun(w.ctx, orphan); err != nil {
		t.Fatal(err)
	}
	under, finish, err := w.svc.BeginRun(w.ctx, regulator, time.Time{}, "manual", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.StartRun(w.ctx, regulator, time.Time{}, "manual", false); !errors.Is(err, scoring.ErrLeaseHeld) {
		t.Fatalf("a run while another is under way: %v, want ErrLeaseHeld", err)
	}
	if r, _ := w.store.Run(w.ctx, under.ID); r.Status != scoring.RunRunning {
		t.Fatalf("the run under way was changed to %s while it held the lease", r.Status)
	}
	if r, err := finish(w.ctx); err != nil || r.Status != scoring.RunSucceeded {
		t.Fatalf("the run under way: %s %v", r.Status, err)
	}
	stored, err := w.store.Run(w.ctx, orphan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != scoring.RunFailed || !strings.Contains(stored.Error, "interrupted") || stored.FinishedAt.IsZero() {
		t.Fatalf("the interrupted run after the next run took the lease: %s %q finished %v, want failed, interrupted", stored.Status, stored.Error, stored.FinishedAt)
	}
	left, err := w.store.Runs(w.ctx, scoring.RunQuery{Status: scoring.RunRunning})
	if err != nil || len(left) != 0 {
		t.Fatalf("runs still marked running: %v %v", left, err)
	}
}
