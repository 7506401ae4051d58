package mongodb

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
)

// Scoring is the scoring.Store of a Store, on the same database and connection. It is a type
// of its own, as Tracking is, so that the method names of one domain never collide with
// another's on Store.
type Scoring struct{ s *Store }

var _ scoring.Store = (*Scoring)(nil)

// Scoring returns the scoring.Store on s's database.
func (s *Store) Scoring() *Scoring { return &Scoring{s: s} }

// scoreChunk bounds the writes of one bulk write of scores.
const scoreChunk = 500

// findSorted decodes the documents matching filter in the order of sort, at most limit of them
// (no limit when zero or less).
func findSorted[D, T any](ctx context.Context, coll collection, what string, filter any, sort bson.D, limit int, conv func(D) T) ([]T, error) {
	opts := options.Find().SetSort(sort)
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	docs, err := findAll[D](ctx, coll, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: list %s: %w", what, err)
	}
	return convSlice(docs, conv), nil
}

// ----- ratings -----

// CreateRating stores a new rating; ErrConflict when its id is taken or the rater rated the
// waybill already. Its first version is kept too.
func (c *Scoring) CreateRating(ctx context.Context, r scoring.Rating) error {
	if err := insert(ctx, c.s.ratings, "rating", r.ID, toRatingDoc(r)); err != nil {
		return err
	}
	return c.putRatingVersion(ctx, r)
}

// UpdateRating replaces a rating whose stored version is r.Version-1; ErrNotFound when there is
// no such rating, ErrConflict when it changed meanwhile or the new (rater, waybill) is taken.
// The new version is kept too.
func (c *Scoring) UpdateRating(ctx context.Context, r scoring.Rating) error {
	if err := replace(ctx, c.s.ratings, "rating", r.ID, r.Version, toRatingDoc(r)); err != nil {
		return err
	}
	return c.putRatingVersion(ctx, r)
}

// putRatingVersion keeps a version of a rating, after the rating itself is written: without
// transactions (FerretDB has none) a crash in between loses the version, never invents one,
// and scoring then reads the rating as it is (see scoring.Service.Gather).
func (c *Scoring) putRatingVersion(ctx context.Context, r scoring.Rating) error {
	d := ratingVersionDoc{Key: fmt.Sprintf("%s|%d", r.ID, r.Version), RatingID: r.ID, Version: int64(r.Version), Rating: toRatingDoc(r)}
	_, err := c.s.ratingVersions.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.Key}}, d, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongodb: keep version %d of rating %s: %w", r.Version, r.ID, err)
	}
	return nil
}

// RatingHistory returns every kept version of a rating, oldest first.
func (c *Scoring) RatingHistory(ctx context.Context, id string) ([]scoring.Rating, error) {
	return findSorted(ctx, c.s.ratingVersions, "rating versions", bson.D{{Key: "rating_id", Value: id}}, bson.D{{Key: "version", Value: 1}}, 0,
		func(d ratingVersionDoc) scoring.Rating { return fromRatingDoc(d.Rating) })
}

// Rating returns the rating id; ErrNotFound when there is none.
func (c *Scoring) Rating(ctx context.Context, id string) (scoring.Rating, error) {
	d, err := findOne[ratingDoc](ctx, c.s.ratings, byID(id), "rating", id)
	return fromRatingDoc(d), err
}

// RatingByRater returns a rater's rating of a waybill; ErrNotFound when there is none.
func (c *Scoring) RatingByRater(ctx context.Context, kind scoring.RaterKind, raterID, waybill string) (scoring.Rating, error) {
	filter := bson.D{{Key: "rater_kind", Value: string(kind)}, {Key: "rater_id", Value: raterID}, {Key: "waybill", Value: waybill}}
	d, err := findOne[ratingDoc](ctx, c.s.ratings, filter, "rating by rater", string(kind)+"/"+raterID+"/"+waybill)
	return fromRatingDoc(d), err
}

// Ratings lists the ratings matching q in id order.
func (c *Scoring) Ratings(ctx context.Context, q scoring.RatingQuery) ([]scoring.Rating, error) {
	filter := bson.M{}
	eq(filter, "firm_id", q.FirmID)
	eq(filter, "rater_kind", q.RaterKind)
	eq(filter, "rater_id", q.RaterID)
	created := bson.M{}
	if !q.From.IsZero() {
		created["$gte"] = bson.NewDateTimeFromTime(q.From)
	}
	if !q.To.IsZero() {
		created["$lt"] = bson.NewDateTimeFromTime(q.To)
	}
	if len(created) > 0 {
		filter["created_at"] = created
	}
	rated := bson.M{}
	if !q.RatedFrom.IsZero() {
		rated["$gte"] = bson.NewDateTimeFromTime(q.RatedFrom)
	}
	if !q.RatedTo.IsZero() {
		rated["$lt"] = bson.NewDateTimeFromTime(q.RatedTo)
	}
	if len(rated) > 0 {
		// A rating stored before rated_at was kept was given at its last update.
		filter["$or"] = bson.A{
			bson.M{"rated_at": rated},
			bson.M{"rated_at": bson.M{"$exists": false}, "updated_at": rated},
		}
	}
	return list(ctx, c.s.ratings, "ratings", filter, courier.Page{After: q.After, Limit: q.Limit}, fromRatingDoc)
}

