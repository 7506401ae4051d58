// Command credtrace runs the courier credit archive.
//
//	credtrace serve   start the HTTP service (the default)
//	credtrace version print the version
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "credtrace:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: credtrace <command> [flags]

commands:
  serve     start the HTTP service (default)
  version   print the version

serve flags (each also read from the environment variable shown):
  --addr              CREDTRACE_ADDR              listen address (127.0.0.1:8080)
  --data              CREDTRACE_DATA              data directory of the embedded store (./data)
  --shutdown-timeout  CREDTRACE_SHUTDOWN_TIMEOUT  grace period for in-flight requests (15s)
  --publicity-months  CREDTRACE_PUBLICITY_MONTHS  minor=3,general=12,serious=36
  --repair-months     CREDTRACE_REPAIR_MONTHS     minor=0,general=3,serious=12
                      CREDTRACE_MONGO_URI         use MongoDB instead of the embedded store
                      CREDTRACE_MONGO_DB          MongoDB database (credtrace)
                      CREDTRACE_ADMIN_TOKEN       regulator token to accept (>= 24 characters)
                      CREDTRACE_PII_SECRET        key of personal-data hashes (>= 32 characters)
`)
}

// run is main without the process: it returns instead of exiting.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "credtrace", version)
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func newLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, nil))
		}
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// backend is what main needs of a store beyond the domain contracts.
type backend interface {
	courier.Store
	Ping(ctx context.Context) error
	Name() string
}

// openStore opens the configured backend and returns it with its closer and a description.
func openStore(ctx context.Context, cfg config.Config) (backend, func() error, string, error) {
	if cfg.MongoURI != "" {
		st, err := mongodb.Open(ctx, cfg.MongoURI, cfg.MongoDB)
		if err != nil {
			return nil, nil, "", err
		}
		return st, func() error { return st.Close(context.Background()) }, "mongodb database " + cfg.MongoDB, nil
	}
	st, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return nil, nil, "", err
	}
	return st, st.Close, "sqlite " + cfg.SQLitePath(), nil
}

// piiKey returns the key of personal-data hashes: the configured one, or one generated on the
// first start and kept in the store so that hashes stay comparable across restarts.
func piiKey(ctx context.Context, cfg config.Config, st courier.Store) ([]byte, error) {
	if cfg.PIISecret != "" {
		return []byte(cfg.PIISecret), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	v, err := st.InitSetting(ctx, "pii_key", hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("personal-data key: %w", err)
	}
	return hex.DecodeString(v)
}

func policy(cfg config.Config) courier.Policy {
	p := courier.Policy{PublicityMonths: map[courier.Severity]int{}, RepairMonths: map[courier.Severity]int{}}
	for k, v := range cfg.PublicityMonths {
		p.PublicityMonths[courier.Severity(k)] = v
	}
	for k, v := range cfg.RepairMonths {
		p.RepairMonths[courier.Severity(k)] = v
	}
	return p
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv, args)
	if err != nil {
		return err
	}
	pol := policy(cfg)
	if err := pol.Validate(); err != nil {
		return fmt.Errorf("bad configuration: %w", err)
	}
	log := newLogger(stderr)
	st, closeStore, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeStore(); err != nil {
			log.Error("close store", "error", err.Error())
		}
	}()
	key, err := piiKey(ctx, cfg, st)
	if err != nil {
		return err
	}
	svc := courier.NewService(st, courier.NewHasher(key), pol, nil)
	secret, err := svc.Bootstrap(ctx, cfg.AdminToken)
	if err != nil {
		return fmt.Errorf("bootstrap admin token: %w", err)
	}
	api := httpapi.New(httpapi.Deps{Courier: svc, Store: st, Logger: log})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	fmt.Fprintf(stdout, "credtrace %s listening on http://%s (store: %s)\n", version, ln.Addr(), where)
	switch {
	case secret != "":
		fmt.Fprintf(stdout, "regulator token (shown once, keep it): %s\n", secret)
		fmt.Fprintf(stdout, "try: curl -H 'Authorization: Bearer %s' http://%s/v1/firms\n", secret, ln.Addr())
	case cfg.AdminToken != "":
		fmt.Fprintln(stdout, "sign in with the regulator token from CREDTRACE_ADMIN_TOKEN")
	default:
		fmt.Fprintln(stdout, "sign in with the regulator token printed on the first start (or set CREDTRACE_ADMIN_TOKEN)")
	}

	served := make(chan error, 1)
	go func() { served <- api.App().Listener(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownTimeout.String())
	if err := api.App().ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served
	log.Info("stopped")
	return nil
}
