package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/store/storetest"
)

// TestContract runs the courier.Store contract suite, each subtest on a fresh file.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) courier.Store {
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
	})
}
