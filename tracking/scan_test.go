package tracking_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

func anomalyKinds(as []tracking.Anomaly) []tracking.AnomalyKind {
	var out []tracking.AnomalyKind
	for _, a := range as {
		out = append(out, a.Kind)
	}
	slices.Sort(out)
	return out
}

func TestIngestAnomalies(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000001"
	weighed := func(in tracking.EventInput, g int) tracking.EventInput { in.WeightGrams = g; return in }
	tests := []struct {
		name    string
		batches func(w *world) [][]tracking.EventInput
		again   func(w *world) []tracking.EventInput // a later batch that finds the same thing again
		want    []tracking.AnomalyKind
		events  []string              // the events the anomaly cites
		carrier func(w *world) string // the carrier of the parcel the anomaly is about (default hqA)
	}{
		{
			name: "implausibly light",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{weighed(ev("c1", wb, w.hqA, tracking.Collected, hours(1), w.siteA, w.xA), 10)}}
			},
			again: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{weighed(ev("c0", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), 5)}
			},
			want: []tracking.AnomalyKind{tracking.AnWeight}, events: []string{"c1"},
		},
		{
			name: "implausibly heavy",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{weighed(ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), 70000)}}
			},
			want: []tracking.AnomalyKind{tracking.AnWeight}, events: []string{"c1"},
		},
		{
			name: "plausible weight",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{weighed(ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), 500)}}
			},
		},
		{
			name: "no transit between collection and delivery",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA)},
					{ev("v1", wb, w.hqA, tracking.Delivered, hours(5), w.siteA, w.xA)}}
			},
			want: []tracking.AnomalyKind{tracking.AnNoTransit}, events: []string{"v1"},
		},
		{
			name: "no transit inside one batch",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{ev("v1", wb, w.hqA, tracking.Delivered, hours(5), w.siteA, w.xA),
					ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA)}}
			},
			want: []tracking.AnomalyKind{tracking.AnNoTransit}, events: []string{"v1"},
		},
		{
			name: "a transit scan in between",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
					ev("a1", wb, w.hqA, tracking.Arrived, hours(2), w.siteBr, w.yBr), ev("v1", wb, w.hqA, tracking.Delivered, hours(5), w.siteBr, w.yBr)}}
			},
		},
		{
			name: "a second carrier on the waybill",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA)},
					{ev("b1", wb, w.hqB, tracking.Collected, hours(3), w.siteB, w.zB)}}
			},
			// Later events of either parcel find nothing new. (Before parcels were keyed by
			// carrier, the anomaly was the first carrier's, and a third carrier found the same.)
			again: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("r1", wb, w.hqA, tracking.Arrived, hours(4), w.siteBr, w.yBr),
					ev("b2", wb, w.hqB, tracking.Arrived, hours(4), w.siteB, w.zB)}
			},
			want: []tracking.AnomalyKind{tracking.AnSecondCarrier}, events: []string{"b1"}, carrier: func(w *world) string { return w.hqB },
		},
		{
			name: "a new collection after delivery",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
					ev("a1", wb, w.hqA, tracking.Arrived, hours(2), w.siteBr, w.yBr), ev("v1", wb, w.hqA, tracking.Delivered, hours(5), w.siteBr, w.yBr)},
					{ev("c2", wb, w.hqA, tracking.Collected, hours(20), w.siteA2, w.wA)}}
			},
			again: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c3", wb, w.hqA, tracking.Collected, hours(30), w.siteA2, w.wA)}
			},
			want: []tracking.AnomalyKind{tracking.AnAfterDelivery}, events: []string{"c2"},
		},
		{
			name: "promise breached by a late delivery",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
					ev("a1", wb, w.hqA, tracking.Arrived, hours(2), w.siteBr, w.yBr)}, {ev("v1", wb, w.hqA, tracking.Delivered, hours(80), w.siteBr, w.yBr)}}
			},
			want: []tracking.AnomalyKind{tracking.AnPromiseBreached}, events: []string{"v1"},
		},
		{
			name: "delivered in time",
			batches: func(w *world) [][]tracking.EventInput {
				return [][]tracking.EventInput{{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
					ev("a1", wb, w.hqA, tracking.Arrived, hours(2), w.siteBr, w.yBr)}, {ev("v1", wb, w.hqA, tracking.Delivered, hours(70), w.siteBr, w.yBr)}}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var found []tracking.Anomaly
			for _, b := range tc.batches(w) {
				found = append(found, w.accept(t, b...).Anomalies...)
			}
			if got := anomalyKinds(found); !slices.Equal(got, tc.want) {
				t.Fatalf("found %v, want %v", got, tc.want)
			}
			carrier := w.hqA
			if tc.carrier != nil {
				carrier = tc.carrier(w)
			}
			for _, a := range found {
				if a.Waybill != wb || a.Carrier != carrier || a.Detail == "" || !slices.Equal(a.EventIDs, tc.events) {
					t.Errorf("anomaly %+v, want waybill %s carrier %s events %v and a detail", a, wb, carrier, tc.events)
				}
			}
			// Re-sending adds nothing; finding the same thing again keeps the same anomaly.
			for _, b := range tc.batches(w) {
				if got := w.ingest(t, regulator, b...).Anomalies; len(got) != 0 {
					t.Errorf("re-sent batch raised %v", anomalyKinds(got))
				}
			}
			if tc.again != nil {
				w.accept(t, tc.again(w)...)
			}
			for _, a := range found {
				stored := w.anomalies(t, a.Kind)
				if len(stored) != 1 || stored[0].ID != a.ID || !slices.Equal(stored[0].EventIDs, tc.events) {
					t.Errorf("stored %s anomalies %+v, want only %s", a.Kind, stored, a.ID)
				}
			}
			all, err := w.svc.Anomalies(w.ctx, regulator, tracking.AnomalyQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(found) {
				t.Errorf("stored %v, want %v", anomalyKinds(all), tc.want)
			}
		})
	}
}

