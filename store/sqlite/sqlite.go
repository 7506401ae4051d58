// Package sqlite is the embedded default backend of credtrace on modernc.org/sqlite (pure Go):
// one file, WAL journal, schema migrations versioned in code and applied at start. It
// implements the Store of every domain package.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is a credtrace store in one SQLite file. Writes go through a single connection (SQLite
// allows one writer at a time, and queueing in Go is cheaper than busy-waiting in SQLite);
// reads use a small pool that sees every committed write thanks to WAL.
type Store struct {
	w    *sql.DB
	r    *readPool
	tx   *sql.Tx // set inside Atomic
	path string
	hook *func(step string)
	// faults is why writes fail for want of the disk, shared by the transactions' copies.
	faults *faultState

	stop      chan struct{} // closed by Close: ends the checkpoint loop
	done      chan struct{} // closed when the loop has ended
	closeOnce *sync.Once
}

// SetStepHook installs a function called at the steps of tracking's writes: "events" inside
// the transaction that appends events, "committed" once it committed, "derived" inside the
// save of the derived state ("events", "parcels", "stats" inside WriteBatch). It exists for
// crash tests, which stop the process there and check that nothing half-written survives and
// nothing durable is lost.
func (s *Store) SetStepHook(h func(step string)) { *s.hook = h }

func (s *Store) step(name string) {
	if h := *s.hook; h != nil {
		h(name)
	}
}

// Open opens (creating when needed) the store at path and migrates its schema.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create %s: %w", dir, err)
		}
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		if extra != "" {
			q.Add("_txlock", extra)
		}
		return "file:" + path + "?" + q.Encode()
	}
	// The writer does not checkpoint the WAL in its commits; a background loop does, so
	// that commits (and the ingestion answers waiting on them) never carry that work.
	// journal_size_limit cuts the WAL file back when a write starts it over after a complete
	// checkpoint: without it the file keeps the size of its largest burst (gigabytes after a
	// prefill) for good. The page cache of the one writer is bounded explicitly (-N is KiB).
	w, err := sql.Open("sqlite", dsn("immediate")+"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)&_pragma=cache_size(-16384)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	rdb, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		w.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{w: w, r: newReadPool(rdb, ck), path: path, hook: new(func(string)), faults: &faultState{}, stop: make(chan struct{}), done: make(chan struct{}), closeOnce: &sync.Once{}}
	if err := s.migrate(ctx); err != nil {
		close(s.done)
		s.Close()
		return nil, err
	}
	go s.checkpoints(time.Second)
	return s, nil
}

// checkpoints copies the WAL back into the database file every interval, without blocking
// readers or the writer (PASSIVE), until Close. While the disk refuses writes it probes it
// instead (see probe).
func (s *Store) checkpoints(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if reason, _ := s.Degraded(); reason != "" {
				ctx, cancel := context.WithTimeout(context.Background(), every)
				s.probe(ctx) // a success ends the degraded state; a failure keeps it
				cancel()
				continue
			}
			s.checkpoint(context.Background())
		}
	}
}

// walLimit is the WAL size past which a checkpoint waits for readers rather than passes them.
const walLimit = 64 << 20

// checkpoint copies the WAL back into the database file. A PASSIVE checkpoint stops at the
// oldest snapshot a reader holds, and the WAL starts over only when it has all been copied
// while no reader uses it: under steady reads and writes that moment may never come, and the
// WAL grew to gigabytes. Past walLimit the checkpoint is a RESTART, which waits (busy
// timeout) for the readers of old frames to finish, so that the next write starts the WAL
// over and journal_size_limit cuts the file back. Writers wait meanwhile, so the wait is
// short (restartWait): a reader that holds its snapshot longer makes it give up until the next
// tick, rather than stall ingestion.
func (s *Store) checkpoint(ctx context.Context) {
	fi, err := os.Stat(s.path + "-wal")
	if err != nil || fi.Size() <= walLimit {
		s.r.checkpoint()
		return
	}
	c, err := s.r.ck.Conn(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout(%d)", restartWait.Milliseconds())); err != nil {
		return
	}
	c.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)")
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout(10000)"); err != nil {
		c.Raw(func(any) error { return driver.ErrBadConn }) // not back to the pool with the short timeout
	}
}

// restartWait bounds how long a RESTART checkpoint waits for readers (and writers for it).
const restartWait = 200 * time.Millisecond

// Name is the backend's name as /healthz reports it.
func (s *Store) Name() string { return "sqlite" }

// Transactions reports that Atomic is one transaction (always, on SQLite).
func (s *Store) Transactions() bool { return true }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Ping checks that the file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close stops the checkpoints, checkpoints once more and closes both pools.
func (s *Store) Close() error {
	if s.tx == nil {
		s.closeOnce.Do(func() { close(s.stop) })
		<-s.done
		s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// DB exposes the write handle, for tests that tamper with rows behind the store's back.
func (s *Store) DB() *sql.DB { return s.w }

func (s *Store) reader() querier {
	if s.tx != nil {
		return s.tx
	}
	return s.r
}

func (s *Store) writer() querier {
	if s.tx != nil {
		return s.tx
	}
	return faultWriter{s}
}

// Atomic runs fn in one immediate transaction: its reads see its own writes, and its writes
// commit together or not at all. Nested calls join the outer transaction.
func (s *Store) Atomic(ctx context.Context, fn func(courier.Store) error) error {
	return s.atomic(ctx, func(t *Store) error { return fn(t) })
}

func (s *Store) atomic(ctx context.Context, fn func(*Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", s.fault(translate(err)))
	}
	if err := fn(&Store{w: s.w, r: s.r, tx: tx, path: s.path, hook: s.hook, faults: s.faults, stop: s.stop, done: s.done, closeOnce: s.closeOnce}); err != nil {
		tx.Rollback()
		// A statement that ran out of disk (a page beyond max_page_count, a spilled cache)
		// fails inside fn; its error may be wrapped in any way by then.
		return s.fault(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", s.fault(translate(err)))
	}
	s.wrote()
	return nil
}

// translate maps driver errors onto the domain sentinels.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return credtrace.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", credtrace.ErrConflict, se.Error())
		}
	}
	return err
}

// ms stores a time as Unix milliseconds, the zero time as NULL.
func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlite: marshal %T: %v", v, err)) // only backend-local plain structs get here
	}
	return string(b)
}

// where builds a WHERE clause from conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (...)" for a non-nil list; an empty non-nil list matches nothing.
func in[T ~string](w *where, col string, vals []T) {
	if vals == nil {
		return
	}
	if len(vals) == 0 {
		w.add("0")
		return
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = string(v)
	}
	w.add(col+" IN ("+ph+")", args...)
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// page adds the cursor condition and returns the ORDER/LIMIT tail.
func (w *where) page(p courier.Page) string {
	if p.After != "" {
		w.add("id > ?", p.After)
	}
	tail := " ORDER BY id"
	if p.Limit > 0 {
		tail += fmt.Sprintf(" LIMIT %d", p.Limit)
	}
	return tail
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// update runs a versioned UPDATE and tells a stale write (ErrConflict) from a missing row.
func (s *Store) update(ctx context.Context, table, id string, res sql.Result, err error) error {
	if err != nil {
		return translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	var one int
	err = s.writer().QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return credtrace.ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s %s changed since it was read: %w", table, id, credtrace.ErrConflict)
}

// count is COUNT(*) of table's rows that w selects.
func count(ctx context.Context, db querier, table string, w where) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+w.sql(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", table, translate(err))
	}
	return n, nil
}
