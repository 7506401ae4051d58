package tracking_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// Holders of the pure attribution tests: A and B are sites of one firm, C a branch, D a
// second courier at B's site.
var (
	pA = tracking.Party{FirmID: "hq", SiteID: "s1", StaffID: "x"}
	pB = tracking.Party{FirmID: "hq", SiteID: "s2", StaffID: "y"}
	pC = tracking.Party{FirmID: "branch", SiteID: "s3", StaffID: "z"}
	pD = tracking.Party{FirmID: "hq", SiteID: "s2", StaffID: "v"}
)

func by(id string, code tracking.Code, h int, p tracking.Party) tracking.Event {
	return scanned(id, code, hours(h), p.FirmID, p.SiteID, p.StaffID)
}

func holderOf(p tracking.Party) tracking.Holder { return firmHolder(p.FirmID, p.SiteID, p.StaffID) }

func candidateParties(cs []tracking.Candidate) []tracking.Party {
	var out []tracking.Party
	for _, c := range cs {
		out = append(out, c.Party)
	}
	return out
}

func TestAttribute(t *testing.T) {
	t.Parallel()
	onTheWay := []tracking.Event{by("c", tracking.Collected, 0, pA), by("d", tracking.Departed, 2, pA),
		by("a", tracking.Arrived, 10, pB), by("o", tracking.OutForDelivery, 12, pB)}
	delivered := append(slices.Clone(onTheWay), by("v", tracking.Delivered, 14, pD))
	slow := []tracking.Event{by("c", tracking.Collected, 0, pA), by("a", tracking.Arrived, 30, pB),
		by("d", tracking.Departed, 60, pC), by("v", tracking.Delivered, 62, pC)}
	tests := []struct {
		name       string
		kind       tracking.IncidentKind
		events     []tracking.Event
		cfg        tracking.CarrierConfig
		at         time.Time
		want       tracking.Party
		wantEvents []string
		candidates []tracking.Party
		confidence float64
	}{
		{name: "lost: the last scanning holder before the incident", kind: tracking.IncLost, events: onTheWay, at: hours(11),
			want: pB, wantEvents: []string{"a"}, confidence: 0.9},
		{name: "lost: scans after the incident do not count", kind: tracking.IncLost, events: onTheWay, at: hours(5),
			want: pA, wantEvents: []string{"d"}, confidence: 0.9},
		{name: "lost: a scan at the very time counts", kind: tracking.IncLost, events: onTheWay, at: hours(10),
			want: pB, wantEvents: []string{"a"}, confidence: 0.9},
		{name: "lost: without a time, the last scan", kind: tracking.IncLost, events: onTheWay,
			want: pB, wantEvents: []string{"o"}, confidence: 0.9},
		{name: "lost: a handover passes custody to the named holder", kind: tracking.IncLost,
			events: []tracking.Event{by("c", tracking.Collected, 0, pA), passedTo(by("h", tracking.Handover, 3, pA), holderOf(pC))}, at: hours(4),
			want: pC, wantEvents: []string{"h"}, confidence: 0.9},
		{name: "lost: no scan before the incident", kind: tracking.IncLost, events: onTheWay, at: hours(-1)},
		{name: "damaged: damage scanned on receipt blames the previous holder", kind: tracking.IncDamaged,
			events: []tracking.Event{by("c", tracking.Collected, 0, pA), by("d", tracking.Departed, 2, pA), by("dm", tracking.Damaged, 10, pB)},
			want:   pA, wantEvents: []string{"c", "dm"}, candidates: []tracking.Party{pB}, confidence: 0.7},
		{name: "damaged: damage scanned mid-segment blames that holder", kind: tracking.IncDamaged,
			events: []tracking.Event{by("c", tracking.Collected, 0, pA), by("a", tracking.Arrived, 10, pB), by("dm", tracking.Damaged, 11, pB)},
			want:   pB, wantEvents: []string{"a", "dm"}, confidence: 0.8},
		{name: "damaged: an exception scan on receipt counts as damage", kind: tracking.IncDamaged,
			events: []tracking.Event{by("c", tracking.Collected, 0, pA), by("x", tracking.Exception, 10, pB), by("v", tracking.Delivered, 12, pB)},
			want:   pA, wantEvents: []string{"c", "x"}, candidates: []tracking.Party{pB}, confidence: 0.7},
		{name: "damaged: no damage scan blames the last firm holder", kind: tracking.IncDamaged, events: delivered,
			want: pB, wantEvents: []string{"a", "o"}, candidates: []tracking.Party{pA}, confidence: 0.6},
		{name: "delayed: the segment most over its standard", kind: tracking.IncDelayed, events: slow,
			want: pB, wantEvents: []string{"a"}, candidates: []tracking.Party{pA}, confidence: 0.9},
		{name: "delayed: the carrier's standards", kind: tracking.IncDelayed, events: slow,
			cfg:  tracking.CarrierConfig{DwellHours: map[tracking.Code]int{tracking.Arrived: 40}},
			want: pA, wantEvents: []string{"c"}, confidence: 0.7},
		{name: "delayed: the open segment runs to now", kind: tracking.IncDelayed, events: slow[:2],
			want: pB, wantEvents: []string{"a"}, candidates: []tracking.Party{pA}, confidence: 0.9},
		{name: "delayed: nobody over the standard", kind: tracking.IncDelayed, events: delivered,
			want: pB, wantEvents: []string{"a", "o"}, confidence: 0.3},
		{name: "false signature: the delivering courier", kind: tracking.IncFalseSignature, events: delivered,
			want: pD, wantEvents: []string{"v"}, confidence: 0.9},
		{name: "false signature without delivery: the courier out for delivery", kind: tracking.IncFalseSignature, events: onTheWay,
			want: pB, wantEvents: []string{"o"}, confidence: 0.6},
		{name: "misdelivered: the delivering courier", kind: tracking.IncMisdelivered, events: delivered,
			want: pD, wantEvents: []string{"v"}, confidence: 0.9},
		{name: "misdelivered without delivery: the courier out for delivery", kind: tracking.IncMisdelivered, events: onTheWay,
			want: pB, wantEvents: []string{"o"}, confidence: 0.6},
		{name: "empty parcel: the collecting party", kind: tracking.IncEmptyParcel, events: delivered,
			want: pA, wantEvents: []string{"c"}, confidence: 0.8},
		{name: "empty parcel without collection: the first holder", kind: tracking.IncEmptyParcel, events: delivered[2:],
			want: pB, wantEvents: []string{"a"}, confidence: 0.6},
		{name: "data leak: no one chosen, every firm holder a candidate", kind: tracking.IncDataLeak,
			events: []tracking.Event{by("c", tracking.Collected, 0, pA), by("a", tracking.Arrived, 10, pB),
				passedTo(by("h", tracking.Handover, 12, pB), holderOf(pC)), by("v", tracking.Delivered, 14, pC)},
			wantEvents: []string{"c", "a", "h"}, candidates: []tracking.Party{pA, pB, pC}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := tracking.BuildTrace(tc.events, tc.cfg, hours(100))
			got := tracking.Attribute(tc.kind, tr, tc.cfg, tc.at)
			if got.Rule != string(tc.kind) {
				t.Errorf("got rule %q, want %q", got.Rule, tc.kind)
			}
			if got.Responsible != tc.want {
				t.Errorf("got responsible %+v, want %+v", got.Responsible, tc.want)
			}
			if !slices.Equal(got.EventIDs, tc.wantEvents) {
				t.Errorf("got events %v, want %v", got.EventIDs, tc.wantEvents)
			}
			if c := candidateParties(got.Candidates); !slices.Equal(c, tc.candidates) {
				t.Errorf("got candidates %+v, want %+v", c, tc.candidates)
			}
			if fmt.Sprintf("%.2f", got.Confidence) != fmt.Sprintf("%.2f", tc.confidence) {
				t.Errorf("got confidence %.2f, want %.2f", got.Confidence, tc.confidence)
			}
			if got.Explanation == "" {
				t.Error("no explanation")
			}
		})
	}
}