// ----- runs -----

// CreateRun stores a new run; ErrConflict when its id is taken.
func (c *Scoring) CreateRun(ctx context.Context, r scoring.Run) error {
	return insert(ctx, c.s.scoreRuns, "run", r.ID, toRunDoc(r))
}

// UpdateRun replaces a run whose stored version is r.Version-1; ErrNotFound or ErrConflict.
func (c *Scoring) UpdateRun(ctx context.Context, r scoring.Run) error {
	return replace(ctx, c.s.scoreRuns, "run", r.ID, r.Version, toRunDoc(r))
}

// Run returns the run id; ErrNotFound when there is none.
func (c *Scoring) Run(ctx context.Context, id string) (scoring.Run, error) {
	d, err := findOne[runDoc](ctx, c.s.scoreRuns, byID(id), "run", id)
	return fromRunDoc(d), err
}

// Runs lists the runs matching q, newest AsOf first, ties by id, newest first too.
func (c *Scoring) Runs(ctx context.Context, q scoring.RunQuery) ([]scoring.Run, error) {
	filter := bson.M{}
	if q.PublishedOnly {
		filter["publish"] = true
		filter["status"] = string(scoring.RunSucceeded)
		// null matches the documents written before runs could be superseded.
		filter["superseded_by"] = bson.M{"$in": bson.A{"", nil}}
	}
	if q.Status != "" {
		filter["status"] = string(q.Status)
	}
	if !q.Before.IsZero() {
		filter["as_of"] = bson.M{"$lt": bson.NewDateTimeFromTime(q.Before)}
	}
	return findSorted(ctx, c.s.scoreRuns, "runs", filter, bson.D{{Key: "as_of", Value: -1}, {Key: "_id", Value: -1}}, q.Limit, fromRunDoc)
}

// ----- scores -----

