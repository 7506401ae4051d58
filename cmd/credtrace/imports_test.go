package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/credtrace/credtrace"

// importRule is what one package (with its subfolders, unless they have a rule of their own)
// may import: the project packages named, the standard library less what is named as barred,
// and of the modules outside the project only those listed.
type importRule struct {
	project []string // top-level project folders it may import
	modules []string // import paths outside the project it may import (a path and what lies under it)
	barred  []string // standard-library packages it may not import
	flat    bool     // the files of the folder only, not its subfolders (the module root)
}

// domainModules are the only outside modules a domain uses: random ids. A driver, Fiber, BSON,
// a validator or the configuration belong to the adapters and cmd.
var domainModules = []string{"github.com/google/uuid"}

// domainBarred keeps the domains free of storage and transport from the standard library too.
var domainBarred = []string{"database/sql", "net/http"}

// importRules keeps the package graph one-way: the root package (the errors and the caller)
// imports nothing of the project; courier and tracking import only it, scoring also those two,
// synth also courier, webhook only the root, and no domain imports an
// adapter or a third-party module outside domainModules. synth/send is the generator's HTTP
// client: it may use net/http, and of the project only the world it sends.
var importRules = map[string]importRule{
	".":          {flat: true, modules: domainModules, barred: domainBarred},
	"courier":    {project: []string{"."}, modules: domainModules, barred: domainBarred},
	"tracking":   {project: []string{"."}, modules: domainModules, barred: domainBarred},
	"scoring":    {project: []string{".", "courier", "tracking"}, modules: domainModules, barred: domainBarred},
	"synth":      {project: []string{".", "courier"}, modules: domainModules, barred: domainBarred}, // the world's codes carry the archive's check characters
	"synth/send": {project: []string{"synth"}},
	// bulk is the file formats' adapter: it reads the domains, and nothing of the transport.
	"bulk": {project: []string{".", "courier", "scoring"}, barred: domainBarred},
	// webhook sends over HTTP (its dispatcher), so net/http is its own; no other domain, no
	// driver: cmd turns the domains' changes into its events.
	"webhook": {project: []string{"."}, modules: domainModules, barred: []string{"database/sql"}},
}

// violations reports each import of a file of package dir (a folder of the module) that rule
// does not allow.
func violations(dir string, rule importRule, imports []string) []string {
	var bad []string
	own := strings.SplitN(dir, "/", 2)[0]
	for _, p := range imports {
		switch {
		case p == module || strings.HasPrefix(p, module+"/"):
			rel := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
			if rel == dir || strings.HasPrefix(rel, dir+"/") || (dir != "." && rel == own) {
				continue // itself, or its own subpackages, or (from a subpackage) its parent
			}
			top := strings.SplitN(rel, "/", 2)[0]
			if rel == "" {
				top = "." // the root package: the module's one vocabulary
			}
			if !slices.Contains(rule.project, top) {
				bad = append(bad, p+": of the project, "+dir+" may import only "+strings.Join(rule.project, ", ")+" (none when empty)")
			}
		case !strings.Contains(strings.SplitN(p, "/", 2)[0], "."): // the standard library
			if slices.Contains(rule.barred, p) {
				bad = append(bad, p+": "+dir+" is free of storage and transport")
			}
		default:
			ok := false
			for _, m := range rule.modules {
				ok = ok || p == m || strings.HasPrefix(p, m+"/")
			}
			if !ok {
				bad = append(bad, p+": of the modules outside the project, "+dir+" may import only "+strings.Join(rule.modules, ", ")+" (none when empty)")
			}
		}
	}
	return bad
}

// TestImportRuleCatches feeds the rule imports it must refuse and imports it must let through,
// so that the guard below is known to guard.
func TestImportRuleCatches(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		imports []string
		want    int // violations
	}{
		{"the standard library and uuid", "courier", []string{"context", "crypto/sha256", "github.com/google/uuid"}, 0},
		{"Fiber in a domain", "courier", []string{"github.com/gofiber/fiber/v2"}, 1},
		{"the MongoDB driver in a domain", "tracking", []string{"go.mongodb.org/mongo-driver/v2/mongo"}, 1},
		{"BSON in a domain", "scoring", []string{"go.mongodb.org/mongo-driver/v2/bson"}, 1},
		{"the SQLite driver in a domain", "tracking", []string{"modernc.org/sqlite"}, 1},
		{"the validator in a domain", "courier", []string{"github.com/go-playground/validator/v10"}, 1},
		{"database/sql in a domain", "scoring", []string{"database/sql"}, 1},
		{"net/http in a domain", "synth", []string{"net/http"}, 1},
		{"a module whose name starts like an allowed one", "courier", []string{"github.com/google/uuidx"}, 1},
		{"a domain importing an adapter", "courier", []string{module + "/store/sqlite"}, 1},
		{"a domain importing the configuration", "tracking", []string{module + "/config"}, 1},
		{"courier importing tracking", "courier", []string{module + "/tracking"}, 1},
		{"a domain importing the root vocabulary", "tracking", []string{module}, 0},
		{"the root vocabulary importing a domain", ".", []string{module + "/courier"}, 1},
		{"scoring importing both leaves", "scoring", []string{module + "/courier", module + "/tracking"}, 0},
		{"scoring importing httpapi", "scoring", []string{module + "/httpapi"}, 1},
		{"the sender using net/http and its world", "synth/send", []string{"net/http", module + "/synth"}, 0},
		{"the sender importing httpapi", "synth/send", []string{module + "/httpapi"}, 1},
		{"the sender importing Fiber", "synth/send", []string{"github.com/gofiber/fiber/v2"}, 1},
		{"the root importing a domain", ".", []string{module + "/courier"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule, ok := importRules[tt.dir]
			if !ok {
				t.Fatalf("no rule for %s", tt.dir)
			}
			if got := violations(tt.dir, rule, tt.imports); len(got) != tt.want {
				t.Errorf("violations(%s, %q) = %q, want %d", tt.dir, tt.imports, got, tt.want)
			}
		})
	}
}

// TestImportRule applies importRules to every non-test file of the module's domains.
func TestImportRule(t *testing.T) {
	root := filepath.Join("..", "..")
	for dir, rule := range importRules {
		base := filepath.Join(root, filepath.FromSlash(dir))
		if _, err := os.Stat(base); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				rel, _ := filepath.Rel(root, path)
				rel = filepath.ToSlash(rel)
				if _, own := importRules[rel]; path != base && (rule.flat || own || d.Name() == "testdata") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			var imports []string
			for _, imp := range f.Imports {
				imports = append(imports, strings.Trim(imp.Path.Value, `"`))
			}
			for _, v := range violations(dir, rule, imports) {
				t.Errorf("%s imports %s", path, v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
