package tracking_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// outcome is what one event of a batch should get.
type outcome struct {
	status string
	reason string // a substring of the reason; "" wants none
}

func checkResults(t *testing.T, got tracking.IngestResult, ins []tracking.EventInput, want []outcome) {
	t.Helper()
	if len(got.Results) != len(want) {
		t.Fatalf("got %d results, want %d: %+v", len(got.Results), len(want), got.Results)
	}
	counts := map[string]int{}
	for i, r := range got.Results {
		counts[r.Status]++
		if r.Index != i || r.ID != strings.TrimSpace(ins[i].ID) {
			t.Errorf("result %d names index %d id %q, want index %d id %q", i, r.Index, r.ID, i, ins[i].ID)
		}
		if r.Status != want[i].status {
			t.Errorf("event %d: got %s (%q), want %s", i, r.Status, r.Reason, want[i].status)
		}
		if want[i].reason == "" && r.Reason != "" {
			t.Errorf("event %d: got reason %q, want none", i, r.Reason)
		}
		if !strings.Contains(r.Reason, want[i].reason) {
			t.Errorf("event %d: got reason %q, want it to mention %q", i, r.Reason, want[i].reason)
		}
	}
	if got.Accepted != counts[tracking.Accepted] || got.Duplicates != counts[tracking.Duplicate] || got.Rejected != counts[tracking.Rejected] {
		t.Errorf("got counts %d/%d/%d, want %d/%d/%d", got.Accepted, got.Duplicates, got.Rejected,
			counts[tracking.Accepted], counts[tracking.Duplicate], counts[tracking.Rejected])
	}
}

