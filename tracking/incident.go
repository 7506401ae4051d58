package tracking

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credtrace/credtrace"
)

// IncidentInput is a reported problem with a parcel.
type IncidentInput struct {
	Waybill     string
	Carrier     string // chooses the parcel when several carriers use the waybill
	Kind        IncidentKind
	Reporter    string // free text: 12305, 12315, merchant, consumer, inspection ...
	At          time.Time
	Description string
	Evidence    []string
}

// Attribute back-tracks an incident of kind on a parcel's trace to the party that held it
// when it happened. The rules (also in the README):
//   - lost: the last holder that scanned it before the incident;
//   - damaged: the holder of the segment that ended with the first damage or exception scan
//     (it handed the parcel over damaged), or the delivering holder when no scan recorded damage;
//   - delayed: the holder of the segment whose dwell most exceeds the carrier's standard for
//     its status;
//   - false_signature and misdelivered: the courier on the delivery event;
//   - empty_parcel: the collecting site and courier;
//   - data_leak: every holder is a candidate and none is chosen: a regulator decides.
//
// Confidence is 0.9 when the rule names a person, less when it stops at a site or firm, and
// lower still when the evidence is indirect.
func Attribute(kind IncidentKind, t Trace, cfg CarrierConfig, at time.Time) Attribution {
	a := Attribution{Rule: string(kind)}
	holderEvent := func(seg Segment) string { return seg.EventIDs[0] }
	partyOf := func(h Holder) Party { return Party{FirmID: h.FirmID, SiteID: h.SiteID, StaffID: h.StaffID} }
	conf := func(p Party, base float64) float64 {
		switch {
		case p.StaffID != "":
			return base
		case p.SiteID != "":
			return base - 0.2
		}
		return base - 0.3
	}
	firmSegs := []Segment{}
	for _, s := range t.Custody {
		if s.Holder.Kind == HolderFirm {
			firmSegs = append(firmSegs, s)
		}
	}
	if len(t.Events) == 0 {
		a.Explanation = "the parcel has no tracking events: nobody can be traced"
		return a
	}
	switch kind {
	case IncLost:
		var last *Event
		for i := range t.Events {
			e := &t.Events[i]
			if at.IsZero() || !e.At.After(at) {
				if e.custody().Kind == HolderFirm || e.Code != Delivered {
					last = e
				}
			}
		}
		if last == nil {
			a.Explanation = "no scan before the time of the loss"
			return a
		}
		p := party(last)
		if h := last.custody(); h.Kind == HolderFirm {
			p = partyOf(h)
		}
		a.Responsible, a.EventIDs = p, []string{last.ID}
		a.Confidence = conf(p, 0.9)
		a.Explanation = fmt.Sprintf("last scanned (%s) at %s; the parcel was in that holder's custody when it went missing", last.Code, last.At.Format(time.RFC3339))
	case IncDamaged:
		for i, seg := range t.Custody {
			for _, id := range seg.EventIDs {
				e := findEvent(t, id)
				if e == nil || (e.Code != Damaged && e.Code != Exception) {
					continue
				}
				if seg.Holder.Kind == HolderRecipient {
					// Damage found after delivery: the delivering holder answers for it.
					var prev *Segment
					for k := i - 1; k >= 0; k-- {
						if t.Custody[k].Holder.Kind == HolderFirm {
							prev = &t.Custody[k]
							break
						}
					}
					if prev == nil {
						a.Explanation = "damage recorded after delivery, and no firm ever held the parcel"
						return a
					}
					a.Responsible, a.EventIDs = partyOf(prev.Holder), []string{holderEvent(*prev), id}
					a.Confidence = conf(a.Responsible, 0.6)
					a.Explanation = fmt.Sprintf("damage recorded (%s) at %s after delivery; the delivering holder answers for the parcel's condition", e.Code, e.At.Format(time.RFC3339))
					return a
				}
				if id == seg.EventIDs[0] && i > 0 && t.Custody[i-1].Holder.Kind == HolderFirm {
					prev := t.Custody[i-1]
					a.Responsible, a.EventIDs = partyOf(prev.Holder), []string{holderEvent(prev), id}
					a.Confidence = conf(a.Responsible, 0.7)
					a.Explanation = fmt.Sprintf("damage recorded (%s) on receipt at %s; the previous holder handed it over damaged", e.Code, e.At.Format(time.RFC3339))
					a.Candidates = append(a.Candidates, Candidate{Party: partyOf(seg.Holder), Reason: "recorded the damage on receipt", EventIDs: []string{id}, Confidence: 0.3})
				} else {
					a.Responsible, a.EventIDs = partyOf(seg.Holder), []string{holderEvent(seg), id}
					a.Confidence = conf(a.Responsible, 0.8)
					a.Explanation = fmt.Sprintf("damage recorded (%s) at %s while in this holder's custody", e.Code, e.At.Format(time.RFC3339))
				}
				return a
			}
		}
		if len(firmSegs) == 0 {
			a.Explanation = "no firm ever held the parcel"
			return a
		}
		last := firmSegs[len(firmSegs)-1]
		a.Responsible, a.EventIDs = partyOf(last.Holder), ends(last.EventIDs)
		a.Confidence = conf(a.Responsible, 0.6)
		a.Explanation = "no scan recorded damage; the last firm holder before delivery answers for the parcel's condition"
		for _, seg := range firmSegs[:len(firmSegs)-1] {
			a.Candidates = append(a.Candidates, Candidate{Party: partyOf(seg.Holder), Reason: "held the parcel earlier", EventIDs: seg.EventIDs[:1], Confidence: 0.2})
		}
	case IncDelayed:
		var worst *Segment
		var excess time.Duration
		for i := range firmSegs {
			seg := &firmSegs[i]
			over := seg.Dwell - cfg.Dwell(seg.Status)
			if worst == nil || over > excess {
				worst, excess = seg, over
			}
		}
		if worst == nil {
			a.Explanation = "no firm ever held the parcel"
			return a
		}
		a.Responsible, a.EventIDs = partyOf(worst.Holder), ends(worst.EventIDs)
		std := cfg.Dwell(worst.Status)
		ratio := float64(worst.Dwell) / float64(std)
		a.Confidence = conf(a.Responsible, 0.9)
		if excess <= 0 {
			a.Confidence = 0.3
			a.Explanation = fmt.Sprintf("no segment exceeded its standard; the longest relative dwell was %s in %s (standard %s)", round(worst.Dwell), worst.Status, std)
		} else {
			if ratio < 1.5 {
				a.Confidence -= 0.2
			}
			a.Explanation = fmt.Sprintf("held %s in %s against a standard of %s: %s over, the largest excess of the chain", round(worst.Dwell), worst.Status, std, round(excess))
		}
		for i := range firmSegs {
			seg := firmSegs[i]
			if seg.From.Equal(worst.From) {
				continue
			}
			if over := seg.Dwell - cfg.Dwell(seg.Status); over > 0 {
				a.Candidates = append(a.Candidates, Candidate{Party: partyOf(seg.Holder), Reason: fmt.Sprintf("also over its standard by %s", round(over)), EventIDs: seg.EventIDs[:1], Confidence: 0.3})
			}
		}
	case IncFalseSignature, IncMisdelivered:
		var del *Event
		for i := range t.Events {
			if t.Events[i].Code == Delivered {
				del = &t.Events[i]
			}
		}
		if del == nil {
			a.Explanation = "the parcel has no delivery event"
			for i := len(t.Events) - 1; i >= 0; i-- {
				if t.Events[i].Code == OutForDelivery {
					e := t.Events[i]
					a.Responsible, a.EventIDs = party(&e), []string{e.ID}
					a.Confidence = conf(a.Responsible, 0.6)
					a.Explanation = "no delivery event; the courier who took it out for delivery answers"
					break
				}
			}
			return a
		}
		a.Responsible, a.EventIDs = party(del), []string{del.ID}
		a.Confidence = conf(a.Responsible, 0.9)
		a.Explanation = fmt.Sprintf("signed for as %q at %s by this courier's delivery scan", del.Signer, del.At.Format(time.RFC3339))
	case IncEmptyParcel:
		var col *Event
		for i := range t.Events {
			if t.Events[i].Code == Collected {
				col = &t.Events[i]
				break
			}
		}
		if col == nil {
			a.Explanation = "no collection scan: the waybill was used without a real pickup"
			if len(firmSegs) > 0 {
				a.Responsible, a.EventIDs = partyOf(firmSegs[0].Holder), firmSegs[0].EventIDs[:1]
				a.Confidence = conf(a.Responsible, 0.6)
			}
			return a
		}
		a.Responsible, a.EventIDs = party(col), []string{col.ID}
		a.Confidence = conf(a.Responsible, 0.8)
		a.Explanation = "the collecting site and courier accepted the parcel (收寄验视 is theirs)"
		if col.MerchantID != "" {
			a.Explanation += "; merchant " + col.MerchantID + " shipped it"
		}
	case IncDataLeak:
		seen := map[string]bool{}
		for _, seg := range firmSegs {
			if seen[seg.Holder.Key()] {
				continue
			}
			seen[seg.Holder.Key()] = true
			a.Candidates = append(a.Candidates, Candidate{Party: partyOf(seg.Holder), Reason: "held the parcel and its waybill data", EventIDs: seg.EventIDs[:1]})
			a.EventIDs = append(a.EventIDs, seg.EventIDs[0])
		}
		for i := range a.Candidates {
			a.Candidates[i].Confidence = 1 / float64(len(a.Candidates))
		}
		a.Explanation = "every holder saw the recipient's data: a regulator decides among them"
	}
	return a
}

