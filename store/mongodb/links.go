package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/tracking"
)

// ----- parcel links and retractions -----

type linkDoc struct {
	Key        string         `bson:"_id"`
	Carrier    string         `bson:"carrier"`
	Waybill    string         `bson:"waybill"`
	EventID    string         `bson:"event_id"`
	Kind       string         `bson:"kind"`
	Container  string         `bson:"container,omitempty"`
	RefType    string         `bson:"ref_type,omitempty"`
	RefID      string         `bson:"ref_id,omitempty"`
	At         *bson.DateTime `bson:"at,omitempty"`
	SiteID     string         `bson:"site,omitempty"`
	StaffID    string         `bson:"staff,omitempty"`
	By         string         `bson:"by,omitempty"`
	ReceivedAt *bson.DateTime `bson:"received_at,omitempty"`
	// A retraction mark (kind markKind, _id markPrefix and the link's key, the link's carrier,
	// waybill and container, so that the queries that read the link read its mark): the
	// link's key, and the declaration. At and By are the retraction's.
	Of            string         `bson:"of,omitempty"`
	Reason        string         `bson:"reason,omitempty"`
	DeclaredAt    *bson.DateTime `bson:"declared_at,omitempty"`
	CorrectiveIDs []string       `bson:"corrective_ids,omitempty"`
}

// markPrefix starts the _id of a link's retraction mark, and markKind is its kind.
const (
	markPrefix = "retracted|"
	markKind   = "retracted"
)

// fromLinkDocs converts links and sets, from the marks among docs, their Retracted.
func fromLinkDocs(docs []linkDoc) []tracking.Link {
	marks := map[string]*tracking.LinkRetraction{}
	var out []tracking.Link
	for _, d := range docs {
		if d.Kind == markKind {
			marks[d.Of] = &tracking.LinkRetraction{Reason: d.Reason, DeclaredAt: fromDatetime(d.DeclaredAt), CorrectiveIDs: d.CorrectiveIDs,
				By: d.By, At: fromDatetime(d.At)}
			continue
		}
		out = append(out, fromLinkDoc(d))
	}
	for i := range out {
		out[i].Retracted = marks[out[i].Key()]
	}
	return out
}

func toLinkDoc(l tracking.Link) linkDoc {
	return linkDoc{Key: l.Key(), Carrier: l.Carrier, Waybill: l.Waybill, EventID: l.EventID, Kind: string(l.Kind), Container: l.Container,
		RefType: l.RefType, RefID: l.RefID, At: datetime(l.At), SiteID: l.SiteID, StaffID: l.StaffID, By: l.By, ReceivedAt: datetime(l.ReceivedAt)}
}

func fromLinkDoc(d linkDoc) tracking.Link {
	return tracking.Link{Carrier: d.Carrier, Waybill: d.Waybill, EventID: d.EventID, Kind: tracking.LinkKind(d.Kind), Container: d.Container,
		RefType: d.RefType, RefID: d.RefID, At: fromDatetime(d.At), SiteID: d.SiteID, StaffID: d.StaffID, By: d.By, ReceivedAt: fromDatetime(d.ReceivedAt)}
}

// retractionDoc is a retraction with the deltas it moves, counted as a statistics source is
// (see Tracking): RecoverStats finishes one a crash left uncounted.
type retractionDoc struct {
	ID            string         `bson:"_id"`
	Carrier       string         `bson:"carrier"`
	Waybill       string         `bson:"waybill"`
	EventID       string         `bson:"event_id"`
	EventIDs      []string       `bson:"event_ids"`
	Reason        string         `bson:"reason,omitempty"`
	DeclaredAt    *bson.DateTime `bson:"declared_at,omitempty"`
	CorrectiveIDs []string       `bson:"corrective_ids,omitempty"`
	By            string         `bson:"by,omitempty"`
	At            *bson.DateTime `bson:"at,omitempty"`
	Deltas        []deltaDoc     `bson:"deltas"`
	Counted       bool           `bson:"counted"`
	RecordedAt    *bson.DateTime `bson:"recorded_at,omitempty"`
}

// AppendLinks stores the links whose key is new: an insert that finds the key taken is a link
// stored before.
func (t *Tracking) AppendLinks(ctx context.Context, links []tracking.Link) ([]bool, error) {
	docs := make([]any, len(links))
	for i, l := range links {
		docs[i] = toLinkDoc(l)
	}
	stored := make([]bool, len(links))
	if len(docs) == 0 {
		return stored, nil
	}
	taken, err := insertNew(ctx, t.s.links, docs)
	if err != nil {
		return nil, fmt.Errorf("mongodb: append links: %w", unavailable(err))
	}
	for i := range stored {
		stored[i] = !taken[i]
	}
	return stored, nil
}

