package sqlite

import (
	"context"
	"fmt"
	"time"
)

// WrongGuess implements tracking.Store.
func (t *Tracking) WrongGuess(ctx context.Context, key string, now time.Time, keep time.Duration) error {
	return t.s.WrongGuess(ctx, key, now, keep)
}

// WrongGuesses implements tracking.Store.
func (t *Tracking) WrongGuesses(ctx context.Context, key string, since time.Time) ([]time.Time, error) {
	return t.s.WrongGuesses(ctx, key, since)
}

// WrongGuess records one wrong answer to the check named by key and forgets those older than
// keep; each answer is a row of its own, so concurrent answers all count.
func (s *Store) WrongGuess(ctx context.Context, key string, now time.Time, keep time.Duration) error {
	err := s.atomic(ctx, func(t *Store) error {
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM wrong_answers WHERE at < ?`, now.Add(-keep).UnixMilli()); err != nil {
			return err
		}
		_, err := t.tx.ExecContext(ctx, `INSERT INTO wrong_answers (key, at) VALUES (?, ?)`, key, now.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: wrong guess: %w", translate(err))
	}
	return nil
}

// WrongGuesses returns the times of the wrong answers to key at or after since, oldest first.
func (s *Store) WrongGuesses(ctx context.Context, key string, since time.Time) ([]time.Time, error) {
	out, err := list(ctx, s.reader(), `SELECT at FROM wrong_answers WHERE key = ? AND at >= ? ORDER BY at, seq`,
		[]any{key, since.UnixMilli()}, func(r scanner) (time.Time, error) {
			var at int64
			err := r.Scan(&at)
			return time.UnixMilli(at).UTC(), err
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: wrong guesses: %w", err)
	}
	return out, nil
}
