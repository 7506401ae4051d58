package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// RunTracking checks the tracking.Store contract, one subtest per behaviour: round-trips of
// events, parcel summaries, carrier settings, incidents and anomalies; statistics that add up
// and are added exactly once however often a batch or a source is sent again; list order,
// filters and paging; and the sentinel errors of the tracking package. open is called once per
// subtest and must return a fresh, empty store; it should close the store with t.Cleanup.
//
// What the suite cannot do is stop a backend half-way through a write: each backend tests its
// own recovery from that.
func RunTracking(t *testing.T, open func(t *testing.T) tracking.Store) {
	t.Helper()
	var all []trackingBehaviour
	all = append(all, eventBehaviours...)
	all = append(all, parcelBehaviours...)
	all = append(all, statsBehaviours...)
	all = append(all, carrierBehaviours...)
	all = append(all, incidentBehaviours...)
	all = append(all, anomalyBehaviours...)
	all = append(all, trackingBehaviour{"TrackingAtomic", testTrackingAtomic})
	all = append(all, trackingBehaviour{"StatTotals", testStatTotals})
	all = append(all, trackingBehaviour{"StatTotalsPage", testStatTotalsPage})
	all = append(all, guessBehaviours...)
	all = append(all, journalBehaviours...)
	all = append(all, liveBehaviours...)
	all = append(all, linkBehaviours...)
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			t.Cleanup(cancel)
			b.run(ctx, t, open(t))
		})
	}
}

// trackingBehaviour is one subtest of RunTracking.
type trackingBehaviour struct {
	name string
	run  func(ctx context.Context, t *testing.T, s tracking.Store)
}

func eventID(e tracking.Event) string        { return e.ID }
func waybillOf(p tracking.Parcel) string     { return p.Waybill }
func incidentID(in tracking.Incident) string { return in.ID }
func anomalyID(a tracking.Anomaly) string    { return a.ID }

// delta builds one statistics delta.
func delta(kind tracking.SubjectKind, id, d string, m tracking.Metric, n int) tracking.StatDelta {
	return tracking.StatDelta{Key: tracking.StatKey{Kind: kind, ID: id, Day: d}, Metric: m, N: n}
}

// day is the statistics day of at(n).
func day(n int) string { return tracking.Day(at(n)) }

// writeBatch stores b and fails the test when that fails.
func writeBatch(ctx context.Context, t *testing.T, s tracking.Store, what string, b tracking.Batch) {
	t.Helper()
	must(t, what, s.WriteBatch(ctx, b))
}

// events returns the events of carrier c1's parcel of a waybill, sorted by id (the store
// answers in any order).
func events(ctx context.Context, t *testing.T, s tracking.Store, waybill string) []tracking.Event {
	t.Helper()
	return eventsOf(ctx, t, s, tracking.ParcelKey{Carrier: "c1", Waybill: waybill})
}

// eventsOf returns one parcel's events sorted by id.
func eventsOf(ctx context.Context, t *testing.T, s tracking.Store, k tracking.ParcelKey) []tracking.Event {
	t.Helper()
	got, err := s.ParcelEvents(ctx, k)
	if err != nil {
		t.Fatalf("ParcelEvents %v: %v", k, err)
	}
	slices.SortFunc(got, func(a, b tracking.Event) int { return strings.Compare(a.ID, b.ID) })
	return got
}

// ----- events -----

var eventBehaviours = []trackingBehaviour{
	{"EventRoundTrip", testEventRoundTrip},
	{"EventsOfOneCarrier", testEventsOfOneCarrier},
	{"EventHashes", testEventHashes},
	{"EventKeptWhenSentAgain", testEventKeptWhenSentAgain},
}

// fullEvent sets every field: a position, a holder with site and person, and deltas.
func fullEvent() tracking.Event {
	lat, lng := 39.904211, -116.407395
	return tracking.Event{
		ID: "ev-1", Waybill: "SF1000000001", Carrier: "c1", Code: tracking.Collected, RawCode: "10.揽件", At: at(1),
		SiteID: "s1", StaffID: "p1", FirmID: "f1",
		Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "f1", SiteID: "s1", StaffID: "p1"},
		Region: "110101", Lat: &lat, Lng: &lng, WeightGrams: 1250, MerchantID: "m1", RecipientKey: "rk-1",
		Remark: "已揽收，“易碎” $x.y", Extensions: `{"action":"OBSERVE","example:$x.y":{"a":[1,"二"]}}`, Hash: "hash-1", ReceivedAt: at(2),
		Deltas: []tracking.StatDelta{
			delta(tracking.SubjectFirm, "f1", day(1), tracking.MHandled, 1),
			delta(tracking.SubjectSite, "s1", day(1), tracking.MHandled, 1),
			delta(tracking.SubjectStaff, "p1", day(1), tracking.MHandled, 1),
		},
	}
}

// sparseEvent has no position, no site or person, the recipient as holder and no deltas.
func sparseEvent() tracking.Event {
	return tracking.Event{
		ID: "ev-2", Waybill: "SF1000000001", Carrier: "c1", Code: tracking.Delivered, At: at(3), FirmID: "c1",
		Holder: tracking.Holder{Kind: tracking.HolderRecipient}, Signer: tracking.SignerLocker, Hash: "hash-2", ReceivedAt: at(4),
	}
}

func testEventRoundTrip(ctx context.Context, t *testing.T, s tracking.Store) {
	full, sparse := fullEvent(), sparseEvent()
	zero := 0.0
	other := tracking.Event{ID: "ev-1", Waybill: "YT2000000002", Carrier: "c2", Code: tracking.Arrived, At: at(5), FirmID: "c2",
		Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "c2"}, Lat: &zero, Lng: &zero, Hash: "hash-3", ReceivedAt: at(5)}
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Events: []tracking.Event{sparse, other, full}})

	got := events(ctx, t, s, full.Waybill)
	checkList(t, "ParcelEvents of "+full.Waybill, got, []tracking.Event{full, sparse}, eventID)
	if len(got) == 2 && (got[1].Lat != nil || got[1].Lng != nil) {
		t.Errorf("an event without a position came back with lat %v, lng %v; want nil", got[1].Lat, got[1].Lng)
	}
	got = eventsOf(ctx, t, s, other.Parcel())
	checkList(t, "ParcelEvents of "+other.Waybill+" (a position at 0,0)", got, []tracking.Event{other}, eventID)
	if len(got) == 1 && got[0].Lat == nil {
		t.Errorf("a position at 0,0 came back as no position")
	}
	if got := events(ctx, t, s, "NOSUCHWAYBILL"); len(got) != 0 {
		t.Errorf("ParcelEvents of an unknown waybill: got %d events, want none", len(got))
	}
}

