package mongodb_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
)

// TestOpenBackfillsChangeTimes opens a database whose records and sanctions were stored before
// they kept their change time (no changed_at) and finds them by it afterwards, as export
// increments do: a record by its last repair decision, a sanction by its lifting.
func TestOpenBackfillsChangeTimes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	st := open(t)
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }
	r := courier.Record{ID: "r1", Subject: courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}, FirmID: "f1",
		Category: courier.CatEnforcement, Source: courier.SrcRegulator, Severity: courier.SevGeneral, OccurredAt: t0,
		Summary: "罚款", Status: courier.StatusRepaired, CreatedAt: day(1), Version: 1,
		History: []courier.Transition{{To: courier.StatusPending, At: day(1), By: "t1"}},
		Repairs: []courier.Repair{{ID: "rp1", RequestedAt: day(3), RequestedBy: "f1", Status: courier.RepairApproved, DecidedAt: day(5), DecidedBy: "t1"}}}
	sn := scoring.Sanction{ID: "sn1", Kind: scoring.BlackList, FirmID: "f1", Rule: "r", Status: scoring.Lifted,
		ProposedAt: day(1), ProposedBy: "run-1", DecidedAt: day(2), DecidedBy: "t1", Start: day(2), LiftedAt: day(6), Version: 1}
	if err := st.CreateRecord(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := st.Scoring().CreateSanction(ctx, sn); err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"records", "sanctions"} {
		if _, err := st.DB().Collection(coll).UpdateMany(ctx, bson.M{}, bson.M{"$unset": bson.M{"changed_at": ""}}); err != nil {
			t.Fatal(err)
		}
	}
	again := openAt(t, mongotest.URI(t), st.DB().Name())
	for _, c := range []struct {
		since time.Time
		want  int
	}{{day(5), 1}, {day(5).Add(time.Millisecond), 0}} {
		got, err := again.Records(ctx, courier.RecordQuery{ChangedSince: c.since})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("records changed since %v: %d, want %d", c.since, len(got), c.want)
		}
	}
	for _, c := range []struct {
		since time.Time
		want  int
	}{{day(6), 1}, {day(6).Add(time.Millisecond), 0}} {
		got, err := again.Scoring().Sanctions(ctx, scoring.SanctionQuery{ChangedSince: c.since})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("sanctions changed since %v: %d, want %d", c.since, len(got), c.want)
		}
	}
}
