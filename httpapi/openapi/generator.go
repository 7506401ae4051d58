package openapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is what a Generator needs to know of the API's Go types.
type Config struct {
	// Home is the import path of the package whose types are named without their package;
	// another package's type is prefixed with it (scoring.Methodology → ScoringMethodology).
	Home string
	// Names override the component names derived from Go type names.
	Names map[reflect.Type]string
	// Fixed are the types that encode as something else than their fields (a time type that
	// marshals as text): their schema, used as it is.
	Fixed map[reflect.Type]*Schema
}

// Generator turns Go types into component schemas, each named struct once. It never changes
// the schemas it is given, which may be shared: Resolve copies them.
type Generator struct {
	cfg     Config
	schemas map[string]*Schema
	names   map[reflect.Type]string
	modes   map[reflect.Type]Mode
	err     error
}

// NewGenerator returns a Generator with no components yet.
func NewGenerator(cfg Config) *Generator {
	return &Generator{cfg: cfg, schemas: map[string]*Schema{}, names: map[reflect.Type]string{}, modes: map[reflect.Type]Mode{}}
}

// Schemas are the components generated so far, by name: the map grows as Resolve is called.
func (g *Generator) Schemas() map[string]*Schema { return g.schemas }

// Err is the first problem met: a type used both as input and as output, two types of one
// component name, or a Go type JSON Schema cannot say.
func (g *Generator) Err() error { return g.err }

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawJSONType = reflect.TypeFor[json.RawMessage]()
)

// Resolve copies a schema, replacing the Go types it stands for by their schemas: inline for
// scalars, slices and maps, a $ref to a component for named structs.
func (g *Generator) Resolve(s *Schema) *Schema {
	if s == nil {
		return nil
	}
	if s.goType != nil {
		r := g.of(s.goType, s.mode)
		if s.Description != "" {
			r.Description = s.Description
		}
		if s.MaxItems != nil {
			r.MaxItems = s.MaxItems
		}
		return r
	}
	c := *s
	c.Properties = nil
	for _, p := range s.Properties {
		c.Properties = append(c.Properties, Entry[*Schema]{p.Key, g.Resolve(p.Value)})
	}
	c.Items = g.Resolve(s.Items)
	c.OneOf = nil
	for _, o := range s.OneOf {
		c.OneOf = append(c.OneOf, g.Resolve(o))
	}
	if a, ok := s.AdditionalProperties.(*Schema); ok {
		c.AdditionalProperties = g.Resolve(a)
	}
	return &c
}

func (g *Generator) of(t reflect.Type, m Mode) *Schema {
	if f, ok := g.cfg.Fixed[t]; ok {
		c := *f
		return &c
	}
	switch t {
	case timeType:
		return Time("")
	case rawJSONType:
		return &Schema{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem(), m)
	case reflect.String:
		return &Schema{Type: "string"}
	case reflect.Bool:
		return &Schema{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return &Schema{Type: "integer"}
	case reflect.Int64, reflect.Uint64:
		return &Schema{Type: "integer", Format: "int64"}
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: "number"}
	case reflect.Slice, reflect.Array:
		return Array(g.of(t.Elem(), m))
	case reflect.Map:
		return &Schema{Type: "object", AdditionalProperties: g.of(t.Elem(), m)}
	case reflect.Interface:
		return &Schema{}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, m)
		}
		name := g.name(t)
		if prev, ok := g.modes[t]; ok {
			if prev != m {
				g.fail(fmt.Errorf("%s is used both as %s and as %s", t, prev, m))
			}
		} else {
			if _, taken := g.schemas[name]; taken {
				g.fail(fmt.Errorf("schema name %s of %s is taken by another type", name, t))
			}
			g.modes[t] = m
			g.names[t] = name
			g.schemas[name] = &Schema{} // a placeholder while the fields are walked
			g.schemas[name] = g.object(t, m)
		}
		return &Schema{Ref: "#/components/schemas/" + name}
	}
	g.fail(fmt.Errorf("no JSON Schema for %s", t))
	return &Schema{}
}

