package courier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/credtrace/credtrace"
)

// Outcome is what an import did with one item.
type Outcome string

// Outcomes. An item that breaks a rule is answered with its error (credtrace.Invalid, the
// fields named), never stored.
const (
	Created Outcome = "created"
	// Unchanged: the archive holds the item as given (a re-run of the same file).
	Unchanged Outcome = "unchanged"
	// Exists: the archive holds an item with the same key that differs from the one given; the
	// import leaves it as it is (the archive's own routes change it).
	Exists Outcome = "exists"
)

// CodeParentUnknown refines the Invalid error of a firm whose parent is not registered: the
// import runner tries such firms again once the rest of the file is in (a branch may come before
// its parent).
const CodeParentUnknown = "parent_unknown"

// importNS is the namespace of the ids that imports derive from the items' keys, so that a
// re-run, or two runs racing, meet the same id and the store's unique id refuses the second.
var importNS = uuid.MustParse("5b0e9d1c-3c3e-4d8e-9f0e-6f6b1c2a7d41")

func importID(parts ...string) string {
	return uuid.NewSHA1(importNS, []byte(strings.Join(parts, "\x00"))).String()
}

// FirmImport is a firm of a migration file; its parent is named by USCC.
type FirmImport struct {
	USCC       string
	Name       string
	Kind       FirmKind
	ParentUSCC string
	Region     string
	Licence    Licence
}

// CheckImporter refuses a caller other than a regulator: imports are for migrations by the
// supervising authority (credtrace.ErrForbidden).
func CheckImporter(a credtrace.Caller) error { return requireRegulator(a) }

func sameLicence(a, b Licence) bool {
	return a.Number == b.Number && a.Scope == b.Scope && a.Status == b.Status && a.ValidFrom.Equal(b.ValidFrom) && a.ValidTo.Equal(b.ValidTo)
}

// ImportFirm registers a firm of a migration file (regulators only). A firm whose USCC is
// registered is Unchanged when it matches, Exists otherwise. A parent that is not registered is
// Invalid with CodeParentUnknown.
func (s *Service) ImportFirm(ctx context.Context, a credtrace.Caller, in FirmImport) (Firm, Outcome, error) {
	if err := CheckImporter(a); err != nil {
		return Firm{}, "", err
	}
	in.USCC = strings.ToUpper(strings.TrimSpace(in.USCC))
	in.ParentUSCC = strings.ToUpper(strings.TrimSpace(in.ParentUSCC))
	in.Licence.ValidFrom, in.Licence.ValidTo = norm(in.Licence.ValidFrom), norm(in.Licence.ValidTo)
	parentID := ""
	if in.ParentUSCC != "" {
		p, err := s.store.FirmByUSCC(ctx, in.ParentUSCC)
		switch {
		case errors.Is(err, credtrace.ErrNotFound):
			return Firm{}, "", &credtrace.Error{Kind: credtrace.Invalid, Code: CodeParentUnknown,
				Msg:    "the parent is not registered, neither in the archive nor earlier in the file",
				Fields: []credtrace.FieldError{{Field: "parent_uscc", Reason: "no firm with this USCC"}}}
		case err != nil:
			return Firm{}, "", err
		}
		parentID = p.ID
	}
	if f, err := s.store.FirmByUSCC(ctx, in.USCC); err == nil {
		same := f.Name == strings.TrimSpace(in.Name) && f.Kind == in.Kind && f.ParentID == parentID && f.Region == in.Region && sameLicence(f.Licence, in.Licence)
		if same {
			return f, Unchanged, nil
		}
		return f, Exists, nil
	} else if !errors.Is(err, credtrace.ErrNotFound) {
		return Firm{}, "", err
	}
	f, err := s.CreateFirm(ctx, a, FirmInput{USCC: in.USCC, Name: in.Name, Kind: in.Kind, ParentID: parentID, Region: in.Region, Licence: in.Licence})
	if errors.Is(err, credtrace.ErrConflict) {
		// Another run registered it between the look-up and the write.
		f, err := s.store.FirmByUSCC(ctx, in.USCC)
		return f, Exists, err
	}
	if err != nil {
		return Firm{}, "", err
	}
	return f, Created, nil
}

