package httpapi

import (
	"time"

	"github.com/credtrace/credtrace/courier"
)

// ----- requests -----

type licenceReq struct {
	Number    string `json:"number" validate:"required,max=100"`
	Scope     string `json:"scope" validate:"max=500"`
	ValidFrom Time   `json:"valid_from"`
	ValidTo   Time   `json:"valid_to"`
	Status    string `json:"status" validate:"required"`
}

func (l licenceReq) toDomain() courier.Licence {
	return courier.Licence{Number: l.Number, Scope: l.Scope, ValidFrom: l.ValidFrom.Time, ValidTo: l.ValidTo.Time, Status: courier.LicenceStatus(l.Status)}
}

type firmCreateReq struct {
	USCC     string     `json:"uscc" validate:"required"`
	Name     string     `json:"name" validate:"required,max=200"`
	Kind     string     `json:"kind" validate:"required"`
	ParentID string     `json:"parent_id"`
	Region   string     `json:"region" validate:"required"`
	Licence  licenceReq `json:"licence"`
	GLN      string     `json:"gln" validate:"max=13"` // the firm's party GLN (GS1 AI 417)
}

type firmPatchReq struct {
	Name     *string     `json:"name" validate:"omitnil,max=200"`
	ParentID *string     `json:"parent_id"`
	Region   *string     `json:"region"`
	Licence  *licenceReq `json:"licence"`
	GLN      *string     `json:"gln" validate:"omitnil,max=13"` // "" removes it
}

type tokenReq struct {
	Role       string `json:"role" validate:"required"`
	FirmID     string `json:"firm_id"`
	MerchantID string `json:"merchant_id" validate:"max=100"`
	StaffID    string `json:"staff_id"`
	Label      string `json:"label" validate:"max=200"`
	// ExpiresAt ends the token; absent: it does not expire. At most two years ahead.
	ExpiresAt *time.Time `json:"expires_at"`
}

type siteReq struct {
	Name    string `json:"name" validate:"required,max=200"`
	Kind    string `json:"kind" validate:"required"`
	Region  string `json:"region" validate:"required"`
	Address string `json:"address" validate:"max=500"`
	GLN     string `json:"gln" validate:"max=34"` // the site's GLN (GS1 AI 414), or GLN.extension (AI 254)
}

func (r siteReq) toDomain() courier.SiteInput {
	return courier.SiteInput{Name: r.Name, Kind: courier.SiteKind(r.Kind), Region: r.Region, Address: r.Address, GLN: r.GLN}
}

type employmentReq struct {
	FirmID string `json:"firm_id" validate:"required"`
	Role   string `json:"role" validate:"required,max=64"`
	From   Time   `json:"from"`
}

func (e employmentReq) toDomain() courier.EmploymentInput {
	return courier.EmploymentInput{FirmID: e.FirmID, Role: e.Role, From: e.From.Time}
}

type staffCreateReq struct {
	Name       string         `json:"name" validate:"required,max=64"`
	IDNumber   string         `json:"id_number" validate:"required"`
	Phone      string         `json:"phone" validate:"required"`
	Employment *employmentReq `json:"employment"`
}

type staffPatchReq struct {
	Name  *string `json:"name" validate:"omitnil,max=64"`
	Phone *string `json:"phone"`
}

type staffSearchReq struct {
	IDNumber string `json:"id_number" validate:"required"`
}

// hireReq takes a registered person on by their ID number, which only ever travels in a body.
type hireReq struct {
	IDNumber string `json:"id_number" validate:"required"`
	FirmID   string `json:"firm_id" validate:"required"`
	Role     string `json:"role" validate:"required,max=64"`
	From     Time   `json:"from"`
}

// personReq is a person proving who they are, for their own file.
type personReq struct {
	IDNumber string `json:"id_number" validate:"required"`
	Phone    string `json:"phone" validate:"required"`
}

// personObjectionReq is a person's objection to a record about them.
type personObjectionReq struct {
	IDNumber string        `json:"id_number" validate:"required"`
	Phone    string        `json:"phone" validate:"required"`
	RecordID string        `json:"record_id" validate:"required"`
	Reasons  string        `json:"reasons" validate:"required,max=2000"`
	Evidence []evidenceReq `json:"evidence" validate:"max=50,dive"`
}

type employmentEndReq struct {
	To Time `json:"to"`
}

type evidenceReq struct {
	Kind string `json:"kind" validate:"required"`
	Ref  string `json:"ref" validate:"required,max=500"`
}

func evidenceIn(in []evidenceReq) []courier.Evidence {
	if len(in) == 0 {
		return nil
	}
	out := make([]courier.Evidence, len(in))
	for i, e := range in {
		out[i] = courier.Evidence{Kind: e.Kind, Ref: e.Ref}
	}
	return out
}

