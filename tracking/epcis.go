package tracking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GS1 EPCIS 2.0 interop: the Core Business Vocabulary's bizSteps and dispositions map onto the
// normalised codes. A bizStep may also be one of credtrace's own codes (as a CBV extension).
var bizSteps = map[string]Code{
	"accepting":       Collected,
	"commissioning":   Collected,
	"arriving":        Arrived,
	"receiving":       Arrived,
	"unloading":       Arrived,
	"departing":       Departed,
	"shipping":        Departed,
	"loading":         Departed,
	"transporting":    InTransit,
	"storing":         HeldForPickup,
	"holding":         HeldForPickup,
	"returning":       Returned,
	"decommissioning": Returned,
	"destroying":      Lost,
}

var dispositions = map[string]Code{
	"damaged":   Damaged,
	"stolen":    Lost,
	"destroyed": Lost,
	"returned":  Returned,
}

// cbvName strips a CBV URN or web URI down to its short name: "urn:epcglobal:cbv:bizstep:shipping"
// and "https://ref.gs1.org/cbv/BizStep-shipping" both become "shipping".
func cbvName(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexAny(v, ":/"); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[i+1:]
	}
	return strings.ToLower(v)
}

// EPCISCode maps an ObjectEvent's bizStep and disposition to a normalised code. A disposition
// that means the parcel is damaged, lost or returned wins over the bizStep.
func EPCISCode(bizStep, disposition string) (Code, bool) {
	if c, ok := dispositions[cbvName(disposition)]; ok {
		return c, true
	}
	name := cbvName(bizStep)
	if c := Code(name); c.Valid() {
		return c, true
	}
	c, ok := bizSteps[name]
	return c, ok
}

// EPCISRef takes the identifier at the end of an EPC, location or party URI
// ("urn:epc:id:sgln:0614141.00777.0" → "0614141.00777.0"; "https://x/site/abc" → "abc").
func EPCISRef(uri string) string {
	uri = strings.TrimSpace(uri)
	if i := strings.LastIndexAny(uri, ":/"); i >= 0 {
		return uri[i+1:]
	}
	return uri
}

// EPCISMasterData resolves GS1 location and party numbers to the sites and firms registered
// with them (courier's sites and firms, wired in by the edge).
type EPCISMasterData interface {
	// SiteByGLN returns the site registered with gln (13 digits, or GLN.extension); ok is
	// false when there is none.
	SiteByGLN(ctx context.Context, gln string) (siteID string, ok bool, err error)
	// FirmByGLN returns the firm registered with gln (its PGLN); ok is false when there is none.
	FirmByGLN(ctx context.Context, gln string) (firmID string, ok bool, err error)
}

// EPCISBatch is an EPCIS eventList mapped onto tracking inputs.
type EPCISBatch struct {
	Inputs []EventInput
	Origin []int            // the eventList index each input came from
	Bad    map[int]string   // inputs rejected while mapping (their place holds a zero input): reason
	Notes  map[int][]string // per eventList index: what the event said that was not used, and why
}