// scanAt runs a scan with the clock at t and returns the kinds of the new anomalies.
func (w *world) scanAt(t *testing.T, at time.Time) []tracking.Anomaly {
	t.Helper()
	w.clk.Set(at)
	res, err := w.svc.Scan(w.ctx)
	if err != nil {
		t.Fatalf("scan at %s: %v", at, err)
	}
	return res.New
}

func ofKind(as []tracking.Anomaly, k tracking.AnomalyKind) []tracking.Anomaly {
	var out []tracking.Anomaly
	for _, a := range as {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}

// ingestAt ingests events with the clock an hour after the last of them.
func (w *world) ingestAt(t *testing.T, ins ...tracking.EventInput) {
	t.Helper()
	last := ins[0].At
	for _, in := range ins {
		if in.At.After(last) {
			last = in.At
		}
	}
	w.clk.Set(last.Add(time.Hour))
	w.accept(t, ins...)
}

func TestScanStalled(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000001"
	tests := []struct {
		name          string
		opts          tracking.Options
		events        func(w *world) []tracking.EventInput
		before, after time.Time // scan times just under and just over the threshold
	}{
		{
			name: "collected, 48 hours by default",
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA)}
			},
			before: hours(47), after: hours(49),
		},
		{
			name: "in transit, 72 hours by default",
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), ev("t1", wb, w.hqA, tracking.InTransit, hours(1), w.siteA, w.xA)}
			},
			before: hours(72), after: hours(74),
		},
		{
			name: "held for pickup, 168 hours by default",
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), ev("h1", wb, w.hqA, tracking.HeldForPickup, hours(10), w.siteA2, w.wA)}
			},
			before: hours(177), after: hours(179),
		},
		{
			name: "arrived, 5 hours by option",
			opts: tracking.Options{StallHours: map[tracking.Code]int{tracking.Arrived: 5}},
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), ev("a1", wb, w.hqA, tracking.Arrived, hours(1), w.siteBr, w.yBr)}
			},
			before: hours(5), after: hours(7),
		},
		{
			name: "a status without a threshold never stalls",
			opts: tracking.Options{StallHours: map[tracking.Code]int{tracking.Arrived: 5}},
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA)}
			},
			before: hours(60),
		},
		{
			name: "a delivered parcel never stalls",
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), ev("v1", wb, w.hqA, tracking.Delivered, hours(1), w.siteA, w.xA)}
			},
			before: hours(1000),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldOpts(t, tc.opts)
			w.ingestAt(t, tc.events(w)...)
			if got := ofKind(w.scanAt(t, tc.before), tracking.AnStalled); len(got) != 0 {
				t.Fatalf("stalled before the threshold: %+v", got)
			}
			if tc.after.IsZero() {
				return
			}
			got := ofKind(w.scanAt(t, tc.after), tracking.AnStalled)
			if len(got) != 1 || got[0].Waybill != wb || got[0].Carrier != w.hqA {
				t.Fatalf("got %+v, want one stalled anomaly on %s", got, wb)
			}
			if again := ofKind(w.scanAt(t, tc.after.Add(time.Hour)), tracking.AnStalled); len(again) != 0 {
				t.Errorf("second scan reported %+v as new", again)
			}
			if stored := w.anomalies(t, tracking.AnStalled); len(stored) != 1 || stored[0].ID != got[0].ID {
				t.Errorf("stored %+v, want only %s", stored, got[0].ID)
			}
		})
	}
}

