package scoring_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

// methodDoc is the default methodology under another label, taking effect at effective, with
// a description that tells versions apart.
func methodDoc(version, effective, description string) string {
	d := strings.Replace(scoring.DefaultMethod, `"version": "2026.1"`, `"version": "`+version+`"`, 1)
	d = strings.Replace(d, `"effective_from": "2026-01-01T00:00:00+08:00"`, `"effective_from": "`+effective+`"`, 1)
	return strings.Replace(d, `"description": "credtrace default:`, `"description": "`+description+`:`, 1)
}

func fieldsOf(err error) []string {
	var ve *credtrace.Error
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

// TestMethodVersionsNeverChange: a stored version (the built-in one included) never changes;
// the same text again is answered with the stored version; a new version takes effect later.
func TestMethodVersionsNeverChange(t *testing.T) {
	w := newWorld(t) // now: 2026-06-15
	v2 := methodDoc("2026.2", "2026-07-01T00:00:00+08:00", "second")
	d, created, err := w.svc.PutMethod(w.ctx, regulator, v2)
	if err != nil || !created || d.Hash != scoring.MethodHash(v2) {
		t.Fatalf("store 2026.2: %+v, created %v, %v", d, created, err)
	}
	if _, created, err := w.svc.PutMethod(w.ctx, regulator, v2); err != nil || created {
		t.Fatalf("the same text again: created %v, %v; want the stored version", created, err)
	}
	refused := []struct {
		name, doc string
		kind      error
		field     string
	}{
		{"the same label with other content", methodDoc("2026.2", "2026-07-01T00:00:00+08:00", "changed"), credtrace.ErrConflict, ""},
		{"the built-in label with other content", methodDoc("2026.1", "2026-01-01T00:00:00+08:00", "changed"), credtrace.ErrConflict, ""},
		{"taking effect in the past", methodDoc("2026.3", "2026-06-14T00:00:00+08:00", "late"), credtrace.ErrInvalid, "effective_from"},
		{"no effective date", strings.Replace(methodDoc("2026.3", "x", "none"), `"effective_from": "x",`, "", 1), credtrace.ErrInvalid, "effective_from"},
		{"taking effect with another version", methodDoc("2026.3", "2026-07-01T00:00:00+08:00", "twin"), credtrace.ErrInvalid, "effective_from"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := w.svc.PutMethod(w.ctx, regulator, tc.doc)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("got %v, want %v", err, tc.kind)
			}
			if tc.field != "" && !slices.Contains(fieldsOf(err), tc.field) {
				t.Errorf("fields %v do not name %s", fieldsOf(err), tc.field)
			}
		})
	}
	if _, _, err := w.svc.PutMethod(w.ctx, platform, methodDoc("2026.4", "2026-09-01T00:00:00+08:00", "x")); !errors.Is(err, credtrace.ErrForbidden) {
		t.Fatalf("a platform stores a methodology: %v", err)
	}
	got, err := w.svc.MethodVersion(w.ctx, "2026.2")
	if err != nil || got.Doc != v2 {
		t.Fatalf("2026.2 read back: %v, %q", err, got.Doc)
	}
	if _, err := w.svc.MethodVersion(w.ctx, "2030.1"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
}

// TestMethodInForceByEffectiveDate: the version in force at a time is the one that took effect
// last before it, whatever the labels and the order of storing; runs and scores carry the
// version and the hash of its document.
func TestMethodInForceByEffectiveDate(t *testing.T) {
	w := newWorld(t) // now: 2026-06-15
	v2 := methodDoc("2026.2", "2026-07-01T00:00:00+08:00", "second")
	lower := methodDoc("2025.9", "2026-08-01T00:00:00+08:00", "lower label, later date")
	for _, d := range []string{lower, v2} {
		if _, _, err := w.svc.PutMethod(w.ctx, regulator, d); err != nil {
			t.Fatal(err)
		}
	}
	all, err := w.svc.Methods(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, d := range all {
		order = append(order, d.Version)
	}
	if got, want := strings.Join(order, " "), "2026.1 2026.2 2025.9"; got != want {
		t.Fatalf("versions in order of effect: %s, want %s", got, want)
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 6, 30, 23, 59, 0, 0, cst), "2026.1"},
		{time.Date(2026, 7, 1, 0, 0, 0, 0, cst), "2026.2"},
		{time.Date(2026, 7, 31, 0, 0, 0, 0, cst), "2026.2"},
		{time.Date(2026, 8, 1, 0, 0, 0, 0, cst), "2025.9"},
	} {
		if _, d, err := w.svc.MethodAt(w.ctx, tc.at); err != nil || d.Version != tc.want {
			t.Errorf("in force at %s: %s, %v; want %s", tc.at, d.Version, err, tc.want)
		}
	}
	if _, d, _ := w.svc.CurrentMethod(w.ctx); d.Version != "2026.1" {
		t.Errorf("current on 2026-06-15: %s, want 2026.1", d.Version)
	}

	r := w.run(t, time.Date(2026, 6, 1, 0, 0, 0, 0, cst), false)
	if r.Method != "2026.1" || r.MethodHash != scoring.MethodHash(scoring.DefaultMethod) {
		t.Fatalf("run of June: %s %s, want 2026.1 and the default's hash", r.Method, r.MethodHash)
	}
	w.now = time.Date(2026, 7, 20, 0, 0, 0, 0, time.UTC)
	r = w.run(t, time.Time{}, false)
	if r.Method != "2026.2" || r.MethodHash != scoring.MethodHash(v2) {
		t.Fatalf("run of July 20: %s %s, want 2026.2 and its hash", r.Method, r.MethodHash)
	}
	scores, err := w.store.Scores(w.ctx, scoring.ScoreQuery{RunID: r.ID})
	if err != nil || len(scores) == 0 {
		t.Fatalf("scores: %v, %v", scores, err)
	}
	for _, sc := range scores {
		if sc.Method != "2026.2" || sc.MethodHash != r.MethodHash {
			t.Fatalf("score of %s: %s %s, want the run's", sc.SubjectID, sc.Method, sc.MethodHash)
		}
	}
}
