package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// CreateSession implements courier.Store.
func (s *Store) CreateSession(ctx context.Context, ss courier.Session) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO sessions (id_hash, token_id, csrf, expires_at) VALUES (?,?,?,?)`,
		ss.IDHash, ss.TokenID, ss.CSRF, ss.Expires.UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", translate(err))
	}
	return nil
}

// Session implements courier.Store.
func (s *Store) Session(ctx context.Context, idHash string) (courier.Session, error) {
	ss := courier.Session{IDHash: idHash}
	var exp int64
	err := s.reader().QueryRowContext(ctx, `SELECT token_id, csrf, expires_at FROM sessions WHERE id_hash = ?`, idHash).Scan(&ss.TokenID, &ss.CSRF, &exp)
	if err != nil {
		return courier.Session{}, fmt.Errorf("sqlite: session: %w", translate(err))
	}
	ss.Expires = time.UnixMilli(exp).UTC()
	return ss, nil
}

// DeleteSession implements courier.Store.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.writer().ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", translate(err))
	}
	return nil
}

// DeleteSessionsBefore implements courier.Store.
func (s *Store) DeleteSessionsBefore(ctx context.Context, t time.Time) error {
	if _, err := s.writer().ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, t.UnixMilli()); err != nil {
		return fmt.Errorf("sqlite: delete expired sessions: %w", translate(err))
	}
	return nil
}

// AddHit implements tracking.Store.
func (t *Tracking) AddHit(ctx context.Context, key string, at time.Time) error {
	if _, err := t.s.writer().ExecContext(ctx, `INSERT INTO hits (key, at) VALUES (?, ?)`, key, at.UnixMilli()); err != nil {
		return fmt.Errorf("sqlite: add hit: %w", translate(err))
	}
	return nil
}

// CountHits implements tracking.Store.
func (t *Tracking) CountHits(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	if err := t.s.reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM hits WHERE key = ? AND at >= ?`, key, since.UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count hits: %w", err)
	}
	return n, nil
}

// PruneHits implements tracking.Store.
func (t *Tracking) PruneHits(ctx context.Context, before time.Time) error {
	if _, err := t.s.writer().ExecContext(ctx, `DELETE FROM hits WHERE at < ?`, before.UnixMilli()); err != nil {
		return fmt.Errorf("sqlite: prune hits: %w", translate(err))
	}
	return nil
}

// LastSeq implements tracking.Store: the events table's rowid is the sequence.
func (t *Tracking) LastSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := t.s.reader().QueryRowContext(ctx, `SELECT COALESCE(MAX(rowid), 0) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: last sequence: %w", err)
	}
	return n, nil
}

// EventsSince implements tracking.Store.
func (t *Tracking) EventsSince(ctx context.Context, q tracking.SeqQuery) ([]tracking.Event, []int64, error) {
	where := []string{"rowid > ?"}
	args := []any{q.After}
	for _, g := range q.Gaps {
		where = append(where, "rowid BETWEEN ? AND ?")
		args = append(args, g.From, g.To)
	}
	args = append(args, q.Limit)
	rows, err := t.s.reader().QueryContext(ctx, `SELECT rowid, carrier, id, waybill, hash, doc FROM events WHERE `+strings.Join(where, " OR ")+` ORDER BY rowid LIMIT ?`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: events since %d: %w", q.After, err)
	}
	return scanEvents(rows)
}

// LastAlertSeq implements tracking.Store: the alert feed's sequence, written by the inserts of
// incidents and anomalies (migration 22's triggers).
func (t *Tracking) LastAlertSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := t.s.reader().QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM alert_feed`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: last alert sequence: %w", err)
	}
	return n, nil
}

// AlertsSince implements tracking.Store.
func (t *Tracking) AlertsSince(ctx context.Context, q tracking.SeqQuery) ([]tracking.Alert, []int64, error) {
	where := []string{"f.seq > ?"}
	args := []any{q.After}
	for _, g := range q.Gaps {
		where = append(where, "f.seq BETWEEN ? AND ?")
		args = append(args, g.From, g.To)
	}
	args = append(args, q.Limit)
	rows, err := t.s.reader().QueryContext(ctx, `SELECT f.seq, f.kind, i.doc, a.doc, a.incident_id FROM alert_feed f
		LEFT JOIN incidents i ON f.kind = 'incident' AND i.id = f.ref
		LEFT JOIN anomalies a ON f.kind = 'anomaly' AND a.id = f.ref
		WHERE `+strings.Join(where, " OR ")+` ORDER BY f.seq LIMIT ?`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: alerts since %d: %w", q.After, err)
	}
	defer rows.Close()
	var out []tracking.Alert
	var seqs []int64
	for rows.Next() {
		var seq int64
		var kind string
		var incDoc, anDoc, anIncident sql.NullString
		if err := rows.Scan(&seq, &kind, &incDoc, &anDoc, &anIncident); err != nil {
			return nil, nil, fmt.Errorf("sqlite: alerts since %d: %w", q.After, err)
		}
		a := tracking.Alert{Kind: kind}
		switch {
		case kind == "incident" && incDoc.Valid:
			in, err := scanIncident(docRow{incDoc.String})
			if err != nil {
				return nil, nil, fmt.Errorf("sqlite: alert %d: %w", seq, err)
			}
			a.Incident = &in
		case kind == "anomaly" && anDoc.Valid:
			an, err := scanAnomaly(docRow{anDoc.String, anIncident.String})
			if err != nil {
				return nil, nil, fmt.Errorf("sqlite: alert %d: %w", seq, err)
			}
			a.Anomaly = &an
		default:
			continue // its incident or anomaly is gone: nothing to tell
		}
		out, seqs = append(out, a), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: alerts since %d: %w", q.After, err)
	}
	return out, seqs, nil
}

// docRow is a row already read, scanned again by the scanners of documents.
type docRow []string

func (r docRow) Scan(dest ...any) error {
	for i, d := range dest {
		*d.(*string) = r[i]
	}
	return nil
}
