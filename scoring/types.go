// Package scoring computes, on a schedule, explainable credit scores and grades of courier
// firms, sites and staff from every party's inputs — regulators' records, objective service
// quality from tracking statistics, merchants' and consumers' ratings — and turns them into
// red and black list entries and sanction proposals that regulators approve.
//
// It may import courier and tracking (it reads their data through the small Source interface
// that cmd wires); nothing imports it but the adapters.
package scoring

import (
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
)

// ErrLeaseHeld means another instance holds the job's lease: a conflict with its own code.
var ErrLeaseHeld = &credtrace.Error{Kind: credtrace.Conflict, Code: "run_in_progress", Msg: "another instance is running this job"}

func stateErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", credtrace.ErrState, fmt.Sprintf(format, args...))
}

// SubjectKind is what a score is about.
type SubjectKind string

// Subject kinds.
const (
	Firm  SubjectKind = "firm"
	Site  SubjectKind = "site"
	Staff SubjectKind = "staff"
)

// RaterKind is who rated a delivery.
type RaterKind string

// Rater kinds.
const (
	RaterMerchant RaterKind = "merchant"
	RaterConsumer RaterKind = "consumer"
)

// Rating is one party's stars for one delivered parcel.
type Rating struct {
	ID        string
	RaterKind RaterKind
	RaterID   string // merchant id, or the consumer's keyed phone hash
	Waybill   string
	FirmID    string // the carrier that delivered it
	SiteID    string // the delivering site and courier, when known
	StaffID   string
	Stars     int // 1-5
	Tags      []string
	Comment   string
	CreatedAt time.Time
	UpdatedAt time.Time
	// RatedAt is when the rater gave the rating's stars: the server's time for a rating given
	// through credtrace, the platform's for one a platform pushes. The burst and netting rules
	// judge by it (see GivenAt), never by when credtrace stored the rating.
	RatedAt time.Time
	// Weight is what the rating counts for after the anti-manipulation rules (0..1), and Flags
	// say why it counts less than 1.
	Weight  float64
	Flags   []string
	Version int
}

// GivenAt is when the rater gave r: RatedAt, or for a rating that has none (read from a
// store or an export written before ratings kept it) its last update, which was then the
// time the rater gave it.
func (r Rating) GivenAt() time.Time {
	if !r.RatedAt.IsZero() {
		return r.RatedAt
	}
	return r.UpdatedAt
}

// Grade is a score's letter, or Insufficient below the minimum of data.
type Grade string

// Grades.
const (
	GradeA       Grade = "A"
	GradeB       Grade = "B"
	GradeC       Grade = "C"
	GradeD       Grade = "D"
	Insufficient Grade = "insufficient"
)

// Item is one input that moved a score, with the id of what it came from.
type Item struct {
	Kind   string // record, statistic, delay (2026.4 on: the slow segments behind the late share), rating, commitment, grade_range
	Ref    string // record id, "firm/<id>/<from>..<to>", rating id, commitment id
	Effect float64
	Detail string
}

// Component is one party's part of a score.
type Component struct {
	Party       string  // regulator, tracking, merchant, consumer, bonus
	Value       float64 // 0..1000 before weighting
	Weight      float64
	Uncertainty float64 // one standard error, in score points
	Detail      string
	Items       []Item // the inputs that moved it most, largest first
}

// Score is a subject's result in one run.
type Score struct {
	RunID       string
	Subject     SubjectKind
	SubjectID   string
	FirmID      string // the firm of a site or staff; the firm itself for firms
	AsOf        time.Time
	Method      string // methodology version
	MethodHash  string // MethodHash of the methodology document
	Period      string // label of the evaluation period (2026-11, 2026-Q4) the run scored
	Value       float64
	Uncertainty float64
	Grade       Grade
	PeerGroup   string
	Percentile  float64 // share of the peer group with a better score, 0..100
	Parcels     int
	Components  []Component
	Published   bool
}

// RunStatus is where a scoring run stands.
type RunStatus string

