package tracking_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// Five identical reports by one merchant make one incident with four joined reports and one
// set of proposals; after the window a report is new, but proposes nothing the first incident
// already stands for.
func TestRepeatedReportsJoinTheFirst(t *testing.T) {
	t.Parallel()
	w := incidentWorld(t)
	in := tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, Reporter: "merchant", At: hours(3), Description: "丢件"}
	var first tracking.Incident
	for i := 0; i < 5; i++ {
		inc, err := w.svc.ReportIncident(w.ctx, merchantCaller("m1"), in)
		if err != nil {
			t.Fatalf("report %d: %v", i+1, err)
		}
		if i == 0 {
			first = inc
			if inc.Joined || inc.JoinedReports != 0 {
				t.Errorf("first report: joined %v with %d, want a new incident", inc.Joined, inc.JoinedReports)
			}
			continue
		}
		if inc.ID != first.ID || !inc.Joined || inc.JoinedReports != i {
			t.Errorf("report %d: incident %s joined %v with %d joined reports, want %s, true, %d", i+1, inc.ID, inc.Joined, inc.JoinedReports, first.ID, i)
		}
		w.clk.Advance(time.Hour)
	}
	if got := len(w.props.all()); got != 3 {
		t.Errorf("%d records proposed, want 3 (firm, site and staff, once)", got)
	}
	list, err := w.svc.Incidents(w.ctx, regulator, "YT0000000001", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].JoinedReports != 4 || list[0].Joined {
		t.Fatalf("stored incidents %+v, want one with 4 joined reports", list)
	}

	// Another party's report, or the same party's after the window, is an incident of its
	// own; the back-tracked event is the same, so no second record is proposed.
	other, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, Reporter: "12305", At: hours(3)})
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(tracking.JoinWindow)
	later, err := w.svc.ReportIncident(w.ctx, merchantCaller("m1"), in)
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range []tracking.Incident{other, later} {
		if inc.ID == first.ID || inc.Joined {
			t.Errorf("incident %s joined %v, want a new incident", inc.ID, inc.Joined)
		}
		if len(inc.RecordIDs) != 0 || !strings.Contains(inc.Attribution.Explanation, "no second record") {
			t.Errorf("incident %s proposed %v (%q), want nothing: the first incident's records stand for the event", inc.ID, inc.RecordIDs, inc.Attribution.Explanation)
		}
	}
	if got := len(w.props.all()); got != 3 {
		t.Errorf("%d records proposed in all, want 3", got)
	}

	// Another kind on the same parcel is another matter: new incident, new proposals.
	dmg, err := w.svc.ReportIncident(w.ctx, merchantCaller("m1"), tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncDamaged, At: hours(61)})
	if err != nil {
		t.Fatal(err)
	}
	if dmg.Joined || len(dmg.RecordIDs) == 0 {
		t.Errorf("damage report joined %v, proposed %v; want a new incident with proposals", dmg.Joined, dmg.RecordIDs)
	}
}

// A firm tree's reports join whatever token of the tree makes them; the same kind from a
// different merchant does not join.
func TestReportingPartyDecidesTheJoin(t *testing.T) {
	t.Parallel()
	w := incidentWorld(t)
	in := tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncDelayed, At: hours(3)}
	a, err := w.svc.ReportIncident(w.ctx, credtrace.Caller{TokenID: "tok-1", Role: credtrace.RoleFirm, FirmID: w.hqA}, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.svc.ReportIncident(w.ctx, credtrace.Caller{TokenID: "tok-2", Role: credtrace.RoleFirm, FirmID: w.hqA}, in)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != a.ID || !b.Joined {
		t.Errorf("second token of the tree: incident %s joined %v, want %s joined", b.ID, b.Joined, a.ID)
	}
	h1, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncDelayed, Reporter: "12315", At: hours(3)})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := w.svc.ReportIncident(w.ctx, credtrace.Caller{TokenID: "tok-reg-2", Role: credtrace.RoleRegulator}, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncDelayed, Reporter: " 12315 ", At: hours(4)})
	if err != nil {
		t.Fatal(err)
	}
	if h1.ID == a.ID || h2.ID != h1.ID || !h2.Joined {
		t.Errorf("hotline reports: %s and %s (joined %v), want one incident apart from the firm's %s", h1.ID, h2.ID, h2.Joined, a.ID)
	}
}
