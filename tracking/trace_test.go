package tracking_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

func firmHolder(firm, site, staff string) tracking.Holder {
	return tracking.Holder{Kind: tracking.HolderFirm, FirmID: firm, SiteID: site, StaffID: staff}
}

var recipient = tracking.Holder{Kind: tracking.HolderRecipient}

// scanned is a normalised event as ingestion stores it: the scanner keeps the parcel, a
// delivery passes it to the recipient.
func scanned(id string, code tracking.Code, at time.Time, firm, site, staff string) tracking.Event {
	e := tracking.Event{ID: id, Waybill: "YT0000000001", Carrier: "hq", Code: code, At: at, FirmID: firm, SiteID: site, StaffID: staff,
		Holder: firmHolder(firm, site, staff), Region: "130111"}
	if code == tracking.Delivered {
		e.Holder, e.Signer = recipient, tracking.SignerRecipient
	}
	return e
}

// passedTo is a scan that hands the parcel to another holder.
func passedTo(e tracking.Event, h tracking.Holder) tracking.Event {
	e.Holder = h
	return e
}

func hours(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }

// seg is a custody segment as the tests want it.
type seg struct {
	holder tracking.Holder
	from   time.Time
	to     time.Time
	dwell  time.Duration
	status tracking.Code
	events []string
}

func checkCustody(t *testing.T, got []tracking.Segment, want []seg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d segments %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Holder != w.holder || !g.From.Equal(w.from) || !g.To.Equal(w.to) || g.Dwell != w.dwell || g.Status != w.status || !slices.Equal(g.EventIDs, w.events) {
			t.Errorf("segment %d:\n got %+v %s→%s dwell %s %s %v\nwant %+v %s→%s dwell %s %s %v", i,
				g.Holder, g.From, g.To, g.Dwell, g.Status, g.EventIDs, w.holder, w.from, w.to, w.dwell, w.status, w.events)
		}
	}
}

func TestBuildTraceCustody(t *testing.T) {
	t.Parallel()
	a := firmHolder("hq", "s1", "x")
	b := firmHolder("hq", "s2", "y")
	c := firmHolder("branch", "s3", "z")
	now := hours(100)
	delivered := []tracking.Event{
		scanned("c", tracking.Collected, hours(0), "hq", "s1", "x"),
		scanned("d", tracking.Departed, hours(2), "hq", "s1", "x"),
		scanned("a", tracking.Arrived, hours(10), "hq", "s2", "y"),
		scanned("o", tracking.OutForDelivery, hours(12), "hq", "s2", "y"),
		scanned("v", tracking.Delivered, hours(20), "hq", "s2", "y"),
	}
	reversed := slices.Clone(delivered)
	slices.Reverse(reversed)
	tests := []struct {
		name       string
		events     []tracking.Event
		want       []seg
		wantStatus tracking.Code
		wantHolder tracking.Holder
	}{
		{
			name:       "consecutive scans by the same holder merge, the open segment runs to now",
			events:     delivered[:2],
			want:       []seg{{a, hours(0), time.Time{}, 100 * time.Hour, tracking.Collected, []string{"c", "d"}}},
			wantStatus: tracking.Departed, wantHolder: a,
		},
		{
			name:   "a scan by another holder starts a segment",
			events: delivered[:3],
			want: []seg{{a, hours(0), hours(10), 10 * time.Hour, tracking.Collected, []string{"c", "d"}},
				{b, hours(10), time.Time{}, 90 * time.Hour, tracking.Arrived, []string{"a"}}},
			wantStatus: tracking.Arrived, wantHolder: b,
		},
		{
			name: "handover to a named holder starts its segment",
			events: []tracking.Event{
				scanned("c", tracking.Collected, hours(0), "hq", "s1", "x"),
				passedTo(scanned("h", tracking.Handover, hours(3), "hq", "s1", "x"), c),
				scanned("a", tracking.Arrived, hours(5), "branch", "s3", "z"),
			},
			want: []seg{{a, hours(0), hours(3), 3 * time.Hour, tracking.Collected, []string{"c"}},
				{c, hours(3), time.Time{}, 97 * time.Hour, tracking.Handover, []string{"h", "a"}}},
			wantStatus: tracking.Arrived, wantHolder: c,
		},
		{
			name:   "delivery gives the parcel to the recipient",
			events: delivered,
			want: []seg{{a, hours(0), hours(10), 10 * time.Hour, tracking.Collected, []string{"c", "d"}},
				{b, hours(10), hours(20), 10 * time.Hour, tracking.Arrived, []string{"a", "o"}},
				{recipient, hours(20), time.Time{}, 0, tracking.Delivered, []string{"v"}}},
			wantStatus: tracking.Delivered, wantHolder: recipient,
		},
		{
			name:   "events in any order",
			events: reversed,
			want: []seg{{a, hours(0), hours(10), 10 * time.Hour, tracking.Collected, []string{"c", "d"}},
				{b, hours(10), hours(20), 10 * time.Hour, tracking.Arrived, []string{"a", "o"}},
				{recipient, hours(20), time.Time{}, 0, tracking.Delivered, []string{"v"}}},
			wantStatus: tracking.Delivered, wantHolder: recipient,
		},
		{
			name:   "a scan after the delivery changes neither status nor holder",
			events: append(slices.Clone(delivered), scanned("late", tracking.Arrived, hours(30), "branch", "s3", "z")),
			want: []seg{{a, hours(0), hours(10), 10 * time.Hour, tracking.Collected, []string{"c", "d"}},
				{b, hours(10), hours(20), 10 * time.Hour, tracking.Arrived, []string{"a", "o"}},
				{recipient, hours(20), time.Time{}, 0, tracking.Delivered, []string{"v", "late"}}},
			wantStatus: tracking.Delivered, wantHolder: recipient,
		},
		{
			name:   "a holder met again opens a new segment",
			events: append(slices.Clone(delivered[:3]), scanned("r", tracking.Returned, hours(30), "hq", "s1", "x")),
			want: []seg{{a, hours(0), hours(10), 10 * time.Hour, tracking.Collected, []string{"c", "d"}},
				{b, hours(10), hours(30), 20 * time.Hour, tracking.Arrived, []string{"a"}},
				{a, hours(30), time.Time{}, 70 * time.Hour, tracking.Returned, []string{"r"}}},
			wantStatus: tracking.Returned, wantHolder: a,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := tracking.BuildTrace(tc.events, tracking.CarrierConfig{}, now)
			checkCustody(t, tr.Custody, tc.want)
			if tr.Status != tc.wantStatus || tr.Holder != tc.wantHolder {
				t.Errorf("got status %s holder %+v, want %s %+v", tr.Status, tr.Holder, tc.wantStatus, tc.wantHolder)
			}
			for i := 1; i < len(tr.Events); i++ {
				if tr.Events[i].At.Before(tr.Events[i-1].At) {
					t.Errorf("events out of time order: %v", eventIDs(tr.Events))
				}
			}
		})
	}
}

