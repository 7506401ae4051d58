// Package config reads credtrace's settings from flags and the environment and validates them
// before anything starts. Only cmd imports it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the schedules' zones on machines without a tz database

	"github.com/robfig/cron/v3"
)

// Config is the whole configuration of a credtrace process.
type Config struct {
	Addr     string // --addr, CREDTRACE_ADDR
	DataDir  string // --data, CREDTRACE_DATA
	MongoURI string // CREDTRACE_MONGO_URI: when set, the MongoDB backend is used
	MongoDB  string // CREDTRACE_MONGO_DB
	// MongoTimeout bounds one MongoDB operation (--mongo-timeout, CREDTRACE_MONGO_TIMEOUT).
	MongoTimeout time.Duration
	AdminToken   string // CREDTRACE_ADMIN_TOKEN
	PIISecret    string // CREDTRACE_PII_SECRET: key of the personal-data hashes
	PIIKeyFile   string // --pii-key-file, CREDTRACE_PII_KEY_FILE: the key's file when PIISecret is unset
	AuditKey     string // CREDTRACE_AUDIT_KEY: base64 Ed25519 seed that signs audit checkpoints
	AuditKeyFile string // --audit-key-file, CREDTRACE_AUDIT_KEY_FILE: the audit key's file when AuditKey is unset
	// CheckpointSchedule is the cron spec of the signed audit checkpoints
	// (--audit-checkpoint-schedule, CREDTRACE_AUDIT_CHECKPOINT_SCHEDULE); empty disables it.
	CheckpointSchedule string
	ShutdownTimeout    time.Duration // --shutdown-timeout, CREDTRACE_SHUTDOWN_TIMEOUT
	PublicityMonths    map[string]int
	RepairMonths       map[string]int
	AnomalySchedule    string // --anomaly-schedule, CREDTRACE_ANOMALY_SCHEDULE: cron spec of the anomaly scan; empty disables it
	ScoreSchedule      string // --score-schedule, CREDTRACE_SCORE_SCHEDULE: cron spec of the daily recomputation
	PublishSchedule    string // --publish-schedule, CREDTRACE_PUBLISH_SCHEDULE: cron spec of the monthly publication
	Timezone           string // CREDTRACE_TZ: time zone of the cron schedules and of the evaluation periods
	Period             string // --period, CREDTRACE_PERIOD: length of an evaluation period, month (also when empty) or quarter
	AddressChecks      int    // --address-checks, CREDTRACE_ADDRESS_CHECKS: phone-checking requests a minute per address
	// LivePoll (--live-poll, CREDTRACE_LIVE_POLL) is how often the live streams read the events
	// stored by every replica.
	LivePoll time.Duration
	// TotalDelayCity and TotalDelayIntercity (--total-delay, CREDTRACE_TOTAL_DELAY) are how far past its
	// promise a silent parcel is deemed lost, within a city and between cities.
	TotalDelayCity, TotalDelayIntercity time.Duration
	// TokenGrace (--token-grace, CREDTRACE_TOKEN_GRACE) is how long a token's old secret keeps
	// working after a rotation.
	TokenGrace time.Duration
	// WebhookAllowPrivate (--webhook-allow-private, CREDTRACE_WEBHOOK_ALLOW_PRIVATE) lets
	// webhook receivers be on loopback, private and link-local addresses (tests, on-premise
	// receivers); otherwise they are refused at subscription and at every delivery (SSRF).
	WebhookAllowPrivate bool
	// MemoryLimit (--memory-limit, CREDTRACE_MEMORY_LIMIT) is the soft limit of the Go heap in
	// bytes (runtime/debug.SetMemoryLimit): past it the collector runs more often rather than
	// letting the heap grow to twice what is live. Zero leaves the runtime's default (and
	// GOMEMLIMIT, when set, wins).
	MemoryLimit int64
}

// Backend names the store the configuration selects.
func (c Config) Backend() string {
	if c.MongoURI != "" {
		return "mongodb"
	}
	return "sqlite"
}

// SQLitePath is the embedded store's file.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "credtrace.db") }

// Error lists every bad setting at once, each with the flag or variable that set it.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "bad configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// ErrHelp is what Load returns for -h or --help: the caller prints Usage and exits 0.
var ErrHelp = flag.ErrHelp

