package scoring

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// LeaseName is the lease every scoring run takes, so that one instance runs at a time.
const LeaseName = "scoring"

// leaseTTL is how long a run's lease lasts without renewal; a crashed instance's lease lapses.
const leaseTTL = 10 * time.Minute

// RunRequest says what run to start.
type RunRequest struct {
	AsOf    time.Time // zero: now
	Trigger string    // schedule, manual, publish
	Publish bool
	// Period is the label of the period a publishing run publishes (2026-11, 2026-Q4); empty,
	// the last period that has ended at AsOf.
	Period string
	// Reason is a regulator's reason to publish a period that is published already: the new
	// grades replace the period's, and no period is added.
	Reason string
}

// StartRun records a run and runs it to the end (the scheduler and `credtrace score`). It
// answers ErrLeaseHeld when another instance is running one.
func (s *Service) StartRun(ctx context.Context, c credtrace.Caller, asOf time.Time, trigger string, publish bool) (Run, error) {
	return s.Start(ctx, c, RunRequest{AsOf: asOf, Trigger: trigger, Publish: publish})
}

// Start is StartRun with every option of a run (see Begin).
func (s *Service) Start(ctx context.Context, c credtrace.Caller, req RunRequest) (Run, error) {
	_, finish, err := s.Begin(ctx, c, req)
	if err != nil {
		return Run{}, err
	}
	return finish(ctx)
}

// BeginRun is Begin without a period or a reason.
func (s *Service) BeginRun(ctx context.Context, c credtrace.Caller, asOf time.Time, trigger string, publish bool) (Run, func(context.Context) (Run, error), error) {
	return s.Begin(ctx, c, RunRequest{AsOf: asOf, Trigger: trigger, Publish: publish})
}

