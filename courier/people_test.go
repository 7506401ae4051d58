package courier_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// person registers a person employed by firmID since 60 days before start and returns them
// with their ID number.
func (f *fixture) person(t *testing.T, firmID string) (courier.Staff, string) {
	t.Helper()
	id := f.nextResidentID()
	p, err := f.svc.CreateStaff(f.ctx, f.reg, courier.StaffInput{Name: "张三", IDNumber: id, Phone: mobile,
		Employment: &courier.EmploymentInput{FirmID: firmID, Role: "courier", From: start.AddDate(0, 0, -60)}})
	if err != nil {
		t.Fatalf("create staff: %v", err)
	}
	return p, id
}

// staffRecord enters a record about person p that happened at, from source src (regulators'
// records start confirmed, consumers' pending).
func (f *fixture) staffRecord(t *testing.T, p courier.Staff, src courier.Source, at time.Time) courier.Record {
	t.Helper()
	in := recordInput(courier.Subject{Kind: courier.SubjectStaff, ID: p.ID}, src, courier.CatDeliverySafety, courier.SevMinor)
	in.OccurredAt = at
	r, err := f.svc.CreateRecord(f.ctx, f.reg, in)
	if err != nil {
		t.Fatalf("create staff record: %v", err)
	}
	return r
}

func TestHire(t *testing.T) {
	f := newFixture(t)
	hqA := f.firm(t, courier.KindHQ, "")
	hqB := f.firm(t, courier.KindHQ, "")
	outletB := f.firm(t, courier.KindOutlet, hqB.ID)
	asB := f.firmActor(t, hqB.ID)
	p, idNumber := f.person(t, hqA.ID) // at A since start-60d
	hired := start.AddDate(0, 0, -10)

	refused := []struct {
		name  string
		actor credtrace.Caller
		in    courier.HireInput
		want  error
		field string
	}{
		{"unknown ID number", asB, courier.HireInput{IDNumber: f.nextResidentID(), FirmID: outletB.ID, Role: "courier", From: hired}, credtrace.ErrNotFound, ""},
		{"malformed ID number", asB, courier.HireInput{IDNumber: "110105194912310021", FirmID: outletB.ID, Role: "courier", From: hired}, credtrace.ErrInvalid, "id_number"},
		{"before the open employment started", asB, courier.HireInput{IDNumber: idNumber, FirmID: outletB.ID, Role: "courier", From: start.AddDate(0, 0, -61)}, credtrace.ErrInvalid, "from"},
		{"in the future", asB, courier.HireInput{IDNumber: idNumber, FirmID: outletB.ID, Role: "courier", From: start.Add(time.Hour)}, credtrace.ErrInvalid, "from"},
		{"into another brand", asB, courier.HireInput{IDNumber: idNumber, FirmID: hqA.ID, Role: "courier", From: hired}, credtrace.ErrInvalid, "firm_id"},
		{"into the firm of the open employment", f.reg, courier.HireInput{IDNumber: idNumber, FirmID: hqA.ID, Role: "courier", From: hired}, credtrace.ErrState, ""},
		{"by a platform", f.actor(t, courier.TokenInput{Role: credtrace.RolePlatform}), courier.HireInput{IDNumber: idNumber, FirmID: outletB.ID, Role: "courier", From: hired}, credtrace.ErrForbidden, ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			_, err := f.svc.Hire(f.ctx, tt.actor, tt.in)
			wantErr(t, err, tt.want, tt.field)
			f.wantAudit(t, before, 0)
			stored, err := f.st.Staff(f.ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Version != p.Version {
				t.Errorf("person changed by a refused hire: %+v", stored.Employment)
			}
		})
	}

	t.Run("another brand hires, ending the open employment", func(t *testing.T) {
		before := f.auditSeq(t)
		got, err := f.svc.Hire(f.ctx, asB, courier.HireInput{IDNumber: " " + idNumber + " ", FirmID: outletB.ID, Role: "courier", From: hired})
		if err != nil {
			t.Fatal(err)
		}
		want := []courier.Employment{
			{FirmID: hqA.ID, Role: "courier", From: start.AddDate(0, 0, -60), To: hired},
			{FirmID: outletB.ID, Role: "courier", From: hired},
		}
		if !slices.Equal(got.Employment, want) {
			t.Errorf("employment = %+v, want %+v", got.Employment, want)
		}
		f.wantAudit(t, before, 1)
		if firm, ok, err := f.svc.StaffFirm(f.ctx, p.ID); err != nil || !ok || firm != outletB.ID {
			t.Errorf("StaffFirm = %q, %v, %v; want %s", firm, ok, err, outletB.ID)
		}
	})

	t.Run("hiring back before the end of the closed employment", func(t *testing.T) {
		_, err := f.svc.Hire(f.ctx, f.reg, courier.HireInput{IDNumber: idNumber, FirmID: hqA.ID, Role: "courier", From: hired.Add(-time.Hour)})
		wantErr(t, err, credtrace.ErrInvalid, "from")
	})
}

