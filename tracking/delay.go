package tracking

import (
	"slices"
	"time"
)

// SegmentKind is what a stretch of the custody chain is for, as the delay norms know it.
type SegmentKind string

// The segment kinds. A stretch's kind follows the status it was entered with: collection is
// pickup, arrival at a sorting site is sorting, departure, transit and handover are line haul,
// and everything from the delivering outlet's arrival on (out for delivery, waiting for
// pickup, a failed attempt, a handover to a locker after one) is last mile.
const (
	SegPickup   SegmentKind = "pickup"
	SegSorting  SegmentKind = "sorting"
	SegLineHaul SegmentKind = "line_haul"
	SegLastMile SegmentKind = "last_mile"
)

// SegmentKinds lists every kind, in the order of a parcel's journey.
var SegmentKinds = []SegmentKind{SegPickup, SegSorting, SegLineHaul, SegLastMile}

// DefaultSegmentNorms are the dwell norms per segment kind that methodology 2026.4 publishes
// (scoring.Method2026_4, segment_norms): a stretch held longer exceeded its norm. cmd wires the
// published norms into Options.SegmentNorms; these are what a Service without them measures.
var DefaultSegmentNorms = map[SegmentKind]time.Duration{
	SegPickup: 24 * time.Hour, SegSorting: 24 * time.Hour, SegLineHaul: 48 * time.Hour, SegLastMile: 36 * time.Hour,
}

// SlowMetric is the metric that counts the segments of kind k that exceeded their norm on a
// late parcel, for the holder of each.
func SlowMetric(k SegmentKind) Metric { return Metric("slow_" + string(k)) }

// ShareUnit is what one late parcel's delay is worth in MLateShare: shares are counted in
// thousandths of a late parcel, so that they sum exactly to one parcel in integers.
const ShareUnit = 1000

// Step is one custody-bearing event as the parcel summary keeps it: enough to rebuild the
// custody chain (BuildTrace's segments) whatever order the events arrived in, when the parcel
// is judged late or deemed lost.
type Step struct {
	At      time.Time
	Code    Code
	EventID string
	Holder  Holder
}

func stepLess(a, b Step) int {
	switch {
	case !a.At.Equal(b.At):
		return a.At.Compare(b.At)
	case codeRank[a.Code] != codeRank[b.Code]:
		return codeRank[a.Code] - codeRank[b.Code]
	case a.EventID < b.EventID:
		return -1
	case a.EventID > b.EventID:
		return 1
	}
	return 0
}

// addStep keeps e's custody in the summary, in event order (eventLess).
func (p *Parcel) addStep(e *Event) {
	h := e.custody()
	if h.IsZero() {
		return
	}
	st := Step{At: e.At, Code: e.Code, EventID: e.ID, Holder: h}
	i, found := slices.BinarySearchFunc(p.Custody, st, stepLess)
	if !found {
		// Clipped, so that the insert never shifts an array another copy of the summary shares.
		p.Custody = slices.Insert(slices.Clip(p.Custody), i, st)
	}
}

// Share is the part of a late parcel's delay one holder answers for: Milli thousandths of the
// parcel (ShareUnit), for a segment of kind Kind that exceeded its norm by Over. Kind is empty
// on the fallback share of the delivering outlet, when no segment exceeded its norm.
type Share struct {
	Holder  Party
	Kind    SegmentKind
	Milli   int
	Over    time.Duration
	EventID string // the event that opened the segment
	// InHand is the part of Milli, in thousandths of the parcel too, for the time the holder's
	// person had the parcel in hand on the segment: from the scan that put it in their hands (a
	// collection, a delivery round or a failed attempt) to the segment's end, in proportion to
	// the segment's dwell. An arrival or a locker's scan leaves the parcel at the site whoever
	// scanned it in, a departure on a vehicle: that wait is not the scanner's doing. The person's
	// MCarriedShare counts InHand.
	InHand int
}

// carriedFrom are the statuses that put a parcel in a person's hands: the time from one of
// them to the segment's end is the person's own doing. An arrival at a site, a locker's hold, an exception or damage scan
// leave the parcel at the site, a departure or a handover on a vehicle or with another holder:
// their dwell is not the scanner's.
var carriedFrom = map[Code]bool{Collected: true, OutForDelivery: true, DeliveryFailed: true}

// leg is one firm-held stretch of the chain, with its kind and dwell.
type leg struct {
	holder Holder
	from   time.Time
	dwell  time.Duration
	status Code
	event  string
	inHand time.Time // the first scan in the segment that put the parcel in its person's hands
}

// legs rebuilds the custody chain from steps as BuildTrace does (events after a final one do
// not move custody; consecutive events of one holder are one segment), up to end: the
// delivery, or when a parcel still open is deemed lost. Only firm-held stretches count.
func legs(steps []Step, end time.Time) []leg {
	var out []leg
	final := false
	var cur *leg
	for _, st := range steps {
		if !st.At.Before(end) && cur != nil {
			break
		}
		if final && !st.Code.Final() {
			continue
		}
		final = final || st.Code.Final()
		if cur != nil && (cur.holder.Key() == st.Holder.Key()) {
			if cur.inHand.IsZero() && carriedFrom[st.Code] {
				cur.inHand = st.At
			}
			continue
		}
		if cur != nil {
			cur.dwell = st.At.Sub(cur.from)
			out = append(out, *cur)
		}
		cur = &leg{holder: st.Holder, from: st.At, status: st.Code, event: st.EventID}
		if carriedFrom[st.Code] {
			cur.inHand = st.At
		}
	}
	if cur != nil && end.After(cur.from) {
		cur.dwell = end.Sub(cur.from)
		out = append(out, *cur)
	}
	return slices.DeleteFunc(out, func(l leg) bool { return l.holder.Kind != HolderFirm })
}

