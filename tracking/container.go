package tracking

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
)

// LinkKind is what a Link records about a parcel.
type LinkKind string

// Link kinds.
const (
	LinkPacked   LinkKind = "packed"   // packed into a container (集包; EPCIS AggregationEvent ADD)
	LinkUnpacked LinkKind = "unpacked" // taken out of it (AggregationEvent DELETE)
	LinkOrder    LinkKind = "order"    // linked to a business transaction (EPCIS TransactionEvent)
)

// Link is a fact about a parcel that is not a tracking event: its packing into or out of a
// container (a bag, cage or container id of the carrier), or a reference to an order. Links
// move no status and no statistics; a scan of a container is a scan of every parcel inside it
// (see Ingest).
type Link struct {
	Carrier    string
	Waybill    string
	EventID    string // the aggregation or transaction event
	Kind       LinkKind
	Container  string // packed, unpacked: the container (its id in the carrier's own namespace)
	RefType    string // order: the business transaction's type (po, inv, …)
	RefID      string // order: its id
	At         time.Time
	SiteID     string
	StaffID    string
	By         string // the token that sent it
	ReceivedAt time.Time
	Retracted  *LinkRetraction // set when its event was declared erroneous: kept, and left out of contents, stays and orders
}

// LinkRetraction marks a link whose aggregation or transaction event the carrier declared
// erroneous (EPCIS errorDeclaration). The link stays stored, with the mark.
type LinkRetraction struct {
	Reason        string
	DeclaredAt    time.Time
	CorrectiveIDs []string
	By            string // the token that declared it
	At            time.Time
}

// Key identifies the link: the same event sent again is the same link.
func (l Link) Key() string {
	return l.Carrier + "|" + l.EventID + "|" + l.Waybill + "|" + string(l.Kind) + "|" + l.RefType + "|" + l.RefID
}

// Parcel is the key of the parcel the link is about.
func (l Link) Parcel() ParcelKey { return ParcelKey{Carrier: l.Carrier, Waybill: l.Waybill} }

// Stay is one stretch a parcel spent in a container, as the custody chain shows it.
type Stay struct {
	Container     string
	PackedAt      time.Time
	PackedSite    string
	PackedEvent   string
	UnpackedAt    time.Time // zero while the parcel is inside
	UnpackedSite  string
	UnpackedEvent string
}

// OrderRef is a business transaction a parcel is linked to.
type OrderRef struct {
	Type, ID string
	EventID  string
	At       time.Time
}

// linkLess orders links by time, a packing before an unpacking at the same time, then by event.
func linkLess(a, b Link) bool {
	if !a.At.Equal(b.At) {
		return a.At.Before(b.At)
	}
	if a.Kind != b.Kind {
		return a.Kind == LinkPacked
	}
	return a.EventID < b.EventID
}

// stays folds one parcel's links into its stays in containers, in time order.
func stays(links []Link) []Stay {
	ls := liveLinks(links)
	sort.SliceStable(ls, func(i, j int) bool { return linkLess(ls[i], ls[j]) })
	var out []Stay
	open := -1
	for _, l := range ls {
		switch l.Kind {
		case LinkPacked:
			if open >= 0 { // packed into another without an unpacking: the new packing ends the old
				out[open].UnpackedAt, out[open].UnpackedEvent = l.At, l.EventID
			}
			out = append(out, Stay{Container: l.Container, PackedAt: l.At, PackedSite: l.SiteID, PackedEvent: l.EventID})
			open = len(out) - 1
		case LinkUnpacked:
			if open >= 0 && out[open].Container == l.Container {
				out[open].UnpackedAt, out[open].UnpackedSite, out[open].UnpackedEvent = l.At, l.SiteID, l.EventID
				open = -1
			}
		}
	}
	return out
}

// liveLinks is a copy of links without the retracted ones.
func liveLinks(links []Link) []Link {
	out := make([]Link, 0, len(links))
	for _, l := range links {
		if l.Retracted == nil {
			out = append(out, l)
		}
	}
	return out
}

