package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// importUSCC returns a valid USCC ending in the digits of n.
func importUSCC(n int) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	body := fmt.Sprintf("91130100MA%07d", n)
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, body[i]) * weights[i]
	}
	return body + string(alphabet[(31-sum%31)%31])
}

func importFirm(n int, kind, parent string) string {
	b, _ := json.Marshal(map[string]any{"uscc": importUSCC(n), "name": fmt.Sprintf("迁移快递 %d", n), "kind": kind, "parent_uscc": parent,
		"region": "130102", "licence": map[string]any{"number": fmt.Sprintf("冀邮%d", n), "scope": "省内", "status": "active",
			"valid_from": "2025-01-01", "valid_to": "2031-01-01"}})
	return string(b)
}

// TestImportCommand: credtrace import on a temporary data directory stores the valid lines,
// answers the others on stdout, reports progress and a summary on stderr, fails on invalid
// lines, and a re-run stores nothing twice.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "firms.ndjson")
	lines := []string{importFirm(2, "branch", importUSCC(1)), importFirm(1, "hq", ""), `{"uscc":"bad"}`}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := importEvery
	importEvery = 1
	t.Cleanup(func() { importEvery = old })
	noEnv := func(string) string { return "" }
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"import", "--kind", "firms", "--data", dir, file}, noEnv, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 lines were invalid") {
		t.Fatalf("import with an invalid line: %v, want it reported (stderr %s)", err, errb.String())
	}
	if !strings.Contains(errb.String(), "lines answered") || !strings.Contains(errb.String(), "created=2") {
		t.Errorf("stderr lacks progress or the summary:\n%s", errb.String())
	}
	var ans struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out.Bytes(), &ans); err != nil || ans.Index != 3 || ans.Status != "invalid" {
		t.Errorf("stdout = %q, want line 3's answer alone", out.String())
	}

	if err := os.WriteFile(file, []byte(strings.Join(lines[:2], "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if err := run(t.Context(), []string{"import", "--kind", "firms", "--all", "--data", dir, file}, noEnv, &out, &errb); err != nil {
		t.Fatalf("re-run: %v (stderr %s)", err, errb.String())
	}
	if !strings.Contains(errb.String(), "created=0 unchanged=2") || strings.Count(out.String(), `"unchanged"`) != 2 {
		t.Errorf("re-run: stdout %q stderr %q, want both unchanged", out.String(), errb.String())
	}
	for _, bad := range [][]string{{"import", "--kind", "parcels", file}, {"import", "--kind", "firms"}} {
		if err := run(t.Context(), append(bad[:len(bad):len(bad)], "--data", dir), noEnv, &out, &errb); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
