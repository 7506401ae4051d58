package courier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credtrace/credtrace"
)

// FirmInput describes a firm to register.
type FirmInput struct {
	USCC     string
	Name     string
	Kind     FirmKind
	ParentID string
	Region   string
	Licence  Licence
	GLN      string
}

// FirmPatch changes some fields of a firm; nil fields stay.
type FirmPatch struct {
	Name     *string
	ParentID *string
	Region   *string
	Licence  *Licence
	GLN      *string // "" removes it
}

func checkName(v *credtrace.Validation, field, name string, max int) {
	n := utf8.RuneCountInString(strings.TrimSpace(name))
	if n == 0 {
		v.Add(field, "required")
	} else if n > max {
		v.Add(field, "at most %d characters", max)
	}
}

func checkLicence(v *credtrace.Validation, l Licence) {
	if strings.TrimSpace(l.Number) == "" {
		v.Add("licence.number", "required")
	}
	if l.ValidFrom.IsZero() {
		v.Add("licence.valid_from", "required")
	}
	if l.ValidTo.IsZero() {
		v.Add("licence.valid_to", "required")
	} else if !l.ValidTo.After(l.ValidFrom) {
		v.Add("licence.valid_to", "must be after valid_from")
	}
	switch l.Status {
	case LicenceActive, LicenceSuspended, LicenceRevoked:
	default:
		v.Add("licence.status", "must be one of active, suspended, revoked")
	}
}

// checkParent validates the tree rules for a firm of kind with parent, and that id (empty for a
// new firm) would not become its own ancestor.
func checkParent(ctx context.Context, st Store, v *credtrace.Validation, id string, kind FirmKind, parent string) error {
	switch kind {
	case KindHQ:
		if parent != "" {
			v.Add("parent_id", "an hq has no parent")
		}
		return nil
	case KindBranch, KindOutlet:
		if parent == "" {
			v.Add("parent_id", "required for a %s", kind)
			return nil
		}
	default:
		v.Add("kind", "must be one of hq, branch, outlet")
		return nil
	}
	p, err := st.Firm(ctx, parent)
	if errors.Is(err, credtrace.ErrNotFound) {
		v.Add("parent_id", "no such firm")
		return nil
	}
	if err != nil {
		return err
	}
	if p.Kind == KindOutlet {
		v.Add("parent_id", "an outlet cannot have firms below it")
		return nil
	}
	if id != "" {
		below, err := inTree(ctx, st, id, parent)
		if err != nil {
			return err
		}
		if below {
			v.Add("parent_id", "would make a cycle in the franchise tree")
		}
	}
	return nil
}

// CreateFirm registers a firm (regulators only). It answers a *credtrace.Validation for bad fields
// and credtrace.ErrConflict when the USCC is taken.
func (s *Service) CreateFirm(ctx context.Context, a credtrace.Caller, in FirmInput) (Firm, error) {
	if err := requireRegulator(a); err != nil {
		return Firm{}, err
	}
	in.USCC = strings.ToUpper(strings.TrimSpace(in.USCC))
	in.Licence.ValidFrom, in.Licence.ValidTo = norm(in.Licence.ValidFrom), norm(in.Licence.ValidTo)
	v := &credtrace.Validation{}
	if why := CheckUSCC(in.USCC); why != "" {
		v.Add("uscc", "%s", why)
	}
	checkName(v, "name", in.Name, 200)
	if why := CheckRegion(in.Region); why != "" {
		v.Add("region", "%s", why)
	}
	checkLicence(v, in.Licence)
	in.GLN = strings.TrimSpace(in.GLN)
	if why := CheckGLN(in.GLN, false); why != "" {
		v.Add("gln", "%s", why)
	}
	if err := checkParent(ctx, s.store, v, "", in.Kind, in.ParentID); err != nil {
		return Firm{}, err
	}
	if err := v.Err(); err != nil {
		return Firm{}, err
	}
	now := s.Now()
	f := Firm{ID: newID(), USCC: in.USCC, Name: strings.TrimSpace(in.Name), Kind: in.Kind, ParentID: in.ParentID,
		Region: in.Region, Licence: in.Licence, GLN: in.GLN, CreatedAt: now, UpdatedAt: now, Version: 1}
	err := s.store.Atomic(ctx, func(st Store) error {
		if err := st.CreateFirm(ctx, f); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "firm.create", "firm", f.ID, "uscc="+f.USCC+" kind="+string(f.Kind)+" parent="+f.ParentID)
	})
	if errors.Is(err, credtrace.ErrConflict) {
		if f.GLN != "" {
			return Firm{}, fmt.Errorf("a firm with USCC %s or GLN %s is already registered: %w", f.USCC, f.GLN, credtrace.ErrConflict)
		}
		return Firm{}, fmt.Errorf("a firm with USCC %s is already registered: %w", f.USCC, credtrace.ErrConflict)
	}
	if err != nil {
		return Firm{}, fmt.Errorf("create firm: %w", err)
	}
	return f, nil
}