// contents folds a container's links into the waybills inside it at time at (a link at at
// counts: a scan at the moment of packing scans the parcel).
func contents(links []Link, at time.Time) []string {
	ls := liveLinks(links)
	sort.SliceStable(ls, func(i, j int) bool { return linkLess(ls[i], ls[j]) })
	in := map[string]bool{}
	for _, l := range ls {
		if l.At.After(at) {
			break
		}
		switch l.Kind {
		case LinkPacked:
			in[l.Waybill] = true
		case LinkUnpacked:
			delete(in, l.Waybill)
		}
	}
	out := make([]string, 0, len(in))
	for wb := range in {
		out = append(out, wb)
	}
	sort.Strings(out)
	return out
}

// PackInput is one aggregation: parcels packed into a container (Action ADD) or taken out
// (DELETE; no waybills takes out every parcel inside at the time).
type PackInput struct {
	ID        string
	Carrier   string
	Container string
	Waybills  []string
	Unpack    bool
	At        time.Time
	Site      string
	Staff     string
}

// LinkResult answers one aggregation, transaction or retraction: what it stored (links, or
// parcels retracted), or why nothing was.
type LinkResult struct {
	ID     string
	Status string // Accepted, Duplicate or Rejected
	Reason string
	Links  int // new links stored
}

// containerSep joins a container scan's id and the waybill of each parcel it became.
const containerSep = "~"

// Pack records a packing into or out of a container. The caller must be the carrier's firm
// tree (or a regulator), and every parcel must be held by the carrier's tree now: an id in the
// body is a claim, not a right, so a firm cannot pack another firm's parcels. A reason is
// answered for input that is wrong, with nothing stored.
func (s *Service) Pack(ctx context.Context, c credtrace.Caller, in PackInput) (LinkResult, error) {
	res := LinkResult{ID: strings.TrimSpace(in.ID)}
	reject := func(why string) (LinkResult, error) {
		res.Status, res.Reason = Rejected, why
		return res, nil
	}
	container, carrier := strings.TrimSpace(in.Container), strings.TrimSpace(in.Carrier)
	switch {
	case res.ID == "" || len(res.ID) > maxIDLength:
		return reject(fmt.Sprintf("id: required, at most %d characters", maxIDLength))
	case len(container) < 1 || len(container) > maxWaybill || !isAlnum(container):
		return reject(fmt.Sprintf("parentID: the container, 1 to %d letters, digits, '-' or '_'", maxWaybill))
	case !in.Unpack && len(in.Waybills) == 0:
		return reject("childEPCs: a packing needs at least one parcel")
	case in.At.IsZero() || in.At.After(s.Now().Add(MaxFutureAt)):
		return reject("eventTime: required, at most 15 minutes in the future")
	}
	base, why, err := s.linkScope(ctx, c, carrier, in.Site, in.Staff)
	if err != nil || why != "" {
		res.Status, res.Reason = Rejected, why
		return res, err
	}
	if err := s.Flush(ctx); err != nil {
		return LinkResult{}, err
	}
	if evs, err := s.store.ParcelEvents(ctx, ParcelKey{Carrier: carrier, Waybill: container}); err != nil {
		return LinkResult{}, err
	} else if len(evs) > 0 {
		return reject("parentID: " + container + " is a parcel of the carrier, not a container")
	}
	at := in.At.UTC().Truncate(time.Millisecond)
	waybills := in.Waybills
	kind := LinkPacked
	if in.Unpack {
		kind = LinkUnpacked
		if len(waybills) == 0 {
			ls, err := s.store.ContainerLinks(ctx, carrier, container)
			if err != nil {
				return LinkResult{}, err
			}
			if waybills = contents(ls, at); len(waybills) == 0 {
				return reject("parentID: container " + container + " holds no parcel at " + at.Format(time.RFC3339))
			}
		}
	}
	var links []Link
	for i, wb := range waybills {
		wb = strings.TrimSpace(wb)
		field := fmt.Sprintf("childEPCs[%d]", i)
		if why, err := s.holds(ctx, c, ParcelKey{Carrier: carrier, Waybill: wb}, field); err != nil || why != "" {
			res.Status, res.Reason = Rejected, why
			return res, err
		}
		links = append(links, Link{Carrier: carrier, Waybill: wb, EventID: res.ID, Kind: kind, Container: container, At: at,
			SiteID: base.SiteID, StaffID: base.StaffID, By: c.TokenID, ReceivedAt: s.Now()})
	}
	return s.storeLinks(ctx, res, links)
}

