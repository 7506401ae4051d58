package scoring_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// fakeArchive is the part of the credit archive a run reads, in memory.
type fakeArchive struct {
	firms   []courier.Firm
	records []courier.Record
	sites   []courier.Site
	staff   []courier.Staff
}

func pageOf[T any](items []T, id func(T) string, p courier.Page) []T {
	sorted := append([]T(nil), items...)
	sort.Slice(sorted, func(i, j int) bool { return id(sorted[i]) < id(sorted[j]) })
	var out []T
	for _, it := range sorted {
		if id(it) > p.After && (p.Limit <= 0 || len(out) < p.Limit) {
			out = append(out, it)
		}
	}
	return out
}

func (a *fakeArchive) Firms(_ context.Context, q courier.FirmQuery) ([]courier.Firm, error) {
	return pageOf(a.firms, func(f courier.Firm) string { return f.ID }, q.Page), nil
}

func (a *fakeArchive) Firm(_ context.Context, id string) (courier.Firm, error) {
	for _, f := range a.firms {
		if f.ID == id {
			return f, nil
		}
	}
	return courier.Firm{}, credtrace.ErrNotFound
}

func (a *fakeArchive) FirmByUSCC(_ context.Context, uscc string) (courier.Firm, error) {
	for _, f := range a.firms {
		if f.USCC == uscc {
			return f, nil
		}
	}
	return courier.Firm{}, credtrace.ErrNotFound
}

func (a *fakeArchive) Sites(context.Context, courier.SiteQuery) ([]courier.Site, error) {
	return nil, nil
}

func (a *fakeArchive) Site(_ context.Context, id string) (courier.Site, error) {
	for _, x := range a.sites {
		if x.ID == id {
			return x, nil
		}
	}
	return courier.Site{}, credtrace.ErrNotFound
}

func (a *fakeArchive) Staff(_ context.Context, id string) (courier.Staff, error) {
	for _, x := range a.staff {
		if x.ID == id {
			return x, nil
		}
	}
	return courier.Staff{}, credtrace.ErrNotFound
}

func (a *fakeArchive) StaffList(context.Context, courier.StaffQuery) ([]courier.Staff, error) {
	return nil, nil
}

func (a *fakeArchive) Records(_ context.Context, q courier.RecordQuery) ([]courier.Record, error) {
	return pageOf(a.records, func(r courier.Record) string { return r.ID }, q.Page), nil
}

func (a *fakeArchive) Record(_ context.Context, id string) (courier.Record, error) {
	for _, r := range a.records {
		if r.ID == id {
			return r, nil
		}
	}
	return courier.Record{}, credtrace.ErrNotFound
}

func (a *fakeArchive) Commitments(context.Context, courier.CommitmentQuery) ([]courier.Commitment, error) {
	return nil, nil
}

// repair marks a record repaired now.
func (a *fakeArchive) repair(id string, at time.Time) {
	for i := range a.records {
		if a.records[i].ID == id {
			r := &a.records[i]
			r.History = append(r.History, courier.Transition{From: r.Status, To: courier.StatusRepaired, At: at})
			r.Status = courier.StatusRepaired
		}
	}
}

// fakeTracker answers the same statistics for any window.
type fakeTracker struct {
	firms map[string]map[tracking.Metric]int
}

func (f *fakeTracker) Totals(_ context.Context, kind tracking.SubjectKind, _, _ string) (map[string]map[tracking.Metric]int, error) {
	if kind == tracking.SubjectFirm {
		return f.firms, nil
	}
	return nil, nil
}

// TotalsPage pages Totals in id order, as the stores do.
func (f *fakeTracker) TotalsPage(ctx context.Context, kind tracking.SubjectKind, from, to, after string, limit int) ([]tracking.SubjectTotals, error) {
	all, _ := f.Totals(ctx, kind, from, to)
	ids := make([]string, 0, len(all))
	for id := range all {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]tracking.SubjectTotals, 0, len(ids))
	for _, id := range ids {
		out = append(out, tracking.SubjectTotals{ID: id, Totals: all[id]})
	}
	return out, nil
}

