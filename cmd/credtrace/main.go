// Command credtrace runs the courier credit archive.
//
//	credtrace serve    start the HTTP service (the default)
//	credtrace score    a scoring run by hand, or the replay of one
//	credtrace gen      a synthetic district
//	credtrace import   an NDJSON migration file (firms, sites, staff, records)
//	credtrace bench    the measurements of this machine
//	credtrace backup   a consistent copy of the embedded store, while serve runs
//	credtrace restore  a backup into a fresh data directory, verified
//	credtrace version  version, commit and Go
//	credtrace help     every command and its flags
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
)

// version and commit are set at build time with -ldflags "-X main.version=... -X main.commit=..."
// (make build does); without them the commit comes from the build's VCS stamp, when it has one.
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "credtrace:", err)
		os.Exit(1)
	}
}

// commands are credtrace's subcommands, in the order the usage lists them.
var commands = []struct{ name, summary string }{
	{"serve", "start the HTTP service (the default)"},
	{"score", "run a scoring run by hand on the configured store, or recompute one from its inputs (--replay RUN)"},
	{"gen", "write a synthetic district through the API, or into an embedded store (--data)"},
	{"import", "import an NDJSON migration file into the configured store: import --kind firms|sites|staff|records FILE"},
	{"bench", "measure credtrace against its references on this machine"},
	{"backup", "copy the embedded store into DIR while serve runs, with a manifest (audit head, counts, key fingerprints)"},
	{"restore", "put a backup into a new data directory and verify it (checksum, counts, audit chain)"},
	{"version", "print the version, the commit and the Go version"},
	{"help", "print this, or the flags of one command: credtrace help COMMAND"},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: credtrace <command> [flags]   (credtrace help COMMAND, or COMMAND --help, for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	serveUsage(w)
}

func serveUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: credtrace serve [flags]")
	config.Usage(w)
}

// nearest returns the command closest to name in edit distance, if it is close enough to be
// what was meant.
func nearest(name string) string {
	best, bestD := "", 3
	for _, c := range commands {
		if d := editDistance(name, c.name); d < bestD {
			best, bestD = c.name, d
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps of neighbours that
// turn a into b (optimal string alignment: "scroe" is one from "score").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// versionLine is what credtrace version prints: the build's version, its commit and Go.
func versionLine() string {
	rev, dirty := commit, ""
	if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = " (modified)"
				}
			}
		}
	}
	if rev == "" {
		rev = "unknown (built without -ldflags or a VCS stamp)"
	}
	return fmt.Sprintf("credtrace %s\ncommit %s%s\n%s %s/%s", version, rev, dirty, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// run is main without the process: it returns instead of exiting.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		usage(stdout)
		return nil
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, args, stdout, stderr)
	case "score":
		return score(ctx, args, getenv, stdout, stderr)
	case "gen":
		return gen(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backup(ctx, args, getenv, stdout, stderr)
	case "restore":
		return restore(ctx, args, getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help":
		if len(args) == 0 {
			usage(stdout)
			return nil
		}
		switch args[0] {
		case "serve":
			serveUsage(stdout)
			return nil
		case "score", "gen", "bench", "backup", "restore", "import":
			return run(ctx, []string{args[0], "--help"}, getenv, stdout, stderr)
		case "version", "help":
			usage(stdout)
			return nil
		}
		cmd = args[0]
	}
	if n := nearest(cmd); n != "" {
		return fmt.Errorf("unknown command %q: did you mean %q? (credtrace help lists the commands)", cmd, n)
	}
	return fmt.Errorf("unknown command %q (credtrace help lists the commands)", cmd)
}

