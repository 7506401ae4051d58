package openapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/httpapi/openapi"
)

type day struct{ time.Time }

type addressReq struct {
	City string `json:"city" validate:"required,max=20"`
}

type siteReq struct {
	Name    string     `json:"name" validate:"required,min=1,max=50"`
	Kind    string     `json:"kind" validate:"oneof=hub locker"`
	Tags    []string   `json:"tags" validate:"max=3,dive,max=8"`
	Address addressReq `json:"address"`
	Note    *string    `json:"note"`
	Opened  day        `json:"opened"`
}

type siteJSON struct {
	ID      string     `json:"id"`
	Closed  *time.Time `json:"closed"`
	Comment string     `json:"comment,omitempty"`
	Extra   json.RawMessage
	hidden  int // unexported: the generator must leave it out
}

var _ = siteJSON{hidden: 0} // the field exists only to be skipped

type listJSON[T any] struct {
	Items []T `json:"items"`
}

// generate resolves s and returns the answer and the components, as JSON.
func generate(t *testing.T, g *openapi.Generator, s *openapi.Schema) (string, map[string]string) {
	t.Helper()
	raw, err := json.Marshal(g.Resolve(s))
	if err != nil {
		t.Fatal(err)
	}
	comps := map[string]string{}
	for name, c := range g.Schemas() {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		comps[name] = string(b)
	}
	return string(raw), comps
}

func newGenerator() *openapi.Generator {
	return openapi.NewGenerator(openapi.Config{
		Home:  reflect.TypeFor[siteReq]().PkgPath(),
		Fixed: map[reflect.Type]*openapi.Schema{reflect.TypeFor[day](): openapi.Time("a day")},
	})
}

func TestGeneratorRequestRules(t *testing.T) {
	g := newGenerator()
	ref, comps := generate(t, g, openapi.In[siteReq]())
	if ref != `{"$ref":"#/components/schemas/SiteRequest"}` {
		t.Fatalf("a named struct resolves to %s, want a $ref to SiteRequest", ref)
	}
	site := comps["SiteRequest"]
	for _, want := range []string{
		`"additionalProperties":false`,                                                 // strict input
		`"required":["name","address"]`,                                                // required, and a struct with a required field
		`"name":{"type":"string","minLength":1,"maxLength":50}`,                        // min/max on a string
		`"kind":{"type":"string","enum":["hub","locker"]}`,                             // oneof
		`"tags":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":3}`, // dive
		`"note":{"type":["string","null"]}`,                                            // an optional pointer admits null
		`"opened":{"type":"string","format":"date-time","description":"a day"}`,        // a fixed type
	} {
		if !strings.Contains(site, want) {
			t.Errorf("SiteRequest lacks %s:\n%s", want, site)
		}
	}
	if _, ok := comps["AddressRequest"]; !ok {
		t.Errorf("the nested struct has no component: %v", comps)
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestGeneratorResponse(t *testing.T) {
	g := newGenerator()
	ref, comps := generate(t, g, openapi.Out[listJSON[siteJSON]]())
	if ref != `{"$ref":"#/components/schemas/SiteList"}` {
		t.Fatalf("a generic list resolves to %s, want SiteList", ref)
	}
	site := comps["Site"]
	want := `{"type":"object","properties":{"id":{"type":"string"},"closed":{"type":["string","null"],"format":"date-time"},` +
		`"comment":{"type":"string"},"Extra":{}},"required":["id","closed","Extra"]}`
	if site != want {
		t.Errorf("Site is\n%s\nwant\n%s", site, want)
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestGeneratorRefusesTwoModes(t *testing.T) {
	g := newGenerator()
	g.Resolve(openapi.Out[siteReq]())
	g.Resolve(openapi.In[siteReq]())
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "both as output and as input") {
		t.Fatalf("a type used as input and output: %v", err)
	}
}

func TestResolveCopies(t *testing.T) {
	g := newGenerator()
	shared := openapi.Object(openapi.Req("site", openapi.Out[siteJSON]()), openapi.Opt("n", openapi.Range(1, 5, 2)))
	before, _ := json.Marshal(shared)
	got, _ := generate(t, g, shared)
	after, _ := json.Marshal(shared)
	if string(before) != string(after) {
		t.Errorf("Resolve changed its argument: %s → %s", before, after)
	}
	want := `{"type":"object","properties":{"site":{"$ref":"#/components/schemas/Site"},` +
		`"n":{"type":"integer","minimum":1,"maximum":5,"default":2}},"required":["site"]}`
	if got != want {
		t.Errorf("resolved\n%s\nwant\n%s", got, want)
	}
}

func TestForeignPackagePrefix(t *testing.T) {
	g := openapi.NewGenerator(openapi.Config{Home: "example.com/elsewhere"})
	if ref, _ := generate(t, g, openapi.Out[siteJSON]()); ref != `{"$ref":"#/components/schemas/Openapi_testSite"}` {
		t.Errorf("a type of another package: %s", ref)
	}
}
