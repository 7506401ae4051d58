package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// Backend-local shapes of the JSON columns.
type evidenceJSON struct {
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
}

type employmentJSON struct {
	FirmID string `json:"firm_id"`
	Role   string `json:"role"`
	From   int64  `json:"from"`
	To     int64  `json:"to,omitempty"`
}

type transitionJSON struct {
	From   string `json:"from"`
	To     string `json:"to"`
	At     int64  `json:"at"`
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

type repairJSON struct {
	ID          string         `json:"id"`
	RequestedAt int64          `json:"requested_at"`
	RequestedBy string         `json:"requested_by"`
	Evidence    []evidenceJSON `json:"evidence"`
	Commitment  string         `json:"commitment"`
	Status      string         `json:"status"`
	DecidedAt   int64          `json:"decided_at,omitempty"`
	DecidedBy   string         `json:"decided_by,omitempty"`
	Reason      string         `json:"reason,omitempty"`
}

func msInt(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMSInt(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func toEvidence(ev []courier.Evidence) string {
	out := make([]evidenceJSON, len(ev))
	for i, e := range ev {
		out[i] = evidenceJSON{Kind: e.Kind, Ref: e.Ref}
	}
	return toJSON(out)
}

func fromEvidenceJSON(in []evidenceJSON) []courier.Evidence {
	if len(in) == 0 {
		return nil
	}
	out := make([]courier.Evidence, len(in))
	for i, e := range in {
		out[i] = courier.Evidence{Kind: e.Kind, Ref: e.Ref}
	}
	return out
}

func fromEvidence(s string) ([]courier.Evidence, error) {
	var in []evidenceJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode evidence: %w", err)
	}
	return fromEvidenceJSON(in), nil
}

// ----- firms -----

const firmCols = `id, uscc, name, kind, parent_id, region, licence_number, licence_scope, licence_from, licence_to, licence_status, created_at, updated_at, version, gln`

func firmArgs(f courier.Firm) []any {
	return []any{f.ID, f.USCC, f.Name, string(f.Kind), f.ParentID, f.Region, f.Licence.Number, f.Licence.Scope,
		ms(f.Licence.ValidFrom), ms(f.Licence.ValidTo), string(f.Licence.Status), ms(f.CreatedAt), ms(f.UpdatedAt), f.Version, nullable(f.GLN)}
}

type scanner interface{ Scan(dest ...any) error }

func scanFirm(sc scanner) (courier.Firm, error) {
	var f courier.Firm
	var kind, status string
	var from, to, created, updated sql.NullInt64
	var gln sql.NullString
	err := sc.Scan(&f.ID, &f.USCC, &f.Name, &kind, &f.ParentID, &f.Region, &f.Licence.Number, &f.Licence.Scope,
		&from, &to, &status, &created, &updated, &f.Version, &gln)
	if err != nil {
		return courier.Firm{}, translate(err)
	}
	f.Kind, f.Licence.Status = courier.FirmKind(kind), courier.LicenceStatus(status)
	f.Licence.ValidFrom, f.Licence.ValidTo = fromMS(from), fromMS(to)
	f.CreatedAt, f.UpdatedAt, f.GLN = fromMS(created), fromMS(updated), gln.String
	return f, nil
}

// CreateFirm implements courier.Store.
func (s *Store) CreateFirm(ctx context.Context, f courier.Firm) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO firms (`+firmCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, firmArgs(f)...)
	if err != nil {
		return fmt.Errorf("sqlite: create firm: %w", translate(err))
	}
	return nil
}

// UpdateFirm implements courier.Store.
func (s *Store) UpdateFirm(ctx context.Context, f courier.Firm) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE firms SET uscc=?, name=?, kind=?, parent_id=?, region=?, licence_number=?,
		licence_scope=?, licence_from=?, licence_to=?, licence_status=?, created_at=?, updated_at=?, version=?, gln=?
		WHERE id=? AND version=?`, append(firmArgs(f)[1:], f.ID, f.Version-1)...)
	if err := s.update(ctx, "firms", f.ID, res, err); err != nil {
		return fmt.Errorf("sqlite: update firm: %w", err)
	}
	return nil
}

// Firm implements courier.Store.
func (s *Store) Firm(ctx context.Context, id string) (courier.Firm, error) {
	return scanFirm(s.reader().QueryRowContext(ctx, `SELECT `+firmCols+` FROM firms WHERE id = ?`, id))
}

// FirmByUSCC implements courier.Store.
func (s *Store) FirmByUSCC(ctx context.Context, uscc string) (courier.Firm, error) {
	return scanFirm(s.reader().QueryRowContext(ctx, `SELECT `+firmCols+` FROM firms WHERE uscc = ?`, uscc))
}

// FirmByGLN implements courier.Store.
func (s *Store) FirmByGLN(ctx context.Context, gln string) (courier.Firm, error) {
	return scanFirm(s.reader().QueryRowContext(ctx, `SELECT `+firmCols+` FROM firms WHERE gln = ?`, gln))
}

// nullable stores "" as NULL, so that a unique index holds only the values given.
func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// Firms implements courier.Store.
func (s *Store) Firms(ctx context.Context, q courier.FirmQuery) ([]courier.Firm, error) {
	var w where
	in(&w, "id", q.IDs)
	in(&w, "parent_id", q.ParentIDs)
	if q.Kind != "" {
		w.add("kind = ?", string(q.Kind))
	}
	if q.Region != "" {
		w.add(`region LIKE ? ESCAPE '\'`, likeEscape(q.Region)+"%")
	}
	if q.Licence != "" {
		w.add("licence_status = ?", string(q.Licence))
	}
	if q.Name != "" {
		w.add(`name LIKE ? ESCAPE '\'`, "%"+likeEscape(q.Name)+"%")
	}
	tail := w.page(q.Page)
	return list(ctx, s.reader(), `SELECT `+firmCols+` FROM firms`+w.sql()+tail, w.args, scanFirm)
}

func list[T any](ctx context.Context, db querier, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query: %w", err)
	}
	return out, nil
}

