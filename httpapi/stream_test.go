package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// live is the env's app on a real listener, with a client for it. Streams never end on their
// own, so they need a real connection rather than app.Test.
type live struct {
	t      *testing.T
	base   string
	client *http.Client
	ctx    context.Context // every request of the test ends by its deadline
}

// serve starts the env's app on 127.0.0.1:0. Call it after the last e.call: app.Test
// rebuilds the route tree, which must not race with the listener serving requests.
func (e *env) serve(t *testing.T) *live {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.App().Listener(ln) }()
	t.Cleanup(func() {
		e.srv.StopStreams()
		if err := e.srv.App().ShutdownWithTimeout(10 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("listener: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the listener did not return after shutdown")
		}
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections) // runs before the shutdown above
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &live{t: t, base: "http://" + ln.Addr().String(), client: &http.Client{Transport: tr}, ctx: ctx}
}

func (l *live) request(method, path, token string, body any) *http.Response {
	l.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			l.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(l.ctx, method, l.base+path, rd)
	if err != nil {
		l.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// must sends one ordinary request over the listener and decodes the JSON object it answers.
func (l *live) must(want int, method, path, token string, body any) map[string]any {
	l.t.Helper()
	resp := l.request(method, path, token, body)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		l.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		l.t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
	}
	return out
}

// stream is an open server-sent event stream.
type stream struct {
	t    *testing.T
	body io.ReadCloser
	r    *bufio.Reader
}

// open starts a stream and checks that it is one.
func (l *live) open(path, token string) *stream {
	l.t.Helper()
	resp := l.request("GET", path, token, nil)
	l.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		l.t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		l.t.Fatalf("GET %s: Content-Type %q, want text/event-stream", path, ct)
	}
	return &stream{t: l.t, body: resp.Body, r: bufio.NewReader(resp.Body)}
}

// sseMsg is one server-sent event; a message of comment lines only has comment set.
type sseMsg struct {
	event, data string
	comment     bool
}

// read returns the next message: lines up to a blank line. It fails the test when the stream
// ends or the test's deadline passes first.
func (s *stream) read() sseMsg {
	s.t.Helper()
	var m sseMsg
	var data []string
	lines := 0
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("stream ended before a complete message (got %q so far): %v", line, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if lines == 0 {
				continue
			}
			break
		}
		lines++
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			m.comment = true
		case "event":
			m.event = value
		case "data":
			data = append(data, value)
		}
	}
	m.data = strings.Join(data, "\n")
	if m.event != "" || len(data) > 0 {
		m.comment = false
	}
	return m
}

// next returns the next message that is not a comment (keep-alives may come in between).
func (s *stream) next() sseMsg {
	s.t.Helper()
	for {
		if m := s.read(); !m.comment {
			return m
		}
	}
}

func (m sseMsg) object(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	if err := json.Unmarshal([]byte(m.data), &out); err != nil {
		t.Fatalf("event %q: data is not a JSON object: %q", m.event, m.data)
	}
	return out
}

