package mongodb

import (
	"cmp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace/tracking"
)

// The documents of the tracking collections, with the conventions of docs.go: times are BSON
// datetimes with the zero time absent, and empty slices and maps come back nil.

// strs hands back nil for an empty list, as convSlice does, so that both backends agree.
func strs(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return in
}

type holderDoc struct {
	Kind    string `bson:"kind"`
	FirmID  string `bson:"firm_id"`
	SiteID  string `bson:"site_id"`
	StaffID string `bson:"staff_id"`
}

func toHolderDoc(h tracking.Holder) holderDoc {
	return holderDoc{Kind: string(h.Kind), FirmID: h.FirmID, SiteID: h.SiteID, StaffID: h.StaffID}
}

func fromHolderDoc(d holderDoc) tracking.Holder {
	return tracking.Holder{Kind: tracking.HolderKind(d.Kind), FirmID: d.FirmID, SiteID: d.SiteID, StaffID: d.StaffID}
}

type partyDoc struct {
	FirmID  string `bson:"firm_id"`
	SiteID  string `bson:"site_id"`
	StaffID string `bson:"staff_id"`
}

func toPartyDoc(p tracking.Party) partyDoc {
	return partyDoc{FirmID: p.FirmID, SiteID: p.SiteID, StaffID: p.StaffID}
}

func fromPartyDoc(d partyDoc) tracking.Party {
	return tracking.Party{FirmID: d.FirmID, SiteID: d.SiteID, StaffID: d.StaffID}
}

// deltaDoc is one statistics delta as kept on its event (or statistics source), so that
// recovery can apply it after a crash.
type deltaDoc struct {
	Kind   string `bson:"kind"`
	ID     string `bson:"id"`
	Day    string `bson:"day"`
	Metric string `bson:"metric"`
	N      int64  `bson:"n"`
}

func toDeltaDocs(in []tracking.StatDelta) []deltaDoc {
	return convSlice(in, func(d tracking.StatDelta) deltaDoc {
		return deltaDoc{Kind: string(d.Key.Kind), ID: d.Key.ID, Day: d.Key.Day, Metric: string(d.Metric), N: int64(d.N)}
	})
}

func fromDeltaDocs(in []deltaDoc) []tracking.StatDelta {
	return convSlice(in, func(d deltaDoc) tracking.StatDelta {
		return tracking.StatDelta{
			Key:    tracking.StatKey{Kind: tracking.SubjectKind(d.Kind), ID: d.ID, Day: d.Day},
			Metric: tracking.Metric(d.Metric),
			N:      int(d.N),
		}
	})
}

// eventDoc is one tracking event under its key (carrier|id). Counted is false from the insert
// until the event's deltas are in the statistics; RecoverStats finishes events a crash left
// uncounted.
type eventDoc struct {
	Key          string         `bson:"_id"`
	ID           string         `bson:"id"`
	Waybill      string         `bson:"waybill"`
	Carrier      string         `bson:"carrier"`
	Code         string         `bson:"code"`
	RawCode      string         `bson:"raw_code"`
	At           *bson.DateTime `bson:"at,omitempty"`
	SiteID       string         `bson:"site_id"`
	StaffID      string         `bson:"staff_id"`
	FirmID       string         `bson:"firm_id"`
	Holder       holderDoc      `bson:"holder"`
	Region       string         `bson:"region"`
	Lat          *float64       `bson:"lat"` // null when unknown
	Lng          *float64       `bson:"lng"`
	WeightGrams  int64          `bson:"weight_g"`
	Signer       string         `bson:"signer"`
	MerchantID   string         `bson:"merchant_id"`
	RecipientKey string         `bson:"recipient_key"`
	RecipientID  string         `bson:"recipient_id,omitempty"`
	Remark       string         `bson:"remark"`
	Extensions   string         `bson:"ext,omitempty"` // a JSON object's text: kept as sent, never queried
	Hash         string         `bson:"hash"`
	ReceivedAt   *bson.DateTime `bson:"received_at,omitempty"`
	Deltas       []deltaDoc     `bson:"deltas"`
	Counted      bool           `bson:"counted"`
	// The journal (see journal.go): the event's sequence, and while its derived state is not
	// saved, pending; folded once its deltas are recorded.
	Seq     int64 `bson:"seq,omitempty"`
	Pending bool  `bson:"pending,omitempty"`
	Folded  bool  `bson:"folded,omitempty"`
}

