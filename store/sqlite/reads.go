package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxReaders is the size of the read pool. Every connection stays open (idle ones included):
// a new one would read the schema again and start with a cold page cache.
const maxReaders = 4

// maxReadStmts bounds the read statements kept prepared: queries are constants or built from
// a few optional filters, so this many is more than the store has; past it, a query is
// prepared for its one use as before.
const maxReadStmts = 512

// readPool is the read connections with each read query prepared once per connection, rather
// than parsed and planned again for every call (which cost as much as running the trace's
// queries). Reads share no lock with the writer: in WAL mode they see the last commit.
type readPool struct {
	*sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	// ck is the checkpoints' own connection, so that a checkpoint never holds a reader's.
	ck *sql.DB
}

func newReadPool(db, ck *sql.DB) *readPool {
	db.SetMaxOpenConns(maxReaders)
	db.SetMaxIdleConns(maxReaders)
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	return &readPool{DB: db, stmts: map[string]*sql.Stmt{}, ck: ck}
}

// checkpoint copies the WAL back into the database file without blocking readers or the
// writer (PASSIVE), on its own connection.
func (p *readPool) checkpoint() { p.ck.Exec("PRAGMA wal_checkpoint(PASSIVE)") }

// stmt returns query prepared, or nil when it cannot be (it then runs unprepared, so that its
// error is reported where it always was).
func (p *readPool) stmt(ctx context.Context, query string) *sql.Stmt {
	p.mu.RLock()
	st, ok := p.stmts[query]
	n := len(p.stmts)
	p.mu.RUnlock()
	if ok {
		return st
	}
	if n >= maxReadStmts {
		return nil
	}
	// Prepared without the lock: preparing takes a connection, and a reader that holds one
	// while it asks for a statement must not wait behind a preparer waiting for a connection.
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.stmts[query]; ok {
		st.Close() // another reader prepared it meanwhile
		return cur
	}
	p.stmts[query] = st
	return st
}

// QueryContext runs a read query, prepared.
func (p *readPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a read query of one row, prepared.
func (p *readPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the prepared statements, then the connections.
func (p *readPool) Close() error {
	p.mu.Lock()
	var errs []error
	for q, st := range p.stmts {
		errs = append(errs, st.Close())
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	return errors.Join(append(errs, p.DB.Close(), p.ck.Close())...)
}
