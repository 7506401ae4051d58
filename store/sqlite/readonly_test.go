package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/internal/rofs"
	"github.com/credtrace/credtrace/store/sqlite"
)

// onSwitchedDisk opens a store on a FUSE passthrough of a directory whose writes a switch
// fails, and returns it with the switch and the backing directory.
func onSwitchedDisk(t *testing.T) (*sqlite.Store, *rofs.FS, string) {
	t.Helper()
	backing, mnt := t.TempDir(), t.TempDir()
	fsys, err := rofs.Mount(backing, mnt)
	if errors.Is(err, rofs.ErrNoFUSE) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Unmount() }) // after the store's Close: cleanups run last first
	st, err := sqlite.Open(t.Context(), filepath.Join(mnt, "credtrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, fsys, backing
}

// wantUnavailable fails unless err is Unavailable with code.
func wantUnavailable(t *testing.T, err error, code string) {
	t.Helper()
	var ce *credtrace.Error
	if !errors.As(err, &ce) || ce.Kind != credtrace.Unavailable || ce.Code != code {
		t.Fatalf("a write the disk refused: %v (want Unavailable, %s)", err, code)
	}
}

// waitHealthy waits until the store's own probe has found the disk writable again.
func waitHealthy(t *testing.T, st *sqlite.Store) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		reason, _ := st.Degraded()
		if reason == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still degraded (%s) with the disk writable and nobody writing", reason)
		}
	}
}

// TestReadOnlyDiskIsUnavailable turns the filesystem under an open store read-only (its files
// stay open, every write, fsync, create and unlink fails with EROFS): writes are Unavailable
// naming read-only, Degraded says so, reads keep working; once the filesystem takes writes
// again the store finds it out by itself (no client write needed), the same handle writes,
// and nothing refused was stored.
func TestReadOnlyDiskIsUnavailable(t *testing.T) {
	ctx := t.Context()
	st, fsys, backing := onSwitchedDisk(t)
	if _, err := st.InitSetting(ctx, "before", "v"); err != nil {
		t.Fatal(err)
	}
	fsys.Set(rofs.ReadOnly)
	for i := range 3 {
		_, err := st.InitSetting(ctx, fmt.Sprintf("refused%d", i), strings.Repeat("x", 4000))
		wantUnavailable(t, err, "read-only")
	}
	if reason, since := st.Degraded(); reason != "read-only" || since.IsZero() {
		t.Errorf("Degraded on a read-only disk: %q %v", reason, since)
	}
	if v, err := st.Setting(ctx, "before"); err != nil || v != "v" {
		t.Errorf("a read on a read-only disk: %q %v", v, err)
	}
	fsys.Set(rofs.Writable)
	waitHealthy(t, st)
	if _, err := st.InitSetting(ctx, "after", "w"); err != nil {
		t.Fatalf("a write once the disk is writable: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Open(ctx, filepath.Join(backing, "credtrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for key, want := range map[string]string{"before": "v", "after": "w"} {
		if v, err := again.Setting(ctx, key); err != nil || v != want {
			t.Errorf("%s after reopening: %q %v", key, v, err)
		}
	}
	for i := range 3 {
		if v, err := again.Setting(ctx, fmt.Sprintf("refused%d", i)); !errors.Is(err, credtrace.ErrNotFound) {
			t.Errorf("refused write %d stored: %d bytes, %v", i, len(v), err)
		}
	}
}

// TestFailedFsync fails the fsyncs under an open store while its writes still reach the page
// cache, as a failing device does: a commit whose fsync failed is Unavailable (disk I/O error)
// and is not visible; the same connection, not reopened, commits again once fsync works, and
// every write that was acknowledged survives a reopen. (SQLite's WAL makes this safe: a commit
// whose fsync failed never advanced the WAL index, so the next commit overwrites its frames,
// and a checkpoint whose fsync failed did not advance the backfill mark, so the next one copies
// the same pages again. The connection leaves its error state when the transaction ends.)
func TestFailedFsync(t *testing.T) {
	ctx := t.Context()
	st, fsys, backing := onSwitchedDisk(t)
	if _, err := st.InitSetting(ctx, "before", "v"); err != nil {
		t.Fatal(err)
	}
	fsys.Set(rofs.FsyncFails)
	for i := range 3 {
		_, err := st.InitSetting(ctx, fmt.Sprintf("refused%d", i), strings.Repeat("x", 4000))
		wantUnavailable(t, err, "disk_I/O_error")
		if _, err := st.Setting(ctx, fmt.Sprintf("refused%d", i)); !errors.Is(err, credtrace.ErrNotFound) {
			t.Errorf("a commit whose fsync failed is visible: %v", err)
		}
	}
	if reason, _ := st.Degraded(); reason != "disk I/O error" {
		t.Errorf("Degraded while fsync fails: %q", reason)
	}
	fsys.Set(rofs.Writable)
	waitHealthy(t, st)
	for i := range 3 {
		if _, err := st.InitSetting(ctx, fmt.Sprintf("after%d", i), strings.Repeat("y", 2000)); err != nil {
			t.Fatalf("a write once fsync works: %v", err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Open(ctx, filepath.Join(backing, "credtrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, key := range []string{"before", "after0", "after1", "after2"} {
		if _, err := again.Setting(ctx, key); err != nil {
			t.Errorf("acknowledged %s after reopening: %v", key, err)
		}
	}
	for i := range 3 {
		if _, err := again.Setting(ctx, fmt.Sprintf("refused%d", i)); !errors.Is(err, credtrace.ErrNotFound) {
			t.Errorf("refused write %d stored: %v", i, err)
		}
	}
	var check string
	if err := again.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity check after the failed fsyncs: %q %v", check, err)
	}
}
