package storetest

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// Tamper changes a store's audit trail behind its back, as someone with access to the database
// would; RunAudit checks that verification notices. Each function fails the test itself.
type Tamper struct {
	// Set overwrites fields of entry seq ("detail", "actor", "hash"), changing exactly that entry.
	Set func(ctx context.Context, t *testing.T, seq int64, fields map[string]string)
	// Delete removes the entries from seq to to (inclusive), each of which must exist.
	Delete func(ctx context.Context, t *testing.T, from, to int64)
	// MoveCheckpoint rewrites the seq of the signed checkpoint at seq to to.
	MoveCheckpoint func(ctx context.Context, t *testing.T, seq, to int64)
}

const auditAdminSecret = "ct_admin-secret-0123456789abcdef"

// auditUSCCs are valid codes (GB 32100 check characters) of the firms the audit tests register.
var auditUSCCs = []string{"91130100MA0CX7Q2K6", "91110000802100433B", "91310000MA1FL0000N"}

// RunAudit checks, through the courier Service, that tampering with a backend's stored audit
// trail is found: altered, rehashed and deleted entries, and a cut tail against a signed
// checkpoint. open is called once per subtest and returns a fresh, empty store and its Tamper.
func RunAudit(t *testing.T, open func(t *testing.T) (courier.Store, Tamper)) {
	t.Helper()
	tests := []struct {
		name     string
		tamper   func(ctx context.Context, t *testing.T, st courier.Store, tp Tamper)
		firstBad int64
		reason   string
	}{
		{"detail altered", func(ctx context.Context, t *testing.T, st courier.Store, tp Tamper) {
			tp.Set(ctx, t, 2, map[string]string{"detail": "forged"})
		}, 2, "content does not match its hash"},
		{"actor altered", func(ctx context.Context, t *testing.T, st courier.Store, tp Tamper) {
			tp.Set(ctx, t, 3, map[string]string{"actor": "someone-else"})
		}, 3, "content does not match its hash"},
		{"entry deleted", func(ctx context.Context, t *testing.T, st courier.Store, tp Tamper) {
			tp.Delete(ctx, t, 3, 3)
		}, 3, "entry missing"},
		{"detail altered and rehashed", func(ctx context.Context, t *testing.T, st courier.Store, tp Tamper) {
			// A forger who recomputes the altered entry's hash still breaks the next link.
			es, err := st.AuditEntries(ctx, 1, 1)
			if err != nil || len(es) != 1 {
				t.Fatalf("read entry 2: %v %v", es, err)
			}
			e := es[0]
			e.Detail = "forged"
			tp.Set(ctx, t, 2, map[string]string{"detail": e.Detail, "hash": courier.AuditHash(e)})
		}, 3, "previous-hash link broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			t.Cleanup(cancel)
			st, tp := open(t)
			svc, reg := auditedService(ctx, t, st)
			tt.tamper(ctx, t, st, tp)
			got, err := svc.VerifyAudit(ctx, reg)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got.OK || got.FirstBad != tt.firstBad || got.Reason != tt.reason {
				t.Errorf("VerifyAudit = %+v, want not OK, FirstBad %d, Reason %q", got, tt.firstBad, tt.reason)
			}
		})
	}
	t.Run("tail cut", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		t.Cleanup(cancel)
		st, tp := open(t)
		svc, reg := auditedService(ctx, t, st)
		testAuditTailCut(ctx, t, svc, reg, tp)
	})
}

// auditedService returns a service on st whose trail holds four entries: the admin token's
// bootstrap (seq 1) and three firm registrations (seq 2-4), with its regulator.
func auditedService(ctx context.Context, t *testing.T, st courier.Store) (*courier.Service, credtrace.Caller) {
	t.Helper()
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
	return svc, reg
}

// testAuditTailCut deletes the newest entries, which leaves a shorter chain that is valid link
// by link, and checks that verification against the latest signed checkpoint reports the cut
// with the missing range; entries appended after the cut, which reuse the cut Seqs, do not hide
// it; and a rewritten checkpoint is caught by its signature.
func testAuditTailCut(ctx context.Context, t *testing.T, svc *courier.Service, reg credtrace.Caller, tp Tamper) {
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
	tp.Delete(ctx, t, 3, 4)
	got, err := svc.VerifyAudit(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got.OK || got.FirstBad != 3 || got.CutFrom != 3 || got.CutTo != 4 || got.Checkpoint != 4 || !strings.HasPrefix(got.Reason, "tail cut: entries 3 to 4") {
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
	// Tampering with the checkpoint's own record is caught by its signature.
	tp.MoveCheckpoint(ctx, t, 4, 2)
	if got, err := svc.VerifyAudit(ctx, reg); err != nil || got.OK || !strings.Contains(got.Reason, "signature does not verify") {
		t.Errorf("verify with a rewritten checkpoint: %+v, %v; want its signature refused", got, err)
	}
}
