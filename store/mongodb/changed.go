package mongodb

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// changedSince adds the condition of an export increment: changed at or after since (zero:
// no condition).
func changedSince(filter bson.M, since time.Time) {
	if !since.IsZero() {
		filter["changed_at"] = bson.M{"$gte": bson.NewDateTimeFromTime(since)}
	}
}

// backfillChangedAt gives the records and sanctions stored before they kept their change time
// (changed_at) the one their history says, so that export increments find them. It runs at
// start, a chunk at a time; each step can be repeated, and a write that set changed_at in the
// meantime is left as it is.
func (s *Store) backfillChangedAt(ctx context.Context) error {
	if err := backfill(ctx, s.records, "records", func(d recordDoc) bson.DateTime {
		return toRecordDoc(fromRecordDoc(d)).ChangedAt
	}); err != nil {
		return err
	}
	return backfill(ctx, s.sanctions, "sanctions", func(d sanctionDoc) bson.DateTime {
		return toSanctionDoc(fromSanctionDoc(d)).ChangedAt
	})
}

func backfill[D any](ctx context.Context, coll collection, what string, changed func(D) bson.DateTime) error {
	missing := bson.M{"changed_at": bson.M{"$exists": false}}
	for {
		raws, err := findAll[bson.Raw](ctx, coll, missing, options.Find().SetLimit(chunk))
		if err != nil {
			return fmt.Errorf("mongodb: change times of %s: %w", what, err)
		}
		if len(raws) == 0 {
			return nil
		}
		for _, raw := range raws {
			var d D
			if err := bson.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("mongodb: change times of %s: %w", what, err)
			}
			id := raw.Lookup("_id").StringValue()
			if _, err := coll.UpdateOne(ctx, bson.M{"_id": id, "changed_at": bson.M{"$exists": false}},
				bson.M{"$set": bson.M{"changed_at": changed(d)}}); err != nil {
				return fmt.Errorf("mongodb: change time of %s %s: %w", what, id, unavailable(err))
			}
		}
	}
}

// countOf counts the documents of coll that filter selects, on the server. An empty filter
// names _id (every id is a string, at least ""), so that the server counts the _id index's
// keys instead of reading documents.
func countOf(ctx context.Context, coll collection, what string, filter bson.M) (int, error) {
	if len(filter) == 0 {
		filter = bson.M{"_id": bson.M{"$gte": ""}}
	}
	n, err := coll.CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("mongodb: count %s: %w", what, unavailable(err))
	}
	return int(n), nil
}
