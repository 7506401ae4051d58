package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelp: every way of asking for help prints the flags with their variables and defaults
// and succeeds; an unknown command names the nearest one; version names commit and Go.
func TestHelp(t *testing.T) {
	noEnv := func(string) string { return "" }
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"commands:", "serve", "score", "--anomaly-schedule", "CREDTRACE_ANOMALY_SCHEDULE", "CREDTRACE_TZ", "--publish-schedule", `"0 3 1 * *"`}},
		{[]string{"-h"}, []string{"commands:"}},
		{[]string{"help"}, []string{"commands:", "gen"}},
		{[]string{"help", "serve"}, []string{"--score-schedule", "CREDTRACE_SCORE_SCHEDULE", "--pii-key-file", "CREDTRACE_PII_SECRET", "CREDTRACE_MONGO_URI"}},
		{[]string{"serve", "--help"}, []string{"--addr", "CREDTRACE_ADDR", `"127.0.0.1:8080"`, "--period", "CREDTRACE_PERIOD"}},
		{[]string{"help", "score"}, []string{"usage: credtrace score", "-replay", "-as-of"}},
		{[]string{"score", "--help"}, []string{"-publish"}},
		{[]string{"gen", "-h"}, []string{"usage: credtrace gen", "-seed"}},
		{[]string{"bench", "--help"}, []string{"usage: credtrace bench", "-short"}},
		{[]string{"backup", "--help"}, []string{"usage: credtrace backup", "-data", "-pii-key-file"}},
		{[]string{"help", "restore"}, []string{"usage: credtrace restore", "BACKUP DATADIR"}},
		{[]string{"help", "import"}, []string{"usage: credtrace import", "-kind", "-data"}},
		{[]string{"help"}, []string{"import"}},
		{[]string{"version"}, []string{"credtrace ", "commit ", "go1."}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(t.Context(), tc.args, noEnv, &out, &errb); err != nil {
				t.Fatalf("error %v (stderr %s)", err, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	for _, tc := range []struct{ cmd, want string }{{"serev", `did you mean "serve"`}, {"scroe", `did you mean "score"`}, {"xyzzy", "credtrace help lists"}} {
		var out, errb bytes.Buffer
		err := run(t.Context(), []string{tc.cmd}, noEnv, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %s", tc.cmd, err, tc.want)
		}
	}
}