// withoutStaff removes the people from events, or also the sites, as when carriers report less.
func withoutStaff(evs []tracking.Event, sites bool) []tracking.Event {
	out := slices.Clone(evs)
	for i := range out {
		out[i].StaffID, out[i].Holder.StaffID = "", ""
		if sites {
			out[i].SiteID, out[i].Holder.SiteID = "", ""
		}
	}
	return out
}

func TestAttributeConfidence(t *testing.T) {
	t.Parallel()
	delivered := []tracking.Event{by("c", tracking.Collected, 0, pA), by("a", tracking.Arrived, 30, pB),
		by("o", tracking.OutForDelivery, 50, pB), by("v", tracking.Delivered, 51, pD)}
	damagedMid := []tracking.Event{by("c", tracking.Collected, 0, pA), by("a", tracking.Arrived, 10, pB), by("dm", tracking.Damaged, 11, pB)}
	tests := []struct {
		kind   tracking.IncidentKind
		events []tracking.Event
	}{
		{tracking.IncLost, delivered[:3]},
		{tracking.IncDamaged, damagedMid},
		{tracking.IncDamaged, delivered},
		{tracking.IncDelayed, delivered},
		{tracking.IncFalseSignature, delivered},
		{tracking.IncMisdelivered, delivered[:3]},
		{tracking.IncEmptyParcel, delivered},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			conf := func(evs []tracking.Event) float64 {
				tr := tracking.BuildTrace(evs, tracking.CarrierConfig{}, hours(100))
				a := tracking.Attribute(tc.kind, tr, tracking.CarrierConfig{}, time.Time{})
				if a.Responsible.IsZero() {
					t.Fatalf("nobody responsible: %s", a.Explanation)
				}
				return a.Confidence
			}
			staff, site, firm := conf(tc.events), conf(withoutStaff(tc.events, false)), conf(withoutStaff(tc.events, true))
			if !(staff > site && site > firm && firm > 0) {
				t.Errorf("got confidence %.2f with a person, %.2f with a site, %.2f with a firm only; want them decreasing and positive", staff, site, firm)
			}
		})
	}
}