// ----- sites -----

const siteCols = `id, firm_id, name, kind, region, address, created_at, updated_at, version, gln`

func scanSite(sc scanner) (courier.Site, error) {
	var st courier.Site
	var kind string
	var created, updated sql.NullInt64
	var gln sql.NullString
	if err := sc.Scan(&st.ID, &st.FirmID, &st.Name, &kind, &st.Region, &st.Address, &created, &updated, &st.Version, &gln); err != nil {
		return courier.Site{}, translate(err)
	}
	st.Kind, st.CreatedAt, st.UpdatedAt, st.GLN = courier.SiteKind(kind), fromMS(created), fromMS(updated), gln.String
	return st, nil
}

// CreateSite implements courier.Store.
func (s *Store) CreateSite(ctx context.Context, st courier.Site) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO sites (`+siteCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		st.ID, st.FirmID, st.Name, string(st.Kind), st.Region, st.Address, ms(st.CreatedAt), ms(st.UpdatedAt), st.Version, nullable(st.GLN))
	if err != nil {
		return fmt.Errorf("sqlite: create site: %w", translate(err))
	}
	return nil
}

// UpdateSite implements courier.Store.
func (s *Store) UpdateSite(ctx context.Context, st courier.Site) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE sites SET firm_id=?, name=?, kind=?, region=?, address=?, created_at=?, updated_at=?, version=?, gln=?
		WHERE id=? AND version=?`, st.FirmID, st.Name, string(st.Kind), st.Region, st.Address, ms(st.CreatedAt), ms(st.UpdatedAt), st.Version, nullable(st.GLN), st.ID, st.Version-1)
	if err := s.update(ctx, "sites", st.ID, res, err); err != nil {
		return fmt.Errorf("sqlite: update site: %w", err)
	}
	return nil
}

// Site implements courier.Store.
func (s *Store) Site(ctx context.Context, id string) (courier.Site, error) {
	return scanSite(s.reader().QueryRowContext(ctx, `SELECT `+siteCols+` FROM sites WHERE id = ?`, id))
}

// SiteByGLN implements courier.Store.
func (s *Store) SiteByGLN(ctx context.Context, gln string) (courier.Site, error) {
	return scanSite(s.reader().QueryRowContext(ctx, `SELECT `+siteCols+` FROM sites WHERE gln = ?`, gln))
}

// Sites implements courier.Store.
func (s *Store) Sites(ctx context.Context, q courier.SiteQuery) ([]courier.Site, error) {
	var w where
	in(&w, "firm_id", q.FirmIDs)
	if q.Kind != "" {
		w.add("kind = ?", string(q.Kind))
	}
	tail := w.page(q.Page)
	return list(ctx, s.reader(), `SELECT `+siteCols+` FROM sites`+w.sql()+tail, w.args, scanSite)
}

// ----- staff -----

const staffCols = `id, name, id_hash, id_masked, phone_hash, phone_masked, employment, created_at, updated_at, version`

func toEmployment(es []courier.Employment) string {
	out := make([]employmentJSON, len(es))
	for i, e := range es {
		out[i] = employmentJSON{FirmID: e.FirmID, Role: e.Role, From: msInt(e.From), To: msInt(e.To)}
	}
	return toJSON(out)
}