// testEventsOfOneCarrier: a waybill used by two carriers is two parcels; each parcel's events
// are its carrier's only, and the waybill's carriers come back sorted.
func testEventsOfOneCarrier(ctx context.Context, t *testing.T, s tracking.Store) {
	full, sparse := fullEvent(), sparseEvent()
	squat := tracking.Event{ID: "ev-9", Waybill: full.Waybill, Carrier: "c0", Code: tracking.Delivered, At: at(2), FirmID: "c0",
		Holder: tracking.Holder{Kind: tracking.HolderRecipient}, Signer: tracking.SignerRecipient, Hash: "hash-9", ReceivedAt: at(2)}
	twin := full
	twin.Carrier, twin.Hash = "c2", "hash-twin"
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Events: []tracking.Event{full, squat, sparse, twin}})
	checkList(t, "events of c1's parcel", events(ctx, t, s, full.Waybill), []tracking.Event{full, sparse}, eventID)
	checkList(t, "events of c0's parcel", eventsOf(ctx, t, s, squat.Parcel()), []tracking.Event{squat}, eventID)
	checkList(t, "events of c2's parcel", eventsOf(ctx, t, s, twin.Parcel()), []tracking.Event{twin}, eventID)
	if got := eventsOf(ctx, t, s, tracking.ParcelKey{Carrier: "c9", Waybill: full.Waybill}); len(got) != 0 {
		t.Errorf("events of a carrier that never used the waybill: got %d, want none", len(got))
	}
	got, err := s.WaybillCarriers(ctx, full.Waybill)
	must(t, "WaybillCarriers", err)
	check(t, "WaybillCarriers (sorted, each once)", got, []string{"c0", "c1", "c2"})
	got, err = s.WaybillCarriers(ctx, "NOSUCHWAYBILL")
	must(t, "WaybillCarriers of an unknown waybill", err)
	if len(got) != 0 {
		t.Errorf("WaybillCarriers of an unknown waybill = %v, want none", got)
	}
	if bs, ok := s.(tracking.BatchCarriers); ok {
		many, err := bs.WaybillsCarriers(ctx, []string{full.Waybill, "NOSUCHWAYBILL"})
		must(t, "WaybillsCarriers", err)
		check(t, "WaybillsCarriers of the shared waybill (sorted, each once)", many[full.Waybill], []string{"c0", "c1", "c2"})
		if got := many["NOSUCHWAYBILL"]; len(got) != 0 {
			t.Errorf("WaybillsCarriers of an unknown waybill = %v, want none", got)
		}
	}
}

func testEventHashes(ctx context.Context, t *testing.T, s tracking.Store) {
	full, sparse := fullEvent(), sparseEvent()
	twin := full
	twin.Carrier, twin.Hash = "c2", "hash-twin" // the same id from another carrier is another event
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Events: []tracking.Event{full, sparse, twin}})

	got, err := s.EventHashes(ctx, []string{full.Key(), "c1|unknown", twin.Key(), sparse.Key(), "c9|ev-1"})
	must(t, "EventHashes", err)
	want := map[string]string{full.Key(): "hash-1", sparse.Key(): "hash-2", twin.Key(): "hash-twin"}
	check(t, "EventHashes (unknown keys absent)", got, want)

	got, err = s.EventHashes(ctx, nil)
	must(t, "EventHashes of no keys", err)
	if len(got) != 0 {
		t.Errorf("EventHashes of no keys = %v, want empty", got)
	}
}

// testEventKeptWhenSentAgain: an event whose key is stored (another writer won) is skipped, so
// the first content stays.
func testEventKeptWhenSentAgain(ctx context.Context, t *testing.T, s tracking.Store) {
	first := fullEvent()
	writeBatch(ctx, t, s, "first WriteBatch", tracking.Batch{Events: []tracking.Event{first}})
	rival := first
	rival.Code, rival.Remark, rival.Hash, rival.Deltas = tracking.Arrived, "rival", "hash-rival", nil
	writeBatch(ctx, t, s, "WriteBatch of a stored key", tracking.Batch{Events: []tracking.Event{rival}})

	checkList(t, "events after the second write", events(ctx, t, s, first.Waybill), []tracking.Event{first}, eventID)
	got, err := s.EventHashes(ctx, []string{first.Key()})
	must(t, "EventHashes", err)
	check(t, "EventHashes after the second write", got, map[string]string{first.Key(): "hash-1"})
}

// ----- parcels -----

var parcelBehaviours = []trackingBehaviour{
	{"ParcelRoundTrip", testParcelRoundTrip},
	{"ParcelRewrite", testParcelRewrite},
	{"ParcelQueries", testParcelQueries},
	{"MerchantCounts", testMerchantCounts},
}

// testMerchantCounts: per merchant, the parcels collected at or after the bound and their
// distinct recipients (a parcel without one counts as a parcel only), from minParcels up, in
// merchant order; parcels without a merchant, or collected before, count for nobody.
func testMerchantCounts(ctx context.Context, t *testing.T, s tracking.Store) {
	var ps []tracking.Parcel
	add := func(merchant, recipient string, collected int) {
		n := len(ps) + 1
		ps = append(ps, tracking.Parcel{Waybill: fmt.Sprintf("W%04d", n), Carrier: "c1", Carriers: []string{"c1"},
			Status: tracking.Collected, LastAt: at(collected), CollectedAt: at(collected), MerchantID: merchant, RecipientID: recipient})
	}
	for _, r := range []string{"r1", "r2", "r2", "", "r3"} {
		add("m2", r, 2)
	}
	add("m2", "r9", 0) // before the window
	add("m1", "r1", 3)
	add("m1", "r1", 4)
	add("m1", "r2", 5)
	add("m3", "r1", 3) // below minParcels
	add("", "r1", 3)   // no merchant
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Parcels: ps})
	got, err := s.MerchantCounts(ctx, at(1), 2)
	must(t, "MerchantCounts", err)
	want := []tracking.MerchantCount{{MerchantID: "m1", Parcels: 3, Recipients: 2}, {MerchantID: "m2", Parcels: 5, Recipients: 3}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("MerchantCounts = %v, want %v", got, want)
	}
	none, err := s.MerchantCounts(ctx, at(6), 1)
	must(t, "MerchantCounts", err)
	if len(none) != 0 {
		t.Errorf("MerchantCounts after every collection = %v, want none", none)
	}
}

// fullParcel sets every field.
func fullParcel() tracking.Parcel {
	return tracking.Parcel{
		Waybill: "SF1000000001", Carrier: "c1", Carriers: []string{"c1", "c2"},
		Status: tracking.Delivered, StatusAt: at(5),
		Holder: tracking.Holder{Kind: tracking.HolderRecipient}, HolderAt: at(5),
		CollectedAt: at(1), CollectedBy: tracking.Party{FirmID: "f1", SiteID: "s1", StaffID: "p1"},
		DeliveredAt: at(5), DeliveredBy: tracking.Party{FirmID: "f2", SiteID: "s2", StaffID: "p2"},
		Signer: tracking.SignerProxy, MerchantID: "m1", RecipientKey: "rk-1", WeightGrams: 830, TransitScans: 3,
		FirstAt: at(1), LastAt: at(5), Events: 6, PromiseBy: at(4), Judged: true,
		Handled: []string{"firm|f1|" + day(1), "site|s1|" + day(1)}, Final: true, UpdatedAt: at(6),
		Verdict: tracking.VerdictWithheld, CollectedRegion: "130102", LastRegion: "130111", DeliveryWithheld: true, Empty: true,
		Custody: []tracking.Step{
			{At: at(1), Code: tracking.Collected, EventID: "e1", Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "f1", SiteID: "s1", StaffID: "p1"}},
			{At: at(2), Code: tracking.Departed, EventID: "e2", Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "f1"}},
			{At: at(5), Code: tracking.Delivered, EventID: "e6", Holder: tracking.Holder{Kind: tracking.HolderRecipient}},
		},
		Delay: []tracking.Share{
			{Holder: tracking.Party{FirmID: "f1", SiteID: "s1", StaffID: "p1"}, Kind: tracking.SegPickup, Milli: 333, Over: 90 * time.Minute, EventID: "e1", InHand: 333},
			{Holder: tracking.Party{FirmID: "f1"}, Kind: tracking.SegLineHaul, Milli: 667, Over: 3 * time.Hour, EventID: "e2"},
			{Holder: tracking.Party{FirmID: "f2", SiteID: "s2"}, Milli: 1000}, // a fallback share: no kind
		},
	}
}

