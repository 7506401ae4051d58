// Package tracking is parcel traceability: real-time ingestion of carriers' tracking events,
// the live trace and custody chain of a parcel, incidents back-tracked to the firm, site and
// person that held the parcel (责任倒查), anomalies found without a complaint, and per-day
// service-quality statistics kept exact under retries and crashes.
//
// It imports no other credtrace package: the firm tree and the credit archive reach it through
// the small FirmTree and Proposer interfaces that cmd wires.
package tracking

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
)

// Code is a normalised tracking event code (cf. Kuaidi100 states, AfterShip tags, GS1 CBV).
type Code string

// The normalised codes.
const (
	Collected      Code = "collected"        // 揽收
	Arrived        Code = "arrived"          // 到达
	Departed       Code = "departed"         // 发出
	InTransit      Code = "in_transit"       // 运输中
	Handover       Code = "handover"         // 交接
	OutForDelivery Code = "out_for_delivery" // 派件
	HeldForPickup  Code = "held_for_pickup"  // 待取 (locker/驿站)
	Delivered      Code = "delivered"        // 签收
	DeliveryFailed Code = "delivery_failed"  // 投递失败
	Returned       Code = "returned"         // 退回
	Exception      Code = "exception"        // 问题件
	Lost           Code = "lost"             // 丢失
	Damaged        Code = "damaged"          // 破损
)

// Codes lists every normalised code in the order of a parcel's life; the order breaks ties
// between events with the same time.
var Codes = []Code{Collected, Arrived, Departed, InTransit, Handover, OutForDelivery, HeldForPickup,
	DeliveryFailed, Exception, Damaged, Lost, Returned, Delivered}

var codeRank = func() map[Code]int {
	m := map[Code]int{}
	for i, c := range Codes {
		m[c] = i
	}
	return m
}()

// Valid reports whether c is a normalised code.
func (c Code) Valid() bool { _, ok := codeRank[c]; return ok }

// Final reports whether c ends a parcel's journey; a later-timed ordinary event never replaces
// a final state.
func (c Code) Final() bool { return c == Delivered || c == Returned || c == Lost }

// transit reports whether c is a scan between collection and delivery.
func (c Code) transit() bool {
	return c == Arrived || c == Departed || c == InTransit || c == Handover
}

// HolderKind says who holds a parcel.
type HolderKind string

// Holder kinds.
const (
	HolderFirm      HolderKind = "firm"
	HolderRecipient HolderKind = "recipient"
)

// Holder is who holds the parcel after an event: a firm (with its site and person when known)
// or the recipient.
type Holder struct {
	Kind    HolderKind
	FirmID  string
	SiteID  string
	StaffID string
}

// IsZero reports an unset holder.
func (h Holder) IsZero() bool { return h.Kind == "" }

// Key identifies the holder for comparisons.
func (h Holder) Key() string {
	if h.Kind == HolderRecipient {
		return "recipient"
	}
	return h.FirmID + "/" + h.SiteID + "/" + h.StaffID
}

// Signer kinds on delivery.
const (
	SignerRecipient = "recipient"
	SignerProxy     = "proxy"
	SignerLocker    = "locker"
)