// UpdateFirm changes a firm (regulators only).
func (s *Service) UpdateFirm(ctx context.Context, a credtrace.Caller, id string, p FirmPatch) (Firm, error) {
	if err := requireRegulator(a); err != nil {
		return Firm{}, err
	}
	var out Firm
	err := s.store.Atomic(ctx, func(st Store) error {
		f, err := st.Firm(ctx, id)
		if err != nil {
			return err
		}
		v := &credtrace.Validation{}
		var changed []string
		if p.Name != nil {
			checkName(v, "name", *p.Name, 200)
			f.Name = strings.TrimSpace(*p.Name)
			changed = append(changed, "name")
		}
		if p.Region != nil {
			if why := CheckRegion(*p.Region); why != "" {
				v.Add("region", "%s", why)
			}
			f.Region = *p.Region
			changed = append(changed, "region")
		}
		if p.Licence != nil {
			l := *p.Licence
			l.ValidFrom, l.ValidTo = norm(l.ValidFrom), norm(l.ValidTo)
			checkLicence(v, l)
			if l.Status != f.Licence.Status {
				changed = append(changed, "licence.status="+string(l.Status))
			} else {
				changed = append(changed, "licence")
			}
			f.Licence = l
		}
		if p.GLN != nil {
			g := strings.TrimSpace(*p.GLN)
			if why := CheckGLN(g, false); why != "" {
				v.Add("gln", "%s", why)
			}
			f.GLN = g
			changed = append(changed, "gln="+g)
		}
		if p.ParentID != nil {
			if err := checkParent(ctx, st, v, f.ID, f.Kind, *p.ParentID); err != nil {
				return err
			}
			f.ParentID = *p.ParentID
			changed = append(changed, "parent="+f.ParentID)
		}
		if err := v.Err(); err != nil {
			return err
		}
		f.UpdatedAt = s.Now()
		f.Version++
		if err := st.UpdateFirm(ctx, f); err != nil {
			return err
		}
		if err := s.bumpTree(ctx, st); err != nil {
			return err
		}
		out = f
		return s.audit(ctx, st, a, "firm.update", "firm", f.ID, strings.Join(changed, " "))
	})
	if err != nil {
		return Firm{}, fmt.Errorf("update firm %s: %w", id, err)
	}
	return out, nil
}

// Firm returns one firm the actor may see.
func (s *Service) Firm(ctx context.Context, a credtrace.Caller, id string) (Firm, error) {
	if err := s.requireScope(ctx, a, id); err != nil {
		return Firm{}, err
	}
	return s.store.Firm(ctx, id)
}

// FirmByUSCC returns a firm by its code, for any actor: a firm's identity is public.
func (s *Service) FirmByUSCC(ctx context.Context, uscc string) (Firm, error) {
	return s.store.FirmByUSCC(ctx, strings.ToUpper(strings.TrimSpace(uscc)))
}

// FirmsByName lists, for any caller, at most limit firms whose name contains name: a firm's
// identity and licence status are public, as for FirmByUSCC. It answers credtrace.ErrInvalid for an
// empty name or a limit above MaxLimit.
func (s *Service) FirmsByName(ctx context.Context, name string, limit int) ([]Firm, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, credtrace.InvalidField("name", "required")
	}
	page, limit, err := pageOf("", limit)
	if err != nil {
		return nil, err
	}
	page.Limit = limit
	return s.store.Firms(ctx, FirmQuery{Name: name, Page: page})
}

