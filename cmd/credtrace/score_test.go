package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScoreReplay: `credtrace score --replay RUN` recomputes a run from the store's inputs and
// finds nothing different; from a file with other inputs it names the subject and fails.
func TestScoreReplay(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"score", "--data", dir}, env, &out, &errOut); err != nil {
		t.Fatalf("score: %v (%s)", err, errOut.String())
	}
	m := regexp.MustCompile(`^run (\S+): succeeded, period (\d{4}-\d{2}),`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("score printed %q, want the run id and its period", out.String())
	}
	id := m[1]
	out.Reset()
	if err := run(t.Context(), []string{"score", "--data", dir, "--replay", id}, env, &out, &errOut); err != nil {
		t.Fatalf("replay from the store: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "every score and grade is the same") {
		t.Errorf("replay printed %q", out.String())
	}

	file := filepath.Join(dir, "inputs.ndjson")
	body := `{"type":"run","run_id":"` + id + `","as_of":"2026-01-01T00:00:00Z","period":"` + m[2] + `","method":"2026.1","method_hash":"","stats_from":""}
{"type":"firm","id":"f-extra","kind":"hq"}
`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(t.Context(), []string{"score", "--data", dir, "--replay", id, "--inputs", file}, env, &out, &errOut)
	if err == nil || !strings.Contains(out.String(), "firm/f-extra: stored none, replayed") || !strings.Contains(out.String(), "inputs differ") {
		t.Errorf("replay of other inputs = %v, printed %q; want an error naming firm/f-extra", err, out.String())
	}
}
