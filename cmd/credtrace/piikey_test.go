package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
)

const (
	keyAdmin = "ct_pii-key-test-admin-0123456789"
	keyIDNum = "11010519491231002X"
)

// storeBytes is every file of the data directory, concatenated.
func storeBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// serveFails runs serve on dataDir and answers its error; the test fails if it starts.
func serveFails(t *testing.T, dataDir string, env map[string]string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &stopOnListen{cancel: cancel}
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir}, func(k string) string { return env[k] }, out, io.Discard)
	if err == nil || strings.Contains(out.b.String(), "listening") {
		t.Fatalf("serve on %s started (%v): %s", dataDir, err, out.b.String())
	}
	return err
}

// stopOnListen keeps what serve prints and stops it once it listens, so that a serve that
// should have refused to start ends the test instead of hanging it.
type stopOnListen struct {
	b      bytes.Buffer
	cancel context.CancelFunc
}

func (w *stopOnListen) Write(p []byte) (int, error) {
	w.b.Write(p)
	if strings.Contains(w.b.String(), "listening") {
		w.cancel()
	}
	return len(p), nil
}

func searchFinds(t *testing.T, base string) bool {
	t.Helper()
	status, body := httpCall(t, "POST", base+"/v1/staff/search", keyAdmin, map[string]any{"id_number": keyIDNum})
	if status != http.StatusOK && status != http.StatusNotFound {
		t.Fatalf("staff search: %d %v", status, body)
	}
	return status == http.StatusOK
}

// TestPIIKeyOutsideTheStore: the key lives in a 0600 file beside the data directory, never in
// the store; a copy of the store alone cannot be served, nor served with another key.
func TestPIIKeyOutsideTheStore(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	env := map[string]string{"CREDTRACE_ADMIN_TOKEN": keyAdmin}
	s := startServe(t, dataDir, env)
	if status, body := httpCall(t, "POST", s.base+"/v1/staff", keyAdmin, map[string]any{"name": "张三", "id_number": keyIDNum, "phone": "13800138000"}); status != http.StatusCreated {
		t.Fatalf("POST /v1/staff = %d %v", status, body)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}

	keyFile := dataDir + ".pii.key"
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("no key file beside the data directory: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(keyFile)
	hexKey := strings.TrimSpace(string(raw))
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != 32 {
		t.Fatalf("key file holds %q, want 64 hex digits", raw)
	}
	if b := storeBytes(t, dataDir); bytes.Contains(b, []byte(hexKey)) || bytes.Contains(b, key) {
		t.Error("the data directory holds the personal-data key")
	}

	copied := filepath.Join(t.TempDir(), "stolen")
	copyDir(t, dataDir, copied)
	if err := serveFails(t, copied, env); !strings.Contains(err.Error(), "personal-data key") || !strings.Contains(err.Error(), "CREDTRACE_PII_SECRET") || !strings.Contains(err.Error(), copied+".pii.key") {
		t.Errorf("a copy of the store without its key: %v, want an error naming the key, CREDTRACE_PII_SECRET and the key file", err)
	}
	if _, err := os.Stat(copied + ".pii.key"); err == nil {
		t.Error("serving a copy without its key created a new key file")
	}
	other := make([]byte, 32)
	rand.Read(other)
	os.WriteFile(copied+".pii.key", []byte(hex.EncodeToString(other)+"\n"), 0o600)
	if err := serveFails(t, copied, env); !strings.Contains(err.Error(), "not the one") {
		t.Errorf("a copy with another key file: %v, want refused as the wrong key", err)
	}
	if err := serveFails(t, dataDir, map[string]string{"CREDTRACE_ADMIN_TOKEN": keyAdmin, "CREDTRACE_PII_SECRET": strings.Repeat("w", 40)}); !strings.Contains(err.Error(), "CREDTRACE_PII_SECRET") {
		t.Errorf("the store with another CREDTRACE_PII_SECRET: %v, want refused naming it", err)
	}
	os.WriteFile(copied+".pii.key", raw, 0o600)
	os.Chmod(copied+".pii.key", 0o644)
	if err := serveFails(t, copied, env); !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key file readable by others: %v, want refused", err)
	}
	os.Chmod(copied+".pii.key", 0o600)
	s = startServe(t, copied, env)
	if !searchFinds(t, s.base) {
		t.Error("the copy with its own key does not find the person by ID number")
	}
	s.stop(t)
}