// parseFlags parses a subcommand's flags; -h or --help prints them to stdout and reports help,
// which the command answers by returning nil (exit status 0).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, synopsis string) (help bool, err error) {
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: credtrace "+synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	return false, err
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
	// lease runs fn as the one holder of the named lease among the replicas, with a context
	// that fences the store's writes with the lease's token; another holder is errLeaseHeld.
	// The embedded store has one process: fn just runs.
	lease func(ctx context.Context, name string, ttl time.Duration, fn func(context.Context) error) error
	// shared says that several replicas may ingest into the store.
	shared bool
	// now is the clock of the services: this host's for the embedded store (one process owns
	// its files), the MongoDB server's as last measured where several replicas share one
	// database, so that they stamp and judge by one time (mongodb.Store.Now).
	now func() time.Time
	// scoringOf and trackingOf turn the Store an Atomic block is given into the other domains'
	// views of it, so that their decisions and audit entries share the block.
	scoringOf  func(courier.Store) scoring.Store
	trackingOf func(courier.Store) tracking.Store
	// webhooksOf and webhooksOfTracking are the webhooks' outbox in the same block.
	webhooksOf         func(courier.Store) webhook.Store
	webhooksOfTracking func(tracking.Store) webhook.Store
}

// leaseContext is ctx ending when a lease of ttl asked for at asked lapses, by this host's
// monotonic clock. Not at the lease's Until: that is the server's time, and a deadline at it
// is read against this host's wall clock, so a host clock an hour behind the server's would
// keep the work running an hour past the lease, while another replica holds the next term.
// The server starts the term after it was asked for, so the local end comes first. (asked
// carries a monotonic reading, and a deadline derived from it is timed by that clock.)
func leaseContext(ctx context.Context, asked time.Time, ttl time.Duration) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, asked.Add(ttl))
}

// openStore opens the configured backend.
// openCommandStore opens the configured store for a command other than serve (score,
// import), with serve's --data and --pii-key-file when given, and the personal-data hasher.
// The caller closes the store.
func openCommandStore(ctx context.Context, getenv func(string) string, data, keyFile string, stderr io.Writer) (config.Config, backend, *courier.Hasher, error) {
	var args []string
	if data != "" {
		args = append(args, "--data", data)
	}
	if keyFile != "" {
		args = append(args, "--pii-key-file", keyFile)
	}
	cfg, err := config.Load(getenv, args)
	if err != nil {
		return cfg, backend{}, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return cfg, backend{}, nil, err
	}
	key, err := piiKey(ctx, cfg, st.courier, newLogger(stderr))
	if err != nil {
		st.close()
		return cfg, backend{}, nil, err
	}
	return cfg, st, courier.NewHasher(key), nil
}

func openStore(ctx context.Context, cfg config.Config) (backend, error) {
	if cfg.MongoURI != "" {
		st, err := mongodb.Open(ctx, cfg.MongoURI, cfg.MongoDB, mongodb.WithTimeout(cfg.MongoTimeout))
		if err != nil {
			return backend{}, err
		}
		tr := st.Tracking()
		// The events another replica is folding right now are its to save: a replay here takes
		// only those left pending for longer than any save takes.
		st.SetReplayAge(replayAge)
		owner := leaseOwner()
		return backend{courier: st, tracking: tr, scoring: st.Scoring(), health: st, where: "mongodb database " + cfg.MongoDB, shared: true, now: st.Now,
			lease: func(ctx context.Context, name string, ttl time.Duration, fn func(context.Context) error) error {
				asked := time.Now()
				l, err := st.AcquireLease(ctx, name, owner, ttl)
				if errors.Is(err, mongodb.ErrLeaseHeld) {
					return fmt.Errorf("%s: %w", err, errLeaseHeld)
				}
				if err != nil {
					return err
				}
				defer st.ReleaseLease(context.WithoutCancel(ctx), l)
				ctx, cancel := leaseContext(ctx, asked, ttl)
				defer cancel()
				return fn(mongodb.Fenced(ctx, l))
			},
			close: func() error { return st.Close(context.Background()) },
			recover: func(ctx context.Context) error {
				_, err := tr.RecoverStats(ctx, 10*time.Minute)
				return err
			},
			scoringOf:          func(cs courier.Store) scoring.Store { return cs.(*mongodb.Store).Scoring() },
			trackingOf:         func(cs courier.Store) tracking.Store { return cs.(*mongodb.Store).Tracking() },
			webhooksOf:         func(cs courier.Store) webhook.Store { return cs.(*mongodb.Store).Webhooks() },
			webhooksOfTracking: func(ts tracking.Store) webhook.Store { return ts.(*mongodb.Tracking).Webhooks() }}, nil
	}
	st, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return backend{}, err
	}
	return backend{courier: st, tracking: st.Tracking(), scoring: st.Scoring(), health: st, close: st.Close, where: "sqlite " + cfg.SQLitePath(),
		recover: func(context.Context) error { return nil },
		lease: func(ctx context.Context, _ string, _ time.Duration, fn func(context.Context) error) error {
			return fn(ctx)
		},
		scoringOf:          func(cs courier.Store) scoring.Store { return cs.(*sqlite.Store).Scoring() },
		trackingOf:         func(cs courier.Store) tracking.Store { return cs.(*sqlite.Store).Tracking() },
		webhooksOf:         func(cs courier.Store) webhook.Store { return cs.(*sqlite.Store).Webhooks() },
		webhooksOfTracking: func(ts tracking.Store) webhook.Store { return ts.(*sqlite.Tracking).Webhooks() }}, nil
}

