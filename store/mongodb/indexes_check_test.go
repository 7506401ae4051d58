package mongodb

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
)

// query is one filter and sort a command sent to a collection, by field name.
type query struct {
	coll, op string
	filter   []string // the fields the filter names, sorted ($and/$or branches included)
	sort     []string // the sort's fields, in order
}

func (q query) String() string {
	return fmt.Sprintf("%s %s filter %v sort %v", q.coll, q.op, q.filter, q.sort)
}

// queryLog records the queries of the commands a client sends (see monitor).
type queryLog struct {
	mu sync.Mutex
	qs map[string]query
}

func newQueryLog() *queryLog { return &queryLog{qs: map[string]query{}} }

// monitor is a command monitor that records the filter and sort of every find, aggregate
// ($match and $sort stages), count, distinct, update, delete and findAndModify.
func (l *queryLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		qs := queriesOf(e.CommandName, e.Command)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, q := range qs {
			l.qs[q.String()] = q
		}
	}}
}

// uncovered returns the recorded queries no declared index serves, one line each.
func (l *queryLog) uncovered() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, q := range l.qs {
		if !covered(q) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// count returns how many distinct queries were recorded.
func (l *queryLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.qs)
}

// queriesOf reads the queries out of one command.
func queriesOf(name string, cmd bson.Raw) []query {
	coll, _ := cmd.Lookup(name).StringValueOK()
	doc := func(key string) bson.Raw {
		v, err := cmd.LookupErr(key)
		if err != nil {
			return nil
		}
		d, _ := v.DocumentOK()
		return d
	}
	one := func(filter, sortDoc bson.Raw) query {
		return query{coll: coll, op: name, filter: filterFields(filter), sort: keysOf(sortDoc)}
	}
	each := func(list, key string) []query {
		arr, ok := cmd.Lookup(list).ArrayOK()
		if !ok {
			return nil
		}
		vals, _ := arr.Values()
		var out []query
		for _, v := range vals {
			d, _ := v.DocumentOK()
			q, _ := d.Lookup(key).DocumentOK()
			out = append(out, one(q, nil))
		}
		return out
	}
	switch name {
	case "find":
		return []query{one(doc("filter"), doc("sort"))}
	case "count", "distinct":
		if _, ok := cmd.Lookup("query").DocumentOK(); !ok && name == "count" {
			// estimatedDocumentCount (Open's index build limit): the collection's metadata,
			// no documents read.
			return nil
		}
		return []query{one(doc("query"), nil)}
	case "findAndModify":
		return []query{one(doc("query"), doc("sort"))}
	case "update":
		return each("updates", "q")
	case "delete":
		return each("deletes", "q")
	case "aggregate":
		arr, ok := cmd.Lookup("pipeline").ArrayOK()
		if !ok {
			return nil
		}
		vals, _ := arr.Values()
		var match, sortDoc bson.Raw
		for i, v := range vals {
			st, _ := v.DocumentOK()
			if m, ok := st.Lookup("$match").DocumentOK(); ok && i == 0 {
				match = m
			}
			if s, ok := st.Lookup("$sort").DocumentOK(); ok && sortDoc == nil && (i == 0 || match != nil && i == 1) {
				sortDoc = s
			}
		}
		return []query{one(match, sortDoc)}
	}
	return nil
}

