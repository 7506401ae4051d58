package courier

import (
	"context"

	"github.com/credtrace/credtrace"
)

// CountOverdue counts the objections in the caller's scope whose review clock has run out
// (pending past ReviewBy), on the server: the overview's figure of Objections(overdue).
func (s *Service) CountOverdue(ctx context.Context, a credtrace.Caller) (int, error) {
	scope, err := s.scopeIDs(ctx, a)
	if err != nil {
		return 0, err
	}
	return s.store.CountObjections(ctx, ObjectionQuery{FirmIDs: scope, Status: []ObjectionStatus{ObjectionPending}, ReviewBefore: s.Now()})
}
