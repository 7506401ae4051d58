package tracking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
)

// Retraction is an event of a parcel declared erroneous by the carrier that sent it (EPCIS
// errorDeclaration): the event stays stored, and shown as retracted, but the parcel's summary
// and statistics are those of its other events.
type Retraction struct {
	Carrier       string
	Waybill       string
	EventID       string   // the id as declared
	EventIDs      []string // the parcel's stored events it retracts: the id, or what it became (<id>#i, <id>~<waybill>)
	Reason        string
	DeclaredAt    time.Time
	CorrectiveIDs []string
	By            string // the token that declared it
	At            time.Time
}

// Key identifies the retraction: one declaration of one event for one parcel.
func (r Retraction) Key() string { return r.Carrier + "|" + r.EventID + "|" + r.Waybill }

// Parcel is the key of the parcel whose events r retracts.
func (r Retraction) Parcel() ParcelKey { return ParcelKey{Carrier: r.Carrier, Waybill: r.Waybill} }

// Retracted is an event of a trace declared erroneous.
type Retracted struct {
	Event      Event
	Reason     string
	DeclaredAt time.Time
	At         time.Time
	Corrective []string
}

// RetractInput declares an event erroneous.
type RetractInput struct {
	Carrier       string
	EventID       string
	Reason        string
	DeclaredAt    time.Time
	CorrectiveIDs []string
}

// maxReason bounds a declaration's reason.
const maxReason = 200

// Retract undoes the effect of an event declared erroneous, exactly: for each parcel the event
// was stored for (a container scan's parcels, a multi-EPC event's), it rebuilds the summary
// from the parcel's other events, folded from nothing in the order they were folded, and moves
// the statistics by the difference between the fold with the event and the fold without it;
// the keyed statistics the folds name (revivals, empty-parcel withdrawals) follow the same
// difference. Summary, statistics, the retraction and its audit entry land in one Atomic
// block. Declaring it again changes nothing (Duplicate). Only the carrier's tree that sent the
// event (its scanning firm) may retract it; another firm's is answered as no such event, a
// regulator's declaration is rejected. A LinkResult answers it: Links counts the parcels.
// An id that names no ObjectEvent but an aggregation or transaction is retracted by
// retractLinks.
func (s *Service) Retract(ctx context.Context, c credtrace.Caller, in RetractInput) (LinkResult, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return LinkResult{}, credtrace.ErrForbidden
	}
	res := LinkResult{ID: strings.TrimSpace(in.EventID)}
	reject := func(why string) (LinkResult, error) {
		res.Status, res.Reason = Rejected, why
		return res, nil
	}
	switch {
	case c.Role != credtrace.RoleFirm:
		return reject("errorDeclaration: only the carrier that sent the event may declare it erroneous")
	case res.ID == "" || len(res.ID) > maxIDLength:
		return reject(fmt.Sprintf("eventID: required, at most %d characters", maxIDLength))
	case len([]rune(in.Reason)) > maxReason:
		return reject(fmt.Sprintf("errorDeclaration.reason: at most %d characters", maxReason))
	case in.DeclaredAt.IsZero():
		return reject("errorDeclaration.declarationTime: required")
	}
	p := s.pipe
	if p == nil {
		return LinkResult{}, errNoPipeline
	}
	p.mu.Lock() // no fold in this process between the read of the events and the save
	defer p.mu.Unlock()
	if err := p.flushLocked(ctx); err != nil {
		return LinkResult{}, err
	}
	// Where several processes fold, one may save a summary of the parcel meanwhile: the
	// retraction is then computed again from the events.
	for attempt := 0; ; attempt++ {
		out, err := s.retract(ctx, c, in, res)
		if !errors.Is(err, credtrace.ErrConflict) || attempt == 5 {
			return out, err
		}
	}
}

