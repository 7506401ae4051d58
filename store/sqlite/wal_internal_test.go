package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A burst of writes while a reader holds an old snapshot must not leave the WAL file at the
// burst's size for good: once the reader is done, a checkpoint and the next write bring it
// back within walLimit.
func TestWALComesBackWithinItsLimit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "credtrace.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE scratch (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	// A reader holds a snapshot from before the burst.
	reader, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, `SELECT count(*) FROM scratch`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO scratch (b) SELECT zeroblob(1048576) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)`); err != nil {
			t.Fatal(err)
		}
	}
	s.checkpoint(ctx) // passes the reader: the WAL cannot start over
	if got := walSize(t, path); got <= walLimit {
		t.Fatalf("the burst left a WAL of %d bytes, want more than %d for the test to mean anything", got, walLimit)
	}
	reader.Rollback()
	s.checkpoint(ctx)
	if _, err := s.w.ExecContext(ctx, `DELETE FROM scratch`); err != nil {
		t.Fatal(err)
	}
	if got := walSize(t, path); got > walLimit {
		t.Errorf("after the reader ended, a checkpoint and a write, the WAL is %d bytes, want at most %d", got, walLimit)
	}
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
