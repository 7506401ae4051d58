package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// traceService is a service on a fresh SQLite store in dir, listening on loopback, as
// benchIngest wires it: the store, both domains, the ingestion pipeline and the API, its
// request log formatted as JSON (then discarded, so that the line costs what it costs in
// production bar the write) and its metrics on.
type traceService struct {
	url, admin string
	world      benchWorld
	dbPath     string
	close      func()
}

// startTraceService starts a traceService; proposer and watcher may be nil (no
// back-tracking proposals, no verdicts: the trace route uses neither).
func startTraceService(ctx context.Context, dir string, proposer func(*courier.Service) tracking.Proposer, watcher func(*tracking.Service) courier.Watcher) (*traceService, error) {
	path := filepath.Join(dir, "credtrace.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	hasher := courier.NewHasher([]byte("bench-key-0123456789abcdefghijklmnop"))
	svc := courier.NewService(st, hasher, courier.DefaultPolicy(), nil)
	ts := &traceService{admin: "ct_bench-admin-token-0123456789abcdef", dbPath: path}
	if _, err := svc.Bootstrap(ctx, ts.admin); err != nil {
		st.Close()
		return nil, err
	}
	if ts.world, err = benchWorldIn(ctx, svc); err != nil {
		st.Close()
		return nil, err
	}
	var prop tracking.Proposer
	if proposer != nil {
		prop = proposer(svc)
	}
	trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(svc), prop, hasher, tracking.Options{}, nil)
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{})
	if watcher != nil {
		svc.SetWatcher(watcher(trk))
	}
	api := httpapi.New(httpapi.Deps{Courier: svc, Tracking: trk, Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pipe.Close(context.Background())
		st.Close()
		return nil, err
	}
	go api.App().Listener(ln)
	ts.url = "http://" + ln.Addr().String()
	ts.close = func() {
		api.App().Shutdown()
		pipe.Close(context.Background())
		st.Close()
	}
	return ts, nil
}

// ingest posts n events of the bench's event stream with seed, 1,000 a request.
func (ts *traceService) ingest(ctx context.Context, client *http.Client, seed uint64, n int) error {
	for body := range benchBodies(ts.world, seed, n) {
		if err := postEvents(ctx, client, ts.url, ts.admin, body); err != nil {
			for range benchBodies(ts.world, seed, 0) {
			}
			return err
		}
	}
	return nil
}

// postEvents posts one body of events and checks that all were accepted.
func postEvents(ctx context.Context, client *http.Client, url, token string, body []byte) error {
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res struct{ Accepted, Rejected int }
	json.NewDecoder(resp.Body).Decode(&res)
	if resp.StatusCode != 200 || res.Rejected > 0 {
		return fmt.Errorf("ingest answered %d with %d rejected", resp.StatusCode, res.Rejected)
	}
	return nil
}