// kinds names the kind of each leg: from the first delivery-stage leg on, and the legs just
// before it at the same outlet (its arrival there), last mile; so too the legs at the end of
// the chain at outlet, the site that delivered, when no delivery-stage scan was sent; before,
// by the entering status.
func kinds(ls []leg, outlet string) []SegmentKind {
	out := make([]SegmentKind, len(ls))
	last := len(ls)
	for i, l := range ls {
		if deliveryStage(l.status) {
			last = i
			outlet = l.holder.SiteID
			break
		}
	}
	for outlet != "" && last > 0 && ls[last-1].holder.SiteID == outlet {
		last--
	}
	for i, l := range ls {
		switch {
		case i >= last:
			out[i] = SegLastMile
		case l.status == Collected:
			out[i] = SegPickup
		case l.status == Arrived:
			out[i] = SegSorting
		case l.status == Departed || l.status == InTransit || l.status == Handover:
			out[i] = SegLineHaul
		case i > 0:
			out[i] = out[i-1] // an exception or a damage scan: the stretch it interrupts
		default:
			out[i] = SegPickup
		}
	}
	return out
}

// attribute shares a late parcel's delay among the holders of the segments that exceeded
// their norm, in proportion to how far each exceeded it, in thousandths that sum exactly to
// ShareUnit (largest remainders, ties to the earlier segment). When no segment exceeded its
// norm, or the chain is incomplete (its collection was folded before summaries kept custody),
// the whole parcel goes to fallback: the delivering outlet, as before 2026.4 (or, for a
// parcel deemed lost, the holder at its last scan). outlet is the site that delivered, ""
// for a parcel that was not (see kinds).
func attribute(steps []Step, end time.Time, norms map[SegmentKind]time.Duration, outlet string, fallback Party) []Share {
	var out []Share
	var held []leg // the leg of each share
	if slices.ContainsFunc(steps, func(s Step) bool { return s.Code == Collected }) {
		ls := legs(steps, end)
		ks := kinds(ls, outlet)
		for i, l := range ls {
			if over := l.dwell - norms[ks[i]]; over > 0 {
				out = append(out, Share{Holder: Party{FirmID: l.holder.FirmID, SiteID: l.holder.SiteID, StaffID: l.holder.StaffID},
					Kind: ks[i], Over: over, EventID: l.event})
				held = append(held, l)
			}
		}
	}
	if len(out) == 0 {
		return []Share{{Holder: fallback, Milli: ShareUnit}}
	}
	var total time.Duration
	for _, s := range out {
		total += s.Over
	}
	type rem struct {
		i int
		r int64
	}
	left, rems := ShareUnit, make([]rem, len(out))
	for i := range out {
		// In minutes, so that the product stays far inside int64 whatever the dwell.
		num := int64(out[i].Over/time.Minute) * ShareUnit
		den := max(int64(total/time.Minute), 1)
		out[i].Milli = int(num / den)
		left -= out[i].Milli
		rems[i] = rem{i, num % den}
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.r > b.r:
			return -1
		case a.r < b.r:
			return 1
		}
		return a.i - b.i
	})
	for k := 0; left > 0; k = (k + 1) % len(rems) {
		out[rems[k].i].Milli++
		left--
	}
	for i, l := range held {
		if l.holder.StaffID == "" || l.inHand.IsZero() {
			continue
		}
		// The part of the segment's dwell from the scan that put it in the person's hands.
		hand, dwell := int64(l.from.Add(l.dwell).Sub(l.inHand)/time.Minute), max(int64(l.dwell/time.Minute), 1)
		out[i].InHand = int(int64(out[i].Milli) * min(hand, dwell) / dwell)
	}
	return out
}

// shareDeltas are the statistics of shares on day, times sign (−1 takes them back): each
// holder's late share, and one slow segment of its kind (or one fallback attribution); and
// the person's share of the time they had the parcel in hand (MCarriedShare).
func shareDeltas(shares []Share, day string, sign int) []StatDelta {
	var out []StatDelta
	for _, s := range shares {
		out = append(out, deltas(s.Holder, day, MLateShare, sign*s.Milli)...)
		m := MLateFallback
		if s.Kind != "" {
			m = SlowMetric(s.Kind)
		}
		out = append(out, deltas(s.Holder, day, m, sign)...)
		if s.InHand > 0 && s.Holder.StaffID != "" {
			out = append(out, StatDelta{Key: StatKey{SubjectStaff, s.Holder.StaffID, day}, Metric: MCarriedShare, N: sign * s.InHand})
		}
	}
	return out
}