// ParcelLinks returns one parcel's links.
func (t *Tracking) ParcelLinks(ctx context.Context, k tracking.ParcelKey) ([]tracking.Link, error) {
	docs, err := findAll[linkDoc](ctx, t.s.links, bson.D{{Key: "carrier", Value: k.Carrier}, {Key: "waybill", Value: k.Waybill}})
	if err != nil {
		return nil, fmt.Errorf("mongodb: links of %s: %w", k, unavailable(err))
	}
	return fromLinkDocs(docs), nil
}

// ContainerLinks returns the packed and unpacked links of a carrier's container.
func (t *Tracking) ContainerLinks(ctx context.Context, carrier, container string) ([]tracking.Link, error) {
	if container == "" {
		return nil, nil
	}
	docs, err := findAll[linkDoc](ctx, t.s.links, bson.D{{Key: "carrier", Value: carrier}, {Key: "container", Value: container},
		{Key: "kind", Value: bson.M{"$in": bson.A{string(tracking.LinkPacked), string(tracking.LinkUnpacked), markKind}}}})
	if err != nil {
		return nil, fmt.Errorf("mongodb: links of container %s: %w", container, unavailable(err))
	}
	return fromLinkDocs(docs), nil
}

// EventLinks reads the links by _id: the keys of an event's links, and of their marks, start
// with "<carrier>|<id>|"; an id holding '|' shares the range with longer ids, which the event
// id check leaves out.
func (t *Tracking) EventLinks(ctx context.Context, carrier, id string) ([]tracking.Link, error) {
	lo, hi := carrier+"|"+id+"|", carrier+"|"+id+"}"
	var docs []linkDoc
	for _, p := range []string{"", markPrefix} {
		part, err := findAll[linkDoc](ctx, t.s.links, bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: p + lo}, {Key: "$lt", Value: p + hi}}}})
		if err != nil {
			return nil, fmt.Errorf("mongodb: links of event %s: %w", id, unavailable(err))
		}
		docs = append(docs, part...)
	}
	var out []tracking.Link
	for _, l := range fromLinkDocs(docs) {
		if l.Carrier == carrier && l.EventID == id {
			out = append(out, l)
		}
	}
	return out, nil
}

// RetractLinks inserts one mark per link: a taken _id is a link marked before.
func (t *Tracking) RetractLinks(ctx context.Context, links []tracking.Link) ([]bool, error) {
	docs := make([]any, len(links))
	for i, l := range links {
		r := l.Retracted
		if r == nil {
			return nil, fmt.Errorf("mongodb: retract link %s: no retraction", l.Key())
		}
		docs[i] = linkDoc{Key: markPrefix + l.Key(), Carrier: l.Carrier, Waybill: l.Waybill, EventID: l.EventID, Kind: markKind,
			Container: l.Container, At: datetime(r.At), By: r.By, Of: l.Key(), Reason: r.Reason, DeclaredAt: datetime(r.DeclaredAt),
			CorrectiveIDs: r.CorrectiveIDs}
	}
	marked := make([]bool, len(links))
	if len(docs) == 0 {
		return marked, nil
	}
	taken, err := insertNew(ctx, t.s.links, docs)
	if err != nil {
		return nil, fmt.Errorf("mongodb: retract links: %w", unavailable(err))
	}
	for i := range marked {
		marked[i] = !taken[i]
	}
	return marked, nil
}

// KnownContainers reads, per carrier of keys, the packed links naming any of the ids, only
// their container field.
func (t *Tracking) KnownContainers(ctx context.Context, keys []tracking.ParcelKey) (map[tracking.ParcelKey]bool, error) {
	out := map[tracking.ParcelKey]bool{}
	byCarrier := map[string][]string{}
	seen := map[tracking.ParcelKey]bool{}
	for _, k := range keys {
		if k.Waybill != "" && !seen[k] {
			seen[k] = true
			byCarrier[k.Carrier] = append(byCarrier[k.Carrier], k.Waybill)
		}
	}
	type containerDoc struct {
		Container string `bson:"container"`
	}
	for carrier, ids := range byCarrier {
		for start := 0; start < len(ids); start += chunk {
			part := ids[start:min(start+chunk, len(ids))]
			docs, err := findAll[containerDoc](ctx, t.s.links, bson.D{{Key: "carrier", Value: carrier}, {Key: "container", Value: bson.M{"$in": part}},
				{Key: "kind", Value: string(tracking.LinkPacked)}}, options.Find().SetProjection(bson.D{{Key: "container", Value: 1}}))
			if err != nil {
				return nil, fmt.Errorf("mongodb: known containers: %w", unavailable(err))
			}
			for _, d := range docs {
				out[tracking.ParcelKey{Carrier: carrier, Waybill: d.Container}] = true
			}
		}
	}
	return out, nil
}

