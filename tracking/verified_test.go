package tracking_test

import (
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

var archiveRegulator = credtrace.Caller{TokenID: "tok-regulator", Role: credtrace.RoleRegulator}

// complaintsOf sums the complaints statistic of one subject over the test months.
func complaintsOf(t *testing.T, w *world, kind tracking.SubjectKind, id string) int {
	t.Helper()
	n := 0
	for _, d := range w.stats(t, kind, id) {
		n += d[tracking.MComplaints]
	}
	return n
}

// recordsBySubject returns the records an incident proposed, by subject kind.
func recordsBySubject(t *testing.T, w *world, inc tracking.Incident) map[courier.SubjectKind]courier.Record {
	t.Helper()
	out := map[courier.SubjectKind]courier.Record{}
	for _, id := range inc.RecordIDs {
		r, err := w.arch.Record(w.ctx, archiveRegulator, id)
		if err != nil {
			t.Fatal(err)
		}
		out[r.Subject.Kind] = r
	}
	return out
}

// Complaints count in the statistics only once a regulator confirms the record an incident
// proposed; a repeated confirmation adds nothing, a revocation on objection takes it back
// exactly once, a dismissed record never counts, and an upheld objection keeps it.
func TestComplaintsCountOnlyWhenVerified(t *testing.T) {
	t.Parallel()
	w := incidentWorld(t)
	w.useArchive(t)
	inc, err := w.svc.ReportIncident(w.ctx, merchantCaller("m1"), tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost,
		Reporter: "merchant", At: hours(3)})
	if err != nil {
		t.Fatal(err)
	}
	recs := recordsBySubject(t, w, inc)
	if len(recs) != 3 {
		t.Fatalf("proposed %d records, want firm, site and staff", len(recs))
	}
	check := func(when string, firm, site, staff int) {
		t.Helper()
		for _, c := range []struct {
			kind tracking.SubjectKind
			id   string
			want int
		}{{tracking.SubjectFirm, w.brA, firm}, {tracking.SubjectSite, w.siteBr, site}, {tracking.SubjectStaff, w.yBr, staff}} {
			if got := complaintsOf(t, w, c.kind, c.id); got != c.want {
				t.Errorf("%s: %s %s has %d complaints, want %d", when, c.kind, c.id, got, c.want)
			}
		}
	}
	check("reported, nothing confirmed", 0, 0, 0)

	w.clk.Advance(2 * 24 * time.Hour)
	firm, err := w.arch.ConfirmRecord(w.ctx, archiveRegulator, recs[courier.SubjectFirm].ID, "核实属实")
	if err != nil {
		t.Fatal(err)
	}
	check("firm record confirmed", 1, 0, 0)
	if got := w.stats(t, tracking.SubjectFirm, w.brA)[tracking.Day(w.clk.Now())][tracking.MComplaints]; got != 1 {
		t.Errorf("complaint on the confirmation day %d, want 1", got)
	}
	// The confirmation told again (a retry) adds nothing.
	if err := w.svc.CountVerdict(w.ctx, tracking.Verdict{RecordID: firm.ID, Subject: tracking.SubjectFirm, SubjectID: w.brA,
		IncidentIDs: []string{inc.ID}, ConfirmedAt: firm.ConfirmedAt, InForce: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.arch.ConfirmRecord(w.ctx, archiveRegulator, firm.ID, "again"); err == nil {
		t.Error("a confirmed record was confirmed again")
	}
	check("confirmation re-sent", 1, 0, 0)

	if _, err := w.arch.DismissRecord(w.ctx, archiveRegulator, recs[courier.SubjectSite].ID, "站点不负责"); err != nil {
		t.Fatal(err)
	}
	check("site record dismissed", 1, 0, 0)

	staff, err := w.arch.ConfirmRecord(w.ctx, archiveRegulator, recs[courier.SubjectStaff].ID, "核实属实")
	if err != nil {
		t.Fatal(err)
	}
	check("staff record confirmed", 1, 0, 1)

	// Revoked on objection: taken back, once, however often told.
	o, err := w.arch.FileObjection(w.ctx, archiveRegulator, courier.ObjectionInput{RecordID: firm.ID, Reasons: "包裹已找回"})
	if err != nil {
		t.Fatal(err)
	}
	check("firm record disputed", 1, 0, 1)
	if _, err := w.arch.DecideObjection(w.ctx, archiveRegulator, o.ID, courier.ObjectionRevoked, "异议成立"); err != nil {
		t.Fatal(err)
	}
	check("firm record revoked", 0, 0, 1)
	for _, inForce := range []bool{false, true, false} {
		if err := w.svc.CountVerdict(w.ctx, tracking.Verdict{RecordID: firm.ID, Subject: tracking.SubjectFirm, SubjectID: w.brA,
			IncidentIDs: []string{inc.ID}, ConfirmedAt: firm.ConfirmedAt, InForce: inForce}); err != nil {
			t.Fatal(err)
		}
	}
	check("revocation and confirmation re-sent", 0, 0, 1)

	// Upheld on objection: still counted.
	o, err = w.arch.FileObjection(w.ctx, archiveRegulator, courier.ObjectionInput{RecordID: staff.ID, Reasons: "非本人派送"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.arch.DecideObjection(w.ctx, archiveRegulator, o.ID, courier.ObjectionUpheld, "异议不成立"); err != nil {
		t.Fatal(err)
	}
	check("staff record upheld", 0, 0, 1)
}

// A revocation whose confirmation never reached the statistics (the process stopped between
// the two) still nets to zero, not to minus one.
func TestWithdrawnWithoutConfirmationNetsZero(t *testing.T) {
	t.Parallel()
	w := incidentWorld(t)
	inc, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, Reporter: "12305", At: hours(3)})
	if err != nil {
		t.Fatal(err)
	}
	v := tracking.Verdict{RecordID: inc.RecordIDs[0], Subject: tracking.SubjectFirm, SubjectID: w.brA, IncidentIDs: []string{inc.ID},
		ConfirmedAt: w.clk.Now(), InForce: false}
	if err := w.svc.CountVerdict(w.ctx, v); err != nil {
		t.Fatal(err)
	}
	if got := complaintsOf(t, w, tracking.SubjectFirm, w.brA); got != 0 {
		t.Errorf("complaints %d, want 0", got)
	}
}

// A record the incident did not propose counts nothing, even when it cites the incident.
func TestVerdictOfAnotherRecordCountsNothing(t *testing.T) {
	t.Parallel()
	w := incidentWorld(t)
	inc, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, Reporter: "12305", At: hours(3)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []tracking.Verdict{
		{RecordID: "someone-elses", Subject: tracking.SubjectFirm, SubjectID: w.brA, IncidentIDs: []string{inc.ID}, InForce: true},
		{RecordID: inc.RecordIDs[0], Subject: tracking.SubjectFirm, SubjectID: w.brA, IncidentIDs: []string{"no-such-incident"}, InForce: true},
	} {
		if err := w.svc.CountVerdict(w.ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if got := complaintsOf(t, w, tracking.SubjectFirm, w.brA); got != 0 {
		t.Errorf("complaints %d, want 0", got)
	}
}
