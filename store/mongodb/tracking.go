package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// Tracking is the tracking.Store of a Store, on the same database and connection. It is a type
// of its own because courier.Store and tracking.Store both name a method Atomic, with different
// parameter types, and one Go type cannot carry both.
//
// Statistics are kept exact without transactions. Every event (and every AddStats source) is
// stored first, uncounted, with the deltas it moves. Each statistics document then takes the
// deltas in one guarded update that also pushes the sources onto the document's pend list, and
// applies only when none of them is there yet; then the sources are marked counted, then taken
// off the pend lists again. A write that stops anywhere is finished by RecoverStats, whose own
// updates the same guard keeps from adding anything twice.
type Tracking struct{ s *Store }

var _ tracking.Store = (*Tracking)(nil)

// Tracking returns the tracking.Store on s's database.
func (s *Store) Tracking() *Tracking { return &Tracking{s: s} }

// chunk bounds the keys of one $in and the writes of one bulk write.
const chunk = 1000

// Atomic calls fn with t. Inside a Store.Atomic block (t came from the block's Store, as for an
// incident and its audit entry) fn joins the block's transaction. Otherwise, as for ingestion,
// there is no all-or-nothing across documents, even where the server has transactions:
// WriteBatch and AddStats order their writes so that RecoverStats can finish them, and they
// take a duplicate key as "written already", which would abort a transaction; and concurrent
// batches all move the same statistics documents, which in transactions would conflict and
// be run again whole.
func (t *Tracking) Atomic(ctx context.Context, fn func(tracking.Store) error) error {
	return fn(t)
}

// trackOne decodes the one document matching filter; none is credtrace.ErrNotFound.
func trackOne[D any](ctx context.Context, coll collection, filter any, what, key string) (D, error) {
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

// findAll decodes every document matching filter.
func findAll[D any](ctx context.Context, coll collection, filter any, opts ...options.Lister[options.FindOptions]) ([]D, error) {
	cur, err := coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, err
	}
	var docs []D
	if err := cur.All(ctx, &docs); err != nil {
		return nil, unavailable(err)
	}
	return docs, nil
}

// insertNew inserts docs, unordered, and reports which of them were refused because their _id
// was taken; any other failure is an error.
func insertNew(ctx context.Context, coll collection, docs []any) (taken map[int]bool, err error) {
	taken = map[int]bool{}
	for start := 0; start < len(docs); start += chunk {
		part := docs[start:min(start+chunk, len(docs))]
		_, err := coll.InsertMany(ctx, part, options.InsertMany().SetOrdered(false))
		if err == nil {
			continue
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
			return nil, err
		}
		for _, we := range bwe.WriteErrors {
			if !mongo.IsDuplicateKeyError(we.WriteError) {
				return nil, err
			}
			taken[start+we.Index] = true
		}
	}
	return taken, nil
}

