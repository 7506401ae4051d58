package scoring

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
)

// PeriodKind is the length of an evaluation period, as the evaluation committee sets it.
type PeriodKind string

// Period kinds.
const (
	Month   PeriodKind = "month"
	Quarter PeriodKind = "quarter"
)

// Calendar cuts time into evaluation periods: calendar months or quarters in one time zone
// (the district's, CREDTRACE_TZ), so that a period starts at local midnight on its first day
// whatever the zone's offset, and a run at 07:00 on the 1st in Beijing is in the new month
// even though it is still the previous day in UTC.
type Calendar struct {
	Kind PeriodKind
	Loc  *time.Location
}

// DefaultCalendar is the calendar month in Asia/Shanghai (UTC+8 without daylight saving, so
// a fixed zone serves when the tz database is missing).
func DefaultCalendar() Calendar {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	return Calendar{Kind: Month, Loc: loc}
}

// Period is one evaluation period: [Start, End) in the calendar's zone.
type Period struct {
	Kind  PeriodKind
	Year  int
	N     int // month 1–12, or quarter 1–4
	Start time.Time
	End   time.Time
}

// Label names a period: 2026-11 for a month, 2026-Q4 for a quarter.
func (p Period) Label() string {
	if p.Kind == Quarter {
		return fmt.Sprintf("%04d-Q%d", p.Year, p.N)
	}
	return fmt.Sprintf("%04d-%02d", p.Year, p.N)
}

func (p Period) String() string { return p.Label() }

// months is how many months a period of kind lasts.
func (k PeriodKind) months() int {
	if k == Quarter {
		return 3
	}
	return 1
}

// Valid reports whether k is a known period kind.
func (k PeriodKind) Valid() bool { return k == Month || k == Quarter }

func (c Calendar) loc() *time.Location {
	if c.Loc == nil {
		return DefaultCalendar().Loc
	}
	return c.Loc
}

func (c Calendar) kind() PeriodKind {
	if !c.Kind.Valid() {
		return Month
	}
	return c.Kind
}

// period builds the period of kind that is number n of year (n may run over; it is normalised).
func (c Calendar) period(year, n int) Period {
	k := c.kind()
	per := 12 / k.months()
	year += (n - 1) / per
	n = (n-1)%per + 1
	if n < 1 {
		n += per
		year--
	}
	startMonth := time.Month((n-1)*k.months() + 1)
	start := time.Date(year, startMonth, 1, 0, 0, 0, 0, c.loc())
	return Period{Kind: k, Year: year, N: n, Start: start, End: start.AddDate(0, k.months(), 0)}
}

// Of returns the period that holds t.
func (c Calendar) Of(t time.Time) Period {
	lt := t.In(c.loc())
	return c.period(lt.Year(), (int(lt.Month())-1)/c.kind().months()+1)
}

// Prev returns the period before p.
func (c Calendar) Prev(p Period) Period { return c.period(p.Year, p.N-1) }

// Next returns the period after p.
func (c Calendar) Next(p Period) Period { return c.period(p.Year, p.N+1) }

// LastEnded returns the latest period that has ended at t: the one before the period of t.
// A period ends at its End, so at exactly the first instant of a month it is the month before.
func (c Calendar) LastEnded(t time.Time) Period { return c.Prev(c.Of(t)) }

// Parse reads a label of this calendar's kind (2026-11, or 2026-Q4); credtrace.ErrInvalid otherwise.
func (c Calendar) Parse(label string) (Period, error) {
	bad := func() (Period, error) {
		want := "YYYY-MM, for example 2026-11"
		if c.kind() == Quarter {
			want = "YYYY-Qn, for example 2026-Q4"
		}
		return Period{}, credtrace.InvalidField("period", "%q is not a %s period: want %s", label, c.kind(), want)
	}
	y, rest, ok := strings.Cut(strings.TrimSpace(label), "-")
	year, err := strconv.Atoi(y)
	if !ok || err != nil || len(y) != 4 || year < 1970 {
		return bad()
	}
	if c.kind() == Quarter {
		if len(rest) != 2 || rest[0] != 'Q' || rest[1] < '1' || rest[1] > '4' {
			return bad()
		}
		return c.period(year, int(rest[1]-'0')), nil
	}
	m, err := strconv.Atoi(rest)
	if err != nil || len(rest) != 2 || m < 1 || m > 12 {
		return bad()
	}
	return c.period(year, m), nil
}
