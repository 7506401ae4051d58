package sqlite_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
)

// TestFullDatabaseIsUnavailable caps the file with SQLite's max_page_count, which fails a
// write with SQLITE_FULL exactly as a full disk does: the write is Unavailable naming the
// reason, Degraded says why, reads keep working, and once the cap is lifted the next write
// commits and the store is no longer degraded.
func TestFullDatabaseIsUnavailable(t *testing.T) {
	ctx := t.Context()
	st := fresh(t)
	if _, err := st.InitSetting(ctx, "before", "v"); err != nil {
		t.Fatal(err)
	}
	// The writer pool holds one connection for ever: the pragma stays on it.
	var pages int
	if err := st.DB().QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		_, err = st.InitSetting(ctx, fmt.Sprintf("k%d", i), strings.Repeat("x", 4000))
	}
	var ce *credtrace.Error
	if !errors.As(err, &ce) || ce.Kind != credtrace.Unavailable || ce.Code != "disk_full" {
		t.Fatalf("a write to a full database: %v (want Unavailable, disk_full)", err)
	}
	if reason, since := st.Degraded(); reason != "disk full" || since.IsZero() {
		t.Errorf("Degraded on a full database: %q %v", reason, since)
	}
	if v, err := st.Setting(ctx, "before"); err != nil || v != "v" {
		t.Errorf("a read on a full database: %q %v", v, err)
	}
	if _, err := st.DB().ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.InitSetting(ctx, "after", strings.Repeat("x", 4000)); err != nil {
		t.Fatalf("a write once space returned: %v", err)
	}
	if reason, _ := st.Degraded(); reason != "" {
		t.Errorf("still degraded once a write committed: %q", reason)
	}
}
