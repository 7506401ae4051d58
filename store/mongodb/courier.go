package mongodb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// CreateFirm stores a new firm; ErrConflict when its id or USCC is taken.
func (s *Store) CreateFirm(ctx context.Context, f courier.Firm) error {
	return insert(ctx, s.firms, "firm", f.ID, toFirmDoc(f))
}

// UpdateFirm replaces a firm whose stored version is f.Version-1; ErrNotFound when there is no
// such firm, ErrConflict when it changed meanwhile or the new USCC is taken.
func (s *Store) UpdateFirm(ctx context.Context, f courier.Firm) error {
	return replace(ctx, s.firms, "firm", f.ID, f.Version, toFirmDoc(f))
}

// Firm returns the firm id; ErrNotFound when there is none.
func (s *Store) Firm(ctx context.Context, id string) (courier.Firm, error) {
	d, err := findOne[firmDoc](ctx, s.firms, byID(id), "firm", id)
	return fromFirmDoc(d), err
}

// FirmByUSCC returns the firm with a unified social credit code; ErrNotFound when there is none.
func (s *Store) FirmByUSCC(ctx context.Context, uscc string) (courier.Firm, error) {
	d, err := findOne[firmDoc](ctx, s.firms, bson.D{{Key: "uscc", Value: uscc}}, "firm by uscc", uscc)
	return fromFirmDoc(d), err
}

// FirmByGLN returns the firm with a party GLN; ErrNotFound when there is none.
func (s *Store) FirmByGLN(ctx context.Context, gln string) (courier.Firm, error) {
	d, err := findOne[firmDoc](ctx, s.firms, bson.D{{Key: "gln", Value: gln}}, "firm by gln", gln)
	return fromFirmDoc(d), err
}

// Firms lists firms matching q in id order.
func (s *Store) Firms(ctx context.Context, q courier.FirmQuery) ([]courier.Firm, error) {
	filter := bson.M{}
	in(filter, "_id", q.IDs)
	in(filter, "parent_id", q.ParentIDs)
	eq(filter, "kind", q.Kind)
	eq(filter, "licence.status", q.Licence)
	if q.Region != "" {
		filter["region"] = bson.Regex{Pattern: "^" + regexp.QuoteMeta(q.Region)}
	}
	if q.Name != "" {
		filter["name"] = bson.Regex{Pattern: regexp.QuoteMeta(q.Name), Options: "i"}
	}
	return list(ctx, s.firms, "firms", filter, q.Page, fromFirmDoc)
}

// CreateSite stores a new site; ErrConflict when its id is taken.
func (s *Store) CreateSite(ctx context.Context, site courier.Site) error {
	return insert(ctx, s.sites, "site", site.ID, toSiteDoc(site))
}

// UpdateSite replaces a site whose stored version is site.Version-1; ErrNotFound or ErrConflict.
func (s *Store) UpdateSite(ctx context.Context, site courier.Site) error {
	return replace(ctx, s.sites, "site", site.ID, site.Version, toSiteDoc(site))
}

// Site returns the site id; ErrNotFound when there is none.
func (s *Store) Site(ctx context.Context, id string) (courier.Site, error) {
	d, err := findOne[siteDoc](ctx, s.sites, byID(id), "site", id)
	return fromSiteDoc(d), err
}

// SiteByGLN returns the site with a GLN; ErrNotFound when there is none.
func (s *Store) SiteByGLN(ctx context.Context, gln string) (courier.Site, error) {
	d, err := findOne[siteDoc](ctx, s.sites, bson.D{{Key: "gln", Value: gln}}, "site by gln", gln)
	return fromSiteDoc(d), err
}

// Sites lists sites matching q in id order.
func (s *Store) Sites(ctx context.Context, q courier.SiteQuery) ([]courier.Site, error) {
	filter := bson.M{}
	in(filter, "firm_id", q.FirmIDs)
	eq(filter, "kind", q.Kind)
	return list(ctx, s.sites, "sites", filter, q.Page, fromSiteDoc)
}