// sparseParcel is a parcel seen once in transit: nothing collected, delivered or judged.
func sparseParcel() tracking.Parcel {
	return tracking.Parcel{
		Waybill: "YT2000000002", Carrier: "c2", Carriers: []string{"c2"}, Status: tracking.InTransit, StatusAt: at(2),
		Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "c2"}, HolderAt: at(2), TransitScans: 1,
		FirstAt: at(2), LastAt: at(2), Events: 1, UpdatedAt: at(3),
	}
}

func testParcelRoundTrip(ctx context.Context, t *testing.T, s tracking.Store) {
	full, sparse := fullParcel(), sparseParcel()
	// The same waybill at another carrier is another parcel.
	twin := sparseParcel()
	twin.Waybill = full.Waybill
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Parcels: []tracking.Parcel{full, sparse, twin}})
	unknown := tracking.ParcelKey{Carrier: "c1", Waybill: "NOSUCHWAYBILL"}
	other := tracking.ParcelKey{Carrier: "c9", Waybill: full.Waybill}
	got, err := s.ParcelsByKey(ctx, []tracking.ParcelKey{sparse.Key(), unknown, full.Key(), other, twin.Key()})
	must(t, "ParcelsByKey", err)
	if _, ok := got[unknown]; ok || len(got) != 3 {
		t.Errorf("ParcelsByKey: got %v, want exactly %v, %v and %v", keys(got), full.Key(), sparse.Key(), twin.Key())
	}
	check(t, "full parcel", got[full.Key()], full)
	check(t, "sparse parcel", got[sparse.Key()], sparse)
	check(t, "the same waybill at another carrier", got[twin.Key()], twin)

	got, err = s.ParcelsByKey(ctx, []tracking.ParcelKey{unknown})
	must(t, "ParcelsByKey of an unknown parcel", err)
	if len(got) != 0 {
		t.Errorf("ParcelsByKey of an unknown parcel: got %v, want an empty map", keys(got))
	}
}

func keys[V any](m map[tracking.ParcelKey]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k.String())
	}
	slices.Sort(out)
	return out
}

// testParcelRewrite: a later batch replaces the whole summary, fields cleared included, and
// leaves the same waybill's parcel at another carrier alone.
func testParcelRewrite(ctx context.Context, t *testing.T, s tracking.Store) {
	p := sparseParcel()
	twin := sparseParcel()
	twin.Carrier, twin.Carriers = "c3", []string{"c3"}
	writeBatch(ctx, t, s, "first WriteBatch", tracking.Batch{Parcels: []tracking.Parcel{p, twin}})
	p2 := fullParcel()
	p2.Waybill, p2.Carrier = p.Waybill, p.Carrier
	writeBatch(ctx, t, s, "second WriteBatch", tracking.Batch{Parcels: []tracking.Parcel{p2}})
	got, err := s.ParcelsByKey(ctx, []tracking.ParcelKey{p.Key(), twin.Key()})
	must(t, "ParcelsByKey", err)
	check(t, "after the rewrite to a full parcel", got[p.Key()], p2)
	check(t, "the other carrier's parcel of the waybill", got[twin.Key()], twin)

	writeBatch(ctx, t, s, "third WriteBatch", tracking.Batch{Parcels: []tracking.Parcel{p}})
	got, err = s.ParcelsByKey(ctx, []tracking.ParcelKey{p.Key()})
	must(t, "ParcelsByKey", err)
	check(t, "after the rewrite back to a sparse parcel", got[p.Key()], p)
}

func testParcelQueries(ctx context.Context, t *testing.T, s tracking.Store) {
	mk := func(n int, carrier string, final bool, last, promise, collected int, merchant string) tracking.Parcel {
		p := tracking.Parcel{Waybill: fmt.Sprintf("W%04d", n), Carrier: carrier, Carriers: []string{carrier},
			Status: tracking.InTransit, Final: final, LastAt: at(last), MerchantID: merchant, UpdatedAt: at(9 + n%2)}
		if final {
			p.Status = tracking.Delivered
		}
		if promise >= 0 {
			p.PromiseBy = at(promise)
		}
		if collected >= 0 {
			p.CollectedAt = at(collected)
		}
		return p
	}
	ps := []tracking.Parcel{
		mk(4, "c2", false, 3, 4, 2, "m2"),
		mk(1, "c1", false, 1, 5, 0, "m1"),
		mk(5, "c3", false, 4, 8, 3, "m3"),
		mk(3, "c2", false, 6, -1, -1, ""), // not collected: no promise
		mk(2, "c1", true, 2, 3, 1, ""),
	}
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Parcels: ps})
	cases := []struct {
		name string
		q    tracking.ParcelQuery
		want []string
	}{
		{"all, in waybill order", tracking.ParcelQuery{}, []string{"W0001", "W0002", "W0003", "W0004", "W0005"}},
		{"carriers", tracking.ParcelQuery{Carriers: []string{"c2", "c3"}}, []string{"W0003", "W0004", "W0005"}},
		{"not final", tracking.ParcelQuery{NotFinal: true}, []string{"W0001", "W0003", "W0004", "W0005"}},
		{"last before (strictly)", tracking.ParcelQuery{LastBefore: at(3)}, []string{"W0001", "W0002"}},
		{"promise before (strictly; none set is never due)", tracking.ParcelQuery{PromiseBefore: at(5)}, []string{"W0002", "W0004"}},
		{"collected at or after", tracking.ParcelQuery{CollectedAfter: at(1)}, []string{"W0002", "W0004", "W0005"}},
		{"has merchant", tracking.ParcelQuery{HasMerchant: true}, []string{"W0001", "W0004", "W0005"}},
		{"one merchant", tracking.ParcelQuery{MerchantID: "m2"}, []string{"W0004"}},
		{"not final and last before", tracking.ParcelQuery{NotFinal: true, LastBefore: at(5)}, []string{"W0001", "W0004", "W0005"}},
		{"carriers and not final", tracking.ParcelQuery{Carriers: []string{"c1", "c3"}, NotFinal: true}, []string{"W0001", "W0005"}},
		{"last from (inclusive) and before", tracking.ParcelQuery{LastFrom: at(3), LastBefore: at(6)}, []string{"W0004", "W0005"}},
		{"promise from (inclusive) and before", tracking.ParcelQuery{NotFinal: true, PromiseFrom: at(4), PromiseBefore: at(8)}, []string{"W0001", "W0004"}},
		{"updated from (inclusive)", tracking.ParcelQuery{NotFinal: true, UpdatedFrom: at(10)}, []string{"W0001", "W0003", "W0005"}},
		{"updated from and promise before", tracking.ParcelQuery{NotFinal: true, UpdatedFrom: at(10), PromiseBefore: at(6)}, []string{"W0001"}},
		{"limit", tracking.ParcelQuery{Limit: 2}, []string{"W0001", "W0002"}},
		{"after, limit", tracking.ParcelQuery{After: ps[4].Key().String(), Limit: 2}, []string{"W0003", "W0004"}},
		{"after the fourth", tracking.ParcelQuery{After: ps[0].Key().String()}, []string{"W0005"}},
		{"after the last", tracking.ParcelQuery{After: ps[2].Key().String()}, nil},
		{"after with a filter", tracking.ParcelQuery{After: ps[1].Key().String(), HasMerchant: true, Limit: 1}, []string{"W0004"}},
		{"newest collected first", tracking.ParcelQuery{CollectedAfter: at(1), NewestCollected: true}, []string{"W0005", "W0004", "W0002"}},
		{"newest collected first, limit", tracking.ParcelQuery{HasMerchant: true, CollectedAfter: at(0), NewestCollected: true, Limit: 2}, []string{"W0005", "W0004"}},
	}
	for _, c := range cases {
		got, err := s.Parcels(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, waybillOf, c.want...)
	}
	got, err := s.Parcels(ctx, tracking.ParcelQuery{Carriers: []string{"c3"}})
	must(t, "Parcels", err)
	checkList(t, "the parcel of c3, every field", got, []tracking.Parcel{ps[2]}, waybillOf)

	// The same waybill at two carriers: two parcels, in carrier order, and paging by key
	// does not skip the second one at a page boundary.
	twins := []tracking.Parcel{mk(4, "c1", false, 3, 4, 2, "m2"), mk(4, "c9", false, 3, 4, 2, "m2")}
	writeBatch(ctx, t, s, "WriteBatch of twins", tracking.Batch{Parcels: twins})
	key := func(p tracking.Parcel) string { return p.Key().String() }
	got, err = s.Parcels(ctx, tracking.ParcelQuery{After: ps[4].Key().String(), Limit: 3})
	must(t, "Parcels", err)
	checkIDs(t, "by waybill, then carrier", got, key, "W0003 c2", "W0004 c1", "W0004 c2")
	got, err = s.Parcels(ctx, tracking.ParcelQuery{After: "W0004 c1", Limit: 2})
	must(t, "Parcels", err)
	checkIDs(t, "a page that starts inside a shared waybill", got, key, "W0004 c2", "W0004 c9")
	got, err = s.Parcels(ctx, tracking.ParcelQuery{MerchantID: "m2"})
	must(t, "Parcels", err)
	checkIDs(t, "one merchant's parcels at every carrier", got, key, "W0004 c1", "W0004 c2", "W0004 c9")
}