// Waybill maps one EPCIS identifier to the carrier's waybill, or answers why it names none. An
// EPC URN or a GS1 Digital Link is the waybill by the carrier's rule (see WaybillRule); any
// other URI's last segment is (urn:waybill:SF1 and https://carrier/parcel/SF1 name SF1).
// class says the identifier names a class of objects, never a parcel.
func (c CarrierConfig) Waybill(uri string) (waybill string, class bool, reason string) {
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return "", false, "an empty identifier"
	}
	if !isGS1URI(uri) {
		return checkWaybill(uri, EPCISRef(uri))
	}
	g, err := ParseGS1(uri)
	if err != nil {
		return "", false, err.Error()
	}
	if g.Class {
		return "", true, fmt.Sprintf("%q names a class of objects (no serial), not one parcel", uri)
	}
	switch g.Scheme {
	case SchemeSGLN, SchemePGLN:
		return "", false, fmt.Sprintf("%q is a GS1 %s (a location or party), not a parcel", uri, g.Scheme)
	}
	wb := g.Element()
	if c.WaybillRule == WaybillSerial {
		serial := g.Serial
		if serial == "" && (g.Scheme == SchemeSSCC || g.Scheme == SchemeGIAI) {
			for _, p := range c.GS1Prefixes {
				if g.Scheme == SchemeSSCC && strings.HasPrefix(g.Key[1:], p) {
					serial = g.Key[:1] + g.Key[1+len(p):17]
				} else if g.Scheme == SchemeGIAI && strings.HasPrefix(g.Key, p) && len(g.Key) > len(p) {
					serial = g.Key[len(p):]
				}
			}
		}
		if serial == "" {
			return "", false, fmt.Sprintf("%q: the carrier's waybills are serials, and none of its GS1 company prefixes (gs1_prefixes) starts this key", uri)
		}
		wb = serial
	}
	return checkWaybill(uri, wb)
}

func checkWaybill(uri, wb string) (string, bool, string) {
	if len(wb) < minWaybill || len(wb) > maxWaybill || !isAlnum(wb) {
		return "", false, fmt.Sprintf("%q maps to waybill %q, which is not %d to %d letters, digits, '-' or '_'", uri, wb, minWaybill, maxWaybill)
	}
	return wb, false, ""
}

// epcisNotKept are the fields of an event that the tracking event holds itself, or that name
// nothing: everything else an event says is kept under its extensions.
var epcisNotKept = map[string]bool{"type": true, "isA": true, "eventTime": true, "recordTime": true, "epcList": true,
	"@context": true, "credtrace:staff": true, "credtrace:signer": true}

// EPCISInputs maps an EPCIS 2.0 eventList onto tracking events of carrier. Each entry is
// answered on its own: mapped (one input per EPC of its epcList), or rejected with the reason,
// naming the field; nothing it says is dropped without a note. md resolves GLNs.
func (s *Service) EPCISInputs(ctx context.Context, carrier string, events []map[string]any, md EPCISMasterData) (EPCISBatch, error) {
	cfg, err := s.config(ctx, s.store, carrier)
	if err != nil {
		return EPCISBatch{}, err
	}
	d := epcisDecoder{carrier: carrier, cfg: cfg, md: md}
	b := EPCISBatch{Bad: map[int]string{}, Notes: map[int][]string{}}
	for pos, ev := range events {
		out, reason, err := d.event(ctx, ev)
		if err != nil {
			return EPCISBatch{}, err
		}
		if len(out.notes) > 0 {
			b.Notes[pos] = out.notes
		}
		if reason != "" {
			b.Bad[len(b.Inputs)] = reason
			b.Inputs = append(b.Inputs, EventInput{})
			b.Origin = append(b.Origin, pos)
			continue
		}
		for j, in := range out.ins {
			if why, bad := out.bad[j]; bad {
				b.Bad[len(b.Inputs)] = why
			}
			b.Inputs = append(b.Inputs, in)
			b.Origin = append(b.Origin, pos)
		}
	}
	return b, nil
}

type epcisDecoder struct {
	carrier string
	cfg     CarrierConfig
	md      EPCISMasterData
}

// epcisOut is one eventList entry mapped: its inputs, those rejected on their own (by index
// into ins), and notes.
type epcisOut struct {
	ins   []EventInput
	bad   map[int]string
	notes []string
}

