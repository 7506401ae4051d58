package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawPost opens a connection, sends a request announcing length bytes with only the first
// 8 KiB of them (what the server prefetches), and reads the answer: a server that waited for
// the announced body would answer only at its read timeout, after the test's deadline.
func rawPost(t *testing.T, base, path, token string, length int) (int, map[string]any) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net, not a synchronisation
	// Accept: the answer is read as JSON, which a dashboard path answers only when asked for.
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: test\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, length)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"+"["+strings.Repeat(" ", 8<<10-1)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 400 && !resp.Close {
		t.Errorf("a request refused before its body was read keeps its connection open")
	}
	return resp.StatusCode, out
}

// TestBodyRefusedBeforeRead: an announced body above the route's limit is refused with 413
// naming body before it is read; on the ingestion routes the token and its role are checked
// before a byte more is read, and only then may the body be up to 16 MiB.
func TestBodyRefusedBeforeRead(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	l := e.serve(t)
	tests := []struct {
		name, path, token string
		length, want      int
	}{
		{"16 MiB to /healthz", "/healthz", "", 16 << 20, 413},
		{"just over 1 MiB to an ordinary route", "/v1/records", adminTk, 1<<20 + 1, 413},
		{"16 MiB to the dashboard", "/ui/signin", "", 16 << 20, 413},
		{"16 MiB to no route", "/nowhere", "", 16 << 20, 413},
		{"16 MiB of events without a token", "/v1/events", "", 16 << 20, 401},
		{"16 MiB of events with a wrong token", "/v1/events", "ct_not-a-token-0123456789abcdef", 16 << 20, 401},
		{"16 MiB of events from a merchant", "/v1/events", w.merch, 16 << 20, 403},
		{"16 MiB of EPCIS without a token", "/v1/events/epcis", "", 16 << 20, 401},
		{"over 16 MiB of events from a firm", "/v1/events", w.firmA, 16<<20 + 1, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, out := rawPost(t, l.base, tt.path, tt.token, tt.length)
			if got != tt.want {
				t.Fatalf("status %d %v, want %d", got, out, tt.want)
			}
			if tt.want == 413 && !names(out, "body") {
				t.Errorf("413 does not name body: %v", out)
			}
		})
	}
}

// TestBodyStreamedWithinLimits: bodies without a length (chunked) are bounded while they are
// read, and an authorised ingestion body above 1 MiB is taken whole.
func TestBodyStreamedWithinLimits(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	l := e.serve(t)
	post := func(path, token string, body io.Reader, length int64) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(l.ctx, "POST", l.base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length // -1: chunked
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := l.client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	events, _ := json.Marshal([]map[string]any{{"id": "big1", "waybill": "SF3000000001", "carrier": w.hqA, "code": "collected", "at": "2026-06-01T07:00:00+08:00"}})
	padded := func(n int) []byte { // the events, then whitespace up to n bytes
		return append(append([]byte{}, events...), bytes.Repeat([]byte(" "), n-len(events))...)
	}
	// chunked hides the reader's length, so that the client sends Transfer-Encoding: chunked.
	chunked := func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) }

	if got, out := post("/v1/records", adminTk, chunked(padded(1<<20+10)), -1); got != 413 || !names(out, "body") {
		t.Errorf("chunked body over 1 MiB to an ordinary route: %d %v, want 413 naming body", got, out)
	}
	if got, out := post("/v1/events", w.firmA, chunked(padded(16<<20+10)), -1); got != 413 || !names(out, "body") {
		t.Errorf("chunked body over 16 MiB of events: %d %v, want 413 naming body", got, out)
	}
	for _, tt := range []struct {
		name   string
		length int64
	}{{"announced", 3 << 20}, {"chunked", -1}} {
		got, out := post("/v1/events", w.firmA, chunked(padded(3<<20)), tt.length)
		if got != 200 || out["accepted"].(float64)+out["duplicates"].(float64) != 1 {
			t.Errorf("%s 3 MiB body of events from a firm: %d %v, want 200 with the event", tt.name, got, out)
		}
	}
	if got, out := post("/v1/records", adminTk, chunked([]byte(`{"subject":{"kind":"firm","id":"`+w.a1+`"},"category":"supervision","source":"regulator","severity":"minor","occurred_at":"2026-05-20T09:00:00+08:00","summary":"分块"}`)), -1); got != 201 {
		t.Errorf("small chunked record: %d %v, want 201", got, out)
	}
	req, _ := http.NewRequestWithContext(l.ctx, "POST", l.base+"/v1/records", strings.NewReader("{}"))
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+adminTk)
	if resp, err := l.client.Do(req); err != nil || resp.StatusCode != 415 {
		t.Errorf("a compressed body: %v %v, want 415", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
}
