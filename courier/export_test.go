package courier_test

import (
	"slices"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// exported runs an export and returns the rows' ids, withdrawals marked with a leading "-".
func (f *fixture) exported(t *testing.T, a credtrace.Caller, set courier.RecordSet, w courier.Window) []string {
	t.Helper()
	var ids []string
	err := f.svc.ExportRecords(f.ctx, a, set, w, func(r courier.RecordRow) error {
		if r.Live {
			ids = append(ids, r.Record.ID)
		} else {
			ids = append(ids, "-"+r.Record.ID)
		}
		if r.Record.FirmID != "" && r.Firm.ID != r.Record.FirmID {
			t.Errorf("row of record %s carries firm %q, want %s", r.Record.ID, r.Firm.ID, r.Record.FirmID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("export %s: %v", set, err)
	}
	return ids
}

// TestExportIncrements: a full export read two rows a page, then an increment from its end
// that holds exactly what changed since (a new record, a repaired one withdrawn), across page
// boundaries, and no row twice.
func TestExportIncrements(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	own := f.firmActor(t, hq.ID)
	person := f.staff(t, hq.ID)
	var recs []courier.Record
	for range 5 {
		recs = append(recs, f.confirmed(t, firmSubject(hq.ID), courier.SevMinor))
		f.clock.Advance(time.Minute)
	}
	aboutPerson := f.confirmed(t, courier.Subject{Kind: courier.SubjectStaff, ID: person.ID}, courier.SevMinor)
	pending := f.pending(t, firmSubject(hq.ID))
	f.clock.Advance(time.Hour)
	until1 := f.svc.ExportUntil()

	var want []string
	for _, r := range recs {
		want = append(want, r.ID)
	}
	full := f.exported(t, credtrace.Public, courier.Disclosures, courier.Window{Until: until1, PageSize: 2})
	if !slices.Equal(full, want) {
		t.Fatalf("full disclosure export = %v, want the firm's five records in id order %v", full, want)
	}
	inForce := f.exported(t, f.reg, courier.InForce, courier.Window{Until: until1, PageSize: 2})
	if !slices.Contains(inForce, aboutPerson.ID) || slices.Contains(inForce, pending.ID) || len(inForce) != 6 {
		t.Errorf("records in force = %v, want the five and the person's, not the pending one", inForce)
	}
	if all := f.exported(t, f.reg, courier.AllRecords, courier.Window{Until: until1}); len(all) != 7 {
		t.Errorf("all records = %d rows, want 7", len(all))
	}
	resumed := f.exported(t, credtrace.Public, courier.Disclosures, courier.Window{Until: until1, After: recs[1].ID, PageSize: 2})
	if !slices.Equal(resumed, want[2:]) {
		t.Errorf("export after the second row = %v, want %v", resumed, want[2:])
	}

	// Changes after the first window's end: one new record, one repaired.
	f.clock.Advance(time.Minute)
	fresh := f.confirmed(t, firmSubject(hq.ID), courier.SevMinor)
	if _, err := f.svc.RequestRepair(f.ctx, own, recs[3].ID, repairIn); err != nil {
		t.Fatalf("request repair: %v", err)
	}
	if _, err := f.svc.DecideRepair(f.ctx, f.reg, recs[3].ID, true, "整改到位"); err != nil {
		t.Fatalf("decide repair: %v", err)
	}
	f.clock.Advance(time.Hour)
	until2 := f.svc.ExportUntil()
	inc := f.exported(t, credtrace.Public, courier.Disclosures, courier.Window{Since: until1, Until: until2, PageSize: 2})
	wantInc := []string{"-" + recs[3].ID, fresh.ID}
	slices.SortFunc(wantInc, func(a, b string) int { return cmpID(a, b) })
	if !slices.Equal(inc, wantInc) {
		t.Errorf("increment = %v, want the repaired record withdrawn and the new one: %v", inc, wantInc)
	}
	// A window with no changes is empty; the next one starts where this one ended.
	if again := f.exported(t, credtrace.Public, courier.Disclosures, courier.Window{Since: until2, Until: until2.Add(time.Minute)}); len(again) != 0 {
		t.Errorf("an increment over no changes = %v, want none", again)
	}
}

func cmpID(a, b string) int {
	trim := func(s string) string {
		if s != "" && s[0] == '-' {
			return s[1:]
		}
		return s
	}
	switch x, y := trim(a), trim(b); {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// TestExportScopes: records in force and the full data are the regulators'; disclosures anyone's.
func TestExportScopes(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	own := f.firmActor(t, hq.ID)
	w := courier.Window{Until: f.svc.ExportUntil()}
	for _, c := range []struct {
		name string
		a    credtrace.Caller
		set  courier.RecordSet
		want error
	}{
		{"public disclosures", credtrace.Public, courier.Disclosures, nil},
		{"firm disclosures", own, courier.Disclosures, nil},
		{"firm in force", own, courier.InForce, credtrace.ErrForbidden},
		{"public in force", credtrace.Public, courier.InForce, credtrace.ErrForbidden},
		{"firm all", own, courier.AllRecords, credtrace.ErrForbidden},
		{"regulator all", f.reg, courier.AllRecords, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := f.svc.ExportRecords(f.ctx, c.a, c.set, w, func(courier.RecordRow) error { return nil })
			wantErr(t, err, c.want, "")
		})
	}
	err := f.svc.ExportRecords(f.ctx, f.reg, courier.Disclosures, courier.Window{Since: w.Until.Add(time.Second), Until: w.Until}, func(courier.RecordRow) error { return nil })
	wantErr(t, err, credtrace.ErrInvalid, "since")
}