func TestIngestOutcomes(t *testing.T) {
	t.Parallel()
	accepted := outcome{status: tracking.Accepted}
	duplicate := outcome{status: tracking.Duplicate}
	rejected := func(reason string) outcome { return outcome{status: tracking.Rejected, reason: reason} }
	const wb = "YT0000000001"
	tests := []struct {
		name   string
		caller func(w *world) credtrace.Caller
		config *tracking.CarrierInput // set on hqA before the batches
		before func(w *world) []tracking.EventInput
		batch  func(w *world) []tracking.EventInput
		want   []outcome
		stored []string // event ids stored for wb afterwards
		check  func(t *testing.T, w *world)
	}{
		{
			name: "accepted",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA)}
			},
			want:   []outcome{accepted},
			stored: []string{"e1"},
		},
		{
			name: "duplicate in a later batch",
			before: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA)}
			},
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA)}
			},
			want:   []outcome{duplicate},
			stored: []string{"e1"},
		},
		{
			name: "duplicate inside the batch",
			batch: func(w *world) []tracking.EventInput {
				e := ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA)
				return []tracking.EventInput{e, e}
			},
			want:   []outcome{accepted, duplicate},
			stored: []string{"e1"},
		},
		{
			name: "conflict with a later batch",
			before: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA)}
			},
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0.Add(time.Minute), w.siteA, w.xA)}
			},
			want:   []outcome{rejected("conflict")},
			stored: []string{"e1"},
			check: func(t *testing.T, w *world) {
				if got := w.trace(t, wb).Events[0].At; !got.Equal(t0) {
					t.Errorf("stored event at %s, want the first content at %s", got, t0)
				}
			},
		},
		{
			name: "conflict inside the batch",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA2, w.xA)}
			},
			want:   []outcome{accepted, rejected("conflict")},
			stored: []string{"e1"},
		},
		{
			name: "the same id from two carriers is two events",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), ev("e1", wb, w.hqB, tracking.Arrived, t0.Add(time.Hour), w.siteB, w.zB)}
			},
			want:   []outcome{accepted, accepted},
			stored: []string{"e1", "e1"},
		},
		{
			name: "14 minutes in the future accepted, 16 rejected",
			batch: func(w *world) []tracking.EventInput {
				// The bound moves on with real time between the checks of one batch (the
				// steady clock carries the injected clock forward by the time elapsed), so
				// the event just past it is 5 s past, not 1 ms: a loaded machine takes more
				// than 1 ms between two events of a batch.
				now := w.clk.Now()
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, now.Add(14*time.Minute), w.siteA, w.xA),
					ev("e2", wb, w.hqA, tracking.Departed, now.Add(16*time.Minute), w.siteA, w.xA),
					ev("e3", wb, w.hqA, tracking.Departed, now.Add(15*time.Minute+5*time.Second), w.siteA, w.xA)}
			},
			want:   []outcome{accepted, rejected("at: more than 15 minutes in the future"), rejected("future")},
			stored: []string{"e1"},
		},
		{
			name: "partial batch stores the valid events",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{
					ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA),
					ev("e2", wb, w.hqA, "teleported", t0.Add(time.Hour), w.siteA, w.xA),
					ev("e3", wb, w.hqA, tracking.Departed, t0.Add(2*time.Hour), w.siteA, w.xA),
					with(ev("e4", wb, w.hqA, tracking.Delivered, t0.Add(3*time.Hour), w.siteA, w.xA), func(e *tracking.EventInput) { e.Signer = "" }),
					ev("", wb, w.hqA, tracking.Arrived, t0.Add(4*time.Hour), w.siteA, w.xA),
					ev("e6", wb, w.hqA, tracking.Arrived, t0.Add(5*time.Hour), w.siteA, w.xA),
				}
			},
			want:   []outcome{accepted, rejected("unknown code"), accepted, rejected("signer"), rejected("id: required"), accepted},
			stored: []string{"e1", "e3", "e6"},
		},
		{
			name: "unknown code rejected",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, "10", t0, w.siteA, w.xA)}
			},
			want: []outcome{rejected(`code: unknown code "10"`)},
		},
		{
			name:   "carrier code mapped and kept",
			config: &tracking.CarrierInput{Codes: map[string]string{"10": "collected"}},
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, "10", t0, w.siteA, w.xA)}
			},
			want:   []outcome{accepted},
			stored: []string{"e1"},
			check: func(t *testing.T, w *world) {
				e := w.trace(t, wb).Events[0]
				if e.Code != tracking.Collected || e.RawCode != "10" {
					t.Errorf("got code %q raw %q, want collected raw 10", e.Code, e.RawCode)
				}
			},
		},
		{
			name:   "another carrier's mapping does not apply",
			config: &tracking.CarrierInput{Codes: map[string]string{"10": "collected"}},
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqB, "10", t0, w.siteB, w.zB)}
			},
			want: []outcome{rejected("unknown code")},
		},
		{
			name: "handover without a holder rejected",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Handover, t0, w.siteA, w.xA)}
			},
			want: []outcome{rejected("holder: a handover must name the new holder")},
		},
		{
			name: "handover to the scanner itself rejected",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{with(ev("e1", wb, w.hqA, tracking.Handover, t0, w.siteA, w.xA), func(e *tracking.EventInput) {
					e.Holder = &tracking.HolderInput{Site: w.siteA, Staff: w.xA}
				})}
			},
			want: []outcome{rejected("new holder")},
		},
		{
			name: "delivered without a signer rejected",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{with(ev("e1", wb, w.hqA, tracking.Delivered, t0, w.siteA, w.xA), func(e *tracking.EventInput) { e.Signer = "" })}
			},
			want: []outcome{rejected("signer: required on delivery")},
		},
		{
			name: "signer, merchant and recipient phone only where they belong",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{
					with(ev("e1", wb, w.hqA, tracking.Arrived, t0, w.siteA, w.xA), func(e *tracking.EventInput) { e.Signer = tracking.SignerProxy }),
					shipped(ev("e2", wb, w.hqA, tracking.Arrived, t0, w.siteA, w.xA), "m1", ""),
					shipped(ev("e3", wb, w.hqA, tracking.Arrived, t0, w.siteA, w.xA), "", recipientPhone),
					shipped(ev("e4", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "m1", "139-1234-5678"),
					with(ev("e5", wb, w.hqA, tracking.Delivered, t0, w.siteA, w.xA), func(e *tracking.EventInput) { e.Signer = "neighbour" }),
				}
			},
			want: []outcome{rejected("signer: only on delivery"), rejected("only on collection"), rejected("only on collection"),
				rejected("recipient_phone: must be digits"), rejected("signer: must be one of")},
		},
		{
			name:   "a firm pushing for another brand's carrier is rejected per event",
			caller: func(w *world) credtrace.Caller { return firmCaller(w.hqA) },
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), ev("e2", "YT0000000002", w.hqB, tracking.Collected, t0, w.siteB, w.zB)}
			},
			want:   []outcome{accepted, rejected("carrier: outside your firm tree")},
			stored: []string{"e1"},
		},
		{
			name:   "a branch pushing for its HQ's carrier is rejected",
			caller: func(w *world) credtrace.Caller { return firmCaller(w.brA) },
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteBr, w.yBr), ev("e2", wb, w.brA, tracking.Collected, t0, w.siteBr, w.yBr)}
			},
			want:   []outcome{rejected("outside your firm tree"), accepted},
			stored: []string{"e2"},
		},
		{
			name: "a site of another tree is rejected",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteB, w.xA), ev("e2", wb, w.hqA, tracking.Collected, t0, w.siteBr, w.yBr)}
			},
			want:   []outcome{rejected("site: not a site of the carrier's firm tree"), accepted},
			stored: []string{"e2"},
		},
		{
			name: "unknown carrier, site and person rejected",
			batch: func(w *world) []tracking.EventInput {
				return []tracking.EventInput{ev("e1", wb, "no-such-firm", tracking.Collected, t0, "", ""),
					ev("e2", wb, w.hqA, tracking.Collected, t0, "no-such-site", ""),
					ev("e3", wb, w.hqA, tracking.Collected, t0, w.siteA, "no-such-person")}
			},
			want: []outcome{rejected("carrier: no such firm"), rejected("site: no such site"), rejected("staff: no such person")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.config != nil {
				if _, err := w.svc.SetCarrierConfig(w.ctx, regulator, w.hqA, *tc.config); err != nil {
					t.Fatalf("set carrier config: %v", err)
				}
			}
			if tc.before != nil {
				w.accept(t, tc.before(w)...)
			}
			c := regulator
			if tc.caller != nil {
				c = tc.caller(w)
			}
			batch := tc.batch(w)
			checkResults(t, w.ingest(t, c, batch...), batch, tc.want)
			evs, err := w.waybillEvents(wb)
			if err != nil {
				t.Fatalf("parcel events: %v", err)
			}
			got := eventIDs(evs)
			slices.Sort(got)
			if !slices.Equal(got, tc.stored) {
				t.Errorf("stored events %v, want %v", got, tc.stored)
			}
			if tc.check != nil {
				tc.check(t, w)
			}
		})
	}
}

func TestIngestBatchLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	big := make([]tracking.EventInput, tracking.MaxBatch+1)
	for i := range big {
		big[i] = ev(fmt.Sprintf("e%d", i), "YT0000000001", w.hqA, tracking.InTransit, t0.Add(time.Duration(i)*time.Second), w.siteA, w.xA)
	}
	tests := []struct {
		name   string
		caller credtrace.Caller
		batch  []tracking.EventInput
		want   error
	}{
		{"empty batch", regulator, nil, credtrace.ErrInvalid},
		{"more than 10,000 events", regulator, big, credtrace.ErrInvalid},
		{"a merchant may not push", merchantCaller("m1"), big[:1], credtrace.ErrForbidden},
		{"the public may not push", public, big[:1], credtrace.ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.svc.Ingest(w.ctx, tc.caller, tc.batch)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			evs, err := w.waybillEvents("YT0000000001")
			if err != nil {
				t.Fatalf("parcel events: %v", err)
			}
			if len(evs) != 0 {
				t.Errorf("stored %d events, want none", len(evs))
			}
		})
	}
	t.Run("exactly 10,000 events", func(t *testing.T) {
		res := w.ingest(t, regulator, big[:tracking.MaxBatch]...)
		if res.Accepted != tracking.MaxBatch {
			t.Fatalf("accepted %d, want %d (rejected %d)", res.Accepted, tracking.MaxBatch, res.Rejected)
		}
	})
}