// CreateStaff stores a new person; ErrConflict when the id or the ID hash is taken.
func (s *Store) CreateStaff(ctx context.Context, st courier.Staff) error {
	return insert(ctx, s.staff, "staff", st.ID, toStaffDoc(st))
}

// UpdateStaff replaces a person whose stored version is st.Version-1; ErrNotFound or ErrConflict.
func (s *Store) UpdateStaff(ctx context.Context, st courier.Staff) error {
	return replace(ctx, s.staff, "staff", st.ID, st.Version, toStaffDoc(st))
}

// Staff returns the person id; ErrNotFound when there is none.
func (s *Store) Staff(ctx context.Context, id string) (courier.Staff, error) {
	d, err := findOne[staffDoc](ctx, s.staff, byID(id), "staff", id)
	return fromStaffDoc(d), err
}

// StaffByIDHash returns the person with a resident ID hash; ErrNotFound when there is none.
func (s *Store) StaffByIDHash(ctx context.Context, hash string) (courier.Staff, error) {
	d, err := findOne[staffDoc](ctx, s.staff, bson.D{{Key: "id_hash", Value: hash}}, "staff by id hash", hash)
	return fromStaffDoc(d), err
}

// StaffList lists people who have worked for any of q.FirmIDs, in id order.
func (s *Store) StaffList(ctx context.Context, q courier.StaffQuery) ([]courier.Staff, error) {
	filter := bson.M{}
	in(filter, "employment.firm_id", q.FirmIDs)
	return list(ctx, s.staff, "staff", filter, q.Page, fromStaffDoc)
}

// CreateRecord stores a new credit record; ErrConflict when its id is taken.
func (s *Store) CreateRecord(ctx context.Context, r courier.Record) error {
	return insert(ctx, s.records, "record", r.ID, toRecordDoc(r))
}

// UpdateRecord replaces a record whose stored version is r.Version-1; ErrNotFound or ErrConflict.
func (s *Store) UpdateRecord(ctx context.Context, r courier.Record) error {
	return replace(ctx, s.records, "record", r.ID, r.Version, toRecordDoc(r))
}

// Record returns the record id; ErrNotFound when there is none.
func (s *Store) Record(ctx context.Context, id string) (courier.Record, error) {
	d, err := findOne[recordDoc](ctx, s.records, byID(id), "record", id)
	return fromRecordDoc(d), err
}

// Records lists records matching q in id order.
func (s *Store) Records(ctx context.Context, q courier.RecordQuery) ([]courier.Record, error) {
	filter := bson.M{}
	if q.Subject != nil {
		filter["subject.kind"] = string(q.Subject.Kind)
		filter["subject.id"] = q.Subject.ID
	}
	subjectsIn(filter, q.Subjects)
	in(filter, "firm_id", q.FirmIDs)
	in(filter, "status", q.Status)
	eq(filter, "category", q.Category)
	if q.RepairPending {
		filter["repair_pending"] = true
	}
	changedSince(filter, q.ChangedSince)
	return list(ctx, s.records, "records", filter, q.Page, fromRecordDoc)
}

// CreateObjection stores a new objection; ErrConflict when its id is taken.
func (s *Store) CreateObjection(ctx context.Context, o courier.Objection) error {
	return insert(ctx, s.objections, "objection", o.ID, toObjectionDoc(o))
}

// UpdateObjection replaces an objection whose stored version is o.Version-1; ErrNotFound or
// ErrConflict.
func (s *Store) UpdateObjection(ctx context.Context, o courier.Objection) error {
	return replace(ctx, s.objections, "objection", o.ID, o.Version, toObjectionDoc(o))
}

// Objection returns the objection id; ErrNotFound when there is none.
func (s *Store) Objection(ctx context.Context, id string) (courier.Objection, error) {
	d, err := findOne[objectionDoc](ctx, s.objections, byID(id), "objection", id)
	return fromObjectionDoc(d), err
}

// Objections lists objections matching q in id order.
func (s *Store) Objections(ctx context.Context, q courier.ObjectionQuery) ([]courier.Objection, error) {
	return list(ctx, s.objections, "objections", objectionFilter(q), q.Page, fromObjectionDoc)
}

