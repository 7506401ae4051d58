package courier

import (
	"context"

	"github.com/credtrace/credtrace"
)

// AuditIn appends one entry to the audit trail through st, the Store an Atomic block was given,
// so that the entry commits with the change it describes. actor is a token id or "system".
// Detail must hold no personal data in clear (ids, statuses and reasons only).
func (s *Service) AuditIn(ctx context.Context, st Store, actor, action, entity, id, detail string) error {
	return s.audit(ctx, st, credtrace.Caller{TokenID: actor}, action, entity, id, detail)
}

// Auditor lends the audit trail to another domain whose writes go through S, a view of the
// same backend (scoring.Store, tracking.Store). Its Atomic has the shape those domains declare
// as their consumer-side Auditor interface, so that they need not import the store or courier:
// the domain's writes and its entries land in one Atomic block of the archive's Store.
type Auditor[S any] struct {
	svc  *Service
	view func(Store) S
}

// NewAuditor returns an Auditor; view turns the Store an Atomic block is given into the other
// domain's view of it (for SQLite: func(st) { return st.(*sqlite.Store).Scoring() }).
func NewAuditor[S any](svc *Service, view func(Store) S) Auditor[S] {
	return Auditor[S]{svc: svc, view: view}
}

// Atomic runs fn with the other domain's store and an append function, both bound to one
// Atomic block: on SQLite one transaction, so a decision is never stored without its entry
// nor an entry without its decision.
func (a Auditor[S]) Atomic(ctx context.Context, fn func(st S, audit func(actor, action, entity, id, detail string) error) error) error {
	return a.svc.store.Atomic(ctx, func(st Store) error {
		return fn(a.view(st), func(actor, action, entity, id, detail string) error {
			return a.svc.AuditIn(ctx, st, actor, action, entity, id, detail)
		})
	})
}