func (g *Generator) fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// name derives a component name: firmJSON → Firm, tokenReq → TokenRequest,
// listJSON[firmJSON] → FirmList, scoring.Methodology → ScoringMethodology.
func (g *Generator) name(t reflect.Type) string {
	if n, ok := g.cfg.Names[t]; ok {
		return n
	}
	n := t.Name()
	if base, arg, ok := strings.Cut(n, "["); ok {
		arg = strings.TrimSuffix(arg, "]")
		return goName(arg[strings.LastIndex(arg, ".")+1:]) + goName(base)
	}
	if t.PkgPath() != g.cfg.Home {
		pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
		return goName(pkg) + goName(n)
	}
	return goName(n)
}

func goName(n string) string {
	switch {
	case strings.HasSuffix(n, "JSON") && n != "JSON":
		n = strings.TrimSuffix(n, "JSON")
	case strings.HasSuffix(n, "Req"):
		n = strings.TrimSuffix(n, "Req") + "Request"
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

// object walks a struct's fields as encoding/json sees them.
func (g *Generator) object(t reflect.Type, m Mode) *Schema {
	s := &Schema{Type: "object"}
	if m == Input {
		s.AdditionalProperties = false
	}
	g.fields(t, m, s)
	return s
}

func (g *Generator) fields(t reflect.Type, m Mode, s *Schema) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, m, s)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		rules := strings.Split(f.Tag.Get("validate"), ",")
		mustGive := slices.Contains(rules[:diveAt(rules)], "required")
		fs := g.of(f.Type, m)
		applyRules(fs, f.Type, rules)
		var required, null bool
		ptr := f.Type.Kind() == reflect.Pointer
		switch m {
		case Output:
			required = !omit
			null = ptr && !omit
		default:
			// A struct field is validated even when it is left out, so it is required as soon as
			// one of its own fields is.
			required = mustGive || (f.Type.Kind() == reflect.Struct && g.requires(f.Type))
			null = ptr && !mustGive
		}
		if null {
			fs = Nullable(fs)
		}
		s.Properties = append(s.Properties, Entry[*Schema]{name, fs})
		if required {
			s.Required = append(s.Required, name)
		}
	}
}

// requires reports whether the component of struct type t has required properties.
func (g *Generator) requires(t reflect.Type) bool {
	c, ok := g.schemas[g.names[t]]
	return ok && len(c.Required) > 0
}

func diveAt(rules []string) int {
	if i := slices.Index(rules, "dive"); i >= 0 {
		return i
	}
	return len(rules)
}

// applyRules carries the validate tags JSON Schema can say: lengths, counts, bounds and
// choices; rules after dive apply to the items.
func applyRules(s *Schema, t reflect.Type, rules []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i, r := range rules {
		if r == "dive" {
			if s.Items != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				applyRules(s.Items, t.Elem(), rules[i+1:])
			}
			return
		}
		name, arg, _ := strings.Cut(r, "=")
		n, err := strconv.Atoi(arg)
		switch name {
		case "max", "min":
			if err != nil {
				continue
			}
			switch t.Kind() {
			case reflect.Slice, reflect.Array, reflect.Map:
				if name == "max" {
					s.MaxItems = &n
				} else {
					s.MinItems = &n
				}
			case reflect.String:
				if name == "max" {
					s.MaxLength = &n
				} else {
					s.MinLength = &n
				}
			default:
				v := float64(n)
				if name == "max" {
					s.Maximum = &v
				} else {
					s.Minimum = &v
				}
			}
		case "gte", "lte":
			if err != nil {
				continue
			}
			v := float64(n)
			if name == "gte" {
				s.Minimum = &v
			} else {
				s.Maximum = &v
			}
		case "oneof":
			for _, v := range strings.Fields(arg) {
				s.Enum = append(s.Enum, v)
			}
		}
	}
}
