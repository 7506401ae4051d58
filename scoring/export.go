package scoring

import (
	"context"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// ChangedAt is when the proposal or sanction last changed: proposed, reviewed, decided or
// lifted. An export's window selects by it (see courier.Window).
func (x Sanction) ChangedAt() time.Time {
	t := x.ProposedAt
	for _, at := range []time.Time{x.ReviewedAt, x.DecidedAt, x.LiftedAt} {
		if at.After(t) {
			t = at
		}
	}
	return t
}

// SanctionSet is which sanctions an export holds.
type SanctionSet string

// Sanction sets.
const (
	// RedListSet and BlackListSet are the firms on the public lists, as GET /v1/public/redlist
	// and /blacklist show them; SanctionsInForce every sanction in force, as the public
	// disclosure shows them. Anyone may export them.
	RedListSet       SanctionSet = "redlist"
	BlackListSet     SanctionSet = "blacklist"
	SanctionsInForce SanctionSet = "sanctions"
	// AllSanctions are the proposals and sanctions of every status: regulators only.
	AllSanctions SanctionSet = "sanctions_all"
)

// SanctionRow is one row of a sanction export: the sanction, its firm's code and name, and
// whether it is in the set (Live) or a withdrawal of an increment.
type SanctionRow struct {
	Sanction Sanction
	USCC     string
	Name     string
	Live     bool
}

// Public reports whether rows of set are public data (they then carry no record ids, runs or
// actors).
func (set SanctionSet) Public() bool { return set != AllSanctions }

func (set SanctionSet) holds(x Sanction, t time.Time) (in, once bool) {
	switch set {
	case RedListSet:
		if x.Kind != RedList {
			return false, false
		}
	case BlackListSet:
		if x.Kind != BlackList {
			return false, false
		}
	case AllSanctions:
		return true, true
	}
	return x.InForce(t), !x.DecidedAt.IsZero() && (x.Status == Approved || x.Status == Lifted)
}

// CheckSanctionExport answers ExportSanctions' refusal of a caller, set and window, before it reads.
func CheckSanctionExport(c credtrace.Caller, set SanctionSet, w courier.Window) error {
	switch set {
	case RedListSet, BlackListSet, SanctionsInForce:
	case AllSanctions:
		if !c.IsRegulator() {
			return credtrace.ErrForbidden
		}
	default:
		return credtrace.InvalidField("kind", "unknown sanction export %q", set)
	}
	return courier.CheckWindow(w)
}

// ExportSanctions streams the sanctions of set whose change falls in w to fn, in id order, a
// page at a time. The lists and the sanctions in force are open to anyone; every status to
// regulators (credtrace.ErrForbidden otherwise).
func (s *Service) ExportSanctions(ctx context.Context, c credtrace.Caller, set SanctionSet, w courier.Window, fn func(SanctionRow) error) error {
	if err := CheckSanctionExport(c, set, w); err != nil {
		return err
	}
	q := SanctionQuery{ChangedSince: w.Since, After: w.After, Limit: courier.ExportPage}
	switch set {
	case RedListSet:
		q.Kind = RedList
	case BlackListSet:
		q.Kind = BlackList
	}
	if w.PageSize > 0 && w.PageSize < q.Limit {
		q.Limit = w.PageSize
	}
	for {
		page, err := s.store.Sanctions(ctx, q)
		if err != nil {
			return fmt.Errorf("export %s: %w", set, err)
		}
		for _, x := range page {
			if !w.Holds(x.ChangedAt()) {
				continue
			}
			in, once := set.holds(x, w.Until)
			if !in && !(once && w.Increment()) {
				continue
			}
			f, err := s.archive.Firm(ctx, x.FirmID)
			if err != nil {
				return fmt.Errorf("export %s: sanction %s: firm %s: %w", set, x.ID, x.FirmID, err)
			}
			if err := fn(SanctionRow{Sanction: x, USCC: f.USCC, Name: f.Name, Live: in}); err != nil {
				return err
			}
		}
		if len(page) < q.Limit {
			return nil
		}
		q.After = page[len(page)-1].ID
	}
}
