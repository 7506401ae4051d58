package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace/tracking"
)

var guessBehaviours = []trackingBehaviour{
	{"WrongGuessesByKeyInOrder", testWrongGuesses},
	{"WrongGuessesForgetOld", testWrongGuessesForget},
	{"WrongGuessesConcurrentAllCount", testWrongGuessesConcurrent},
}

func wrongGuess(ctx context.Context, t *testing.T, s tracking.Store, key string, now time.Time) {
	t.Helper()
	must(t, "wrong guess", s.WrongGuess(ctx, key, now, 2*time.Hour))
}

func wrongGuesses(ctx context.Context, t *testing.T, s tracking.Store, key string, since time.Time) []time.Time {
	t.Helper()
	got, err := s.WrongGuesses(ctx, key, since)
	must(t, "wrong guesses", err)
	return got
}

// Answers come back per key, oldest first, from since on, at millisecond precision.
func testWrongGuesses(ctx context.Context, t *testing.T, s tracking.Store) {
	if got := wrongGuesses(ctx, t, s, "phone4|A", t0); len(got) != 0 {
		t.Fatalf("unknown key: %v", got)
	}
	wrongGuess(ctx, t, s, "phone4|A", at(2))
	wrongGuess(ctx, t, s, "phone4|A", at(1))
	wrongGuess(ctx, t, s, "phone4|B", at(1))
	wrongGuess(ctx, t, s, "phone4|A", at(1)) // the same instant twice counts twice
	if got, want := wrongGuesses(ctx, t, s, "phone4|A", at(0)), []time.Time{at(1), at(1), at(2)}; !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("key A: got %v, want %v", got, want)
	}
	if got, want := wrongGuesses(ctx, t, s, "phone4|A", at(2)), []time.Time{at(2)}; !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("key A since at(2): got %v, want %v", got, want)
	}
	if got := wrongGuesses(ctx, t, s, "phone4|B", at(0)); len(got) != 1 {
		t.Fatalf("key B: got %v, want one", got)
	}
}

// Answers older than keep are forgotten, whatever their key.
func testWrongGuessesForget(ctx context.Context, t *testing.T, s tracking.Store) {
	wrongGuess(ctx, t, s, "phone4|old", at(0))
	wrongGuess(ctx, t, s, "phone4|new", at(1))
	wrongGuess(ctx, t, s, "phone4|new", at(2)) // keep is two hours: at(0) is just more than that before at(2)
	if got := wrongGuesses(ctx, t, s, "phone4|old", time.Time{}); len(got) != 0 {
		t.Fatalf("old answers kept: %v", got)
	}
	if got := wrongGuesses(ctx, t, s, "phone4|new", time.Time{}); len(got) != 2 {
		t.Fatalf("recent answers: got %v, want two", got)
	}
}

// Answers given at once (as on several replicas) all land.
func testWrongGuessesConcurrent(ctx context.Context, t *testing.T, s tracking.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.WrongGuess(ctx, "phone4|C", t0, 2*time.Hour)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "concurrent wrong guess", err)
	}
	if got := wrongGuesses(ctx, t, s, "phone4|C", t0); len(got) != 5 {
		t.Fatalf("after five concurrent wrong answers: %d recorded", len(got))
	}
}
