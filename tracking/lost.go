package tracking

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// statSource is statistics added once by key (Store.AddStats): whoever names a source first
// adds it, every later naming adds nothing. Deemed losses and empty-parcel withdrawals are
// sources rather than event deltas because two parties may name them (the scheduled scan on
// any replica, and the fold of a later event), in either order.
type statSource struct {
	key    string
	deltas []StatDelta
}

// applySources adds each source once.
func applySources(ctx context.Context, st Store, srcs []statSource) error {
	for _, src := range srcs {
		if err := st.AddStats(ctx, src.key, src.deltas); err != nil {
			return fmt.Errorf("add statistics %s: %w", src.key, err)
		}
	}
	return nil
}

// reviveMargin widens the window in which a scan revives a parcel: a deemed-lost scan that
// read the summary just before this event's batch was written may count the loss at a time a
// little later than the event was received. Naming a revival that was not needed costs
// nothing (the pair of sources nets to zero).
const reviveMargin = time.Hour

// delivery-stage statuses: the parcel reached the city it is delivered in.
func deliveryStage(c Code) bool {
	return c == OutForDelivery || c == HeldForPickup || c == DeliveryFailed
}

// totalDelay is how far past its promise p is deemed lost. The parcel knows where it was
// collected and last scanned, not where it goes: only a parcel out for delivery (or waiting
// for pickup, or failed at the door) in the city it was collected in is known to travel
// within that city (the first 4 digits of a region code are the city). Every other parcel,
// region unknown included, gets the between-cities limit: deeming a parcel lost accuses its
// holder, so the doubt goes to the longer limit, never to the shorter.
func (p Parcel) totalDelay(o Options) time.Duration {
	if len(p.CollectedRegion) == 6 && len(p.LastRegion) == 6 && p.CollectedRegion[:4] == p.LastRegion[:4] && deliveryStage(p.Status) {
		return o.TotalDelayWithinCity
	}
	return o.TotalDelayBetweenCities
}

// deemable reports whether p, as it stands, is deemed lost at time at: collected, still open,
// neither lost by a scan nor an empty-parcel suspect (a fake parcel that stops is a fake, not
// a loss: it counts as empty_suspect), and past its lost deadline.
func (p Parcel) deemable(o Options, at time.Time) bool {
	return !p.Final && !p.Lost && !p.Empty && !p.PromiseBy.IsZero() && p.lostAt(o).Before(at)
}

// lostAt is when p is deemed lost if nothing more is heard of it: the total delay after its
// promise, or after its last scan when that came later. A scan after the promise shows the
// parcel is still somewhere (it revives a deemed loss); only a parcel silent for the whole
// total delay since is lost, as the standard means it: one that stops being scanned.
func (p Parcel) lostAt(o Options) time.Time {
	from := p.PromiseBy
	if p.LastAt.After(from) {
		from = p.LastAt
	}
	return from.Add(p.totalDelay(o))
}

// deemedLost is the loss counted for p in its current state: the parcel counts as lost and as
// late (a lost parcel must weigh worse than a late one, and it was not on time) against the
// holder at its last scan, firm, site and person, and against the carrier that issued the
// waybill when another firm held it, and its late share against the holders whose segments
// exceeded their norm; on the day the total delay ran out (lostAt). The key names the
// state by its number of events: a later event makes another state, which may be deemed lost
// again on its own, never twice.
func deemedLost(p Parcel, o Options) statSource {
	day := Day(p.lostAt(o))
	var holder Party
	if p.Holder.Kind == HolderFirm {
		holder = Party{FirmID: p.Holder.FirmID, SiteID: p.Holder.SiteID, StaffID: p.Holder.StaffID}
	}
	var ds []StatDelta
	for _, m := range []Metric{MLost, MLate} {
		ds = append(ds, deltas(holder, day, m, 1)...)
		if p.Carrier != holder.FirmID {
			ds = append(ds, deltas(Party{FirmID: p.Carrier}, day, m, 1)...)
		}
	}
	// Its delay, shared along the chain up to the loss: the open segment of the holder at the
	// last scan, silent for the total delay, exceeds any norm below it.
	ds = append(ds, shareDeltas(attribute(p.Custody, p.lostAt(o), o.SegmentNorms, "", holder), day, 1)...)
	return statSource{key: "deemed-lost|" + p.Carrier + "|" + p.Waybill + "|" + strconv.Itoa(p.Events), deltas: ds}
}

// revive neutralises the deemed loss of p's current state: it names the loss (which adds
// nothing when the scan already counted it) and its exact reverse. So the count moves back
// exactly if the scan had counted it, and never moves if it had not; in either order, on any
// replica. The late/on-time judgement then follows the normal path at delivery.
func revive(p Parcel, o Options) []statSource {
	lost := deemedLost(p, o)
	back := statSource{key: "revived|" + strings.TrimPrefix(lost.key, "deemed-lost|")}
	for _, d := range lost.deltas {
		d.N = -d.N
		back.deltas = append(back.deltas, d)
	}
	return []statSource{lost, back}
}

// emptySignal reports whether anoms hold an empty-parcel signal about one parcel.
func emptySignal(anoms []Anomaly) bool {
	for _, a := range anoms {
		switch a.Kind {
		case AnWeight, AnNoTransit, AnAfterDelivery, AnSecondCarrier:
			return true
		}
	}
	return false
}

func emptyKey(p Parcel, item string) string {
	return "empty|" + p.Carrier + "|" + p.Waybill + "|" + item
}

