package courier

import (
	"context"
	"time"
)

// Page asks for one page of a list ordered by id: the ids after After, at most Limit of them.
type Page struct {
	After string
	Limit int
}

// FirmQuery filters firms. Empty fields do not filter.
type FirmQuery struct {
	IDs       []string // restrict to these ids (a caller's subtree)
	ParentIDs []string
	Kind      FirmKind
	Region    string // prefix match, so "1301" finds every district of one city
	Licence   LicenceStatus
	Name      string // substring match
	Page
}

// SiteQuery filters sites.
type SiteQuery struct {
	FirmIDs []string
	Kind    SiteKind
	Page
}

// StaffQuery filters staff by the firms they have worked for.
type StaffQuery struct {
	FirmIDs []string
	Page
}

// RecordQuery filters credit records.
type RecordQuery struct {
	Subject *Subject
	// Subjects matches a record about any of them (nil: no filter; empty: nothing): a credit
	// file's firm and sites in one query.
	Subjects      []Subject
	FirmIDs       []string
	Status        []RecordStatus
	Category      Category
	RepairPending bool
	// ChangedSince, when set, selects the records whose ChangedAt is at or after it: the rows
	// of an export increment, found by the store's index on the change time.
	ChangedSince time.Time
	Page
}

// ObjectionQuery filters objections.
type ObjectionQuery struct {
	RecordID string
	FirmIDs  []string
	Status   []ObjectionStatus
	// ReviewBefore, when set, selects the objections whose review clock (ReviewBy) ran out
	// before it: with Status pending, the overdue ones.
	ReviewBefore time.Time
	Page
}

// CommitmentQuery filters commitments.
type CommitmentQuery struct {
	FirmIDs []string
	Subject *Subject
	// Subjects matches a commitment by any of them (nil: no filter; empty: nothing).
	Subjects []Subject
	Page
}

