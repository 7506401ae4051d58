package mongodb

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/credtrace/credtrace/tracking"
)

// detectGroupSums learns whether one $group stage can sum several nested fields: it sums the
// two fixed probe documents (written idempotently, so replicas starting together agree) and
// compares with the known answer. MongoDB can; FerretDB 1.24 answers 0 for every $sum but the
// first. The answer chooses how StatTotals groups, by what the server does, not by its name.
func (s *Store) detectGroupSums(ctx context.Context) (bool, error) {
	probes := []bson.D{
		{{Key: "_id", Value: "group-sums-1"}, {Key: "n", Value: bson.D{{Key: "a", Value: 1}, {Key: "b", Value: 2}}}},
		{{Key: "_id", Value: "group-sums-2"}, {Key: "n", Value: bson.D{{Key: "a", Value: 2}, {Key: "b", Value: 3}}}},
	}
	models := make([]mongo.WriteModel, len(probes))
	for i, p := range probes {
		models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{p[0]}).SetReplacement(p).SetUpsert(true)
	}
	if _, err := s.probes.BulkWrite(ctx, models); err != nil {
		return false, fmt.Errorf("mongodb: probe $group: %w", err)
	}
	cur, err := s.probes.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"group-sums-1", "group-sums-2"}}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil},
			{Key: "a", Value: bson.D{{Key: "$sum", Value: "$n.a"}}}, {Key: "b", Value: bson.D{{Key: "$sum", Value: "$n.b"}}}}}},
	})
	if err != nil {
		return false, fmt.Errorf("mongodb: probe $group: %w", err)
	}
	var got []struct {
		A int64 `bson:"a"`
		B int64 `bson:"b"`
	}
	if err := cur.All(ctx, &got); err != nil {
		return false, fmt.Errorf("mongodb: probe $group: %w", unavailable(err))
	}
	return len(got) == 1 && got[0].A == 3 && got[0].B == 5, nil
}

// StatTotals implements tracking.Store: the server sums the subjects' day documents in the range
// with $group, so only one row per subject comes back, never the days. Where one $group can sum
// every metric (detected at Open) it is one stage; where it cannot (FerretDB) it is one
// aggregation per metric, each with a single $sum.
func (t *Tracking) StatTotals(ctx context.Context, kind tracking.SubjectKind, from, to string) (map[string]map[tracking.Metric]int, error) {
	out := map[string]map[tracking.Metric]int{}
	_, _, err := t.statTotals(ctx, kind, from, to, "", 0, out)
	return out, err
}

// StatTotalsPage implements tracking.Store: StatTotals of the ids after after. A page reads a
// bounded run of day rows in (id, day) order over the (kind, id, day) index and sums those, so
// that its cost follows the page, not the subjects after it (a $group before a $limit would
// sum every later subject for every page); the last id of a run that filled the bound may be
// cut short, so it waits for the next page.
func (t *Tracking) StatTotalsPage(ctx context.Context, kind tracking.SubjectKind, from, to, after string, limit int) ([]tracking.SubjectTotals, error) {
	var ids []string
	byID := map[string]map[tracking.Metric]int{}
	rows := 0 // without a limit, every row
	if limit > 0 {
		rows = limit * 8
	}
	for ; ; rows *= 2 {
		clear(byID)
		var full bool
		var err error
		ids, full, err = t.statTotals(ctx, kind, from, to, after, rows, byID)
		if err != nil {
			return nil, err
		}
		if full && len(ids) > 0 {
			delete(byID, ids[len(ids)-1]) // perhaps not all its days
			ids = ids[:len(ids)-1]
		}
		if !full || len(ids) >= limit {
			break
		}
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]tracking.SubjectTotals, 0, len(ids))
	for _, id := range ids {
		m := byID[id]
		if m == nil {
			m = map[tracking.Metric]int{}
		}
		out = append(out, tracking.SubjectTotals{ID: id, Totals: m})
	}
	return out, nil
}

