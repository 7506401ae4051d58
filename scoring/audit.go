package scoring

import (
	"context"
	"fmt"

	"github.com/credtrace/credtrace"
)

// Auditor writes scoring's decisions together with their entries in the archive's audit trail.
// Atomic calls fn with a Store and an append function bound to one Atomic block of the backend
// (SQLite: one transaction), so that a decision is never stored without its entry. cmd wires
// courier.Auditor here; scoring declares only what it consumes and never imports a store.
type Auditor interface {
	Atomic(ctx context.Context, fn func(st Store, audit func(actor, action, entity, id, detail string) error) error) error
}

// SetAuditor makes every decision of s (proposals, reviews, approvals, rejections, lifts,
// methodology versions, runs) append an audit entry. Without one (unit tests of the rules)
// the changes are written alone.
func (s *Service) SetAuditor(a Auditor) { s.auditor = a }

// auditEntry is one entry scoring appends: who, what, on which object and the detail (ids,
// statuses before and after, the officer's reason; never personal data).
type auditEntry struct {
	actor, action, entity, id, detail string
}

// write applies change and appends e in the same Atomic block.
func (s *Service) write(ctx context.Context, e auditEntry, change func(st Store) error) error {
	if s.auditor == nil {
		return change(s.store)
	}
	return s.auditor.Atomic(ctx, func(st Store, audit func(actor, action, entity, id, detail string) error) error {
		if err := change(st); err != nil {
			return err
		}
		return audit(e.actor, e.action, e.entity, e.id, e.detail)
	})
}

// actorOf is the token id of a caller, or its role for callers without a token.
func actorOf(c credtrace.Caller) string {
	if c.TokenID != "" {
		return c.TokenID
	}
	return string(c.Role)
}

// sanctionEntry describes a sanction's change of status from before (empty for a proposal).
func sanctionEntry(actor, action string, before SanctionStatus, x Sanction, reason string) auditEntry {
	from := string(before)
	if from == "" {
		from = "none"
	}
	d := fmt.Sprintf("kind=%s firm=%s status=%s->%s", x.Kind, x.FirmID, from, x.Status)
	if x.Rule != "" && before == "" {
		d += fmt.Sprintf(" rule=%s by=%q", x.Rule, x.ProposedBy)
	}
	if reason != "" {
		d += fmt.Sprintf(" reason=%q", reason)
	}
	return auditEntry{actor: actor, action: action, entity: "sanction", id: x.ID, detail: d}
}

// runEntry describes a run's start or end.
func runEntry(actor string, r Run) auditEntry {
	action := "run.start"
	d := fmt.Sprintf("as_of=%s method=%s method_hash=%s trigger=%s publish=%t status=%s", r.AsOf.Format("2006-01-02T15:04:05.000Z07:00"),
		r.Method, r.MethodHash, r.Trigger, r.Publish, r.Status)
	if r.Status != RunRunning {
		action = "run.finish"
		if r.Publish && r.Status == RunSucceeded {
			action = "run.publish" // the grades of this run are now the published ones
		}
		d += fmt.Sprintf(" subjects=%d proposals=%d", r.Total, r.Proposals)
		if r.Error != "" {
			d += fmt.Sprintf(" error=%q", r.Error)
		}
	}
	return auditEntry{actor: actor, action: action, entity: "run", id: r.ID, detail: d}
}
