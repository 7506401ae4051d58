package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// TestMigrationKeysParcelsByCarrier opens a data directory whose parcel summaries are keyed by
// waybill alone (schema 3) and finds them under their carrier's key afterwards.
func TestMigrationKeysParcelsByCarrier(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the tables back as schema 3 had them, with one summary and one event.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TABLE parcels`,
		`CREATE TABLE parcels (waybill TEXT PRIMARY KEY, carrier TEXT NOT NULL, final INTEGER NOT NULL, last_at INTEGER,
			promise_by INTEGER, collected_at INTEGER, merchant_id TEXT NOT NULL, doc TEXT NOT NULL)`,
		`CREATE INDEX parcels_open_last ON parcels(final, last_at)`,
		`DROP INDEX events_waybill`,
		`CREATE INDEX events_waybill ON events(waybill)`,
		`DROP INDEX anomalies_carrier`,
		`INSERT INTO parcels VALUES ('YT0000000001', 'c1', 0, 1, NULL, 1, 'm1',
			'{"waybill":"YT0000000001","carrier":"c1","carriers":["c1"],"status":"collected","holder":{"kind":"firm","firm":"c1"},"events":1,"merchant":"m1"}')`,
		`INSERT INTO events (carrier, id, waybill, hash, doc) VALUES ('c1', 'e1', 'YT0000000001', 'h1', '{"code":"collected","at":1,"received_at":1}')`,
		// 4 keys the summaries by carrier; 16 adds their updated_at, which schema 3 had not.
		`DELETE FROM schema_migrations WHERE version IN (4, 16)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open after the migration: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	k := tracking.ParcelKey{Carrier: "c1", Waybill: "YT0000000001"}
	got, err := st.Tracking().ParcelsByKey(ctx, []tracking.ParcelKey{k})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := got[k]; !ok || p.Status != tracking.Collected || p.MerchantID != "m1" || p.Events != 1 {
		t.Errorf("migrated summary %+v (found %v), want c1's collected parcel of m1", p, ok)
	}
	evs, err := st.Tracking().ParcelEvents(ctx, k)
	if err != nil || len(evs) != 1 {
		t.Errorf("events of the migrated parcel: %d, %v; want 1", len(evs), err)
	}
	// The migrated summary takes the next one of its parcel, not a second row.
	p := got[k]
	p.Events, p.Status = 2, tracking.Arrived
	if err := st.Tracking().WriteBatch(ctx, tracking.Batch{Parcels: []tracking.Parcel{p}}); err != nil {
		t.Fatal(err)
	}
	all, err := st.Tracking().Parcels(ctx, tracking.ParcelQuery{})
	if err != nil || len(all) != 1 || all[0].Events != 2 {
		t.Errorf("parcels after a write: %+v, %v; want the one parcel, rewritten", all, err)
	}
}

// TestMigrationDatesDecisions opens a data directory whose records have no decision date
// (schema 8) and reads them back decided when they occurred, the default for a record entered
// without a decision date.
func TestMigrationDatesDecisions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	occurred := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	r := courier.Record{ID: "r1", Subject: courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}, FirmID: "f1",
		Category: courier.CatEnforcement, Source: courier.SrcRegulator, Severity: courier.SevGeneral, OccurredAt: occurred,
		Summary: "罚款", Status: courier.StatusPending, CreatedAt: occurred.AddDate(1, 0, 0), Version: 1}
	if err := st.CreateRecord(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`ALTER TABLE records DROP COLUMN decided_at`, `DELETE FROM schema_migrations WHERE version = 9`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open after the migration: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	got, err := st.Record(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.DecidedAt.Equal(occurred) {
		t.Errorf("decided_at after the migration = %v, want the occurrence %v", got.DecidedAt, occurred)
	}
}

// TestMigrationKeepsChangeTimes opens a data directory from before records and sanctions kept
// their change time (schema 21) and finds them by it afterwards, as export increments do: a
// record by its last repair decision, a sanction by its lifting.
func TestMigrationKeepsChangeTimes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }
	r := courier.Record{ID: "r1", Subject: courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}, FirmID: "f1",
		Category: courier.CatEnforcement, Source: courier.SrcRegulator, Severity: courier.SevGeneral, OccurredAt: t0,
		Summary: "罚款", Status: courier.StatusRepaired, CreatedAt: day(1), Version: 1,
		History: []courier.Transition{{To: courier.StatusPending, At: day(1), By: "t1"}, {From: courier.StatusPending, To: courier.StatusConfirmed, At: day(2), By: "t1"}},
		Repairs: []courier.Repair{{ID: "rp1", RequestedAt: day(3), RequestedBy: "f1", Status: courier.RepairApproved, DecidedAt: day(5), DecidedBy: "t1"}}}
	plain := courier.Record{ID: "r2", Subject: courier.Subject{Kind: courier.SubjectFirm, ID: "f1"}, FirmID: "f1",
		Category: courier.CatEnforcement, Source: courier.SrcRegulator, Severity: courier.SevGeneral, OccurredAt: t0,
		Summary: "罚款", Status: courier.StatusPending, CreatedAt: day(1), Version: 1}
	sn := scoring.Sanction{ID: "sn1", Kind: scoring.BlackList, FirmID: "f1", Rule: "r", Status: scoring.Lifted,
		ProposedAt: day(1), ProposedBy: "run-1", DecidedAt: day(2), DecidedBy: "t1", Start: day(2), LiftedAt: day(6), Version: 1}
	for _, rec := range []courier.Record{r, plain} {
		if err := st.CreateRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Scoring().CreateSanction(ctx, sn); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP INDEX records_changed`, `ALTER TABLE records DROP COLUMN changed_at`,
		`DROP INDEX sanctions_changed`, `ALTER TABLE sanctions DROP COLUMN changed_at`,
		`DROP INDEX objections_review`, `DROP INDEX anomalies_open`, `DELETE FROM schema_migrations WHERE version = 23`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open after the migration: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	for _, c := range []struct {
		since time.Time
		want  int
	}{{day(1), 2}, {day(5), 1}, {day(5).Add(time.Millisecond), 0}} {
		got, err := st.Records(ctx, courier.RecordQuery{ChangedSince: c.since})
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
		got, err := st.Scoring().Sanctions(ctx, scoring.SanctionQuery{ChangedSince: c.since})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("sanctions changed since %v: %d, want %d", c.since, len(got), c.want)
		}
	}
}