type subjectReq struct {
	Kind string `json:"kind" validate:"required"`
	ID   string `json:"id" validate:"required"`
}

type recordReq struct {
	Subject    subjectReq    `json:"subject"`
	Category   string        `json:"category" validate:"required"`
	Source     string        `json:"source" validate:"required"`
	Severity   string        `json:"severity" validate:"required"`
	OccurredAt Time          `json:"occurred_at"`
	DecidedAt  Time          `json:"decided_at"` // the decision's date; left out: occurred_at
	Summary    string        `json:"summary" validate:"required,max=2000"`
	Evidence   []evidenceReq `json:"evidence" validate:"max=50,dive"`
	LegalBasis string        `json:"legal_basis" validate:"max=500"`
}

type reasonReq struct {
	Reason string `json:"reason" validate:"max=2000"`
}

type repairReq struct {
	Evidence   []evidenceReq `json:"evidence" validate:"required,min=1,max=50,dive"`
	Commitment string        `json:"commitment" validate:"required,max=2000"`
}

type repairDecisionReq struct {
	Approve *bool  `json:"approve" validate:"required"`
	Reason  string `json:"reason" validate:"max=2000"`
}

type objectionReq struct {
	RecordID string        `json:"record_id" validate:"required"`
	Reasons  string        `json:"reasons" validate:"required,max=2000"`
	Evidence []evidenceReq `json:"evidence" validate:"max=50,dive"`
}

type objectionDecisionReq struct {
	Outcome string `json:"outcome" validate:"required"`
	Reason  string `json:"reason" validate:"required,max=2000"`
}

type commitmentReq struct {
	Subject  subjectReq `json:"subject"`
	Text     string     `json:"text" validate:"required,max=2000"`
	Scope    string     `json:"scope" validate:"max=500"`
	Signer   string     `json:"signer" validate:"required,max=100"`
	SignedAt Time       `json:"signed_at"`
}

// ----- responses -----

type licenceJSON struct {
	Number    string     `json:"number"`
	Scope     string     `json:"scope"`
	ValidFrom *time.Time `json:"valid_from,omitempty"`
	ValidTo   *time.Time `json:"valid_to,omitempty"`
	Status    string     `json:"status"`
}

func licenceOut(l courier.Licence) licenceJSON {
	return licenceJSON{Number: l.Number, Scope: l.Scope, ValidFrom: ts(l.ValidFrom), ValidTo: ts(l.ValidTo), Status: string(l.Status)}
}

