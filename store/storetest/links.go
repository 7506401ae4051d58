package storetest

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/credtrace/credtrace/tracking"
)

// ----- parcel links (containers, orders) and retractions -----

var linkBehaviours = []trackingBehaviour{
	{"LinksRoundTripAndOnce", testLinksRoundTrip},
	{"ContainersKnownAndListed", testContainers},
	{"RetractOnce", testRetractOnce},
	{"RetractLinksMarkedOnce", testRetractLinks},
	{"EventsByID", testEventsByID},
}

func packed(event, container, waybill string, n int) tracking.Link {
	return tracking.Link{Carrier: "c1", Waybill: waybill, EventID: event, Kind: tracking.LinkPacked, Container: container, At: at(n),
		SiteID: "s1", StaffID: "p1", By: "tok-1", ReceivedAt: at(n + 1)}
}

func sortLinks(ls []tracking.Link) []tracking.Link {
	slices.SortFunc(ls, func(a, b tracking.Link) int { return strings.Compare(a.Key(), b.Key()) })
	return ls
}

func testLinksRoundTrip(ctx context.Context, t *testing.T, s tracking.Store) {
	order := tracking.Link{Carrier: "c1", Waybill: "SF1000000001", EventID: "tx-1", Kind: tracking.LinkOrder, RefType: "po", RefID: "PO-77",
		At: at(3), ReceivedAt: at(4)}
	sparse := tracking.Link{Carrier: "c1", Waybill: "SF1000000001", EventID: "un-1", Kind: tracking.LinkUnpacked, Container: "BAG-1", At: at(5), ReceivedAt: at(5)}
	links := []tracking.Link{packed("agg-1", "BAG-1", "SF1000000001", 1), order, sparse, packed("agg-1", "BAG-1", "SF1000000002", 1)}
	stored, err := s.AppendLinks(ctx, links)
	must(t, "AppendLinks", err)
	if want := []bool{true, true, true, true}; !slices.Equal(stored, want) {
		t.Errorf("AppendLinks stored %v, want %v", stored, want)
	}
	again, err := s.AppendLinks(ctx, []tracking.Link{links[0], packed("agg-2", "BAG-1", "SF1000000001", 2)})
	must(t, "AppendLinks again", err)
	if want := []bool{false, true}; !slices.Equal(again, want) {
		t.Errorf("AppendLinks again stored %v, want %v (a known key is not stored twice)", again, want)
	}
	got, err := s.ParcelLinks(ctx, tracking.ParcelKey{Carrier: "c1", Waybill: "SF1000000001"})
	must(t, "ParcelLinks", err)
	want := sortLinks([]tracking.Link{links[0], order, sparse, packed("agg-2", "BAG-1", "SF1000000001", 2)})
	if got = sortLinks(got); !reflect.DeepEqual(got, want) {
		t.Errorf("ParcelLinks:\n got %+v\nwant %+v", got, want)
	}
	other, err := s.ParcelLinks(ctx, tracking.ParcelKey{Carrier: "c2", Waybill: "SF1000000001"})
	must(t, "ParcelLinks of another carrier", err)
	if len(other) != 0 {
		t.Errorf("another carrier's parcel of the same waybill has links %+v", other)
	}
}