// TestOnlyTheCurrentEmployerChanges: after a hire the former employer reads the person but
// changes nothing; the new employer's tree, HQ included, changes them.
func TestOnlyTheCurrentEmployerChanges(t *testing.T) {
	f := newFixture(t)
	hqA := f.firm(t, courier.KindHQ, "")
	hqB := f.firm(t, courier.KindHQ, "")
	outletB := f.firm(t, courier.KindOutlet, hqB.ID)
	hqC := f.firm(t, courier.KindHQ, "")
	asA, asB, asOutletB, asC := f.firmActor(t, hqA.ID), f.firmActor(t, hqB.ID), f.firmActor(t, outletB.ID), f.firmActor(t, hqC.ID)
	p, idNumber := f.person(t, hqA.ID)
	if _, err := f.svc.Hire(f.ctx, asOutletB, courier.HireInput{IDNumber: idNumber, FirmID: outletB.ID, Role: "courier", From: start.AddDate(0, 0, -10)}); err != nil {
		t.Fatal(err)
	}
	name, phone := "张三丰", "13900139000"
	changes := []struct {
		name string
		do   func(a credtrace.Caller) error
	}{
		{"change the name and phone", func(a credtrace.Caller) error {
			_, err := f.svc.UpdateStaff(f.ctx, a, p.ID, courier.StaffPatch{Name: &name, Phone: &phone})
			return err
		}},
		{"start an employment", func(a credtrace.Caller) error {
			_, err := f.svc.StartEmployment(f.ctx, a, p.ID, courier.EmploymentInput{FirmID: a.FirmID, Role: "sorter", From: start.AddDate(0, 0, -5)})
			return err
		}},
		{"end the open employment", func(a credtrace.Caller) error {
			_, err := f.svc.EndEmployment(f.ctx, a, p.ID, start.AddDate(0, 0, -1))
			return err
		}},
	}
	for _, c := range changes {
		for _, tt := range []struct {
			who   string
			actor credtrace.Caller
			want  error
		}{
			{"former employer", asA, credtrace.ErrForbidden},
			{"a firm that never employed them", asC, credtrace.ErrNotFound},
		} {
			t.Run(c.name+" by "+tt.who, func(t *testing.T) {
				before := f.auditSeq(t)
				wantErr(t, c.do(tt.actor), tt.want, "")
				f.wantAudit(t, before, 0)
			})
		}
	}
	t.Run("the new employer's HQ changes them", func(t *testing.T) {
		got, err := f.svc.UpdateStaff(f.ctx, asB, p.ID, courier.StaffPatch{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name {
			t.Errorf("name = %q, want %q", got.Name, name)
		}
	})
	t.Run("the former employer sees only its own period", func(t *testing.T) {
		got, err := f.svc.Staff(f.ctx, asA, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Employment) != 1 || got.Employment[0].FirmID != hqA.ID {
			t.Errorf("employment seen by the former employer = %+v, want only the period at %s", got.Employment, hqA.ID)
		}
	})
}

// TestStaffFileByViewer: what each party sees of a person's records after a move (EmployerMaySee).
func TestStaffFileByViewer(t *testing.T) {
	f := newFixture(t)
	hqA := f.firm(t, courier.KindHQ, "")
	hqB := f.firm(t, courier.KindHQ, "")
	asA, asB := f.firmActor(t, hqA.ID), f.firmActor(t, hqB.ID)
	p, idNumber := f.person(t, hqA.ID)
	atA := start.AddDate(0, 0, -30)
	confirmedA := f.staffRecord(t, p, courier.SrcRegulator, atA)
	pendingA := f.staffRecord(t, p, courier.SrcConsumer, atA)
	dismissedA := f.staffRecord(t, p, courier.SrcConsumer, atA)
	if _, err := f.svc.DismissRecord(f.ctx, f.reg, dismissedA.ID, "查无实据"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Hire(f.ctx, asB, courier.HireInput{IDNumber: idNumber, FirmID: hqB.ID, Role: "courier", From: start.AddDate(0, 0, -10)}); err != nil {
		t.Fatal(err)
	}
	atB := start.AddDate(0, 0, -5)
	confirmedB := f.staffRecord(t, p, courier.SrcRegulator, atB)
	pendingB := f.staffRecord(t, p, courier.SrcConsumer, atB)
	self := f.actor(t, courier.TokenInput{Role: credtrace.RoleStaff, StaffID: p.ID})
	everything := sorted(confirmedA.ID, pendingA.ID, dismissedA.ID, confirmedB.ID, pendingB.ID)

	file := func(t *testing.T, a credtrace.Caller) []string {
		t.Helper()
		got, err := f.svc.StaffFile(f.ctx, a, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return recordIDs(got.Records)
	}
	tests := []struct {
		name  string
		actor credtrace.Caller
		want  []string
	}{
		{"regulator", f.reg, everything},
		{"the person", self, everything},
		{"new employer: its own, and the former employer's confirmed one in its publicity window", asB, sorted(confirmedA.ID, confirmedB.ID, pendingB.ID)},
		{"former employer: what happened during its employment", asA, sorted(confirmedA.ID, pendingA.ID, dismissedA.ID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := file(t, tt.actor); !slices.Equal(got, tt.want) {
				t.Errorf("records = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("after the publicity window the new employer no longer sees it", func(t *testing.T) {
		f.clock.Set(confirmedA.PublicUntil.Add(time.Hour))
		defer f.clock.Set(start)
		if got, want := file(t, asB), sorted(confirmedB.ID, pendingB.ID); !slices.Equal(got, want) {
			t.Errorf("records = %v, want %v", got, want)
		}
		if got, want := file(t, asA), sorted(confirmedA.ID, pendingA.ID, dismissedA.ID); !slices.Equal(got, want) {
			t.Errorf("former employer's records = %v, want %v", got, want)
		}
	})
}

func TestStaffToken(t *testing.T) {
	f := newFixture(t)
	hqA := f.firm(t, courier.KindHQ, "")
	hqB := f.firm(t, courier.KindHQ, "")
	asA, asB := f.firmActor(t, hqA.ID), f.firmActor(t, hqB.ID)
	p, idNumber := f.person(t, hqA.ID)
	other, _ := f.person(t, hqA.ID)
	issue := func(a credtrace.Caller, in courier.TokenInput) (credtrace.Caller, error) {
		_, secret, err := f.svc.IssueToken(f.ctx, a, in)
		if err != nil {
			return credtrace.Caller{}, err
		}
		return f.svc.Authenticate(f.ctx, secret)
	}
	refused := []struct {
		name  string
		actor credtrace.Caller
		in    courier.TokenInput
		want  error
		field string
	}{
		{"a firm issuing a firm token", asA, courier.TokenInput{Role: credtrace.RoleFirm, FirmID: hqA.ID}, credtrace.ErrForbidden, ""},
		{"for a person of another brand", asB, courier.TokenInput{Role: credtrace.RoleStaff, StaffID: p.ID}, credtrace.ErrInvalid, "staff_id"},
		{"without a person", f.reg, courier.TokenInput{Role: credtrace.RoleStaff}, credtrace.ErrInvalid, "staff_id"},
		{"a person on a firm token", f.reg, courier.TokenInput{Role: credtrace.RoleFirm, FirmID: hqA.ID, StaffID: p.ID}, credtrace.ErrInvalid, "staff_id"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := issue(tt.actor, tt.in)
			wantErr(t, err, tt.want, tt.field)
		})
	}
	self, err := issue(asA, courier.TokenInput{Role: credtrace.RoleStaff, StaffID: p.ID, Label: "张三"})
	if err != nil {
		t.Fatalf("the employer issues a staff token: %v", err)
	}
	if self.Role != credtrace.RoleStaff || self.StaffID != p.ID {
		t.Fatalf("actor = %+v, want staff %s", self, p.ID)
	}
	mine := f.staffRecord(t, p, courier.SrcRegulator, start.AddDate(0, 0, -3))
	firmRecord := f.confirmed(t, firmSubject(hqA.ID), courier.SevMinor)
	t.Run("reads their own file, not another person's", func(t *testing.T) {
		if _, err := f.svc.StaffFile(f.ctx, self, p.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.StaffFile(f.ctx, self, other.ID)
		wantErr(t, err, credtrace.ErrNotFound, "")
	})
	t.Run("objects to a record about them", func(t *testing.T) {
		o, err := f.svc.FileObjection(f.ctx, self, courier.ObjectionInput{RecordID: mine.ID, Reasons: "当天休息"})
		if err != nil {
			t.Fatal(err)
		}
		if o.FiledBy != self.TokenID || o.FirmID != hqA.ID {
			t.Errorf("objection = %+v, want filed by %s for firm %s", o, self.TokenID, hqA.ID)
		}
	})
	t.Run("not to a firm's record", func(t *testing.T) {
		_, err := f.svc.FileObjection(f.ctx, self, courier.ObjectionInput{RecordID: firmRecord.ID, Reasons: "x"})
		wantErr(t, err, credtrace.ErrInvalid, "record_id")
	})
	t.Run("changes nothing", func(t *testing.T) {
		name := "x"
		_, err := f.svc.UpdateStaff(f.ctx, self, p.ID, courier.StaffPatch{Name: &name})
		wantErr(t, err, credtrace.ErrForbidden, "")
	})
	t.Run("the token outlives the employment", func(t *testing.T) {
		if _, err := f.svc.Hire(f.ctx, asB, courier.HireInput{IDNumber: idNumber, FirmID: hqB.ID, Role: "courier", From: start.AddDate(0, 0, -1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.StaffFile(f.ctx, self, p.ID); err != nil {
			t.Fatal(err)
		}
		_, err := issue(asA, courier.TokenInput{Role: credtrace.RoleStaff, StaffID: p.ID})
		wantErr(t, err, credtrace.ErrInvalid, "staff_id") // A no longer employs them
	})
}

func TestPersonCheck(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	p, idNumber := f.person(t, hq.ID)
	_, otherID := f.person(t, hq.ID)
	const addr, addr2 = "192.0.2.7", "198.51.100.9"

	got, err := f.svc.Person(f.ctx, idNumber, mobile, addr)
	if err != nil || got.Role != credtrace.RoleStaff || got.StaffID != p.ID {
		t.Fatalf("Person = %+v, %v; want staff %s", got, err, p.ID)
	}
	_, wrongPhone := f.svc.Person(f.ctx, idNumber, "13900000000", addr2)
	_, wrongID := f.svc.Person(f.ctx, f.nextResidentID(), mobile, addr2)
	if !errors.Is(wrongPhone, credtrace.ErrNotFound) || wrongPhone.Error() != wrongID.Error() {
		t.Errorf("wrong phone answers %v, wrong ID number %v; want the same not found", wrongPhone, wrongID)
	}
	_, err = f.svc.Person(f.ctx, "110105194912310021", mobile, addr)
	wantErr(t, err, credtrace.ErrInvalid, "id_number")

	t.Run("five wrong phones lock the ID number, from any address and replica", func(t *testing.T) {
		for i := 1; i < courier.PersonGuesses; i++ { // one wrong phone above
			if _, err := f.svc.Person(f.ctx, idNumber, "13900000000", "203.0.113."+string(rune('0'+i))); !errors.Is(err, credtrace.ErrNotFound) {
				t.Fatalf("wrong guess %d: %v", i, err)
			}
		}
		replica := courier.NewService(f.st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), f.clock.Now)
		_, err := replica.Person(f.ctx, idNumber, mobile, addr)
		wantErr(t, err, courier.ErrLocked, "")
		if _, err := f.svc.Person(f.ctx, otherID, mobile, addr); err != nil {
			t.Errorf("another person's check: %v, want it open", err)
		}
		f.clock.Advance(courier.GuessWindow + time.Minute)
		if _, err := f.svc.Person(f.ctx, idNumber, mobile, addr); err != nil {
			t.Errorf("an hour later: %v, want the check open again", err)
		}
	})
	t.Run("an unregistered ID number locks alike", func(t *testing.T) {
		ghost := f.nextResidentID()
		for i := 0; i < courier.PersonGuesses; i++ {
			f.svc.Person(f.ctx, ghost, mobile, "203.0.113.50")
		}
		_, err := f.svc.Person(f.ctx, ghost, mobile, "203.0.113.51")
		wantErr(t, err, courier.ErrLocked, "")
	})
	t.Run("one address guessing many ID numbers is locked", func(t *testing.T) {
		for i := 0; i < courier.AddressGuesses; i++ {
			f.svc.Person(f.ctx, f.nextResidentID(), mobile, "203.0.113.99")
		}
		_, err := f.svc.Person(f.ctx, idNumber, mobile, "203.0.113.99")
		wantErr(t, err, courier.ErrLocked, "")
		if _, err := f.svc.Person(f.ctx, idNumber, mobile, addr); err != nil {
			t.Errorf("from another address: %v, want it open", err)
		}
	})
}

// TestTreeCache: answers follow a change made through another Service on the same store (another
// replica) at the next request, and a cached answer serves the rest of one request.
func TestTreeCache(t *testing.T) {
	f := newFixture(t)
	hqA := f.firm(t, courier.KindHQ, "")
	hqB := f.firm(t, courier.KindHQ, "")
	outlet := f.firm(t, courier.KindOutlet, hqA.ID)
	p, _ := f.person(t, outlet.ID)
	cache := courier.NewTreeCache(f.svc)
	replica := courier.NewService(f.st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), f.clock.Now)
	request := func() context.Context { return courier.WithTreeScope(f.ctx) }

	ask := func(t *testing.T, ctx context.Context) (bool, string) {
		t.Helper()
		in, err := cache.InTree(ctx, hqA.ID, outlet.ID)
		if err != nil {
			t.Fatal(err)
		}
		firm, _, err := cache.StaffFirm(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return in, firm
	}
	if in, firm := ask(t, request()); !in || firm != outlet.ID {
		t.Fatalf("before: in tree %v, employer %q", in, firm)
	}
	held := request()
	ask(t, held) // the request's scope has read its generation
	parent := hqB.ID
	if _, err := replica.UpdateFirm(f.ctx, f.reg, outlet.ID, courier.FirmPatch{ParentID: &parent}); err != nil {
		t.Fatal(err)
	}
	if _, err := replica.EndEmployment(f.ctx, f.reg, p.ID, start); err != nil {
		t.Fatal(err)
	}
	if in, firm := ask(t, held); !in || firm != outlet.ID {
		t.Errorf("inside the request that began before the change: in tree %v, employer %q; want the cached answers", in, firm)
	}
	if in, firm := ask(t, request()); in || firm != "" {
		t.Errorf("next request: in tree %v, employer %q; want the outlet out of A's tree and the person unemployed", in, firm)
	}
	if in, err := cache.InTree(f.ctx, hqB.ID, outlet.ID); err != nil || !in {
		t.Errorf("outside a request scope: InTree(B, outlet) = %v, %v; want true", in, err)
	}
}