// CountObjections counts the objections q selects, on the server.
func (s *Store) CountObjections(ctx context.Context, q courier.ObjectionQuery) (int, error) {
	return countOf(ctx, s.objections, "objections", objectionFilter(q))
}

func objectionFilter(q courier.ObjectionQuery) bson.M {
	filter := bson.M{}
	eq(filter, "record_id", q.RecordID)
	in(filter, "firm_id", q.FirmIDs)
	in(filter, "status", q.Status)
	if !q.ReviewBefore.IsZero() {
		filter["review_by"] = bson.M{"$lt": bson.NewDateTimeFromTime(q.ReviewBefore)}
	}
	return filter
}

// CreateCommitment stores a new commitment; ErrConflict when its id is taken.
func (s *Store) CreateCommitment(ctx context.Context, c courier.Commitment) error {
	return insert(ctx, s.commitments, "commitment", c.ID, toCommitmentDoc(c))
}

// Commitments lists commitments matching q in id order.
func (s *Store) Commitments(ctx context.Context, q courier.CommitmentQuery) ([]courier.Commitment, error) {
	filter := bson.M{}
	in(filter, "firm_id", q.FirmIDs)
	if q.Subject != nil {
		filter["subject.kind"] = string(q.Subject.Kind)
		filter["subject.id"] = q.Subject.ID
	}
	subjectsIn(filter, q.Subjects)
	return list(ctx, s.commitments, "commitments", filter, q.Page, fromCommitmentDoc)
}

// CreateToken stores a new token; ErrConflict when its id or hash is taken.
func (s *Store) CreateToken(ctx context.Context, t courier.Token) error {
	return insert(ctx, s.tokens, "token", t.ID, toTokenDoc(t))
}

// Token returns the token id; ErrNotFound when there is none.
func (s *Store) Token(ctx context.Context, id string) (courier.Token, error) {
	d, err := findOne[tokenDoc](ctx, s.tokens, byID(id), "token", id)
	return fromTokenDoc(d), err
}

// TokenByHash returns the token whose current secret, or else retired one, hashes to hash;
// ErrNotFound when none does. Two lookups rather than an $or: the first, by the unique index,
// answers nearly every request.
func (s *Store) TokenByHash(ctx context.Context, hash string) (courier.Token, error) {
	// The hash is a credential: keep it out of error messages.
	d, err := findOne[tokenDoc](ctx, s.tokens, bson.D{{Key: "hash", Value: hash}}, "token", "by hash")
	if errors.Is(err, credtrace.ErrNotFound) && hash != "" {
		d, err = findOne[tokenDoc](ctx, s.tokens, bson.D{{Key: "retired_hash", Value: hash}}, "token", "by retired hash")
	}
	return fromTokenDoc(d), err
}

// Tokens lists tokens matching q in id order.
func (s *Store) Tokens(ctx context.Context, q courier.TokenQuery) ([]courier.Token, error) {
	filter := bson.M{}
	if q.FirmID != "" {
		filter["firm_id"] = q.FirmID
	}
	return list(ctx, s.tokens, "tokens", filter, q.Page, fromTokenDoc)
}

// RotateToken replaces the token's hash; ErrNotFound for an unknown id, ErrConflict when the
// new hash is taken.
func (s *Store) RotateToken(ctx context.Context, id string, r courier.Rotation) error {
	res, err := s.tokens.UpdateOne(ctx, byID(id), bson.D{{Key: "$set", Value: bson.D{
		{Key: "hash", Value: r.Hash}, {Key: "retired_hash", Value: r.RetiredHash},
		{Key: "retired_until", Value: datetime(r.RetiredUntil)}, {Key: "rotated_at", Value: datetime(r.At)}}}})
	if isDuplicateKey(err) {
		return fmt.Errorf("mongodb: rotate token %s: %w", id, credtrace.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("mongodb: rotate token %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongodb: rotate token %s: %w", id, credtrace.ErrNotFound)
	}
	return nil
}

// TouchToken moves the token's last use forward to at with $max, so that replicas touching
// it at once leave the latest time whatever the order.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.tokens.UpdateOne(ctx, byID(id), bson.D{{Key: "$max", Value: bson.D{{Key: "last_used_at", Value: datetime(at)}}}})
	if err != nil {
		return fmt.Errorf("mongodb: touch token %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongodb: touch token %s: %w", id, credtrace.ErrNotFound)
	}
	return nil
}