// flagValues are the parsed flags before they are checked.
type flagValues struct {
	addr, data, keyFile, auditKeyFile, checkpoints, shutdown, mongoTimeout, publicity, repair, anomaly, score, publish, period, addressChecks, livePoll, totalDelay, webhookPrivate, tokenGrace, memoryLimit *string
}

// newFlags declares every flag of serve, with its default taken from env (the variable of a
// flag is always CREDTRACE_ and the flag's name in capitals, - as _: see EnvOf).
func newFlags(env func(key, def string) string) (*flag.FlagSet, flagValues) {
	fs := flag.NewFlagSet("credtrace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	str := func(name, def, usage string) *string { return fs.String(name, env(EnvOf(name), def), usage) }
	return fs, flagValues{
		addr:           str("addr", "127.0.0.1:8080", "listen address (:0 picks a port)"),
		data:           str("data", "./data", "data directory of the embedded store"),
		keyFile:        str("pii-key-file", "", "file of the personal-data key, created 0600 on the first start (default: DATA.pii.key, beside the data directory; back it up apart)"),
		auditKeyFile:   str("audit-key-file", "", "file of the Ed25519 key that signs audit checkpoints, created 0600 on the first start (default: DATA.audit.key, beside the data directory; back it up apart)"),
		checkpoints:    str("audit-checkpoint-schedule", "@every 10m", "cron spec of the signed audit checkpoints (empty disables it)"),
		shutdown:       str("shutdown-timeout", "15s", "time allowed for in-flight requests at shutdown"),
		mongoTimeout:   str("mongo-timeout", "10s", "time allowed for one MongoDB operation, the majority's confirmation included; past it the API answers 503 with Retry-After"),
		publicity:      str("publicity-months", "minor=3,general=12,serious=36", "publicity window by severity, in months"),
		repair:         str("repair-months", "minor=0,general=3,serious=12", "minimum period before credit repair by severity, in months"),
		anomaly:        str("anomaly-schedule", "@every 5m", "cron spec of the anomaly scan (empty disables it)"),
		score:          str("score-schedule", "0 2 * * *", "cron spec of the daily score preview (empty disables it)"),
		publish:        str("publish-schedule", "0 3 1 * *", "cron spec of the grade publication of the period just ended (empty disables it)"),
		period:         str("period", "month", "evaluation period of published grades: month or quarter"),
		addressChecks:  str("address-checks", "30", "requests a minute one address may send that check a recipient's phone digits (anonymous, or signed in with phone4); the per-waybill lock of 5 wrong answers an hour comes on top"),
		livePoll:       str("live-poll", "250ms", "how often the live streams read the store for events stored by any replica (from 10ms to 1m)"),
		tokenGrace:     str("token-grace", "24h", "how long a token's old secret keeps working after a rotation (from 0s to 720h)"),
		totalDelay:     str("total-delay", "city=3,intercity=7", "days past its promise after which a silent parcel is deemed lost (彻底延误时限, YZ/T 0128): within a city, between cities"),
		memoryLimit:    str("memory-limit", "384MiB", "soft limit of the Go heap (for example 384MiB or 2GiB; off for none): the collector works harder near it instead of letting the heap double; GOMEMLIMIT, when set, wins"),
		webhookPrivate: str("webhook-allow-private", "false", "true lets webhook receivers be on loopback, private or link-local addresses (tests, on-premise receivers); otherwise they are refused at subscription and at every delivery"),
	}
}

// EnvOf is the environment variable of a flag: CREDTRACE_ and its name in capitals.
func EnvOf(flagName string) string {
	return "CREDTRACE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envOnly are the settings read only from the environment (secrets and the store's address
// stay out of process listings).
var envOnly = []struct{ name, def, usage string }{
	{"CREDTRACE_TZ", "Asia/Shanghai", "time zone of the schedules and of the evaluation periods"},
	{"CREDTRACE_MONGO_URI", "", "when set, the MongoDB backend is used instead of the embedded store"},
	{"CREDTRACE_MONGO_DB", "credtrace", "MongoDB database"},
	{"CREDTRACE_ADMIN_TOKEN", "", "a regulator token to accept (at least 24 characters)"},
	{"CREDTRACE_PII_SECRET", "", "key of the personal-data hashes (at least 32 characters), instead of the key file"},
	{"CREDTRACE_AUDIT_KEY", "", "base64 Ed25519 seed of the audit checkpoint key, instead of its file"},
}

// Usage writes every setting of serve: each flag with its variable and default, then the
// variables that have no flag.
func Usage(w io.Writer) {
	fs, _ := newFlags(func(_, def string) string { return def })
	fmt.Fprintln(w, "settings (a flag wins over its variable, which wins over the default):")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  --%-18s %-28s %s", f.Name, EnvOf(f.Name), f.Usage)
		if f.DefValue != "" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	for _, e := range envOnly {
		fmt.Fprintf(w, "    %-18s %-28s %s", "", e.name, e.usage)
		if e.def != "" {
			fmt.Fprintf(w, " (default %q)", e.def)
		}
		fmt.Fprintln(w)
	}
}

// Load reads args (without the program and subcommand names) over the environment getenv.
// Flags win over the environment; the environment wins over the defaults.
func Load(getenv func(string) string, args []string) (Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs, f := newFlags(env)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return Config{}, ErrHelp
	} else if err != nil {
		return Config{}, &Error{Problems: []string{err.Error()}}
	}
	if fs.NArg() > 0 {
		return Config{}, &Error{Problems: []string{"unexpected argument " + strconv.Quote(fs.Arg(0))}}
	}
	c := Config{
		Addr:       *f.addr,
		DataDir:    *f.data,
		MongoURI:   getenv("CREDTRACE_MONGO_URI"),
		MongoDB:    env("CREDTRACE_MONGO_DB", "credtrace"),
		AdminToken: getenv("CREDTRACE_ADMIN_TOKEN"),
		PIISecret:  getenv("CREDTRACE_PII_SECRET"),
		PIIKeyFile: *f.keyFile,

		AuditKey:           getenv("CREDTRACE_AUDIT_KEY"),
		AuditKeyFile:       *f.auditKeyFile,
		CheckpointSchedule: *f.checkpoints,

		AnomalySchedule: *f.anomaly,
		ScoreSchedule:   *f.score,
		PublishSchedule: *f.publish,
		Timezone:        env("CREDTRACE_TZ", "Asia/Shanghai"),
		Period:          *f.period,
	}
	if c.PIIKeyFile == "" {
		c.PIIKeyFile = DefaultPIIKeyFile(c.DataDir)
	}
	if c.AuditKeyFile == "" {
		c.AuditKeyFile = DefaultAuditKeyFile(c.DataDir)
	}
	var problems []string
	d, err := time.ParseDuration(*f.shutdown)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("--shutdown-timeout / CREDTRACE_SHUTDOWN_TIMEOUT: %q is not a duration (for example 15s)", *f.shutdown))
	case d <= 0:
		problems = append(problems, "--shutdown-timeout / CREDTRACE_SHUTDOWN_TIMEOUT: must be positive")
	}
	c.ShutdownTimeout = d
	if b, err := strconv.ParseBool(*f.webhookPrivate); err != nil {
		problems = append(problems, fmt.Sprintf("--webhook-allow-private / %s: %q is not true or false", EnvOf("webhook-allow-private"), *f.webhookPrivate))
	} else {
		c.WebhookAllowPrivate = b
	}
	if n, err := parseMemory(*f.memoryLimit); err != nil {
		problems = append(problems, fmt.Sprintf("--memory-limit / %s: %s", EnvOf("memory-limit"), err))
	} else {
		c.MemoryLimit = n
	}
	if d, err := time.ParseDuration(*f.livePoll); err != nil || d < 10*time.Millisecond || d > time.Minute {
		problems = append(problems, fmt.Sprintf("--live-poll / CREDTRACE_LIVE_POLL: %q is not a duration from 10ms to 1m", *f.livePoll))
	} else {
		c.LivePoll = d
	}
	if d, err := time.ParseDuration(*f.tokenGrace); err != nil || d < 0 || d > 720*time.Hour {
		problems = append(problems, fmt.Sprintf("--token-grace / %s: %q is not a duration from 0s to 720h", EnvOf("token-grace"), *f.tokenGrace))
	} else {
		c.TokenGrace = d
	}
	if d, err := time.ParseDuration(*f.mongoTimeout); err != nil || d <= 0 {
		problems = append(problems, fmt.Sprintf("--mongo-timeout / %s: %q is not a positive duration (for example 10s)", EnvOf("mongo-timeout"), *f.mongoTimeout))
	} else {
		c.MongoTimeout = d
	}
	if city, inter, err := parseTotalDelay(*f.totalDelay); err != nil {
		problems = append(problems, "--total-delay / CREDTRACE_TOTAL_DELAY: "+err.Error())
	} else {
		c.TotalDelayCity, c.TotalDelayIntercity = city, inter
	}
	if n, err := strconv.Atoi(*f.addressChecks); err != nil || n < 1 || n > 1000000 {
		problems = append(problems, fmt.Sprintf("--address-checks / CREDTRACE_ADDRESS_CHECKS: %q is not a whole number from 1 to 1000000", *f.addressChecks))
	} else {
		c.AddressChecks = n
	}
	if c.PublicityMonths, err = parseMonths(*f.publicity); err != nil {
		problems = append(problems, "--publicity-months / CREDTRACE_PUBLICITY_MONTHS: "+err.Error())
	}
	if c.RepairMonths, err = parseMonths(*f.repair); err != nil {
		problems = append(problems, "--repair-months / CREDTRACE_REPAIR_MONTHS: "+err.Error())
	}
	if err := c.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			problems = append(problems, ce.Problems...)
		}
	}
	if len(problems) > 0 {
		return Config{}, &Error{Problems: problems}
	}
	return c, nil
}

