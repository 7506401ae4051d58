// Command credtrace runs the courier credit archive.
//
//	credtrace serve   start the HTTP service (the default)
//	credtrace version print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
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
  score     run a scoring run by hand on the configured store (--as-of RFC3339, --publish)
  bench     measure credtrace against its references on this machine (-short, -events N, -out FILE)
  gen       write a synthetic district through the API (--seed N, --size tiny|small|district|large, --url, --token)
  version   print the version

serve flags (each also read from the environment variable shown):
  --addr              CREDTRACE_ADDR              listen address (127.0.0.1:8080)
  --data              CREDTRACE_DATA              data directory of the embedded store (./data)
  --shutdown-timeout  CREDTRACE_SHUTDOWN_TIMEOUT  grace period for in-flight requests (15s)
  --publicity-months  CREDTRACE_PUBLICITY_MONTHS  minor=3,general=12,serious=36
  --repair-months     CREDTRACE_REPAIR_MONTHS     minor=0,general=3,serious=12
  --pii-key-file      CREDTRACE_PII_KEY_FILE      file of the personal-data key, created 0600 on the first start
                                                  (DATA.pii.key, beside the data directory; back it up apart)
  --audit-key-file    CREDTRACE_AUDIT_KEY_FILE    file of the Ed25519 key that signs audit checkpoints, created 0600
                                                  on the first start (DATA.audit.key, beside the data directory)
  --audit-checkpoint-schedule CREDTRACE_AUDIT_CHECKPOINT_SCHEDULE  cron spec of the signed checkpoints (@every 10m; empty: off)
                      CREDTRACE_MONGO_URI         use MongoDB instead of the embedded store
                      CREDTRACE_MONGO_DB          MongoDB database (credtrace)
                      CREDTRACE_ADMIN_TOKEN       regulator token to accept (>= 24 characters)
                      CREDTRACE_PII_SECRET        key of personal-data hashes (>= 32 characters), instead of the key file
                      CREDTRACE_AUDIT_KEY         base64 Ed25519 seed of the audit checkpoint key, instead of its file
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
	case "bench":
		return bench(ctx, args, stdout, stderr)
	case "score":
		return score(ctx, args, getenv, stdout, stderr)
	case "gen":
		return gen(ctx, args, getenv, stdout, stderr)
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

// backend is an opened store: the domain contracts it serves, its health check, and how it
// closes and recovers.
type backend struct {
	courier  courier.Store
	tracking tracking.Store
	scoring  scoring.Store
	health   httpapi.Pinger
	close    func() error
	where    string
	// recover finishes statistics that a crash left half-applied (MongoDB only; SQLite
	// commits them with their events).
	recover func(ctx context.Context) error
	// scoringOf and trackingOf turn the Store an Atomic block is given into the other domains'
	// views of it, so that their decisions and audit entries share the block.
	scoringOf  func(courier.Store) scoring.Store
	trackingOf func(courier.Store) tracking.Store
}

// openStore opens the configured backend.
func openStore(ctx context.Context, cfg config.Config) (backend, error) {
	if cfg.MongoURI != "" {
		st, err := mongodb.Open(ctx, cfg.MongoURI, cfg.MongoDB)
		if err != nil {
			return backend{}, err
		}
		tr := st.Tracking()
		return backend{courier: st, tracking: tr, scoring: st.Scoring(), health: st, where: "mongodb database " + cfg.MongoDB,
			close: func() error { return st.Close(context.Background()) },
			recover: func(ctx context.Context) error {
				_, err := tr.RecoverStats(ctx, 10*time.Minute)
				return err
			},
			scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*mongodb.Store).Scoring() },
			trackingOf: func(cs courier.Store) tracking.Store { return cs.(*mongodb.Store).Tracking() }}, nil
	}
	st, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return backend{}, err
	}
	return backend{courier: st, tracking: st.Tracking(), scoring: st.Scoring(), health: st, close: st.Close, where: "sqlite " + cfg.SQLitePath(),
		recover:    func(context.Context) error { return nil },
		scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*sqlite.Store).Scoring() },
		trackingOf: func(cs courier.Store) tracking.Store { return cs.(*sqlite.Store).Tracking() }}, nil
}

// scoreJob is a scheduled scoring run; another instance holding the lease is not an error.
func scoreJob(sc *scoring.Service, publish bool, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		trigger := "schedule"
		if publish {
			trigger = "publish"
		}
		r, err := sc.StartRun(ctx, scoring.Caller{Role: "regulator", TokenID: "system"}, time.Time{}, trigger, publish)
		if errors.Is(err, scoring.ErrLeaseHeld) {
			log.Info("scoring run skipped: another instance holds the lease", "trigger", trigger)
			return nil
		}
		if err == nil {
			log.Info("scoring run", "run", r.ID, "subjects", r.Total, "proposals", r.Proposals, "duration_ms", r.FinishedAt.Sub(r.StartedAt).Milliseconds())
		}
		return err
	}
}

