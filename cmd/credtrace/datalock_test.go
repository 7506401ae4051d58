package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataDirLock starts serve on a directory and finds that a second serve, and gen --data, on
// the same directory refuse to start, naming the directory and the holder's pid; once the first
// stops, the directory is free again.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	first := startServe(t, dir, nil)
	getenv := func(string) string { return "" }
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--data", dir},
		{"gen", "--size", "tiny", "--data", dir},
	} {
		err := run(t.Context(), args, getenv, io.Discard, io.Discard)
		want := fmt.Sprintf("data directory %s is in use by another credtrace process (pid %d)", dir, os.Getpid())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s on a directory in use = %v, want an error saying %q", args[0], err, want)
		}
	}
	if err := first.stop(t); err != nil {
		t.Fatalf("first serve: %v", err)
	}
	startServe(t, dir, nil).stop(t)
}

func TestDataDirLockUnusable(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(blocker, "sub")}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--data / CREDTRACE_DATA: cannot create") {
		t.Errorf("serve with a data directory under a file = %v, want an error naming --data", err)
	}
}
