package scoring

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/credtrace/credtrace"
)

// The inputs of a run as NDJSON: a header line naming the run, then one line per input, in a
// fixed order (kinds in the order below, each by id), so that the same inputs always give the
// same bytes and InputsHash can stand for them. The format is part of the domain, like the
// methodology document: the API streams it and `credtrace score --replay` reads it back.
//
//	{"type":"run","run_id":…,"as_of":…,"period":…,"method":…,"method_hash":…,"inputs_hash":…,"stats_from":…}
//	{"type":"firm","id":…,"parent_id":…,"kind":…}
//	{"type":"site","id":…,"firm_id":…}
//	{"type":"staff","id":…,"firm_id":…}            the employer at as_of
//	{"type":"record","id":…,"subject":…,"subject_id":…,"category":…,"severity":…,"occurred_at":…,"status":…}
//	{"type":"stat","subject":…,"subject_id":…,"handled":…,…}   totals of the window
//	{"type":"rating","id":…,"rater_kind":…,"rater_id":…,"stars":…,"weight":…,…}   as it was at as_of
//	{"type":"commitment","subject":…,"subject_id":…,"id":…}
//
// A rater id is a merchant id or the keyed hash of a consumer's phone, never the phone.

// InputsHeader is the first line of an export: which run the inputs are of.
type InputsHeader struct {
	RunID      string    `json:"run_id"`
	AsOf       time.Time `json:"as_of"`
	Period     string    `json:"period"`
	Method     string    `json:"method"`
	MethodHash string    `json:"method_hash"`
	// InputsHash is the hash the run recorded when it read its inputs (empty for runs older than
	// the hash); the lines that follow hash to it when nothing changed since.
	InputsHash string `json:"inputs_hash,omitempty"`
	StatsFrom  string `json:"stats_from"`
}