// event dispatches one eventList entry on its type (the older isA naming it as well).
func (d *epcisDecoder) event(ctx context.Context, ev map[string]any) (epcisOut, string, error) {
	typ, _ := ev["type"].(string)
	if typ == "" {
		typ, _ = ev["isA"].(string)
	}
	if _, ok := ev["errorDeclaration"]; ok {
		return epcisOut{}, "errorDeclaration: a correction retracts an earlier event and is applied apart from the ObjectEvents (Service.Retract)", nil
	}
	switch typ {
	case "ObjectEvent":
		return d.object(ctx, ev)
	case "AggregationEvent":
		return epcisOut{}, "type: AggregationEvent packs parcels into a container and is applied apart from the ObjectEvents (Service.Pack)", nil
	case "TransactionEvent":
		return epcisOut{}, "type: TransactionEvent links parcels to an order and is applied apart from the ObjectEvents (Service.LinkOrder)", nil
	case "TransformationEvent":
		return epcisOut{}, "type: TransformationEvent is not supported for parcels: a parcel is carried whole, never transformed into other objects", nil
	case "AssociationEvent":
		return epcisOut{}, "type: AssociationEvent is not supported for parcels: it ties sensors or assets to an object, which parcel tracking does not follow", nil
	case "":
		return epcisOut{}, "type: required (ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent or AssociationEvent)", nil
	}
	return epcisOut{}, fmt.Sprintf("type: %q is not an EPCIS 2.0 event type", truncate(typ, 60)), nil
}

// EPCISTime reads an eventTime and its eventTimeZoneOffset: the instant is eventTime's (a time
// without an offset is in eventTimeZoneOffset), shown in the offset's zone.
func EPCISTime(eventTime, offset string) (time.Time, string) {
	var zone *time.Location
	if offset != "" {
		t, err := time.Parse("-07:00", offset)
		if err != nil || len(offset) != 6 {
			return time.Time{}, "eventTimeZoneOffset: must be ±hh:mm"
		}
		_, secs := t.Zone()
		zone = time.FixedZone(offset, secs)
	}
	at, err := time.Parse(time.RFC3339Nano, eventTime)
	if err != nil && zone != nil {
		at, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", eventTime, zone)
	}
	if err != nil {
		return time.Time{}, "eventTime: must be an RFC 3339 time with offset (or eventTimeZoneOffset)"
	}
	if zone != nil {
		at = at.In(zone)
	}
	return at, ""
}

