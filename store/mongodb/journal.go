package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// The journal, tracking's ingestion contract, without transactions. Appended events take a
// sequence from a counter and are stored pending: counted (there is nothing to count yet),
// without deltas. The pending events are the checkpoint.
//
// Several replicas fold into one database, and FerretDB applies no update atomically with its
// filter, so a summary is never compared and set in place: each save of a summary of version v
// (Parcel.Version, set by a shared pipeline) first inserts a fold record, "<parcel>#<v>" in
// folds, with the summary, the events it folds in (their deltas and named sources) and the
// anomalies they raised. A unique _id is atomic on every server: of two replicas folding onto
// the same version one inserts it, the other gets *tracking.FoldConflictError and folds again
// onto the winner. The won record is then finished, in steps that can each be repeated: the
// events' deltas are recorded (the first stand), counted with the guards of WriteBatch, the
// sources added once, the anomalies stored, the summary copied into parcels (never over a
// later version) and last the pending marks taken off. A stop anywhere leaves pending events
// that a fold record holds: EventsAfter finishes those records instead of returning their
// events, so a replay never folds an event into its summary twice. Summaries of version 0 (a
// store one pipeline writes alone) are written over the stored ones, as before.

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
	return t.takeSeqsOf(ctx, eventsCounter, n)
}

// takeSeqsOf adds n to the counter name and returns its new value.
func (t *Tracking) takeSeqsOf(ctx context.Context, name string, n int64) (int64, error) {
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: n}}}}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	for attempt := 0; ; attempt++ {
		var d counterDoc
		err := t.s.counters.FindOneAndUpdate(ctx, byID(name), update, opts).Decode(&d)
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

// SetReplayAge makes EventsAfter return only pending events received at least d ago (by the
// server's clock, see Now): where several replicas ingest, the events another replica is folding
// right now are its to save, and a replay of them could count them twice. Zero (the default)
// returns every pending event, which suits one process.
func (s *Store) SetReplayAge(d time.Duration) { s.replayAge = d }

// EventsAfter implements tracking.Journal: the pending events above seq that no fold record
// holds. Pending events that one does hold (a save stopped before taking their marks off) are
// finished first, with the record's deltas and summary.
func (t *Tracking) EventsAfter(ctx context.Context, seq int64, limit int) ([]tracking.Event, []int64, error) {
	for round := 0; ; round++ {
		filter := bson.M{"pending": true, "seq": bson.M{"$gt": seq}}
		if t.s.replayAge > 0 {
			filter["received_at"] = bson.M{"$lt": bson.NewDateTimeFromTime(t.s.Now().Add(-t.s.replayAge))}
		}
		docs, err := findAll[eventDoc](ctx, t.s.events, filter, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)))
		if err != nil {
			return nil, nil, fmt.Errorf("mongodb: events after %d: %w", seq, err)
		}
		keys := make([]string, len(docs))
		for i, d := range docs {
			keys[i] = d.Key
		}
		var held []foldDoc
		for part := range slices.Chunk(keys, chunk) {
			fs, err := findAll[foldDoc](ctx, t.s.folds, bson.M{"keys": bson.M{"$in": part}})
			if err != nil {
				return nil, nil, fmt.Errorf("mongodb: events after %d: fold records: %w", seq, err)
			}
			held = append(held, fs...)
		}
		if len(held) == 0 || round == 3 {
			evs := make([]tracking.Event, 0, len(docs))
			seqs := make([]int64, 0, len(docs))
			for _, d := range docs {
				evs, seqs = append(evs, fromEventDoc(d)), append(seqs, d.Seq)
			}
			return evs, seqs, nil
		}
		if err := t.finishFolds(ctx, held, derivedRest{}); err != nil {
			return nil, nil, fmt.Errorf("mongodb: events after %d: %w", seq, err)
		}
	}
}

