package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const crashAdmin = "ct_crash-test-regulator-token-0123456789"

// proc is a credtrace process started from the built binary.
type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when the process has exited
	errb *bytes.Buffer
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "credtrace")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func startProc(t *testing.T, bin, data, failpoint string) *proc {
	t.Helper()
	return startProcEnv(t, bin, data, failpoint)
}

// startProcEnv is startProc with more environment variables (NAME=value).
func startProcEnv(t *testing.T, bin, data, failpoint string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data, "--anomaly-schedule", "")
	cmd.Env = append(append(os.Environ(), "CREDTRACE_ADMIN_TOKEN="+crashAdmin, "CREDTRACE_FAILPOINT="+failpoint), env...)
	return startCommand(t, cmd)
}

// startCommand starts cmd, a credtrace serve (perhaps behind a wrapper that execs it), and
// waits until it listens.
func startCommand(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), errb: &bytes.Buffer{}}
	cmd.Stderr = p.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		cmd.Wait()
		close(p.done)
	}()
	deadline := time.After(waitLimit)
	for p.addr == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("process ended before listening: %s", p.errb)
			}
			if _, rest, found := strings.Cut(l, "listening on http://"); found {
				p.addr, _, _ = strings.Cut(rest, " ")
			}
		case <-deadline:
			t.Fatal("no listening line")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

// call sends a request; err is set when the process died before answering.
func (p *proc) call(method, path string, body any) (int, map[string]any, error) {
	code, out, _, err := p.callHeader(method, path, body)
	return code, out, err
}

// callHeader is call with the answer's header.
func (p *proc) callHeader(method, path string, body any) (int, map[string]any, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+p.addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+crashAdmin)
	req.Header.Set("Content-Type", "application/json")
	req.Close = true
	resp, err := (&http.Client{Timeout: waitLimit}).Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header, nil
}

func (p *proc) must(t *testing.T, want int, method, path string, body any) map[string]any {
	t.Helper()
	got, out, err := p.call(method, path, body)
	if err != nil || got != want {
		t.Fatalf("%s %s: %d %v %v (want %d)", method, path, got, out, err, want)
	}
	return out
}

// crashWorld registers a firm, a site and a courier and returns their ids.
func crashWorld(t *testing.T, p *proc) (firm, site, staff string) {
	t.Helper()
	firm = p.must(t, 201, "POST", "/v1/firms", map[string]any{"uscc": "91130100MA0CX7Q2K6", "name": "顺达", "kind": "hq", "region": "130102",
		"licence": map[string]any{"number": "L1", "valid_from": "2024-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z", "status": "active"}})["id"].(string)
	site = p.must(t, 201, "POST", "/v1/firms/"+firm+"/sites", map[string]any{"name": "分拨中心", "kind": "sorting_centre", "region": "130111"})["id"].(string)
	staff = p.must(t, 201, "POST", "/v1/staff", map[string]any{"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000",
		"employment": map[string]any{"firm_id": firm, "role": "courier", "from": "2025-01-01T00:00:00Z"}})["id"].(string)
	return firm, site, staff
}

// batches are three batches of events over ten parcels: collection, transit, delivery.
func batches(firm, site, staff string) [][]map[string]any {
	base := time.Now().Add(-40 * time.Hour).UTC().Truncate(time.Hour)
	var out [][]map[string]any
	codes := []string{"collected", "departed", "delivered"}
	for b, code := range codes {
		var batch []map[string]any
		for i := 0; i < 10; i++ {
			e := map[string]any{"id": fmt.Sprintf("%s-%d", code, i), "waybill": fmt.Sprintf("YT%010d", i), "carrier": firm, "code": code,
				"at": base.Add(time.Duration(b*12+i) * time.Hour).Format(time.RFC3339), "site": site, "staff": staff}
			if code == "delivered" {
				e["signer"] = "recipient"
			}
			batch = append(batch, e)
		}
		out = append(out, batch)
	}
	return out
}

func statsOf(t *testing.T, p *proc, firm, site, staff string) map[string]any {
	t.Helper()
	out := map[string]any{}
	from, to := time.Now().AddDate(0, 0, -5).Format("2006-01-02"), time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	for kind, id := range map[string]string{"firm": firm, "site": site, "staff": staff} {
		out[kind] = p.must(t, 200, "GET", "/v1/stats/"+kind+"/"+id+"?from="+from+"&to="+to, nil)["days"]
	}
	return out
}

// TestCrashAndResend kills the service at each step of ingestion (inside the events'
// transaction, after it commits but before the answer, and inside the save of the derived
// state), restarts it, re-sends everything, and finds the statistics of a clean run.
func TestCrashAndResend(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts the binary")
	}
	bin := buildBinary(t)

	clean := startProc(t, bin, t.TempDir(), "")
	firm, site, staff := crashWorld(t, clean)
	for _, b := range batches(firm, site, staff) {
		clean.must(t, 200, "POST", "/v1/events", b)
	}
	want := statsOf(t, clean, firm, site, staff)
	if len(want["firm"].([]any)) == 0 {
		t.Fatal("the clean run counted nothing")
	}

	for _, fp := range []string{"events:2", "committed:2", "events:3", "committed:3", "derived:1"} {
		t.Run(fp, func(t *testing.T) {
			data := t.TempDir()
			p := startProc(t, bin, data, fp)
			// Same ids on a fresh store: the world is registered the same way.
			f, s, st := crashWorld(t, p)
			bs := batches(f, s, st)
			died := false
			for _, b := range bs {
				if _, _, err := p.call("POST", "/v1/events", b); err != nil {
					died = true
					break
				}
			}
			if !died { // reading statistics saves the derived state first
				_, _, err := p.call("GET", "/v1/stats/firm/"+f, nil)
				died = err != nil
			}
			if !died {
				t.Fatalf("failpoint %s never fired", fp)
			}
			select {
			case <-p.done:
			case <-time.After(waitLimit):
				t.Fatal("the process did not exit at the failpoint")
			}
			if !strings.Contains(p.errb.String(), "failpoint "+fp+" reached") {
				t.Fatalf("the process died otherwise: %s", p.errb)
			}
			q := startProc(t, bin, data, "")
			for _, b := range bs { // re-send everything, as a carrier retrying would
				res := q.must(t, 200, "POST", "/v1/events", b)
				if res["rejected"].(float64) != 0 {
					t.Fatalf("re-send rejected events: %v", res)
				}
			}
			for _, b := range bs { // and once more: all duplicates now
				res := q.must(t, 200, "POST", "/v1/events", b)
				if res["duplicates"].(float64) != float64(len(b)) {
					t.Fatalf("second re-send: %v", res)
				}
			}
			got := statsOf(t, q, f, s, st)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("statistics after crash at %s and re-send:\n got %v\nwant %v", fp, got, want)
			}
		})
	}
}
