package courier

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
)

// staffAccess is what an actor may do with one person.
type staffAccess int

const (
	// accessNone: the person does not exist for the actor (credtrace.ErrNotFound).
	accessNone staffAccess = iota
	// accessFormer: a firm tree that employed the person in the past and does not now. It reads
	// the person and what happened during its employment, and changes nothing.
	accessFormer
	// accessCurrent: the firm tree of the person's open employment (an HQ token acts for its
	// branches and outlets, as everywhere). It reads and changes the person.
	accessCurrent
	// accessSelf: the person themselves (a staff token, or the public check by ID number and
	// phone). They read their whole file and object to records about them.
	accessSelf
	// accessFull: regulators.
	accessFull
)

// staffAccess decides what actor a may do with person p.
func (s *Service) staffAccess(ctx context.Context, a credtrace.Caller, p Staff) (staffAccess, error) {
	switch a.Role {
	case credtrace.RoleRegulator:
		return accessFull, nil
	case credtrace.RoleStaff:
		if a.StaffID != "" && a.StaffID == p.ID {
			return accessSelf, nil
		}
		return accessNone, nil
	case credtrace.RoleFirm:
	default:
		return accessNone, nil
	}
	if open, ok := openEmployment(p); ok {
		in, err := s.InScope(ctx, a, open.FirmID)
		if err != nil || in {
			return accessCurrent, err
		}
	}
	for _, id := range p.FirmIDs() {
		in, err := s.InScope(ctx, a, id)
		if err != nil {
			return accessNone, err
		}
		if in {
			return accessFormer, nil
		}
	}
	return accessNone, nil
}

// openEmployment returns the person's open employment.
func openEmployment(p Staff) (Employment, bool) {
	for i := len(p.Employment) - 1; i >= 0; i-- {
		if p.Employment[i].Open() {
			return p.Employment[i], true
		}
	}
	return Employment{}, false
}

// visibleStaff is person p as an actor with access acc sees them: a former employer sees only
// its own periods of the employment history, not where the person went afterwards.
func (s *Service) visibleStaff(ctx context.Context, a credtrace.Caller, acc staffAccess, p Staff) (Staff, error) {
	if acc != accessFormer {
		return p, nil
	}
	var own []Employment
	for _, e := range p.Employment {
		in, err := s.InScope(ctx, a, e.FirmID)
		if err != nil {
			return Staff{}, err
		}
		if in {
			own = append(own, e)
		}
	}
	p.Employment = own
	return p, nil
}

// EmployerMaySee is the rule of what a firm sees of a person's credit records. A firm sees every
// record it answers for (its tree employed the person when the record's event happened: the
// record's FirmID), in any status: what happened during its employment. The firm that employs
// the person now sees, besides, the records of other employers' periods that are in force and
// still inside their publicity window, the part of a courier's record that follows them to a
// new employer; never another employer's pending, dismissed, revoked or repaired records, nor
// those whose publicity window has closed. A former employer sees only its own.
func EmployerMaySee(r Record, own, employsNow bool, now time.Time) bool {
	return own || (employsNow && r.Public(now))
}

// filterStaffRecords keeps the records of a person that actor a with access acc may see.
func (s *Service) filterStaffRecords(ctx context.Context, a credtrace.Caller, acc staffAccess, recs []Record) ([]Record, error) {
	if acc == accessFull || acc == accessSelf {
		return recs, nil
	}
	now := s.Now()
	var out []Record
	for _, r := range recs {
		own := false
		if r.FirmID != "" {
			in, err := s.InScope(ctx, a, r.FirmID)
			if err != nil {
				return nil, err
			}
			own = in
		}
		if EmployerMaySee(r, own, acc == accessCurrent, now) {
			out = append(out, r)
		}
	}
	return out, nil
}

// HireInput takes on a registered person at a firm. The ID number identifies them; it is hashed
// and never kept or logged.
type HireInput struct {
	IDNumber string
	FirmID   string
	Role     string
	From     time.Time
}

