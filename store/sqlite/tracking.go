package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// Tracking is the tracking.Store view of the same database. It is a separate type because
// courier.Store and tracking.Store each have an Atomic method with its own signature.
type Tracking struct{ s *Store }

// Tracking returns the tracking.Store of s.
func (s *Store) Tracking() *Tracking { return &Tracking{s: s} }

var _ tracking.Store = (*Tracking)(nil)

// Atomic implements tracking.Store: one immediate transaction, joined by nested calls.
func (t *Tracking) Atomic(ctx context.Context, fn func(tracking.Store) error) error {
	return t.s.atomic(ctx, func(tx *Store) error { return fn(&Tracking{s: tx}) })
}

func pageOf(after string, limit int) courier.Page { return courier.Page{After: after, Limit: limit} }

// ----- JSON bodies (backend-local) -----

type holderJSON struct {
	Kind    string `json:"kind,omitempty"`
	FirmID  string `json:"firm,omitempty"`
	SiteID  string `json:"site,omitempty"`
	StaffID string `json:"staff,omitempty"`
}

type deltaJSON struct {
	Kind   string `json:"k"`
	ID     string `json:"i"`
	Day    string `json:"d"`
	Metric string `json:"m"`
	N      int    `json:"n"`
}

type eventJSON struct {
	ID           string      `json:"id"`
	Waybill      string      `json:"waybill"`
	Carrier      string      `json:"carrier"`
	Code         string      `json:"code"`
	RawCode      string      `json:"raw_code,omitempty"`
	At           int64       `json:"at"`
	SiteID       string      `json:"site,omitempty"`
	StaffID      string      `json:"staff,omitempty"`
	FirmID       string      `json:"firm,omitempty"`
	Holder       holderJSON  `json:"holder"`
	Region       string      `json:"region,omitempty"`
	Lat          *float64    `json:"lat,omitempty"`
	Lng          *float64    `json:"lng,omitempty"`
	WeightGrams  int         `json:"weight_g,omitempty"`
	Signer       string      `json:"signer,omitempty"`
	MerchantID   string      `json:"merchant,omitempty"`
	RecipientKey string      `json:"recipient_key,omitempty"`
	RecipientID  string      `json:"recipient_id,omitempty"`
	Remark       string      `json:"remark,omitempty"`
	Extensions   string      `json:"ext,omitempty"`
	Hash         string      `json:"hash"`
	ReceivedAt   int64       `json:"received_at"`
	Deltas       []deltaJSON `json:"deltas,omitempty"`
}

func toHolder(h tracking.Holder) holderJSON {
	return holderJSON{Kind: string(h.Kind), FirmID: h.FirmID, SiteID: h.SiteID, StaffID: h.StaffID}
}

func fromHolder(h holderJSON) tracking.Holder {
	return tracking.Holder{Kind: tracking.HolderKind(h.Kind), FirmID: h.FirmID, SiteID: h.SiteID, StaffID: h.StaffID}
}

func toEvent(e tracking.Event) eventJSON {
	out := eventJSON{ID: e.ID, Waybill: e.Waybill, Carrier: e.Carrier, Code: string(e.Code), RawCode: e.RawCode, At: msInt(e.At),
		SiteID: e.SiteID, StaffID: e.StaffID, FirmID: e.FirmID, Holder: toHolder(e.Holder), Region: e.Region, Lat: e.Lat, Lng: e.Lng,
		WeightGrams: e.WeightGrams, Signer: e.Signer, MerchantID: e.MerchantID, RecipientKey: e.RecipientKey, RecipientID: e.RecipientID, Remark: e.Remark, Extensions: e.Extensions,
		Hash: e.Hash, ReceivedAt: msInt(e.ReceivedAt)}
	for _, d := range e.Deltas {
		out.Deltas = append(out.Deltas, deltaJSON{Kind: string(d.Key.Kind), ID: d.Key.ID, Day: d.Key.Day, Metric: string(d.Metric), N: d.N})
	}
	return out
}

func fromEvent(j eventJSON) tracking.Event {
	e := tracking.Event{ID: j.ID, Waybill: j.Waybill, Carrier: j.Carrier, Code: tracking.Code(j.Code), RawCode: j.RawCode, At: fromMSInt(j.At),
		SiteID: j.SiteID, StaffID: j.StaffID, FirmID: j.FirmID, Holder: fromHolder(j.Holder), Region: j.Region, Lat: j.Lat, Lng: j.Lng,
		WeightGrams: j.WeightGrams, Signer: j.Signer, MerchantID: j.MerchantID, RecipientKey: j.RecipientKey, RecipientID: j.RecipientID, Remark: j.Remark, Extensions: j.Extensions,
		Hash: j.Hash, ReceivedAt: fromMSInt(j.ReceivedAt)}
	for _, d := range j.Deltas {
		e.Deltas = append(e.Deltas, tracking.StatDelta{Key: tracking.StatKey{Kind: tracking.SubjectKind(d.Kind), ID: d.ID, Day: d.Day}, Metric: tracking.Metric(d.Metric), N: d.N})
	}
	return e
}

type partyJSON struct {
	FirmID  string `json:"firm,omitempty"`
	SiteID  string `json:"site,omitempty"`
	StaffID string `json:"staff,omitempty"`
}

