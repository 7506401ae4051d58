package mongodb

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestShardKeysFitUniqueIndexes checks the shard keys against the declared indexes as a cluster
// would: every unique index of a sharded collection starts with the shard key (else
// sh.shardCollection refuses it), a key not on _id says why equal _ids share a key or why
// per-shard uniqueness of _id is enough, and the README's commands are the table's.
func TestShardKeysFitUniqueIndexes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, sk := range shardKeys {
		if seen[sk.coll] {
			t.Errorf("%s has two shard keys", sk.coll)
		}
		seen[sk.coll] = true
		if sk.why == "" {
			t.Errorf("%s: the shard key says not why", sk.coll)
		}
		var key []string
		for _, e := range sk.key {
			key = append(key, e.Key)
		}
		if key[0] == "_id" && !sk.idDetermines {
			t.Errorf("%s: a key on _id determines the key by _id", sk.coll)
		}
		for _, m := range misfits(sk) {
			t.Errorf("%s: unique index %v does not start with the shard key %v", sk.coll, m, key)
		}
		if cmd := shardCommand(sk); !strings.Contains(string(readme), cmd) {
			t.Errorf("README lacks %s", cmd)
		}
	}
	// The key the README once intended for firms fails the rule: the unique uscc refuses it.
	if m := misfits(shardKey{coll: collFirms, key: bson.D{{Key: "_id", Value: "hashed"}}}); len(m) == 0 {
		t.Error("firms on {_id: hashed} fit their unique indexes; the README says a cluster refuses it")
	}
}

// misfits returns the unique declared indexes of sk's collection that do not start with its key.
func misfits(sk shardKey) [][]string {
	var out [][]string
	for _, ix := range declaredIndexes {
		if ix.coll != sk.coll || !ix.unique {
			continue
		}
		var names []string
		for _, e := range ix.keys {
			names = append(names, e.Key)
		}
		if len(names) < len(sk.key) || !slices.EqualFunc(names[:len(sk.key)], sk.key, func(n string, e bson.E) bool { return n == e.Key }) {
			out = append(out, names)
		}
	}
	return out
}

// shardCommand is the mongosh command that shards sk's collection of database credtrace.
func shardCommand(sk shardKey) string {
	var parts []string
	for _, e := range sk.key {
		v := fmt.Sprint(e.Value)
		if s, ok := e.Value.(string); ok {
			v = fmt.Sprintf("%q", s)
		}
		parts = append(parts, fmt.Sprintf("%q: %s", e.Key, v))
	}
	return fmt.Sprintf(`sh.shardCollection("credtrace.%s", {%s})`, sk.coll, strings.Join(parts, ", "))
}

// TestPrintShardCommands prints the README's commands (go test -run TestPrintShardCommands -v).
func TestPrintShardCommands(t *testing.T) {
	for _, sk := range shardKeys {
		t.Log(shardCommand(sk))
	}
}
