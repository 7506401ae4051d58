package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/webhook"
)

// Webhooks is the webhook.Store of a Store. The outbox writes are upserts that only insert
// ($setOnInsert, by an id derived from the change): repeated after a failure part-way, on a
// server without transactions, they store nothing twice, and inside a transaction they never
// abort it with a duplicate key. Attempts are claimed by inserting a document keyed by delivery
// and attempt number, which every server applies atomically (as the lease terms are).
type Webhooks struct{ s *Store }

// Webhooks returns the webhook.Store on s's database, in s's Atomic block if it has one.
func (s *Store) Webhooks() *Webhooks { return &Webhooks{s: s} }

// Webhooks returns the webhook.Store on t's database.
func (t *Tracking) Webhooks() *Webhooks { return &Webhooks{s: t.s} }

var _ webhook.Store = (*Webhooks)(nil)

type subscriptionDoc struct {
	ID            string         `bson:"_id"`
	Role          string         `bson:"role"`
	Owner         string         `bson:"owner"`
	URL           string         `bson:"url"`
	Events        []string       `bson:"events"`
	Secret        string         `bson:"secret"`
	PrevSecret    string         `bson:"prev_secret,omitempty"`
	PrevUntil     *bson.DateTime `bson:"prev_until,omitempty"`
	CreatedAt     *bson.DateTime `bson:"created_at"`
	CreatedBy     string         `bson:"created_by"`
	Version       int64          `bson:"version"`
	LastAttemptAt *bson.DateTime `bson:"last_attempt_at,omitempty"`
	LastSuccessAt *bson.DateTime `bson:"last_success_at,omitempty"`
	LastError     string         `bson:"last_error,omitempty"`
	LastErrorAt   *bson.DateTime `bson:"last_error_at,omitempty"`
	Failures      int64          `bson:"failures"`
}

func toSubscriptionDoc(x webhook.Subscription) subscriptionDoc {
	return subscriptionDoc{ID: x.ID, Role: string(x.Role), Owner: x.Owner, URL: x.URL,
		Events: convSlice(x.Events, func(t webhook.EventType) string { return string(t) }),
		Secret: x.Secret, PrevSecret: x.PrevSecret, PrevUntil: datetime(x.PrevUntil), CreatedAt: datetime(x.CreatedAt), CreatedBy: x.CreatedBy,
		Version: int64(x.Version), LastAttemptAt: datetime(x.LastAttemptAt), LastSuccessAt: datetime(x.LastSuccessAt), LastError: x.LastError,
		LastErrorAt: datetime(x.LastErrorAt), Failures: int64(x.Failures)}
}

func fromSubscriptionDoc(d subscriptionDoc) webhook.Subscription {
	return webhook.Subscription{ID: d.ID, Role: credtrace.Role(d.Role), Owner: d.Owner, URL: d.URL,
		Events: convSlice(d.Events, func(t string) webhook.EventType { return webhook.EventType(t) }),
		Secret: d.Secret, PrevSecret: d.PrevSecret, PrevUntil: fromDatetime(d.PrevUntil), CreatedAt: fromDatetime(d.CreatedAt), CreatedBy: d.CreatedBy,
		Version: int(d.Version), LastAttemptAt: fromDatetime(d.LastAttemptAt), LastSuccessAt: fromDatetime(d.LastSuccessAt), LastError: d.LastError,
		LastErrorAt: fromDatetime(d.LastErrorAt), Failures: int(d.Failures)}
}

type deliveryDoc struct {
	ID             string         `bson:"_id"`
	SubscriptionID string         `bson:"subscription_id"`
	EventID        string         `bson:"event_id"`
	Type           string         `bson:"type"`
	Body           string         `bson:"body"`
	Status         string         `bson:"status"`
	Attempts       int64          `bson:"attempts"`
	Base           int64          `bson:"base"`
	NextAt         *bson.DateTime `bson:"next_at"`
	Until          *bson.DateTime `bson:"until"`
	CreatedAt      *bson.DateTime `bson:"created_at"`
	LastError      string         `bson:"last_error,omitempty"`
	LastStatus     int64          `bson:"last_status,omitempty"`
	LastAt         *bson.DateTime `bson:"last_at,omitempty"`
	DeliveredAt    *bson.DateTime `bson:"delivered_at,omitempty"`
}