type parcelJSON struct {
	Waybill      string      `json:"waybill"`
	Carrier      string      `json:"carrier"`
	Carriers     []string    `json:"carriers,omitempty"`
	Status       string      `json:"status"`
	StatusAt     int64       `json:"status_at,omitempty"`
	Holder       holderJSON  `json:"holder"`
	HolderAt     int64       `json:"holder_at,omitempty"`
	CollectedAt  int64       `json:"collected_at,omitempty"`
	CollectedBy  partyJSON   `json:"collected_by"`
	DeliveredAt  int64       `json:"delivered_at,omitempty"`
	DeliveredBy  partyJSON   `json:"delivered_by"`
	Signer       string      `json:"signer,omitempty"`
	MerchantID   string      `json:"merchant,omitempty"`
	RecipientKey string      `json:"recipient_key,omitempty"`
	RecipientID  string      `json:"recipient_id,omitempty"`
	WeightGrams  int         `json:"weight_g,omitempty"`
	TransitScans int         `json:"transit_scans,omitempty"`
	Lost         bool        `json:"lost,omitempty"`
	Damaged      bool        `json:"damaged,omitempty"`
	FirstAt      int64       `json:"first_at,omitempty"`
	LastAt       int64       `json:"last_at,omitempty"`
	Events       int         `json:"events"`
	PromiseBy    int64       `json:"promise_by,omitempty"`
	Judged       bool        `json:"judged,omitempty"`
	Verdict      string      `json:"verdict,omitempty"`
	Handled      []string    `json:"handled,omitempty"`
	CollRegion   string      `json:"collected_region,omitempty"`
	LastRegion   string      `json:"last_region,omitempty"`
	Withheld     bool        `json:"delivery_withheld,omitempty"`
	Empty        bool        `json:"empty,omitempty"`
	Final        bool        `json:"final,omitempty"`
	UpdatedAt    int64       `json:"updated_at,omitempty"`
	Custody      []stepJSON  `json:"custody,omitempty"`
	Delay        []shareJSON `json:"delay,omitempty"`
}

// stepJSON is one custody step of a parcel summary.
type stepJSON struct {
	At      int64      `json:"at"`
	Code    string     `json:"code"`
	EventID string     `json:"event"`
	Holder  holderJSON `json:"holder"`
}

// shareJSON is one holder's share of a late parcel's delay.
type shareJSON struct {
	Holder  partyJSON `json:"holder"`
	Kind    string    `json:"kind,omitempty"`
	Milli   int       `json:"milli"`
	OverMS  int64     `json:"over_ms,omitempty"`
	EventID string    `json:"event,omitempty"`
	InHand  int       `json:"in_hand,omitempty"`
}

func toSteps(ss []tracking.Step) []stepJSON {
	var out []stepJSON
	for _, s := range ss {
		out = append(out, stepJSON{At: msInt(s.At), Code: string(s.Code), EventID: s.EventID, Holder: toHolder(s.Holder)})
	}
	return out
}

func fromSteps(ss []stepJSON) []tracking.Step {
	var out []tracking.Step
	for _, s := range ss {
		out = append(out, tracking.Step{At: fromMSInt(s.At), Code: tracking.Code(s.Code), EventID: s.EventID, Holder: fromHolder(s.Holder)})
	}
	return out
}

func toShares(ss []tracking.Share) []shareJSON {
	var out []shareJSON
	for _, s := range ss {
		out = append(out, shareJSON{Holder: toParty(s.Holder), Kind: string(s.Kind), Milli: s.Milli, OverMS: s.Over.Milliseconds(), EventID: s.EventID, InHand: s.InHand})
	}
	return out
}

func fromShares(ss []shareJSON) []tracking.Share {
	var out []tracking.Share
	for _, s := range ss {
		out = append(out, tracking.Share{Holder: fromParty(s.Holder), Kind: tracking.SegmentKind(s.Kind), Milli: s.Milli,
			Over: time.Duration(s.OverMS) * time.Millisecond, EventID: s.EventID, InHand: s.InHand})
	}
	return out
}

func toParty(p tracking.Party) partyJSON {
	return partyJSON{FirmID: p.FirmID, SiteID: p.SiteID, StaffID: p.StaffID}
}

func fromParty(p partyJSON) tracking.Party {
	return tracking.Party{FirmID: p.FirmID, SiteID: p.SiteID, StaffID: p.StaffID}
}

func toParcel(p tracking.Parcel) parcelJSON {
	return parcelJSON{Waybill: p.Waybill, Carrier: p.Carrier, Carriers: p.Carriers, Status: string(p.Status), StatusAt: msInt(p.StatusAt),
		Holder: toHolder(p.Holder), HolderAt: msInt(p.HolderAt), CollectedAt: msInt(p.CollectedAt), CollectedBy: toParty(p.CollectedBy),
		DeliveredAt: msInt(p.DeliveredAt), DeliveredBy: toParty(p.DeliveredBy), Signer: p.Signer, MerchantID: p.MerchantID,
		RecipientKey: p.RecipientKey, RecipientID: p.RecipientID, WeightGrams: p.WeightGrams, TransitScans: p.TransitScans,
		Lost: p.Lost, Damaged: p.Damaged, FirstAt: msInt(p.FirstAt),
		LastAt: msInt(p.LastAt), Events: p.Events, PromiseBy: msInt(p.PromiseBy), Judged: p.Judged, Handled: p.Handled,
		Final: p.Final, UpdatedAt: msInt(p.UpdatedAt), Verdict: string(p.Verdict), CollRegion: p.CollectedRegion, LastRegion: p.LastRegion,
		Withheld: p.DeliveryWithheld, Empty: p.Empty, Custody: toSteps(p.Custody), Delay: toShares(p.Delay)}
}

func fromParcel(j parcelJSON) tracking.Parcel {
	return tracking.Parcel{Waybill: j.Waybill, Carrier: j.Carrier, Carriers: j.Carriers, Status: tracking.Code(j.Status), StatusAt: fromMSInt(j.StatusAt),
		Holder: fromHolder(j.Holder), HolderAt: fromMSInt(j.HolderAt), CollectedAt: fromMSInt(j.CollectedAt), CollectedBy: fromParty(j.CollectedBy),
		DeliveredAt: fromMSInt(j.DeliveredAt), DeliveredBy: fromParty(j.DeliveredBy), Signer: j.Signer, MerchantID: j.MerchantID,
		RecipientKey: j.RecipientKey, RecipientID: j.RecipientID, WeightGrams: j.WeightGrams, TransitScans: j.TransitScans,
		Lost: j.Lost, Damaged: j.Damaged, FirstAt: fromMSInt(j.FirstAt),
		LastAt: fromMSInt(j.LastAt), Events: j.Events, PromiseBy: fromMSInt(j.PromiseBy), Judged: j.Judged, Handled: j.Handled,
		Final: j.Final, UpdatedAt: fromMSInt(j.UpdatedAt), Verdict: tracking.Metric(j.Verdict), CollectedRegion: j.CollRegion, LastRegion: j.LastRegion,
		DeliveryWithheld: j.Withheld, Empty: j.Empty, Custody: fromSteps(j.Custody), Delay: fromShares(j.Delay)}
}

