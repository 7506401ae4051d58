package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/webhook"
)

// RunWebhooks checks the webhook.Store contract, one subtest per behaviour, each on a fresh
// store from open: round-trips of subscriptions and deliveries, the outbox's idempotent writes,
// the due order, the claims of attempts (one winner per attempt, also when racing) and the
// outcome of attempts.
func RunWebhooks(t *testing.T, open func(t *testing.T) webhook.Store) {
	t.Helper()
	for _, b := range []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s webhook.Store)
	}{
		{"SubscriptionRoundTrip", testSubscriptionRoundTrip},
		{"SubscriptionHealth", testSubscriptionHealth},
		{"OutboxIdempotent", testOutboxIdempotent},
		{"DeliveriesDueAndPaged", testDeliveriesDue},
		{"ClaimAttemptOnce", testClaimAttempt},
		{"ClaimAttemptRace", testClaimRace},
		{"FinishAttempt", testFinishAttempt},
		{"DeleteSubscriptionTakesOutbox", testDeleteSubscription},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			t.Cleanup(cancel)
			b.run(ctx, t, open(t))
		})
	}
}

func fullSubscription(id, owner string) webhook.Subscription {
	return webhook.Subscription{ID: id, Role: credtrace.RoleFirm, Owner: owner, URL: "https://hooks.example.com/credtrace?x=1",
		Events: []webhook.EventType{webhook.RecordPending, webhook.SanctionProposed}, Secret: "whsec_a", PrevSecret: "whsec_old", PrevUntil: at(3),
		CreatedAt: at(1), CreatedBy: "tok-1", Version: 1}
}

func fullDelivery(id, sub string, n int) webhook.Delivery {
	return webhook.Delivery{ID: id, SubscriptionID: sub, EventID: "evt-" + id, Type: webhook.RecordPending, Body: `{"id":"evt-` + id + `"}`,
		Status: webhook.Pending, NextAt: at(n), Until: at(n + 24), CreatedAt: at(n)}
}

func testSubscriptionRoundTrip(ctx context.Context, t *testing.T, s webhook.Store) {
	a, b := fullSubscription("s1", "firm:f1"), fullSubscription("s2", "firm:f2")
	b.PrevSecret, b.PrevUntil = "", time.Time{}
	c := fullSubscription("s3", "token:p1")
	c.Role, c.Events = credtrace.RolePlatform, []webhook.EventType{webhook.EligibilityChanged}
	for _, x := range []webhook.Subscription{a, b, c} {
		must(t, "CreateSubscription", s.CreateSubscription(ctx, x))
	}
	wantErr(t, "CreateSubscription of a taken id", s.CreateSubscription(ctx, a), credtrace.ErrConflict)
	checkGet(ctx, t, "Subscription", s.Subscription, "s1", a)
	checkGet(ctx, t, "Subscription without a previous secret", s.Subscription, "s2", b)
	_, err := s.Subscription(ctx, "nope")
	wantErr(t, "Subscription unknown", err, credtrace.ErrNotFound)

	sid := func(x webhook.Subscription) string { return x.ID }
	got, err := s.Subscriptions(ctx, webhook.SubscriptionQuery{Role: credtrace.RoleFirm, Owners: []string{"firm:f2", "firm:f1"}})
	must(t, "Subscriptions", err)
	checkList(t, "Subscriptions of two firms", got, []webhook.Subscription{a, b}, sid)
	got, err = s.Subscriptions(ctx, webhook.SubscriptionQuery{Role: credtrace.RolePlatform})
	must(t, "Subscriptions", err)
	checkIDs(t, "Subscriptions of a role", got, sid, "s3")
	got, err = s.Subscriptions(ctx, webhook.SubscriptionQuery{Role: credtrace.RoleFirm, Owners: []string{}})
	must(t, "Subscriptions", err)
	checkIDs(t, "Subscriptions of no owner", got, sid)

	a2 := a
	a2.Secret, a2.PrevSecret, a2.PrevUntil, a2.Version = "whsec_b", "whsec_a", at(9), 2
	must(t, "UpdateSubscription", s.UpdateSubscription(ctx, a2))
	checkGet(ctx, t, "Subscription after rotation", s.Subscription, "s1", a2)
	wantErr(t, "UpdateSubscription over a stale version", s.UpdateSubscription(ctx, a2), credtrace.ErrConflict)
	ghost := fullSubscription("ghost", "firm:f1")
	ghost.Version = 2
	wantErr(t, "UpdateSubscription of an unknown id", s.UpdateSubscription(ctx, ghost), credtrace.ErrNotFound)
}