func testContainers(ctx context.Context, t *testing.T, s tracking.Store) {
	order := tracking.Link{Carrier: "c1", Waybill: "SF1000000003", EventID: "tx-1", Kind: tracking.LinkOrder, RefType: "po", RefID: "BAG-9", At: at(1), ReceivedAt: at(1)}
	unpack := tracking.Link{Carrier: "c1", Waybill: "SF1000000001", EventID: "un-1", Kind: tracking.LinkUnpacked, Container: "BAG-1", At: at(5), ReceivedAt: at(5)}
	_, err := s.AppendLinks(ctx, []tracking.Link{packed("agg-1", "BAG-1", "SF1000000001", 1), packed("agg-1", "BAG-1", "SF1000000002", 1),
		unpack, packed("agg-3", "CAGE-2", "SF1000000003", 2), order})
	must(t, "AppendLinks", err)
	known, err := s.KnownContainers(ctx, []tracking.ParcelKey{{Carrier: "c1", Waybill: "BAG-1"}, {Carrier: "c2", Waybill: "BAG-1"},
		{Carrier: "c1", Waybill: "SF1000000001"}, {Carrier: "c1", Waybill: "BAG-9"}, {Carrier: "c1", Waybill: "CAGE-2"}})
	must(t, "KnownContainers", err)
	want := map[tracking.ParcelKey]bool{{Carrier: "c1", Waybill: "BAG-1"}: true, {Carrier: "c1", Waybill: "CAGE-2"}: true}
	if !reflect.DeepEqual(known, want) {
		t.Errorf("KnownContainers = %v, want %v (only ids that packed links name, per carrier)", known, want)
	}
	got, err := s.ContainerLinks(ctx, "c1", "BAG-1")
	must(t, "ContainerLinks", err)
	wantLinks := sortLinks([]tracking.Link{packed("agg-1", "BAG-1", "SF1000000001", 1), packed("agg-1", "BAG-1", "SF1000000002", 1), unpack})
	if got = sortLinks(got); !reflect.DeepEqual(got, wantLinks) {
		t.Errorf("ContainerLinks:\n got %+v\nwant %+v", got, wantLinks)
	}
	none, err := s.ContainerLinks(ctx, "c2", "BAG-1")
	must(t, "ContainerLinks of another carrier", err)
	if len(none) != 0 {
		t.Errorf("another carrier's container of the same id has links %+v", none)
	}
}

func testRetractOnce(ctx context.Context, t *testing.T, s tracking.Store) {
	writeBatch(ctx, t, s, "setup", statsBatch())
	k := tracking.ParcelKey{Carrier: "c1", Waybill: "W0001"}
	p := tracking.Parcel{Waybill: "W0001", Carrier: "c1", Carriers: []string{"c1"}, Status: tracking.Arrived, StatusAt: at(1), Events: 1,
		FirstAt: at(1), LastAt: at(1), UpdatedAt: at(9)}
	r := tracking.Retraction{Carrier: "c1", Waybill: "W0001", EventID: "a", EventIDs: []string{"a"}, Reason: "incorrect_data",
		DeclaredAt: at(7), CorrectiveIDs: []string{"fix-1"}, By: "tok-1", At: at(8)}
	ds := []tracking.StatDelta{delta(kFirm, "f1", day(1), tracking.MHandled, -1), delta(kFirm, "f9", day(1), tracking.MDelivered, 1)}
	for i, wantNew := range []bool{true, false} {
		fresh, err := s.Retract(ctx, r, p, ds)
		must(t, "Retract", err)
		if fresh != wantNew {
			t.Errorf("Retract #%d reported new %v, want %v", i+1, fresh, wantNew)
		}
	}
	checkStats(t, "f1 after Retract, twice", stats(ctx, t, s, tracking.StatsQuery{Kind: kFirm, IDs: []string{"f1"}}),
		stat(kFirm, "f1", day(1), map[tracking.Metric]int{tracking.MHandled: 2, tracking.MDelivered: 1, tracking.MOnTime: 1}),
		stat(kFirm, "f1", day(30), map[tracking.Metric]int{tracking.MLate: 1}))
	checkStats(t, "f9", stats(ctx, t, s, tracking.StatsQuery{Kind: kFirm, IDs: []string{"f9"}}),
		stat(kFirm, "f9", day(1), map[tracking.Metric]int{tracking.MDelivered: 1}))
	got, err := s.ParcelsByKey(ctx, []tracking.ParcelKey{k})
	must(t, "ParcelsByKey", err)
	if g := got[k]; g.Events != 1 || g.Status != tracking.Arrived {
		t.Errorf("summary after Retract = %+v, want the one saved with it", g)
	}
	rs, err := s.Retractions(ctx, k)
	must(t, "Retractions", err)
	if want := []tracking.Retraction{r}; !reflect.DeepEqual(rs, want) {
		t.Errorf("Retractions:\n got %+v\nwant %+v", rs, want)
	}
	other, err := s.Retractions(ctx, tracking.ParcelKey{Carrier: "c2", Waybill: "W0001"})
	must(t, "Retractions of another carrier", err)
	if len(other) != 0 {
		t.Errorf("another carrier's parcel has retractions %+v", other)
	}
}