func round(d time.Duration) time.Duration { return d.Round(time.Minute) }

// ends cites a segment by its first and last events: enough to prove the dwell, and short
// enough for a record's evidence however many scans the segment holds.
func ends(ids []string) []string {
	if len(ids) <= 2 {
		return ids
	}
	return []string{ids[0], ids[len(ids)-1]}
}

func findEvent(t Trace, id string) *Event {
	for i := range t.Events {
		if t.Events[i].ID == id {
			return &t.Events[i]
		}
	}
	return nil
}

// maxEvidence keeps a proposal inside the credit archive's limit of 50 evidence items.
const maxEvidence = 40

// proposal fixes category and severity of the records an incident kind proposes.
var proposal = map[IncidentKind]struct{ category, severity, basis string }{
	IncLost:           {"service_quality", "general", "快递暂行条例 第二十七条; 快递市场管理办法"},
	IncDamaged:        {"service_quality", "minor", "快递暂行条例 第二十七条"},
	IncDelayed:        {"service_quality", "minor", "快递服务 国家标准 GB/T 27917"},
	IncFalseSignature: {"service_quality", "general", "快递市场管理办法 (虚假签收)"},
	IncMisdelivered:   {"service_quality", "minor", "快递暂行条例 第二十五条"},
	IncEmptyParcel:    {"delivery_safety", "serious", "快递市场管理办法 第二十六条、第五十三条 (虚假快递信息)"},
	IncDataLeak:       {"delivery_safety", "serious", "快递暂行条例 第三十四条、第四十四条 (泄露用户信息)"},
}

