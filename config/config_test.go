package config_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/config"
)

// envOf returns a getenv over m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	// The default data directory is relative; keep it out of the source tree.
	dir := t.TempDir()
	t.Chdir(dir)
	c, err := config.Load(envOf(nil), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.Addr, "127.0.0.1:8080"},
		{"DataDir", c.DataDir, "./data"},
		{"MongoURI", c.MongoURI, ""},
		{"MongoDB", c.MongoDB, "credtrace"},
		{"AdminToken", c.AdminToken, ""},
		{"PIISecret", c.PIISecret, ""},
		{"PIIKeyFile beside the data directory", c.PIIKeyFile, "data.pii.key"},
		{"ShutdownTimeout", c.ShutdownTimeout, 15 * time.Second},
		{"Backend", c.Backend(), "sqlite"},
		{"SQLitePath", c.SQLitePath(), filepath.Join("data", "credtrace.db")},
		{"Period", c.Period, "month"},
		{"Timezone", c.Timezone, "Asia/Shanghai"},
		{"MemoryLimit", c.MemoryLimit, int64(384 << 20)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	months := []struct {
		name      string
		got, want map[string]int
	}{
		{"PublicityMonths", c.PublicityMonths, map[string]int{"minor": 3, "general": 12, "serious": 36}},
		{"RepairMonths", c.RepairMonths, map[string]int{"minor": 0, "general": 3, "serious": 12}},
	}
	for _, tt := range months {
		if !maps.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	// Loading touches nothing: the command that opens the store makes and locks the directory.
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("Load made the data directory (stat: %v), want it left to the command that opens it", err)
	}
}

