package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace"
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := mongodb.Open(ctx, uri, db)
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

var t0 = time.Date(2026, 4, 1, 9, 30, 15, 123_000_000, time.UTC)

func firm(id, uscc string) courier.Firm {
	return courier.Firm{
		ID:     id,
		USCC:   uscc,
		Name:   "Firm " + id,
		Kind:   courier.KindHQ,
		Region: "130102",
		Licence: courier.Licence{
			Number:    "L-" + id,
			Scope:     "intra-city",
			ValidFrom: t0,
			ValidTo:   t0.AddDate(5, 0, 0),
			Status:    courier.LicenceActive,
		},
		CreatedAt: t0,
		UpdatedAt: t0,
		Version:   1,
	}
}

func TestOpen(t *testing.T) {
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

func TestFirmCreateGet(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	want := firm("f1", "91130100MA0000001X")
	if err := s.CreateFirm(ctx, want); err != nil {
		t.Fatalf("CreateFirm: %v", err)
	}
	got, err := s.Firm(ctx, "f1")
	if err != nil {
		t.Fatalf("Firm: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Firm = %+v, want %+v", got, want)
	}
	got, err = s.FirmByUSCC(ctx, want.USCC)
	if err != nil || got.ID != "f1" {
		t.Errorf("FirmByUSCC = %q, %v; want f1", got.ID, err)
	}
	if _, err := s.Firm(ctx, "nope"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("Firm(nope) error = %v, want ErrNotFound", err)
	}
	if _, err := s.FirmByUSCC(ctx, "nope"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("FirmByUSCC(nope) error = %v, want ErrNotFound", err)
	}
}

func TestCreateConflict(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	if err := s.CreateFirm(ctx, firm("f1", "USCC-1")); err != nil {
		t.Fatalf("CreateFirm: %v", err)
	}
	tests := []struct {
		name string
		f    courier.Firm
	}{
		{"taken USCC", firm("f2", "USCC-1")},
		{"taken id", firm("f1", "USCC-2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateFirm(ctx, tt.f); !errors.Is(err, credtrace.ErrConflict) {
				t.Errorf("CreateFirm error = %v, want ErrConflict", err)
			}
		})
	}
	got, err := s.Firm(ctx, "f1")
	if err != nil || got.USCC != "USCC-1" {
		t.Errorf("after conflicts Firm(f1) = %q, %v; want the original", got.USCC, err)
	}
}

func TestUpdateVersion(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	f := firm("f1", "USCC-1")
	if err := s.CreateFirm(ctx, f); err != nil {
		t.Fatalf("CreateFirm: %v", err)
	}
	if err := s.CreateFirm(ctx, firm("f2", "USCC-2")); err != nil {
		t.Fatalf("CreateFirm: %v", err)
	}

	v2 := f
	v2.Name, v2.Version = "Renamed", 2
	if err := s.UpdateFirm(ctx, v2); err != nil {
		t.Fatalf("UpdateFirm to version 2: %v", err)
	}

	stale := f
	stale.Name, stale.Version = "Lost update", 2
	taken := v2
	taken.USCC, taken.Version = "USCC-2", 3
	missing := firm("ghost", "USCC-9")
	missing.Version = 2
	tests := []struct {
		name string
		f    courier.Firm
		want error
	}{
		{"stale version", stale, credtrace.ErrConflict},
		{"taken USCC", taken, credtrace.ErrConflict},
		{"missing firm", missing, credtrace.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.UpdateFirm(ctx, tt.f); !errors.Is(err, tt.want) {
				t.Errorf("UpdateFirm error = %v, want %v", err, tt.want)
			}
		})
	}
	got, err := s.Firm(ctx, "f1")
	if err != nil {
		t.Fatalf("Firm: %v", err)
	}
	if got.Name != "Renamed" || got.Version != 2 || got.USCC != "USCC-1" {
		t.Errorf("Firm = %q v%d %s, want Renamed v2 USCC-1", got.Name, got.Version, got.USCC)
	}
}

