// Package bulk holds the archive's bulk file formats: exports for credit-sharing platforms as
// NDJSON or CSV (UTF-8 with a byte-order mark, for spreadsheets), written a row at a time while
// a SHA-256 of the bytes is kept, and NDJSON imports for migrations, answered a line at a time.
// It is an adapter, like httpapi: the domains decide what is exported and imported and who may;
// the HTTP API and the command line both use it.
package bulk

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
)

// Format is the file format of an export.
type Format string

// Formats.
const (
	NDJSON Format = "ndjson"
	CSV    Format = "csv"
)

// Media types of the formats.
const (
	MediaNDJSON = "application/x-ndjson"
	MediaCSV    = "text/csv"
)

// Media returns the Content-Type of f.
func (f Format) Media() string {
	if f == CSV {
		return MediaCSV + "; charset=utf-8; header=present"
	}
	return MediaNDJSON + "; charset=utf-8"
}

// BOM is the UTF-8 byte-order mark a CSV export starts with, so that spreadsheet programs read
// the Chinese names as UTF-8.
const BOM = "\ufeff"

// Col is one column of a row: its name (the NDJSON key, the CSV header) and its value: a
// string, a time.Time (zero: null, or an empty cell), a bool or a []string.
type Col struct {
	Name  string
	Value any
}

// Writer writes the rows of one export and keeps their count and the SHA-256 of every byte
// written (the BOM and the CSV header included), for the export's manifest.
type Writer struct {
	format Format
	buf    *bufio.Writer
	csv    *csv.Writer
	hash   hash.Hash
	bytes  int64
	rows   int
}

type counter struct{ w *Writer }

func (c counter) Write(p []byte) (int, error) {
	c.w.bytes += int64(len(p))
	return len(p), nil
}

// NewWriter starts an export to w; a CSV export writes the BOM and the header of columns now.
func NewWriter(w io.Writer, f Format, columns []string) (*Writer, error) {
	h := sha256.New()
	x := &Writer{format: f, hash: h}
	x.buf = bufio.NewWriterSize(io.MultiWriter(w, h, counter{x}), 32<<10)
	if f != CSV {
		return x, nil
	}
	if _, err := x.buf.WriteString(BOM); err != nil {
		return nil, err
	}
	x.csv = csv.NewWriter(x.buf)
	x.csv.UseCRLF = true // RFC 4180, and what spreadsheets write
	if err := x.csv.Write(columns); err != nil {
		return nil, err
	}
	return x, nil
}

// Columns returns the names of a row's columns.
func Columns(row []Col) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = c.Name
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// cell is a value as a CSV cell. A text that a spreadsheet would take for a formula (=, +, -,
// @, a tab or a carriage return first) is quoted with a leading apostrophe (OWASP's advice
// against CSV injection); the NDJSON keeps the text as it is.
func cell(v any) string {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return stamp(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []string:
		return guard(strings.Join(x, ";"))
	case string:
		return guard(x)
	}
	return guard(fmt.Sprint(v))
}

func guard(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return stamp(x)
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return v
}

// Write writes one row.
func (x *Writer) Write(row []Col) error {
	x.rows++
	if x.format == CSV {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c.Value)
		}
		return x.csv.Write(cells)
	}
	x.buf.WriteByte('{')
	for i, c := range row {
		if i > 0 {
			x.buf.WriteByte(',')
		}
		k, _ := json.Marshal(c.Name)
		v, err := json.Marshal(jsonValue(c.Value))
		if err != nil {
			return fmt.Errorf("export: column %s: %w", c.Name, err)
		}
		x.buf.Write(k)
		x.buf.WriteByte(':')
		x.buf.Write(v)
	}
	x.buf.WriteString("}\n")
	return nil
}

// Flush writes what is buffered through to the underlying writer.
func (x *Writer) Flush() error {
	if x.csv != nil {
		x.csv.Flush()
		if err := x.csv.Error(); err != nil {
			return err
		}
	}
	return x.buf.Flush()
}

