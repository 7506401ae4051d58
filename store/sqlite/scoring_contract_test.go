package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/store/storetest"
)

// TestScoringContract runs the scoring.Store contract suite, each subtest on a fresh file.
func TestScoringContract(t *testing.T) {
	storetest.RunScoring(t, func(t *testing.T) scoring.Store {
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
		return s.Scoring()
	})
}