func toDeliveryDoc(d webhook.Delivery) deliveryDoc {
	return deliveryDoc{ID: d.ID, SubscriptionID: d.SubscriptionID, EventID: d.EventID, Type: string(d.Type), Body: d.Body, Status: string(d.Status),
		Attempts: int64(d.Attempts), Base: int64(d.Base), NextAt: datetime(d.NextAt), Until: datetime(d.Until), CreatedAt: datetime(d.CreatedAt),
		LastError: d.LastError, LastStatus: int64(d.LastStatus), LastAt: datetime(d.LastAt), DeliveredAt: datetime(d.DeliveredAt)}
}

func fromDeliveryDoc(d deliveryDoc) webhook.Delivery {
	return webhook.Delivery{ID: d.ID, SubscriptionID: d.SubscriptionID, EventID: d.EventID, Type: webhook.EventType(d.Type), Body: d.Body,
		Status: webhook.DeliveryStatus(d.Status), Attempts: int(d.Attempts), Base: int(d.Base), NextAt: fromDatetime(d.NextAt), Until: fromDatetime(d.Until),
		CreatedAt: fromDatetime(d.CreatedAt), LastError: d.LastError, LastStatus: int(d.LastStatus), LastAt: fromDatetime(d.LastAt), DeliveredAt: fromDatetime(d.DeliveredAt)}
}

type claimDoc struct {
	ID         string        `bson:"_id"` // "<delivery id>#<attempt>"
	DeliveryID string        `bson:"delivery_id"`
	Attempt    int64         `bson:"attempt"`
	Holder     string        `bson:"holder"`
	Until      bson.DateTime `bson:"until"`
}

// CreateSubscription implements webhook.Store.
func (w *Webhooks) CreateSubscription(ctx context.Context, x webhook.Subscription) error {
	return insert(ctx, w.s.webhookSubs, "subscription", x.ID, toSubscriptionDoc(x))
}

// UpdateSubscription implements webhook.Store.
func (w *Webhooks) UpdateSubscription(ctx context.Context, x webhook.Subscription) error {
	return replace(ctx, w.s.webhookSubs, "subscription", x.ID, x.Version, toSubscriptionDoc(x))
}

// Subscription implements webhook.Store.
func (w *Webhooks) Subscription(ctx context.Context, id string) (webhook.Subscription, error) {
	d, err := findOne[subscriptionDoc](ctx, w.s.webhookSubs, byID(id), "subscription", id)
	return fromSubscriptionDoc(d), err
}

// Subscriptions implements webhook.Store.
func (w *Webhooks) Subscriptions(ctx context.Context, q webhook.SubscriptionQuery) ([]webhook.Subscription, error) {
	filter := bson.M{}
	eq(filter, "role", q.Role)
	in(filter, "owner", q.Owners)
	return list(ctx, w.s.webhookSubs, "subscriptions", filter, courier.Page{}, fromSubscriptionDoc)
}

