package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/credtrace/credtrace/tracking"
)

// TestAppendEventMatchesEncodingJSON keeps the hand-written encoder in step with eventJSON:
// both must decode to the same value.
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	lat, lng := 38.0428, 114.5149
	at := time.Date(2026, 5, 1, 8, 0, 0, 123e6, time.UTC)
	cases := map[string]tracking.Event{
		"minimal": {ID: "e1", Waybill: "SF1", Carrier: "c", Code: tracking.Collected, At: at, Hash: "h", ReceivedAt: at,
			Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "c"}, FirmID: "c"},
		"handover": {ID: "e5", Waybill: "SF5", Carrier: "c", Code: tracking.Handover, At: at, Hash: "h", ReceivedAt: at, FirmID: "c", SiteID: "s",
			Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "partner"}},
		"full": {ID: "e2", Waybill: "SF2", Carrier: "c", Code: tracking.Delivered, RawCode: "签收", At: at, SiteID: "s", StaffID: "p", FirmID: "f",
			Holder: tracking.Holder{Kind: tracking.HolderFirm, FirmID: "f", SiteID: "s", StaffID: "p"}, Region: "130111", Lat: &lat, Lng: &lng,
			WeightGrams: 1200, Signer: "proxy", MerchantID: "M1", RecipientKey: "rk", RecipientID: "ri", Remark: "门卫代收 \"quoted\" \\ \n\t\x01 ok", Extensions: `{"bizStep":"departing","x:y":"\"q\""}`,
			Hash: "h2", ReceivedAt: at.Add(time.Second),
			Deltas: []tracking.StatDelta{{Key: tracking.StatKey{Kind: tracking.SubjectFirm, ID: "f", Day: "2026-05-01"}, Metric: tracking.MDelivered, N: 1},
				{Key: tracking.StatKey{Kind: tracking.SubjectStaff, ID: "p", Day: "2026-05-01"}, Metric: tracking.MHandled, N: 1}}},
		"recipient holder": {ID: "e3", Waybill: "SF3", Carrier: "c", Code: tracking.Delivered, At: at, Holder: tracking.Holder{Kind: tracking.HolderRecipient}, Hash: "h", ReceivedAt: at},
		"invalid utf-8":    {ID: "e4", Waybill: "SF4", Carrier: "c", Code: tracking.Arrived, At: at, Remark: "bad \xff byte", Hash: "h", ReceivedAt: at},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			std, err := json.Marshal(toEvent(e))
			if err != nil {
				t.Fatal(err)
			}
			var want, got eventJSON
			if err := json.Unmarshal(std, &want); err != nil {
				t.Fatal(err)
			}
			fast := appendEvent(nil, e)
			if err := json.Unmarshal(fast, &got); err != nil {
				t.Fatalf("appendEvent wrote invalid JSON %s: %v", fast, err)
			}
			// What the columns hold, and the deltas a replay folds again.
			got.ID, got.Waybill, got.Carrier, got.Hash = e.ID, e.Waybill, e.Carrier, e.Hash
			want.Deltas = nil
			if e.Holder == defaultHolder(e) { // left out because it is the default, which scanEvent restores
				got.Holder = toHolder(e.Holder)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded\n got %+v\nwant %+v\n(%s)", got, want, fast)
			}
		})
	}
}
