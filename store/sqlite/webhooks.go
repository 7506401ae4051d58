package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/webhook"
)

// Webhooks is the webhook.Store view of the same database. Taken from the Store an Atomic
// block was given, its writes belong to the block's transaction: an outbox entry commits with
// the change it announces.
type Webhooks struct{ s *Store }

// Webhooks returns the webhook.Store of s.
func (s *Store) Webhooks() *Webhooks { return &Webhooks{s: s} }

// Webhooks returns the webhook.Store of t's database, in t's transaction if it has one.
func (t *Tracking) Webhooks() *Webhooks { return &Webhooks{s: t.s} }

var _ webhook.Store = (*Webhooks)(nil)

const subCols = `id, role, owner, url, events, secret, prev_secret, prev_until, created_at, created_by, version,
	last_attempt_at, last_success_at, last_error, last_error_at, failures`

func scanSub(sc scanner) (webhook.Subscription, error) {
	var x webhook.Subscription
	var role, events string
	var prevUntil, lastAttempt, lastSuccess, lastErrAt sql.NullInt64
	var created int64
	err := sc.Scan(&x.ID, &role, &x.Owner, &x.URL, &events, &x.Secret, &x.PrevSecret, &prevUntil, &created, &x.CreatedBy, &x.Version,
		&lastAttempt, &lastSuccess, &x.LastError, &lastErrAt, &x.Failures)
	if err != nil {
		return x, translate(err)
	}
	x.Role = credtrace.Role(role)
	for _, e := range strings.Split(events, ",") {
		if e != "" {
			x.Events = append(x.Events, webhook.EventType(e))
		}
	}
	x.PrevUntil, x.CreatedAt = fromMS(prevUntil), fromMSInt(created)
	x.LastAttemptAt, x.LastSuccessAt, x.LastErrorAt = fromMS(lastAttempt), fromMS(lastSuccess), fromMS(lastErrAt)
	return x, nil
}

func joinEvents(ts []webhook.EventType) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return strings.Join(out, ",")
}

// CreateSubscription implements webhook.Store.
func (w *Webhooks) CreateSubscription(ctx context.Context, x webhook.Subscription) error {
	_, err := w.s.writer().ExecContext(ctx, `INSERT INTO webhook_subscriptions (`+subCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		x.ID, string(x.Role), x.Owner, x.URL, joinEvents(x.Events), x.Secret, x.PrevSecret, ms(x.PrevUntil), x.CreatedAt.UnixMilli(), x.CreatedBy, x.Version,
		ms(x.LastAttemptAt), ms(x.LastSuccessAt), x.LastError, ms(x.LastErrorAt), x.Failures)
	if err != nil {
		return fmt.Errorf("sqlite: create subscription %s: %w", x.ID, translate(err))
	}
	return nil
}

// UpdateSubscription implements webhook.Store: the URL, events and secrets, over Version-1.
func (w *Webhooks) UpdateSubscription(ctx context.Context, x webhook.Subscription) error {
	res, err := w.s.writer().ExecContext(ctx, `UPDATE webhook_subscriptions SET url = ?, events = ?, secret = ?, prev_secret = ?, prev_until = ?, version = ?
		WHERE id = ? AND version = ?`, x.URL, joinEvents(x.Events), x.Secret, x.PrevSecret, ms(x.PrevUntil), x.Version, x.ID, x.Version-1)
	return w.s.update(ctx, "webhook_subscriptions", x.ID, res, err)
}

// Subscription implements webhook.Store.
func (w *Webhooks) Subscription(ctx context.Context, id string) (webhook.Subscription, error) {
	return scanSub(w.s.reader().QueryRowContext(ctx, `SELECT `+subCols+` FROM webhook_subscriptions WHERE id = ?`, id))
}