// calendar is the evaluation periods of the configuration: months or quarters in CREDTRACE_TZ.
func calendar(cfg config.Config) (scoring.Calendar, error) {
	loc, err := config.LoadLocation(cfg.Timezone)
	if err != nil {
		return scoring.Calendar{}, fmt.Errorf("CREDTRACE_TZ: %w", err)
	}
	kind := scoring.PeriodKind(cfg.Period)
	if kind == "" {
		kind = scoring.Month
	}
	return scoring.Calendar{Kind: kind, Loc: loc}, nil
}

// scoreJob is a scheduled scoring run; another instance holding the lease is not an error.
func scoreJob(sc *scoring.Service, publish bool, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		trigger := "schedule"
		if publish {
			trigger = "publish"
		}
		r, err := sc.StartRun(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "system"}, time.Time{}, trigger, publish)
		if errors.Is(err, scoring.ErrLeaseHeld) {
			log.Info("scoring run skipped: another instance holds the lease", "trigger", trigger)
			return nil
		}
		if publish && errors.Is(err, credtrace.ErrConflict) {
			// The period that has ended is published already (a quarter is published once,
			// on the first of the three monthly dates; or by hand): nothing to do.
			log.Info("publication skipped: the period is published already", "detail", err.Error())
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
	pipe   *tracking.Pipeline
	live   *tracking.Live
	grace  time.Duration // how long close waits for the pipeline
	sc     *scoring.Service
	api    *httpapi.Server
	hooks  *webhook.Dispatcher
	log    *slog.Logger
	unlock func() // releases the data directory (embedded store only)
}

func (a *app) close() {
	// Serving has stopped: the batches still in the pipeline are answered, then its derived
	// state is saved. A wait past the grace is left to the replay at the next start.
	ctx, cancel := context.WithTimeout(context.Background(), a.grace)
	defer cancel()
	a.live.Close()
	a.hooks.Close()
	if err := a.pipe.Close(ctx); err != nil {
		a.log.Error("close the tracking pipeline", "error", err.Error())
	}
	if err := a.st.close(); err != nil {
		a.log.Error("close store", "error", err.Error())
	}
	a.unlock()
}

