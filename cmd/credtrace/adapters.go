package main

import (
	"context"

	"github.com/credtrace/credtrace"
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
	r, err := p.svc.CreateRecord(ctx, credtrace.System, courier.RecordInput{
		Subject:  courier.Subject{Kind: courier.SubjectKind(pr.SubjectKind), ID: pr.SubjectID},
		Category: courier.Category(pr.Category), Source: courier.SrcSystem, Severity: courier.Severity(pr.Severity),
		OccurredAt: pr.OccurredAt, Summary: pr.Summary, Evidence: ev, LegalBasis: pr.LegalBasis,
	})
	return r.ID, err
}

// verdicts tells tracking when a record starts or stops counting, so that the complaints
// statistic holds verified complaints only (a record that back-tracking proposed counts once a
// regulator confirms it, and is taken back when revoked or repaired).
type verdicts struct{ trk *tracking.Service }

func (v verdicts) RecordInForce(ctx context.Context, r courier.Record, inForce bool) error {
	return v.trk.CountVerdict(ctx, verdictOf(r, inForce))
}

func verdictOf(r courier.Record, inForce bool) tracking.Verdict {
	out := tracking.Verdict{RecordID: r.ID, Subject: tracking.SubjectKind(r.Subject.Kind), SubjectID: r.Subject.ID,
		ConfirmedAt: r.ConfirmedAt, InForce: inForce}
	for _, e := range r.Evidence {
		if e.Kind == "incident" {
			out.IncidentIDs = append(out.IncidentIDs, e.Ref)
		}
	}
	return out
}
