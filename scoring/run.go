package scoring

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// LeaseName is the lease every scoring run takes, so that one instance runs at a time.
const LeaseName = "scoring"

// leaseTTL is how long a run's lease lasts without renewal; a crashed instance's lease lapses.
const leaseTTL = 10 * time.Minute

// StartRun records a run and runs it to the end (the scheduler and `credtrace score`). It
// answers ErrLeaseHeld when another instance is running one.
func (s *Service) StartRun(ctx context.Context, c Caller, asOf time.Time, trigger string, publish bool) (Run, error) {
	_, finish, err := s.BeginRun(ctx, c, asOf, trigger, publish)
	if err != nil {
		return Run{}, err
	}
	return finish(ctx)
}

// BeginRun takes the lease and records a run as running; finish computes it, records the
// outcome and gives the lease up. The API answers after BeginRun and lets finish go on, so that
// GET /v1/scoring/runs/{id} shows the progress.
func (s *Service) BeginRun(ctx context.Context, c Caller, asOf time.Time, trigger string, publish bool) (Run, func(context.Context) (Run, error), error) {
	if c.Role != "regulator" {
		return Run{}, nil, ErrForbidden
	}
	now := s.Now()
	if asOf.IsZero() {
		asOf = now
	}
	asOf = asOf.UTC().Truncate(time.Millisecond)
	if asOf.After(now) {
		return Run{}, nil, invalid("as_of", "must not be in the future")
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
	release := func() { s.store.ReleaseLease(context.Background(), LeaseName, holder) }
	m, doc, err := s.MethodAt(ctx, asOf)
	if err != nil {
		release()
		return Run{}, nil, err
	}
	r := Run{ID: newID(), AsOf: asOf, Method: doc.Version, MethodHash: doc.Hash, Trigger: trigger, Publish: publish, Status: RunRunning, StartedAt: now, Version: 1}
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
		if err := s.write(context.WithoutCancel(ctx), runEntry(actorOf(c), r), func(st Store) error { return st.UpdateRun(context.WithoutCancel(ctx), r) }); err != nil {
			return r, errors.Join(runErr, err)
		}
		if runErr != nil {
			return r, fmt.Errorf("scoring run %s: %w", r.ID, runErr)
		}
		return r, nil
	}
	return r, finish, nil
}

// execute gathers the inputs as of the run's time, scores, stores, and (for a publishing run)
// turns the grades into proposals; every run lifts sanctions whose records were repaired.
func (s *Service) execute(ctx context.Context, m Methodology, r *Run, holder string) error {
	in, err := s.Gather(ctx, m, r.AsOf)
	if err != nil {
		return fmt.Errorf("gather inputs: %w", err)
	}
	r.Inputs = map[string]int{"firms": len(in.Firms), "sites": len(in.Sites), "staff": len(in.Staff), "records": len(in.Records), "ratings": len(in.Ratings)}
	for kind, byID := range in.Stats {
		r.Inputs["stat_subjects_"+string(kind)] = len(byID)
	}
	scores := Compute(m, in, r.ID)
	r.Total = len(scores)
	for i := range scores {
		scores[i].Published, scores[i].MethodHash = r.Publish, r.MethodHash
	}
	for i := 0; i < len(scores); i += 1000 {
		end := min(i+1000, len(scores))
		if err := s.store.PutScores(ctx, scores[i:end]); err != nil {
			return fmt.Errorf("store scores: %w", err)
		}
		r.Progress = end
		// Keep the lease while a long run goes on, and show the progress.
		now := s.Now()
		if ok, err := s.store.AcquireLease(ctx, LeaseName, holder, now.Add(leaseTTL), now); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("lost the scoring lease to another instance: %w", ErrLeaseHeld)
		}
		r.Version++
		if err := s.store.UpdateRun(ctx, *r); err != nil {
			return err
		}
	}
	if r.Publish {
		n, err := s.propose(ctx, m, *r, scores, in)
		if err != nil {
			return fmt.Errorf("proposals: %w", err)
		}
		r.Proposals = n
	}
	return s.liftRepaired(ctx)
}

// statusAt is a record's status at t from its history; ok is false before it existed.
func statusAt(rec courier.Record, t time.Time) (courier.RecordStatus, bool) {
	if rec.CreatedAt.After(t) {
		return "", false
	}
	st := courier.StatusPending
	for _, h := range rec.History {
		if h.At.After(t) {
			break
		}
		st = h.To
	}
	return st, true
}