func TestLoadPrecedence(t *testing.T) {
	envDir, flagDir := t.TempDir(), t.TempDir()
	env := map[string]string{
		"CREDTRACE_ADDR":             "127.0.0.1:9000",
		"CREDTRACE_DATA":             envDir,
		"CREDTRACE_SHUTDOWN_TIMEOUT": "20s",
		"CREDTRACE_PUBLICITY_MONTHS": "minor=2,general=10,serious=30",
		"CREDTRACE_REPAIR_MONTHS":    "minor=1,general=4,serious=13",
		"CREDTRACE_MONGO_DB":         "archive",
		"CREDTRACE_ADMIN_TOKEN":      "ct_env-admin-token-0123456789",
		"CREDTRACE_PII_SECRET":       "pii-secret-from-env-0123456789abcdef",
		"CREDTRACE_PERIOD":           "quarter",
	}
	tests := []struct {
		name  string
		args  []string
		check func(c config.Config) (got, want any)
	}{
		{"env addr", nil, func(c config.Config) (any, any) { return c.Addr, "127.0.0.1:9000" }},
		{"flag addr wins", []string{"--addr", "127.0.0.1:9001"}, func(c config.Config) (any, any) { return c.Addr, "127.0.0.1:9001" }},
		{"env data", nil, func(c config.Config) (any, any) { return c.DataDir, envDir }},
		{"flag data wins", []string{"--data", flagDir}, func(c config.Config) (any, any) { return c.DataDir, flagDir }},
		{"env shutdown timeout", nil, func(c config.Config) (any, any) { return c.ShutdownTimeout, 20 * time.Second }},
		{"flag shutdown timeout wins", []string{"--shutdown-timeout=3s"}, func(c config.Config) (any, any) { return c.ShutdownTimeout, 3 * time.Second }},
		{"default mongo timeout", nil, func(c config.Config) (any, any) { return c.MongoTimeout, 10 * time.Second }},
		{"flag mongo timeout", []string{"--mongo-timeout=2s"}, func(c config.Config) (any, any) { return c.MongoTimeout, 2 * time.Second }},
		{"env publicity", nil, func(c config.Config) (any, any) { return c.PublicityMonths["general"], 10 }},
		{"flag publicity wins", []string{"--publicity-months", "minor=1,general=6,serious=24"}, func(c config.Config) (any, any) { return c.PublicityMonths["general"], 6 }},
		{"env repair", nil, func(c config.Config) (any, any) { return c.RepairMonths["serious"], 13 }},
		{"flag repair wins", []string{"--repair-months", "minor=0,general=3,serious=20"}, func(c config.Config) (any, any) { return c.RepairMonths["serious"], 20 }},
		{"env mongo db", nil, func(c config.Config) (any, any) { return c.MongoDB, "archive" }},
		{"env admin token", nil, func(c config.Config) (any, any) { return c.AdminToken, "ct_env-admin-token-0123456789" }},
		{"env pii secret", nil, func(c config.Config) (any, any) { return c.PIISecret, "pii-secret-from-env-0123456789abcdef" }},
		{"flag pii key file", []string{"--pii-key-file", filepath.Join(flagDir, "pii.key")}, func(c config.Config) (any, any) { return c.PIIKeyFile, filepath.Join(flagDir, "pii.key") }},
		{"pii key file follows --data", []string{"--data", flagDir + "/"}, func(c config.Config) (any, any) { return c.PIIKeyFile, flagDir + ".pii.key" }},
		{"env period", nil, func(c config.Config) (any, any) { return c.Period, "quarter" }},
		{"flag period wins", []string{"--period", "month"}, func(c config.Config) (any, any) { return c.Period, "month" }},
		{"flag address checks", []string{"--address-checks", "120"}, func(c config.Config) (any, any) { return c.AddressChecks, 120 }},
		{"default total delay within a city", nil, func(c config.Config) (any, any) { return c.TotalDelayCity, 72 * time.Hour }},
		{"flag total delay between cities", []string{"--total-delay", "city=2,intercity=10"}, func(c config.Config) (any, any) { return c.TotalDelayIntercity, 240 * time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(envOf(env), tt.args)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got, want := tt.check(c); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestLoadMongo(t *testing.T) {
	// With a MongoDB URI the data directory is not used, so an unusable one is no problem.
	blocker := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(envOf(map[string]string{"CREDTRACE_MONGO_URI": "mongodb://db1:27017,db2:27017/?replicaSet=rs0"}),
		[]string{"--data", filepath.Join(blocker, "sub")})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := c.Backend(), "mongodb"; got != want {
		t.Errorf("Backend() = %q, want %q", got, want)
	}
}

func TestBackendAndSQLitePath(t *testing.T) {
	tests := []struct {
		name       string
		c          config.Config
		backend    string
		sqlitePath string
	}{
		{"embedded", config.Config{DataDir: "/var/lib/credtrace"}, "sqlite", filepath.Join("/var/lib/credtrace", "credtrace.db")},
		{"relative", config.Config{DataDir: "data"}, "sqlite", filepath.Join("data", "credtrace.db")},
		{"mongodb", config.Config{DataDir: "data", MongoURI: "mongodb://localhost:27017"}, "mongodb", filepath.Join("data", "credtrace.db")},
		{"mongodb+srv", config.Config{MongoURI: "mongodb+srv://cluster.example.com"}, "mongodb", "credtrace.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Backend(); got != tt.backend {
				t.Errorf("Backend() = %q, want %q", got, tt.backend)
			}
			if got := tt.c.SQLitePath(); got != tt.sqlitePath {
				t.Errorf("SQLitePath() = %q, want %q", got, tt.sqlitePath)
			}
		})
	}
}

func TestLoadBadValues(t *testing.T) {
	good := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // the flag or variable the problem names
		hide string // text that must not appear in the error
	}{
		// A directory that cannot be made is the opening command's to report (cmd/credtrace's lock test).
		{"data dir empty", nil, []string{"--data", ""}, "--data / CREDTRACE_DATA", ""},
		{"mongo uri with http scheme", map[string]string{"CREDTRACE_MONGO_URI": "http://x"}, nil, "CREDTRACE_MONGO_URI", ""},
		{"mongo uri without host", map[string]string{"CREDTRACE_MONGO_URI": "mongodb://"}, nil, "CREDTRACE_MONGO_URI", ""},
		{"mongo uri with credentials is not echoed", map[string]string{"CREDTRACE_MONGO_URI": "http://admin:hunter2-secret@db"}, nil, "CREDTRACE_MONGO_URI", "hunter2-secret"},
		{"mongo db name with a dot", map[string]string{"CREDTRACE_MONGO_URI": "mongodb://db", "CREDTRACE_MONGO_DB": "a.b"}, nil, "CREDTRACE_MONGO_DB", ""},
		{"shutdown timeout not a duration", nil, []string{"--shutdown-timeout", "soon"}, "--shutdown-timeout / CREDTRACE_SHUTDOWN_TIMEOUT", ""},
		{"shutdown timeout from env not a duration", map[string]string{"CREDTRACE_SHUTDOWN_TIMEOUT": "soon"}, nil, "--shutdown-timeout / CREDTRACE_SHUTDOWN_TIMEOUT", ""},
		{"shutdown timeout negative", nil, []string{"--shutdown-timeout", "-1s"}, "--shutdown-timeout / CREDTRACE_SHUTDOWN_TIMEOUT", ""},
		{"mongo timeout from env not a duration", map[string]string{"CREDTRACE_MONGO_TIMEOUT": "soon"}, nil, "--mongo-timeout / CREDTRACE_MONGO_TIMEOUT", ""},
		{"mongo timeout zero", nil, []string{"--mongo-timeout", "0s"}, "--mongo-timeout / CREDTRACE_MONGO_TIMEOUT", ""},
		{"address checks zero", nil, []string{"--address-checks", "0"}, "--address-checks / CREDTRACE_ADDRESS_CHECKS", ""},
		{"total delay half given", nil, []string{"--total-delay", "city=3"}, "--total-delay / CREDTRACE_TOTAL_DELAY", ""},
		{"total delay city above intercity", map[string]string{"CREDTRACE_TOTAL_DELAY": "city=9,intercity=7"}, nil, "--total-delay / CREDTRACE_TOTAL_DELAY", ""},
		{"total delay not days", nil, []string{"--total-delay", "city=3d,intercity=7"}, "--total-delay / CREDTRACE_TOTAL_DELAY", ""},
		{"address checks from env not a number", map[string]string{"CREDTRACE_ADDRESS_CHECKS": "many"}, nil, "--address-checks / CREDTRACE_ADDRESS_CHECKS", ""},
		{"publicity months not a number", nil, []string{"--publicity-months", "minor=x"}, "--publicity-months / CREDTRACE_PUBLICITY_MONTHS", ""},
		{"publicity months unknown severity", nil, []string{"--publicity-months", "tiny=3"}, "--publicity-months / CREDTRACE_PUBLICITY_MONTHS", ""},
		{"publicity months from env", map[string]string{"CREDTRACE_PUBLICITY_MONTHS": "minor=-1"}, nil, "--publicity-months / CREDTRACE_PUBLICITY_MONTHS", ""},
		{"repair months without =", nil, []string{"--repair-months", "general"}, "--repair-months / CREDTRACE_REPAIR_MONTHS", ""},
		{"short admin token", map[string]string{"CREDTRACE_ADMIN_TOKEN": "ct_short"}, nil, "CREDTRACE_ADMIN_TOKEN", "ct_short"},
		{"short pii secret", map[string]string{"CREDTRACE_PII_SECRET": "too-short-secret"}, nil, "CREDTRACE_PII_SECRET", "too-short-secret"},
		{"addr without port", nil, []string{"--addr", "localhost"}, "--addr / CREDTRACE_ADDR", ""},
		{"addr with a bad port", map[string]string{"CREDTRACE_ADDR": "127.0.0.1:99999"}, nil, "--addr / CREDTRACE_ADDR", ""},
		{"period of a week", nil, []string{"--period", "week"}, "--period / CREDTRACE_PERIOD", ""},
		{"period from env", map[string]string{"CREDTRACE_PERIOD": "Quarter"}, nil, "--period / CREDTRACE_PERIOD", ""},
		{"memory limit without a unit", nil, []string{"--memory-limit", "512"}, "--memory-limit / CREDTRACE_MEMORY_LIMIT", ""},
		{"memory limit too small", map[string]string{"CREDTRACE_MEMORY_LIMIT": "16MiB"}, nil, "--memory-limit / CREDTRACE_MEMORY_LIMIT", ""},
		{"unknown flag", nil, []string{"--bogus"}, "bogus", ""},
		{"stray argument", nil, []string{"extra"}, "extra", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"CREDTRACE_DATA": good}
			maps.Copy(env, tt.env)
			_, err := config.Load(envOf(env), tt.args)
			problems := configProblems(t, err)
			if len(problems) != 1 {
				t.Errorf("problems = %q, want exactly one", problems)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if tt.hide != "" && strings.Contains(err.Error(), tt.hide) {
				t.Errorf("error %q repeats the secret %q", err, tt.hide)
			}
		})
	}
}