func (f *fakeTracker) TraceParcel(context.Context, credtrace.Caller, string, string, string) (tracking.Trace, error) {
	return tracking.Trace{}, errors.New("not used by runs")
}

func (f *fakeTracker) Suspect(context.Context, tracking.ParcelKey) ([]tracking.AnomalyKind, error) {
	return nil, errors.New("not used by runs")
}

var (
	regulator = credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "tok-reg"}
	reviewer  = credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "tok-reviewer"} // the first of four eyes
	platform  = credtrace.Caller{Role: credtrace.RolePlatform, TokenID: "tok-plat"}
)

// world is a scoring service on a real SQLite store with four firms:
//   - a1: 1000 parcels, perfect: regulator 1000, tracking 1000 → 1000, grade A;
//   - a2: 1,000,000 parcels, one serious supervision record (8×1×3 = 24 points / 100 = 0.24 →
//     10000/10.24 = 976.56), perfect tracking → (0.4×976.56 + 300)/0.7 = 986.6, grade A;
//   - d1: 1000 parcels with 100 lost (1000 per 10,000 → tracking 10000/1010 = 9.90) and one minor
//     supervision record 13–17 months old (1 point → 10000/11 = 909.09) → (363.64 + 2.97)/0.7 = 523.7, grade D;
//   - r1: 1,000,000 parcels, one delivery_safety/serious record (8×1.5×3 = 36 points / 100 → 965.25)
//     → (386.1 + 300)/0.7 = 980.1, grade A, but revocation-grade.
type world struct {
	ctx     context.Context
	db      *sqlite.Store
	store   *sqlite.Scoring
	archive *fakeArchive
	svc     *scoring.Service
	now     time.Time
}

func firm(id, uscc string) courier.Firm {
	return courier.Firm{ID: id, USCC: uscc, Name: "快递 " + id, Kind: courier.KindHQ, Region: "130102",
		Licence: courier.Licence{Number: "L-" + id, Status: courier.LicenceActive}, CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Version: 1}
}

func confirmed(id, firmID string, cat courier.Category, sev courier.Severity, occurred time.Time) courier.Record {
	return courier.Record{ID: id, Subject: courier.Subject{Kind: courier.SubjectFirm, ID: firmID}, FirmID: firmID, Category: cat, Severity: sev,
		OccurredAt: occurred, Status: courier.StatusConfirmed, CreatedAt: occurred, ConfirmedAt: occurred.Add(time.Hour),
		History: []courier.Transition{{From: courier.StatusPending, To: courier.StatusConfirmed, At: occurred.Add(time.Hour)}}}
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldAt(t, filepath.Join(t.TempDir(), "credtrace.db"))
}

// newWorldAt is newWorld on the SQLite file at path.
func newWorldAt(t *testing.T, path string) *world {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	arch := &fakeArchive{
		firms: []courier.Firm{firm("a1", "91130100A1"), firm("a2", "91130100A2"), firm("d1", "91130100D1"), firm("r1", "91130100R1")},
		records: []courier.Record{
			confirmed("rec-a2", "a2", courier.CatSupervision, courier.SevSerious, time.Date(2026, 1, 15, 0, 0, 0, 0, cst)),
			confirmed("rec-d1", "d1", courier.CatSupervision, courier.SevMinor, time.Date(2025, 1, 1, 0, 0, 0, 0, cst)),
			confirmed("rec-r1", "r1", courier.CatDeliverySafety, courier.SevSerious, time.Date(2026, 1, 15, 0, 0, 0, 0, cst)),
		},
	}
	perfect := func(n int) map[tracking.Metric]int {
		return map[tracking.Metric]int{tracking.MHandled: n, tracking.MDelivered: n, tracking.MOnTime: n}
	}
	tr := &fakeTracker{firms: map[string]map[tracking.Metric]int{
		"a1": perfect(1000), "a2": perfect(1000000), "r1": perfect(1000000),
		"d1": {tracking.MHandled: 1000, tracking.MDelivered: 900, tracking.MOnTime: 900, tracking.MLost: 100},
	}}
	w := &world{ctx: ctx, db: db, store: db.Scoring(), archive: arch, now: time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)}
	w.svc = scoring.NewService(w.store, arch, tr, nil, func() time.Time { return w.now })
	return w
}