// SiteImport is a site of a migration file: its firm by USCC; a firm's site is known by its name.
type SiteImport struct {
	FirmUSCC string
	SiteInput
}

// siteNamed finds firm's site called name; ok is false when there is none.
func (s *Service) siteNamed(ctx context.Context, firmID, name string) (Site, bool, error) {
	p := Page{Limit: MaxLimit}
	for {
		sites, err := s.store.Sites(ctx, SiteQuery{FirmIDs: []string{firmID}, Page: p})
		if err != nil {
			return Site{}, false, err
		}
		for _, site := range sites {
			if site.Name == name {
				return site, true, nil
			}
		}
		if len(sites) < p.Limit {
			return Site{}, false, nil
		}
		p.After = sites[len(sites)-1].ID
	}
}

// firmOfImport resolves the USCC of field to a firm; Invalid naming field when none.
func (s *Service) firmOfImport(ctx context.Context, field, uscc string) (Firm, error) {
	uscc = strings.ToUpper(strings.TrimSpace(uscc))
	if uscc == "" {
		return Firm{}, credtrace.InvalidField(field, "required")
	}
	f, err := s.store.FirmByUSCC(ctx, uscc)
	if errors.Is(err, credtrace.ErrNotFound) {
		return Firm{}, credtrace.InvalidField(field, "no firm with this USCC")
	}
	return f, err
}

// ImportSite registers a site of a migration file (regulators only): Unchanged or Exists when
// the firm has a site of that name.
func (s *Service) ImportSite(ctx context.Context, a credtrace.Caller, in SiteImport) (Site, Outcome, error) {
	if err := CheckImporter(a); err != nil {
		return Site{}, "", err
	}
	f, err := s.firmOfImport(ctx, "firm_uscc", in.FirmUSCC)
	if err != nil {
		return Site{}, "", err
	}
	v := &credtrace.Validation{}
	checkSite(v, in.SiteInput)
	if err := v.Err(); err != nil {
		return Site{}, "", err
	}
	name := strings.TrimSpace(in.Name)
	if site, ok, err := s.siteNamed(ctx, f.ID, name); err != nil {
		return Site{}, "", err
	} else if ok {
		if site.Kind == in.Kind && site.Region == in.Region && site.Address == in.Address {
			return site, Unchanged, nil
		}
		return site, Exists, nil
	}
	now := s.Now()
	site := Site{ID: importID("site", f.ID, name), FirmID: f.ID, Name: name, Kind: in.Kind, Region: in.Region,
		Address: in.Address, CreatedAt: now, UpdatedAt: now, Version: 1}
	err = s.store.Atomic(ctx, func(st Store) error {
		if err := st.CreateSite(ctx, site); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "site.import", "site", site.ID, "firm="+f.ID)
	})
	if errors.Is(err, credtrace.ErrConflict) {
		site, err := s.store.Site(ctx, site.ID)
		return site, Exists, err
	}
	if err != nil {
		return Site{}, "", fmt.Errorf("import site: %w", err)
	}
	return site, Created, nil
}

// EmploymentImport is one period of work of a migration file; To is zero while it is open.
type EmploymentImport struct {
	FirmUSCC string
	Role     string
	From, To time.Time
}

// StaffImport is a person of a migration file with their employment history, oldest first.
type StaffImport struct {
	Name       string
	IDNumber   string
	Phone      string
	Employment []EmploymentImport
}

