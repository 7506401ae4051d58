package tracking

import (
	"context"

	"github.com/credtrace/credtrace"
)

// CountAnomalies counts the anomalies q selects that the caller may see (regulators: all;
// firms: their tree's), on the server; q's After and Limit are ignored. credtrace.ErrForbidden
// for other roles.
func (s *Service) CountAnomalies(ctx context.Context, c credtrace.Caller, q AnomalyQuery) (int, error) {
	if err := s.Flush(ctx); err != nil {
		return 0, err
	}
	switch c.Role {
	case credtrace.RoleRegulator:
	case credtrace.RoleFirm:
		carriers, err := s.treeCarriers(ctx, c.FirmID, q.Carriers)
		if err != nil {
			return 0, err
		}
		q.Carriers = carriers
	default:
		return 0, credtrace.ErrForbidden
	}
	return s.store.CountAnomalies(ctx, q)
}

// CountIncidents counts the incidents the caller may see (regulators: all; firms: their
// tree's), on the server. credtrace.ErrForbidden for other roles.
func (s *Service) CountIncidents(ctx context.Context, c credtrace.Caller) (int, error) {
	q := IncidentQuery{}
	switch c.Role {
	case credtrace.RoleRegulator:
	case credtrace.RoleFirm:
		carriers, err := s.treeCarriers(ctx, c.FirmID, nil)
		if err != nil {
			return 0, err
		}
		q.Carriers = carriers
	default:
		return 0, credtrace.ErrForbidden
	}
	return s.store.CountIncidents(ctx, q)
}
