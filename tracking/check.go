package tracking

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"
)

// SourceLister is what Check needs besides a Store to rebuild the statistics: the statistics
// added by source (Store.AddStats: deemed losses, withdrawals, incidents), which no event
// carries. A store without it is checked on its summaries only.
type SourceLister interface {
	StatSources(ctx context.Context) ([]StatSource, error)
}

// Check is the consistency check of the derived state: it rebuilds every parcel summary from
// the parcel's stored events but those retracted, folded from nothing in the order the summary
// folded them (Parcel.Folded; by time of receipt where a store keeps no order), and the statistics from
// the rebuilt events' deltas plus the stored sources; and lists every difference from what is
// stored. None is the answer for a store that lost and counted twice nothing, whatever the
// number of replicas that wrote it. Only the waybill reuse signal is rebuilt against the
// carriers stored now, not those stored when the parcel began. It reads everything: a tool
// for tests and audits, not for a hot path.
func (s *Service) Check(ctx context.Context) ([]string, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	var diffs []string
	want := map[StatKey]map[Metric]int{}
	add := func(ds []StatDelta) {
		for _, d := range ds {
			if want[d.Key] == nil {
				want[d.Key] = map[Metric]int{}
			}
			want[d.Key][d.Metric] += d.N
		}
	}
	q := ParcelQuery{Limit: 1000}
	for {
		ps, err := s.store.Parcels(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
		for _, stored := range ps {
			d, err := s.rebuild(ctx, stored, add)
			if err != nil {
				return nil, fmt.Errorf("check %s: %w", stored.Key(), err)
			}
			diffs = append(diffs, d...)
		}
		if len(ps) < q.Limit {
			break
		}
		q.After = ps[len(ps)-1].Key().String()
	}
	lister, ok := s.store.(SourceLister)
	if !ok {
		return diffs, nil
	}
	srcs, err := lister.StatSources(ctx)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	for _, src := range srcs {
		add(src.Deltas)
	}
	got, err := s.store.Stats(ctx, StatsQuery{})
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	have := map[StatKey]map[Metric]int{}
	for _, ds := range got {
		have[ds.Key] = ds.Counts
	}
	keys := map[StatKey]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range have {
		keys[k] = true
	}
	var lines []string
	for k := range keys {
		metrics := map[Metric]bool{}
		for m := range want[k] {
			metrics[m] = true
		}
		for m := range have[k] {
			metrics[m] = true
		}
		for m := range metrics {
			if w, h := want[k][m], have[k][m]; w != h {
				lines = append(lines, fmt.Sprintf("statistics %s %s: stored %d, rebuilt %d", k, m, h, w))
			}
		}
	}
	sort.Strings(lines)
	return append(diffs, lines...), nil
}

// rebuild folds the stored events of parcel stored from nothing, adds their deltas with add,
// and returns how the summary it gets differs from stored.
func (s *Service) rebuild(ctx context.Context, stored Parcel, add func([]StatDelta)) ([]string, error) {
	k := stored.Key()
	evs, _, err := s.liveEvents(ctx, k)
	if err != nil {
		return nil, err
	}
	var diffs []string
	order := map[string]int{}
	for i, key := range stored.Folded {
		order[key] = i
	}
	for _, e := range evs {
		if _, ok := order[e.Key()]; len(stored.Folded) > 0 && !ok {
			diffs = append(diffs, fmt.Sprintf("parcel %s: event %s is stored but not folded into the summary", k, e.Key()))
		}
	}
	foldOrder(evs, stored.Folded)
	if err := s.withRoots(ctx, evs); err != nil {
		return nil, err
	}
	cfg, err := s.config(ctx, s.store, k.Carrier)
	if err != nil {
		return nil, err
	}
	var pc Parcel
	reuse := newReuseCheck(s.store, nil)
	for i := range evs {
		e := evs[i]
		e.Deltas, e.sources = nil, nil
		if pc.Waybill == "" {
			a, err := reuse.check(ctx, &e)
			if err != nil {
				return nil, err
			}
			e.reused = len(a) > 0
		}
		s.fold(&pc, &e, cfg, s.opts)
		if len(stored.Folded) > 0 {
			pc.Folded = append(pc.Folded, e.Key())
		}
		add(e.Deltas)
	}
	if len(evs) == 0 { // every event retracted
		pc = blankParcel(k)
	}
	want, got := comparable(pc), comparable(stored)
	if !reflect.DeepEqual(want, got) {
		diffs = append(diffs, fmt.Sprintf("parcel %s: stored %+v, rebuilt %+v", k, got, want))
	}
	return diffs, nil
}

// comparable drops from p what the check does not rebuild (when it was saved, how often) and
// puts its times in one zone.
func comparable(p Parcel) Parcel {
	p.UpdatedAt, p.Version = time.Time{}, 0
	for _, t := range []*time.Time{&p.StatusAt, &p.HolderAt, &p.CollectedAt, &p.DeliveredAt, &p.FirstAt, &p.LastAt, &p.PromiseBy} {
		if t.IsZero() {
			*t = time.Time{}
		} else {
			*t = t.UTC()
		}
	}
	if len(p.Carriers) == 0 {
		p.Carriers = nil
	}
	if len(p.Handled) == 0 {
		p.Handled = nil
	}
	p.Handled = slices.Clone(p.Handled)
	p.Custody = slices.Clone(p.Custody)
	for i := range p.Custody {
		p.Custody[i].At = p.Custody[i].At.UTC()
	}
	if len(p.Custody) == 0 {
		p.Custody = nil
	}
	if len(p.Delay) == 0 {
		p.Delay = nil
	}
	return p
}
