package courier

import (
	"context"
	"fmt"
	"time"

	"github.com/credtrace/credtrace"
)

// ExportSettle is how far behind the clock an export's window ends. A write stamps its change
// with the service clock before it commits; a window that ended at the clock could pass over a
// change stamped just before its end that commits just after it, and the next increment, which
// starts there, would miss it. Every store write gives up well inside this margin.
const ExportSettle = 15 * time.Second

// ExportPage is how many rows an export reads from the store at a time.
const ExportPage = MaxLimit

// Window selects the rows of an export: those whose change time lies in [Since, Until), read
// from the store in id order after After, PageSize at a time. An increment's next window
// starts at the previous one's Until, so that every change lands in exactly one window: the
// cursor of an export is its Until. A row changed again after its window moves to the window of
// its new change; a row that left the published set in the window comes as a withdrawal
// (ExportRow.Live false) so that a consumer of increments drops it.
type Window struct {
	Since    time.Time // zero: from the beginning (a full export, without withdrawals)
	Until    time.Time // the export's as-of time; public state is judged at it
	After    string
	PageSize int // 0: ExportPage
}

// Increment reports whether w continues an earlier export.
func (w Window) Increment() bool { return !w.Since.IsZero() }

// Holds reports whether a row changed at t falls in w.
func (w Window) Holds(t time.Time) bool {
	return !t.Before(w.Since) && t.Before(w.Until)
}

func (w Window) page() int {
	if w.PageSize <= 0 || w.PageSize > ExportPage {
		return ExportPage
	}
	return w.PageSize
}

// CheckWindow validates a window: it ends somewhere, and not before it starts (an empty window,
// Since equal to Until, holds nothing).
func CheckWindow(w Window) error {
	if w.Until.IsZero() {
		return credtrace.InvalidField("until", "required")
	}
	if w.Since.After(w.Until) {
		return credtrace.InvalidField("since", "must not be after the export's end, %s (exports end %s behind the clock)",
			w.Until.Format(time.RFC3339), ExportSettle)
	}
	return nil
}

// ExportUntil is the end of an export window asked for now.
func (s *Service) ExportUntil() time.Time { return s.Now().Add(-ExportSettle) }

// ChangedAt is when the record last changed: its entry, a transition, a repair request or
// decision. Every change of a record adds one of these, so an export's window selects by it.
func (r Record) ChangedAt() time.Time {
	t := r.CreatedAt
	for _, h := range r.History {
		if h.At.After(t) {
			t = h.At
		}
	}
	for _, rp := range r.Repairs {
		if rp.RequestedAt.After(t) {
			t = rp.RequestedAt
		}
		if rp.DecidedAt.After(t) {
			t = rp.DecidedAt
		}
	}
	return t
}

// RecordSet is which records an export holds.
type RecordSet string

// Record sets.
const (
	// Disclosures are the records of firms and sites (never of people) inside their publicity
	// window: the public disclosure of every firm at once. Anyone may export them.
	Disclosures RecordSet = "disclosures"
	// InForce are the records in force (confirmed, disputed, upheld), staff's included, staff
	// named by their pseudonymous id only. Regulators only.
	InForce RecordSet = "records"
	// AllRecords are the records of every status: the full data. Regulators only.
	AllRecords RecordSet = "records_all"
)

// RecordRow is one row of a record export: the record, the firm that answers for it, and
// whether it is in the set (Live) or a withdrawal of an increment.
type RecordRow struct {
	Record Record
	Firm   Firm
	Live   bool
}

// inSet reports whether r is in set at t, and whether it may have been once (so that an
// increment withdraws it).
func inSet(set RecordSet, r Record, t time.Time) (in, once bool) {
	switch set {
	case Disclosures:
		if r.Subject.Kind == SubjectStaff {
			return false, false
		}
		return r.Public(t), !r.ConfirmedAt.IsZero()
	case InForce:
		return r.Status.InForce(), !r.ConfirmedAt.IsZero()
	}
	return true, true
}

// CheckRecordExport answers ExportRecords' refusal of a caller, set and window, before it reads.
func CheckRecordExport(a credtrace.Caller, set RecordSet, w Window) error {
	switch set {
	case Disclosures:
	case InForce, AllRecords:
		if err := requireRegulator(a); err != nil {
			return err
		}
	default:
		return credtrace.InvalidField("kind", "unknown record export %q", set)
	}
	return CheckWindow(w)
}

// ExportRecords streams the records of set whose change falls in w to fn, in id order, page by
// page: it never holds more than a page. Disclosures are open to anyone; records in force and
// the full data to regulators (credtrace.ErrForbidden otherwise). A bad window is Invalid.
func (s *Service) ExportRecords(ctx context.Context, a credtrace.Caller, set RecordSet, w Window, fn func(RecordRow) error) error {
	if err := CheckRecordExport(a, set, w); err != nil {
		return err
	}
	p := Page{After: w.After, Limit: w.page()}
	for {
		recs, err := s.store.Records(ctx, RecordQuery{ChangedSince: w.Since, Page: p})
		if err != nil {
			return fmt.Errorf("export %s: %w", set, err)
		}
		firms := map[string]Firm{}
		for _, r := range recs {
			if !w.Holds(r.ChangedAt()) {
				continue
			}
			in, once := inSet(set, r, w.Until)
			if !in && !(once && w.Increment()) {
				continue
			}
			f, ok := firms[r.FirmID]
			if !ok && r.FirmID != "" {
				if f, err = s.store.Firm(ctx, r.FirmID); err != nil {
					return fmt.Errorf("export %s: record %s: firm %s: %w", set, r.ID, r.FirmID, err)
				}
				firms[r.FirmID] = f
			}
			if err := fn(RecordRow{Record: r, Firm: f, Live: in}); err != nil {
				return err
			}
		}
		if len(recs) < p.Limit {
			return nil
		}
		p.After = recs[len(recs)-1].ID
	}
}

// FirmReport is the credit file of firm id as a regulator exports it (the JSON document and the
// printable 信用报告): regulators only (credtrace.ErrForbidden), since it is a report for other
// authorities, not the firm's own view.
func (s *Service) FirmReport(ctx context.Context, a credtrace.Caller, id string) (FirmFile, error) {
	if err := requireRegulator(a); err != nil {
		return FirmFile{}, err
	}
	return s.FirmFile(ctx, a, id)
}