func TestIngestOutOfOrder(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000001"
	tests := []struct {
		name    string
		batches func(w *world) [][]tracking.EventInput
	}{
		{"delivered sent before collected, one batch each", func(w *world) [][]tracking.EventInput {
			return [][]tracking.EventInput{
				{ev("e3", wb, w.hqA, tracking.Delivered, t0.Add(20*time.Hour), w.siteBr, w.yBr)},
				{ev("e2", wb, w.hqA, tracking.Arrived, t0.Add(10*time.Hour), w.siteBr, w.yBr)},
				{ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA)},
			}
		}},
		{"delivered before collected in one batch", func(w *world) [][]tracking.EventInput {
			return [][]tracking.EventInput{{
				ev("e3", wb, w.hqA, tracking.Delivered, t0.Add(20*time.Hour), w.siteBr, w.yBr),
				ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA),
				ev("e2", wb, w.hqA, tracking.Arrived, t0.Add(10*time.Hour), w.siteBr, w.yBr),
			}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			for _, b := range tc.batches(w) {
				w.accept(t, b...)
			}
			p := w.parcel(t, wb)
			if p.Status != tracking.Delivered || !p.StatusAt.Equal(t0.Add(20*time.Hour)) || p.Holder.Kind != tracking.HolderRecipient {
				t.Errorf("parcel status %s at %s holder %+v, want delivered at %s to the recipient", p.Status, p.StatusAt, p.Holder, t0.Add(20*time.Hour))
			}
			if !p.CollectedAt.Equal(t0) || !p.FirstAt.Equal(t0) || p.Events != 3 {
				t.Errorf("parcel collected %s first %s events %d, want %s %s 3", p.CollectedAt, p.FirstAt, p.Events, t0, t0)
			}
			tr := w.trace(t, wb)
			if got, want := eventIDs(tr.Events), []string{"e1", "e2", "e3"}; !slices.Equal(got, want) {
				t.Errorf("trace events %v, want %v", got, want)
			}
			if tr.Status != tracking.Delivered {
				t.Errorf("trace status %s, want delivered", tr.Status)
			}
			// The on-time verdict is counted once both ends are known, whatever came first.
			if got := w.stats(t, tracking.SubjectStaff, w.yBr)[tracking.Day(t0.Add(20*time.Hour))]; got[tracking.MOnTime] != 1 || got[tracking.MDelivered] != 1 {
				t.Errorf("courier stats %v, want one on-time delivery", got)
			}
		})
	}
}

func TestIngestNeverRegressesFromDelivered(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000001"
	delivered := t0.Add(20 * time.Hour)
	tests := []struct {
		name string
		late func(w *world) tracking.EventInput
	}{
		{"earlier scan arrives after the delivery", func(w *world) tracking.EventInput {
			return ev("late", wb, w.hqA, tracking.Arrived, t0.Add(10*time.Hour), w.siteA2, w.wA)
		}},
		{"later-timed ordinary scan after the delivery", func(w *world) tracking.EventInput {
			return ev("late", wb, w.hqA, tracking.InTransit, delivered.Add(5*time.Hour), w.siteA2, w.wA)
		}},
		{"late failed delivery", func(w *world) tracking.EventInput {
			return ev("late", wb, w.hqA, tracking.DeliveryFailed, delivered.Add(time.Hour), w.siteBr, w.yBr)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.accept(t, ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA),
				ev("e2", wb, w.hqA, tracking.Delivered, delivered, w.siteBr, w.yBr))
			w.accept(t, tc.late(w))
			p := w.parcel(t, wb)
			if p.Status != tracking.Delivered || !p.StatusAt.Equal(delivered) || !p.Final || p.Holder.Kind != tracking.HolderRecipient {
				t.Errorf("parcel %s at %s final %v holder %+v, want delivered at %s to the recipient", p.Status, p.StatusAt, p.Final, p.Holder, delivered)
			}
			tr := w.trace(t, wb)
			if tr.Status != tracking.Delivered || tr.Holder.Kind != tracking.HolderRecipient {
				t.Errorf("trace %s holder %+v, want delivered to the recipient", tr.Status, tr.Holder)
			}
			if len(tr.Events) != 3 {
				t.Errorf("trace has %d events, want the late one too", len(tr.Events))
			}
		})
	}
}

