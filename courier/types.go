package courier

import (
	"time"

	"github.com/credtrace/credtrace"
)

// FirmKind is a firm's place in the franchise tree.
type FirmKind string

// Firm kinds: a brand HQ (总部) has no parent; branches (分公司) hang under an HQ or another
// branch; outlets (网点) hang under an HQ or a branch and have no children.
const (
	KindHQ     FirmKind = "hq"
	KindBranch FirmKind = "branch"
	KindOutlet FirmKind = "outlet"
)

// LicenceStatus is the state of a firm's courier business licence.
type LicenceStatus string

// Licence states.
const (
	LicenceActive    LicenceStatus = "active"
	LicenceSuspended LicenceStatus = "suspended"
	LicenceRevoked   LicenceStatus = "revoked"
)

// Licence is a courier business licence (快递业务经营许可证).
type Licence struct {
	Number    string
	Scope     string
	ValidFrom time.Time
	ValidTo   time.Time
	Status    LicenceStatus
}

// Firm is a courier firm, identified by its unified social credit code.
type Firm struct {
	ID        string
	USCC      string
	Name      string
	Kind      FirmKind
	ParentID  string // empty for an HQ
	Region    string // 6-digit administrative division code
	Licence   Licence
	GLN       string // its party GLN (PGLN, GS1 AI 417), as EPCIS names it; "" when none
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int // bumped on every update; used for optimistic concurrency
}

// SiteKind is the kind of place a site is.
type SiteKind string

// Site kinds.
const (
	SiteSortingCentre SiteKind = "sorting_centre"
	SiteOutlet        SiteKind = "outlet"
	SiteLocker        SiteKind = "locker" // smart locker or 驿站 pickup point
)

// Site is a physical place where a firm scans parcels.
type Site struct {
	ID      string
	FirmID  string
	Name    string
	Kind    SiteKind
	Region  string
	Address string
	// GLN is the site's GS1 Global Location Number, as EPCIS locations (SGLN, AI 414) name it:
	// 13 digits, or 13 digits, a dot and the AI 254 extension for one place of several at a
	// GLN. "" when none.
	GLN       string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int
}

// Employment is one period of a person working for a firm. To is zero while it is open.
type Employment struct {
	FirmID string
	Role   string
	From   time.Time
	To     time.Time
}

// Open reports whether the employment has not ended.
func (e Employment) Open() bool { return e.To.IsZero() }

// Staff is a person working in the courier trade. The resident ID number and phone are held
// only as keyed hashes (for matching) and masked forms (for display).
type Staff struct {
	ID          string
	Name        string
	IDHash      string
	IDMasked    string
	PhoneHash   string
	PhoneMasked string
	Employment  []Employment
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int
}

// FirmIDs lists every firm the person has worked for, current or past.
func (s Staff) FirmIDs() []string {
	var ids []string
	seen := map[string]bool{}
	for _, e := range s.Employment {
		if !seen[e.FirmID] {
			seen[e.FirmID] = true
			ids = append(ids, e.FirmID)
		}
	}
	return ids
}

// EmployerAt returns the firm the person worked for at t, or "".
func (s Staff) EmployerAt(t time.Time) string {
	for _, e := range s.Employment {
		if !t.Before(e.From) && (e.Open() || t.Before(e.To)) {
			return e.FirmID
		}
	}
	return ""
}

// SubjectKind is what a credit record is about.
type SubjectKind string

// Subject kinds.
const (
	SubjectFirm  SubjectKind = "firm"
	SubjectSite  SubjectKind = "site"
	SubjectStaff SubjectKind = "staff"
)

// Subject names the firm, site or person a record is about.
type Subject struct {
	Kind SubjectKind
	ID   string
}

// Category is one of the seven record categories of a courier credit file.
type Category string

// The seven categories.
const (
	CatSupervision    Category = "supervision"     // 日常监管
	CatEnforcement    Category = "enforcement"     // 行政执法
	CatComplaint      Category = "complaint"       // 消费者申诉
	CatMedia          Category = "media"           // 媒体曝光
	CatLicence        Category = "licence"         // 许可管理
	CatServiceQuality Category = "service_quality" // 服务质量
	CatDeliverySafety Category = "delivery_safety" // 寄递安全
)