// ReportIncident records an incident, back-tracks it and proposes pending credit records against
// the responsible firm, site and person (or, for a data leak, each holding firm); each counts
// as a complaint against its subject once a regulator confirms it (CountVerdict). Regulators, the carrier's firm tree and the merchant who shipped the
// parcel may report it.
func (s *Service) ReportIncident(ctx context.Context, c credtrace.Caller, in IncidentInput) (Incident, error) {
	v := &credtrace.Validation{}
	kindOK := false
	for _, k := range IncidentKinds {
		kindOK = kindOK || k == in.Kind
	}
	if !kindOK {
		v.Add("kind", "must be one of lost, damaged, delayed, false_signature, data_leak, empty_parcel, misdelivered")
	}
	if strings.TrimSpace(in.Waybill) == "" {
		v.Add("waybill", "required")
	}
	now := s.Now()
	in.At = in.At.UTC().Truncate(time.Millisecond)
	if in.At.After(now) {
		v.Add("at", "must not be in the future")
	}
	if utf8.RuneCountInString(in.Description) > 2000 {
		v.Add("description", "at most 2000 characters")
	}
	if utf8.RuneCountInString(in.Reporter) > 100 {
		v.Add("reporter", "at most 100 characters")
	}
	if len(in.Evidence) > 50 {
		v.Add("evidence", "at most 50 items")
	}
	if err := v.Err(); err != nil {
		return Incident{}, err
	}
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm && c.Role != credtrace.RoleMerchant {
		return Incident{}, credtrace.ErrForbidden
	}
	t, err := s.TraceParcel(ctx, c, in.Waybill, in.Carrier, "")
	if err != nil {
		return Incident{}, err
	}
	if t.Reduced {
		return Incident{}, credtrace.ErrNotFound
	}
	cfg, err := s.config(ctx, s.store, t.Carrier)
	if err != nil {
		return Incident{}, err
	}
	if in.At.IsZero() {
		in.At = now
	}
	party := reportingParty(c, in.Reporter)
	// Check and create under one lock, so that identical reports racing in this process make
	// one incident (SQLite has one process; MongoDB replicas may still race: two incidents,
	// whose proposals the per-event rule in record keeps to one record per subject).
	s.reports.Lock()
	defer s.reports.Unlock()
	if prev, ok, err := s.sameReport(ctx, ParcelKey{Carrier: t.Carrier, Waybill: t.Waybill}, in.Kind, party, now); err != nil {
		return Incident{}, err
	} else if ok {
		joined, err := s.store.JoinIncident(ctx, prev.ID)
		if err != nil {
			return Incident{}, fmt.Errorf("join incident %s: %w", prev.ID, err)
		}
		joined.Joined = true
		return joined, nil
	}
	inc := Incident{ID: newID(), Waybill: t.Waybill, Carrier: t.Carrier, Kind: in.Kind, Reporter: strings.TrimSpace(in.Reporter),
		ReportedBy: c.TokenID, At: in.At, Description: in.Description, Evidence: in.Evidence, CreatedAt: now, Party: party}
	inc.Attribution = Attribute(in.Kind, t, cfg, in.At)
	if c.Role == credtrace.RoleFirm {
		if err := s.ownEvidence(ctx, c.FirmID, t, &inc.Attribution); err != nil {
			return Incident{}, err
		}
	}
	return s.record(ctx, inc)
}