// assemble opens the store and wires the services and the API, replaying what a crash left. On
// the embedded store it first takes the data directory's lock: the app owns the journal.
func assemble(ctx context.Context, cfg config.Config, pol courier.Policy, getenv func(string) string, stderr io.Writer, log *slog.Logger) (*app, error) {
	unlock := func() {}
	if cfg.MongoURI == "" {
		var err error
		if unlock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		unlock()
		return nil, err
	}
	fail := func(err error) (*app, error) {
		st.close()
		unlock()
		return nil, err
	}
	key, err := piiKey(ctx, cfg, st.courier, log)
	if err != nil {
		return fail(err)
	}
	hasher := courier.NewHasher(key)
	if st.now == nil {
		st.now = time.Now
	}
	svc := courier.NewService(st.courier, hasher, pol, st.now)
	svc.SetTokenGrace(cfg.TokenGrace)
	// Every audited change that a party may subscribe to writes its outbox entries in its own
	// Atomic block; so do tracking's saves.
	ann := announcer{st: st, now: st.now}
	svc.SetNotifier(ann)
	if err := auditKey(ctx, cfg, st.courier, svc, log); err != nil {
		return fail(err)
	}
	secret, err := svc.Bootstrap(ctx, cfg.AdminToken)
	if err != nil {
		return fail(fmt.Errorf("bootstrap admin token: %w", err))
	}
	if err := st.lease(ctx, "recover-stats", recoverLease, st.recover); err != nil && !errors.Is(err, errLeaseHeld) {
		return fail(fmt.Errorf("recover statistics: %w", err))
	}
	metrics := httpapi.NewMetrics()
	// The delay of late parcels is attributed by the segment norms methodology 2026.4 publishes.
	norms, err := scoring.ParseMethod(scoring.Method2026_4)
	if err != nil {
		return fail(fmt.Errorf("methodology 2026.4: %w", err))
	}
	opts := tracking.Options{OnPhoneCheck: metrics.PhoneCheck, Auditor: courier.NewAuditor(svc, st.trackingOf),
		TotalDelayWithinCity: cfg.TotalDelayCity, TotalDelayBetweenCities: cfg.TotalDelayIntercity, SegmentNorms: norms.TrackingNorms()}
	// Parcel statuses and ingestion's anomalies are announced on both backends: on MongoDB a
	// save's outbox rows go in one unordered insert (see webhook.EmitBatch).
	opts.Notifier = ann
	dopts := webhook.DispatcherOptions{AllowPrivate: cfg.WebhookAllowPrivate, Holder: leaseOwner()}
	if fp := getenv("CREDTRACE_FAILPOINT"); fp != "" {
		// Crash tests only: die at the named step of the Nth ingestion ("committed:2"), or of
		// the Nth webhook delivery ("webhook.claimed", "webhook.sent").
		if set, ok := st.courier.(interface{ SetStepHook(func(string)) }); ok {
			set.SetStepHook(failpoint(fp, stderr))
		}
		dopts.Step = failpoint(fp, stderr)
	}
	hooks := webhook.NewDispatcher(st.webhooksOf(st.courier), dopts)
	trk := tracking.NewService(st.tracking, courier.NewTreeCache(svc), proposer{svc}, hasher, opts, st.now)
	// Several MongoDB replicas may ingest: summaries are read from the store, saved per batch.
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{Shared: st.shared})
	svc.SetWatcher(verdicts{trk})
	if n, err := replay(ctx, st, pipe); err != nil && !errors.Is(err, errLeaseHeld) {
		pipe.Close(ctx)
		return fail(fmt.Errorf("replay tracking journal: %w", err))
	} else if n > 0 {
		log.Info("replayed tracking events after the last checkpoint", "events", n)
	}
	// The live streams read what every replica stores, from one poller.
	live, err := tracking.StartLive(ctx, trk, tracking.LiveOptions{Every: cfg.LivePoll,
		OnError: func(err error) { log.Warn("live streams", "error", err.Error()) }})
	if err != nil {
		pipe.Close(ctx)
		return fail(err)
	}
	sc := scoring.NewService(st.scoring, st.courier, trk, svc.InTree, st.now)
	cal, err := calendar(cfg)
	if err != nil {
		live.Close()
		pipe.Close(ctx)
		return fail(err)
	}
	sc.SetCalendar(cal)
	sc.SetAuditor(courier.NewAuditor(svc, st.scoringOf))
	wh := webhook.NewService(st.webhooksOf(st.courier), webhook.Options{AllowPrivate: cfg.WebhookAllowPrivate,
		Auditor: courier.NewAuditor(svc, st.webhooksOf)}, st.now)
	api := httpapi.New(httpapi.Deps{Courier: svc, Tracking: trk, Scoring: sc, Webhooks: wh, Store: st.health, Logger: log, Metrics: metrics,
		AddressChecks: cfg.AddressChecks, Live: live})
	return &app{st: st, secret: secret, svc: svc, trk: trk, pipe: pipe, live: live, sc: sc, api: api, hooks: hooks, log: log, grace: cfg.ShutdownTimeout, unlock: unlock}, nil
}

