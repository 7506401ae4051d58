package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/internal/rofs"
)

// waitHealth polls /healthz until its status is want.
func waitHealth(t *testing.T, p *proc, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		code, body, err := p.call("GET", "/healthz", nil)
		if err == nil && code == 200 && body["status"] == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never said %s: %d %v %v", want, code, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadOnlyDisk turns the filesystem under the embedded store read-only while carriers
// ingest and a scoring run writes, with the store's files open (a FUSE passthrough whose
// writes fail with EROFS, as a disk remounted read-only after errors fails them): writes
// answer 503 with Retry-After naming read-only, /healthz says degraded and why, a log line
// says it, reads (traces, the firm's file, the public pages) keep working; once the
// filesystem takes writes again the same process says ok by itself; then fsync fails for a
// while (a failing device), with the same answers naming a disk I/O error; then the same
// process takes the carriers' re-sends and a new scoring run; and after a restart every event answered as accepted is
// there and the consistency check finds the statistics as the stored events make them.
func TestReadOnlyDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary on a FUSE mount")
	}
	backing, mnt := t.TempDir(), t.TempDir()
	fsys, err := rofs.Mount(backing, mnt)
	if errors.Is(err, rofs.ErrNoFUSE) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Set(rofs.Writable); fsys.Unmount() }) // after the process has ended
	bin := buildBinary(t)
	// The keys live beside the data directory: on the switched filesystem too.
	p := startProc(t, bin, filepath.Join(mnt, "data"), "")
	firm, site, staff := crashWorld(t, p)
	const nb = 12
	all := diskBatches(firm, site, staff, nb)
	accepted := map[int]bool{}
	for i := range 4 {
		p.must(t, 200, "POST", "/v1/events", all[i])
		accepted[i] = true
	}

	// A scoring run is asked for, and the disk turns read-only under it.
	run := make(chan map[string]any, 1)
	go func() {
		code, body, err := p.call("POST", "/v1/scoring/runs", map[string]any{})
		run <- map[string]any{"code": code, "body": body, "err": err}
	}()
	fsys.Set(rofs.ReadOnly)
	refused := 0
	for i := 4; i < 8; i++ {
		code, body, hdr, err := p.callHeader("POST", "/v1/events", all[i])
		switch {
		case err != nil:
			t.Fatalf("batch %d: %v", i, err)
		case code == 200:
			accepted[i] = true
		case code == 503:
			refused++
			if hdr.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After: %v", body)
			}
			if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, "read-only") {
				t.Errorf("the 503 does not say why: %v", body)
			}
		default:
			t.Fatalf("batch %d on a read-only disk: %d %v", i, code, body)
		}
	}
	if refused == 0 {
		t.Fatal("a read-only disk refused no batch")
	}
	r := <-run
	t.Logf("the scoring run asked for as the disk turned read-only: %v", r)
	if code, body, hdr, _ := p.callHeader("POST", "/v1/firms/"+firm+"/sites", map[string]any{"name": "二号", "kind": "outlet", "region": "130111"}); code != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("a new site on a read-only disk: %d %v", code, body)
	}
	if code, body, _ := p.call("POST", "/v1/scoring/runs", map[string]any{}); code != 503 && code != 409 {
		t.Errorf("a scoring run on a read-only disk: %d %v", code, body)
	}
	health := p.must(t, 200, "GET", "/healthz", nil)
	if health["status"] != "degraded" || health["reason"] != "read-only" {
		t.Errorf("/healthz on a read-only disk: %v", health)
	}
	// Reads: the firm and its file, the public pages, the trace of every accepted parcel.
	for _, path := range []string{"/v1/firms/" + firm, "/v1/firms/" + firm + "/file", "/v1/public/firms/91130100MA0CX7Q2K6", "/v1/public/redlist", "/v1/scoring/method"} {
		if code, body, _ := p.call("GET", path, nil); code != 200 {
			t.Errorf("GET %s on a read-only disk: %d %v", path, code, body)
		}
	}
	for i := range accepted {
		wb := all[i][0]["waybill"].(string)
		if tr := p.must(t, 200, "GET", "/v1/parcels/"+wb+"?carrier="+firm, nil); tr["waybill"] != wb {
			t.Errorf("trace of accepted %s: %v", wb, tr)
		}
	}
	if log := p.errb.String(); !strings.Contains(log, "store unavailable") || !strings.Contains(log, "read-only") {
		t.Errorf("no log line says the store is read-only:\n%s", log)
	}

	// The disk takes writes again: no restart, and nobody needs to write for /healthz to know.
	fsys.Set(rofs.Writable)
	waitHealth(t, p, "ok")

	// A failing device: writes reach the page cache, fsync fails with EIO.
	fsys.Set(rofs.FsyncFails)
	switch code, body, hdr, _ := p.callHeader("POST", "/v1/events", all[8]); {
	case code == 200:
		accepted[8] = true
	case code != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(body["error"]), "disk I/O error"):
		t.Errorf("a batch while fsync fails: %d %v, Retry-After %q", code, body, hdr.Get("Retry-After"))
	}
	if health := p.must(t, 200, "GET", "/healthz", nil); !accepted[8] && health["reason"] != "disk I/O error" {
		t.Errorf("/healthz while fsync fails: %v", health)
	}
	fsys.Set(rofs.Writable)
	waitHealth(t, p, "ok")

	for i, b := range all { // the carriers re-send everything
		code, res, _ := p.call("POST", "/v1/events", b)
		if code != 200 || res["rejected"].(float64) != 0 {
			t.Fatalf("re-send of batch %d once the disk is writable: %d %v", i, code, res)
		}
		if accepted[i] && res["duplicates"].(float64) != float64(len(b)) {
			t.Errorf("batch %d was answered accepted but is not all stored: %v", i, res)
		}
	}
	if code, body, _ := p.call("POST", "/v1/scoring/runs", map[string]any{}); code != 201 && code != 202 {
		t.Errorf("a scoring run once the disk is writable: %d %v", code, body)
	}
	p.must(t, 201, "POST", "/v1/firms/"+firm+"/sites", map[string]any{"name": "二号", "kind": "outlet", "region": "130111"})

	// Stop the service; start it again on the same files: every event is there.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		t.Fatal("the service did not stop")
	}
	q := startProc(t, bin, filepath.Join(mnt, "data"), "")
	for i, b := range all {
		if res := q.must(t, 200, "POST", "/v1/events", b); res["duplicates"].(float64) != float64(len(b)) {
			t.Errorf("batch %d after the restart: %v", i, res)
		}
	}
	q.cmd.Process.Signal(syscall.SIGTERM)
	<-q.done

	// The consistency check rebuilds every summary and statistic from the stored events.
	cfg, err := config.Load(func(string) string { return "" }, []string{"--data", filepath.Join(backing, "data"), "--anomaly-schedule", ""})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	a, err := assemble(ctx, cfg, policy(cfg), func(string) string { return "" }, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	diffs, err := a.trk.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}
