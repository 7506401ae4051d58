package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/credtrace/credtrace"
)

// The reasons a write fails for want of the disk rather than for anything in the request.
const (
	reasonFull     = "disk full"
	reasonReadOnly = "read-only"
	reasonIO       = "disk I/O error"
)

// faultState remembers why the last write failed for want of the disk, until a write commits
// again: /healthz reports it (see Degraded), and the service needs no restart to leave it.
type faultState struct {
	mu     sync.Mutex
	reason string
	since  time.Time
}

// diskReason is why err says the disk refused a write: SQLITE_FULL (ENOSPC, or the database
// reached max_page_count), SQLITE_READONLY (the file or its filesystem became read-only),
// SQLITE_IOERR (a failed write or fsync). Empty for every other error. SQLite reports a write
// that failed with EROFS as a plain SQLITE_IOERR_WRITE (the driver does not give the errno):
// fault tells that case apart by asking the filesystem (see readOnly).
func diskReason(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return reasonFull
	case sqlite3.SQLITE_READONLY:
		return reasonReadOnly
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		if strings.Contains(strings.ToLower(se.Error()), "read-only") {
			return reasonReadOnly
		}
		return reasonIO
	}
	return ""
}

// fault classifies err: a write the disk refused becomes credtrace.Unavailable naming the
// reason (the request was fine, and the same call succeeds once space returns), and is
// remembered for Degraded. Other errors are returned as they are.
func (s *Store) fault(err error) error {
	if err == nil || credtrace.KindOf(err) == credtrace.Unavailable {
		return err
	}
	reason := diskReason(err)
	if reason == "" {
		return err
	}
	if reason == reasonIO && s.readOnly() {
		reason = reasonReadOnly
	}
	f := s.faults
	f.mu.Lock()
	if f.reason == "" {
		f.since = time.Now().UTC()
	}
	f.reason = reason
	f.mu.Unlock()
	return &credtrace.Error{Kind: credtrace.Unavailable, Code: strings.ReplaceAll(reason, " ", "_"),
		Msg: "the store cannot write (" + reason + "); reads still work", Err: err}
}

// readOnly reports whether the database file can no longer be opened for writing because its
// filesystem is read-only (EROFS): a disk remounted read-only after errors, or a volume
// detached, fails the store's writes with SQLITE_IOERR_WRITE, which says no more than "disk
// I/O error". Opening for writing writes nothing.
func (s *Store) readOnly() bool {
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		return errors.Is(err, syscall.EROFS)
	}
	f.Close()
	return false
}

// probe commits a write that changes nothing (user_version set to itself, which rewrites the
// database header): while the store is degraded, the checkpoint loop probes each second, so
// that /healthz says ok again as soon as the disk takes writes, not only after a client
// wrote. It returns the write's error, classified by fault.
func (s *Store) probe(ctx context.Context) error {
	var v int
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return s.fault(err)
	}
	_, err := faultWriter{s}.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
	return err
}

// wrote records that a write committed: the disk takes writes again.
func (s *Store) wrote() {
	f := s.faults
	f.mu.Lock()
	f.reason = ""
	f.mu.Unlock()
}

// Degraded reports why the store cannot write (disk full, read-only, disk I/O error) and since
// when, or "" while writes commit. Reads keep working meanwhile; the state ends with the first
// write that commits.
func (s *Store) Degraded() (reason string, since time.Time) {
	f := s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reason, f.since
}

// faultWriter is the write pool with every error classified by fault: writes outside Atomic.
type faultWriter struct{ s *Store }

func (w faultWriter) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := w.s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return res, w.s.fault(err)
	}
	w.s.wrote()
	return res, nil
}

func (w faultWriter) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := w.s.w.QueryContext(ctx, query, args...)
	return rows, w.s.fault(err)
}

func (w faultWriter) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return w.s.w.QueryRowContext(ctx, query, args...)
}
