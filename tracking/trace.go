package tracking

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
)

// Segment is one stretch of the custody chain: who held the parcel from when to when.
type Segment struct {
	Holder   Holder
	From     time.Time
	To       time.Time // zero while the holder still has it
	Dwell    time.Duration
	Status   Code     // the status the parcel had on entering the segment
	EventIDs []string // the events inside the segment, the first one opening it
	// Containers are the containers the parcel was in during the segment (see Trace.Containers).
	Containers []string
}

// Offer is a handover to a firm outside the giver's tree. Custody and responsibility stay with
// the giver until the receiving tree takes the parcel: its own scan of the parcel, or its
// acceptance (POST .../handovers/{id}/accept, also open to regulators).
type Offer struct {
	ID         string // the handover event's id
	At         time.Time
	From       Holder // the giver
	To         Holder // the named receiver
	Accepted   bool
	AcceptedAt time.Time
	AcceptedBy string // the event that took the parcel
	toRoot     string
}

// Promise is the carrier's service promise for a parcel.
type Promise struct {
	Hours    int
	Due      time.Time
	Breached bool
}

// Trace is a parcel as its events tell it.
type Trace struct {
	Waybill     string
	Carrier     string
	Events      []Event
	Status      Code
	StatusAt    time.Time
	Holder      Holder
	CollectedAt time.Time
	DeliveredAt time.Time
	MerchantID  string
	Promise     Promise
	Custody     []Segment
	Offers      []Offer // handovers to another firm tree, pending or accepted
	AsOf        time.Time
	// Containers are the stays of the parcel in containers (集包): packed when and where,
	// unpacked when and where. Orders are the business transactions it is linked to.
	// Retracted are its events declared erroneous, which the rest of the trace leaves out.
	// None of them is in the public view.
	Containers []Stay
	Orders     []OrderRef
	Retracted  []Retracted
	// RetractedLinks are its packings, unpackings and orders whose event was declared
	// erroneous (Link.Retracted), which Containers and Orders leave out.
	RetractedLinks []Link
	// Reduced is true for the public view: no custody, no sites or staff, places at city level.
	Reduced bool
	// keys are the keys of the events of a reduced trace, whose events carry none (see Holds).
	keys map[string]bool
}

// Holds reports whether e, an event of the trace's parcel, is among the trace's events.
func (t Trace) Holds(e Event) bool {
	if t.Reduced {
		return t.keys[e.Key()]
	}
	for _, x := range t.Events {
		if x.Key() == e.Key() {
			return true
		}
	}
	return false
}

// BuildTrace derives a parcel's state and custody chain from its events, whatever order they
// arrived in. The cost is proportional to the parcel's events.
func BuildTrace(events []Event, cfg CarrierConfig, now time.Time) Trace {
	evs := append([]Event(nil), events...)
	sort.Slice(evs, func(i, j int) bool { return eventLess(evs[i], evs[j]) })
	t := Trace{Events: evs, AsOf: now, Promise: Promise{Hours: int(cfg.Promise() / time.Hour)}}
	if len(evs) == 0 {
		return t
	}
	t.Waybill, t.Carrier = evs[0].Waybill, evs[0].Carrier
	final := false
	var cur *Segment
	for _, e := range evs {
		if e.Code.Final() {
			t.Status, t.StatusAt, final = e.Code, e.At, true
		} else if !final {
			t.Status, t.StatusAt = e.Code, e.At
		}
		if e.Code == Collected && t.CollectedAt.IsZero() {
			t.CollectedAt, t.MerchantID = e.At, e.MerchantID
			t.Carrier = e.Carrier
		}
		if e.Code == Delivered && t.DeliveredAt.IsZero() {
			t.DeliveredAt = e.At
		}
		h := e.custody()
		if h.IsZero() || (final && !e.Code.Final()) {
			if cur != nil {
				cur.EventIDs = append(cur.EventIDs, e.ID)
			}
			continue
		}
		if cur != nil && cur.Holder.Key() == h.Key() {
			cur.EventIDs = append(cur.EventIDs, e.ID)
			continue
		}
		if cur != nil {
			cur.To = e.At
			cur.Dwell = cur.To.Sub(cur.From)
			t.Custody = append(t.Custody, *cur)
		}
		cur = &Segment{Holder: h, From: e.At, Status: e.Code, EventIDs: []string{e.ID}}
	}
	for _, e := range evs {
		for i := range t.Offers {
			o := &t.Offers[i]
			if !o.Accepted && e.firmRoot == o.toRoot && !e.At.Before(o.At) && e.ID != o.ID {
				o.Accepted, o.AcceptedAt, o.AcceptedBy = true, e.At, e.ID
			}
		}
		if e.offers() {
			t.Offers = append(t.Offers, Offer{ID: e.ID, At: e.At, From: e.custody(), To: e.Holder, toRoot: e.holderRoot})
		}
	}
	if cur != nil {
		if cur.Holder.Kind != HolderRecipient {
			cur.Dwell = now.Sub(cur.From)
		}
		t.Custody = append(t.Custody, *cur)
		t.Holder = cur.Holder
	}
	if !t.CollectedAt.IsZero() {
		t.Promise.Due = t.CollectedAt.Add(cfg.Promise())
		end := now
		if !t.DeliveredAt.IsZero() {
			end = t.DeliveredAt
		}
		t.Promise.Breached = end.After(t.Promise.Due)
	}
	return t
}