func (d *epcisDecoder) object(ctx context.Context, ev map[string]any) (epcisOut, string, error) {
	var out epcisOut
	eventTime, _ := ev["eventTime"].(string)
	offset, _ := ev["eventTimeZoneOffset"].(string)
	at, why := EPCISTime(eventTime, offset)
	if why != "" {
		return out, why, nil
	}
	if _, ok := ev["recordTime"]; ok {
		out.notes = append(out.notes, "recordTime: ignored (credtrace records when it received the event)")
	}
	bizStep, _ := ev["bizStep"].(string)
	disposition, _ := ev["disposition"].(string)
	action, _ := ev["action"].(string)
	code, why := epcisActionCode(action, bizStep, disposition)
	if why != "" {
		return out, why, nil
	}
	epcs, _ := ev["epcList"].([]any)
	if len(epcs) == 0 {
		if q, _ := ev["quantityList"].([]any); len(q) > 0 {
			return out, "quantityList: class-level quantities (an amount of a product class) name no parcel; a parcel is an EPC in epcList", nil
		}
		return out, "epcList: at least one EPC (the waybill)", nil
	}
	if q, _ := ev["quantityList"].([]any); len(q) > 0 {
		out.notes = append(out.notes, fmt.Sprintf("quantityList: %d class-level quantities name no parcel: kept under extensions, not tracked", len(q)))
	}
	site, why, err := d.location(ctx, "bizLocation", ev["bizLocation"])
	if err != nil || why != "" {
		return out, why, err
	}
	if site == "" {
		if site, why, err = d.location(ctx, "readPoint", ev["readPoint"]); err != nil || why != "" {
			return out, why, err
		}
	}
	holder, why, err := d.destinations(ctx, ev, &out)
	if err != nil || why != "" {
		return out, why, err
	}
	if why, err := d.sources(ctx, ev, &out); err != nil || why != "" {
		return out, why, err
	}
	staff, _ := ev["credtrace:staff"].(string)
	signer, _ := ev["credtrace:signer"].(string)
	if code == Delivered && signer == "" {
		signer = SignerRecipient
	}
	eventID, _ := ev["eventID"].(string)
	base := eventID
	if base == "" {
		raw, _ := json.Marshal(ev)
		sum := sha256.Sum256(raw)
		base = "epcis-" + hex.EncodeToString(sum[:12])
	}
	base = EPCISRef(base)
	kept := map[string]any{}
	var extra []string
	for k, v := range ev {
		if epcisNotKept[k] {
			continue
		}
		kept[k] = v
		if !epcisFields[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		out.notes = append(out.notes, "extensions: kept as sent: "+strings.Join(extra, ", "))
	}
	out.bad = map[int]string{}
	for i, v := range epcs {
		epc, _ := v.(string)
		in := EventInput{ID: base, Carrier: d.carrier, Code: string(code), At: at, Site: site, Holder: holder,
			Staff: staff, Signer: signer, Remark: epcisRemark(action, bizStep)}
		if len(epcs) > 1 {
			in.ID = base + "#" + strconv.Itoa(i)
		}
		wb, _, why := d.cfg.Waybill(epc)
		if why != "" {
			out.bad[len(out.ins)] = fmt.Sprintf("epcList[%d]: %s", i, why)
			out.ins = append(out.ins, in)
			continue
		}
		in.Waybill = wb
		kept["epcList"] = []string{epc}
		ext, err := json.Marshal(kept)
		if err != nil {
			return out, "extensions: " + err.Error(), nil
		}
		if len(ext) > MaxExtensionBytes {
			return out, extensionsTooLarge(len(ext)), nil
		}
		in.Extensions = string(ext)
		out.ins = append(out.ins, in)
	}
	return out, "", nil
}

// epcisFields are the ObjectEvent fields of the EPCIS 2.0 standard: the others an event
// carries are extension fields.
var epcisFields = map[string]bool{"eventID": true, "eventTimeZoneOffset": true, "action": true, "bizStep": true, "disposition": true,
	"quantityList": true, "readPoint": true, "bizLocation": true, "sourceList": true, "destinationList": true,
	"sensorElementList": true, "bizTransactionList": true, "persistentDisposition": true, "ilmd": true,
	"certificationInfo": true, "credtrace:tempMinC": true, "credtrace:tempMaxC": true}

func epcisRemark(action, bizStep string) string {
	r := "EPCIS " + action
	if bizStep != "" {
		r += " " + cbvName(bizStep)
	}
	return truncate(r, maxRemark)
}

// epcisActionCode maps an ObjectEvent's action, bizStep and disposition to a code. ADD brings
// the parcel into the carrier's system (a collection unless the bizStep says otherwise),
// OBSERVE is a scan its bizStep names, DELETE takes it out: delivered, lost (a destroyed or
// stolen disposition) or returned, never a scan.
func epcisActionCode(action, bizStep, disposition string) (Code, string) {
	code, ok := EPCISCode(bizStep, disposition)
	switch action {
	case "ADD":
		if bizStep == "" && disposition == "" {
			return Collected, ""
		}
	case "OBSERVE":
	case "DELETE":
		if ok && code.Final() {
			return code, ""
		}
		return Returned, ""
	case "":
		return "", "action: required on an ObjectEvent (ADD, OBSERVE or DELETE)"
	default:
		return "", fmt.Sprintf("action: %q is not ADD, OBSERVE or DELETE", truncate(action, 40))
	}
	if !ok {
		return "", fmt.Sprintf("bizStep: %q (disposition %q) maps to no tracking code", truncate(bizStep, 100), truncate(disposition, 100))
	}
	return code, ""
}

// idOf reads a location or party: a URI string, or an object whose id is one.
func idOf(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case map[string]any:
		id, _ := x["id"].(string)
		return strings.TrimSpace(id)
	}
	return ""
}