// ----- statistics -----

var statsBehaviours = []trackingBehaviour{
	{"StatsAddUp", testStatsAddUp},
	{"StatsOnceWhenBatchSentAgain", testStatsOnceWhenBatchSentAgain},
	{"StatsManyEventsOneKey", testStatsManyEventsOneKey},
	{"AddStatsOnce", testAddStatsOnce},
	{"EveryMetric", testEveryMetric},
	{"StatsFilters", testStatsFilters},
}

// stat is the wanted counters of one key; a metric left out is wanted zero.
func stat(kind tracking.SubjectKind, id, d string, counts map[tracking.Metric]int) tracking.DayStats {
	return tracking.DayStats{Key: tracking.StatKey{Kind: kind, ID: id, Day: d}, Counts: counts}
}

// checkStats checks the keys of got, in order, and every metric of each, a metric the store
// leaves out counting as zero.
func checkStats(t *testing.T, what string, got []tracking.DayStats, want ...tracking.DayStats) {
	t.Helper()
	key := func(d tracking.DayStats) string { return d.Key.String() }
	if g, w := ids(got, key), ids(want, key); !slices.Equal(g, w) {
		t.Errorf("%s: got keys %q, want %q", what, g, w)
		return
	}
	for i := range got {
		for _, m := range tracking.Metrics {
			if g, w := got[i].Counts[m], want[i].Counts[m]; g != w {
				t.Errorf("%s: %s %s = %d, want %d", what, got[i].Key, m, g, w)
			}
		}
		for m := range got[i].Counts {
			if !slices.Contains(tracking.Metrics, m) {
				t.Errorf("%s: %s has an unknown metric %q", what, got[i].Key, m)
			}
		}
	}
}

// stats returns the statistics of kind, failing the test on an error.
func stats(ctx context.Context, t *testing.T, s tracking.Store, q tracking.StatsQuery) []tracking.DayStats {
	t.Helper()
	got, err := s.Stats(ctx, q)
	if err != nil {
		t.Fatalf("Stats %+v: %v", q, err)
	}
	return got
}

// statsEvent is an event on waybill W0001 that moves ds.
func statsEvent(id string, ds ...tracking.StatDelta) tracking.Event {
	return tracking.Event{ID: id, Waybill: "W0001", Carrier: "c1", Code: tracking.Arrived, At: at(1), FirmID: "f1",
		Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "f1"}, Hash: "h-" + id, ReceivedAt: at(1), Deltas: ds}
}

// Short names of the subject kinds, for the tables below.
const (
	kFirm  = tracking.SubjectFirm
	kSite  = tracking.SubjectSite
	kStaff = tracking.SubjectStaff
)

// statsBatch moves several metrics of several keys, some keys from more than one event, one
// key twice from one event.
func statsBatch() tracking.Batch {
	return tracking.Batch{
		Events: []tracking.Event{
			statsEvent("e1", delta(kFirm, "f1", day(1), tracking.MHandled, 1), delta(kSite, "s1", day(1), tracking.MHandled, 1)),
			statsEvent("e2", delta(kFirm, "f1", day(1), tracking.MDelivered, 1), delta(kFirm, "f1", day(1), tracking.MOnTime, 1),
				delta(kStaff, "p1", day(1), tracking.MHandled, 1)),
			statsEvent("e3", delta(kFirm, "f1", day(30), tracking.MLate, 1), delta(kFirm, "f1", day(1), tracking.MHandled, 1),
				delta(kFirm, "f1", day(1), tracking.MHandled, 1)),
			statsEvent("e4"),
		},
		Parcels: []tracking.Parcel{{Waybill: "W0001", Carrier: "c1", Carriers: []string{"c1"}, Events: 4, LastAt: at(1)}},
	}
}

// statsBatchWant is what statsBatch adds up to, by kind.
var statsBatchWant = map[tracking.SubjectKind][]tracking.DayStats{
	kFirm: {
		stat(kFirm, "f1", day(1), map[tracking.Metric]int{tracking.MHandled: 3, tracking.MDelivered: 1, tracking.MOnTime: 1}),
		stat(kFirm, "f1", day(30), map[tracking.Metric]int{tracking.MLate: 1}),
	},
	kSite:  {stat(kSite, "s1", day(1), map[tracking.Metric]int{tracking.MHandled: 1})},
	kStaff: {stat(kStaff, "p1", day(1), map[tracking.Metric]int{tracking.MHandled: 1})},
}

func checkStatsBatch(ctx context.Context, t *testing.T, s tracking.Store, what string) {
	t.Helper()
	for _, kind := range []tracking.SubjectKind{kFirm, kSite, kStaff} {
		checkStats(t, fmt.Sprintf("%s: %s statistics", what, kind), stats(ctx, t, s, tracking.StatsQuery{Kind: kind}), statsBatchWant[kind]...)
	}
}

