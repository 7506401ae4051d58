package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
)

// Scoring is the scoring.Store view of the same database. It is a type of its own, as Tracking
// is, so that the method names of one domain never collide with another's on Store.
type Scoring struct{ s *Store }

// Scoring returns the scoring.Store of s.
func (s *Store) Scoring() *Scoring { return &Scoring{s: s} }

var _ scoring.Store = (*Scoring)(nil)

// limitTail renders a LIMIT clause; zero or less is no limit.
func limitTail(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", n)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decodeColumn reads a JSON column into a backend-local shape.
func decodeColumn[T any](what, s string) (T, error) {
	v, err := decodeJSON[T](s)
	if err != nil {
		return v, fmt.Errorf("sqlite: decode %s: %w", what, err)
	}
	return v, nil
}

// strList hands back nil for an empty list, so that both backends give the same value.
func strList(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return in
}

// getRow scans one row and names what it was after in the error.
func getRow[T any](what string, row *sql.Row, scan func(scanner) (T, error)) (T, error) {
	v, err := scan(row)
	if err != nil {
		return v, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return v, nil
}

// ----- ratings -----

const ratingCols = `id, rater_kind, rater_id, waybill, firm_id, site_id, staff_id, stars, tags, comment, created_at, updated_at, weight, flags, version, rated_at`

func ratingArgs(r scoring.Rating) []any {
	return []any{r.ID, string(r.RaterKind), r.RaterID, r.Waybill, r.FirmID, r.SiteID, r.StaffID, r.Stars, toJSON(strList(r.Tags)),
		r.Comment, ms(r.CreatedAt), ms(r.UpdatedAt), r.Weight, toJSON(strList(r.Flags)), r.Version, ms(r.RatedAt)}
}

func scanRating(sc scanner) (scoring.Rating, error) {
	var r scoring.Rating
	var kind, tags, flags string
	var created, updated, rated sql.NullInt64
	if err := sc.Scan(&r.ID, &kind, &r.RaterID, &r.Waybill, &r.FirmID, &r.SiteID, &r.StaffID, &r.Stars, &tags, &r.Comment,
		&created, &updated, &r.Weight, &flags, &r.Version, &rated); err != nil {
		return scoring.Rating{}, translate(err)
	}
	var err error
	if r.Tags, err = decodeColumn[[]string]("rating tags", tags); err != nil {
		return scoring.Rating{}, err
	}
	if r.Flags, err = decodeColumn[[]string]("rating flags", flags); err != nil {
		return scoring.Rating{}, err
	}
	r.RaterKind, r.Tags, r.Flags = scoring.RaterKind(kind), strList(r.Tags), strList(r.Flags)
	r.CreatedAt, r.UpdatedAt, r.RatedAt = fromMS(created), fromMS(updated), fromMS(rated)
	return r, nil
}

// CreateRating implements scoring.Store: ErrConflict when the id is taken or the rater rated
// the waybill already. The rating and its first version are written in one transaction.
func (c *Scoring) CreateRating(ctx context.Context, r scoring.Rating) error {
	err := c.s.atomic(ctx, func(tx *Store) error {
		if _, err := tx.writer().ExecContext(ctx, `INSERT INTO ratings (`+ratingCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, ratingArgs(r)...); err != nil {
			return translate(err)
		}
		return putRatingVersion(ctx, tx, r)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create rating %s: %w", r.ID, err)
	}
	return nil
}

// putRatingVersion keeps a version of a rating (a version stored again is replaced: it is the
// same one).
func putRatingVersion(ctx context.Context, tx *Store, r scoring.Rating) error {
	if _, err := tx.writer().ExecContext(ctx, `INSERT OR REPLACE INTO rating_versions (`+ratingCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, ratingArgs(r)...); err != nil {
		return translate(err)
	}
	return nil
}

// UpdateRating implements scoring.Store: ErrNotFound for an unknown id, ErrConflict when the
// stored version is not r.Version-1 or the new (rater, waybill) is taken. The new version is
// kept in the same transaction.
func (c *Scoring) UpdateRating(ctx context.Context, r scoring.Rating) error {
	err := c.s.atomic(ctx, func(tx *Store) error {
		res, err := tx.writer().ExecContext(ctx, `UPDATE ratings SET rater_kind=?, rater_id=?, waybill=?, firm_id=?, site_id=?, staff_id=?,
		stars=?, tags=?, comment=?, created_at=?, updated_at=?, weight=?, flags=?, version=?, rated_at=? WHERE id=? AND version=?`,
			append(ratingArgs(r)[1:], r.ID, r.Version-1)...)
		if err := tx.update(ctx, "ratings", r.ID, res, err); err != nil {
			return translate(err)
		}
		return putRatingVersion(ctx, tx, r)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update rating %s: %w", r.ID, err)
	}
	return nil
}

// RatingHistory implements scoring.Store: oldest version first.
func (c *Scoring) RatingHistory(ctx context.Context, id string) ([]scoring.Rating, error) {
	return list(ctx, c.s.reader(), `SELECT `+ratingCols+` FROM rating_versions WHERE id = ? ORDER BY version`, []any{id}, scanRating)
}

// Rating implements scoring.Store: ErrNotFound when there is none.
func (c *Scoring) Rating(ctx context.Context, id string) (scoring.Rating, error) {
	return getRow("rating "+id, c.s.reader().QueryRowContext(ctx, `SELECT `+ratingCols+` FROM ratings WHERE id = ?`, id), scanRating)
}

// RatingByRater implements scoring.Store: ErrNotFound when the rater has not rated the waybill.
func (c *Scoring) RatingByRater(ctx context.Context, kind scoring.RaterKind, raterID, waybill string) (scoring.Rating, error) {
	return getRow("rating by "+string(kind)+" "+raterID+" of "+waybill, c.s.reader().QueryRowContext(ctx,
		`SELECT `+ratingCols+` FROM ratings WHERE rater_kind = ? AND rater_id = ? AND waybill = ?`, string(kind), raterID, waybill), scanRating)
}

// Ratings implements scoring.Store.
func (c *Scoring) Ratings(ctx context.Context, q scoring.RatingQuery) ([]scoring.Rating, error) {
	var w where
	if q.FirmID != "" {
		w.add("firm_id = ?", q.FirmID)
	}
	if q.RaterKind != "" {
		w.add("rater_kind = ?", string(q.RaterKind))
	}
	if q.RaterID != "" {
		w.add("rater_id = ?", q.RaterID)
	}
	if !q.From.IsZero() {
		w.add("created_at >= ?", q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		w.add("created_at < ?", q.To.UnixMilli())
	}
	if !q.RatedFrom.IsZero() {
		w.add("rated_at >= ?", q.RatedFrom.UnixMilli())
	}
	if !q.RatedTo.IsZero() {
		w.add("rated_at < ?", q.RatedTo.UnixMilli())
	}
	tail := w.page(courier.Page{After: q.After, Limit: q.Limit})
	return list(ctx, c.s.reader(), `SELECT `+ratingCols+` FROM ratings`+w.sql()+tail, w.args, scanRating)
}

// ----- runs -----

const runCols = `id, as_of, method, method_hash, run_trigger, publish, status, started_at, finished_at, inputs, progress, total, error, proposals, version,
	period, reason, replaces, superseded_by, inputs_hash`

func runArgs(r scoring.Run) []any {
	inputs := r.Inputs
	if len(inputs) == 0 {
		inputs = nil
	}
	return []any{r.ID, ms(r.AsOf), r.Method, r.MethodHash, r.Trigger, boolInt(r.Publish), string(r.Status), ms(r.StartedAt), ms(r.FinishedAt),
		toJSON(inputs), r.Progress, r.Total, r.Error, r.Proposals, r.Version, r.Period, r.Reason, r.Replaces, r.SupersededBy, r.InputsHash}
}

func scanRun(sc scanner) (scoring.Run, error) {
	var r scoring.Run
	var status, inputs string
	var publish int
	var asOf, started, finished sql.NullInt64
	if err := sc.Scan(&r.ID, &asOf, &r.Method, &r.MethodHash, &r.Trigger, &publish, &status, &started, &finished, &inputs,
		&r.Progress, &r.Total, &r.Error, &r.Proposals, &r.Version, &r.Period, &r.Reason, &r.Replaces, &r.SupersededBy, &r.InputsHash); err != nil {
		return scoring.Run{}, translate(err)
	}
	var err error
	if r.Inputs, err = decodeColumn[map[string]int]("run inputs", inputs); err != nil {
		return scoring.Run{}, err
	}
	if len(r.Inputs) == 0 {
		r.Inputs = nil
	}
	r.Publish, r.Status = publish != 0, scoring.RunStatus(status)
	r.AsOf, r.StartedAt, r.FinishedAt = fromMS(asOf), fromMS(started), fromMS(finished)
	return r, nil
}

// CreateRun implements scoring.Store: ErrConflict when the id is taken.
func (c *Scoring) CreateRun(ctx context.Context, r scoring.Run) error {
	_, err := c.s.writer().ExecContext(ctx, `INSERT INTO score_runs (`+runCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, runArgs(r)...)
	if err != nil {
		return fmt.Errorf("sqlite: create run %s: %w", r.ID, translate(err))
	}
	return nil
}

// UpdateRun implements scoring.Store: ErrNotFound for an unknown id, ErrConflict when the
// stored version is not r.Version-1.
func (c *Scoring) UpdateRun(ctx context.Context, r scoring.Run) error {
	res, err := c.s.writer().ExecContext(ctx, `UPDATE score_runs SET as_of=?, method=?, method_hash=?, run_trigger=?, publish=?, status=?, started_at=?,
		finished_at=?, inputs=?, progress=?, total=?, error=?, proposals=?, version=?, period=?, reason=?, replaces=?, superseded_by=?, inputs_hash=?
		WHERE id=? AND version=?`,
		append(runArgs(r)[1:], r.ID, r.Version-1)...)
	if err := c.s.update(ctx, "score_runs", r.ID, res, err); err != nil {
		return fmt.Errorf("sqlite: update run %s: %w", r.ID, translate(err))
	}
	return nil
}

// Run implements scoring.Store: ErrNotFound when there is none.
func (c *Scoring) Run(ctx context.Context, id string) (scoring.Run, error) {
	return getRow("run "+id, c.s.reader().QueryRowContext(ctx, `SELECT `+runCols+` FROM score_runs WHERE id = ?`, id), scanRun)
}

// Runs implements scoring.Store: newest AsOf first, ties by id, newest first too.
func (c *Scoring) Runs(ctx context.Context, q scoring.RunQuery) ([]scoring.Run, error) {
	var w where
	if q.PublishedOnly {
		w.add("publish = 1 AND status = ? AND superseded_by = ''", string(scoring.RunSucceeded))
	}
	if q.Status != "" {
		w.add("status = ?", string(q.Status))
	}
	if !q.Before.IsZero() {
		w.add("as_of < ?", q.Before.UnixMilli())
	}
	return list(ctx, c.s.reader(), `SELECT `+runCols+` FROM score_runs`+w.sql()+` ORDER BY as_of DESC, id DESC`+limitTail(q.Limit), w.args, scanRun)
}

// ----- scores -----

type itemJSON struct {
	Kind   string  `json:"kind"`
	Ref    string  `json:"ref"`
	Effect float64 `json:"effect"`
	Detail string  `json:"detail,omitempty"`
}

type componentJSON struct {
	Party       string     `json:"party"`
	Value       float64    `json:"value"`
	Weight      float64    `json:"weight"`
	Uncertainty float64    `json:"uncertainty"`
	Detail      string     `json:"detail,omitempty"`
	Items       []itemJSON `json:"items,omitempty"`
}

func toComponents(cs []scoring.Component) []componentJSON {
	out := make([]componentJSON, len(cs))
	for i, c := range cs {
		out[i] = componentJSON{Party: c.Party, Value: c.Value, Weight: c.Weight, Uncertainty: c.Uncertainty, Detail: c.Detail}
		for _, it := range c.Items {
			out[i].Items = append(out[i].Items, itemJSON{Kind: it.Kind, Ref: it.Ref, Effect: it.Effect, Detail: it.Detail})
		}
	}
	return out
}

func fromComponents(in []componentJSON) []scoring.Component {
	if len(in) == 0 {
		return nil
	}
	out := make([]scoring.Component, len(in))
	for i, c := range in {
		out[i] = scoring.Component{Party: c.Party, Value: c.Value, Weight: c.Weight, Uncertainty: c.Uncertainty, Detail: c.Detail}
		for _, it := range c.Items {
			out[i].Items = append(out[i].Items, scoring.Item{Kind: it.Kind, Ref: it.Ref, Effect: it.Effect, Detail: it.Detail})
		}
	}
	return out
}

const scoreCols = `run_id, subject, subject_id, firm_id, as_of, method, method_hash, value, uncertainty, grade, peer_group, percentile, parcels, components, published, period`

func scanScore(sc scanner) (scoring.Score, error) {
	var s scoring.Score
	var subject, grade, components string
	var published int
	var asOf sql.NullInt64
	if err := sc.Scan(&s.RunID, &subject, &s.SubjectID, &s.FirmID, &asOf, &s.Method, &s.MethodHash, &s.Value, &s.Uncertainty, &grade,
		&s.PeerGroup, &s.Percentile, &s.Parcels, &components, &published, &s.Period); err != nil {
		return scoring.Score{}, translate(err)
	}
	cs, err := decodeColumn[[]componentJSON]("score components", components)
	if err != nil {
		return scoring.Score{}, err
	}
	s.Subject, s.Grade, s.AsOf = scoring.SubjectKind(subject), scoring.Grade(grade), fromMS(asOf)
	s.Components, s.Published = fromComponents(cs), published != 0
	return s, nil
}

// PutScores implements scoring.Store: in one transaction, each score replaces any stored one
// of the same run and subject.
func (c *Scoring) PutScores(ctx context.Context, scores []scoring.Score) error {
	if len(scores) == 0 {
		return nil
	}
	return c.s.atomic(ctx, func(tx *Store) error {
		stmt, err := tx.tx.PrepareContext(ctx, `INSERT INTO scores (`+scoreCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT(run_id, subject, subject_id) DO UPDATE SET firm_id=excluded.firm_id, as_of=excluded.as_of, method=excluded.method, method_hash=excluded.method_hash,
			value=excluded.value, uncertainty=excluded.uncertainty, grade=excluded.grade, peer_group=excluded.peer_group,
			percentile=excluded.percentile, parcels=excluded.parcels, components=excluded.components, published=excluded.published, period=excluded.period`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		defer stmt.Close()
		for _, s := range scores {
			if _, err := stmt.ExecContext(ctx, s.RunID, string(s.Subject), s.SubjectID, s.FirmID, ms(s.AsOf), s.Method, s.MethodHash, s.Value, s.Uncertainty,
				string(s.Grade), s.PeerGroup, s.Percentile, s.Parcels, toJSON(toComponents(s.Components)), boolInt(s.Published), s.Period); err != nil {
				return fmt.Errorf("sqlite: put score %s/%s/%s: %w", s.RunID, s.Subject, s.SubjectID, translate(err))
			}
		}
		return nil
	})
}

// UnpublishScores implements scoring.Store.
func (c *Scoring) UnpublishScores(ctx context.Context, runID string) error {
	if _, err := c.s.writer().ExecContext(ctx, `UPDATE scores SET published = 0 WHERE run_id = ?`, runID); err != nil {
		return fmt.Errorf("sqlite: unpublish scores of %s: %w", runID, translate(err))
	}
	return nil
}

// Scores implements scoring.Store: in subject id order (then subject kind).
func (c *Scoring) Scores(ctx context.Context, q scoring.ScoreQuery) ([]scoring.Score, error) {
	var w where
	if q.RunID != "" {
		w.add("run_id = ?", q.RunID)
	}
	if q.Subject != "" {
		w.add("subject = ?", string(q.Subject))
	}
	if q.SubjectID != "" {
		w.add("subject_id = ?", q.SubjectID)
	}
	if q.After != "" {
		w.add("subject_id > ?", q.After)
	}
	return list(ctx, c.s.reader(), `SELECT `+scoreCols+` FROM scores`+w.sql()+` ORDER BY subject_id, subject`+limitTail(q.Limit), w.args, scanScore)
}

// ScoreHistory implements scoring.Store: newest AsOf first (ties by run id, newest first); a
// limit of zero or less is no limit.
func (c *Scoring) ScoreHistory(ctx context.Context, kind scoring.SubjectKind, id string, limit int) ([]scoring.Score, error) {
	return list(ctx, c.s.reader(), `SELECT `+scoreCols+` FROM scores WHERE subject = ? AND subject_id = ? ORDER BY as_of DESC, run_id DESC`+limitTail(limit),
		[]any{string(kind), id}, scanScore)
}

// ----- sanctions -----

const sanctionCols = `id, kind, firm_id, rule, reason, legal_basis, record_ids, score_runs, status, proposed_at, proposed_by,
	decided_at, decided_by, decision, start_at, end_at, lifted_at, lift_reason, version, reviewed_at, reviewed_by, review_reason, period`

func sanctionArgs(s scoring.Sanction) []any {
	return []any{s.ID, string(s.Kind), s.FirmID, s.Rule, s.Reason, s.LegalBasis, toJSON(strList(s.RecordIDs)), toJSON(strList(s.ScoreRuns)),
		string(s.Status), ms(s.ProposedAt), s.ProposedBy, ms(s.DecidedAt), s.DecidedBy, s.Decision, ms(s.Start), ms(s.End),
		ms(s.LiftedAt), s.LiftReason, s.Version, ms(s.ReviewedAt), s.ReviewedBy, s.ReviewReason, s.Period}
}

func scanSanction(sc scanner) (scoring.Sanction, error) {
	var s scoring.Sanction
	var kind, status, records, runs string
	var proposed, decided, start, end, lifted, reviewed sql.NullInt64
	if err := sc.Scan(&s.ID, &kind, &s.FirmID, &s.Rule, &s.Reason, &s.LegalBasis, &records, &runs, &status, &proposed, &s.ProposedBy,
		&decided, &s.DecidedBy, &s.Decision, &start, &end, &lifted, &s.LiftReason, &s.Version, &reviewed, &s.ReviewedBy, &s.ReviewReason, &s.Period); err != nil {
		return scoring.Sanction{}, translate(err)
	}
	var err error
	if s.RecordIDs, err = decodeColumn[[]string]("sanction records", records); err != nil {
		return scoring.Sanction{}, err
	}
	if s.ScoreRuns, err = decodeColumn[[]string]("sanction runs", runs); err != nil {
		return scoring.Sanction{}, err
	}
	s.Kind, s.Status, s.RecordIDs, s.ScoreRuns = scoring.SanctionKind(kind), scoring.SanctionStatus(status), strList(s.RecordIDs), strList(s.ScoreRuns)
	s.ProposedAt, s.DecidedAt, s.Start, s.End, s.LiftedAt = fromMS(proposed), fromMS(decided), fromMS(start), fromMS(end), fromMS(lifted)
	s.ReviewedAt = fromMS(reviewed)
	return s, nil
}

// CreateSanction implements scoring.Store: ErrConflict when the id is taken.
func (c *Scoring) CreateSanction(ctx context.Context, s scoring.Sanction) error {
	_, err := c.s.writer().ExecContext(ctx, `INSERT INTO sanctions (`+sanctionCols+`, changed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		append(sanctionArgs(s), msInt(s.ChangedAt()))...)
	if err != nil {
		return fmt.Errorf("sqlite: create sanction %s: %w", s.ID, translate(err))
	}
	return nil
}

// UpdateSanction implements scoring.Store: ErrNotFound for an unknown id, ErrConflict when
// the stored version is not s.Version-1.
func (c *Scoring) UpdateSanction(ctx context.Context, s scoring.Sanction) error {
	res, err := c.s.writer().ExecContext(ctx, `UPDATE sanctions SET kind=?, firm_id=?, rule=?, reason=?, legal_basis=?, record_ids=?,
		score_runs=?, status=?, proposed_at=?, proposed_by=?, decided_at=?, decided_by=?, decision=?, start_at=?, end_at=?, lifted_at=?,
		lift_reason=?, version=?, reviewed_at=?, reviewed_by=?, review_reason=?, period=?, changed_at=? WHERE id=? AND version=?`, append(sanctionArgs(s)[1:], msInt(s.ChangedAt()), s.ID, s.Version-1)...)
	if err := c.s.update(ctx, "sanctions", s.ID, res, err); err != nil {
		return fmt.Errorf("sqlite: update sanction %s: %w", s.ID, translate(err))
	}
	return nil
}

// Sanction implements scoring.Store: ErrNotFound when there is none.
func (c *Scoring) Sanction(ctx context.Context, id string) (scoring.Sanction, error) {
	return getRow("sanction "+id, c.s.reader().QueryRowContext(ctx, `SELECT `+sanctionCols+` FROM sanctions WHERE id = ?`, id), scanSanction)
}

// Sanctions implements scoring.Store. An empty Status list does not filter.
func (c *Scoring) Sanctions(ctx context.Context, q scoring.SanctionQuery) ([]scoring.Sanction, error) {
	w := sanctionWhere(q)
	tail := w.page(courier.Page{After: q.After, Limit: q.Limit})
	return list(ctx, c.s.reader(), `SELECT `+sanctionCols+` FROM sanctions`+w.sql()+tail, w.args, scanSanction)
}

// CountSanctions implements scoring.Store.
func (c *Scoring) CountSanctions(ctx context.Context, q scoring.SanctionQuery) (int, error) {
	return count(ctx, c.s.reader(), "sanctions", sanctionWhere(q))
}

func sanctionWhere(q scoring.SanctionQuery) where {
	var w where
	if q.FirmID != "" {
		w.add("firm_id = ?", q.FirmID)
	}
	if q.FirmIDs != nil {
		in(&w, "firm_id", q.FirmIDs)
	}
	if q.Kind != "" {
		w.add("kind = ?", string(q.Kind))
	}
	if len(q.Status) > 0 {
		in(&w, "status", q.Status)
	}
	if !q.ChangedSince.IsZero() {
		w.add("changed_at >= ?", msInt(q.ChangedSince))
	}
	return w
}

// ----- leases -----

// AcquireLease implements scoring.Store in one statement, so that of callers racing for a
// lease exactly one gets it: the insert takes a free name, and the conflict branch takes the
// lease over only when it has expired at now or holder holds it already.
func (c *Scoring) AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error) {
	res, err := c.s.writer().ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.until <= ? OR leases.holder = ?`, name, holder, until.UnixMilli(), now.UnixMilli(), holder)
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease implements scoring.Store: a lease that holder does not hold stays.
func (c *Scoring) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := c.s.writer().ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("sqlite: release lease %s: %w", name, translate(err))
	}
	return nil
}

// ----- methodology versions -----

func scanMethod(sc scanner) (scoring.MethodDoc, error) {
	var m scoring.MethodDoc
	var created sql.NullInt64
	if err := sc.Scan(&m.Version, &m.Doc, &created, &m.CreatedBy); err != nil {
		return scoring.MethodDoc{}, translate(err)
	}
	m.CreatedAt = fromMS(created)
	return m, nil
}

// PutMethod implements scoring.Store: ErrConflict when the version is stored already.
func (c *Scoring) PutMethod(ctx context.Context, m scoring.MethodDoc) error {
	_, err := c.s.writer().ExecContext(ctx, `INSERT INTO methods (version, doc, created_at, created_by) VALUES (?,?,?,?)`,
		m.Version, m.Doc, ms(m.CreatedAt), m.CreatedBy)
	if err != nil {
		return fmt.Errorf("sqlite: put method %s: %w", m.Version, translate(err))
	}
	return nil
}

// Method implements scoring.Store: ErrNotFound when the version is not stored.
func (c *Scoring) Method(ctx context.Context, version string) (scoring.MethodDoc, error) {
	return getRow("method "+version, c.s.reader().QueryRowContext(ctx, `SELECT version, doc, created_at, created_by FROM methods WHERE version = ?`, version), scanMethod)
}

// Methods implements scoring.Store: oldest first, ties by version.
func (c *Scoring) Methods(ctx context.Context) ([]scoring.MethodDoc, error) {
	return list(ctx, c.s.reader(), `SELECT version, doc, created_at, created_by FROM methods ORDER BY created_at, version`, nil, scanMethod)
}