func toEventDoc(e tracking.Event) eventDoc {
	return eventDoc{
		Key:          e.Key(),
		ID:           e.ID,
		Waybill:      e.Waybill,
		Carrier:      e.Carrier,
		Code:         string(e.Code),
		RawCode:      e.RawCode,
		At:           datetime(e.At),
		SiteID:       e.SiteID,
		StaffID:      e.StaffID,
		FirmID:       e.FirmID,
		Holder:       toHolderDoc(e.Holder),
		Region:       e.Region,
		Lat:          e.Lat,
		Lng:          e.Lng,
		WeightGrams:  int64(e.WeightGrams),
		Signer:       e.Signer,
		MerchantID:   e.MerchantID,
		RecipientKey: e.RecipientKey,
		RecipientID:  e.RecipientID,
		Remark:       e.Remark,
		Extensions:   e.Extensions,
		Hash:         e.Hash,
		ReceivedAt:   datetime(e.ReceivedAt),
		Deltas:       toDeltaDocs(e.Deltas),
	}
}

func fromEventDoc(d eventDoc) tracking.Event {
	return tracking.Event{
		ID:           d.ID,
		Waybill:      d.Waybill,
		Carrier:      d.Carrier,
		Code:         tracking.Code(d.Code),
		RawCode:      d.RawCode,
		At:           fromDatetime(d.At),
		SiteID:       d.SiteID,
		StaffID:      d.StaffID,
		FirmID:       d.FirmID,
		Holder:       fromHolderDoc(d.Holder),
		Region:       d.Region,
		Lat:          d.Lat,
		Lng:          d.Lng,
		WeightGrams:  int(d.WeightGrams),
		Signer:       d.Signer,
		MerchantID:   d.MerchantID,
		RecipientKey: d.RecipientKey,
		RecipientID:  d.RecipientID,
		Remark:       d.Remark,
		Extensions:   d.Extensions,
		Hash:         d.Hash,
		ReceivedAt:   fromDatetime(d.ReceivedAt),
		Deltas:       fromDeltaDocs(d.Deltas),
	}
}

// parcelDoc is one carrier's waybill summary under its key (tracking.ParcelKey.String:
// "waybill carrier", so _id order is waybill, then carrier).
type parcelDoc struct {
	Key          string         `bson:"_id"`
	Waybill      string         `bson:"waybill"`
	Carrier      string         `bson:"carrier"`
	Carriers     []string       `bson:"carriers"`
	Status       string         `bson:"status"`
	StatusAt     *bson.DateTime `bson:"status_at,omitempty"`
	Holder       holderDoc      `bson:"holder"`
	HolderAt     *bson.DateTime `bson:"holder_at,omitempty"`
	CollectedAt  *bson.DateTime `bson:"collected_at,omitempty"`
	CollectedBy  partyDoc       `bson:"collected_by"`
	DeliveredAt  *bson.DateTime `bson:"delivered_at,omitempty"`
	DeliveredBy  partyDoc       `bson:"delivered_by"`
	Signer       string         `bson:"signer"`
	MerchantID   string         `bson:"merchant_id"`
	RecipientKey string         `bson:"recipient_key"`
	RecipientID  string         `bson:"recipient_id,omitempty"`
	Lost         bool           `bson:"lost,omitempty"`
	Damaged      bool           `bson:"damaged,omitempty"`
	WeightGrams  int64          `bson:"weight_g"`
	TransitScans int64          `bson:"transit_scans"`
	FirstAt      *bson.DateTime `bson:"first_at,omitempty"`
	LastAt       *bson.DateTime `bson:"last_at,omitempty"`
	Events       int64          `bson:"events"`
	PromiseBy    *bson.DateTime `bson:"promise_by,omitempty"`
	Judged       bool           `bson:"judged"`
	Handled      []string       `bson:"handled"`
	Final        bool           `bson:"final"`
	UpdatedAt    *bson.DateTime `bson:"updated_at,omitempty"`
	Verdict      string         `bson:"verdict,omitempty"`
	CollRegion   string         `bson:"collected_region,omitempty"`
	LastRegion   string         `bson:"last_region,omitempty"`
	Withheld     bool           `bson:"delivery_withheld,omitempty"`
	Empty        bool           `bson:"empty,omitempty"`
	Version      int64          `bson:"version,omitempty"`
	Folded       []string       `bson:"folded,omitempty"`
	Custody      []stepDoc      `bson:"custody,omitempty"`
	Delay        []shareDoc     `bson:"delay,omitempty"`
}

