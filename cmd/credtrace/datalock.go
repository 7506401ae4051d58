package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// lockName is the lock file in the data directory.
const lockName = "credtrace.lock"

// lockDataDir makes dir when missing and takes its lock, so that one process at a time owns the
// embedded store there: the SQLite backend keeps its derived state in memory and replays the
// journal at start, which two processes on one directory would each do, counting events twice.
// The lock is an flock on dir/credtrace.lock, released by unlock or by the process's end however
// it ends (a kill included), and the file names the holder's pid for the refusal's message.
// credtrace score takes no lock: it reads what the service has saved and never replays.
func lockDataDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--data / CREDTRACE_DATA: cannot create %s: %v", dir, errors.Unwrap(err))
	}
	path := filepath.Join(dir, lockName)
	l := flock.New(path, flock.SetPermissions(0o600))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("--data / CREDTRACE_DATA: lock %s: %w", path, err)
	}
	if !ok {
		holder := "another credtrace process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf("another credtrace process (pid %d)", pid)
			}
		}
		return nil, fmt.Errorf("data directory %s is in use by %s, which holds %s: one process per data directory; stop that one or give this one another --data", dir, holder, path)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		l.Unlock()
		return nil, fmt.Errorf("--data / CREDTRACE_DATA: write %s: %w", path, err)
	}
	return func() { l.Unlock() }, nil
}