// configProblems returns the problems of a *config.Error, failing the test for any other error.
func configProblems(t *testing.T, err error) []string {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *config.Error", err, err)
	}
	return ce.Problems
}

func TestLoadReportsSeveralProblems(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"malformed values",
			map[string]string{"CREDTRACE_DATA": t.TempDir()},
			[]string{"--shutdown-timeout", "soon", "--publicity-months", "minor=x", "--repair-months", "tiny=3"},
			[]string{"--shutdown-timeout", "--publicity-months", "--repair-months"}},
		{"invalid settings",
			map[string]string{"CREDTRACE_ADMIN_TOKEN": "short", "CREDTRACE_PII_SECRET": "short"},
			[]string{"--data", "", "--addr", "nohost"},
			[]string{"--addr", "--data", "CREDTRACE_ADMIN_TOKEN", "CREDTRACE_PII_SECRET"}},
		{"mongo settings",
			map[string]string{"CREDTRACE_MONGO_URI": "http://x", "CREDTRACE_MONGO_DB": "a b", "CREDTRACE_ADMIN_TOKEN": "short"},
			nil,
			[]string{"CREDTRACE_MONGO_URI", "CREDTRACE_MONGO_DB", "CREDTRACE_ADMIN_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(envOf(tt.env), tt.args)
			problems := configProblems(t, err)
			if len(problems) != len(tt.want) {
				t.Errorf("problems = %q, want %d", problems, len(tt.want))
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ShutdownTimeout: time.Second}
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   string // "" means valid
	}{
		{"good", func(*config.Config) {}, ""},
		{"any port", func(c *config.Config) { c.Addr = ":0" }, ""},
		{"admin token of 24 characters", func(c *config.Config) { c.AdminToken = strings.Repeat("a", 24) }, ""},
		{"admin token of 23 characters", func(c *config.Config) { c.AdminToken = strings.Repeat("a", 23) }, "CREDTRACE_ADMIN_TOKEN"},
		{"pii secret of 32 characters", func(c *config.Config) { c.PIISecret = strings.Repeat("a", 32) }, ""},
		{"pii secret of 31 characters", func(c *config.Config) { c.PIISecret = strings.Repeat("a", 31) }, "CREDTRACE_PII_SECRET"},
		{"empty data dir", func(c *config.Config) { c.DataDir = "" }, "--data"},
		{"pii key file beside the data", func(c *config.Config) { c.PIIKeyFile = config.DefaultPIIKeyFile(c.DataDir) }, ""},
		{"pii key file inside the data", func(c *config.Config) { c.PIIKeyFile = filepath.Join(c.DataDir, "pii.key") }, "--pii-key-file"},
		{"pii key file deep inside the data", func(c *config.Config) { c.PIIKeyFile = filepath.Join(c.DataDir, "a", "..", "b", "pii.key") }, "CREDTRACE_PII_KEY_FILE"},
		{"mongodb+srv", func(c *config.Config) { c.MongoURI, c.MongoDB = "mongodb+srv://cluster.example.com", "credtrace" }, ""},
		{"mongo without a db name", func(c *config.Config) { c.MongoURI, c.MongoDB = "mongodb://db", "" }, "CREDTRACE_MONGO_DB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			configProblems(t, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to name %s", err, tt.want)
			}
		})
	}
}

func TestLoadMemoryLimit(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want int64
	}{
		{"in MiB", nil, []string{"--memory-limit", "448MiB"}, 448 << 20},
		{"in GiB from env", map[string]string{"CREDTRACE_MEMORY_LIMIT": "2GiB"}, nil, 2 << 30},
		{"off", nil, []string{"--memory-limit", "off"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"CREDTRACE_DATA": t.TempDir()}
			maps.Copy(env, tt.env)
			c, err := config.Load(envOf(env), tt.args)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.MemoryLimit != tt.want {
				t.Errorf("MemoryLimit = %d, want %d", c.MemoryLimit, tt.want)
			}
		})
	}
}