func TestScanPromise(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000001"
	tests := []struct {
		name          string
		promise       int
		events        func(w *world) []tracking.EventInput
		before, after time.Time
	}{
		{
			name: "default promise",
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA)}
			},
			before: hours(71), after: hours(73),
		},
		{
			name:    "carrier promise of 48 hours",
			promise: 48,
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA)}
			},
			before: hours(47), after: hours(49),
		},
		{
			name: "delivered in time",
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("c1", wb, w.hqA, tracking.Collected, hours(0), w.siteA, w.xA), ev("a1", wb, w.hqA, tracking.Arrived, hours(1), w.siteBr, w.yBr),
					ev("v1", wb, w.hqA, tracking.Delivered, hours(2), w.siteBr, w.yBr)}
			},
			before: hours(500),
		},
		{
			name: "never collected: nothing promised",
			events: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("a1", wb, w.hqA, tracking.Arrived, hours(0), w.siteBr, w.yBr)}
			},
			before: hours(500),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.promise > 0 {
				if _, err := w.svc.SetCarrierConfig(w.ctx, regulator, w.hqA, tracking.CarrierInput{PromiseHours: tc.promise}); err != nil {
					t.Fatal(err)
				}
			}
			w.ingestAt(t, tc.events(w)...)
			if got := ofKind(w.scanAt(t, tc.before), tracking.AnPromiseBreached); len(got) != 0 {
				t.Fatalf("breached before due: %+v", got)
			}
			if tc.after.IsZero() {
				return
			}
			got := ofKind(w.scanAt(t, tc.after), tracking.AnPromiseBreached)
			if len(got) != 1 || got[0].Waybill != wb {
				t.Fatalf("got %+v, want one promise breach on %s", got, wb)
			}
			if again := ofKind(w.scanAt(t, tc.after.Add(time.Hour)), tracking.AnPromiseBreached); len(again) != 0 {
				t.Errorf("second scan reported %+v as new", again)
			}
			// The late delivery finds the same breach, not a second one.
			w.accept(t, ev("v1", wb, w.hqA, tracking.Delivered, tc.after.Add(30*time.Minute), w.siteA, w.xA))
			if stored := w.anomalies(t, tracking.AnPromiseBreached); len(stored) != 1 || stored[0].ID != got[0].ID {
				t.Errorf("stored %+v, want only %s", stored, got[0].ID)
			}
		})
	}
}

