package scoring

import (
	"context"
	"time"
)

// RatingQuery selects ratings; zero fields do not filter. Ratings come in id order.
type RatingQuery struct {
	FirmID    string
	RaterKind RaterKind
	RaterID   string
	From, To  time.Time // CreatedAt in [From, To)
	// RatedFrom and RatedTo select by when the rater gave the rating: Rating.GivenAt in
	// [RatedFrom, RatedTo).
	RatedFrom, RatedTo time.Time
	After              string
	Limit              int
}

// RunQuery selects runs, newest first.
type RunQuery struct {
	// PublishedOnly selects the runs whose grades are published: publishing, succeeded and not
	// superseded by a later publication of their period.
	PublishedOnly bool
	Status        RunStatus // only runs in this status ("": any)
	Before        time.Time // AsOf before this time
	Limit         int
}

// ScoreQuery selects the scores of one run, in subject id order.
type ScoreQuery struct {
	RunID     string
	Subject   SubjectKind
	SubjectID string
	After     string // subject id
	Limit     int
}

// SanctionQuery selects sanctions, in id order.
type SanctionQuery struct {
	FirmID  string
	FirmIDs []string // nil: any; else only these firms' (a caller's tree)
	Kind    SanctionKind
	Status  []SanctionStatus
	// ChangedSince, when set, selects the sanctions whose ChangedAt is at or after it: the rows
	// of an export increment, found by the store's index on the change time.
	ChangedSince time.Time
	After        string
	Limit        int
}

// MethodDoc is a stored methodology: its version and its JSON text, exactly as it was given.
// EffectiveFrom and Hash follow from Doc; the Service fills them in, backends need not keep them.
type MethodDoc struct {
	Version   string
	Doc       string
	CreatedAt time.Time
	CreatedBy string

	EffectiveFrom time.Time // from the document
	Hash          string    // MethodHash(Doc)
	Builtin       bool      // the built-in DefaultMethod, never stored
}

// Store is what scoring needs from a backend. Versioned updates apply only over Version-1
// and answer credtrace.ErrConflict otherwise; gets answer credtrace.ErrNotFound.
type Store interface {
	CreateRating(ctx context.Context, r Rating) error // credtrace.ErrConflict when the rater rated this waybill
	UpdateRating(ctx context.Context, r Rating) error
	Rating(ctx context.Context, id string) (Rating, error)
	RatingByRater(ctx context.Context, kind RaterKind, raterID, waybill string) (Rating, error)
	Ratings(ctx context.Context, q RatingQuery) ([]Rating, error)
	// RatingHistory returns every version of a rating that CreateRating and UpdateRating
	// stored, oldest first (none for an unknown id), so that a run as of a past time reads
	// the rating as it was then. A refused create or update adds none.
	RatingHistory(ctx context.Context, id string) ([]Rating, error)

	CreateRun(ctx context.Context, r Run) error
	UpdateRun(ctx context.Context, r Run) error
	Run(ctx context.Context, id string) (Run, error)
	Runs(ctx context.Context, q RunQuery) ([]Run, error)

	// PutScores stores scores of one run (adding to those already stored for it).
	PutScores(ctx context.Context, scores []Score) error
	Scores(ctx context.Context, q ScoreQuery) ([]Score, error)
	// UnpublishScores marks every score of a run not published (its period was published
	// again); the scores stay.
	UnpublishScores(ctx context.Context, runID string) error
	// ScoreHistory returns a subject's scores across runs, newest AsOf first, at most limit.
	ScoreHistory(ctx context.Context, kind SubjectKind, id string, limit int) ([]Score, error)

	CreateSanction(ctx context.Context, s Sanction) error
	UpdateSanction(ctx context.Context, s Sanction) error
	Sanction(ctx context.Context, id string) (Sanction, error)
	Sanctions(ctx context.Context, q SanctionQuery) ([]Sanction, error)
	// CountSanctions counts the sanctions q selects (After and Limit are ignored), on the server.
	CountSanctions(ctx context.Context, q SanctionQuery) (int, error)

	// AcquireLease takes or renews lease name for holder until the given time. It answers
	// false when another holder's lease is still valid at now.
	AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error)
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error

	PutMethod(ctx context.Context, m MethodDoc) error // credtrace.ErrConflict when the version exists
	Method(ctx context.Context, version string) (MethodDoc, error)
	Methods(ctx context.Context) ([]MethodDoc, error) // oldest first
}
