package tracking

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credtrace/credtrace"
)

// Ingestion limits.
const (
	MaxBatch     = 10000
	MaxFutureAt  = 15 * time.Minute
	maxRemark    = 500
	maxWaybill   = 40
	minWaybill   = 6
	maxIDLength  = 100
	maxRawCode   = 40
	oldestAtYear = 2000
	// MaxExtensionBytes bounds the JSON an EPCIS event keeps under its extensions (what the
	// tracking fields do not hold): a capture system that sends more has the event rejected.
	MaxExtensionBytes = 8 << 10
)

// HolderInput names the holder after an event: a firm (with site and person) or the recipient.
type HolderInput struct {
	Firm      string
	Site      string
	Staff     string
	Recipient bool
}

// EventInput is one event as a carrier sends it.
type EventInput struct {
	ID             string
	Waybill        string
	Carrier        string
	Code           string
	At             time.Time
	Site           string
	Staff          string
	Holder         *HolderInput
	Region         string
	Lat, Lng       *float64
	WeightGrams    int
	Signer         string
	MerchantID     string
	RecipientPhone string // on collection: used once for the public trace check, never stored
	Remark         string
	Extensions     string // a JSON object (see Event.Extensions)

	accept *Offer // set by AcceptHandover: this event is the receiver taking the offered parcel
}

// Outcome of one event of a batch.
const (
	Accepted  = "accepted"
	Duplicate = "duplicate"
	Rejected  = "rejected"
)

// EventResult reports one event of a batch.
type EventResult struct {
	Index  int
	ID     string
	Status string
	Reason string
	dupOf  int // index of the first occurrence of a repeat inside the batch, else -1
}

// IngestResult reports a whole batch.
type IngestResult struct {
	Accepted, Duplicates, Rejected int
	Results                        []EventResult
	Anomalies                      []Anomaly
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checkRegion(r string) bool {
	if len(r) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if r[i] < '0' || r[i] > '9' {
			return false
		}
	}
	return true
}

// extensionsTooLarge is the reason an event with n bytes of extensions is rejected.
func extensionsTooLarge(n int) string {
	return fmt.Sprintf("extensions: %d bytes of fields beyond the tracking ones, more than the %d kept (MaxExtensionBytes)", n, MaxExtensionBytes)
}