// ImportStaff registers a person of a migration file with their employment history (regulators
// only). The person is known by their resident ID number (its keyed hash): Unchanged when the
// archive holds them with the same employments, Exists otherwise. Nothing personal is answered
// or audited in clear.
func (s *Service) ImportStaff(ctx context.Context, a credtrace.Caller, in StaffImport) (Staff, Outcome, error) {
	if err := CheckImporter(a); err != nil {
		return Staff{}, "", err
	}
	v := &credtrace.Validation{}
	checkPerson(v, in.Name, &in.IDNumber, &in.Phone)
	now := s.Now()
	var emp []Employment
	for i, e := range in.Employment {
		field := fmt.Sprintf("employment[%d]", i)
		e.From, e.To = norm(e.From), norm(e.To)
		f, err := s.firmOfImport(ctx, field+".firm_uscc", e.FirmUSCC)
		if credtrace.KindOf(err) == credtrace.Invalid {
			v.Fields = append(v.Fields, credtrace.FieldsOf(err)...)
		} else if err != nil {
			return Staff{}, "", err
		}
		checkName(v, field+".role", e.Role, 64)
		switch {
		case e.From.IsZero():
			v.Add(field+".from", "required")
		case e.From.After(now):
			v.Add(field+".from", "must not be in the future")
		case !e.To.IsZero() && !e.To.After(e.From):
			v.Add(field+".to", "must be after from")
		}
		if i > 0 {
			prev := in.Employment[i-1]
			if prev.To.IsZero() {
				v.Add(field, "an earlier employment is still open: only the last may be")
			} else if e.From.Before(norm(prev.To)) {
				v.Add(field+".from", "must not be before the end of the employment before it")
			}
		}
		emp = append(emp, Employment{FirmID: f.ID, Role: strings.TrimSpace(e.Role), From: e.From, To: e.To})
	}
	if err := v.Err(); err != nil {
		return Staff{}, "", err
	}
	hash := s.hasher.Hash("resident_id", in.IDNumber)
	if p, err := s.store.StaffByIDHash(ctx, hash); err == nil {
		if slices.EqualFunc(p.Employment, emp, func(x, y Employment) bool {
			return x.FirmID == y.FirmID && x.Role == y.Role && x.From.Equal(y.From) && x.To.Equal(y.To)
		}) {
			return p, Unchanged, nil
		}
		return p, Exists, nil
	} else if !errors.Is(err, credtrace.ErrNotFound) {
		return Staff{}, "", err
	}
	p := Staff{ID: newID(), Name: strings.TrimSpace(in.Name), IDHash: hash, IDMasked: MaskResidentID(in.IDNumber),
		PhoneHash: s.hasher.Hash("phone", in.Phone), PhoneMasked: MaskPhone(in.Phone), Employment: emp,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	err := s.store.Atomic(ctx, func(st Store) error {
		if err := st.CreateStaff(ctx, p); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "staff.import", "staff", p.ID, fmt.Sprintf("employments=%d", len(emp)))
	})
	if errors.Is(err, credtrace.ErrConflict) {
		p, err := s.store.StaffByIDHash(ctx, hash)
		return p, Exists, err
	}
	if err != nil {
		return Staff{}, "", fmt.Errorf("import staff: %w", err)
	}
	return p, Created, nil
}

// SubjectImport names a record's subject the way a migration file can: a firm by USCC, a site
// by its firm's USCC and its name, a person by resident ID number.
type SubjectImport struct {
	Kind     SubjectKind
	USCC     string
	SiteName string
	IDNumber string
}

// RecordImport is a historical record of a migration file. Ref is its key in the system it
// comes from: the archive derives the record's id from it, so that a re-run finds it. Status
// is where the record stood there: confirmed (the default), dismissed, revoked or repaired.
type RecordImport struct {
	Ref     string
	Subject SubjectImport
	RecordInput
	Status RecordStatus
}

// MaxRef is the longest key of an imported record.
const MaxRef = 200

func (s *Service) subjectOfImport(ctx context.Context, in SubjectImport) (Subject, error) {
	switch in.Kind {
	case SubjectFirm:
		f, err := s.firmOfImport(ctx, "subject.uscc", in.USCC)
		return Subject{Kind: SubjectFirm, ID: f.ID}, err
	case SubjectSite:
		f, err := s.firmOfImport(ctx, "subject.uscc", in.USCC)
		if err != nil {
			return Subject{}, err
		}
		site, ok, err := s.siteNamed(ctx, f.ID, strings.TrimSpace(in.SiteName))
		if err != nil {
			return Subject{}, err
		}
		if !ok {
			return Subject{}, credtrace.InvalidField("subject.site_name", "the firm has no site of this name")
		}
		return Subject{Kind: SubjectSite, ID: site.ID}, nil
	case SubjectStaff:
		id := strings.ToUpper(strings.TrimSpace(in.IDNumber))
		if why := CheckResidentID(id); why != "" {
			return Subject{}, credtrace.InvalidField("subject.id_number", "%s", why)
		}
		p, err := s.store.StaffByIDHash(ctx, s.hasher.Hash("resident_id", id))
		if errors.Is(err, credtrace.ErrNotFound) {
			return Subject{}, credtrace.InvalidField("subject.id_number", "no person with this ID number is registered")
		}
		return Subject{Kind: SubjectStaff, ID: p.ID}, err
	}
	return Subject{}, credtrace.InvalidField("subject.kind", "must be one of firm, site, staff")
}