// hexOrID matches hashes and UUIDs, whose hex digits may spell any four digits by chance.
var hexOrID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}`)

func TestIngestNeverStoresRecipientPhone(t *testing.T) {
	t.Parallel()
	const wb = "YT0000000001"
	w := newWorld(t)
	w.accept(t, shipped(ev("e1", wb, w.hqA, tracking.Collected, t0, w.siteA, w.xA), "m1", recipientPhone),
		ev("e2", wb, w.hqA, tracking.Delivered, t0.Add(10*time.Hour), w.siteA, w.xA))
	evs, err := w.waybillEvents(wb)
	if err != nil {
		t.Fatalf("parcel events: %v", err)
	}
	if err := w.svc.Flush(w.ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	ps, err := w.ts.Parcels(w.ctx, tracking.ParcelQuery{})
	if err != nil {
		t.Fatalf("parcels: %v", err)
	}
	body, err := json.Marshal(struct {
		Events  []tracking.Event
		Parcels []tracking.Parcel
	}{evs, ps})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), recipientPhone) {
		t.Errorf("stored data holds the recipient's phone in clear: %s", body)
	}
	if rest := hexOrID.ReplaceAllString(string(body), "#"); strings.Contains(rest, recipientLast4) {
		t.Errorf("stored data holds the phone's last four digits in clear: %s", rest)
	}
	want := w.svc.RecipientKey(wb, recipientLast4)
	if len(ps) != 1 || ps[0].RecipientKey != want {
		t.Errorf("parcel recipient key %v, want the keyed hash %s", ps, want)
	}
}

func TestIngestStatistics(t *testing.T) {
	t.Parallel()
	// A small world whose events straddle CST midnights (16:00Z is 00:00 CST):
	//   P1 hqA: collected 06-01 23:30 CST at siteA/xA, in transit 06-02 00:30 CST (same courier, new day),
	//      arrived, out for delivery and delivered 06-02 at siteBr/yBr (brA), on time;
	//   P2 hqA: collected 06-01 11:00 CST siteA/xA, arrived 06-03, delivered 06-04 13:00 CST, 74 h: late;
	//   P3 hqB: collected 06-02 09:00 CST siteB/zB, lost 06-03 09:00 CST;
	//   P4 hqA: collected 06-02 08:00 CST siteA/wA, damaged 13:00 CST.
	day := func(d int, h, m int) time.Time { return time.Date(2026, 6, d, h, m, 0, 0, time.UTC) }
	events := func(w *world) []tracking.EventInput {
		return []tracking.EventInput{
			ev("p1-1", "P100000001", w.hqA, tracking.Collected, day(1, 15, 30), w.siteA, w.xA),
			ev("p1-2", "P100000001", w.hqA, tracking.InTransit, day(1, 16, 30), w.siteA, w.xA),
			ev("p1-3", "P100000001", w.hqA, tracking.Arrived, day(2, 2, 0), w.siteBr, w.yBr),
			ev("p1-4", "P100000001", w.hqA, tracking.OutForDelivery, day(2, 3, 0), w.siteBr, w.yBr),
			ev("p1-5", "P100000001", w.hqA, tracking.Delivered, day(2, 4, 0), w.siteBr, w.yBr),
			ev("p2-1", "P200000002", w.hqA, tracking.Collected, day(1, 3, 0), w.siteA, w.xA),
			ev("p2-2", "P200000002", w.hqA, tracking.Arrived, day(3, 10, 0), w.siteBr, w.yBr),
			ev("p2-3", "P200000002", w.hqA, tracking.Delivered, day(4, 5, 0), w.siteBr, w.yBr),
			ev("p3-1", "P300000003", w.hqB, tracking.Collected, day(2, 1, 0), w.siteB, w.zB),
			ev("p3-2", "P300000003", w.hqB, tracking.Lost, day(3, 1, 0), w.siteB, w.zB),
			ev("p4-1", "P400000004", w.hqA, tracking.Collected, day(2, 0, 0), w.siteA, w.wA),
			ev("p4-2", "P400000004", w.hqA, tracking.Damaged, day(2, 5, 0), w.siteA, w.wA),
		}
	}
	type counts = map[string]map[tracking.Metric]int
	brA := counts{
		"2026-06-02": {tracking.MHandled: 1, tracking.MDelivered: 1, tracking.MOnTime: 1},
		"2026-06-03": {tracking.MHandled: 1},
		"2026-06-04": {tracking.MHandled: 1, tracking.MDelivered: 1, tracking.MLate: 1},
	}
	hqB := counts{"2026-06-02": {tracking.MHandled: 1}, "2026-06-03": {tracking.MHandled: 1, tracking.MLost: 1}}
	// P2's delay is its pickup's: collected at siteA by xA, held 55 h before siteBr's arrival
	// scan (over the 24 h norm), then 19 h at the delivering outlet (under the last mile's 36 h).
	p2Late := map[tracking.Metric]int{tracking.MLateShare: tracking.ShareUnit, tracking.MSlowPickup: 1}
	hqA := counts{"2026-06-01": {tracking.MHandled: 2}, "2026-06-02": {tracking.MHandled: 2, tracking.MDamaged: 1}, "2026-06-04": p2Late}
	want := func(w *world) map[tracking.StatKey]counts {
		return map[tracking.StatKey]counts{
			{Kind: tracking.SubjectFirm, ID: w.hqA}:    hqA,
			{Kind: tracking.SubjectFirm, ID: w.brA}:    brA,
			{Kind: tracking.SubjectFirm, ID: w.hqB}:    hqB,
			{Kind: tracking.SubjectSite, ID: w.siteA}:  hqA,
			{Kind: tracking.SubjectSite, ID: w.siteA2}: {},
			{Kind: tracking.SubjectSite, ID: w.siteBr}: brA,
			{Kind: tracking.SubjectSite, ID: w.siteB}:  hqB,
			{Kind: tracking.SubjectStaff, ID: w.xA}: {"2026-06-01": {tracking.MHandled: 2}, "2026-06-02": {tracking.MHandled: 1},
				"2026-06-04": {tracking.MLateShare: tracking.ShareUnit, tracking.MSlowPickup: 1, tracking.MCarriedShare: tracking.ShareUnit}}, // xA had it in hand all the 55 h
			{Kind: tracking.SubjectStaff, ID: w.wA}:  {"2026-06-02": {tracking.MHandled: 1, tracking.MDamaged: 1}},
			{Kind: tracking.SubjectStaff, ID: w.yBr}: brA,
			{Kind: tracking.SubjectStaff, ID: w.zB}:  hqB,
		}
	}
	tests := []struct {
		name    string
		batches func(evs []tracking.EventInput) [][]tracking.EventInput
	}{
		{"one batch", func(evs []tracking.EventInput) [][]tracking.EventInput { return [][]tracking.EventInput{evs} }},
		{"one event a batch, newest first", func(evs []tracking.EventInput) [][]tracking.EventInput {
			var out [][]tracking.EventInput
			for i := len(evs) - 1; i >= 0; i-- {
				out = append(out, evs[i:i+1])
			}
			slices.SortStableFunc(out, func(a, b []tracking.EventInput) int { return b[0].At.Compare(a[0].At) })
			return out
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			evs := events(w)
			batches := tc.batches(evs)
			for _, b := range batches {
				w.accept(t, b...)
			}
			check := func(t *testing.T) {
				t.Helper()
				for k, want := range want(w) {
					got := w.stats(t, k.Kind, k.ID)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s %s: got %v, want %v", k.Kind, k.ID, got, want)
					}
				}
			}
			check(t)
			// Re-sending everything, as one batch and as the same batches, changes no statistic.
			if res := w.ingest(t, regulator, evs...); res.Duplicates != len(evs) {
				t.Fatalf("re-sent batch: %d duplicates, want %d", res.Duplicates, len(evs))
			}
			for _, b := range batches {
				w.ingest(t, regulator, b...)
			}
			check(t)
		})
	}
}