func TestBuildTracePromise(t *testing.T) {
	t.Parallel()
	collected := scanned("c", tracking.Collected, hours(0), "hq", "s1", "x")
	deliveredAt := func(h int) tracking.Event { return scanned("v", tracking.Delivered, hours(h), "hq", "s1", "x") }
	tests := []struct {
		name     string
		cfg      tracking.CarrierConfig
		events   []tracking.Event
		now      time.Time
		want     tracking.Promise
		breached bool
	}{
		{"default promise, delivered in time", tracking.CarrierConfig{}, []tracking.Event{collected, deliveredAt(71)}, hours(200),
			tracking.Promise{Hours: 72, Due: hours(72)}, false},
		{"default promise, delivered on the hour it is due", tracking.CarrierConfig{}, []tracking.Event{collected, deliveredAt(72)}, hours(200),
			tracking.Promise{Hours: 72, Due: hours(72)}, false},
		{"default promise, delivered late", tracking.CarrierConfig{}, []tracking.Event{collected, deliveredAt(73)}, hours(200),
			tracking.Promise{Hours: 72, Due: hours(72), Breached: true}, true},
		{"not delivered, not yet due", tracking.CarrierConfig{}, []tracking.Event{collected}, hours(71),
			tracking.Promise{Hours: 72, Due: hours(72)}, false},
		{"not delivered past due", tracking.CarrierConfig{}, []tracking.Event{collected}, hours(73),
			tracking.Promise{Hours: 72, Due: hours(72), Breached: true}, true},
		{"carrier promise of 48 hours", tracking.CarrierConfig{PromiseHours: 48}, []tracking.Event{collected, deliveredAt(50)}, hours(200),
			tracking.Promise{Hours: 48, Due: hours(48), Breached: true}, true},
		{"carrier promise of 48 hours kept", tracking.CarrierConfig{PromiseHours: 48}, []tracking.Event{deliveredAt(47), collected}, hours(200),
			tracking.Promise{Hours: 48, Due: hours(48)}, false},
		{"never collected: nothing due", tracking.CarrierConfig{}, []tracking.Event{scanned("a", tracking.Arrived, hours(0), "hq", "s1", "x")}, hours(500),
			tracking.Promise{Hours: 72}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tracking.BuildTrace(tc.events, tc.cfg, tc.now).Promise
			if got.Hours != tc.want.Hours || !got.Due.Equal(tc.want.Due) || got.Breached != tc.want.Breached {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTraceParcelUsesCarrierPromise(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if _, err := w.svc.SetCarrierConfig(w.ctx, firmCaller(w.hqA), w.hqA, tracking.CarrierInput{PromiseHours: 48}); err != nil {
		t.Fatalf("set carrier config: %v", err)
	}
	w.accept(t, ev("e1", "YT0000000001", w.hqA, tracking.Collected, t0, w.siteA, w.xA))
	w.clk.Set(t0.Add(49 * time.Hour))
	got := w.trace(t, "YT0000000001").Promise
	if want := (tracking.Promise{Hours: 48, Due: t0.Add(48 * time.Hour), Breached: true}); got.Hours != want.Hours || !got.Due.Equal(want.Due) || got.Breached != want.Breached {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestTraceParcelAccess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const (
		open      = "YT0000000001" // carrier hqA, still on its way
		done      = "YT0000000002" // carrier hqA, delivered
		ofBranch  = "YT0000000003" // carrier brA
		otherWB   = "YT0000000009"
		otherDigs = "1234"
	)
	w.accept(t,
		shipped(ev("o1", open, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "m1", recipientPhone),
		ev("o2", open, w.hqA, tracking.Arrived, hours(10), w.siteBr, w.yBr),
		shipped(ev("d1", done, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "m1", recipientPhone),
		with(ev("d2", done, w.hqA, tracking.Delivered, hours(10), w.siteA2, w.wA), func(e *tracking.EventInput) {
			e.Signer, e.Region = tracking.SignerLocker, "130102"
		}),
		shipped(ev("b1", ofBranch, w.brA, tracking.Collected, t0, w.siteBr, w.yBr), "m2", recipientPhone),
	)
	tests := []struct {
		name    string
		caller  credtrace.Caller
		waybill string
		phone4  string
		wantErr error
		reduced bool
	}{
		{"regulator sees everything", regulator, open, "", nil, false},
		{"the carrier's HQ", firmCaller(w.hqA), open, "", nil, false},
		{"the HQ above a branch carrier", firmCaller(w.hqA), ofBranch, "", nil, false},
		{"a branch of the carrier's tree, the carrier above it", firmCaller(w.brA), open, "", credtrace.ErrNotFound, false},
		{"the branch carrier itself", firmCaller(w.brA), ofBranch, "", nil, false},
		{"another brand", firmCaller(w.hqB), open, "", credtrace.ErrNotFound, false},
		{"the merchant on the collection event", merchantCaller("m1"), open, "", nil, false},
		{"another merchant", merchantCaller("m2"), open, "", credtrace.ErrNotFound, false},
		{"public with the right digits", public, open, recipientLast4, nil, true},
		{"public with the right digits, delivered", public, done, recipientLast4, nil, true},
		{"another brand with the right digits gets the public view", firmCaller(w.hqB), open, recipientLast4, nil, true},
		{"public with wrong digits", public, open, otherDigs, credtrace.ErrNotFound, false},
		{"public with digits of another parcel's waybill", public, otherWB, recipientLast4, credtrace.ErrNotFound, false},
		{"public without digits", public, open, "", credtrace.ErrNotFound, false},
		{"public with letters", public, open, "56a8", credtrace.ErrInvalid, false},
		{"public with three digits", public, open, "678", credtrace.ErrInvalid, false},
		{"public with five digits", public, open, "45678", credtrace.ErrInvalid, false},
		{"unknown waybill", regulator, otherWB, "", credtrace.ErrNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.svc.TraceParcel(w.ctx, tc.caller, tc.waybill, "", tc.phone4)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			full := w.trace(t, tc.waybill)
			if got.Reduced != tc.reduced {
				t.Fatalf("got reduced %v, want %v", got.Reduced, tc.reduced)
			}
			if !tc.reduced {
				if !reflect.DeepEqual(got, full) {
					t.Errorf("got %+v, want the full trace %+v", got, full)
				}
				return
			}
			if got.Custody != nil || got.MerchantID != "" {
				t.Errorf("public trace has custody %v merchant %q, want neither", got.Custody, got.MerchantID)
			}
			wantHolder := tracking.Holder{}
			if full.Holder.Kind == tracking.HolderRecipient {
				wantHolder = recipient
			}
			if got.Holder != wantHolder {
				t.Errorf("public holder %+v, want %+v", got.Holder, wantHolder)
			}
			if got.Status != full.Status || !got.StatusAt.Equal(full.StatusAt) || got.Waybill != full.Waybill || got.Promise != full.Promise {
				t.Errorf("public summary %s %s %s %+v, want %s %s %s %+v", got.Waybill, got.Status, got.StatusAt, got.Promise,
					full.Waybill, full.Status, full.StatusAt, full.Promise)
			}
			var want []tracking.Event
			for _, e := range full.Events {
				want = append(want, tracking.Event{Code: e.Code, At: e.At, Region: e.Region[:4] + "00", Signer: e.Signer})
			}
			if !reflect.DeepEqual(got.Events, want) {
				t.Errorf("public events %+v, want %+v", got.Events, want)
			}
		})
	}
	t.Run("city-level regions", func(t *testing.T) {
		got, err := w.svc.TraceParcel(w.ctx, public, done, "", recipientLast4)
		if err != nil {
			t.Fatal(err)
		}
		var regions []string
		for _, e := range got.Events {
			regions = append(regions, e.Region)
		}
		if want := []string{"130100", "130100"}; !slices.Equal(regions, want) {
			t.Errorf("got regions %v, want %v", regions, want)
		}
	})
}

func TestCity(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{{"130111", "130100"}, {"110105", "110100"}, {"130100", "130100"}, {"", ""}, {"1301", ""}}
	for _, tc := range tests {
		if got := tracking.City(tc.in); got != tc.want {
			t.Errorf("City(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
