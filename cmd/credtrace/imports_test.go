package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/credtrace/credtrace/"

// TestImportRule keeps the package graph one-way: courier and tracking import no other
// project package, scoring imports only those two, and no domain imports an adapter.
func TestImportRule(t *testing.T) {
	allowed := map[string][]string{
		"courier":  {},
		"tracking": {},
		"scoring":  {"courier", "tracking"},
		"synth":    {"courier"}, // the world's codes carry the archive's check characters
	}
	for dom, ok := range allowed {
		root := filepath.Join("..", "..", dom)
		if _, err := os.Stat(root); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				p := strings.Trim(imp.Path.Value, `"`)
				if !strings.HasPrefix(p, module) {
					continue
				}
				top, _, _ := strings.Cut(strings.TrimPrefix(p, module), "/")
				if top == dom {
					continue
				}
				good := false
				for _, a := range ok {
					good = good || a == top
				}
				if !good {
					t.Errorf("%s imports %s: %s may import only %v", path, p, dom, ok)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