// JoinWindow is how long after an incident is reported a report of the same parcel, kind and
// reporting party joins it instead of making a new one. A week covers the repeats seen in
// practice (a merchant re-filing daily, a hotline logging each call of one consumer) and the
// total-delay limit between cities (YZ/T 0128: 7 days), after which a parcel is lost and a
// new report says something new.
const JoinWindow = 7 * 24 * time.Hour

// reportingParty names who reports, as de-duplication compares reports: a merchant or a firm
// tree by its id, whatever token it uses; a regulator by the source it names (the 12305 or
// 12315 hotline, an inspection), since the officer is only the channel; a regulator naming
// none by its token.
func reportingParty(c credtrace.Caller, reporter string) string {
	switch c.Role {
	case credtrace.RoleMerchant:
		return "merchant:" + c.MerchantID
	case credtrace.RoleFirm:
		return "firm:" + c.FirmID
	}
	if r := strings.ToLower(strings.Join(strings.Fields(reporter), " ")); r != "" {
		return "reporter:" + r
	}
	return "token:" + c.TokenID
}

// sameReport finds the earliest incident of the parcel, kind and party reported within
// JoinWindow before now.
func (s *Service) sameReport(ctx context.Context, k ParcelKey, kind IncidentKind, party string, now time.Time) (Incident, bool, error) {
	incs, err := s.store.Incidents(ctx, IncidentQuery{Waybill: k.Waybill, Carriers: []string{k.Carrier}})
	if err != nil {
		return Incident{}, false, err
	}
	var best Incident
	found := false
	for _, inc := range incs {
		if inc.Kind != kind || inc.Party != party || now.Sub(inc.CreatedAt) >= JoinWindow {
			continue
		}
		if !found || inc.CreatedAt.Before(best.CreatedAt) {
			best, found = inc, true
		}
	}
	return best, found, nil
}

// ownEvidenceReason says why a candidate is listed and not proposed.
const ownEvidenceReason = "outside the reporter's firm tree, on evidence only the reporter's tree supplied: listed for a regulator, no record proposed"