func testSubscriptionHealth(ctx context.Context, t *testing.T, s webhook.Store) {
	x := fullSubscription("s1", "firm:f1")
	must(t, "CreateSubscription", s.CreateSubscription(ctx, x))
	must(t, "NoteAttempt failure", s.NoteAttempt(ctx, "s1", at(2), "status 500"))
	must(t, "NoteAttempt failure", s.NoteAttempt(ctx, "s1", at(3), "status 503"))
	want := x
	want.LastAttemptAt, want.LastError, want.LastErrorAt, want.Failures = at(3), "status 503", at(3), 2
	checkGet(ctx, t, "Subscription after two failures", s.Subscription, "s1", want)
	must(t, "NoteAttempt success", s.NoteAttempt(ctx, "s1", at(4), ""))
	want.LastAttemptAt, want.LastSuccessAt, want.Failures = at(4), at(4), 0
	checkGet(ctx, t, "Subscription after a success (the last error stays)", s.Subscription, "s1", want)
}

func testOutboxIdempotent(ctx context.Context, t *testing.T, s webhook.Store) {
	known, err := s.EventKnown(ctx, "evt-1")
	must(t, "EventKnown", err)
	if known {
		t.Error("EventKnown of a new id: true")
	}
	fresh, err := s.PutEvent(ctx, "evt-1", webhook.RecordPending, at(1))
	must(t, "PutEvent", err)
	again, err := s.PutEvent(ctx, "evt-1", webhook.RecordPending, at(2))
	must(t, "PutEvent again", err)
	if !fresh || again {
		t.Errorf("PutEvent: first %v, again %v; want true, false", fresh, again)
	}
	if known, err = s.EventKnown(ctx, "evt-1"); err != nil || !known {
		t.Errorf("EventKnown after PutEvent: %v, %v", known, err)
	}
	d := fullDelivery("d1", "s1", 1)
	must(t, "PutDeliveries", s.PutDeliveries(ctx, []webhook.Delivery{d, fullDelivery("d2", "s1", 2)}))
	changed := d
	changed.Body = `{"other":true}`
	must(t, "PutDeliveries again (a retried announcement)", s.PutDeliveries(ctx, []webhook.Delivery{changed, fullDelivery("d3", "s1", 3)}))
	checkGet(ctx, t, "Delivery stored first", s.Delivery, "d1", d)
	all, err := s.Deliveries(ctx, webhook.DeliveryQuery{SubscriptionID: "s1"})
	must(t, "Deliveries", err)
	checkIDs(t, "Deliveries after two puts", all, func(x webhook.Delivery) string { return x.ID }, "d1", "d2", "d3")
	_, err = s.Delivery(ctx, "nope")
	wantErr(t, "Delivery unknown", err, credtrace.ErrNotFound)
}

func testDeliveriesDue(ctx context.Context, t *testing.T, s webhook.Store) {
	var ds []webhook.Delivery
	for i, n := range []int{5, 2, 9, 2} {
		ds = append(ds, fullDelivery(fmt.Sprintf("d%d", i+1), "s1", n))
	}
	dead := fullDelivery("d5", "s1", 1)
	dead.Status = webhook.Dead
	other := fullDelivery("d6", "s2", 1)
	must(t, "PutDeliveries", s.PutDeliveries(ctx, append(ds, dead, other)))
	did := func(x webhook.Delivery) string { return x.ID }
	due, err := s.Deliveries(ctx, webhook.DeliveryQuery{Due: at(5)})
	must(t, "Deliveries due", err)
	checkIDs(t, "Deliveries due at 5, oldest first", due, did, "d6", "d2", "d4", "d1")
	due, err = s.Deliveries(ctx, webhook.DeliveryQuery{Due: at(5), Limit: 2})
	must(t, "Deliveries due", err)
	checkIDs(t, "Deliveries due, limited", due, did, "d6", "d2")
	page, err := s.Deliveries(ctx, webhook.DeliveryQuery{SubscriptionID: "s1", Status: webhook.Pending, After: "d1", Limit: 2})
	must(t, "Deliveries paged", err)
	checkIDs(t, "Deliveries of s1 pending after d1", page, did, "d2", "d3")
	for _, c := range []struct {
		status webhook.DeliveryStatus
		want   int
	}{{webhook.Pending, 4}, {webhook.Dead, 1}, {webhook.Delivered, 0}} {
		n, err := s.CountDeliveries(ctx, "s1", c.status)
		must(t, "CountDeliveries", err)
		if n != c.want {
			t.Errorf("CountDeliveries(s1, %s) = %d, want %d", c.status, n, c.want)
		}
	}
}