// City reduces a region code to its city (the first four digits).
func City(region string) string {
	if len(region) != 6 {
		return ""
	}
	return region[:4] + "00"
}

// reduce strips a trace to what the public may see.
func reduce(t Trace) Trace {
	out := Trace{Waybill: t.Waybill, Status: t.Status, StatusAt: t.StatusAt, CollectedAt: t.CollectedAt, DeliveredAt: t.DeliveredAt,
		Promise: t.Promise, AsOf: t.AsOf, Reduced: true, Carrier: t.Carrier, keys: make(map[string]bool, len(t.Events))}
	for _, e := range t.Events {
		out.Events = append(out.Events, Event{Code: e.Code, At: e.At, Region: City(e.Region), Signer: e.Signer})
		out.keys[e.Key()] = true
	}
	if t.Holder.Kind == HolderRecipient {
		out.Holder = Holder{Kind: HolderRecipient}
	}
	return out
}

// TraceParcel returns a parcel's trace to a caller entitled to it: regulators; the carrier's
// firm tree; the merchant on the collection event; the public with the last four digits of the
// recipient's phone, who get the reduced trace. Anyone else gets credtrace.ErrNotFound.
//
// A waybill used by several carriers is several parcels: carrier (a firm id) chooses one.
// Without it, the parcels the caller is entitled to decide: none is credtrace.ErrNotFound, one is the
// answer, several is an *AmbiguousError naming only those carriers.
func (s *Service) TraceParcel(ctx context.Context, c credtrace.Caller, waybill, carrier, phone4 string) (Trace, error) {
	waybill, carrier = strings.TrimSpace(waybill), strings.TrimSpace(carrier)
	carriers, err := s.store.WaybillCarriers(ctx, waybill)
	if err != nil {
		return Trace{}, fmt.Errorf("trace %s: %w", waybill, err)
	}
	if carrier != "" {
		if slices.Contains(carriers, carrier) {
			carriers = []string{carrier}
		} else {
			carriers = nil // answered below as an unknown waybill is
		}
	}
	var found, others []Trace
	for _, cr := range carriers {
		t, ok, err := s.traceFor(ctx, c, ParcelKey{Carrier: cr, Waybill: waybill})
		if err != nil {
			return Trace{}, err
		}
		switch {
		case ok:
			found = append(found, t)
		case t.Waybill != "":
			others = append(others, t)
		}
	}
	if len(found) == 0 && phone4 != "" {
		// Once per request, whatever the number of parcels: a wrong answer counts once.
		if found, err = s.checkPhone4(ctx, waybill, phone4, others); err != nil {
			return Trace{}, err
		}
	}
	switch len(found) {
	case 0:
		return Trace{}, credtrace.ErrNotFound
	case 1:
		return found[0], nil
	}
	amb := &AmbiguousError{Waybill: waybill}
	for _, t := range found {
		amb.Carriers = append(amb.Carriers, t.Carrier)
	}
	sort.Strings(amb.Carriers)
	return Trace{}, amb
}

