package scoring

import (
	"context"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// CountSanctions counts the sanctions q selects that the caller may see (as Sanctions), on the
// server; q's After and Limit are ignored.
func (s *Service) CountSanctions(ctx context.Context, c credtrace.Caller, q SanctionQuery) (int, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return 0, credtrace.ErrForbidden
	}
	if c.Role == credtrace.RoleFirm {
		tree, err := courier.Subtree(ctx, s.archive, c.FirmID)
		if err != nil {
			return 0, err
		}
		q.FirmIDs = tree
	}
	return s.store.CountSanctions(ctx, q)
}
