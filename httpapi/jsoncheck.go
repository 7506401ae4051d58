package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/credtrace/credtrace"
)

// checkJSON refuses what encoding/json would otherwise take silently: a key given twice in one
// object (the decoder keeps the last) and text that is not UTF-8 (the decoder turns it into
// U+FFFD), escaped lone surrogates included. It answers a 400 naming the JSON path of the first
// offence under root ("" for the body, "[3]" for the fourth NDJSON line), or nil. Syntax errors
// are left to the decoder, which reports them with their offset.
//
// It runs over every JSON body before decoding, so it is one pass over the bytes without
// allocation for ordinary objects: keys are compared in place, and only an object with many
// keys gets a map.
func checkJSON(b []byte, root string) error {
	s := jsonScan{b: b}
	if s.value(0); s.problem == "" {
		return nil
	}
	path := s.render(root)
	if path == "" {
		path = "body"
	}
	code := "invalid_utf8"
	if s.dup {
		code = "duplicate_key"
	}
	return badRequest(code, path+": "+s.problem, credtrace.FieldError{Field: path, Reason: s.problem})
}

// maxCheckDepth matches encoding/json's nesting limit: deeper text fails to decode anyway.
const maxCheckDepth = 10000

// manyKeys is the object size from which keys are looked up in a map instead of compared in turn.
const manyKeys = 16

type jsonSeg struct {
	key   []byte // nil for an array element
	index int
}

type jsonScan struct {
	b       []byte
	i       int
	segs    []jsonSeg
	keys    [][]byte // the keys of the objects being scanned, innermost last
	problem string   // why the text is refused; "" when it is not (or the syntax is left to the decoder)
	dup     bool
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value; false stops the scan (a problem found, or syntax left to the decoder).
func (s *jsonScan) value(depth int) bool {
	s.ws()
	if s.i >= len(s.b) || depth > maxCheckDepth {
		return false
	}
	switch s.b[s.i] {
	case '{':
		return s.object(depth)
	case '[':
		return s.array(depth)
	case '"':
		_, _, ok := s.str()
		return ok
	}
	for s.i < len(s.b) { // a number or literal: its syntax is the decoder's business
		switch s.b[s.i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return true
		}
		s.i++
	}
	return true
}

func (s *jsonScan) object(depth int) bool {
	s.i++ // {
	start := len(s.keys)
	defer func() { s.keys = s.keys[:start] }()
	var seen map[string]struct{}
	s.segs = append(s.segs, jsonSeg{})
	seg := len(s.segs) - 1
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.segs = s.segs[:seg]
		return true
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		raw, escaped, ok := s.str()
		if !ok {
			if s.problem != "" {
				s.segs = s.segs[:seg] // a bad key is reported at its object
				s.problem = "has a key that is not valid UTF-8"
			}
			return false
		}
		key := raw
		if escaped {
			var k string
			if json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &k) != nil {
				return false
			}
			key = []byte(k)
		}
		s.segs[seg] = jsonSeg{key: key}
		n := len(s.keys) - start
		switch {
		case seen != nil:
			if _, dup := seen[string(key)]; dup {
				return s.duplicate()
			}
			seen[string(key)] = struct{}{}
		case n >= manyKeys:
			seen = make(map[string]struct{}, 2*manyKeys)
			for _, k := range s.keys[start:] {
				seen[string(k)] = struct{}{}
			}
			if _, dup := seen[string(key)]; dup {
				return s.duplicate()
			}
			seen[string(key)] = struct{}{}
		default:
			for _, k := range s.keys[start:] {
				if bytes.Equal(k, key) {
					return s.duplicate()
				}
			}
			s.keys = append(s.keys, key)
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if !s.value(depth + 1) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.segs = s.segs[:seg]
			return true
		default:
			return false
		}
	}
}

func (s *jsonScan) duplicate() bool {
	s.problem, s.dup = "is given more than once in its object", true
	return false
}

func (s *jsonScan) array(depth int) bool {
	s.i++ // [
	s.segs = append(s.segs, jsonSeg{index: 0})
	seg := len(s.segs) - 1
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.segs = s.segs[:seg]
		return true
	}
	for n := 0; ; n++ {
		s.segs[seg] = jsonSeg{index: n}
		if !s.value(depth + 1) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			s.segs = s.segs[:seg]
			return true
		default:
			return false
		}
	}
}

// str scans a string at s.i and answers its raw content, whether it has escapes, and false on
// a problem (s.problem set) or broken syntax.
func (s *jsonScan) str() (raw []byte, escaped bool, ok bool) {
	s.i++ // "
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, true
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			if s.b[s.i+1] != 'u' {
				s.i += 2
				continue
			}
			r, n := hex4(s.b, s.i+2)
			if n < 0 {
				return nil, false, false
			}
			s.i += 6
			switch {
			case r >= 0xD800 && r < 0xDC00: // a high surrogate needs its low half next
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					if lo, m := hex4(s.b, s.i+2); m >= 0 && lo >= 0xDC00 && lo < 0xE000 {
						s.i += 6
						continue
					}
				}
				s.problem = "is not valid UTF-8 (a lone surrogate escape)"
				return nil, false, false
			case r >= 0xDC00 && r < 0xE000:
				s.problem = "is not valid UTF-8 (a lone surrogate escape)"
				return nil, false, false
			}
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size <= 1 {
				s.problem = "is not valid UTF-8"
				return nil, false, false
			}
			s.i += size
		}
	}
	return nil, false, false
}

func hex4(b []byte, i int) (rune, int) {
	if i+4 > len(b) {
		return 0, -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, -1
		}
	}
	return r, 4
}

// render writes the path of the value being scanned: keys joined by dots, indexes in brackets.
func (s *jsonScan) render(root string) string {
	var b strings.Builder
	b.WriteString(root)
	for _, sg := range s.segs {
		if sg.key == nil {
			b.WriteString("[" + strconv.Itoa(sg.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(sg.key)
	}
	return b.String()
}