// OrderInput links parcels to business transactions (an EPCIS TransactionEvent).
type OrderInput struct {
	ID       string
	Carrier  string
	Waybills []string
	Refs     []OrderRef // Type and ID
	At       time.Time
}

// LinkOrder records that parcels belong to orders. The same rules as Pack decide who may.
func (s *Service) LinkOrder(ctx context.Context, c credtrace.Caller, in OrderInput) (LinkResult, error) {
	res := LinkResult{ID: strings.TrimSpace(in.ID)}
	reject := func(why string) (LinkResult, error) {
		res.Status, res.Reason = Rejected, why
		return res, nil
	}
	carrier := strings.TrimSpace(in.Carrier)
	switch {
	case res.ID == "" || len(res.ID) > maxIDLength:
		return reject(fmt.Sprintf("id: required, at most %d characters", maxIDLength))
	case len(in.Waybills) == 0:
		return reject("epcList: at least one parcel")
	case len(in.Refs) == 0 || len(in.Refs) > 20:
		return reject("bizTransactionList: 1 to 20 transactions")
	case in.At.IsZero() || in.At.After(s.Now().Add(MaxFutureAt)):
		return reject("eventTime: required, at most 15 minutes in the future")
	}
	for i, r := range in.Refs {
		if r.ID == "" || len(r.ID) > maxIDLength || len(r.Type) > maxIDLength {
			return reject(fmt.Sprintf("bizTransactionList[%d]: an id of 1 to %d characters", i, maxIDLength))
		}
	}
	if _, why, err := s.linkScope(ctx, c, carrier, "", ""); err != nil || why != "" {
		res.Status, res.Reason = Rejected, why
		return res, err
	}
	if err := s.Flush(ctx); err != nil {
		return LinkResult{}, err
	}
	at := in.At.UTC().Truncate(time.Millisecond)
	var links []Link
	for i, wb := range in.Waybills {
		wb = strings.TrimSpace(wb)
		if why, err := s.holds(ctx, c, ParcelKey{Carrier: carrier, Waybill: wb}, fmt.Sprintf("epcList[%d]", i)); err != nil || why != "" {
			res.Status, res.Reason = Rejected, why
			return res, err
		}
		for _, r := range in.Refs {
			links = append(links, Link{Carrier: carrier, Waybill: wb, EventID: res.ID, Kind: LinkOrder, RefType: EPCISRef(r.Type), RefID: r.ID,
				At: at, By: c.TokenID, ReceivedAt: s.Now()})
		}
	}
	return s.storeLinks(ctx, res, links)
}

func (s *Service) storeLinks(ctx context.Context, res LinkResult, links []Link) (LinkResult, error) {
	stored, err := s.store.AppendLinks(ctx, links)
	if err != nil {
		return LinkResult{}, fmt.Errorf("store links of %s: %w", res.ID, err)
	}
	for _, ok := range stored {
		if ok {
			res.Links++
		}
	}
	res.Status = Accepted
	if res.Links == 0 {
		res.Status = Duplicate
	}
	return res, nil
}

// linkScope checks that c may write links for carrier, at site by staff: the carrier is a
// registered firm in the caller's tree (any for a regulator), the site and person the carrier's.
func (s *Service) linkScope(ctx context.Context, c credtrace.Caller, carrier, site, staff string) (Party, string, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return Party{}, "", credtrace.ErrForbidden
	}
	if carrier == "" {
		return Party{}, "carrier: required", nil
	}
	if ok, err := s.firmExists(ctx, carrier); err != nil || !ok {
		return Party{}, "carrier: no such firm", err
	}
	if c.Role == credtrace.RoleFirm {
		if ok, err := s.inTree(ctx, c.FirmID, carrier); err != nil || !ok {
			return Party{}, "carrier: outside your firm tree", err
		}
	}
	p := Party{FirmID: carrier, SiteID: site, StaffID: staff}
	if site != "" {
		firm, ok, err := s.siteFirm(ctx, site)
		if err != nil {
			return Party{}, "", err
		}
		if !ok {
			return Party{}, "site: no such site", nil
		}
		if in, err := s.inTree(ctx, carrier, firm); err != nil || !in {
			return Party{}, "site: not a site of the carrier's firm tree", err
		}
	}
	if staff != "" {
		if why, err := s.staffIn(ctx, "staff", staff, carrier); err != nil || why != "" {
			return Party{}, why, err
		}
	}
	return p, "", nil
}

