package courier

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credtrace/credtrace"
)

// RecordInput describes a credit record to enter.
type RecordInput struct {
	Subject    Subject
	Category   Category
	Source     Source
	Severity   Severity
	OccurredAt time.Time
	// DecidedAt is the date of the decision the record records (the penalty decision
	// 行政处罚决定书, the inspection report, the regulator's finding on a complaint). It may lie
	// long before the entry, when a file is backfilled. Zero means OccurredAt: most sources
	// (a back-tracked incident, a complaint) have no separate decision date, and the issue's
	// rule is that the clocks run from the event, never from the day it reached the archive.
	DecidedAt  time.Time
	Summary    string
	Evidence   []Evidence
	LegalBasis string
}

// Evidence limits.
const (
	MaxEvidence    = 50
	MaxSummary     = 2000
	MaxEvidenceRef = 500
)

func validCategory(c Category) bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

func checkEvidence(v *credtrace.Validation, field string, ev []Evidence) {
	if len(ev) > MaxEvidence {
		v.Add(field, "at most %d items", MaxEvidence)
		return
	}
	for i, e := range ev {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch e.Kind {
		case "waybill", "document", "event", "incident":
		case "link":
			u, err := url.Parse(e.Ref)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				v.Add(f+".ref", "must be an http or https link")
			}
		default:
			v.Add(f+".kind", "must be one of waybill, document, link, event, incident")
		}
		if strings.TrimSpace(e.Ref) == "" {
			v.Add(f+".ref", "required")
		} else if len(e.Ref) > MaxEvidenceRef {
			v.Add(f+".ref", "at most %d characters", MaxEvidenceRef)
		}
	}
}

// subjectFirm returns the firm that answers for a subject at time t, or credtrace.ErrNotFound when the
// subject does not exist.
func (s *Service) subjectFirm(ctx context.Context, st Store, sub Subject, t time.Time) (string, error) {
	switch sub.Kind {
	case SubjectFirm:
		f, err := st.Firm(ctx, sub.ID)
		return f.ID, err
	case SubjectSite:
		site, err := st.Site(ctx, sub.ID)
		return site.FirmID, err
	case SubjectStaff:
		p, err := st.Staff(ctx, sub.ID)
		if err != nil {
			return "", err
		}
		if id := p.EmployerAt(t); id != "" {
			return id, nil
		}
		for i := len(p.Employment) - 1; i >= 0; i-- {
			if p.Employment[i].Open() {
				return p.Employment[i].FirmID, nil
			}
		}
		return "", nil
	}
	return "", credtrace.ErrNotFound
}

// EarliestOccurrence is the oldest time a credit record may report: nothing before the
// archive's statutory basis can be a record, and an older date is a typo (0026 for 2026).
var EarliestOccurrence = time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

// CreateRecord enters a record. Regulators enter any source; a firm only self-reports
// (firm_self) on its own tree; merchants and platforms only file complaints. Records from
// sources other than regulators start pending until a regulator confirms them.
func (s *Service) CreateRecord(ctx context.Context, a credtrace.Caller, in RecordInput) (Record, error) {
	if err := s.checkRecord(a, &in); err != nil {
		return Record{}, err
	}
	now := s.Now()
	var out Record
	err := s.store.Atomic(ctx, func(st Store) error {
		firm, err := s.subjectFirm(ctx, st, in.Subject, in.OccurredAt)
		if errors.Is(err, credtrace.ErrNotFound) {
			return credtrace.InvalidField("subject.id", "no such %s", in.Subject.Kind)
		}
		if err != nil {
			return err
		}
		if a.Role == credtrace.RoleFirm {
			ok, err := s.InScope(ctx, a, firm)
			if err != nil {
				return err
			}
			if !ok {
				return credtrace.InvalidField("subject.id", "no such %s", in.Subject.Kind)
			}
		}
		r := s.buildRecord(a, in, firm, now)
		if err := st.CreateRecord(ctx, r); err != nil {
			return err
		}
		out = r
		return s.audit(ctx, st, a, "record.create", "record", r.ID,
			fmt.Sprintf("subject=%s/%s category=%s severity=%s status=%s", r.Subject.Kind, r.Subject.ID, r.Category, r.Severity, r.Status))
	})
	if err != nil {
		return Record{}, fmt.Errorf("create record: %w", err)
	}
	if err := s.tell(ctx, false, out); err != nil {
		return out, err
	}
	return out, nil
}