// TestPIIKeyMovedOutOfAnOldStore: a store that kept its key in its settings gets it moved to
// the key file at start, keeps only the fingerprint, and its hashes still match.
func TestPIIKeyMovedOutOfAnOldStore(t *testing.T) {
	oldStore := func(t *testing.T, dataDir string) []byte {
		t.Helper()
		ctx := t.Context()
		st, err := sqlite.Open(ctx, filepath.Join(dataDir, "credtrace.db"))
		if err != nil {
			t.Fatal(err)
		}
		key := make([]byte, 32)
		rand.Read(key)
		if _, err := st.InitSetting(ctx, "pii_key", hex.EncodeToString(key)); err != nil {
			t.Fatal(err)
		}
		svc := courier.NewService(st, courier.NewHasher(key), courier.DefaultPolicy(), nil)
		if _, err := svc.Bootstrap(ctx, keyAdmin); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateStaff(ctx, credtrace.System, courier.StaffInput{Name: "张三", IDNumber: keyIDNum, Phone: "13800138000"}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(storeBytes(t, dataDir), []byte(hex.EncodeToString(key))) {
			t.Fatal("the old store does not hold its key: the test would prove nothing")
		}
		return key
	}
	env := map[string]string{"CREDTRACE_ADMIN_TOKEN": keyAdmin}

	t.Run("to the key file", func(t *testing.T) {
		dataDir := filepath.Join(t.TempDir(), "data")
		key := oldStore(t, dataDir)
		s := startServe(t, dataDir, env)
		if !searchFinds(t, s.base) {
			t.Error("after the move the person is not found by ID number: the key changed")
		}
		s.stop(t)
		raw, err := os.ReadFile(dataDir + ".pii.key")
		if err != nil || strings.TrimSpace(string(raw)) != hex.EncodeToString(key) {
			t.Fatalf("key file = %q, %v; want the store's key", raw, err)
		}
		if st, _ := os.Stat(dataDir + ".pii.key"); st.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
		}
		if b := storeBytes(t, dataDir); bytes.Contains(b, []byte(hex.EncodeToString(key))) {
			t.Error("the data directory still holds the key after the move")
		}
		st, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "credtrace.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Setting(t.Context(), "pii_key"); err == nil {
			t.Error("the store still has its pii_key setting")
		}
		if fp, err := st.Setting(t.Context(), "pii_key_fingerprint"); err != nil || fp != piiFingerprint(key) {
			t.Errorf("fingerprint = %q, %v; want the key's", fp, err)
		}
	})
	t.Run("the same key in CREDTRACE_PII_SECRET: no file", func(t *testing.T) {
		dataDir := filepath.Join(t.TempDir(), "data")
		key := oldStore(t, dataDir)
		s := startServe(t, dataDir, map[string]string{"CREDTRACE_ADMIN_TOKEN": keyAdmin, "CREDTRACE_PII_SECRET": string(key)})
		s.stop(t)
		if _, err := os.Stat(dataDir + ".pii.key"); err == nil {
			t.Error("a key file was written although CREDTRACE_PII_SECRET gives the key")
		}
	})
	t.Run("another key in CREDTRACE_PII_SECRET: refused", func(t *testing.T) {
		dataDir := filepath.Join(t.TempDir(), "data")
		oldStore(t, dataDir)
		err := serveFails(t, dataDir, map[string]string{"CREDTRACE_ADMIN_TOKEN": keyAdmin, "CREDTRACE_PII_SECRET": strings.Repeat("x", 40)})
		if !strings.Contains(err.Error(), "different") {
			t.Errorf("err = %v, want refused as a different key", err)
		}
	})
}