// stepDoc is one custody step of a parcel summary.
type stepDoc struct {
	At      *bson.DateTime `bson:"at"`
	Code    string         `bson:"code"`
	EventID string         `bson:"event"`
	Holder  holderDoc      `bson:"holder"`
}

// shareDoc is one holder's share of a late parcel's delay.
type shareDoc struct {
	Holder  partyDoc `bson:"holder"`
	Kind    string   `bson:"kind,omitempty"`
	Milli   int64    `bson:"milli"`
	OverMS  int64    `bson:"over_ms,omitempty"`
	EventID string   `bson:"event,omitempty"`
	InHand  int64    `bson:"in_hand,omitempty"`
}

func toStepDoc(s tracking.Step) stepDoc {
	return stepDoc{At: datetime(s.At), Code: string(s.Code), EventID: s.EventID, Holder: toHolderDoc(s.Holder)}
}

func fromStepDoc(d stepDoc) tracking.Step {
	return tracking.Step{At: fromDatetime(d.At), Code: tracking.Code(d.Code), EventID: d.EventID, Holder: fromHolderDoc(d.Holder)}
}

func toShareDoc(s tracking.Share) shareDoc {
	return shareDoc{Holder: toPartyDoc(s.Holder), Kind: string(s.Kind), Milli: int64(s.Milli), OverMS: s.Over.Milliseconds(), EventID: s.EventID, InHand: int64(s.InHand)}
}

func fromShareDoc(d shareDoc) tracking.Share {
	return tracking.Share{Holder: fromPartyDoc(d.Holder), Kind: tracking.SegmentKind(d.Kind), Milli: int(d.Milli),
		Over: time.Duration(d.OverMS) * time.Millisecond, EventID: d.EventID, InHand: int(d.InHand)}
}

func toParcelDoc(p tracking.Parcel) parcelDoc {
	return parcelDoc{
		Key:          p.Key().String(),
		Waybill:      p.Waybill,
		Carrier:      p.Carrier,
		Carriers:     strs(p.Carriers),
		Status:       string(p.Status),
		StatusAt:     datetime(p.StatusAt),
		Holder:       toHolderDoc(p.Holder),
		HolderAt:     datetime(p.HolderAt),
		CollectedAt:  datetime(p.CollectedAt),
		CollectedBy:  toPartyDoc(p.CollectedBy),
		DeliveredAt:  datetime(p.DeliveredAt),
		DeliveredBy:  toPartyDoc(p.DeliveredBy),
		Signer:       p.Signer,
		MerchantID:   p.MerchantID,
		RecipientKey: p.RecipientKey,
		RecipientID:  p.RecipientID,
		Lost:         p.Lost,
		Damaged:      p.Damaged,
		WeightGrams:  int64(p.WeightGrams),
		TransitScans: int64(p.TransitScans),
		FirstAt:      datetime(p.FirstAt),
		LastAt:       datetime(p.LastAt),
		Events:       int64(p.Events),
		PromiseBy:    datetime(p.PromiseBy),
		Judged:       p.Judged,
		Handled:      strs(p.Handled),
		Final:        p.Final,
		UpdatedAt:    datetime(p.UpdatedAt),
		Verdict:      string(p.Verdict),
		CollRegion:   p.CollectedRegion,
		LastRegion:   p.LastRegion,
		Withheld:     p.DeliveryWithheld,
		Empty:        p.Empty,
		Version:      p.Version,
		Folded:       p.Folded,
		Custody:      convSlice(p.Custody, toStepDoc),
		Delay:        convSlice(p.Delay, toShareDoc),
	}
}