// DeleteSubscription implements webhook.Store: the subscription first (the dispatcher skips
// deliveries without one), then its deliveries and claims.
func (w *Webhooks) DeleteSubscription(ctx context.Context, id string) error {
	res, err := w.s.webhookSubs.DeleteOne(ctx, byID(id))
	if err != nil {
		return fmt.Errorf("mongodb: delete subscription %s: %w", id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("mongodb: subscription %s: %w", id, credtrace.ErrNotFound)
	}
	if _, err := w.s.webhookDeliveries.DeleteMany(ctx, bson.D{{Key: "subscription_id", Value: id}}); err != nil {
		return fmt.Errorf("mongodb: delete deliveries of %s: %w", id, err)
	}
	return nil
}

// NoteAttempt implements webhook.Store.
func (w *Webhooks) NoteAttempt(ctx context.Context, id string, at time.Time, errText string) error {
	t := bson.NewDateTimeFromTime(at)
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "last_attempt_at", Value: t}, {Key: "last_success_at", Value: t}, {Key: "failures", Value: int64(0)}}}}
	if errText != "" {
		update = bson.D{{Key: "$set", Value: bson.D{{Key: "last_attempt_at", Value: t}, {Key: "last_error", Value: errText}, {Key: "last_error_at", Value: t}}},
			{Key: "$inc", Value: bson.D{{Key: "failures", Value: int64(1)}}}}
	}
	if _, err := w.s.webhookSubs.UpdateOne(ctx, byID(id), update); err != nil {
		return fmt.Errorf("mongodb: note attempt on %s: %w", id, err)
	}
	return nil
}

// PutEvent implements webhook.Store.
func (w *Webhooks) PutEvent(ctx context.Context, id string, typ webhook.EventType, at time.Time) (bool, error) {
	res, err := w.s.webhookEvents.UpdateOne(ctx, byID(id),
		bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "type", Value: string(typ)}, {Key: "at", Value: bson.NewDateTimeFromTime(at)}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		if isDuplicateKey(err) { // a concurrent upsert of the same id won
			return false, nil
		}
		return false, fmt.Errorf("mongodb: mark event %s: %w", id, err)
	}
	return res.UpsertedCount == 1, nil
}

// EventKnown implements webhook.Store.
func (w *Webhooks) EventKnown(ctx context.Context, id string) (bool, error) {
	err := w.s.webhookEvents.FindOne(ctx, byID(id)).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongodb: event %s: %w", id, err)
	}
	return true, nil
}

// PutDeliveries implements webhook.Store. Outside a transaction (always on a server without
// them, and for every save of tracking) it is one unordered insert per thousand deliveries: a
// taken _id (the delivery of the same event to the same subscription, stored by an earlier
// try) is left as it is, and nothing is read first. Inside a transaction such a duplicate
// would abort it, so there each delivery is an upsert that only inserts; only courier's
// audited changes, one event at a time, come that way.
func (w *Webhooks) PutDeliveries(ctx context.Context, ds []webhook.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	if w.s.sess == nil {
		docs := make([]any, len(ds))
		for i, d := range ds {
			docs[i] = toDeliveryDoc(d)
		}
		if _, err := insertNew(ctx, w.s.webhookDeliveries, docs); err != nil {
			return fmt.Errorf("mongodb: put %d deliveries: %w", len(ds), unavailable(err))
		}
		return nil
	}
	for _, d := range ds {
		doc, err := bson.Marshal(toDeliveryDoc(d))
		if err != nil {
			return fmt.Errorf("mongodb: delivery %s: %w", d.ID, err)
		}
		var fields bson.D
		if err := bson.Unmarshal(doc, &fields); err != nil {
			return fmt.Errorf("mongodb: delivery %s: %w", d.ID, err)
		}
		set := fields[:0:0]
		for _, f := range fields {
			if f.Key != "_id" {
				set = append(set, f)
			}
		}
		_, err = w.s.webhookDeliveries.UpdateOne(ctx, byID(d.ID), bson.D{{Key: "$setOnInsert", Value: set}}, options.UpdateOne().SetUpsert(true))
		if err != nil && !isDuplicateKey(err) {
			return fmt.Errorf("mongodb: put delivery %s: %w", d.ID, err)
		}
	}
	return nil
}

// Delivery implements webhook.Store.
func (w *Webhooks) Delivery(ctx context.Context, id string) (webhook.Delivery, error) {
	d, err := findOne[deliveryDoc](ctx, w.s.webhookDeliveries, byID(id), "delivery", id)
	return fromDeliveryDoc(d), err
}