func testEventsByID(ctx context.Context, t *testing.T, s tracking.Store) {
	ev := func(id, carrier string) tracking.Event {
		return tracking.Event{ID: id, Waybill: "W0001", Carrier: carrier, Code: tracking.Arrived, At: at(1), FirmID: "f1",
			Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "f1"}, Hash: "h-" + id, ReceivedAt: at(1)}
	}
	writeBatch(ctx, t, s, "setup", tracking.Batch{Events: []tracking.Event{ev("scan-1", "c1"), ev("scan-1#0", "c1"), ev("scan-1~SF1000000001", "c1"),
		ev("scan-1#1~SF1000000002", "c1"), ev("scan-10", "c1"), ev("scan-1-x", "c1"), ev("scan", "c1"), ev("scan-1", "c2")}})
	got, err := s.EventsByID(ctx, "c1", "scan-1")
	must(t, "EventsByID", err)
	ids := make([]string, len(got))
	for i, e := range got {
		ids[i] = e.ID
	}
	slices.Sort(ids)
	if want := []string{"scan-1", "scan-1#0", "scan-1#1~SF1000000002", "scan-1~SF1000000001"}; !slices.Equal(ids, want) {
		t.Errorf("EventsByID = %q, want %q (the id, id#…, id~…, of the one carrier)", ids, want)
	}
	none, err := s.EventsByID(ctx, "c1", "nothing")
	must(t, "EventsByID of an unknown id", err)
	if len(none) != 0 {
		t.Errorf("EventsByID of an unknown id = %+v", none)
	}
}

func testRetractLinks(ctx context.Context, t *testing.T, s tracking.Store) {
	order := tracking.Link{Carrier: "c1", Waybill: "SF1000000001", EventID: "tx-1", Kind: tracking.LinkOrder, RefType: "po", RefID: "PO-7", At: at(2), ReceivedAt: at(2)}
	links := []tracking.Link{packed("agg-1", "BAG-1", "SF1000000001", 1), packed("agg-1", "BAG-1", "SF1000000002", 1),
		packed("agg-1x", "BAG-1", "SF1000000003", 1), packed("agg-1|x", "BAG-1", "SF1000000003", 1), order}
	_, err := s.AppendLinks(ctx, links)
	must(t, "AppendLinks", err)
	got, err := s.EventLinks(ctx, "c1", "agg-1")
	must(t, "EventLinks", err)
	if want := sortLinks(slices.Clone(links[:2])); !reflect.DeepEqual(sortLinks(got), want) {
		t.Errorf("EventLinks:\n got %+v\nwant %+v (only the event's own links)", got, want)
	}
	mark := &tracking.LinkRetraction{Reason: "incorrect_data", DeclaredAt: at(7), CorrectiveIDs: []string{"fix-1"}, By: "tok-1", At: at(8)}
	gone := slices.Clone(links[:2])
	gone = append(gone, order)
	for i := range gone {
		gone[i].Retracted = mark
	}
	for i, want := range [][]bool{{true, true, true}, {false, false, false}} {
		marked, err := s.RetractLinks(ctx, gone)
		must(t, "RetractLinks", err)
		if !slices.Equal(marked, want) {
			t.Errorf("RetractLinks #%d marked %v, want %v", i+1, marked, want)
		}
	}
	got, err = s.EventLinks(ctx, "c1", "agg-1")
	must(t, "EventLinks after RetractLinks", err)
	if want := sortLinks(slices.Clone(gone[:2])); !reflect.DeepEqual(sortLinks(got), want) {
		t.Errorf("EventLinks after RetractLinks:\n got %+v\nwant %+v (kept, with the mark)", got, want)
	}
	parcel, err := s.ParcelLinks(ctx, tracking.ParcelKey{Carrier: "c1", Waybill: "SF1000000001"})
	must(t, "ParcelLinks", err)
	if want := sortLinks([]tracking.Link{gone[0], gone[2]}); !reflect.DeepEqual(sortLinks(parcel), want) {
		t.Errorf("ParcelLinks after RetractLinks:\n got %+v\nwant %+v", parcel, want)
	}
	box, err := s.ContainerLinks(ctx, "c1", "BAG-1")
	must(t, "ContainerLinks", err)
	if want := sortLinks([]tracking.Link{gone[0], gone[1], links[2], links[3]}); !reflect.DeepEqual(sortLinks(box), want) {
		t.Errorf("ContainerLinks after RetractLinks:\n got %+v\nwant %+v", box, want)
	}
	none, err := s.EventLinks(ctx, "c2", "agg-1")
	must(t, "EventLinks of another carrier", err)
	if len(none) != 0 {
		t.Errorf("another carrier's event of the same id has links %+v", none)
	}
}