// Categories lists the seven categories in the notice's order.
var Categories = []Category{CatSupervision, CatEnforcement, CatComplaint, CatMedia, CatLicence, CatServiceQuality, CatDeliverySafety}

// Source is the party a record comes from.
type Source string

// Sources.
const (
	SrcRegulator Source = "regulator"
	SrcConsumer  Source = "consumer"
	SrcMerchant  Source = "merchant"
	SrcPlatform  Source = "platform"
	SrcMedia     Source = "media"
	SrcFirmSelf  Source = "firm_self"
	SrcSystem    Source = "system"
)

// Severity grades a record; it sets the publicity window and the repair waiting period.
type Severity string

// Severities.
const (
	SevMinor   Severity = "minor"
	SevGeneral Severity = "general"
	SevSerious Severity = "serious"
)

// RecordStatus is where a record is in its lifecycle.
type RecordStatus string

// Record states: pending → confirmed | dismissed; confirmed → disputed → upheld | revoked;
// confirmed or upheld → repaired.
const (
	StatusPending   RecordStatus = "pending"
	StatusConfirmed RecordStatus = "confirmed"
	StatusDismissed RecordStatus = "dismissed"
	StatusDisputed  RecordStatus = "disputed"
	StatusUpheld    RecordStatus = "upheld"
	StatusRevoked   RecordStatus = "revoked"
	StatusRepaired  RecordStatus = "repaired"
)

// InForce reports whether a record in this state counts against its subject.
func (s RecordStatus) InForce() bool {
	return s == StatusConfirmed || s == StatusDisputed || s == StatusUpheld
}

// Evidence points at what proves a record: a waybill number, a document id or a link.
type Evidence struct {
	Kind string // waybill, document, link, event, incident
	Ref  string
}

// Transition is one step in a record's history.
type Transition struct {
	From   RecordStatus
	To     RecordStatus
	At     time.Time
	By     string // token id of the actor
	Reason string
}

// RepairStatus is where a credit repair request stands.
type RepairStatus string

// Repair states.
const (
	RepairPending  RepairStatus = "pending"
	RepairApproved RepairStatus = "approved"
	RepairRejected RepairStatus = "rejected"
)

// Repair is a request to repair credit (信用修复) on one record.
type Repair struct {
	ID          string
	RequestedAt time.Time
	RequestedBy string
	Evidence    []Evidence
	Commitment  string
	Status      RepairStatus
	DecidedAt   time.Time
	DecidedBy   string
	Reason      string
}

// Record is one entry in a credit file.
type Record struct {
	ID               string
	Subject          Subject
	FirmID           string // the firm that answers for the record: the firm, the site's firm, the staff's employer then
	Category         Category
	Source           Source
	Severity         Severity
	OccurredAt       time.Time
	DecidedAt        time.Time // date of the decision recorded; the clocks start here (see Decided)
	Summary          string
	Evidence         []Evidence
	LegalBasis       string
	Status           RecordStatus
	CreatedBy        string
	CreatedAt        time.Time
	ConfirmedAt      time.Time
	PublicUntil      time.Time // end of the publicity window; zero until confirmed
	RepairEligibleAt time.Time // earliest repair request; zero until confirmed
	History          []Transition
	Repairs          []Repair
	Version          int
}

// Decided is the date the publicity window and the repair clock run from: DecidedAt, or
// OccurredAt for a record stored before records carried a decision date.
func (r Record) Decided() time.Time {
	if r.DecidedAt.IsZero() {
		return r.OccurredAt
	}
	return r.DecidedAt
}

// RepairPending reports whether a repair request awaits a decision.
func (r Record) RepairPending() bool {
	for _, rp := range r.Repairs {
		if rp.Status == RepairPending {
			return true
		}
	}
	return false
}