// periods are the as-of times of the monthly publishing runs.
var periods = []time.Time{
	time.Date(2026, 2, 1, 0, 0, 0, 0, cst), time.Date(2026, 3, 1, 0, 0, 0, 0, cst),
	time.Date(2026, 4, 1, 0, 0, 0, 0, cst), time.Date(2026, 5, 1, 0, 0, 0, 0, cst),
}

func (w *world) run(t *testing.T, asOf time.Time, publish bool) scoring.Run {
	t.Helper()
	r, err := w.svc.StartRun(w.ctx, regulator, asOf, "manual", publish)
	if err != nil {
		t.Fatalf("StartRun(%s) = %v", asOf, err)
	}
	if r.Status != scoring.RunSucceeded {
		t.Fatalf("run %s: status %s, error %s", r.ID, r.Status, r.Error)
	}
	return r
}

// proposals lists "firm kind rule" of the sanctions a run proposed.
func (w *world) proposals(t *testing.T, runID string) []string {
	t.Helper()
	all, err := w.store.Sanctions(w.ctx, scoring.SanctionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, x := range all {
		if x.ProposedBy == "run "+runID {
			out = append(out, x.FirmID+" "+string(x.Kind)+" "+x.Rule)
		}
	}
	sort.Strings(out)
	return out
}

// sanction returns the one sanction of firm and kind.
func (w *world) sanction(t *testing.T, firmID string, kind scoring.SanctionKind) scoring.Sanction {
	t.Helper()
	ss, err := w.store.Sanctions(w.ctx, scoring.SanctionQuery{FirmID: firmID, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 {
		t.Fatalf("%s has %d %s sanctions, want 1: %+v", firmID, len(ss), kind, ss)
	}
	return ss[0]
}

// published runs the four monthly publishing periods.
func (w *world) published(t *testing.T) []scoring.Run {
	t.Helper()
	var runs []scoring.Run
	for _, p := range periods {
		runs = append(runs, w.run(t, p, true))
	}
	return runs
}

func TestRunGrades(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, periods[0], true)
	want := map[string]scoring.Grade{"a1": scoring.GradeA, "a2": scoring.GradeA, "d1": scoring.GradeD, "r1": scoring.GradeA}
	scores, err := w.store.Scores(w.ctx, scoring.ScoreQuery{RunID: r.ID, Subject: scoring.Firm})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{
		"a1": 1000,   // (0.4×1000 + 0.3×1000)/0.7
		"a2": 986.61, // regulator 10000/10.24 = 976.56; (390.624 + 300)/0.7 = 986.605…
		"d1": 523.72, // regulator 10000/11 = 909.09, tracking 10000/1010 = 9.9; (363.636 + 2.97)/0.7 = 523.722…
		"r1": 980.14, // regulator 10000/10.36 = 965.25; (386.1 + 300)/0.7 = 980.142…
	}
	got := map[string]scoring.Grade{}
	for _, sc := range scores {
		got[sc.SubjectID] = sc.Grade
		if sc.Value != values[sc.SubjectID] {
			t.Errorf("%s value = %v, want %v", sc.SubjectID, sc.Value, values[sc.SubjectID])
		}
		if !sc.Published {
			t.Errorf("%s score of a publishing run is not published", sc.SubjectID)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("grades = %v, want %v", got, want)
	}
	if got, want := r.Total, 4; got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
}

func TestProposals(t *testing.T) {
	w := newWorld(t)
	if r := w.run(t, time.Date(2026, 1, 20, 0, 0, 0, 0, cst), false); r.Proposals != 0 || len(w.proposals(t, r.ID)) != 0 {
		t.Fatalf("a run that does not publish proposed %d", r.Proposals)
	}
	runs := w.published(t)
	want := [][]string{
		// 1st period: d1's first D → the first rung; r1's revocation-grade record → black list and revocation at once.
		{"d1 public_exposure ladder", "r1 blacklist revocation_grade", "r1 revocation_proposal revocation_grade"},
		// 2nd: a1 A twice → red list (a2 too, but with a serious record); d1 D twice → black list and the second rung.
		{"a1 redlist red_consecutive_a", "d1 blacklist black_consecutive_d", "d1 platform_restriction ladder"},
		// 3rd: d1's third D → suspension; the black list and red list are pending: nothing twice.
		{"d1 suspension ladder"},
		// 4th: d1's fourth D → revocation.
		{"d1 revocation_proposal ladder"},
	}
	for i, r := range runs {
		got := w.proposals(t, r.ID)
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("period %d proposals = %q, want %q", i+1, got, want[i])
		}
		if r.Proposals != len(want[i]) {
			t.Errorf("period %d run.Proposals = %d, want %d", i+1, r.Proposals, len(want[i]))
		}
	}

	red := w.sanction(t, "a1", scoring.RedList)
	if got, want := red.ScoreRuns, []string{runs[1].ID, runs[0].ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("red list runs = %q, want the two A periods %q", got, want)
	}
	if red.Status != scoring.Proposed || red.LegalBasis == "" || len(red.RecordIDs) != 0 {
		t.Errorf("red list = %+v, want proposed with a legal basis and no record", red)
	}
	if got, want := w.sanction(t, "r1", scoring.RevocationProposal).RecordIDs, []string{"rec-r1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("revocation records = %q, want %q", got, want)
	}
	if got, want := w.sanction(t, "d1", scoring.BlackList).ScoreRuns, []string{runs[1].ID, runs[0].ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("d1 black list runs = %q, want %q", got, want)
	}
	if ss, _ := w.store.Sanctions(w.ctx, scoring.SanctionQuery{FirmID: "a2"}); len(ss) != 0 {
		t.Errorf("a2 (serious record in force) got %+v, want no proposal", ss)
	}

	// A fifth period: d1's fifth D stays on the last rung, which is pending; nothing else is new.
	r5 := w.run(t, time.Date(2026, 6, 1, 0, 0, 0, 0, cst), true)
	if got := w.proposals(t, r5.ID); len(got) != 0 {
		t.Errorf("5th period proposals = %q, want none while the earlier ones are pending", got)
	}

	// A rejected proposal does not block the next one.
	if _, err := w.svc.Decide(w.ctx, regulator, red.ID, false, "complaint pending"); err != nil {
		t.Fatal(err)
	}
	// The next period, June, is published once it has ended.
	w.now = time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)
	r6 := w.run(t, time.Date(2026, 7, 1, 0, 0, 0, 0, cst), true)
	if got, want := w.proposals(t, r6.ID), []string{"a1 redlist red_consecutive_a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after the rejection proposals = %q, want %q", got, want)
	}
}