// statTotals sums into out the statistics of kind between from and to of the subjects with an
// id after after (all when empty), of the first rows day rows in (id, day) order (all when
// rows <= 0), and answers the ids in order and whether the rows filled the bound.
func (t *Tracking) statTotals(ctx context.Context, kind tracking.SubjectKind, from, to, after string, rows int, out map[string]map[tracking.Metric]int) ([]string, bool, error) {
	filter := bson.D{{Key: "kind", Value: string(kind)}}
	if after != "" {
		filter = append(filter, bson.E{Key: "id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	filter = append(filter, bson.E{Key: "day", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lte", Value: to}}})
	match := bson.D{{Key: "$match", Value: filter}}
	add := func(id string, m tracking.Metric, n int64) {
		if n == 0 {
			return
		}
		if out[id] == nil {
			out[id] = map[tracking.Metric]int{}
		}
		out[id][m] += int(n)
	}
	groups := [][]tracking.Metric{tracking.Metrics}
	if !t.s.groupSums {
		groups = groups[:0]
		for _, m := range tracking.Metrics {
			groups = append(groups, []tracking.Metric{m})
		}
	}
	var bound []bson.D
	if rows > 0 {
		// (kind, id, day) is unique, so every aggregation of the page sums the same rows.
		bound = []bson.D{{{Key: "$sort", Value: bson.D{{Key: "id", Value: 1}, {Key: "day", Value: 1}}}}, {{Key: "$limit", Value: rows}}}
	}
	aggregate := func(group bson.D) ([]bson.M, error) {
		pipeline := append(append(mongo.Pipeline{match}, bound...), bson.D{{Key: "$group", Value: group}})
		cur, err := t.s.stats.Aggregate(ctx, pipeline)
		if err != nil {
			return nil, fmt.Errorf("mongodb: stat totals: %w", err)
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("mongodb: stat totals: %w", unavailable(err))
		}
		return docs, nil
	}
	var ids []string
	full := false
	if rows > 0 {
		// The rows read, in an aggregation of their own: FerretDB takes one $sum a group.
		docs, err := aggregate(bson.D{{Key: "_id", Value: "$id"}, {Key: "rows", Value: bson.D{{Key: "$sum", Value: 1}}}})
		if err != nil {
			return nil, false, err
		}
		n := int64(0)
		for _, r := range docs {
			n += asInt64(r["rows"])
		}
		full = n >= int64(rows)
	}
	for g, ms := range groups {
		group := bson.D{{Key: "_id", Value: "$id"}}
		for _, m := range ms {
			group = append(group, bson.E{Key: string(m), Value: bson.D{{Key: "$sum", Value: "$counts." + string(m)}}})
		}
		docs, err := aggregate(group)
		if err != nil {
			return nil, false, err
		}
		for _, r := range docs {
			id, _ := r["_id"].(string)
			if g == 0 {
				ids = append(ids, id)
			}
			for _, m := range ms {
				add(id, m, asInt64(r[string(m)]))
			}
		}
	}
	sort.Strings(ids)
	return ids, full, nil
}

// asInt64 reads a $sum, which the server answers as int32, int64 or double by its inputs.
func asInt64(v any) int64 {
	switch n := v.(type) {
	case int32:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

// MerchantCounts implements tracking.Store with two aggregations on the server: the parcels per
// merchant in the window, kept from minParcels up; then, for those merchants only, their
// distinct recipients (grouped by merchant and recipient, then counted per merchant). Only one
// row per merchant comes back, never the window's parcels.
func (t *Tracking) MerchantCounts(ctx context.Context, since time.Time, minParcels int) ([]tracking.MerchantCount, error) {
	window := bson.D{{Key: "collected_at", Value: bson.D{{Key: "$gte", Value: bson.NewDateTimeFromTime(since)}}},
		{Key: "merchant_id", Value: bson.D{{Key: "$gt", Value: ""}}}}
	type row struct {
		ID string `bson:"_id"`
		N  int64  `bson:"n"`
	}
	var parcels []row
	if err := aggregate(ctx, t.s.parcels, mongo.Pipeline{
		{{Key: "$match", Value: window}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$merchant_id"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
		{{Key: "$match", Value: bson.D{{Key: "n", Value: bson.D{{Key: "$gte", Value: minParcels}}}}}},
	}, &parcels); err != nil {
		return nil, fmt.Errorf("mongodb: merchant counts: %w", err)
	}
	if len(parcels) == 0 {
		return nil, nil
	}
	ids := make(bson.A, len(parcels))
	for i, r := range parcels {
		ids[i] = r.ID
	}
	var recipients []row
	if err := aggregate(ctx, t.s.parcels, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "merchant_id", Value: bson.D{{Key: "$in", Value: ids}}},
			{Key: "collected_at", Value: bson.D{{Key: "$gte", Value: bson.NewDateTimeFromTime(since)}}},
			{Key: "recipient_id", Value: bson.D{{Key: "$gt", Value: ""}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "m", Value: "$merchant_id"}, {Key: "r", Value: "$recipient_id"}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$_id.m"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}, &recipients); err != nil {
		return nil, fmt.Errorf("mongodb: merchant recipients: %w", err)
	}
	distinct := map[string]int{}
	for _, r := range recipients {
		distinct[r.ID] = int(r.N)
	}
	out := make([]tracking.MerchantCount, len(parcels))
	for i, r := range parcels {
		out[i] = tracking.MerchantCount{MerchantID: r.ID, Parcels: int(r.N), Recipients: distinct[r.ID]}
	}
	slices.SortFunc(out, func(a, b tracking.MerchantCount) int { return strings.Compare(a.MerchantID, b.MerchantID) })
	return out, nil
}

// aggregate runs pipeline on coll and decodes every result into out.
func aggregate(ctx context.Context, coll collection, pipeline mongo.Pipeline, out any) error {
	cur, err := coll.Aggregate(ctx, pipeline)
	if err != nil {
		return err
	}
	return unavailable(cur.All(ctx, out))
}