// RevokeToken marks the token id revoked at at; ErrNotFound when there is none.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.tokens.UpdateOne(ctx, byID(id), bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: datetime(at)}}}})
	if err != nil {
		return fmt.Errorf("mongodb: revoke token %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongodb: revoke token %s: %w", id, credtrace.ErrNotFound)
	}
	return nil
}

// CountTokens counts every token, revoked ones included. The filter on _id (every id is a
// string, at least "") lets the server count the _id index's keys instead of reading documents.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	n, err := s.tokens.CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: ""}}}})
	if err != nil {
		return 0, fmt.Errorf("mongodb: count tokens: %w", err)
	}
	return int(n), nil
}

// LastAudit returns the entry with the highest Seq; ok is false on an empty trail.
func (s *Store) LastAudit(ctx context.Context) (courier.AuditEntry, bool, error) {
	var d auditDoc
	opts := options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})
	err := s.audit.FindOne(ctx, bson.D{}, opts).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return courier.AuditEntry{}, false, nil
	}
	if err != nil {
		return courier.AuditEntry{}, false, fmt.Errorf("mongodb: last audit entry: %w", err)
	}
	return fromAuditDoc(d), true, nil
}

// auditHead is the _id, in counters, of the audit trail's head: the Seq and Hash of its last
// entry, moved by every append made in a transaction.
const auditHead = "audit_head"

// headDoc is the audit trail's head.
type headDoc struct {
	Seq  int64  `bson:"seq"`
	Hash string `bson:"hash"`
}

// auditRace is an append that lost to a concurrent one inside a transaction. It carries the
// driver's TransientTransactionError label, so WithTransaction runs the whole block again,
// after a growing pause, on a fresh snapshot; it is deliberately not ErrConflict, whose retry
// in courier would go on inside a transaction the server has already aborted.
type auditRace struct{ err error }

func (e auditRace) Error() string { return e.err.Error() }
func (e auditRace) Unwrap() error { return e.err }

// HasErrorLabel makes auditRace a mongo.LabeledError.
func (auditRace) HasErrorLabel(label string) bool { return label == "TransientTransactionError" }

// AppendAudit stores e under its Seq; ErrConflict when the Seq is taken. Inside a transaction
// it compares and sets the trail's head with the insert (appendInTransaction).
func (s *Store) AppendAudit(ctx context.Context, e courier.AuditEntry) error {
	if s.sess != nil {
		return s.appendInTransaction(ctx, e)
	}
	// Without transactions the entry's unique _id is the only guard: FerretDB 1.24 checks an
	// update's filter and writes in two steps, so a compare-and-set on a head could let two
	// racing appends through.
	if _, err := s.audit.InsertOne(ctx, toAuditDoc(e)); err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("mongodb: append audit entry %d: %w", e.Seq, credtrace.ErrConflict)
		}
		return fmt.Errorf("mongodb: append audit entry %d: %w", e.Seq, err)
	}
	return nil
}