func TestDecide(t *testing.T) {
	w := newWorld(t)
	w.published(t)
	now := w.now // Service.Now: UTC, milliseconds
	tests := []struct {
		name    string
		firm    string
		kind    scoring.SanctionKind
		approve bool
		status  scoring.SanctionStatus
		end     time.Time
	}{
		{"red list for 12 months", "a1", scoring.RedList, true, scoring.Approved, now.AddDate(0, 12, 0)},
		{"public exposure for 3 months", "d1", scoring.PublicExposure, true, scoring.Approved, now.AddDate(0, 3, 0)},
		{"platform restriction for 6 months", "d1", scoring.PlatformRestriction, true, scoring.Approved, now.AddDate(0, 6, 0)},
		{"revocation until lifted", "r1", scoring.RevocationProposal, true, scoring.Approved, time.Time{}},
		{"suspension rejected", "d1", scoring.Suspension, false, scoring.Rejected, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := w.sanction(t, tc.firm, tc.kind)
			if tc.approve && tc.kind.FourEyes() {
				if _, err := w.svc.Decide(w.ctx, reviewer, x.ID, true, "法制审核通过"); err != nil {
					t.Fatal(err)
				}
			}
			got, err := w.svc.Decide(w.ctx, regulator, x.ID, tc.approve, "  reviewed  ")
			if err != nil {
				t.Fatal(err)
			}
			stored := w.sanction(t, tc.firm, tc.kind)
			for _, s := range []scoring.Sanction{got, stored} {
				if s.Status != tc.status || s.Decision != "reviewed" || s.DecidedBy != regulator.TokenID || !s.DecidedAt.Equal(now) {
					t.Errorf("decided = %s %q by %q at %s, want %s \"reviewed\" by %q at %s", s.Status, s.Decision, s.DecidedBy, s.DecidedAt, tc.status, regulator.TokenID, now)
				}
				wantStart := time.Time{}
				if tc.approve {
					wantStart = now
				}
				if !s.Start.Equal(wantStart) || !s.End.Equal(tc.end) {
					t.Errorf("start %s end %s, want %s and %s", s.Start, s.End, wantStart, tc.end)
				}
			}
			if got, want := stored.InForce(now), tc.approve; got != want {
				t.Errorf("InForce(now) = %v, want %v", got, want)
			}
			if _, err := w.svc.Decide(w.ctx, regulator, x.ID, true, "again"); !errors.Is(err, credtrace.ErrState) {
				t.Errorf("deciding twice: %v, want credtrace.ErrState", err)
			}
		})
	}
	x := w.sanction(t, "d1", scoring.RevocationProposal)
	errs := []struct {
		name   string
		c      credtrace.Caller
		reason string
		want   error
	}{
		{"no reason", regulator, " ", credtrace.ErrInvalid},
		{"not a regulator", credtrace.Caller{Role: credtrace.RoleFirm, FirmID: "d1"}, "ok", credtrace.ErrForbidden},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.svc.Decide(w.ctx, tc.c, x.ID, true, tc.reason); !errors.Is(err, tc.want) {
				t.Errorf("Decide = %v, want %v", err, tc.want)
			}
			if got := w.sanction(t, "d1", scoring.RevocationProposal).Status; got != scoring.Proposed {
				t.Errorf("status = %s, want still proposed", got)
			}
		})
	}
}