// StatusAt is the record's status at t, read from its history; ok is false before the record
// existed.
func (r Record) StatusAt(t time.Time) (st RecordStatus, ok bool) {
	if r.CreatedAt.After(t) {
		return "", false
	}
	st = StatusPending
	for _, h := range r.History {
		if h.At.After(t) {
			break
		}
		st = h.To
	}
	return st, true
}

// Public reports whether the record shows in the public disclosure at t.
func (r Record) Public(t time.Time) bool {
	return r.Status.InForce() && t.Before(r.PublicUntil)
}

// ObjectionStatus is where an objection stands.
type ObjectionStatus string

// Objection states: pending until decided; upheld keeps the record, revoked withdraws it.
const (
	ObjectionPending ObjectionStatus = "pending"
	ObjectionUpheld  ObjectionStatus = "upheld"
	ObjectionRevoked ObjectionStatus = "revoked"
)

// Objection (异议) is a subject's challenge of a record.
type Objection struct {
	ID          string
	RecordID    string
	FirmID      string
	FiledBy     string
	Reasons     string
	Evidence    []Evidence
	FiledAt     time.Time
	ReviewBy    time.Time // filed + 10 days
	Status      ObjectionStatus
	DecidedAt   time.Time
	DecidedBy   string
	Decision    string
	CorrectBy   time.Time // decision + 10 days
	CorrectedAt time.Time
	Version     int
}

// Overdue reports whether a statutory clock has run out at t.
func (o Objection) Overdue(t time.Time) bool {
	if o.Status == ObjectionPending {
		return t.After(o.ReviewBy)
	}
	return o.CorrectedAt.IsZero() && !o.CorrectBy.IsZero() && t.After(o.CorrectBy)
}

// Commitment is a public credit commitment (信用承诺).
type Commitment struct {
	ID        string
	Subject   Subject
	FirmID    string
	Text      string
	Scope     string
	Signer    string
	SignedAt  time.Time
	CreatedAt time.Time
	CreatedBy string
}

// Session is a signed-in browser of the dashboard, kept in the store so that every replica
// knows it. The browser's cookie holds a random id; only its SHA-256 is kept, with the token it
// signed in with, its forms' CSRF token (drawn at sign-in) and when it ends.
type Session struct {
	IDHash  string
	TokenID string
	CSRF    string
	Expires time.Time
}

// Token is an API credential. Only the SHA-256 of the secret is kept.
type Token struct {
	ID         string
	Hash       string
	Role       credtrace.Role
	FirmID     string // firm tokens: the root of the subtree they act for
	MerchantID string // merchant tokens
	StaffID    string // staff tokens: the person they belong to
	Label      string
	CreatedAt  time.Time
	CreatedBy  string
	RevokedAt  time.Time
	// ExpiresAt ends the token (zero: it does not expire; at most MaxTokenLifetime after issue).
	ExpiresAt time.Time
	// LastUsedAt is when the token last authenticated, to the minute (TouchEvery).
	LastUsedAt time.Time
	// RotatedAt is the last rotation; RetiredHash is the hash of the secret it replaced, which
	// still authenticates until RetiredUntil (the grace period).
	RotatedAt    time.Time
	RetiredHash  string
	RetiredUntil time.Time
}

// TokenQuery filters tokens. Empty fields do not filter.
type TokenQuery struct {
	FirmID string // tokens acting for this firm
	Page   Page
}

// Rotation is a rotation of a token's secret as stored.
type Rotation struct {
	Hash         string    // the new secret's hash
	RetiredHash  string    // the replaced secret's hash, valid until RetiredUntil
	RetiredUntil time.Time //
	At           time.Time
}

// AuditEntry is one link of the hash-chained audit trail.
type AuditEntry struct {
	Seq      int64
	At       time.Time
	Actor    string // token id, or "system"
	Action   string
	Entity   string
	EntityID string
	Detail   string
	PrevHash string
	Hash     string
}

// Guesses counts wrong answers against one key (a person's ID number, a caller's address) of
// the person's own check. The count starts again once Window has passed since Last.
type Guesses struct {
	Count int
	Last  time.Time // the latest wrong answer
}
