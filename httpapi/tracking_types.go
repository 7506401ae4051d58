package httpapi

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

type holderReq struct {
	Firm      string `json:"firm"`
	Site      string `json:"site"`
	Staff     string `json:"staff"`
	Recipient bool   `json:"recipient"`
}

// eventReq is one tracking event as carriers send it.
type eventReq struct {
	ID             string     `json:"id"`
	Waybill        string     `json:"waybill"`
	Carrier        string     `json:"carrier"`
	Code           string     `json:"code"`
	At             Time       `json:"at"`
	Site           string     `json:"site"`
	Staff          string     `json:"staff"`
	Holder         *holderReq `json:"holder"`
	Region         string     `json:"region"`
	Lat            *float64   `json:"lat"`
	Lng            *float64   `json:"lng"`
	WeightGrams    int        `json:"weight_g"`
	Signer         string     `json:"signer"`
	Merchant       string     `json:"merchant"`
	RecipientPhone string     `json:"recipient_phone"`
	Remark         string     `json:"remark"`
}

func (r eventReq) toDomain() tracking.EventInput {
	in := tracking.EventInput{ID: r.ID, Waybill: r.Waybill, Carrier: r.Carrier, Code: r.Code, At: r.At.Time, Site: r.Site, Staff: r.Staff,
		Region: r.Region, Lat: r.Lat, Lng: r.Lng, WeightGrams: r.WeightGrams, Signer: r.Signer, MerchantID: r.Merchant,
		RecipientPhone: r.RecipientPhone, Remark: r.Remark}
	if r.Holder != nil {
		in.Holder = &tracking.HolderInput{Firm: r.Holder.Firm, Site: r.Holder.Site, Staff: r.Holder.Staff, Recipient: r.Holder.Recipient}
	}
	return in
}

type holderJSON struct {
	Kind  string `json:"kind"`
	Firm  string `json:"firm,omitempty"`
	Site  string `json:"site,omitempty"`
	Staff string `json:"staff,omitempty"`
}

func holderOut(h tracking.Holder) *holderJSON {
	if h.IsZero() {
		return nil
	}
	return &holderJSON{Kind: string(h.Kind), Firm: h.FirmID, Site: h.SiteID, Staff: h.StaffID}
}

type eventJSON struct {
	ID         string      `json:"id,omitempty"`
	Waybill    string      `json:"waybill,omitempty"`
	Carrier    string      `json:"carrier,omitempty"`
	Code       string      `json:"code"`
	RawCode    string      `json:"raw_code,omitempty"`
	At         time.Time   `json:"at"`
	Firm       string      `json:"firm,omitempty"`
	Site       string      `json:"site,omitempty"`
	Staff      string      `json:"staff,omitempty"`
	Holder     *holderJSON `json:"holder,omitempty"`
	Region     string      `json:"region,omitempty"`
	Lat        *float64    `json:"lat,omitempty"`
	Lng        *float64    `json:"lng,omitempty"`
	Weight     int         `json:"weight_g,omitempty"`
	Signer     string      `json:"signer,omitempty"`
	Merchant   string      `json:"merchant,omitempty"`
	Remark     string      `json:"remark,omitempty"`
	ReceivedAt *time.Time  `json:"received_at,omitempty"`
	// Extensions is what an EPCIS event said beyond the tracking fields, as sent.
	Extensions json.RawMessage `json:"extensions,omitempty"`
}

func eventOut(e tracking.Event) eventJSON {
	var ext json.RawMessage
	if e.Extensions != "" {
		ext = json.RawMessage(e.Extensions)
	}
	return eventJSON{Extensions: ext, ID: e.ID, Waybill: e.Waybill, Carrier: e.Carrier, Code: string(e.Code), RawCode: e.RawCode, At: e.At, Firm: e.FirmID,
		Site: e.SiteID, Staff: e.StaffID, Holder: holderOut(e.Holder), Region: e.Region, Lat: e.Lat, Lng: e.Lng, Weight: e.WeightGrams,
		Signer: e.Signer, Merchant: e.MerchantID, Remark: e.Remark, ReceivedAt: ts(e.ReceivedAt)}
}

type segmentJSON struct {
	Holder       *holderJSON `json:"holder"`
	Status       string      `json:"status"`
	From         time.Time   `json:"from"`
	To           *time.Time  `json:"to,omitempty"`
	DwellSeconds int64       `json:"dwell_seconds"`
	EventIDs     []string    `json:"event_ids"`
	Containers   []string    `json:"containers,omitempty"` // the containers the parcel was in meanwhile
}

