package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// index is one declared index of a collection. Every filter and sort the store sends is served
// by one of them or by the _id index every collection has (TestQueriesUseDeclaredIndexes checks
// it with a command monitor), and every unique one of a sharded collection has the collection's
// shard key as its prefix (TestShardKeysFitUniqueIndexes, over shardKeys).
type index struct {
	coll   string
	keys   bson.D
	unique bool
	// sparse leaves out the documents without the key: a unique key only some documents have
	// (a firm's or a site's GLN), where FerretDB has no partial indexes to say so.
	sparse bool
	// partial is the index's partialFilterExpression, used where the server has partial
	// indexes (detected at Open); elsewhere the index is built over the whole collection, which
	// serves the same queries. A query uses a partial index only when its filter names the
	// partial filter's fields with the same condition.
	partial bson.D
	// name is the index's name when it is not the server's default: a partial index is named
	// apart from a full one on the same keys, which an older start may have built.
	name string
}

// idIndex is the unique index on _id every collection has without declaring it.
var idIndex = bson.D{{Key: "_id", Value: 1}}

// asc is an ascending key on each field, in order.
func asc(fields ...string) bson.D {
	d := make(bson.D, len(fields))
	for i, f := range fields {
		d[i] = bson.E{Key: f, Value: 1}
	}
	return d
}

