package scoring_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// capturing keeps a copy of every score a run stores, exactly as the run handed it over.
type capturing struct {
	scoring.Store
	got []scoring.Score
}

func (c *capturing) PutScores(ctx context.Context, ss []scoring.Score) error {
	c.got = append(c.got, ss...)
	return c.Store.PutScores(ctx, ss)
}

// streamWorld is a district on a real SQLite store that exercises everything a score reads:
// firm trees two HQs deep, sites, staff (one hired after the as-of time, one who changed
// firms), statistics of subjects and of ids that are no subject, records of all three kinds,
// merchant and consumer ratings of firms, sites and staff, and commitments.
func streamWorld(t *testing.T, asOf time.Time, docs []string) (*scoring.Service, *capturing, *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stream.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	long := asOf.AddDate(-1, 0, 0)
	lic := courier.Licence{Number: "L", ValidFrom: asOf.AddDate(-2, 0, 0), ValidTo: asOf.AddDate(3, 0, 0), Status: courier.LicenceActive}
	var deltas []tracking.StatDelta
	stat := func(kind tracking.SubjectKind, id string, daysAgo, handled, late, lost int) {
		k := tracking.StatKey{Kind: kind, ID: id, Day: tracking.Day(asOf.AddDate(0, 0, -daysAgo))}
		deltas = append(deltas, tracking.StatDelta{Key: k, Metric: tracking.MHandled, N: handled},
			tracking.StatDelta{Key: k, Metric: tracking.MOnTime, N: handled - late - lost}, tracking.StatDelta{Key: k, Metric: tracking.MLate, N: late},
			tracking.StatDelta{Key: k, Metric: tracking.MLost, N: lost}, tracking.StatDelta{Key: k, Metric: tracking.MDelivered, N: handled - lost})
	}
	rec := func(id string, kind courier.SubjectKind, subject, firm string, sev courier.Severity, monthsAgo int) courier.Record {
		at := asOf.AddDate(0, -monthsAgo, 0)
		return courier.Record{ID: id, Subject: courier.Subject{Kind: kind, ID: subject}, FirmID: firm, Category: courier.CatSupervision,
			Source: courier.SrcRegulator, Severity: sev, OccurredAt: at, Summary: "check", Status: courier.StatusConfirmed, CreatedAt: at,
			ConfirmedAt: at, PublicUntil: at.AddDate(3, 0, 0), RepairEligibleAt: at.AddDate(0, 3, 0),
			History: []courier.Transition{{From: courier.StatusPending, To: courier.StatusConfirmed, At: at}}, Version: 1}
	}
	err = st.Atomic(ctx, func(tx courier.Store) error {
		for i := 0; i < 24; i++ {
			f := courier.Firm{ID: fmt.Sprintf("f%03d", i), USCC: usccOf(i), Name: fmt.Sprintf("firm %d", i), Region: "130102", Licence: lic,
				CreatedAt: long, UpdatedAt: long, Version: 1}
			switch {
			case i%12 == 0:
				f.Kind = courier.KindHQ
			case i%12 == 1:
				f.Kind, f.ParentID = courier.KindHQ, fmt.Sprintf("f%03d", i-1) // an HQ under an HQ
			case i%12 < 5:
				f.Kind, f.ParentID = courier.KindBranch, fmt.Sprintf("f%03d", i-i%12)
			default:
				f.Kind, f.ParentID = courier.KindOutlet, fmt.Sprintf("f%03d", i-i%12+1+i%3)
			}
			if i == 23 {
				f.CreatedAt = asOf.Add(time.Hour) // not yet a firm at the as-of time
			}
			if err := tx.CreateFirm(ctx, f); err != nil {
				return err
			}
			if i%5 != 4 {
				stat(tracking.SubjectFirm, f.ID, 3+i, 40*(i%7)+i, i%4, i%3/2)
				stat(tracking.SubjectFirm, f.ID, 200+i, 25*i, i%5, 0)
			}
			site := courier.Site{ID: fmt.Sprintf("s%03d", i), FirmID: f.ID, Name: "site", Kind: courier.SiteOutlet, Region: "130102", CreatedAt: long, UpdatedAt: long, Version: 1}
			if err := tx.CreateSite(ctx, site); err != nil {
				return err
			}
			if i%3 != 0 {
				stat(tracking.SubjectSite, site.ID, 10, 30*i, i%6, 0)
			}
			for s := 0; s < 3; s++ {
				id := fmt.Sprintf("p%03d-%d", i, s)
				p := courier.Staff{ID: id, Name: "courier", IDHash: "h" + id, IDMasked: "x", PhoneHash: "ph" + id, PhoneMasked: "x",
					Employment: []courier.Employment{{FirmID: f.ID, Role: "courier", From: long}}, CreatedAt: long, UpdatedAt: long, Version: 1}
				if i == 5 && s == 0 { // moved to another firm after the as-of time
					p.Employment = []courier.Employment{{FirmID: f.ID, Role: "courier", From: long, To: asOf.AddDate(0, 0, 3)},
						{FirmID: "f006", Role: "courier", From: asOf.AddDate(0, 0, 3)}}
				}
				if i == 7 && s == 2 {
					p.CreatedAt = asOf.Add(time.Minute) // hired after the as-of time
				}
				if err := tx.CreateStaff(ctx, p); err != nil {
					return err
				}
				if (i+s)%4 != 0 {
					stat(tracking.SubjectStaff, id, 5+s, 15*(i%9)+7*s, (i+s)%3, 0)
				}
			}
		}
		stat(tracking.SubjectFirm, "f008", 40, 5000, 1500, 600) // a firm that loses parcels: graded D
		stat(tracking.SubjectFirm, "f020", 45, 8000, 2500, 900)
		stat(tracking.SubjectStaff, "p-gone", 4, 50, 2, 0) // statistics of no subject
		stat(tracking.SubjectFirm, "f-gone", 4, 50, 2, 0)
		for _, r := range []courier.Record{
			rec("r1", courier.SubjectFirm, "f002", "f002", courier.SevSerious, 2),
			rec("r2", courier.SubjectFirm, "f014", "f014", courier.SevGeneral, 7),
			rec("r3", courier.SubjectSite, "s004", "f004", courier.SevGeneral, 1),
			rec("r4", courier.SubjectStaff, "p009-1", "f009", courier.SevMinor, 3),
			rec("r5", courier.SubjectFirm, "f019", "f019", courier.SevSerious, 40), // old: weighs little or nothing
		} {
			if err := tx.CreateRecord(ctx, r); err != nil {
				return err
			}
		}
		for i, c := range []courier.Commitment{
			{ID: "c1", Subject: courier.Subject{Kind: courier.SubjectFirm, ID: "f003"}, FirmID: "f003"},
			{ID: "c2", Subject: courier.Subject{Kind: courier.SubjectFirm, ID: "f003"}, FirmID: "f003"},
			{ID: "c3", Subject: courier.Subject{Kind: courier.SubjectStaff, ID: "p010-0"}, FirmID: "f010"},
		} {
			c.Text, c.Scope, c.Signer, c.SignedAt, c.CreatedAt, c.CreatedBy = "we commit", "firm", "boss", asOf.AddDate(0, -1, -i), asOf.AddDate(0, -1, -i), "tok"
			if err := tx.CreateCommitment(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tracking().SaveDerived(ctx, tracking.Derived{Events: []tracking.EventStats{{Key: "fixture", Deltas: deltas}}}); err != nil {
		t.Fatal(err)
	}
	cap := &capturing{Store: st.Scoring()}
	n := 0
	for i := 0; i < 24; i++ {
		for _, rk := range []scoring.RaterKind{scoring.RaterMerchant, scoring.RaterConsumer} {
			for j := 0; j < 1+i%3; j++ {
				n++
				at := asOf.AddDate(0, 0, -3-n%40)
				r := scoring.Rating{ID: fmt.Sprintf("rt%04d", n), RaterKind: rk, RaterID: fmt.Sprintf("rater%d", n%5), Waybill: fmt.Sprintf("W%04d", n),
					FirmID: fmt.Sprintf("f%03d", i), Stars: 1 + (i*3+j)%5, CreatedAt: at, UpdatedAt: at, RatedAt: at, Weight: 1, Version: 1}
				if j == 1 {
					r.SiteID = fmt.Sprintf("s%03d", i)
				}
				if i%2 == 0 {
					r.StaffID = fmt.Sprintf("p%03d-%d", i, j)
				}
				if n%7 == 0 {
					r.Weight = 0.5
				}
				if err := cap.CreateRating(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, doc := range docs {
		if _, _, err := scoring.NewService(cap, st, nil, nil, nil).PutMethod(ctx, regulator, doc); err != nil {
			t.Fatal(err)
		}
	}
	hasher := courier.NewHasher([]byte("stream-key-0123456789abcdefghijklmnop"))
	csvc := courier.NewService(st, hasher, courier.DefaultPolicy(), nil)
	trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(csvc), nil, hasher, tracking.Options{}, nil)
	svc := scoring.NewService(cap, st, trk, csvc.InTree, func() time.Time { return asOf })
	scoring.SetPage(svc, 7) // pages of a few subjects, so that every stream spans several
	return svc, cap, st
}

// usccOf makes a valid GB 32100 code from a number.
func usccOf(n int) string {
	base := fmt.Sprintf("91130100%09d", n)
	check, _ := courier.USCCCheck(base)
	return base + string(check)
}

// TestStreamedRunMatchesCompute runs the streamed run under every methodology version, a
// preview and a publication, and checks each against Compute over the same inputs held
// whole (Gather, as the export and the replay read them): the same scores, grades,
// percentiles and explanations, stored in the same order, the same inputs hash and counts,
// and proposals for exactly the firms Compute grades D.
func TestStreamedRunMatchesCompute(t *testing.T) {
	cases := []struct {
		name  string
		asOf  time.Time
		docs  []string
		wantD bool // the fixture has firms graded D (2026.4's credibility lifts them to C)
	}{
		{"2026.1", time.Date(2026, 6, 15, 0, 0, 0, 0, cst), nil, true},
		{"2026.2", time.Date(2027, 2, 15, 0, 0, 0, 0, cst), []string{scoring.Method2026_2}, true},
		{"2026.3", time.Date(2027, 5, 15, 0, 0, 0, 0, cst), []string{scoring.Method2026_2, scoring.Method2026_3}, true},
		{"2026.4", time.Date(2027, 8, 15, 0, 0, 0, 0, cst), []string{scoring.Method2026_2, scoring.Method2026_3, scoring.Method2026_4}, false},
		{"2026.5", time.Date(2028, 2, 15, 0, 0, 0, 0, cst), []string{scoring.Method2026_2, scoring.Method2026_3, scoring.Method2026_4, scoring.Method2026_5}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			svc, cap, st := streamWorld(t, c.asOf, c.docs)
			for _, publish := range []bool{false, true} {
				cap.got = nil
				r, err := svc.StartRun(ctx, regulator, time.Time{}, "manual", publish)
				if err != nil {
					t.Fatalf("run (publish %t): %v", publish, err)
				}
				if r.Method != c.name {
					t.Fatalf("run under %s, want %s", r.Method, c.name)
				}
				doc, err := svc.MethodVersion(ctx, r.Method)
				if err != nil {
					t.Fatal(err)
				}
				m, err := scoring.ParseMethod(doc.Doc)
				if err != nil {
					t.Fatal(err)
				}
				in, err := svc.Gather(ctx, m, r.AsOf)
				if err != nil {
					t.Fatal(err)
				}
				want := scoring.Compute(m, in, r.ID)
				for i := range want {
					want[i].Published, want[i].MethodHash, want[i].Period = r.Publish, r.MethodHash, r.Period
				}
				if len(cap.got) != len(want) || r.Total != len(want) {
					t.Fatalf("publish %t: stored %d scores, total %d; Compute gives %d", publish, len(cap.got), r.Total, len(want))
				}
				for i := range want {
					if !reflect.DeepEqual(cap.got[i], want[i]) {
						t.Errorf("publish %t: score %d differs:\n streamed %+v\n Compute  %+v", publish, i, cap.got[i], want[i])
					}
				}
				if h := scoring.InputsHash(in); r.InputsHash != h {
					t.Errorf("publish %t: inputs hash %s, want %s", publish, r.InputsHash, h)
				}
				wantInputs := map[string]int{"firms": len(in.Firms), "sites": len(in.Sites), "staff": len(in.Staff), "records": len(in.Records), "ratings": len(in.Ratings)}
				for kind, byID := range in.Stats {
					wantInputs["stat_subjects_"+string(kind)] = len(byID)
				}
				if !reflect.DeepEqual(r.Inputs, wantInputs) {
					t.Errorf("publish %t: inputs %v, want %v", publish, r.Inputs, wantInputs)
				}
				if !publish {
					continue
				}
				var gradedD []string
				for _, sc := range want {
					if sc.Subject == scoring.Firm && sc.Grade == scoring.GradeD {
						gradedD = append(gradedD, sc.SubjectID)
					}
				}
				sx, err := st.Scoring().Sanctions(ctx, scoring.SanctionQuery{})
				if err != nil {
					t.Fatal(err)
				}
				var laddered []string
				for _, x := range sx {
					if x.Rule == "ladder" {
						laddered = append(laddered, x.FirmID)
					}
				}
				sort.Strings(gradedD)
				sort.Strings(laddered)
				if (len(gradedD) > 0) != c.wantD || !reflect.DeepEqual(laddered, gradedD) || r.Proposals < len(gradedD) {
					t.Errorf("ladder proposals for %v (%d proposals in all), want one for each firm graded D: %v", laddered, r.Proposals, gradedD)
				}
			}
		})
	}
}
