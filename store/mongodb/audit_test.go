package mongodb_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
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
	st, err := mongodb.Open(auditCtx(t), uri, db)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
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
	for _, code := range auditUSCCs {
		_, err := svc.CreateFirm(auditCtx(t), reg, courier.FirmInput{USCC: code, Name: "顺达速运 " + code, Kind: courier.KindHQ, Region: "130102",
			Licence: courier.Licence{Number: "冀邮" + code, Status: courier.LicenceActive, ValidFrom: now.AddDate(-1, 0, 0), ValidTo: now.AddDate(4, 0, 0)}})
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

// TestAuditTamper alters the stored trail behind the store's back and checks that verification
// names the first entry that was altered or is missing.
func TestAuditTamper(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, st *mongodb.Store)
		firstBad int64
		reason   string
	}{
		{"detail altered", func(t *testing.T, st *mongodb.Store) {
			setOne(t, st, 2, bson.M{"detail": "forged"})
		}, 2, "content does not match its hash"},
		{"actor altered", func(t *testing.T, st *mongodb.Store) {
			setOne(t, st, 3, bson.M{"actor": "someone-else"})
		}, 3, "content does not match its hash"},
		{"entry deleted", func(t *testing.T, st *mongodb.Store) {
			res, err := st.DB().Collection("audit").DeleteOne(auditCtx(t), bson.M{"_id": int64(3)})
			if err != nil || res.DeletedCount != 1 {
				t.Fatalf("delete entry 3: %+v %v", res, err)
			}
		}, 3, "entry missing"},
		{"detail altered and rehashed", func(t *testing.T, st *mongodb.Store) {
			// A forger who recomputes the altered entry's hash still breaks the next link.
			es, err := st.AuditEntries(auditCtx(t), 1, 1)
			if err != nil || len(es) != 1 {
				t.Fatalf("read entry 2: %v %v", es, err)
			}
			e := es[0]
			e.Detail = "forged"
			setOne(t, st, 2, bson.M{"detail": e.Detail, "hash": courier.AuditHash(e)})
		}, 3, "previous-hash link broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, svc, reg := auditedStore(t)
			tt.tamper(t, st)
			got, err := svc.VerifyAudit(auditCtx(t), reg)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got.OK || got.FirstBad != tt.firstBad || got.Reason != tt.reason {
				t.Errorf("VerifyAudit = %+v, want not OK, FirstBad %d, Reason %q", got, tt.firstBad, tt.reason)
			}
		})
	}
}

// setOne changes fields of audit entry seq directly in the collection.
func setOne(t *testing.T, st *mongodb.Store, seq int64, fields bson.M) {
	t.Helper()
	res, err := st.DB().Collection("audit").UpdateOne(auditCtx(t), bson.M{"_id": seq}, bson.M{"$set": fields})
	if err != nil {
		t.Fatalf("update entry %d: %v", seq, err)
	}
	if res.MatchedCount != 1 || res.ModifiedCount != 1 {
		t.Fatalf("update entry %d matched %d, modified %d; want 1, 1", seq, res.MatchedCount, res.ModifiedCount)
	}
}

// TestAuditTailCut deletes the newest entries from the collection and checks that verification
// against the latest signed checkpoint reports the cut tail with the missing range.
func TestAuditTailCut(t *testing.T) {
	st, svc, reg := auditedStore(t)
	svc.SetAuditKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	cp, created, err := svc.Checkpoint(auditCtx(t), reg)
	if err != nil || !created || cp.Seq != 4 || !courier.VerifyCheckpoint(svc.AuditPublicKey(), cp) {
		t.Fatalf("checkpoint: %+v, created %v, %v; want seq 4, signed", cp, created, err)
	}
	res, err := st.DB().Collection("audit").DeleteMany(auditCtx(t), bson.M{"_id": bson.M{"$gte": int64(3)}})
	if err != nil || res.DeletedCount != 2 {
		t.Fatalf("delete entries 3-4: %+v %v", res, err)
	}
	got, err := svc.VerifyAudit(auditCtx(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	if got.OK || got.FirstBad != 3 || got.CutFrom != 3 || got.CutTo != 4 || got.Checkpoint != 4 {
		t.Errorf("verify after cutting 3-4: %+v, want a cut tail 3 to 4", got)
	}
}