func scanStaff(sc scanner) (courier.Staff, error) {
	var p courier.Staff
	var emp string
	var created, updated sql.NullInt64
	if err := sc.Scan(&p.ID, &p.Name, &p.IDHash, &p.IDMasked, &p.PhoneHash, &p.PhoneMasked, &emp, &created, &updated, &p.Version); err != nil {
		return courier.Staff{}, translate(err)
	}
	var es []employmentJSON
	if err := json.Unmarshal([]byte(emp), &es); err != nil {
		return courier.Staff{}, fmt.Errorf("sqlite: staff %s employment: %w", p.ID, err)
	}
	for _, e := range es {
		p.Employment = append(p.Employment, courier.Employment{FirmID: e.FirmID, Role: e.Role, From: fromMSInt(e.From), To: fromMSInt(e.To)})
	}
	p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
	return p, nil
}

func (s *Store) indexStaffFirms(ctx context.Context, t *Store, p courier.Staff) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM staff_firms WHERE staff_id = ?`, p.ID); err != nil {
		return err
	}
	for _, id := range p.FirmIDs() {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO staff_firms (staff_id, firm_id) VALUES (?, ?)`, p.ID, id); err != nil {
			return err
		}
	}
	return nil
}

// CreateStaff implements courier.Store.
func (s *Store) CreateStaff(ctx context.Context, p courier.Staff) error {
	err := s.atomic(ctx, func(t *Store) error {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO staff (`+staffCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			p.ID, p.Name, p.IDHash, p.IDMasked, p.PhoneHash, p.PhoneMasked, toEmployment(p.Employment), ms(p.CreatedAt), ms(p.UpdatedAt), p.Version)
		if err != nil {
			return translate(err)
		}
		return s.indexStaffFirms(ctx, t, p)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create staff: %w", err)
	}
	return nil
}

// UpdateStaff implements courier.Store.
func (s *Store) UpdateStaff(ctx context.Context, p courier.Staff) error {
	err := s.atomic(ctx, func(t *Store) error {
		res, err := t.tx.ExecContext(ctx, `UPDATE staff SET name=?, id_hash=?, id_masked=?, phone_hash=?, phone_masked=?, employment=?,
			created_at=?, updated_at=?, version=? WHERE id=? AND version=?`,
			p.Name, p.IDHash, p.IDMasked, p.PhoneHash, p.PhoneMasked, toEmployment(p.Employment), ms(p.CreatedAt), ms(p.UpdatedAt), p.Version, p.ID, p.Version-1)
		if err := t.update(ctx, "staff", p.ID, res, err); err != nil {
			return err
		}
		return s.indexStaffFirms(ctx, t, p)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update staff: %w", err)
	}
	return nil
}

// Staff implements courier.Store.
func (s *Store) Staff(ctx context.Context, id string) (courier.Staff, error) {
	return scanStaff(s.reader().QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE id = ?`, id))
}

// StaffByIDHash implements courier.Store.
func (s *Store) StaffByIDHash(ctx context.Context, hash string) (courier.Staff, error) {
	return scanStaff(s.reader().QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE id_hash = ?`, hash))
}

// StaffList implements courier.Store.
func (s *Store) StaffList(ctx context.Context, q courier.StaffQuery) ([]courier.Staff, error) {
	var w where
	if q.FirmIDs != nil {
		var sub where
		in(&sub, "firm_id", q.FirmIDs)
		w.add(`id IN (SELECT staff_id FROM staff_firms`+sub.sql()+`)`, sub.args...)
	}
	tail := w.page(q.Page)
	return list(ctx, s.reader(), `SELECT `+staffCols+` FROM staff`+w.sql()+tail, w.args, scanStaff)
}

// ----- records -----

const recordCols = `id, subject_kind, subject_id, firm_id, category, source, severity, occurred_at, summary, evidence, legal_basis,
	status, created_by, created_at, confirmed_at, public_until, repair_eligible_at, history, repairs, repair_pending, version, decided_at`

func recordArgs(r courier.Record) []any {
	hist := make([]transitionJSON, len(r.History))
	for i, h := range r.History {
		hist[i] = transitionJSON{From: string(h.From), To: string(h.To), At: msInt(h.At), By: h.By, Reason: h.Reason}
	}
	reps := make([]repairJSON, len(r.Repairs))
	for i, rp := range r.Repairs {
		ev := make([]evidenceJSON, len(rp.Evidence))
		for j, e := range rp.Evidence {
			ev[j] = evidenceJSON{Kind: e.Kind, Ref: e.Ref}
		}
		reps[i] = repairJSON{ID: rp.ID, RequestedAt: msInt(rp.RequestedAt), RequestedBy: rp.RequestedBy, Evidence: ev,
			Commitment: rp.Commitment, Status: string(rp.Status), DecidedAt: msInt(rp.DecidedAt), DecidedBy: rp.DecidedBy, Reason: rp.Reason}
	}
	pending := 0
	if r.RepairPending() {
		pending = 1
	}
	return []any{r.ID, string(r.Subject.Kind), r.Subject.ID, r.FirmID, string(r.Category), string(r.Source), string(r.Severity),
		ms(r.OccurredAt), r.Summary, toEvidence(r.Evidence), r.LegalBasis, string(r.Status), r.CreatedBy, ms(r.CreatedAt),
		ms(r.ConfirmedAt), ms(r.PublicUntil), ms(r.RepairEligibleAt), toJSON(hist), toJSON(reps), pending, r.Version, ms(r.DecidedAt)}
}

func scanRecord(sc scanner) (courier.Record, error) {
	var r courier.Record
	var kind, cat, src, sev, status, ev, hist, reps string
	var occurred, created, confirmed, until, eligible, decided sql.NullInt64
	var pending int
	err := sc.Scan(&r.ID, &kind, &r.Subject.ID, &r.FirmID, &cat, &src, &sev, &occurred, &r.Summary, &ev, &r.LegalBasis,
		&status, &r.CreatedBy, &created, &confirmed, &until, &eligible, &hist, &reps, &pending, &r.Version, &decided)
	if err != nil {
		return courier.Record{}, translate(err)
	}
	r.Subject.Kind, r.Category, r.Source, r.Severity, r.Status = courier.SubjectKind(kind), courier.Category(cat), courier.Source(src), courier.Severity(sev), courier.RecordStatus(status)
	r.OccurredAt, r.CreatedAt, r.ConfirmedAt, r.PublicUntil, r.RepairEligibleAt = fromMS(occurred), fromMS(created), fromMS(confirmed), fromMS(until), fromMS(eligible)
	r.DecidedAt = fromMS(decided)
	if r.Evidence, err = fromEvidence(ev); err != nil {
		return courier.Record{}, fmt.Errorf("sqlite: record %s: %w", r.ID, err)
	}
	var hs []transitionJSON
	if err := json.Unmarshal([]byte(hist), &hs); err != nil {
		return courier.Record{}, fmt.Errorf("sqlite: record %s history: %w", r.ID, err)
	}
	for _, h := range hs {
		r.History = append(r.History, courier.Transition{From: courier.RecordStatus(h.From), To: courier.RecordStatus(h.To), At: fromMSInt(h.At), By: h.By, Reason: h.Reason})
	}
	var rs []repairJSON
	if err := json.Unmarshal([]byte(reps), &rs); err != nil {
		return courier.Record{}, fmt.Errorf("sqlite: record %s repairs: %w", r.ID, err)
	}
	for _, rp := range rs {
		r.Repairs = append(r.Repairs, courier.Repair{ID: rp.ID, RequestedAt: fromMSInt(rp.RequestedAt), RequestedBy: rp.RequestedBy,
			Evidence: fromEvidenceJSON(rp.Evidence), Commitment: rp.Commitment, Status: courier.RepairStatus(rp.Status),
			DecidedAt: fromMSInt(rp.DecidedAt), DecidedBy: rp.DecidedBy, Reason: rp.Reason})
	}
	return r, nil
}

// CreateRecord implements courier.Store.
func (s *Store) CreateRecord(ctx context.Context, r courier.Record) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO records (`+recordCols+`, changed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		append(recordArgs(r), msInt(r.ChangedAt()))...)
	if err != nil {
		return fmt.Errorf("sqlite: create record: %w", translate(err))
	}
	return nil
}

// UpdateRecord implements courier.Store.
func (s *Store) UpdateRecord(ctx context.Context, r courier.Record) error {
	args := append(recordArgs(r)[1:], msInt(r.ChangedAt()), r.ID, r.Version-1)
	res, err := s.writer().ExecContext(ctx, `UPDATE records SET subject_kind=?, subject_id=?, firm_id=?, category=?, source=?, severity=?,
		occurred_at=?, summary=?, evidence=?, legal_basis=?, status=?, created_by=?, created_at=?, confirmed_at=?, public_until=?,
		repair_eligible_at=?, history=?, repairs=?, repair_pending=?, version=?, decided_at=?, changed_at=? WHERE id=? AND version=?`, args...)
	if err := s.update(ctx, "records", r.ID, res, err); err != nil {
		return fmt.Errorf("sqlite: update record: %w", err)
	}
	return nil
}

// Record implements courier.Store.
func (s *Store) Record(ctx context.Context, id string) (courier.Record, error) {
	return scanRecord(s.reader().QueryRowContext(ctx, `SELECT `+recordCols+` FROM records WHERE id = ?`, id))
}

// Records implements courier.Store.
func (s *Store) Records(ctx context.Context, q courier.RecordQuery) ([]courier.Record, error) {
	var w where
	if q.Subject != nil {
		w.add("subject_kind = ? AND subject_id = ?", string(q.Subject.Kind), q.Subject.ID)
	}
	subjectsIn(&w, q.Subjects)
	in(&w, "firm_id", q.FirmIDs)
	if len(q.Status) > 0 {
		in(&w, "status", q.Status)
	}
	if q.Category != "" {
		w.add("category = ?", string(q.Category))
	}
	if q.RepairPending {
		w.add("repair_pending = 1")
	}
	if !q.ChangedSince.IsZero() {
		w.add("changed_at >= ?", msInt(q.ChangedSince))
	}
	tail := w.page(q.Page)
	return list(ctx, s.reader(), `SELECT `+recordCols+` FROM records`+w.sql()+tail, w.args, scanRecord)
}

// ----- objections -----

const objectionCols = `id, record_id, firm_id, filed_by, reasons, evidence, filed_at, review_by, status, decided_at, decided_by, decision, correct_by, corrected_at, version`

func objectionArgs(o courier.Objection) []any {
	return []any{o.ID, o.RecordID, o.FirmID, o.FiledBy, o.Reasons, toEvidence(o.Evidence), ms(o.FiledAt), ms(o.ReviewBy),
		string(o.Status), ms(o.DecidedAt), o.DecidedBy, o.Decision, ms(o.CorrectBy), ms(o.CorrectedAt), o.Version}
}

func scanObjection(sc scanner) (courier.Objection, error) {
	var o courier.Objection
	var ev, status string
	var filed, review, decided, correct, corrected sql.NullInt64
	err := sc.Scan(&o.ID, &o.RecordID, &o.FirmID, &o.FiledBy, &o.Reasons, &ev, &filed, &review, &status, &decided, &o.DecidedBy,
		&o.Decision, &correct, &corrected, &o.Version)
	if err != nil {
		return courier.Objection{}, translate(err)
	}
	o.Status = courier.ObjectionStatus(status)
	o.FiledAt, o.ReviewBy, o.DecidedAt, o.CorrectBy, o.CorrectedAt = fromMS(filed), fromMS(review), fromMS(decided), fromMS(correct), fromMS(corrected)
	if o.Evidence, err = fromEvidence(ev); err != nil {
		return courier.Objection{}, fmt.Errorf("sqlite: objection %s: %w", o.ID, err)
	}
	return o, nil
}

// CreateObjection implements courier.Store.
func (s *Store) CreateObjection(ctx context.Context, o courier.Objection) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO objections (`+objectionCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, objectionArgs(o)...)
	if err != nil {
		return fmt.Errorf("sqlite: create objection: %w", translate(err))
	}
	return nil
}

// UpdateObjection implements courier.Store.
func (s *Store) UpdateObjection(ctx context.Context, o courier.Objection) error {
	args := append(objectionArgs(o)[1:], o.ID, o.Version-1)
	res, err := s.writer().ExecContext(ctx, `UPDATE objections SET record_id=?, firm_id=?, filed_by=?, reasons=?, evidence=?, filed_at=?,
		review_by=?, status=?, decided_at=?, decided_by=?, decision=?, correct_by=?, corrected_at=?, version=? WHERE id=? AND version=?`, args...)
	if err := s.update(ctx, "objections", o.ID, res, err); err != nil {
		return fmt.Errorf("sqlite: update objection: %w", err)
	}
	return nil
}

// Objection implements courier.Store.
func (s *Store) Objection(ctx context.Context, id string) (courier.Objection, error) {
	return scanObjection(s.reader().QueryRowContext(ctx, `SELECT `+objectionCols+` FROM objections WHERE id = ?`, id))
}

// Objections implements courier.Store.
func objectionWhere(q courier.ObjectionQuery) where {
	var w where
	if q.RecordID != "" {
		w.add("record_id = ?", q.RecordID)
	}
	in(&w, "firm_id", q.FirmIDs)
	if len(q.Status) > 0 {
		in(&w, "status", q.Status)
	}
	if !q.ReviewBefore.IsZero() {
		w.add("review_by < ?", msInt(q.ReviewBefore))
	}
	return w
}

// Objections implements courier.Store.
func (s *Store) Objections(ctx context.Context, q courier.ObjectionQuery) ([]courier.Objection, error) {
	w := objectionWhere(q)
	tail := w.page(q.Page)
	return list(ctx, s.reader(), `SELECT `+objectionCols+` FROM objections`+w.sql()+tail, w.args, scanObjection)
}

// CountObjections implements courier.Store.
func (s *Store) CountObjections(ctx context.Context, q courier.ObjectionQuery) (int, error) {
	w := objectionWhere(q)
	return count(ctx, s.reader(), "objections", w)
}

// ----- commitments -----

const commitmentCols = `id, subject_kind, subject_id, firm_id, text, scope, signer, signed_at, created_at, created_by`

func scanCommitment(sc scanner) (courier.Commitment, error) {
	var c courier.Commitment
	var kind string
	var signed, created sql.NullInt64
	if err := sc.Scan(&c.ID, &kind, &c.Subject.ID, &c.FirmID, &c.Text, &c.Scope, &c.Signer, &signed, &created, &c.CreatedBy); err != nil {
		return courier.Commitment{}, translate(err)
	}
	c.Subject.Kind, c.SignedAt, c.CreatedAt = courier.SubjectKind(kind), fromMS(signed), fromMS(created)
	return c, nil
}

// CreateCommitment implements courier.Store.
func (s *Store) CreateCommitment(ctx context.Context, c courier.Commitment) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO commitments (`+commitmentCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		c.ID, string(c.Subject.Kind), c.Subject.ID, c.FirmID, c.Text, c.Scope, c.Signer, ms(c.SignedAt), ms(c.CreatedAt), c.CreatedBy)
	if err != nil {
		return fmt.Errorf("sqlite: create commitment: %w", translate(err))
	}
	return nil
}

// Commitments implements courier.Store.
func (s *Store) Commitments(ctx context.Context, q courier.CommitmentQuery) ([]courier.Commitment, error) {
	var w where
	in(&w, "firm_id", q.FirmIDs)
	if q.Subject != nil {
		w.add("subject_kind = ? AND subject_id = ?", string(q.Subject.Kind), q.Subject.ID)
	}
	subjectsIn(&w, q.Subjects)
	tail := w.page(q.Page)
	return list(ctx, s.reader(), `SELECT `+commitmentCols+` FROM commitments`+w.sql()+tail, w.args, scanCommitment)
}

// ----- tokens -----

const tokenCols = `id, hash, role, firm_id, merchant_id, staff_id, label, created_at, created_by, revoked_at, expires_at, last_used_at, rotated_at, retired_hash, retired_until`

func scanToken(sc scanner) (courier.Token, error) {
	var t courier.Token
	var role string
	var created, revoked, expires, used, rotated, retiredUntil sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Hash, &role, &t.FirmID, &t.MerchantID, &t.StaffID, &t.Label, &created, &t.CreatedBy, &revoked,
		&expires, &used, &rotated, &t.RetiredHash, &retiredUntil); err != nil {
		return courier.Token{}, translate(err)
	}
	t.Role, t.CreatedAt, t.RevokedAt = credtrace.Role(role), fromMS(created), fromMS(revoked)
	t.ExpiresAt, t.LastUsedAt, t.RotatedAt, t.RetiredUntil = fromMS(expires), fromMS(used), fromMS(rotated), fromMS(retiredUntil)
	return t, nil
}

// CreateToken implements courier.Store.
func (s *Store) CreateToken(ctx context.Context, t courier.Token) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		t.ID, t.Hash, string(t.Role), t.FirmID, t.MerchantID, t.StaffID, t.Label, ms(t.CreatedAt), t.CreatedBy, ms(t.RevokedAt),
		ms(t.ExpiresAt), ms(t.LastUsedAt), ms(t.RotatedAt), t.RetiredHash, ms(t.RetiredUntil))
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", translate(err))
	}
	return nil
}

// Token implements courier.Store.
func (s *Store) Token(ctx context.Context, id string) (courier.Token, error) {
	return scanToken(s.reader().QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ?`, id))
}

