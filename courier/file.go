package courier

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/credtrace/credtrace"
)

// FirmFile is a firm's credit file (信用档案) as regulators and the firm's own tree see it.
type FirmFile struct {
	Firm        Firm
	Sites       []Site
	Records     []Record // the firm's and its sites' records, every status
	Commitments []Commitment
	Objections  []Objection
	AsOf        time.Time
}

// StaffFile is a person's credit file; it follows the person across employers.
type StaffFile struct {
	Staff       Staff
	Records     []Record
	Commitments []Commitment
	Objections  []Objection
	AsOf        time.Time
}

// Disclosure is what the public may see of a firm: nothing personal, nothing pending.
type Disclosure struct {
	Firm        Firm
	Records     []Record // in force and inside their publicity window
	Commitments []Commitment
	AsOf        time.Time
}

func (s *Service) subjectRecords(ctx context.Context, subs []Subject) ([]Record, error) {
	recs, err := all(func(p Page) ([]Record, error) {
		return s.store.Records(ctx, RecordQuery{Subjects: subs, Page: p})
	}, recordID)
	if err != nil {
		return nil, err
	}
	return bySubject(recs, subs, func(r Record) Subject { return r.Subject }), nil
}

func (s *Service) subjectCommitments(ctx context.Context, subs []Subject) ([]Commitment, error) {
	cs, err := all(func(p Page) ([]Commitment, error) {
		return s.store.Commitments(ctx, CommitmentQuery{Subjects: subs, Page: p})
	}, commitmentID)
	if err != nil {
		return nil, err
	}
	return bySubject(cs, subs, func(c Commitment) Subject { return c.Subject }), nil
}

// bySubject orders items (read in id order with one query over subs) subject by subject, in the
// order of subs, id order within each: the order of one query per subject.
func bySubject[T any](items []T, subs []Subject, subject func(T) Subject) []T {
	rank := make(map[Subject]int, len(subs))
	for i, sub := range subs {
		if _, ok := rank[sub]; !ok {
			rank[sub] = i
		}
	}
	slices.SortStableFunc(items, func(a, b T) int { return rank[subject(a)] - rank[subject(b)] })
	return items
}

func (s *Service) recordObjections(ctx context.Context, recs []Record) ([]Objection, error) {
	var out []Objection
	for _, r := range recs {
		if len(r.History) == 0 {
			continue
		}
		disputed := false
		for _, h := range r.History {
			if h.To == StatusDisputed {
				disputed = true
			}
		}
		if !disputed {
			continue
		}
		os, err := all(func(p Page) ([]Objection, error) {
			return s.store.Objections(ctx, ObjectionQuery{RecordID: r.ID, Page: p})
		}, objectionID)
		if err != nil {
			return nil, err
		}
		out = append(out, os...)
	}
	return out, nil
}

// firmSubjects lists the firm and its sites as record subjects.
func (s *Service) firmSubjects(ctx context.Context, id string) ([]Site, []Subject, error) {
	sites, err := all(func(p Page) ([]Site, error) {
		return s.store.Sites(ctx, SiteQuery{FirmIDs: []string{id}, Page: p})
	}, siteID)
	if err != nil {
		return nil, nil, err
	}
	subs := []Subject{{Kind: SubjectFirm, ID: id}}
	for _, site := range sites {
		subs = append(subs, Subject{Kind: SubjectSite, ID: site.ID})
	}
	return sites, subs, nil
}

// FirmFile assembles the credit file of firm id for a regulator or the firm's own tree.
func (s *Service) FirmFile(ctx context.Context, a credtrace.Caller, id string) (FirmFile, error) {
	if err := s.requireScope(ctx, a, id); err != nil {
		return FirmFile{}, err
	}
	f, err := s.store.Firm(ctx, id)
	if err != nil {
		return FirmFile{}, err
	}
	file := FirmFile{Firm: f, AsOf: s.Now()}
	var subs []Subject
	if file.Sites, subs, err = s.firmSubjects(ctx, id); err != nil {
		return FirmFile{}, fmt.Errorf("firm file %s: %w", id, err)
	}
	if file.Records, err = s.subjectRecords(ctx, subs); err != nil {
		return FirmFile{}, fmt.Errorf("firm file %s: %w", id, err)
	}
	if file.Commitments, err = s.subjectCommitments(ctx, subs); err != nil {
		return FirmFile{}, fmt.Errorf("firm file %s: %w", id, err)
	}
	if file.Objections, err = s.recordObjections(ctx, file.Records); err != nil {
		return FirmFile{}, fmt.Errorf("firm file %s: %w", id, err)
	}
	return file, nil
}

// StaffFile assembles a person's credit file: regulators and the person themselves see every
// record about them; a firm that employs or employed them sees what EmployerMaySee lets it.
func (s *Service) StaffFile(ctx context.Context, a credtrace.Caller, id string) (StaffFile, error) {
	p, err := s.store.Staff(ctx, id)
	if err != nil {
		return StaffFile{}, err
	}
	acc, err := s.staffAccess(ctx, a, p)
	if err != nil {
		return StaffFile{}, err
	}
	if acc == accessNone {
		return StaffFile{}, credtrace.ErrNotFound
	}
	if p, err = s.visibleStaff(ctx, a, acc, p); err != nil {
		return StaffFile{}, err
	}
	file := StaffFile{Staff: p, AsOf: s.Now()}
	subs := []Subject{{Kind: SubjectStaff, ID: id}}
	recs, err := s.subjectRecords(ctx, subs)
	if err != nil {
		return StaffFile{}, fmt.Errorf("staff file %s: %w", id, err)
	}
	if file.Records, err = s.filterStaffRecords(ctx, a, acc, recs); err != nil {
		return StaffFile{}, fmt.Errorf("staff file %s: %w", id, err)
	}
	if file.Commitments, err = s.subjectCommitments(ctx, subs); err != nil {
		return StaffFile{}, fmt.Errorf("staff file %s: %w", id, err)
	}
	if file.Objections, err = s.recordObjections(ctx, file.Records); err != nil {
		return StaffFile{}, fmt.Errorf("staff file %s: %w", id, err)
	}
	return file, nil
}

// Disclose returns the public disclosure of the firm with code uscc: identity, licence status,
// the firm's and its sites' records in force inside their publicity window, and commitments.
func (s *Service) Disclose(ctx context.Context, uscc string) (Disclosure, error) {
	f, err := s.FirmByUSCC(ctx, uscc)
	if err != nil {
		return Disclosure{}, err
	}
	now := s.Now()
	d := Disclosure{Firm: f, AsOf: now}
	_, subs, err := s.firmSubjects(ctx, f.ID)
	if err != nil {
		return Disclosure{}, fmt.Errorf("disclose %s: %w", uscc, err)
	}
	recs, err := s.subjectRecords(ctx, subs)
	if err != nil {
		return Disclosure{}, fmt.Errorf("disclose %s: %w", uscc, err)
	}
	for _, r := range recs {
		if r.Public(now) {
			d.Records = append(d.Records, r)
		}
	}
	if d.Commitments, err = s.subjectCommitments(ctx, subs[:1]); err != nil {
		return Disclosure{}, fmt.Errorf("disclose %s: %w", uscc, err)
	}
	return d, nil
}