// Event is one normalised tracking event.
type Event struct {
	ID           string // unique per carrier
	Waybill      string
	Carrier      string // firm id of the carrier that issued the waybill
	Code         Code
	RawCode      string // the carrier's own code, when it was mapped
	At           time.Time
	SiteID       string
	StaffID      string
	FirmID       string // the firm that scanned it: the site's firm, else the carrier
	Holder       Holder
	Region       string
	Lat, Lng     *float64
	WeightGrams  int
	Signer       string
	MerchantID   string
	RecipientKey string // keyed hash of waybill and the recipient phone's last four digits
	RecipientID  string // keyed hash of the recipient's phone: tells recipients apart, reveals none
	Remark       string
	// Extensions is a JSON object of what an EPCIS event said that the tracking fields do not
	// hold (its action, bizStep and locations as sent, extension fields, sensor reports), at
	// most MaxExtensionBytes; "" for other events.
	Extensions string
	Hash       string // content hash: equal events are duplicates, same id with another hash a conflict
	ReceivedAt time.Time
	Deltas     []StatDelta // statistics this event moved when it was accepted

	// The brand HQs above FirmID and above Holder.FirmID, looked up from the firm tree by the
	// service whenever it folds or traces events; never stored. They decide custody offers.
	firmRoot, holderRoot string
	// sources are the keyed statistics the fold of this event moves besides Deltas (a revived
	// deemed loss, withdrawn empty-parcel counts): each is added once by its key, whoever
	// names it first. reused says the event's parcel uses a number another carrier uses.
	sources []statSource
	reused  bool
}

// Offers reports whether e names a new holder outside the scanning firm's tree: custody is then
// only offered, and stays with the scanner until the receiving tree takes it.
func (e Event) offers() bool {
	return e.Holder.Kind == HolderFirm && e.firmRoot != "" && e.holderRoot != "" && e.firmRoot != e.holderRoot
}

// custody is who holds the parcel after e: the named holder, except on an offer, when the
// scanning firm, site and person keep it.
func (e Event) custody() Holder {
	if e.offers() {
		return Holder{Kind: HolderFirm, FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID}
	}
	return e.Holder
}

// Key is the event's identity: carrier and id.
func (e Event) Key() string { return e.Carrier + "|" + e.ID }

// Parcel is the key of the parcel the event belongs to.
func (e Event) Parcel() ParcelKey { return ParcelKey{Carrier: e.Carrier, Waybill: e.Waybill} }

// ParcelKey identifies a parcel: the carrier that issued the waybill, and the waybill. The same
// number used by two carriers is two parcels (and a reused_second_carrier signal).
//
// The carrier is the firm named on the events as given, not its tree root: it is the firm
// whose number range, promise and code mapping the parcel follows (carrier settings are per
// firm), events are unique per that firm (Event.Key), and a stored key must not move when a
// franchise is moved to another place in the tree. Access still goes by tree: a firm sees the
// parcels of every carrier at or below it.
type ParcelKey struct {
	Carrier string
	Waybill string
}

// String is the key as stored: the waybill, a space, the carrier. Waybills are letters,
// digits, '-' and '_', all above the space, so keys sort by waybill, then carrier.
func (k ParcelKey) String() string { return k.Waybill + " " + k.Carrier }

// AmbiguousError says that a waybill names several parcels the caller may see, and no carrier
// was given to choose one. It matches credtrace.ErrConflict.
type AmbiguousError struct {
	Waybill  string
	Carriers []string // only those the caller may see, sorted
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("waybill %s is used by several carriers (%s): pass carrier to choose one", e.Waybill, strings.Join(e.Carriers, ", "))
}

// Is makes errors.Is(err, credtrace.ErrConflict) true.
func (e *AmbiguousError) Is(target error) bool { return credtrace.ErrConflict.Is(target) }

// Metric is a counter of the service-quality statistics.
type Metric string