// TokenByHash implements courier.Store: the current secret first, then a retired one.
func (s *Store) TokenByHash(ctx context.Context, hash string) (courier.Token, error) {
	return scanToken(s.reader().QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?
		UNION ALL SELECT `+tokenCols+` FROM tokens WHERE retired_hash = ? AND retired_hash != '' LIMIT 1`, hash, hash))
}

// Tokens implements courier.Store.
func (s *Store) Tokens(ctx context.Context, q courier.TokenQuery) ([]courier.Token, error) {
	var w where
	if q.FirmID != "" {
		w.add("firm_id = ?", q.FirmID)
	}
	tail := w.page(q.Page)
	return list(ctx, s.reader(), `SELECT `+tokenCols+` FROM tokens`+w.sql()+tail, w.args, scanToken)
}

// RotateToken implements courier.Store.
func (s *Store) RotateToken(ctx context.Context, id string, r courier.Rotation) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE tokens SET hash = ?, retired_hash = ?, retired_until = ?, rotated_at = ? WHERE id = ?`,
		r.Hash, r.RetiredHash, ms(r.RetiredUntil), ms(r.At), id)
	if err != nil {
		return fmt.Errorf("sqlite: rotate token: %w", translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return credtrace.ErrNotFound
	}
	return nil
}

// TouchToken implements courier.Store.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`, ms(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: touch token: %w", translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return credtrace.ErrNotFound
	}
	return nil
}