// Subscriptions implements webhook.Store.
func (w *Webhooks) Subscriptions(ctx context.Context, q webhook.SubscriptionQuery) ([]webhook.Subscription, error) {
	var wh where
	if q.Role != "" {
		wh.add("role = ?", string(q.Role))
	}
	in(&wh, "owner", q.Owners)
	return list(ctx, w.s.reader(), `SELECT `+subCols+` FROM webhook_subscriptions`+wh.sql()+` ORDER BY id`, wh.args, scanSub)
}

// DeleteSubscription implements webhook.Store.
func (w *Webhooks) DeleteSubscription(ctx context.Context, id string) error {
	return w.s.atomic(ctx, func(tx *Store) error {
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM webhook_subscriptions WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete subscription %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return credtrace.ErrNotFound
		}
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM webhook_claims WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = ?)`, id); err != nil {
			return fmt.Errorf("sqlite: delete claims of %s: %w", id, err)
		}
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE subscription_id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: delete deliveries of %s: %w", id, err)
		}
		return nil
	})
}

// NoteAttempt implements webhook.Store.
func (w *Webhooks) NoteAttempt(ctx context.Context, id string, at time.Time, errText string) error {
	var err error
	if errText == "" {
		_, err = w.s.writer().ExecContext(ctx, `UPDATE webhook_subscriptions SET last_attempt_at = ?, last_success_at = ?, failures = 0 WHERE id = ?`,
			at.UnixMilli(), at.UnixMilli(), id)
	} else {
		_, err = w.s.writer().ExecContext(ctx, `UPDATE webhook_subscriptions SET last_attempt_at = ?, last_error = ?, last_error_at = ?, failures = failures + 1 WHERE id = ?`,
			at.UnixMilli(), errText, at.UnixMilli(), id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: note attempt on %s: %w", id, err)
	}
	return nil
}

// PutEvent implements webhook.Store.
func (w *Webhooks) PutEvent(ctx context.Context, id string, typ webhook.EventType, at time.Time) (bool, error) {
	res, err := w.s.writer().ExecContext(ctx, `INSERT INTO webhook_events (id, type, at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING`, id, string(typ), at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("sqlite: mark event %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// EventKnown implements webhook.Store.
func (w *Webhooks) EventKnown(ctx context.Context, id string) (bool, error) {
	var one int
	err := w.s.reader().QueryRowContext(ctx, `SELECT 1 FROM webhook_events WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: event %s: %w", id, err)
	}
	return true, nil
}

const deliveryCols = `id, subscription_id, event_id, type, body, status, attempts, base, next_at, until, created_at, last_error, last_status, last_at, delivered_at`

func scanDelivery(sc scanner) (webhook.Delivery, error) {
	var d webhook.Delivery
	var typ, status string
	var next, until, created int64
	var last, delivered sql.NullInt64
	if err := sc.Scan(&d.ID, &d.SubscriptionID, &d.EventID, &typ, &d.Body, &status, &d.Attempts, &d.Base, &next, &until, &created,
		&d.LastError, &d.LastStatus, &last, &delivered); err != nil {
		return d, translate(err)
	}
	d.Type, d.Status = webhook.EventType(typ), webhook.DeliveryStatus(status)
	d.NextAt, d.Until, d.CreatedAt = fromMSInt(next), fromMSInt(until), fromMSInt(created)
	d.LastAt, d.DeliveredAt = fromMS(last), fromMS(delivered)
	return d, nil
}

