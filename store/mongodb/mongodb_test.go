package mongodb_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/store/storetest"
)

// testCtx bounds every test so that a hung server fails the test instead of the CI budget.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open returns a store on a fresh database.
func open(t *testing.T) *mongodb.Store {
	t.Helper()
	uri, db := mongotest.NewDB(t)
	return openAt(t, uri, db)
}

var t0 = time.Date(2026, 4, 1, 9, 30, 15, 123_000_000, time.UTC)

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := open(t)
	if got, want := s.Name(), "mongodb"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// Opening again must accept the indexes it finds.
	uri := mongotest.URI(t)
	again, err := mongodb.Open(ctx, uri, s.DB().Name())
	if err != nil {
		t.Fatalf("second Open of the same database: %v", err)
	}
	if err := again.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestOpenUnreachableHidesCredentials(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections.
	_, err := mongodb.Open(ctx, "mongodb://alice:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=500", "x")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot reach 127.0.0.1:1") || strings.Contains(msg, "s3cret") {
		t.Errorf("Open error = %q, want it to name the host and not the password", msg)
	}
}

func TestZeroTimesRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := open(t)
	local := time.FixedZone("CST", 8*3600)
	want := courier.Staff{
		ID:     "s1",
		Name:   "Li Lei",
		IDHash: "h1",
		Employment: []courier.Employment{
			{FirmID: "f1", Role: "courier", From: t0.AddDate(-2, 0, 0), To: t0.AddDate(-1, 0, 0)},
			{FirmID: "f2", Role: "courier", From: t0.AddDate(-1, 0, 0)}, // open: To is zero
		},
		CreatedAt: t0.In(local),
		Version:   1, // UpdatedAt is zero
	}
	if err := s.CreateStaff(ctx, want); err != nil {
		t.Fatalf("CreateStaff: %v", err)
	}
	got, err := s.Staff(ctx, "s1")
	if err != nil {
		t.Fatalf("Staff: %v", err)
	}
	if !got.UpdatedAt.IsZero() || !got.Employment[1].To.IsZero() {
		t.Errorf("zero times came back as %v and %v", got.UpdatedAt, got.Employment[1].To)
	}
	if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(t0) {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, t0)
	}
	want.CreatedAt = t0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Staff = %+v, want %+v", got, want)
	}

	// A zero time is absent from the document rather than stored as year 1.
	raw, err := s.DB().Collection("staff").FindOne(ctx, bson.D{{Key: "_id", Value: "s1"}}).Raw()
	if err != nil {
		t.Fatalf("raw staff: %v", err)
	}
	if _, err := raw.LookupErr("updated_at"); err == nil {
		t.Errorf("zero updated_at was stored: %v", raw)
	}

	byHash, err := s.StaffList(ctx, courier.StaffQuery{FirmIDs: []string{"f1"}})
	if err != nil || len(byHash) != 1 {
		t.Errorf("StaffList by a past employer = %d staff, %v; want 1", len(byHash), err)
	}
}

// TestContract runs the courier.Store contract suite, each subtest on a fresh database.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) courier.Store {
		if os.Getenv(mongotest.EnvURI) == "" {
			return embeddedCourier{open(t)}
		}
		return open(t)
	})
}

// embeddedCourier marks the store on the embedded FerretDB for the suite: FerretDB 1.24 runs
// an update as a query followed by a write by _id, so the filter on version is not checked at
// write time (MongoDB applies both in one step), and racing updates can all succeed.
type embeddedCourier struct{ *mongodb.Store }

func (embeddedCourier) SkipUpdateRace() string {
	return "FerretDB does not apply an update's filter atomically; set " + mongotest.EnvURI + " to a MongoDB server"
}

// TestTransactionsDetected: the embedded FerretDB answers hello without setName or isdbgrid, so
// the store reports no multi-document transactions. (A replica set or mongos cannot be run on
// these machines; TestTransactionsDetectedBehindPrimary fakes one's hello with a proxy.)
func TestTransactionsDetected(t *testing.T) {
	t.Parallel()
	if os.Getenv(mongotest.EnvURI) != "" {
		t.Skip("CREDTRACE_TEST_MONGO_URI points at a real server, whose topology this test does not know")
	}
	if open(t).Transactions() {
		t.Error("Transactions() = true on FerretDB, which has no multi-document transactions")
	}
}

// TestIsDuplicateKey classifies what the server answers to writes onto a taken unique key (an
// insert, an update, a replace: FerretDB 1.24 reports the last two as an InternalError) as a
// duplicate, and nothing else: not another internal error, not another command's failure.
func TestIsDuplicateKey(t *testing.T) {
	ctx := testCtx(t)
	uri, db := mongotest.NewDB(t)
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	coll := client.Database(db).Collection("dup")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "u", Value: 1}}, Options: options.Index().SetUnique(true)}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []bson.M{{"_id": "a", "u": 1}, {"_id": "b", "u": 2}} {
		if _, err := coll.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	write := func(f func() error) error { return f() }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"insert with a taken _id", write(func() error { _, err := coll.InsertOne(ctx, bson.M{"_id": "a", "u": 9}); return err }), true},
		{"insert with a taken unique key", write(func() error { _, err := coll.InsertOne(ctx, bson.M{"_id": "c", "u": 1}); return err }), true},
		{"update onto a taken unique key", write(func() error {
			_, err := coll.UpdateOne(ctx, bson.M{"_id": "b"}, bson.M{"$set": bson.M{"u": 1}})
			return err
		}), true},
		{"replace onto a taken unique key", write(func() error { _, err := coll.ReplaceOne(ctx, bson.M{"_id": "b"}, bson.M{"u": 1}); return err }), true},
		{"an unknown update operator", write(func() error {
			_, err := coll.UpdateOne(ctx, bson.M{"_id": "b"}, bson.M{"$nosuch": bson.M{"u": 1}})
			return err
		}), false},
		{"an internal error with other text", mongo.CommandError{Code: 1, Name: "InternalError", Message: "disk I/O error"}, false},
		{"the text under another code", mongo.CommandError{Code: 2, Name: "BadValue", Message: "UNIQUE constraint failed"}, false},
		{"no error", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want && tt.err == nil {
				t.Fatal("the write succeeded; want it refused")
			}
			if got := mongodb.IsDuplicateKey(tt.err); got != tt.want {
				t.Errorf("IsDuplicateKey(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