// RevokeToken implements courier.Store.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ?`, ms(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: revoke token: %w", translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return credtrace.ErrNotFound
	}
	return nil
}

// CountTokens implements courier.Store.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count tokens: %w", err)
	}
	return n, nil
}

// ----- audit -----

const auditCols = `seq, at, actor, action, entity, entity_id, detail, prev_hash, hash`

func scanAudit(sc scanner) (courier.AuditEntry, error) {
	var e courier.AuditEntry
	var at sql.NullInt64
	if err := sc.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Entity, &e.EntityID, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
		return courier.AuditEntry{}, translate(err)
	}
	e.At = fromMS(at)
	return e, nil
}

// LastAudit implements courier.Store.
func (s *Store) LastAudit(ctx context.Context) (courier.AuditEntry, bool, error) {
	e, err := scanAudit(s.reader().QueryRowContext(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, credtrace.ErrNotFound) {
		return courier.AuditEntry{}, false, nil
	}
	if err != nil {
		return courier.AuditEntry{}, false, fmt.Errorf("sqlite: last audit: %w", err)
	}
	return e, true, nil
}

// AppendAudit implements courier.Store.
func (s *Store) AppendAudit(ctx context.Context, e courier.AuditEntry) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO audit (`+auditCols+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		e.Seq, ms(e.At), e.Actor, e.Action, e.Entity, e.EntityID, e.Detail, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", translate(err))
	}
	return nil
}

// AuditEntries implements courier.Store.
func (s *Store) AuditEntries(ctx context.Context, after int64, limit int) ([]courier.AuditEntry, error) {
	if limit <= 0 {
		limit = -1 // SQLite's "no limit", as in the MongoDB backend
	}
	return list(ctx, s.reader(), `SELECT `+auditCols+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, []any{after, limit}, scanAudit)
}

// ----- audit checkpoints -----

const checkpointCols = `seq, hash, at, key_id, signature`

func scanCheckpoint(sc scanner) (courier.Checkpoint, error) {
	var c courier.Checkpoint
	var at sql.NullInt64
	if err := sc.Scan(&c.Seq, &c.Hash, &at, &c.KeyID, &c.Signature); err != nil {
		return courier.Checkpoint{}, translate(err)
	}
	c.At = fromMS(at)
	return c, nil
}

// PutCheckpoint implements courier.Store: ErrConflict when the Seq is taken.
func (s *Store) PutCheckpoint(ctx context.Context, c courier.Checkpoint) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO audit_checkpoints (`+checkpointCols+`) VALUES (?,?,?,?,?)`,
		c.Seq, c.Hash, ms(c.At), c.KeyID, c.Signature)
	if err != nil {
		return fmt.Errorf("sqlite: put checkpoint %d: %w", c.Seq, translate(err))
	}
	return nil
}

