package bulk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// ImportKind is what an import file holds, one item a line.
type ImportKind string

// Import kinds.
const (
	ImportFirms   ImportKind = "firms"
	ImportSites   ImportKind = "sites"
	ImportStaff   ImportKind = "staff"
	ImportRecords ImportKind = "records"
)

// ImportKinds lists the import kinds, in the order a migration loads them.
var ImportKinds = []ImportKind{ImportFirms, ImportSites, ImportStaff, ImportRecords}

// ParseImportKind checks a kind named by a caller.
func ParseImportKind(s string) (ImportKind, error) {
	for _, k := range ImportKinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", credtrace.InvalidField("kind", "must be one of firms, sites, staff, records")
}

// Import limits.
const (
	// MaxLineBytes is the longest line an import takes; a longer one is answered invalid on its
	// own and the import goes on with the next.
	MaxLineBytes = 64 << 10
	// MaxAPILines is the most lines one POST /v1/import/{kind} takes; the command line takes any
	// number.
	MaxAPILines = 5000
)

// Statuses of an answer beyond the domain's outcomes (created, unchanged, exists).
const (
	StatusInvalid = "invalid"
)

// Field is an offending field of an invalid line.
type Field struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Answer is the import's answer to one line: its 1-based line number, its status (created,
// unchanged, exists, invalid), the archive's id of the item, and why when it was not created.
type Answer struct {
	Index  int     `json:"index"`
	Status string  `json:"status"`
	ID     string  `json:"id,omitempty"`
	Reason string  `json:"reason,omitempty"`
	Fields []Field `json:"fields,omitempty"`
}

// Summary counts the answers of one import.
type Summary struct {
	Lines     int `json:"lines"`
	Created   int `json:"created"`
	Unchanged int `json:"unchanged"`
	Exists    int `json:"exists"`
	Invalid   int `json:"invalid"`
}

func (s *Summary) count(status string) {
	s.Lines++
	switch status {
	case string(courier.Created):
		s.Created++
	case string(courier.Unchanged):
		s.Unchanged++
	case string(courier.Exists):
		s.Exists++
	default:
		s.Invalid++
	}
}

// String is the summary as the audit trail and the command line show it.
func (s Summary) String() string {
	return fmt.Sprintf("lines=%d created=%d unchanged=%d exists=%d invalid=%d", s.Lines, s.Created, s.Unchanged, s.Exists, s.Invalid)
}

// Time is a timestamp of an import line: RFC 3339 with its offset, or a date (YYYY-MM-DD) taken
// as midnight China Standard Time, the way older systems keep decision dates.
type Time struct{ time.Time }

var cst = time.FixedZone("CST", 8*3600)

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("must be a string")
	}
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.Time = v
		return nil
	}
	v, err := time.ParseInLocation(time.DateOnly, s, cst)
	if err != nil {
		return fmt.Errorf("%s is neither an RFC 3339 time with its offset nor a date YYYY-MM-DD", strconv.Quote(s))
	}
	t.Time = v
	return nil
}

type licenceLine struct {
	Number    string `json:"number"`
	Scope     string `json:"scope"`
	Status    string `json:"status"`
	ValidFrom Time   `json:"valid_from"`
	ValidTo   Time   `json:"valid_to"`
}

// FirmLine is a line of a firms file; the parent is named by USCC.
type FirmLine struct {
	USCC       string      `json:"uscc"`
	Name       string      `json:"name"`
	Kind       string      `json:"kind"`
	ParentUSCC string      `json:"parent_uscc"`
	Region     string      `json:"region"`
	Licence    licenceLine `json:"licence"`
}