// Manifest describes an export file once it is written.
type Manifest struct {
	Rows   int    `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // hex
}

// Manifest flushes the writer and returns the count of rows and the hash of the bytes.
func (x *Writer) Manifest() (Manifest, error) {
	if err := x.Flush(); err != nil {
		return Manifest{}, err
	}
	return Manifest{Rows: x.rows, Bytes: x.bytes, SHA256: hex.EncodeToString(x.hash.Sum(nil))}, nil
}

// Kind is what an export holds.
type Kind string

// Export kinds: public data, then the regulators'.
const (
	KindDisclosures  Kind = "disclosures"
	KindRedList      Kind = "redlist"
	KindBlackList    Kind = "blacklist"
	KindSanctions    Kind = "sanctions"
	KindRecords      Kind = "records"
	KindRecordsAll   Kind = "records_all"
	KindSanctionsAll Kind = "sanctions_all"
)

// Kinds lists the export kinds.
var Kinds = []Kind{KindDisclosures, KindRedList, KindBlackList, KindSanctions, KindRecords, KindRecordsAll, KindSanctionsAll}

// Exporter is what an export reads: *courier.Service and *scoring.Service (nil: no sanction
// exports).
type Exporter struct {
	Courier *courier.Service
	Scoring *scoring.Service
}

// Check answers the error Export would answer before its first row: an unknown kind, a caller
// that may not export it, a bad window. A handler checks before it commits to a status.
func (e Exporter) Check(a credtrace.Caller, kind Kind, w courier.Window) error {
	switch kind {
	case KindDisclosures, KindRecords, KindRecordsAll:
		return courier.CheckRecordExport(a, recordSets[kind], w)
	case KindRedList, KindBlackList, KindSanctions, KindSanctionsAll:
		if e.Scoring == nil {
			return credtrace.InvalidField("kind", "this service keeps no sanctions")
		}
		return scoring.CheckSanctionExport(a, scoring.SanctionSet(kind), w)
	}
	return credtrace.InvalidField("kind", "must be one of %s", kindList())
}

var recordSets = map[Kind]courier.RecordSet{KindDisclosures: courier.Disclosures, KindRecords: courier.InForce, KindRecordsAll: courier.AllRecords}

// Export streams the rows of kind in w to out in format f, and returns its manifest. Access is
// the domains': an error before the first row (a refusal, a bad window) leaves out untouched.
func (e Exporter) Export(ctx context.Context, a credtrace.Caller, kind Kind, w courier.Window, f Format, out io.Writer) (Manifest, error) {
	var x *Writer
	start := func(cols []string) error {
		if x != nil {
			return nil
		}
		var err error
		x, err = NewWriter(out, f, cols)
		return err
	}
	if err := e.Check(a, kind, w); err != nil {
		return Manifest{}, err
	}
	var err error
	switch kind {
	case KindDisclosures, KindRecords, KindRecordsAll:
		set := recordSets[kind]
		cols := RecordCols
		if kind == KindDisclosures {
			cols = DisclosureCols
		}
		err = e.Courier.ExportRecords(ctx, a, set, w, func(r courier.RecordRow) error {
			row := cols(r)
			if err := start(Columns(row)); err != nil {
				return err
			}
			return x.Write(row)
		})
		if err == nil {
			err = start(Columns(cols(courier.RecordRow{})))
		}
	default:
		set := scoring.SanctionSet(kind)
		err = e.Scoring.ExportSanctions(ctx, a, set, w, func(r scoring.SanctionRow) error {
			row := SanctionCols(set, r)
			if err := start(Columns(row)); err != nil {
				return err
			}
			return x.Write(row)
		})
		if err == nil {
			err = start(Columns(SanctionCols(set, scoring.SanctionRow{})))
		}
	}
	if err != nil {
		return Manifest{}, err
	}
	return x.Manifest()
}

func kindList() string {
	var s []string
	for _, k := range Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// DisclosureCols are the columns of a public disclosure row: the firm by code and name, the
// record as the public disclosure shows it (no evidence, no actors; never a person's record).
func DisclosureCols(r courier.RecordRow) []Col {
	x := r.Record
	return []Col{{"record_id", x.ID}, {"withdrawn", !r.Live && x.ID != ""}, {"uscc", r.Firm.USCC}, {"firm_name", r.Firm.Name},
		{"subject_kind", string(x.Subject.Kind)}, {"subject_id", x.Subject.ID}, {"category", string(x.Category)},
		{"severity", string(x.Severity)}, {"status", string(x.Status)}, {"occurred_at", x.OccurredAt}, {"decided_at", decided(x)},
		{"confirmed_at", x.ConfirmedAt}, {"public_until", x.PublicUntil}, {"summary", x.Summary}, {"legal_basis", x.LegalBasis},
		{"changed_at", x.ChangedAt()}}
}

func decided(r courier.Record) time.Time {
	if r.ID == "" {
		return time.Time{}
	}
	return r.Decided()
}

// RecordCols are the columns of a regulator's record row: everything but the history, people by
// their pseudonymous id only.
func RecordCols(r courier.RecordRow) []Col {
	x := r.Record
	var ev []string
	for _, e := range x.Evidence {
		ev = append(ev, e.Kind+":"+e.Ref)
	}
	return []Col{{"record_id", x.ID}, {"withdrawn", !r.Live && x.ID != ""}, {"firm_id", x.FirmID}, {"uscc", r.Firm.USCC}, {"firm_name", r.Firm.Name},
		{"subject_kind", string(x.Subject.Kind)}, {"subject_id", x.Subject.ID}, {"category", string(x.Category)}, {"source", string(x.Source)},
		{"severity", string(x.Severity)}, {"status", string(x.Status)}, {"occurred_at", x.OccurredAt}, {"decided_at", decided(x)},
		{"created_at", x.CreatedAt}, {"confirmed_at", x.ConfirmedAt}, {"public_until", x.PublicUntil}, {"repair_eligible_at", x.RepairEligibleAt},
		{"repair_pending", x.RepairPending()}, {"summary", x.Summary}, {"legal_basis", x.LegalBasis}, {"evidence", ev}, {"changed_at", x.ChangedAt()}}
}

// SanctionCols are the columns of a sanction row. The public sets carry what the public lists
// and disclosures show; the regulators' full set adds the rule, the records behind it and the
// deciding tokens.
func SanctionCols(set scoring.SanctionSet, r scoring.SanctionRow) []Col {
	x := r.Sanction
	row := []Col{{"sanction_id", x.ID}, {"withdrawn", !r.Live && x.ID != ""}, {"kind", string(x.Kind)}, {"uscc", r.USCC}, {"firm_name", r.Name},
		{"status", string(x.Status)}, {"reason", x.Reason}, {"legal_basis", x.LegalBasis}, {"period", x.Period},
		{"start", x.Start}, {"end", x.End}, {"decided_at", x.DecidedAt}, {"lifted_at", x.LiftedAt}, {"changed_at", changed(x)}}
	if set.Public() {
		return row
	}
	return append(row, Col{"firm_id", x.FirmID}, Col{"rule", x.Rule}, Col{"record_ids", x.RecordIDs}, Col{"score_runs", x.ScoreRuns},
		Col{"proposed_at", x.ProposedAt}, Col{"proposed_by", x.ProposedBy}, Col{"reviewed_at", x.ReviewedAt}, Col{"reviewed_by", x.ReviewedBy},
		Col{"decided_by", x.DecidedBy}, Col{"decision", x.Decision}, Col{"lift_reason", x.LiftReason})
}

func changed(x scoring.Sanction) time.Time {
	if x.ID == "" {
		return time.Time{}
	}
	return x.ChangedAt()
}