// location resolves a readPoint, bizLocation or location source/destination to a site: an SGLN
// (URN or Digital Link 414, with its 254 extension) by the GLN a site is registered with,
// any other URI by its last segment as the site's id.
func (d *epcisDecoder) location(ctx context.Context, field string, v any) (string, string, error) {
	id := idOf(v)
	if id == "" {
		return "", "", nil
	}
	if !isGS1URI(id) {
		return EPCISRef(id), "", nil
	}
	g, err := ParseGS1(id)
	if err != nil {
		return "", field + ": " + err.Error(), nil
	}
	if g.Scheme != SchemeSGLN {
		return "", fmt.Sprintf("%s: %q is not a location (an SGLN or a Digital Link with 414)", field, truncate(id, 100)), nil
	}
	if d.md == nil {
		return "", field + ": GLN locations are not resolvable here", nil
	}
	keys := []string{g.Key}
	if g.Serial != "" && g.Serial != "0" {
		keys = []string{g.Key + "." + g.Serial, g.Key}
	}
	for _, k := range keys {
		site, ok, err := d.md.SiteByGLN(ctx, k)
		if err != nil || ok {
			return site, "", err
		}
	}
	return "", fmt.Sprintf("%s: no site is registered with GLN %s", field, keys[0]), nil
}

// party resolves an owning or possessing party to a firm: a PGLN (or an SGLN used as one) by
// the GLN a firm is registered with, any other URI by its last segment as the firm's id.
func (d *epcisDecoder) party(ctx context.Context, field, id string) (string, string, error) {
	if !isGS1URI(id) {
		return EPCISRef(id), "", nil
	}
	g, err := ParseGS1(id)
	if err != nil {
		return "", field + ": " + err.Error(), nil
	}
	if g.Scheme != SchemePGLN && g.Scheme != SchemeSGLN {
		return "", fmt.Sprintf("%s: %q is not a party (a PGLN or a Digital Link with 417)", field, truncate(id, 100)), nil
	}
	if d.md == nil {
		return "", field + ": GLN parties are not resolvable here", nil
	}
	firm, ok, err := d.md.FirmByGLN(ctx, g.Key)
	if err != nil || ok {
		return firm, "", err
	}
	return "", fmt.Sprintf("%s: no firm is registered with GLN %s", field, g.Key), nil
}

type epcisEnd struct{ typ, id string }

func epcisEnds(ev map[string]any, list, key string) []epcisEnd {
	l, _ := ev[list].([]any)
	var out []epcisEnd
	for _, x := range l {
		m, _ := x.(map[string]any)
		typ, _ := m["type"].(string)
		id, _ := m[key].(string)
		out = append(out, epcisEnd{typ: cbvName(typ), id: strings.TrimSpace(id)})
	}
	return out
}

// destinations reads the destinationList: its owning or possessing party is the new holder, a
// location destination the holder's site.
func (d *epcisDecoder) destinations(ctx context.Context, ev map[string]any, out *epcisOut) (*HolderInput, string, error) {
	var h HolderInput
	for i, e := range epcisEnds(ev, "destinationList", "destination") {
		field := fmt.Sprintf("destinationList[%d]", i)
		switch e.typ {
		case "owning_party", "possessing_party":
			firm, why, err := d.party(ctx, field, e.id)
			if err != nil || why != "" {
				return nil, why, err
			}
			if e.typ == "possessing_party" || h.Firm == "" {
				h.Firm = firm
			}
		case "location":
			site, why, err := d.location(ctx, field, e.id)
			if err != nil || why != "" {
				return nil, why, err
			}
			h.Site = site
		default:
			out.notes = append(out.notes, fmt.Sprintf("%s: type %q is not a party or location: kept under extensions", field, e.typ))
		}
	}
	if h == (HolderInput{}) {
		return nil, "", nil
	}
	return &h, "", nil
}