func TestAttributeNoEvents(t *testing.T) {
	t.Parallel()
	for _, k := range tracking.IncidentKinds {
		got := tracking.Attribute(k, tracking.BuildTrace(nil, tracking.CarrierConfig{}, t0), tracking.CarrierConfig{}, t0)
		if !got.Responsible.IsZero() || got.Candidates != nil || got.Explanation == "" {
			t.Errorf("%s: got %+v, want nobody and an explanation", k, got)
		}
	}
}

// incidentWorld ingests the parcel of the incident tests, carried by hqA:
//
//	e1 collected  h0  siteBr/yBr (brA)   e2 departed h2 siteBr/yBr
//	e3 arrived    h56 siteA/xA (hqA)     e4 out for delivery h58 siteA/xA
//	e5 delivered  h60 siteA/xA, signed by a proxy
func incidentWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.accept(t,
		shipped(ev("e1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteBr, w.yBr), "m1", recipientPhone),
		ev("e2", "YT0000000001", w.hqA, tracking.Departed, hours(2), w.siteBr, w.yBr),
		ev("e3", "YT0000000001", w.hqA, tracking.Arrived, hours(56), w.siteA, w.xA),
		ev("e4", "YT0000000001", w.hqA, tracking.OutForDelivery, hours(58), w.siteA, w.xA),
		with(ev("e5", "YT0000000001", w.hqA, tracking.Delivered, hours(60), w.siteA, w.xA), func(e *tracking.EventInput) { e.Signer = tracking.SignerProxy }),
	)
	return w
}

type subject struct {
	kind tracking.SubjectKind
	id   string
}

func TestReportIncident(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind     tracking.IncidentKind
		at       time.Time
		resp     func(w *world) tracking.Party
		hq       func(w *world) string
		events   []string
		subjects func(w *world) []subject
		category string
		severity string
	}{
		{kind: tracking.IncLost, at: hours(3),
			resp: func(w *world) tracking.Party { return tracking.Party{FirmID: w.brA, SiteID: w.siteBr, StaffID: w.yBr} },
			hq:   func(w *world) string { return w.hqA }, events: []string{"e2"},
			subjects: func(w *world) []subject {
				return []subject{{tracking.SubjectFirm, w.brA}, {tracking.SubjectSite, w.siteBr}, {tracking.SubjectStaff, w.yBr}}
			},
			category: "service_quality", severity: "general"},
		{kind: tracking.IncDamaged, at: hours(70),
			resp: func(w *world) tracking.Party { return tracking.Party{FirmID: w.hqA, SiteID: w.siteA, StaffID: w.xA} },
			hq:   func(w *world) string { return w.hqA }, events: []string{"e3", "e4"},
			subjects: func(w *world) []subject {
				return []subject{{tracking.SubjectFirm, w.hqA}, {tracking.SubjectSite, w.siteA}, {tracking.SubjectStaff, w.xA}}
			},
			category: "service_quality", severity: "minor"},
		{kind: tracking.IncDelayed, at: hours(70),
			resp: func(w *world) tracking.Party { return tracking.Party{FirmID: w.brA, SiteID: w.siteBr, StaffID: w.yBr} },
			hq:   func(w *world) string { return w.hqA }, events: []string{"e1", "e2"},
			subjects: func(w *world) []subject {
				return []subject{{tracking.SubjectFirm, w.brA}, {tracking.SubjectSite, w.siteBr}, {tracking.SubjectStaff, w.yBr}}
			},
			category: "service_quality", severity: "minor"},
		{kind: tracking.IncFalseSignature, at: hours(70),
			resp: func(w *world) tracking.Party { return tracking.Party{FirmID: w.hqA, SiteID: w.siteA, StaffID: w.xA} },
			hq:   func(w *world) string { return w.hqA }, events: []string{"e5"},
			subjects: func(w *world) []subject {
				return []subject{{tracking.SubjectFirm, w.hqA}, {tracking.SubjectSite, w.siteA}, {tracking.SubjectStaff, w.xA}}
			},
			category: "service_quality", severity: "general"},
		{kind: tracking.IncMisdelivered, at: hours(70),
			resp: func(w *world) tracking.Party { return tracking.Party{FirmID: w.hqA, SiteID: w.siteA, StaffID: w.xA} },
			hq:   func(w *world) string { return w.hqA }, events: []string{"e5"},
			subjects: func(w *world) []subject {
				return []subject{{tracking.SubjectFirm, w.hqA}, {tracking.SubjectSite, w.siteA}, {tracking.SubjectStaff, w.xA}}
			},
			category: "service_quality", severity: "minor"},
		{kind: tracking.IncEmptyParcel, at: hours(70),
			resp: func(w *world) tracking.Party { return tracking.Party{FirmID: w.brA, SiteID: w.siteBr, StaffID: w.yBr} },
			hq:   func(w *world) string { return w.hqA }, events: []string{"e1"},
			subjects: func(w *world) []subject {
				return []subject{{tracking.SubjectFirm, w.brA}, {tracking.SubjectSite, w.siteBr}, {tracking.SubjectStaff, w.yBr}}
			},
			category: "delivery_safety", severity: "serious"},
		{kind: tracking.IncDataLeak, at: hours(70),
			resp: func(w *world) tracking.Party { return tracking.Party{} },
			hq:   func(w *world) string { return "" }, events: []string{"e1", "e3"},
			subjects: func(w *world) []subject {
				return []subject{{tracking.SubjectFirm, w.brA}, {tracking.SubjectFirm, w.hqA}}
			},
			category: "delivery_safety", severity: "serious"},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			w := incidentWorld(t)
			const wb = "YT0000000001"
			inc, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: wb, Kind: tc.kind, Reporter: "12305", At: tc.at, Description: "消费者申诉"})
			if err != nil {
				t.Fatalf("report: %v", err)
			}
			a := inc.Attribution
			if a.Responsible != tc.resp(w) || a.HQID != tc.hq(w) || !slices.Equal(a.EventIDs, tc.events) {
				t.Errorf("got responsible %+v hq %q events %v, want %+v %q %v", a.Responsible, a.HQID, a.EventIDs, tc.resp(w), tc.hq(w), tc.events)
			}
			for _, c := range a.Candidates {
				if c.HQID != w.hqA {
					t.Errorf("candidate %+v rolls up to %q, want the brand HQ %s", c.Party, c.HQID, w.hqA)
				}
			}
			if inc.Waybill != wb || inc.Carrier != w.hqA || !inc.At.Equal(tc.at) || inc.ReportedBy != regulator.TokenID {
				t.Errorf("got incident %s carrier %s at %s by %s", inc.Waybill, inc.Carrier, inc.At, inc.ReportedBy)
			}

			wantEvidence := []tracking.EvidenceRef{{Kind: "waybill", Ref: wb}, {Kind: "incident", Ref: inc.ID}}
			for _, id := range tc.events {
				wantEvidence = append(wantEvidence, tracking.EvidenceRef{Kind: "event", Ref: w.hqA + "/" + id})
			}
			props := w.props.all()
			var gotSubjects []subject
			for _, p := range props {
				gotSubjects = append(gotSubjects, subject{tracking.SubjectKind(p.SubjectKind), p.SubjectID})
				if p.Category != tc.category || p.Severity != tc.severity || !p.OccurredAt.Equal(tc.at) || p.LegalBasis == "" {
					t.Errorf("proposal %s %s: %s/%s at %s basis %q, want %s/%s at %s", p.SubjectKind, p.SubjectID, p.Category, p.Severity,
						p.OccurredAt, p.LegalBasis, tc.category, tc.severity, tc.at)
				}
				if !reflect.DeepEqual(p.Evidence, wantEvidence) {
					t.Errorf("proposal evidence %v, want %v", p.Evidence, wantEvidence)
				}
				if !strings.Contains(p.Summary, wb) {
					t.Errorf("proposal summary %q does not name the waybill", p.Summary)
				}
			}
			if want := tc.subjects(w); !slices.Equal(gotSubjects, want) {
				t.Errorf("proposed against %v, want %v", gotSubjects, want)
			}
			if len(inc.RecordIDs) != len(props) {
				t.Errorf("incident cites %d records, want %d", len(inc.RecordIDs), len(props))
			}

			stored, err := w.svc.Incident(w.ctx, regulator, inc.ID)
			if err != nil {
				t.Fatalf("stored incident: %v", err)
			}
			if !reflect.DeepEqual(stored, inc) {
				t.Errorf("stored\n%+v\nwant\n%+v", stored, inc)
			}

			// The report counts no complaint; each proposed record counts one once a regulator
			// confirms it, on the day of the confirmation, for its blamed subject and no other.
			all := []subject{{tracking.SubjectFirm, w.hqA}, {tracking.SubjectFirm, w.brA}, {tracking.SubjectFirm, w.hqB},
				{tracking.SubjectSite, w.siteA}, {tracking.SubjectSite, w.siteBr}, {tracking.SubjectStaff, w.xA}, {tracking.SubjectStaff, w.yBr}}
			for _, s := range all {
				for d, c := range w.stats(t, s.kind, s.id) {
					if c[tracking.MComplaints] != 0 {
						t.Errorf("%s %s: %d complaints on %s before any confirmation, want 0", s.kind, s.id, c[tracking.MComplaints], d)
					}
				}
			}
			confirmed := w.clk.Now()
			for i, p := range props {
				if err := w.svc.CountVerdict(w.ctx, tracking.Verdict{RecordID: inc.RecordIDs[i], Subject: tracking.SubjectKind(p.SubjectKind),
					SubjectID: p.SubjectID, IncidentIDs: []string{inc.ID}, ConfirmedAt: confirmed, InForce: true}); err != nil {
					t.Fatal(err)
				}
			}
			blamed := map[subject]bool{}
			for _, s := range tc.subjects(w) {
				blamed[s] = true
			}
			day := tracking.Day(confirmed)
			for _, s := range []subject{{tracking.SubjectFirm, w.hqA}, {tracking.SubjectFirm, w.brA}, {tracking.SubjectFirm, w.hqB},
				{tracking.SubjectSite, w.siteA}, {tracking.SubjectSite, w.siteBr}, {tracking.SubjectStaff, w.xA}, {tracking.SubjectStaff, w.yBr}} {
				total := 0
				for _, c := range w.stats(t, s.kind, s.id) {
					total += c[tracking.MComplaints]
				}
				want := 0
				if blamed[s] {
					want = 1
					if got := w.stats(t, s.kind, s.id)[day][tracking.MComplaints]; got != 1 {
						t.Errorf("%s %s: %d complaints on %s, want 1", s.kind, s.id, got, day)
					}
				}
				if total != want {
					t.Errorf("%s %s: %d complaints in all, want %d", s.kind, s.id, total, want)
				}
			}
		})
	}
}

