package tracking_test

import (
	"errors"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

func TestLockedUntil(t *testing.T) {
	t.Parallel()
	m := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	tests := []struct {
		name  string
		wrong []time.Time
		now   time.Time
		want  time.Time
	}{
		{"none", nil, m(0), time.Time{}},
		{"four in a minute", []time.Time{m(0), m(0), m(0), m(1)}, m(1), time.Time{}},
		{"five in four minutes lock for an hour after the fifth", []time.Time{m(0), m(1), m(2), m(3), m(4)}, m(5), m(64)},
		{"the lock ends on time", []time.Time{m(0), m(1), m(2), m(3), m(4)}, m(64), time.Time{}},
		{"five spread over more than an hour do not lock", []time.Time{m(0), m(20), m(40), m(59), m(60)}, m(61), time.Time{}},
		{"the last five of six within the hour lock", []time.Time{m(0), m(30), m(40), m(59), m(60), m(61)}, m(62), m(121)},
		{"five at one instant (several replicas at once)", []time.Time{m(3), m(3), m(3), m(3), m(3)}, m(3), m(63)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tracking.LockedUntil(tc.wrong, tc.now, tracking.PhoneGuesses, tracking.PhoneLock); !got.Equal(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Five wrong phone answers lock a waybill's phone check for an hour whoever asks, the right
// answer included; an unknown waybill locks the same way, so a lock tells nothing; the
// carrier's own access is untouched; other waybills keep their check.
func TestPhoneCheckLocksPerWaybill(t *testing.T) {
	t.Parallel()
	outcomes := map[string]int{}
	w := newWorldOpts(t, tracking.Options{OnPhoneCheck: func(o string) { outcomes[o]++ }})
	const (
		wb    = "YT0000000101"
		other = "YT0000000102"
		ghost = "YT0000000199" // never collected
	)
	w.accept(t,
		shipped(ev("a1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "m1", recipientPhone),
		shipped(ev("b1", other, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "m1", recipientPhone),
	)
	// Wrong answers from anyone count: anonymous callers and a signed-in firm of another brand.
	guessers := []credtrace.Caller{public, firmCaller(w.hqB), public, merchantCaller("m9"), public}
	for i, c := range guessers {
		for _, waybill := range []string{wb, ghost} {
			if _, err := w.svc.TraceParcel(w.ctx, c, waybill, "", "000"+string(rune('0'+i))); !errors.Is(err, credtrace.ErrNotFound) {
				t.Fatalf("%s wrong answer %d: got %v, want not found", waybill, i+1, err)
			}
		}
	}
	for _, waybill := range []string{wb, ghost} {
		_, err := w.svc.TraceParcel(w.ctx, public, waybill, "", recipientLast4)
		var le *tracking.LockedError
		if !errors.As(err, &le) {
			t.Fatalf("%s after five wrong answers, the right one: got %v, want locked", waybill, err)
		}
		if want := w.clk.Now().Add(time.Hour); !le.Until.Equal(want) {
			t.Fatalf("%s locked until %v, want %v", waybill, le.Until, want)
		}
	}
	if _, err := w.svc.TraceParcel(w.ctx, public, other, "", recipientLast4); err != nil {
		t.Fatalf("another waybill's check: %v", err)
	}
	if got, err := w.svc.TraceParcel(w.ctx, firmCaller(w.hqA), wb, "", ""); err != nil || got.Reduced {
		t.Fatalf("the carrier while the phone check is locked: reduced %v, %v", got.Reduced, err)
	}
	w.clk.Advance(59 * time.Minute)
	if _, err := w.svc.TraceParcel(w.ctx, public, wb, "", recipientLast4); err == nil {
		t.Fatal("the lock ended before its hour")
	}
	w.clk.Advance(time.Minute)
	if got, err := w.svc.TraceParcel(w.ctx, public, wb, "", recipientLast4); err != nil || !got.Reduced {
		t.Fatalf("after the hour, the right answer: reduced %v, %v", got.Reduced, err)
	}
	want := map[string]int{tracking.PhoneWrong: 10, tracking.PhoneLocked: 3, tracking.PhonePassed: 2}
	for k, n := range want {
		if outcomes[k] != n {
			t.Errorf("outcome %s counted %d times, want %d (all: %v)", k, outcomes[k], n, outcomes)
		}
	}
}
