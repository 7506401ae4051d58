package scoring_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
)

// TestSubjectScoreScope: scoring decides who sees a subject's score from the caller's own scope,
// resolving a site or a person to their firms through the archive: no handler has to lend a
// regulator's rights for it, and a firm's token never reads another tree's scores.
func TestSubjectScoreScope(t *testing.T) {
	w := newWorld(t)
	outlet := firm("a1-o", "91130100A9")
	outlet.Kind, outlet.ParentID = courier.KindOutlet, "a1"
	w.archive.firms = append(w.archive.firms, outlet)
	w.archive.sites = []courier.Site{{ID: "site-o", FirmID: "a1-o"}, {ID: "site-d", FirmID: "d1"}}
	w.archive.staff = []courier.Staff{
		{ID: "p-former", Employment: []courier.Employment{{FirmID: "a1-o", From: w.now.AddDate(-2, 0, 0), To: w.now.AddDate(-1, 0, 0)}, {FirmID: "d1", From: w.now.AddDate(-1, 0, 0)}}},
		{ID: "p-d1", Employment: []courier.Employment{{FirmID: "d1", From: w.now.AddDate(-1, 0, 0)}}},
	}
	parents := func(id string) string {
		for _, f := range w.archive.firms {
			if f.ID == id {
				return f.ParentID
			}
		}
		return ""
	}
	inTree := func(_ context.Context, root, id string) (bool, error) {
		for ; id != ""; id = parents(id) {
			if id == root {
				return true, nil
			}
		}
		return false, nil
	}
	svc := scoring.NewService(w.store, w.archive, &fakeTracker{}, inTree, func() time.Time { return w.now })

	firmA1 := credtrace.Caller{TokenID: "tok-a1", Role: credtrace.RoleFirm, FirmID: "a1"}
	firmA2 := credtrace.Caller{TokenID: "tok-a2", Role: credtrace.RoleFirm, FirmID: "a2"}
	merchant := credtrace.Caller{TokenID: "tok-m", Role: credtrace.RoleMerchant, MerchantID: "m1"}
	tests := []struct {
		name   string
		caller credtrace.Caller
		kind   scoring.SubjectKind
		id     string
		want   error
	}{
		{"regulator, any firm", regulator, scoring.Firm, "d1", nil},
		{"regulator, unknown site", regulator, scoring.Site, "site-x", credtrace.ErrNotFound},
		{"firm, its own outlet", firmA1, scoring.Firm, "a1-o", nil},
		{"firm, its outlet's site", firmA1, scoring.Site, "site-o", nil},
		{"firm, a person it employed", firmA1, scoring.Staff, "p-former", nil},
		{"firm, another tree", firmA2, scoring.Firm, "a1", credtrace.ErrNotFound},
		{"firm, another tree's site", firmA2, scoring.Site, "site-o", credtrace.ErrNotFound},
		{"firm, another tree's person", firmA1, scoring.Staff, "p-d1", credtrace.ErrNotFound},
		{"firm without a firm id", credtrace.Caller{Role: credtrace.RoleFirm}, scoring.Firm, "a1", credtrace.ErrNotFound},
		{"merchant", merchant, scoring.Firm, "a1", credtrace.ErrNotFound},
		{"public", credtrace.Public, scoring.Site, "site-o", credtrace.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.SubjectScore(w.ctx, tt.caller, tt.kind, tt.id)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("SubjectScore(%s %s) = %v, want %v", tt.kind, tt.id, err, tt.want)
			}
		})
	}

	w.run(t, periods[0], false)
	v, err := svc.SubjectScore(w.ctx, firmA1, scoring.Firm, "a1")
	if err != nil || v.Current == nil || v.Current.SubjectID != "a1" {
		t.Fatalf("SubjectScore(firm a1) by a1 = %+v, %v; want a1's current score", v, err)
	}
}