// declaredIndexes are the indexes Open creates. A list pages in _id order, so an index that a
// list filters by ends with _id; the scans page in _id order as well. Creating an index that
// exists with the same keys and options is a no-op, so every start creates them all. The audit
// trail needs none beyond _id (its sequence number); nor do leases, settings and counters, found
// by name.
var declaredIndexes = []index{
	{coll: collFirms, keys: asc("uscc"), unique: true},
	{coll: collFirms, keys: asc("gln"), unique: true, sparse: true},
	{coll: collSites, keys: asc("gln"), unique: true, sparse: true},
	{coll: collFirms, keys: asc("parent_id")},
	{coll: collFirms, keys: asc("parent_id", "_id")},
	{coll: collFirms, keys: asc("kind", "_id")},
	{coll: collFirms, keys: asc("licence.status", "_id")},
	{coll: collFirms, keys: asc("region", "_id")},
	// A name search (an unanchored regex) reads this index's keys, not the documents.
	{coll: collFirms, keys: asc("name", "_id")},
	{coll: collSites, keys: asc("firm_id")},
	{coll: collSites, keys: asc("firm_id", "_id")},
	{coll: collSites, keys: asc("kind", "_id")},
	{coll: collStaff, keys: asc("id_hash"), unique: true},
	{coll: collStaff, keys: asc("employment.firm_id")}, // multikey: one entry per employment
	{coll: collStaff, keys: asc("employment.firm_id", "_id")},
	{coll: collRecords, keys: asc("subject.kind", "subject.id")},
	{coll: collRecords, keys: asc("subject.kind", "subject.id", "_id")},
	{coll: collRecords, keys: asc("firm_id")},
	{coll: collRecords, keys: asc("firm_id", "_id")},
	{coll: collRecords, keys: asc("status")},
	{coll: collRecords, keys: asc("status", "_id")},
	{coll: collRecords, keys: asc("category", "_id")},
	{coll: collRecords, keys: asc("repair_pending", "_id")},
	// An export increment reads the range changed since and pages it in _id order: the server
	// sorts only the rows of the range (few, for an increment), never the collection.
	{coll: collRecords, keys: asc("changed_at", "_id")},
	{coll: collObjections, keys: asc("record_id")},
	{coll: collObjections, keys: asc("record_id", "_id")},
	{coll: collObjections, keys: asc("firm_id")},
	{coll: collObjections, keys: asc("firm_id", "_id")},
	{coll: collObjections, keys: asc("status", "_id")},
	// The overview counts the objections whose review clock ran out (CountObjections).
	{coll: collObjections, keys: asc("status", "review_by")},
	{coll: collObjections, keys: asc("review_by", "_id")}, // review clocks run out, of any status
	{coll: collCommitments, keys: asc("firm_id")},
	{coll: collCommitments, keys: asc("firm_id", "_id")},
	{coll: collCommitments, keys: asc("subject.kind", "subject.id", "_id")},
	{coll: collTokens, keys: asc("hash"), unique: true},
	{coll: collTokens, keys: asc("retired_hash")},   // a rotated-out secret in its grace period
	{coll: collTokens, keys: asc("firm_id", "_id")}, // a firm's tokens

	{coll: collEvents, keys: asc("waybill", "carrier")}, // a parcel's events, a waybill's carriers
	{coll: collEvents, keys: asc("waybill", "carrier", "_id")},
	// RecoverStats reads uncounted events only: counted ones, nearly all, stay out of the index.
	{coll: collEvents, keys: asc("counted", "_id"), partial: bson.D{{Key: "counted", Value: false}}, name: "uncounted_id"},
	{coll: collEvents, keys: asc("pending", "seq")},    // the journal's replay
	{coll: collEvents, keys: asc("seq")},               // the live streams' polling
	{coll: collParcels, keys: asc("final", "last_at")}, // the scheduled scans
	{coll: collParcels, keys: asc("final", "promise_by")},
	{coll: collParcels, keys: asc("final", "updated_at")}, // the parcels changed since the previous scan
	{coll: collParcels, keys: asc("final", "_id")},
	{coll: collParcels, keys: asc("last_at", "_id")},
	{coll: collParcels, keys: asc("promise_by", "_id")},
	{coll: collParcels, keys: asc("waybill")}, // the summaries stored before the rekey have none
	{coll: collParcels, keys: asc("collected_at")},
	{coll: collParcels, keys: asc("collected_at", "_id")},
	{coll: collParcels, keys: asc("carrier", "_id")},
	// A merchant's parcels, newest collected first (MerchantParcels).
	{coll: collParcels, keys: bson.D{{Key: "merchant_id", Value: 1}, {Key: "collected_at", Value: -1}, {Key: "_id", Value: 1}}},
	{coll: collParcels, keys: asc("merchant_id", "_id")},
	{coll: collStats, keys: asc("kind", "id", "day")},
	{coll: collStats, keys: asc("id", "day")},
	{coll: collStats, keys: asc("kind", "day")},
	{coll: collStatSources, keys: asc("counted", "_id"), partial: bson.D{{Key: "counted", Value: false}}, name: "uncounted_id"},
	{coll: collLinks, keys: asc("carrier", "waybill")},
	{coll: collLinks, keys: asc("carrier", "container", "kind")},
	{coll: collRetractions, keys: asc("carrier", "waybill")},
	{coll: collRetractions, keys: asc("counted", "_id"), partial: bson.D{{Key: "counted", Value: false}}, name: "uncounted_id"},
	{coll: collIncidents, keys: asc("waybill")},
	{coll: collIncidents, keys: asc("waybill", "_id")},
	{coll: collIncidents, keys: asc("carrier")},
	{coll: collIncidents, keys: asc("carrier", "_id")},
	{coll: collFolds, keys: bson.D{{Key: "parcel", Value: 1}, {Key: "version", Value: -1}}}, // a parcel's latest summary
	{coll: collFolds, keys: asc("keys")},                                                    // the fold that holds an event
	{coll: collLeaseTerms, keys: bson.D{{Key: "name", Value: 1}, {Key: "token", Value: -1}}},
	{coll: collAnomalies, keys: asc("carrier")},
	{coll: collAnomalies, keys: asc("carrier", "_id")},
	{coll: collAnomalies, keys: asc("kind")},
	{coll: collAnomalies, keys: asc("kind", "_id")},
	{coll: collAnomalies, keys: asc("waybill", "_id")},
	// The open anomalies, few among many: a firm's and the overview's.
	{coll: collAnomalies, keys: asc("incident_id", "_id"), partial: bson.D{{Key: "incident_id", Value: ""}}, name: "open_id"},
	{coll: collAnomalies, keys: asc("incident_id", "carrier", "_id"), partial: bson.D{{Key: "incident_id", Value: ""}}, name: "open_carrier_id"},

	{coll: collRatings, keys: asc("rater_kind", "rater_id", "waybill"), unique: true},
	{coll: collRatings, keys: asc("firm_id", "created_at")},
	{coll: collRatings, keys: asc("firm_id", "_id")},
	{coll: collRatings, keys: asc("rater_kind", "rater_id", "_id")},
	{coll: collRatings, keys: asc("rater_kind", "_id")},
	{coll: collRatings, keys: asc("rater_id", "_id")},
	{coll: collRatings, keys: asc("created_at", "_id")},
	// The time a rater gave a rating: a rater's window (the burst rule) and a window alone.
	// Ratings stored before rated_at was kept have none: the index holds them under null,
	// where the query's second branch ($exists false, then updated_at) finds them.
	{coll: collRatings, keys: asc("rater_kind", "rater_id", "rated_at")},
	{coll: collRatings, keys: asc("rated_at", "_id")},
	{coll: collRatingVersions, keys: asc("rating_id", "version")},
	{coll: collScoreRuns, keys: bson.D{{Key: "as_of", Value: -1}, {Key: "_id", Value: -1}}},
	{coll: collScoreRuns, keys: bson.D{{Key: "publish", Value: 1}, {Key: "status", Value: 1}, {Key: "as_of", Value: -1}, {Key: "_id", Value: -1}}}, // the published runs
	{coll: collScoreRuns, keys: bson.D{{Key: "status", Value: 1}, {Key: "as_of", Value: -1}, {Key: "_id", Value: -1}}},                             // runs left running (scoring.StartRun)
	{coll: collScores, keys: asc("run_id", "subject", "subject_id"), unique: true},
	{coll: collScores, keys: asc("run_id", "subject_id", "subject")},
	{coll: collScores, keys: bson.D{{Key: "subject", Value: 1}, {Key: "subject_id", Value: 1}, {Key: "as_of", Value: -1}}}, // ScoreHistory
	{coll: collScores, keys: bson.D{{Key: "subject", Value: 1}, {Key: "subject_id", Value: 1}, {Key: "as_of", Value: -1}, {Key: "run_id", Value: -1}}},
	{coll: collSanctions, keys: asc("firm_id", "status")},
	{coll: collSanctions, keys: asc("firm_id", "_id")},
	{coll: collSanctions, keys: asc("changed_at", "_id")}, // export increments, as records'
	{coll: collSanctions, keys: asc("status")},
	{coll: collSanctions, keys: asc("status", "_id")},
	{coll: collSanctions, keys: asc("kind", "_id")},
	{coll: collMethods, keys: asc("created_at", "_id")},
	{coll: collWrongAnswers, keys: asc("key", "at")}, // a check's recent wrong answers; forgetting old ones
	{coll: collWrongAnswers, keys: asc("key", "at", "_id")},
	{coll: collWrongAnswers, keys: asc("at")},
	// Expired sessions are pruned on the schedule (FerretDB has no TTL indexes) and refused on
	// read; a limit's recent hits are counted and old ones forgotten.
	{coll: collSessions, keys: asc("expires_at")},
	{coll: collHits, keys: asc("key", "at")},
	{coll: collHits, keys: asc("at")},
	// Webhooks: a party's subscriptions, a role's (the fan-out to every platform or
	// regulator), the due outbox oldest first, a subscription's deliveries by status, and the
	// claims of a delivery's attempts.
	{coll: collWebhookSubs, keys: asc("role", "owner", "_id")},
	{coll: collWebhookSubs, keys: asc("role", "_id")},
	{coll: collWebhookDeliveries, keys: asc("status", "next_at", "_id")},
	{coll: collWebhookDeliveries, keys: asc("subscription_id", "status", "_id")},
	{coll: collWebhookDeliveries, keys: asc("subscription_id", "_id")},
	{coll: collWebhookClaims, keys: asc("delivery_id", "attempt")},
}