func decodeJSON[T any](s string) (T, error) {
	var v T
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

// ----- events and parcels -----

// chunks splits keys so that no statement binds more than n parameters.
func chunks(keys []string, n int) [][]string {
	var out [][]string
	for len(keys) > n {
		out = append(out, keys[:n])
		keys = keys[n:]
	}
	if len(keys) > 0 {
		out = append(out, keys)
	}
	return out
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anyArgs(keys []string) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// EventHashes implements tracking.Store. Keys are grouped by carrier, so that each query is
// one primary-key range with an IN list.
func (t *Tracking) EventHashes(ctx context.Context, keys []string) (map[string]string, error) {
	out := map[string]string{}
	byCarrier := map[string][]string{}
	for _, k := range keys {
		carrier, id, _ := strings.Cut(k, "|")
		byCarrier[carrier] = append(byCarrier[carrier], id)
	}
	for carrier, ids := range byCarrier {
		for _, part := range chunks(ids, 900) {
			rows, err := t.s.reader().QueryContext(ctx, `SELECT id, hash FROM events WHERE carrier = ? AND id IN (`+placeholders(len(part))+`)`,
				append([]any{carrier}, anyArgs(part)...)...)
			if err != nil {
				return nil, fmt.Errorf("sqlite: event hashes: %w", err)
			}
			for rows.Next() {
				var id, hash string
				if err := rows.Scan(&id, &hash); err != nil {
					rows.Close()
					return nil, err
				}
				out[carrier+"|"+id] = hash
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ParcelsByKey implements tracking.Store.
func (t *Tracking) ParcelsByKey(ctx context.Context, keys []tracking.ParcelKey) (map[tracking.ParcelKey]tracking.Parcel, error) {
	out := map[tracking.ParcelKey]tracking.Parcel{}
	strs := make([]string, len(keys))
	for i, k := range keys {
		strs[i] = k.String()
	}
	for _, part := range chunks(strs, 500) {
		rows, err := t.s.reader().QueryContext(ctx, `SELECT doc FROM parcels WHERE key IN (`+placeholders(len(part))+`)`, anyArgs(part)...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: parcels: %w", err)
		}
		for rows.Next() {
			var doc string
			if err := rows.Scan(&doc); err != nil {
				rows.Close()
				return nil, err
			}
			j, err := decodeJSON[parcelJSON](doc)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: parcel: %w", err)
			}
			p := fromParcel(j)
			out[p.Key()] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WaybillCarriers implements tracking.Store.
func (t *Tracking) WaybillCarriers(ctx context.Context, waybill string) ([]string, error) {
	rows, err := t.s.reader().QueryContext(ctx, `SELECT DISTINCT carrier FROM events WHERE waybill = ? ORDER BY carrier`, waybill)
	if err != nil {
		return nil, fmt.Errorf("sqlite: carriers of %s: %w", waybill, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// WaybillsCarriers implements tracking.BatchCarriers: the ingestion's reuse check reads the
// carriers of a batch's waybills in a few indexed reads rather than one read per new parcel.
func (t *Tracking) WaybillsCarriers(ctx context.Context, waybills []string) (map[string][]string, error) {
	out := make(map[string][]string, len(waybills))
	for _, part := range chunks(waybills, 500) {
		rows, err := t.s.reader().QueryContext(ctx, `SELECT DISTINCT waybill, carrier FROM events WHERE waybill IN (`+placeholders(len(part))+`) ORDER BY waybill, carrier`, anyArgs(part)...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: carriers of waybills: %w", err)
		}
		for rows.Next() {
			var wb, c string
			if err := rows.Scan(&wb, &c); err != nil {
				rows.Close()
				return nil, err
			}
			out[wb] = append(out[wb], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var _ tracking.BatchCarriers = (*Tracking)(nil)

// WriteBatch implements tracking.Store: events, parcels, anomalies and the coalesced
// statistics of the inserted events commit in one transaction, so an event counts exactly
// when it is stored.
func (t *Tracking) WriteBatch(ctx context.Context, b tracking.Batch) error {
	return t.s.atomic(ctx, func(tx *Store) error {
		ins, err := tx.tx.PrepareContext(ctx, `INSERT INTO events (carrier, id, waybill, hash, doc) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		defer ins.Close()
		sums := statSums{}
		for _, e := range b.Events {
			body, err := json.Marshal(toEvent(e))
			if err != nil {
				return err
			}
			res, err := ins.ExecContext(ctx, e.Carrier, e.ID, e.Waybill, e.Hash, string(body))
			if err != nil {
				return fmt.Errorf("sqlite: insert event: %w", translate(err))
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // stored already: it counted when it was
			}
			sums.add(e.Deltas)
		}
		tx.step("events")
		if err := tx.putParcels(ctx, b.Parcels); err != nil {
			return err
		}
		tx.step("parcels")
		if err := tx.applyStats(ctx, sums); err != nil {
			return err
		}
		tx.step("stats")
		if len(b.Anomalies) > 0 {
			if _, err := (&Tracking{s: tx}).PutAnomalies(ctx, b.Anomalies); err != nil {
				return err
			}
		}
		return nil
	})
}

// putParcels upserts parcel summaries.
func (s *Store) putParcels(ctx context.Context, ps []tracking.Parcel) error {
	if len(ps) == 0 {
		return nil
	}
	up, err := s.tx.PrepareContext(ctx, `INSERT INTO parcels (key, waybill, carrier, final, last_at, promise_by, collected_at, merchant_id, updated_at, doc)
		VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET final=excluded.final, last_at=excluded.last_at,
		promise_by=excluded.promise_by, collected_at=excluded.collected_at, merchant_id=excluded.merchant_id,
		updated_at=excluded.updated_at, doc=excluded.doc`)
	if err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	defer up.Close()
	for _, p := range ps {
		body, err := json.Marshal(toParcel(p))
		if err != nil {
			return err
		}
		final := 0
		if p.Final {
			final = 1
		}
		if _, err := up.ExecContext(ctx, p.Key().String(), p.Waybill, p.Carrier, final, ms(p.LastAt), ms(p.PromiseBy), ms(p.CollectedAt), p.MerchantID, ms(p.UpdatedAt), string(body)); err != nil {
			return fmt.Errorf("sqlite: upsert parcel: %w", err)
		}
	}
	return nil
}

// statSums are statistics deltas coalesced by key and metric, so that applyStats writes each
// key once.
type statSums map[tracking.StatKey]map[tracking.Metric]int

// add coalesces ds into s.
func (s statSums) add(ds []tracking.StatDelta) {
	for _, d := range ds {
		if s[d.Key] == nil {
			s[d.Key] = map[tracking.Metric]int{}
		}
		s[d.Key][d.Metric] += d.N
	}
}

// applyStats adds coalesced sums, one upsert per key, in a stable order.
func (s *Store) applyStats(ctx context.Context, sums map[tracking.StatKey]map[tracking.Metric]int) error {
	if len(sums) == 0 {
		return nil
	}
	stmt, err := s.tx.PrepareContext(ctx, statsUpsert)
	if err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	defer stmt.Close()
	type keyed struct {
		str string
		key tracking.StatKey
	}
	keys := make([]keyed, 0, len(sums))
	for k := range sums {
		keys = append(keys, keyed{k.String(), k})
	}
	slices.SortFunc(keys, func(a, b keyed) int { return strings.Compare(a.str, b.str) })
	args := make([]any, 0, 3+len(tracking.Metrics))
	for _, kk := range keys {
		k := kk.key
		m := sums[k]
		args = append(args[:0], string(k.Kind), k.ID, k.Day)
		for _, metric := range tracking.Metrics {
			args = append(args, m[metric])
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sqlite: add stats: %w", err)
		}
	}
	return nil
}

// statColumns are the stats table's counter columns, one per metric, named as the metric.
var statColumns = func() []string {
	out := make([]string, len(tracking.Metrics))
	for i, m := range tracking.Metrics {
		out[i] = string(m)
	}
	return out
}()

// statsUpsert adds one key's counters to its row, or makes the row.
var statsUpsert = func() string {
	marks, sets := make([]string, len(statColumns)), make([]string, len(statColumns))
	for i, c := range statColumns {
		marks[i], sets[i] = "?", c+" = "+c+" + excluded."+c
	}
	return `INSERT INTO stats (kind, id, day, ` + strings.Join(statColumns, ", ") + `) VALUES (?,?,?,` + strings.Join(marks, ",") +
		`) ON CONFLICT(kind, id, day) DO UPDATE SET ` + strings.Join(sets, ", ")
}()

// AddStats implements tracking.Store.
func (t *Tracking) AddStats(ctx context.Context, source string, deltas []tracking.StatDelta) error {
	return t.s.atomic(ctx, func(tx *Store) error {
		res, err := tx.tx.ExecContext(ctx, `INSERT INTO stat_sources (source) VALUES (?) ON CONFLICT DO NOTHING`, source)
		if err != nil {
			return fmt.Errorf("sqlite: stat source: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		sums := statSums{}
		sums.add(deltas)
		return tx.applyStats(ctx, sums)
	})
}

// Stats implements tracking.Store.
func (t *Tracking) Stats(ctx context.Context, q tracking.StatsQuery) ([]tracking.DayStats, error) {
	var w where
	w.add("kind = ?", string(q.Kind))
	in(&w, "id", q.IDs)
	if q.From != "" {
		w.add("day >= ?", q.From)
	}
	if q.To != "" {
		w.add("day <= ?", q.To)
	}
	rows, err := t.s.reader().QueryContext(ctx, `SELECT kind, id, day, `+strings.Join(statColumns, ", ")+` FROM stats`+w.sql()+` ORDER BY id, day`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stats: %w", err)
	}
	defer rows.Close()
	var out []tracking.DayStats
	for rows.Next() {
		var kind string
		var d tracking.DayStats
		n := make([]int, len(tracking.Metrics))
		dest := []any{&kind, &d.Key.ID, &d.Key.Day}
		for i := range n {
			dest = append(dest, &n[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		d.Key.Kind = tracking.SubjectKind(kind)
		d.Counts = map[tracking.Metric]int{}
		for i, m := range tracking.Metrics {
			if n[i] != 0 {
				d.Counts[m] = n[i]
			}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// scanEvent reads rowid, carrier, id, waybill, hash and doc: the columns win over the doc,
// which the journal writes without them.
func scanEvent(sc scanner) (tracking.Event, int64, error) {
	var n int64
	var carrier, id, waybill, hash, doc string
	if err := sc.Scan(&n, &carrier, &id, &waybill, &hash, &doc); err != nil {
		return tracking.Event{}, 0, err
	}
	j, err := decodeJSON[eventJSON](doc)
	if err != nil {
		return tracking.Event{}, 0, fmt.Errorf("sqlite: event %d: %w", n, err)
	}
	j.Carrier, j.ID, j.Waybill, j.Hash = carrier, id, waybill, hash
	e := fromEvent(j)
	if e.Holder.IsZero() {
		e.Holder = defaultHolder(e)
	}
	return e, n, nil
}

// StatTotals implements tracking.Store.
func (t *Tracking) StatTotals(ctx context.Context, kind tracking.SubjectKind, from, to string) (map[string]map[tracking.Metric]int, error) {
	out := map[string]map[tracking.Metric]int{}
	err := t.statTotals(ctx, kind, from, to, "", 0, func(id string, m map[tracking.Metric]int) { out[id] = m })
	return out, err
}

// StatTotalsPage implements tracking.Store: the primary key (kind, id, day) gives the ids in
// order, so a page reads only its own subjects' rows.
func (t *Tracking) StatTotalsPage(ctx context.Context, kind tracking.SubjectKind, from, to, after string, limit int) ([]tracking.SubjectTotals, error) {
	var out []tracking.SubjectTotals
	err := t.statTotals(ctx, kind, from, to, after, limit, func(id string, m map[tracking.Metric]int) {
		out = append(out, tracking.SubjectTotals{ID: id, Totals: m})
	})
	return out, err
}

// statTotals sums each subject's statistics of kind between from and to (days, inclusive), of
// the subjects with an id after after, in id order, at most limit (0: all), and hands each to add.
func (t *Tracking) statTotals(ctx context.Context, kind tracking.SubjectKind, from, to, after string, limit int, add func(string, map[tracking.Metric]int)) error {
	sums := make([]string, len(statColumns))
	for i, c := range statColumns {
		sums[i] = "SUM(" + c + ")"
	}
	cond, args := "", []any{string(kind), from, to}
	if after != "" {
		cond, args = " AND id > ?", append(args, after)
	}
	rows, err := t.s.reader().QueryContext(ctx, `SELECT id, `+strings.Join(sums, ", ")+`
		FROM stats WHERE kind = ? AND day >= ? AND day <= ?`+cond+` GROUP BY id ORDER BY id`+limitTail(limit), args...)
	if err != nil {
		return fmt.Errorf("sqlite: stat totals: %w", err)
	}
	defer rows.Close()
	n := make([]int, len(tracking.Metrics))
	var id string
	dest := []any{&id}
	for i := range n {
		dest = append(dest, &n[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		m := map[tracking.Metric]int{}
		for i, metric := range tracking.Metrics {
			if n[i] != 0 {
				m[metric] = n[i]
			}
		}
		add(id, m)
	}
	return rows.Err()
}

// ParcelEvents implements tracking.Store.
func (t *Tracking) ParcelEvents(ctx context.Context, k tracking.ParcelKey) ([]tracking.Event, error) {
	rows, err := t.s.reader().QueryContext(ctx, `SELECT rowid, carrier, id, waybill, hash, doc FROM events WHERE waybill = ? AND carrier = ?`, k.Waybill, k.Carrier)
	if err != nil {
		return nil, fmt.Errorf("sqlite: parcel events: %w", err)
	}
	defer rows.Close()
	var out []tracking.Event
	for rows.Next() {
		e, _, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Parcels implements tracking.Store.
func (t *Tracking) Parcels(ctx context.Context, q tracking.ParcelQuery) ([]tracking.Parcel, error) {
	var w where
	in(&w, "carrier", q.Carriers)
	if q.NotFinal {
		w.add("final = 0")
	}
	if !q.LastBefore.IsZero() {
		w.add("last_at < ?", q.LastBefore.UnixMilli())
	}
	if !q.PromiseBefore.IsZero() {
		w.add("promise_by IS NOT NULL AND promise_by < ?", q.PromiseBefore.UnixMilli())
	}
	if !q.CollectedAfter.IsZero() {
		w.add("collected_at >= ?", q.CollectedAfter.UnixMilli())
	}
	if !q.LastFrom.IsZero() {
		w.add("last_at >= ?", q.LastFrom.UnixMilli())
	}
	if !q.PromiseFrom.IsZero() {
		w.add("promise_by >= ?", q.PromiseFrom.UnixMilli())
	}
	if !q.UpdatedFrom.IsZero() {
		w.add("updated_at >= ?", q.UpdatedFrom.UnixMilli())
	}
	if q.HasMerchant {
		w.add("merchant_id != ''")
	}
	if q.MerchantID != "" {
		w.add("merchant_id = ?", q.MerchantID)
	}
	if q.After != "" {
		if q.NewestCollected {
			return nil, errors.New("sqlite: parcels: newest first does not page")
		}
		w.add("key > ?", q.After)
	}
	tail := " ORDER BY key"
	if q.NewestCollected {
		tail = " ORDER BY collected_at DESC, key"
	}
	if q.Limit > 0 {
		tail += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return list(ctx, t.s.reader(), `SELECT doc FROM parcels`+w.sql()+tail, w.args, func(sc scanner) (tracking.Parcel, error) {
		var doc string
		if err := sc.Scan(&doc); err != nil {
			return tracking.Parcel{}, err
		}
		j, err := decodeJSON[parcelJSON](doc)
		return fromParcel(j), err
	})
}

// ----- the journal (SQLite is written by one process) -----

// AppendEvents implements tracking.Journal: the events table's rowid is the sequence.
func (t *Tracking) AppendEvents(ctx context.Context, events []tracking.Event) ([]bool, int64, error) {
	stored := make([]bool, len(events))
	var last int64
	err := t.s.atomic(ctx, func(tx *Store) error {
		ins, err := tx.tx.PrepareContext(ctx, `INSERT INTO events (carrier, id, waybill, hash, doc) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		defer ins.Close()
		var buf []byte
		for i, e := range events {
			buf = appendEvent(buf[:0], e)
			res, err := ins.ExecContext(ctx, e.Carrier, e.ID, e.Waybill, e.Hash, string(buf))
			if err != nil {
				return fmt.Errorf("sqlite: insert event: %w", translate(err))
			}
			if n, _ := res.RowsAffected(); n == 1 {
				stored[i] = true
				if last, err = res.LastInsertId(); err != nil {
					return err
				}
			}
		}
		tx.step("events")
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	t.s.step("committed")
	return stored, last, nil
}

const checkpointKey = "tracking.checkpoint"

// Checkpoint implements tracking.Journal.
func (t *Tracking) Checkpoint(ctx context.Context) (int64, error) {
	var v string
	err := t.s.reader().QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, checkpointKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	var n int64
	_, err = fmt.Sscan(v, &n)
	return n, err
}

// EventsAfter implements tracking.Journal.
func (t *Tracking) EventsAfter(ctx context.Context, seq int64, limit int) ([]tracking.Event, []int64, error) {
	rows, err := t.s.reader().QueryContext(ctx, `SELECT rowid, carrier, id, waybill, hash, doc FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?`, seq, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: events after %d: %w", seq, err)
	}
	return scanEvents(rows)
}

// scanEvents reads every row of rows (rowid, carrier, id, waybill, hash, doc), with each
// event's sequence (its rowid), and closes them.
func scanEvents(rows *sql.Rows) ([]tracking.Event, []int64, error) {
	defer rows.Close()
	var evs []tracking.Event
	var seqs []int64
	for rows.Next() {
		e, n, err := scanEvent(rows)
		if err != nil {
			return nil, nil, err
		}
		evs = append(evs, e)
		seqs = append(seqs, n)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: read events: %w", err)
	}
	return evs, seqs, nil
}

// SaveDerived implements tracking.Journal.
func (t *Tracking) SaveDerived(ctx context.Context, d tracking.Derived) error {
	return t.s.atomic(ctx, func(tx *Store) error {
		if err := tx.putParcels(ctx, d.Parcels); err != nil {
			return err
		}
		sums := statSums{}
		for _, e := range d.Events {
			sums.add(e.Deltas)
		}
		if err := tx.applyStats(ctx, sums); err != nil {
			return err
		}
		if len(d.Anomalies) > 0 {
			if _, err := (&Tracking{s: tx}).PutAnomalies(ctx, d.Anomalies); err != nil {
				return err
			}
		}
		for _, e := range d.Events {
			for _, src := range e.Sources {
				if err := (&Tracking{s: tx}).AddStats(ctx, src.Key, src.Deltas); err != nil {
					return err
				}
			}
		}
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
			checkpointKey, fmt.Sprint(d.Through)); err != nil {
			return fmt.Errorf("sqlite: save checkpoint: %w", err)
		}
		tx.step("derived")
		return nil
	})
}

// ----- carrier configuration -----

type carrierJSON struct {
	FirmID       string            `json:"firm_id"`
	PromiseHours int               `json:"promise_hours,omitempty"`
	DwellHours   map[string]int    `json:"dwell_hours,omitempty"`
	Codes        map[string]string `json:"codes,omitempty"`
	UpdatedAt    int64             `json:"updated_at,omitempty"`
	WaybillRule  string            `json:"waybill_rule,omitempty"`
	GS1Prefixes  []string          `json:"gs1_prefixes,omitempty"`
	TempMinC     *float64          `json:"temp_min_c,omitempty"`
	TempMaxC     *float64          `json:"temp_max_c,omitempty"`
}

// MerchantCounts implements tracking.Store: one grouped read of the window's parcels (by the
// collected_at index), the recipients counted from the summaries' bodies.
func (t *Tracking) MerchantCounts(ctx context.Context, since time.Time, minParcels int) ([]tracking.MerchantCount, error) {
	return list(ctx, t.s.reader(), `SELECT merchant_id, COUNT(*),
		COUNT(DISTINCT NULLIF(json_extract(doc, '$.recipient_id'), ''))
		FROM parcels WHERE collected_at >= ? AND merchant_id != ''
		GROUP BY merchant_id HAVING COUNT(*) >= ? ORDER BY merchant_id`,
		[]any{since.UnixMilli(), minParcels}, func(sc scanner) (tracking.MerchantCount, error) {
			var c tracking.MerchantCount
			err := sc.Scan(&c.MerchantID, &c.Parcels, &c.Recipients)
			return c, err
		})
}

// CarrierConfig implements tracking.Store.
func (t *Tracking) CarrierConfig(ctx context.Context, firmID string) (tracking.CarrierConfig, error) {
	var doc string
	err := t.s.reader().QueryRowContext(ctx, `SELECT doc FROM carriers WHERE firm_id = ?`, firmID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return tracking.CarrierConfig{}, credtrace.ErrNotFound
	}
	if err != nil {
		return tracking.CarrierConfig{}, fmt.Errorf("sqlite: carrier config: %w", err)
	}
	j, err := decodeJSON[carrierJSON](doc)
	if err != nil {
		return tracking.CarrierConfig{}, err
	}
	c := tracking.CarrierConfig{FirmID: j.FirmID, PromiseHours: j.PromiseHours, DwellHours: map[tracking.Code]int{}, Codes: map[string]tracking.Code{}, UpdatedAt: fromMSInt(j.UpdatedAt),
		WaybillRule: j.WaybillRule, GS1Prefixes: j.GS1Prefixes, TempMinC: j.TempMinC, TempMaxC: j.TempMaxC}
	for k, v := range j.DwellHours {
		c.DwellHours[tracking.Code(k)] = v
	}
	for k, v := range j.Codes {
		c.Codes[k] = tracking.Code(v)
	}
	return c, nil
}

// PutCarrierConfig implements tracking.Store.
func (t *Tracking) PutCarrierConfig(ctx context.Context, c tracking.CarrierConfig) error {
	j := carrierJSON{FirmID: c.FirmID, PromiseHours: c.PromiseHours, DwellHours: map[string]int{}, Codes: map[string]string{}, UpdatedAt: msInt(c.UpdatedAt),
		WaybillRule: c.WaybillRule, GS1Prefixes: c.GS1Prefixes, TempMinC: c.TempMinC, TempMaxC: c.TempMaxC}
	for k, v := range c.DwellHours {
		j.DwellHours[string(k)] = v
	}
	for k, v := range c.Codes {
		j.Codes[k] = string(v)
	}
	_, err := t.s.writer().ExecContext(ctx, `INSERT INTO carriers (firm_id, doc) VALUES (?, ?) ON CONFLICT(firm_id) DO UPDATE SET doc = excluded.doc`, c.FirmID, toJSON(j))
	if err != nil {
		return fmt.Errorf("sqlite: put carrier config: %w", err)
	}
	return nil
}

// ----- incidents -----

type candidateJSON struct {
	Party      partyJSON `json:"party"`
	HQID       string    `json:"hq,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	EventIDs   []string  `json:"events,omitempty"`
	Confidence float64   `json:"confidence"`
}

type incidentJSON struct {
	ID          string          `json:"id"`
	Waybill     string          `json:"waybill"`
	Carrier     string          `json:"carrier"`
	Kind        string          `json:"kind"`
	Reporter    string          `json:"reporter,omitempty"`
	ReportedBy  string          `json:"reported_by,omitempty"`
	At          int64           `json:"at,omitempty"`
	Description string          `json:"description,omitempty"`
	Evidence    []string        `json:"evidence,omitempty"`
	Rule        string          `json:"rule"`
	Responsible partyJSON       `json:"responsible"`
	HQID        string          `json:"hq,omitempty"`
	EventIDs    []string        `json:"events,omitempty"`
	Confidence  float64         `json:"confidence"`
	Explanation string          `json:"explanation,omitempty"`
	Candidates  []candidateJSON `json:"candidates,omitempty"`
	RecordIDs   []string        `json:"records,omitempty"`
	AnomalyID   string          `json:"anomaly,omitempty"`
	CreatedAt   int64           `json:"created_at,omitempty"`
	Party       string          `json:"party,omitempty"`
	Joined      int             `json:"joined,omitempty"`
	Proposed    []proposedJSON  `json:"proposed,omitempty"`
}

type proposedJSON struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Event  string `json:"event,omitempty"`
	Record string `json:"record"`
}

func toIncident(in tracking.Incident) incidentJSON {
	a := in.Attribution
	j := incidentJSON{ID: in.ID, Waybill: in.Waybill, Carrier: in.Carrier, Kind: string(in.Kind), Reporter: in.Reporter, ReportedBy: in.ReportedBy,
		At: msInt(in.At), Description: in.Description, Evidence: in.Evidence, Rule: a.Rule, Responsible: toParty(a.Responsible), HQID: a.HQID,
		EventIDs: a.EventIDs, Confidence: a.Confidence, Explanation: a.Explanation, RecordIDs: in.RecordIDs, AnomalyID: in.AnomalyID, CreatedAt: msInt(in.CreatedAt)}
	for _, c := range a.Candidates {
		j.Candidates = append(j.Candidates, candidateJSON{Party: toParty(c.Party), HQID: c.HQID, Reason: c.Reason, EventIDs: c.EventIDs, Confidence: c.Confidence})
	}
	j.Party, j.Joined = in.Party, in.JoinedReports
	for _, p := range in.Proposed {
		j.Proposed = append(j.Proposed, proposedJSON{Kind: string(p.Subject), ID: p.SubjectID, Event: p.EventID, Record: p.RecordID})
	}
	return j
}

func fromIncident(j incidentJSON) tracking.Incident {
	in := tracking.Incident{ID: j.ID, Waybill: j.Waybill, Carrier: j.Carrier, Kind: tracking.IncidentKind(j.Kind), Reporter: j.Reporter, ReportedBy: j.ReportedBy,
		At: fromMSInt(j.At), Description: j.Description, Evidence: j.Evidence, RecordIDs: j.RecordIDs, AnomalyID: j.AnomalyID, CreatedAt: fromMSInt(j.CreatedAt),
		Attribution: tracking.Attribution{Rule: j.Rule, Responsible: fromParty(j.Responsible), HQID: j.HQID, EventIDs: j.EventIDs,
			Confidence: j.Confidence, Explanation: j.Explanation}}
	for _, c := range j.Candidates {
		in.Attribution.Candidates = append(in.Attribution.Candidates, tracking.Candidate{Party: fromParty(c.Party), HQID: c.HQID, Reason: c.Reason, EventIDs: c.EventIDs, Confidence: c.Confidence})
	}
	in.Party, in.JoinedReports = j.Party, j.Joined
	for _, p := range j.Proposed {
		in.Proposed = append(in.Proposed, tracking.Proposed{Subject: tracking.SubjectKind(p.Kind), SubjectID: p.ID, EventID: p.Event, RecordID: p.Record})
	}
	return in
}

// CreateIncident implements tracking.Store.
func (t *Tracking) CreateIncident(ctx context.Context, in tracking.Incident) error {
	_, err := t.s.writer().ExecContext(ctx, `INSERT INTO incidents (id, carrier, waybill, doc) VALUES (?,?,?,?)`, in.ID, in.Carrier, in.Waybill, toJSON(toIncident(in)))
	if err != nil {
		return fmt.Errorf("sqlite: create incident: %w", translate(err))
	}
	return nil
}

func scanIncident(sc scanner) (tracking.Incident, error) {
	var doc string
	if err := sc.Scan(&doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return tracking.Incident{}, credtrace.ErrNotFound
		}
		return tracking.Incident{}, err
	}
	j, err := decodeJSON[incidentJSON](doc)
	return fromIncident(j), err
}

// JoinIncident implements tracking.Store: one write transaction reads and rewrites the
// document, so concurrent joins queue on the writer and each counts.
func (t *Tracking) JoinIncident(ctx context.Context, id string) (tracking.Incident, error) {
	var out tracking.Incident
	err := t.s.atomic(ctx, func(tx *Store) error {
		in, err := scanIncident(tx.tx.QueryRowContext(ctx, `SELECT doc FROM incidents WHERE id = ?`, id))
		if err != nil {
			return err
		}
		in.JoinedReports++
		if _, err := tx.tx.ExecContext(ctx, `UPDATE incidents SET doc = ? WHERE id = ?`, toJSON(toIncident(in)), id); err != nil {
			return fmt.Errorf("sqlite: join incident: %w", translate(err))
		}
		out = in
		return nil
	})
	return out, err
}

// Incident implements tracking.Store.
func (t *Tracking) Incident(ctx context.Context, id string) (tracking.Incident, error) {
	return scanIncident(t.s.reader().QueryRowContext(ctx, `SELECT doc FROM incidents WHERE id = ?`, id))
}

// Incidents implements tracking.Store.
func (t *Tracking) Incidents(ctx context.Context, q tracking.IncidentQuery) ([]tracking.Incident, error) {
	w := incidentWhere(q)
	tail := w.page(pageOf(q.After, q.Limit))
	return list(ctx, t.s.reader(), `SELECT doc FROM incidents`+w.sql()+tail, w.args, scanIncident)
}

// ----- anomalies -----

type anomalyJSON struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Waybill    string   `json:"waybill,omitempty"`
	Carrier    string   `json:"carrier,omitempty"`
	MerchantID string   `json:"merchant,omitempty"`
	Detail     string   `json:"detail,omitempty"`
	EventIDs   []string `json:"events,omitempty"`
	FoundAt    int64    `json:"found_at,omitempty"`
}

func scanAnomaly(sc scanner) (tracking.Anomaly, error) {
	var doc, incident string
	if err := sc.Scan(&doc, &incident); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return tracking.Anomaly{}, credtrace.ErrNotFound
		}
		return tracking.Anomaly{}, err
	}
	j, err := decodeJSON[anomalyJSON](doc)
	return tracking.Anomaly{ID: j.ID, Kind: tracking.AnomalyKind(j.Kind), Waybill: j.Waybill, Carrier: j.Carrier, MerchantID: j.MerchantID,
		Detail: j.Detail, EventIDs: j.EventIDs, FoundAt: fromMSInt(j.FoundAt), IncidentID: incident}, err
}

// PutAnomalies implements tracking.Store.
func (t *Tracking) PutAnomalies(ctx context.Context, as []tracking.Anomaly) ([]tracking.Anomaly, error) {
	var fresh []tracking.Anomaly
	err := t.s.atomic(ctx, func(tx *Store) error {
		for _, a := range as {
			j := anomalyJSON{ID: a.ID, Kind: string(a.Kind), Waybill: a.Waybill, Carrier: a.Carrier, MerchantID: a.MerchantID, Detail: a.Detail, EventIDs: a.EventIDs, FoundAt: msInt(a.FoundAt)}
			res, err := tx.tx.ExecContext(ctx, `INSERT INTO anomalies (id, kind, carrier, incident_id, doc) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`,
				a.ID, string(a.Kind), a.Carrier, a.IncidentID, toJSON(j))
			if err != nil {
				return fmt.Errorf("sqlite: put anomaly: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				fresh = append(fresh, a)
			}
		}
		return nil
	})
	return fresh, err
}

// Anomaly implements tracking.Store.
func (t *Tracking) Anomaly(ctx context.Context, id string) (tracking.Anomaly, error) {
	return scanAnomaly(t.s.reader().QueryRowContext(ctx, `SELECT doc, incident_id FROM anomalies WHERE id = ?`, id))
}

// Anomalies implements tracking.Store.
func (t *Tracking) Anomalies(ctx context.Context, q tracking.AnomalyQuery) ([]tracking.Anomaly, error) {
	w := anomalyWhere(q)
	if q.Newest {
		tail := " ORDER BY id DESC"
		if q.Limit > 0 {
			tail += fmt.Sprintf(" LIMIT %d", q.Limit)
		}
		return list(ctx, t.s.reader(), `SELECT doc, incident_id FROM anomalies`+w.sql()+tail, w.args, scanAnomaly)
	}
	tail := w.page(pageOf(q.After, q.Limit))
	return list(ctx, t.s.reader(), `SELECT doc, incident_id FROM anomalies`+w.sql()+tail, w.args, scanAnomaly)
}

// LinkAnomaly implements tracking.Store.
func (t *Tracking) LinkAnomaly(ctx context.Context, id, incidentID string) error {
	res, err := t.s.writer().ExecContext(ctx, `UPDATE anomalies SET incident_id = ? WHERE id = ? AND incident_id = ''`, incidentID, id)
	if err != nil {
		return fmt.Errorf("sqlite: link anomaly: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := t.Anomaly(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("anomaly %s already linked: %w", id, credtrace.ErrConflict)
}

func incidentWhere(q tracking.IncidentQuery) where {
	var w where
	in(&w, "carrier", q.Carriers)
	if q.Waybill != "" {
		w.add("waybill = ?", q.Waybill)
	}
	return w
}

// CountIncidents implements tracking.Store.
func (t *Tracking) CountIncidents(ctx context.Context, q tracking.IncidentQuery) (int, error) {
	return count(ctx, t.s.reader(), "incidents", incidentWhere(q))
}

func anomalyWhere(q tracking.AnomalyQuery) where {
	var w where
	in(&w, "carrier", q.Carriers)
	if q.Kind != "" {
		w.add("kind = ?", string(q.Kind))
	}
	if q.Waybill != "" {
		w.add("json_extract(doc, '$.waybill') = ?", q.Waybill)
	}
	if q.Open {
		w.add("incident_id = ''")
	}
	return w
}

// CountAnomalies implements tracking.Store.
func (t *Tracking) CountAnomalies(ctx context.Context, q tracking.AnomalyQuery) (int, error) {
	return count(ctx, t.s.reader(), "anomalies", anomalyWhere(q))
}