// sources checks the sourceList resolves; it is kept under extensions (custody comes from the
// scans and destinations, not from who says it had the parcel before).
func (d *epcisDecoder) sources(ctx context.Context, ev map[string]any, out *epcisOut) (string, error) {
	for i, e := range epcisEnds(ev, "sourceList", "source") {
		field := fmt.Sprintf("sourceList[%d]", i)
		var why string
		var err error
		switch e.typ {
		case "owning_party", "possessing_party":
			_, why, err = d.party(ctx, field, e.id)
		case "location":
			_, why, err = d.location(ctx, field, e.id)
		default:
			why = fmt.Sprintf("type %q is not a party or location", e.typ)
		}
		if err != nil {
			return "", err
		}
		if why != "" {
			out.notes = append(out.notes, field+": kept under extensions, not resolved: "+why)
		}
	}
	return "", nil
}

// ----- sensor reports -----

// temperatureExcursion reads the sensor reports an EPCIS event kept under its extensions and
// answers the first temperature outside the range the event declares (credtrace:tempMinC,
// credtrace:tempMaxC) or else the carrier configured, or "" when there is none.
func temperatureExcursion(ext string, cfg CarrierConfig) string {
	if !strings.Contains(ext, "sensorElementList") {
		return ""
	}
	var ev struct {
		Sensors []struct {
			Reports []struct {
				Type  string   `json:"type"`
				Value *float64 `json:"value"`
				Min   *float64 `json:"minValue"`
				Max   *float64 `json:"maxValue"`
				UOM   string   `json:"uom"`
			} `json:"sensorReport"`
		} `json:"sensorElementList"`
		Lo *float64 `json:"credtrace:tempMinC"`
		Hi *float64 `json:"credtrace:tempMaxC"`
	}
	if json.Unmarshal([]byte(ext), &ev) != nil {
		return ""
	}
	lo, hi := cfg.TempMinC, cfg.TempMaxC
	if ev.Lo != nil || ev.Hi != nil {
		lo, hi = ev.Lo, ev.Hi
	}
	if lo == nil && hi == nil {
		return ""
	}
	for _, se := range ev.Sensors {
		for _, r := range se.Reports {
			if cbvName(r.Type) != "temperature" {
				continue
			}
			for _, v := range []*float64{r.Value, r.Min, r.Max} {
				if v == nil {
					continue
				}
				c, ok := celsius(*v, r.UOM)
				if !ok {
					continue
				}
				if lo != nil && c < *lo || hi != nil && c > *hi {
					return fmt.Sprintf("temperature %.1f °C outside %s", c, tempRange(lo, hi))
				}
			}
		}
	}
	return ""
}

// celsius converts a reading in a UN/ECE unit (CEL, FAH, KEL; none means CEL).
func celsius(v float64, uom string) (float64, bool) {
	switch strings.ToUpper(uom) {
	case "", "CEL":
		return v, true
	case "FAH":
		return (v - 32) * 5 / 9, true
	case "KEL":
		return v - 273.15, true
	}
	return 0, false
}