// SiteLine is a line of a sites file.
type SiteLine struct {
	FirmUSCC string `json:"firm_uscc"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Region   string `json:"region"`
	Address  string `json:"address"`
}

type employmentLine struct {
	FirmUSCC string `json:"firm_uscc"`
	Role     string `json:"role"`
	From     Time   `json:"from"`
	To       Time   `json:"to"`
}

// StaffLine is a line of a staff file: a person with their employment history, oldest first.
type StaffLine struct {
	Name       string           `json:"name"`
	IDNumber   string           `json:"id_number"`
	Phone      string           `json:"phone"`
	Employment []employmentLine `json:"employment"`
}

type subjectLine struct {
	Kind     string `json:"kind"`
	USCC     string `json:"uscc"`
	SiteName string `json:"site_name"`
	IDNumber string `json:"id_number"`
}

type evidenceLine struct {
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
}

// RecordLine is a line of a records file: a historical record with its decision date.
type RecordLine struct {
	Ref        string         `json:"ref"`
	Subject    subjectLine    `json:"subject"`
	Category   string         `json:"category"`
	Source     string         `json:"source"`
	Severity   string         `json:"severity"`
	OccurredAt Time           `json:"occurred_at"`
	DecidedAt  Time           `json:"decided_at"`
	Summary    string         `json:"summary"`
	Evidence   []evidenceLine `json:"evidence"`
	LegalBasis string         `json:"legal_basis"`
	Status     string         `json:"status"`
}

// Importer runs imports through the archive.
type Importer struct {
	Courier *courier.Service
}

// strict decodes one line into dst: no unknown fields, nothing after the object.
func strict(line []byte, dst any) error {
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return credtrace.InvalidField(te.Field, "must be a %s", te.Type)
		}
		return credtrace.InvalidField("line", "not a JSON object of this kind: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if d.More() {
		return credtrace.InvalidField("line", "one JSON object a line: something follows the object")
	}
	return nil
}

// one imports one line and answers it; err is a failure of the archive, which ends the import.
func (im Importer) one(ctx context.Context, a credtrace.Caller, kind ImportKind, line []byte) (id string, outcome courier.Outcome, err error) {
	switch kind {
	case ImportFirms:
		var l FirmLine
		if err := strict(line, &l); err != nil {
			return "", "", err
		}
		f, o, err := im.Courier.ImportFirm(ctx, a, courier.FirmImport{USCC: l.USCC, Name: l.Name, Kind: courier.FirmKind(l.Kind),
			ParentUSCC: l.ParentUSCC, Region: l.Region, Licence: courier.Licence{Number: l.Licence.Number, Scope: l.Licence.Scope,
				Status: courier.LicenceStatus(l.Licence.Status), ValidFrom: l.Licence.ValidFrom.Time, ValidTo: l.Licence.ValidTo.Time}})
		return f.ID, o, err
	case ImportSites:
		var l SiteLine
		if err := strict(line, &l); err != nil {
			return "", "", err
		}
		s, o, err := im.Courier.ImportSite(ctx, a, courier.SiteImport{FirmUSCC: l.FirmUSCC,
			SiteInput: courier.SiteInput{Name: l.Name, Kind: courier.SiteKind(l.Kind), Region: l.Region, Address: l.Address}})
		return s.ID, o, err
	case ImportStaff:
		var l StaffLine
		if err := strict(line, &l); err != nil {
			return "", "", err
		}
		in := courier.StaffImport{Name: l.Name, IDNumber: l.IDNumber, Phone: l.Phone}
		for _, e := range l.Employment {
			in.Employment = append(in.Employment, courier.EmploymentImport{FirmUSCC: e.FirmUSCC, Role: e.Role, From: e.From.Time, To: e.To.Time})
		}
		p, o, err := im.Courier.ImportStaff(ctx, a, in)
		return p.ID, o, err
	default:
		var l RecordLine
		if err := strict(line, &l); err != nil {
			return "", "", err
		}
		in := courier.RecordImport{Ref: l.Ref, Status: courier.RecordStatus(l.Status),
			Subject: courier.SubjectImport{Kind: courier.SubjectKind(l.Subject.Kind), USCC: l.Subject.USCC, SiteName: l.Subject.SiteName, IDNumber: l.Subject.IDNumber},
			RecordInput: courier.RecordInput{Category: courier.Category(l.Category), Source: courier.Source(l.Source), Severity: courier.Severity(l.Severity),
				OccurredAt: l.OccurredAt.Time, DecidedAt: l.DecidedAt.Time, Summary: l.Summary, LegalBasis: l.LegalBasis}}
		for _, e := range l.Evidence {
			in.Evidence = append(in.Evidence, courier.Evidence{Kind: e.Kind, Ref: e.Ref})
		}
		r, o, err := im.Courier.ImportRecord(ctx, a, in)
		return r.ID, o, err
	}
}

// answerOf turns the result of one line into its answer; a failure that is not the line's
// fault is returned.
func answerOf(index int, id string, o courier.Outcome, err error) (Answer, error) {
	if err == nil {
		ans := Answer{Index: index, Status: string(o), ID: id}
		if o == courier.Exists {
			ans.Reason = "the archive holds this item with other values; the import leaves it as it is"
		}
		return ans, nil
	}
	if credtrace.KindOf(err) != credtrace.Invalid {
		return Answer{}, err
	}
	ans := Answer{Index: index, Status: StatusInvalid, Reason: reasonOf(err)}
	for _, f := range credtrace.FieldsOf(err) {
		ans.Fields = append(ans.Fields, Field{f.Field, f.Reason})
	}
	return ans, nil
}

func reasonOf(err error) string {
	var e *credtrace.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return "invalid input"
}

func parentUnknown(err error) bool {
	var e *credtrace.Error
	return errors.As(err, &e) && e.Code == courier.CodeParentUnknown
}

// Import reads r, one JSON object a line, and imports each line of kind on its own, telling
// answer each line's Answer as it is decided: a valid line is stored whatever the others hold,
// and a re-run answers unchanged (or exists) for what an earlier run stored. Blank lines are
// skipped. A line longer than MaxLineBytes is answered invalid. Firms whose parent is not
// registered yet are tried again once the rest of the file is in, as long as that registers
// more of them (a branch may come before its parent): their answers come after the others,
// each with its own index. Only a failure of the archive (or of answer) ends the import early;
// it is returned with the summary so far. The summary is appended to the audit trail.
func (im Importer) Import(ctx context.Context, a credtrace.Caller, kind ImportKind, r io.Reader, answer func(Answer) error) (Summary, error) {
	var sum Summary
	if err := courier.CheckImporter(a); err != nil {
		return sum, err
	}
	tell := func(ans Answer) error {
		sum.count(ans.Status)
		return answer(ans)
	}
	type waiting struct {
		index int
		line  []byte
		err   error
	}
	var later []waiting
	br := bufio.NewReaderSize(r, MaxLineBytes+1)
	index := 0
	for {
		line, long, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, fmt.Errorf("import %s: read line %d: %w", kind, index+1, err)
		}
		index++
		if long {
			if err := tell(Answer{Index: index, Status: StatusInvalid, Reason: fmt.Sprintf("the line is longer than %d bytes", MaxLineBytes)}); err != nil {
				return sum, err
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		id, o, err := im.one(ctx, a, kind, line)
		if kind == ImportFirms && parentUnknown(err) {
			later = append(later, waiting{index, bytes.Clone(line), err})
			continue
		}
		ans, err := answerOf(index, id, o, err)
		if err != nil {
			return sum, fmt.Errorf("import %s: line %d: %w", kind, index, err)
		}
		if err := tell(ans); err != nil {
			return sum, err
		}
	}
	// The second pass: round after round while a round registers a parent someone waits for.
	for progress := true; progress && len(later) > 0; {
		progress = false
		var still []waiting
		for _, w := range later {
			id, o, err := im.one(ctx, a, kind, w.line)
			if parentUnknown(err) {
				still = append(still, waiting{w.index, w.line, err})
				continue
			}
			progress = true
			ans, err := answerOf(w.index, id, o, err)
			if err != nil {
				return sum, fmt.Errorf("import %s: line %d: %w", kind, w.index, err)
			}
			if err := tell(ans); err != nil {
				return sum, err
			}
		}
		later = still
	}
	for _, w := range later {
		ans, _ := answerOf(w.index, "", "", w.err)
		if err := tell(ans); err != nil {
			return sum, err
		}
	}
	if err := im.Courier.AuditImport(ctx, a, string(kind), sum.String()); err != nil {
		return sum, fmt.Errorf("import %s: audit: %w", kind, err)
	}
	return sum, nil
}

// readLine reads one line without its end; long is true (and the rest of the line skipped)
// when it is longer than the reader's buffer allows.
func readLine(br *bufio.Reader) (line []byte, long bool, err error) {
	line, err = br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err == io.EOF {
			err = nil
		}
		return nil, true, err
	}
	if err == io.EOF {
		if len(line) == 0 {
			return nil, false, io.EOF
		}
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > MaxLineBytes {
		return nil, true, nil
	}
	return line, false, nil
}

// CountLines counts the non-blank lines of an import body, for the API's limit.
func CountLines(body []byte) int {
	n := 0
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte("\n"))
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
		body = rest
	}
	return n
}