// appendInTransaction moves the trail's head from the Seq the block read to e's and inserts e,
// both in the block's transaction. Every append writes the one head document, so two blocks
// appending at once always collide there: the server refuses the second with a write conflict,
// labelled transient, and the whole block runs again on the new tail. The compare-and-set
// itself (the head is still where this block read it) holds in the block's snapshot; a head
// missing (a trail begun without transactions) is created. A head that does not match, or a
// taken Seq, is reported the same way as a conflict. The head follows the trail: should entries
// be cut off its end behind the store's back, appends go on from the last entry left, as they
// do without transactions, and verification against the checkpoints reports the cut.
func (s *Store) appendInTransaction(ctx context.Context, e courier.AuditEntry) error {
	var head headDoc
	err := s.counters.FindOne(ctx, byID(auditHead)).Decode(&head)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		_, err = s.counters.InsertOne(ctx, bson.D{{Key: "_id", Value: auditHead}, {Key: "seq", Value: e.Seq}, {Key: "hash", Value: e.Hash}})
	case err == nil:
		var res *mongo.UpdateResult
		res, err = s.counters.UpdateOne(ctx, bson.D{{Key: "_id", Value: auditHead}, {Key: "seq", Value: head.Seq}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: e.Seq}, {Key: "hash", Value: e.Hash}}}})
		if err == nil && res.MatchedCount == 0 {
			err = auditRace{fmt.Errorf("the audit head moved from %d", head.Seq)}
		}
	}
	if err == nil {
		_, err = s.audit.InsertOne(ctx, toAuditDoc(e))
	}
	if err != nil {
		if isDuplicateKey(err) {
			err = auditRace{err}
		}
		return fmt.Errorf("mongodb: append audit entry %d: %w", e.Seq, err)
	}
	return nil
}

// PutCheckpoint stores c under its Seq; ErrConflict when the Seq is taken.
func (s *Store) PutCheckpoint(ctx context.Context, c courier.Checkpoint) error {
	if _, err := s.checkpoints.InsertOne(ctx, toCheckpointDoc(c)); err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("mongodb: put checkpoint %d: %w", c.Seq, credtrace.ErrConflict)
		}
		return fmt.Errorf("mongodb: put checkpoint %d: %w", c.Seq, err)
	}
	return nil
}

// LatestCheckpoint returns the checkpoint with the highest Seq; ok is false when none.
func (s *Store) LatestCheckpoint(ctx context.Context) (courier.Checkpoint, bool, error) {
	var d checkpointDoc
	err := s.checkpoints.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return courier.Checkpoint{}, false, nil
	}
	if err != nil {
		return courier.Checkpoint{}, false, fmt.Errorf("mongodb: latest checkpoint: %w", err)
	}
	return fromCheckpointDoc(d), true, nil
}

// Checkpoints returns at most limit checkpoints with Seq > after, in Seq order; 0 means all.
func (s *Store) Checkpoints(ctx context.Context, after int64, limit int) ([]courier.Checkpoint, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.checkpoints.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: checkpoints after %d: %w", after, err)
	}
	var docs []checkpointDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongodb: checkpoints after %d: %w", after, unavailable(err))
	}
	return convSlice(docs, fromCheckpointDoc), nil
}

// AuditEntries returns at most limit entries with Seq > after, in Seq order; limit 0 means all.
func (s *Store) AuditEntries(ctx context.Context, after int64, limit int) ([]courier.AuditEntry, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.audit.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: audit entries after %d: %w", after, err)
	}
	var docs []auditDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongodb: audit entries after %d: %w", after, unavailable(err))
	}
	return convSlice(docs, fromAuditDoc), nil
}

// Setting returns the value stored under key; ErrNotFound when unset.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	d, err := findOne[settingDoc](ctx, s.settings, byID(key), "setting", key)
	return d.Value, err
}

// DeleteSetting removes the setting under key; nothing when unset. (The server's storage
// engine frees the document; it is not overwritten on disk until the space is reused.)
func (s *Store) DeleteSetting(ctx context.Context, key string) error {
	if _, err := s.settings.DeleteOne(ctx, byID(key)); err != nil {
		return fmt.Errorf("mongodb: delete setting %s: %w", key, err)
	}
	return nil
}

// InitSetting stores value under key unless a value is stored, and returns the stored value, so
// that instances starting together agree on the first one written.
func (s *Store) InitSetting(ctx context.Context, key, value string) (string, error) {
	update := bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "value", Value: value}}}}
	_, err := s.settings.UpdateOne(ctx, byID(key), update, options.UpdateOne().SetUpsert(true))
	// Two upserts of one new key can race; the loser's duplicate key means the value is there.
	if err != nil && !isDuplicateKey(err) {
		return "", fmt.Errorf("mongodb: init setting %s: %w", key, err)
	}
	return s.Setting(ctx, key)
}

// treeCounter is the _id of the tree generation in the counters collection.
const treeCounter = "tree"

