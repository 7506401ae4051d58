package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/store/storetest"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
)

// fresh opens a store on a new file, closed when the test ends.
func fresh(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "credtrace.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// TestContract runs the courier.Store contract suite, each subtest on a fresh file.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) courier.Store { return fresh(t) })
}

// TestTrackingContract runs the tracking.Store contract suite, each subtest on a fresh file.
func TestTrackingContract(t *testing.T) {
	t.Parallel()
	storetest.RunTracking(t, func(t *testing.T) tracking.Store { return fresh(t).Tracking() })
}

// TestScoringContract runs the scoring.Store contract suite, each subtest on a fresh file.
func TestScoringContract(t *testing.T) {
	t.Parallel()
	storetest.RunScoring(t, func(t *testing.T) scoring.Store { return fresh(t).Scoring() })
}

// TestWebhooksContract runs the webhook.Store contract suite, each subtest on a fresh file.
func TestWebhooksContract(t *testing.T) {
	t.Parallel()
	storetest.RunWebhooks(t, func(t *testing.T) webhook.Store { return fresh(t).Webhooks() })
}