// bulk sends models, each writing a different document, in unordered bulk writes. FerretDB 1.24
// stops a bulk write at its first failing write and does not say which of the others it
// applied, so after a failure every model of that bulk write is sent again on its own, and
// settle decides about its error (nil goes on). Every model handed to bulk must be safe to
// repeat.
func bulk(ctx context.Context, coll collection, models []mongo.WriteModel, settle func(i int, err error) error) error {
	for start := 0; start < len(models); start += chunk {
		part := models[start:min(start+chunk, len(models))]
		if _, err := coll.BulkWrite(ctx, part, options.BulkWrite().SetOrdered(false)); err == nil {
			continue
		} else if ctx.Err() != nil || credtrace.KindOf(err) == credtrace.Unavailable {
			return err // one by one would not fare better: the caller tries again later
		}
		for i, m := range part {
			if _, err := coll.BulkWrite(ctx, []mongo.WriteModel{m}); err != nil {
				if err := settle(start+i, err); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// EventHashes returns the content hash of each stored event among keys (carrier|id).
func (t *Tracking) EventHashes(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	type hashDoc struct {
		Key  string `bson:"_id"`
		Hash string `bson:"hash"`
	}
	for part := range slices.Chunk(keys, chunk) {
		docs, err := findAll[hashDoc](ctx, t.s.events, bson.M{"_id": bson.M{"$in": part}},
			options.Find().SetProjection(bson.D{{Key: "hash", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("mongodb: event hashes: %w", err)
		}
		for _, d := range docs {
			out[d.Key] = d.Hash
		}
	}
	return out, nil
}

// ParcelsByKey returns the stored summaries of the given parcels; unknown ones are absent.
func (t *Tracking) ParcelsByKey(ctx context.Context, keys []tracking.ParcelKey) (map[tracking.ParcelKey]tracking.Parcel, error) {
	out := make(map[tracking.ParcelKey]tracking.Parcel, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.String()
	}
	for part := range slices.Chunk(ids, chunk) {
		docs, err := findAll[parcelDoc](ctx, t.s.parcels, bson.M{"_id": bson.M{"$in": part}})
		if err != nil {
			return nil, fmt.Errorf("mongodb: parcels by key: %w", err)
		}
		for _, d := range docs {
			p := fromParcelDoc(d)
			out[p.Key()] = p
		}
	}
	return out, nil
}

// WaybillCarriers returns the carriers with stored events of waybill, sorted. It reads the
// carrier of each of the waybill's events (a handful) rather than asking for distinct values,
// whose answer FerretDB 1.24 encodes in a way the driver cannot decode.
func (t *Tracking) WaybillCarriers(ctx context.Context, waybill string) ([]string, error) {
	type carrierOnly struct {
		Carrier string `bson:"carrier"`
	}
	docs, err := findAll[carrierOnly](ctx, t.s.events, bson.M{"waybill": waybill}, options.Find().SetProjection(bson.D{{Key: "carrier", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongodb: carriers of %s: %w", waybill, err)
	}
	var out []string
	for _, d := range docs {
		out = append(out, d.Carrier)
	}
	slices.Sort(out)
	return strs(slices.Compact(out)), nil
}

// WaybillsCarriers implements tracking.BatchCarriers: the carriers with stored events of each of
// waybills, sorted, in one read per thousand waybills.
func (t *Tracking) WaybillsCarriers(ctx context.Context, waybills []string) (map[string][]string, error) {
	type carrierOf struct {
		Waybill string `bson:"waybill"`
		Carrier string `bson:"carrier"`
	}
	out := make(map[string][]string, len(waybills))
	for part := range slices.Chunk(waybills, chunk) {
		docs, err := findAll[carrierOf](ctx, t.s.events, bson.M{"waybill": bson.M{"$in": part}},
			options.Find().SetProjection(bson.D{{Key: "waybill", Value: 1}, {Key: "carrier", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("mongodb: carriers of %d waybills: %w", len(part), err)
		}
		for _, d := range docs {
			if !slices.Contains(out[d.Waybill], d.Carrier) {
				out[d.Waybill] = append(out[d.Waybill], d.Carrier)
			}
		}
	}
	for wb, cs := range out {
		slices.Sort(cs)
		out[wb] = cs
	}
	return out, nil
}

var _ tracking.BatchCarriers = (*Tracking)(nil)

// WriteBatch stores the batch: the events (an event whose key is stored already was written by
// another writer, and is skipped with its deltas), the parcel summaries, the anomalies not yet
// stored, and then the deltas of the events it stored, exactly once (see Tracking). A delta
// whose metric cannot be a field name is ErrInvalid, and nothing is written.
func (t *Tracking) WriteBatch(ctx context.Context, b tracking.Batch) error {
	for _, e := range b.Events {
		if err := checkDeltas(e.Deltas); err != nil {
			return fmt.Errorf("mongodb: write batch: event %s: %w", e.Key(), err)
		}
	}
	docs := make([]any, len(b.Events))
	for i, e := range b.Events {
		d := toEventDoc(e)
		d.Counted = len(e.Deltas) == 0 // nothing left to count
		docs[i] = d
	}
	taken, err := insertNew(ctx, t.s.events, docs)
	if err != nil {
		return fmt.Errorf("mongodb: write batch: insert events: %w", err)
	}
	if err := t.putParcels(ctx, b.Parcels); err != nil {
		return fmt.Errorf("mongodb: write batch: %w", err)
	}
	if _, err := t.putAnomalies(ctx, b.Anomalies); err != nil {
		return fmt.Errorf("mongodb: write batch: put anomalies: %w", err)
	}
	var cs []contribution
	for i, e := range b.Events {
		if !taken[i] && len(e.Deltas) > 0 {
			cs = append(cs, contribution{src: e.Key(), deltas: e.Deltas})
		}
	}
	if err := t.count(ctx, t.s.events, cs); err != nil {
		return fmt.Errorf("mongodb: write batch: %w", err)
	}
	return nil
}

// putParcels writes each summary over the stored one (the last one of a parcel wins).
func (t *Tracking) putParcels(ctx context.Context, ps []tracking.Parcel) error {
	var models []mongo.WriteModel
	at := map[string]int{}
	for _, p := range ps {
		id := p.Key().String()
		m := mongo.NewReplaceOneModel().SetFilter(byID(id)).SetReplacement(toParcelDoc(p)).SetUpsert(true)
		if i, ok := at[id]; ok {
			models[i] = m
			continue
		}
		at[id] = len(models)
		models = append(models, m)
	}
	return bulk(ctx, t.s.parcels, models, func(i int, err error) error {
		// Two first upserts of one waybill race; the loser's second try finds the document.
		if isDuplicateKey(err) {
			_, err = t.s.parcels.BulkWrite(ctx, models[i:i+1])
		}
		if err != nil {
			return fmt.Errorf("put parcel: %w", err)
		}
		return nil
	})
}

// ----- statistics -----

// contribution is the deltas of one source: an event (by its key) or an AddStats source.
type contribution struct {
	src    string
	deltas []tracking.StatDelta
}

// statInc adds counts to one statistics document for the sources srcs. parts holds the
// increment of each source on its own, for when some of srcs are in already.
type statInc struct {
	key    tracking.StatKey
	counts map[tracking.Metric]int
	srcs   []string
	parts  []statInc
}

// checkDeltas refuses metrics that cannot be the name of a counter field.
func checkDeltas(ds []tracking.StatDelta) error {
	for _, d := range ds {
		if m := string(d.Metric); m == "" || strings.ContainsAny(m, ".\x00") || strings.HasPrefix(m, "$") {
			return fmt.Errorf("metric %q: %w", m, credtrace.ErrInvalid)
		}
	}
	return nil
}

// coalesce sums the deltas of cs per statistics key, in the order keys first appear. FerretDB
// hangs on a bulk write with many updates of one document, and a real server does less work.
func coalesce(cs []contribution) []statInc {
	var out []statInc
	at := map[string]int{}
	for _, c := range cs {
		var own []statInc
		ownAt := map[string]int{}
		for _, d := range c.deltas {
			k := d.Key.String()
			i, ok := ownAt[k]
			if !ok {
				i = len(own)
				ownAt[k] = i
				own = append(own, statInc{key: d.Key, counts: map[tracking.Metric]int{}, srcs: []string{c.src}})
			}
			own[i].counts[d.Metric] += d.N
		}
		for _, p := range own {
			k := p.key.String()
			i, ok := at[k]
			if !ok {
				i = len(out)
				at[k] = i
				out = append(out, statInc{key: p.key, counts: map[tracking.Metric]int{}})
			}
			u := &out[i]
			for m, n := range p.counts {
				u.counts[m] += n
			}
			u.srcs = append(u.srcs, c.src)
			u.parts = append(u.parts, p)
		}
	}
	return out
}

// filter matches the document only while none of the sources is on its pend list. When it
// matches nothing, the upsert tries to insert a second document with the same _id and fails
// with a duplicate key: that is how "already applied" comes back.
func (u statInc) filter() bson.D {
	return bson.D{{Key: "_id", Value: u.key.String()}, {Key: "pend", Value: bson.D{{Key: "$nin", Value: u.srcs}}}}
}

func (u statInc) update() bson.D {
	metrics := make([]tracking.Metric, 0, len(u.counts))
	for m := range u.counts {
		metrics = append(metrics, m)
	}
	slices.Sort(metrics)
	inc := make(bson.D, 0, len(metrics))
	for _, m := range metrics {
		inc = append(inc, bson.E{Key: "counts." + string(m), Value: int64(u.counts[m])})
	}
	return bson.D{
		{Key: "$inc", Value: inc},
		{Key: "$push", Value: bson.D{{Key: "pend", Value: bson.D{{Key: "$each", Value: u.srcs}}}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "kind", Value: string(u.key.Kind)}, {Key: "id", Value: u.key.ID}, {Key: "day", Value: u.key.Day}}},
	}
}

// count adds the deltas of cs to the statistics, marks the sources counted in coll (events or
// stat_sources), then takes them off the pend lists. Each step can be repeated safely.
func (t *Tracking) count(ctx context.Context, coll collection, cs []contribution) error {
	if len(cs) == 0 {
		return nil
	}
	incs := coalesce(cs)
	if err := t.applyStats(ctx, incs); err != nil {
		return err
	}
	srcs := make([]string, len(cs))
	for i, c := range cs {
		srcs[i] = c.src
	}
	for part := range slices.Chunk(srcs, chunk) {
		_, err := coll.UpdateMany(ctx, bson.M{"_id": bson.M{"$in": part}}, bson.D{{Key: "$set", Value: bson.D{{Key: "counted", Value: true}}}})
		if err != nil {
			return fmt.Errorf("mark %s counted: %w", coll.Name(), err)
		}
	}
	return t.release(ctx, incs)
}

// applyStats sends the guarded increments. An increment refused as a duplicate has at least one
// of its sources in already; its sources are then tried one by one, each under its own guard.
func (t *Tracking) applyStats(ctx context.Context, incs []statInc) error {
	models := make([]mongo.WriteModel, len(incs))
	for i, u := range incs {
		models[i] = mongo.NewUpdateOneModel().SetFilter(u.filter()).SetUpdate(u.update()).SetUpsert(true)
	}
	upsert := options.UpdateOne().SetUpsert(true)
	return bulk(ctx, t.s.stats, models, func(i int, err error) error {
		u := incs[i]
		if !isDuplicateKey(err) {
			return fmt.Errorf("add statistics %s: %w", u.key, err)
		}
		if len(u.parts) <= 1 {
			return nil // the one source is in already
		}
		for _, p := range u.parts {
			if _, err := t.s.stats.UpdateOne(ctx, p.filter(), p.update(), upsert); err != nil && !isDuplicateKey(err) {
				return fmt.Errorf("add statistics %s of %s: %w", p.key, p.srcs[0], err)
			}
		}
		return nil
	})
}

// release takes the sources of incs off the pend lists. FerretDB 1.24 ignores $pull with an $in
// condition (the update succeeds and removes nothing), so this uses $pullAll.
func (t *Tracking) release(ctx context.Context, incs []statInc) error {
	models := make([]mongo.WriteModel, len(incs))
	for i, u := range incs {
		models[i] = mongo.NewUpdateOneModel().SetFilter(byID(u.key.String())).
			SetUpdate(bson.D{{Key: "$pullAll", Value: bson.D{{Key: "pend", Value: u.srcs}}}})
	}
	return bulk(ctx, t.s.stats, models, func(i int, err error) error {
		return fmt.Errorf("release statistics %s: %w", incs[i].key, err)
	})
}

// AddStats adds deltas once for source (an incident): a source recorded before adds nothing.
// A metric that cannot be a field name is ErrInvalid.
func (t *Tracking) AddStats(ctx context.Context, source string, deltas []tracking.StatDelta) error {
	if err := checkDeltas(deltas); err != nil {
		return fmt.Errorf("mongodb: add statistics of %s: %w", source, err)
	}
	doc := statSourceDoc{Source: source, Deltas: toDeltaDocs(deltas), Counted: len(deltas) == 0, RecordedAt: datetime(t.s.Now())}
	if _, err := t.s.statSources.InsertOne(ctx, doc); err != nil {
		if isDuplicateKey(err) {
			// Recorded before. Should that call have stopped half-way, RecoverStats finishes it;
			// finishing it here could race with that call and count it twice.
			return nil
		}
		return fmt.Errorf("mongodb: add statistics of %s: %w", source, err)
	}
	if err := t.count(ctx, t.s.statSources, []contribution{{src: source, deltas: deltas}}); err != nil {
		return fmt.Errorf("mongodb: add statistics of %s: %w", source, err)
	}
	return nil
}

// RecoverStats finishes statistics that a crash left half-written: for every event and
// statistics source stored more than olderThan ago and not yet counted, it adds the deltas the
// guards show are missing, marks it counted and releases its guards; then it clears guards of
// counted sources left behind. It returns how many events and sources it finished.
//
// olderThan must be longer than any WriteBatch or AddStats can take: finishing a source while
// its own write is still counting it can count it twice. Zero finishes everything, which suits
// a start before any writer runs.
func (t *Tracking) RecoverStats(ctx context.Context, olderThan time.Duration) (int, error) {
	var cutoff time.Time
	if olderThan > 0 {
		cutoff = t.s.Now().Add(-olderThan)
	}
	n := 0
	for _, c := range []struct {
		coll      collection
		timeField string
	}{{t.s.events, "received_at"}, {t.s.statSources, "recorded_at"}, {t.s.retractions, "recorded_at"}} {
		k, err := t.finish(ctx, c.coll, c.timeField, cutoff)
		n += k
		if err != nil {
			return n, fmt.Errorf("mongodb: recover statistics: %w", err)
		}
	}
	if err := t.pruneGuards(ctx); err != nil {
		return n, fmt.Errorf("mongodb: recover statistics: %w", err)
	}
	return n, nil
}

// finish counts the uncounted sources of coll stored before cutoff (any time when zero), one at
// a time, in _id order.
func (t *Tracking) finish(ctx context.Context, coll collection, timeField string, cutoff time.Time) (int, error) {
	type pendingDoc struct {
		ID     string     `bson:"_id"`
		Deltas []deltaDoc `bson:"deltas"`
	}
	n, after := 0, ""
	for {
		filter := bson.M{"counted": false, "_id": bson.M{"$gt": after}}
		if !cutoff.IsZero() {
			filter[timeField] = bson.M{"$lt": bson.NewDateTimeFromTime(cutoff)}
		}
		opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(100).
			SetProjection(bson.D{{Key: "deltas", Value: 1}})
		docs, err := findAll[pendingDoc](ctx, coll, filter, opts)
		if err != nil {
			return n, fmt.Errorf("find uncounted %s: %w", coll.Name(), err)
		}
		if len(docs) == 0 {
			return n, nil
		}
		if err := t.s.checkFence(ctx); err != nil {
			return n, err
		}
		for _, d := range docs {
			// Claim the source first: a page read is stale by the time it is counted, and the
			// claim is the last look, on the source itself, at whether it is still uncounted.
			if ok, err := t.claim(ctx, coll, d.ID); err != nil {
				return n, err
			} else if !ok {
				continue
			}
			if err := t.count(ctx, coll, []contribution{{src: d.ID, deltas: fromDeltaDocs(d.Deltas)}}); err != nil {
				return n, err
			}
			n++
		}
		after = docs[len(docs)-1].ID
	}
}

// claim marks the uncounted source id of coll as being counted, with the token of the lease
// ctx carries (see Fenced): it fails for a source counted meanwhile, or claimed under a later
// term of the lease, so that a holder whose lease lapsed does not count what the next holder
// counts.
func (t *Tracking) claim(ctx context.Context, coll collection, id string) (bool, error) {
	token := int64(0)
	owner := ""
	if l, ok := fence(ctx); ok {
		token, owner = l.Token, l.Owner
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: "counted", Value: false}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "claim_token", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "claim_token", Value: bson.D{{Key: "$lte", Value: token}}}},
	}}}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "claim_token", Value: token}, {Key: "claim_owner", Value: owner}}},
		{Key: "$currentDate", Value: bson.D{{Key: "claim_at", Value: true}}},
	}
	err := coll.FindOneAndUpdate(ctx, filter, update).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s %s: %w", coll.Name(), id, err)
	}
	return true, nil
}

// pruneGuards takes counted sources off the pend lists, where a stop between marking a source
// counted and releasing it leaves them. A counted source needs its guard no more.
func (t *Tracking) pruneGuards(ctx context.Context) error {
	type guardDoc struct {
		Key  string   `bson:"_id"`
		Pend []string `bson:"pend"`
	}
	docs, err := findAll[guardDoc](ctx, t.s.stats, bson.M{"pend.0": bson.M{"$exists": true}},
		options.Find().SetProjection(bson.D{{Key: "pend", Value: 1}}))
	if err != nil {
		return fmt.Errorf("find guards: %w", err)
	}
	var srcs []string
	for _, d := range docs {
		srcs = append(srcs, d.Pend...)
	}
	slices.Sort(srcs)
	srcs = slices.Compact(srcs)
	done := map[string]bool{}
	for _, coll := range []collection{t.s.events, t.s.statSources, t.s.retractions} {
		for part := range slices.Chunk(srcs, chunk) {
			counted, err := findAll[struct {
				ID string `bson:"_id"`
			}](ctx, coll, bson.M{"_id": bson.M{"$in": part}, "counted": true}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
			if err != nil {
				return fmt.Errorf("find counted %s: %w", coll.Name(), err)
			}
			for _, c := range counted {
				done[c.ID] = true
			}
		}
	}
	for _, d := range docs {
		var drop []string
		for _, p := range d.Pend {
			if done[p] {
				drop = append(drop, p)
			}
		}
		if len(drop) == 0 {
			continue
		}
		if _, err := t.s.stats.UpdateOne(ctx, byID(d.Key), bson.D{{Key: "$pullAll", Value: bson.D{{Key: "pend", Value: drop}}}}); err != nil {
			return fmt.Errorf("release statistics %s: %w", d.Key, err)
		}
	}
	return nil
}

// Stats returns the day statistics of q.Kind (every kind when empty) for q.IDs (every subject
// when nil) between q.From and q.To inclusive (open when empty), by subject id, then day.
func (t *Tracking) Stats(ctx context.Context, q tracking.StatsQuery) ([]tracking.DayStats, error) {
	filter := bson.M{}
	eq(filter, "kind", q.Kind)
	in(filter, "id", q.IDs)
	day := bson.M{}
	if q.From != "" {
		day["$gte"] = q.From
	}
	if q.To != "" {
		day["$lte"] = q.To
	}
	if len(day) > 0 {
		filter["day"] = day
	}
	opts := options.Find().SetSort(bson.D{{Key: "id", Value: 1}, {Key: "day", Value: 1}}).
		SetProjection(bson.D{{Key: "pend", Value: 0}})
	docs, err := findAll[statDoc](ctx, t.s.stats, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: statistics: %w", err)
	}
	return convSlice(docs, fromStatDoc), nil
}

// ----- events, parcels and carriers -----

// ParcelEvents returns one parcel's events, in key order.
func (t *Tracking) ParcelEvents(ctx context.Context, k tracking.ParcelKey) ([]tracking.Event, error) {
	docs, err := findAll[eventDoc](ctx, t.s.events, bson.M{"waybill": k.Waybill, "carrier": k.Carrier},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongodb: events of %s at %s: %w", k.Waybill, k.Carrier, err)
	}
	return convSlice(docs, fromEventDoc), nil
}

// Parcels lists the summaries matching q in key order (waybill, then carrier).
func (t *Tracking) Parcels(ctx context.Context, q tracking.ParcelQuery) ([]tracking.Parcel, error) {
	filter := bson.M{}
	in(filter, "carrier", q.Carriers)
	if q.NotFinal {
		filter["final"] = false
	}
	if !q.LastBefore.IsZero() {
		filter["last_at"] = bson.M{"$lt": bson.NewDateTimeFromTime(q.LastBefore)}
	}
	if !q.PromiseBefore.IsZero() {
		filter["promise_by"] = bson.M{"$exists": true, "$lt": bson.NewDateTimeFromTime(q.PromiseBefore)}
	}
	if !q.CollectedAfter.IsZero() {
		filter["collected_at"] = bson.M{"$gte": bson.NewDateTimeFromTime(q.CollectedAfter)}
	}
	from(filter, "last_at", q.LastFrom)
	from(filter, "promise_by", q.PromiseFrom)
	from(filter, "updated_at", q.UpdatedFrom)
	if q.HasMerchant {
		filter["merchant_id"] = bson.M{"$gt": ""}
	}
	if q.MerchantID != "" {
		filter["merchant_id"] = q.MerchantID
	}
	if q.NewestCollected {
		if q.After != "" {
			return nil, errors.New("mongodb: parcels: newest first does not page")
		}
		opts := options.Find().SetSort(bson.D{{Key: "collected_at", Value: -1}, {Key: "_id", Value: 1}})
		if q.Limit > 0 {
			opts.SetLimit(int64(q.Limit))
		}
		docs, err := findAll[parcelDoc](ctx, t.s.parcels, filter, opts)
		if err != nil {
			return nil, fmt.Errorf("mongodb: parcels: %w", err)
		}
		return convSlice(docs, fromParcelDoc), nil
	}
	return list(ctx, t.s.parcels, "parcels", filter, courier.Page{After: q.After, Limit: q.Limit}, fromParcelDoc)
}

// from adds a lower bound (inclusive) on field to filter, beside any bound it has.
func from(filter bson.M, field string, t time.Time) {
	if t.IsZero() {
		return
	}
	cond, _ := filter[field].(bson.M)
	if cond == nil {
		cond = bson.M{}
	}
	cond["$gte"] = bson.NewDateTimeFromTime(t)
	filter[field] = cond
}

// CarrierConfig returns a carrier's settings; credtrace.ErrNotFound when it has none.
func (t *Tracking) CarrierConfig(ctx context.Context, firmID string) (tracking.CarrierConfig, error) {
	d, err := trackOne[carrierDoc](ctx, t.s.carriers, byID(firmID), "carrier config", firmID)
	return fromCarrierDoc(d), err
}

// PutCarrierConfig stores a carrier's settings over any stored ones.
func (t *Tracking) PutCarrierConfig(ctx context.Context, c tracking.CarrierConfig) error {
	replace := func() error {
		_, err := t.s.carriers.ReplaceOne(ctx, byID(c.FirmID), toCarrierDoc(c), options.Replace().SetUpsert(true))
		return err
	}
	err := replace()
	if isDuplicateKey(err) {
		err = replace() // lost a race to insert the first settings: now there is one to replace
	}
	if err != nil {
		return fmt.Errorf("mongodb: put carrier config %s: %w", c.FirmID, err)
	}
	return nil
}

// ----- incidents and anomalies -----

// CreateIncident stores a new incident; credtrace.ErrConflict when its id is taken.
func (t *Tracking) CreateIncident(ctx context.Context, in tracking.Incident) error {
	if _, err := t.s.incidents.InsertOne(ctx, toIncidentDoc(in)); err != nil {
		if isDuplicateKey(err) {
			return fmt.Errorf("mongodb: create incident %s: %w", in.ID, credtrace.ErrConflict)
		}
		return fmt.Errorf("mongodb: create incident %s: %w", in.ID, err)
	}
	if err := t.feedAlerts(ctx, alertIncident, []string{in.ID}); err != nil {
		return fmt.Errorf("mongodb: create incident %s: %w", in.ID, err)
	}
	return nil
}

// JoinIncident counts one more joined report with $inc in one findOneAndUpdate (atomic on a
// MongoDB server; FerretDB may lose concurrent ones, which tracking's serialised reports do not
// make) and answers the document after; credtrace.ErrNotFound when there is none.
func (t *Tracking) JoinIncident(ctx context.Context, id string) (tracking.Incident, error) {
	var d incidentDoc
	err := t.s.incidents.FindOneAndUpdate(ctx, byID(id), bson.D{{Key: "$inc", Value: bson.D{{Key: "joined", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return tracking.Incident{}, fmt.Errorf("mongodb: join incident %s: %w", id, credtrace.ErrNotFound)
	}
	if err != nil {
		return tracking.Incident{}, fmt.Errorf("mongodb: join incident %s: %w", id, err)
	}
	return fromIncidentDoc(d), nil
}

// Incident returns the incident id; credtrace.ErrNotFound when there is none.
func (t *Tracking) Incident(ctx context.Context, id string) (tracking.Incident, error) {
	d, err := trackOne[incidentDoc](ctx, t.s.incidents, byID(id), "incident", id)
	return fromIncidentDoc(d), err
}

// Incidents lists the incidents matching q in id order.
func (t *Tracking) Incidents(ctx context.Context, q tracking.IncidentQuery) ([]tracking.Incident, error) {
	return list(ctx, t.s.incidents, "incidents", incidentFilter(q), courier.Page{After: q.After, Limit: q.Limit}, fromIncidentDoc)
}

// CountIncidents counts the incidents q selects, on the server.
func (t *Tracking) CountIncidents(ctx context.Context, q tracking.IncidentQuery) (int, error) {
	return countOf(ctx, t.s.incidents, "incidents", incidentFilter(q))
}

func incidentFilter(q tracking.IncidentQuery) bson.M {
	filter := bson.M{}
	in(filter, "carrier", q.Carriers)
	eq(filter, "waybill", q.Waybill)
	return filter
}

// PutAnomalies stores the anomalies whose id is not stored yet and returns them, in the order
// given.
func (t *Tracking) PutAnomalies(ctx context.Context, as []tracking.Anomaly) ([]tracking.Anomaly, error) {
	fresh, err := t.putAnomalies(ctx, as)
	if err != nil {
		return nil, fmt.Errorf("mongodb: put anomalies: %w", err)
	}
	return fresh, nil
}

func (t *Tracking) putAnomalies(ctx context.Context, as []tracking.Anomaly) ([]tracking.Anomaly, error) {
	docs := make([]any, len(as))
	for i, a := range as {
		docs[i] = toAnomalyDoc(a)
	}
	taken, err := insertNew(ctx, t.s.anomalies, docs)
	if err != nil {
		return nil, err
	}
	var fresh []tracking.Anomaly
	var ids []string
	for i, a := range as {
		if !taken[i] {
			fresh, ids = append(fresh, a), append(ids, a.ID)
		}
	}
	if err := t.feedAlerts(ctx, alertAnomaly, ids); err != nil {
		return nil, err
	}
	return fresh, nil
}

// Anomaly returns the anomaly id; credtrace.ErrNotFound when there is none.
func (t *Tracking) Anomaly(ctx context.Context, id string) (tracking.Anomaly, error) {
	d, err := trackOne[anomalyDoc](ctx, t.s.anomalies, byID(id), "anomaly", id)
	return fromAnomalyDoc(d), err
}

// unlinked matches an anomaly not yet turned into an incident: its incident_id is always
// stored, empty until LinkAnomaly (the partial index of open anomalies keys on it).
var unlinked = ""

// Anomalies lists the anomalies matching q in id order.
func (t *Tracking) Anomalies(ctx context.Context, q tracking.AnomalyQuery) ([]tracking.Anomaly, error) {
	if q.Newest {
		opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}})
		if q.Limit > 0 {
			opts.SetLimit(int64(q.Limit))
		}
		docs, err := findAll[anomalyDoc](ctx, t.s.anomalies, anomalyFilter(q), opts)
		if err != nil {
			return nil, fmt.Errorf("mongodb: latest anomalies: %w", unavailable(err))
		}
		return convSlice(docs, fromAnomalyDoc), nil
	}
	return list(ctx, t.s.anomalies, "anomalies", anomalyFilter(q), courier.Page{After: q.After, Limit: q.Limit}, fromAnomalyDoc)
}

// CountAnomalies counts the anomalies q selects, on the server.
func (t *Tracking) CountAnomalies(ctx context.Context, q tracking.AnomalyQuery) (int, error) {
	return countOf(ctx, t.s.anomalies, "anomalies", anomalyFilter(q))
}

func anomalyFilter(q tracking.AnomalyQuery) bson.M {
	filter := bson.M{}
	in(filter, "carrier", q.Carriers)
	eq(filter, "kind", q.Kind)
	eq(filter, "waybill", q.Waybill)
	if q.Open {
		filter["incident_id"] = unlinked
	}
	return filter
}

// LinkAnomaly records the incident an anomaly became; credtrace.ErrNotFound when there is no
// such anomaly, credtrace.ErrConflict when it is linked already.
func (t *Tracking) LinkAnomaly(ctx context.Context, id, incidentID string) error {
	res, err := t.s.anomalies.UpdateOne(ctx, bson.M{"_id": id, "incident_id": unlinked},
		bson.D{{Key: "$set", Value: bson.D{{Key: "incident_id", Value: incidentID}}}})
	if err != nil {
		return fmt.Errorf("mongodb: link anomaly %s: %w", id, err)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	n, err := t.s.anomalies.CountDocuments(ctx, byID(id))
	if err != nil {
		return fmt.Errorf("mongodb: link anomaly %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("mongodb: link anomaly %s: %w", id, credtrace.ErrNotFound)
	}
	return fmt.Errorf("mongodb: link anomaly %s: linked already: %w", id, credtrace.ErrConflict)
}

// rekeyParcels moves parcel summaries stored before parcels were keyed by carrier (under the
// waybill alone, without a waybill field) to their key, "waybill carrier". It runs at start;
// each step can be repeated, so a start that stops half-way is finished by the next one.
func (s *Store) rekeyParcels(ctx context.Context) error {
	for {
		docs, err := findAll[parcelDoc](ctx, s.parcels, bson.M{"waybill": bson.M{"$exists": false}}, options.Find().SetLimit(chunk))
		if err != nil {
			return fmt.Errorf("mongodb: rekey parcels: %w", err)
		}
		if len(docs) == 0 {
			return nil
		}
		for _, d := range docs {
			old := d.Key
			d.Waybill = old
			d.Key = tracking.ParcelKey{Carrier: d.Carrier, Waybill: old}.String()
			if _, err := s.parcels.InsertOne(ctx, d); err != nil && !isDuplicateKey(err) {
				return fmt.Errorf("mongodb: rekey parcel %s: %w", old, err)
			}
			if _, err := s.parcels.DeleteOne(ctx, byID(old)); err != nil {
				return fmt.Errorf("mongodb: rekey parcel %s: %w", old, err)
			}
		}
	}
}

// StatSources implements tracking.SourceLister: the counted statistics sources (AddStats).
func (t *Tracking) StatSources(ctx context.Context) ([]tracking.StatSource, error) {
	docs, err := findAll[statSourceDoc](ctx, t.s.statSources, bson.M{"counted": true})
	if err != nil {
		return nil, fmt.Errorf("mongodb: statistics sources: %w", err)
	}
	return convSlice(docs, func(d statSourceDoc) tracking.StatSource {
		return tracking.StatSource{Key: d.Source, Deltas: fromDeltaDocs(d.Deltas)}
	}), nil
}