// buildRecord makes the record of a checked input about a subject firm answers for: pending,
// or confirmed when a regulator enters it.
func (s *Service) buildRecord(a credtrace.Caller, in RecordInput, firm string, now time.Time) Record {
	r := Record{ID: newID(), Subject: in.Subject, FirmID: firm, Category: in.Category, Source: in.Source,
		Severity: in.Severity, OccurredAt: in.OccurredAt, DecidedAt: in.DecidedAt, Summary: strings.TrimSpace(in.Summary),
		Evidence: in.Evidence, LegalBasis: in.LegalBasis, Status: StatusPending,
		CreatedBy: a.TokenID, CreatedAt: now, Version: 1}
	if in.Source == SrcRegulator {
		s.confirm(&r, a, now, "entered by a regulator")
	}
	return r
}

// newRecord checks an input as CreateRecord does and makes its record, outside any Atomic
// block (an import's; the subject is not looked at again before the write).
func (s *Service) newRecord(ctx context.Context, a credtrace.Caller, in RecordInput) (Record, error) {
	if err := s.checkRecord(a, &in); err != nil {
		return Record{}, err
	}
	firm, err := s.subjectFirm(ctx, s.store, in.Subject, in.OccurredAt)
	if errors.Is(err, credtrace.ErrNotFound) {
		return Record{}, credtrace.InvalidField("subject.id", "no such %s", in.Subject.Kind)
	}
	if err != nil {
		return Record{}, err
	}
	return s.buildRecord(a, in, firm, s.Now()), nil
}

// checkRecord normalises and checks an input against the rules of an entry by a.
func (s *Service) checkRecord(a credtrace.Caller, in *RecordInput) error {
	in.OccurredAt = norm(in.OccurredAt)
	in.DecidedAt = norm(in.DecidedAt)
	v := &credtrace.Validation{}
	switch in.Subject.Kind {
	case SubjectFirm, SubjectSite, SubjectStaff:
		if in.Subject.ID == "" {
			v.Add("subject.id", "required")
		}
	default:
		v.Add("subject.kind", "must be one of firm, site, staff")
	}
	if !validCategory(in.Category) {
		v.Add("category", "must be one of supervision, enforcement, complaint, media, licence, service_quality, delivery_safety")
	}
	switch in.Source {
	case SrcRegulator, SrcConsumer, SrcMerchant, SrcPlatform, SrcMedia, SrcFirmSelf, SrcSystem:
	default:
		v.Add("source", "must be one of regulator, consumer, merchant, platform, media, firm_self, system")
	}
	switch in.Severity {
	case SevMinor, SevGeneral, SevSerious:
	default:
		v.Add("severity", "must be one of minor, general, serious")
	}
	now := s.Now()
	if in.OccurredAt.IsZero() {
		v.Add("occurred_at", "required")
	} else if in.OccurredAt.After(now) {
		v.Add("occurred_at", "must not be in the future")
	} else if in.OccurredAt.Before(EarliestOccurrence) {
		v.Add("occurred_at", "must not be before 2000-01-01 (China Standard Time)")
	}
	switch {
	case in.DecidedAt.IsZero():
		in.DecidedAt = in.OccurredAt
	case in.DecidedAt.After(now):
		v.Add("decided_at", "must not be in the future")
	case !in.OccurredAt.IsZero() && in.DecidedAt.Before(in.OccurredAt):
		v.Add("decided_at", "must not be before occurred_at: a decision follows what it decides")
	}
	if strings.TrimSpace(in.Summary) == "" {
		v.Add("summary", "required")
	} else if utf8.RuneCountInString(in.Summary) > MaxSummary {
		v.Add("summary", "at most %d characters", MaxSummary)
	}
	if utf8.RuneCountInString(in.LegalBasis) > 500 {
		v.Add("legal_basis", "at most 500 characters")
	}
	checkEvidence(v, "evidence", in.Evidence)
	switch a.Role {
	case credtrace.RoleRegulator:
	case credtrace.RoleFirm:
		if in.Source != SrcFirmSelf {
			v.Add("source", "a firm may only enter firm_self records")
		}
	case credtrace.RoleMerchant:
		if in.Source != SrcMerchant {
			v.Add("source", "a merchant may only enter merchant records")
		}
		if in.Category != CatComplaint {
			v.Add("category", "a merchant may only file complaints")
		}
	case credtrace.RolePlatform:
		if in.Source != SrcPlatform {
			v.Add("source", "a platform may only enter platform records")
		}
		if in.Category != CatComplaint {
			v.Add("category", "a platform may only file complaints")
		}
	default:
		return credtrace.ErrForbidden
	}
	return v.Err()
}

