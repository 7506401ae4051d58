package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/credtrace/credtrace/tracking"
)

// ----- parcel links and retractions -----

type linkJSON struct {
	EventID    string `json:"event_id"`
	RefType    string `json:"ref_type,omitempty"`
	RefID      string `json:"ref_id,omitempty"`
	At         int64  `json:"at"`
	SiteID     string `json:"site,omitempty"`
	StaffID    string `json:"staff,omitempty"`
	By         string `json:"by,omitempty"`
	ReceivedAt int64  `json:"received_at"`
}

// markJSON is the doc of a link's retraction mark: a row of its own in parcel_links, under
// markPrefix and the link's key, of kind 'retracted' with the link's carrier, waybill and
// container, so that the queries that read the link read its mark.
type markJSON struct {
	Of            string   `json:"of"`
	Reason        string   `json:"reason,omitempty"`
	DeclaredAt    int64    `json:"declared_at"`
	CorrectiveIDs []string `json:"corrective_ids,omitempty"`
	By            string   `json:"by,omitempty"`
	At            int64    `json:"at"`
}

// markPrefix starts the key of a link's retraction mark, and markKind is its kind.
const (
	markPrefix = "retracted|"
	markKind   = "retracted"
)

type retractionJSON struct {
	EventID       string   `json:"event_id"`
	EventIDs      []string `json:"event_ids"`
	Reason        string   `json:"reason,omitempty"`
	DeclaredAt    int64    `json:"declared_at"`
	CorrectiveIDs []string `json:"corrective_ids,omitempty"`
	By            string   `json:"by,omitempty"`
	At            int64    `json:"at"`
}

