package sqlite_test

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
)

const auditAdminSecret = "ct_admin-secret-0123456789abcdef"

// auditUSCCs are valid codes (GB 32100 check characters) of the firms the audit tests register.
var auditUSCCs = []string{"91130100MA0CX7Q2K6", "91110000802100433B", "91310000MA1FL0000N"}

// auditedStore returns a store on a fresh file whose trail holds four entries: the admin token's
// bootstrap (seq 1) and three firm registrations (seq 2-4); and a service with its regulator.
func auditedStore(t *testing.T) (*sqlite.Store, *courier.Service, credtrace.Caller) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	svc := courier.NewService(st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(),
		func() time.Time { return now })
	if _, err := svc.Bootstrap(ctx, auditAdminSecret); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	reg, err := svc.Authenticate(ctx, auditAdminSecret)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	for _, code := range auditUSCCs {
		_, err := svc.CreateFirm(ctx, reg, courier.FirmInput{USCC: code, Name: "顺达速运 " + code, Kind: courier.KindHQ, Region: "130102",
			Licence: courier.Licence{Number: "冀邮" + code, Status: courier.LicenceActive, ValidFrom: now.AddDate(-1, 0, 0), ValidTo: now.AddDate(4, 0, 0)}})
		if err != nil {
			t.Fatalf("create firm %s: %v", code, err)
		}
	}
	res, err := svc.VerifyAudit(ctx, reg)
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
		name   string
		tamper func(ctx context.Context, t *testing.T, st *sqlite.Store)
		want   courier.VerifyResult
	}{
		{"detail altered", func(ctx context.Context, t *testing.T, st *sqlite.Store) {
			execOne(ctx, t, st, "UPDATE audit SET detail='forged' WHERE seq=2")
		}, courier.VerifyResult{FirstBad: 2, Reason: "content does not match its hash"}},
		{"actor altered", func(ctx context.Context, t *testing.T, st *sqlite.Store) {
			execOne(ctx, t, st, "UPDATE audit SET actor='someone-else' WHERE seq=3")
		}, courier.VerifyResult{FirstBad: 3, Reason: "content does not match its hash"}},
		{"entry deleted", func(ctx context.Context, t *testing.T, st *sqlite.Store) {
			execOne(ctx, t, st, "DELETE FROM audit WHERE seq=3")
		}, courier.VerifyResult{FirstBad: 3, Reason: "entry missing"}},
		{"detail altered and rehashed", func(ctx context.Context, t *testing.T, st *sqlite.Store) {
			// A forger who recomputes the altered entry's hash still breaks the next link.
			es, err := st.AuditEntries(ctx, 1, 1)
			if err != nil || len(es) != 1 {
				t.Fatalf("read entry 2: %v %v", es, err)
			}
			e := es[0]
			e.Detail = "forged"
			execOne(ctx, t, st, "UPDATE audit SET detail=?, hash=? WHERE seq=2", e.Detail, courier.AuditHash(e))
		}, courier.VerifyResult{FirstBad: 3, Reason: "previous-hash link broken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, svc, reg := auditedStore(t)
			tt.tamper(t.Context(), t, st)
			got, err := svc.VerifyAudit(t.Context(), reg)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got.OK || got.FirstBad != tt.want.FirstBad || got.Reason != tt.want.Reason {
				t.Errorf("VerifyAudit = %+v, want not OK, FirstBad %d, Reason %q", got, tt.want.FirstBad, tt.want.Reason)
			}
		})
	}
}

// execOne runs a statement on the raw database and checks that it changed exactly one row.
func execOne(ctx context.Context, t *testing.T, st *sqlite.Store, query string, args ...any) {
	t.Helper()
	res, err := st.DB().ExecContext(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("%s changed %d rows (%v), want 1", query, n, err)
	}
}

// TestAuditTailCut deletes the newest entries behind the store's back, which leaves a shorter
// chain that is valid link by link, and checks that verification against the latest signed
// checkpoint reports the cut with the missing range; entries appended after the cut, which
// reuse the cut Seqs, do not hide it.
func TestAuditTailCut(t *testing.T) {
	st, svc, reg := auditedStore(t)
	ctx := t.Context()
	svc.SetAuditKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	cp, created, err := svc.Checkpoint(ctx, reg)
	if err != nil || !created || cp.Seq != 4 {
		t.Fatalf("checkpoint: %+v, created %v, %v; want seq 4", cp, created, err)
	}
	if !courier.VerifyCheckpoint(svc.AuditPublicKey(), cp) {
		t.Fatal("the checkpoint's signature does not verify with the audit public key")
	}
	if again, created, err := svc.Checkpoint(ctx, reg); err != nil || created || again != cp {
		t.Errorf("checkpoint of an unmoved head: %+v, created %v, %v; want the same one", again, created, err)
	}
	if got, err := svc.VerifyAudit(ctx, reg); err != nil || got != (courier.VerifyResult{OK: true, Entries: 4, Checkpoint: 4}) {
		t.Fatalf("verify before the cut: %+v, %v", got, err)
	}
	if _, err := st.DB().ExecContext(ctx, "DELETE FROM audit WHERE seq >= 3"); err != nil {
		t.Fatal(err)
	}
	got, err := svc.VerifyAudit(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got.OK || got.FirstBad != 3 || got.CutFrom != 3 || got.CutTo != 4 || !strings.HasPrefix(got.Reason, "tail cut: entries 3 to 4") {
		t.Errorf("verify after cutting 3-4: %+v, want a cut tail 3 to 4", got)
	}
	// New entries after the cut take Seqs 3 and 4 again, with a valid chain: the checkpoint's
	// hash for 4 no longer matches.
	for i := 0; i < 2; i++ {
		if _, _, err := svc.IssueToken(ctx, reg, courier.TokenInput{Role: credtrace.RolePlatform, Label: "after the cut"}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := svc.VerifyAudit(ctx, reg); err != nil || got.OK || got.FirstBad != 4 || !strings.Contains(got.Reason, "does not match the signed checkpoint") {
		t.Errorf("verify after refilling the cut: %+v, %v; want entry 4 not matching the checkpoint", got, err)
	}
	// Tampering with the checkpoint's own row is caught by its signature.
	if _, err := st.DB().ExecContext(ctx, "UPDATE audit_checkpoints SET seq = 2 WHERE seq = 4"); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.VerifyAudit(ctx, reg); err != nil || got.OK || !strings.Contains(got.Reason, "signature does not verify") {
		t.Errorf("verify with a rewritten checkpoint: %+v, %v; want its signature refused", got, err)
	}
}