// Metrics kept per firm, site and staff per day.
const (
	MHandled    Metric = "handled"
	MDelivered  Metric = "delivered"
	MOnTime     Metric = "on_time"
	MLate       Metric = "late"
	MLost       Metric = "lost"
	MDamaged    Metric = "damaged"
	MComplaints Metric = "complaints"
	// MEmptySuspect counts parcels with empty-parcel signals (空包: no transit, implausible
	// weight, a merchant burst, a reused number) against the firm, site and person that
	// collected them. Such parcels are not service: they leave handled, delivered and
	// on-time/late, so a campaign of fake parcels can no longer lift an outlet's rates.
	MEmptySuspect Metric = "empty_suspect"
	// MLateShare is the part of late parcels' delay a subject answers for, in thousandths of a
	// parcel (ShareUnit): each late parcel (judged late, or deemed lost) shares one parcel
	// among the holders whose custody segments exceeded their norm (see attribute). Unlike
	// MLate, which stays with the delivering outlet, it follows whoever held the parcel too long.
	MLateShare Metric = "late_share"
	// MSlowPickup and the others count, per holder, the segments of late parcels that
	// exceeded their norm, by kind (SlowMetric): the evidence of MLateShare.
	MSlowPickup   Metric = "slow_pickup"
	MSlowSorting  Metric = "slow_sorting"
	MSlowLineHaul Metric = "slow_line_haul"
	MSlowLastMile Metric = "slow_last_mile"
	// MLateFallback counts the late parcels none of whose segments exceeded its norm: their
	// whole share went to the delivering outlet, as MLate does.
	MLateFallback Metric = "late_fallback"
	// MCarriedShare is, for a person (staff statistics only), the part of their late share for
	// the time they had the parcel in hand (Share.InHand): what they collected and did not hand
	// in, or took out and did not deliver, in time. MLateShare also charges them the wait at a
	// site after an arrival they scanned; methodology 2026.5 reads this in its place for people.
	MCarriedShare Metric = "carried_share"
)

// Metrics lists every metric.
var Metrics = []Metric{MHandled, MDelivered, MOnTime, MLate, MLost, MDamaged, MComplaints, MEmptySuspect,
	MLateShare, MSlowPickup, MSlowSorting, MSlowLineHaul, MSlowLastMile, MLateFallback, MCarriedShare}

// SubjectKind is what statistics are about.
type SubjectKind string

// Subject kinds of the statistics.
const (
	SubjectFirm  SubjectKind = "firm"
	SubjectSite  SubjectKind = "site"
	SubjectStaff SubjectKind = "staff"
)

// StatKey names one day's counters of one subject. Day is YYYY-MM-DD in China Standard Time.
type StatKey struct {
	Kind SubjectKind
	ID   string
	Day  string
}

// String renders the key as stored.
func (k StatKey) String() string { return string(k.Kind) + "|" + k.ID + "|" + k.Day }

// StatDelta adds N to one metric of one key.
type StatDelta struct {
	Key    StatKey
	Metric Metric
	N      int
}

// DayStats is one subject's counters for one day.
type DayStats struct {
	Key    StatKey
	Counts map[Metric]int
}

// CST is China Standard Time (no daylight saving), the clock days are counted in.
var CST = time.FixedZone("CST", 8*3600)

// Day returns t's calendar day in CST.
func Day(t time.Time) string { return t.In(CST).Format("2006-01-02") }

// Party names a firm, site and person together, as attributions and statistics need them.
type Party struct {
	FirmID  string
	SiteID  string
	StaffID string
}

// IsZero reports an empty party.
func (p Party) IsZero() bool { return p.FirmID == "" && p.SiteID == "" && p.StaffID == "" }