// suspectItem counts p as an empty-parcel suspect against the party that collected it.
func suspectItem(p Parcel) statSource {
	return statSource{key: emptyKey(p, "suspect"), deltas: deltas(p.CollectedBy, Day(p.CollectedAt), MEmptySuspect, 1)}
}

// verdict is what p's judgement counted ("" for nothing).
func (p Parcel) verdict() Metric {
	switch {
	case !p.Judged || p.Verdict == VerdictWithheld:
		return ""
	case p.Verdict != "":
		return p.Verdict
	case p.DeliveredAt.After(p.PromiseBy): // a summary stored before verdicts were kept
		return MLate
	}
	return MOnTime
}

// withdrawals take back, one keyed item per count, what p counted as service (handled per
// subject and day, the delivery, the on-time or late judgement) and count it as an
// empty-parcel suspect. deliveryNew and verdictNew leave out a delivery and a judgement that
// the current event brings and that were therefore never counted.
func withdrawals(p Parcel, deliveryNew, verdictNew bool) []statSource {
	var out []statSource
	for _, h := range p.Handled {
		kind, rest, ok1 := strings.Cut(h, "|")
		i := strings.LastIndex(rest, "|")
		if !ok1 || i < 0 {
			continue
		}
		k := StatKey{Kind: SubjectKind(kind), ID: rest[:i], Day: rest[i+1:]}
		out = append(out, statSource{key: emptyKey(p, "handled|"+h), deltas: []StatDelta{{Key: k, Metric: MHandled, N: -1}}})
	}
	if !p.DeliveredAt.IsZero() && !p.DeliveryWithheld && !deliveryNew {
		out = append(out, statSource{key: emptyKey(p, "delivered"), deltas: deltas(p.DeliveredBy, Day(p.DeliveredAt), MDelivered, -1)})
	}
	if m := p.verdict(); m != "" && !verdictNew {
		ds := deltas(p.DeliveredBy, Day(p.DeliveredAt), m, -1)
		ds = append(ds, shareDeltas(p.Delay, Day(p.DeliveredAt), -1)...) // what its lateness counted
		out = append(out, statSource{key: emptyKey(p, "verdict"), deltas: ds})
	}
	if !p.CollectedAt.IsZero() {
		out = append(out, suspectItem(p))
	}
	return out
}

// deemLost counts the open parcels past their promise by the total delay as lost. Running it
// again, here or on another replica, adds nothing: each loss is a source keyed by the parcel
// and its state.
//
// A scan that is not full reads the parcels whose total delay may have run out since since: it
// runs out at lostAt, the later of the promise and the last scan plus the total delay (short
// or long), so one of the two lies at or after since minus the longer delay.
func (s *Service) deemLost(ctx context.Context, now, since time.Time, full bool, pages func([]ParcelQuery, func(Parcel)) error) (int, error) {
	short := min(s.opts.TotalDelayWithinCity, s.opts.TotalDelayBetweenCities)
	long := max(s.opts.TotalDelayWithinCity, s.opts.TotalDelayBetweenCities)
	var srcs []statSource
	open := ParcelQuery{NotFinal: true, PromiseBefore: now.Add(-short), CollectedAfter: now.Add(-s.opts.DeemedLostLookback)}
	qs := window(open, since, full,
		func(q *ParcelQuery) { q.PromiseFrom = since.Add(-long) },
		func(q *ParcelQuery) { q.LastBefore, q.LastFrom = now.Add(-short), since.Add(-long) })
	err := pages(qs, func(p Parcel) {
		if p.deemable(s.opts, now) {
			srcs = append(srcs, deemedLost(p, s.opts))
		}
	})
	if err != nil {
		return 0, err
	}
	return len(srcs), applySources(ctx, s.store, srcs)
}

// withdrawBurst takes back what the parcels of a merchant burst counted as service. A parcel
// the fold already marked empty withdrew its counts itself and counts nothing more.
func (s *Service) withdrawBurst(ctx context.Context, members []Parcel) error {
	var srcs []statSource
	for _, p := range members {
		if !p.Empty {
			srcs = append(srcs, withdrawals(p, false, false)...)
		}
	}
	return applySources(ctx, s.store, srcs)
}

// reconcileBursts withdraws again what the parcels of the bursts found in the last
// EmptyReconcile counted since (their deliveries come days later): the fold cannot know of a
// burst, so the scan keeps its parcels' counts out. Items already withdrawn add nothing.
func (s *Service) reconcileBursts(ctx context.Context, now time.Time, page func(ParcelQuery, func(Parcel)) error) error {
	q := AnomalyQuery{Kind: AnMerchantBurst, Limit: 500}
	for {
		as, err := s.store.Anomalies(ctx, q)
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.FoundAt.Before(now.Add(-s.opts.EmptyReconcile)) || a.MerchantID == "" {
				continue
			}
			// The burst's parcels: the merchant's collected within the window up to when it was found.
			var members []Parcel
			err := page(ParcelQuery{MerchantID: a.MerchantID, CollectedAfter: a.FoundAt.Add(-s.opts.BurstWindow)}, func(p Parcel) {
				if !p.CollectedAt.After(a.FoundAt) {
					members = append(members, p)
				}
			})
			if err != nil {
				return err
			}
			if err := s.withdrawBurst(ctx, members); err != nil {
				return err
			}
		}
		if len(as) < q.Limit {
			return nil
		}
		q.After = as[len(as)-1].ID
	}
}