func TestFirmsPagingAndFilters(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	for i, region := range []string{"130102", "130104", "110101", "130102", "130201"} {
		f := firm(fmt.Sprintf("f%d", i+1), fmt.Sprintf("USCC-%d", i+1))
		f.Region = region
		if i == 1 {
			f.Name = "Shun (Hebei) Express"
		}
		if err := s.CreateFirm(ctx, f); err != nil {
			t.Fatalf("CreateFirm: %v", err)
		}
	}
	tests := []struct {
		name string
		q    courier.FirmQuery
		want []string
	}{
		{"all", courier.FirmQuery{}, []string{"f1", "f2", "f3", "f4", "f5"}},
		{"first page", courier.FirmQuery{Page: courier.Page{Limit: 2}}, []string{"f1", "f2"}},
		{"second page", courier.FirmQuery{Page: courier.Page{After: "f2", Limit: 2}}, []string{"f3", "f4"}},
		{"last page", courier.FirmQuery{Page: courier.Page{After: "f4", Limit: 2}}, []string{"f5"}},
		{"ids after", courier.FirmQuery{IDs: []string{"f1", "f3", "f5"}, Page: courier.Page{After: "f1"}}, []string{"f3", "f5"}},
		{"empty ids match nothing", courier.FirmQuery{IDs: []string{}}, nil},
		{"region prefix", courier.FirmQuery{Region: "1301"}, []string{"f1", "f2", "f4"}},
		{"name ignores case, regex characters are literal", courier.FirmQuery{Name: "(hebei)"}, []string{"f2"}},
		{"name with a dot matches no other character", courier.FirmQuery{Name: "firm.f"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Firms(ctx, tt.q)
			if err != nil {
				t.Fatalf("Firms: %v", err)
			}
			var ids []string
			for _, f := range got {
				ids = append(ids, f.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("Firms ids = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestZeroTimesRoundTrip(t *testing.T) {
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

func TestRecordsRepairPending(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	rec := courier.Record{
		ID:       "r1",
		Subject:  courier.Subject{Kind: courier.SubjectFirm, ID: "f1"},
		FirmID:   "f1",
		Category: courier.CatComplaint,
		Status:   courier.StatusConfirmed,
		Version:  1,
	}
	if err := s.CreateRecord(ctx, rec); err != nil {
		t.Fatalf("CreateRecord: %v", err)
	}
	pending := func() int {
		t.Helper()
		got, err := s.Records(ctx, courier.RecordQuery{RepairPending: true})
		if err != nil {
			t.Fatalf("Records: %v", err)
		}
		return len(got)
	}
	if n := pending(); n != 0 {
		t.Fatalf("%d records await repair before any request, want 0", n)
	}
	rec.Repairs = []courier.Repair{{ID: "rp1", RequestedAt: t0, Status: courier.RepairPending}}
	rec.Version = 2
	if err := s.UpdateRecord(ctx, rec); err != nil {
		t.Fatalf("UpdateRecord: %v", err)
	}
	if n := pending(); n != 1 {
		t.Errorf("%d records await repair after a request, want 1", n)
	}
}

func TestAudit(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	if _, ok, err := s.LastAudit(ctx); err != nil || ok {
		t.Fatalf("LastAudit on an empty trail = ok %v, %v; want false, nil", ok, err)
	}
	for seq := int64(1); seq <= 3; seq++ {
		e := courier.AuditEntry{Seq: seq, At: t0, Actor: "system", Action: "test", Hash: fmt.Sprint("h", seq)}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit %d: %v", seq, err)
		}
	}
	if err := s.AppendAudit(ctx, courier.AuditEntry{Seq: 2, Hash: "rival"}); !errors.Is(err, credtrace.ErrConflict) {
		t.Errorf("AppendAudit of a taken seq error = %v, want ErrConflict", err)
	}
	last, ok, err := s.LastAudit(ctx)
	if err != nil || !ok || last.Seq != 3 || last.Hash != "h3" {
		t.Errorf("LastAudit = %+v, %v, %v; want seq 3", last, ok, err)
	}
	got, err := s.AuditEntries(ctx, 1, 1)
	if err != nil || len(got) != 1 || got[0].Seq != 2 || got[0].Hash != "h2" {
		t.Errorf("AuditEntries(1, 1) = %+v, %v; want seq 2 with hash h2", got, err)
	}
}

func TestSettings(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	if _, err := s.Setting(ctx, "hmac"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("Setting of an unset key error = %v, want ErrNotFound", err)
	}
	got, err := s.InitSetting(ctx, "hmac", "first")
	if err != nil || got != "first" {
		t.Errorf("InitSetting = %q, %v; want first", got, err)
	}
	got, err = s.InitSetting(ctx, "hmac", "second")
	if err != nil || got != "first" {
		t.Errorf("second InitSetting = %q, %v; want the stored first", got, err)
	}
	got, err = s.Setting(ctx, "hmac")
	if err != nil || got != "first" {
		t.Errorf("Setting = %q, %v; want first", got, err)
	}
}

func TestTokens(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	tok := courier.Token{ID: "t1", Hash: "sha", Role: credtrace.RoleRegulator, CreatedAt: t0}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if err := s.CreateToken(ctx, courier.Token{ID: "t2", Hash: "sha"}); !errors.Is(err, credtrace.ErrConflict) {
		t.Errorf("CreateToken with a taken hash error = %v, want ErrConflict", err)
	}
	if err := s.RevokeToken(ctx, "t1", t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := s.RevokeToken(ctx, "nope", t0); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("RevokeToken(nope) error = %v, want ErrNotFound", err)
	}
	got, err := s.TokenByHash(ctx, "sha")
	if err != nil || !got.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("TokenByHash = revoked %v, %v; want %v", got.RevokedAt, err, t0.Add(time.Hour))
	}
	if n, err := s.CountTokens(ctx); err != nil || n != 1 {
		t.Errorf("CountTokens = %d, %v; want 1", n, err)
	}
}

// TestConcurrentUpdates checks what versioning promises with no transactions to lean on: of
// writers racing from one version exactly one wins, and the others get ErrConflict.
func TestConcurrentUpdates(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	if ferretDB(ctx, t, s) {
		// FerretDB 1.24 runs an update as a query followed by a write by _id, so the filter on
		// version is not checked at write time; MongoDB applies both in one step.
		t.Skip("FerretDB does not apply an update's filter atomically; set " + mongotest.EnvURI + " to a MongoDB server")
	}
	if err := s.CreateFirm(ctx, firm("f1", "USCC-1")); err != nil {
		t.Fatalf("CreateFirm: %v", err)
	}
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			f := firm("f1", "USCC-1")
			f.Name, f.Version = fmt.Sprint("writer ", i), 2
			errs[i] = s.UpdateFirm(ctx, f)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, credtrace.ErrConflict):
			t.Errorf("writer %d: UpdateFirm error = %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing updates from version 1 succeeded, want exactly 1", won, n)
	}
}

// TestConcurrentInitSetting checks that instances starting together agree on one value.
func TestConcurrentInitSetting(t *testing.T) {
	ctx := testCtx(t)
	s := open(t)
	const n = 6
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.InitSetting(ctx, "instance", fmt.Sprint("v", i)) })
	}
	wg.Wait()
	stored, err := s.Setting(ctx, "instance")
	if err != nil {
		t.Fatalf("Setting: %v", err)
	}
	for i := range n {
		if errs[i] != nil || got[i] != stored {
			t.Errorf("InitSetting %d = %q, %v; want the stored %q", i, got[i], errs[i], stored)
		}
	}
}

// ferretDB reports whether the server is FerretDB, which says so in buildInfo.
func ferretDB(ctx context.Context, t *testing.T, s *mongodb.Store) bool {
	t.Helper()
	raw, err := s.DB().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		t.Fatalf("buildInfo: %v", err)
	}
	_, err = raw.LookupErr("ferretdbVersion")
	return err == nil
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) courier.Store { return open(t) })
}

// TestTransactionsDetected: the embedded FerretDB answers hello without setName or isdbgrid, so
// the store reports no multi-document transactions. (A replica set or mongos, which would report
// true, cannot be run on these machines; the detection reads the same two fields of hello.)
func TestTransactionsDetected(t *testing.T) {
	if os.Getenv(mongotest.EnvURI) != "" {
		t.Skip("CREDTRACE_TEST_MONGO_URI points at a real server, whose topology this test does not know")
	}
	if open(t).Transactions() {
		t.Error("Transactions() = true on FerretDB, which has no multi-document transactions")
	}
}
