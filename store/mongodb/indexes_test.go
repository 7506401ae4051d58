package mongodb_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/store/storetest"
	"github.com/credtrace/credtrace/tracking"
)

// TestQueriesUseDeclaredIndexes runs the contract suites on stores whose client records, with a
// command monitor, the filter and sort of every find, aggregate, count, update, delete and
// findAndModify it sends, and fails for each one no declared index serves (see covered in
// indexes_check_test.go, whose TestCoverageRule shows an uncovered query failing).
func TestQueriesUseDeclaredIndexes(t *testing.T) {
	t.Parallel()
	log := mongodb.NewQueryLog()
	openMonitored := func(t *testing.T) *mongodb.Store {
		t.Helper()
		uri, db := mongotest.NewDB(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := mongodb.OpenMonitored(ctx, uri, db, log)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	embedded := os.Getenv(mongotest.EnvURI) == ""
	t.Run("courier", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) courier.Store {
			if embedded {
				return embeddedCourier{openMonitored(t)}
			}
			return openMonitored(t)
		})
	})
	t.Run("tracking", func(t *testing.T) {
		storetest.RunTracking(t, func(t *testing.T) tracking.Store { return openMonitored(t).Tracking() })
	})
	t.Run("scoring", func(t *testing.T) {
		storetest.RunScoring(t, func(t *testing.T) scoring.Store {
			if embedded {
				return embeddedFerretDB{openMonitored(t).Scoring()}
			}
			return openMonitored(t).Scoring()
		})
	})
	if t.Failed() {
		return
	}
	if log.Count() == 0 {
		t.Fatal("the monitor recorded no query")
	}
	for _, q := range log.Uncovered() {
		t.Errorf("no declared index serves %s", q)
	}
}
