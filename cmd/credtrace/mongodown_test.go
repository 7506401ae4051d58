package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/store/mongodb/mongotest"
)

// callHeader is replica.call with the answer's header.
func (r *replica) callHeader(ctx context.Context, method, path string, body any) (int, http.Header, error) {
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+replicaAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// TestMongoGoesAway stops the MongoDB server under a running service and starts it again:
// meanwhile writes and reads answer 503 with Retry-After (within the operation timeout, or the
// client's deadline would end the test), /healthz answers 503; once the server is back the same
// service answers again by itself, the carriers' re-sends are taken, and the consistency check
// finds every summary and statistic as the stored events make them.
func TestMongoGoesAway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a FerretDB")
	}
	ctx := t.Context()
	srv := mongotest.NewServer(t)
	r := startReplicasOn(t, srv.URI(), "credtrace", 1, "--mongo-timeout", "2s")[0]
	firm := r.must(ctx, t, 201, "POST", "/v1/firms", map[string]any{"uscc": "91130100MA0CX7Q2K6", "name": "顺达", "kind": "hq", "region": "130102",
		"licence": map[string]any{"number": "L1", "valid_from": "2024-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z", "status": "active"}})["id"].(string)
	site := r.must(ctx, t, 201, "POST", "/v1/firms/"+firm+"/sites", map[string]any{"name": "分拨中心", "kind": "sorting_centre", "region": "130111"})["id"].(string)
	staff := r.must(ctx, t, 201, "POST", "/v1/staff", map[string]any{"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000",
		"employment": map[string]any{"firm_id": firm, "role": "courier", "from": "2025-01-01T00:00:00Z"}})["id"].(string)
	bs := batches(firm, site, staff)
	r.must(ctx, t, 200, "POST", "/v1/events", bs[0])

	srv.Stop()
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/events", bs[1]},
		{"GET", "/v1/firms/" + firm, nil},
		{"POST", "/v1/firms/" + firm + "/sites", map[string]any{"name": "二号", "kind": "outlet", "region": "130111"}},
		{"GET", "/healthz", nil},
	} {
		code, hdr, err := r.callHeader(ctx, c.method, c.path, c.body)
		if err != nil {
			t.Fatalf("%s %s with the server away: %v", c.method, c.path, err)
		}
		if code != 503 || hdr.Get("Retry-After") == "" {
			t.Errorf("%s %s with the server away: %d, Retry-After %q (want 503 with Retry-After)", c.method, c.path, code, hdr.Get("Retry-After"))
		}
	}

	srv.Start()
	deadline := time.Now().Add(waitLimit)
	for {
		code, _, err := r.callHeader(ctx, "GET", "/healthz", nil)
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz after the server came back: %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, b := range bs { // the carriers re-send everything
		res := r.must(ctx, t, 200, "POST", "/v1/events", b)
		if res["rejected"].(float64) != 0 {
			t.Fatalf("re-send of batch %d: %v", i, res)
		}
		if i == 0 && res["duplicates"].(float64) != float64(len(b)) {
			t.Errorf("batch 0, answered before the server went away, is not all stored: %v", res)
		}
	}
	r.must(ctx, t, 200, "GET", "/v1/firms/"+firm, nil)
	diffs, err := r.app.trk.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// TestMongoUnreachableAtStart starts the binary on a MongoDB URI with credentials whose port
// nothing listens on: it exits non-zero with a message that names the host and not the
// password.
func TestMongoUnreachableAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	addr := unusedAddr(t)
	const password = "pa55-w0rd-never-printed"
	cmd := exec.Command(buildBinary(t), "serve", "--addr", "127.0.0.1:0", "--mongo-timeout", "1s")
	cmd.Env = []string{"CREDTRACE_MONGO_URI=mongodb://credtrace:" + password + "@" + addr + "/?authSource=admin", "CREDTRACE_ADMIN_TOKEN=" + crashAdmin, "HOME=" + t.TempDir()}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(waitLimit):
		cmd.Process.Kill()
		t.Fatalf("the service did not give up on an unreachable server: %s", out.String())
	}
	if err == nil {
		t.Fatalf("exit status 0 on an unreachable server: %s", out.String())
	}
	msg := out.String()
	if !strings.Contains(msg, addr) || strings.Contains(msg, password) || strings.Contains(msg, "listening") {
		t.Errorf("the message should name %s and not the password:\n%s", addr, msg)
	}
}

// unusedAddr is a loopback address nothing listens on (a port just given up).
func unusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