// ownEvidence keeps back-tracking from proposing a record against a firm, site or person
// outside the reporter's tree (root) on evidence that only the reporter's tree supplied: such a
// party is turned into a candidate with the reason, for a regulator to weigh. An event was
// supplied by the tree of the firm that scanned it (a tree may push only its own scans, and
// the receiver of a handover its own).
func (s *Service) ownEvidence(ctx context.Context, root string, t Trace, a *Attribution) error {
	ownOnly := func(ids []string) (bool, error) {
		for _, id := range ids {
			e := findEvent(t, id)
			if e == nil {
				return false, nil
			}
			if in, err := s.inTree(ctx, root, e.FirmID); err != nil || !in {
				return false, err
			}
		}
		return len(ids) > 0, nil
	}
	foreign := func(firm string) (bool, error) {
		if firm == "" {
			return false, nil
		}
		in, err := s.inTree(ctx, root, firm)
		return !in, err
	}
	if !a.Responsible.IsZero() {
		f, err := foreign(a.Responsible.FirmID)
		if err != nil {
			return err
		}
		own, err := ownOnly(a.EventIDs)
		if err != nil {
			return err
		}
		if f && own {
			a.Candidates = append([]Candidate{{Party: a.Responsible, Reason: ownEvidenceReason, EventIDs: a.EventIDs, Confidence: a.Confidence}}, a.Candidates...)
			a.Explanation += "; " + ownEvidenceReason
			a.Responsible, a.Confidence = Party{}, 0
		}
	}
	for i := range a.Candidates {
		cd := &a.Candidates[i]
		if cd.Reason == ownEvidenceReason {
			continue
		}
		f, err := foreign(cd.FirmID)
		if err != nil {
			return err
		}
		own, err := ownOnly(cd.EventIDs)
		if err != nil {
			return err
		}
		if f && own {
			cd.Reason += "; " + ownEvidenceReason
			if a.listed == nil {
				a.listed = map[string]bool{}
			}
			a.listed[cd.FirmID] = true
		}
	}
	return nil
}

