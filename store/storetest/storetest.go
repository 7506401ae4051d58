// Package storetest is the one contract suite that every backend of courier.Store must pass, in
// the style of the Go CDK's drivertest: a backend's own test calls Run with a function that opens
// a fresh, empty store, and the suite checks, one subtest per behaviour, what the courier
// archive relies on: round-trips of every field, sentinel errors, optimistic concurrency, list
// order, paging and filters, the audit trail, settings and Atomic.
//
// Times go in UTC at millisecond precision (what the Service hands a backend) and must come back
// as the same instants; optional times left zero must come back zero. Creation times
// (CreatedAt, UpdatedAt, AuditEntry.At) are always set, as the Service always sets them.
//
// Rollback is not part of the contract (the MongoDB backend cannot roll back), so the suite only
// checks that writes inside Atomic land and that fn's error comes back.
//
// Data is kept tiny (at most about twenty objects per subtest) because some test servers scan
// every collection on each query.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// deadline bounds each subtest, so that a backend that hangs fails instead of stalling the run.
const deadline = 30 * time.Second

// behaviour is one subtest: it gets its own context and a fresh, empty store.
type behaviour struct {
	name string
	run  func(ctx context.Context, t *testing.T, s courier.Store)
}

// Run checks the courier.Store contract, one subtest per behaviour, the subtests in parallel.
// open is called once per subtest and must return a fresh, empty store; it should close the
// store with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) courier.Store) {
	t.Helper()
	var all []behaviour
	all = append(all, firmBehaviours...)
	all = append(all, siteBehaviours...)
	all = append(all, staffBehaviours...)
	all = append(all, recordBehaviours...)
	all = append(all, objectionBehaviours...)
	all = append(all, commitmentBehaviours...)
	all = append(all, tokenBehaviours...)
	all = append(all, sessionBehaviours...)
	all = append(all, auditBehaviours...)
	all = append(all, counterBehaviours...)
	all = append(all, settingBehaviours...)
	all = append(all, atomicBehaviours...)
	all = append(all, concurrencyBehaviours...)
	all = append(all, behaviour{"NotFound", testNotFound})
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			t.Cleanup(cancel)
			b.run(ctx, t, open(t))
		})
	}
}

// t0 has a millisecond part so that a backend that drops milliseconds fails the round-trips.
var t0 = time.Date(2026, 3, 2, 8, 15, 30, 123_000_000, time.UTC)

// at returns the n-th distinct instant after t0, at millisecond precision.
func at(n int) time.Time {
	return t0.Add(time.Duration(n) * (time.Hour + 7*time.Millisecond))
}

// must fails the test when a setup step fails.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr reports err unless it matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// check reports every field where got differs from want.
func check[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if d := diff(got, want); len(d) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

// checkGet reads id back and checks it against want.
func checkGet[T any](ctx context.Context, t *testing.T, what string, get func(context.Context, string) (T, error), id string, want T) {
	t.Helper()
	got, err := get(ctx, id)
	if err != nil {
		t.Errorf("%s: get %s: %v", what, id, err)
		return
	}
	check(t, what, got, want)
}

// checkList checks the ids of got, in order, then every field of each item.
func checkList[T any](t *testing.T, what string, got, want []T, id func(T) string) {
	t.Helper()
	gotIDs, wantIDs := ids(got, id), ids(want, id)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("%s: got ids %q, want %q", what, gotIDs, wantIDs)
		return
	}
	for i := range got {
		check(t, fmt.Sprintf("%s: item %s", what, wantIDs[i]), got[i], want[i])
	}
}