func testStatsAddUp(ctx context.Context, t *testing.T, s tracking.Store) {
	writeBatch(ctx, t, s, "WriteBatch", statsBatch())
	checkStatsBatch(ctx, t, s, "after one batch")

	writeBatch(ctx, t, s, "second WriteBatch", tracking.Batch{Events: []tracking.Event{
		statsEvent("e5", delta(kFirm, "f1", day(1), tracking.MLost, 1), delta(kFirm, "f1", day(1), tracking.MHandled, 2)),
	}})
	checkStats(t, "after a second batch", stats(ctx, t, s, tracking.StatsQuery{Kind: kFirm, IDs: []string{"f1"}, From: day(1), To: day(1)}),
		stat(kFirm, "f1", day(1), map[tracking.Metric]int{tracking.MHandled: 5, tracking.MDelivered: 1, tracking.MOnTime: 1, tracking.MLost: 1}))
}

// testStatsOnceWhenBatchSentAgain: a batch sent again finds its events stored and adds nothing,
// while its parcels are written again; an event sent with them for the first time still counts.
func testStatsOnceWhenBatchSentAgain(ctx context.Context, t *testing.T, s tracking.Store) {
	b := statsBatch()
	writeBatch(ctx, t, s, "WriteBatch", b)
	again := statsBatch()
	again.Parcels[0].Events, again.Parcels[0].Status = 99, tracking.Exception
	writeBatch(ctx, t, s, "the same batch again", again)
	checkStatsBatch(ctx, t, s, "after the batch was sent twice")
	got, err := s.ParcelsByKey(ctx, []tracking.ParcelKey{again.Parcels[0].Key()})
	must(t, "ParcelsByKey", err)
	check(t, "the parcel after the batch was sent again", got[again.Parcels[0].Key()], again.Parcels[0])

	// A stored event with other content and other deltas is still a stored event.
	rival := statsEvent("e1", delta(kFirm, "f1", day(1), tracking.MHandled, 100))
	rival.Hash = "h-rival"
	fresh := statsEvent("e6", delta(kSite, "s1", day(1), tracking.MDamaged, 1))
	writeBatch(ctx, t, s, "a batch of stored events and a new one", tracking.Batch{Events: []tracking.Event{b.Events[2], rival, fresh}})
	checkStats(t, "firm statistics", stats(ctx, t, s, tracking.StatsQuery{Kind: kFirm}), statsBatchWant[kFirm]...)
	checkStats(t, "site statistics", stats(ctx, t, s, tracking.StatsQuery{Kind: kSite}),
		stat(kSite, "s1", day(1), map[tracking.Metric]int{tracking.MHandled: 1, tracking.MDamaged: 1}))
}

// testStatsManyEventsOneKey: a batch whose events all move one key (a busy firm's day).
func testStatsManyEventsOneKey(ctx context.Context, t *testing.T, s tracking.Store) {
	var b tracking.Batch
	const n = 25
	for i := range n {
		b.Events = append(b.Events, statsEvent(fmt.Sprintf("e%02d", i), delta(kFirm, "f1", day(1), tracking.MHandled, 1),
			delta(kSite, fmt.Sprintf("s%d", i%2), day(1), tracking.MHandled, 1)))
	}
	writeBatch(ctx, t, s, "WriteBatch", b)
	writeBatch(ctx, t, s, "WriteBatch again", b)
	checkStats(t, "firm statistics", stats(ctx, t, s, tracking.StatsQuery{Kind: kFirm}),
		stat(kFirm, "f1", day(1), map[tracking.Metric]int{tracking.MHandled: n}))
	checkStats(t, "site statistics", stats(ctx, t, s, tracking.StatsQuery{Kind: kSite}),
		stat(kSite, "s0", day(1), map[tracking.Metric]int{tracking.MHandled: 13}),
		stat(kSite, "s1", day(1), map[tracking.Metric]int{tracking.MHandled: 12}))
}

func testAddStatsOnce(ctx context.Context, t *testing.T, s tracking.Store) {
	ds := []tracking.StatDelta{
		delta(kFirm, "f1", day(1), tracking.MComplaints, 1),
		delta(kStaff, "p1", day(1), tracking.MComplaints, 1),
		delta(kFirm, "f1", day(1), tracking.MComplaints, 1),
	}
	must(t, "AddStats", s.AddStats(ctx, "incident|i1", ds))
	must(t, "AddStats of the same source again", s.AddStats(ctx, "incident|i1", ds))
	must(t, "AddStats of the same source with other deltas", s.AddStats(ctx, "incident|i1", ds[:1]))
	must(t, "AddStats of another source", s.AddStats(ctx, "incident|i2", ds[1:2]))
	must(t, "AddStats without deltas", s.AddStats(ctx, "incident|i3", nil))
	checkStats(t, "firm statistics", stats(ctx, t, s, tracking.StatsQuery{Kind: kFirm}),
		stat(kFirm, "f1", day(1), map[tracking.Metric]int{tracking.MComplaints: 2}))
	checkStats(t, "staff statistics", stats(ctx, t, s, tracking.StatsQuery{Kind: kStaff}),
		stat(kStaff, "p1", day(1), map[tracking.Metric]int{tracking.MComplaints: 2}))

	// Statistics from events and from sources add up on one key.
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Events: []tracking.Event{statsEvent("e1", delta(kFirm, "f1", day(1), tracking.MHandled, 1))}})
	checkStats(t, "firm statistics after a batch", stats(ctx, t, s, tracking.StatsQuery{Kind: kFirm}),
		stat(kFirm, "f1", day(1), map[tracking.Metric]int{tracking.MComplaints: 2, tracking.MHandled: 1}))
}

// testEveryMetric: every metric (empty_suspect and negative withdrawals included) is kept and
// summed, from sources as from events.
func testEveryMetric(ctx context.Context, t *testing.T, s tracking.Store) {
	want := map[tracking.Metric]int{}
	var ds []tracking.StatDelta
	for i, m := range tracking.Metrics {
		ds = append(ds, delta(kSite, "s1", day(1), m, i+2))
		want[m] = i + 1
	}
	must(t, "AddStats", s.AddStats(ctx, "every", ds))
	var back []tracking.StatDelta
	for _, m := range tracking.Metrics {
		back = append(back, delta(kSite, "s1", day(1), m, -1))
	}
	writeBatch(ctx, t, s, "WriteBatch", tracking.Batch{Events: []tracking.Event{statsEvent("e-every", back...)}})
	checkStats(t, "site statistics", stats(ctx, t, s, tracking.StatsQuery{Kind: kSite}), stat(kSite, "s1", day(1), want))
	tot, err := s.StatTotals(ctx, kSite, day(1), day(1))
	must(t, "StatTotals", err)
	if fmt.Sprint(tot["s1"]) != fmt.Sprint(want) {
		t.Errorf("StatTotals = %v, want %v", tot["s1"], want)
	}
}