// Begin takes the lease and records a run as running; finish computes it, records the
// outcome and gives the lease up. The API answers after Begin and lets finish go on, so that
// GET /v1/scoring/runs/{id} shows the progress.
//
// Grades are published per evaluation period, not per run. A publishing run publishes one
// period that has ended — req.Period, or the last one ended at AsOf — as of that period's end,
// whatever AsOf says: a period's grade describes the period, so computing it at 03:00 on the
// 1st or a week later gives the same inputs. A period is published once: publishing it again
// answers credtrace.ErrConflict unless req.Reason gives a regulator's reason, and then the new run's
// grades replace the period's (the earlier run is marked superseded, kept) and its waiting
// proposals are withdrawn. Any other run is a preview of the period in progress at AsOf; it
// never feeds proposals. A period is scored by the methodology in force at its start (the
// rules of a period are fixed before it starts).
func (s *Service) Begin(ctx context.Context, c credtrace.Caller, req RunRequest) (Run, func(context.Context) (Run, error), error) {
	if !c.IsRegulator() {
		return Run{}, nil, credtrace.ErrForbidden
	}
	now := s.Now()
	asOf := req.AsOf
	if asOf.IsZero() {
		asOf = now
	}
	asOf = asOf.UTC().Truncate(time.Millisecond)
	if asOf.After(now) {
		return Run{}, nil, credtrace.InvalidField("as_of", "must not be in the future")
	}
	reason := strings.TrimSpace(req.Reason)
	var p Period
	if req.Publish {
		if req.Period != "" {
			var err error
			if p, err = s.cal.Parse(req.Period); err != nil {
				return Run{}, nil, err
			}
			if !req.AsOf.IsZero() && asOf.Before(p.End) {
				return Run{}, nil, credtrace.InvalidField("as_of", "period %s is published as of its end, %s: as_of must not be earlier", p.Label(), p.End.Format(time.RFC3339))
			}
		} else {
			p = s.cal.LastEnded(asOf)
		}
		if p.End.After(now) {
			return Run{}, nil, credtrace.InvalidField("period", "%s has not ended (it ends at %s): a period is published once it has ended; a run that does not publish previews it",
				p.Label(), p.End.Format(time.RFC3339))
		}
		asOf = p.End.UTC()
	} else {
		if req.Period != "" {
			return Run{}, nil, credtrace.InvalidField("period", "only a publishing run names a period: a preview scores the period in progress at as_of")
		}
		if reason != "" {
			return Run{}, nil, credtrace.InvalidField("reason", "only a publishing run that replaces a period's grades takes a reason")
		}
		p = s.cal.Of(asOf)
	}
	// Each run holds the lease under its own name, so that a second run started in this very
	// process waits like one started anywhere else.
	holder := s.instance + "/" + newID()
	ok, err := s.store.AcquireLease(ctx, LeaseName, holder, now.Add(leaseTTL), now)
	if err != nil {
		return Run{}, nil, err
	}
	if !ok {
		return Run{}, nil, ErrLeaseHeld
	}
	if err := s.closeInterrupted(ctx, c, holder); err != nil {
		s.store.ReleaseLease(context.Background(), LeaseName, holder)
		return Run{}, nil, err
	}
	// A lease the store could not give up for want of the disk (full, read-only) would hold
	// every run off until it lapses: it is given up once the store takes writes again.
	release := func() {
		err := s.store.ReleaseLease(context.Background(), LeaseName, holder)
		if credtrace.KindOf(err) == credtrace.Unavailable {
			go whenWritable(context.Background(), func(ctx context.Context) error { return s.store.ReleaseLease(ctx, LeaseName, holder) })
		}
	}
	r := Run{ID: newID(), AsOf: asOf, Period: p.Label(), Trigger: req.Trigger, Publish: req.Publish, Status: RunRunning, StartedAt: now, Version: 1}
	if req.Publish {
		// Under the lease, so that two publications of one period cannot both pass the check.
		pubs, err := s.publications(ctx)
		if err != nil {
			release()
			return Run{}, nil, err
		}
		if cur, ok := pubs[r.Period]; ok {
			if reason == "" {
				release()
				return Run{}, nil, fmt.Errorf("%w: period %s is published already (run %s); publishing it again replaces its grades and needs a regulator's reason",
					credtrace.ErrConflict, r.Period, cur.ID)
			}
			r.Replaces = cur.ID
		}
		r.Reason = reason
	}
	m, doc, err := s.MethodAt(ctx, p.Start)
	if err != nil {
		release()
		return Run{}, nil, err
	}
	r.Method, r.MethodHash = doc.Version, doc.Hash
	if err := s.write(ctx, runEntry(actorOf(c), r), func(st Store) error { return st.CreateRun(ctx, r) }); err != nil {
		release()
		return Run{}, nil, err
	}
	finish := func(ctx context.Context) (Run, error) {
		defer release()
		runErr := s.execute(ctx, m, &r, holder)
		r.FinishedAt = s.Now()
		r.Status = RunSucceeded
		if runErr != nil {
			r.Status, r.Error = RunFailed, runErr.Error()
		}
		r.Version++
		// The outcome is recorded even when the disk refused writes for a while (the run itself
		// may have failed for that reason): otherwise the run would read as running for ever.
		record := func(ctx context.Context) error {
			return s.write(ctx, runEntry(actorOf(c), r), func(st Store) error { return st.UpdateRun(ctx, r) })
		}
		if err := whenWritable(ctx, record); err != nil {
			return r, errors.Join(runErr, err)
		}
		if runErr != nil {
			return r, fmt.Errorf("scoring run %s: %w", r.ID, runErr)
		}
		if r.Replaces != "" {
			// Only once the new grades are in: until then the period keeps its old ones.
			if err := s.supersede(context.WithoutCancel(ctx), r.Replaces, r.ID); err != nil {
				return r, fmt.Errorf("scoring run %s: mark %s superseded: %w", r.ID, r.Replaces, err)
			}
		}
		return r, nil
	}
	return r, finish, nil
}

// closeInterrupted records as failed every run still marked running: under the run lease no
// other run is under way anywhere, so such a run's process stopped (kill -9, a lost host)
// before it could record its outcome, and would otherwise read as running for ever. Its
// scores, if any were stored, stay those of a failed run: never published.
func (s *Service) closeInterrupted(ctx context.Context, c credtrace.Caller, holder string) error {
	for {
		runs, err := s.store.Runs(ctx, RunQuery{Status: RunRunning, Limit: 100})
		if err != nil || len(runs) == 0 {
			return err
		}
		for _, r := range runs {
			r.Status, r.FinishedAt = RunFailed, s.Now()
			r.Error = fmt.Sprintf("interrupted: the process running it stopped before it finished (found when %s took the run lease)", holder)
			r.Version++
			if err := s.write(ctx, runEntry(actorOf(c), r), func(st Store) error { return st.UpdateRun(ctx, r) }); err != nil {
				return fmt.Errorf("scoring: close interrupted run %s: %w", r.ID, err)
			}
		}
	}
}

// writableWait bounds how long whenWritable retries: as long as a lease lasts, after which
// another instance may run and the write is moot.
const writableWait = leaseTTL