func fromParcelDoc(d parcelDoc) tracking.Parcel {
	return tracking.Parcel{
		Waybill:      d.Waybill,
		Carrier:      d.Carrier,
		Carriers:     strs(d.Carriers),
		Status:       tracking.Code(d.Status),
		StatusAt:     fromDatetime(d.StatusAt),
		Holder:       fromHolderDoc(d.Holder),
		HolderAt:     fromDatetime(d.HolderAt),
		CollectedAt:  fromDatetime(d.CollectedAt),
		CollectedBy:  fromPartyDoc(d.CollectedBy),
		DeliveredAt:  fromDatetime(d.DeliveredAt),
		DeliveredBy:  fromPartyDoc(d.DeliveredBy),
		Signer:       d.Signer,
		MerchantID:   d.MerchantID,
		RecipientKey: d.RecipientKey,
		RecipientID:  d.RecipientID,
		Lost:         d.Lost,
		Damaged:      d.Damaged,
		WeightGrams:  int(d.WeightGrams),
		TransitScans: int(d.TransitScans),
		FirstAt:      fromDatetime(d.FirstAt),
		LastAt:       fromDatetime(d.LastAt),
		Events:       int(d.Events),
		PromiseBy:    fromDatetime(d.PromiseBy),
		Judged:       d.Judged,
		Handled:      strs(d.Handled),
		Final:        d.Final,
		UpdatedAt:    fromDatetime(d.UpdatedAt),

		Verdict:          tracking.Metric(d.Verdict),
		CollectedRegion:  d.CollRegion,
		LastRegion:       d.LastRegion,
		DeliveryWithheld: d.Withheld,
		Empty:            d.Empty,
		Version:          d.Version,
		Folded:           d.Folded,
		Custody:          convSlice(d.Custody, fromStepDoc),
		Delay:            convSlice(d.Delay, fromShareDoc),
	}
}

// statDoc is one subject's counters for one day, under StatKey.String(). Pend lists the events
// (and statistics sources) whose deltas are in Counts but which are not yet marked counted: the
// guard that keeps a retried or recovered delta from being added twice.
type statDoc struct {
	Key    string           `bson:"_id"`
	Kind   string           `bson:"kind"`
	ID     string           `bson:"id"`
	Day    string           `bson:"day"`
	Counts map[string]int64 `bson:"counts"`
	Pend   []string         `bson:"pend"`
}

func fromStatDoc(d statDoc) tracking.DayStats {
	counts := make(map[tracking.Metric]int, len(d.Counts))
	for m, n := range d.Counts {
		counts[tracking.Metric(m)] = int(n)
	}
	return tracking.DayStats{Key: tracking.StatKey{Kind: tracking.SubjectKind(d.Kind), ID: d.ID, Day: d.Day}, Counts: counts}
}

// statSourceDoc records that the deltas of one source (an incident) were handed to AddStats.
type statSourceDoc struct {
	Source     string         `bson:"_id"`
	Deltas     []deltaDoc     `bson:"deltas"`
	Counted    bool           `bson:"counted"`
	RecordedAt *bson.DateTime `bson:"recorded_at,omitempty"`
}

// dwellDoc and codeDoc keep a carrier's maps as lists: a carrier's own codes may hold any
// character, '.' and a leading '$' included, which field names cannot.
type dwellDoc struct {
	Code  string `bson:"code"`
	Hours int64  `bson:"hours"`
}

type codeDoc struct {
	Raw  string `bson:"raw"`
	Code string `bson:"code"`
}

type carrierDoc struct {
	FirmID       string         `bson:"_id"`
	PromiseHours int64          `bson:"promise_hours"`
	Dwell        []dwellDoc     `bson:"dwell"`
	Codes        []codeDoc      `bson:"codes"`
	UpdatedAt    *bson.DateTime `bson:"updated_at,omitempty"`
	WaybillRule  string         `bson:"waybill_rule,omitempty"`
	GS1Prefixes  []string       `bson:"gs1_prefixes,omitempty"`
	TempMinC     *float64       `bson:"temp_min_c,omitempty"`
	TempMaxC     *float64       `bson:"temp_max_c,omitempty"`
}