func testStatsFilters(ctx context.Context, t *testing.T, s tracking.Store) {
	one := map[tracking.Metric]int{tracking.MHandled: 1}
	days := []string{"2026-03-01", "2026-03-02", "2026-03-03", "2026-03-10"}
	var ds []tracking.StatDelta
	for _, id := range []string{"f2", "f1", "f3"} {
		for _, d := range days {
			ds = append(ds, delta(kFirm, id, d, tracking.MHandled, 1))
		}
	}
	ds = append(ds, delta(kSite, "f1", days[1], tracking.MHandled, 1)) // a site sharing an id with a firm
	must(t, "AddStats", s.AddStats(ctx, "src", ds))

	all := func(id string, ds ...string) []tracking.DayStats {
		var out []tracking.DayStats
		for _, d := range ds {
			out = append(out, stat(kFirm, id, d, one))
		}
		return out
	}
	cases := []struct {
		name string
		q    tracking.StatsQuery
		want []tracking.DayStats
	}{
		{"every firm, by id then day", tracking.StatsQuery{Kind: kFirm},
			slices.Concat(all("f1", days...), all("f2", days...), all("f3", days...))},
		{"some ids", tracking.StatsQuery{Kind: kFirm, IDs: []string{"f3", "f1", "f9"}},
			slices.Concat(all("f1", days...), all("f3", days...))},
		{"from and to are inclusive", tracking.StatsQuery{Kind: kFirm, IDs: []string{"f2"}, From: days[1], To: days[2]},
			all("f2", days[1], days[2])},
		{"one day", tracking.StatsQuery{Kind: kFirm, IDs: []string{"f2"}, From: days[3], To: days[3]}, all("f2", days[3])},
		{"a range across a month's days", tracking.StatsQuery{Kind: kFirm, IDs: []string{"f1"}, From: days[2], To: "2026-03-31"},
			all("f1", days[2], days[3])},
		{"no day in range", tracking.StatsQuery{Kind: kFirm, From: "2026-04-01", To: "2026-04-30"}, nil},
		{"another kind", tracking.StatsQuery{Kind: kSite}, []tracking.DayStats{stat(kSite, "f1", days[1], one)}},
		{"a kind without statistics", tracking.StatsQuery{Kind: kStaff}, nil},
	}
	for _, c := range cases {
		checkStats(t, c.name, stats(ctx, t, s, c.q), c.want...)
	}
}

// ----- carriers -----

var carrierBehaviours = []trackingBehaviour{
	{"CarrierConfigRoundTrip", testCarrierConfigRoundTrip},
}

func testCarrierConfigRoundTrip(ctx context.Context, t *testing.T, s tracking.Store) {
	if _, err := s.CarrierConfig(ctx, "c1"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("CarrierConfig of a carrier without one: got error %v, want credtrace.ErrNotFound", err)
	}
	full := tracking.CarrierConfig{
		FirmID: "c1", PromiseHours: 48,
		DwellHours: map[tracking.Code]int{tracking.Collected: 6, tracking.HeldForPickup: 96, tracking.InTransit: 30},
		// A carrier's own codes may hold any character.
		Codes:     map[string]tracking.Code{"10": tracking.Collected, "a.b": tracking.Arrived, "$set": tracking.Departed, "签收": tracking.Delivered, " ": tracking.Exception},
		UpdatedAt: at(1),
		// EPCIS: serials under two company prefixes, a cold chain of 2–8 °C.
		WaybillRule: tracking.WaybillSerial, GS1Prefixes: []string{"0614141", "4012345"}, TempMinC: ptr(2.0), TempMaxC: ptr(8.5),
	}
	must(t, "PutCarrierConfig", s.PutCarrierConfig(ctx, full))
	checkGet(ctx, t, "full config", s.CarrierConfig, "c1", full)

	changed := tracking.CarrierConfig{FirmID: "c1", PromiseHours: 24, DwellHours: map[tracking.Code]int{tracking.Arrived: 2},
		Codes: map[string]tracking.Code{"a.b": tracking.Lost}, UpdatedAt: at(2)}
	must(t, "PutCarrierConfig over the stored one", s.PutCarrierConfig(ctx, changed))
	checkGet(ctx, t, "replaced config (old codes gone)", s.CarrierConfig, "c1", changed)

	sparse := tracking.CarrierConfig{FirmID: "c2", UpdatedAt: at(3)}
	must(t, "PutCarrierConfig without maps", s.PutCarrierConfig(ctx, sparse))
	got, err := s.CarrierConfig(ctx, "c2")
	must(t, "CarrierConfig c2", err)
	if len(got.DwellHours) != 0 || len(got.Codes) != 0 {
		t.Errorf("a config without maps came back with dwell %v, codes %v", got.DwellHours, got.Codes)
	}
	got.DwellHours, got.Codes = nil, nil
	check(t, "sparse config", got, sparse)
	checkGet(ctx, t, "c1 after c2 was stored", s.CarrierConfig, "c1", changed)
}

// ----- incidents -----

var incidentBehaviours = []trackingBehaviour{
	{"IncidentRoundTrip", testIncidentRoundTrip},
	{"IncidentFilters", testIncidentFilters},
	{"IncidentJoin", testIncidentJoin},
}

// fullIncident sets every field, an attribution with two candidates among them.
func fullIncident() tracking.Incident {
	return tracking.Incident{
		ID: "i1", Waybill: "SF1000000001", Carrier: "c1", Kind: tracking.IncDataLeak, Reporter: "merchant m1", ReportedBy: "t1",
		At: at(1), Description: "收件人信息被泄露，接到诈骗电话", Evidence: []string{"screenshot-1", "call log"},
		Attribution: tracking.Attribution{
			Rule: "data_leak_custody", HQID: "hq1", EventIDs: []string{"ev-1", "ev-2"}, Confidence: 0.45,
			Explanation: "two holders saw the label",
			Candidates: []tracking.Candidate{
				{Party: tracking.Party{FirmID: "f1", SiteID: "s1", StaffID: "p1"}, HQID: "hq1", Reason: "collected", EventIDs: []string{"ev-1"}, Confidence: 0.5},
				{Party: tracking.Party{FirmID: "f2"}, HQID: "hq2", Reason: "delivered", EventIDs: []string{"ev-2"}, Confidence: 0.25},
			},
		},
		RecordIDs: []string{"r1", "r2"}, AnomalyID: "a1", CreatedAt: at(2),
		Party: "merchant:m1", JoinedReports: 2,
		Proposed: []tracking.Proposed{
			{Subject: tracking.SubjectFirm, SubjectID: "f1", EventID: "ev-1", RecordID: "r1"},
			{Subject: tracking.SubjectFirm, SubjectID: "f2", EventID: "ev-2", RecordID: "r2"},
		},
	}
}

// testIncidentJoin counts joined reports: each join adds one and answers the incident as
// stored after; nothing else of it changes. (Concurrency is not asked for: tracking serialises
// reports, and FerretDB, the MongoDB test server, loses concurrent $inc that MongoDB keeps.)
func testIncidentJoin(ctx context.Context, t *testing.T, s tracking.Store) {
	full := fullIncident()
	must(t, "CreateIncident", s.CreateIncident(ctx, full))
	want := full
	for _, n := range []int{3, 4, 5} {
		got, err := s.JoinIncident(ctx, full.ID)
		must(t, "JoinIncident", err)
		want.JoinedReports = n
		if !reflect.DeepEqual(got, want) {
			t.Errorf("JoinIncident answered\n%+v\nwant\n%+v", got, want)
		}
	}
	checkGet(ctx, t, "incident after three joins", s.Incident, full.ID, want)
	if _, err := s.JoinIncident(ctx, "nope"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("JoinIncident of an unknown id: got error %v, want credtrace.ErrNotFound", err)
	}
}