// contentHash identifies an event's content: a re-sent event with the same hash is a duplicate.
func contentHash(e *Event) string {
	h := sha256.New()
	f := func(v string) { h.Write([]byte(v)); h.Write([]byte{0x1f}) }
	f(e.ID)
	f(e.Waybill)
	f(e.Carrier)
	f(string(e.Code))
	f(e.RawCode)
	f(e.At.UTC().Format(time.RFC3339Nano))
	f(e.SiteID)
	f(e.StaffID)
	f(string(e.Holder.Kind) + "/" + e.Holder.Key())
	f(e.Region)
	if e.Lat != nil && e.Lng != nil {
		f(strconv.FormatFloat(*e.Lat, 'f', 6, 64) + "," + strconv.FormatFloat(*e.Lng, 'f', 6, 64))
	} else {
		f("")
	}
	f(strconv.Itoa(e.WeightGrams))
	f(e.Signer)
	f(e.MerchantID)
	f(e.RecipientKey)
	f(e.RecipientID)
	f(e.Remark)
	if e.Extensions != "" { // events without keep the hashes they always had
		f(e.Extensions)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// RecipientKey is the keyed hash that lets the public trace a parcel with the last four digits
// of the recipient's phone; neither the phone nor its digits are kept.
func (s *Service) RecipientKey(waybill, last4 string) string {
	return s.hasher.Hash("recipient", waybill+"|"+last4)
}

// normalize checks one input and turns it into an Event; the reason names what is wrong.
func (s *Service) normalize(ctx context.Context, c credtrace.Caller, in EventInput, now time.Time, configs map[string]CarrierConfig, offers map[ParcelKey]*Trace) (Event, string, error) {
	e := Event{ID: strings.TrimSpace(in.ID), Waybill: strings.TrimSpace(in.Waybill), Carrier: strings.TrimSpace(in.Carrier),
		At: in.At.UTC().Truncate(time.Millisecond), SiteID: in.Site, StaffID: in.Staff, Region: in.Region,
		WeightGrams: in.WeightGrams, Signer: in.Signer, MerchantID: strings.TrimSpace(in.MerchantID), Remark: in.Remark, Extensions: in.Extensions, ReceivedAt: now}
	switch {
	case e.ID == "":
		return e, "id: required", nil
	case len(e.ID) > maxIDLength:
		return e, fmt.Sprintf("id: at most %d characters", maxIDLength), nil
	case e.Waybill == "":
		return e, "waybill: required", nil
	case len(e.Waybill) < minWaybill || len(e.Waybill) > maxWaybill || !isAlnum(e.Waybill):
		return e, fmt.Sprintf("waybill: %d to %d letters, digits, '-' or '_'", minWaybill, maxWaybill), nil
	case e.Carrier == "":
		return e, "carrier: required", nil
	case in.At.IsZero():
		return e, "at: required (RFC 3339 with offset)", nil
	case e.At.After(s.steady.latest(now).Add(MaxFutureAt)):
		return e, "at: more than 15 minutes in the future", nil
	case e.At.Year() < oldestAtYear:
		return e, "at: before the year 2000", nil
	case e.Region != "" && !checkRegion(e.Region):
		return e, "region: must be a 6-digit administrative division code", nil
	case (in.Lat == nil) != (in.Lng == nil):
		return e, "lat, lng: give both or neither", nil
	case in.Lat != nil && (math.Abs(*in.Lat) > 90 || math.Abs(*in.Lng) > 180 || math.IsNaN(*in.Lat) || math.IsNaN(*in.Lng)):
		return e, "lat, lng: out of range", nil
	case e.WeightGrams < 0:
		return e, "weight_g: must not be negative", nil
	case utf8.RuneCountInString(e.Remark) > maxRemark:
		return e, fmt.Sprintf("remark: at most %d characters", maxRemark), nil
	case len(e.Extensions) > MaxExtensionBytes:
		return e, extensionsTooLarge(len(e.Extensions)), nil
	case e.Extensions != "" && !json.Valid([]byte(e.Extensions)):
		return e, "extensions: not JSON", nil
	}
	if in.Lat != nil {
		lat, lng := *in.Lat, *in.Lng
		e.Lat, e.Lng = &lat, &lng
	}
	// The carrier must be a registered firm, and a firm may push only for its own tree.
	if ok, err := s.firmExists(ctx, e.Carrier); err != nil {
		return e, "", err
	} else if !ok {
		return e, "carrier: no such firm", nil
	}
	// scope is the tree whose sites and staff may scan: the carrier's, except for the receiver
	// of a handover offered to another tree, who scans the carrier's parcel with its own.
	scope, receiver := e.Carrier, (*Offer)(nil)
	if c.Role == credtrace.RoleFirm {
		ok, err := s.inTree(ctx, c.FirmID, e.Carrier)
		if err != nil {
			return e, "", err
		}
		if !ok {
			// The one exception: a parcel offered to the caller's tree, which its scan takes.
			if receiver, err = s.offeredTo(ctx, c.FirmID, e.Parcel(), offers); err != nil {
				return e, "", err
			}
			if receiver == nil {
				return e, "carrier: outside your firm tree", nil
			}
			scope = c.FirmID
		}
	}
	if in.accept != nil {
		receiver = in.accept
		var err error
		if scope, err = s.root(ctx, receiver.To.FirmID); err != nil {
			return e, "", err
		}
	}
	cfg, ok := configs[e.Carrier]
	if !ok {
		var err error
		if cfg, err = s.config(ctx, s.store, e.Carrier); err != nil {
			return e, "", err
		}
		configs[e.Carrier] = cfg
	}
	code := Code(strings.TrimSpace(in.Code))
	if !code.Valid() {
		mapped, ok := cfg.Codes[string(code)]
		if !ok {
			return e, fmt.Sprintf("code: unknown code %q (not a normalised code and not in the carrier's mapping)", truncate(string(code), maxRawCode)), nil
		}
		e.RawCode, code = string(code), mapped
	}
	e.Code = code
	e.FirmID = e.Carrier
	if receiver != nil {
		e.FirmID = receiver.To.FirmID
	}
	if e.SiteID != "" {
		firm, ok, err := s.siteFirm(ctx, e.SiteID)
		if err != nil {
			return e, "", err
		}
		if !ok {
			return e, "site: no such site", nil
		}
		if in, err := s.inTree(ctx, scope, firm); err != nil {
			return e, "", err
		} else if !in {
			if receiver != nil {
				return e, "site: not a site of the receiving firm tree", nil
			}
			return e, "site: not a site of the carrier's firm tree", nil
		}
		e.FirmID = firm
	}
	if e.StaffID != "" {
		// The courier must work for the carrier's tree (where the site is, for a partner's site).
		if why, err := s.staffIn(ctx, "staff", e.StaffID, scope); err != nil || why != "" {
			return e, why, err
		}
	}
	switch e.Code {
	case Delivered:
		switch e.Signer {
		case SignerRecipient, SignerProxy, SignerLocker:
		case "":
			return e, "signer: required on delivery (recipient, proxy or locker)", nil
		default:
			return e, "signer: must be one of recipient, proxy, locker", nil
		}
	default:
		if e.Signer != "" {
			return e, "signer: only on delivery", nil
		}
	}
	if e.Code != Collected && (e.MerchantID != "" || in.RecipientPhone != "") {
		return e, "merchant, recipient_phone: only on collection", nil
	}
	if in.RecipientPhone != "" {
		p := strings.TrimSpace(in.RecipientPhone)
		if len(p) < 4 || !isDigits(p) {
			return e, "recipient_phone: must be digits", nil
		}
		e.RecipientKey = s.RecipientKey(e.Waybill, p[len(p)-4:])
		e.RecipientID = s.hasher.Hash("recipient_phone", p)
	}
	h, reason, err := s.holder(ctx, e, in.Holder, in.accept != nil)
	if err != nil || reason != "" {
		return e, reason, err
	}
	e.Holder = h
	e.Hash = contentHash(&e)
	evs := []Event{e}
	if err := s.withRoots(ctx, evs); err != nil {
		return e, "", err
	}
	return evs[0], "", nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// holder resolves who holds the parcel after e. A handover must name the new holder; a
// delivery passes it to the recipient; other scans leave it with the scanning firm, site and person.
func (s *Service) holder(ctx context.Context, e Event, in *HolderInput, taking bool) (Holder, string, error) {
	if in == nil || (*in == HolderInput{}) {
		switch e.Code {
		case Handover:
			return Holder{}, "holder: a handover must name the new holder", nil
		case Delivered:
			return Holder{Kind: HolderRecipient}, "", nil
		}
		return Holder{Kind: HolderFirm, FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID}, "", nil
	}
	if in.Recipient {
		if in.Firm != "" || in.Site != "" || in.Staff != "" {
			return Holder{}, "holder: either the recipient or a firm, not both", nil
		}
		return Holder{Kind: HolderRecipient}, "", nil
	}
	h := Holder{Kind: HolderFirm, FirmID: in.Firm, SiteID: in.Site, StaffID: in.Staff}
	if h.SiteID != "" {
		firm, ok, err := s.siteFirm(ctx, h.SiteID)
		if err != nil {
			return Holder{}, "", err
		}
		if !ok {
			return Holder{}, "holder.site: no such site", nil
		}
		if h.FirmID == "" {
			h.FirmID = firm
		} else if h.FirmID != firm {
			return Holder{}, "holder.site: not a site of holder.firm", nil
		}
	}
	if h.FirmID == "" {
		return Holder{}, "holder.firm: required unless the holder is the recipient", nil
	}
	if ok, err := s.firmExists(ctx, h.FirmID); err != nil {
		return Holder{}, "", err
	} else if !ok {
		return Holder{}, "holder.firm: no such firm", nil
	}
	if h.StaffID != "" {
		if why, err := s.staffIn(ctx, "holder.staff", h.StaffID, h.FirmID); err != nil || why != "" {
			return Holder{}, why, err
		}
	}
	if e.Code == Handover && !taking && h.Key() == (Holder{Kind: HolderFirm, FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID}).Key() {
		return Holder{}, "holder: a handover must pass the parcel to a new holder", nil
	}
	return h, "", nil
}

// Ingest validates a batch, stores the valid events (even when others are rejected) and
// answers each one: accepted, duplicate (same carrier, id and content) or rejected with its
// reason. Accepted events are durable when Ingest returns.
//
// An event whose waybill names a container of its carrier (see Pack) is a scan of every parcel
// inside it at the event's time: it is stored as one event per parcel, "<id>~<waybill>", each
// checked and counted as a direct scan of the parcel, and answered as one.
func (s *Service) Ingest(ctx context.Context, c credtrace.Caller, inputs []EventInput) (IngestResult, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return IngestResult{}, credtrace.ErrForbidden
	}
	if len(inputs) == 0 {
		return IngestResult{}, credtrace.InvalidField("events", "at least one event")
	}
	if len(inputs) > MaxBatch {
		return IngestResult{}, credtrace.InvalidField("events", "at most %d events per request", MaxBatch)
	}
	expanded, from, empty, err := s.expandContainers(ctx, c, inputs)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest: %w", err)
	}
	if from == nil {
		return s.ingest(ctx, c, inputs)
	}
	var res IngestResult
	if len(expanded) > 0 {
		if len(expanded) > MaxBatch {
			return IngestResult{}, credtrace.InvalidField("events", "at most %d events per request, counting each parcel of a container scan", MaxBatch)
		}
		if res, err = s.ingest(ctx, c, expanded); err != nil {
			return IngestResult{}, err
		}
	}
	parts := make([][]EventResult, len(inputs))
	for j, r := range res.Results {
		parts[from[j]] = append(parts[from[j]], r)
	}
	out := IngestResult{Results: make([]EventResult, len(inputs)), Anomalies: res.Anomalies}
	for i := range inputs {
		r := EventResult{Index: i, ID: strings.TrimSpace(inputs[i].ID), Status: Rejected, Reason: empty[i], dupOf: -1}
		if len(parts[i]) > 0 {
			m := merge(parts[i])
			r.Status, r.Reason = m.Status, m.Reason
		}
		out.Results[i] = r
		switch r.Status {
		case Accepted:
			out.Accepted++
		case Duplicate:
			out.Duplicates++
		default:
			out.Rejected++
		}
	}
	return out, nil
}

// ingest is Ingest of events that name parcels.
func (s *Service) ingest(ctx context.Context, c credtrace.Caller, inputs []EventInput) (IngestResult, error) {
	now := s.Now()
	res := IngestResult{Results: make([]EventResult, len(inputs))}
	configs := map[string]CarrierConfig{}
	offers := map[ParcelKey]*Trace{}
	events := make([]Event, 0, len(inputs))
	index := make([]int, 0, len(inputs)) // input index of events[i]
	seen := map[string]int{}             // key → position in events, for repeats inside the batch
	for i, in := range inputs {
		e, reason, err := s.normalize(ctx, c, in, now, configs, offers)
		if err != nil {
			return IngestResult{}, fmt.Errorf("ingest event %d: %w", i, err)
		}
		res.Results[i] = EventResult{Index: i, ID: e.ID, dupOf: -1}
		if reason != "" {
			res.Results[i].Status, res.Results[i].Reason = Rejected, reason
			continue
		}
		if j, ok := seen[e.Key()]; ok {
			if events[j].Hash == e.Hash {
				res.Results[i].Status, res.Results[i].dupOf = Duplicate, index[j]
			} else {
				res.Results[i].Status, res.Results[i].Reason = Rejected, "id: conflict: the batch holds this id twice with different content"
			}
			continue
		}
		seen[e.Key()] = len(events)
		events = append(events, e)
		index = append(index, i)
	}

	if s.pipe == nil {
		return IngestResult{}, errNoPipeline
	}
	b, err := s.pipe.ingest(ctx, events, index, &res, configs)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest: %w", err)
	}
	for _, r := range res.Results {
		switch r.Status {
		case Accepted:
			res.Accepted++
		case Duplicate:
			res.Duplicates++
		default:
			res.Rejected++
		}
	}
	res.Anomalies = b.Anomalies
	if len(b.Anomalies) > 0 {
		s.hub.kick() // stored: the alert stream reads them from the store, as every replica's
	}
	return res, nil
}

