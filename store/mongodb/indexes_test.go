package mongodb_test

import (
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/store/storetest"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
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
		return openAt(t, uri, db, log.Option())
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
	t.Run("webhooks", func(t *testing.T) {
		storetest.RunWebhooks(t, func(t *testing.T) webhook.Store { return openMonitored(t).Webhooks() })
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

// TestPartialIndexesByCapability: the partial indexes exist under their names, partial where
// the server builds partial indexes and whole where it refuses them (the embedded FerretDB).
func TestPartialIndexesByCapability(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := open(t)
	for coll, names := range map[string][]string{"anomalies": {"open_id", "open_carrier_id"}, "events": {"uncounted_id"}, "stat_sources": {"uncounted_id"}} {
		cur, err := s.DB().Collection(coll).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []struct {
			Name    string   `bson:"name"`
			Partial bson.Raw `bson:"partialFilterExpression"`
		}
		if err := cur.All(ctx, &got); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			found := false
			for _, ix := range got {
				if ix.Name != name {
					continue
				}
				found = true
				if embedded, partial := os.Getenv(mongotest.EnvURI) == "", ix.Partial != nil; embedded == partial {
					t.Errorf("%s.%s: partial %v on embedded FerretDB %v", coll, name, partial, embedded)
				}
			}
			if !found {
				t.Errorf("%s has no index %s", coll, name)
			}
		}
	}
}
