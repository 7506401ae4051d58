// Package openapi describes HTTP operations for an OpenAPI 3.1 document and generates the JSON
// Schemas of their request and response bodies from Go types, by reflection over the types'
// json and validate tags. It knows nothing of the routes or the roles of the API that uses it.
package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Schema is a JSON Schema (the 2020-12 dialect OpenAPI 3.1 uses). A schema made by Out, In or
// InLax stands for a Go type: a Generator replaces it by that type's schema.
type Schema struct {
	Ref                  string           `json:"$ref,omitempty"`
	Type                 any              `json:"type,omitempty"` // a name, or [name, "null"]
	Format               string           `json:"format,omitempty"`
	Description          string           `json:"description,omitempty"`
	Enum                 []any            `json:"enum,omitempty"`
	Properties           Ordered[*Schema] `json:"properties,omitempty"`
	Required             []string         `json:"required,omitempty"`
	AdditionalProperties any              `json:"additionalProperties,omitempty"` // false or a schema
	Items                *Schema          `json:"items,omitempty"`
	OneOf                []*Schema        `json:"oneOf,omitempty"`
	MinLength            *int             `json:"minLength,omitempty"`
	MaxLength            *int             `json:"maxLength,omitempty"`
	MinItems             *int             `json:"minItems,omitempty"`
	MaxItems             *int             `json:"maxItems,omitempty"`
	Minimum              *float64         `json:"minimum,omitempty"`
	Maximum              *float64         `json:"maximum,omitempty"`
	Default              any              `json:"default,omitempty"`

	goType reflect.Type
	mode   Mode
}

// Mode is how a Go type crosses the API, which decides what its schema requires.
type Mode int

const (
	// Output is encoded by a handler: every field without omitempty is present.
	Output Mode = iota
	// Input is decoded strictly: fields are required by validate:"required", unknown fields refused.
	Input
	// InputLax is decoded leniently: unknown fields are ignored.
	InputLax
)

func (m Mode) String() string { return [...]string{"output", "input", "lenient input"}[m] }

// Out stands for the schema of T as a handler encodes it.
func Out[T any]() *Schema { return &Schema{goType: reflect.TypeFor[T](), mode: Output} }

// In stands for the schema of T as a strict decoder reads it.
func In[T any]() *Schema { return &Schema{goType: reflect.TypeFor[T](), mode: Input} }

// InLax stands for the schema of T as a lenient decoder reads it.
func InLax[T any]() *Schema { return &Schema{goType: reflect.TypeFor[T](), mode: InputLax} }

// String is a string schema.
func String(desc string) *Schema { return &Schema{Type: "string", Description: desc} }

// Time is an RFC 3339 date-time string.
func Time(desc string) *Schema {
	return &Schema{Type: "string", Format: "date-time", Description: desc}
}

// AnyObject is an object with any properties.
func AnyObject(desc string) *Schema {
	return &Schema{Type: "object", Description: desc, AdditionalProperties: &Schema{}}
}

// Array is an array of items.
func Array(items *Schema) *Schema { return &Schema{Type: "array", Items: items} }

// Enum is a string that takes one of values.
func Enum[T ~string](desc string, values ...T) *Schema {
	s := &Schema{Type: "string", Description: desc}
	for _, v := range values {
		s.Enum = append(s.Enum, string(v))
	}
	return s
}

// Range is an integer from min to max (no maximum when max is 0) with a default.
func Range(min, max, def int) *Schema {
	s := &Schema{Type: "integer", Default: def}
	lo := float64(min)
	s.Minimum = &lo
	if max > 0 {
		hi := float64(max)
		s.Maximum = &hi
	}
	return s
}

// Describe is a copy of s with description desc.
func Describe(s *Schema, desc string) *Schema {
	c := *s
	c.Description = desc
	return &c
}

// WithMaxItems is a copy of s with at most n items.
func (s *Schema) WithMaxItems(n int) *Schema {
	c := *s
	c.MaxItems = &n
	return &c
}

// Prop is a property of an Object.
type Prop struct {
	name     string
	required bool
	schema   *Schema
}

// Req is a required property.
func Req(name string, s *Schema) Prop { return Prop{name, true, s} }

// Opt is an optional property.
func Opt(name string, s *Schema) Prop { return Prop{name, false, s} }

// Object is an object of props, in their order.
func Object(props ...Prop) *Schema {
	s := &Schema{Type: "object"}
	for _, p := range props {
		s.Properties = append(s.Properties, Entry[*Schema]{p.name, p.schema})
		if p.required {
			s.Required = append(s.Required, p.name)
		}
	}
	return s
}

// Nullable also admits null.
func Nullable(s *Schema) *Schema {
	if t, ok := s.Type.(string); ok && s.Ref == "" && s.goType == nil {
		c := *s
		c.Type = []string{t, "null"}
		return &c
	}
	return &Schema{OneOf: []*Schema{s, {Type: "null"}}}
}

// Ordered is a JSON object that keeps its keys in the order they were added.
type Ordered[V any] []Entry[V]

// Entry is one key of an Ordered object.
type Entry[V any] struct {
	Key   string
	Value V
}

// MarshalJSON writes the object with its keys in order.
func (o Ordered[V]) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.Key)
		v, err := json.Marshal(e.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}