func TestReportIncidentErrors(t *testing.T) {
	t.Parallel()
	w := incidentWorld(t)
	good := tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, At: hours(3)}
	tests := []struct {
		name      string
		caller    credtrace.Caller
		in        tracking.IncidentInput
		want      error
		wantField string
	}{
		{"unknown waybill", regulator, tracking.IncidentInput{Waybill: "YT0000000404", Kind: tracking.IncLost}, credtrace.ErrNotFound, ""},
		{"bad kind", regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: "stolen"}, credtrace.ErrInvalid, "kind"},
		{"no waybill", regulator, tracking.IncidentInput{Kind: tracking.IncLost}, credtrace.ErrInvalid, "waybill"},
		{"in the future", regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, At: hours(200)}, credtrace.ErrInvalid, "at"},
		{"too much evidence", regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, Evidence: make([]string, 51)}, credtrace.ErrInvalid, "evidence"},
		{"the public", public, good, credtrace.ErrForbidden, ""},
		{"another brand", firmCaller(w.hqB), good, credtrace.ErrNotFound, ""},
		{"a branch below the carrier", firmCaller(w.brA), good, credtrace.ErrNotFound, ""},
		{"another merchant", merchantCaller("m2"), good, credtrace.ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.svc.ReportIncident(w.ctx, tc.caller, tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.wantField != "" && !slices.Contains(fieldNames(err), tc.wantField) {
				t.Errorf("got fields %v, want %q among them", fieldNames(err), tc.wantField)
			}
		})
	}
	if got := w.props.all(); len(got) != 0 {
		t.Errorf("refused reports proposed %d records", len(got))
	}
	incs, err := w.svc.Incidents(w.ctx, regulator, "", "", "", 0)
	if err != nil || len(incs) != 0 {
		t.Errorf("got incidents %v (%v), want none", incs, err)
	}

	for _, c := range []credtrace.Caller{firmCaller(w.hqA), merchantCaller("m1")} {
		if _, err := w.svc.ReportIncident(w.ctx, c, good); err != nil {
			t.Errorf("%s %s%s may report: %v", c.Role, c.FirmID, c.MerchantID, err)
		}
	}
}