// FirmIdentities returns the public identity (ID, USCC, Name, Kind, Region, licence status) of
// the firms ids, for any caller, as FirmByUSCC does for one, read in one query per MaxLimit ids
// whatever their number, so that a page listing many firms by id names them without a lookup
// each. Unknown ids are left out.
func (s *Service) FirmIdentities(ctx context.Context, ids []string) (map[string]Firm, error) {
	seen := map[string]bool{}
	var uniq []string
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	out := make(map[string]Firm, len(uniq))
	for len(uniq) > 0 {
		n := min(len(uniq), MaxLimit)
		fs, err := s.store.Firms(ctx, FirmQuery{IDs: uniq[:n], Page: Page{Limit: n}})
		if err != nil {
			return nil, fmt.Errorf("firm identities: %w", err)
		}
		for _, f := range fs {
			out[f.ID] = Firm{ID: f.ID, USCC: f.USCC, Name: f.Name, Kind: f.Kind, Region: f.Region, Licence: Licence{Status: f.Licence.Status}}
		}
		uniq = uniq[n:]
	}
	return out, nil
}

// Firms lists the firms an actor may see, filtered by q, one page at a time.
func (s *Service) Firms(ctx context.Context, a credtrace.Caller, q FirmQuery, cursor string, limit int) ([]Firm, string, error) {
	scope, err := s.scopeIDs(ctx, a)
	if err != nil {
		return nil, "", err
	}
	q.IDs = scope
	if q.Kind != "" && q.Kind != KindHQ && q.Kind != KindBranch && q.Kind != KindOutlet {
		return nil, "", credtrace.InvalidField("kind", "must be one of hq, branch, outlet")
	}
	if q.Licence != "" && q.Licence != LicenceActive && q.Licence != LicenceSuspended && q.Licence != LicenceRevoked {
		return nil, "", credtrace.InvalidField("licence_status", "must be one of active, suspended, revoked")
	}
	if q.Page, limit, err = pageOf(cursor, limit); err != nil {
		return nil, "", err
	}
	items, err := s.store.Firms(ctx, q)
	if err != nil {
		return nil, "", err
	}
	items, next := trim(items, limit, firmID)
	return items, next, nil
}

// ----- sites -----

// SiteInput describes a site.
type SiteInput struct {
	Name    string
	Kind    SiteKind
	Region  string
	Address string
	GLN     string
}

func checkSite(v *credtrace.Validation, in SiteInput) {
	if why := CheckGLN(strings.TrimSpace(in.GLN), true); why != "" {
		v.Add("gln", "%s", why)
	}
	checkName(v, "name", in.Name, 200)
	switch in.Kind {
	case SiteSortingCentre, SiteOutlet, SiteLocker:
	default:
		v.Add("kind", "must be one of sorting_centre, outlet, locker")
	}
	if why := CheckRegion(in.Region); why != "" {
		v.Add("region", "%s", why)
	}
	if utf8.RuneCountInString(in.Address) > 500 {
		v.Add("address", "at most 500 characters")
	}
}

// CreateSite registers a site of firm firmID (regulators, or the firm's own tree).
func (s *Service) CreateSite(ctx context.Context, a credtrace.Caller, firmID string, in SiteInput) (Site, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm {
		return Site{}, credtrace.ErrForbidden
	}
	if err := s.requireScope(ctx, a, firmID); err != nil {
		return Site{}, err
	}
	if _, err := s.store.Firm(ctx, firmID); err != nil {
		return Site{}, err
	}
	v := &credtrace.Validation{}
	checkSite(v, in)
	if err := v.Err(); err != nil {
		return Site{}, err
	}
	now := s.Now()
	site := Site{ID: newID(), FirmID: firmID, Name: strings.TrimSpace(in.Name), Kind: in.Kind, Region: in.Region,
		Address: in.Address, GLN: strings.TrimSpace(in.GLN), CreatedAt: now, UpdatedAt: now, Version: 1}
	err := s.store.Atomic(ctx, func(st Store) error {
		if err := st.CreateSite(ctx, site); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "site.create", "site", site.ID, "firm="+firmID)
	})
	if errors.Is(err, credtrace.ErrConflict) {
		return Site{}, fmt.Errorf("a site with GLN %s is already registered: %w", site.GLN, credtrace.ErrConflict)
	}
	if err != nil {
		return Site{}, fmt.Errorf("create site: %w", err)
	}
	return site, nil
}