// Parcel is the summary of one carrier's waybill, folded from its events as they arrive. Traces are
// always computed from the events themselves; the summary serves ingestion-time checks,
// statistics and the scheduled anomaly scans.
type Parcel struct {
	Waybill      string
	Carrier      string
	Carriers     []string // the carrier, once its events arrive (kept for stored summaries)
	Status       Code
	StatusAt     time.Time
	Holder       Holder
	HolderAt     time.Time
	CollectedAt  time.Time
	CollectedBy  Party
	DeliveredAt  time.Time
	DeliveredBy  Party
	Signer       string
	MerchantID   string
	RecipientKey string
	RecipientID  string
	WeightGrams  int
	TransitScans int
	Lost         bool // a loss has been counted
	Damaged      bool // a damage has been counted
	FirstAt      time.Time
	LastAt       time.Time
	Events       int
	PromiseBy    time.Time // collection + the carrier's promise; zero until collected
	Judged       bool      // on-time or late has been decided (and counted unless Empty)
	Verdict      Metric    // what the judgement counted: MOnTime, MLate, VerdictWithheld; "" in summaries stored before it was kept
	Handled      []string  // "kind|id|day" keys already counted as handled
	Final        bool
	UpdatedAt    time.Time

	// Version counts the saves of the summary where several processes fold into one store: a
	// save of version v+1 lands only when no other process saved v+1 first (compare and set).
	// Zero for a summary never saved, and on a store only one process writes.
	Version int64
	// Folded lists the keys (carrier|id) of the events the summary holds, in the order they
	// were folded, where several processes fold into one store: a process that lost a save
	// refolds only the events the winner's summary does not hold, and the consistency check
	// replays them in that order. Empty on a store only one process writes.
	Folded []string

	// CollectedRegion and LastRegion are the regions of the collection and of the latest scan
	// that named one: they tell a parcel within a city from one between cities (total delay).
	CollectedRegion string
	LastRegion      string
	// DeliveryWithheld says that the delivery was not counted (the parcel was an empty-parcel
	// suspect by then), so that withdrawing counts is exact.
	DeliveryWithheld bool
	// Empty is set once the fold saw an empty-parcel signal on the parcel: what it had counted
	// as service was withdrawn, and it counts none from then on.
	Empty bool
	// Custody is the custody-bearing events folded so far, in event order: the chain the
	// delay of a late parcel is attributed along. Empty in summaries stored before it was kept.
	Custody []Step
	// Delay is how the parcel's lateness was shared when it was judged late (and counted):
	// kept so that withdrawing the judgement takes back exactly what it counted.
	Delay []Share
}

// VerdictWithheld is the Verdict of a parcel judged while an empty-parcel suspect: nothing
// was counted.
const VerdictWithheld Metric = "withheld"

// Key is the parcel's key.
func (p Parcel) Key() ParcelKey { return ParcelKey{Carrier: p.Carrier, Waybill: p.Waybill} }

// CarrierConfig is a carrier's own settings: its promise, the standard dwell per status used
// to attribute delays, and the mapping from its own event codes.
type CarrierConfig struct {
	FirmID       string
	PromiseHours int
	DwellHours   map[Code]int
	Codes        map[string]Code
	UpdatedAt    time.Time

	// WaybillRule is how the carrier's GS1 identifiers (EPCIS epcList entries) map to its
	// waybills: WaybillKey (the default: the identifier is the waybill, as its element
	// string) or WaybillSerial (the part the carrier numbers itself, see GS1ID.Serial).
	WaybillRule string
	// GS1Prefixes are the carrier's GS1 company prefixes: a Digital Link does not show where the
	// prefix ends, which the serial rule needs.
	GS1Prefixes []string
	// TempMinC and TempMaxC are the temperature range (°C) the carrier keeps parcels in; a
	// sensor report outside it is an excursion. Nil for no bound; an event may declare its own.
	TempMinC, TempMaxC *float64
}

// The WaybillRule rules.
const (
	WaybillKey    = "key"
	WaybillSerial = "serial"
)

// DefaultDwellHours are the standard dwell times per status used when a carrier sets none.
var DefaultDwellHours = map[Code]int{
	Collected: 24, Arrived: 12, Departed: 24, InTransit: 36, Handover: 12,
	OutForDelivery: 10, HeldForPickup: 72, DeliveryFailed: 24, Exception: 48, Damaged: 48,
}

// DefaultPromiseHours is the service promise when a carrier sets none.
const DefaultPromiseHours = 72

// Promise returns the promise in hours.
func (c CarrierConfig) Promise() time.Duration {
	h := c.PromiseHours
	if h <= 0 {
		h = DefaultPromiseHours
	}
	return time.Duration(h) * time.Hour
}

// Dwell returns the standard dwell of a status.
func (c CarrierConfig) Dwell(code Code) time.Duration {
	if h, ok := c.DwellHours[code]; ok && h > 0 {
		return time.Duration(h) * time.Hour
	}
	if h, ok := DefaultDwellHours[code]; ok {
		return time.Duration(h) * time.Hour
	}
	return 24 * time.Hour
}