// Deliveries implements webhook.Store.
func (w *Webhooks) Deliveries(ctx context.Context, q webhook.DeliveryQuery) ([]webhook.Delivery, error) {
	filter := bson.M{}
	if q.SubscriptionID != "" {
		filter["subscription_id"] = q.SubscriptionID
	}
	if q.Due.IsZero() {
		eq(filter, "status", q.Status)
		return list(ctx, w.s.webhookDeliveries, "deliveries", filter, courier.Page{After: q.After, Limit: q.Limit}, fromDeliveryDoc)
	}
	filter["status"] = string(webhook.Pending)
	filter["next_at"] = bson.M{"$lte": bson.NewDateTimeFromTime(q.Due)}
	opts := options.Find().SetSort(bson.D{{Key: "next_at", Value: 1}, {Key: "_id", Value: 1}})
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	docs, err := findAll[deliveryDoc](ctx, w.s.webhookDeliveries, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb: due deliveries: %w", err)
	}
	return convSlice(docs, fromDeliveryDoc), nil
}

// CountDeliveries implements webhook.Store.
func (w *Webhooks) CountDeliveries(ctx context.Context, subscriptionID string, status webhook.DeliveryStatus) (int, error) {
	n, err := w.s.webhookDeliveries.CountDocuments(ctx, bson.D{{Key: "subscription_id", Value: subscriptionID}, {Key: "status", Value: string(status)}})
	if err != nil {
		return 0, fmt.Errorf("mongodb: count deliveries of %s: %w", subscriptionID, err)
	}
	return int(n), nil
}

// ClaimAttempt implements webhook.Store: an insert of a unique _id, so of replicas racing for
// the same attempt one wins.
func (w *Webhooks) ClaimAttempt(ctx context.Context, id string, n int, holder string, until, now time.Time) (bool, bool, error) {
	key := fmt.Sprintf("%s#%d", id, n)
	_, err := w.s.webhookClaims.InsertOne(ctx, claimDoc{ID: key, DeliveryID: id, Attempt: int64(n), Holder: holder, Until: bson.NewDateTimeFromTime(until)})
	if err == nil {
		return true, false, nil
	}
	if !isDuplicateKey(err) {
		return false, false, fmt.Errorf("mongodb: claim %s: %w", key, err)
	}
	var held claimDoc
	if err := w.s.webhookClaims.FindOne(ctx, byID(key)).Decode(&held); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, true, nil // finished and pruned meanwhile: a later number is next
		}
		return false, false, fmt.Errorf("mongodb: claim %s: %w", key, err)
	}
	return false, !held.Until.Time().After(now), nil
}

// FinishAttempt implements webhook.Store.
func (w *Webhooks) FinishAttempt(ctx context.Context, d webhook.Delivery) error {
	doc := toDeliveryDoc(d)
	set := bson.D{{Key: "status", Value: doc.Status}, {Key: "attempts", Value: doc.Attempts}, {Key: "base", Value: doc.Base},
		{Key: "next_at", Value: doc.NextAt}, {Key: "until", Value: doc.Until}, {Key: "last_error", Value: doc.LastError},
		{Key: "last_status", Value: doc.LastStatus}, {Key: "last_at", Value: doc.LastAt}, {Key: "delivered_at", Value: doc.DeliveredAt}}
	_, err := w.s.webhookDeliveries.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "attempts", Value: bson.D{{Key: "$lte", Value: doc.Attempts}}}},
		bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("mongodb: finish attempt %d of %s: %w", d.Attempts, d.ID, err)
	}
	if _, err := w.s.webhookClaims.DeleteMany(ctx, bson.D{{Key: "delivery_id", Value: d.ID}, {Key: "attempt", Value: bson.D{{Key: "$lt", Value: doc.Attempts}}}}); err != nil {
		return fmt.Errorf("mongodb: prune claims of %s: %w", d.ID, err)
	}
	return nil
}