func parseMonths(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want severity=months, for example minor=3", part)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: months must be a non-negative whole number", part)
		}
		switch k {
		case "minor", "general", "serious":
		default:
			return nil, fmt.Errorf("%q: severity must be minor, general or serious", part)
		}
		out[k] = n
	}
	return out, nil
}

// parseTotalDelay reads "city=D,intercity=D" (days, 1 to 60 each; within a city no longer than
// between cities). Both must be given: a half-set limit is a mistake, not a default.
func parseTotalDelay(s string) (city, inter time.Duration, err error) {
	days := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, convErr := strconv.Atoi(v)
		switch {
		case !ok:
			return 0, 0, fmt.Errorf("%q: want city=days,intercity=days, for example city=3,intercity=7", part)
		case k != "city" && k != "intercity":
			return 0, 0, fmt.Errorf("%q: the limits are city and intercity", part)
		case convErr != nil || n < 1 || n > 60:
			return 0, 0, fmt.Errorf("%q: days must be a whole number from 1 to 60", part)
		}
		days[k] = n
	}
	if _, ok := days["city"]; !ok {
		return 0, 0, fmt.Errorf("%q: city=days is missing", s)
	}
	if _, ok := days["intercity"]; !ok {
		return 0, 0, fmt.Errorf("%q: intercity=days is missing", s)
	}
	if days["city"] > days["intercity"] {
		return 0, 0, fmt.Errorf("%q: the limit within a city must not exceed the one between cities", s)
	}
	return time.Duration(days["city"]) * 24 * time.Hour, time.Duration(days["intercity"]) * 24 * time.Hour, nil
}

