package webhook

import (
	"context"
	"time"

	"github.com/credtrace/credtrace"
)

// SubscriptionQuery selects subscriptions, in id order; zero fields do not filter.
type SubscriptionQuery struct {
	Role   credtrace.Role
	Owners []string // nil: any owner; empty: none
}

// DeliveryQuery selects deliveries, in id order unless Due is set.
type DeliveryQuery struct {
	SubscriptionID string
	Status         DeliveryStatus
	// Due selects pending deliveries whose NextAt is at or before it, oldest NextAt first.
	Due   time.Time
	After string // the id of the last delivery of the previous page (not with Due)
	Limit int
}

// Store is what webhooks need from a backend. Writes that announce (PutDeliveries, PutEvent)
// are idempotent by id, so that a change retried on a backend without transactions announces
// once. Gets answer credtrace.ErrNotFound.
type Store interface {
	CreateSubscription(ctx context.Context, s Subscription) error
	// UpdateSubscription stores s when the stored Version is s.Version-1 (credtrace.ErrConflict
	// otherwise): the rotation of its secret.
	UpdateSubscription(ctx context.Context, s Subscription) error
	Subscription(ctx context.Context, id string) (Subscription, error)
	Subscriptions(ctx context.Context, q SubscriptionQuery) ([]Subscription, error)
	// DeleteSubscription removes a subscription and its deliveries.
	DeleteSubscription(ctx context.Context, id string) error
	// NoteAttempt records the outcome of an attempt on the subscription's health: errText ""
	// is a success (the failures start again at 0), anything else one more failure.
	NoteAttempt(ctx context.Context, id string, at time.Time, errText string) error

	// PutEvent records that event id was announced at; it answers false when it was already.
	PutEvent(ctx context.Context, id string, typ EventType, at time.Time) (bool, error)
	// EventKnown reports whether event id was announced.
	EventKnown(ctx context.Context, id string) (bool, error)
	// PutDeliveries stores the deliveries not stored yet (by id) and leaves the others.
	PutDeliveries(ctx context.Context, ds []Delivery) error
	Delivery(ctx context.Context, id string) (Delivery, error)
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// CountDeliveries counts a subscription's deliveries in a status.
	CountDeliveries(ctx context.Context, subscriptionID string, status DeliveryStatus) (int, error)
	// ClaimAttempt takes attempt number n of delivery id for holder until the given time: of
	// any number of callers (replicas) claiming the same n, exactly one wins (won); the others
	// learn whether the winner's claim has lapsed at now (it died before finishing), in which
	// case the next number may be claimed.
	ClaimAttempt(ctx context.Context, id string, n int, holder string, until, now time.Time) (won, lapsed bool, err error)
	// FinishAttempt stores the outcome of attempt d.Attempts (Status, Attempts, Base, NextAt,
	// Until, LastError, LastStatus, LastAt, DeliveredAt) unless a later attempt's is stored.
	FinishAttempt(ctx context.Context, d Delivery) error
}