// collections returns the store's collections by name.
func (s *Store) collections() map[string]collection {
	out := map[string]collection{}
	for _, c := range []collection{
		s.firms, s.sites, s.staff, s.records, s.objections, s.commitments, s.tokens, s.audit, s.settings,
		s.counters, s.guesses, s.checkpoints,
		s.events, s.parcels, s.stats, s.statSources, s.carriers, s.incidents, s.anomalies, s.folds, s.leaseTerms,
		s.alertFeed,
		s.links, s.retractions,
		s.ratings, s.scoreRuns, s.scores, s.sanctions, s.leases, s.methods, s.ratingVersions, s.wrongAnswers,
		s.sessions, s.hits, s.webhookSubs, s.webhookEvents, s.webhookDeliveries, s.webhookClaims,
	} {
		out[c.Name()] = c
	}
	return out
}

// ensureIndexes creates the declared indexes. Partial ones are built partial where the server
// takes the first of them (MongoDB does; FerretDB 1.24 refuses partialFilterExpression) and
// over the whole collection elsewhere: the server's answer decides, not its name.
func (s *Store) ensureIndexes(ctx context.Context) error {
	colls := s.collections()
	partial := true // until the server refuses the first partial index
	// An index missing on a collection of more than indexBuildLimit documents is not built:
	// the build would hold the start (and a rolling deploy) for as long as it takes, so it is
	// reported (PendingIndexes) for an operator to build on the running cluster.
	type state struct {
		have map[string]bool
		big  bool
	}
	seen := map[string]*state{}
	stateOf := func(coll collection) (*state, error) {
		if st, ok := seen[coll.Name()]; ok {
			return st, nil
		}
		have, err := indexNames(ctx, coll.Indexes())
		if err != nil {
			return nil, fmt.Errorf("mongodb: list indexes of %s: %w", coll.Name(), unavailable(err))
		}
		st := &state{have: have}
		if s.indexBuildLimit > 0 {
			n, err := coll.EstimatedDocumentCount(ctx)
			if err != nil {
				return nil, fmt.Errorf("mongodb: count %s: %w", coll.Name(), unavailable(err))
			}
			st.big = n > s.indexBuildLimit
		}
		seen[coll.Name()] = st
		return st, nil
	}
	for _, ix := range declaredIndexes {
		coll, ok := colls[ix.coll]
		if !ok {
			return fmt.Errorf("mongodb: index on unknown collection %s", ix.coll)
		}
		st, err := stateOf(coll)
		if err != nil {
			return err
		}
		name := ix.name
		if name == "" {
			name = indexName(ix.keys)
		}
		if st.big && !st.have[name] {
			s.pendingIndexes = append(s.pendingIndexes, ix.coll+"."+name)
			continue
		}
		opts := options.Index()
		if ix.unique {
			opts.SetUnique(true)
		}
		if ix.sparse {
			opts.SetSparse(true)
		}
		if ix.name != "" {
			opts.SetName(ix.name)
		}
		if ix.partial != nil && partial {
			_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name).SetPartialFilterExpression(ix.partial)})
			if err == nil {
				continue
			}
			if !partialRefused(err) {
				return fmt.Errorf("mongodb: create index %s on %s: %w", ix.name, ix.coll, unavailable(err))
			}
			partial = false
		}
		// One index per command: FerretDB 1.24 drops the connection when one createIndexes
		// command names two or more indexes that exist already (every start after the first).
		if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: opts}); err != nil {
			return fmt.Errorf("mongodb: create indexes on %s: %w", ix.coll, unavailable(err))
		}
	}
	return nil
}

// indexNames returns the names of the indexes of a collection.
func indexNames(ctx context.Context, iv mongo.IndexView) (map[string]bool, error) {
	cur, err := iv.List(ctx)
	if err != nil {
		return nil, err
	}
	var specs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(specs))
	for _, sp := range specs {
		out[sp.Name] = true
	}
	return out, nil
}

// indexName is the name the server gives an index of keys: each key and its direction, joined
// by underscores (waybill_1_carrier_1).
func indexName(keys bson.D) string {
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k.Key, fmt.Sprint(k.Value))
	}
	return strings.Join(parts, "_")
}

// PendingIndexes names the indexes ("collection.index") that Open did not build because their
// collection held more than the index build limit (WithIndexBuildLimit): queries that need them
// scan until an operator builds them (createIndexes on the running cluster). The start line
// reports them.
func (s *Store) PendingIndexes() []string { return slices.Clone(s.pendingIndexes) }

// partialRefused reports a server that has no partial indexes refusing one: NotImplemented
// (238), as FerretDB answers. Any other refusal (a bad filter expression) is an error.
func partialRefused(err error) bool {
	var ce mongo.CommandError
	if !errors.As(err, &ce) {
		return false
	}
	return ce.Code == 238 // NotImplemented
}