// PutDeliveries implements webhook.Store.
func (w *Webhooks) PutDeliveries(ctx context.Context, ds []webhook.Delivery) error {
	return w.s.atomic(ctx, func(tx *Store) error {
		for _, d := range ds {
			_, err := tx.tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING`,
				d.ID, d.SubscriptionID, d.EventID, string(d.Type), d.Body, string(d.Status), d.Attempts, d.Base, d.NextAt.UnixMilli(), d.Until.UnixMilli(),
				d.CreatedAt.UnixMilli(), d.LastError, d.LastStatus, ms(d.LastAt), ms(d.DeliveredAt))
			if err != nil {
				return fmt.Errorf("sqlite: put delivery %s: %w", d.ID, err)
			}
		}
		return nil
	})
}

// Delivery implements webhook.Store.
func (w *Webhooks) Delivery(ctx context.Context, id string) (webhook.Delivery, error) {
	return scanDelivery(w.s.reader().QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = ?`, id))
}

// Deliveries implements webhook.Store.
func (w *Webhooks) Deliveries(ctx context.Context, q webhook.DeliveryQuery) ([]webhook.Delivery, error) {
	var wh where
	if q.SubscriptionID != "" {
		wh.add("subscription_id = ?", q.SubscriptionID)
	}
	tail := " ORDER BY id"
	if !q.Due.IsZero() {
		wh.add("status = ?", string(webhook.Pending))
		wh.add("next_at <= ?", q.Due.UnixMilli())
		tail = " ORDER BY next_at, id"
	} else {
		if q.Status != "" {
			wh.add("status = ?", string(q.Status))
		}
		if q.After != "" {
			wh.add("id > ?", q.After)
		}
	}
	if q.Limit > 0 {
		tail += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return list(ctx, w.s.reader(), `SELECT `+deliveryCols+` FROM webhook_deliveries`+wh.sql()+tail, wh.args, scanDelivery)
}

// CountDeliveries implements webhook.Store.
func (w *Webhooks) CountDeliveries(ctx context.Context, subscriptionID string, status webhook.DeliveryStatus) (int, error) {
	var n int
	err := w.s.reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE subscription_id = ? AND status = ?`, subscriptionID, string(status)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count deliveries of %s: %w", subscriptionID, err)
	}
	return n, nil
}

// ClaimAttempt implements webhook.Store: the claim is a row keyed by delivery and attempt,
// inserted by one writer.
func (w *Webhooks) ClaimAttempt(ctx context.Context, id string, n int, holder string, until, now time.Time) (bool, bool, error) {
	res, err := w.s.writer().ExecContext(ctx, `INSERT INTO webhook_claims (delivery_id, attempt, holder, until) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, n, holder, until.UnixMilli())
	if err != nil {
		return false, false, fmt.Errorf("sqlite: claim %s #%d: %w", id, n, err)
	}
	if k, _ := res.RowsAffected(); k == 1 {
		return true, false, nil
	}
	var held int64
	if err := w.s.writer().QueryRowContext(ctx, `SELECT until FROM webhook_claims WHERE delivery_id = ? AND attempt = ?`, id, n).Scan(&held); err != nil {
		return false, false, fmt.Errorf("sqlite: claim %s #%d: %w", id, n, err)
	}
	return false, held <= now.UnixMilli(), nil
}

// FinishAttempt implements webhook.Store.
func (w *Webhooks) FinishAttempt(ctx context.Context, d webhook.Delivery) error {
	return w.s.atomic(ctx, func(tx *Store) error {
		_, err := tx.tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, base = ?, next_at = ?, until = ?, last_error = ?,
			last_status = ?, last_at = ?, delivered_at = ? WHERE id = ? AND attempts <= ?`,
			string(d.Status), d.Attempts, d.Base, d.NextAt.UnixMilli(), d.Until.UnixMilli(), d.LastError, d.LastStatus, ms(d.LastAt), ms(d.DeliveredAt), d.ID, d.Attempts)
		if err != nil {
			return fmt.Errorf("sqlite: finish attempt %d of %s: %w", d.Attempts, d.ID, err)
		}
		// Claims up to this attempt have served: the outcome is stored.
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM webhook_claims WHERE delivery_id = ? AND attempt < ?`, d.ID, d.Attempts); err != nil {
			return fmt.Errorf("sqlite: finish attempt %d of %s: %w", d.Attempts, d.ID, err)
		}
		return nil
	})
}