type promiseJSON struct {
	Hours    int        `json:"hours"`
	Due      *time.Time `json:"due,omitempty"`
	Breached bool       `json:"breached"`
}

type traceJSON struct {
	Waybill        string              `json:"waybill"`
	Carrier        string              `json:"carrier,omitempty"`
	Status         string              `json:"status"`
	StatusAt       time.Time           `json:"status_at"`
	Holder         *holderJSON         `json:"holder,omitempty"`
	CollectedAt    *time.Time          `json:"collected_at,omitempty"`
	DeliveredAt    *time.Time          `json:"delivered_at,omitempty"`
	Merchant       string              `json:"merchant,omitempty"`
	Promise        promiseJSON         `json:"promise"`
	Events         []eventJSON         `json:"events"`
	Custody        []segmentJSON       `json:"custody,omitempty"`
	Offers         []offerJSON         `json:"offers,omitempty"`
	Containers     []stayJSON          `json:"containers,omitempty"`
	Orders         []orderJSON         `json:"orders,omitempty"`
	Retracted      []retractJSON       `json:"retracted,omitempty"`
	RetractedLinks []retractedLinkJSON `json:"retracted_links,omitempty"`
	Reduced        bool                `json:"reduced"`
	AsOf           time.Time           `json:"as_of"`
}

func traceOut(t tracking.Trace) traceJSON {
	out := traceJSON{Waybill: t.Waybill, Carrier: t.Carrier, Status: string(t.Status), StatusAt: t.StatusAt, Holder: holderOut(t.Holder),
		CollectedAt: ts(t.CollectedAt), DeliveredAt: ts(t.DeliveredAt), Merchant: t.MerchantID,
		Promise: promiseJSON{Hours: t.Promise.Hours, Due: ts(t.Promise.Due), Breached: t.Promise.Breached},
		Events:  []eventJSON{}, Reduced: t.Reduced, AsOf: t.AsOf}
	for _, e := range t.Events {
		ej := eventOut(e)
		if t.Reduced {
			ej = eventJSON{Code: string(e.Code), At: e.At, Region: e.Region, Signer: e.Signer}
		}
		out.Events = append(out.Events, ej)
	}
	for _, o := range t.Offers {
		out.Offers = append(out.Offers, offerOut(o))
	}
	for _, s := range t.Custody {
		out.Custody = append(out.Custody, segmentJSON{Holder: holderOut(s.Holder), Status: string(s.Status), From: s.From, To: ts(s.To),
			DwellSeconds: int64(s.Dwell.Seconds()), EventIDs: s.EventIDs, Containers: s.Containers})
	}
	linksOut(&out, t)
	return out
}

// offerJSON is a handover to another firm tree: custody stays with the giver until accepted.
type offerJSON struct {
	ID         string      `json:"id"`
	At         time.Time   `json:"at"`
	From       *holderJSON `json:"from"`
	To         *holderJSON `json:"to"`
	Status     string      `json:"status"` // pending or accepted
	AcceptedAt *time.Time  `json:"accepted_at,omitempty"`
	AcceptedBy string      `json:"accepted_by,omitempty"`
}

func offerOut(o tracking.Offer) offerJSON {
	out := offerJSON{ID: o.ID, At: o.At, From: holderOut(o.From), To: holderOut(o.To), Status: "pending"}
	if o.Accepted {
		out.Status, out.AcceptedAt, out.AcceptedBy = "accepted", ts(o.AcceptedAt), o.AcceptedBy
	}
	return out
}

type partyJSON struct {
	Firm  string `json:"firm,omitempty"`
	Site  string `json:"site,omitempty"`
	Staff string `json:"staff,omitempty"`
	HQ    string `json:"hq,omitempty"`
}

type candidateJSON struct {
	partyJSON
	Reason     string   `json:"reason"`
	EventIDs   []string `json:"event_ids"`
	Confidence float64  `json:"confidence"`
}

type attributionJSON struct {
	Rule        string          `json:"rule"`
	Responsible *partyJSON      `json:"responsible,omitempty"`
	EventIDs    []string        `json:"event_ids"`
	Confidence  float64         `json:"confidence"`
	Explanation string          `json:"explanation"`
	Candidates  []candidateJSON `json:"candidates"`
}