// Store is what the courier archive needs from a backend. Updates carry the new Version; a
// backend applies them only when the stored Version is one less, and answers credtrace.ErrConflict
// otherwise, so concurrent changes never overwrite each other. Get methods answer credtrace.ErrNotFound.
type Store interface {
	// Atomic runs fn so that its writes land together or not at all where the backend can
	// offer that (SQLite: one transaction). fn must use the Store it is given.
	Atomic(ctx context.Context, fn func(Store) error) error

	CreateFirm(ctx context.Context, f Firm) error // credtrace.ErrConflict on a taken USCC
	UpdateFirm(ctx context.Context, f Firm) error
	Firm(ctx context.Context, id string) (Firm, error)
	FirmByUSCC(ctx context.Context, uscc string) (Firm, error)
	FirmByGLN(ctx context.Context, gln string) (Firm, error) // GLNs are unique: ErrConflict on a taken one
	Firms(ctx context.Context, q FirmQuery) ([]Firm, error)

	CreateSite(ctx context.Context, s Site) error
	UpdateSite(ctx context.Context, s Site) error
	Site(ctx context.Context, id string) (Site, error)
	SiteByGLN(ctx context.Context, gln string) (Site, error) // GLNs are unique: ErrConflict on a taken one
	Sites(ctx context.Context, q SiteQuery) ([]Site, error)

	CreateStaff(ctx context.Context, s Staff) error // credtrace.ErrConflict on a taken ID hash
	UpdateStaff(ctx context.Context, s Staff) error
	Staff(ctx context.Context, id string) (Staff, error)
	StaffByIDHash(ctx context.Context, hash string) (Staff, error)
	StaffList(ctx context.Context, q StaffQuery) ([]Staff, error)

	CreateRecord(ctx context.Context, r Record) error
	UpdateRecord(ctx context.Context, r Record) error
	Record(ctx context.Context, id string) (Record, error)
	Records(ctx context.Context, q RecordQuery) ([]Record, error)

	CreateObjection(ctx context.Context, o Objection) error
	UpdateObjection(ctx context.Context, o Objection) error
	Objection(ctx context.Context, id string) (Objection, error)
	Objections(ctx context.Context, q ObjectionQuery) ([]Objection, error)
	// CountObjections counts the objections q selects (its Page is ignored), on the server.
	CountObjections(ctx context.Context, q ObjectionQuery) (int, error)

	CreateCommitment(ctx context.Context, c Commitment) error
	Commitments(ctx context.Context, q CommitmentQuery) ([]Commitment, error)

	CreateToken(ctx context.Context, t Token) error // credtrace.ErrConflict on a taken hash
	Token(ctx context.Context, id string) (Token, error)
	// TokenByHash returns the token whose current secret, or retired one (Token.RetiredHash),
	// hashes to hash; credtrace.ErrNotFound when none does. Whether a retired secret is still
	// in its grace period is the caller's to decide.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// Tokens lists tokens in id order (ids are time-ordered: oldest first), paged after an id.
	Tokens(ctx context.Context, q TokenQuery) ([]Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// RotateToken replaces the token's hash as r says; credtrace.ErrNotFound for an unknown id,
	// credtrace.ErrConflict when r.Hash is taken.
	RotateToken(ctx context.Context, id string, r Rotation) error
	// TouchToken moves the token's last use to at, never back (a replica with an older time
	// leaves a newer one); credtrace.ErrNotFound for an unknown id.
	TouchToken(ctx context.Context, id string, at time.Time) error
	CountTokens(ctx context.Context) (int, error)

	// CreateSession stores a dashboard session; credtrace.ErrConflict on a taken id hash.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session whose id hashes to idHash; credtrace.ErrNotFound when there is none.
	Session(ctx context.Context, idHash string) (Session, error)
	// DeleteSession forgets a session; forgetting an unknown one is no error.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteSessionsBefore forgets the sessions that expired before t.
	DeleteSessionsBefore(ctx context.Context, t time.Time) error

	// LastAudit returns the newest audit entry; ok is false on an empty trail.
	LastAudit(ctx context.Context) (e AuditEntry, ok bool, err error)
	// AppendAudit stores e; credtrace.ErrConflict when e.Seq is taken (another writer won the race).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// AuditEntries returns entries with Seq > after in Seq order, at most limit.
	AuditEntries(ctx context.Context, after int64, limit int) ([]AuditEntry, error)

	// PutCheckpoint stores a signed checkpoint of the audit trail; credtrace.ErrConflict when one with
	// its Seq is stored.
	PutCheckpoint(ctx context.Context, c Checkpoint) error
	// LatestCheckpoint returns the checkpoint with the highest Seq; ok is false when none.
	LatestCheckpoint(ctx context.Context) (c Checkpoint, ok bool, err error)
	// Checkpoints returns checkpoints with Seq > after in Seq order, at most limit.
	Checkpoints(ctx context.Context, after int64, limit int) ([]Checkpoint, error)

	// TreeGeneration returns the generation of the firm tree, sites and employments: a counter
	// that every change to them bumps, so that caches in any replica can tell they are stale.
	// It is 0 before the first bump.
	TreeGeneration(ctx context.Context) (int64, error)
	// BumpTreeGeneration adds one to the tree generation.
	BumpTreeGeneration(ctx context.Context) error

	// Guesses returns the wrong answers counted against key; the zero Guesses when there are none.
	Guesses(ctx context.Context, key string) (Guesses, error)
	// AddGuess counts one wrong answer against key at time at and returns the new count: the
	// count starts again at 1 when the last wrong answer is older than window. Concurrent calls
	// (from several replicas too) each count.
	AddGuess(ctx context.Context, key string, at time.Time, window time.Duration) (Guesses, error)

	// Setting returns a stored setting; credtrace.ErrNotFound when unset.
	Setting(ctx context.Context, key string) (string, error)
	// InitSetting stores value under key unless one is stored, and returns the stored value.
	InitSetting(ctx context.Context, key, value string) (string, error)
	// DeleteSetting removes a setting (nothing when unset), so that the store's files no
	// longer hold its value: for a secret that must leave the store.
	DeleteSetting(ctx context.Context, key string) error
}