func testIncidentRoundTrip(ctx context.Context, t *testing.T, s tracking.Store) {
	full := fullIncident()
	sparse := tracking.Incident{ID: "i2", Waybill: "YT2000000002", Carrier: "c2", Kind: tracking.IncLost, At: at(3),
		Attribution: tracking.Attribution{Rule: "last_holder", Responsible: tracking.Party{FirmID: "f2", SiteID: "s2"}, Confidence: 0.9},
		CreatedAt:   at(4)}
	must(t, "CreateIncident", s.CreateIncident(ctx, full))
	must(t, "CreateIncident sparse", s.CreateIncident(ctx, sparse))
	checkGet(ctx, t, "full incident", s.Incident, "i1", full)
	checkGet(ctx, t, "sparse incident", s.Incident, "i2", sparse)

	dup := sparse
	dup.ID = "i1"
	wantErr(t, "CreateIncident with a taken id", s.CreateIncident(ctx, dup), credtrace.ErrConflict)
	checkGet(ctx, t, "the first incident after the refused create", s.Incident, "i1", full)
	if _, err := s.Incident(ctx, "nope"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("Incident of an unknown id: got error %v, want credtrace.ErrNotFound", err)
	}
}

func testIncidentFilters(ctx context.Context, t *testing.T, s tracking.Store) {
	for _, in := range []tracking.Incident{
		{ID: "i3", Waybill: "W0001", Carrier: "c2", Kind: tracking.IncDelayed, At: at(3), CreatedAt: at(3)},
		{ID: "i1", Waybill: "W0001", Carrier: "c1", Kind: tracking.IncLost, At: at(1), CreatedAt: at(1)},
		{ID: "i2", Waybill: "W0002", Carrier: "c2", Kind: tracking.IncDamaged, At: at(2), CreatedAt: at(2)},
	} {
		must(t, "CreateIncident "+in.ID, s.CreateIncident(ctx, in))
	}
	cases := []struct {
		name string
		q    tracking.IncidentQuery
		want []string
	}{
		{"all, in id order", tracking.IncidentQuery{}, []string{"i1", "i2", "i3"}},
		{"carriers", tracking.IncidentQuery{Carriers: []string{"c2"}}, []string{"i2", "i3"}},
		{"waybill", tracking.IncidentQuery{Waybill: "W0001"}, []string{"i1", "i3"}},
		{"carriers and waybill", tracking.IncidentQuery{Carriers: []string{"c2", "c9"}, Waybill: "W0001"}, []string{"i3"}},
		{"unknown waybill", tracking.IncidentQuery{Waybill: "W0009"}, nil},
		{"after", tracking.IncidentQuery{After: "i1"}, []string{"i2", "i3"}},
		{"limit", tracking.IncidentQuery{Limit: 1}, []string{"i1"}},
		{"after, limit", tracking.IncidentQuery{After: "i1", Limit: 1}, []string{"i2"}},
		{"after the last", tracking.IncidentQuery{After: "i3"}, nil},
		{"an empty carrier list matches nothing", tracking.IncidentQuery{Carriers: []string{}}, nil},
	}
	for _, c := range cases {
		got, err := s.Incidents(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, incidentID, c.want...)
		if c.q.After != "" || c.q.Limit > 0 {
			continue
		}
		// CountIncidents counts what the same query lists.
		if n, err := s.CountIncidents(ctx, c.q); err != nil || n != len(c.want) {
			t.Errorf("CountIncidents, %s = %d, %v; want %d", c.name, n, err, len(c.want))
		}
	}
}

// ----- anomalies -----

var anomalyBehaviours = []trackingBehaviour{
	{"AnomalyPutReturnsNew", testAnomalyPutReturnsNew},
	{"AnomalyFilters", testAnomalyFilters},
	{"AnomalyLink", testAnomalyLink},
}

func anomaly(id string, kind tracking.AnomalyKind, carrier string) tracking.Anomaly {
	return tracking.Anomaly{ID: id, Kind: kind, Waybill: "W-" + id, Carrier: carrier, Detail: "detail of " + id, FoundAt: at(1)}
}

func testAnomalyPutReturnsNew(ctx context.Context, t *testing.T, s tracking.Store) {
	a1 := anomaly("a1", tracking.AnStalled, "c1")
	a1.MerchantID, a1.EventIDs = "m1", []string{"ev-1", "ev-2"}
	a2 := anomaly("a2", tracking.AnWeight, "c2")
	got, err := s.PutAnomalies(ctx, []tracking.Anomaly{a2, a1})
	must(t, "PutAnomalies", err)
	checkList(t, "first PutAnomalies returns both, in the order given", got, []tracking.Anomaly{a2, a1}, anomalyID)

	a2again := a2
	a2again.Detail = "found again"
	a3 := anomaly("a3", tracking.AnNoTransit, "c1")
	got, err = s.PutAnomalies(ctx, []tracking.Anomaly{a2again, a3, a1})
	must(t, "second PutAnomalies", err)
	checkList(t, "second PutAnomalies returns only the new one", got, []tracking.Anomaly{a3}, anomalyID)
	checkGet(ctx, t, "a2 after it was found again (the first is kept)", s.Anomaly, "a2", a2)
	checkGet(ctx, t, "a1", s.Anomaly, "a1", a1)

	got, err = s.PutAnomalies(ctx, []tracking.Anomaly{a1})
	must(t, "PutAnomalies of stored ones only", err)
	if len(got) != 0 {
		t.Errorf("PutAnomalies of stored ones only returned %d, want none", len(got))
	}
	got, err = s.PutAnomalies(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("PutAnomalies of none = %d, %v; want none, nil", len(got), err)
	}
	if _, err := s.Anomaly(ctx, "nope"); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("Anomaly of an unknown id: got error %v, want credtrace.ErrNotFound", err)
	}
}

func testAnomalyFilters(ctx context.Context, t *testing.T, s tracking.Store) {
	_, err := s.PutAnomalies(ctx, []tracking.Anomaly{
		anomaly("a3", tracking.AnStalled, "c2"),
		anomaly("a1", tracking.AnStalled, "c1"),
		anomaly("a4", tracking.AnMerchantBurst, "c1"),
		anomaly("a2", tracking.AnWeight, "c2"),
	})
	must(t, "PutAnomalies", err)
	must(t, "LinkAnomaly", s.LinkAnomaly(ctx, "a1", "i1"))
	cases := []struct {
		name string
		q    tracking.AnomalyQuery
		want []string
	}{
		{"all, in id order", tracking.AnomalyQuery{}, []string{"a1", "a2", "a3", "a4"}},
		{"carriers", tracking.AnomalyQuery{Carriers: []string{"c2"}}, []string{"a2", "a3"}},
		{"kind", tracking.AnomalyQuery{Kind: tracking.AnStalled}, []string{"a1", "a3"}},
		{"open", tracking.AnomalyQuery{Open: true}, []string{"a2", "a3", "a4"}},
		{"open of a kind and carrier", tracking.AnomalyQuery{Open: true, Kind: tracking.AnStalled, Carriers: []string{"c1", "c2"}}, []string{"a3"}},
		{"waybill", tracking.AnomalyQuery{Waybill: "W-a2"}, []string{"a2"}},
		{"waybill and another carrier", tracking.AnomalyQuery{Waybill: "W-a2", Carriers: []string{"c1"}}, nil},
		{"after", tracking.AnomalyQuery{After: "a2"}, []string{"a3", "a4"}},
		{"after, limit", tracking.AnomalyQuery{After: "a1", Limit: 2}, []string{"a2", "a3"}},
		{"limit", tracking.AnomalyQuery{Limit: 1}, []string{"a1"}},
		{"after the last", tracking.AnomalyQuery{After: "a4"}, nil},
		{"newest first", tracking.AnomalyQuery{Newest: true}, []string{"a4", "a3", "a2", "a1"}},
		{"the newest two open", tracking.AnomalyQuery{Newest: true, Open: true, Limit: 2}, []string{"a4", "a3"}},
		{"the newest open of a carrier", tracking.AnomalyQuery{Newest: true, Open: true, Carriers: []string{"c2"}, Limit: 1}, []string{"a3"}},
	}
	for _, c := range cases {
		got, err := s.Anomalies(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, anomalyID, c.want...)
		if c.q.After != "" || c.q.Limit > 0 {
			continue
		}
		// CountAnomalies counts what the same query lists.
		if n, err := s.CountAnomalies(ctx, c.q); err != nil || n != len(c.want) {
			t.Errorf("CountAnomalies, %s = %d, %v; want %d", c.name, n, err, len(c.want))
		}
	}
}