type inputLine struct {
	Type string `json:"type"`
	// run header
	*InputsHeader
	// firm, site, staff, record, commitment, rating
	ID       string `json:"id,omitempty"`
	ParentID string `json:"parent_id,omitempty"`
	Kind     string `json:"kind,omitempty"`
	FirmID   string `json:"firm_id,omitempty"`
	// record, stat, commitment
	Subject    string     `json:"subject,omitempty"`
	SubjectID  string     `json:"subject_id,omitempty"`
	Category   string     `json:"category,omitempty"`
	Severity   string     `json:"severity,omitempty"`
	OccurredAt *time.Time `json:"occurred_at,omitempty"`
	Status     string     `json:"status,omitempty"`
	// stat
	Counts *Counts `json:"counts,omitempty"`
	// rating
	RaterKind string     `json:"rater_kind,omitempty"`
	RaterID   string     `json:"rater_id,omitempty"`
	Waybill   string     `json:"waybill,omitempty"`
	SiteID    string     `json:"site_id,omitempty"`
	StaffID   string     `json:"staff_id,omitempty"`
	Stars     int        `json:"stars,omitempty"`
	Weight    *float64   `json:"weight,omitempty"`
	Flags     []string   `json:"flags,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	RatedAt   *time.Time `json:"rated_at,omitempty"`
	Version   int        `json:"version,omitempty"`
}

func tp(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

// inputLines lists the lines after the header, in their fixed order.
func inputLines(in Inputs) []inputLine {
	var out []inputLine
	firms := append([]FirmIn(nil), in.Firms...)
	sort.Slice(firms, func(i, j int) bool { return firms[i].ID < firms[j].ID })
	for _, f := range firms {
		out = append(out, firmLine(f))
	}
	sites := append([]SiteIn(nil), in.Sites...)
	sort.Slice(sites, func(i, j int) bool { return sites[i].ID < sites[j].ID })
	for _, s := range sites {
		out = append(out, siteLine(s))
	}
	staff := append([]StaffIn(nil), in.Staff...)
	sort.Slice(staff, func(i, j int) bool { return staff[i].ID < staff[j].ID })
	for _, p := range staff {
		out = append(out, staffLine(p))
	}
	recs := append([]RecordIn(nil), in.Records...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	for _, r := range recs {
		out = append(out, recordLine(r))
	}
	for _, kind := range []SubjectKind{Firm, Site, Staff} {
		ids := make([]string, 0, len(in.Stats[kind]))
		for id := range in.Stats[kind] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			out = append(out, statLine(kind, id, in.Stats[kind][id]))
		}
	}
	ratings := append([]Rating(nil), in.Ratings...)
	sort.Slice(ratings, func(i, j int) bool { return ratings[i].ID < ratings[j].ID })
	for _, r := range ratings {
		out = append(out, ratingLine(r))
	}
	keys := make([]string, 0, len(in.Commitments))
	for k := range in.Commitments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kind, id := splitKey(k)
		ids := append([]string(nil), in.Commitments[k]...)
		sort.Strings(ids)
		for _, c := range ids {
			out = append(out, inputLine{Type: "commitment", Subject: string(kind), SubjectID: id, ID: c})
		}
	}
	return out
}

// The lines of one input each, as inputLines orders them and the streamed run hashes them.

func firmLine(f FirmIn) inputLine {
	return inputLine{Type: "firm", ID: f.ID, ParentID: f.ParentID, Kind: f.Kind}
}

func siteLine(s SiteIn) inputLine { return inputLine{Type: "site", ID: s.ID, FirmID: s.FirmID} }

func staffLine(p StaffIn) inputLine { return inputLine{Type: "staff", ID: p.ID, FirmID: p.FirmID} }

func recordLine(r RecordIn) inputLine {
	return inputLine{Type: "record", ID: r.ID, Subject: string(r.SubjectKind), SubjectID: r.SubjectID, Category: r.Category,
		Severity: r.Severity, OccurredAt: tp(r.OccurredAt), Status: r.Status}
}

func statLine(kind SubjectKind, id string, c Counts) inputLine {
	return inputLine{Type: "stat", Subject: string(kind), SubjectID: id, Counts: &c}
}

func ratingLine(r Rating) inputLine {
	w := r.Weight
	// rated_at only where it is not the last update (a platform's rating), so that the
	// lines, and the hash, of ratings given through credtrace stay as they were.
	var rated *time.Time
	if !r.RatedAt.IsZero() && !r.RatedAt.Equal(r.UpdatedAt) {
		rated = tp(r.RatedAt)
	}
	return inputLine{Type: "rating", ID: r.ID, RaterKind: string(r.RaterKind), RaterID: r.RaterID, Waybill: r.Waybill,
		FirmID: r.FirmID, SiteID: r.SiteID, StaffID: r.StaffID, Stars: r.Stars, Weight: &w, Flags: r.Flags,
		CreatedAt: tp(r.CreatedAt), UpdatedAt: tp(r.UpdatedAt), RatedAt: rated, Version: r.Version}
}

func splitKey(k string) (SubjectKind, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return SubjectKind(k[:i]), k[i+1:]
		}
	}
	return "", k
}

// WriteInputs writes the header and the inputs as NDJSON.
func WriteInputs(w io.Writer, h InputsHeader, in Inputs) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(inputLine{Type: "run", InputsHeader: &h}); err != nil {
		return err
	}
	for _, l := range inputLines(in) {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// InputsHash is the SHA-256 of the input lines (without the header) as WriteInputs writes them.
func InputsHash(in Inputs) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	enc.SetEscapeHTML(false)
	for _, l := range inputLines(in) {
		enc.Encode(l) // a hash.Hash never fails to write
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ReadInputs reads an export back: its header and the inputs. credtrace.ErrInvalid names the bad line.
func ReadInputs(r io.Reader) (InputsHeader, Inputs, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var h InputsHeader
	in := Inputs{Stats: map[SubjectKind]map[string]Counts{}, Commitments: map[string][]string{}}
	for n := 1; ; n++ {
		var l inputLine
		l.InputsHeader = &InputsHeader{}
		err := dec.Decode(&l)
		if errors.Is(err, io.EOF) {
			if n == 1 {
				return h, in, credtrace.InvalidField("inputs", "empty: want a header line first")
			}
			return h, in, nil
		}
		if err != nil {
			return h, in, credtrace.InvalidField("inputs", "line %d: %v", n, err)
		}
		if n == 1 && l.Type != "run" {
			return h, in, credtrace.InvalidField("inputs", "line 1: want the run header, got %q", l.Type)
		}
		switch l.Type {
		case "run":
			if n != 1 {
				return h, in, credtrace.InvalidField("inputs", "line %d: a second header", n)
			}
			h = *l.InputsHeader
			in.AsOf, in.StatsFrom = h.AsOf, h.StatsFrom
		case "firm":
			in.Firms = append(in.Firms, FirmIn{ID: l.ID, ParentID: l.ParentID, Kind: l.Kind})
		case "site":
			in.Sites = append(in.Sites, SiteIn{ID: l.ID, FirmID: l.FirmID})
		case "staff":
			in.Staff = append(in.Staff, StaffIn{ID: l.ID, FirmID: l.FirmID})
		case "record":
			rec := RecordIn{ID: l.ID, SubjectKind: SubjectKind(l.Subject), SubjectID: l.SubjectID, Category: l.Category, Severity: l.Severity, Status: l.Status}
			if l.OccurredAt != nil {
				rec.OccurredAt = *l.OccurredAt
			}
			in.Records = append(in.Records, rec)
		case "stat":
			if l.Counts == nil {
				return h, in, credtrace.InvalidField("inputs", "line %d: a stat without counts", n)
			}
			kind := SubjectKind(l.Subject)
			if in.Stats[kind] == nil {
				in.Stats[kind] = map[string]Counts{}
			}
			in.Stats[kind][l.SubjectID] = *l.Counts
		case "rating":
			rt := Rating{ID: l.ID, RaterKind: RaterKind(l.RaterKind), RaterID: l.RaterID, Waybill: l.Waybill, FirmID: l.FirmID, SiteID: l.SiteID,
				StaffID: l.StaffID, Stars: l.Stars, Flags: l.Flags, Version: l.Version}
			if l.Weight != nil {
				rt.Weight = *l.Weight
			}
			if l.CreatedAt != nil {
				rt.CreatedAt = *l.CreatedAt
			}
			if l.UpdatedAt != nil {
				rt.UpdatedAt = *l.UpdatedAt
			}
			if l.RatedAt != nil {
				rt.RatedAt = *l.RatedAt
			}
			in.Ratings = append(in.Ratings, rt)
		case "commitment":
			k := key(SubjectKind(l.Subject), l.SubjectID)
			in.Commitments[k] = append(in.Commitments[k], l.ID)
		default:
			return h, in, credtrace.InvalidField("inputs", "line %d: unknown type %q", n, l.Type)
		}
	}
}

// RunInputs reads the inputs a run used, as of its as-of time (regulators): the same Gather
// the run called, so that what the export shows is what the run read, as long as the archive
// keeps its history (record statuses, employments and ratings do).
func (s *Service) RunInputs(ctx context.Context, c credtrace.Caller, runID string) (InputsHeader, Inputs, error) {
	if !c.IsRegulator() {
		return InputsHeader{}, Inputs{}, credtrace.ErrForbidden
	}
	r, err := s.store.Run(ctx, runID)
	if err != nil {
		return InputsHeader{}, Inputs{}, err
	}
	m, err := s.runMethod(ctx, r)
	if err != nil {
		return InputsHeader{}, Inputs{}, err
	}
	in, err := s.Gather(ctx, m, r.AsOf)
	if err != nil {
		return InputsHeader{}, Inputs{}, fmt.Errorf("gather inputs of run %s: %w", r.ID, err)
	}
	return InputsHeader{RunID: r.ID, AsOf: r.AsOf, Period: r.Period, Method: r.Method, MethodHash: r.MethodHash, InputsHash: r.InputsHash, StatsFrom: in.StatsFrom}, in, nil
}

// runMethod is the methodology a run used, checked against the hash it recorded.
func (s *Service) runMethod(ctx context.Context, r Run) (Methodology, error) {
	d, err := s.MethodVersion(ctx, r.Method)
	if err != nil {
		return Methodology{}, err
	}
	if r.MethodHash != "" && d.Hash != r.MethodHash {
		return Methodology{}, fmt.Errorf("run %s used methodology %s with hash %s, the stored one has %s: %w", r.ID, r.Method, r.MethodHash, d.Hash, credtrace.ErrState)
	}
	return ParseMethod(d.Doc)
}

// Difference is one subject whose recomputed score or grade differs from the stored one; a
// zero side is a subject that one of them lacks.
type Difference struct {
	Subject          SubjectKind
	SubjectID        string
	Stored, Replayed *Score
}

// Replay is the outcome of recomputing a run from its inputs.
type Replay struct {
	Run         Run
	Header      InputsHeader
	InputsHash  string // of the inputs replayed
	InputsMatch bool   // they hash to what the run recorded (true when it recorded nothing)
	Subjects    int
	Differences []Difference
}

// Same reports whether the replay found no difference at all.
func (p Replay) Same() bool { return p.InputsMatch && len(p.Differences) == 0 }

// Replay recomputes a run (regulators) with its methodology version from inputs — an export
// read from src, or, when src is nil, the inputs read again from the store — and compares each
// subject's score and grade with what the run stored.
func (s *Service) Replay(ctx context.Context, c credtrace.Caller, runID string, src io.Reader) (Replay, error) {
	if !c.IsRegulator() {
		return Replay{}, credtrace.ErrForbidden
	}
	r, err := s.store.Run(ctx, runID)
	if err != nil {
		return Replay{}, err
	}
	m, err := s.runMethod(ctx, r)
	if err != nil {
		return Replay{}, err
	}
	var h InputsHeader
	var in Inputs
	if src == nil {
		h, in, err = s.RunInputs(ctx, c, runID)
	} else {
		h, in, err = ReadInputs(src)
		if err == nil && h.RunID != r.ID {
			err = credtrace.InvalidField("inputs", "the inputs are of run %s, not %s", h.RunID, r.ID)
		}
	}
	if err != nil {
		return Replay{}, err
	}
	in.AsOf = r.AsOf
	out := Replay{Run: r, Header: h, InputsHash: InputsHash(in)}
	out.InputsMatch = r.InputsHash == "" || r.InputsHash == out.InputsHash
	stored := map[string]Score{}
	for q := (ScoreQuery{RunID: r.ID, Limit: 5000}); ; {
		ss, err := s.store.Scores(ctx, q)
		if err != nil {
			return Replay{}, err
		}
		for _, sc := range ss {
			stored[key(sc.Subject, sc.SubjectID)] = sc
		}
		if len(ss) < q.Limit {
			break
		}
		q.After = ss[len(ss)-1].SubjectID
	}
	again := Compute(m, in, r.ID)
	out.Subjects = len(again)
	for _, sc := range again {
		k := key(sc.Subject, sc.SubjectID)
		old, ok := stored[k]
		delete(stored, k)
		if !ok {
			sc := sc
			out.Differences = append(out.Differences, Difference{Subject: sc.Subject, SubjectID: sc.SubjectID, Replayed: &sc})
		} else if old.Value != sc.Value || old.Grade != sc.Grade {
			old, sc := old, sc
			out.Differences = append(out.Differences, Difference{Subject: sc.Subject, SubjectID: sc.SubjectID, Stored: &old, Replayed: &sc})
		}
	}
	for _, old := range stored {
		old := old
		out.Differences = append(out.Differences, Difference{Subject: old.Subject, SubjectID: old.SubjectID, Stored: &old})
	}
	sort.Slice(out.Differences, func(i, j int) bool {
		a, b := out.Differences[i], out.Differences[j]
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.SubjectID < b.SubjectID
	})
	return out, nil
}
