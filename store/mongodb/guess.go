package mongodb

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// wrongAnswerDoc is one wrong answer to a check. Each answer is a document of its own, inserted and
// never updated, so that answers given at once on several replicas all count without a
// transaction or a compare-and-set.
type wrongAnswerDoc struct {
	ID  bson.ObjectID `bson:"_id"`
	Key string        `bson:"key"`
	At  time.Time     `bson:"at"`
}

// WrongGuess implements tracking.Store.
func (t *Tracking) WrongGuess(ctx context.Context, key string, now time.Time, keep time.Duration) error {
	return t.s.WrongGuess(ctx, key, now, keep)
}

// WrongGuesses implements tracking.Store.
func (t *Tracking) WrongGuesses(ctx context.Context, key string, since time.Time) ([]time.Time, error) {
	return t.s.WrongGuesses(ctx, key, since)
}

// WrongGuess records one wrong answer to the check named by key and forgets those older than keep.
func (s *Store) WrongGuess(ctx context.Context, key string, now time.Time, keep time.Duration) error {
	if _, err := s.wrongAnswers.InsertOne(ctx, wrongAnswerDoc{ID: bson.NewObjectID(), Key: key, At: now.UTC()}); err != nil {
		return fmt.Errorf("mongodb: wrong guess: %w", err)
	}
	if _, err := s.wrongAnswers.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: now.Add(-keep).UTC()}}}}); err != nil {
		return fmt.Errorf("mongodb: forget old guesses: %w", err)
	}
	return nil
}

// WrongGuesses returns the times of the wrong answers to key at or after since, oldest first.
func (s *Store) WrongGuesses(ctx context.Context, key string, since time.Time) ([]time.Time, error) {
	docs, err := findAll[wrongAnswerDoc](ctx, s.wrongAnswers,
		bson.D{{Key: "key", Value: key}, {Key: "at", Value: bson.D{{Key: "$gte", Value: since.UTC()}}}},
		options.Find().SetSort(bson.D{{Key: "key", Value: 1}, {Key: "at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongodb: wrong guesses: %w", err)
	}
	out := make([]time.Time, len(docs))
	for i, d := range docs {
		out[i] = d.At.UTC()
	}
	return out, nil
}
