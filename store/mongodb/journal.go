package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace/tracking"
)

// The journal, tracking's ingestion contract, without transactions. Appended events take a
// sequence from a counter and are stored pending: counted (there is nothing to count yet),
// without deltas. SaveDerived records each event's deltas once (marking it folded), counts
// them with the guards of WriteBatch, writes anomalies and summaries, and last takes the
// pending mark off. The pending events are the checkpoint: whatever stops a save, its events
// stay pending and are replayed, and their statistics land once. What a stop between the
// summaries and the marks leaves is a replay that folds those events into their summaries a
// second time (the statistics stay exact); transactions, where the server has them, will close
// that gap.

// eventsCounter is the _id of the events' sequence in the counters collection.
const eventsCounter = "events"

// AppendEvents implements tracking.Journal: events whose key is new are stored, pending, with
// sequences taken in one step from the counter.
func (t *Tracking) AppendEvents(ctx context.Context, events []tracking.Event) ([]bool, int64, error) {
	stored := make([]bool, len(events))
	if len(events) == 0 {
		return stored, 0, nil
	}
	top, err := t.takeSeqs(ctx, int64(len(events)))
	if err != nil {
		return nil, 0, fmt.Errorf("mongodb: append events: %w", err)
	}
	first := top - int64(len(events)) + 1
	docs := make([]any, len(events))
	for i, e := range events {
		d := toEventDoc(e)
		d.Deltas, d.Counted, d.Seq, d.Pending = nil, true, first+int64(i), true
		docs[i] = d
	}
	taken, err := insertNew(ctx, t.s.events, docs)
	if err != nil {
		return nil, 0, fmt.Errorf("mongodb: append events: %w", err)
	}
	var last int64
	for i := range events {
		if !taken[i] {
			stored[i], last = true, first+int64(i)
		}
	}
	return stored, last, nil
}

// takeSeqs adds n to the events' counter and returns its new value.
func (t *Tracking) takeSeqs(ctx context.Context, n int64) (int64, error) {
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: n}}}}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	for attempt := 0; ; attempt++ {
		var d counterDoc
		err := t.s.counters.FindOneAndUpdate(ctx, byID(eventsCounter), update, opts).Decode(&d)
		// Two first appends can race to insert the counter; the loser retries as an update.
		if err != nil && isDuplicateKey(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("take sequences: %w", err)
		}
		return d.N, nil
	}
}

// Checkpoint implements tracking.Journal: just below the first pending event, or the last
// sequence taken when none is pending.
func (t *Tracking) Checkpoint(ctx context.Context) (int64, error) {
	var e struct {
		Seq int64 `bson:"seq"`
	}
	err := t.s.events.FindOne(ctx, bson.M{"pending": true}, options.FindOne().SetSort(bson.D{{Key: "seq", Value: 1}}).
		SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&e)
	if err == nil {
		return e.Seq - 1, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, fmt.Errorf("mongodb: checkpoint: %w", err)
	}
	var c counterDoc
	err = t.s.counters.FindOne(ctx, byID(eventsCounter)).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongodb: checkpoint: %w", err)
	}
	return c.N, nil
}

// EventsAfter implements tracking.Journal: the pending events above seq.
func (t *Tracking) EventsAfter(ctx context.Context, seq int64, limit int) ([]tracking.Event, []int64, error) {
	docs, err := findAll[eventDoc](ctx, t.s.events, bson.M{"pending": true, "seq": bson.M{"$gt": seq}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, nil, fmt.Errorf("mongodb: events after %d: %w", seq, err)
	}
	evs := make([]tracking.Event, len(docs))
	seqs := make([]int64, len(docs))
	for i, d := range docs {
		evs[i], seqs[i] = fromEventDoc(d), d.Seq
	}
	return evs, seqs, nil
}

// SaveDerived implements tracking.Journal, in steps that can each be repeated (see above).
// A delta whose metric cannot be a field name is ErrInvalid, and nothing is written.
func (t *Tracking) SaveDerived(ctx context.Context, d tracking.Derived) error {
	for _, e := range d.Events {
		if err := checkDeltas(e.Deltas); err != nil {
			return fmt.Errorf("mongodb: save derived state: event %s: %w", e.Key, err)
		}
	}
	keys := make([]string, len(d.Events))
	models := make([]mongo.WriteModel, len(d.Events))
	for i, e := range d.Events {
		keys[i] = e.Key
		// The deltas of the first save stand: a replay folds the same event from the same
		// state, but should a save have stopped after counting, the guards need the same sources.
		models[i] = mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: e.Key}, {Key: "pending", Value: true}, {Key: "folded", Value: bson.D{{Key: "$ne", Value: true}}}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "deltas", Value: toDeltaDocs(e.Deltas)}, {Key: "counted", Value: len(e.Deltas) == 0}, {Key: "folded", Value: true}}}})
	}
	if err := bulk(ctx, t.s.events, models, func(i int, err error) error {
		return fmt.Errorf("mongodb: save derived state: record deltas of %s: %w", keys[i], err)
	}); err != nil {
		return err
	}
	type pendingDoc struct {
		ID     string     `bson:"_id"`
		Deltas []deltaDoc `bson:"deltas"`
	}
	var cs []contribution
	for part := range slices.Chunk(keys, chunk) {
		docs, err := findAll[pendingDoc](ctx, t.s.events, bson.M{"_id": bson.M{"$in": part}, "counted": false},
			options.Find().SetProjection(bson.D{{Key: "deltas", Value: 1}}))
		if err != nil {
			return fmt.Errorf("mongodb: save derived state: find uncounted events: %w", err)
		}
		for _, doc := range docs {
			cs = append(cs, contribution{src: doc.ID, deltas: fromDeltaDocs(doc.Deltas)})
		}
	}
	if err := t.count(ctx, t.s.events, cs); err != nil {
		return fmt.Errorf("mongodb: save derived state: %w", err)
	}
	if _, err := t.putAnomalies(ctx, d.Anomalies); err != nil {
		return fmt.Errorf("mongodb: save derived state: put anomalies: %w", err)
	}
	if err := t.putParcels(ctx, d.Parcels); err != nil {
		return fmt.Errorf("mongodb: save derived state: %w", err)
	}
	for part := range slices.Chunk(keys, chunk) {
		_, err := t.s.events.UpdateMany(ctx, bson.M{"_id": bson.M{"$in": part}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}, {Key: "folded", Value: ""}}}})
		if err != nil {
			return fmt.Errorf("mongodb: save derived state: clear pending: %w", err)
		}
	}
	return nil
}