func addMonths(t time.Time, m int) time.Time { return t.AddDate(0, m, 0) }

// confirm moves r to confirmed and sets its publicity window and repair clock. Both run from
// the decision (DecidedAt), not from the confirmation or the entry: the NDRC rules count the
// publicity period and the minimum period served from the decision, so a penalty backfilled
// eleven months after it was decided has one month of a year's publicity left, not a fresh
// year. A window that has already run out leaves the record in force (it still counts in
// scores while the time weights give it weight) but out of the public view.
func (s *Service) confirm(r *Record, a credtrace.Caller, now time.Time, reason string) {
	r.History = append(r.History, Transition{From: r.Status, To: StatusConfirmed, At: now, By: a.TokenID, Reason: reason})
	r.Status = StatusConfirmed
	r.ConfirmedAt = now
	r.PublicUntil = addMonths(r.Decided(), s.policy.PublicityMonths[r.Severity])
	r.RepairEligibleAt = addMonths(r.Decided(), s.policy.RepairMonths[r.Severity])
}

func (s *Service) transition(r *Record, a credtrace.Caller, to RecordStatus, now time.Time, reason string) {
	r.History = append(r.History, Transition{From: r.Status, To: to, At: now, By: a.TokenID, Reason: reason})
	r.Status = to
}

// Record returns one record the actor may see: regulators all, firms those they answer for.
func (s *Service) Record(ctx context.Context, a credtrace.Caller, id string) (Record, error) {
	r, err := s.store.Record(ctx, id)
	if err != nil {
		return Record{}, err
	}
	if err := s.requireScope(ctx, a, r.FirmID); err != nil {
		return Record{}, err
	}
	return r, nil
}

// Records lists the records an actor may see.
func (s *Service) Records(ctx context.Context, a credtrace.Caller, q RecordQuery, cursor string, limit int) ([]Record, string, error) {
	scope, err := s.scopeIDs(ctx, a)
	if err != nil {
		return nil, "", err
	}
	q.FirmIDs = scope
	if q.Category != "" && !validCategory(q.Category) {
		return nil, "", credtrace.InvalidField("category", "unknown category")
	}
	for _, st := range q.Status {
		switch st {
		case StatusPending, StatusConfirmed, StatusDismissed, StatusDisputed, StatusUpheld, StatusRevoked, StatusRepaired:
		default:
			return nil, "", credtrace.InvalidField("status", "unknown status %q", st)
		}
	}
	if q.Subject != nil {
		switch q.Subject.Kind {
		case SubjectFirm, SubjectSite, SubjectStaff:
		default:
			return nil, "", credtrace.InvalidField("subject_kind", "must be one of firm, site, staff")
		}
	}
	if q.Page, limit, err = pageOf(cursor, limit); err != nil {
		return nil, "", err
	}
	items, err := s.store.Records(ctx, q)
	if err != nil {
		return nil, "", err
	}
	items, next := trim(items, limit, recordID)
	return items, next, nil
}

