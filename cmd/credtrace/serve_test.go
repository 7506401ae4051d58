package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/store/sqlite"
)

// waitLimit bounds every wait on the server, so that a hang fails the test instead of timing out
// the whole binary. It is a safety net, not a synchronisation: the tests wait on lines and results.
const waitLimit = 30 * time.Second

// lineWriter hands every complete line written to it to a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 100)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// serveProc is one `credtrace serve` running in a goroutine.
type serveProc struct {
	base   string   // http://ADDR
	token  string   // the regulator token printed on first start, or ""
	banner []string // the lines printed after the listening line
	cancel context.CancelFunc
	done   chan error
}

// startServe runs `serve` on dataDir and waits until it has printed where it listens and how to
// sign in. The server is stopped, if the test has not stopped it, when the test ends.
func startServe(t *testing.T, dataDir string, env map[string]string) *serveProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newLineWriter()
	s := &serveProc{cancel: cancel, done: make(chan error, 1)}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--shutdown-timeout", "5s"}
	getenv := func(k string) string { return env[k] }
	go func() { s.done <- run(ctx, args, getenv, out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(waitLimit):
			t.Errorf("server did not stop")
		}
	})

	next := func() string {
		t.Helper()
		select {
		case l := <-out.lines:
			return l
		case err := <-s.done:
			s.done <- err
			t.Fatalf("run returned before it printed its banner: %v", err)
		case <-time.After(waitLimit):
			t.Fatalf("no output from run within %s", waitLimit)
		}
		return ""
	}
	first := next()
	_, rest, ok := strings.Cut(first, " listening on http://")
	if !ok {
		t.Fatalf("first line %q does not say where it listens", first)
	}
	addr, _, _ := strings.Cut(rest, " ")
	s.base = "http://" + addr
	if !strings.Contains(first, "store: sqlite "+filepath.Join(dataDir, "credtrace.db")) {
		t.Errorf("first line %q does not name the store", first)
	}
	// The next line says how to sign in; on a first start it carries the token and a curl hint.
	l := next()
	s.banner = append(s.banner, l)
	const tokenPrefix = "regulator token (shown once, keep it): "
	if tok, ok := strings.CutPrefix(l, tokenPrefix); ok {
		s.token = tok
		s.banner = append(s.banner, next())
	}
	return s
}

// stop cancels the server's context and returns what run returned.
func (s *serveProc) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(waitLimit):
		t.Fatalf("run did not return within %s of cancel", waitLimit)
	}
	return nil
}

// testClient talks HTTP without keep-alive, so that no idle connection delays a graceful shutdown.
var testClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitLimit}

// httpCall sends one request and decodes the JSON answer.
func httpCall(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %q is not JSON: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, out
}

var firmBody = map[string]any{
	"uscc": "91130100MA0CX7Q2K6", "name": "顺达速运", "kind": "hq", "region": "130102",
	"licence": map[string]any{"number": "冀邮2024001", "scope": "省内", "status": "active",
		"valid_from": "2024-01-01T00:00:00+08:00", "valid_to": "2029-01-01T00:00:00+08:00"},
}

func TestServe(t *testing.T) {
	dataDir := t.TempDir()
	var firmID, token string

	t.Run("first start", func(t *testing.T) {
		s := startServe(t, dataDir, nil)
		token = s.token
		if !strings.HasPrefix(token, "ct_") || len(token) < 24 {
			t.Fatalf("printed token %q, want a ct_ token; banner %q", token, s.banner)
		}

		status, body := httpCall(t, "GET", s.base+"/healthz", "", nil)
		if status != http.StatusOK || body["status"] != "ok" || body["store"] != "sqlite" {
			t.Errorf("GET /healthz = %d %v, want 200 {status: ok, store: sqlite}", status, body)
		}

		status, body = httpCall(t, "POST", s.base+"/v1/firms", token, firmBody)
		if status != http.StatusCreated {
			t.Fatalf("POST /v1/firms = %d %v, want 201", status, body)
		}
		firmID, _ = body["id"].(string)
		if firmID == "" {
			t.Fatalf("POST /v1/firms answered no id: %v", body)
		}

		status, body = httpCall(t, "GET", s.base+"/v1/firms/"+firmID+"/file", token, nil)
		if status != http.StatusOK {
			t.Fatalf("GET file = %d %v, want 200", status, body)
		}
		firm, _ := body["firm"].(map[string]any)
		if firm["id"] != firmID || firm["uscc"] != "91130100MA0CX7Q2K6" {
			t.Errorf("file firm = %v, want id %s and the registered USCC", firm, firmID)
		}

		if status, _ := httpCall(t, "GET", s.base+"/v1/firms/"+firmID+"/file", "", nil); status != http.StatusUnauthorized {
			t.Errorf("GET file without a token = %d, want 401", status)
		}
		if err := s.stop(t); err != nil {
			t.Errorf("run after cancel = %v, want nil (graceful shutdown)", err)
		}
	})
	if token == "" || firmID == "" {
		t.Fatal("first start failed")
	}

	t.Run("restart on the same data", func(t *testing.T) {
		s := startServe(t, dataDir, nil)
		if s.token != "" {
			t.Errorf("restart printed a new token %q", s.token)
		}
		for _, l := range s.banner {
			if strings.Contains(l, token) {
				t.Errorf("restart printed the old token: %q", l)
			}
		}
		status, body := httpCall(t, "GET", s.base+"/v1/firms/"+firmID, token, nil)
		if status != http.StatusOK || body["id"] != firmID {
			t.Errorf("GET firm with the old token = %d %v, want 200 with the firm", status, body)
		}
		if err := s.stop(t); err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
	})
}

