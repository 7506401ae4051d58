package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// State that every replica must share: dashboard sessions, the hits of per-address limits and
// the live streams' reading of the events. Each is insert-only or read-only, so that it needs
// neither transactions nor a compare-and-set (which FerretDB does not make atomic).

// sessionDoc is one dashboard session, by the hash of its id.
type sessionDoc struct {
	ID      string    `bson:"_id"`
	TokenID string    `bson:"token_id"`
	CSRF    string    `bson:"csrf"`
	Expires time.Time `bson:"expires_at"`
}

// CreateSession implements courier.Store.
func (s *Store) CreateSession(ctx context.Context, ss courier.Session) error {
	return insert(ctx, s.sessions, "session", "by hash", sessionDoc{ID: ss.IDHash, TokenID: ss.TokenID, CSRF: ss.CSRF, Expires: ss.Expires.UTC()})
}

// Session implements courier.Store.
func (s *Store) Session(ctx context.Context, idHash string) (courier.Session, error) {
	// The hash stands for a credential: keep it out of error messages.
	d, err := findOne[sessionDoc](ctx, s.sessions, byID(idHash), "session", "by hash")
	if err != nil {
		return courier.Session{}, err
	}
	return courier.Session{IDHash: d.ID, TokenID: d.TokenID, CSRF: d.CSRF, Expires: d.Expires.UTC()}, nil
}

// DeleteSession implements courier.Store.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.sessions.DeleteOne(ctx, byID(idHash)); err != nil {
		return fmt.Errorf("mongodb: delete session: %w", err)
	}
	return nil
}

// DeleteSessionsBefore implements courier.Store.
func (s *Store) DeleteSessionsBefore(ctx context.Context, t time.Time) error {
	if _, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: t.UTC()}}}}); err != nil {
		return fmt.Errorf("mongodb: delete expired sessions: %w", err)
	}
	return nil
}

// hitDoc is one request counted by a limit, inserted and never updated.
type hitDoc struct {
	ID  bson.ObjectID `bson:"_id"`
	Key string        `bson:"key"`
	At  time.Time     `bson:"at"`
}

// AddHit implements tracking.Store.
func (t *Tracking) AddHit(ctx context.Context, key string, at time.Time) error {
	if _, err := t.s.hits.InsertOne(ctx, hitDoc{ID: bson.NewObjectID(), Key: key, At: at.UTC()}); err != nil {
		return fmt.Errorf("mongodb: add hit: %w", err)
	}
	return nil
}

// CountHits implements tracking.Store.
func (t *Tracking) CountHits(ctx context.Context, key string, since time.Time) (int, error) {
	n, err := t.s.hits.CountDocuments(ctx, bson.D{{Key: "key", Value: key}, {Key: "at", Value: bson.D{{Key: "$gte", Value: since.UTC()}}}})
	if err != nil {
		return 0, fmt.Errorf("mongodb: count hits: %w", err)
	}
	return int(n), nil
}

// PruneHits implements tracking.Store.
func (t *Tracking) PruneHits(ctx context.Context, before time.Time) error {
	if _, err := t.s.hits.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before.UTC()}}}}); err != nil {
		return fmt.Errorf("mongodb: prune hits: %w", err)
	}
	return nil
}

// LastSeq implements tracking.Store: the highest sequence among the stored events. A sequence
// is taken from the counter before its event is inserted, so lower ones may still be on
// their way; the live streams' poller looks back for them (see tracking.Hub).
func (t *Tracking) LastSeq(ctx context.Context) (int64, error) {
	var e struct {
		Seq int64 `bson:"seq"`
	}
	err := t.s.events.FindOne(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: 0}}}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongodb: last sequence: %w", err)
	}
	return e.Seq, nil
}

// seqFilter selects the sequence numbers (in field) a poll asks for: those after q.After, and
// those of each gap it still waits on.
func seqFilter(field string, q tracking.SeqQuery) bson.D {
	or := bson.A{bson.D{{Key: field, Value: bson.D{{Key: "$gt", Value: q.After}}}}}
	for _, g := range q.Gaps {
		or = append(or, bson.D{{Key: field, Value: bson.D{{Key: "$gte", Value: g.From}, {Key: "$lte", Value: g.To}}}})
	}
	return bson.D{{Key: "$or", Value: or}}
}

// EventsSince implements tracking.Store.
func (t *Tracking) EventsSince(ctx context.Context, q tracking.SeqQuery) ([]tracking.Event, []int64, error) {
	docs, err := findAll[eventDoc](ctx, t.s.events, seqFilter("seq", q),
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, nil, fmt.Errorf("mongodb: events since %d: %w", q.After, err)
	}
	evs := make([]tracking.Event, len(docs))
	seqs := make([]int64, len(docs))
	for i, d := range docs {
		evs[i], seqs[i] = fromEventDoc(d), d.Seq
	}
	return evs, seqs, nil
}
