package main

import (
	"context"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// proposer enters back-tracking's proposals into the credit archive as pending records from
// source system, which a regulator confirms or dismisses.
type proposer struct{ svc *courier.Service }

func (p proposer) Propose(ctx context.Context, pr tracking.Proposal) (string, error) {
	ev := make([]courier.Evidence, len(pr.Evidence))
	for i, e := range pr.Evidence {
		ev[i] = courier.Evidence{Kind: e.Kind, Ref: e.Ref}
	}
	r, err := p.svc.CreateRecord(ctx, courier.SystemActor, courier.RecordInput{
		Subject:  courier.Subject{Kind: courier.SubjectKind(pr.SubjectKind), ID: pr.SubjectID},
		Category: courier.Category(pr.Category), Source: courier.SrcSystem, Severity: courier.Severity(pr.Severity),
		OccurredAt: pr.OccurredAt, Summary: pr.Summary, Evidence: ev, LegalBasis: pr.LegalBasis,
	})
	return r.ID, err
}
