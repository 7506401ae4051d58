package mongodb

import "go.mongodb.org/mongo-driver/v2/bson"

// shardKey is the shard key of one collection on a sharded cluster (README, "Sharding"). A
// collection the table leaves out stays unsharded, on its database's primary shard.
type shardKey struct {
	coll string
	key  bson.D
	// idDetermines says that equal _ids always have equal shard keys (the key is on _id, or
	// _id is built from the key's fields), so that the _id index, unique only per shard on a
	// cluster, still refuses a taken _id: the duplicate checks of ingestion and of the fold
	// records rely on it.
	idDetermines bool
	why          string
}

// shardKeys are the collections that grow with the volume and how they are sharded.
var shardKeys = []shardKey{
	{coll: collEvents, key: bson.D{{Key: "_id", Value: "hashed"}}, idDetermines: true,
		why: "an event is inserted, checked for a duplicate and marked by its key carrier|id; hashing it spreads ingestion"},
	{coll: collParcels, key: bson.D{{Key: "_id", Value: "hashed"}}, idDetermines: true,
		why: "a summary is read and upserted by its key waybill carrier"},
	{coll: collFolds, key: bson.D{{Key: "parcel", Value: "hashed"}}, idDetermines: true,
		why: "the _id <parcel>#<version> starts with the parcel; a parcel's latest fold is read by parcel"},
	{coll: collStats, key: bson.D{{Key: "_id", Value: 1}}, idDetermines: true,
		why: "the _id kind|id|day orders a subject's days together; each day document is upserted by _id"},
	{coll: collStatSources, key: bson.D{{Key: "_id", Value: "hashed"}}, idDetermines: true,
		why: "a source is inserted and counted by its _id"},
	{coll: collAnomalies, key: bson.D{{Key: "_id", Value: "hashed"}}, idDetermines: true,
		why: "an anomaly's _id (kind-hash) is its duplicate check"},
	{coll: collRecords, key: bson.D{{Key: "subject.kind", Value: 1}, {Key: "subject.id", Value: 1}},
		why: "a subject's credit file is read by subject; record ids are random, so per-shard uniqueness of _id is enough"},
	{coll: collScores, key: bson.D{{Key: "run_id", Value: 1}, {Key: "subject", Value: 1}, {Key: "subject_id", Value: 1}}, idDetermines: true,
		why: "a run writes and lists its scores together; the _id run|kind|id is built from the key, the unique index is the key"},
	{coll: collRatings, key: bson.D{{Key: "rater_kind", Value: 1}, {Key: "rater_id", Value: 1}},
		why: "the unique (rater, waybill) must start with the key; rating ids are random"},
	{coll: collRatingVersions, key: bson.D{{Key: "_id", Value: "hashed"}}, idDetermines: true,
		why: "a version is upserted by its _id <rating>|<version>"},
	{coll: collAudit, key: bson.D{{Key: "_id", Value: 1}}, idDetermines: true,
		why: "the trail is read in sequence ranges; appends are serialised on the head anyway"},
}
