// Package mongodb is the MongoDB backend of credtrace: it implements courier.Store, and
// tracking.Store and scoring.Store through Store.Tracking and Store.Scoring, over one database
// with the official driver. Documents
// are backend-local structs with bson tags, converted to and from the domain types at the edge.
//
// Updates are versioned (optimistic concurrency) so concurrent writers never overwrite each
// other. Where the server supports multi-document transactions, Store.Atomic is one; elsewhere
// every write touches one document, atomic on its own. The package is also tested against
// FerretDB, which has no multi-document transactions (see Store.Atomic) and, in
// 1.24, checks an update's filter and writes the document in two steps, so there racing updates
// from one version can all succeed; MongoDB applies filter and write in one step.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// Collection names.
const (
	collFirms       = "firms"
	collSites       = "sites"
	collStaff       = "staff"
	collRecords     = "records"
	collObjections  = "objections"
	collCommitments = "commitments"
	collTokens      = "tokens"
	collAudit       = "audit"
	collCheckpoints = "audit_checkpoints"
	collSettings    = "settings"
	collCounters    = "counters"
	collGuesses     = "guesses"

	collEvents      = "events"
	collParcels     = "parcels"
	collStats       = "stats"
	collStatSources = "stat_sources"
	collCarriers    = "carriers"
	collIncidents   = "incidents"
	collAnomalies   = "anomalies"
	// collAlertFeed gives each incident created and each anomaly stored a sequence (its _id),
	// which the alert streams of every replica poll.
	collAlertFeed = "alert_feed"
	// collLinks keeps parcels' links (packed, unpacked, order) under Link.Key; collRetractions
	// the retractions of events declared erroneous under "retract|<Retraction.Key>".
	collLinks       = "parcel_links"
	collRetractions = "retractions"
	// collFolds keeps each saved version of a parcel summary under "<parcel>#<version>": the
	// unique _id is the compare and set of concurrent folds (see SaveDerived).
	collFolds = "folds"
	// collLeaseTerms keeps each term of a named lease under "<name>#<token>" (see AcquireLease).
	collLeaseTerms = "lease_terms"

	collRatings   = "ratings"
	collScoreRuns = "score_runs"
	collScores    = "scores"
	collSanctions = "sanctions"
	collLeases    = "leases"
	collMethods   = "methods"
	// collRatingVersions keeps every version of a rating under "<id>|<version>".
	collRatingVersions = "rating_versions"

	collWrongAnswers = "wrong_answers"
	collSessions     = "sessions"
	collHits         = "hits"
	// collProbes holds the two fixed documents Open sums to learn what the server's $group does.
	collProbes = "probes"

	collWebhookSubs       = "webhook_subscriptions"
	collWebhookEvents     = "webhook_events"
	collWebhookDeliveries = "webhook_deliveries"
	collWebhookClaims     = "webhook_claims"
)

// Store is a courier.Store on one MongoDB database. It is safe for concurrent use.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	txn    bool // the server supports multi-document transactions
	// groupSums: the server's $group sums several nested fields in one stage (detected at Open).
	groupSums bool
	// sess is the session of the Atomic block this Store is bound to (nil: none). Every
	// collection below carries it (see collection).
	sess *mongo.Session

	firms, sites, staff, records, objections, commitments, tokens, audit, settings collection

	counters, guesses, checkpoints collection

	events, parcels, stats, statSources, carriers, incidents, anomalies, folds collection
	alertFeed                                                                  collection
	leaseTerms                                                                 collection
	links, retractions                                                         collection

	// replayAge is how old a pending event must be before EventsAfter returns it (see
	// SetReplayAge).
	replayAge time.Duration
	// clock is the server's clock as this host measures it (see Now); shared by the copies of
	// the Store bound to a session.
	clock *serverClock

	// indexBuildLimit is the largest collection Open builds a missing index on (0: any);
	// pendingIndexes the ones it left (see PendingIndexes).
	indexBuildLimit int64
	pendingIndexes  []string

	ratings, scoreRuns, scores, sanctions, leases, methods collection
	ratingVersions                                         collection

	wrongAnswers collection
	sessions     collection
	hits         collection
	probes       collection

	webhookSubs, webhookEvents, webhookDeliveries, webhookClaims collection
}

var _ courier.Store = (*Store)(nil)

