package courier_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// TestFirmsByName: the public search of firms by name needs no caller at all, where the
// dashboard used to list them as the system; Firms, the scoped list, still refuses the public.
func TestFirmsByName(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	f.firm(t, courier.KindBranch, hq.ID)
	got, err := f.svc.FirmsByName(f.ctx, "顺达速运", 50)
	if err != nil || len(got) != 2 {
		t.Fatalf("FirmsByName = %d firms, %v; want both", len(got), err)
	}
	if got, err := f.svc.FirmsByName(f.ctx, "顺达速运", 1); err != nil || len(got) != 1 {
		t.Errorf("FirmsByName(limit 1) = %d firms, %v; want one", len(got), err)
	}
	if got, err := f.svc.FirmsByName(f.ctx, "飞鸿", 50); err != nil || len(got) != 0 {
		t.Errorf("FirmsByName(no match) = %v, %v; want none", got, err)
	}
	if _, err := f.svc.FirmsByName(f.ctx, "  ", 50); !errors.Is(err, credtrace.ErrInvalid) {
		t.Errorf("FirmsByName(blank) = %v, want invalid", err)
	}
	if _, _, err := f.svc.Firms(f.ctx, credtrace.Public, courier.FirmQuery{Name: "顺达速运"}, "", 50); !errors.Is(err, credtrace.ErrForbidden) {
		t.Errorf("Firms(public) = %v, want forbidden", err)
	}
}

func TestRecordStatusAt(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r := courier.Record{CreatedAt: t0, History: []courier.Transition{
		{From: courier.StatusPending, To: courier.StatusConfirmed, At: t0.Add(time.Hour)},
		{From: courier.StatusConfirmed, To: courier.StatusRepaired, At: t0.AddDate(0, 3, 0)},
	}}
	tests := []struct {
		at   time.Time
		want courier.RecordStatus
		ok   bool
	}{
		{t0.Add(-time.Second), "", false},
		{t0, courier.StatusPending, true},
		{t0.Add(time.Hour), courier.StatusConfirmed, true},
		{t0.AddDate(0, 1, 0), courier.StatusConfirmed, true},
		{t0.AddDate(0, 3, 0), courier.StatusRepaired, true},
	}
	for _, tt := range tests {
		if got, ok := r.StatusAt(tt.at); got != tt.want || ok != tt.ok {
			t.Errorf("StatusAt(%s) = %q, %v; want %q, %v", tt.at, got, ok, tt.want, tt.ok)
		}
	}
}