// checkIDs checks the ids of got, in order.
func checkIDs[T any](t *testing.T, what string, got []T, id func(T) string, want ...string) {
	t.Helper()
	if g := ids(got, id); !slices.Equal(g, want) {
		t.Errorf("%s: got ids %q, want %q", what, g, want)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func firmID(f courier.Firm) string             { return f.ID }
func siteID(s courier.Site) string             { return s.ID }
func staffID(s courier.Staff) string           { return s.ID }
func recordID(r courier.Record) string         { return r.ID }
func objectionID(o courier.Objection) string   { return o.ID }
func commitmentID(c courier.Commitment) string { return c.ID }
func seqID(e courier.AuditEntry) string        { return fmt.Sprint(e.Seq) }

// checkPaging checks that list, over a store holding exactly the three objects of sorted (in id
// order, stored by the caller in another order), returns them in id order and honours Page.
func checkPaging[T any](ctx context.Context, t *testing.T, list func(context.Context, courier.Page) ([]T, error), id func(T) string, sorted []T) {
	t.Helper()
	if len(sorted) != 3 {
		t.Fatalf("checkPaging wants three objects, got %d", len(sorted))
	}
	got, err := list(ctx, courier.Page{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	checkList(t, "list without a page", got, sorted, id)

	i := ids(sorted, id)
	cases := []struct {
		name string
		page courier.Page
		want []string
	}{
		{"limit 0 is no limit", courier.Page{Limit: 0}, i},
		{"limit 2", courier.Page{Limit: 2}, i[:2]},
		{"limit above the count", courier.Page{Limit: 10}, i},
		{"after the first", courier.Page{After: i[0]}, i[1:]},
		{"after the first, limit 1", courier.Page{After: i[0], Limit: 1}, i[1:2]},
		{"after an id that is not stored", courier.Page{After: i[0] + "~"}, i[1:]},
		{"after the last", courier.Page{After: i[2]}, nil},
	}
	for _, c := range cases {
		got, err := list(ctx, c.page)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, id, c.want...)
	}
}

// updateCheck describes one kind of versioned object to checkUpdate.
type updateCheck[T any] struct {
	create, update func(context.Context, T) error
	get            func(context.Context, string) (T, error)
	id             func(T) string
	stored         T                      // created with Version 1
	edit           func(T, int, string) T // changes several fields, marking the change with the string, and sets Version
	unknown        T                      // like stored, with an id (and unique keys) never stored
	// conflict and notFound are the domain's sentinels (courier's when nil), and want checks
	// an error against one of them (wantErr when nil).
	conflict, notFound error
	want               func(t *testing.T, what string, err, target error)
}

// checkUpdate checks optimistic concurrency: an update applies only when it carries the stored
// Version plus one, a stale or skipping update is ErrConflict and changes nothing, and an update
// of an unknown id is ErrNotFound.
func checkUpdate[T any](ctx context.Context, t *testing.T, u updateCheck[T]) {
	t.Helper()
	if u.conflict == nil {
		u.conflict, u.notFound = credtrace.ErrConflict, credtrace.ErrNotFound
	}
	if u.want == nil {
		u.want = wantErr
	}
	wantErr := u.want
	must(t, "create", u.create(ctx, u.stored))
	id := u.id(u.stored)

	v2 := u.edit(u.stored, 2, "second")
	must(t, "update to version 2", u.update(ctx, v2))
	checkGet(ctx, t, "after the update to version 2", u.get, id, v2)

	wantErr(t, "second update carrying version 2 (stale)", u.update(ctx, u.edit(u.stored, 2, "stale")), u.conflict)
	wantErr(t, "update carrying version 4 (skips 3)", u.update(ctx, u.edit(u.stored, 4, "skipped")), u.conflict)
	checkGet(ctx, t, "after the refused updates", u.get, id, v2)

	v3 := u.edit(v2, 3, "third")
	must(t, "update to version 3 after the refused ones", u.update(ctx, v3))
	checkGet(ctx, t, "after the update to version 3", u.get, id, v3)

	wantErr(t, "update of an unknown id", u.update(ctx, u.edit(u.unknown, 2, "unknown")), u.notFound)
	if _, err := u.get(ctx, u.id(u.unknown)); !errors.Is(err, u.notFound) {
		t.Errorf("get of the unknown id after its update: got error %v, want ErrNotFound", err)
	}
}

// dupCase is a create that must be refused.
type dupCase[T any] struct {
	name string
	v    T
}

// checkCreateConflict stores first, then checks that each duplicate is ErrConflict, leaves first
// as it was and stores nothing under its own id.
func checkCreateConflict[T any](ctx context.Context, t *testing.T, create func(context.Context, T) error, get func(context.Context, string) (T, error), id func(T) string, first T, dups ...dupCase[T]) {
	t.Helper()
	must(t, "create", create(ctx, first))
	for _, d := range dups {
		wantErr(t, d.name, create(ctx, d.v), credtrace.ErrConflict)
		if id(d.v) != id(first) {
			if _, err := get(ctx, id(d.v)); !errors.Is(err, credtrace.ErrNotFound) {
				t.Errorf("%s: get %s after the refused create: got error %v, want ErrNotFound", d.name, id(d.v), err)
			}
		}
	}
	checkGet(ctx, t, "the first object after the refused creates", get, id(first), first)
}

var timeType = reflect.TypeFor[time.Time]()

// diff lists the fields where got differs from want. Times compare with time.Equal, so the
// location does not matter but the instant, to the nanosecond, does; a nil and an empty slice
// are equal, because backends cannot tell them apart.
func diff(got, want any) []string {
	var out []string
	diffValue(&out, "", reflect.ValueOf(got), reflect.ValueOf(want))
	return out
}

func diffValue(out *[]string, path string, got, want reflect.Value) {
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", pathOr(path), showTime(g), showTime(w)))
		}
	case got.Kind() == reflect.Struct:
		for i := range got.NumField() {
			if !got.Type().Field(i).IsExported() {
				continue // the domain's own working state, which no backend stores
			}
			diffValue(out, path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))
		}
	case got.Kind() == reflect.Slice:
		if got.Len() != want.Len() {
			*out = append(*out, fmt.Sprintf("%s: got %d elements %+v, want %d %+v", pathOr(path), got.Len(), got, want.Len(), want))
			return
		}
		for i := range got.Len() {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: got %#v, want %#v", pathOr(path), got, want))
		}
	}
}

func pathOr(path string) string {
	if path == "" {
		return "value"
	}
	return strings.TrimPrefix(path, ".")
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "zero time"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
