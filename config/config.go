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
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the schedules' zones on machines without a tz database

	"github.com/robfig/cron/v3"
)

// Config is the whole configuration of a credtrace process.
type Config struct {
	Addr         string // --addr, CREDTRACE_ADDR
	DataDir      string // --data, CREDTRACE_DATA
	MongoURI     string // CREDTRACE_MONGO_URI: when set, the MongoDB backend is used
	MongoDB      string // CREDTRACE_MONGO_DB
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
	Timezone           string // CREDTRACE_TZ: time zone of the cron schedules
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

// Load reads args (without the program and subcommand names) over the environment getenv.
// Flags win over the environment; the environment wins over the defaults.
func Load(getenv func(string) string, args []string) (Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("credtrace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", env("CREDTRACE_ADDR", "127.0.0.1:8080"), "listen address")
	data := fs.String("data", env("CREDTRACE_DATA", "./data"), "data directory of the embedded store")
	keyFile := fs.String("pii-key-file", getenv("CREDTRACE_PII_KEY_FILE"), "file of the personal-data key (default: beside the data directory, DATA.pii.key)")
	auditKeyFile := fs.String("audit-key-file", getenv("CREDTRACE_AUDIT_KEY_FILE"), "file of the audit checkpoint signing key (default: beside the data directory, DATA.audit.key)")
	checkpoints := fs.String("audit-checkpoint-schedule", env("CREDTRACE_AUDIT_CHECKPOINT_SCHEDULE", "@every 10m"), "cron spec of the signed audit checkpoints")
	shutdown := fs.String("shutdown-timeout", env("CREDTRACE_SHUTDOWN_TIMEOUT", "15s"), "time allowed for in-flight requests at shutdown")
	publicity := fs.String("publicity-months", env("CREDTRACE_PUBLICITY_MONTHS", "minor=3,general=12,serious=36"), "publicity window by severity")
	repair := fs.String("repair-months", env("CREDTRACE_REPAIR_MONTHS", "minor=0,general=3,serious=12"), "minimum period before repair by severity")
	anomaly := fs.String("anomaly-schedule", env("CREDTRACE_ANOMALY_SCHEDULE", "@every 5m"), "cron spec of the anomaly scan")
	score := fs.String("score-schedule", env("CREDTRACE_SCORE_SCHEDULE", "0 2 * * *"), "cron spec of the daily score recomputation")
	publish := fs.String("publish-schedule", env("CREDTRACE_PUBLISH_SCHEDULE", "0 3 1 * *"), "cron spec of the monthly grade publication")
	if err := fs.Parse(args); err != nil {
		return Config{}, &Error{Problems: []string{err.Error()}}
	}
	if fs.NArg() > 0 {
		return Config{}, &Error{Problems: []string{"unexpected argument " + strconv.Quote(fs.Arg(0))}}
	}
	c := Config{
		Addr:       *addr,
		DataDir:    *data,
		MongoURI:   getenv("CREDTRACE_MONGO_URI"),
		MongoDB:    env("CREDTRACE_MONGO_DB", "credtrace"),
		AdminToken: getenv("CREDTRACE_ADMIN_TOKEN"),
		PIISecret:  getenv("CREDTRACE_PII_SECRET"),
		PIIKeyFile: *keyFile,

		AuditKey:           getenv("CREDTRACE_AUDIT_KEY"),
		AuditKeyFile:       *auditKeyFile,
		CheckpointSchedule: *checkpoints,

		AnomalySchedule: *anomaly,
		ScoreSchedule:   *score,
		PublishSchedule: *publish,
		Timezone:        env("CREDTRACE_TZ", "Asia/Shanghai"),
	}
	if c.PIIKeyFile == "" {
		c.PIIKeyFile = DefaultPIIKeyFile(c.DataDir)
	}
	if c.AuditKeyFile == "" {
		c.AuditKeyFile = DefaultAuditKeyFile(c.DataDir)
	}
	var problems []string
	d, err := time.ParseDuration(*shutdown)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("--shutdown-timeout / CREDTRACE_SHUTDOWN_TIMEOUT: %q is not a duration (for example 15s)", *shutdown))
	case d <= 0:
		problems = append(problems, "--shutdown-timeout / CREDTRACE_SHUTDOWN_TIMEOUT: must be positive")
	}
	c.ShutdownTimeout = d
	if c.PublicityMonths, err = parseMonths(*publicity); err != nil {
		problems = append(problems, "--publicity-months / CREDTRACE_PUBLICITY_MONTHS: "+err.Error())
	}
	if c.RepairMonths, err = parseMonths(*repair); err != nil {
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

// statutory ranges of the publicity window and the minimum repair period, in months, by
// severity (NDRC credit repair rules in force from 2026-04-01).
var publicityRange = map[string][2]int{"minor": {0, 3}, "general": {3, 12}, "serious": {12, 36}}

func checkMonths(name string, m map[string]int, limit func(sev string) (int, int)) []string {
	var problems []string
	for _, sev := range []string{"minor", "general", "serious"} {
		v, ok := m[sev]
		lo, hi := limit(sev)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: %s is missing", name, sev))
		case v < lo || v > hi:
			problems = append(problems, fmt.Sprintf("%s: %s=%d is outside %d–%d months", name, sev, v, lo, hi))
		}
	}
	return problems
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

// Validate checks every setting and reports all problems at once.
func (c Config) Validate() error {
	var problems []string
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("--addr / CREDTRACE_ADDR: %q is not host:port", c.Addr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		problems = append(problems, fmt.Sprintf("--addr / CREDTRACE_ADDR: port %q is not a number between 0 and 65535", port))
	} else {
		_ = host
	}
	if c.MongoURI != "" {
		u, err := url.Parse(c.MongoURI)
		if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") || u.Host == "" {
			problems = append(problems, "CREDTRACE_MONGO_URI: not a mongodb:// or mongodb+srv:// URI with a host")
		}
		if c.MongoDB == "" || strings.ContainsAny(c.MongoDB, `/\. "$`) {
			problems = append(problems, fmt.Sprintf("CREDTRACE_MONGO_DB: %q is not a valid database name", c.MongoDB))
		}
	} else if err := checkWritable(c.DataDir); err != nil {
		problems = append(problems, "--data / CREDTRACE_DATA: "+err.Error())
	}
	if c.PublicityMonths != nil {
		problems = append(problems, checkMonths("--publicity-months / CREDTRACE_PUBLICITY_MONTHS", c.PublicityMonths, func(sev string) (int, int) {
			r := publicityRange[sev]
			return r[0], r[1]
		})...)
	}
	if c.RepairMonths != nil && c.PublicityMonths != nil {
		problems = append(problems, checkMonths("--repair-months / CREDTRACE_REPAIR_MONTHS", c.RepairMonths, func(sev string) (int, int) {
			return 0, c.PublicityMonths[sev]
		})...)
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

// checkWritable makes dir when missing and proves that a file can be written in it.
func checkWritable(dir string) error {
	if dir == "" {
		return errors.New("empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %v", dir, errors.Unwrap(err))
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable", dir)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}
