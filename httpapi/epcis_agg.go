package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/credtrace/credtrace/tracking"
)

// epcisLater is an EPCIS event answered apart from the ObjectEvents: an aggregation or a
// transaction, stored in its place in the document (after the ObjectEvents before it, which
// may collect the parcels it packs, and before those after it, which may scan the container),
// or an error declaration, answered after every other event of the document so that its
// corrective events are in.
type epcisLater struct {
	pos int
	ev  map[string]any
}

func strList(v any) []string {
	xs, _ := v.([]any)
	var out []string
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// epcisLink answers one AggregationEvent or TransactionEvent.
func (s *Server) epcisLink(c *fiber.Ctx, carrier string, l epcisLater) (resultJSON, error) {
	ev := l.ev
	out := resultJSON{Status: tracking.Rejected}
	at, err := time.Parse(time.RFC3339Nano, str(ev, "eventTime"))
	if err != nil {
		out.Reason = "eventTime: must be an RFC 3339 time with offset"
		return out, nil
	}
	var raw []byte
	if str(ev, "eventID") == "" {
		raw, _ = json.Marshal(ev)
	}
	// Identifiers become the carrier's waybills by its rule, locations sites by their GLNs, as
	// for ObjectEvents.
	waybills := func(field string, uris []string) ([]string, string, error) {
		out := make([]string, 0, len(uris))
		for i, u := range uris {
			wb, why, err := s.deps.Tracking.EPCISWaybill(ctx(c), carrier, u)
			if err != nil || why != "" {
				return nil, fmt.Sprintf("%s[%d]: %s", field, i, why), err
			}
			out = append(out, wb)
		}
		return out, "", nil
	}
	var parent string
	if p := str(ev, "parentID"); p != "" {
		ps, why, err := waybills("parentID", []string{p})
		if err != nil || why != "" {
			out.Reason = why
			return out, err
		}
		parent = ps[0]
	}
	site := func(field string) (string, string, error) {
		v, ok := ev[field]
		if !ok {
			return "", "", nil
		}
		return tracking.EPCISLocation(ctx(c), glnResolver{s.deps.Courier}, field, v)
	}
	var res tracking.LinkResult
	switch str(ev, "type") {
	case "AggregationEvent":
		children, why, err := waybills("childEPCs", strList(ev["childEPCs"]))
		if err != nil || why != "" {
			out.Reason = why
			return out, err
		}
		loc, why, err := site("bizLocation")
		if err == nil && why == "" && loc == "" {
			loc, why, err = site("readPoint")
		}
		if err != nil || why != "" {
			out.Reason = why
			return out, err
		}
		a := tracking.EPCISAggregation{EventID: str(ev, "eventID"), At: at, Action: str(ev, "action"), ParentID: parent,
			ChildEPCs: children, BizLocation: loc, Staff: str(ev, "credtrace:staff"), Raw: raw}
		in, why := a.Input(carrier)
		out.ID = in.ID
		if why != "" {
			out.Reason = why
			return out, nil
		}
		if res, err = s.deps.Tracking.Pack(ctx(c), actor(c), in); err != nil {
			return out, err
		}
	default: // TransactionEvent
		epcs, why, err := waybills("epcList", strList(ev["epcList"]))
		if err != nil || why != "" {
			out.Reason = why
			return out, err
		}
		x := tracking.EPCISTransaction{EventID: str(ev, "eventID"), At: at, Action: str(ev, "action"), ParentID: parent,
			EPCs: epcs, Raw: raw}
		bts, _ := ev["bizTransactionList"].([]any)
		for _, b := range bts {
			bm, _ := b.(map[string]any)
			x.Transactions = append(x.Transactions, tracking.EPCISBizTransaction{Type: str(bm, "type"), ID: str(bm, "bizTransaction")})
		}
		in, why := x.Input(carrier)
		out.ID = in.ID
		if why != "" {
			out.Reason = why
			return out, nil
		}
		if res, err = s.deps.Tracking.LinkOrder(ctx(c), actor(c), in); err != nil {
			return out, err
		}
	}
	out.Status, out.Reason = res.Status, res.Reason
	out.Notes = linkNotes(ev)
	return out, nil
}

// linkUsed are the fields of an aggregation or transaction that its answer uses.
var linkUsed = map[string]bool{"@context": true, "type": true, "isA": true, "eventID": true, "eventTime": true,
	"eventTimeZoneOffset": true, "action": true, "parentID": true, "childEPCs": true, "epcList": true,
	"bizTransactionList": true, "bizLocation": true, "readPoint": true, "credtrace:staff": true}

// linkNotes says which fields of an aggregation or transaction were not used, so that nothing
// it said is dropped without a word.
func linkNotes(ev map[string]any) []string {
	var out []string
	for k := range ev {
		if !linkUsed[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return []string{"not used for a container or an order: " + strings.Join(out, ", ")}
}

// epcisDeclaration answers one event resubmitted with an errorDeclaration: the event of its
// eventID is retracted.
func (s *Server) epcisDeclaration(c *fiber.Ctx, carrier string, l epcisLater) (resultJSON, error) {
	out := resultJSON{ID: str(l.ev, "eventID"), Status: tracking.Rejected}
	decl, _ := l.ev["errorDeclaration"].(map[string]any)
	if decl == nil {
		out.Reason = "errorDeclaration: must be an object"
		return out, nil
	}
	at, err := time.Parse(time.RFC3339Nano, str(decl, "declarationTime"))
	if err != nil {
		out.Reason = "errorDeclaration.declarationTime: must be an RFC 3339 time with offset"
		return out, nil
	}
	d := tracking.EPCISErrorDeclaration{EventID: str(l.ev, "eventID"), DeclarationTime: at, Reason: str(decl, "reason"),
		CorrectiveEventIDs: strList(decl["correctiveEventIDs"])}
	in, why := d.Input(carrier)
	if why != "" {
		out.Reason = why
		return out, nil
	}
	out.ID = in.EventID
	res, err := s.deps.Tracking.Retract(ctx(c), actor(c), in)
	if err != nil {
		return out, err
	}
	out.Status, out.Reason = res.Status, res.Reason
	return out, nil
}

// epcisAnswer answers every event of the document in the order of its eventList: the
// ObjectEvents (b's inputs, from the document's events b.Origin, b.Bad the rejected ones) ingested in runs
// between the aggregations and transactions (links), then the error declarations (decls).
func (s *Server) epcisAnswer(c *fiber.Ctx, carrier string, b tracking.EPCISBatch, links, decls []epcisLater) error {
	ins, bad, origin := b.Inputs, b.Bad, b.Origin
	out := ingestJSON{Results: []resultJSON{}, Anomalies: []anomalyJSON{}}
	add := func(r resultJSON, pos int) {
		r.EPCISIndex = &pos
		out.Results = append(out.Results, r)
		switch r.Status {
		case tracking.Accepted:
			out.Accepted++
		case tracking.Duplicate:
			out.Duplicates++
		default:
			out.Rejected++
		}
	}
	next := 0 // the first input not ingested yet
	run := func(before int) error {
		end := next
		for end < len(ins) && origin[end] < before {
			end++
		}
		if end == next {
			return nil
		}
		part := map[int]string{}
		for i, why := range bad {
			if i >= next && i < end {
				part[i-next] = why
			}
		}
		res, err := s.ingestOut(c, ins[next:end], part, &tracking.EPCISBatch{Origin: origin[next:end], Notes: b.Notes})
		if err != nil {
			return err
		}
		next = end
		for _, r := range res.Results {
			add(r, *r.EPCISIndex)
		}
		out.Anomalies = append(out.Anomalies, res.Anomalies...)
		return nil
	}
	for _, l := range links {
		if err := run(l.pos); err != nil {
			return err
		}
		r, err := s.epcisLink(c, carrier, l)
		if err != nil {
			return fmt.Errorf("EPCIS event %d: %w", l.pos, err)
		}
		add(r, l.pos)
	}
	if err := run(math.MaxInt); err != nil {
		return err
	}
	for _, l := range decls {
		r, err := s.epcisDeclaration(c, carrier, l)
		if err != nil {
			return fmt.Errorf("EPCIS event %d: %w", l.pos, err)
		}
		add(r, l.pos)
	}
	sort.SliceStable(out.Results, func(i, j int) bool { return *out.Results[i].EPCISIndex < *out.Results[j].EPCISIndex })
	for i := range out.Results {
		out.Results[i].Index = i
	}
	s.deps.Metrics.ingested(out.Accepted, out.Duplicates, out.Rejected, len(out.Anomalies))
	return c.JSON(out)
}

// stayJSON is a parcel's stay in a container (集包).
type stayJSON struct {
	Container     string     `json:"container"`
	PackedAt      time.Time  `json:"packed_at"`
	PackedSite    string     `json:"packed_site,omitempty"`
	PackedEvent   string     `json:"packed_event"`
	UnpackedAt    *time.Time `json:"unpacked_at,omitempty"`
	UnpackedSite  string     `json:"unpacked_site,omitempty"`
	UnpackedEvent string     `json:"unpacked_event,omitempty"`
}

// orderJSON is a business transaction a parcel is linked to.
type orderJSON struct {
	Type    string    `json:"type,omitempty"`
	ID      string    `json:"id"`
	EventID string    `json:"event_id"`
	At      time.Time `json:"at"`
}

// retractJSON is an event declared erroneous: shown, and left out of the rest of the trace.
type retractJSON struct {
	Event      eventJSON `json:"event"`
	Reason     string    `json:"reason,omitempty"`
	DeclaredAt time.Time `json:"declared_at"`
	At         time.Time `json:"retracted_at"`
	Corrective []string  `json:"corrective_event_ids,omitempty"`
}

// retractedLinkJSON is a packing, unpacking or order link whose event was declared
// erroneous: shown, and left out of containers, custody and orders.
type retractedLinkJSON struct {
	EventID    string    `json:"event_id"`
	Kind       string    `json:"kind"`
	Container  string    `json:"container,omitempty"`
	Type       string    `json:"type,omitempty"`
	ID         string    `json:"id,omitempty"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason,omitempty"`
	DeclaredAt time.Time `json:"declared_at"`
	Retracted  time.Time `json:"retracted_at"`
	Corrective []string  `json:"corrective_event_ids,omitempty"`
}

// linksOut adds a trace's containers, orders and retracted events and links (none in a reduced trace).
func linksOut(out *traceJSON, t tracking.Trace) {
	for _, st := range t.Containers {
		out.Containers = append(out.Containers, stayJSON{Container: st.Container, PackedAt: st.PackedAt, PackedSite: st.PackedSite,
			PackedEvent: st.PackedEvent, UnpackedAt: ts(st.UnpackedAt), UnpackedSite: st.UnpackedSite, UnpackedEvent: st.UnpackedEvent})
	}
	for _, o := range t.Orders {
		out.Orders = append(out.Orders, orderJSON{Type: o.Type, ID: o.ID, EventID: o.EventID, At: o.At})
	}
	for _, r := range t.Retracted {
		out.Retracted = append(out.Retracted, retractJSON{Event: eventOut(r.Event), Reason: r.Reason, DeclaredAt: r.DeclaredAt, At: r.At, Corrective: r.Corrective})
	}
	for _, l := range t.RetractedLinks {
		r := l.Retracted
		out.RetractedLinks = append(out.RetractedLinks, retractedLinkJSON{EventID: l.EventID, Kind: string(l.Kind), Container: l.Container,
			Type: l.RefType, ID: l.RefID, At: l.At, Reason: r.Reason, DeclaredAt: r.DeclaredAt, Retracted: r.At, Corrective: r.CorrectiveIDs})
	}
}
