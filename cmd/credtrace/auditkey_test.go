package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
)

// TestAuditKeyOutsideTheStore: the first start creates a 0600 audit key file beside the data
// directory, the store holds neither the seed nor the key; checkpoints are signed with it and
// published with its public key; once the store has a checkpoint a start with another key, or
// without one, is refused.
func TestAuditKeyOutsideTheStore(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	env := map[string]string{"CREDTRACE_ADMIN_TOKEN": keyAdmin}
	s := startServe(t, dataDir, env)
	if status, body := httpCall(t, "POST", s.base+"/v1/audit/checkpoints", keyAdmin, nil); status != http.StatusCreated {
		t.Fatalf("POST /v1/audit/checkpoints = %d %v", status, body)
	}
	_, head := httpCall(t, "GET", s.base+"/v1/public/audit/head", "", nil)
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}

	keyFile := dataDir + ".audit.key"
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("no audit key file beside the data directory: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit key file mode %04o, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(keyFile)
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("audit key file holds %q, want a base64 seed of 32 bytes", raw)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if b := storeBytes(t, dataDir); bytes.Contains(b, seed) || bytes.Contains(b, raw[:len(raw)-1]) || bytes.Contains(b, priv) {
		t.Error("the data directory holds the audit key")
	}
	pub := priv.Public().(ed25519.PublicKey)
	if head["public_key"] != base64.StdEncoding.EncodeToString(pub) || head["key_id"] != courier.AuditKeyID(pub) {
		t.Errorf("published head %v, want the key file's public key", head)
	}
	cp := head["checkpoint"].(map[string]any)
	sig, _ := base64.StdEncoding.DecodeString(cp["signature"].(string))
	if !ed25519.Verify(pub, []byte(cp["message"].(string)), sig) {
		t.Error("the published checkpoint does not verify with the key file's public key")
	}

	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	withKey := map[string]string{"CREDTRACE_ADMIN_TOKEN": keyAdmin, "CREDTRACE_AUDIT_KEY": other}
	if err := serveFails(t, dataDir, withKey); !strings.Contains(err.Error(), "not the one this store's checkpoints are signed with") {
		t.Errorf("start with another CREDTRACE_AUDIT_KEY: %v, want refused as the wrong key", err)
	}
	copied := filepath.Join(t.TempDir(), "stolen")
	copyDir(t, dataDir, copied)
	copyPII, _ := os.ReadFile(dataDir + ".pii.key")
	os.WriteFile(copied+".pii.key", copyPII, 0o600)
	if err := serveFails(t, copied, env); !strings.Contains(err.Error(), "CREDTRACE_AUDIT_KEY") || !strings.Contains(err.Error(), copied+".audit.key") {
		t.Errorf("a copy of the store without its audit key: %v, want an error naming CREDTRACE_AUDIT_KEY and the key file", err)
	}
	if _, err := os.Stat(copied + ".audit.key"); err == nil {
		t.Error("serving a copy without its audit key created a new key file")
	}
	os.WriteFile(copied+".audit.key", raw, 0o644)
	if err := serveFails(t, copied, env); !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("an audit key file readable by others: %v, want refused", err)
	}
	os.Chmod(copied+".audit.key", 0o600)
	startServe(t, copied, env).stop(t)
}

// TestCheckpointJob: the scheduled job signs a checkpoint of the head, does nothing on an
// empty trail, and writes no second one while the head has not moved.
func TestCheckpointJob(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	svc := courier.NewService(st, courier.NewHasher(bytes.Repeat([]byte{1}, 32)), courier.DefaultPolicy(), func() time.Time { return now })
	svc.SetAuditKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)))
	job := checkpointJob(svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := job(t.Context()); err != nil {
		t.Fatalf("job on an empty trail: %v", err)
	}
	if _, ok, _ := st.LatestCheckpoint(t.Context()); ok {
		t.Fatal("a checkpoint of an empty trail")
	}
	if _, err := svc.Bootstrap(t.Context(), keyAdmin); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := job(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	cps, err := st.Checkpoints(t.Context(), 0, 10)
	if err != nil || len(cps) != 1 || cps[0].Seq != 1 || !courier.VerifyCheckpoint(svc.AuditPublicKey(), cps[0]) {
		t.Errorf("checkpoints after two jobs over one entry: %+v, %v; want one signed checkpoint of seq 1", cps, err)
	}
}