func toCarrierDoc(c tracking.CarrierConfig) carrierDoc {
	d := carrierDoc{FirmID: c.FirmID, PromiseHours: int64(c.PromiseHours), UpdatedAt: datetime(c.UpdatedAt),
		WaybillRule: c.WaybillRule, GS1Prefixes: c.GS1Prefixes, TempMinC: c.TempMinC, TempMaxC: c.TempMaxC}
	for code, h := range c.DwellHours {
		d.Dwell = append(d.Dwell, dwellDoc{Code: string(code), Hours: int64(h)})
	}
	for raw, code := range c.Codes {
		d.Codes = append(d.Codes, codeDoc{Raw: raw, Code: string(code)})
	}
	// Sorted, so that the same configuration is always the same document.
	slices.SortFunc(d.Dwell, func(a, b dwellDoc) int { return cmp.Compare(a.Code, b.Code) })
	slices.SortFunc(d.Codes, func(a, b codeDoc) int { return cmp.Compare(a.Raw, b.Raw) })
	return d
}

func fromCarrierDoc(d carrierDoc) tracking.CarrierConfig {
	c := tracking.CarrierConfig{FirmID: d.FirmID, PromiseHours: int(d.PromiseHours), UpdatedAt: fromDatetime(d.UpdatedAt),
		WaybillRule: d.WaybillRule, GS1Prefixes: d.GS1Prefixes, TempMinC: d.TempMinC, TempMaxC: d.TempMaxC}
	if len(d.Dwell) > 0 {
		c.DwellHours = make(map[tracking.Code]int, len(d.Dwell))
		for _, dw := range d.Dwell {
			c.DwellHours[tracking.Code(dw.Code)] = int(dw.Hours)
		}
	}
	if len(d.Codes) > 0 {
		c.Codes = make(map[string]tracking.Code, len(d.Codes))
		for _, cd := range d.Codes {
			c.Codes[cd.Raw] = tracking.Code(cd.Code)
		}
	}
	return c
}

type candidateDoc struct {
	Party      partyDoc `bson:"party"`
	HQID       string   `bson:"hq_id"`
	Reason     string   `bson:"reason"`
	EventIDs   []string `bson:"event_ids"`
	Confidence float64  `bson:"confidence"`
}

type attributionDoc struct {
	Rule        string         `bson:"rule"`
	Responsible partyDoc       `bson:"responsible"`
	HQID        string         `bson:"hq_id"`
	EventIDs    []string       `bson:"event_ids"`
	Confidence  float64        `bson:"confidence"`
	Explanation string         `bson:"explanation"`
	Candidates  []candidateDoc `bson:"candidates"`
}

type incidentDoc struct {
	ID          string         `bson:"_id"`
	Waybill     string         `bson:"waybill"`
	Carrier     string         `bson:"carrier"`
	Kind        string         `bson:"kind"`
	Reporter    string         `bson:"reporter"`
	ReportedBy  string         `bson:"reported_by"`
	At          *bson.DateTime `bson:"at,omitempty"`
	Description string         `bson:"description"`
	Evidence    []string       `bson:"evidence"`
	Attribution attributionDoc `bson:"attribution"`
	RecordIDs   []string       `bson:"record_ids"`
	AnomalyID   string         `bson:"anomaly_id"`
	CreatedAt   *bson.DateTime `bson:"created_at,omitempty"`
	Party       string         `bson:"party,omitempty"`
	Joined      int64          `bson:"joined,omitempty"` // $inc by JoinIncident; absent reads 0
	Proposed    []proposedDoc  `bson:"proposed,omitempty"`
}

type proposedDoc struct {
	Kind   string `bson:"kind"`
	ID     string `bson:"id"`
	Event  string `bson:"event,omitempty"`
	Record string `bson:"record"`
}