// Run states.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Run is one scoring run.
type Run struct {
	ID         string
	AsOf       time.Time
	Method     string // the methodology version in force at AsOf
	MethodHash string // MethodHash of its document
	Trigger    string // schedule, manual, publish
	Publish    bool   // a publishing run: its grades are the period's published grades
	// Period is the label of the evaluation period: for a publishing run the period it
	// publishes (AsOf is its end), for a preview the period in progress at AsOf.
	Period string
	// Reason is the regulator's reason for publishing a period again, and Replaces the run
	// whose publication it replaces; SupersededBy names the run that replaced this one. A
	// superseded run is kept, never deleted: its grades were public once.
	Reason       string
	Replaces     string
	SupersededBy string
	// InputsHash is the SHA-256 of the run's inputs as InputsWriter encodes them, taken when
	// the run read them: an export or a replay can show that it uses the same inputs.
	InputsHash string
	Status     RunStatus
	StartedAt  time.Time
	FinishedAt time.Time
	Inputs     map[string]int // counts of what it read: firms, sites, staff, records, stat rows, ratings
	Progress   int            // subjects scored
	Total      int
	Error      string
	Proposals  int
	Version    int
}

// SanctionKind is one rung of the ladder, or a list entry.
type SanctionKind string

// Sanction kinds: the red and black lists, then the ladder of the notice.
const (
	RedList             SanctionKind = "redlist"
	BlackList           SanctionKind = "blacklist"
	PublicExposure      SanctionKind = "public_exposure"      // 公开曝光
	PlatformRestriction SanctionKind = "platform_restriction" // 限制入驻电商平台
	Suspension          SanctionKind = "suspension"           // 责令停业整顿
	RevocationProposal  SanctionKind = "revocation_proposal"  // 吊销经营许可证 (proposed to the licensing authority)
)

// Ladder is the sanction ladder in order.
var Ladder = []SanctionKind{PublicExposure, PlatformRestriction, Suspension, RevocationProposal}

// SanctionStatus is where a proposal stands.
type SanctionStatus string

// Sanction states: proposed → approved | rejected; approved → lifted (on repair or by hand)
// or expired at its end.
const (
	Proposed SanctionStatus = "proposed"
	// Reviewed is a four-eyes proposal approved by a first regulator (the review, 法制审核)
	// and waiting for the decision of a second one.
	Reviewed SanctionStatus = "reviewed"
	Approved SanctionStatus = "approved"
	Rejected SanctionStatus = "rejected"
	Lifted   SanctionStatus = "lifted"
	// Withdrawn is a proposal that waited for a decision when the publication behind it was
	// replaced: the replacing run proposes again from its corrected grades.
	Withdrawn SanctionStatus = "withdrawn"
)

// Sanction is a proposal of a list entry or sanction against a firm, and its decision.
type Sanction struct {
	ID         string
	Kind       SanctionKind
	FirmID     string
	Rule       string   // the rule that proposed it
	Reason     string   // why, in words
	LegalBasis string   // 法律依据
	RecordIDs  []string // the records behind it
	ScoreRuns  []string // the runs whose scores are behind it
	Period     string   // the evaluation period whose publication proposed it
	Status     SanctionStatus
	ProposedAt time.Time
	ProposedBy string // run id or token id
	// The first approval of a four-eyes proposal: when, by which regulator's token, and why.
	ReviewedAt   time.Time
	ReviewedBy   string
	ReviewReason string
	DecidedAt    time.Time
	DecidedBy    string
	Decision     string
	Start        time.Time
	End          time.Time // zero: until lifted
	LiftedAt     time.Time
	LiftReason   string
	Version      int
}

// Waiting reports whether a proposal waits for a decision (none yet, or only the review).
func (s SanctionStatus) Waiting() bool { return s == Proposed || s == Reviewed }

// FourEyes reports whether a sanction of kind is a heavy administrative decision that two
// regulators must approve (重大执法决定法制审核): platform restriction, suspension, a
// revocation proposal and a black-list entry. Public exposure and the red list take one.
func (k SanctionKind) FourEyes() bool {
	switch k {
	case BlackList, PlatformRestriction, Suspension, RevocationProposal:
		return true
	}
	return false
}

// InForce reports whether an approved sanction applies at t.
func (s Sanction) InForce(t time.Time) bool {
	return s.Status == Approved && !t.Before(s.Start) && (s.End.IsZero() || t.Before(s.End))
}

// Lease is a named, expiring claim that one instance holds on a job.
type Lease struct {
	Name   string
	Holder string
	Until  time.Time
}