// TestParcelStream follows the world's parcel live as the regulator, the merchant and the
// recipient: first the current trace, then each new event as it is pushed.
func TestParcelStream(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	l := e.serve(t)
	cases := []struct {
		name, token, query string
		reduced            bool
		at                 string
	}{
		{"regulator", adminTk, "", false, "2026-06-01T07:00:00+08:00"},
		{"merchant", w.merch, "", false, "2026-06-01T07:10:00+08:00"},
		{"recipient with phone4", "", "?phone4=5678", true, "2026-06-01T07:20:00+08:00"},
	}
	seen := 3 // the world's events
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := &live{t: t, base: l.base, client: l.client, ctx: l.ctx}
			s := sub.open("/v1/parcels/"+waybill+"/stream"+c.query, c.token)
			first := s.next()
			if first.event != "trace" {
				t.Fatalf("first message %+v, want event trace", first)
			}
			tr := first.object(t)
			if tr["waybill"] != waybill || tr["reduced"] != c.reduced || len(items(tr, "events")) != seen {
				t.Errorf("snapshot: waybill %v reduced %v with %d events; want %s, %v, %d", tr["waybill"], tr["reduced"], len(items(tr, "events")), waybill, c.reduced, seen)
			}
			if _, ok := tr["custody"]; ok == c.reduced {
				t.Errorf("snapshot custody present = %v, want %v", ok, !c.reduced)
			}
			id := "live-" + strings.ReplaceAll(c.name, " ", "-")
			push := map[string]any{"id": id, "waybill": waybill, "carrier": w.hqA, "code": "out_for_delivery", "at": c.at,
				"site": w.site, "staff": w.staff, "region": "130111"}
			if res := sub.must(200, "POST", "/v1/events", w.firmA, []any{push}); num(res["accepted"]) != 1 {
				t.Fatalf("push: %v", res)
			}
			seen++
			m := s.next()
			if m.event != "tracking" {
				t.Fatalf("message after the push %+v, want event tracking", m)
			}
			got := m.object(t)
			if got["code"] != "out_for_delivery" {
				t.Errorf("streamed code %v, want out_for_delivery", got["code"])
			}
			if c.reduced {
				for k := range got {
					if k != "code" && k != "at" && k != "region" && k != "signer" {
						t.Errorf("the public stream sends field %q: %s", k, m.data)
					}
				}
				for _, secret := range []string{w.site, w.staff, w.a1, id} {
					if strings.Contains(first.data+m.data, secret) {
						t.Errorf("the public stream carries %s: %s", secret, m.data)
					}
				}
				if got["region"] != "130100" {
					t.Errorf("public region %v, want the city 130100", got["region"])
				}
				return
			}
			if got["id"] != id || got["site"] != w.site || got["staff"] != w.staff || got["region"] != "130111" {
				t.Errorf("streamed event %s, want id %s at site %s by %s in 130111", m.data, id, w.site, w.staff)
			}
		})
	}
}

// TestAlertsStream follows the regulators' alerts: an anomaly found at ingestion and a
// reported incident each arrive as their own event.
func TestAlertsStream(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	l := e.serve(t)
	s := l.open("/v1/alerts/stream", adminTk)
	if m := s.read(); !m.comment {
		t.Fatalf("first message %+v, want the opening comment", m)
	}
	const wb = "SF6000000001"
	res := l.must(200, "POST", "/v1/events", w.firmA, []any{map[string]any{"id": "light-1", "waybill": wb, "carrier": w.hqA,
		"code": "collected", "at": "2026-06-01T10:00:00+08:00", "site": w.site, "weight_g": 1}})
	anoms := items(res, "anomalies")
	if num(res["accepted"]) != 1 || len(anoms) != 1 {
		t.Fatalf("a 1 g collection: %v, want one anomaly", res)
	}
	m := s.next()
	if m.event != "anomaly" {
		t.Fatalf("message after the push %+v, want event anomaly", m)
	}
	if a := m.object(t); a["id"] != anoms[0]["id"] || a["kind"] != "implausible_weight" || a["waybill"] != wb {
		t.Errorf("streamed anomaly %s, want %v", m.data, anoms[0])
	}
	inc := l.must(201, "POST", "/v1/incidents", adminTk, map[string]any{"waybill": wb, "kind": "damaged", "reporter": "12305"})
	m = s.next()
	if m.event != "incident" {
		t.Fatalf("message after the report %+v, want event incident", m)
	}
	if got := m.object(t); got["id"] != inc["id"] || got["waybill"] != wb || got["kind"] != "damaged" {
		t.Errorf("streamed incident %s, want %v", m.data, inc["id"])
	}
}

// TestStopStreamsEndsStreams checks that StopStreams ends open streams, so that a graceful
// shutdown does not wait for clients that never hang up.
func TestStopStreamsEndsStreams(t *testing.T) {
	e := newEnv(t)
	e.world()
	l := e.serve(t)
	streams := map[string]*stream{
		"parcel": l.open("/v1/parcels/"+waybill+"/stream", adminTk),
		"alerts": l.open("/v1/alerts/stream", adminTk),
	}
	for name, s := range streams {
		if m := s.read(); m.event == "" && !m.comment {
			t.Fatalf("%s: first message %+v", name, m)
		}
	}
	e.srv.StopStreams()
	for name, s := range streams {
		rest, err := io.ReadAll(s.body)
		if err != nil {
			t.Errorf("%s stream did not end after StopStreams: %v", name, err)
		}
		if len(bytes.TrimSpace(rest)) > 0 && !bytes.HasPrefix(bytes.TrimSpace(rest), []byte(":")) {
			t.Errorf("%s stream sent %q after StopStreams", name, rest)
		}
	}
}
