package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/store/mongodb"
)

// TestUnavailableClassification: what says the server did not answer, or did not confirm, is
// ErrUnavailable (503); a refusal of the operation itself keeps its own meaning.
func TestUnavailableClassification(t *testing.T) {
	t.Parallel()
	labelled := mongo.CommandError{Code: 10107, Name: "NotWritablePrimary", Labels: []string{"RetryableWriteError"}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("find: %w", context.DeadlineExceeded), true},
		{"cancelled by the client", fmt.Errorf("find: %w", context.Canceled), false},
		{"not primary", labelled, true},
		{"write concern", mongo.WriteException{WriteConcernError: &mongo.WriteConcernError{Code: 64, Name: "WriteConcernFailed"}}, true},
		{"bulk write concern", mongo.BulkWriteException{WriteConcernError: &mongo.WriteConcernError{Code: 64}}, true},
		{"duplicate key", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000}}}, false},
		{"bad query", mongo.CommandError{Code: 2, Name: "BadValue"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mongodb.Unavailable(tc.err)
			if got := errors.Is(err, credtrace.ErrUnavailable); got != tc.want {
				t.Errorf("unavailable(%v) is ErrUnavailable: %v, want %v", tc.err, got, tc.want)
			}
			if !errors.Is(err, tc.err) && !errors.As(err, new(mongo.ServerError)) {
				t.Errorf("unavailable(%v) = %v lost the driver's error", tc.err, err)
			}
			// A result carrying it: the driver's error types cannot be compared with ==.
			res := mongodb.UnavailableResult(mongo.NewSingleResultFromDocument(bson.D{}, tc.err, nil))
			if got := errors.Is(res.Err(), credtrace.ErrUnavailable); got != tc.want {
				t.Errorf("result of %v is ErrUnavailable: %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