// AppendLinks implements tracking.Store.
func (t *Tracking) AppendLinks(ctx context.Context, links []tracking.Link) ([]bool, error) {
	stored := make([]bool, len(links))
	err := t.s.atomic(ctx, func(tx *Store) error {
		ins, err := tx.tx.PrepareContext(ctx, `INSERT INTO parcel_links (key, carrier, waybill, container, kind, doc) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		defer ins.Close()
		for i, l := range links {
			body, err := json.Marshal(linkJSON{EventID: l.EventID, RefType: l.RefType, RefID: l.RefID, At: msInt(l.At), SiteID: l.SiteID,
				StaffID: l.StaffID, By: l.By, ReceivedAt: msInt(l.ReceivedAt)})
			if err != nil {
				return err
			}
			res, err := ins.ExecContext(ctx, l.Key(), l.Carrier, l.Waybill, l.Container, string(l.Kind), string(body))
			if err != nil {
				return fmt.Errorf("sqlite: insert link: %w", translate(err))
			}
			n, _ := res.RowsAffected()
			stored[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

func (t *Tracking) links(ctx context.Context, query string, args ...any) ([]tracking.Link, error) {
	rows, err := t.s.reader().QueryContext(ctx, `SELECT carrier, waybill, container, kind, doc FROM parcel_links WHERE `+query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: links: %w", err)
	}
	defer rows.Close()
	var out []tracking.Link
	marks := map[string]*tracking.LinkRetraction{}
	for rows.Next() {
		var l tracking.Link
		var kind, doc string
		if err := rows.Scan(&l.Carrier, &l.Waybill, &l.Container, &kind, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: links: %w", err)
		}
		if kind == markKind {
			m, err := decodeJSON[markJSON](doc)
			if err != nil {
				return nil, fmt.Errorf("sqlite: link mark: %w", err)
			}
			marks[m.Of] = &tracking.LinkRetraction{Reason: m.Reason, DeclaredAt: fromMSInt(m.DeclaredAt), CorrectiveIDs: m.CorrectiveIDs,
				By: m.By, At: fromMSInt(m.At)}
			continue
		}
		j, err := decodeJSON[linkJSON](doc)
		if err != nil {
			return nil, fmt.Errorf("sqlite: link: %w", err)
		}
		l.Kind, l.EventID, l.RefType, l.RefID, l.At = tracking.LinkKind(kind), j.EventID, j.RefType, j.RefID, fromMSInt(j.At)
		l.SiteID, l.StaffID, l.By, l.ReceivedAt = j.SiteID, j.StaffID, j.By, fromMSInt(j.ReceivedAt)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: links: %w", err)
	}
	for i := range out {
		out[i].Retracted = marks[out[i].Key()]
	}
	return out, nil
}

// EventLinks implements tracking.Store: the keys of an event's links, and of their marks,
// start with "<carrier>|<id>|" (the primary key serves both ranges); an id holding '|'
// shares the range with longer ids, which the event id check leaves out.
func (t *Tracking) EventLinks(ctx context.Context, carrier, id string) ([]tracking.Link, error) {
	lo, hi := carrier+"|"+id+"|", carrier+"|"+id+"}"
	ls, err := t.links(ctx, `(key >= ? AND key < ?) OR (key >= ? AND key < ?)`, lo, hi, markPrefix+lo, markPrefix+hi)
	if err != nil {
		return nil, err
	}
	out := ls[:0]
	for _, l := range ls {
		if l.Carrier == carrier && l.EventID == id {
			out = append(out, l)
		}
	}
	return out, nil
}

// RetractLinks implements tracking.Store: one mark row per link, inserted once.
func (t *Tracking) RetractLinks(ctx context.Context, links []tracking.Link) ([]bool, error) {
	marked := make([]bool, len(links))
	err := t.s.atomic(ctx, func(tx *Store) error {
		for i, l := range links {
			if l.Retracted == nil {
				return fmt.Errorf("sqlite: retract link %s: no retraction", l.Key())
			}
			r := l.Retracted
			body, err := json.Marshal(markJSON{Of: l.Key(), Reason: r.Reason, DeclaredAt: msInt(r.DeclaredAt), CorrectiveIDs: r.CorrectiveIDs,
				By: r.By, At: msInt(r.At)})
			if err != nil {
				return err
			}
			res, err := tx.tx.ExecContext(ctx, `INSERT INTO parcel_links (key, carrier, waybill, container, kind, doc) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
				markPrefix+l.Key(), l.Carrier, l.Waybill, l.Container, markKind, string(body))
			if err != nil {
				return fmt.Errorf("sqlite: retract link: %w", translate(err))
			}
			n, _ := res.RowsAffected()
			marked[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return marked, nil
}

// ParcelLinks implements tracking.Store.
func (t *Tracking) ParcelLinks(ctx context.Context, k tracking.ParcelKey) ([]tracking.Link, error) {
	return t.links(ctx, `carrier = ? AND waybill = ?`, k.Carrier, k.Waybill)
}

// ContainerLinks implements tracking.Store.
func (t *Tracking) ContainerLinks(ctx context.Context, carrier, container string) ([]tracking.Link, error) {
	if container == "" {
		return nil, nil
	}
	return t.links(ctx, `carrier = ? AND container = ? AND kind IN ('packed', 'unpacked', 'retracted')`, carrier, container)
}

// KnownContainers implements tracking.Store: one query per chunk of keys.
func (t *Tracking) KnownContainers(ctx context.Context, keys []tracking.ParcelKey) (map[tracking.ParcelKey]bool, error) {
	out := map[tracking.ParcelKey]bool{}
	byCarrier := map[string][]string{}
	for _, k := range keys {
		if k.Waybill != "" {
			byCarrier[k.Carrier] = append(byCarrier[k.Carrier], k.Waybill)
		}
	}
	for carrier, ids := range byCarrier {
		for _, part := range chunks(ids, 500) {
			args := append([]any{carrier}, anyArgs(part)...)
			rows, err := t.s.reader().QueryContext(ctx, `SELECT DISTINCT container FROM parcel_links WHERE carrier = ? AND container IN (`+placeholders(len(part))+`) AND kind = 'packed'`, args...)
			if err != nil {
				return nil, fmt.Errorf("sqlite: known containers: %w", err)
			}
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					rows.Close()
					return nil, fmt.Errorf("sqlite: known containers: %w", err)
				}
				out[tracking.ParcelKey{Carrier: carrier, Waybill: c}] = true
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("sqlite: known containers: %w", err)
			}
		}
	}
	return out, nil
}

// Retract implements tracking.Store: the retraction, the summary and the statistics commit in
// one transaction, and only with a retraction not stored before.
func (t *Tracking) Retract(ctx context.Context, r tracking.Retraction, p tracking.Parcel, deltas []tracking.StatDelta) (bool, error) {
	body, err := json.Marshal(retractionJSON{EventID: r.EventID, EventIDs: r.EventIDs, Reason: r.Reason, DeclaredAt: msInt(r.DeclaredAt),
		CorrectiveIDs: r.CorrectiveIDs, By: r.By, At: msInt(r.At)})
	if err != nil {
		return false, err
	}
	fresh := false
	err = t.s.atomic(ctx, func(tx *Store) error {
		res, err := tx.tx.ExecContext(ctx, `INSERT INTO retractions (key, carrier, waybill, doc) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`,
			r.Key(), r.Carrier, r.Waybill, string(body))
		if err != nil {
			return fmt.Errorf("sqlite: insert retraction: %w", translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		fresh = true
		if err := tx.putParcels(ctx, []tracking.Parcel{p}); err != nil {
			return err
		}
		sums := statSums{}
		sums.add(deltas)
		return tx.applyStats(ctx, sums)
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}

// Retractions implements tracking.Store.
func (t *Tracking) Retractions(ctx context.Context, k tracking.ParcelKey) ([]tracking.Retraction, error) {
	rows, err := t.s.reader().QueryContext(ctx, `SELECT doc FROM retractions WHERE carrier = ? AND waybill = ?`, k.Carrier, k.Waybill)
	if err != nil {
		return nil, fmt.Errorf("sqlite: retractions: %w", err)
	}
	defer rows.Close()
	var out []tracking.Retraction
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: retractions: %w", err)
		}
		j, err := decodeJSON[retractionJSON](doc)
		if err != nil {
			return nil, fmt.Errorf("sqlite: retraction: %w", err)
		}
		out = append(out, tracking.Retraction{Carrier: k.Carrier, Waybill: k.Waybill, EventID: j.EventID, EventIDs: j.EventIDs, Reason: j.Reason,
			DeclaredAt: fromMSInt(j.DeclaredAt), CorrectiveIDs: j.CorrectiveIDs, By: j.By, At: fromMSInt(j.At)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: retractions: %w", err)
	}
	return out, nil
}

// EventsByID implements tracking.Store: the id, and the ranges of ids that start with id# and
// id~ (the primary key (carrier, id) serves all three).
func (t *Tracking) EventsByID(ctx context.Context, carrier, id string) ([]tracking.Event, error) {
	rows, err := t.s.reader().QueryContext(ctx, `SELECT rowid, carrier, id, waybill, hash, doc FROM events
		WHERE carrier = ? AND (id = ? OR (id >= ? AND id < ?) OR (id >= ? AND id < ?)) ORDER BY rowid`,
		carrier, id, id+"#", id+"$", id+"~", id+"\x7f")
	if err != nil {
		return nil, fmt.Errorf("sqlite: events %s: %w", id, err)
	}
	evs, _, err := scanEvents(rows)
	return evs, err
}
