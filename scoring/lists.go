package scoring

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// Legal bases the proposals cite.
var legalBasis = map[SanctionKind]string{
	RedList:             "快递业信用管理暂行办法 (2017) 守信激励; 快递市场管理办法 第四十二条 (分级分类监管)",
	BlackList:           "快递业信用管理暂行办法 (2017) 失信惩戒; 关于全面加强电子商务领域诚信建设的通知 三(二)",
	PublicExposure:      "关于全面加强电子商务领域诚信建设的通知 三(二): 公开曝光",
	PlatformRestriction: "关于全面加强电子商务领域诚信建设的通知 三(二): 限制入驻电商平台",
	Suspension:          "快递暂行条例 第四十二条: 责令停业整顿",
	RevocationProposal:  "快递暂行条例 第四十二条、第四十四条: 吊销快递业务经营许可证 (提请许可机关)",
}

// open returns a proposal of kind for firm that waits or is in force, or one proposed by a
// publication of period (a period is never the reason for two proposals of one kind, even
// when it is published again after a regulator rejected the first); ok is false when none.
func (s *Service) open(ctx context.Context, firm string, kind SanctionKind, period string, now time.Time) (Sanction, bool, error) {
	ss, err := s.store.Sanctions(ctx, SanctionQuery{FirmID: firm, Kind: kind})
	if err != nil {
		return Sanction{}, false, err
	}
	for _, x := range ss {
		if x.Status.Waiting() || x.InForce(now) || (period != "" && x.Period == period && x.Status != Withdrawn) {
			return x, true, nil
		}
	}
	return Sanction{}, false, nil
}

// ofPeriod reports whether a proposal came from a publication of r's period, the one r
// replaces or any before it (a proposal made again by a republication keeps its first run).
func (r Run) ofPeriod(x Sanction) bool {
	return x.Period == r.Period || (r.Replaces != "" && x.ProposedBy == "run "+r.Replaces)
}

