package mongodb

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/credtrace/credtrace"
)

// notPrimaryCodes are the server's answers while a replica set has no primary to take the
// write, or is changing it: NotWritablePrimary, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary,
// PrimarySteppedDown, InterruptedDueToReplStateChange, InterruptedAtShutdown, ShutdownInProgress,
// HostUnreachable, HostNotFound, NetworkTimeout, SocketException, ExceededTimeLimit.
var notPrimaryCodes = []int{10107, 13435, 13436, 189, 11602, 11600, 91, 6, 7, 89, 9001, 262}

// unavailable wraps err as credtrace.ErrUnavailable when it says the server did not answer
// rather than refused the operation: a network error, a timeout (the operation timeout of
// WithTimeout, a server selection that found no server, the caller's deadline), a write
// concern the majority did not confirm in time, or a replica set without a primary. The
// driver's error stays in the chain (errors.As, mongo.IsDuplicateKeyError still see it). A
// cancelled context (the client went away) and every other error are returned as they are.
func unavailable(err error) error {
	if isUnavailable(err) {
		return &credtrace.Error{Kind: credtrace.Unavailable, Err: err}
	}
	return err
}

// isUnavailable reports an error that unavailable wraps (not one it wrapped already).
func isUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || credtrace.KindOf(err) == credtrace.Unavailable {
		return false
	}
	if mongo.IsTimeout(err) || mongo.IsNetworkError(err) || writeConcernFailed(err) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, code := range notPrimaryCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
		return se.HasErrorLabel("RetryableWriteError") || se.HasErrorLabel("TransientTransactionError")
	}
	return false
}

// writeConcernFailed reports a write the server applied but could not confirm for the write
// concern (a majority in wtimeout): it may or may not survive a failover, so the caller is told
// to try again, and every write here is safe to repeat.
func writeConcernFailed(err error) bool {
	var we mongo.WriteException
	if errors.As(err, &we) && we.WriteConcernError != nil {
		return true
	}
	var bwe mongo.BulkWriteException
	return errors.As(err, &bwe) && bwe.WriteConcernError != nil
}

// unavailableResult is res, its error classified (see unavailable).
func unavailableResult(res *mongo.SingleResult) *mongo.SingleResult {
	// Not unavailable(err) != err: the driver's error types hold slices and cannot be compared.
	if err := res.Err(); isUnavailable(err) {
		return mongo.NewSingleResultFromDocument(bson.D{}, unavailable(err), nil)
	}
	return res
}