func testClaimAttempt(ctx context.Context, t *testing.T, s webhook.Store) {
	must(t, "PutDeliveries", s.PutDeliveries(ctx, []webhook.Delivery{fullDelivery("d1", "s1", 1)}))
	won, _, err := s.ClaimAttempt(ctx, "d1", 1, "a", at(2), at(1))
	must(t, "ClaimAttempt", err)
	if !won {
		t.Fatal("the first claim of attempt 1 did not win")
	}
	won, lapsed, err := s.ClaimAttempt(ctx, "d1", 1, "b", at(2), at(1))
	must(t, "ClaimAttempt", err)
	if won || lapsed {
		t.Errorf("a second claim of a held attempt: won %v, lapsed %v; want false, false", won, lapsed)
	}
	won, lapsed, err = s.ClaimAttempt(ctx, "d1", 1, "b", at(4), at(3))
	must(t, "ClaimAttempt", err)
	if won || !lapsed {
		t.Errorf("a claim of an attempt whose claim lapsed: won %v, lapsed %v; want false, true", won, lapsed)
	}
	won, _, err = s.ClaimAttempt(ctx, "d1", 2, "b", at(4), at(3))
	must(t, "ClaimAttempt", err)
	if !won {
		t.Error("the next attempt after a lapsed claim could not be claimed")
	}
}

func testClaimRace(ctx context.Context, t *testing.T, s webhook.Store) {
	must(t, "PutDeliveries", s.PutDeliveries(ctx, []webhook.Delivery{fullDelivery("d1", "s1", 1)}))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won, _, err := s.ClaimAttempt(ctx, "d1", 1, fmt.Sprintf("replica-%d", i), at(2), at(1))
			if err != nil {
				t.Errorf("ClaimAttempt: %v", err)
			}
			if won {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("six replicas racing for one attempt: %d won, want 1", wins)
	}
}

func testFinishAttempt(ctx context.Context, t *testing.T, s webhook.Store) {
	d := fullDelivery("d1", "s1", 1)
	must(t, "PutDeliveries", s.PutDeliveries(ctx, []webhook.Delivery{d}))
	failed := d
	failed.Attempts, failed.NextAt, failed.LastError, failed.LastStatus, failed.LastAt = 2, at(3), "status 500: down", 500, at(2)
	must(t, "FinishAttempt", s.FinishAttempt(ctx, failed))
	checkGet(ctx, t, "Delivery after a failed attempt", s.Delivery, "d1", failed)
	stale := d
	stale.Attempts, stale.Status, stale.DeliveredAt = 1, webhook.Delivered, at(2)
	must(t, "FinishAttempt of an older attempt", s.FinishAttempt(ctx, stale))
	checkGet(ctx, t, "Delivery after an older attempt's late outcome", s.Delivery, "d1", failed)
	ok := failed
	ok.Attempts, ok.Status, ok.DeliveredAt, ok.LastError, ok.LastStatus, ok.LastAt = 3, webhook.Delivered, at(4), "", 204, at(4)
	must(t, "FinishAttempt", s.FinishAttempt(ctx, ok))
	checkGet(ctx, t, "Delivery delivered", s.Delivery, "d1", ok)
	due, err := s.Deliveries(ctx, webhook.DeliveryQuery{Due: at(10)})
	must(t, "Deliveries due", err)
	if len(due) != 0 {
		t.Errorf("a delivered delivery is still due: %v", due)
	}
}

func testDeleteSubscription(ctx context.Context, t *testing.T, s webhook.Store) {
	must(t, "CreateSubscription", s.CreateSubscription(ctx, fullSubscription("s1", "firm:f1")))
	must(t, "CreateSubscription", s.CreateSubscription(ctx, fullSubscription("s2", "firm:f1")))
	must(t, "PutDeliveries", s.PutDeliveries(ctx, []webhook.Delivery{fullDelivery("d1", "s1", 1), fullDelivery("d2", "s2", 1)}))
	must(t, "DeleteSubscription", s.DeleteSubscription(ctx, "s1"))
	_, err := s.Subscription(ctx, "s1")
	wantErr(t, "Subscription deleted", err, credtrace.ErrNotFound)
	wantErr(t, "DeleteSubscription again", s.DeleteSubscription(ctx, "s1"), credtrace.ErrNotFound)
	_, err = s.Delivery(ctx, "d1")
	wantErr(t, "Delivery of a deleted subscription", err, credtrace.ErrNotFound)
	checkGet(ctx, t, "Delivery of another subscription", s.Delivery, "d2", fullDelivery("d2", "s2", 1))
}