// LatestCheckpoint implements courier.Store.
func (s *Store) LatestCheckpoint(ctx context.Context) (courier.Checkpoint, bool, error) {
	c, err := scanCheckpoint(s.reader().QueryRowContext(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, credtrace.ErrNotFound) {
		return courier.Checkpoint{}, false, nil
	}
	if err != nil {
		return courier.Checkpoint{}, false, fmt.Errorf("sqlite: latest checkpoint: %w", err)
	}
	return c, true, nil
}

// Checkpoints implements courier.Store.
func (s *Store) Checkpoints(ctx context.Context, after int64, limit int) ([]courier.Checkpoint, error) {
	if limit <= 0 {
		limit = -1
	}
	return list(ctx, s.reader(), `SELECT `+checkpointCols+` FROM audit_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?`, []any{after, limit}, scanCheckpoint)
}

// ----- tree generation and guesses -----

// TreeGeneration implements courier.Store.
func (s *Store) TreeGeneration(ctx context.Context) (int64, error) {
	var n int64
	err := s.reader().QueryRowContext(ctx, `SELECT n FROM counters WHERE name = 'tree'`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: tree generation: %w", err)
	}
	return n, nil
}

// BumpTreeGeneration implements courier.Store.
func (s *Store) BumpTreeGeneration(ctx context.Context) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO counters (name, n) VALUES ('tree', 1) ON CONFLICT(name) DO UPDATE SET n = n + 1`)
	if err != nil {
		return fmt.Errorf("sqlite: bump tree generation: %w", translate(err))
	}
	return nil
}

// Guesses implements courier.Store.
func (s *Store) Guesses(ctx context.Context, key string) (courier.Guesses, error) {
	var g courier.Guesses
	var last int64
	err := s.reader().QueryRowContext(ctx, `SELECT count, last FROM guesses WHERE key = ?`, key).Scan(&g.Count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return courier.Guesses{}, nil
	}
	if err != nil {
		return courier.Guesses{}, fmt.Errorf("sqlite: guesses: %w", err)
	}
	g.Last = fromMSInt(last)
	return g, nil
}

// AddGuess implements courier.Store.
func (s *Store) AddGuess(ctx context.Context, key string, at time.Time, window time.Duration) (courier.Guesses, error) {
	var g courier.Guesses
	var last int64
	err := s.writer().QueryRowContext(ctx, `INSERT INTO guesses (key, count, last) VALUES (?1, 1, ?2)
		ON CONFLICT(key) DO UPDATE SET count = CASE WHEN last < ?3 THEN 1 ELSE count + 1 END, last = MAX(last, ?2)
		RETURNING count, last`, key, at.UnixMilli(), at.Add(-window).UnixMilli()).Scan(&g.Count, &last)
	if err != nil {
		return courier.Guesses{}, fmt.Errorf("sqlite: add guess: %w", translate(err))
	}
	g.Last = fromMSInt(last)
	return g, nil
}

// ----- settings -----

// Setting implements courier.Store.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	if err := s.reader().QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return "", translate(err)
	}
	return v, nil
}

// InitSetting implements courier.Store.
func (s *Store) InitSetting(ctx context.Context, key, value string) (string, error) {
	var out string
	err := s.atomic(ctx, func(t *Store) error {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return t.tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&out)
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: init setting %s: %w", key, err)
	}
	return out, nil
}

// DeleteSetting implements courier.Store. Outside a transaction the row is deleted with
// secure_delete on, and the WAL is checkpointed and truncated, so that neither the database
// file nor its WAL keeps the value's bytes.
func (s *Store) DeleteSetting(ctx context.Context, key string) error {
	if s.tx != nil {
		if _, err := s.tx.ExecContext(ctx, `DELETE FROM settings WHERE key = ?`, key); err != nil {
			return fmt.Errorf("sqlite: delete setting %s: %w", key, err)
		}
		return nil
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: delete setting %s: %w", key, err)
	}
	defer conn.Close()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`PRAGMA secure_delete = ON`, nil},
		{`DELETE FROM settings WHERE key = ?`, []any{key}},
		{`PRAGMA secure_delete = OFF`, nil},
		{`PRAGMA wal_checkpoint(TRUNCATE)`, nil},
	} {
		if _, err := conn.ExecContext(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("sqlite: delete setting %s: %w", key, err)
		}
	}
	return nil
}

var _ courier.Store = (*Store)(nil)

// subjectsIn adds "the subject is one of subs": one IN list of ids per kind. A nil list does not
// filter; an empty one matches nothing.
func subjectsIn(w *where, subs []courier.Subject) {
	if subs == nil {
		return
	}
	if len(subs) == 0 {
		w.add("0")
		return
	}
	var kinds []courier.SubjectKind
	ids := map[courier.SubjectKind][]any{}
	for _, sub := range subs {
		if _, ok := ids[sub.Kind]; !ok {
			kinds = append(kinds, sub.Kind)
		}
		ids[sub.Kind] = append(ids[sub.Kind], sub.ID)
	}
	var conds []string
	var args []any
	for _, k := range kinds {
		conds = append(conds, "(subject_kind = ? AND subject_id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(ids[k])), ",")+"))")
		args = append(append(args, string(k)), ids[k]...)
	}
	w.add("("+strings.Join(conds, " OR ")+")", args...)
}