const conflictReason = "id: conflict: this carrier already sent an event with this id and other content"

// eventLess orders events by time, then by their place in a parcel's life, then by id.
func eventLess(a, b Event) bool { return eventCmp(&a, &b) < 0 }

// eventCmp is eventLess as a three-way comparison of events in place.
func eventCmp(a, b *Event) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if ra, rb := codeRank[a.Code], codeRank[b.Code]; ra != rb {
		return cmp.Compare(ra, rb)
	}
	return strings.Compare(a.ID, b.ID)
}

func party(e *Event) Party { return Party{FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID} }

// deltas adds n to metric for each subject of p on day.
func deltas(p Party, day string, m Metric, n int) []StatDelta {
	var out []StatDelta
	if p.FirmID != "" {
		out = append(out, StatDelta{Key: StatKey{SubjectFirm, p.FirmID, day}, Metric: m, N: n})
	}
	if p.SiteID != "" {
		out = append(out, StatDelta{Key: StatKey{SubjectSite, p.SiteID, day}, Metric: m, N: n})
	}
	if p.StaffID != "" {
		out = append(out, StatDelta{Key: StatKey{SubjectStaff, p.StaffID, day}, Metric: m, N: n})
	}
	return out
}

// fold applies event e to parcel summary p: state, holder, the statistics e moves (recorded
// on e.Deltas) and the anomalies e reveals. Later-timed ordinary events never replace a final
// state; out-of-order events slot into the summary by their time.
func (s *Service) fold(p *Parcel, e *Event, cfg CarrierConfig, o Options) []Anomaly {
	var anoms []Anomaly
	// A scan of a parcel that may have been deemed lost revives it: the deemed loss of the
	// state it was in is neutralised (see revive), whether or not the scan got to count it.
	if p.Waybill != "" && p.deemable(o, e.ReceivedAt.Add(reviveMargin)) {
		e.sources = append(e.sources, revive(*p, o)...)
	}
	collectedBefore, deliveredBefore, judgedBefore := !p.CollectedAt.IsZero(), !p.DeliveredAt.IsZero(), p.Judged
	if e.Region != "" && !e.At.Before(p.LastAt) {
		p.LastRegion = e.Region
	}
	if p.Waybill == "" {
		p.Waybill, p.Carrier, p.FirstAt = e.Waybill, e.Carrier, e.At
	}
	found := false
	for _, c := range p.Carriers {
		found = found || c == e.Carrier
	}
	if !found {
		p.Carriers = append(p.Carriers, e.Carrier)
	}
	p.Events++
	if e.At.Before(p.FirstAt) {
		p.FirstAt = e.At
	}
	if e.At.After(p.LastAt) {
		p.LastAt = e.At
	}
	if e.Code.Final() {
		if !p.Final || !e.At.Before(p.StatusAt) {
			p.Status, p.StatusAt, p.Final = e.Code, e.At, true
		}
	} else if !p.Final && !e.At.Before(p.StatusAt) {
		p.Status, p.StatusAt = e.Code, e.At
	}
	if h := e.custody(); !h.IsZero() && !e.At.Before(p.HolderAt) && (!p.Final || e.Code.Final()) {
		p.Holder, p.HolderAt = h, e.At
	}
	if e.Code.transit() {
		p.TransitScans++
	}
	p.addStep(e)
	who := party(e)
	day := Day(e.At)
	switch e.Code {
	case Collected:
		if !p.DeliveredAt.IsZero() && e.At.After(p.DeliveredAt) {
			anoms = append(anoms, Anomaly{ID: anomalyID(AnAfterDelivery, p.Key().String()), Kind: AnAfterDelivery, Waybill: e.Waybill, Carrier: e.Carrier,
				Detail: "a new collection after the parcel was delivered at " + p.DeliveredAt.Format(time.RFC3339), EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
		}
		if p.CollectedAt.IsZero() || e.At.Before(p.CollectedAt) {
			p.CollectedAt, p.CollectedBy = e.At, who
			p.PromiseBy = e.At.Add(cfg.Promise())
			if e.Region != "" {
				p.CollectedRegion = e.Region
			}
			if e.MerchantID != "" {
				p.MerchantID = e.MerchantID
			}
			if e.RecipientKey != "" {
				p.RecipientKey, p.RecipientID = e.RecipientKey, e.RecipientID
			}
			if e.WeightGrams > 0 {
				p.WeightGrams = e.WeightGrams
				if e.WeightGrams < o.MinWeightGrams || e.WeightGrams > o.MaxWeightGrams {
					anoms = append(anoms, Anomaly{ID: anomalyID(AnWeight, p.Key().String()), Kind: AnWeight, Waybill: e.Waybill, Carrier: e.Carrier, MerchantID: e.MerchantID,
						Detail: fmt.Sprintf("collection weight %d g is outside %d–%d g", e.WeightGrams, o.MinWeightGrams, o.MaxWeightGrams), EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
				}
			}
		}
	case Delivered:
		if p.DeliveredAt.IsZero() {
			p.DeliveredAt, p.DeliveredBy, p.Signer = e.At, who, e.Signer
		}
	case Lost:
		if !p.Lost { // a parcel is lost once, however many scans say so
			p.Lost = true
			e.Deltas = append(e.Deltas, deltas(who, day, MLost, 1)...)
		}
	case Damaged:
		if !p.Damaged {
			p.Damaged = true
			e.Deltas = append(e.Deltas, deltas(who, day, MDamaged, 1)...)
		}
	}
	if e.Extensions != "" {
		if detail := temperatureExcursion(e.Extensions, cfg); detail != "" {
			anoms = append(anoms, Anomaly{ID: anomalyID(AnTemperature, p.Key().String()), Kind: AnTemperature, Waybill: e.Waybill, Carrier: e.Carrier,
				Detail: "EPCIS sensor report: " + detail, EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
		}
	}
	if !p.Judged && !p.CollectedAt.IsZero() && !p.DeliveredAt.IsZero() {
		p.Judged = true
		// Judged once both ends are known, whichever arrived first.
		if p.TransitScans == 0 {
			anoms = append(anoms, Anomaly{ID: anomalyID(AnNoTransit, p.Key().String()), Kind: AnNoTransit, Waybill: e.Waybill, Carrier: p.Carrier, MerchantID: p.MerchantID,
				Detail: "collected and delivered with no transit scan in between", EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
		}
		p.Verdict = MOnTime
		if p.DeliveredAt.After(p.PromiseBy) {
			p.Verdict = MLate
			anoms = append(anoms, Anomaly{ID: anomalyID(AnPromiseBreached, p.Key().String()), Kind: AnPromiseBreached, Waybill: e.Waybill, Carrier: p.Carrier,
				Detail:   fmt.Sprintf("delivered %s after a promise due %s", p.DeliveredAt.Format(time.RFC3339), p.PromiseBy.Format(time.RFC3339)),
				EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
		}
	}
	// Empty-parcel signals the fold sees itself (the merchant bursts come from the scan): what
	// the parcel counted as service so far is withdrawn, keyed by item so that the scan's
	// withdrawals of a burst and these never take the same count twice, and nothing more is.
	if !p.Empty && (e.reused || emptySignal(anoms)) {
		p.Empty = true
		e.sources = append(e.sources, withdrawals(*p, !deliveredBefore && !p.DeliveredAt.IsZero(), !judgedBefore && p.Judged)...)
	} else if p.Empty && !collectedBefore && !p.CollectedAt.IsZero() {
		e.sources = append(e.sources, suspectItem(*p)) // marked before its collection was seen
	}
	if !deliveredBefore && !p.DeliveredAt.IsZero() {
		if p.Empty {
			p.DeliveryWithheld = true
		} else {
			e.Deltas = append(e.Deltas, deltas(p.DeliveredBy, Day(p.DeliveredAt), MDelivered, 1)...)
		}
	}
	if !judgedBefore && p.Judged {
		if p.Empty {
			p.Verdict = VerdictWithheld
		} else {
			e.Deltas = append(e.Deltas, deltas(p.DeliveredBy, Day(p.DeliveredAt), p.Verdict, 1)...)
			if p.Verdict == MLate {
				// The delay goes to whoever held the parcel too long (kept, to be taken back exactly).
				p.Delay = attribute(p.Custody, p.DeliveredAt, o.SegmentNorms, p.DeliveredBy.SiteID, p.DeliveredBy)
				e.Deltas = append(e.Deltas, shareDeltas(p.Delay, Day(p.DeliveredAt), 1)...)
			}
		}
	}
	if p.Empty {
		return anoms
	}
	for _, d := range deltas(who, day, MHandled, 1) {
		k := d.Key.String()
		seen := false
		for _, h := range p.Handled {
			seen = seen || h == k
		}
		if !seen {
			p.Handled = append(p.Handled, k)
			e.Deltas = append(e.Deltas, d)
		}
	}
	return anoms
}

// BatchCarriers is what a Store may offer besides WaybillCarriers: the carriers of many
// waybills in one read (a waybill without stored events is absent or empty), so that the reuse
// check of a batch costs one round trip to a remote store however many parcels the batch starts.
type BatchCarriers interface {
	WaybillsCarriers(ctx context.Context, waybills []string) (map[string][]string, error)
}

// reuseCheck finds new parcels whose waybill another carrier uses too: the same number at two
// carriers is two parcels, and a signal of reused or resold numbers (reused_second_carrier).
type reuseCheck struct {
	st      Store
	batch   map[string][]string // waybill → carriers with events in the batch being folded
	carrier map[string][]string // waybill → carriers with stored events, read once
}

func newReuseCheck(st Store, evs []Event) *reuseCheck {
	r := &reuseCheck{st: st, batch: map[string][]string{}, carrier: map[string][]string{}}
	for _, e := range evs {
		if !slices.Contains(r.batch[e.Waybill], e.Carrier) {
			r.batch[e.Waybill] = append(r.batch[e.Waybill], e.Carrier)
		}
	}
	return r
}

// check is called with the first event of a new parcel. The anomaly's detail does not name the
// other carriers: the carrier's own tree sees it, and may not learn who else uses the number;
// regulators find them by tracing the waybill.
func (r *reuseCheck) check(ctx context.Context, e *Event) ([]Anomaly, error) {
	stored, ok := r.carrier[e.Waybill]
	if bs, batched := r.st.(BatchCarriers); !ok && batched {
		// One read for every waybill of the batch not read yet, rather than one per new parcel.
		var want []string
		for wb := range r.batch {
			if _, ok := r.carrier[wb]; !ok {
				want = append(want, wb)
			}
		}
		slices.Sort(want)
		got, err := bs.WaybillsCarriers(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("carriers of the batch's waybills: %w", err)
		}
		for _, wb := range want {
			r.carrier[wb] = got[wb]
		}
		stored, ok = r.carrier[e.Waybill]
	}
	if !ok {
		var err error
		if stored, err = r.st.WaybillCarriers(ctx, e.Waybill); err != nil {
			return nil, fmt.Errorf("carriers of waybill %s: %w", e.Waybill, err)
		}
		r.carrier[e.Waybill] = stored
	}
	others := 0
	seen := map[string]bool{e.Carrier: true}
	for _, c := range slices.Concat(stored, r.batch[e.Waybill]) {
		if !seen[c] {
			seen[c] = true
			others++
		}
	}
	if others == 0 {
		return nil, nil
	}
	return []Anomaly{{ID: anomalyID(AnSecondCarrier, e.Parcel().String()), Kind: AnSecondCarrier, Waybill: e.Waybill, Carrier: e.Carrier,
		Detail:   fmt.Sprintf("waybill %s is used by %d other carrier(s) too: the same number at two carriers is two parcels (reused or resold numbers?)", e.Waybill, others),
		EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt}}, nil
}

// offeredTo returns the handover of parcel k offered to firm tree root, when the parcel is
// still waiting for it or that tree holds it now (it took it), else nil. Traces are cached per
// batch in seen.
func (s *Service) offeredTo(ctx context.Context, root string, k ParcelKey, seen map[ParcelKey]*Trace) (*Offer, error) {
	t, ok := seen[k]
	if !ok {
		evs, _, err := s.liveEvents(ctx, k)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			cfg, err := s.config(ctx, s.store, k.Carrier)
			if err != nil {
				return nil, err
			}
			tr, err := s.buildTrace(ctx, evs, cfg)
			if err != nil {
				return nil, err
			}
			t = &tr
		}
		seen[k] = t
	}
	if t == nil {
		return nil, nil
	}
	for i := len(t.Offers) - 1; i >= 0; i-- {
		o := t.Offers[i]
		if in, err := s.inTree(ctx, root, o.To.FirmID); err != nil || !in {
			if err != nil {
				return nil, err
			}
			continue
		}
		if !o.Accepted {
			return &o, nil
		}
		if t.Holder.Kind == HolderFirm {
			if in, err := s.inTree(ctx, root, t.Holder.FirmID); err != nil || in {
				return &o, err
			}
		}
	}
	return nil, nil
}

// AcceptHandover records that the receiving tree took a parcel offered to it: the receiver's
// firm tree or a regulator may accept. Custody and responsibility pass to the receiver from
// now on. Accepting an accepted offer changes nothing. It returns the offer as it stands.
// Errors: credtrace.ErrNotFound for no such offer the caller may accept, *AmbiguousError
// when the offer id names handovers of several parcels of the waybill.
func (s *Service) AcceptHandover(ctx context.Context, c credtrace.Caller, waybill, carrier, id string) (Offer, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return Offer{}, credtrace.ErrForbidden
	}
	carriers, err := s.store.WaybillCarriers(ctx, strings.TrimSpace(waybill))
	if err != nil {
		return Offer{}, err
	}
	if carrier != "" {
		if !slices.Contains(carriers, carrier) {
			return Offer{}, credtrace.ErrNotFound
		}
		carriers = []string{carrier}
	}
	type hit struct {
		k ParcelKey
		o Offer
	}
	var hits []hit
	for _, cr := range carriers {
		k := ParcelKey{Carrier: cr, Waybill: strings.TrimSpace(waybill)}
		evs, _, err := s.liveEvents(ctx, k)
		if err != nil {
			return Offer{}, err
		}
		cfg, err := s.config(ctx, s.store, cr)
		if err != nil {
			return Offer{}, err
		}
		t, err := s.buildTrace(ctx, evs, cfg)
		if err != nil {
			return Offer{}, err
		}
		for _, off := range t.Offers {
			if off.ID != id {
				continue
			}
			if c.Role == credtrace.RoleFirm {
				if in, err := s.inTree(ctx, c.FirmID, off.To.FirmID); err != nil {
					return Offer{}, err
				} else if !in {
					continue
				}
			}
			hits = append(hits, hit{k, off})
		}
	}
	switch len(hits) {
	case 0:
		return Offer{}, credtrace.ErrNotFound
	case 1:
	default:
		amb := &AmbiguousError{Waybill: waybill}
		for _, h := range hits {
			amb.Carriers = append(amb.Carriers, h.k.Carrier)
		}
		sort.Strings(amb.Carriers)
		return Offer{}, amb
	}
	h := hits[0]
	if h.o.Accepted {
		return h.o, nil
	}
	at := s.Now()
	if at.Before(h.o.At) {
		at = h.o.At
	}
	to := h.o.To
	in := EventInput{ID: "accept-" + h.o.ID, Waybill: h.k.Waybill, Carrier: h.k.Carrier, Code: string(Handover), At: at,
		Site: to.SiteID, Staff: to.StaffID, Holder: &HolderInput{Firm: to.FirmID, Site: to.SiteID, Staff: to.StaffID},
		Remark: "accepted handover " + h.o.ID + " (token " + c.TokenID + ")", accept: &h.o}
	res, err := s.Ingest(ctx, c, []EventInput{in})
	if err != nil {
		return Offer{}, err
	}
	if r := res.Results[0]; r.Status == Rejected {
		return Offer{}, fmt.Errorf("accept handover %s: %s: %w", h.o.ID, r.Reason, credtrace.ErrConflict)
	}
	h.o.Accepted, h.o.AcceptedAt, h.o.AcceptedBy = true, at, in.ID
	return h.o, nil
}