func TestEligible(t *testing.T) {
	w := newWorld(t)
	w.published(t)
	check := func(t *testing.T, uscc string, allowed bool, grade scoring.Grade, reason string, kinds ...scoring.SanctionKind) {
		t.Helper()
		e, err := w.svc.Eligible(w.ctx, platform, uscc)
		if err != nil {
			t.Fatal(err)
		}
		if e.Allowed != allowed || e.Grade != grade {
			t.Errorf("Eligible(%s) = allowed %v grade %s, want %v %s (%q)", uscc, e.Allowed, e.Grade, allowed, grade, e.Reasons)
		}
		if !strings.Contains(strings.Join(e.Reasons, "; "), reason) {
			t.Errorf("reasons %q, want one mentioning %q", e.Reasons, reason)
		}
		got := []scoring.SanctionKind{}
		for _, x := range e.Sanctions {
			got = append(got, x.Kind)
		}
		if kinds == nil {
			kinds = []scoring.SanctionKind{}
		}
		if !reflect.DeepEqual(got, kinds) {
			t.Errorf("sanctions in force = %q, want %q", got, kinds)
		}
	}
	decide := func(t *testing.T, firmID string, kind scoring.SanctionKind) scoring.Sanction {
		t.Helper()
		if kind.FourEyes() {
			if _, err := w.svc.Decide(w.ctx, reviewer, w.sanction(t, firmID, kind).ID, true, "reviewed"); err != nil {
				t.Fatal(err)
			}
		}
		x, err := w.svc.Decide(w.ctx, regulator, w.sanction(t, firmID, kind).ID, true, "approved")
		if err != nil {
			t.Fatal(err)
		}
		return x
	}

	t.Run("no sanction", func(t *testing.T) {
		check(t, " 91130100a1 ", true, scoring.GradeA, "no barring sanction")
		check(t, "91130100D1", true, scoring.GradeD, "no barring sanction") // proposals do not bar until approved
	})
	t.Run("a red list entry does not bar", func(t *testing.T) {
		decide(t, "a1", scoring.RedList)
		check(t, "91130100A1", true, scoring.GradeA, "no barring sanction", scoring.RedList)
	})
	var restriction scoring.Sanction
	t.Run("an approved platform restriction bars", func(t *testing.T) {
		decide(t, "d1", scoring.PublicExposure)
		restriction = decide(t, "d1", scoring.PlatformRestriction)
		check(t, "91130100D1", false, scoring.GradeD, "platform_restriction in force since 2026-06-15", scoring.PublicExposure, scoring.PlatformRestriction)
	})
	t.Run("allowed again after the lift", func(t *testing.T) {
		x, err := w.svc.Lift(w.ctx, regulator, restriction.ID, "rectified")
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != scoring.Lifted || !x.LiftedAt.Equal(w.now) || x.LiftReason != "rectified" {
			t.Errorf("lifted = %+v", x)
		}
		check(t, "91130100D1", true, scoring.GradeD, "no barring sanction", scoring.PublicExposure)
		if _, err := w.svc.Lift(w.ctx, regulator, restriction.ID, "again"); !errors.Is(err, credtrace.ErrState) {
			t.Errorf("lifting twice: %v, want credtrace.ErrState", err)
		}
	})
	t.Run("expired sanctions do not bar", func(t *testing.T) {
		decide(t, "d1", scoring.BlackList) // 12 months
		check(t, "91130100D1", false, scoring.GradeD, "blacklist in force", scoring.PublicExposure, scoring.BlackList)
		w.now = w.now.AddDate(1, 0, 0)
		check(t, "91130100D1", true, scoring.GradeD, "no barring sanction")
	})
	t.Run("a licence not active bars", func(t *testing.T) {
		w.archive.firms[0].Licence.Status = courier.LicenceSuspended
		check(t, "91130100A1", false, scoring.GradeA, "licence suspended")
	})
	t.Run("callers", func(t *testing.T) {
		if _, err := w.svc.Eligible(w.ctx, credtrace.Caller{Role: credtrace.RoleMerchant, MerchantID: "m1"}, "91130100A1"); !errors.Is(err, credtrace.ErrForbidden) {
			t.Errorf("merchant: %v, want credtrace.ErrForbidden", err)
		}
		if _, err := w.svc.Eligible(w.ctx, platform, "91130100ZZ"); !errors.Is(err, credtrace.ErrNotFound) {
			t.Errorf("unknown firm: %v, want not found", err)
		}
	})
}

