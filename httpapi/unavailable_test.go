package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/store/sqlite"
)

// stalledStore is the embedded store whose firm lookups fail as a backend reports a store that
// stopped answering (a lost connection, the operation timeout, an unconfirmed majority).
type stalledStore struct{ *sqlite.Store }

func (stalledStore) Firm(context.Context, string) (courier.Firm, error) {
	return courier.Firm{}, fmt.Errorf("mongodb: firm f1: read tcp 10.0.0.7:27017: i/o timeout: %w", credtrace.ErrUnavailable)
}

func (stalledStore) Ping(context.Context) error {
	return fmt.Errorf("mongodb: ping: %w", credtrace.ErrUnavailable)
}

// TestUnavailableAnswers503: a store that does not answer gives 503 with Retry-After, not 500,
// and its detail (hosts, driver text) stays in the log; /healthz says the same.
func TestUnavailableAnswers503(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	stalled := stalledStore{st}
	svc := courier.NewService(stalled, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), time.Now)
	if _, err := svc.Bootstrap(ctx, adminTk); err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Deps{Courier: svc, Store: stalled, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, path := range []string{"/v1/firms/f1", "/healthz"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+adminTk)
		resp, err := srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s: status %d, Retry-After %q, want 503 with Retry-After: %s", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if strings.Contains(string(body), "10.0.0.7") {
			t.Errorf("GET %s: the answer names the store's host: %s", path, body)
		}
		if path != "/healthz" && !strings.Contains(string(body), `"unavailable"`) {
			t.Errorf("GET %s: body %s, want code unavailable", path, body)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", credtrace.ErrUnavailable), credtrace.ErrUnavailable) {
		t.Error("a wrapped ErrUnavailable is not ErrUnavailable")
	}
}
