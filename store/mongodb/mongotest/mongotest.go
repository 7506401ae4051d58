// Package mongotest gives tests a MongoDB server: the one named by CREDTRACE_TEST_MONGO_URI, or
// else an embedded FerretDB (SQLite handler) started once per test binary. It is imported only by
// tests, so the FerretDB dependency never reaches the credtrace binary.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnvURI names the variable that points tests at an existing server instead of FerretDB.
const EnvURI = "CREDTRACE_TEST_MONGO_URI"

// startTimeout bounds how long the embedded server may take to accept connections.
const startTimeout = 20 * time.Second

var (
	once      sync.Once
	sharedURI string
	startErr  error

	// runID keeps database names from two test binaries sharing one server apart.
	runID = randomHex(4)
	seq   atomic.Int64
)

// URI returns the connection string of the test server. Without CREDTRACE_TEST_MONGO_URI it
// starts an embedded FerretDB on the first call; the server is shared by every test in the binary
// and lives until the process exits, so it is deliberately not stopped through tb.Cleanup. When
// the server cannot start, URI fails the test if CI is set and skips it otherwise.
func URI(tb testing.TB) string {
	tb.Helper()
	if uri := os.Getenv(EnvURI); uri != "" {
		return uri
	}
	once.Do(func() { sharedURI, startErr = startFerretDB() })
	if startErr != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("mongotest: %v", startErr)
		}
		tb.Skipf("mongotest: no MongoDB server (set %s to use one): %v", EnvURI, startErr)
	}
	return sharedURI
}

// NewDB returns the server's URI and a database name no other test uses. The database is dropped
// when the test ends.
func NewDB(tb testing.TB) (uri, dbName string) {
	tb.Helper()
	uri = URI(tb)
	dbName = fmt.Sprintf("ct_%s_%d_%s", runID, seq.Add(1), sanitize(tb.Name()))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := drop(ctx, uri, dbName); err != nil {
			tb.Logf("mongotest: drop %s: %v", dbName, err)
		}
	})
	return uri, dbName
}

func drop(ctx context.Context, uri, dbName string) error {
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer c.Disconnect(ctx)
	return c.Database(dbName).Drop(ctx)
}

// startFerretDB runs an embedded FerretDB on a free loopback port and waits until it accepts
// connections. It does not ask FerretDB for its URI: MongoDBURI can block before the listener is
// up, and the address is known anyway.
func startFerretDB() (string, error) {
	dir, err := os.MkdirTemp("", "credtrace-ferretdb-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		// FerretDB logs every failed command, wire message included, at WARN.
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return "", fmt.Errorf("ferretdb: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(context.Background()) }()

	deadline := time.Now().Add(startTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return "mongodb://" + addr + "/", nil
		}
		select {
		case err := <-done:
			return "", fmt.Errorf("ferretdb stopped before accepting connections: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("ferretdb did not accept connections on %s within %s: %w", addr, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr picks a free loopback port by listening on port 0 and closing the listener again.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	return addr, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// sanitize turns a test name into something every server accepts in a database name, short
// enough to stay under the 63-byte limit with the prefix.
func sanitize(name string) string {
	s := strings.Trim(unsafeChars.ReplaceAllString(name, "_"), "_")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}