func TestServeAdminToken(t *testing.T) {
	const admin = "ct_chosen-admin-token-0123456789"
	s := startServe(t, t.TempDir(), map[string]string{"CREDTRACE_ADMIN_TOKEN": admin})
	if s.token != "" {
		t.Errorf("printed a generated token %q although CREDTRACE_ADMIN_TOKEN is set", s.token)
	}
	tests := []struct {
		name   string
		token  string
		status int
		role   string
	}{
		{"the configured token", admin, http.StatusOK, "regulator"},
		{"another token", "ct_not-the-admin-token-012345678", http.StatusUnauthorized, ""},
		{"no token", "", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := httpCall(t, "GET", s.base+"/v1/me", tt.token, nil)
			if status != tt.status {
				t.Fatalf("GET /v1/me = %d %v, want %d", status, body, tt.status)
			}
			if tt.role != "" && body["role"] != tt.role {
				t.Errorf("role = %v, want %s", body["role"], tt.role)
			}
		})
	}
	if err := s.stop(t); err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
}

func TestRunBadArguments(t *testing.T) {
	dataDir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"bad shutdown timeout", []string{"serve", "--data", dataDir, "--shutdown-timeout", "soon"}, nil, []string{"--shutdown-timeout"}},
		{"bad publicity months", []string{"serve", "--data", dataDir, "--publicity-months", "tiny=3"}, nil, []string{"--publicity-months"}},
		{"unknown flag", []string{"serve", "--data", dataDir, "--bogus"}, nil, []string{"bogus"}},
		{"flag without the serve command", []string{"--data", dataDir, "--addr", "nohost"}, nil, []string{"--addr"}},
		{"short admin token", []string{"serve", "--data", dataDir}, map[string]string{"CREDTRACE_ADMIN_TOKEN": "short"}, []string{"CREDTRACE_ADMIN_TOKEN"}},
		{"unknown command", []string{"frobnicate"}, nil, []string{"frobnicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) = nil, want an error", tt.args)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("run(%q) = %q, want it to name %s", tt.args, err, w)
				}
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Errorf("run(%q) started listening: %q", tt.args, stdout.String())
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run version: %v", err)
	}
	if got, want := strings.SplitN(stdout.String(), "\n", 2)[0], "credtrace "+version; got != want {
		t.Errorf("version printed %q first, want %q", got, want)
	}
	if version == "" {
		t.Errorf("version is empty")
	}
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name   string
		closed bool
		status int
		want   string
	}{
		{"store open", false, http.StatusOK, "ok"},
		{"store closed", true, http.StatusServiceUnavailable, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.closed {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				t.Cleanup(func() { st.Close() })
			}
			svc := courier.NewService(st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), nil)
			api := httpapi.New(httpapi.Deps{Courier: svc, Store: st, Logger: slog.New(slog.DiscardHandler)})
			resp, err := api.App().Test(httptest.NewRequest("GET", "/healthz", nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || body["status"] != tt.want || body["store"] != "sqlite" {
				t.Errorf("GET /healthz = %d %v, want %d {status: %s, store: sqlite}", resp.StatusCode, body, tt.status, tt.want)
			}
		})
	}
}
