package sqlite

import (
	"context"
	"fmt"
	"time"
)

// migrations are applied in order, each once, each in its own transaction. Never edit one that
// has shipped: add the next.
var migrations = []string{
	// 1: the courier archive.
	`
CREATE TABLE firms (
	id TEXT PRIMARY KEY,
	uscc TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	parent_id TEXT NOT NULL DEFAULT '',
	region TEXT NOT NULL,
	licence_number TEXT NOT NULL,
	licence_scope TEXT NOT NULL,
	licence_from INTEGER,
	licence_to INTEGER,
	licence_status TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL
);
CREATE INDEX firms_parent ON firms(parent_id);
CREATE INDEX firms_region ON firms(region);

CREATE TABLE sites (
	id TEXT PRIMARY KEY,
	firm_id TEXT NOT NULL,
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	region TEXT NOT NULL,
	address TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL
);
CREATE INDEX sites_firm ON sites(firm_id);

CREATE TABLE staff (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	id_hash TEXT NOT NULL UNIQUE,
	id_masked TEXT NOT NULL,
	phone_hash TEXT NOT NULL,
	phone_masked TEXT NOT NULL,
	employment TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL
);
CREATE TABLE staff_firms (
	staff_id TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	PRIMARY KEY (firm_id, staff_id)
) WITHOUT ROWID;
CREATE INDEX staff_firms_staff ON staff_firms(staff_id);

CREATE TABLE records (
	id TEXT PRIMARY KEY,
	subject_kind TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	category TEXT NOT NULL,
	source TEXT NOT NULL,
	severity TEXT NOT NULL,
	occurred_at INTEGER,
	summary TEXT NOT NULL,
	evidence TEXT NOT NULL,
	legal_basis TEXT NOT NULL,
	status TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	confirmed_at INTEGER,
	public_until INTEGER,
	repair_eligible_at INTEGER,
	history TEXT NOT NULL,
	repairs TEXT NOT NULL,
	repair_pending INTEGER NOT NULL,
	version INTEGER NOT NULL
);
CREATE INDEX records_subject ON records(subject_kind, subject_id);
CREATE INDEX records_firm ON records(firm_id, status);
CREATE INDEX records_status ON records(status);

CREATE TABLE objections (
	id TEXT PRIMARY KEY,
	record_id TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	filed_by TEXT NOT NULL,
	reasons TEXT NOT NULL,
	evidence TEXT NOT NULL,
	filed_at INTEGER,
	review_by INTEGER,
	status TEXT NOT NULL,
	decided_at INTEGER,
	decided_by TEXT NOT NULL,
	decision TEXT NOT NULL,
	correct_by INTEGER,
	corrected_at INTEGER,
	version INTEGER NOT NULL
);
CREATE INDEX objections_record ON objections(record_id);
CREATE INDEX objections_firm ON objections(firm_id, status);

CREATE TABLE commitments (
	id TEXT PRIMARY KEY,
	subject_kind TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	text TEXT NOT NULL,
	scope TEXT NOT NULL,
	signer TEXT NOT NULL,
	signed_at INTEGER,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL
);
CREATE INDEX commitments_firm ON commitments(firm_id);
CREATE INDEX commitments_subject ON commitments(subject_kind, subject_id);

CREATE TABLE tokens (
	id TEXT PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	role TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	label TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	revoked_at INTEGER
);

CREATE TABLE audit (
	seq INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	entity TEXT NOT NULL,
	entity_id TEXT NOT NULL,
	detail TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);

CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`,
	// 2: parcel traceability. Events and parcels keep their body as JSON beside the columns
	// that are queried; statistics are one row per subject and day.
	`
CREATE TABLE events (
	carrier TEXT NOT NULL,
	id TEXT NOT NULL,
	waybill TEXT NOT NULL,
	hash TEXT NOT NULL,
	doc TEXT NOT NULL,
	PRIMARY KEY (carrier, id)
);
CREATE INDEX events_waybill ON events(waybill);

CREATE TABLE parcels (
	waybill TEXT PRIMARY KEY,
	carrier TEXT NOT NULL,
	final INTEGER NOT NULL,
	last_at INTEGER,
	promise_by INTEGER,
	collected_at INTEGER,
	merchant_id TEXT NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX parcels_open_last ON parcels(final, last_at);
CREATE INDEX parcels_open_promise ON parcels(final, promise_by);
CREATE INDEX parcels_collected ON parcels(collected_at);

CREATE TABLE stats (
	kind TEXT NOT NULL,
	id TEXT NOT NULL,
	day TEXT NOT NULL,
	handled INTEGER NOT NULL DEFAULT 0,
	delivered INTEGER NOT NULL DEFAULT 0,
	on_time INTEGER NOT NULL DEFAULT 0,
	late INTEGER NOT NULL DEFAULT 0,
	lost INTEGER NOT NULL DEFAULT 0,
	damaged INTEGER NOT NULL DEFAULT 0,
	complaints INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, id, day)
) WITHOUT ROWID;

CREATE TABLE stat_sources (
	source TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE carriers (
	firm_id TEXT PRIMARY KEY,
	doc TEXT NOT NULL
);

CREATE TABLE incidents (
	id TEXT PRIMARY KEY,
	carrier TEXT NOT NULL,
	waybill TEXT NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX incidents_waybill ON incidents(waybill);
CREATE INDEX incidents_carrier ON incidents(carrier);

CREATE TABLE anomalies (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	carrier TEXT NOT NULL,
	incident_id TEXT NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX anomalies_kind ON anomalies(kind);
`,
	// 3: scoring. Nested parts (tags, flags, run inputs, score components, a sanction's records
	// and runs) are JSON columns; what is filtered or sorted on has a column of its own.
	`
CREATE TABLE ratings (
	id TEXT PRIMARY KEY,
	rater_kind TEXT NOT NULL,
	rater_id TEXT NOT NULL,
	waybill TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	site_id TEXT NOT NULL,
	staff_id TEXT NOT NULL,
	stars INTEGER NOT NULL,
	tags TEXT NOT NULL,
	comment TEXT NOT NULL,
	created_at INTEGER,
	updated_at INTEGER,
	weight REAL NOT NULL,
	flags TEXT NOT NULL,
	version INTEGER NOT NULL
);
CREATE UNIQUE INDEX ratings_rater ON ratings(rater_kind, rater_id, waybill);
CREATE INDEX ratings_firm ON ratings(firm_id, created_at);

CREATE TABLE score_runs (
	id TEXT PRIMARY KEY,
	as_of INTEGER,
	method TEXT NOT NULL,
	run_trigger TEXT NOT NULL,
	publish INTEGER NOT NULL,
	status TEXT NOT NULL,
	started_at INTEGER,
	finished_at INTEGER,
	inputs TEXT NOT NULL,
	progress INTEGER NOT NULL,
	total INTEGER NOT NULL,
	error TEXT NOT NULL,
	proposals INTEGER NOT NULL,
	version INTEGER NOT NULL
);
CREATE INDEX score_runs_as_of ON score_runs(as_of, id);

CREATE TABLE scores (
	run_id TEXT NOT NULL,
	subject TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	as_of INTEGER,
	method TEXT NOT NULL,
	value REAL NOT NULL,
	uncertainty REAL NOT NULL,
	grade TEXT NOT NULL,
	peer_group TEXT NOT NULL,
	percentile REAL NOT NULL,
	parcels INTEGER NOT NULL,
	components TEXT NOT NULL,
	published INTEGER NOT NULL,
	PRIMARY KEY (run_id, subject, subject_id)
) WITHOUT ROWID;
CREATE INDEX scores_subject ON scores(subject, subject_id, as_of);

CREATE TABLE sanctions (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	rule TEXT NOT NULL,
	reason TEXT NOT NULL,
	legal_basis TEXT NOT NULL,
	record_ids TEXT NOT NULL,
	score_runs TEXT NOT NULL,
	status TEXT NOT NULL,
	proposed_at INTEGER,
	proposed_by TEXT NOT NULL,
	decided_at INTEGER,
	decided_by TEXT NOT NULL,
	decision TEXT NOT NULL,
	start_at INTEGER,
	end_at INTEGER,
	lifted_at INTEGER,
	lift_reason TEXT NOT NULL,
	version INTEGER NOT NULL
);
CREATE INDEX sanctions_firm ON sanctions(firm_id, status);
CREATE INDEX sanctions_status ON sanctions(status);

CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	until INTEGER NOT NULL
);

CREATE TABLE methods (
	version TEXT PRIMARY KEY,
	doc TEXT NOT NULL,
	created_at INTEGER,
	created_by TEXT NOT NULL
);
`,
	// 4: a waybill belongs to the carrier that issued it: parcel summaries are keyed by waybill
	// and carrier ("waybill carrier", tracking.ParcelKey.String), and a parcel's events are
	// found by both. Existing summaries keep their carrier (the first one that sent events).
	`
CREATE TABLE parcels_keyed (
	key TEXT PRIMARY KEY,
	waybill TEXT NOT NULL,
	carrier TEXT NOT NULL,
	final INTEGER NOT NULL,
	last_at INTEGER,
	promise_by INTEGER,
	collected_at INTEGER,
	merchant_id TEXT NOT NULL,
	doc TEXT NOT NULL
);
INSERT INTO parcels_keyed (key, waybill, carrier, final, last_at, promise_by, collected_at, merchant_id, doc)
	SELECT waybill || ' ' || carrier, waybill, carrier, final, last_at, promise_by, collected_at, merchant_id, doc FROM parcels;
DROP TABLE parcels;
ALTER TABLE parcels_keyed RENAME TO parcels;
CREATE INDEX parcels_open_last ON parcels(final, last_at);
CREATE INDEX parcels_open_promise ON parcels(final, promise_by);
CREATE INDEX parcels_collected ON parcels(collected_at);
DROP INDEX events_waybill;
CREATE INDEX events_waybill ON events(waybill, carrier);
CREATE INDEX anomalies_carrier ON anomalies(carrier);
`,
	// 5: wrong answers to checks that guessing could break (the phone check per waybill).
	`
CREATE TABLE wrong_answers (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	key TEXT NOT NULL,
	at INTEGER NOT NULL
);
CREATE INDEX wrong_answers_key ON wrong_answers(key, at);
CREATE INDEX wrong_answers_at ON wrong_answers(at);
`,
	// 6: runs and scores name the hash of their methodology document.
	`
ALTER TABLE score_runs ADD COLUMN method_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE scores ADD COLUMN method_hash TEXT NOT NULL DEFAULT '';
`,
	// 7: the first of two approvals of a heavy sanction (four eyes).
	`
ALTER TABLE sanctions ADD COLUMN reviewed_at INTEGER;
ALTER TABLE sanctions ADD COLUMN reviewed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE sanctions ADD COLUMN review_reason TEXT NOT NULL DEFAULT '';
`,
	// 8: people: staff tokens name their person; the tree generation that tells caches in
	// every process that firms, sites or employments changed; the wrong-answer counters of the
	// person's own check.
	`
ALTER TABLE tokens ADD COLUMN staff_id TEXT NOT NULL DEFAULT '';

CREATE TABLE counters (
	name TEXT PRIMARY KEY,
	n INTEGER NOT NULL
);

CREATE TABLE guesses (
	key TEXT PRIMARY KEY,
	count INTEGER NOT NULL,
	last INTEGER NOT NULL
);
`,
	// 9: records carry the date of the decision they record, from which their clocks run.
	// Records stored before had none; their decision date is taken to be the event's, the
	// default for a record entered without one. Their stored windows are left as computed.
	`
ALTER TABLE records ADD COLUMN decided_at INTEGER;
UPDATE records SET decided_at = occurred_at;
`,
	// 10: evaluation periods: runs, scores and proposals name their period; a period published
	// again names the reason and the run it replaces, which is marked superseded; runs keep the
	// hash of the inputs they read.
	`
ALTER TABLE score_runs ADD COLUMN period TEXT NOT NULL DEFAULT '';
ALTER TABLE score_runs ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE score_runs ADD COLUMN replaces TEXT NOT NULL DEFAULT '';
ALTER TABLE score_runs ADD COLUMN superseded_by TEXT NOT NULL DEFAULT '';
ALTER TABLE score_runs ADD COLUMN inputs_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE scores ADD COLUMN period TEXT NOT NULL DEFAULT '';
ALTER TABLE sanctions ADD COLUMN period TEXT NOT NULL DEFAULT '';
CREATE INDEX score_runs_published ON score_runs(publish, status, as_of);
`,
	// 11: every version of a rating, so that a run as of a past time reads it as it was then;
	// the ratings stored so far are their own first known version.
	`
CREATE TABLE rating_versions (
	id TEXT NOT NULL,
	rater_kind TEXT NOT NULL,
	rater_id TEXT NOT NULL,
	waybill TEXT NOT NULL,
	firm_id TEXT NOT NULL,
	site_id TEXT NOT NULL,
	staff_id TEXT NOT NULL,
	stars INTEGER NOT NULL,
	tags TEXT NOT NULL,
	comment TEXT NOT NULL,
	created_at INTEGER,
	updated_at INTEGER,
	weight REAL NOT NULL,
	flags TEXT NOT NULL,
	version INTEGER NOT NULL,
	PRIMARY KEY (id, version)
);
INSERT INTO rating_versions SELECT id, rater_kind, rater_id, waybill, firm_id, site_id, staff_id, stars, tags, comment, created_at, updated_at, weight, flags, version FROM ratings;
`,
	// 12: signed checkpoints of the audit trail's head.
	`CREATE TABLE audit_checkpoints (
	seq INTEGER PRIMARY KEY,
	hash TEXT NOT NULL,
	at INTEGER NOT NULL,
	key_id TEXT NOT NULL,
	signature TEXT NOT NULL
);
`,
	// 13: parcels with empty-parcel signals are counted on their own (issue 12, item 2).
	`
ALTER TABLE stats ADD COLUMN empty_suspect INTEGER NOT NULL DEFAULT 0;
`,
	// 14: state the dashboard and the limits kept in memory (issue 13, item 4): dashboard
	// sessions, and the hits of per-address limits, one row each.
	`CREATE TABLE sessions (
	id_hash TEXT PRIMARY KEY,
	token_id TEXT NOT NULL,
	csrf TEXT NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE TABLE hits (
	seq INTEGER PRIMARY KEY,
	key TEXT NOT NULL,
	at INTEGER NOT NULL
);
CREATE INDEX hits_key_at ON hits (key, at);
CREATE INDEX hits_at ON hits (at);
`,
	// 15: ratings keep when the rater gave them (issue 12, item 4); a rating stored so far was
	// given when it was last updated.
	`
ALTER TABLE ratings ADD COLUMN rated_at INTEGER;
UPDATE ratings SET rated_at = updated_at;
ALTER TABLE rating_versions ADD COLUMN rated_at INTEGER;
UPDATE rating_versions SET rated_at = updated_at;
CREATE INDEX ratings_rated ON ratings(rater_kind, rater_id, rated_at);
`,
	// 16: the latest save of each parcel summary, so that the scheduled scans read only the
	// parcels changed since their previous run (issue 13, item 5).
	`
ALTER TABLE parcels ADD COLUMN updated_at INTEGER;
UPDATE parcels SET updated_at = json_extract(doc, '$.updated_at');
CREATE INDEX parcels_open_updated ON parcels(final, updated_at);
`,
	// 17: tokens that can be managed (issue 16, item 5): an expiry, the last use, and the
	// secret a rotation replaced with the end of its grace period.
	`
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE tokens ADD COLUMN rotated_at INTEGER;
ALTER TABLE tokens ADD COLUMN retired_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN retired_until INTEGER;
CREATE INDEX tokens_retired_hash ON tokens(retired_hash);
CREATE INDEX tokens_firm ON tokens(firm_id, id);
`,
	// 18: the delay of a late parcel is attributed along its custody chain (issue 12, item 3):
	// each holder's late share (thousandths of a parcel), its slow segments by kind, and the
	// late parcels left to the delivering outlet for want of a slow segment.
	`
ALTER TABLE stats ADD COLUMN late_share INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats ADD COLUMN slow_pickup INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats ADD COLUMN slow_sorting INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats ADD COLUMN slow_line_haul INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats ADD COLUMN slow_last_mile INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats ADD COLUMN late_fallback INTEGER NOT NULL DEFAULT 0;
`,
	// 19: firms and sites carry their GS1 GLNs (issue 15, item 2): unique where given, NULL
	// where not.
	`
ALTER TABLE firms ADD COLUMN gln TEXT;
CREATE UNIQUE INDEX firms_gln ON firms(gln) WHERE gln IS NOT NULL;
ALTER TABLE sites ADD COLUMN gln TEXT;
CREATE UNIQUE INDEX sites_gln ON sites(gln) WHERE gln IS NOT NULL;
`,
	// 20: links of parcels (packed into and out of containers, orders) and retractions of events
	// declared erroneous (EPCIS AggregationEvent, TransactionEvent, errorDeclaration).
	`CREATE TABLE parcel_links (
	key TEXT PRIMARY KEY,
	carrier TEXT NOT NULL,
	waybill TEXT NOT NULL,
	container TEXT NOT NULL,
	kind TEXT NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX parcel_links_parcel ON parcel_links(carrier, waybill);
CREATE INDEX parcel_links_container ON parcel_links(carrier, container);
CREATE TABLE retractions (
	key TEXT PRIMARY KEY,
	carrier TEXT NOT NULL,
	waybill TEXT NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX retractions_parcel ON retractions(carrier, waybill);`,
	// 21: webhooks (issue 16, item 1): subscriptions, the outbox of deliveries, the mark of each
	// event announced, and the claims of delivery attempts.
	`
CREATE TABLE webhook_subscriptions (
	id TEXT PRIMARY KEY,
	role TEXT NOT NULL,
	owner TEXT NOT NULL,
	url TEXT NOT NULL,
	events TEXT NOT NULL,
	secret TEXT NOT NULL,
	prev_secret TEXT NOT NULL DEFAULT '',
	prev_until INTEGER,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	version INTEGER NOT NULL,
	last_attempt_at INTEGER,
	last_success_at INTEGER,
	last_error TEXT NOT NULL DEFAULT '',
	last_error_at INTEGER,
	failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (role, owner, id);
CREATE TABLE webhook_events (
	id TEXT PRIMARY KEY,
	type TEXT NOT NULL,
	at INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
	id TEXT PRIMARY KEY,
	subscription_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	type TEXT NOT NULL,
	body TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	base INTEGER NOT NULL,
	next_at INTEGER NOT NULL,
	until INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	last_status INTEGER NOT NULL DEFAULT 0,
	last_at INTEGER,
	delivered_at INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_at);
CREATE INDEX webhook_deliveries_sub ON webhook_deliveries (subscription_id, status, id);
CREATE TABLE webhook_claims (
	delivery_id TEXT NOT NULL,
	attempt INTEGER NOT NULL,
	holder TEXT NOT NULL,
	until INTEGER NOT NULL,
	PRIMARY KEY (delivery_id, attempt)
);
`,
	// 22: the part of a person's late share on segments they had in hand (issue 12 item 6,
	// methodology 2026.5): tracking.MCarriedShare.
	`
ALTER TABLE stats ADD COLUMN carried_share INTEGER NOT NULL DEFAULT 0;
`,
	// 23: export increments select records and sanctions by their change time in the store
	// (issue 16): each row keeps when it last changed, as courier.Record.ChangedAt and
	// scoring.Sanction.ChangedAt compute it, indexed. Rows stored before get it from their
	// history and repairs (records) or their decision times (sanctions). The overview's counts
	// (issue 13) read indexes: overdue objections by status and review clock, open anomalies.
	`
ALTER TABLE records ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE records SET changed_at = max(created_at,
	coalesce((SELECT max(json_extract(value, '$.at')) FROM json_each(records.history)), 0),
	coalesce((SELECT max(coalesce(json_extract(value, '$.requested_at'), 0)) FROM json_each(records.repairs)), 0),
	coalesce((SELECT max(coalesce(json_extract(value, '$.decided_at'), 0)) FROM json_each(records.repairs)), 0));
CREATE INDEX records_changed ON records(changed_at, id);
ALTER TABLE sanctions ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE sanctions SET changed_at = max(coalesce(proposed_at, 0), coalesce(reviewed_at, 0), coalesce(decided_at, 0), coalesce(lifted_at, 0));
CREATE INDEX sanctions_changed ON sanctions(changed_at, id);
CREATE INDEX objections_review ON objections(status, review_by);
CREATE INDEX anomalies_open ON anomalies(incident_id, carrier);
`,
	// 24: the alert feed (issue 13, item 4): each incident created and each anomaly stored gets a
	// sequence, written by the insert itself (a trigger), that the alert streams of every
	// process poll.
	`
CREATE TABLE alert_feed (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,
	ref TEXT NOT NULL
);
CREATE TRIGGER incidents_alert AFTER INSERT ON incidents BEGIN
	INSERT INTO alert_feed (kind, ref) VALUES ('incident', NEW.id);
END;
CREATE TRIGGER anomalies_alert AFTER INSERT ON anomalies BEGIN
	INSERT INTO alert_feed (kind, ref) VALUES ('anomaly', NEW.id);
END;
`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	// Each migration is applied once: those not recorded yet, in order. (A test that rolls one
	// migration back by hand gets exactly that one applied again.)
	applied := map[int]bool{}
	rows, err := s.w.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("sqlite: schema version: %w", err)
	}
	newest := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: schema version: %w", err)
		}
		applied[v], newest = true, max(newest, v)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("sqlite: schema version: %w", err)
	}
	if newest > len(migrations) {
		return fmt.Errorf("sqlite: %s has schema version %d, newer than this build knows (%d)", s.path, newest, len(migrations))
	}
	for v := 1; v <= len(migrations); v++ {
		if applied[v] {
			continue
		}
		err := s.atomic(ctx, func(t *Store) error {
			if _, err := t.tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := t.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", v, err)
		}
	}
	return nil
}