// UpdateSite replaces a site's description.
func (s *Service) UpdateSite(ctx context.Context, a credtrace.Caller, id string, in SiteInput) (Site, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm {
		return Site{}, credtrace.ErrForbidden
	}
	var out Site
	err := s.store.Atomic(ctx, func(st Store) error {
		site, err := st.Site(ctx, id)
		if err != nil {
			return err
		}
		if err := s.requireScope(ctx, a, site.FirmID); err != nil {
			return err
		}
		v := &credtrace.Validation{}
		checkSite(v, in)
		if err := v.Err(); err != nil {
			return err
		}
		site.Name, site.Kind, site.Region, site.Address = strings.TrimSpace(in.Name), in.Kind, in.Region, in.Address
		site.GLN = strings.TrimSpace(in.GLN)
		site.UpdatedAt = s.Now()
		site.Version++
		if err := st.UpdateSite(ctx, site); err != nil {
			return err
		}
		if err := s.bumpTree(ctx, st); err != nil {
			return err
		}
		out = site
		return s.audit(ctx, st, a, "site.update", "site", id, "")
	})
	if err != nil {
		return Site{}, fmt.Errorf("update site %s: %w", id, err)
	}
	return out, nil
}

// SiteByGLN returns the site registered with a GLN (13 digits, or GLN.extension), for any
// actor: a GLN is a public location number, and the site's scans are checked against the
// carrier's tree where they are used.
func (s *Service) SiteByGLN(ctx context.Context, gln string) (Site, error) {
	return s.store.SiteByGLN(ctx, strings.TrimSpace(gln))
}

// FirmByGLN returns the firm registered with a party GLN, for any actor (as FirmByUSCC).
func (s *Service) FirmByGLN(ctx context.Context, gln string) (Firm, error) {
	return s.store.FirmByGLN(ctx, strings.TrimSpace(gln))
}

// Site returns one site the actor may see.
func (s *Service) Site(ctx context.Context, a credtrace.Caller, id string) (Site, error) {
	site, err := s.store.Site(ctx, id)
	if err != nil {
		return Site{}, err
	}
	if err := s.requireScope(ctx, a, site.FirmID); err != nil {
		return Site{}, err
	}
	return site, nil
}

// Sites lists the sites of one firm.
func (s *Service) Sites(ctx context.Context, a credtrace.Caller, firmID string, cursor string, limit int) ([]Site, string, error) {
	if err := s.requireScope(ctx, a, firmID); err != nil {
		return nil, "", err
	}
	if _, err := s.store.Firm(ctx, firmID); err != nil {
		return nil, "", err
	}
	p, limit, err := pageOf(cursor, limit)
	if err != nil {
		return nil, "", err
	}
	items, err := s.store.Sites(ctx, SiteQuery{FirmIDs: []string{firmID}, Page: p})
	if err != nil {
		return nil, "", err
	}
	items, next := trim(items, limit, siteID)
	return items, next, nil
}

// ----- staff -----

// StaffInput describes a person to register. IDNumber and Phone are used once, to hash and
// mask, and never kept.
type StaffInput struct {
	Name       string
	IDNumber   string
	Phone      string
	Employment *EmploymentInput
}

// EmploymentInput starts a period of work.
type EmploymentInput struct {
	FirmID string
	Role   string
	From   time.Time
}

// StaffPatch changes a person's name or phone.
type StaffPatch struct {
	Name  *string
	Phone *string
}

func (s *Service) checkEmployment(ctx context.Context, a credtrace.Caller, v *credtrace.Validation, prefix string, in EmploymentInput) error {
	field := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	if in.FirmID == "" {
		v.Add(field("firm_id"), "required")
	} else if _, err := s.store.Firm(ctx, in.FirmID); errors.Is(err, credtrace.ErrNotFound) {
		v.Add(field("firm_id"), "no such firm")
	} else if err != nil {
		return err
	} else if ok, err := s.InScope(ctx, a, in.FirmID); err != nil {
		return err
	} else if !ok {
		v.Add(field("firm_id"), "no such firm")
	}
	checkName(v, field("role"), in.Role, 64)
	if in.From.IsZero() {
		v.Add(field("from"), "required")
	} else if in.From.After(s.Now()) {
		v.Add(field("from"), "must not be in the future")
	}
	return nil
}

// checkPerson normalises a person's resident ID number and phone (trimmed; the ID's check
// character upper case) and checks them and the name, each error naming its field.
func checkPerson(v *credtrace.Validation, name string, idNumber, phone *string) {
	*idNumber = strings.ToUpper(strings.TrimSpace(*idNumber))
	*phone = strings.TrimSpace(*phone)
	checkName(v, "name", name, 64)
	if why := CheckResidentID(*idNumber); why != "" {
		v.Add("id_number", "%s", why)
	}
	if why := CheckPhone(*phone); why != "" {
		v.Add("phone", "%s", why)
	}
}