// Validate checks every setting and reports all problems at once. It reads no file and makes
// none: the data directory is made, and locked, by the command that opens the store in it.
func (c Config) Validate() error {
	var problems []string
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("--addr / CREDTRACE_ADDR: %q is not host:port", c.Addr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		problems = append(problems, fmt.Sprintf("--addr / CREDTRACE_ADDR: port %q is not a number between 0 and 65535", port))
	}
	if c.MongoURI != "" {
		u, err := url.Parse(c.MongoURI)
		if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") || u.Host == "" {
			problems = append(problems, "CREDTRACE_MONGO_URI: not a mongodb:// or mongodb+srv:// URI with a host")
		}
		if c.MongoDB == "" || strings.ContainsAny(c.MongoDB, `/\. "$`) {
			problems = append(problems, fmt.Sprintf("CREDTRACE_MONGO_DB: %q is not a valid database name", c.MongoDB))
		}
	} else if c.DataDir == "" {
		problems = append(problems, "--data / CREDTRACE_DATA: empty")
	}
	// The months' statutory ranges are courier's policy (courier.Policy.Validate): serve checks
	// them at start, before anything runs; here they are only parsed.
	for _, m := range []struct {
		name string
		m    map[string]int
	}{{"--publicity-months / CREDTRACE_PUBLICITY_MONTHS", c.PublicityMonths}, {"--repair-months / CREDTRACE_REPAIR_MONTHS", c.RepairMonths}} {
		for _, sev := range []string{"minor", "general", "serious"} {
			if _, ok := m.m[sev]; m.m != nil && !ok {
				problems = append(problems, fmt.Sprintf("%s: %s is missing", m.name, sev))
			}
		}
	}
	for _, sc := range []struct{ name, spec string }{
		{"--anomaly-schedule / CREDTRACE_ANOMALY_SCHEDULE", c.AnomalySchedule},
		{"--score-schedule / CREDTRACE_SCORE_SCHEDULE", c.ScoreSchedule},
		{"--publish-schedule / CREDTRACE_PUBLISH_SCHEDULE", c.PublishSchedule},
		{"--audit-checkpoint-schedule / CREDTRACE_AUDIT_CHECKPOINT_SCHEDULE", c.CheckpointSchedule},
	} {
		if _, err := cron.ParseStandard(sc.spec); sc.spec != "" && err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not a cron spec: %v", sc.name, sc.spec, err))
		}
	}
	if _, err := LoadLocation(c.Timezone); err != nil {
		problems = append(problems, fmt.Sprintf("CREDTRACE_TZ: %q is not a time zone", c.Timezone))
	}
	// The evaluation committee sets the period; a month or a quarter is what practice uses.
	if c.Period != "" && c.Period != "month" && c.Period != "quarter" {
		problems = append(problems, fmt.Sprintf("--period / CREDTRACE_PERIOD: %q is not an evaluation period: month or quarter", c.Period))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 24 {
		problems = append(problems, "CREDTRACE_ADMIN_TOKEN: must be at least 24 characters")
	}
	if c.PIISecret != "" && len(c.PIISecret) < 32 {
		problems = append(problems, "CREDTRACE_PII_SECRET: must be at least 32 characters")
	}
	if c.PIIKeyFile != "" && c.DataDir != "" && inside(c.PIIKeyFile, c.DataDir) {
		problems = append(problems, fmt.Sprintf("--pii-key-file / CREDTRACE_PII_KEY_FILE: %s is inside the data directory %s; keep the key apart from the data it protects", c.PIIKeyFile, c.DataDir))
	}
	if c.AuditKeyFile != "" && c.DataDir != "" && inside(c.AuditKeyFile, c.DataDir) {
		problems = append(problems, fmt.Sprintf("--audit-key-file / CREDTRACE_AUDIT_KEY_FILE: %s is inside the data directory %s; keep the key apart from the trail it vouches for", c.AuditKeyFile, c.DataDir))
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// DefaultAuditKeyFile is where the audit checkpoint key lives unless configured: beside the
// data directory, like the personal-data key, so that whoever can rewrite the store's files
// cannot also sign a checkpoint over the rewritten trail.
func DefaultAuditKeyFile(dataDir string) string {
	return filepath.Clean(dataDir) + ".audit.key"
}

// DefaultPIIKeyFile is where the personal-data key lives unless configured: beside the data
// directory, not in it, so that a copy of the data directory (or of credtrace.db) does not
// carry the key that unlocks its hashes, while the key stays on the same machine and is easy
// to find and back up.
func DefaultPIIKeyFile(dataDir string) string {
	return filepath.Clean(dataDir) + ".pii.key"
}

// inside reports whether path lies within dir.
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// LoadLocation resolves a zone name with the tz database embedded in the binary, so that a
// machine without /usr/share/zoneinfo still knows Asia/Shanghai.
func LoadLocation(name string) (*time.Location, error) { return time.LoadLocation(name) }

// parseMemory reads a size in MiB or GiB ("384MiB", "2GiB"), or "off" (and "0") for none.
func parseMemory(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "off" || v == "0" {
		return 0, nil
	}
	unit := int64(0)
	switch {
	case strings.HasSuffix(v, "MiB"):
		unit = 1 << 20
	case strings.HasSuffix(v, "GiB"):
		unit = 1 << 30
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v[:max(len(v)-3, 0)]), 10, 64)
	if unit == 0 || err != nil || n < 1 || n > 1<<20 {
		return 0, fmt.Errorf("%q is not a size such as 384MiB or 2GiB, nor off", v)
	}
	if n*unit < 64<<20 {
		return 0, fmt.Errorf("%q is below 64MiB, too little to serve", v)
	}
	return n * unit, nil
}