func TestRepairLiftsSanctions(t *testing.T) {
	w := newWorld(t)
	w.run(t, periods[0], true)
	x, err := w.svc.Decide(w.ctx, regulator, w.sanction(t, "d1", scoring.PublicExposure).ID, true, "approved")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := x.RecordIDs, []string{"rec-d1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("records = %q, want %q", got, want)
	}
	w.run(t, periods[1], false)
	if got := w.sanction(t, "d1", scoring.PublicExposure).Status; got != scoring.Approved {
		t.Fatalf("before the repair: %s, want approved", got)
	}
	w.archive.repair("rec-d1", w.now)
	w.run(t, periods[2], false)
	lifted := w.sanction(t, "d1", scoring.PublicExposure)
	if lifted.Status != scoring.Lifted || !lifted.LiftedAt.Equal(w.now) || !strings.Contains(lifted.LiftReason, "repaired") {
		t.Errorf("after the repair: %s at %s (%q), want lifted now on repair", lifted.Status, lifted.LiftedAt, lifted.LiftReason)
	}
}

func TestStartRunLease(t *testing.T) {
	w := newWorld(t)
	ok, err := w.store.AcquireLease(w.ctx, scoring.LeaseName, "another-instance", w.now.Add(5*time.Minute), w.now)
	if err != nil || !ok {
		t.Fatalf("AcquireLease = %v, %v", ok, err)
	}
	if _, err := w.svc.StartRun(w.ctx, regulator, periods[0], "manual", true); !errors.Is(err, scoring.ErrLeaseHeld) {
		t.Fatalf("StartRun with the lease held = %v, want ErrLeaseHeld", err)
	}
	if runs, err := w.store.Runs(w.ctx, scoring.RunQuery{}); err != nil || len(runs) != 0 {
		t.Fatalf("runs = %v, %v; want none recorded", runs, err)
	}
	// The other holder's lease lapses: the run goes ahead, and gives the lease up after.
	w.now = w.now.Add(5 * time.Minute)
	w.run(t, periods[0], true)
	ok, err = w.store.AcquireLease(w.ctx, scoring.LeaseName, "another-instance", w.now.Add(time.Minute), w.now)
	if err != nil || !ok {
		t.Errorf("after the run AcquireLease = %v, %v; want the lease free", ok, err)
	}
}