// changeRecord loads a record, applies change and stores it with one audit entry.
func (s *Service) changeRecord(ctx context.Context, id, action string, a credtrace.Caller, change func(Store, *Record) (string, error)) (Record, error) {
	var out Record
	var was bool
	err := s.store.Atomic(ctx, func(st Store) error {
		r, err := st.Record(ctx, id)
		if err != nil {
			return err
		}
		if err := s.requireScope(ctx, a, r.FirmID); err != nil {
			return err
		}
		was = r.Status.InForce()
		detail, err := change(st, &r)
		if err != nil {
			return err
		}
		r.Version++
		if err := st.UpdateRecord(ctx, r); err != nil {
			return err
		}
		out = r
		return s.audit(ctx, st, a, action, "record", r.ID, detail)
	})
	if err != nil {
		return Record{}, fmt.Errorf("%s %s: %w", action, id, err)
	}
	if err := s.tell(ctx, was, out); err != nil {
		return out, fmt.Errorf("%s %s: %w", action, id, err)
	}
	return out, nil
}

// ConfirmRecord confirms a pending record (regulators only).
func (s *Service) ConfirmRecord(ctx context.Context, a credtrace.Caller, id, reason string) (Record, error) {
	if err := requireRegulator(a); err != nil {
		return Record{}, err
	}
	return s.changeRecord(ctx, id, "record.confirm", a, func(_ Store, r *Record) (string, error) {
		if r.Status != StatusPending {
			return "", stateErr("only a pending record can be confirmed; this one is %s", r.Status)
		}
		s.confirm(r, a, s.Now(), reason)
		return "pending→confirmed", nil
	})
}

