package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
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
	// spacing is the days between a subject's day statistics (0: a week), so that a few days
	// of statistics a subject can span the methodology's whole window.
	spacing int
}

// usccN makes a valid GB 32100 code from a number.
func usccN(n int) string {
	base := fmt.Sprintf("91130100%09d", n)
	check, _ := courier.USCCCheck(base)
	return base + string(check)
}

// scoreStore fills a store with firms in trees of ten (an HQ, three branches, six outlets),
// staff, one record for every fourth firm and day statistics standing for the events of the
// window, a thousand firms at a time (their archive in one transaction, their statistics in
// one SaveDerived), so that a national world never sits in memory whole. It answers the
// scoring service over it and the events the statistics stand for; close closes the store.
func scoreStore(ctx context.Context, dir string, w scoreWorld) (sc *scoring.Service, events int, close func(), err error) {
	st, err := sqlite.Open(ctx, filepath.Join(dir, "score.db"))
	if err != nil {
		return nil, 0, nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	spacing := w.spacing
	if spacing == 0 {
		spacing = 7
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	lic := courier.Licence{Number: "L", ValidFrom: now.AddDate(-2, 0, 0), ValidTo: now.AddDate(3, 0, 0), Status: courier.LicenceActive}
	hq := ""
	for lo := 0; lo < w.firms; lo += 1000 {
		var deltas []tracking.StatDelta
		err = st.Atomic(ctx, func(tx courier.Store) error {
			for i := lo; i < min(lo+1000, w.firms); i++ {
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
						day := tracking.Day(now.AddDate(0, 0, -2-d*spacing))
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
			return nil, 0, nil, err
		}
		if err := st.Tracking().SaveDerived(ctx, tracking.Derived{Events: []tracking.EventStats{{Key: fmt.Sprint("bench-", lo), Deltas: deltas}}}); err != nil {
			return nil, 0, nil, err
		}
	}
	hasher := courier.NewHasher([]byte("bench-key-0123456789abcdefghijklmnop"))
	svc := courier.NewService(st, hasher, courier.DefaultPolicy(), nil)
	trk := tracking.NewService(st.Tracking(), courier.NewTreeCache(svc), nil, hasher, tracking.Options{}, nil)
	return scoring.NewService(st.Scoring(), st, trk, svc.InTree, nil), events, func() { st.Close() }, nil
}

// scoreRun is one timed scoring run: how long it took, what it read and the memory it used.
type scoreRun struct {
	took   time.Duration
	run    scoring.Run
	events int // the events the world's statistics stand for
	mem    memPeak
}

// benchScoring fills a store (scoreStore) and times one published scoring run over it,
// sampling the memory while it runs.
func benchScoring(ctx context.Context, dir string, w scoreWorld) (scoreRun, error) {
	sc, events, closeStore, err := scoreStore(ctx, dir, w)
	if err != nil {
		return scoreRun{}, err
	}
	defer closeStore()
	out := scoreRun{events: events}
	out.took, out.mem, err = sampleMemory(func() error {
		var err error
		out.run, err = sc.StartRun(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "bench"}, time.Time{}, "bench", true)
		return err
	})
	return out, err
}

// memPeak is the memory of this process while something ran: the Go heap in use and the
// resident set, their peaks (sampled every 20 ms) and what they were before it started.
type memPeak struct {
	heap, heapBefore int64
	rss, rssBefore   int64
}

func (m memPeak) String() string {
	return fmt.Sprintf("peak heap %d MiB, resident %d MiB", m.heap>>20, m.rss>>20)
}

// sampleMemory times fn and samples the memory while it runs, after a collection so that
// what came before (building the fixture) weighs as little as it can.
func sampleMemory(fn func() error) (time.Duration, memPeak, error) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var p memPeak
	p.heapBefore, p.heap = int64(ms.HeapInuse), int64(ms.HeapInuse)
	p.rssBefore, _ = rss()
	p.rss = p.rssBefore
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			p.heap = max(p.heap, int64(ms.HeapInuse))
			cur, _ := rss()
			p.rss = max(p.rss, cur)
		}
	}()
	start := time.Now()
	err := fn()
	took := time.Since(start)
	close(stop)
	<-done
	return took, p, err
}