// PutScores stores scores, each over any stored score of the same run and subject, in bulk
// writes of at most scoreChunk distinct scores (the last of a key given twice wins). It is not
// all-or-nothing: a failure can leave some of the scores stored, and sending them again is
// safe.
func (c *Scoring) PutScores(ctx context.Context, scores []scoring.Score) error {
	var models []mongo.WriteModel
	var keys []string
	at := map[string]int{}
	for _, s := range scores {
		d := toScoreDoc(s)
		// The key fields in the filter make a key that two different scores would share (ids
		// holding "|") a duplicate-key error instead of an overwrite.
		filter := bson.D{{Key: "_id", Value: d.Key}, {Key: "run_id", Value: d.RunID}, {Key: "subject", Value: d.Subject}, {Key: "subject_id", Value: d.SubjectID}}
		m := mongo.NewReplaceOneModel().SetFilter(filter).SetReplacement(d).SetUpsert(true)
		if i, ok := at[d.Key]; ok {
			models[i] = m
			continue
		}
		at[d.Key] = len(models)
		models = append(models, m)
		keys = append(keys, d.Key)
	}
	for start := 0; start < len(models); start += scoreChunk {
		part := models[start:min(start+scoreChunk, len(models))]
		err := bulk(ctx, c.s.scores, part, func(i int, err error) error {
			// Two first upserts of one key race; the loser's second try finds the document.
			if isDuplicateKey(err) {
				_, err = c.s.scores.BulkWrite(ctx, part[i:i+1])
			}
			if isDuplicateKey(err) {
				return fmt.Errorf("score %s: key taken by another score: %w", keys[start+i], credtrace.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("score %s: %w", keys[start+i], err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mongodb: put scores: %w", err)
		}
	}
	return nil
}

// UnpublishScores marks every score of a run not published.
func (c *Scoring) UnpublishScores(ctx context.Context, runID string) error {
	if _, err := c.s.scores.UpdateMany(ctx, bson.D{{Key: "run_id", Value: runID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "published", Value: false}}}}); err != nil {
		return fmt.Errorf("mongodb: unpublish scores of %s: %w", runID, err)
	}
	return nil
}

// Scores lists the scores matching q in subject id order (then subject kind).
func (c *Scoring) Scores(ctx context.Context, q scoring.ScoreQuery) ([]scoring.Score, error) {
	filter := bson.M{}
	eq(filter, "run_id", q.RunID)
	eq(filter, "subject", q.Subject)
	id := bson.M{}
	if q.SubjectID != "" {
		id["$eq"] = q.SubjectID
	}
	if q.After != "" {
		id["$gt"] = q.After
	}
	if len(id) > 0 {
		filter["subject_id"] = id
	}
	return findSorted(ctx, c.s.scores, "scores", filter, bson.D{{Key: "subject_id", Value: 1}, {Key: "subject", Value: 1}}, q.Limit, fromScoreDoc)
}

// ScoreHistory returns a subject's scores across runs, newest AsOf first (ties by run id,
// newest first), at most limit of them (no limit when zero or less).
func (c *Scoring) ScoreHistory(ctx context.Context, kind scoring.SubjectKind, id string, limit int) ([]scoring.Score, error) {
	filter := bson.D{{Key: "subject", Value: string(kind)}, {Key: "subject_id", Value: id}}
	return findSorted(ctx, c.s.scores, "score history", filter, bson.D{{Key: "as_of", Value: -1}, {Key: "run_id", Value: -1}}, limit, fromScoreDoc)
}

// ----- sanctions -----

// CreateSanction stores a new sanction; ErrConflict when its id is taken.
func (c *Scoring) CreateSanction(ctx context.Context, s scoring.Sanction) error {
	return insert(ctx, c.s.sanctions, "sanction", s.ID, toSanctionDoc(s))
}

// UpdateSanction replaces a sanction whose stored version is s.Version-1; ErrNotFound or
// ErrConflict.
func (c *Scoring) UpdateSanction(ctx context.Context, s scoring.Sanction) error {
	return replace(ctx, c.s.sanctions, "sanction", s.ID, s.Version, toSanctionDoc(s))
}

// Sanction returns the sanction id; ErrNotFound when there is none.
func (c *Scoring) Sanction(ctx context.Context, id string) (scoring.Sanction, error) {
	d, err := findOne[sanctionDoc](ctx, c.s.sanctions, byID(id), "sanction", id)
	return fromSanctionDoc(d), err
}

// Sanctions lists the sanctions matching q in id order. An empty Status list does not filter.
func (c *Scoring) Sanctions(ctx context.Context, q scoring.SanctionQuery) ([]scoring.Sanction, error) {
	return list(ctx, c.s.sanctions, "sanctions", sanctionFilter(q), courier.Page{After: q.After, Limit: q.Limit}, fromSanctionDoc)
}

// CountSanctions counts the sanctions q selects, on the server.
func (c *Scoring) CountSanctions(ctx context.Context, q scoring.SanctionQuery) (int, error) {
	return countOf(ctx, c.s.sanctions, "sanctions", sanctionFilter(q))
}

func sanctionFilter(q scoring.SanctionQuery) bson.M {
	filter := bson.M{}
	switch ids := q.FirmIDs; {
	case ids == nil:
		eq(filter, "firm_id", q.FirmID)
	case q.FirmID == "":
		in(filter, "firm_id", ids)
	case slices.Contains(ids, q.FirmID): // one firm, and it is among the allowed
		eq(filter, "firm_id", q.FirmID)
	default:
		in(filter, "firm_id", []string{})
	}
	eq(filter, "kind", q.Kind)
	if len(q.Status) > 0 {
		in(filter, "status", q.Status)
	}
	changedSince(filter, q.ChangedSince)
	return filter
}

// ----- leases -----

// AcquireLease takes or renews the lease, a document {_id: name, holder, until} (until always
// set: a zero time is long expired), in one upsert: the filter matches the lease only when
// it has expired at now or holder holds it, and when it matches nothing the upsert tries to
// insert a second document with the same _id, which fails as a duplicate key: another holder's
// lease is still valid. Without a lease the insert takes it, and of racing inserts one wins.
//
// MongoDB applies the filter and the write in one step, so of callers racing over an expired
// lease exactly one takes it. FerretDB 1.24 does not (see the package comment): there several
// can.
func (c *Scoring) AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error) {
	filter := bson.D{
		{Key: "_id", Value: name},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "until", Value: bson.D{{Key: "$lte", Value: bson.NewDateTimeFromTime(now)}}}},
			bson.D{{Key: "holder", Value: holder}},
		}},
	}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "until", Value: bson.NewDateTimeFromTime(until)}}}}
	_, err := c.s.leases.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if isDuplicateKey(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongodb: acquire lease %s: %w", name, err)
	}
	return true, nil
}

// ReleaseLease deletes the lease if holder holds it.
func (c *Scoring) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := c.s.leases.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}}); err != nil {
		return fmt.Errorf("mongodb: release lease %s: %w", name, err)
	}
	return nil
}

// ----- methodology versions -----

// PutMethod stores a methodology version; ErrConflict when the version is stored already.
func (c *Scoring) PutMethod(ctx context.Context, m scoring.MethodDoc) error {
	return insert(ctx, c.s.methods, "method", m.Version, toMethodDoc(m))
}

// Method returns a methodology version; ErrNotFound when it is not stored.
func (c *Scoring) Method(ctx context.Context, version string) (scoring.MethodDoc, error) {
	d, err := findOne[methodDoc](ctx, c.s.methods, byID(version), "method", version)
	return fromMethodDoc(d), err
}

// Methods lists the methodology versions, oldest first, ties by version.
func (c *Scoring) Methods(ctx context.Context) ([]scoring.MethodDoc, error) {
	return findSorted(ctx, c.s.methods, "methods", bson.D{}, bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}, 0, fromMethodDoc)
}
