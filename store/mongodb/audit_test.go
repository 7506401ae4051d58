package mongodb_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/store/storetest"
)

const auditAdminSecret = "ct_admin-secret-0123456789abcdef"

// auditUSCCs are valid codes (GB 32100 check characters) of the firms the audit tests register.
var auditUSCCs = []string{"91130100MA0CX7Q2K6", "91110000802100433B", "91310000MA1FL0000N"}

// auditCtx bounds one MongoDB operation.
func auditCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// auditedStore returns a store on a fresh database whose trail holds four entries: the admin
// token's bootstrap (seq 1) and three firm registrations (seq 2-4); and a service with its regulator.
func auditedStore(t testing.TB) (*mongodb.Store, *courier.Service, credtrace.Caller) {
	t.Helper()
	uri, db := mongotest.NewDB(t)
	return auditedStoreAt(t, uri, db)
}

// bootstrapped is a courier service on st at a fixed clock, bootstrapped, with its regulator.
func bootstrapped(t testing.TB, st *mongodb.Store) (*courier.Service, credtrace.Caller) {
	t.Helper()
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	svc := courier.NewService(st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(),
		func() time.Time { return now })
	if _, err := svc.Bootstrap(auditCtx(t), auditAdminSecret); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	reg, err := svc.Authenticate(auditCtx(t), auditAdminSecret)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return svc, reg
}

// auditedStoreAt is auditedStore on database db of uri.
func auditedStoreAt(t testing.TB, uri, db string, opts ...mongodb.Option) (*mongodb.Store, *courier.Service, credtrace.Caller) {
	t.Helper()
	st := openAt(t, uri, db, opts...)
	svc, reg := bootstrapped(t, st)
	for _, code := range auditUSCCs {
		_, err := svc.CreateFirm(auditCtx(t), reg, courier.FirmInput{USCC: code, Name: "顺达速运 " + code, Kind: courier.KindHQ, Region: "130102",
			Licence: courier.Licence{Number: "冀邮" + code, Status: courier.LicenceActive, ValidFrom: svc.Now().AddDate(-1, 0, 0), ValidTo: svc.Now().AddDate(4, 0, 0)}})
		if err != nil {
			t.Fatalf("create firm %s: %v", code, err)
		}
	}
	res, err := svc.VerifyAudit(auditCtx(t), reg)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if want := (courier.VerifyResult{OK: true, Entries: 4}); res != want {
		t.Fatalf("VerifyAudit before tampering = %+v, want %+v", res, want)
	}
	return st, svc, reg
}

// TestAuditTamper runs the suite's tampering checks, altering the trail's documents.
func TestAuditTamper(t *testing.T) {
	t.Parallel()
	storetest.RunAudit(t, func(t *testing.T) (courier.Store, storetest.Tamper) {
		st := open(t)
		audit, checkpoints := st.DB().Collection("audit"), st.DB().Collection("audit_checkpoints")
		return st, storetest.Tamper{
			Set: func(ctx context.Context, t *testing.T, seq int64, fields map[string]string) {
				set := bson.M{}
				for k, v := range fields {
					set[k] = v
				}
				res, err := audit.UpdateOne(ctx, bson.M{"_id": seq}, bson.M{"$set": set})
				if err != nil || res.MatchedCount != 1 || res.ModifiedCount != 1 {
					t.Fatalf("update entry %d: %+v %v; want one modified", seq, res, err)
				}
			},
			Delete: func(ctx context.Context, t *testing.T, from, to int64) {
				res, err := audit.DeleteMany(ctx, bson.M{"_id": bson.M{"$gte": from, "$lte": to}})
				if err != nil || res.DeletedCount != to-from+1 {
					t.Fatalf("delete entries %d-%d: %+v %v", from, to, res, err)
				}
			},
			MoveCheckpoint: func(ctx context.Context, t *testing.T, seq, to int64) {
				// The seq is the document's _id, which an update cannot change.
				var d bson.M
				if err := checkpoints.FindOne(ctx, bson.M{"_id": seq}).Decode(&d); err != nil {
					t.Fatalf("read checkpoint %d: %v", seq, err)
				}
				d["_id"] = to
				if _, err := checkpoints.InsertOne(ctx, d); err != nil {
					t.Fatalf("insert moved checkpoint: %v", err)
				}
				if res, err := checkpoints.DeleteOne(ctx, bson.M{"_id": seq}); err != nil || res.DeletedCount != 1 {
					t.Fatalf("delete checkpoint %d: %+v %v", seq, res, err)
				}
			},
		}
	})
}