func tempRange(lo, hi *float64) string {
	f := func(p *float64, none string) string {
		if p == nil {
			return none
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	return f(lo, "-∞") + "–" + f(hi, "∞") + " °C"
}

// ----- the EPCIS query -----

// cbvOf is the CBV bizStep a normalised code is written back as; codes without one are written
// as themselves (credtrace's codes are a CBV extension the capture interface reads too).
var cbvOf = map[Code]string{Collected: "accepting", Arrived: "arriving", Departed: "departing", InTransit: "transporting",
	HeldForPickup: "storing", Returned: "returning"}

// EPCISQuery selects the events of the EPCIS query interface among a parcel's: the EQ_bizStep
// (a CBV name or URI), the EQ_bizLocation (a site id; "" for any) and the eventTime range
// [From, To) (zero for open).
type EPCISQuery struct {
	BizStep  string
	SiteID   string
	From, To time.Time
}

// EPCISEvents writes back the events of a trace as EPCIS 2.0 ObjectEvents, as they were sent
// where they came as EPCIS (their extensions), else from their tracking fields, with epc naming
// the parcel; only those q selects, in the trace's order.
func EPCISEvents(t Trace, epc string, q EPCISQuery) []map[string]any {
	out := []map[string]any{}
	for _, e := range t.Events {
		if !q.From.IsZero() && e.At.Before(q.From) || !q.To.IsZero() && !e.At.Before(q.To) || q.SiteID != "" && e.SiteID != q.SiteID {
			continue
		}
		ev := EPCISEvent(e, epc)
		if bs, _ := ev["bizStep"].(string); q.BizStep != "" && cbvName(bs) != cbvName(q.BizStep) {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// EPCISEvent writes one event back as an EPCIS 2.0 ObjectEvent.
func EPCISEvent(e Event, epc string) map[string]any {
	ev := map[string]any{}
	if e.Extensions != "" {
		_ = json.Unmarshal([]byte(e.Extensions), &ev) // stored by normalize, which checked it is JSON
	}
	ev["type"] = "ObjectEvent"
	if id, _ := ev["eventID"].(string); id == "" {
		ev["eventID"] = "urn:credtrace:event:" + e.Carrier + ":" + e.ID
	} else if i := strings.LastIndexByte(e.ID, '#'); i >= 0 {
		ev["eventID"] = id + e.ID[i:] // one of several EPCs of one event
	}
	offset, _ := ev["eventTimeZoneOffset"].(string)
	at := e.At.In(CST)
	if offset != "" {
		if t, why := EPCISTime(e.At.Format(time.RFC3339Nano), offset); why == "" {
			at = t
		}
	}
	ev["eventTime"] = at.Format(time.RFC3339Nano)
	ev["eventTimeZoneOffset"] = at.Format("-07:00")
	ev["recordTime"] = e.ReceivedAt.UTC().Format(time.RFC3339Nano)
	if _, ok := ev["epcList"]; !ok {
		ev["epcList"] = []string{epc}
	}
	if _, ok := ev["action"]; !ok {
		ev["action"] = "OBSERVE"
		if e.Code == Collected {
			ev["action"] = "ADD"
		} else if e.Code.Final() && e.Code != Delivered {
			ev["action"] = "DELETE"
		}
	}
	if _, ok := ev["bizStep"]; !ok {
		bs, known := cbvOf[e.Code]
		if !known {
			bs = string(e.Code)
		}
		ev["bizStep"] = bs
	}
	if _, ok := ev["bizLocation"]; !ok && e.SiteID != "" {
		ev["bizLocation"] = map[string]any{"id": "urn:credtrace:site:" + e.SiteID}
	}
	return ev
}

// EPCISWaybill maps an EPCIS identifier to carrier's waybill by the carrier's rule (see
// CarrierConfig.Waybill); the reason says why it names none.
func (s *Service) EPCISWaybill(ctx context.Context, carrier, epc string) (string, string, error) {
	cfg, err := s.config(ctx, s.store, carrier)
	if err != nil {
		return "", "", err
	}
	wb, _, why := cfg.Waybill(epc)
	return wb, why, nil
}

// EPCISLocation resolves a readPoint or bizLocation (an SGLN, a Digital Link 414, a site URI, in
// an object's id or as a string) to a site id as the capture interface does; why says what is
// wrong with it, naming field.
func EPCISLocation(ctx context.Context, md EPCISMasterData, field string, v any) (site, why string, err error) {
	d := epcisDecoder{md: md}
	return d.location(ctx, field, v)
}

// EPCISSite resolves an EQ_bizLocation to a site id as the capture interface does.
func EPCISSite(ctx context.Context, md EPCISMasterData, loc string) (string, string, error) {
	d := epcisDecoder{md: md}
	return d.location(ctx, "EQ_bizLocation", loc)
}