// Gather reads the inputs of a run as of asOf: the firms, sites and staff, the records in
// force then, the statistics of the window, ratings and commitments given before it. Its cost
// follows subjects, records and statistic rows, never raw events.
func (s *Service) Gather(ctx context.Context, m Methodology, asOf time.Time) (Inputs, error) {
	in := Inputs{AsOf: asOf, Stats: map[SubjectKind]map[string]Counts{}, Commitments: map[string][]string{}}
	page := courier.Page{Limit: courier.MaxLimit}
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
		ps, err := s.archive.StaffList(ctx, courier.StaffQuery{Page: p})
		if err != nil {
			return in, err
		}
		for _, person := range ps {
			if !person.CreatedAt.After(asOf) {
				in.Staff = append(in.Staff, StaffIn{ID: person.ID, FirmID: person.EmployerAt(asOf)})
			}
		}
		if len(ps) < p.Limit {
			break
		}
		p.After = ps[len(ps)-1].ID
	}
	for p := page; ; {
		rs, err := s.archive.Records(ctx, courier.RecordQuery{Page: p})
		if err != nil {
			return in, err
		}
		for _, rec := range rs {
			if st, ok := statusAt(rec, asOf); ok && st.InForce() && !rec.OccurredAt.After(asOf) {
				in.Records = append(in.Records, RecordIn{ID: rec.ID, SubjectKind: SubjectKind(rec.Subject.Kind), SubjectID: rec.Subject.ID,
					Category: string(rec.Category), Severity: string(rec.Severity), OccurredAt: rec.OccurredAt})
			}
		}
		if len(rs) < p.Limit {
			break
		}
		p.After = rs[len(rs)-1].ID
	}
	from := tracking.Day(asOf.AddDate(0, -m.WindowMonths, 0))
	to := tracking.Day(asOf.Add(-time.Millisecond))
	in.StatsFrom = from
	for _, kind := range []SubjectKind{Firm, Site, Staff} {
		totals, err := s.tracker.Totals(ctx, tracking.SubjectKind(kind), from, to)
		if err != nil {
			return in, err
		}
		byID := map[string]Counts{}
		for id, c := range totals {
			byID[id] = Counts{Handled: c[tracking.MHandled], Delivered: c[tracking.MDelivered], OnTime: c[tracking.MOnTime], Late: c[tracking.MLate],
				Lost: c[tracking.MLost], Damaged: c[tracking.MDamaged], Complaints: c[tracking.MComplaints]}
		}
		in.Stats[kind] = byID
	}
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
	in.Ratings = reassess(m, all)
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
// burst count as little as the last; the empty-parcel flag given at rating time stays.
func reassess(m Methodology, rs []Rating) []Rating {
	byRater := map[string][]int{}
	for i, r := range rs {
		k := string(r.RaterKind) + "|" + r.RaterID
		byRater[k] = append(byRater[k], i)
	}
	out := append([]Rating(nil), rs...)
	for _, idx := range byRater {
		sort.Slice(idx, func(a, b int) bool { return out[idx[a]].UpdatedAt.Before(out[idx[b]].UpdatedAt) })
		for _, i := range idx {
			r := &out[i]
			if r.Stars != 1 {
				continue
			}
			// The most one-stars in any 24-hour window that holds this one.
			ones := 0
			for _, a := range idx {
				start := out[a].UpdatedAt
				if out[a].Stars != 1 || start.After(r.UpdatedAt) || r.UpdatedAt.Sub(start) >= 24*time.Hour {
					continue
				}
				n := 0
				for _, j := range idx {
					o := out[j]
					if o.Stars == 1 && !o.UpdatedAt.Before(start) && o.UpdatedAt.Sub(start) < 24*time.Hour {
						n++
					}
				}
				ones = max(ones, n)
			}
			flag := fmt.Sprintf("burst: %d one-star ratings by this rater within 24 hours", ones)
			has := false
			for _, f := range r.Flags {
				has = has || len(f) > 6 && f[:6] == "burst:"
			}
			if ones >= m.BurstCount && !has {
				r.Weight = min(r.Weight, m.BurstWeight)
				r.Flags = append(append([]string(nil), r.Flags...), flag)
			}
		}
	}
	return out
}