// holds reports why the carrier's tree may not pack or link parcel k, or "" when it may: the
// parcel has events of the carrier, and its custody is with a firm of the carrier's brand tree
// (not with the recipient, nor with a partner it was handed to).
func (s *Service) holds(ctx context.Context, c credtrace.Caller, k ParcelKey, field string) (string, error) {
	if len(k.Waybill) < minWaybill || len(k.Waybill) > maxWaybill || !isAlnum(k.Waybill) {
		return fmt.Sprintf("%s: a waybill of %d to %d letters, digits, '-' or '_'", field, minWaybill, maxWaybill), nil
	}
	ps, err := s.store.ParcelsByKey(ctx, []ParcelKey{k})
	if err != nil {
		return "", err
	}
	p, ok := ps[k]
	if !ok {
		return field + ": no parcel " + k.Waybill + " of the carrier", nil
	}
	if p.Holder.Kind != HolderFirm {
		return field + ": parcel " + k.Waybill + " is not held by a firm", nil
	}
	root, err := s.root(ctx, k.Carrier)
	if err != nil {
		return "", err
	}
	if in, err := s.inTree(ctx, root, p.Holder.FirmID); err != nil || !in {
		return field + ": parcel " + k.Waybill + " is held outside the carrier's firm tree", err
	}
	return "", nil
}

// expandContainers turns each input whose waybill names a container of its carrier into one
// input per parcel inside it at the event's time, with the id "<id>~<waybill>": a scan of a
// container is a scan of every parcel in it, stored and counted as a direct scan would be.
// from maps each returned input to the input it came from; why holds the reason of an input
// that names a container with nothing inside. When no input names a container it returns
// inputs as they are and a nil from.
//
// Only the carrier's tree (or a regulator) reaches its containers: for anyone else the input
// goes on as it is, and is answered as any event of another firm's carrier is.
func (s *Service) expandContainers(ctx context.Context, c credtrace.Caller, inputs []EventInput) (out []EventInput, from []int, why map[int]string, err error) {
	var keys []ParcelKey
	for _, in := range inputs {
		keys = append(keys, ParcelKey{Carrier: strings.TrimSpace(in.Carrier), Waybill: strings.TrimSpace(in.Waybill)})
	}
	known, err := s.store.KnownContainers(ctx, keys)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("containers of the batch: %w", err)
	}
	if c.Role == credtrace.RoleFirm {
		for k := range known {
			if in, err := s.inTree(ctx, c.FirmID, k.Carrier); err != nil {
				return nil, nil, nil, err
			} else if !in {
				delete(known, k)
			}
		}
	}
	if len(known) == 0 {
		return inputs, nil, nil, nil
	}
	why, from = map[int]string{}, []int{}
	read := map[ParcelKey][]Link{}
	for i, in := range inputs {
		k := keys[i]
		if !known[k] {
			out, from = append(out, in), append(from, i)
			continue
		}
		ls, ok := read[k]
		if !ok {
			if ls, err = s.store.ContainerLinks(ctx, k.Carrier, k.Waybill); err != nil {
				return nil, nil, nil, err
			}
			read[k] = ls
		}
		inside := contents(ls, in.At.UTC().Truncate(time.Millisecond))
		if len(inside) == 0 {
			why[i] = "waybill: container " + k.Waybill + " holds no parcel at " + in.At.UTC().Format(time.RFC3339)
			continue
		}
		for _, wb := range inside {
			e := in
			e.Waybill, e.ID = wb, strings.TrimSpace(in.ID)+containerSep+wb
			if e.Remark == "" {
				e.Remark = "in container " + k.Waybill
			}
			out, from = append(out, e), append(from, i)
		}
	}
	return out, from, why, nil
}

// merge folds the results of the events an input became into one result for the input.
func merge(rs []EventResult) EventResult {
	out := rs[0]
	for _, r := range rs[1:] {
		switch {
		case out.Status == Rejected:
		case r.Status == Rejected:
			out.Status, out.Reason = Rejected, r.Reason
		case r.Status == Accepted:
			out.Status = Accepted
		}
	}
	return out
}