func toIncidentDoc(in tracking.Incident) incidentDoc {
	a := in.Attribution
	return incidentDoc{
		ID:          in.ID,
		Waybill:     in.Waybill,
		Carrier:     in.Carrier,
		Kind:        string(in.Kind),
		Reporter:    in.Reporter,
		ReportedBy:  in.ReportedBy,
		At:          datetime(in.At),
		Description: in.Description,
		Evidence:    strs(in.Evidence),
		Attribution: attributionDoc{
			Rule:        a.Rule,
			Responsible: toPartyDoc(a.Responsible),
			HQID:        a.HQID,
			EventIDs:    strs(a.EventIDs),
			Confidence:  a.Confidence,
			Explanation: a.Explanation,
			Candidates: convSlice(a.Candidates, func(c tracking.Candidate) candidateDoc {
				return candidateDoc{Party: toPartyDoc(c.Party), HQID: c.HQID, Reason: c.Reason, EventIDs: strs(c.EventIDs), Confidence: c.Confidence}
			}),
		},
		RecordIDs: strs(in.RecordIDs),
		AnomalyID: in.AnomalyID,
		CreatedAt: datetime(in.CreatedAt),
		Party:     in.Party,
		Joined:    int64(in.JoinedReports),
		Proposed: convSlice(in.Proposed, func(p tracking.Proposed) proposedDoc {
			return proposedDoc{Kind: string(p.Subject), ID: p.SubjectID, Event: p.EventID, Record: p.RecordID}
		}),
	}
}

func fromIncidentDoc(d incidentDoc) tracking.Incident {
	a := d.Attribution
	return tracking.Incident{
		ID:          d.ID,
		Waybill:     d.Waybill,
		Carrier:     d.Carrier,
		Kind:        tracking.IncidentKind(d.Kind),
		Reporter:    d.Reporter,
		ReportedBy:  d.ReportedBy,
		At:          fromDatetime(d.At),
		Description: d.Description,
		Evidence:    strs(d.Evidence),
		Attribution: tracking.Attribution{
			Rule:        a.Rule,
			Responsible: fromPartyDoc(a.Responsible),
			HQID:        a.HQID,
			EventIDs:    strs(a.EventIDs),
			Confidence:  a.Confidence,
			Explanation: a.Explanation,
			Candidates: convSlice(a.Candidates, func(c candidateDoc) tracking.Candidate {
				return tracking.Candidate{Party: fromPartyDoc(c.Party), HQID: c.HQID, Reason: c.Reason, EventIDs: strs(c.EventIDs), Confidence: c.Confidence}
			}),
		},
		RecordIDs:     strs(d.RecordIDs),
		AnomalyID:     d.AnomalyID,
		CreatedAt:     fromDatetime(d.CreatedAt),
		Party:         d.Party,
		JoinedReports: int(d.Joined),
		Proposed: convSlice(d.Proposed, func(p proposedDoc) tracking.Proposed {
			return tracking.Proposed{Subject: tracking.SubjectKind(p.Kind), SubjectID: p.ID, EventID: p.Event, RecordID: p.Record}
		}),
	}
}

// anomalyDoc is one anomaly; IncidentID stays "" until LinkAnomaly sets it.
type anomalyDoc struct {
	ID         string         `bson:"_id"`
	Kind       string         `bson:"kind"`
	Waybill    string         `bson:"waybill"`
	Carrier    string         `bson:"carrier"`
	MerchantID string         `bson:"merchant_id"`
	Detail     string         `bson:"detail"`
	EventIDs   []string       `bson:"event_ids"`
	FoundAt    *bson.DateTime `bson:"found_at,omitempty"`
	IncidentID string         `bson:"incident_id"`
}

func toAnomalyDoc(a tracking.Anomaly) anomalyDoc {
	return anomalyDoc{
		ID:         a.ID,
		Kind:       string(a.Kind),
		Waybill:    a.Waybill,
		Carrier:    a.Carrier,
		MerchantID: a.MerchantID,
		Detail:     a.Detail,
		EventIDs:   strs(a.EventIDs),
		FoundAt:    datetime(a.FoundAt),
		IncidentID: a.IncidentID,
	}
}

func fromAnomalyDoc(d anomalyDoc) tracking.Anomaly {
	return tracking.Anomaly{
		ID:         d.ID,
		Kind:       tracking.AnomalyKind(d.Kind),
		Waybill:    d.Waybill,
		Carrier:    d.Carrier,
		MerchantID: d.MerchantID,
		Detail:     d.Detail,
		EventIDs:   strs(d.EventIDs),
		FoundAt:    fromDatetime(d.FoundAt),
		IncidentID: d.IncidentID,
	}
}