// ImportRecord stores a historical record of a migration file (regulators only), with its
// decision date, as confirmed by the importing regulator (its clocks run from the decision, as
// every record's do) and then moved to the status it had. A record with the same Ref is
// Unchanged when its status matches, Exists otherwise.
func (s *Service) ImportRecord(ctx context.Context, a credtrace.Caller, in RecordImport) (Record, Outcome, error) {
	if err := CheckImporter(a); err != nil {
		return Record{}, "", err
	}
	in.Ref = strings.TrimSpace(in.Ref)
	if in.Ref == "" {
		return Record{}, "", credtrace.InvalidField("ref", "required: the record's key in the system it comes from")
	}
	if len(in.Ref) > MaxRef {
		return Record{}, "", credtrace.InvalidField("ref", "at most %d bytes", MaxRef)
	}
	if in.Status == "" {
		in.Status = StatusConfirmed
	}
	switch in.Status {
	case StatusConfirmed, StatusDismissed, StatusRevoked, StatusRepaired:
	default:
		return Record{}, "", credtrace.InvalidField("status", "must be one of confirmed, dismissed, revoked, repaired")
	}
	if in.DecidedAt.IsZero() {
		return Record{}, "", credtrace.InvalidField("decided_at", "required: the clocks of a historical record run from its decision")
	}
	id := importID("record", in.Ref)
	if r, err := s.store.Record(ctx, id); err == nil {
		if r.Status == in.Status {
			return r, Unchanged, nil
		}
		return r, Exists, nil
	} else if !errors.Is(err, credtrace.ErrNotFound) {
		return Record{}, "", err
	}
	sub, err := s.subjectOfImport(ctx, in.Subject)
	if err != nil {
		return Record{}, "", err
	}
	in.RecordInput.Subject = sub
	// The rules of an entry are CreateRecord's; a regulator's historical record may come from any source.
	r, err := s.newRecord(ctx, a, in.RecordInput)
	if err != nil {
		return Record{}, "", err
	}
	// The archive's history of it starts with the import: pending, then where it stood.
	r.ID, r.Status, r.History = id, StatusPending, nil
	r.ConfirmedAt, r.PublicUntil, r.RepairEligibleAt = time.Time{}, time.Time{}, time.Time{}
	now := s.Now()
	if in.Status == StatusDismissed {
		s.transition(&r, a, StatusDismissed, now, "imported")
	} else {
		s.confirm(&r, a, now, "imported")
		if in.Status != StatusConfirmed {
			s.transition(&r, a, in.Status, now, "imported")
		}
	}
	err = s.store.Atomic(ctx, func(st Store) error {
		if err := st.CreateRecord(ctx, r); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "record.import", "record", r.ID,
			fmt.Sprintf("subject=%s/%s category=%s severity=%s status=%s", r.Subject.Kind, r.Subject.ID, r.Category, r.Severity, r.Status))
	})
	if errors.Is(err, credtrace.ErrConflict) {
		r, err := s.store.Record(ctx, id)
		return r, Exists, err
	}
	if err != nil {
		return Record{}, "", fmt.Errorf("import record: %w", err)
	}
	if err := s.tell(ctx, false, r); err != nil {
		return r, Created, err
	}
	return r, Created, nil
}

// AuditImport appends the summary of an import run to the audit trail: the kind and the
// counts by outcome (no content of the file).
func (s *Service) AuditImport(ctx context.Context, a credtrace.Caller, kind, detail string) error {
	if err := CheckImporter(a); err != nil {
		return err
	}
	return s.store.Atomic(ctx, func(st Store) error {
		return s.audit(ctx, st, a, "import.run", "import", kind, detail)
	})
}