func TestScanMerchantBurst(t *testing.T) {
	t.Parallel()
	opts := tracking.Options{BurstParcels: 5, BurstWindow: time.Hour}
	parcels := func(w *world, merchants ...string) []tracking.EventInput {
		var out []tracking.EventInput
		for i, m := range merchants {
			wb := fmt.Sprintf("YT%010d", i+1)
			out = append(out, shipped(ev(fmt.Sprintf("c%d", i+1), wb, w.hqA, tracking.Collected, t0.Add(time.Duration(5+5*i)*time.Minute), w.siteA, w.xA),
				m, fmt.Sprintf("139000%05d", i+1)))
		}
		return out
	}
	tests := []struct {
		name      string
		merchants []string
		want      int
	}{
		{"5 parcels of one merchant to 5 recipients", []string{"m1", "m1", "m1", "m1", "m1"}, 1},
		{"4 parcels", []string{"m1", "m1", "m1", "m1"}, 0},
		{"5 parcels of two merchants", []string{"m1", "m1", "m2", "m1", "m2"}, 0},
		{"5 parcels without a merchant", []string{"", "", "", "", ""}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldOpts(t, opts)
			w.ingestAt(t, parcels(w, tc.merchants...)...)
			now := t0.Add(50 * time.Minute)
			got := ofKind(w.scanAt(t, now), tracking.AnMerchantBurst)
			if len(got) != tc.want {
				t.Fatalf("got %d bursts %+v, want %d", len(got), got, tc.want)
			}
			if tc.want == 0 {
				return
			}
			if got[0].MerchantID != "m1" || got[0].Waybill != "YT0000000001" || got[0].Carrier != w.hqA {
				t.Errorf("got %+v, want a burst of m1 from hqA naming the first waybill", got[0])
			}
			if again := w.scanAt(t, now.Add(time.Minute)); len(again) != 0 {
				t.Errorf("second scan reported %v as new", anomalyKinds(again))
			}
			if stored := w.anomalies(t, tracking.AnMerchantBurst); len(stored) != 1 {
				t.Errorf("stored %d bursts, want 1", len(stored))
			}
		})
	}
}

func TestAnomalyToIncident(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	res := w.accept(t, shipped(ev("c1", "YT0000000001", w.hqA, tracking.Collected, hours(0), w.siteBr, w.yBr), "m1", recipientPhone),
		ev("v1", "YT0000000001", w.hqA, tracking.Delivered, hours(2), w.siteBr, w.yBr),
		ev("c2", "YT0000000002", w.hqA, tracking.Collected, hours(0), w.siteA, w.xA),
		ev("v2", "YT0000000002", w.hqA, tracking.Delivered, hours(2), w.siteA, w.xA))
	if len(res.Anomalies) != 2 {
		t.Fatalf("got %v, want two no-transit anomalies", anomalyKinds(res.Anomalies))
	}
	first, second := res.Anomalies[0], res.Anomalies[1]
	if first.Waybill != "YT0000000001" {
		first, second = second, first
	}

	tests := []struct {
		name   string
		caller credtrace.Caller
		id     string
		kind   tracking.IncidentKind
		want   error
	}{
		{"a firm may not", firmCaller(w.hqA), first.ID, "", credtrace.ErrForbidden},
		{"unknown anomaly", regulator, "no_transit-00", "", credtrace.ErrNotFound},
		{"bad kind", regulator, second.ID, "stolen", credtrace.ErrInvalid},
		{"first time", regulator, first.ID, "", nil},
		{"second time", regulator, first.ID, "", credtrace.ErrConflict},
		{"second time with another kind", regulator, first.ID, tracking.IncDelayed, credtrace.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.props.all())
			inc, err := w.svc.AnomalyToIncident(w.ctx, tc.caller, tc.id, tc.kind, "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil {
				if got := len(w.props.all()); got != before {
					t.Errorf("a refused call proposed %d records", got-before)
				}
				return
			}
			if inc.AnomalyID != tc.id || inc.Kind != tracking.IncEmptyParcel || inc.Waybill != "YT0000000001" {
				t.Errorf("got incident %+v, want an empty-parcel incident from %s", inc, tc.id)
			}
			if want := (tracking.Party{FirmID: w.brA, SiteID: w.siteBr, StaffID: w.yBr}); inc.Attribution.Responsible != want {
				t.Errorf("got responsible %+v, want the collecting party %+v", inc.Attribution.Responsible, want)
			}
			a, err := w.ts.Anomaly(w.ctx, tc.id)
			if err != nil || a.IncidentID != inc.ID {
				t.Errorf("anomaly links %q (%v), want %s", a.IncidentID, err, inc.ID)
			}
		})
	}
	open, err := w.svc.Anomalies(w.ctx, regulator, tracking.AnomalyQuery{Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].ID != second.ID {
		t.Errorf("open anomalies %+v, want only %s", open, second.ID)
	}
	incs, err := w.svc.Incidents(w.ctx, regulator, "", "", "", 0)
	if err != nil || len(incs) != 1 {
		t.Errorf("got %d incidents (%v), want 1", len(incs), err)
	}
}

func TestEPCISCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		bizStep, disposition string
		want                 tracking.Code
		ok                   bool
	}{
		{"urn:epcglobal:cbv:bizstep:accepting", "", tracking.Collected, true},
		{"accepting", "", tracking.Collected, true},
		{"https://ref.gs1.org/cbv/BizStep-shipping", "", tracking.Departed, true},
		{"urn:epcglobal:cbv:bizstep:loading", "", tracking.Departed, true},
		{"  urn:epcglobal:cbv:bizstep:receiving  ", "urn:epcglobal:cbv:disp:in_progress", tracking.Arrived, true},
		{"urn:epcglobal:cbv:bizstep:arriving", "", tracking.Arrived, true},
		{"unloading", "", tracking.Arrived, true},
		{"urn:epcglobal:cbv:bizstep:transporting", "urn:epcglobal:cbv:disp:in_transit", tracking.InTransit, true},
		{"storing", "", tracking.HeldForPickup, true},
		{"https://ref.gs1.org/cbv/BizStep-holding", "", tracking.HeldForPickup, true},
		{"returning", "", tracking.Returned, true},
		{"ACCEPTING", "", tracking.Collected, true},
		{"urn:epcglobal:cbv:bizstep:shipping", "urn:epcglobal:cbv:disp:damaged", tracking.Damaged, true},
		{"shipping", "https://ref.gs1.org/cbv/Disp-damaged", tracking.Damaged, true},
		{"transporting", "stolen", tracking.Lost, true},
		{"", "urn:epcglobal:cbv:disp:destroyed", tracking.Lost, true},
		{"shipping", "returned", tracking.Returned, true},
		{"out_for_delivery", "", tracking.OutForDelivery, true},
		{"urn:credtrace:bizstep:delivered", "", tracking.Delivered, true},
		{"https://ref.gs1.org/cbv/BizStep-held_for_pickup", "", tracking.HeldForPickup, true},
		{"handover", "", tracking.Handover, true},
		{"urn:epcglobal:cbv:bizstep:inspecting", "", "", false},
		{"", "urn:epcglobal:cbv:disp:in_progress", "", false},
		{"", "", "", false},
		{"teleporting", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.bizStep+"|"+tc.disposition, func(t *testing.T) {
			got, ok := tracking.EPCISCode(tc.bizStep, tc.disposition)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestEPCISRef(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"urn:epc:id:sgln:0614141.00777.0", "0614141.00777.0"},
		{"urn:epc:id:sgtin:0614141.107346.2018", "0614141.107346.2018"},
		{"https://x/site/abc", "abc"},
		{" https://id.example.cn/staff/8a7b-11 ", "8a7b-11"},
		{"abc", "abc"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := tracking.EPCISRef(tc.in); got != tc.want {
			t.Errorf("EPCISRef(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