// whenWritable calls write until it returns anything but credtrace.Unavailable (the store
// cannot write for now: a full or read-only disk, a store away), waiting between tries from a
// quarter of a second up to five seconds, for writableWait at most or until ctx ends (a
// shutdown stops the waiting; a try under way is not cancelled, so that it is not half-done).
// It returns write's last error.
func whenWritable(ctx context.Context, write func(ctx context.Context) error) error {
	deadline := time.Now().Add(writableWait)
	wait := 250 * time.Millisecond
	for {
		err := write(context.WithoutCancel(ctx))
		if credtrace.KindOf(err) != credtrace.Unavailable || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// supersede marks a publishing run replaced by another; its scores are no longer published.
func (s *Service) supersede(ctx context.Context, oldID, newID string) error {
	old, err := s.store.Run(ctx, oldID)
	if err != nil {
		return err
	}
	if old.SupersededBy == "" {
		old.SupersededBy = newID
		old.Version++
		if err := s.store.UpdateRun(ctx, old); err != nil {
			return err
		}
	}
	return s.store.UnpublishScores(ctx, oldID)
}

// periodOf is the label of the period a run scored. Runs stored before periods were named
// were published on the 1st for the month just ended: the last period ended at their as-of.
func (s *Service) periodOf(r Run) string {
	if r.Period != "" {
		return r.Period
	}
	if r.Publish {
		return s.cal.LastEnded(r.AsOf).Label()
	}
	return s.cal.Of(r.AsOf).Label()
}

// periodOfRun is the period a run scored, in this calendar.
func (s *Service) periodOfRun(r Run) Period {
	if p, err := s.cal.Parse(s.periodOf(r)); err == nil {
		return p
	}
	// A period of another kind (the committee changed months to quarters): the one it ended in.
	return s.cal.LastEnded(r.AsOf)
}

// publications maps each published period's label to the run whose grades it publishes: of the
// succeeded, not superseded publishing runs of that period, the latest (so that a run replaced
// by one whose superseding mark was lost in a crash still counts once). The ladder and the
// reviews count these periods, never runs. Published runs are a handful a year, so all are read.
func (s *Service) publications(ctx context.Context) (map[string]Run, error) {
	runs, err := s.store.Runs(ctx, RunQuery{PublishedOnly: true})
	if err != nil {
		return nil, err
	}
	out := map[string]Run{}
	for _, r := range runs {
		label := s.periodOf(r)
		if cur, ok := out[label]; !ok || r.StartedAt.After(cur.StartedAt) || (r.StartedAt.Equal(cur.StartedAt) && r.ID > cur.ID) {
			out[label] = r
		}
	}
	return out, nil
}

// periodsBefore returns the publishing runs of the periods before p, newest first, as long as
// they follow each other in the calendar without a gap, at most n of them: "D in two periods
// in a row" means two calendar periods that follow each other.
func (s *Service) periodsBefore(pubs map[string]Run, p Period, n int) []Run {
	var out []Run
	for q := s.cal.Prev(p); len(out) < n; q = s.cal.Prev(q) {
		r, ok := pubs[q.Label()]
		if !ok {
			break
		}
		out = append(out, r)
	}
	return out
}

// Gather reads the inputs of a run as of asOf: the firms, sites and staff, the records in
// force then, the statistics of the window, ratings and commitments given before it. Its cost
// follows subjects, records and statistic rows, never raw events. It holds them all (the
// export and the replay); a run streams the staff and the statistics instead (stream.go).
func (s *Service) Gather(ctx context.Context, m Methodology, asOf time.Time) (Inputs, error) {
	in, err := s.gatherBase(ctx, m, asOf)
	if err != nil {
		return in, err
	}
	if err := s.staffPages(ctx, asOf, func(ps []StaffIn) error {
		in.Staff = append(in.Staff, ps...)
		return nil
	}); err != nil {
		return in, err
	}
	for _, kind := range []SubjectKind{Firm, Site, Staff} {
		totals, err := s.tracker.Totals(ctx, tracking.SubjectKind(kind), in.StatsFrom, statsTo(asOf))
		if err != nil {
			return in, err
		}
		byID := map[string]Counts{}
		for id, c := range totals {
			byID[id] = countsOf(c)
		}
		in.Stats[kind] = byID
	}
	return in, nil
}

// statsTo is the last day of the statistics window of a run as of asOf.
func statsTo(asOf time.Time) string { return tracking.Day(asOf.Add(-time.Millisecond)) }

// countsOf turns a subject's summed statistics into its Counts.
func countsOf(c map[tracking.Metric]int) Counts {
	return Counts{Handled: c[tracking.MHandled], Delivered: c[tracking.MDelivered], OnTime: c[tracking.MOnTime], Late: c[tracking.MLate],
		Lost: c[tracking.MLost], Damaged: c[tracking.MDamaged], Complaints: c[tracking.MComplaints], EmptySuspect: c[tracking.MEmptySuspect],
		LateShare: c[tracking.MLateShare], SlowPickup: c[tracking.MSlowPickup], SlowSorting: c[tracking.MSlowSorting],
		SlowLineHaul: c[tracking.MSlowLineHaul], SlowLastMile: c[tracking.MSlowLastMile], LateFallback: c[tracking.MLateFallback], CarriedShare: c[tracking.MCarriedShare]}
}

// staffPages hands the staff there were at asOf to fn a page at a time, in id order, each with
// the firm they worked for then.
func (s *Service) staffPages(ctx context.Context, asOf time.Time, fn func([]StaffIn) error) error {
	var out []StaffIn
	for p := (courier.Page{Limit: s.page}); ; {
		ps, err := s.archive.StaffList(ctx, courier.StaffQuery{Page: p})
		if err != nil {
			return err
		}
		out = out[:0]
		for _, person := range ps {
			if !person.CreatedAt.After(asOf) {
				out = append(out, StaffIn{ID: person.ID, FirmID: person.EmployerAt(asOf)})
			}
		}
		if err := fn(out); err != nil {
			return err
		}
		if len(ps) < p.Limit {
			return nil
		}
		p.After = ps[len(ps)-1].ID
	}
}

// gatherBase reads the inputs of a run as of asOf but the staff and the statistics: the firms
// and sites, the records in force, the ratings as they were and the commitments. A run holds
// these whole; its staff and statistics, by far the most rows, it streams.
func (s *Service) gatherBase(ctx context.Context, m Methodology, asOf time.Time) (Inputs, error) {
	in := Inputs{AsOf: asOf, Stats: map[SubjectKind]map[string]Counts{}, Commitments: map[string][]string{}}
	page := courier.Page{Limit: s.page}
	for p := page; ; {
		fs, err := s.archive.Firms(ctx, courier.FirmQuery{Page: p})
		if err != nil {
			return in, err
		}
		for _, f := range fs {
			if !f.CreatedAt.After(asOf) {
				in.Firms = append(in.Firms, FirmIn{ID: f.ID, ParentID: f.ParentID, Kind: string(f.Kind)})
			}
		}
		if len(fs) < p.Limit {
			break
		}
		p.After = fs[len(fs)-1].ID
	}
	for p := page; ; {
		ss, err := s.archive.Sites(ctx, courier.SiteQuery{Page: p})
		if err != nil {
			return in, err
		}
		for _, st := range ss {
			if !st.CreatedAt.After(asOf) {
				in.Sites = append(in.Sites, SiteIn{ID: st.ID, FirmID: st.FirmID})
			}
		}
		if len(ss) < p.Limit {
			break
		}
		p.After = ss[len(ss)-1].ID
	}
	for p := page; ; {
		rs, err := s.archive.Records(ctx, courier.RecordQuery{Page: p})
		if err != nil {
			return in, err
		}
		for _, rec := range rs {
			if st, ok := rec.StatusAt(asOf); ok && st.InForce() && !rec.OccurredAt.After(asOf) {
				in.Records = append(in.Records, RecordIn{ID: rec.ID, SubjectKind: SubjectKind(rec.Subject.Kind), SubjectID: rec.Subject.ID,
					Category: string(rec.Category), Severity: string(rec.Severity), OccurredAt: rec.OccurredAt, Status: string(st)})
			}
		}
		if len(rs) < p.Limit {
			break
		}
		p.After = rs[len(rs)-1].ID
	}
	in.StatsFrom = tracking.Day(asOf.AddDate(0, -m.WindowMonths, 0))
	var all []Rating
	for q := (RatingQuery{To: asOf, Limit: 5000}); ; {
		rs, err := s.store.Ratings(ctx, q)
		if err != nil {
			return in, err
		}
		all = append(all, rs...)
		if len(rs) < q.Limit {
			break
		}
		q.After = rs[len(rs)-1].ID
	}
	// A rating edited after asOf counts as it was then: its stars, tags and weight at the
	// latest version given at or before asOf (edits are allowed for days, so a run as of last
	// Monday must not read today's stars).
	for i, r := range all {
		if !r.UpdatedAt.After(asOf) {
			continue
		}
		hist, err := s.store.RatingHistory(ctx, r.ID)
		if err != nil {
			return in, err
		}
		found := false
		for _, v := range hist {
			if !v.UpdatedAt.After(asOf) && (!found || v.Version > all[i].Version) {
				all[i], found = v, true
			}
		}
		// Without a version of then (a rating stored before versions were kept and edited
		// since), the current one is the best there is.
	}
	in.Ratings = reassess(m, all, treeRoots(in.Firms))
	for p := page; ; {
		cs, err := s.archive.Commitments(ctx, courier.CommitmentQuery{Page: p})
		if err != nil {
			return in, err
		}
		for _, c := range cs {
			if !c.SignedAt.After(asOf) {
				k := key(SubjectKind(c.Subject.Kind), c.Subject.ID)
				in.Commitments[k] = append(in.Commitments[k], c.ID)
			}
		}
		if len(cs) < p.Limit {
			break
		}
		p.After = cs[len(cs)-1].ID
	}
	return in, nil
}

// reassess applies the burst rule over all ratings at once, so that the first ratings of a
// burst count as little as the last; the empty-parcel flag given at rating time stays. roots
// maps a firm to the root of its tree (a firm not in it is its own root); it matters only
// under a methodology that counts bursts per tree.
func reassess(m Methodology, rs []Rating, roots map[string]string) []Rating {
	byRater := map[string][]int{}
	for i, r := range rs {
		k := burstKey(m, r, roots)
		byRater[k] = append(byRater[k], i)
	}
	out := append([]Rating(nil), rs...)
	if m.BurstPace > 0 {
		// Judged afresh: a flag given on arrival saw fewer of the rater's ratings.
		for i := range out {
			out[i] = withoutBurst(out[i])
		}
	}
	for _, idx := range byRater {
		rater := make([]Rating, len(idx))
		for n, i := range idx {
			rater[n] = out[i]
		}
		for _, i := range idx {
			r := &out[i]
			if ones := burstOnes(m, *r, rater); ones >= m.BurstCount && !hasFlag(r.Flags, FlagBurst) {
				r.Weight = min(r.Weight, m.BurstWeight)
				r.Flags = append(append([]string(nil), r.Flags...), burstFlag(ones))
			}
		}
	}
	return out
}

// withoutBurst is r without its burst flags and the weight they took: a one-star rating weighs
// less than one by the burst rule only.
func withoutBurst(r Rating) Rating {
	if !hasFlag(r.Flags, FlagBurst) {
		return r
	}
	var flags []string
	for _, f := range r.Flags {
		if FlagKindOf(f) != FlagBurst {
			flags = append(flags, f)
		}
	}
	r.Flags = flags
	if r.Stars == 1 {
		r.Weight = 1
	}
	return r
}

// RejudgeBursts returns in's ratings weighed by m's burst rule alone, whatever rule flagged
// them before: each burst flag and the weight it took dropped, then m's rule applied over them
// all, as a run under m reads them when every rating was given under m too. The validity bench
// recomputes a version over a run of another with it.
func RejudgeBursts(m Methodology, in Inputs) []Rating {
	rs := make([]Rating, len(in.Ratings))
	for i, r := range in.Ratings {
		rs[i] = withoutBurst(r)
	}
	return reassess(m, rs, treeRoots(in.Firms))
}

// burstKey names the ratings one burst is counted among: the rater's, and under BurstPerTree
// only those of the same firm tree.
func burstKey(m Methodology, r Rating, roots map[string]string) string {
	k := string(r.RaterKind) + "|" + r.RaterID
	if m.BurstScope == BurstPerTree {
		k += "|" + rootOf(roots, r.FirmID)
	}
	return k
}

// rootOf is firm's tree root in roots, the firm itself when roots does not know it.
func rootOf(roots map[string]string, firm string) string {
	if r, ok := roots[firm]; ok {
		return r
	}
	return firm
}

// treeRoots maps each firm to the root of its tree: the ancestor without a parent (a parent
// the firms do not hold, or a loop, ends the climb where it is).
func treeRoots(firms []FirmIn) map[string]string {
	parent := make(map[string]string, len(firms))
	for _, f := range firms {
		parent[f.ID] = f.ParentID
	}
	roots := make(map[string]string, len(firms))
	for _, f := range firms {
		at, seen := f.ID, map[string]bool{}
		for {
			p, ok := parent[at]
			if !ok || p == "" || seen[p] {
				break
			}
			seen[at], at = true, p
		}
		roots[f.ID] = at
	}
	return roots
}
