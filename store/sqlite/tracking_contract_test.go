package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/store/storetest"
	"github.com/credtrace/credtrace/tracking"
)

// TestTrackingContract runs the tracking.Store contract suite, each subtest on a fresh file.
func TestTrackingContract(t *testing.T) {
	storetest.RunTracking(t, func(t *testing.T) tracking.Store {
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
		return s.Tracking()
	})
}