// foldDoc is one saved version of a parcel summary with what its fold moved (see above).
type foldDoc struct {
	ID        string         `bson:"_id"`
	Parcel    string         `bson:"parcel"`
	Version   int64          `bson:"version"`
	Keys      []string       `bson:"keys"`
	Events    []foldEventDoc `bson:"events"`
	Anomalies []anomalyDoc   `bson:"anomalies,omitempty"`
	Summary   parcelDoc      `bson:"summary"`
}

type foldEventDoc struct {
	Key     string      `bson:"key"`
	Deltas  []deltaDoc  `bson:"deltas,omitempty"`
	Sources []sourceDoc `bson:"sources,omitempty"`
}

type sourceDoc struct {
	Key    string     `bson:"key"`
	Deltas []deltaDoc `bson:"deltas"`
}

// foldID is the _id of version v of parcel's summary; zero-padded so that ids sort by version.
func foldID(parcel string, v int64) string { return fmt.Sprintf("%s#%020d", parcel, v) }

// derivedRest is the part of a derived state that no fold record carries: events of no parcel
// or of summaries of version 0, their anomalies, and those summaries.
type derivedRest struct {
	events    []tracking.EventStats
	anomalies []tracking.Anomaly
	parcels   []tracking.Parcel
}

// SaveDerived implements tracking.Journal (see above). A delta whose metric cannot be a field
// name is ErrInvalid, and nothing is written; *tracking.FoldConflictError names the parcels
// whose version another writer saved first.
func (t *Tracking) SaveDerived(ctx context.Context, d tracking.Derived) error {
	for _, e := range d.Events {
		if err := checkDeltas(e.Deltas); err != nil {
			return fmt.Errorf("mongodb: save derived state: event %s: %w", e.Key, err)
		}
		for _, src := range e.Sources {
			if err := checkDeltas(src.Deltas); err != nil {
				return fmt.Errorf("mongodb: save derived state: source %s: %w", src.Key, err)
			}
		}
	}
	versioned := map[string]bool{}
	var rest derivedRest
	for _, p := range d.Parcels {
		if p.Version > 0 {
			versioned[p.Key().String()] = true
		} else {
			rest.parcels = append(rest.parcels, p)
		}
	}
	byParcel := map[string][]tracking.EventStats{}
	for _, e := range d.Events {
		if k := e.Parcel.String(); e.Parcel != (tracking.ParcelKey{}) && versioned[k] {
			byParcel[k] = append(byParcel[k], e)
		} else {
			rest.events = append(rest.events, e)
		}
	}
	anoms := map[string][]anomalyDoc{}
	for _, a := range d.Anomalies {
		if k := (tracking.ParcelKey{Carrier: a.Carrier, Waybill: a.Waybill}).String(); versioned[k] {
			anoms[k] = append(anoms[k], toAnomalyDoc(a))
		} else {
			rest.anomalies = append(rest.anomalies, a)
		}
	}
	var records []foldDoc
	for _, p := range d.Parcels {
		if p.Version == 0 {
			continue
		}
		k := p.Key().String()
		f := foldDoc{ID: foldID(k, p.Version), Parcel: k, Version: p.Version, Anomalies: anoms[k], Summary: toParcelDoc(p)}
		for _, e := range byParcel[k] {
			fe := foldEventDoc{Key: e.Key, Deltas: toDeltaDocs(e.Deltas)}
			for _, src := range e.Sources {
				fe.Sources = append(fe.Sources, sourceDoc{Key: src.Key, Deltas: toDeltaDocs(src.Deltas)})
			}
			f.Keys, f.Events = append(f.Keys, e.Key), append(f.Events, fe)
		}
		records = append(records, f)
	}
	docs := make([]any, len(records))
	for i, f := range records {
		docs[i] = f
	}
	taken, err := insertNew(ctx, t.s.folds, docs)
	if err != nil {
		return fmt.Errorf("mongodb: save derived state: fold records: %w", err)
	}
	// Taken: by this very fold when a save that stopped is replayed from the same summary (the
	// same events), else by another writer. The taken records are read in one go.
	var takenIDs []string
	for i, f := range records {
		if taken[i] {
			takenIDs = append(takenIDs, f.ID)
		}
	}
	stored := map[string]foldDoc{}
	for part := range slices.Chunk(takenIDs, chunk) {
		fs, err := findAll[foldDoc](ctx, t.s.folds, bson.M{"_id": bson.M{"$in": part}})
		if err != nil {
			return fmt.Errorf("mongodb: save derived state: fold records: %w", err)
		}
		for _, f := range fs {
			stored[f.ID] = f
		}
	}
	var won []foldDoc
	var lost []tracking.ParcelKey
	var lostIDs []string
	for i, f := range records {
		if !taken[i] {
			won = append(won, f)
			continue
		}
		stored, ok := stored[f.ID]
		if !ok {
			return fmt.Errorf("mongodb: save derived state: fold record %s: %w", f.ID, credtrace.ErrNotFound)
		}
		if slices.Equal(stored.Keys, f.Keys) {
			won = append(won, stored)
			continue
		}
		lost = append(lost, tracking.ParcelKey{Carrier: f.Summary.Carrier, Waybill: f.Summary.Waybill})
		lostIDs = append(lostIDs, f.Parcel)
	}
	if err := t.finishFolds(ctx, won, rest); err != nil {
		return fmt.Errorf("mongodb: save derived state: %w", err)
	}
	if len(lost) > 0 {
		// The winner may have stopped before copying its summary: copy it, so that the loser
		// reads the summary it lost to.
		if err := t.materialize(ctx, lostIDs); err != nil {
			return fmt.Errorf("mongodb: save derived state: %w", err)
		}
		return &tracking.FoldConflictError{Parcels: lost}
	}
	return nil
}