// retract is Retract under the pipeline's lock.
func (s *Service) retract(ctx context.Context, c credtrace.Caller, in RetractInput, res LinkResult) (LinkResult, error) {
	p, carrier := s.pipe, strings.TrimSpace(in.Carrier)
	evs, err := s.store.EventsByID(ctx, carrier, res.ID)
	if err != nil {
		return LinkResult{}, fmt.Errorf("retract %s: %w", res.ID, err)
	}
	byParcel := map[ParcelKey][]string{}
	var parcels []ParcelKey
	for _, e := range evs {
		ok, err := s.inTree(ctx, c.FirmID, e.FirmID)
		if err != nil {
			return LinkResult{}, err
		}
		if !ok {
			continue
		}
		if _, seen := byParcel[e.Parcel()]; !seen {
			parcels = append(parcels, e.Parcel())
		}
		byParcel[e.Parcel()] = append(byParcel[e.Parcel()], e.ID)
	}
	if len(parcels) == 0 {
		return s.retractLinks(ctx, c, carrier, in, res)
	}
	sort.Slice(parcels, func(i, j int) bool { return parcels[i].String() < parcels[j].String() })
	type plan struct {
		r      Retraction
		parcel Parcel
		deltas []StatDelta
		srcs   []statSource
	}
	var plans []plan
	now := s.Now()
	for _, k := range parcels {
		live, gone, err := s.liveEvents(ctx, k)
		if err != nil {
			return LinkResult{}, err
		}
		targets := map[string]bool{}
		for _, id := range byParcel[k] {
			if !slices.ContainsFunc(gone, func(g Retracted) bool { return g.Event.ID == id }) {
				targets[id] = true
			}
		}
		if len(targets) == 0 {
			continue // retracted before
		}
		stored, err := s.store.ParcelsByKey(ctx, []ParcelKey{k})
		if err != nil {
			return LinkResult{}, err
		}
		before, err := s.refoldParcel(ctx, k, live, stored[k].Folded)
		if err != nil {
			return LinkResult{}, err
		}
		var rest []Event
		for _, e := range live {
			if !targets[e.ID] {
				rest = append(rest, e)
			}
		}
		after, err := s.refoldParcel(ctx, k, rest, stored[k].Folded)
		if err != nil {
			return LinkResult{}, err
		}
		pc := after.parcel
		pc.UpdatedAt, pc.Version = now, stored[k].Version
		if p.shared {
			pc.Version++
		}
		ids := make([]string, 0, len(targets))
		for id := range targets {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		r := Retraction{Carrier: k.Carrier, Waybill: k.Waybill, EventID: res.ID, EventIDs: ids, Reason: in.Reason,
			DeclaredAt: in.DeclaredAt.UTC().Truncate(time.Millisecond), CorrectiveIDs: in.CorrectiveIDs, By: c.TokenID, At: now}
		pl := plan{r: r, parcel: pc, deltas: diffDeltas(after.deltas, before.deltas)}
		// Keyed statistics the fold with the event named and the fold without it does not are
		// taken back under one key of the retraction; those only the fold without it names are
		// added by their own keys (nothing when already added).
		var undo []StatDelta
		for key, src := range before.sources {
			if _, ok := after.sources[key]; !ok {
				for _, d := range src.deltas {
					d.N = -d.N
					undo = append(undo, d)
				}
			}
		}
		if len(undo) > 0 {
			pl.srcs = append(pl.srcs, statSource{key: "retracted|" + r.Key(), deltas: undo})
		}
		for _, key := range slices.Sorted(mapKeys(after.sources)) {
			if _, ok := before.sources[key]; !ok {
				pl.srcs = append(pl.srcs, after.sources[key])
			}
		}
		plans = append(plans, pl)
	}
	if len(plans) == 0 {
		res.Status = Duplicate
		return res, nil
	}
	write := func(st Store) error {
		for _, pl := range plans {
			ok, err := st.Retract(ctx, pl.r, pl.parcel, pl.deltas)
			if err != nil {
				return fmt.Errorf("retract %s of %s: %w", res.ID, pl.r.Waybill, err)
			}
			if !ok {
				continue // another process declared it meanwhile
			}
			res.Links++
			if err := applySources(ctx, st, pl.srcs); err != nil {
				return err
			}
		}
		return nil
	}
	if s.opts.Auditor != nil {
		err = s.opts.Auditor.Atomic(ctx, func(st Store, audit func(actor, action, entity, id, detail string) error) error {
			if err := write(st); err != nil {
				return err
			}
			for _, pl := range plans {
				detail := fmt.Sprintf("carrier=%s waybill=%s events=%s corrective=%s", pl.r.Carrier, pl.r.Waybill,
					strings.Join(pl.r.EventIDs, ","), strings.Join(pl.r.CorrectiveIDs, ","))
				if err := audit(c.TokenID, "event.retract", "event", pl.r.Carrier+"|"+res.ID, detail); err != nil {
					return err
				}
			}
			return nil
		})
	} else {
		err = s.store.Atomic(ctx, write)
	}
	if err != nil {
		return LinkResult{}, err
	}
	for _, pl := range plans {
		p.parcels.put(pl.parcel)
	}
	res.Status = Accepted
	if res.Links == 0 {
		res.Status = Duplicate
	}
	return res, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// diffDeltas is after − before, per statistics key and metric, without zeros, in key order.
func diffDeltas(after, before []StatDelta) []StatDelta {
	type km struct {
		k StatKey
		m Metric
	}
	sum := map[km]int{}
	for _, d := range after {
		sum[km{d.Key, d.Metric}] += d.N
	}
	for _, d := range before {
		sum[km{d.Key, d.Metric}] -= d.N
	}
	var out []StatDelta
	for x, n := range sum {
		if n != 0 {
			out = append(out, StatDelta{Key: x.k, Metric: x.m, N: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key.String() < out[j].Key.String()
		}
		return out[i].Metric < out[j].Metric
	})
	return out
}

// parcelFold is a parcel folded from nothing: its summary, the deltas its events moved and the
// keyed statistics the folds named.
type parcelFold struct {
	parcel  Parcel
	deltas  []StatDelta
	sources map[string]statSource
}

// refoldParcel folds evs from nothing in the order a summary folded them (folded, when the
// store keeps it; else by time of receipt), as the consistency check does.
func (s *Service) refoldParcel(ctx context.Context, k ParcelKey, evs []Event, folded []string) (parcelFold, error) {
	evs = slices.Clone(evs)
	foldOrder(evs, folded)
	out := parcelFold{sources: map[string]statSource{}}
	if len(evs) == 0 {
		out.parcel = blankParcel(k)
		return out, nil
	}
	if err := s.withRoots(ctx, evs); err != nil {
		return parcelFold{}, err
	}
	cfg, err := s.config(ctx, s.store, k.Carrier)
	if err != nil {
		return parcelFold{}, err
	}
	reuse := newReuseCheck(s.store, nil)
	for i := range evs {
		e := evs[i]
		e.Deltas, e.sources = nil, nil
		if out.parcel.Waybill == "" {
			a, err := reuse.check(ctx, &e)
			if err != nil {
				return parcelFold{}, err
			}
			e.reused = len(a) > 0
		}
		s.fold(&out.parcel, &e, cfg, s.opts)
		if len(folded) > 0 {
			out.parcel.Folded = append(out.parcel.Folded, e.Key())
		}
		out.deltas = append(out.deltas, e.Deltas...)
		for _, src := range e.sources {
			out.sources[src.key] = src
		}
	}
	return out, nil
}

// blankParcel is the summary of a parcel whose every event was retracted.
func blankParcel(k ParcelKey) Parcel {
	return Parcel{Waybill: k.Waybill, Carrier: k.Carrier, Carriers: []string{k.Carrier}}
}

// foldOrder sorts a parcel's events into the order its summary folded them: folded (the keys,
// where the store keeps them), else by time of receipt, then as a batch is sorted.
func foldOrder(evs []Event, folded []string) {
	order := map[string]int{}
	for i, key := range folded {
		order[key] = i
	}
	sort.SliceStable(evs, func(a, b int) bool {
		if len(folded) > 0 {
			return order[evs[a].Key()] < order[evs[b].Key()]
		}
		if !evs[a].ReceivedAt.Equal(evs[b].ReceivedAt) {
			return evs[a].ReceivedAt.Before(evs[b].ReceivedAt)
		}
		return eventLess(evs[a], evs[b])
	})
}

// liveEvents returns a parcel's stored events that are not retracted, and the retracted ones.
func (s *Service) liveEvents(ctx context.Context, k ParcelKey) ([]Event, []Retracted, error) {
	evs, err := s.store.ParcelEvents(ctx, k)
	if err != nil || len(evs) == 0 {
		return evs, nil, err
	}
	rs, err := s.store.Retractions(ctx, k)
	if err != nil || len(rs) == 0 {
		return evs, nil, err
	}
	by := map[string]Retraction{}
	for _, r := range rs {
		for _, id := range r.EventIDs {
			by[id] = r
		}
	}
	live := evs[:0:0]
	var gone []Retracted
	for _, e := range evs {
		if r, ok := by[e.ID]; ok {
			gone = append(gone, Retracted{Event: e, Reason: r.Reason, DeclaredAt: r.DeclaredAt, At: r.At, Corrective: r.CorrectiveIDs})
			continue
		}
		live = append(live, e)
	}
	sort.Slice(gone, func(i, j int) bool { return eventLess(gone[i].Event, gone[j].Event) })
	return live, gone, nil
}

// retractLinks retracts the aggregation or transaction event id of carrier: every link it
// stored is marked retracted (kept, with the reason and time), so contents, stays and orders
// leave it out from then on. Scans of a container already expanded into per-parcel events
// stay as they are: they are events, and can be declared erroneous on their own. The marks
// and the audit entry land in one Atomic block; Links counts the links marked.
func (s *Service) retractLinks(ctx context.Context, c credtrace.Caller, carrier string, in RetractInput, res LinkResult) (LinkResult, error) {
	reject := func(why string) (LinkResult, error) {
		res.Status, res.Reason = Rejected, why
		return res, nil
	}
	none := "eventID: no event " + res.ID + " sent by your firm tree for carrier " + carrier
	ls, err := s.store.EventLinks(ctx, carrier, res.ID)
	if err != nil {
		return LinkResult{}, fmt.Errorf("retract %s: %w", res.ID, err)
	}
	if len(ls) == 0 {
		return reject(none)
	}
	// Links carry no scanning firm: the carrier is the one Pack or LinkOrder checked the
	// sender's tree against.
	if ok, err := s.inTree(ctx, c.FirmID, carrier); err != nil {
		return LinkResult{}, err
	} else if !ok {
		return reject(none)
	}
	mark := &LinkRetraction{Reason: in.Reason, DeclaredAt: in.DeclaredAt.UTC().Truncate(time.Millisecond), CorrectiveIDs: in.CorrectiveIDs,
		By: c.TokenID, At: s.Now()}
	var live []Link
	for _, l := range ls {
		if l.Retracted == nil {
			l.Retracted = mark
			live = append(live, l)
		}
	}
	if len(live) == 0 {
		res.Status = Duplicate
		return res, nil
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Key() < live[j].Key() })
	write := func(st Store) error {
		marked, err := st.RetractLinks(ctx, live)
		if err != nil {
			return fmt.Errorf("retract links of %s: %w", res.ID, err)
		}
		for _, ok := range marked {
			if ok {
				res.Links++
			}
		}
		return nil
	}
	if s.opts.Auditor != nil {
		err = s.opts.Auditor.Atomic(ctx, func(st Store, audit func(actor, action, entity, id, detail string) error) error {
			if err := write(st); err != nil {
				return err
			}
			wbs := make([]string, 0, len(live))
			for _, l := range live {
				if !slices.Contains(wbs, l.Waybill) {
					wbs = append(wbs, l.Waybill)
				}
			}
			detail := fmt.Sprintf("carrier=%s kind=%s waybills=%s corrective=%s", carrier, live[0].Kind, strings.Join(wbs, ","),
				strings.Join(in.CorrectiveIDs, ","))
			return audit(c.TokenID, "link.retract", "event", carrier+"|"+res.ID, detail)
		})
	} else {
		err = s.store.Atomic(ctx, write)
	}
	if err != nil {
		return LinkResult{}, err
	}
	res.Status = Accepted
	if res.Links == 0 {
		res.Status = Duplicate
	}
	return res, nil
}
