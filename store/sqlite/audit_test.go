package sqlite_test

import (
	"context"
	"strings"
	"testing"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/store/storetest"
)

// TestAuditTamper runs the suite's tampering checks, altering the trail with SQL.
func TestAuditTamper(t *testing.T) {
	t.Parallel()
	storetest.RunAudit(t, func(t *testing.T) (courier.Store, storetest.Tamper) {
		st := fresh(t)
		return st, storetest.Tamper{
			Set: func(ctx context.Context, t *testing.T, seq int64, fields map[string]string) {
				var sets []string
				var args []any
				for _, col := range []string{"detail", "actor", "hash"} {
					if v, ok := fields[col]; ok {
						sets = append(sets, col+" = ?")
						args = append(args, v)
					}
				}
				execN(ctx, t, st, 1, "UPDATE audit SET "+strings.Join(sets, ", ")+" WHERE seq = ?", append(args, seq)...)
			},
			Delete: func(ctx context.Context, t *testing.T, from, to int64) {
				execN(ctx, t, st, to-from+1, "DELETE FROM audit WHERE seq BETWEEN ? AND ?", from, to)
			},
			MoveCheckpoint: func(ctx context.Context, t *testing.T, seq, to int64) {
				execN(ctx, t, st, 1, "UPDATE audit_checkpoints SET seq = ? WHERE seq = ?", to, seq)
			},
		}
	})
}

// execN runs a statement on the raw database and checks that it changed exactly n rows.
func execN(ctx context.Context, t *testing.T, st *sqlite.Store, n int64, query string, args ...any) {
	t.Helper()
	res, err := st.DB().ExecContext(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if got, err := res.RowsAffected(); err != nil || got != n {
		t.Fatalf("%s changed %d rows (%v), want %d", query, got, err, n)
	}
}
