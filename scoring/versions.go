package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/credtrace/credtrace"
)

// MethodHash identifies a methodology document by its exact text: runs and scores carry it,
// so anyone holding the document can check that it is the one a grade was computed by.
func MethodHash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// describe fills in what follows from a document's text.
func describe(d MethodDoc) (MethodDoc, Methodology, error) {
	m, err := ParseMethod(d.Doc)
	if err != nil {
		return d, m, fmt.Errorf("stored methodology %s: %w", d.Version, err)
	}
	d.EffectiveFrom, d.Hash = m.EffectiveFrom, MethodHash(d.Doc)
	return d, m, nil
}

// builtin is the built-in methodology as a version. A stored version under the same label (a
// store written before versions were fixed) takes its place.
func builtin() MethodDoc {
	d, _, _ := describe(MethodDoc{Doc: DefaultMethod, Builtin: true})
	m, _ := ParseMethod(DefaultMethod)
	d.Version = m.Version
	return d
}

// Methods lists every methodology version, the built-in one included, in the order they take
// effect (ties, which PutMethod refuses, by version).
func (s *Service) Methods(ctx context.Context) ([]MethodDoc, error) {
	stored, err := s.store.Methods(ctx)
	if err != nil {
		return nil, err
	}
	def := builtin()
	out := make([]MethodDoc, 0, len(stored)+1)
	for _, d := range stored {
		d, _, err := describe(d)
		if err != nil {
			return nil, err
		}
		if d.Version == def.Version {
			def.Version = "" // replaced by the stored one
		}
		out = append(out, d)
	}
	if def.Version != "" {
		out = append(out, def)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].EffectiveFrom.Equal(out[j].EffectiveFrom) {
			return out[i].EffectiveFrom.Before(out[j].EffectiveFrom)
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// MethodVersion returns one version; credtrace.ErrNotFound when there is none of that label.
func (s *Service) MethodVersion(ctx context.Context, version string) (MethodDoc, error) {
	d, err := s.store.Method(ctx, version)
	if errors.Is(err, credtrace.ErrNotFound) {
		if def := builtin(); def.Version == version {
			return def, nil
		}
		return MethodDoc{}, fmt.Errorf("methodology version %s: %w", version, credtrace.ErrNotFound)
	}
	if err != nil {
		return MethodDoc{}, err
	}
	d, _, err = describe(d)
	return d, err
}

// MethodAt returns the methodology in force at t: of the versions that took effect at or
// before t, the one that took effect last.
func (s *Service) MethodAt(ctx context.Context, t time.Time) (Methodology, MethodDoc, error) {
	all, err := s.Methods(ctx)
	if err != nil {
		return Methodology{}, MethodDoc{}, err
	}
	var in MethodDoc
	found := false
	for _, d := range all {
		if !d.EffectiveFrom.After(t) {
			in, found = d, true
		}
	}
	if !found {
		// Nothing had taken effect yet: the earliest version applies.
		in = all[0]
	}
	m, err := ParseMethod(in.Doc)
	if err != nil {
		return Methodology{}, MethodDoc{}, fmt.Errorf("stored methodology %s: %w", in.Version, err)
	}
	return m, in, nil
}

// CurrentMethod returns the methodology in force now.
func (s *Service) CurrentMethod(ctx context.Context) (Methodology, MethodDoc, error) {
	return s.MethodAt(ctx, s.Now())
}

// PutMethod stores a new methodology version (regulators only). A version never changes:
// storing the same label with the same text again answers the stored version (created false),
// with other text credtrace.ErrConflict. A new version must name when it takes effect, no earlier than
// now (the rules of a period are fixed before it starts), and not when another one does.
func (s *Service) PutMethod(ctx context.Context, c credtrace.Caller, doc string) (MethodDoc, bool, error) {
	if !c.IsRegulator() {
		return MethodDoc{}, false, credtrace.ErrForbidden
	}
	m, err := ParseMethod(doc)
	if err != nil {
		return MethodDoc{}, false, err
	}
	all, err := s.Methods(ctx)
	if err != nil {
		return MethodDoc{}, false, err
	}
	for _, d := range all {
		if d.Version != m.Version {
			continue
		}
		if d.Doc == doc {
			return d, false, nil
		}
		return MethodDoc{}, false, fmt.Errorf("methodology version %s exists with other content (%s); a version never changes, store the change as a new version: %w",
			m.Version, d.Hash, credtrace.ErrConflict)
	}
	now := s.Now()
	v := &credtrace.Validation{}
	switch {
	case m.EffectiveFrom.IsZero():
		v.Add("effective_from", "required: when the new version takes effect (RFC 3339)")
	case m.EffectiveFrom.Before(now):
		v.Add("effective_from", "must not be in the past: a period's rules are fixed before it starts")
	}
	for _, d := range all {
		if !m.EffectiveFrom.IsZero() && d.EffectiveFrom.Equal(m.EffectiveFrom) {
			v.Add("effective_from", "version %s takes effect at the same time", d.Version)
		}
	}
	if err := v.Err(); err != nil {
		return MethodDoc{}, false, err
	}
	d := MethodDoc{Version: m.Version, Doc: doc, CreatedAt: now, CreatedBy: c.TokenID}
	// The entry carries the document's hash, so that the trail pins the exact text of a version.
	entry := auditEntry{actor: actorOf(c), action: "method.put", entity: "method", id: d.Version,
		detail: fmt.Sprintf("hash=%s effective_from=%s", MethodHash(doc), m.EffectiveFrom.UTC().Format(time.RFC3339))}
	if err := s.write(ctx, entry, func(st Store) error { return st.PutMethod(ctx, d) }); err != nil {
		if errors.Is(err, credtrace.ErrConflict) {
			return MethodDoc{}, false, fmt.Errorf("methodology version %s was stored meanwhile; a version never changes: %w", m.Version, credtrace.ErrConflict)
		}
		return MethodDoc{}, false, err
	}
	d, _, err = describe(d)
	return d, true, err
}
