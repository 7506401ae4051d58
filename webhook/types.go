// Package webhook pushes what each party may see to receivers it names: subscriptions by party,
// a durable outbox of deliveries written with the change they announce, signed POSTs
// (HMAC-SHA256 over the timestamp and the body, Stripe-style), retries with exponential backoff
// and jitter for RetryWindow, then a dead letter list with replay.
//
// The package holds the types, the rules (Service), the store contract (Store) and the
// dispatcher that sends (Dispatcher). It imports no other domain: cmd turns the domains'
// changes into Events (ids and codes only, never personal data) and hands them to Emit inside
// the Atomic block of the change.
package webhook

import (
	"time"

	"github.com/credtrace/credtrace"
)

// Limits of the webhooks.
const (
	// MaxSubscriptions is how many subscriptions one party (a firm tree, a merchant, a
	// platform's or a regulator's token) may hold at once.
	MaxSubscriptions = 10
	// MaxPayload is the largest body of one delivery.
	MaxPayload = 16 << 10
	// RequestTimeout bounds one delivery attempt: connection, request and answer.
	RequestTimeout = 10 * time.Second
	// RetryWindow is how long a delivery is retried before it becomes a dead letter.
	RetryWindow = 24 * time.Hour
	// FirstRetry and MaxRetry bound the backoff between attempts: FirstRetry after the first
	// failure, doubling up to MaxRetry, each with jitter (a uniform pick in its upper half).
	FirstRetry = 30 * time.Second
	MaxRetry   = time.Hour
	// SecretGrace is how long the previous secret still signs after a rotation.
	SecretGrace = 24 * time.Hour
	// MaxURL is the longest receiver URL.
	MaxURL = 2048
	// SignatureHeader carries t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body"> (one v1 per
	// secret in force); EventHeader the event id to de-duplicate by.
	SignatureHeader = "Credtrace-Signature"
	EventHeader     = "Credtrace-Event-Id"
	// ClockWarning is how long before an objection's clock runs out the firm is told.
	ClockWarning = 48 * time.Hour
)

// EventType is what an event announces.
type EventType string

// The event types, by the role that may subscribe to them.
const (
	// ParcelStatus: a merchant's parcel has a new status (merchants).
	ParcelStatus EventType = "parcel.status_changed"
	// RecordPending: a pending credit record about the firm's tree was entered (firms).
	RecordPending EventType = "record.pending"
	// ObjectionClock: a statutory clock of an objection of the firm's tree runs out within
	// ClockWarning (firms).
	ObjectionClock EventType = "objection.clock_due"
	// SanctionProposed: a sanction on a firm of the tree was proposed (firms).
	SanctionProposed EventType = "sanction.proposed"
	// EligibilityChanged: a barring sanction took effect or ended, by its schedule (platforms).
	EligibilityChanged EventType = "firm.eligibility_changed"
	// AnomalyFound, IncidentReported, ObjectionOverdue: for regulators.
	AnomalyFound     EventType = "anomaly.found"
	IncidentReported EventType = "incident.reported"
	ObjectionOverdue EventType = "objection.overdue"
)

// Types are the event types each role may subscribe to.
var Types = map[credtrace.Role][]EventType{
	credtrace.RoleMerchant:  {ParcelStatus},
	credtrace.RoleFirm:      {RecordPending, ObjectionClock, SanctionProposed},
	credtrace.RolePlatform:  {EligibilityChanged},
	credtrace.RoleRegulator: {AnomalyFound, IncidentReported, ObjectionOverdue},
}

// AllTypes lists every event type, in the order of Types' roles.
func AllTypes() []EventType {
	var out []EventType
	for _, r := range []credtrace.Role{credtrace.RoleMerchant, credtrace.RoleFirm, credtrace.RolePlatform, credtrace.RoleRegulator} {
		out = append(out, Types[r]...)
	}
	return out
}

// RoleOf is the role whose parties may receive events of type t ("" for an unknown type).
func RoleOf(t EventType) credtrace.Role {
	for r, ts := range Types {
		for _, x := range ts {
			if x == t {
				return r
			}
		}
	}
	return ""
}

// Event is one change to announce. ID is derived from the change (KeyID), so that announcing
// it again (a retried write, a replay, a scheduled sweep) finds it announced already.
type Event struct {
	ID   string
	Type EventType
	At   time.Time // when the change happened
	// Owners are the parties (Owner values) that may see it: a firm and each firm above it, or a
	// merchant; none for platforms and regulators, whose every subscription receives it.
	Owners []string
	// Data are ids, codes and times only: never a name, phone or address.
	Data map[string]string
}

// Subscription is a party's receiver of events.
type Subscription struct {
	ID     string
	Role   credtrace.Role
	Owner  string // the party: OwnerOf(caller)
	URL    string
	Events []EventType
	// Secret signs the deliveries; PrevSecret signs them too until PrevUntil (a rotation's
	// grace). Stored as they are: HMAC needs the secret itself.
	Secret     string
	PrevSecret string
	PrevUntil  time.Time
	CreatedAt  time.Time
	CreatedBy  string // token id
	Version    int

	// Delivery health, updated by the dispatcher after each attempt.
	LastAttemptAt time.Time
	LastSuccessAt time.Time
	LastError     string
	LastErrorAt   time.Time
	Failures      int // consecutive failed attempts
}

// Wants reports whether s receives events of type t.
func (s Subscription) Wants(t EventType) bool {
	for _, x := range s.Events {
		if x == t {
			return true
		}
	}
	return false
}

// Secrets are the secrets that sign a delivery at now: the current one and, during a rotation's
// grace, the previous one.
func (s Subscription) Secrets(now time.Time) []string {
	out := []string{s.Secret}
	if s.PrevSecret != "" && now.Before(s.PrevUntil) {
		out = append(out, s.PrevSecret)
	}
	return out
}

// DeliveryStatus is where a delivery is.
type DeliveryStatus string

// The delivery statuses.
const (
	Pending   DeliveryStatus = "pending"
	Delivered DeliveryStatus = "delivered"
	Dead      DeliveryStatus = "dead"
)

// Delivery is one event for one subscription: the outbox entry. Its ID follows from the
// event's and the subscription's, so writing it twice stores it once.
type Delivery struct {
	ID             string
	SubscriptionID string
	EventID        string
	Type           EventType
	Body           string // the JSON sent, fixed when the event was announced
	Status         DeliveryStatus
	// Attempts is the number of the last attempt made (claimed and finished); claims go on from
	// it. Base is Attempts when the current round of retries began (0, or at a replay).
	Attempts    int
	Base        int
	NextAt      time.Time // the next attempt is due at
	Until       time.Time // retried until; then dead
	CreatedAt   time.Time
	LastError   string
	LastStatus  int // the receiver's HTTP status of the last attempt; 0: none
	LastAt      time.Time
	DeliveredAt time.Time
}

// OwnerOf is the party a caller subscribes for: its firm tree, its merchant, or (platforms and
// regulators, which have no scope) its token.
func OwnerOf(c credtrace.Caller) string {
	switch c.Role {
	case credtrace.RoleFirm:
		return "firm:" + c.FirmID
	case credtrace.RoleMerchant:
		return "merchant:" + c.MerchantID
	}
	return "token:" + c.TokenID
}

// FirmOwner and MerchantOwner are the Owner values of a firm and a merchant, for Event.Owners.
func FirmOwner(id string) string     { return "firm:" + id }
func MerchantOwner(id string) string { return "merchant:" + id }
