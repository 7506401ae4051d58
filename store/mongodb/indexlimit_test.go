package mongodb_test

import (
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
)

// TestLargeCollectionIndexReported: an index missing on a collection above the build limit is
// reported by Open, not built (the build would hold the start); under the limit it is built.
func TestLargeCollectionIndexReported(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	uri, db := mongotest.NewDB(t)
	st := openAt(t, uri, db)
	if got := st.PendingIndexes(); len(got) != 0 {
		t.Fatalf("fresh database: pending indexes %v, want none", got)
	}
	events := st.DB().Collection("events")
	if err := events.Indexes().DropOne(ctx, "waybill_1_carrier_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := events.InsertMany(ctx, []any{bson.D{{Key: "_id", Value: "x1"}}, bson.D{{Key: "_id", Value: "x2"}}}); err != nil {
		t.Fatal(err)
	}
	has := func() bool {
		t.Helper()
		cur, err := events.Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var specs []struct {
			Name string `bson:"name"`
		}
		if err := cur.All(ctx, &specs); err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(specs, func(s struct {
			Name string `bson:"name"`
		}) bool {
			return s.Name == "waybill_1_carrier_1"
		})
	}
	big := openAt(t, uri, db, mongodb.WithIndexBuildLimit(1))
	if got, want := big.PendingIndexes(), []string{"events.waybill_1_carrier_1"}; !slices.Equal(got, want) {
		t.Errorf("pending indexes above the limit: %v, want %v", got, want)
	}
	if has() {
		t.Error("the index was built on a collection above the limit")
	}
	small := openAt(t, uri, db)
	if got := small.PendingIndexes(); len(got) != 0 {
		t.Errorf("pending indexes under the default limit: %v, want none", got)
	}
	if !has() {
		t.Error("the index was not built under the limit")
	}
}