// withdraw withdraws the proposals of the period r publishes again that still wait for a decision and
// that r's corrected grades do not make again (kept): they rest on grades that are no longer
// the period's. The ones r makes again stay as they are, with any review they had, so that a
// republication neither doubles a proposal nor undoes a reviewer's work. Decided ones stand:
// a decision is an administrative act, corrected by lifting, not by a recomputation.
func (s *Service) withdraw(ctx context.Context, r Run, kept map[string]bool) (int, error) {
	ss, err := s.store.Sanctions(ctx, SanctionQuery{Status: []SanctionStatus{Proposed, Reviewed}})
	if err != nil {
		return 0, err
	}
	now := s.Now()
	n := 0
	for _, x := range ss {
		if !r.ofPeriod(x) || kept[x.ID] {
			continue
		}
		x.Status, x.DecidedAt, x.DecidedBy = Withdrawn, now, "run "+r.ID
		x.Decision = fmt.Sprintf("withdrawn: period %s was published again by run %s (%s)", r.Period, r.ID, r.Reason)
		x.Version++
		if err := s.store.UpdateSanction(ctx, x); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// propose applies the list and ladder rules to a publishing run: red list after
// RedConsecutiveA published A grades with no serious record; black list after
// BlackConsecutiveD published D grades, or at once for a revocation-grade record (with a
// proposal to revoke the licence); and the ladder by the length of a firm's run of D grades:
// one → public exposure, two → restriction from platforms, three → suspension, four →
// proposal to revoke. Every count is of published periods that follow each other in the
// calendar, this run's period last — never of runs: a period published again is still one.
// Nothing is proposed twice while an earlier proposal waits or is in force.
func (s *Service) propose(ctx context.Context, m Methodology, r Run, scores []Score, in Inputs) (int, error) {
	p, err := s.cal.Parse(r.Period)
	if err != nil {
		return 0, err
	}
	pubs, err := s.publications(ctx)
	if err != nil {
		return 0, err
	}
	need := max(m.Lists.RedConsecutiveA, m.Lists.BlackConsecutiveD, len(Ladder))
	history := map[string][]Grade{} // firm → grades, newest first, this run first
	runIDs := []string{r.ID}
	for _, sc := range scores {
		if sc.Subject == Firm {
			history[sc.SubjectID] = []Grade{sc.Grade}
		}
	}
	for _, pr := range s.periodsBefore(pubs, p, need) {
		runIDs = append(runIDs, pr.ID)
		past, err := s.store.Scores(ctx, ScoreQuery{RunID: pr.ID, Subject: Firm})
		if err != nil {
			return 0, err
		}
		byID := map[string]Grade{}
		for _, sc := range past {
			byID[sc.SubjectID] = sc.Grade
		}
		for firm, gs := range history {
			history[firm] = append(gs, byID[firm]) // "" when the firm was not scored then
		}
	}
	streak := func(gs []Grade, g Grade) int {
		n := 0
		for _, x := range gs {
			if x != g {
				break
			}
			n++
		}
		return n
	}
	siteFirm := map[string]string{}
	for _, st := range in.Sites {
		siteFirm[st.ID] = st.FirmID
	}
	recordsOf := map[string][]RecordIn{}
	for _, rec := range in.Records {
		firm := rec.SubjectID
		if rec.SubjectKind == Site {
			firm = siteFirm[rec.SubjectID]
		}
		if rec.SubjectKind != Staff {
			recordsOf[firm] = append(recordsOf[firm], rec)
		}
	}
	now := s.Now()
	made := 0
	kept := map[string]bool{} // waiting proposals of the replaced run that this run makes again
	add := func(firm string, kind SanctionKind, rule, reason string, recs []RecordIn, nRuns int) error {
		if x, open, err := s.open(ctx, firm, kind, r.Period, now); err != nil || open {
			if open && x.Status.Waiting() && r.Replaces != "" && r.ofPeriod(x) {
				kept[x.ID] = true
			}
			return err
		}
		sx := Sanction{ID: newID(), Kind: kind, FirmID: firm, Rule: rule, Reason: reason, LegalBasis: legalBasis[kind], Period: r.Period,
			Status: Proposed, ProposedAt: now, ProposedBy: "run " + r.ID, Version: 1, ScoreRuns: runIDs[:min(nRuns, len(runIDs))]}
		for _, rec := range recs {
			sx.RecordIDs = append(sx.RecordIDs, rec.ID)
		}
		if err := s.write(ctx, sanctionEntry("system", "sanction.propose", "", sx, sx.Reason), func(st Store) error { return st.CreateSanction(ctx, sx) }); err != nil {
			return err
		}
		made++
		return nil
	}
	for _, sc := range scores {
		if sc.Subject != Firm {
			continue
		}
		firm, gs, recs := sc.SubjectID, history[sc.SubjectID], recordsOf[sc.SubjectID]
		var serious, revocation []RecordIn
		for _, rec := range recs {
			if rec.Severity == "serious" {
				serious = append(serious, rec)
			}
			for _, c := range m.Lists.RevocationGrade {
				if rec.Category == c.Category && rec.Severity == c.Severity {
					revocation = append(revocation, rec)
				}
			}
		}
		if n := streak(gs, GradeA); n >= m.Lists.RedConsecutiveA && len(serious) == 0 {
			if err := add(firm, RedList, "red_consecutive_a", fmt.Sprintf("grade A in the last %d published periods and no serious record in force", n), nil, n); err != nil {
				return made, err
			}
		}
		if len(revocation) > 0 {
			ids := make([]string, len(revocation))
			for i, rec := range revocation {
				ids[i] = rec.ID
			}
			reason := "revocation-grade record in force: " + strings.Join(ids, ", ")
			if err := add(firm, BlackList, "revocation_grade", reason, revocation, 1); err != nil {
				return made, err
			}
			if err := add(firm, RevocationProposal, "revocation_grade", reason, revocation, 1); err != nil {
				return made, err
			}
		}
		d := streak(gs, GradeD)
		if d >= m.Lists.BlackConsecutiveD {
			if err := add(firm, BlackList, "black_consecutive_d", fmt.Sprintf("grade D in the last %d published periods", d), recs, d); err != nil {
				return made, err
			}
		}
		if d > 0 {
			rung := Ladder[min(d, len(Ladder))-1]
			if err := add(firm, rung, "ladder", fmt.Sprintf("grade D in %d published period(s) in a row: rung %d of the ladder", d, min(d, len(Ladder))), recs, d); err != nil {
				return made, err
			}
		}
	}
	if r.Replaces != "" {
		if _, err := s.withdraw(ctx, r, kept); err != nil {
			return made, fmt.Errorf("withdraw the replaced run's proposals: %w", err)
		}
	}
	return made, nil
}

// liftRepaired lifts approved sanctions whose records are no longer in force (repaired or
// revoked): a sanction is lifted on credit repair.
func (s *Service) liftRepaired(ctx context.Context) error {
	ss, err := s.store.Sanctions(ctx, SanctionQuery{Status: []SanctionStatus{Approved}})
	if err != nil {
		return err
	}
	now := s.Now()
	for _, x := range ss {
		if len(x.RecordIDs) == 0 || !x.InForce(now) {
			continue
		}
		repaired := true
		for _, id := range x.RecordIDs {
			rec, err := s.archive.Record(ctx, id)
			if err != nil {
				return err
			}
			if rec.Status.InForce() {
				repaired = false
				break
			}
		}
		if repaired {
			before := x.Status
			x.Status, x.LiftedAt, x.LiftReason = Lifted, now, "credit repaired: every record behind it was repaired or revoked"
			x.Version++
			if err := s.write(ctx, sanctionEntry("system", "sanction.lift", before, x, x.LiftReason), func(st Store) error { return st.UpdateSanction(ctx, x) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// Decide approves or rejects a proposal (regulators only). An approved one starts now and
// ends after the methodology's months for its kind (never, for 0). A heavy sanction (see
// SanctionKind.FourEyes) takes two approvals by two regulators' tokens: the first makes it
// Reviewed, the second, by another token, Approved; the reviewer's own second approval is a
// state error. Any regulator may reject it at either step. Every step keeps its reason.
func (s *Service) Decide(ctx context.Context, c credtrace.Caller, id string, approve bool, reason string) (Sanction, error) {
	if !c.IsRegulator() {
		return Sanction{}, credtrace.ErrForbidden
	}
	if strings.TrimSpace(reason) == "" {
		return Sanction{}, credtrace.InvalidField("reason", "required")
	}
	x, err := s.store.Sanction(ctx, id)
	if err != nil {
		return Sanction{}, err
	}
	if !x.Status.Waiting() {
		return Sanction{}, stateErr("the proposal was already decided (%s)", x.Status)
	}
	now, before := s.Now(), x.Status
	if approve && x.Kind.FourEyes() {
		switch {
		case x.Status == Proposed:
			x.Status, x.ReviewedAt, x.ReviewedBy, x.ReviewReason = Reviewed, now, c.TokenID, strings.TrimSpace(reason)
			x.Version++
			if err := s.write(ctx, sanctionEntry(actorOf(c), "sanction.review", before, x, x.ReviewReason), func(st Store) error { return st.UpdateSanction(ctx, x) }); err != nil {
				return Sanction{}, err
			}
			return x, nil
		case x.ReviewedBy == c.TokenID:
			return Sanction{}, stateErr("four eyes: the regulator who reviewed this %s cannot also approve it; another regulator decides", x.Kind)
		}
	}
	m, err := s.method(ctx, "")
	if err != nil {
		return Sanction{}, err
	}
	x.DecidedAt, x.DecidedBy, x.Decision = now, c.TokenID, strings.TrimSpace(reason)
	if approve {
		x.Status, x.Start = Approved, now
		if months := m.Lists.SanctionMonths[string(x.Kind)]; months > 0 {
			x.End = now.AddDate(0, months, 0)
		}
	} else {
		x.Status = Rejected
	}
	x.Version++
	action := "sanction.reject"
	if approve {
		action = "sanction.approve"
	}
	if err := s.write(ctx, sanctionEntry(actorOf(c), action, before, x, x.Decision), func(st Store) error { return st.UpdateSanction(ctx, x) }); err != nil {
		return Sanction{}, err
	}
	return x, nil
}

// Lift ends an approved sanction early (regulators only).
func (s *Service) Lift(ctx context.Context, c credtrace.Caller, id, reason string) (Sanction, error) {
	if !c.IsRegulator() {
		return Sanction{}, credtrace.ErrForbidden
	}
	if strings.TrimSpace(reason) == "" {
		return Sanction{}, credtrace.InvalidField("reason", "required")
	}
	x, err := s.store.Sanction(ctx, id)
	if err != nil {
		return Sanction{}, err
	}
	if !x.InForce(s.Now()) {
		return Sanction{}, stateErr("only a sanction in force can be lifted")
	}
	before := x.Status
	x.Status, x.LiftedAt, x.LiftReason = Lifted, s.Now(), strings.TrimSpace(reason)
	x.Version++
	return x, s.write(ctx, sanctionEntry(actorOf(c), "sanction.lift", before, x, x.LiftReason), func(st Store) error { return st.UpdateSanction(ctx, x) })
}

// Sanction returns one proposal or sanction: regulators, and the firm's tree.
func (s *Service) Sanction(ctx context.Context, c credtrace.Caller, id string) (Sanction, error) {
	x, err := s.store.Sanction(ctx, id)
	if err != nil {
		return Sanction{}, err
	}
	if ok, err := s.canSeeFirm(ctx, c, x.FirmID); err != nil {
		return Sanction{}, err
	} else if !ok {
		return Sanction{}, credtrace.ErrNotFound
	}
	return x, nil
}

// Sanctions lists proposals and sanctions: regulators all, a firm its tree's.
func (s *Service) Sanctions(ctx context.Context, c credtrace.Caller, q SanctionQuery) ([]Sanction, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return nil, credtrace.ErrForbidden
	}
	if c.Role == credtrace.RoleFirm {
		// A firm sees its tree's: the store filters by the tree's ids and pages as it does.
		tree, err := courier.Subtree(ctx, s.archive, c.FirmID)
		if err != nil {
			return nil, err
		}
		q.FirmIDs = tree
	}
	return s.store.Sanctions(ctx, q)
}

// InForce lists the sanctions and list entries in force for a firm.
func (s *Service) InForce(ctx context.Context, firm string) ([]Sanction, error) {
	ss, err := s.store.Sanctions(ctx, SanctionQuery{FirmID: firm, Status: []SanctionStatus{Approved}})
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var out []Sanction
	for _, x := range ss {
		if x.InForce(now) {
			out = append(out, x)
		}
	}
	return out, nil
}

// ListEntry is a firm on the public red or black list.
type ListEntry struct {
	Sanction Sanction
	USCC     string
	Name     string
}

// PublicList returns the firms on the red or black list now.
func (s *Service) PublicList(ctx context.Context, kind SanctionKind) ([]ListEntry, error) {
	ss, err := s.store.Sanctions(ctx, SanctionQuery{Kind: kind, Status: []SanctionStatus{Approved}})
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var out []ListEntry
	for _, x := range ss {
		if !x.InForce(now) {
			continue
		}
		f, err := s.archive.Firm(ctx, x.FirmID)
		if err != nil {
			return nil, err
		}
		out = append(out, ListEntry{Sanction: x, USCC: f.USCC, Name: f.Name})
	}
	return out, nil
}

// Eligibility is a platform's answer on whether a courier firm may be onboarded.
type Eligibility struct {
	USCC      string
	Name      string
	Allowed   bool
	Reasons   []string
	Grade     Grade
	Score     float64
	Sanctions []Sanction
}

// barring are the sanctions that bar a firm from platforms.
var barring = map[SanctionKind]bool{BlackList: true, PlatformRestriction: true, Suspension: true, RevocationProposal: true}

// Bars reports whether a sanction of kind k in force bars the firm from platforms.
func (k SanctionKind) Bars() bool { return barring[k] }

// Eligible answers a platform (or a regulator): allowed unless the licence is not active or a
// barring sanction is in force; with the published grade and every sanction in force.
func (s *Service) Eligible(ctx context.Context, c credtrace.Caller, uscc string) (Eligibility, error) {
	if c.Role != credtrace.RolePlatform && !c.IsRegulator() {
		return Eligibility{}, credtrace.ErrForbidden
	}
	f, err := s.archive.FirmByUSCC(ctx, strings.ToUpper(strings.TrimSpace(uscc)))
	if err != nil {
		return Eligibility{}, err
	}
	e := Eligibility{USCC: f.USCC, Name: f.Name, Allowed: true, Grade: Insufficient}
	if sc, ok, err := s.PublishedGrade(ctx, f.ID); err != nil {
		return Eligibility{}, err
	} else if ok {
		e.Grade, e.Score = sc.Grade, sc.Value
	}
	if f.Licence.Status != courier.LicenceActive {
		e.Allowed = false
		e.Reasons = append(e.Reasons, "licence "+string(f.Licence.Status))
	}
	if e.Sanctions, err = s.InForce(ctx, f.ID); err != nil {
		return Eligibility{}, err
	}
	for _, x := range e.Sanctions {
		if barring[x.Kind] {
			e.Allowed = false
			e.Reasons = append(e.Reasons, fmt.Sprintf("%s in force since %s: %s", x.Kind, x.Start.Format("2006-01-02"), x.Reason))
		}
	}
	if e.Allowed {
		e.Reasons = append(e.Reasons, "licence active and no barring sanction in force")
	}
	return e, nil
}

// Supervision is a firm's place in classified supervision.
type Supervision struct {
	FirmID            string
	Grade             Grade
	Percentile        float64
	InspectionsYear   int
	MandatoryReview   bool
	WorstDecilePeriod int // consecutive published periods in the worst decile
}

// Supervise lists every firm's suggested random-inspection frequency by its published grade and
// those due a mandatory review after the methodology's periods in the worst decile of their peers.
func (s *Service) Supervise(ctx context.Context, c credtrace.Caller) ([]Supervision, error) {
	if !c.IsRegulator() {
		return nil, credtrace.ErrForbidden
	}
	m, err := s.method(ctx, "")
	if err != nil {
		return nil, err
	}
	// The latest published period and those before it in a row, never runs: a period
	// published again counts once.
	pubs, err := s.publications(ctx)
	if err != nil || len(pubs) == 0 {
		return nil, err
	}
	var last Run
	for _, r := range pubs {
		if last.ID == "" || r.AsOf.After(last.AsOf) {
			last = r
		}
	}
	runs := append([]Run{last}, s.periodsBefore(pubs, s.periodOfRun(last), m.Lists.ReviewDecile-1)...)
	byRun := make([]map[string]Score, len(runs))
	for i, r := range runs {
		ss, err := s.store.Scores(ctx, ScoreQuery{RunID: r.ID, Subject: Firm})
		if err != nil {
			return nil, err
		}
		byRun[i] = map[string]Score{}
		for _, sc := range ss {
			byRun[i][sc.SubjectID] = sc
		}
	}
	var out []Supervision
	latest := make([]Score, 0, len(byRun[0]))
	for _, sc := range byRun[0] {
		latest = append(latest, sc)
	}
	sortScores(latest)
	for _, sc := range latest {
		sv := Supervision{FirmID: sc.SubjectID, Grade: sc.Grade, Percentile: sc.Percentile, InspectionsYear: m.InspectionsByGrade[string(sc.Grade)]}
		for _, br := range byRun {
			x, ok := br[sc.SubjectID]
			if !ok || x.Grade == Insufficient || x.Percentile < 90 {
				break
			}
			sv.WorstDecilePeriod++
		}
		sv.MandatoryReview = sv.WorstDecilePeriod >= m.Lists.ReviewDecile
		out = append(out, sv)
	}
	return out, nil
}
