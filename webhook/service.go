package webhook

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/credtrace/credtrace"
)

// Resolver looks a host name up; net.DefaultResolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Options tune a Service.
type Options struct {
	// AllowPrivate lets receivers on loopback, private and link-local addresses be subscribed
	// and delivered to (tests, on-premise receivers); CREDTRACE_WEBHOOK_ALLOW_PRIVATE.
	AllowPrivate bool
	// Resolver resolves receiver hosts at subscription (default net.DefaultResolver).
	Resolver Resolver
	// Auditor, when set, makes every change of a subscription (subscribe, unsubscribe, a
	// rotated secret, a replay of dead letters) append an audit entry in the same Atomic block
	// as the change. Without one (unit tests of the rules) the changes are written alone.
	Auditor Auditor
}

// Auditor writes the changes of subscriptions together with their entries in the archive's
// audit trail: Atomic calls fn with a Store and an append function bound to one Atomic block of
// the backend (SQLite: one transaction), so that a change is never stored without its entry.
// cmd wires courier.Auditor here; webhook imports neither courier nor a store.
type Auditor interface {
	Atomic(ctx context.Context, fn func(st Store, audit func(actor, action, entity, id, detail string) error) error) error
}

// write applies change and appends the entry (action on subscription id, by the caller) in
// the same Atomic block. The detail holds ids, event types and counts only: never a URL's
// query, a secret or personal data.
func (s *Service) write(ctx context.Context, c credtrace.Caller, action, id, detail string, change func(st Store) error) error {
	if s.opts.Auditor == nil {
		return change(s.store)
	}
	actor := c.TokenID
	if actor == "" {
		actor = string(c.Role)
	}
	return s.opts.Auditor.Atomic(ctx, func(st Store, audit func(actor, action, entity, id, detail string) error) error {
		if err := change(st); err != nil {
			return err
		}
		return audit(actor, action, "webhook_subscription", id, detail)
	})
}

// Service holds the rules of subscriptions: who may subscribe to what, where, how many.
type Service struct {
	store Store
	now   func() time.Time
	opts  Options
}

// NewService returns a Service on store; now is the clock (nil: time.Now).
func NewService(store Store, opts Options, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	return &Service{store: store, now: now, opts: opts}
}

// AllowPrivate reports whether receivers on private addresses are allowed.
func (s *Service) AllowPrivate() bool { return s.opts.AllowPrivate }

// Input is a new subscription.
type Input struct {
	URL    string
	Events []EventType // empty: every type the caller's role may receive
}

// Status is a subscription with its outbox: what waits, what was given up.
type Status struct {
	Subscription
	Pending, Dead int
}

func mayHold(c credtrace.Caller) error {
	if _, ok := Types[c.Role]; !ok {
		return credtrace.ErrForbidden
	}
	if c.Role == credtrace.RoleFirm && c.FirmID == "" || c.Role == credtrace.RoleMerchant && c.MerchantID == "" {
		return credtrace.ErrForbidden
	}
	return nil
}

// Subscribe stores a subscription of the caller and returns it with its secret, which only this
// answer shows. credtrace.ErrForbidden for roles that receive no events; an Invalid error
// naming url or events; credtrace.ErrState when the party holds MaxSubscriptions.
func (s *Service) Subscribe(ctx context.Context, c credtrace.Caller, in Input) (Subscription, error) {
	if err := mayHold(c); err != nil {
		return Subscription{}, err
	}
	v := &credtrace.Validation{}
	u, err := s.checkURL(ctx, in.URL)
	if err != nil {
		v.Add("url", "%s", err.Error())
	}
	events := in.Events
	if len(events) == 0 {
		events = Types[c.Role]
	}
	seen := map[EventType]bool{}
	var kept []EventType
	for i, t := range events {
		switch {
		case !slices.Contains(Types[c.Role], t):
			v.Add(fmt.Sprintf("events[%d]", i), "a %s may subscribe to %s", c.Role, joinTypes(Types[c.Role]))
		case !seen[t]:
			seen[t] = true
			kept = append(kept, t)
		}
	}
	if err := v.Err(); err != nil {
		return Subscription{}, err
	}
	owner := OwnerOf(c)
	held, err := s.store.Subscriptions(ctx, SubscriptionQuery{Role: c.Role, Owners: []string{owner}})
	if err != nil {
		return Subscription{}, err
	}
	if len(held) >= MaxSubscriptions {
		return Subscription{}, &credtrace.Error{Kind: credtrace.State, Code: "too_many_subscriptions",
			Msg: fmt.Sprintf("a party holds at most %d subscriptions; delete one first", MaxSubscriptions)}
	}
	sub := Subscription{ID: uuid.Must(uuid.NewV7()).String(), Role: c.Role, Owner: owner, URL: u, Events: kept,
		Secret: newSecret(), CreatedAt: s.now().UTC().Truncate(time.Millisecond), CreatedBy: c.TokenID, Version: 1}
	detail := fmt.Sprintf("role=%s owner=%s host=%s events=%s", sub.Role, sub.Owner, hostOf(sub.URL), joinTypes(sub.Events))
	if err := s.write(ctx, c, "webhook.subscribe", sub.ID, detail, func(st Store) error {
		return st.CreateSubscription(ctx, sub)
	}); err != nil {
		return Subscription{}, fmt.Errorf("create subscription: %w", err)
	}
	return sub, nil
}