func testAnomalyLink(ctx context.Context, t *testing.T, s tracking.Store) {
	a := anomaly("a1", tracking.AnPromiseBreached, "c1")
	_, err := s.PutAnomalies(ctx, []tracking.Anomaly{a})
	must(t, "PutAnomalies", err)
	must(t, "LinkAnomaly", s.LinkAnomaly(ctx, "a1", "i1"))
	a.IncidentID = "i1"
	checkGet(ctx, t, "after LinkAnomaly", s.Anomaly, "a1", a)

	wantErr(t, "LinkAnomaly of a linked anomaly", s.LinkAnomaly(ctx, "a1", "i2"), credtrace.ErrConflict)
	wantErr(t, "LinkAnomaly to the same incident again", s.LinkAnomaly(ctx, "a1", "i1"), credtrace.ErrConflict)
	checkGet(ctx, t, "after the refused links", s.Anomaly, "a1", a)
	wantErr(t, "LinkAnomaly of an unknown anomaly", s.LinkAnomaly(ctx, "nope", "i1"), credtrace.ErrNotFound)

	// PutAnomalies of a linked anomaly neither reports it nor unlinks it.
	fresh, err := s.PutAnomalies(ctx, []tracking.Anomaly{anomaly("a1", tracking.AnPromiseBreached, "c1")})
	must(t, "PutAnomalies", err)
	if len(fresh) != 0 {
		t.Errorf("PutAnomalies of a linked anomaly returned %d, want none", len(fresh))
	}
	checkGet(ctx, t, "after PutAnomalies of the linked anomaly", s.Anomaly, "a1", a)
}

// ----- Atomic -----

func testTrackingAtomic(ctx context.Context, t *testing.T, s tracking.Store) {
	stop := errors.New("stop here")
	cfg := tracking.CarrierConfig{FirmID: "c1", PromiseHours: 12, UpdatedAt: at(1)}
	err := s.Atomic(ctx, func(st tracking.Store) error {
		if err := st.PutCarrierConfig(ctx, cfg); err != nil {
			return err
		}
		return stop
	})
	wantErr(t, "Atomic returns fn's error", err, stop)

	must(t, "Atomic", s.Atomic(ctx, func(st tracking.Store) error {
		return st.WriteBatch(ctx, tracking.Batch{Events: []tracking.Event{fullEvent()}})
	}))
	got, err := s.EventHashes(ctx, []string{fullEvent().Key()})
	must(t, "EventHashes", err)
	check(t, "an event written inside Atomic", got, map[string]string{fullEvent().Key(): "hash-1"})
}

// testStatTotals sums statistics by subject over a day range, as scoring reads them.
func testStatTotals(ctx context.Context, t *testing.T, s tracking.Store) {
	must(t, "AddStats", s.AddStats(ctx, "src1", []tracking.StatDelta{
		delta(kFirm, "f1", "2026-03-01", tracking.MHandled, 10),
		delta(kFirm, "f1", "2026-03-02", tracking.MHandled, 5),
		delta(kFirm, "f1", "2026-03-02", tracking.MLate, 2),
		delta(kFirm, "f1", "2026-04-01", tracking.MHandled, 100), // outside the range
		delta(kFirm, "f2", "2026-03-02", tracking.MLost, 1),
		delta(kSite, "f1", "2026-03-02", tracking.MHandled, 7), // another kind with the same id
	}))
	got, err := s.StatTotals(ctx, kFirm, "2026-03-01", "2026-03-31")
	if err != nil {
		t.Fatalf("StatTotals: %v", err)
	}
	want := map[string]map[tracking.Metric]int{
		"f1": {tracking.MHandled: 15, tracking.MLate: 2},
		"f2": {tracking.MLost: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StatTotals = %v, want %v", got, want)
	}
	none, err := s.StatTotals(ctx, kStaff, "2026-03-01", "2026-03-31")
	if err != nil || len(none) != 0 {
		t.Errorf("StatTotals of a kind without statistics = %v, %v; want none", none, err)
	}
}

// testStatTotalsPage reads the same sums a page at a time, in id order, as a national scoring
// run streams them: the pages together are StatTotals whatever the page size (a subject with
// many days among few is never cut short), a subject whose only rows are outside the range is
// in none of them.
func testStatTotalsPage(ctx context.Context, t *testing.T, s tracking.Store) {
	deltas := []tracking.StatDelta{
		delta(kStaff, "p3", "2026-03-01", tracking.MHandled, 10),
		delta(kStaff, "p3", "2026-03-20", tracking.MHandled, 5),
		delta(kStaff, "p3", "2026-03-20", tracking.MLate, 2),
		delta(kStaff, "p1", "2026-03-05", tracking.MLost, 1),
		delta(kStaff, "p2", "2026-04-01", tracking.MHandled, 100), // outside the range only
		delta(kStaff, "p4", "2026-03-31", tracking.MOnTime, 4),
		delta(kStaff, "p5", "2026-03-02", tracking.MHandled, 1),
		delta(kSite, "p0", "2026-03-02", tracking.MHandled, 7), // another kind
	}
	for d := 2; d <= 12; d++ { // p3: thirteen days in the range
		deltas = append(deltas, delta(kStaff, "p3", fmt.Sprintf("2026-03-%02d", d), tracking.MOnTime, 1))
	}
	must(t, "AddStats", s.AddStats(ctx, "src1", deltas))
	want := []tracking.SubjectTotals{
		{ID: "p1", Totals: map[tracking.Metric]int{tracking.MLost: 1}},
		{ID: "p3", Totals: map[tracking.Metric]int{tracking.MHandled: 15, tracking.MLate: 2, tracking.MOnTime: 11}},
		{ID: "p4", Totals: map[tracking.Metric]int{tracking.MOnTime: 4}},
		{ID: "p5", Totals: map[tracking.Metric]int{tracking.MHandled: 1}},
	}
	for _, limit := range []int{1, 2, 3} {
		var got []tracking.SubjectTotals
		after := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("StatTotalsPage, limit %d, does not end: %v", limit, got)
			}
			page, err := s.StatTotalsPage(ctx, kStaff, "2026-03-01", "2026-03-31", after, limit)
			if err != nil {
				t.Fatalf("StatTotalsPage after %q: %v", after, err)
			}
			if len(page) > limit {
				t.Fatalf("StatTotalsPage after %q, limit %d = %v", after, limit, page)
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].ID
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("StatTotalsPage pages of %d = %v, want %v", limit, got, want)
		}
	}
	whole, err := s.StatTotalsPage(ctx, kStaff, "2026-03-01", "2026-03-31", "", 0)
	if err != nil || !reflect.DeepEqual(whole, want) {
		t.Errorf("StatTotalsPage without a limit = %v, %v; want %v", whole, err, want)
	}
}

func ptr[T any](v T) *T { return &v }
