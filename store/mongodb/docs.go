package mongodb

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// The documents below are how the domain types are stored. Times are BSON datetimes
// (millisecond precision, UTC); a zero time.Time is left out of the document and comes back
// zero. An empty slice is stored as null and comes back nil.

// datetime converts t for storage; the zero time is stored as absent.
func datetime(t time.Time) *bson.DateTime {
	if t.IsZero() {
		return nil
	}
	d := bson.NewDateTimeFromTime(t)
	return &d
}

// fromDatetime converts a stored time back, in UTC; absent or null is the zero time.
func fromDatetime(d *bson.DateTime) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time().UTC()
}

// convSlice maps in with f. An empty slice becomes nil, as in the SQLite backend, so that both
// backends hand back the same value (and httpapi renders it the same way).
func convSlice[A, B any](in []A, f func(A) B) []B {
	if len(in) == 0 {
		return nil
	}
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

type licenceDoc struct {
	Number    string         `bson:"number"`
	Scope     string         `bson:"scope"`
	ValidFrom *bson.DateTime `bson:"valid_from,omitempty"`
	ValidTo   *bson.DateTime `bson:"valid_to,omitempty"`
	Status    string         `bson:"status"`
}

type firmDoc struct {
	ID        string         `bson:"_id"`
	USCC      string         `bson:"uscc"`
	Name      string         `bson:"name"`
	Kind      string         `bson:"kind"`
	ParentID  string         `bson:"parent_id"`
	Region    string         `bson:"region"`
	Licence   licenceDoc     `bson:"licence"`
	GLN       string         `bson:"gln,omitempty"` // absent when none: the unique index is sparse
	CreatedAt *bson.DateTime `bson:"created_at,omitempty"`
	UpdatedAt *bson.DateTime `bson:"updated_at,omitempty"`
	Version   int64          `bson:"version"`
}

func toFirmDoc(f courier.Firm) firmDoc {
	return firmDoc{
		ID:       f.ID,
		USCC:     f.USCC,
		Name:     f.Name,
		Kind:     string(f.Kind),
		ParentID: f.ParentID,
		Region:   f.Region,
		Licence: licenceDoc{
			Number:    f.Licence.Number,
			Scope:     f.Licence.Scope,
			ValidFrom: datetime(f.Licence.ValidFrom),
			ValidTo:   datetime(f.Licence.ValidTo),
			Status:    string(f.Licence.Status),
		},
		GLN:       f.GLN,
		CreatedAt: datetime(f.CreatedAt),
		UpdatedAt: datetime(f.UpdatedAt),
		Version:   int64(f.Version),
	}
}

func fromFirmDoc(d firmDoc) courier.Firm {
	return courier.Firm{
		ID:       d.ID,
		USCC:     d.USCC,
		Name:     d.Name,
		Kind:     courier.FirmKind(d.Kind),
		ParentID: d.ParentID,
		Region:   d.Region,
		Licence: courier.Licence{
			Number:    d.Licence.Number,
			Scope:     d.Licence.Scope,
			ValidFrom: fromDatetime(d.Licence.ValidFrom),
			ValidTo:   fromDatetime(d.Licence.ValidTo),
			Status:    courier.LicenceStatus(d.Licence.Status),
		},
		GLN:       d.GLN,
		CreatedAt: fromDatetime(d.CreatedAt),
		UpdatedAt: fromDatetime(d.UpdatedAt),
		Version:   int(d.Version),
	}
}

type siteDoc struct {
	ID        string         `bson:"_id"`
	FirmID    string         `bson:"firm_id"`
	Name      string         `bson:"name"`
	Kind      string         `bson:"kind"`
	Region    string         `bson:"region"`
	Address   string         `bson:"address"`
	GLN       string         `bson:"gln,omitempty"` // absent when none: the unique index is sparse
	CreatedAt *bson.DateTime `bson:"created_at,omitempty"`
	UpdatedAt *bson.DateTime `bson:"updated_at,omitempty"`
	Version   int64          `bson:"version"`
}

func toSiteDoc(s courier.Site) siteDoc {
	return siteDoc{
		ID:        s.ID,
		FirmID:    s.FirmID,
		Name:      s.Name,
		Kind:      string(s.Kind),
		Region:    s.Region,
		Address:   s.Address,
		GLN:       s.GLN,
		CreatedAt: datetime(s.CreatedAt),
		UpdatedAt: datetime(s.UpdatedAt),
		Version:   int64(s.Version),
	}
}

func fromSiteDoc(d siteDoc) courier.Site {
	return courier.Site{
		ID:        d.ID,
		FirmID:    d.FirmID,
		Name:      d.Name,
		Kind:      courier.SiteKind(d.Kind),
		Region:    d.Region,
		Address:   d.Address,
		GLN:       d.GLN,
		CreatedAt: fromDatetime(d.CreatedAt),
		UpdatedAt: fromDatetime(d.UpdatedAt),
		Version:   int(d.Version),
	}
}

type employmentDoc struct {
	FirmID string         `bson:"firm_id"`
	Role   string         `bson:"role"`
	From   *bson.DateTime `bson:"from,omitempty"`
	To     *bson.DateTime `bson:"to,omitempty"`
}

type staffDoc struct {
	ID          string          `bson:"_id"`
	Name        string          `bson:"name"`
	IDHash      string          `bson:"id_hash"`
	IDMasked    string          `bson:"id_masked"`
	PhoneHash   string          `bson:"phone_hash"`
	PhoneMasked string          `bson:"phone_masked"`
	Employment  []employmentDoc `bson:"employment"`
	CreatedAt   *bson.DateTime  `bson:"created_at,omitempty"`
	UpdatedAt   *bson.DateTime  `bson:"updated_at,omitempty"`
	Version     int64           `bson:"version"`
}

func toStaffDoc(s courier.Staff) staffDoc {
	return staffDoc{
		ID:          s.ID,
		Name:        s.Name,
		IDHash:      s.IDHash,
		IDMasked:    s.IDMasked,
		PhoneHash:   s.PhoneHash,
		PhoneMasked: s.PhoneMasked,
		Employment: convSlice(s.Employment, func(e courier.Employment) employmentDoc {
			return employmentDoc{FirmID: e.FirmID, Role: e.Role, From: datetime(e.From), To: datetime(e.To)}
		}),
		CreatedAt: datetime(s.CreatedAt),
		UpdatedAt: datetime(s.UpdatedAt),
		Version:   int64(s.Version),
	}
}

func fromStaffDoc(d staffDoc) courier.Staff {
	return courier.Staff{
		ID:          d.ID,
		Name:        d.Name,
		IDHash:      d.IDHash,
		IDMasked:    d.IDMasked,
		PhoneHash:   d.PhoneHash,
		PhoneMasked: d.PhoneMasked,
		Employment: convSlice(d.Employment, func(e employmentDoc) courier.Employment {
			return courier.Employment{FirmID: e.FirmID, Role: e.Role, From: fromDatetime(e.From), To: fromDatetime(e.To)}
		}),
		CreatedAt: fromDatetime(d.CreatedAt),
		UpdatedAt: fromDatetime(d.UpdatedAt),
		Version:   int(d.Version),
	}
}

type subjectDoc struct {
	Kind string `bson:"kind"`
	ID   string `bson:"id"`
}

func toSubjectDoc(s courier.Subject) subjectDoc {
	return subjectDoc{Kind: string(s.Kind), ID: s.ID}
}

func fromSubjectDoc(d subjectDoc) courier.Subject {
	return courier.Subject{Kind: courier.SubjectKind(d.Kind), ID: d.ID}
}

type evidenceDoc struct {
	Kind string `bson:"kind"`
	Ref  string `bson:"ref"`
}

func toEvidenceDocs(in []courier.Evidence) []evidenceDoc {
	return convSlice(in, func(e courier.Evidence) evidenceDoc { return evidenceDoc{Kind: e.Kind, Ref: e.Ref} })
}

func fromEvidenceDocs(in []evidenceDoc) []courier.Evidence {
	return convSlice(in, func(e evidenceDoc) courier.Evidence { return courier.Evidence{Kind: e.Kind, Ref: e.Ref} })
}

type transitionDoc struct {
	From   string         `bson:"from"`
	To     string         `bson:"to"`
	At     *bson.DateTime `bson:"at,omitempty"`
	By     string         `bson:"by"`
	Reason string         `bson:"reason"`
}

type repairDoc struct {
	ID          string         `bson:"id"`
	RequestedAt *bson.DateTime `bson:"requested_at,omitempty"`
	RequestedBy string         `bson:"requested_by"`
	Evidence    []evidenceDoc  `bson:"evidence"`
	Commitment  string         `bson:"commitment"`
	Status      string         `bson:"status"`
	DecidedAt   *bson.DateTime `bson:"decided_at,omitempty"`
	DecidedBy   string         `bson:"decided_by"`
	Reason      string         `bson:"reason"`
}

type recordDoc struct {
	ID               string          `bson:"_id"`
	Subject          subjectDoc      `bson:"subject"`
	FirmID           string          `bson:"firm_id"`
	Category         string          `bson:"category"`
	Source           string          `bson:"source"`
	Severity         string          `bson:"severity"`
	OccurredAt       *bson.DateTime  `bson:"occurred_at,omitempty"`
	DecidedAt        *bson.DateTime  `bson:"decided_at,omitempty"` // absent on records stored before: Record.Decided falls back
	Summary          string          `bson:"summary"`
	Evidence         []evidenceDoc   `bson:"evidence"`
	LegalBasis       string          `bson:"legal_basis"`
	Status           string          `bson:"status"`
	CreatedBy        string          `bson:"created_by"`
	CreatedAt        *bson.DateTime  `bson:"created_at,omitempty"`
	ConfirmedAt      *bson.DateTime  `bson:"confirmed_at,omitempty"`
	PublicUntil      *bson.DateTime  `bson:"public_until,omitempty"`
	RepairEligibleAt *bson.DateTime  `bson:"repair_eligible_at,omitempty"`
	History          []transitionDoc `bson:"history"`
	Repairs          []repairDoc     `bson:"repairs"`
	// RepairPending is derived from Repairs on every write, so that the queue of repair
	// requests awaiting a decision is a plain query.
	RepairPending bool  `bson:"repair_pending"`
	Version       int64 `bson:"version"`
	// ChangedAt is Record.ChangedAt, kept on every write so that an export increment is a
	// range of the changed_at index (backfillChangedAt gives it to records stored before).
	ChangedAt bson.DateTime `bson:"changed_at"`
}

func toRecordDoc(r courier.Record) recordDoc {
	return recordDoc{
		ChangedAt:        bson.NewDateTimeFromTime(r.ChangedAt()),
		ID:               r.ID,
		Subject:          toSubjectDoc(r.Subject),
		FirmID:           r.FirmID,
		Category:         string(r.Category),
		Source:           string(r.Source),
		Severity:         string(r.Severity),
		OccurredAt:       datetime(r.OccurredAt),
		DecidedAt:        datetime(r.DecidedAt),
		Summary:          r.Summary,
		Evidence:         toEvidenceDocs(r.Evidence),
		LegalBasis:       r.LegalBasis,
		Status:           string(r.Status),
		CreatedBy:        r.CreatedBy,
		CreatedAt:        datetime(r.CreatedAt),
		ConfirmedAt:      datetime(r.ConfirmedAt),
		PublicUntil:      datetime(r.PublicUntil),
		RepairEligibleAt: datetime(r.RepairEligibleAt),
		History: convSlice(r.History, func(t courier.Transition) transitionDoc {
			return transitionDoc{From: string(t.From), To: string(t.To), At: datetime(t.At), By: t.By, Reason: t.Reason}
		}),
		Repairs: convSlice(r.Repairs, func(rp courier.Repair) repairDoc {
			return repairDoc{
				ID:          rp.ID,
				RequestedAt: datetime(rp.RequestedAt),
				RequestedBy: rp.RequestedBy,
				Evidence:    toEvidenceDocs(rp.Evidence),
				Commitment:  rp.Commitment,
				Status:      string(rp.Status),
				DecidedAt:   datetime(rp.DecidedAt),
				DecidedBy:   rp.DecidedBy,
				Reason:      rp.Reason,
			}
		}),
		RepairPending: r.RepairPending(),
		Version:       int64(r.Version),
	}
}

func fromRecordDoc(d recordDoc) courier.Record {
	return courier.Record{
		ID:               d.ID,
		Subject:          fromSubjectDoc(d.Subject),
		FirmID:           d.FirmID,
		Category:         courier.Category(d.Category),
		Source:           courier.Source(d.Source),
		Severity:         courier.Severity(d.Severity),
		OccurredAt:       fromDatetime(d.OccurredAt),
		DecidedAt:        fromDatetime(d.DecidedAt),
		Summary:          d.Summary,
		Evidence:         fromEvidenceDocs(d.Evidence),
		LegalBasis:       d.LegalBasis,
		Status:           courier.RecordStatus(d.Status),
		CreatedBy:        d.CreatedBy,
		CreatedAt:        fromDatetime(d.CreatedAt),
		ConfirmedAt:      fromDatetime(d.ConfirmedAt),
		PublicUntil:      fromDatetime(d.PublicUntil),
		RepairEligibleAt: fromDatetime(d.RepairEligibleAt),
		History: convSlice(d.History, func(t transitionDoc) courier.Transition {
			return courier.Transition{
				From:   courier.RecordStatus(t.From),
				To:     courier.RecordStatus(t.To),
				At:     fromDatetime(t.At),
				By:     t.By,
				Reason: t.Reason,
			}
		}),
		Repairs: convSlice(d.Repairs, func(rp repairDoc) courier.Repair {
			return courier.Repair{
				ID:          rp.ID,
				RequestedAt: fromDatetime(rp.RequestedAt),
				RequestedBy: rp.RequestedBy,
				Evidence:    fromEvidenceDocs(rp.Evidence),
				Commitment:  rp.Commitment,
				Status:      courier.RepairStatus(rp.Status),
				DecidedAt:   fromDatetime(rp.DecidedAt),
				DecidedBy:   rp.DecidedBy,
				Reason:      rp.Reason,
			}
		}),
		Version: int(d.Version),
	}
}

type objectionDoc struct {
	ID          string         `bson:"_id"`
	RecordID    string         `bson:"record_id"`
	FirmID      string         `bson:"firm_id"`
	FiledBy     string         `bson:"filed_by"`
	Reasons     string         `bson:"reasons"`
	Evidence    []evidenceDoc  `bson:"evidence"`
	FiledAt     *bson.DateTime `bson:"filed_at,omitempty"`
	ReviewBy    *bson.DateTime `bson:"review_by,omitempty"`
	Status      string         `bson:"status"`
	DecidedAt   *bson.DateTime `bson:"decided_at,omitempty"`
	DecidedBy   string         `bson:"decided_by"`
	Decision    string         `bson:"decision"`
	CorrectBy   *bson.DateTime `bson:"correct_by,omitempty"`
	CorrectedAt *bson.DateTime `bson:"corrected_at,omitempty"`
	Version     int64          `bson:"version"`
}

func toObjectionDoc(o courier.Objection) objectionDoc {
	return objectionDoc{
		ID:          o.ID,
		RecordID:    o.RecordID,
		FirmID:      o.FirmID,
		FiledBy:     o.FiledBy,
		Reasons:     o.Reasons,
		Evidence:    toEvidenceDocs(o.Evidence),
		FiledAt:     datetime(o.FiledAt),
		ReviewBy:    datetime(o.ReviewBy),
		Status:      string(o.Status),
		DecidedAt:   datetime(o.DecidedAt),
		DecidedBy:   o.DecidedBy,
		Decision:    o.Decision,
		CorrectBy:   datetime(o.CorrectBy),
		CorrectedAt: datetime(o.CorrectedAt),
		Version:     int64(o.Version),
	}
}

func fromObjectionDoc(d objectionDoc) courier.Objection {
	return courier.Objection{
		ID:          d.ID,
		RecordID:    d.RecordID,
		FirmID:      d.FirmID,
		FiledBy:     d.FiledBy,
		Reasons:     d.Reasons,
		Evidence:    fromEvidenceDocs(d.Evidence),
		FiledAt:     fromDatetime(d.FiledAt),
		ReviewBy:    fromDatetime(d.ReviewBy),
		Status:      courier.ObjectionStatus(d.Status),
		DecidedAt:   fromDatetime(d.DecidedAt),
		DecidedBy:   d.DecidedBy,
		Decision:    d.Decision,
		CorrectBy:   fromDatetime(d.CorrectBy),
		CorrectedAt: fromDatetime(d.CorrectedAt),
		Version:     int(d.Version),
	}
}

type commitmentDoc struct {
	ID        string         `bson:"_id"`
	Subject   subjectDoc     `bson:"subject"`
	FirmID    string         `bson:"firm_id"`
	Text      string         `bson:"text"`
	Scope     string         `bson:"scope"`
	Signer    string         `bson:"signer"`
	SignedAt  *bson.DateTime `bson:"signed_at,omitempty"`
	CreatedAt *bson.DateTime `bson:"created_at,omitempty"`
	CreatedBy string         `bson:"created_by"`
}

func toCommitmentDoc(c courier.Commitment) commitmentDoc {
	return commitmentDoc{
		ID:        c.ID,
		Subject:   toSubjectDoc(c.Subject),
		FirmID:    c.FirmID,
		Text:      c.Text,
		Scope:     c.Scope,
		Signer:    c.Signer,
		SignedAt:  datetime(c.SignedAt),
		CreatedAt: datetime(c.CreatedAt),
		CreatedBy: c.CreatedBy,
	}
}

func fromCommitmentDoc(d commitmentDoc) courier.Commitment {
	return courier.Commitment{
		ID:        d.ID,
		Subject:   fromSubjectDoc(d.Subject),
		FirmID:    d.FirmID,
		Text:      d.Text,
		Scope:     d.Scope,
		Signer:    d.Signer,
		SignedAt:  fromDatetime(d.SignedAt),
		CreatedAt: fromDatetime(d.CreatedAt),
		CreatedBy: d.CreatedBy,
	}
}

type tokenDoc struct {
	ID         string         `bson:"_id"`
	Hash       string         `bson:"hash"`
	Role       string         `bson:"role"`
	FirmID     string         `bson:"firm_id"`
	MerchantID string         `bson:"merchant_id"`
	StaffID    string         `bson:"staff_id,omitempty"`
	Label      string         `bson:"label"`
	CreatedAt  *bson.DateTime `bson:"created_at,omitempty"`
	CreatedBy  string         `bson:"created_by"`
	RevokedAt  *bson.DateTime `bson:"revoked_at,omitempty"`
	// The fields of managed tokens (issue 16): absent on tokens stored before them.
	ExpiresAt    *bson.DateTime `bson:"expires_at,omitempty"`
	LastUsedAt   *bson.DateTime `bson:"last_used_at,omitempty"`
	RotatedAt    *bson.DateTime `bson:"rotated_at,omitempty"`
	RetiredHash  string         `bson:"retired_hash,omitempty"`
	RetiredUntil *bson.DateTime `bson:"retired_until,omitempty"`
}

func toTokenDoc(t courier.Token) tokenDoc {
	return tokenDoc{
		ID:         t.ID,
		Hash:       t.Hash,
		Role:       string(t.Role),
		FirmID:     t.FirmID,
		MerchantID: t.MerchantID,
		StaffID:    t.StaffID,
		Label:      t.Label,
		CreatedAt:  datetime(t.CreatedAt),
		CreatedBy:  t.CreatedBy,
		RevokedAt:  datetime(t.RevokedAt),

		ExpiresAt:    datetime(t.ExpiresAt),
		LastUsedAt:   datetime(t.LastUsedAt),
		RotatedAt:    datetime(t.RotatedAt),
		RetiredHash:  t.RetiredHash,
		RetiredUntil: datetime(t.RetiredUntil),
	}
}

func fromTokenDoc(d tokenDoc) courier.Token {
	return courier.Token{
		ID:         d.ID,
		Hash:       d.Hash,
		Role:       credtrace.Role(d.Role),
		FirmID:     d.FirmID,
		MerchantID: d.MerchantID,
		StaffID:    d.StaffID,
		Label:      d.Label,
		CreatedAt:  fromDatetime(d.CreatedAt),
		CreatedBy:  d.CreatedBy,
		RevokedAt:  fromDatetime(d.RevokedAt),

		ExpiresAt:    fromDatetime(d.ExpiresAt),
		LastUsedAt:   fromDatetime(d.LastUsedAt),
		RotatedAt:    fromDatetime(d.RotatedAt),
		RetiredHash:  d.RetiredHash,
		RetiredUntil: fromDatetime(d.RetiredUntil),
	}
}

type auditDoc struct {
	Seq      int64          `bson:"_id"`
	At       *bson.DateTime `bson:"at,omitempty"`
	Actor    string         `bson:"actor"`
	Action   string         `bson:"action"`
	Entity   string         `bson:"entity"`
	EntityID string         `bson:"entity_id"`
	Detail   string         `bson:"detail"`
	PrevHash string         `bson:"prev_hash"`
	Hash     string         `bson:"hash"`
}

func toAuditDoc(e courier.AuditEntry) auditDoc {
	return auditDoc{
		Seq:      e.Seq,
		At:       datetime(e.At),
		Actor:    e.Actor,
		Action:   e.Action,
		Entity:   e.Entity,
		EntityID: e.EntityID,
		Detail:   e.Detail,
		PrevHash: e.PrevHash,
		Hash:     e.Hash,
	}
}

func fromAuditDoc(d auditDoc) courier.AuditEntry {
	return courier.AuditEntry{
		Seq:      d.Seq,
		At:       fromDatetime(d.At),
		Actor:    d.Actor,
		Action:   d.Action,
		Entity:   d.Entity,
		EntityID: d.EntityID,
		Detail:   d.Detail,
		PrevHash: d.PrevHash,
		Hash:     d.Hash,
	}
}

type settingDoc struct {
	Key   string `bson:"_id"`
	Value string `bson:"value"`
}

// counterDoc is a named counter (the tree generation).
type counterDoc struct {
	Name string `bson:"_id"`
	N    int64  `bson:"n"`
}

// guessDoc counts wrong answers of the person's own check against one key.
type guessDoc struct {
	Key   string         `bson:"_id"`
	Count int64          `bson:"count"`
	Last  *bson.DateTime `bson:"last"`
}

// checkpointDoc is a signed checkpoint of the audit trail, keyed by the Seq it anchors.
type checkpointDoc struct {
	Seq       int64          `bson:"_id"`
	Hash      string         `bson:"hash"`
	At        *bson.DateTime `bson:"at,omitempty"`
	KeyID     string         `bson:"key_id"`
	Signature string         `bson:"signature"`
}

func toCheckpointDoc(c courier.Checkpoint) checkpointDoc {
	return checkpointDoc{Seq: c.Seq, Hash: c.Hash, At: datetime(c.At), KeyID: c.KeyID, Signature: c.Signature}
}

func fromCheckpointDoc(d checkpointDoc) courier.Checkpoint {
	return courier.Checkpoint{Seq: d.Seq, Hash: d.Hash, At: fromDatetime(d.At), KeyID: d.KeyID, Signature: d.Signature}
}