// DefaultTimeout is the operation timeout of Open without WithTimeout.
const DefaultTimeout = 10 * time.Second

// Option sets how Open connects.
type Option func(*openOptions)

type openOptions struct {
	timeout    time.Duration
	monitor    *event.CommandMonitor
	indexLimit int64
	hostClock  func() time.Time
}

// WithHostClock makes the store read this host's clock from now instead of time.Now (tests of
// replicas whose clocks disagree): Now is the server's time measured with it.
func WithHostClock(now func() time.Time) Option {
	return func(o *openOptions) { o.hostClock = now }
}

// DefaultIndexBuildLimit is the index build limit of Open without WithIndexBuildLimit.
const DefaultIndexBuildLimit = 1_000_000

// WithIndexBuildLimit makes Open build a missing index only on a collection of at most n
// documents (by the server's estimate); the others are reported (PendingIndexes), not built, so
// that a release that adds an index does not hold every replica's start for the length of the
// build. Zero or less builds every missing index.
func WithIndexBuildLimit(n int64) Option {
	return func(o *openOptions) { o.indexLimit = max(n, 0) }
}

// WithTimeout bounds every operation that the caller's context does not bound sooner: server
// selection, the round trip, and the server's own work, the wait for the majority included (the
// driver sends the time left as maxTimeMS; mongo-driver v2 has no separate wtimeout and sends
// none, as the client-side operation timeout specification asks). An operation that runs out of
// it fails with credtrace.ErrUnavailable. Zero or less keeps DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *openOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithMonitor hands every command the client sends, and its outcome, to m (tests count the
// round trips of an ingested batch with it).
func WithMonitor(m *event.CommandMonitor) Option {
	return func(o *openOptions) { o.monitor = m }
}

// Open connects to the server at uri, checks that it answers and creates the indexes the store
// relies on (unique keys among them) in database dbName. Writes wait for a majority of the replica
// set and reads see only majority-committed data, so an acknowledged write is never rolled back
// under a reader. Every operation is bounded by the operation timeout (WithTimeout); a server
// that does not answer in it, a lost connection and a majority that does not confirm a write are
// credtrace.ErrUnavailable. The error names the hosts but never the credentials of uri.
func Open(ctx context.Context, uri, dbName string, opt ...Option) (*Store, error) {
	if dbName == "" {
		return nil, errors.New("mongodb: database name is empty")
	}
	o := openOptions{timeout: DefaultTimeout, indexLimit: DefaultIndexBuildLimit}
	for _, f := range opt {
		f(&o)
	}
	opts := options.Client().ApplyURI(uri).
		SetWriteConcern(writeconcern.Majority()).
		SetReadConcern(readconcern.Majority()).
		SetTimeout(o.timeout)
	if opts.ServerSelectionTimeout == nil { // the URI's serverSelectionTimeoutMS wins
		opts.SetServerSelectionTimeout(o.timeout)
	}
	if o.monitor != nil {
		opts.SetMonitor(o.monitor)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: connect: %w", redactURIError(err))
	}
	s := newStore(client, dbName, nil)
	s.indexBuildLimit = o.indexLimit
	if o.hostClock != nil {
		s.clock.host = o.hostClock
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(ctx)
		return nil, fmt.Errorf("mongodb: cannot reach %s: %w", strings.Join(opts.Hosts, ","), unavailable(err))
	}
	if _, err := s.ServerTime(ctx); err != nil {
		_ = client.Disconnect(ctx)
		return nil, err
	}
	if s.txn, err = detectTransactions(ctx, s.db); err != nil {
		_ = client.Disconnect(ctx)
		return nil, err
	}
	if s.groupSums, err = s.detectGroupSums(ctx); err != nil {
		_ = client.Disconnect(ctx)
		return nil, err
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = client.Disconnect(ctx)
		return nil, err
	}
	if err := s.rekeyParcels(ctx); err != nil {
		_ = client.Disconnect(ctx)
		return nil, err
	}
	if err := s.backfillChangedAt(ctx); err != nil {
		_ = client.Disconnect(ctx)
		return nil, err
	}
	return s, nil
}

// detectTransactions asks the server whether it can run multi-document transactions: a replica
// set member names its set (setName) and a mongos answers msg "isdbgrid"; a standalone server,
// and the embedded FerretDB of the tests, does neither.
func detectTransactions(ctx context.Context, db *mongo.Database) (bool, error) {
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return false, fmt.Errorf("mongodb: hello: %w", err)
	}
	return hello.SetName != "" || hello.Msg == "isdbgrid", nil
}