// Hire takes a registered person on at firm in.FirmID (a regulator, or a firm for its own tree),
// whoever employed them before: the open employment, at any firm, ends at in.From, and the new
// one starts then. in.From must be after the start of the open employment and not before the
// end of a closed one (a field error on "from"). The person is found by their resident ID
// number; an unknown one is credtrace.ErrNotFound: hiring does not register a person, who is registered
// with CreateStaff (name and phone). Hiring into the firm that employs the person now is
// credtrace.ErrState. The answer is the person as the new employer sees them.
func (s *Service) Hire(ctx context.Context, a credtrace.Caller, in HireInput) (Staff, error) {
	if !a.IsRegulator() && a.Role != credtrace.RoleFirm {
		return Staff{}, credtrace.ErrForbidden
	}
	in.IDNumber = strings.ToUpper(strings.TrimSpace(in.IDNumber))
	in.From = norm(in.From)
	v := &credtrace.Validation{}
	if why := CheckResidentID(in.IDNumber); why != "" {
		v.Add("id_number", "%s", why)
	}
	emp := EmploymentInput{FirmID: in.FirmID, Role: in.Role, From: in.From}
	if err := s.checkEmployment(ctx, a, v, "", emp); err != nil {
		return Staff{}, err
	}
	if err := v.Err(); err != nil {
		return Staff{}, err
	}
	hash := s.hasher.Hash("resident_id", in.IDNumber)
	var out Staff
	err := s.store.Atomic(ctx, func(st Store) error {
		p, err := st.StaffByIDHash(ctx, hash)
		if errors.Is(err, credtrace.ErrNotFound) {
			return fmt.Errorf("no person with this ID number is registered; register them with their name and phone (POST /v1/staff): %w", credtrace.ErrNotFound)
		}
		if err != nil {
			return err
		}
		previous := ""
		if open, ok := openEmployment(p); ok {
			if open.FirmID == in.FirmID {
				return stateErr("the person already works for firm %s", in.FirmID)
			}
			previous = open.FirmID
		}
		startEmployment(v, &p, emp)
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
		return s.audit(ctx, st, a, "staff.hire", "staff", p.ID, "firm="+in.FirmID+" ended="+previous)
	})
	if err != nil {
		return Staff{}, fmt.Errorf("hire: %w", err)
	}
	return out, nil
}

// Limits of the person's own check by ID number and phone (Person).
const (
	// PersonGuesses wrong answers for one ID number lock its check.
	PersonGuesses = 5
	// AddressGuesses wrong answers from one address lock the check for that address.
	AddressGuesses = 20
	// GuessWindow is how long a lock lasts after the last wrong answer, and how far apart wrong
	// answers may be to add up.
	GuessWindow = time.Hour
)

// Person proves who a caller without a token is, by their resident ID number and phone, and
// returns the staff actor of that person: their own view. A wrong ID number and a wrong phone
// answer alike (credtrace.ErrNotFound), and each counts against the ID number and against the caller's
// address, in the store, so that every replica sees the count. After PersonGuesses wrong
// answers for one ID number, or AddressGuesses from one address, each within GuessWindow of
// the previous, the check answers ErrLocked until GuessWindow after the last: an ID number
// that nobody registered locks the same way, so a lock says nothing of who is registered.
func (s *Service) Person(ctx context.Context, idNumber, phone, address string) (credtrace.Caller, error) {
	idNumber = strings.ToUpper(strings.TrimSpace(idNumber))
	phone = strings.TrimSpace(phone)
	v := &credtrace.Validation{}
	if why := CheckResidentID(idNumber); why != "" {
		v.Add("id_number", "%s", why)
	}
	if why := CheckPhone(phone); why != "" {
		v.Add("phone", "%s", why)
	}
	if err := v.Err(); err != nil {
		return credtrace.Caller{}, err
	}
	idHash := s.hasher.Hash("resident_id", idNumber)
	keys := []struct {
		key string
		max int
	}{
		{"person:" + idHash, PersonGuesses},
		{"address:" + s.hasher.Hash("address", address), AddressGuesses},
	}
	now := s.Now()
	for _, k := range keys {
		g, err := s.store.Guesses(ctx, k.key)
		if err != nil {
			return credtrace.Caller{}, fmt.Errorf("person check: %w", err)
		}
		if g.Count >= k.max && now.Before(g.Last.Add(GuessWindow)) {
			return credtrace.Caller{}, ErrLocked
		}
	}
	p, err := s.store.StaffByIDHash(ctx, idHash)
	if err != nil && !errors.Is(err, credtrace.ErrNotFound) {
		return credtrace.Caller{}, fmt.Errorf("person check: %w", err)
	}
	phoneHash := s.hasher.Hash("phone", phone)
	if err == nil && subtle.ConstantTimeCompare([]byte(p.PhoneHash), []byte(phoneHash)) == 1 {
		return credtrace.Caller{TokenID: "self:" + p.ID, Role: credtrace.RoleStaff, StaffID: p.ID}, nil
	}
	for _, k := range keys {
		if _, err := s.store.AddGuess(ctx, k.key, now, GuessWindow); err != nil {
			return credtrace.Caller{}, fmt.Errorf("person check: %w", err)
		}
	}
	return credtrace.Caller{}, fmt.Errorf("no person matches this ID number and phone: %w", credtrace.ErrNotFound)
}
