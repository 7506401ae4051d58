package mongodb

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// collection is one collection of a Store, bound to the session of the Atomic block the Store
// belongs to, if any. Every operation goes through bind, so that inside a transaction each of
// them runs in it, whatever context the caller hands in: the domain's functions keep calling
// the store with the context they hold, not with the session's. The Store reaches its
// collections only through this type (TestCollectionsOnlyThroughSession keeps it so); an
// operation this type lacks is added here, with bind, and its error passed through unavailable
// so that a server that does not answer reads as credtrace.ErrUnavailable everywhere.
type collection struct {
	c    *mongo.Collection
	sess *mongo.Session // nil outside a transaction
}

// bind returns ctx carrying the collection's session, if it has one.
func (c collection) bind(ctx context.Context) context.Context {
	if c.sess == nil {
		return ctx
	}
	return mongo.NewSessionContext(ctx, c.sess)
}

// Name returns the collection's name.
func (c collection) Name() string { return c.c.Name() }

// Indexes returns the collection's index view. Only Open uses it, outside any transaction:
// indexes are never created inside one.
func (c collection) Indexes() mongo.IndexView { return c.c.Indexes() }

func (c collection) InsertOne(ctx context.Context, doc any, opts ...options.Lister[options.InsertOneOptions]) (*mongo.InsertOneResult, error) {
	res, err := c.c.InsertOne(c.bind(ctx), doc, opts...)
	return res, unavailable(err)
}

func (c collection) InsertMany(ctx context.Context, docs any, opts ...options.Lister[options.InsertManyOptions]) (*mongo.InsertManyResult, error) {
	res, err := c.c.InsertMany(c.bind(ctx), docs, opts...)
	return res, unavailable(err)
}

func (c collection) FindOne(ctx context.Context, filter any, opts ...options.Lister[options.FindOneOptions]) *mongo.SingleResult {
	return unavailableResult(c.c.FindOne(c.bind(ctx), filter, opts...))
}

// Find returns a cursor; its later batches (cursor.All, Next) go out on the session the cursor
// was opened with, whatever context they are given.
func (c collection) Find(ctx context.Context, filter any, opts ...options.Lister[options.FindOptions]) (*mongo.Cursor, error) {
	res, err := c.c.Find(c.bind(ctx), filter, opts...)
	return res, unavailable(err)
}

// Aggregate runs pipeline; like Find's, the cursor's later batches go out on its session.
func (c collection) Aggregate(ctx context.Context, pipeline any, opts ...options.Lister[options.AggregateOptions]) (*mongo.Cursor, error) {
	res, err := c.c.Aggregate(c.bind(ctx), pipeline, opts...)
	return res, unavailable(err)
}

func (c collection) EstimatedDocumentCount(ctx context.Context) (int64, error) {
	n, err := c.c.EstimatedDocumentCount(c.bind(ctx))
	return n, unavailable(err)
}

func (c collection) CountDocuments(ctx context.Context, filter any, opts ...options.Lister[options.CountOptions]) (int64, error) {
	res, err := c.c.CountDocuments(c.bind(ctx), filter, opts...)
	return res, unavailable(err)
}

func (c collection) UpdateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	res, err := c.c.UpdateOne(c.bind(ctx), filter, update, opts...)
	return res, unavailable(err)
}

func (c collection) UpdateMany(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateManyOptions]) (*mongo.UpdateResult, error) {
	res, err := c.c.UpdateMany(c.bind(ctx), filter, update, opts...)
	return res, unavailable(err)
}

func (c collection) ReplaceOne(ctx context.Context, filter, replacement any, opts ...options.Lister[options.ReplaceOptions]) (*mongo.UpdateResult, error) {
	res, err := c.c.ReplaceOne(c.bind(ctx), filter, replacement, opts...)
	return res, unavailable(err)
}

func (c collection) FindOneAndUpdate(ctx context.Context, filter, update any, opts ...options.Lister[options.FindOneAndUpdateOptions]) *mongo.SingleResult {
	return unavailableResult(c.c.FindOneAndUpdate(c.bind(ctx), filter, update, opts...))
}

func (c collection) DeleteOne(ctx context.Context, filter any, opts ...options.Lister[options.DeleteOneOptions]) (*mongo.DeleteResult, error) {
	res, err := c.c.DeleteOne(c.bind(ctx), filter, opts...)
	return res, unavailable(err)
}

func (c collection) DeleteMany(ctx context.Context, filter any, opts ...options.Lister[options.DeleteManyOptions]) (*mongo.DeleteResult, error) {
	res, err := c.c.DeleteMany(c.bind(ctx), filter, opts...)
	return res, unavailable(err)
}

func (c collection) BulkWrite(ctx context.Context, models []mongo.WriteModel, opts ...options.Lister[options.BulkWriteOptions]) (*mongo.BulkWriteResult, error) {
	res, err := c.c.BulkWrite(c.bind(ctx), models, opts...)
	return res, unavailable(err)
}

// Watch opens a change stream on the collection. It is never bound to a session: a change
// stream outlives any Atomic block.
func (c collection) Watch(ctx context.Context, pipeline any, opts ...options.Lister[options.ChangeStreamOptions]) (*mongo.ChangeStream, error) {
	cs, err := c.c.Watch(ctx, pipeline, opts...)
	return cs, unavailable(err)
}

// Hello runs the hello command on the collection's database (for the server's clock).
func (c collection) Hello(ctx context.Context) *mongo.SingleResult {
	return unavailableResult(c.c.Database().RunCommand(c.bind(ctx), bson.D{{Key: "hello", Value: 1}}))
}
