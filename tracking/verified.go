package tracking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/credtrace/credtrace"
)

// Verdict tells tracking that a credit record started counting against its subject (InForce:
// a regulator confirmed it) or stopped (revoked on objection, repaired). cmd builds it from
// the credit archive's record.
type Verdict struct {
	RecordID    string
	Subject     SubjectKind // firm, site or staff
	SubjectID   string
	IncidentIDs []string  // the incidents the record's evidence cites
	ConfirmedAt time.Time // when a regulator confirmed it; the day the complaint counts on
	InForce     bool
}

// CountVerdict keeps the complaints statistic to verified complaints (有效申诉): an incident
// proposes records and counts nothing itself; each of its records adds one complaint to its
// subject once a regulator confirms it, and takes it back if it stops being in force. Records
// that no incident proposed (the incident it cites does not list it) count nothing here: they
// count through the archive's own record points.
//
// The complaint counts on the day of the confirmation, not the incident's: a score as of an
// earlier date must not see a complaint verified after it, so recomputing a past score gives
// the same answer. Taking it back subtracts on that same day, so that no window of days ever
// sums to less than the complaints confirmed in it and still in force.
//
// Both directions are keyed by record in AddStats, so a repeated verdict adds nothing; taking
// back first makes sure the complaint was counted (the confirmation's call may have been lost),
// so the net is exactly zero whatever arrived before.
func (s *Service) CountVerdict(ctx context.Context, v Verdict) error {
	counted, err := s.proposedBy(ctx, v)
	if err != nil || !counted {
		return err
	}
	at := v.ConfirmedAt
	if at.IsZero() {
		at = s.Now()
	}
	d := StatDelta{Key: StatKey{Kind: v.Subject, ID: v.SubjectID, Day: Day(at)}, Metric: MComplaints, N: 1}
	if err := s.store.AddStats(ctx, "verified|"+v.RecordID, []StatDelta{d}); err != nil {
		return fmt.Errorf("count verified complaint %s: %w", v.RecordID, err)
	}
	if v.InForce {
		return nil
	}
	d.N = -1
	if err := s.store.AddStats(ctx, "withdrawn|"+v.RecordID, []StatDelta{d}); err != nil {
		return fmt.Errorf("take back complaint %s: %w", v.RecordID, err)
	}
	return nil
}

// proposedBy reports whether one of the incidents v cites proposed the record.
func (s *Service) proposedBy(ctx context.Context, v Verdict) (bool, error) {
	switch v.Subject {
	case SubjectFirm, SubjectSite, SubjectStaff:
	default:
		return false, nil
	}
	for _, id := range v.IncidentIDs {
		inc, err := s.store.Incident(ctx, id)
		if errors.Is(err, credtrace.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("incident %s of record %s: %w", id, v.RecordID, err)
		}
		if slices.Contains(inc.RecordIDs, v.RecordID) {
			return true, nil
		}
	}
	return false, nil
}