func joinTypes(ts []EventType) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return strings.Join(out, ", ")
}

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// checkURL answers the normalised URL, or why it cannot be a receiver: only http and https, no
// credentials in it, and (unless AllowPrivate) a host that resolves to public addresses only.
// The dispatcher checks the addresses again at each connection (a name may resolve elsewhere
// later).
func (s *Service) checkURL(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("required")
	}
	if len(raw) > MaxURL {
		return "", fmt.Errorf("at most %d characters", MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return "", errors.New("an absolute http or https URL")
	}
	if u.User != nil {
		return "", errors.New("no credentials in the URL; verify deliveries by their signature")
	}
	u.Fragment = ""
	if s.opts.AllowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err := s.opts.Resolver.LookupIPAddr(ctx, host)
		if err != nil || len(addrs) == 0 {
			return "", fmt.Errorf("host %s does not resolve", host)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if Private(ip) {
			return "", fmt.Errorf("host %s is a loopback, private or link-local address (%s); receivers must be public unless the operator sets CREDTRACE_WEBHOOK_ALLOW_PRIVATE=true", host, ip)
		}
	}
	return u.String(), nil
}

// own returns subscription id if the caller holds it; credtrace.ErrNotFound otherwise.
func (s *Service) own(ctx context.Context, c credtrace.Caller, id string) (Subscription, error) {
	if err := mayHold(c); err != nil {
		return Subscription{}, err
	}
	sub, err := s.store.Subscription(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	if sub.Role != c.Role || sub.Owner != OwnerOf(c) {
		return Subscription{}, credtrace.ErrNotFound
	}
	return sub, nil
}

// Subscriptions lists the caller's subscriptions.
func (s *Service) Subscriptions(ctx context.Context, c credtrace.Caller) ([]Subscription, error) {
	if err := mayHold(c); err != nil {
		return nil, err
	}
	return s.store.Subscriptions(ctx, SubscriptionQuery{Role: c.Role, Owners: []string{OwnerOf(c)}})
}

// Status returns one of the caller's subscriptions with its health and outbox counts;
// credtrace.ErrNotFound for another party's.
func (s *Service) Status(ctx context.Context, c credtrace.Caller, id string) (Status, error) {
	sub, err := s.own(ctx, c, id)
	if err != nil {
		return Status{}, err
	}
	st := Status{Subscription: sub}
	if st.Pending, err = s.store.CountDeliveries(ctx, id, Pending); err != nil {
		return Status{}, err
	}
	if st.Dead, err = s.store.CountDeliveries(ctx, id, Dead); err != nil {
		return Status{}, err
	}
	return st, nil
}

// Unsubscribe deletes one of the caller's subscriptions and its outbox.
func (s *Service) Unsubscribe(ctx context.Context, c credtrace.Caller, id string) error {
	sub, err := s.own(ctx, c, id)
	if err != nil {
		return err
	}
	return s.write(ctx, c, "webhook.unsubscribe", id, fmt.Sprintf("role=%s owner=%s host=%s", sub.Role, sub.Owner, hostOf(sub.URL)),
		func(st Store) error { return st.DeleteSubscription(ctx, id) })
}

// Rotate gives one of the caller's subscriptions a new secret, returned only here; the previous
// one keeps signing (a second v1) for SecretGrace, so that the receiver can switch meanwhile.
func (s *Service) Rotate(ctx context.Context, c credtrace.Caller, id string) (Subscription, error) {
	sub, err := s.own(ctx, c, id)
	if err != nil {
		return Subscription{}, err
	}
	sub.PrevSecret, sub.PrevUntil = sub.Secret, s.now().Add(SecretGrace).UTC().Truncate(time.Millisecond)
	sub.Secret = newSecret()
	sub.Version++
	if err := s.write(ctx, c, "webhook.rotate", id, "old secret valid until "+sub.PrevUntil.Format(time.RFC3339),
		func(st Store) error { return st.UpdateSubscription(ctx, sub) }); err != nil {
		return Subscription{}, fmt.Errorf("rotate secret: %w", err)
	}
	return sub, nil
}

// DeadLetters lists the deliveries of one of the caller's subscriptions that were given up,
// in id order, a page at a time.
func (s *Service) DeadLetters(ctx context.Context, c credtrace.Caller, id, after string, limit int) ([]Delivery, error) {
	if _, err := s.own(ctx, c, id); err != nil {
		return nil, err
	}
	return s.store.Deliveries(ctx, DeliveryQuery{SubscriptionID: id, Status: Dead, After: after, Limit: limit})
}

// Replay puts dead letters of one of the caller's subscriptions back in the outbox, due now
// and retried for another RetryWindow: the one named, or (deliveryID "") every dead one. It
// returns how many it replayed; credtrace.ErrNotFound for a delivery of another subscription,
// credtrace.ErrState for one that is not dead.
func (s *Service) Replay(ctx context.Context, c credtrace.Caller, id, deliveryID string) (int, error) {
	if _, err := s.own(ctx, c, id); err != nil {
		return 0, err
	}
	var dead []Delivery
	if deliveryID != "" {
		d, err := s.store.Delivery(ctx, deliveryID)
		if err != nil {
			return 0, err
		}
		if d.SubscriptionID != id {
			return 0, credtrace.ErrNotFound
		}
		if d.Status != Dead {
			return 0, credtrace.E(credtrace.State, "delivery %s is %s, not dead", d.ID, d.Status)
		}
		dead = []Delivery{d}
	} else {
		var err error
		for after := ""; ; {
			page, err2 := s.store.Deliveries(ctx, DeliveryQuery{SubscriptionID: id, Status: Dead, After: after, Limit: 200})
			if err = err2; err != nil || len(page) == 0 {
				break
			}
			dead = append(dead, page...)
			after = page[len(page)-1].ID
		}
		if err != nil {
			return 0, err
		}
	}
	if len(dead) == 0 {
		return 0, nil
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	detail := fmt.Sprintf("replayed=%d", len(dead))
	if deliveryID != "" {
		detail += " delivery=" + deliveryID
	}
	err := s.write(ctx, c, "webhook.replay", id, detail, func(st Store) error {
		for _, d := range dead {
			d.Status, d.Base, d.NextAt, d.Until = Pending, d.Attempts, now, now.Add(RetryWindow)
			// The replay is recorded as the outcome of the last attempt, so it lands over it.
			if err := st.FinishAttempt(ctx, d); err != nil {
				return fmt.Errorf("replay %s: %w", d.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(dead), nil
}

// KeyID derives an event id from what identifies the change (its type and the ids and codes
// that make it one change): the same change gives the same id on every replica and retry.
func KeyID(t EventType, parts ...string) string {
	h := sha256.Sum256([]byte(string(t) + "\x00" + strings.Join(parts, "\x00")))
	return "evt_" + hex.EncodeToString(h[:16])
}

// payload is the JSON body of a delivery.
type payload struct {
	ID        string            `json:"id"`
	Type      EventType         `json:"type"`
	CreatedAt string            `json:"created_at"`
	Data      map[string]string `json:"data"`
}

// Emit announces events through st, the Store of the caller's Atomic block (on SQLite the
// transaction of the change, so the outbox entries commit with it): one delivery for each
// subscription that may see and wants the event. It reads the subscriptions once per role;
// an event no subscription wants is not recorded at all (the common case costs one query). An
// event announced before is skipped. The deliveries are written before the event's mark, and
// both are idempotent by id, so that on a backend without transactions a retry after a
// failure part-way finishes the announcement without doubling it.
func Emit(ctx context.Context, st Store, now time.Time, events ...Event) error {
	now = now.UTC().Truncate(time.Millisecond)
	wants, err := wanted(ctx, st, events)
	if err != nil {
		return err
	}
	for i, e := range events {
		if len(wants[i]) == 0 {
			continue
		}
		known, err := st.EventKnown(ctx, e.ID)
		if err != nil {
			return fmt.Errorf("webhook: event %s: %w", e.ID, err)
		}
		if known {
			continue
		}
		ds, err := deliveries(e, wants[i], now)
		if err != nil {
			return err
		}
		if err := st.PutDeliveries(ctx, ds); err != nil {
			return fmt.Errorf("webhook: outbox for %s: %w", e.ID, err)
		}
		if _, err := st.PutEvent(ctx, e.ID, e.Type, now); err != nil {
			return fmt.Errorf("webhook: mark %s: %w", e.ID, err)
		}
	}
	return nil
}

// EmitBatch announces the events of one save (a batch of ingestion, a scan's anomalies) as
// Emit does, but with one write for the whole batch and nothing read but the subscriptions
// (once per role): the deliveries of every event in one PutDeliveries, no event mark, no
// check for one. A retried batch stores nothing twice because a delivery's id follows from
// its event and subscription; unlike Emit, a subscription created between a save and its
// retry (or the replay of a journal) receives the events of that save. That is what the
// changes that come by the thousand want: a save's cost does not grow by round trips per event.
func EmitBatch(ctx context.Context, st Store, now time.Time, events ...Event) error {
	now = now.UTC().Truncate(time.Millisecond)
	wants, err := wanted(ctx, st, events)
	if err != nil {
		return err
	}
	var all []Delivery
	seen := map[string]bool{}
	for i, e := range events {
		if len(wants[i]) == 0 {
			continue
		}
		ds, err := deliveries(e, wants[i], now)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if !seen[d.ID] { // the same change twice in one batch
				seen[d.ID] = true
				all = append(all, d)
			}
		}
	}
	if len(all) == 0 {
		return nil
	}
	if err := st.PutDeliveries(ctx, all); err != nil {
		return fmt.Errorf("webhook: outbox for %d events: %w", len(events), err)
	}
	return nil
}

// wanted reads the subscriptions once per role of events and answers, for each event, those
// that may see and want it.
func wanted(ctx context.Context, st Store, events []Event) ([][]Subscription, error) {
	// The owners each role's events name (nil: the role's every subscription).
	owners := map[credtrace.Role][]string{}
	scoped := map[credtrace.Role]bool{}
	for _, e := range events {
		role := RoleOf(e.Type)
		if role == "" {
			return nil, fmt.Errorf("webhook: unknown event type %q", e.Type)
		}
		if role == credtrace.RoleFirm || role == credtrace.RoleMerchant {
			scoped[role] = true
			owners[role] = append(owners[role], e.Owners...)
		} else {
			owners[role] = nil
		}
	}
	subsOf := map[credtrace.Role][]Subscription{}
	for role, os := range owners {
		q := SubscriptionQuery{Role: role}
		if scoped[role] {
			if len(os) == 0 {
				continue
			}
			slices.Sort(os)
			q.Owners = slices.Compact(os)
		}
		subs, err := st.Subscriptions(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("webhook: subscriptions of %s: %w", role, err)
		}
		subsOf[role] = subs
	}
	out := make([][]Subscription, len(events))
	for i, e := range events {
		role := RoleOf(e.Type)
		for _, sub := range subsOf[role] {
			if sub.Wants(e.Type) && (!scoped[role] || slices.Contains(e.Owners, sub.Owner)) {
				out[i] = append(out[i], sub)
			}
		}
	}
	return out, nil
}

// deliveries are the pending deliveries of e to subs, created at now.
func deliveries(e Event, subs []Subscription, now time.Time) ([]Delivery, error) {
	body, err := json.Marshal(payload{ID: e.ID, Type: e.Type, CreatedAt: e.At.UTC().Format(time.RFC3339Nano), Data: e.Data})
	if err != nil {
		return nil, fmt.Errorf("webhook: event %s: %w", e.ID, err)
	}
	if len(body) > MaxPayload {
		return nil, fmt.Errorf("webhook: event %s is %d bytes, above the %d of a delivery", e.ID, len(body), MaxPayload)
	}
	ds := make([]Delivery, 0, len(subs))
	for _, sub := range subs {
		ds = append(ds, Delivery{ID: DeliveryID(e.ID, sub.ID), SubscriptionID: sub.ID, EventID: e.ID, Type: e.Type, Body: string(body),
			Status: Pending, NextAt: now, Until: now.Add(RetryWindow), CreatedAt: now})
	}
	return ds, nil
}

// DeliveryID is the id of the delivery of event to subscription.
func DeliveryID(eventID, subscriptionID string) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + subscriptionID))
	return "dlv_" + hex.EncodeToString(h[:16])
}

// hostOf is the host of a receiver's URL, as an audit entry names it: a path or query may carry
// the receiver's own tokens.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