type incidentJSON struct {
	ID          string          `json:"id"`
	Waybill     string          `json:"waybill"`
	Carrier     string          `json:"carrier"`
	Kind        string          `json:"kind"`
	Reporter    string          `json:"reporter,omitempty"`
	At          time.Time       `json:"at"`
	Description string          `json:"description,omitempty"`
	Evidence    []string        `json:"evidence"`
	Attribution attributionJSON `json:"attribution"`
	RecordIDs   []string        `json:"proposed_record_ids"`
	AnomalyID   string          `json:"anomaly_id,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	// JoinedReports counts the later reports of the same parcel, kind and reporting party
	// (within 7 days) that joined this incident.
	JoinedReports int `json:"joined_reports"`
	// Joined is true on the answer (200) to a report that joined this incident.
	Joined bool `json:"joined,omitempty"`
}

func incidentOut(in tracking.Incident) incidentJSON {
	a := in.Attribution
	out := incidentJSON{ID: in.ID, Waybill: in.Waybill, Carrier: in.Carrier, Kind: string(in.Kind), Reporter: in.Reporter, At: in.At,
		Description: in.Description, Evidence: nonNil(in.Evidence), RecordIDs: nonNil(in.RecordIDs), AnomalyID: in.AnomalyID, CreatedAt: in.CreatedAt,
		JoinedReports: in.JoinedReports, Joined: in.Joined,
		Attribution: attributionJSON{Rule: a.Rule, EventIDs: nonNil(a.EventIDs), Confidence: a.Confidence, Explanation: a.Explanation, Candidates: []candidateJSON{}}}
	if !a.Responsible.IsZero() {
		out.Attribution.Responsible = &partyJSON{Firm: a.Responsible.FirmID, Site: a.Responsible.SiteID, Staff: a.Responsible.StaffID, HQ: a.HQID}
	}
	for _, c := range a.Candidates {
		out.Attribution.Candidates = append(out.Attribution.Candidates, candidateJSON{
			partyJSON: partyJSON{Firm: c.FirmID, Site: c.SiteID, Staff: c.StaffID, HQ: c.HQID}, Reason: c.Reason, EventIDs: nonNil(c.EventIDs), Confidence: c.Confidence})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type anomalyJSON struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Waybill    string    `json:"waybill,omitempty"`
	Carrier    string    `json:"carrier,omitempty"`
	Merchant   string    `json:"merchant,omitempty"`
	Detail     string    `json:"detail"`
	EventIDs   []string  `json:"event_ids"`
	FoundAt    time.Time `json:"found_at"`
	IncidentID string    `json:"incident_id,omitempty"`
}

func anomalyOut(a tracking.Anomaly) anomalyJSON {
	return anomalyJSON{ID: a.ID, Kind: string(a.Kind), Waybill: a.Waybill, Carrier: a.Carrier, Merchant: a.MerchantID, Detail: a.Detail,
		EventIDs: nonNil(a.EventIDs), FoundAt: a.FoundAt, IncidentID: a.IncidentID}
}

type incidentReq struct {
	Waybill     string   `json:"waybill" validate:"required,max=40"`
	Carrier     string   `json:"carrier" validate:"max=100"` // firm id or USCC: which carrier's parcel, when several use the waybill
	Kind        string   `json:"kind" validate:"required"`
	Reporter    string   `json:"reporter" validate:"max=100"`
	At          *Time    `json:"at"`
	Description string   `json:"description" validate:"max=2000"`
	Evidence    []string `json:"evidence" validate:"max=50,dive,max=500"`
}

type anomalyIncidentReq struct {
	Kind        string `json:"kind"`
	Description string `json:"description" validate:"max=2000"`
}

type carrierReq struct {
	PromiseHours int               `json:"promise_hours"`
	DwellHours   map[string]int    `json:"dwell_hours"`
	Codes        map[string]string `json:"codes"`
	// EPCIS: how GS1 identifiers map to waybills (key or serial), the carrier's GS1 company
	// prefixes, and the temperature range parcels are kept in.
	WaybillRule string   `json:"epcis_waybill" validate:"omitempty,oneof=key serial"`
	GS1Prefixes []string `json:"gs1_prefixes" validate:"max=20"`
	TempMinC    *float64 `json:"temp_min_c"`
	TempMaxC    *float64 `json:"temp_max_c"`
}

type carrierJSON struct {
	FirmID       string            `json:"firm_id"`
	PromiseHours int               `json:"promise_hours"`
	DwellHours   map[string]int    `json:"dwell_hours"`
	Codes        map[string]string `json:"codes"`
	WaybillRule  string            `json:"epcis_waybill"`
	GS1Prefixes  []string          `json:"gs1_prefixes"`
	TempMinC     *float64          `json:"temp_min_c,omitempty"`
	TempMaxC     *float64          `json:"temp_max_c,omitempty"`
	// GLNs are the GS1 numbers EPCIS documents name the carrier and its sites by (registered
	// with the firm and site routes).
	GLNs []glnJSON `json:"glns"`
}

// glnJSON is one GLN of a carrier: its own party GLN (site empty) or a site's.
type glnJSON struct {
	GLN  string `json:"gln"`
	Firm string `json:"firm"`
	Site string `json:"site,omitempty"`
}

func carrierOut(c tracking.CarrierConfig) carrierJSON {
	rule := c.WaybillRule
	if rule == "" {
		rule = tracking.WaybillKey
	}
	out := carrierJSON{FirmID: c.FirmID, PromiseHours: int(c.Promise() / time.Hour), DwellHours: map[string]int{}, Codes: map[string]string{},
		WaybillRule: rule, GS1Prefixes: c.GS1Prefixes, TempMinC: c.TempMinC, TempMaxC: c.TempMaxC, GLNs: []glnJSON{}}
	if out.GS1Prefixes == nil {
		out.GS1Prefixes = []string{}
	}
	for _, code := range tracking.Codes {
		if d := c.Dwell(code); d > 0 {
			out.DwellHours[string(code)] = int(d / time.Hour)
		}
	}
	for k, v := range c.Codes {
		out.Codes[k] = string(v)
	}
	return out
}

// EPCIS 2.0 JSON (the parts credtrace reads).
type epcisDoc struct {
	Context   any       `json:"@context"`
	Type      string    `json:"type"`
	IsA       string    `json:"isA"` // the pre-ratification name of type
	SchemaVer string    `json:"schemaVersion"`
	Created   string    `json:"creationDate"`
	ID        string    `json:"id"`
	Body      epcisBody `json:"epcisBody"`
}

type epcisBody struct {
	// EventList is read entry by entry, so that an entry that is not an event object is
	// answered on its own.
	EventList json.RawMessage `json:"eventList" oa:"array"`
}

// check answers one 400 naming the problem when the document is not an EPCIS document.
func (d epcisDoc) check() error {
	notEPCIS := func(field, msg string) error {
		return badRequest("not_epcis", "not an EPCIS 2.0 document: "+field+": "+msg, credtrace.FieldError{Field: field, Reason: msg})
	}
	typ := d.Type
	if typ == "" {
		typ = d.IsA
	}
	if typ != "EPCISDocument" {
		return notEPCIS("type", fmt.Sprintf("%q, want EPCISDocument (type, or the older isA)", truncate(typ, 60)))
	}
	switch c := d.Context.(type) {
	case nil, string, map[string]any:
	case []any:
		for _, x := range c {
			switch x.(type) {
			case string, map[string]any:
			default:
				return notEPCIS("@context", "an array of context URIs and objects")
			}
		}
	default:
		return notEPCIS("@context", "a context URI, an object or an array of them")
	}
	if len(d.Body.EventList) == 0 || string(d.Body.EventList) == "null" {
		return notEPCIS("epcisBody.eventList", "required: an EPCISDocument carries its events in epcisBody.eventList")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// epcisContext is the JSON-LD context of EPCIS 2.0 documents.
const epcisContext = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

// epcisQueryDoc is an EPCIS 2.0 EPCISQueryDocument.
type epcisQueryDoc struct {
	Context       []string       `json:"@context"`
	Type          string         `json:"type"`
	SchemaVersion string         `json:"schemaVersion"`
	CreationDate  string         `json:"creationDate"`
	Body          epcisQueryBody `json:"epcisBody"`
}

type epcisQueryBody struct {
	QueryResults epcisQueryResults `json:"queryResults"`
}

type epcisQueryResults struct {
	QueryName   string           `json:"queryName"`
	ResultsBody epcisResultsBody `json:"resultsBody"`
}

type epcisResultsBody struct {
	EventList []map[string]any `json:"eventList"`
}
