package scoring_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCalendarPeriods(t *testing.T) {
	sh, ny := zone(t, "Asia/Shanghai"), zone(t, "America/New_York")
	month := scoring.Calendar{Kind: scoring.Month, Loc: sh}
	quarter := scoring.Calendar{Kind: scoring.Quarter, Loc: sh}
	utc := scoring.Calendar{Kind: scoring.Month, Loc: time.UTC}
	nyMonth := scoring.Calendar{Kind: scoring.Month, Loc: ny}
	tests := []struct {
		name             string
		cal              scoring.Calendar
		at               time.Time
		label, prev, nxt string
		start, end       time.Time
	}{
		{"the last millisecond of November in Beijing", month, time.Date(2026, 11, 30, 15, 59, 59, 999e6, time.UTC), "2026-11", "2026-10", "2026-12",
			time.Date(2026, 11, 1, 0, 0, 0, 0, sh), time.Date(2026, 12, 1, 0, 0, 0, 0, sh)},
		{"midnight of 1 December in Beijing is still 30 November in UTC", month, time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC), "2026-12", "2026-11", "2027-01",
			time.Date(2026, 12, 1, 0, 0, 0, 0, sh), time.Date(2027, 1, 1, 0, 0, 0, 0, sh)},
		{"new year in Beijing", month, time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), "2027-01", "2026-12", "2027-02",
			time.Date(2027, 1, 1, 0, 0, 0, 0, sh), time.Date(2027, 2, 1, 0, 0, 0, 0, sh)},
		{"the same instant is December in UTC", utc, time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), "2026-12", "2026-11", "2027-01",
			time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"fourth quarter, last millisecond", quarter, time.Date(2026, 12, 31, 15, 59, 59, 999e6, time.UTC), "2026-Q4", "2026-Q3", "2027-Q1",
			time.Date(2026, 10, 1, 0, 0, 0, 0, sh), time.Date(2027, 1, 1, 0, 0, 0, 0, sh)},
		{"first quarter across the year", quarter, time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), "2027-Q1", "2026-Q4", "2027-Q2",
			time.Date(2027, 1, 1, 0, 0, 0, 0, sh), time.Date(2027, 4, 1, 0, 0, 0, 0, sh)},
		{"second quarter", quarter, time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC), "2026-Q2", "2026-Q1", "2026-Q3",
			time.Date(2026, 4, 1, 0, 0, 0, 0, sh), time.Date(2026, 7, 1, 0, 0, 0, 0, sh)},
		{"a month with a daylight-saving change lasts an hour less", nyMonth, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC), "2026-03", "2026-02", "2026-04",
			time.Date(2026, 3, 1, 0, 0, 0, 0, ny), time.Date(2026, 4, 1, 0, 0, 0, 0, ny)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.cal.Of(tc.at)
			if got := p.Label(); got != tc.label {
				t.Errorf("label = %s, want %s", got, tc.label)
			}
			if !p.Start.Equal(tc.start) || !p.End.Equal(tc.end) {
				t.Errorf("period = [%s, %s), want [%s, %s)", p.Start, p.End, tc.start, tc.end)
			}
			if got := tc.cal.Prev(p).Label(); got != tc.prev {
				t.Errorf("previous = %s, want %s", got, tc.prev)
			}
			if got := tc.cal.Next(p).Label(); got != tc.nxt {
				t.Errorf("next = %s, want %s", got, tc.nxt)
			}
			if !tc.cal.Prev(p).End.Equal(p.Start) || !tc.cal.Next(p).Start.Equal(p.End) {
				t.Errorf("periods do not follow each other without a gap around %s", p)
			}
			back, err := tc.cal.Parse(tc.label)
			if err != nil || !back.Start.Equal(p.Start) || !back.End.Equal(p.End) {
				t.Errorf("Parse(%s) = %v, %v; want %v", tc.label, back, err, p)
			}
		})
	}
	if d := nyMonth.Of(time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)); d.End.Sub(d.Start) != 31*24*time.Hour-time.Hour {
		t.Errorf("March in New York lasts %s, want 743h", d.End.Sub(d.Start))
	}
	// At the first instant of a period, the one that has just ended is the one before.
	if got := month.LastEnded(time.Date(2026, 12, 1, 0, 0, 0, 0, sh)).Label(); got != "2026-11" {
		t.Errorf("LastEnded(1 December 00:00) = %s, want 2026-11", got)
	}
	if got := quarter.LastEnded(time.Date(2027, 2, 10, 0, 0, 0, 0, sh)).Label(); got != "2026-Q4" {
		t.Errorf("LastEnded(10 February) = %s, want 2026-Q4", got)
	}
}

func TestCalendarParseRefuses(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	for _, tc := range []struct {
		kind  scoring.PeriodKind
		label string
	}{
		{scoring.Month, "2026-1"}, {scoring.Month, "2026-13"}, {scoring.Month, "2026-00"}, {scoring.Month, "2026-Q4"},
		{scoring.Month, "26-11"}, {scoring.Month, "2026/11"}, {scoring.Month, ""},
		{scoring.Quarter, "2026-11"}, {scoring.Quarter, "2026-Q5"}, {scoring.Quarter, "2026-Q0"}, {scoring.Quarter, "2026-q4"},
	} {
		_, err := scoring.Calendar{Kind: tc.kind, Loc: sh}.Parse(tc.label)
		if !errors.Is(err, credtrace.ErrInvalid) {
			t.Errorf("Parse(%s) as %s = %v, want credtrace.ErrInvalid", tc.label, tc.kind, err)
		}
	}
}
