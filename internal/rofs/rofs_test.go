package rofs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/credtrace/credtrace/internal/rofs"
)

// TestSwitch writes through the mount, turns it read-only (a file already open for writing
// stays open, its writes and fsyncs fail with EROFS, as do creating and removing files, while
// reads work), and back.
func TestSwitch(t *testing.T) {
	backing, mnt := t.TempDir(), t.TempDir()
	f, err := rofs.Mount(backing, mnt)
	if errors.Is(err, rofs.ErrNoFUSE) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unmount() })
	w, err := os.OpenFile(filepath.Join(mnt, "a"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	f.Set(rofs.ReadOnly)
	if _, err := w.Write([]byte("two")); !errors.Is(err, syscall.EROFS) {
		t.Errorf("a write on a read-only mount: %v", err)
	}
	if err := w.Sync(); !errors.Is(err, syscall.EROFS) {
		t.Errorf("an fsync on a read-only mount: %v", err)
	}
	if err := w.Truncate(0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("a truncate on a read-only mount: %v", err)
	}
	if _, err := os.Create(filepath.Join(mnt, "b")); !errors.Is(err, syscall.EROFS) {
		t.Errorf("a create on a read-only mount: %v", err)
	}
	if err := os.Remove(filepath.Join(mnt, "a")); !errors.Is(err, syscall.EROFS) {
		t.Errorf("an unlink on a read-only mount: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "a")); err != nil || string(got) != "one" {
		t.Errorf("a read on a read-only mount: %q %v", got, err)
	}
	f.Set(rofs.FsyncFails)
	if _, err := w.Write([]byte("two")); err != nil {
		t.Errorf("a write while fsync fails: %v", err)
	}
	if err := w.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("an fsync while fsync fails: %v", err)
	}
	f.Set(rofs.Writable)
	if err := w.Sync(); err != nil {
		t.Errorf("an fsync once writable: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(backing, "a")); err != nil || string(got) != "onetwo" {
		t.Errorf("the backing file: %q %v", got, err)
	}
}