// Retract saves the summary first, then inserts the retraction (a taken _id: declared before,
// nothing more is done), then counts its deltas. A stop after the summary leaves no retraction,
// and declaring it again computes the same summary and deltas; a stop after the insert is
// finished by RecoverStats.
func (t *Tracking) Retract(ctx context.Context, r tracking.Retraction, p tracking.Parcel, deltas []tracking.StatDelta) (bool, error) {
	if err := checkDeltas(deltas); err != nil {
		return false, fmt.Errorf("mongodb: retract %s: %w", r.Key(), err)
	}
	id := "retract|" + r.Key()
	if n, err := t.s.retractions.CountDocuments(ctx, byID(id)); err != nil {
		return false, fmt.Errorf("mongodb: retract %s: %w", r.Key(), unavailable(err))
	} else if n > 0 {
		return false, nil
	}
	if p.Version > 0 {
		// Where several processes fold, the latest fold record is the summary (see SaveDerived):
		// the rebuilt summary is one, of the version after the one it was rebuilt from.
		k := p.Key().String()
		taken, err := insertNew(ctx, t.s.folds, []any{foldDoc{ID: foldID(k, p.Version), Parcel: k, Version: p.Version, Keys: []string{}, Summary: toParcelDoc(p)}})
		if err != nil {
			return false, fmt.Errorf("mongodb: retract %s: %w", r.Key(), unavailable(err))
		}
		if taken[0] {
			if err := t.materialize(ctx, []string{k}); err != nil {
				return false, fmt.Errorf("mongodb: retract %s: %w", r.Key(), err)
			}
			return false, fmt.Errorf("mongodb: retract %s: summary version %d saved by another process meanwhile: %w", r.Key(), p.Version, credtrace.ErrConflict)
		}
	}
	if err := t.putParcels(ctx, []tracking.Parcel{p}); err != nil {
		return false, fmt.Errorf("mongodb: retract %s: %w", r.Key(), unavailable(err))
	}
	doc := retractionDoc{ID: id, Carrier: r.Carrier, Waybill: r.Waybill, EventID: r.EventID, EventIDs: r.EventIDs, Reason: r.Reason,
		DeclaredAt: datetime(r.DeclaredAt), CorrectiveIDs: r.CorrectiveIDs, By: r.By, At: datetime(r.At), Deltas: toDeltaDocs(deltas),
		Counted: len(deltas) == 0, RecordedAt: datetime(t.s.Now())}
	if _, err := t.s.retractions.InsertOne(ctx, doc); err != nil {
		if isDuplicateKey(err) {
			return false, nil
		}
		return false, fmt.Errorf("mongodb: retract %s: %w", r.Key(), unavailable(err))
	}
	if err := t.count(ctx, t.s.retractions, []contribution{{src: id, deltas: deltas}}); err != nil {
		return false, fmt.Errorf("mongodb: retract %s: %w", r.Key(), unavailable(err))
	}
	return true, nil
}

// Retractions returns the retractions of one parcel's events.
func (t *Tracking) Retractions(ctx context.Context, k tracking.ParcelKey) ([]tracking.Retraction, error) {
	docs, err := findAll[retractionDoc](ctx, t.s.retractions, bson.D{{Key: "carrier", Value: k.Carrier}, {Key: "waybill", Value: k.Waybill}})
	if err != nil {
		return nil, fmt.Errorf("mongodb: retractions of %s: %w", k, unavailable(err))
	}
	return convSlice(docs, func(d retractionDoc) tracking.Retraction {
		return tracking.Retraction{Carrier: d.Carrier, Waybill: d.Waybill, EventID: d.EventID, EventIDs: d.EventIDs, Reason: d.Reason,
			DeclaredAt: fromDatetime(d.DeclaredAt), CorrectiveIDs: d.CorrectiveIDs, By: d.By, At: fromDatetime(d.At)}
	}), nil
}

// EventsByID reads the events by _id (carrier|id): the id, and the ranges of ids that start
// with id# and id~.
func (t *Tracking) EventsByID(ctx context.Context, carrier, id string) ([]tracking.Event, error) {
	key := carrier + "|" + id
	var out []tracking.Event
	for _, f := range []bson.D{
		byID(key),
		{{Key: "_id", Value: bson.D{{Key: "$gte", Value: key + "#"}, {Key: "$lt", Value: key + "$"}}}},
		{{Key: "_id", Value: bson.D{{Key: "$gte", Value: key + "~"}, {Key: "$lt", Value: key + "\x7f"}}}},
	} {
		docs, err := findAll[eventDoc](ctx, t.s.events, f, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("mongodb: events %s: %w", id, unavailable(err))
		}
		out = append(out, convSlice(docs, fromEventDoc)...)
	}
	return out, nil
}
