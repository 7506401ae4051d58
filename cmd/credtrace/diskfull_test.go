package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startOnTmpfs starts the service with its data on a tmpfs of size bytes of its own, mounted in
// a mount namespace of its own (unshare; -r maps this user to root there, so that no
// privilege is needed where user namespaces are allowed). The tmpfs is reached from here
// through /proc/<pid>/root. It skips when this machine cannot make such a filesystem.
func startOnTmpfs(t *testing.T, bin string, size int) (p *proc, dir string) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare missing: cannot make a size-limited filesystem")
	}
	mnt := t.TempDir()
	probe := exec.Command("unshare", "-rm", "sh", "-c", `mount -t tmpfs -o size=1m tmpfs "$0"`, mnt)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs in a namespace of our own (%v: %s)", err, out)
	}
	cmd := exec.Command("unshare", "-rm", "sh", "-c",
		fmt.Sprintf(`mount -t tmpfs -o size=%d tmpfs "$0" && exec "$1" serve --addr 127.0.0.1:0 --data "$0" --anomaly-schedule ""`, size), mnt, bin)
	cmd.Env = append(os.Environ(), "CREDTRACE_ADMIN_TOKEN="+crashAdmin)
	p = startCommand(t, cmd)
	// unshare and sh exec, so the pid is the service's.
	return p, filepath.Join(fmt.Sprintf("/proc/%d/root", cmd.Process.Pid), mnt)
}

// fill writes a file in dir until the filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return path
		}
	}
}

// diskBatches are n batches of ten events each, each batch its own parcels: collected, then
// delivered.
func diskBatches(firm, site, staff string, n int) [][]map[string]any {
	base := time.Now().Add(-30 * time.Hour).UTC().Truncate(time.Hour)
	var out [][]map[string]any
	for b := 0; b < n; b++ {
		var batch []map[string]any
		for i := 0; i < 10; i++ {
			code := "collected"
			if i%2 == 1 {
				code = "delivered"
			}
			e := map[string]any{"id": fmt.Sprintf("b%d-%d", b, i), "waybill": fmt.Sprintf("ZT%05d%05d", b, i/2), "carrier": firm, "code": code,
				"at": base.Add(time.Duration(b*10+i) * time.Minute).Format(time.RFC3339), "site": site, "staff": staff,
				"remark": strings.Repeat("备", 500)}
			if code == "delivered" {
				e["signer"] = "recipient"
			}
			batch = append(batch, e)
		}
		out = append(out, batch)
	}
	return out
}

// TestDiskFull fills the filesystem under the embedded store while carriers ingest and a
// scoring run is asked for: writes answer 503 with Retry-After and the reason, /healthz says
// degraded and why, reads keep working, nothing answered as accepted is missing, and once the
// space returns the same process takes the writes again, and the statistics after the
// carriers' re-sends are those of a run that never met a full disk.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	const nb = 20 // 10 events each; the WAL grows by some 250 kB a batch

	clean := startProc(t, bin, t.TempDir(), "")
	f, s, st := crashWorld(t, clean)
	for _, b := range diskBatches(f, s, st, nb) {
		clean.must(t, 200, "POST", "/v1/events", b)
	}
	want := statsOf(t, clean, f, s, st)

	p, dir := startOnTmpfs(t, bin, 16<<20)
	firm, site, staff := crashWorld(t, p) // the same world, under other ids
	all := diskBatches(firm, site, staff, nb)
	accepted := map[int]bool{}
	for i := range 5 {
		p.must(t, 200, "POST", "/v1/events", all[i])
		accepted[i] = true
	}
	filler := fill(t, dir)

	// Batches until the disk refuses one (the WAL may have room for a few first).
	refused := -1
	for i := 5; i < nb && refused < 0; i++ {
		code, body, hdr, err := p.callHeader("POST", "/v1/events", all[i])
		switch {
		case err != nil:
			t.Fatalf("batch %d: %v", i, err)
		case code == 200:
			accepted[i] = true
		case code == 503:
			if hdr.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After: %v", body)
			}
			if msg := fmt.Sprint(body["error"]); !strings.Contains(msg, "disk full") {
				t.Errorf("the 503 does not say why: %v", body)
			}
			refused = i
		default:
			t.Fatalf("batch %d on a full disk: %d %v", i, code, body)
		}
	}
	if refused < 0 {
		ls, _ := exec.Command("ls", "-la", dir).CombinedOutput()
		t.Fatalf("the disk never filled: %s", ls)
	}
	health := p.must(t, 200, "GET", "/healthz", nil)
	if health["status"] != "degraded" || health["reason"] != "disk full" {
		t.Errorf("/healthz on a full disk: %v", health)
	}
	if code, body, _ := p.call("POST", "/v1/scoring/runs", map[string]any{}); code != 503 {
		t.Errorf("a scoring run on a full disk: %d %v", code, body)
	}
	// Reads: the firm, and the trace of every parcel answered as accepted.
	p.must(t, 200, "GET", "/v1/firms/"+firm, nil)
	for i := range accepted {
		wb := all[i][0]["waybill"].(string)
		tr := p.must(t, 200, "GET", "/v1/parcels/"+wb+"?carrier="+firm, nil)
		if tr["waybill"] != wb {
			t.Errorf("trace of accepted %s: %v", wb, tr)
		}
	}
	if !strings.Contains(p.errb.String(), "disk full") {
		t.Errorf("no log line says disk full:\n%s", p.errb)
	}

	// Space returns: no restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i, b := range all { // the carriers re-send everything
		code, res, _ := p.call("POST", "/v1/events", b)
		if code != 200 {
			ls, _ := exec.Command("ls", "-la", dir).CombinedOutput()
			t.Fatalf("re-send of batch %d once space returned: %d %v\n%s", i, code, res, ls)
		}
		if res["rejected"].(float64) != 0 {
			t.Fatalf("re-send of batch %d rejected events: %v", i, res)
		}
		if accepted[i] && res["duplicates"].(float64) != float64(len(b)) {
			t.Errorf("batch %d was answered accepted but is not all stored: %v", i, res)
		}
	}
	if health := p.must(t, 200, "GET", "/healthz", nil); health["status"] != "ok" {
		t.Errorf("/healthz once space returned: %v", health)
	}
	if got := statsOf(t, p, firm, site, staff); !reflect.DeepEqual(got, want) {
		t.Errorf("statistics after the full disk:\n got %v\nwant %v", got, want)
	}
	if code, body, _ := p.call("POST", "/v1/scoring/runs", map[string]any{}); code != 201 && code != 202 {
		t.Errorf("a scoring run once space returned: %d %v", code, body)
	}
}