// DismissRecord dismisses a pending record (regulators only); a reason is required.
func (s *Service) DismissRecord(ctx context.Context, a credtrace.Caller, id, reason string) (Record, error) {
	if err := requireRegulator(a); err != nil {
		return Record{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return Record{}, credtrace.InvalidField("reason", "required when dismissing")
	}
	return s.changeRecord(ctx, id, "record.dismiss", a, func(_ Store, r *Record) (string, error) {
		if r.Status != StatusPending {
			return "", stateErr("only a pending record can be dismissed; this one is %s", r.Status)
		}
		s.transition(r, a, StatusDismissed, s.Now(), reason)
		return "pending→dismissed", nil
	})
}

// RepairInput is a request for credit repair.
type RepairInput struct {
	Evidence   []Evidence
	Commitment string
}

// RequestRepair asks for credit repair of a confirmed or upheld record, by the firm that answers
// for it or a regulator on its behalf, once the minimum period has been served.
func (s *Service) RequestRepair(ctx context.Context, a credtrace.Caller, id string, in RepairInput) (Record, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm {
		return Record{}, credtrace.ErrForbidden
	}
	v := &credtrace.Validation{}
	if len(in.Evidence) == 0 {
		v.Add("evidence", "the rectification evidence is required")
	}
	checkEvidence(v, "evidence", in.Evidence)
	if strings.TrimSpace(in.Commitment) == "" {
		v.Add("commitment", "a public credit commitment is required")
	} else if utf8.RuneCountInString(in.Commitment) > MaxSummary {
		v.Add("commitment", "at most %d characters", MaxSummary)
	}
	if err := v.Err(); err != nil {
		return Record{}, err
	}
	return s.changeRecord(ctx, id, "record.repair_request", a, func(_ Store, r *Record) (string, error) {
		now := s.Now()
		if r.Status != StatusConfirmed && r.Status != StatusUpheld {
			return "", stateErr("only a confirmed or upheld record can be repaired; this one is %s", r.Status)
		}
		if r.RepairPending() {
			return "", stateErr("a repair request for this record is already pending")
		}
		if now.Before(r.RepairEligibleAt) {
			return "", stateErr("the minimum period runs until %s", r.RepairEligibleAt.Format(time.RFC3339))
		}
		rp := Repair{ID: newID(), RequestedAt: now, RequestedBy: a.TokenID, Evidence: in.Evidence,
			Commitment: strings.TrimSpace(in.Commitment), Status: RepairPending}
		r.Repairs = append(r.Repairs, rp)
		return "repair " + rp.ID + " requested", nil
	})
}

// DecideRepair approves or rejects the pending repair request (regulators only). Approval moves
// the record to repaired: it leaves the public view and stays in the archive.
func (s *Service) DecideRepair(ctx context.Context, a credtrace.Caller, id string, approve bool, reason string) (Record, error) {
	if err := requireRegulator(a); err != nil {
		return Record{}, err
	}
	if !approve && strings.TrimSpace(reason) == "" {
		return Record{}, credtrace.InvalidField("reason", "required when rejecting")
	}
	return s.changeRecord(ctx, id, "record.repair_decide", a, func(_ Store, r *Record) (string, error) {
		now := s.Now()
		if r.Status != StatusConfirmed && r.Status != StatusUpheld {
			return "", stateErr("the record is %s; only a confirmed or upheld record can be repaired", r.Status)
		}
		for i := range r.Repairs {
			rp := &r.Repairs[i]
			if rp.Status != RepairPending {
				continue
			}
			rp.DecidedAt, rp.DecidedBy, rp.Reason = now, a.TokenID, reason
			if !approve {
				rp.Status = RepairRejected
				return "repair " + rp.ID + " rejected", nil
			}
			rp.Status = RepairApproved
			s.transition(r, a, StatusRepaired, now, "credit repair approved: "+reason)
			return "repair " + rp.ID + " approved; " + "→repaired", nil
		}
		return "", stateErr("no repair request is pending for this record")
	})
}

// ----- objections -----

// ObjectionInput is a subject's objection to a record.
type ObjectionInput struct {
	RecordID string
	Reasons  string
	Evidence []Evidence
}

// FileObjection disputes a confirmed record, by the firm that answers for it, the person a
// staff record is about (a staff actor), or a regulator entering a paper objection. The review
// clock starts: review within 10 days.
func (s *Service) FileObjection(ctx context.Context, a credtrace.Caller, in ObjectionInput) (Objection, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm && a.Role != credtrace.RoleStaff {
		return Objection{}, credtrace.ErrForbidden
	}
	v := &credtrace.Validation{}
	if in.RecordID == "" {
		v.Add("record_id", "required")
	}
	if strings.TrimSpace(in.Reasons) == "" {
		v.Add("reasons", "required")
	} else if utf8.RuneCountInString(in.Reasons) > MaxSummary {
		v.Add("reasons", "at most %d characters", MaxSummary)
	}
	checkEvidence(v, "evidence", in.Evidence)
	if err := v.Err(); err != nil {
		return Objection{}, err
	}
	var out Objection
	err := s.store.Atomic(ctx, func(st Store) error {
		r, err := st.Record(ctx, in.RecordID)
		if errors.Is(err, credtrace.ErrNotFound) {
			return credtrace.InvalidField("record_id", "no such record")
		}
		if err != nil {
			return err
		}
		if a.Role == credtrace.RoleStaff {
			if r.Subject.Kind != SubjectStaff || r.Subject.ID != a.StaffID {
				return credtrace.InvalidField("record_id", "no such record")
			}
		} else if ok, err := s.InScope(ctx, a, r.FirmID); err != nil {
			return err
		} else if !ok {
			return credtrace.InvalidField("record_id", "no such record")
		}
		if r.Status != StatusConfirmed {
			return stateErr("only a confirmed record can be disputed; this one is %s", r.Status)
		}
		if r.RepairPending() {
			return stateErr("a credit repair request for this record is pending; it must be decided first")
		}
		now := s.Now()
		o := Objection{ID: newID(), RecordID: r.ID, FirmID: r.FirmID, FiledBy: a.TokenID,
			Reasons: strings.TrimSpace(in.Reasons), Evidence: in.Evidence, FiledAt: now,
			ReviewBy: now.AddDate(0, 0, ReviewDays), Status: ObjectionPending, Version: 1}
		s.transition(&r, a, StatusDisputed, now, "objection "+o.ID)
		r.Version++
		if err := st.UpdateRecord(ctx, r); err != nil {
			return err
		}
		if err := st.CreateObjection(ctx, o); err != nil {
			return err
		}
		out = o
		return s.audit(ctx, st, a, "objection.file", "objection", o.ID, "record="+r.ID)
	})
	if err != nil {
		return Objection{}, fmt.Errorf("file objection: %w", err)
	}
	return out, nil
}

// DecideObjection decides a pending objection (regulators only): upheld keeps the record in
// force, revoked withdraws it. The file is corrected at once, inside the 10-day correction clock.
func (s *Service) DecideObjection(ctx context.Context, a credtrace.Caller, id string, outcome ObjectionStatus, reason string) (Objection, error) {
	if err := requireRegulator(a); err != nil {
		return Objection{}, err
	}
	v := &credtrace.Validation{}
	if outcome != ObjectionUpheld && outcome != ObjectionRevoked {
		v.Add("outcome", "must be one of upheld, revoked")
	}
	if strings.TrimSpace(reason) == "" {
		v.Add("reason", "required")
	}
	if err := v.Err(); err != nil {
		return Objection{}, err
	}
	var out Objection
	var rec Record
	err := s.store.Atomic(ctx, func(st Store) error {
		o, err := st.Objection(ctx, id)
		if err != nil {
			return err
		}
		if o.Status != ObjectionPending {
			return stateErr("the objection was already decided (%s)", o.Status)
		}
		r, err := st.Record(ctx, o.RecordID)
		if err != nil {
			return err
		}
		if r.Status != StatusDisputed {
			return stateErr("the record is %s, not disputed", r.Status)
		}
		now := s.Now()
		o.Status, o.DecidedAt, o.DecidedBy, o.Decision = outcome, now, a.TokenID, strings.TrimSpace(reason)
		o.CorrectBy = now.AddDate(0, 0, CorrectDays)
		o.CorrectedAt = now
		o.Version++
		to := StatusUpheld
		if outcome == ObjectionRevoked {
			to = StatusRevoked
		}
		s.transition(&r, a, to, now, "objection "+o.ID+": "+o.Decision)
		r.Version++
		if err := st.UpdateRecord(ctx, r); err != nil {
			return err
		}
		if err := st.UpdateObjection(ctx, o); err != nil {
			return err
		}
		out, rec = o, r
		return s.audit(ctx, st, a, "objection.decide", "objection", o.ID, "outcome="+string(outcome)+" record="+r.ID)
	})
	if err != nil {
		return Objection{}, fmt.Errorf("decide objection %s: %w", id, err)
	}
	// A disputed record is in force; a revoked one no longer is.
	if err := s.tell(ctx, true, rec); err != nil {
		return out, fmt.Errorf("decide objection %s: %w", id, err)
	}
	return out, nil
}

// Objection returns one objection the actor may see.
func (s *Service) Objection(ctx context.Context, a credtrace.Caller, id string) (Objection, error) {
	o, err := s.store.Objection(ctx, id)
	if err != nil {
		return Objection{}, err
	}
	if err := s.requireScope(ctx, a, o.FirmID); err != nil {
		return Objection{}, err
	}
	return o, nil
}

// Objections lists objections; overdue keeps only those whose statutory clock has run out.
func (s *Service) Objections(ctx context.Context, a credtrace.Caller, overdue bool, cursor string, limit int) ([]Objection, string, error) {
	scope, err := s.scopeIDs(ctx, a)
	if err != nil {
		return nil, "", err
	}
	q := ObjectionQuery{FirmIDs: scope}
	if overdue {
		q.Status = []ObjectionStatus{ObjectionPending}
	}
	if q.Page, limit, err = pageOf(cursor, limit); err != nil {
		return nil, "", err
	}
	if !overdue {
		items, err := s.store.Objections(ctx, q)
		if err != nil {
			return nil, "", err
		}
		items, next := trim(items, limit, objectionID)
		return items, next, nil
	}
	// Overdue is a function of the clock, so filter while paging until the page is full.
	now := s.Now()
	var out []Objection
	for {
		items, err := s.store.Objections(ctx, q)
		if err != nil {
			return nil, "", err
		}
		for _, o := range items {
			if o.Overdue(now) {
				out = append(out, o)
			}
		}
		if len(out) > limit || len(items) < q.Limit {
			break
		}
		q.After = items[len(items)-1].ID
	}
	out, next := trim(out, limit, objectionID)
	return out, next, nil
}

// ----- commitments -----

// CommitmentInput is a public credit commitment.
type CommitmentInput struct {
	Subject  Subject
	Text     string
	Scope    string
	Signer   string
	SignedAt time.Time
}

// CreateCommitment records a commitment by a firm (for itself, its sites or its staff) or a
// regulator on its behalf.
func (s *Service) CreateCommitment(ctx context.Context, a credtrace.Caller, in CommitmentInput) (Commitment, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm {
		return Commitment{}, credtrace.ErrForbidden
	}
	in.SignedAt = norm(in.SignedAt)
	v := &credtrace.Validation{}
	switch in.Subject.Kind {
	case SubjectFirm, SubjectSite, SubjectStaff:
	default:
		v.Add("subject.kind", "must be one of firm, site, staff")
	}
	if strings.TrimSpace(in.Text) == "" {
		v.Add("text", "required")
	} else if utf8.RuneCountInString(in.Text) > MaxSummary {
		v.Add("text", "at most %d characters", MaxSummary)
	}
	checkName(v, "signer", in.Signer, 100)
	if utf8.RuneCountInString(in.Scope) > 500 {
		v.Add("scope", "at most 500 characters")
	}
	now := s.Now()
	if in.SignedAt.IsZero() {
		v.Add("signed_at", "required")
	} else if in.SignedAt.After(now) {
		v.Add("signed_at", "must not be in the future")
	}
	if err := v.Err(); err != nil {
		return Commitment{}, err
	}
	var out Commitment
	err := s.store.Atomic(ctx, func(st Store) error {
		firm, err := s.subjectFirm(ctx, st, in.Subject, in.SignedAt)
		if errors.Is(err, credtrace.ErrNotFound) {
			return credtrace.InvalidField("subject.id", "no such %s", in.Subject.Kind)
		}
		if err != nil {
			return err
		}
		if ok, err := s.InScope(ctx, a, firm); err != nil {
			return err
		} else if !ok {
			return credtrace.InvalidField("subject.id", "no such %s", in.Subject.Kind)
		}
		c := Commitment{ID: newID(), Subject: in.Subject, FirmID: firm, Text: strings.TrimSpace(in.Text),
			Scope: in.Scope, Signer: strings.TrimSpace(in.Signer), SignedAt: in.SignedAt, CreatedAt: now, CreatedBy: a.TokenID}
		if err := st.CreateCommitment(ctx, c); err != nil {
			return err
		}
		out = c
		return s.audit(ctx, st, a, "commitment.create", "commitment", c.ID, "subject="+string(c.Subject.Kind)+"/"+c.Subject.ID)
	})
	if err != nil {
		return Commitment{}, fmt.Errorf("create commitment: %w", err)
	}
	return out, nil
}

// Commitments lists commitments, which are public, optionally of one firm.
func (s *Service) Commitments(ctx context.Context, firmID string, cursor string, limit int) ([]Commitment, string, error) {
	q := CommitmentQuery{}
	if firmID != "" {
		q.FirmIDs = []string{firmID}
	}
	var err error
	if q.Page, limit, err = pageOf(cursor, limit); err != nil {
		return nil, "", err
	}
	items, err := s.store.Commitments(ctx, q)
	if err != nil {
		return nil, "", err
	}
	items, next := trim(items, limit, commitmentID)
	return items, next, nil
}