// jobs is the schedule of the app. The tracking jobs run under named leases, so that of several
// replicas one at a time runs each (the others skip the round); scoring has its run lease.
func (a *app) jobs(cfg config.Config) []job {
	st, trk, log := a.st, a.trk, a.log
	return []job{
		{name: "anomaly-scan", spec: cfg.AnomalySchedule, run: leased(st, "anomaly-scan", scanLease, func(ctx context.Context) error {
			res, err := trk.Scan(ctx)
			if err == nil && len(res.New) > 0 {
				log.Info("anomalies found", "new", len(res.New), "scanned", res.Scanned)
			}
			return err
		})},
		{name: "recover-stats", spec: "@every 1m", run: leased(st, "recover-stats", recoverLease, st.recover)},
		{name: "replay", spec: replaySpec(st), run: func(ctx context.Context) error {
			n, err := replay(ctx, st, a.pipe)
			if n > 0 {
				log.Info("replayed tracking events left pending", "events", n)
			}
			if errors.Is(err, errLeaseHeld) {
				return nil
			}
			return err
		}},
		{name: "score", spec: cfg.ScoreSchedule, run: scoreJob(a.sc, false, log)},
		{name: "publish-grades", spec: cfg.PublishSchedule, run: scoreJob(a.sc, true, log)},
		{name: "audit-checkpoint", spec: cfg.CheckpointSchedule, run: checkpointJob(a.svc, log)},
		// Expired sessions and hits past the address limit's window are refused or not counted
		// anyway; forgetting them keeps the collections small (FerretDB has no TTL indexes).
		// Deliveries are claimed attempt by attempt, so every replica dispatches; the clock
		// sweep (sanctions taking effect, objection clocks) runs on one at a time.
		{name: "webhook-dispatch", spec: webhookDispatchSpec, quiet: true, run: func(ctx context.Context) error {
			r, err := a.hooks.Run(ctx)
			if r.Failed > 0 || r.Dead > 0 {
				log.Warn("webhook deliveries failed", "due", r.Due, "delivered", r.Delivered, "retrying", r.Failed, "dead", r.Dead)
			}
			return err
		}},
		{name: "webhook-clock", spec: "@every 1m", run: leased(st, "webhook-clock", webhookClockLease, webhookClock(st, st.now))},
		{name: "prune", spec: "@every 5m", run: func(ctx context.Context) error {
			return errors.Join(a.svc.PruneSessions(ctx, st.now()), trk.PruneHits(ctx))
		}},
	}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv, args)
	if errors.Is(err, config.ErrHelp) {
		serveUsage(stdout)
		return nil
	}
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
	if cfg.MemoryLimit > 0 && getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	app, err := assemble(ctx, cfg, pol, getenv, stderr, log)
	if err != nil {
		return err
	}
	defer app.close()
	st, secret, api := app.st, app.secret, app.api

	sched := newScheduler(loc, log)
	for _, j := range app.jobs(cfg) {
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
	fmt.Fprintf(stdout, "credtrace %s listening on http://%s (store: %s; %s; live streams: %s); dashboard at http://%s/ui/\n", version, ln.Addr(), st.where, txn, app.live.Mode(), ln.Addr())
	if p, ok := st.health.(interface{ PendingIndexes() []string }); ok {
		// Not built at start, for the build would hold it: queries that need them scan meanwhile.
		for _, ix := range p.PendingIndexes() {
			log.Warn("index not built: its collection is large; build it on the running cluster (createIndexes)", "index", ix)
		}
	}
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