// Transactions reports whether the server supports multi-document transactions (detected at
// Open), and so whether Atomic is one transaction; /healthz and the start line say which.
func (s *Store) Transactions() bool { return s.txn }

// redactURIError drops the detail of a bad percent-escape, which can quote part of a password.
func redactURIError(err error) error {
	var esc url.EscapeError
	if errors.As(err, &esc) {
		return errors.New("error parsing uri: invalid percent-escape")
	}
	return err
}

// newStore returns the store on database dbName, its collections bound to sess (nil: none).
func newStore(client *mongo.Client, dbName string, sess *mongo.Session) *Store {
	db := client.Database(dbName)
	coll := func(name string) collection { return collection{c: db.Collection(name), sess: sess} }
	return &Store{
		clock:          &serverClock{host: time.Now},
		client:         client,
		db:             db,
		sess:           sess,
		firms:          coll(collFirms),
		sites:          coll(collSites),
		staff:          coll(collStaff),
		records:        coll(collRecords),
		objections:     coll(collObjections),
		commitments:    coll(collCommitments),
		tokens:         coll(collTokens),
		audit:          coll(collAudit),
		checkpoints:    coll(collCheckpoints),
		settings:       coll(collSettings),
		counters:       coll(collCounters),
		guesses:        coll(collGuesses),
		events:         coll(collEvents),
		parcels:        coll(collParcels),
		stats:          coll(collStats),
		statSources:    coll(collStatSources),
		carriers:       coll(collCarriers),
		incidents:      coll(collIncidents),
		anomalies:      coll(collAnomalies),
		alertFeed:      coll(collAlertFeed),
		folds:          coll(collFolds),
		leaseTerms:     coll(collLeaseTerms),
		links:          coll(collLinks),
		retractions:    coll(collRetractions),
		ratings:        coll(collRatings),
		scoreRuns:      coll(collScoreRuns),
		scores:         coll(collScores),
		sanctions:      coll(collSanctions),
		leases:         coll(collLeases),
		methods:        coll(collMethods),
		ratingVersions: coll(collRatingVersions),
		wrongAnswers:   coll(collWrongAnswers),
		sessions:       coll(collSessions),
		hits:           coll(collHits),
		probes:         coll(collProbes),

		webhookSubs:       coll(collWebhookSubs),
		webhookEvents:     coll(collWebhookEvents),
		webhookDeliveries: coll(collWebhookDeliveries),
		webhookClaims:     coll(collWebhookClaims),
	}
}

// Close disconnects from the server.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongodb: close: %w", err)
	}
	return nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongodb: ping: %w", unavailable(err))
	}
	return nil
}

// Name returns "mongodb".
func (s *Store) Name() string { return "mongodb" }

// DB returns the underlying database, for tests that look at the stored documents.
func (s *Store) DB() *mongo.Database { return s.db }

// Atomic runs fn with a Store whose every operation belongs to one block. Where the server
// supports multi-document transactions (a replica set or mongos, detected at Open), the block
// is a transaction: fn gets a copy of s bound to a session, and its writes commit together or
// not at all. The session's WithTransaction runs fn again, after a growing pause, when the
// server calls the failure transient (a write conflict with a concurrent block, or a commit
// whose outcome is unknown), so fn must do nothing outside the store that it cannot repeat; and
// it must not use the block's store from several goroutines at once, as a session is not safe
// for concurrent use. An Atomic inside the block joins it.
//
// Without transactions (a standalone server; FerretDB, on which the backend is tested), fn is
// called with s and there is no all-or-nothing across documents: each write fn makes is atomic
// on its own and versioned, so a concurrent change makes the later write fail with
// credtrace.ErrConflict rather than overwrite it, and callers order their writes so that a
// failure part-way leaves a consistent (if unfinished) state. /healthz and the start line say
// which of the two a deployment has (Transactions).
func (s *Store) Atomic(ctx context.Context, fn func(courier.Store) error) error {
	if s.sess != nil || !s.txn {
		return fn(s)
	}
	return s.inTransaction(ctx, func(bound *Store) error { return fn(bound) })
}