// finishFolds takes won fold records, and the rest of a derived state, the whole way: deltas
// recorded, counted, sources added, anomalies stored, summaries copied, pending marks off.
func (t *Tracking) finishFolds(ctx context.Context, folds []foldDoc, rest derivedRest) error {
	events := slices.Clone(rest.events)
	var anomalies []tracking.Anomaly
	anomalies = append(anomalies, rest.anomalies...)
	var parcels []string
	for _, f := range folds {
		parcels = append(parcels, f.Parcel)
		for _, fe := range f.Events {
			e := tracking.EventStats{Key: fe.Key, Deltas: fromDeltaDocs(fe.Deltas)}
			for _, src := range fe.Sources {
				e.Sources = append(e.Sources, tracking.StatSource{Key: src.Key, Deltas: fromDeltaDocs(src.Deltas)})
			}
			events = append(events, e)
		}
		anomalies = append(anomalies, convSlice(f.Anomalies, fromAnomalyDoc)...)
	}
	keys := make([]string, len(events))
	models := make([]mongo.WriteModel, len(events))
	for i, e := range events {
		keys[i] = e.Key
		// The deltas of the first save stand: a replay folds the same event from the same
		// state, but should a save have stopped after counting, the guards need the same sources.
		models[i] = mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: e.Key}, {Key: "pending", Value: true}, {Key: "folded", Value: bson.D{{Key: "$ne", Value: true}}}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "deltas", Value: toDeltaDocs(e.Deltas)}, {Key: "counted", Value: len(e.Deltas) == 0}, {Key: "folded", Value: true}}}})
	}
	if err := bulk(ctx, t.s.events, models, func(i int, err error) error {
		return fmt.Errorf("record deltas of %s: %w", keys[i], err)
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
			return fmt.Errorf("find uncounted events: %w", err)
		}
		for _, doc := range docs {
			cs = append(cs, contribution{src: doc.ID, deltas: fromDeltaDocs(doc.Deltas)})
		}
	}
	if err := t.count(ctx, t.s.events, cs); err != nil {
		return err
	}
	for _, e := range events {
		for _, src := range e.Sources {
			if err := t.AddStats(ctx, src.Key, src.Deltas); err != nil {
				return err
			}
		}
	}
	if _, err := t.putAnomalies(ctx, anomalies); err != nil {
		return fmt.Errorf("put anomalies: %w", err)
	}
	if err := t.putParcels(ctx, rest.parcels); err != nil {
		return err
	}
	slices.Sort(parcels)
	if err := t.materialize(ctx, slices.Compact(parcels)); err != nil {
		return err
	}
	for part := range slices.Chunk(keys, chunk) {
		_, err := t.s.events.UpdateMany(ctx, bson.M{"_id": bson.M{"$in": part}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}, {Key: "folded", Value: ""}}}})
		if err != nil {
			return fmt.Errorf("clear pending: %w", err)
		}
	}
	return nil
}