// CreateStaff registers a person (regulators, or a firm for its own tree). credtrace.ErrConflict when a
// person with the same ID number is registered.
func (s *Service) CreateStaff(ctx context.Context, a credtrace.Caller, in StaffInput) (Staff, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm {
		return Staff{}, credtrace.ErrForbidden
	}
	v := &credtrace.Validation{}
	checkPerson(v, in.Name, &in.IDNumber, &in.Phone)
	if in.Employment == nil && a.Role == credtrace.RoleFirm {
		v.Add("employment", "required when a firm registers a person")
	}
	if in.Employment != nil {
		in.Employment.From = norm(in.Employment.From)
		if err := s.checkEmployment(ctx, a, v, "employment", *in.Employment); err != nil {
			return Staff{}, err
		}
	}
	if err := v.Err(); err != nil {
		return Staff{}, err
	}
	now := s.Now()
	p := Staff{ID: newID(), Name: strings.TrimSpace(in.Name),
		IDHash: s.hasher.Hash("resident_id", in.IDNumber), IDMasked: MaskResidentID(in.IDNumber),
		PhoneHash: s.hasher.Hash("phone", in.Phone), PhoneMasked: MaskPhone(in.Phone),
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if e := in.Employment; e != nil {
		p.Employment = []Employment{{FirmID: e.FirmID, Role: strings.TrimSpace(e.Role), From: e.From}}
	}
	err := s.store.Atomic(ctx, func(st Store) error {
		if err := st.CreateStaff(ctx, p); err != nil {
			return err
		}
		return s.audit(ctx, st, a, "staff.create", "staff", p.ID, "")
	})
	if errors.Is(err, credtrace.ErrConflict) {
		return Staff{}, fmt.Errorf("a person with this ID number is already registered; another firm takes them on with a hire (POST /v1/staff/hire): %w", credtrace.ErrConflict)
	}
	if err != nil {
		return Staff{}, fmt.Errorf("create staff: %w", err)
	}
	return p, nil
}

// Staff returns one person as the actor may see them (see staffAccess and visibleStaff).
func (s *Service) Staff(ctx context.Context, a credtrace.Caller, id string) (Staff, error) {
	p, err := s.store.Staff(ctx, id)
	if err != nil {
		return Staff{}, err
	}
	acc, err := s.staffAccess(ctx, a, p)
	if err != nil {
		return Staff{}, err
	}
	if acc == accessNone {
		return Staff{}, credtrace.ErrNotFound
	}
	return s.visibleStaff(ctx, a, acc, p)
}

// FindStaff finds a person by resident ID number through its keyed hash (regulators only).
func (s *Service) FindStaff(ctx context.Context, a credtrace.Caller, idNumber string) (Staff, error) {
	if err := requireRegulator(a); err != nil {
		return Staff{}, err
	}
	idNumber = strings.ToUpper(strings.TrimSpace(idNumber))
	if why := CheckResidentID(idNumber); why != "" {
		return Staff{}, credtrace.InvalidField("id_number", "%s", why)
	}
	return s.store.StaffByIDHash(ctx, s.hasher.Hash("resident_id", idNumber))
}

// StaffList lists the people an actor may see.
func (s *Service) StaffList(ctx context.Context, a credtrace.Caller, firmID string, cursor string, limit int) ([]Staff, string, error) {
	scope, err := s.scopeIDs(ctx, a)
	if err != nil {
		return nil, "", err
	}
	q := StaffQuery{FirmIDs: scope}
	if firmID != "" {
		if err := s.requireScope(ctx, a, firmID); err != nil {
			return nil, "", err
		}
		q.FirmIDs = []string{firmID}
	}
	if q.Page, limit, err = pageOf(cursor, limit); err != nil {
		return nil, "", err
	}
	items, err := s.store.StaffList(ctx, q)
	if err != nil {
		return nil, "", err
	}
	items, next := trim(items, limit, staffID)
	for i, p := range items {
		acc, err := s.staffAccess(ctx, a, p)
		if err != nil {
			return nil, "", err
		}
		if items[i], err = s.visibleStaff(ctx, a, acc, p); err != nil {
			return nil, "", err
		}
	}
	return items, next, nil
}

// UpdateStaff changes a person's name or phone.
func (s *Service) UpdateStaff(ctx context.Context, a credtrace.Caller, id string, p StaffPatch) (Staff, error) {
	return s.changeStaff(ctx, a, id, "staff.update", func(st Store, person *Staff, v *credtrace.Validation) error {
		if p.Name != nil {
			checkName(v, "name", *p.Name, 64)
			person.Name = strings.TrimSpace(*p.Name)
		}
		if p.Phone != nil {
			phone := strings.TrimSpace(*p.Phone)
			if why := CheckPhone(phone); why != "" {
				v.Add("phone", "%s", why)
			}
			person.PhoneHash, person.PhoneMasked = s.hasher.Hash("phone", phone), MaskPhone(phone)
		}
		return nil
	})
}

// StartEmployment records that the person starts working for a firm; the open employment
// ends when the new one starts. Only a regulator or the firm tree of the open employment may
// (moving the person inside its tree); another firm hires with Hire.
func (s *Service) StartEmployment(ctx context.Context, a credtrace.Caller, id string, in EmploymentInput) (Staff, error) {
	in.From = norm(in.From)
	return s.changeStaff(ctx, a, id, "staff.employ", func(st Store, person *Staff, v *credtrace.Validation) error {
		if err := s.checkEmployment(ctx, a, v, "", in); err != nil {
			return err
		}
		startEmployment(v, person, in)
		return nil
	})
}

// startEmployment ends the open employment at in.From and appends the new one. in.From must
// come after the start of the open employment and not before the end of a closed one, so
// that periods never overlap.
func startEmployment(v *credtrace.Validation, person *Staff, in EmploymentInput) {
	for i := range person.Employment {
		e := &person.Employment[i]
		switch {
		case e.Open() && !in.From.After(e.From):
			v.Add("from", "must be after the start of the open employment at firm %s (%s)", e.FirmID, e.From.Format(time.RFC3339))
		case !e.Open() && in.From.Before(e.To):
			v.Add("from", "must not be before the end of the employment at firm %s (%s)", e.FirmID, e.To.Format(time.RFC3339))
		}
		if e.Open() {
			e.To = in.From
		}
	}
	person.Employment = append(person.Employment, Employment{FirmID: in.FirmID, Role: strings.TrimSpace(in.Role), From: in.From})
}

// EndEmployment closes the person's open employment at to.
func (s *Service) EndEmployment(ctx context.Context, a credtrace.Caller, id string, to time.Time) (Staff, error) {
	to = norm(to)
	return s.changeStaff(ctx, a, id, "staff.leave", func(st Store, person *Staff, v *credtrace.Validation) error {
		for i := range person.Employment {
			e := &person.Employment[i]
			if !e.Open() {
				continue
			}
			ok, err := s.InScope(ctx, a, e.FirmID)
			if err != nil {
				return err
			}
			if !ok {
				return credtrace.ErrNotFound
			}
			switch {
			case to.IsZero():
				v.Add("to", "required")
			case !to.After(e.From):
				v.Add("to", "must be after the start of the employment")
			case to.After(s.Now()):
				v.Add("to", "must not be in the future")
			}
			e.To = to
			return nil
		}
		return stateErr("the person has no open employment")
	})
}

// changeStaff applies change to person id for a regulator or the firm tree of the person's open
// employment: a former employer reads but may not change (credtrace.ErrForbidden), any other firm does
// not see the person (credtrace.ErrNotFound).
func (s *Service) changeStaff(ctx context.Context, a credtrace.Caller, id, action string, change func(Store, *Staff, *credtrace.Validation) error) (Staff, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm {
		return Staff{}, credtrace.ErrForbidden
	}
	var out Staff
	err := s.store.Atomic(ctx, func(st Store) error {
		p, err := st.Staff(ctx, id)
		if err != nil {
			return err
		}
		acc, err := s.staffAccess(ctx, a, p)
		if err != nil {
			return err
		}
		switch acc {
		case accessNone:
			return credtrace.ErrNotFound
		case accessFormer:
			return fmt.Errorf("only a regulator or the firm the person works for now may change them: %w", credtrace.ErrForbidden)
		}
		v := &credtrace.Validation{}
		if err := change(st, &p, v); err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		p.UpdatedAt = s.Now()
		p.Version++
		if err := st.UpdateStaff(ctx, p); err != nil {
			return err
		}
		if err := s.bumpTree(ctx, st); err != nil {
			return err
		}
		out = p
		return s.audit(ctx, st, a, action, "staff", id, "")
	})
	if err != nil {
		return Staff{}, fmt.Errorf("%s %s: %w", action, id, err)
	}
	return out, nil
}