// record finishes an incident: HQ roll-up, proposed records, storage and the alert. Records go through the credit archive first, each in its own transaction, so
// an interrupted report leaves at worst pending records that cite the incident's waybill.
func (s *Service) record(ctx context.Context, inc Incident) (Incident, error) {
	a := &inc.Attribution
	var err error
	if a.HQID, err = s.root(ctx, a.Responsible.FirmID); err != nil {
		return Incident{}, err
	}
	for i := range a.Candidates {
		if a.Candidates[i].HQID, err = s.root(ctx, a.Candidates[i].FirmID); err != nil {
			return Incident{}, err
		}
	}
	pr := proposal[inc.Kind]
	evs, err := s.store.ParcelEvents(ctx, ParcelKey{Carrier: inc.Carrier, Waybill: inc.Waybill})
	if err != nil {
		return Incident{}, err
	}
	carrierOf := map[string]string{}
	for _, e := range evs {
		carrierOf[e.ID] = e.Carrier
	}
	evidence := []EvidenceRef{{Kind: "waybill", Ref: inc.Waybill}, {Kind: "incident", Ref: inc.ID}}
	for _, id := range a.EventIDs {
		if len(evidence) == maxEvidence {
			break
		}
		c := carrierOf[id]
		if c == "" {
			c = inc.Carrier
		}
		evidence = append(evidence, EvidenceRef{Kind: "event", Ref: c + "/" + id})
	}
	summary := fmt.Sprintf("%s: waybill %s, traced by rule %q (confidence %.1f): %s", inc.Kind, inc.Waybill, a.Rule, a.Confidence, a.Explanation)
	// One back-tracked event never proposes two records against one subject for one kind: an
	// earlier incident of this kind on this parcel (another reporter's, an anomaly's) that
	// proposed a record against the subject on the same event already stands for it.
	earlier, err := s.store.Incidents(ctx, IncidentQuery{Waybill: inc.Waybill, Carriers: []string{inc.Carrier}})
	if err != nil {
		return Incident{}, err
	}
	standing := map[string]string{} // kind|id|event → "record R of incident I"
	for _, e := range earlier {
		if e.Kind != inc.Kind || e.ID == inc.ID {
			continue
		}
		for _, p := range e.Proposed {
			standing[string(p.Subject)+"|"+p.SubjectID+"|"+p.EventID] = "record " + p.RecordID + " of incident " + e.ID
		}
	}
	var notes []string
	propose := func(kind, id, event string) error {
		if id == "" || s.proposer == nil {
			return nil
		}
		key := kind + "|" + id + "|" + event
		if prev, ok := standing[key]; ok {
			notes = append(notes, fmt.Sprintf("no second record against %s %s: %s stands for event %s", kind, id, prev, event))
			return nil
		}
		rid, err := s.proposer.Propose(ctx, Proposal{SubjectKind: kind, SubjectID: id, Category: pr.category, Severity: pr.severity,
			OccurredAt: inc.At, Summary: summary, Evidence: evidence, LegalBasis: pr.basis})
		if err != nil {
			return fmt.Errorf("propose record against %s %s: %w", kind, id, err)
		}
		inc.RecordIDs = append(inc.RecordIDs, rid)
		inc.Proposed = append(inc.Proposed, Proposed{Subject: SubjectKind(kind), SubjectID: id, EventID: event, RecordID: rid})
		standing[key] = "record " + rid + " of this incident"
		return nil
	}
	type blame struct {
		Party
		event string // the back-tracked event the blame rests on
	}
	first := func(ids []string) string {
		if len(ids) == 0 {
			return ""
		}
		return ids[0]
	}
	var blamed []blame
	if !a.Responsible.IsZero() {
		blamed = append(blamed, blame{a.Responsible, first(a.EventIDs)})
	} else if inc.Kind == IncDataLeak {
		// Each holding firm once: the firm answers for its sites and staff until a regulator
		// finds whose hands the data left.
		seen := map[string]bool{}
		for _, c := range a.Candidates {
			if !seen[c.FirmID] && !a.listed[c.FirmID] {
				seen[c.FirmID] = true
				blamed = append(blamed, blame{Party{FirmID: c.FirmID}, first(c.EventIDs)})
			}
		}
	}
	for _, p := range blamed {
		for _, err := range []error{propose("firm", p.FirmID, p.event), propose("site", p.SiteID, p.event), propose("staff", p.StaffID, p.event)} {
			if err != nil {
				return Incident{}, err
			}
		}
	}
	if len(notes) > 0 {
		a.Explanation += "; " + strings.Join(notes, "; ")
	}
	// No complaint is counted here: a report is not a verified complaint. Each proposed
	// record counts once a regulator confirms it (CountVerdict).
	// The entry names the parties and the records proposed against them by id only: a waybill
	// and ids are no personal data, the reporter's free text stays out of the trail.
	actor := inc.ReportedBy
	if actor == "" {
		actor = "system"
	}
	detail := fmt.Sprintf("kind=%s carrier=%s waybill=%s rule=%s responsible=%s/%s/%s records=%s", inc.Kind, inc.Carrier, inc.Waybill, a.Rule,
		a.Responsible.FirmID, a.Responsible.SiteID, a.Responsible.StaffID, strings.Join(inc.RecordIDs, ","))
	atomic := s.store.Atomic
	if s.opts.Auditor != nil {
		atomic = func(ctx context.Context, fn func(Store) error) error {
			return s.opts.Auditor.Atomic(ctx, func(st Store, audit func(actor, action, entity, id, detail string) error) error {
				if err := fn(st); err != nil {
					return err
				}
				return audit(actor, "incident.report", "incident", inc.ID, detail)
			})
		}
	}
	err = atomic(ctx, func(st Store) error {
		if err := st.CreateIncident(ctx, inc); err != nil {
			return err
		}
		if inc.AnomalyID != "" {
			return st.LinkAnomaly(ctx, inc.AnomalyID, inc.ID)
		}
		return nil
	})
	if err != nil {
		return Incident{}, fmt.Errorf("record incident: %w", err)
	}
	s.hub.kick() // stored: the alert stream reads it from the store, as every replica's
	return inc, nil
}

// Incident returns one incident the caller may see.
func (s *Service) Incident(ctx context.Context, c credtrace.Caller, id string) (Incident, error) {
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	ok, err := s.canSeeCarrier(ctx, c, inc.Carrier)
	if err != nil {
		return Incident{}, err
	}
	if !ok {
		return Incident{}, credtrace.ErrNotFound
	}
	return inc, nil
}

// Incidents lists incidents, optionally of one waybill (and of one carrier's parcel of it):
// regulators all, firms their tree's.
func (s *Service) Incidents(ctx context.Context, c credtrace.Caller, waybill, carrier, after string, limit int) ([]Incident, error) {
	q := IncidentQuery{Waybill: waybill, After: after, Limit: limit}
	if carrier != "" {
		q.Carriers = []string{carrier}
	}
	switch c.Role {
	case credtrace.RoleRegulator:
	case credtrace.RoleFirm:
		carriers, err := s.treeCarriers(ctx, c.FirmID, q.Carriers)
		if err != nil {
			return nil, err
		}
		q.Carriers = carriers
	default:
		return nil, credtrace.ErrForbidden
	}
	return s.store.Incidents(ctx, q)
}