func TestReportIncidentIntoArchive(t *testing.T) {
	t.Parallel()
	w := incidentWorld(t)
	w.useArchive(t)
	inc, err := w.svc.ReportIncident(w.ctx, regulator, tracking.IncidentInput{Waybill: "YT0000000001", Kind: tracking.IncLost, At: hours(3)})
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if len(inc.RecordIDs) != 3 {
		t.Fatalf("got %d records, want firm, site and staff", len(inc.RecordIDs))
	}
	for _, s := range []courier.Subject{{Kind: courier.SubjectFirm, ID: w.brA}, {Kind: courier.SubjectSite, ID: w.siteBr}, {Kind: courier.SubjectStaff, ID: w.yBr}} {
		recs, _, err := w.arch.Records(w.ctx, credtrace.System, courier.RecordQuery{Subject: &s}, "", 0)
		if err != nil {
			t.Fatalf("records of %v: %v", s, err)
		}
		if len(recs) != 1 {
			t.Fatalf("%v has %d records, want 1", s, len(recs))
		}
		r := recs[0]
		if r.Status != courier.StatusPending || r.Source != courier.SrcSystem || r.Category != courier.CatServiceQuality ||
			r.Severity != courier.SevGeneral || r.FirmID != w.brA || !slices.Contains(inc.RecordIDs, r.ID) {
			t.Errorf("record %+v, want a pending system service_quality/general record on brA cited by the incident", r)
		}
		if !slices.Contains(r.Evidence, courier.Evidence{Kind: "waybill", Ref: "YT0000000001"}) ||
			!slices.Contains(r.Evidence, courier.Evidence{Kind: "incident", Ref: inc.ID}) ||
			!slices.Contains(r.Evidence, courier.Evidence{Kind: "event", Ref: w.hqA + "/e2"}) {
			t.Errorf("record evidence %v, want the waybill, the incident and event e2", r.Evidence)
		}
	}
}