// inTransaction runs fn in one transaction with a copy of s bound to its session.
func (s *Store) inTransaction(ctx context.Context, fn func(bound *Store) error) error {
	sess, err := s.client.StartSession()
	if err != nil {
		return fmt.Errorf("mongodb: start session: %w", err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	bound := newStore(s.client, s.db.Name(), sess)
	bound.replayAge = s.replayAge
	bound.clock = s.clock
	bound.txn = s.txn
	bound.groupSums = s.groupSums
	_, err = sess.WithTransaction(ctx, func(context.Context) (any, error) { return nil, fn(bound) })
	return unavailable(err)
}

// isDuplicateKey reports a write refused for a taken unique key: code 11000, as MongoDB and
// FerretDB report it for inserts and upserts, or FerretDB's other form of it.
func isDuplicateKey(err error) bool {
	return mongo.IsDuplicateKeyError(err) || ferretUniqueViolation(err)
}

// ferretUniqueViolation recognises the one duplicate that FerretDB 1.24 (SQLite handler) does not
// report as 11000: an update, replace or findAndModify that moves a document onto a taken unique
// key fails as InternalError (code 1) carrying SQLite's "UNIQUE constraint failed", with no other
// mark to tell it by (measured against the embedded server: inserts, upserts and bulk inserts all
// give 11000). Only that code with that text counts, so no other internal error reads as a
// conflict; on MongoDB the branch never matches.
func ferretUniqueViolation(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 1 && strings.Contains(ce.Message, "UNIQUE constraint failed")
}

// insert stores a new document; a taken unique key (the _id or a unique index) is ErrConflict.
func insert(ctx context.Context, coll collection, what, id string, doc any) error {
	if _, err := coll.InsertOne(ctx, doc); err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("mongodb: create %s %s: %w", what, id, credtrace.ErrConflict)
		}
		return fmt.Errorf("mongodb: create %s %s: %w", what, id, err)
	}
	return nil
}

// replace overwrites the document id with doc when the stored version is version-1. When nothing
// matched it tells a missing document (ErrNotFound) from a stale version (ErrConflict).
func replace(ctx context.Context, coll collection, what, id string, version int, doc any) error {
	res, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: int64(version - 1)}}, doc)
	if err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("mongodb: update %s %s: %w", what, id, credtrace.ErrConflict)
		}
		return fmt.Errorf("mongodb: update %s %s: %w", what, id, err)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("mongodb: update %s %s: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("mongodb: update %s %s: %w", what, id, credtrace.ErrNotFound)
	}
	return fmt.Errorf("mongodb: update %s %s: version %d is stale: %w", what, id, version-1, credtrace.ErrConflict)
}

// findOne decodes the one document matching filter; none is ErrNotFound.
func findOne[D any](ctx context.Context, coll collection, filter any, what, key string) (D, error) {
	var d D
	err := coll.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, fmt.Errorf("mongodb: %s %s: %w", what, key, credtrace.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("mongodb: %s %s: %w", what, key, err)
	}
	return d, nil
}

// list returns one page of the documents matching filter in _id order, converted by conv.
func list[D, T any](ctx context.Context, coll collection, what string, filter bson.M, p courier.Page, conv func(D) T) ([]T, error) {
	if p.After != "" {
		filter["_id"] = withAfter(filter["_id"], p.After)
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if p.Limit > 0 {
		opts.SetLimit(int64(p.Limit))
	}
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: list %s: %w", what, err)
	}
	var docs []D
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongodb: list %s: %w", what, unavailable(err))
	}
	var out []T
	for _, d := range docs {
		out = append(out, conv(d))
	}
	return out, nil
}

// withAfter adds `> after` to an existing condition on _id (an $in from a query's IDs).
func withAfter(cond any, after string) bson.M {
	m, ok := cond.(bson.M)
	if !ok {
		m = bson.M{}
	}
	m["$gt"] = after
	return m
}

// in adds field ∈ values to filter. A nil slice does not filter; a non-nil empty one matches
// nothing (an empty $in), so a caller whose scope is empty sees nothing rather than everything.
func in[T ~string](filter bson.M, field string, values []T) {
	if values != nil {
		filter[field] = bson.M{"$in": values}
	}
}

// eq adds field == value to filter unless value is empty.
func eq[T ~string](filter bson.M, field string, value T) {
	if value != "" {
		filter[field] = value
	}
}
