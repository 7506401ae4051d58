package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// scoreWorld sizes a synthetic district for the scoring figure.
type scoreWorld struct {
	firms, staffPerFirm, days int
}

// usccN makes a valid GB 32100 code from a number.
func usccN(n int) string {
	base := fmt.Sprintf("91130100%09d", n)
	check, _ := courier.USCCCheck(base)
	return base + string(check)
}

// benchScoring fills a store with firms in trees of ten (an HQ, three branches, six outlets),
// staff, one record for every fourth firm and day statistics standing for the events of the
// window, then times one scoring run. It answers the run's duration and what it read.
func benchScoring(ctx context.Context, dir string, w scoreWorld) (time.Duration, scoring.Run, int, error) {
	st, err := sqlite.Open(ctx, filepath.Join(dir, "score.db"))
	if err != nil {
		return 0, scoring.Run{}, 0, err
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	lic := courier.Licence{Number: "L", ValidFrom: now.AddDate(-2, 0, 0), ValidTo: now.AddDate(3, 0, 0), Status: courier.LicenceActive}
	var firms []string
	var deltas []tracking.StatDelta
	events := 0
	err = st.Atomic(ctx, func(tx courier.Store) error {
		hq := ""
		for i := 0; i < w.firms; i++ {
			f := courier.Firm{ID: fmt.Sprintf("f%06d", i), USCC: usccN(i), Name: fmt.Sprintf("firm %d", i), Region: "130102", Licence: lic,
				CreatedAt: now.AddDate(-1, 0, 0), UpdatedAt: now, Version: 1}
			switch i % 10 {
			case 0:
				f.Kind, hq = courier.KindHQ, f.ID
			case 1, 2, 3:
				f.Kind, f.ParentID = courier.KindBranch, hq
			default:
				f.Kind, f.ParentID = courier.KindOutlet, fmt.Sprintf("f%06d", i-i%10+1+i%3)
			}
			if err := tx.CreateFirm(ctx, f); err != nil {
				return err
			}
			firms = append(firms, f.ID)
			if i%4 == 0 {
				at := now.AddDate(0, -(i%20)-1, 0)
				r := courier.Record{ID: fmt.Sprintf("r%06d", i), Subject: courier.Subject{Kind: courier.SubjectFirm, ID: f.ID}, FirmID: f.ID,
					Category: courier.CatSupervision, Source: courier.SrcRegulator, Severity: courier.SevGeneral, OccurredAt: at, Summary: "check",
					Status: courier.StatusConfirmed, CreatedAt: at, ConfirmedAt: at, PublicUntil: at.AddDate(1, 0, 0), RepairEligibleAt: at.AddDate(0, 3, 0),
					History: []courier.Transition{{From: courier.StatusPending, To: courier.StatusConfirmed, At: at}}, Version: 1}
				if err := tx.CreateRecord(ctx, r); err != nil {
					return err
				}
			}
			for s := 0; s < w.staffPerFirm; s++ {
				id := fmt.Sprintf("p%06d-%02d", i, s)
				p := courier.Staff{ID: id, Name: "courier", IDHash: "h" + id, IDMasked: "x", PhoneHash: "ph" + id, PhoneMasked: "x",
					Employment: []courier.Employment{{FirmID: f.ID, Role: "courier", From: now.AddDate(-1, 0, 0)}}, CreatedAt: now.AddDate(-1, 0, 0), UpdatedAt: now, Version: 1}
				if err := tx.CreateStaff(ctx, p); err != nil {
					return err
				}
				for d := 0; d < w.days; d++ {
					day := tracking.Day(now.AddDate(0, 0, -2-d*7))
					n := 10 + (i+s+d)%9 // parcels that day: 14 on average
					events += n * 7     // about seven scans a parcel
					for _, dl := range []struct {
						kind tracking.SubjectKind
						id   string
					}{{tracking.SubjectStaff, id}, {tracking.SubjectFirm, f.ID}} {
						k := tracking.StatKey{Kind: dl.kind, ID: dl.id, Day: day}
						deltas = append(deltas, tracking.StatDelta{Key: k, Metric: tracking.MHandled, N: n},
							tracking.StatDelta{Key: k, Metric: tracking.MOnTime, N: n - 1}, tracking.StatDelta{Key: k, Metric: tracking.MLate, N: 1})
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, scoring.Run{}, 0, err
	}
	if err := st.Tracking().SaveDerived(ctx, tracking.Derived{Events: []tracking.EventStats{{Key: "bench", Deltas: deltas}}}); err != nil {
		return 0, scoring.Run{}, 0, err
	}
	hasher := courier.NewHasher([]byte("bench-key-0123456789abcdefghijklmnop"))
	svc := courier.NewService(st, hasher, courier.DefaultPolicy(), nil)
	trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(svc), nil, hasher, tracking.Options{}, nil)
	sc := scoring.NewService(st.Scoring(), st, trk, svc.InTree, nil)
	start := time.Now()
	r, err := sc.StartRun(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "bench"}, time.Time{}, "bench", true)
	return time.Since(start), r, events, err
}