type firmJSON struct {
	ID        string      `json:"id"`
	USCC      string      `json:"uscc"`
	Name      string      `json:"name"`
	Kind      string      `json:"kind"`
	ParentID  string      `json:"parent_id,omitempty"`
	Region    string      `json:"region"`
	Licence   licenceJSON `json:"licence"`
	GLN       string      `json:"gln,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Version   int         `json:"version"`
}

func firmOut(f courier.Firm) firmJSON {
	return firmJSON{ID: f.ID, USCC: f.USCC, Name: f.Name, Kind: string(f.Kind), ParentID: f.ParentID, Region: f.Region,
		Licence: licenceOut(f.Licence), GLN: f.GLN, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, Version: f.Version}
}

type siteJSON struct {
	ID        string    `json:"id"`
	FirmID    string    `json:"firm_id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Region    string    `json:"region"`
	Address   string    `json:"address,omitempty"`
	GLN       string    `json:"gln,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int       `json:"version"`
}

func siteOut(s courier.Site) siteJSON {
	return siteJSON{ID: s.ID, FirmID: s.FirmID, Name: s.Name, Kind: string(s.Kind), Region: s.Region, Address: s.Address, GLN: s.GLN,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Version: s.Version}
}

type employmentJSON struct {
	FirmID string     `json:"firm_id"`
	Role   string     `json:"role"`
	From   time.Time  `json:"from"`
	To     *time.Time `json:"to,omitempty"`
}

// staffJSON never carries the ID number or phone: only their masked forms.
type staffJSON struct {
	ID             string           `json:"id"`
	Name           string           `json:"name"`
	IDNumberMasked string           `json:"id_number_masked"`
	PhoneMasked    string           `json:"phone_masked"`
	Employment     []employmentJSON `json:"employment"`
	CreatedAt      time.Time        `json:"created_at"`
	UpdatedAt      time.Time        `json:"updated_at"`
	Version        int              `json:"version"`
}

func staffOut(p courier.Staff) staffJSON {
	out := staffJSON{ID: p.ID, Name: p.Name, IDNumberMasked: p.IDMasked, PhoneMasked: p.PhoneMasked,
		Employment: []employmentJSON{}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version}
	for _, e := range p.Employment {
		out.Employment = append(out.Employment, employmentJSON{FirmID: e.FirmID, Role: e.Role, From: e.From, To: ts(e.To)})
	}
	return out
}

type evidenceJSON struct {
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
}

func evidenceOut(ev []courier.Evidence) []evidenceJSON {
	out := make([]evidenceJSON, len(ev))
	for i, e := range ev {
		out[i] = evidenceJSON{Kind: e.Kind, Ref: e.Ref}
	}
	return out
}

type subjectJSON struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

type transitionJSON struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

type repairJSON struct {
	ID          string         `json:"id"`
	RequestedAt time.Time      `json:"requested_at"`
	Evidence    []evidenceJSON `json:"evidence"`
	Commitment  string         `json:"commitment"`
	Status      string         `json:"status"`
	DecidedAt   *time.Time     `json:"decided_at,omitempty"`
	Reason      string         `json:"reason,omitempty"`
}

type recordJSON struct {
	ID               string           `json:"id"`
	Subject          subjectJSON      `json:"subject"`
	FirmID           string           `json:"firm_id,omitempty"`
	Category         string           `json:"category"`
	Source           string           `json:"source"`
	Severity         string           `json:"severity"`
	OccurredAt       time.Time        `json:"occurred_at"`
	DecidedAt        time.Time        `json:"decided_at"`
	Summary          string           `json:"summary"`
	Evidence         []evidenceJSON   `json:"evidence"`
	LegalBasis       string           `json:"legal_basis,omitempty"`
	Status           string           `json:"status"`
	CreatedAt        time.Time        `json:"created_at"`
	ConfirmedAt      *time.Time       `json:"confirmed_at,omitempty"`
	PublicUntil      *time.Time       `json:"public_until,omitempty"`
	RepairEligibleAt *time.Time       `json:"repair_eligible_at,omitempty"`
	History          []transitionJSON `json:"history"`
	Repairs          []repairJSON     `json:"repairs"`
	Version          int              `json:"version"`
}

func recordOut(r courier.Record) recordJSON {
	out := recordJSON{ID: r.ID, Subject: subjectJSON{string(r.Subject.Kind), r.Subject.ID}, FirmID: r.FirmID,
		Category: string(r.Category), Source: string(r.Source), Severity: string(r.Severity), OccurredAt: r.OccurredAt,
		DecidedAt: r.Decided(), Summary: r.Summary, Evidence: evidenceOut(r.Evidence), LegalBasis: r.LegalBasis, Status: string(r.Status),
		CreatedAt: r.CreatedAt, ConfirmedAt: ts(r.ConfirmedAt), PublicUntil: ts(r.PublicUntil), RepairEligibleAt: ts(r.RepairEligibleAt),
		History: []transitionJSON{}, Repairs: []repairJSON{}, Version: r.Version}
	for _, h := range r.History {
		out.History = append(out.History, transitionJSON{From: string(h.From), To: string(h.To), At: h.At, By: h.By, Reason: h.Reason})
	}
	for _, rp := range r.Repairs {
		out.Repairs = append(out.Repairs, repairJSON{ID: rp.ID, RequestedAt: rp.RequestedAt, Evidence: evidenceOut(rp.Evidence),
			Commitment: rp.Commitment, Status: string(rp.Status), DecidedAt: ts(rp.DecidedAt), Reason: rp.Reason})
	}
	return out
}

// publicRecordJSON is a record as the public sees it: no evidence references, no actors.
type publicRecordJSON struct {
	ID          string      `json:"id"`
	Subject     subjectJSON `json:"subject"`
	Category    string      `json:"category"`
	Severity    string      `json:"severity"`
	OccurredAt  time.Time   `json:"occurred_at"`
	DecidedAt   time.Time   `json:"decided_at"`
	Summary     string      `json:"summary"`
	LegalBasis  string      `json:"legal_basis,omitempty"`
	Status      string      `json:"status"`
	ConfirmedAt time.Time   `json:"confirmed_at"`
	PublicUntil time.Time   `json:"public_until"`
}

func publicRecordOut(r courier.Record) publicRecordJSON {
	return publicRecordJSON{ID: r.ID, Subject: subjectJSON{string(r.Subject.Kind), r.Subject.ID}, Category: string(r.Category),
		Severity: string(r.Severity), OccurredAt: r.OccurredAt, DecidedAt: r.Decided(), Summary: r.Summary, LegalBasis: r.LegalBasis,
		Status: string(r.Status), ConfirmedAt: r.ConfirmedAt, PublicUntil: r.PublicUntil}
}

type objectionJSON struct {
	ID          string         `json:"id"`
	RecordID    string         `json:"record_id"`
	FirmID      string         `json:"firm_id,omitempty"`
	Reasons     string         `json:"reasons"`
	Evidence    []evidenceJSON `json:"evidence"`
	FiledAt     time.Time      `json:"filed_at"`
	ReviewBy    time.Time      `json:"review_by"`
	Status      string         `json:"status"`
	DecidedAt   *time.Time     `json:"decided_at,omitempty"`
	Decision    string         `json:"decision,omitempty"`
	CorrectBy   *time.Time     `json:"correct_by,omitempty"`
	CorrectedAt *time.Time     `json:"corrected_at,omitempty"`
	Overdue     bool           `json:"overdue"`
	Version     int            `json:"version"`
}

func objectionOut(now time.Time) func(courier.Objection) objectionJSON {
	return func(o courier.Objection) objectionJSON {
		return objectionJSON{ID: o.ID, RecordID: o.RecordID, FirmID: o.FirmID, Reasons: o.Reasons, Evidence: evidenceOut(o.Evidence),
			FiledAt: o.FiledAt, ReviewBy: o.ReviewBy, Status: string(o.Status), DecidedAt: ts(o.DecidedAt), Decision: o.Decision,
			CorrectBy: ts(o.CorrectBy), CorrectedAt: ts(o.CorrectedAt), Overdue: o.Overdue(now), Version: o.Version}
	}
}

type commitmentJSON struct {
	ID        string      `json:"id"`
	Subject   subjectJSON `json:"subject"`
	FirmID    string      `json:"firm_id,omitempty"`
	Text      string      `json:"text"`
	Scope     string      `json:"scope,omitempty"`
	Signer    string      `json:"signer"`
	SignedAt  time.Time   `json:"signed_at"`
	CreatedAt time.Time   `json:"created_at"`
}

func commitmentOut(c courier.Commitment) commitmentJSON {
	return commitmentJSON{ID: c.ID, Subject: subjectJSON{string(c.Subject.Kind), c.Subject.ID}, FirmID: c.FirmID, Text: c.Text,
		Scope: c.Scope, Signer: c.Signer, SignedAt: c.SignedAt, CreatedAt: c.CreatedAt}
}

type tokenJSON struct {
	ID         string     `json:"id"`
	Token      string     `json:"token,omitempty"` // only in the answer that issues it
	Role       string     `json:"role"`
	FirmID     string     `json:"firm_id,omitempty"`
	MerchantID string     `json:"merchant_id,omitempty"`
	StaffID    string     `json:"staff_id,omitempty"`
	Label      string     `json:"label,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	// LastUsedAt is when the token last authenticated, to the minute.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	// OldSecretValidUntil is the end of the grace period of the secret the last rotation replaced.
	OldSecretValidUntil *time.Time `json:"old_secret_valid_until,omitempty"`
}