// materialize copies the latest saved version of each parcel's summary into parcels, unless
// parcels holds that version or a later one. Writers copying different versions at once may
// land in any order, so each looks again after its write and copies once more while parcels
// is behind: the last writer to land has seen the latest version, whatever the server's
// guarantees for a filtered update (FerretDB's are none). Each look is two reads and the copies
// one bulk write for all the parcels (group commit: the round trips of a save do not grow with
// its parcels).
func (t *Tracking) materialize(ctx context.Context, parcels []string) error {
	todo := slices.Compact(slices.Sorted(slices.Values(parcels)))
	for attempt := 0; len(todo) > 0; attempt++ {
		behind, err := t.behind(ctx, todo)
		if err != nil {
			return err
		}
		if len(behind) == 0 {
			return nil
		}
		if attempt == 100 {
			return fmt.Errorf("summary of %s: still behind version %d after %d copies", behind[0].Parcel, behind[0].Version, attempt)
		}
		models := make([]mongo.WriteModel, len(behind))
		todo = todo[:0]
		for i, f := range behind {
			models[i] = mongo.NewReplaceOneModel().SetFilter(byID(f.Parcel)).SetReplacement(f.Summary).SetUpsert(true)
			todo = append(todo, f.Parcel)
		}
		err = bulk(ctx, t.s.parcels, models, func(i int, err error) error {
			if isDuplicateKey(err) { // two first upserts raced; now there is one to replace
				_, err = t.s.parcels.BulkWrite(ctx, models[i:i+1])
			}
			if err != nil {
				return fmt.Errorf("copy summary %s: %w", behind[i].ID, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// behind returns, for each of parcels whose stored summary is older than its latest fold
// record, that record (its summary), in the order of parcels.
func (t *Tracking) behind(ctx context.Context, parcels []string) ([]foldDoc, error) {
	var out []foldDoc
	for part := range slices.Chunk(parcels, chunk) {
		type versionDoc struct {
			ID      string `bson:"_id"`
			Version int64  `bson:"version"`
		}
		cur, err := findAll[versionDoc](ctx, t.s.parcels, bson.M{"_id": bson.M{"$in": part}},
			options.Find().SetProjection(bson.D{{Key: "version", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("summaries: %w", err)
		}
		have := make(map[string]int64, len(cur))
		for _, d := range cur {
			have[d.ID] = d.Version
		}
		later := make(bson.A, len(part))
		for i, k := range part {
			later[i] = bson.D{{Key: "parcel", Value: k}, {Key: "version", Value: bson.D{{Key: "$gt", Value: have[k]}}}}
		}
		folds, err := findAll[foldDoc](ctx, t.s.folds, bson.D{{Key: "$or", Value: later}},
			options.Find().SetProjection(bson.D{{Key: "parcel", Value: 1}, {Key: "version", Value: 1}, {Key: "summary", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("latest summaries: %w", err)
		}
		latest := map[string]foldDoc{}
		for _, f := range folds {
			if l, ok := latest[f.Parcel]; !ok || f.Version > l.Version {
				latest[f.Parcel] = f
			}
		}
		for _, k := range part {
			if f, ok := latest[k]; ok {
				out = append(out, f)
			}
		}
	}
	return out, nil
}
