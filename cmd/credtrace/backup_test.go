package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackupWhileWritingAndRestore backs the store up while serve runs and writes go on (tokens
// issued, events ingested), restores the backup into a fresh directory, and finds there what
// the manifest recorded: the counts, an audit chain that verifies, and the trace of a parcel
// written before the backup.
func TestBackupWhileWritingAndRestore(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	s := startServe(t, data, nil)
	tok := s.token
	call := func(want int, method, path string, body any) map[string]any {
		t.Helper()
		code, out := httpCall(t, method, s.base+path, tok, body)
		if code != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
		}
		return out
	}
	firm := call(201, "POST", "/v1/firms", firmBody)["id"].(string)
	site := call(201, "POST", "/v1/firms/"+firm+"/sites", map[string]any{"name": "分拨中心", "kind": "sorting_centre", "region": "130111"})["id"].(string)
	base := time.Now().Add(-10 * time.Hour).UTC().Truncate(time.Hour)
	event := func(id, waybill, code string, h int) map[string]any {
		return map[string]any{"id": id, "waybill": waybill, "carrier": firm, "code": code, "site": site,
			"at": base.Add(time.Duration(h) * time.Minute).Format(time.RFC3339)}
	}
	call(200, "POST", "/v1/events", []map[string]any{event("a1", "YT0000000001", "collected", 0), event("a2", "YT0000000001", "departed", 5)})
	trace := call(200, "GET", "/v1/parcels/YT0000000001", nil)
	untimed(trace)

	// Writes go on in the background: a token and an event each round, until stopped.
	stop := make(chan struct{})
	rounds := make(chan int, 1000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if code, out := httpCall(t, "POST", s.base+"/v1/tokens", tok, map[string]any{"role": "platform", "label": fmt.Sprint("w", i)}); code != 201 {
				t.Errorf("issue token during backup: %d %v", code, out)
				return
			}
			if code, out := httpCall(t, "POST", s.base+"/v1/events", tok, []map[string]any{event(fmt.Sprint("w", i), fmt.Sprintf("ZT%010d", i), "collected", i%600)}); code != 200 {
				t.Errorf("ingest during backup: %d %v", code, out)
				return
			}
			rounds <- i
		}
	}()
	waitRounds := func(n int) {
		t.Helper()
		for range n {
			select {
			case <-rounds:
			case <-time.After(waitLimit):
				t.Fatal("the writer stalled")
			}
		}
	}
	waitRounds(3) // the backup starts with writes under way

	bdir := filepath.Join(root, "backup")
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"backup", "--data", data, bdir}, emptyEnv, &out, &errb); err != nil {
		t.Fatalf("backup while serve runs: %v (%s)", err, errb.String())
	}
	waitRounds(3) // and writes went on after it
	close(stop)
	wg.Wait()
	for _, w := range []string{"sha256", "audit head", "NOT in the backup; back them up apart", data + ".pii.key", data + ".audit.key"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("backup output lacks %q:\n%s", w, out.String())
		}
	}
	var m manifest
	raw, err := os.ReadFile(filepath.Join(bdir, backupManifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.AuditHead.Seq == 0 || m.AuditHead.Hash == "" || m.Counts["tokens"] < 4 || m.Counts["events"] < 3 {
		t.Fatalf("manifest misses what was written before the backup: head %+v, counts %v", m.AuditHead, m.Counts)
	}
	for _, k := range m.Keys {
		if k.Fingerprint == "" || k.FileFingerprint != k.Fingerprint {
			t.Errorf("manifest key %+v: want the store's fingerprint and the file's, equal", k)
		}
	}
	keyBytes, err := os.ReadFile(data + ".pii.key")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, bytes.TrimSpace(keyBytes)) {
		t.Fatal("the manifest holds the personal-data key itself")
	}
	code, v := httpCall(t, "GET", s.base+"/v1/audit/verify", tok, nil)
	if code != 200 {
		t.Fatalf("audit verify: %d", code)
	}
	if n := int64(v["entries"].(float64)); n <= m.AuditHead.Seq {
		t.Fatalf("the service has %d audit entries, the backup's head is %d: no write came after the backup", n, m.AuditHead.Seq)
	}

	// Restore into a fresh directory; the key files go beside it, as the README says.
	restored := filepath.Join(root, "restored")
	out.Reset()
	if err := run(t.Context(), []string{"restore", bdir, restored}, emptyEnv, &out, &errb); err != nil {
		t.Fatalf("restore: %v (%s)", err, errb.String())
	}
	if !strings.Contains(out.String(), "verified") || !strings.Contains(out.String(), "put the key file backed up apart at "+restored+".pii.key") {
		t.Errorf("restore output:\n%s", out.String())
	}
	for _, ext := range []string{".pii.key", ".audit.key"} {
		b, err := os.ReadFile(data + ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(restored+ext, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.stop(t)
	r := startServe(t, restored, nil)
	rcall := func(path string) map[string]any {
		t.Helper()
		code, out := httpCall(t, "GET", r.base+path, tok, nil)
		if code != 200 {
			t.Fatalf("restored GET %s: %d %v", path, code, out)
		}
		return out
	}
	v = rcall("/v1/audit/verify")
	if v["ok"] != true {
		t.Errorf("restored audit chain: %v", v)
	}
	got := rcall("/v1/parcels/YT0000000001")
	untimed(got)
	if !reflect.DeepEqual(got, trace) {
		t.Errorf("restored trace:\n got %v\nwant %v", got, trace)
	}
	if n := int64(v["entries"].(float64)); n != m.AuditHead.Seq {
		t.Errorf("restored audit trail has %d entries, the manifest's head is %d", n, m.AuditHead.Seq)
	}
}

// TestRestoreRefuses: a non-empty data directory, a damaged backup and an unfinished one.
func TestRestoreRefuses(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	s := startServe(t, data, nil)
	bdir := filepath.Join(root, "backup")
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"backup", "--data", data, bdir}, emptyEnv, &out, &errb); err != nil {
		t.Fatal(err)
	}
	s.stop(t)
	if err := run(t.Context(), []string{"backup", "--data", data, bdir}, emptyEnv, &out, &errb); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("backup into a used directory: %v", err)
	}
	if err := run(t.Context(), []string{"restore", bdir, data}, emptyEnv, &out, &errb); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore over the live data directory: %v", err)
	}
	damaged := filepath.Join(root, "damaged")
	copyDir(t, bdir, damaged)
	db := filepath.Join(damaged, backupDB)
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"restore", damaged, filepath.Join(root, "r1")}, emptyEnv, &out, &errb); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("restore of a damaged backup: %v", err)
	}
	os.Remove(filepath.Join(damaged, backupManifest))
	if err := run(t.Context(), []string{"restore", damaged, filepath.Join(root, "r2")}, emptyEnv, &out, &errb); err == nil || !strings.Contains(err.Error(), "not a finished backup") {
		t.Errorf("restore of a backup without manifest: %v", err)
	}
	mongo := func(k string) string {
		if k == "CREDTRACE_MONGO_URI" {
			return "mongodb://127.0.0.1:1"
		}
		return ""
	}
	if err := run(t.Context(), []string{"backup", filepath.Join(root, "b2")}, mongo, &out, &errb); err == nil || !strings.Contains(err.Error(), "mongodump") {
		t.Errorf("backup with MongoDB configured: %v", err)
	}
}

// untimed drops from a trace what depends on when it is asked: the answer's time and the dwell
// of the open custody leg.
func untimed(trace map[string]any) {
	delete(trace, "as_of")
	for _, leg := range trace["custody"].([]any) {
		delete(leg.(map[string]any), "dwell_seconds")
	}
}

func emptyEnv(string) string { return "" }