// failpoint returns a hook that ends the process without cleanup (exit status 137, as a kill
// would) at step on its Nth occurrence; spec is "step" or "step:N".
func failpoint(spec string, stderr io.Writer) func(string) {
	step, nth, _ := strings.Cut(spec, ":")
	n, err := strconv.Atoi(nth)
	if err != nil || n < 1 {
		n = 1
	}
	var mu sync.Mutex
	seen := 0
	return func(s string) {
		if s != step {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen++; seen == n {
			fmt.Fprintf(stderr, "failpoint %s reached: exiting\n", spec)
			os.Exit(137)
		}
	}
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

// app is a wired service: the store, the domain services and the API.
type app struct {
	st     backend
	secret string // a regulator token issued on the first start, to print once
	svc    *courier.Service
	trk    *tracking.Service
	sc     *scoring.Service
	api    *httpapi.Server
	log    *slog.Logger
}

func (a *app) close() {
	if err := a.trk.Flush(context.Background()); err != nil {
		a.log.Error("save derived tracking state", "error", err.Error())
	}
	if err := a.st.close(); err != nil {
		a.log.Error("close store", "error", err.Error())
	}
}

// assemble opens the store and wires the services and the API, replaying what a crash left.
func assemble(ctx context.Context, cfg config.Config, pol courier.Policy, getenv func(string) string, stderr io.Writer, log *slog.Logger) (*app, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*app, error) {
		st.close()
		return nil, err
	}
	key, err := piiKey(ctx, cfg, st.courier, log)
	if err != nil {
		return fail(err)
	}
	hasher := courier.NewHasher(key)
	svc := courier.NewService(st.courier, hasher, pol, nil)
	if err := auditKey(ctx, cfg, st.courier, svc, log); err != nil {
		return fail(err)
	}
	secret, err := svc.Bootstrap(ctx, cfg.AdminToken)
	if err != nil {
		return fail(fmt.Errorf("bootstrap admin token: %w", err))
	}
	if err := st.recover(ctx); err != nil {
		return fail(fmt.Errorf("recover statistics: %w", err))
	}
	metrics := httpapi.NewMetrics()
	opts := tracking.Options{OnPhoneCheck: metrics.PhoneCheck, Auditor: courier.NewAuditor(svc, st.trackingOf)}
	if cfg.MongoURI != "" {
		opts.ParcelCache = -1 // several replicas may ingest: always read summaries from the store
	}
	if fp := getenv("CREDTRACE_FAILPOINT"); fp != "" {
		// Crash tests only: die at the named step of the Nth ingestion ("stats:2").
		hook := failpoint(fp, stderr)
		opts.StepHook = hook
		if set, ok := st.courier.(interface{ SetStepHook(func(string)) }); ok {
			set.SetStepHook(hook)
		}
	}
	trk := tracking.NewService(st.tracking, courier.NewTreeCache(svc), proposer{svc}, hasher, opts, nil)
	if n, err := trk.Recover(ctx); err != nil {
		return fail(fmt.Errorf("replay tracking journal: %w", err))
	} else if n > 0 {
		log.Info("replayed tracking events after the last checkpoint", "events", n)
	}
	sc := scoring.NewService(st.scoring, st.courier, trk, svc.InTree, nil)
	sc.SetAuditor(courier.NewAuditor(svc, st.scoringOf))
	api := httpapi.New(httpapi.Deps{Courier: svc, Tracking: trk, Scoring: sc, Store: st.health, Logger: log, Metrics: metrics})
	return &app{st: st, secret: secret, svc: svc, trk: trk, sc: sc, api: api, log: log}, nil
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
	loc, err := config.LoadLocation(cfg.Timezone)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	app, err := assemble(ctx, cfg, pol, getenv, stderr, log)
	if err != nil {
		return err
	}
	defer app.close()
	st, secret, trk, sc, api := app.st, app.secret, app.trk, app.sc, app.api

	sched := newScheduler(loc, log)
	jobs := []job{
		{name: "anomaly-scan", spec: cfg.AnomalySchedule, run: func(ctx context.Context) error {
			res, err := trk.Scan(ctx)
			if err == nil && len(res.New) > 0 {
				log.Info("anomalies found", "new", len(res.New), "scanned", res.Scanned)
			}
			return err
		}},
		{name: "recover-stats", spec: "@every 1m", run: st.recover},
		{name: "score", spec: cfg.ScoreSchedule, run: scoreJob(sc, false, log)},
		{name: "publish-grades", spec: cfg.PublishSchedule, run: scoreJob(sc, true, log)},
		{name: "audit-checkpoint", spec: cfg.CheckpointSchedule, run: checkpointJob(app.svc, log)},
	}
	for _, j := range jobs {
		if err := sched.add(j); err != nil {
			return fmt.Errorf("schedule %s: %w", j.name, err)
		}
	}
	sched.start()
	defer sched.shutdown()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	txn := "transactions: yes"
	if t, ok := st.health.(interface{ Transactions() bool }); ok && !t.Transactions() {
		txn = "transactions: no, a change and its audit entry are two writes"
	}
	fmt.Fprintf(stdout, "credtrace %s listening on http://%s (store: %s; %s); dashboard at http://%s/ui/\n", version, ln.Addr(), st.where, txn, ln.Addr())
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
	api.StopStreams()
	sched.shutdown()
	if err := api.App().ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	// A stop that comes before the serving goroutine has handed ln to fasthttp finds no
	// listener to close, and the server would then serve forever: close it here as well.
	ln.Close()
	<-served
	log.Info("stopped")
	return nil
}