func TestBeginRunWhileRunning(t *testing.T) {
	w := newWorld(t)
	_, finish, err := w.svc.BeginRun(w.ctx, regulator, periods[0], "manual", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { finish(w.ctx) })
	// The API lets finish go on after BeginRun answers: a second request to the same instance
	// must not start a second run beside it.
	if _, _, err := w.svc.BeginRun(w.ctx, regulator, periods[1], "manual", true); !errors.Is(err, scoring.ErrLeaseHeld) {
		t.Errorf("second BeginRun while the first runs = %v, want ErrLeaseHeld", err)
	}
}

func TestStartRunRefuses(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		c    credtrace.Caller
		asOf time.Time
		want error
	}{
		{"not a regulator", credtrace.Caller{Role: credtrace.RoleFirm, FirmID: "a1"}, periods[0], credtrace.ErrForbidden},
		{"in the future", regulator, w.now.Add(time.Hour), credtrace.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.svc.StartRun(w.ctx, tc.c, tc.asOf, "manual", true); !errors.Is(err, tc.want) {
				t.Errorf("StartRun = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestFourEyes: a heavy sanction takes two approvals by two regulators; the first does not put
// it in force, the reviewer cannot give the second, either may reject; light ones take one.
func TestFourEyes(t *testing.T) {
	w := newWorld(t)
	w.published(t)
	heavy := []scoring.SanctionKind{scoring.PlatformRestriction, scoring.Suspension, scoring.RevocationProposal, scoring.BlackList}
	for _, k := range heavy {
		if !k.FourEyes() {
			t.Errorf("%s takes one approval, want two", k)
		}
	}
	for _, k := range []scoring.SanctionKind{scoring.PublicExposure, scoring.RedList} {
		if k.FourEyes() {
			t.Errorf("%s takes two approvals, want one", k)
		}
	}
	x := w.sanction(t, "d1", scoring.PlatformRestriction)
	first, err := w.svc.Decide(w.ctx, reviewer, x.ID, true, "法制审核：事实清楚")
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != scoring.Reviewed || first.ReviewedBy != reviewer.TokenID || first.ReviewReason != "法制审核：事实清楚" ||
		!first.ReviewedAt.Equal(w.now) || first.InForce(w.now) || !first.DecidedAt.IsZero() {
		t.Fatalf("after the review: %+v", first)
	}
	if e, _ := w.svc.Eligible(w.ctx, platform, "91130100D1"); !e.Allowed {
		t.Fatalf("a reviewed, not yet approved restriction bars the firm: %v", e.Reasons)
	}
	if _, err := w.svc.Decide(w.ctx, reviewer, x.ID, true, "我也批准"); !errors.Is(err, credtrace.ErrState) {
		t.Fatalf("the reviewer approves too: %v, want credtrace.ErrState", err)
	}
	second, err := w.svc.Decide(w.ctx, regulator, x.ID, true, "集体讨论决定")
	if err != nil {
		t.Fatal(err)
	}
	if second.Status != scoring.Approved || second.DecidedBy != regulator.TokenID || second.ReviewedBy != reviewer.TokenID || !second.InForce(w.now) {
		t.Fatalf("after the decision: %+v", second)
	}
	// A reviewed proposal may still be rejected, by either regulator.
	y := w.sanction(t, "d1", scoring.Suspension)
	if _, err := w.svc.Decide(w.ctx, reviewer, y.ID, true, "初审"); err != nil {
		t.Fatal(err)
	}
	if got, err := w.svc.Decide(w.ctx, reviewer, y.ID, false, "复核后撤回"); err != nil || got.Status != scoring.Rejected {
		t.Fatalf("reject after review: %v, %v", got.Status, err)
	}
	// One approval puts a light sanction in force.
	z, err := w.svc.Decide(w.ctx, reviewer, w.sanction(t, "d1", scoring.PublicExposure).ID, true, "属实")
	if err != nil || z.Status != scoring.Approved {
		t.Fatalf("public exposure: %v, %v", z.Status, err)
	}
}