// filterFields returns the sorted field names a filter names, through $and, $or and $nor.
func filterFields(filter bson.Raw) []string {
	set := map[string]bool{}
	var walk func(d bson.Raw)
	walk = func(d bson.Raw) {
		elems, _ := d.Elements()
		for _, e := range elems {
			k := e.Key()
			if !strings.HasPrefix(k, "$") {
				set[k] = true
				continue
			}
			arr, ok := e.Value().ArrayOK()
			if !ok {
				continue
			}
			vals, _ := arr.Values()
			for _, v := range vals {
				if sub, ok := v.DocumentOK(); ok {
					walk(sub)
				}
			}
		}
	}
	if filter != nil {
		walk(filter)
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keysOf returns a document's keys in order.
func keysOf(d bson.Raw) []string {
	if d == nil {
		return nil
	}
	elems, _ := d.Elements()
	out := make([]string, len(elems))
	for i, e := range elems {
		out[i] = e.Key()
	}
	return out
}

// covered reports whether a declared index of q's collection (or its _id index) serves q.
func covered(q query) bool {
	if servedBy(q, idIndex, nil) {
		return true
	}
	for _, ix := range declaredIndexes {
		if ix.coll == q.coll && servedBy(q, ix.keys, ix.partial) {
			return true
		}
	}
	return false
}

// servedBy reports whether an index on keys (with partial filter partial) serves q: the filter
// names the index's first field, so that the server reads a range of the index and not the
// collection (an empty filter reads the index whole in the sort's order), and the sort, if any,
// is the index's order after a prefix of filtered fields, so that the server never sorts in
// memory. A partial index serves only a filter that names its partial filter's fields.
func servedBy(q query, keys, partial bson.D) bool {
	for _, p := range partial {
		if !slices.Contains(q.filter, p.Key) {
			return false
		}
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	lead := 0 // how many leading index fields the filter names
	for lead < len(names) && slices.Contains(q.filter, names[lead]) {
		lead++
	}
	if len(q.filter) > 0 && lead == 0 {
		return false
	}
	if len(q.sort) == 0 {
		return len(q.filter) > 0
	}
	for j := 0; j <= lead; j++ {
		if j+len(q.sort) <= len(names) && slices.Equal(names[j:j+len(q.sort)], q.sort) {
			return true
		}
	}
	return false
}

// TestCoverageRule proves the rule the monitor test applies, on queries the store sends and on
// ones it must not send.
func TestCoverageRule(t *testing.T) {
	for _, c := range []struct {
		q    query
		want bool
	}{
		{query{coll: collFirms, op: "find", filter: []string{"_id"}}, true},
		{query{coll: collAnomalies, op: "find", filter: []string{"kind"}, sort: []string{"_id"}}, true},
		{query{coll: collAnomalies, op: "find", filter: []string{"carrier", "incident_id"}, sort: []string{"_id"}}, true},
		{query{coll: collAudit, op: "find", sort: []string{"_id"}}, true},
		// A filter on a field no index leads with reads the whole collection.
		{query{coll: collAnomalies, op: "find", filter: []string{"hq_id"}, sort: []string{"_id"}}, false},
		// Counting a whole collection, no index.
		{query{coll: collFirms, op: "aggregate"}, false},
		// A sort the index cannot give after the filtered prefix is a sort in memory.
		{query{coll: collStats, op: "find", filter: []string{"kind"}, sort: []string{"_id"}}, false},
		// The partial index of open anomalies serves only a filter on incident_id.
		{query{coll: collAnomalies, op: "find", filter: []string{"incident_id"}, sort: []string{"carrier"}}, true},
		{query{coll: "nowhere", op: "find", filter: []string{"x"}}, false},
	} {
		if got := covered(c.q); got != c.want {
			t.Errorf("covered(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

// TestQueriesOf reads filters and sorts out of the commands the driver sends.
func TestQueriesOf(t *testing.T) {
	raw := func(d bson.D) bson.Raw {
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	find := raw(bson.D{{Key: "find", Value: "anomalies"},
		{Key: "filter", Value: bson.D{{Key: "kind", Value: "x"}, {Key: "$or", Value: bson.A{bson.D{{Key: "a", Value: 1}}, bson.D{{Key: "b", Value: 1}}}}}},
		{Key: "sort", Value: bson.D{{Key: "_id", Value: 1}}}})
	if got, want := fmt.Sprint(queriesOf("find", find)), "[anomalies find filter [a b kind] sort [_id]]"; got != want {
		t.Errorf("find: %s, want %s", got, want)
	}
	upd := raw(bson.D{{Key: "update", Value: "events"},
		{Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"a"}}}}}}}}}})
	if got, want := fmt.Sprint(queriesOf("update", upd)), "[events update filter [_id] sort []]"; got != want {
		t.Errorf("update: %s, want %s", got, want)
	}
	agg := raw(bson.D{{Key: "aggregate", Value: "tokens"},
		{Key: "pipeline", Value: bson.A{bson.D{{Key: "$match", Value: bson.D{}}}, bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: 1}}}}}}})
	q := queriesOf("aggregate", agg)
	if len(q) != 1 || covered(q[0]) {
		t.Errorf("aggregate over a whole collection: %v, covered %v", q, len(q) == 1 && covered(q[0]))
	}
}
