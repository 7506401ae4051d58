package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
)

// openReadOnly opens the database file at path for reading only: no migration, no writer, no
// checkpoint loop. It is how a second process (credtrace backup, restore's check) reads a store
// that a running serve owns without taking the data directory's lock or writing to the file.
func openReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Backup writes a consistent copy of the database file at path to dst with VACUUM INTO, while
// other processes go on writing: the copy is the database as of the read transaction the
// statement runs in (WAL lets writers commit meanwhile), compacted, in rollback-journal mode
// and without a WAL of its own. dst must not exist.
func Backup(ctx context.Context, path, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("sqlite: backup: %s exists", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("sqlite: backup %s into %s: %w", path, dst, translate(err))
	}
	return nil
}

// Inventory is what a backup's manifest records of a database file, read in one transaction:
// the rows of each table and the audit trail's head.
type Inventory struct {
	Counts    map[string]int64  // table name → rows
	AuditSeq  int64             // the newest audit entry's sequence (0: an empty trail)
	AuditHash string            // and its hash
	Settings  map[string]string // the values of the keys asked for that are set
}

// Inspect reads the inventory of the database file at path, read-only, and the settings named
// by keys (the key fingerprints the store recorded, for instance).
func Inspect(ctx context.Context, path string, keys ...string) (Inventory, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return Inventory{}, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Inventory{}, fmt.Errorf("sqlite: inspect %s: %w", path, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return Inventory{}, fmt.Errorf("sqlite: inspect %s: %w", path, err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return Inventory{}, err
		}
		tables = append(tables, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Inventory{}, err
	}
	sort.Strings(tables)
	inv := Inventory{Counts: map[string]int64{}, Settings: map[string]string{}}
	for _, t := range tables {
		var n int64
		// t comes from sqlite_master, not from a user; quoting keeps odd names whole.
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM "`+t+`"`).Scan(&n); err != nil {
			return Inventory{}, fmt.Errorf("sqlite: count %s: %w", t, err)
		}
		inv.Counts[t] = n
	}
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&inv.AuditSeq, &inv.AuditHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Inventory{}, fmt.Errorf("sqlite: audit head: %w", err)
	}
	for _, k := range keys {
		var v string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, k).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return Inventory{}, fmt.Errorf("sqlite: setting %s: %w", k, err)
		}
		inv.Settings[k] = v
	}
	return inv, nil
}
