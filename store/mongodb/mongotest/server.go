package mongotest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is an embedded FerretDB of one test's own, which the test stops and starts again on
// the same address and the same data: a MongoDB server that goes away while the service runs
// and comes back. (A server named by CREDTRACE_TEST_MONGO_URI cannot be stopped by a test, so
// Server is always the embedded one.)
type Server struct {
	tb     testing.TB
	addr   string
	dir    string
	cancel context.CancelFunc
	done   chan error
}

// NewServer starts a server of the test's own; it is stopped when the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	addr, err := freeAddr()
	if err != nil {
		tb.Fatalf("mongotest: %v", err)
	}
	s := &Server{tb: tb, addr: addr, dir: tb.TempDir()}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// URI is the server's connection string, the same across restarts.
func (s *Server) URI() string { return "mongodb://" + s.addr + "/" }

// Start starts the server (again) and returns once it accepts connections.
func (s *Server) Start() {
	s.tb.Helper()
	if s.cancel != nil {
		return
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: s.addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + s.dir + "/",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		s.tb.Fatalf("mongotest: ferretdb: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- f.Run(ctx) }()
	deadline := time.Now().Add(startTimeout)
	for {
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case err := <-s.done:
			s.tb.Fatalf("mongotest: ferretdb stopped before accepting connections: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("mongotest: %v", fmt.Errorf("ferretdb did not accept connections on %s within %s: %w", s.addr, startTimeout, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server and returns once it stopped listening; its connections are dropped.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}