// IncidentKind is what went wrong with a parcel.
type IncidentKind string

// Incident kinds.
const (
	IncLost           IncidentKind = "lost"
	IncDamaged        IncidentKind = "damaged"
	IncDelayed        IncidentKind = "delayed"
	IncFalseSignature IncidentKind = "false_signature"
	IncDataLeak       IncidentKind = "data_leak"
	IncEmptyParcel    IncidentKind = "empty_parcel"
	IncMisdelivered   IncidentKind = "misdelivered"
)

// IncidentKinds lists every kind.
var IncidentKinds = []IncidentKind{IncLost, IncDamaged, IncDelayed, IncFalseSignature, IncDataLeak, IncEmptyParcel, IncMisdelivered}

// Candidate is one party that may answer for an incident.
type Candidate struct {
	Party
	HQID       string
	Reason     string
	EventIDs   []string
	Confidence float64
}

// Attribution is the outcome of back-tracking an incident.
type Attribution struct {
	Rule        string
	Responsible Party // zero when the rule leaves the choice to a regulator
	HQID        string
	EventIDs    []string
	Confidence  float64
	Explanation string
	Candidates  []Candidate

	listed map[string]bool // firms listed for a regulator that no record is proposed against
}

// Incident is a reported problem with a parcel and its attribution.
type Incident struct {
	ID          string
	Waybill     string
	Carrier     string
	Kind        IncidentKind
	Reporter    string
	ReportedBy  string // token id
	At          time.Time
	Description string
	Evidence    []string
	Attribution Attribution
	RecordIDs   []string // proposed credit records
	AnomalyID   string
	CreatedAt   time.Time

	// Party is who reported it, as de-duplication compares reports (see reportingParty).
	Party string
	// JoinedReports counts the later reports of the same parcel, kind and party within
	// JoinWindow that joined this incident instead of making another.
	JoinedReports int
	// Proposed names the subject and back-tracked event of each record this incident
	// proposed, so that a later incident of the same kind on the same parcel never proposes a
	// second record against that subject for that event.
	Proposed []Proposed
	// Joined is set on the answer to a report that joined this incident; it is never stored.
	Joined bool
}

// Proposed is one record an incident proposed: against whom, on which back-tracked event.
type Proposed struct {
	Subject   SubjectKind
	SubjectID string
	EventID   string // the first event the attribution cites for this subject
	RecordID  string
}

// AnomalyKind is what a scan found.
type AnomalyKind string

// Anomaly kinds.
const (
	AnStalled         AnomalyKind = "stalled"
	AnPromiseBreached AnomalyKind = "promise_breached"
	AnWeight          AnomalyKind = "implausible_weight"
	AnNoTransit       AnomalyKind = "no_transit"
	AnMerchantBurst   AnomalyKind = "merchant_burst"
	AnSecondCarrier   AnomalyKind = "reused_second_carrier"
	AnAfterDelivery   AnomalyKind = "reused_after_delivery"
	// AnTemperature is an EPCIS sensor report on a parcel outside the temperature range the
	// event declares or the carrier configured.
	AnTemperature AnomalyKind = "temperature_excursion"
)

// anomalyID names an anomaly by its kind and what it is about, so that finding the same
// thing again finds the same id; the id is safe in a URL.
func anomalyID(kind AnomalyKind, about string) string {
	sum := sha256.Sum256([]byte(string(kind) + "|" + about))
	return string(kind) + "-" + hex.EncodeToString(sum[:10])
}

// Anomaly is a suspicious parcel found without a complaint.
type Anomaly struct {
	ID         string // kind and waybill (or merchant and window), so a re-scan finds the same one
	Kind       AnomalyKind
	Waybill    string
	Carrier    string
	MerchantID string
	Detail     string
	EventIDs   []string
	FoundAt    time.Time
	IncidentID string
}