// TreeGeneration returns the tree generation; 0 before the first bump.
func (s *Store) TreeGeneration(ctx context.Context) (int64, error) {
	var d counterDoc
	err := s.counters.FindOne(ctx, byID(treeCounter)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongodb: tree generation: %w", err)
	}
	return d.N, nil
}

// BumpTreeGeneration adds one to the tree generation, creating it at 1.
func (s *Store) BumpTreeGeneration(ctx context.Context) error {
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}}}
	for attempt := 0; ; attempt++ {
		_, err := s.counters.UpdateOne(ctx, byID(treeCounter), update, options.UpdateOne().SetUpsert(true))
		// Two first bumps can race to insert; the loser retries as an update.
		if err != nil && isDuplicateKey(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return fmt.Errorf("mongodb: bump tree generation: %w", err)
		}
		return nil
	}
}

// Guesses returns the wrong answers counted against key; the zero Guesses when there are none.
func (s *Store) Guesses(ctx context.Context, key string) (courier.Guesses, error) {
	var d guessDoc
	err := s.guesses.FindOne(ctx, byID(key)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return courier.Guesses{}, nil
	}
	if err != nil {
		return courier.Guesses{}, fmt.Errorf("mongodb: guesses: %w", err)
	}
	return courier.Guesses{Count: int(d.Count), Last: fromDatetime(d.Last)}, nil
}

// AddGuess counts one wrong answer against key. Without pipeline updates (FerretDB has none) the
// "start again after window" rule takes two conditional writes: an increment of a count whose
// last answer is recent, else a reset (inserting the document when there is none). A racing
// writer makes the reset's insert a duplicate key, and the loop tries the increment again.
func (s *Store) AddGuess(ctx context.Context, key string, at time.Time, window time.Duration) (courier.Guesses, error) {
	after := options.FindOneAndUpdate().SetReturnDocument(options.After)
	cutoff := datetime(at.Add(-window))
	for attempt := 0; attempt < 5; attempt++ {
		var d guessDoc
		err := s.guesses.FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: key}, {Key: "last", Value: bson.D{{Key: "$gte", Value: cutoff}}}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: int64(1)}}}, {Key: "$max", Value: bson.D{{Key: "last", Value: datetime(at)}}}},
			after).Decode(&d)
		if err == nil {
			return courier.Guesses{Count: int(d.Count), Last: fromDatetime(d.Last)}, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return courier.Guesses{}, fmt.Errorf("mongodb: add guess: %w", err)
		}
		err = s.guesses.FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: key}, {Key: "last", Value: bson.D{{Key: "$lt", Value: cutoff}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: int64(1)}, {Key: "last", Value: datetime(at)}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After).SetUpsert(true)).Decode(&d)
		if err == nil {
			return courier.Guesses{Count: int(d.Count), Last: fromDatetime(d.Last)}, nil
		}
		if !isDuplicateKey(err) {
			return courier.Guesses{}, fmt.Errorf("mongodb: add guess: %w", err)
		}
	}
	return courier.Guesses{}, fmt.Errorf("mongodb: add guess: %w: too many concurrent writers", credtrace.ErrConflict)
}

// subjectsIn adds "the subject is one of subs" to filter: one $in of ids per kind, under $and
// so that it composes with a Subject condition. A nil list does not filter; an empty one matches
// nothing.
func subjectsIn(filter bson.M, subs []courier.Subject) {
	if subs == nil {
		return
	}
	var kinds []courier.SubjectKind
	ids := map[courier.SubjectKind][]string{}
	for _, sub := range subs {
		if _, ok := ids[sub.Kind]; !ok {
			kinds = append(kinds, sub.Kind)
		}
		ids[sub.Kind] = append(ids[sub.Kind], sub.ID)
	}
	or := bson.A{}
	for _, k := range kinds {
		or = append(or, bson.M{"subject.kind": string(k), "subject.id": bson.M{"$in": ids[k]}})
	}
	if len(or) == 0 {
		filter["_id"] = bson.M{"$in": bson.A{}} // nothing, read off the _id index
		return
	}
	filter["$and"] = bson.A{bson.M{"$or": or}}
}
