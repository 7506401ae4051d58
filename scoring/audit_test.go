package scoring_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

// recAuditor is an Auditor over the world's store that keeps what was appended.
type recAuditor struct {
	st      scoring.Store
	entries []string // "actor action entity/id detail"
}

func (a *recAuditor) Atomic(ctx context.Context, fn func(scoring.Store, func(actor, action, entity, id, detail string) error) error) error {
	return fn(a.st, func(actor, action, entity, id, detail string) error {
		a.entries = append(a.entries, fmt.Sprintf("%s %s %s/%s %s", actor, action, entity, id, detail))
		return nil
	})
}

// with returns the entries whose text holds every one of parts.
func (a *recAuditor) with(parts ...string) []string {
	var out []string
next:
	for _, e := range a.entries {
		for _, p := range parts {
			if !strings.Contains(e, p) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// TestDecisionsAreAudited: every decision of scoring appends one entry with the actor's
// token, the object, its status before and after and the reason: proposals by a run, the four
// eyes' review, approvals, rejections, lifts (by hand and on repair), methodology versions and
// runs from start to publication.
func TestDecisionsAreAudited(t *testing.T) {
	w := newWorld(t)
	rec := &recAuditor{st: w.store}
	w.svc.SetAuditor(rec)
	runs := w.published(t)

	for _, r := range runs {
		if got := rec.with("tok-reg run.start run/"+r.ID, "publish=true status=running"); len(got) != 1 {
			t.Errorf("run %s start entries = %q, want one", r.ID, got)
		}
		if got := rec.with("tok-reg run.publish run/"+r.ID, "status=succeeded", fmt.Sprintf("proposals=%d", r.Proposals)); len(got) != 1 {
			t.Errorf("run %s publication entries = %q, want one", r.ID, got)
		}
	}
	if got, want := len(rec.with("system sanction.propose", "status=none->proposed")), 8; got != want {
		t.Errorf("proposal entries = %d, want %d (one per proposal): %q", got, want, rec.with("sanction.propose"))
	}
	pe := w.sanction(t, "d1", scoring.PublicExposure)
	if got := rec.with("system sanction.propose sanction/"+pe.ID, "kind=public_exposure firm=d1", `rule=ladder by="run `+runs[0].ID+`"`); len(got) != 1 {
		t.Errorf("proposal of %s: %q, want the rule and the run that proposed it", pe.ID, got)
	}

	heavy := w.sanction(t, "d1", scoring.PlatformRestriction)
	steps := []struct {
		c       credtrace.Caller
		id      string
		approve bool
		reason  string
		want    string
	}{
		{reviewer, heavy.ID, true, "法制审核：事实清楚", `tok-reviewer sanction.review sanction/` + heavy.ID + ` kind=platform_restriction firm=d1 status=proposed->reviewed reason="法制审核：事实清楚"`},
		{regulator, heavy.ID, true, "集体讨论决定", `tok-reg sanction.approve sanction/` + heavy.ID + ` kind=platform_restriction firm=d1 status=reviewed->approved reason="集体讨论决定"`},
		{regulator, pe.ID, true, "属实", `tok-reg sanction.approve sanction/` + pe.ID + ` kind=public_exposure firm=d1 status=proposed->approved reason="属实"`},
		{reviewer, w.sanction(t, "d1", scoring.Suspension).ID, false, "证据不足", `tok-reviewer sanction.reject sanction/` + w.sanction(t, "d1", scoring.Suspension).ID + ` kind=suspension firm=d1 status=proposed->rejected reason="证据不足"`},
	}
	for _, s := range steps {
		n := len(rec.entries)
		if _, err := w.svc.Decide(w.ctx, s.c, s.id, s.approve, s.reason); err != nil {
			t.Fatalf("decide %s: %v", s.id, err)
		}
		if got := rec.entries[n:]; len(got) != 1 || got[0] != s.want {
			t.Errorf("decision entries = %q, want %q", got, s.want)
		}
	}
	n := len(rec.entries)
	if _, err := w.svc.Lift(w.ctx, regulator, heavy.ID, "整改到位"); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.entries[n:], []string{`tok-reg sanction.lift sanction/` + heavy.ID + ` kind=platform_restriction firm=d1 status=approved->lifted reason="整改到位"`}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("lift entries = %q, want %q", got, want)
	}
	// A refused decision appends nothing.
	n = len(rec.entries)
	if _, err := w.svc.Lift(w.ctx, regulator, heavy.ID, "again"); err == nil {
		t.Fatal("lifting a lifted sanction succeeded")
	}
	if got := rec.entries[n:]; len(got) != 0 {
		t.Errorf("a refused lift appended %q", got)
	}

	// The lift on credit repair is the system's, with its reason.
	w.archive.repair("rec-d1", w.now)
	w.run(t, w.now, false)
	if got := rec.with("system sanction.lift sanction/"+pe.ID, "status=approved->lifted", "credit repaired"); len(got) != 1 {
		t.Errorf("lift on repair entries = %q, want one", got)
	}

	v2 := methodDoc("2026.2", "2026-07-01T00:00:00+08:00", "second")
	if _, _, err := w.svc.PutMethod(w.ctx, regulator, v2); err != nil {
		t.Fatal(err)
	}
	if got := rec.with("tok-reg method.put method/2026.2 hash="+scoring.MethodHash(v2), "effective_from=2026-06-30T16:00:00Z"); len(got) != 1 {
		t.Errorf("method entries = %q, want one with the document's hash", rec.with("method.put"))
	}
	// Storing the same text again changes nothing and appends nothing.
	n = len(rec.entries)
	if _, _, err := w.svc.PutMethod(w.ctx, regulator, v2); err != nil {
		t.Fatal(err)
	}
	if got := rec.entries[n:]; len(got) != 0 {
		t.Errorf("the same version again appended %q", got)
	}
}