func tokenOut(t courier.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Role: string(t.Role), FirmID: t.FirmID, MerchantID: t.MerchantID, StaffID: t.StaffID, Label: t.Label,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, RevokedAt: ts(t.RevokedAt), ExpiresAt: ts(t.ExpiresAt), LastUsedAt: ts(t.LastUsedAt),
		RotatedAt: ts(t.RotatedAt), OldSecretValidUntil: ts(t.RetiredUntil)}
}

type auditJSON struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Entity   string    `json:"entity"`
	EntityID string    `json:"entity_id"`
	Detail   string    `json:"detail,omitempty"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
}

func auditOut(e courier.AuditEntry) auditJSON {
	return auditJSON{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Entity: e.Entity, EntityID: e.EntityID,
		Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash}
}

// checkpointJSON is a signed checkpoint; message is the exact text the signature covers, so
// that a verifier needs only an Ed25519 library and the public key.
type checkpointJSON struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	At        time.Time `json:"at"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"`
	Message   string    `json:"message"`
}

func checkpointOut(c courier.Checkpoint) checkpointJSON {
	return checkpointJSON{Seq: c.Seq, Hash: c.Hash, At: c.At, KeyID: c.KeyID, Signature: c.Signature, Message: courier.CheckpointMessage(c)}
}

// auditHeadJSON is the public head of the audit trail: the latest checkpoint (null before the
// first) and the public key that verifies it.
type auditHeadJSON struct {
	Algorithm  string          `json:"algorithm"`
	PublicKey  string          `json:"public_key,omitempty"` // base64 of the 32-byte Ed25519 key
	KeyID      string          `json:"key_id,omitempty"`
	Checkpoint *checkpointJSON `json:"checkpoint"`
}