// FollowParcel is TraceParcel for a live stream. It subscribes to the waybill's new events
// before it reads the trace, so that an event stored meanwhile is in the trace, on the channel,
// or both: the caller keeps the events e of the trace's carrier that !trace.Holds(e). The
// channel carries every carrier's events of the waybill when carrier is empty. cancel ends the
// subscription; on an error there is none to end.
func (s *Service) FollowParcel(ctx context.Context, c credtrace.Caller, waybill, carrier, phone4 string) (Trace, <-chan Event, func(), error) {
	ch, cancel := s.hub.SubscribeParcel(ParcelKey{Carrier: strings.TrimSpace(carrier), Waybill: strings.TrimSpace(waybill)})
	t, err := s.TraceParcel(ctx, c, waybill, carrier, phone4)
	if err != nil {
		cancel()
		return Trace{}, nil, nil, err
	}
	return t, ch, cancel, nil
}

// traceFor builds one parcel's trace and reports whether c is entitled to it (see TraceParcel).
// It answers the trace even when c is not entitled, for the phone check; an empty Trace when
// the parcel has no events.
func (s *Service) traceFor(ctx context.Context, c credtrace.Caller, k ParcelKey) (Trace, bool, error) {
	events, gone, err := s.liveEvents(ctx, k)
	if err != nil {
		return Trace{}, false, fmt.Errorf("trace %s of %s: %w", k.Waybill, k.Carrier, err)
	}
	if len(events) == 0 && len(gone) == 0 {
		return Trace{}, false, nil
	}
	cfg, err := s.config(ctx, s.store, k.Carrier)
	if err != nil {
		return Trace{}, false, err
	}
	t, err := s.buildTrace(ctx, events, cfg)
	if err != nil {
		return Trace{}, false, err
	}
	if t.Waybill == "" {
		t.Waybill, t.Carrier = k.Waybill, k.Carrier
	}
	t.Retracted = gone
	links, err := s.store.ParcelLinks(ctx, k)
	if err != nil {
		return Trace{}, false, fmt.Errorf("trace %s of %s: %w", k.Waybill, k.Carrier, err)
	}
	t.Containers = stays(links)
	for i := range t.Custody {
		seg := &t.Custody[i]
		for _, st := range t.Containers {
			if (seg.To.IsZero() || st.PackedAt.Before(seg.To)) && (st.UnpackedAt.IsZero() || st.UnpackedAt.After(seg.From)) &&
				!slices.Contains(seg.Containers, st.Container) {
				seg.Containers = append(seg.Containers, st.Container)
			}
		}
	}
	for _, l := range links {
		switch {
		case l.Retracted != nil:
			t.RetractedLinks = append(t.RetractedLinks, l)
		case l.Kind == LinkOrder:
			t.Orders = append(t.Orders, OrderRef{Type: l.RefType, ID: l.RefID, EventID: l.EventID, At: l.At})
		}
	}
	sort.SliceStable(t.RetractedLinks, func(i, j int) bool { return linkLess(t.RetractedLinks[i], t.RetractedLinks[j]) })
	sort.SliceStable(t.Orders, func(i, j int) bool { return t.Orders[i].At.Before(t.Orders[j].At) })
	switch c.Role {
	case credtrace.RoleRegulator:
		return t, true, nil
	case credtrace.RoleFirm:
		ok, err := s.inTree(ctx, c.FirmID, k.Carrier)
		if err != nil {
			return Trace{}, false, err
		}
		if ok {
			return t, true, nil
		}
	case credtrace.RoleMerchant:
		if t.MerchantID != "" && t.MerchantID == c.MerchantID {
			return t, true, nil
		}
	}
	return t, false, nil
}

// buildTrace is BuildTrace with the events' tree roots looked up, so that offers are offers.
func (s *Service) buildTrace(ctx context.Context, events []Event, cfg CarrierConfig) (Trace, error) {
	if err := s.withRoots(ctx, events); err != nil {
		return Trace{}, err
	}
	return BuildTrace(events, cfg, s.Now()), nil
}

// withRoots fills in the tree roots of events' scanning firms and firm holders.
func (s *Service) withRoots(ctx context.Context, events []Event) error {
	for i := range events {
		e := &events[i]
		var err error
		if e.firmRoot, err = s.root(ctx, e.FirmID); err != nil {
			return fmt.Errorf("tree of %s: %w", e.FirmID, err)
		}
		if e.Holder.Kind == HolderFirm {
			if e.holderRoot, err = s.root(ctx, e.Holder.FirmID); err != nil {
				return fmt.Errorf("tree of %s: %w", e.Holder.FirmID, err)
			}
		}
	}
	return nil
}

// ReduceEvent strips an event to what the public may see.
func ReduceEvent(e Event) Event {
	return Event{Code: e.Code, At: e.At, Region: City(e.Region), Signer: e.Signer}
}
