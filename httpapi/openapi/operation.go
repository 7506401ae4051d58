package openapi

// Operation is the documentation of one route beyond its method, pattern and roles: its
// request and response bodies, query parameters, example, and the errors its handler answers
// beyond those the route's shape implies (the API that builds the document decides which).
type Operation struct {
	ID       string    // operationId, unique in the document
	Summary  string    // one line
	Body     []Content // the request body by media type; nil: none
	Optional bool      // the body may be left out
	Raw      bool      // the body is handed on as text, not decoded as JSON
	BodyDesc string
	// Example is the request body's example, shown on the first media type of Body.
	Example   any
	Responses []Response
	Params    []Param
	Errors    []int
}

// Content is a body of one media type.
type Content struct {
	Media  string
	Schema *Schema
}

// Response is a documented answer.
type Response struct {
	Status int
	Desc   string
	Body   []Content // nil: no body
}

// Param is a query parameter, or a path parameter when In is "path".
type Param struct {
	Name   string
	In     string // "query" unless it names a path segment
	Desc   string
	Schema *Schema
}

// MediaJSON is the media type of JSON bodies.
const MediaJSON = "application/json"

// JSON is a JSON body of schema s.
func JSON(s *Schema) []Content { return []Content{{MediaJSON, s}} }

// OK is a 200 answer with a JSON body.
func OK(s *Schema) []Response { return []Response{{200, "OK", JSON(s)}} }

// Created is a 201 answer with a JSON body.
func Created(s *Schema) []Response { return []Response{{201, "Created", JSON(s)}} }

// NoContent is a 204 answer.
func NoContent() []Response { return []Response{{204, "Done; no body", nil}} }

// Query is a string query parameter.
func Query(name, desc string) Param { return Param{Name: name, Desc: desc, Schema: String("")} }

// QueryBool is a boolean query parameter.
func QueryBool(name, desc string) Param {
	return Param{Name: name, Desc: desc, Schema: &Schema{Type: "boolean"}}
}

// QueryEnum is a query parameter that takes one of values.
func QueryEnum[T ~string](name, desc string, values ...T) Param {
	return Param{Name: name, Desc: desc, Schema: Enum("", values...)}
}
