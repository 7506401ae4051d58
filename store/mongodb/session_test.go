package mongodb_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCollectionsOnlyThroughSession keeps every operation of the store on its bound collections
// (session.go), so that none can escape an Atomic block's transaction: outside session.go the
// package's code may name no *mongo.Collection and reach the database directly only where the
// exceptions below say, none of them inside a block. A method added with a collection of its own
// (db.Collection) or a command of its own (db.RunCommand) fails here; so does one that keeps a
// raw *mongo.Collection, which would not carry the session.
func TestCollectionsOnlyThroughSession(t *testing.T) {
	// Where the package may use these selectors outside session.go, by function.
	allowed := map[string][]string{
		"Collection":       {"newStore"},                                   // builds the bound collections
		"Database":         {"newStore"},                                   // the store's one database
		"RunCommand":       {"detectTransactions"},                         // hello, at Open
		"Indexes":          {"ensureIndexes"},                              // at Open
		"Aggregate":        {"detectGroupSums", "statTotals", "aggregate"}, // the bound collection's (session.go), nowhere else
		"Watch":            {"openWatch"},                                  // the bound collection's (session.go): the live streams' change streams
		"StartSession":     {"inTransaction"},                              // the one session of a block
		"UseSession":       nil,
		"RunCommandCursor": nil,
		"ListCollections":  nil,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "session.go" {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, d := range f.Decls {
			fn, _ := d.(*ast.FuncDecl)
			where := "package level"
			if fn != nil {
				where = fn.Name.Name
			}
			ast.Inspect(d, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "mongo" {
					if sel.Sel.Name == "Collection" {
						t.Errorf("%s: %s names *mongo.Collection: use collection, whose operations carry the block's session", fset.Position(sel.Pos()), where)
					}
					return true // a name from the driver's package, not a call
				}
				fns, listed := allowed[sel.Sel.Name]
				if !listed {
					return true
				}
				for _, ok := range fns {
					if ok == where {
						return true
					}
				}
				t.Errorf("%s: %s calls %s: reach the database through the bound collections of session.go", fset.Position(sel.Pos()), where, sel.Sel.Name)
				return true
			})
		}
	}
	if checked < 5 {
		t.Fatalf("checked %d source files; run the test from the package directory", checked)
	}
}
