package mongodb_test

import (
	"context"

	"reflect"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// TestTrackingServiceOnMongoDB drives the tracking service, not only the store, over the
// MongoDB backend: ingestion without a journal (each batch one WriteBatch), duplicates on
// re-send, exact statistics, and a summary healed after a writer stopped between storing a
// batch's events and its parcels.
func TestTrackingServiceOnMongoDB(t *testing.T) {
	t.Parallel()
	st, svc, reg := auditedStore(t)
	ctx := auditCtx(t)
	firms, _, err := svc.Firms(ctx, reg, courier.FirmQuery{}, "", 10)
	if err != nil || len(firms) == 0 {
		t.Fatalf("firms: %v", err)
	}
	carrier := firms[0].ID
	site, err := svc.CreateSite(ctx, reg, carrier, courier.SiteInput{Name: "分拨中心", Kind: courier.SiteSortingCentre, Region: "130111"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	trk := tracking.NewService(st.Tracking(), svc, nil, svc.Hasher(), tracking.Options{}, func() time.Time { return now })
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{Shared: true})
	t.Cleanup(func() {
		if err := pipe.Close(context.Background()); err != nil {
			t.Errorf("close pipeline: %v", err)
		}
	})
	caller := credtrace.Caller{TokenID: reg.TokenID, Role: credtrace.RoleRegulator}
	at := now.Add(-30 * time.Hour)
	ev := func(id, wb string, code tracking.Code, h int) tracking.EventInput {
		in := tracking.EventInput{ID: id, Waybill: wb, Carrier: carrier, Code: string(code), At: at.Add(time.Duration(h) * time.Hour), Site: site.ID}
		if code == tracking.Delivered {
			in.Signer = tracking.SignerRecipient
		}
		return in
	}
	batch := []tracking.EventInput{
		ev("a1", "ZT00000001", tracking.Collected, 0), ev("a2", "ZT00000001", tracking.Departed, 2), ev("a3", "ZT00000001", tracking.Delivered, 20),
		ev("b1", "ZT00000002", tracking.Collected, 1), ev("b2", "ZT00000002", tracking.Arrived, 5),
	}
	res, err := trk.Ingest(ctx, caller, batch)
	if err != nil || res.Accepted != 5 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	stats := func() []tracking.DayStats {
		t.Helper()
		ds, err := trk.Stats(ctx, tracking.SubjectSite, site.ID, "2026-05-30", "2026-06-02")
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	want := stats()
	if len(want) == 0 {
		t.Fatal("no statistics")
	}
	res, err = trk.Ingest(ctx, caller, batch)
	if err != nil || res.Duplicates != 5 {
		t.Fatalf("re-send: %+v %v", res, err)
	}
	if got := stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("statistics after re-send %v, want %v", got, want)
	}
	tr, err := trk.TraceParcel(ctx, caller, "ZT00000001", "", "")
	if err != nil || tr.Status != tracking.Delivered || len(tr.Custody) != 2 {
		t.Fatalf("trace: %+v %v", tr, err)
	}

	// A replica stopped after appending the events of a batch and before saving their derived
	// state: the next start replays them, and a re-send adds only what is new.
	stray := []tracking.Event{
		{ID: "c1", Waybill: "ZT00000003", Carrier: carrier, Code: tracking.Collected, At: at, FirmID: carrier, Hash: "h-c1", ReceivedAt: now,
			Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: carrier}},
		{ID: "c2", Waybill: "ZT00000003", Carrier: carrier, Code: tracking.Departed, At: at.Add(time.Hour), FirmID: carrier, Hash: "h-c2", ReceivedAt: now,
			Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: carrier}},
	}
	if _, _, err := st.Tracking().AppendEvents(ctx, stray); err != nil {
		t.Fatal(err)
	}
	restarted := tracking.NewService(st.Tracking(), svc, nil, svc.Hasher(), tracking.Options{}, func() time.Time { return now })
	pipe2 := tracking.NewPipeline(restarted, tracking.PipelineOptions{Shared: true})
	t.Cleanup(func() { pipe2.Close(context.Background()) })
	if n, err := pipe2.Recover(ctx); err != nil || n != 2 {
		t.Fatalf("recover: replayed %d, %v; want 2", n, err)
	}
	// The carrier re-sends one of them with one more. (Its content hash differs from the stand-in
	// stored above, so it answers as a conflict.)
	resend := []tracking.EventInput{
		{ID: "c1", Waybill: "ZT00000003", Carrier: carrier, Code: "collected", At: at},
		{ID: "c3", Waybill: "ZT00000003", Carrier: carrier, Code: "arrived", At: at.Add(3 * time.Hour)},
	}
	if _, err := restarted.Ingest(ctx, caller, resend); err != nil {
		t.Fatal(err)
	}
	k := tracking.ParcelKey{Carrier: carrier, Waybill: "ZT00000003"}
	ps, err := st.Tracking().ParcelsByKey(ctx, []tracking.ParcelKey{k})
	if err != nil {
		t.Fatal(err)
	}
	p := ps[k]
	if p.Events != 3 || p.Status != tracking.Arrived || p.CollectedAt.IsZero() {
		t.Errorf("summary after the replay and the re-send: events %d status %s collected %v, want 3 events, arrived, collected", p.Events, p.Status, p.CollectedAt)
	}
}
