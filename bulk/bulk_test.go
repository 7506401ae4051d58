package bulk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/bulk"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
)

const (
	adminSecret = "ct_admin-secret-0123456789abcdef"
	residentID  = "11010519491231002X"
	mobile      = "13800138000"
)

var now = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

type fixture struct {
	ctx context.Context
	st  *sqlite.Store
	svc *courier.Service
	reg credtrace.Caller
	clk *time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := now
	svc := courier.NewService(st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), func() time.Time { return clk })
	if _, err := svc.Bootstrap(ctx, adminSecret); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	reg, err := svc.Authenticate(ctx, adminSecret)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return &fixture{ctx: ctx, st: st, svc: svc, reg: reg, clk: &clk}
}

// uscc makes a valid unified social credit code from a number.
func uscc(n int) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	body := fmt.Sprintf("91130100MA%07d", n)
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, body[i]) * weights[i]
	}
	return body + string(alphabet[(31-sum%31)%31])
}

func firmLine(n int, kind string, parent int) string {
	p := ""
	if parent > 0 {
		p = uscc(parent)
	}
	return fmt.Sprintf(`{"uscc":%q,"name":"顺达速运 %d","kind":%q,"parent_uscc":%q,"region":"130102",`+
		`"licence":{"number":"冀邮%d","scope":"省内","status":"active","valid_from":"2025-01-01","valid_to":"2031-01-01T00:00:00+08:00"}}`,
		uscc(n), n, kind, p, n)
}

// run imports body and returns the answers by line number and the summary.
func (f *fixture) run(t *testing.T, kind bulk.ImportKind, body string) (map[int]bulk.Answer, bulk.Summary) {
	t.Helper()
	got := map[int]bulk.Answer{}
	sum, err := bulk.Importer{Courier: f.svc}.Import(f.ctx, f.reg, kind, strings.NewReader(body), func(a bulk.Answer) error {
		if _, dup := got[a.Index]; dup {
			t.Errorf("line %d answered twice", a.Index)
		}
		got[a.Index] = a
		return nil
	})
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	return got, sum
}

func status(answers map[int]bulk.Answer) map[int]string {
	out := map[int]string{}
	for i, a := range answers {
		out[i] = a.Status
	}
	return out
}

func wantStatus(t *testing.T, got map[int]bulk.Answer, want map[int]string) {
	t.Helper()
	if g := status(got); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("answers = %v, want %v (%+v)", g, want, got)
	}
}

// TestImportFirms: a file with valid and invalid lines stores the valid ones (a branch before
// its parent included, in the second pass), answers each line, and a re-run changes nothing.
func TestImportFirms(t *testing.T) {
	f := newFixture(t)
	seq, _, _ := f.st.LastAudit(f.ctx)
	file := strings.Join([]string{
		firmLine(2, "branch", 1), // 1: its parent comes on line 3
		`{"uscc":"nonsense","name":"x","kind":"hq","region":"130102"}`, // 2: bad code, no licence
		firmLine(1, "hq", 0), // 3
		"",                   // 4: blank, skipped
		`{"uscc":` + "\"" + uscc(3) + "\"" + `,"colour":"red"}`, // 5: unknown field
		firmLine(4, "outlet", 9),                                // 6: parent nowhere
		`[1,2]`,                                                 // 7: not an object
		firmLine(5, "outlet", 2),                                // 8: parent is line 1's branch, itself waiting for line 3
		"{" + strings.Repeat(" ", bulk.MaxLineBytes) + "}",      // 9: too long
	}, "\n") + "\n"
	got, sum := f.run(t, bulk.ImportFirms, file)
	wantStatus(t, got, map[int]string{1: "created", 2: "invalid", 3: "created", 5: "invalid", 6: "invalid", 7: "invalid", 8: "created", 9: "invalid"})
	if sum.Created != 3 || sum.Invalid != 5 || sum.Lines != 8 {
		t.Errorf("summary = %+v, want 3 created and 5 invalid of 8", sum)
	}
	if a := got[6]; len(a.Fields) != 1 || a.Fields[0].Field != "parent_uscc" {
		t.Errorf("line 6 = %+v, want parent_uscc named", a)
	}
	if a := got[2]; !strings.Contains(fmt.Sprint(a.Fields), "uscc") || !strings.Contains(fmt.Sprint(a.Fields), "licence.number") {
		t.Errorf("line 2 = %+v, want uscc and licence.number named", a)
	}
	if !strings.Contains(got[9].Reason, "longer than") {
		t.Errorf("line 9 = %+v, want the line limit named", got[9])
	}
	branch, err := f.svc.FirmByUSCC(f.ctx, uscc(2))
	if err != nil {
		t.Fatalf("the branch was not stored: %v", err)
	}
	hq, _ := f.svc.FirmByUSCC(f.ctx, uscc(1))
	if branch.ParentID != hq.ID || got[1].ID != branch.ID {
		t.Errorf("branch parent = %q (answer id %q), want %q", branch.ParentID, got[1].ID, hq.ID)
	}
	after, _, _ := f.st.LastAudit(f.ctx)
	if d := after.Seq - seq.Seq; d != 4 {
		t.Errorf("audit entries = %d, want 3 firms and the run's summary", d)
	}
	if after.Action != "import.run" || !strings.Contains(after.Detail, "created=3") {
		t.Errorf("last audit entry = %+v, want the run's summary", after)
	}

	// A re-run stores nothing new: each firm already imported is unchanged.
	again, sum := f.run(t, bulk.ImportFirms, file)
	wantStatus(t, again, map[int]string{1: "unchanged", 2: "invalid", 3: "unchanged", 5: "invalid", 6: "invalid", 7: "invalid", 8: "unchanged", 9: "invalid"})
	if sum.Created != 0 || again[1].ID != branch.ID {
		t.Errorf("re-run summary = %+v, branch answer %+v", sum, again[1])
	}
	firms, err := f.st.Firms(f.ctx, courier.FirmQuery{Page: courier.Page{Limit: 100}})
	if err != nil || len(firms) != 3 {
		t.Errorf("firms stored = %d (%v), want 3", len(firms), err)
	}
	// A line for a stored firm with other values is answered exists, and the firm kept as it was.
	changed, _ := f.run(t, bulk.ImportFirms, strings.Replace(firmLine(1, "hq", 0), "顺达速运 1", "别名", 1))
	wantStatus(t, changed, map[int]string{1: "exists"})
	if f1, _ := f.svc.FirmByUSCC(f.ctx, uscc(1)); f1.Name != "顺达速运 1" {
		t.Errorf("name after an exists line = %q, want it kept", f1.Name)
	}
}

// TestImportPeopleAndRecords: sites, staff with their employment history, historical records
// with their decision dates; re-runs answer unchanged; nothing personal in any answer.
func TestImportPeopleAndRecords(t *testing.T) {
	f := newFixture(t)
	f.run(t, bulk.ImportFirms, firmLine(1, "hq", 0)+"\n"+firmLine(2, "hq", 0)+"\n")
	sites := `{"firm_uscc":"` + uscc(1) + `","name":"栾城分拨中心","kind":"sorting_centre","region":"130111","address":"栾城大街 1 号"}
{"firm_uscc":"` + uscc(9) + `","name":"无主","kind":"locker","region":"130111"}
`
	got, _ := f.run(t, bulk.ImportSites, sites)
	wantStatus(t, got, map[int]string{1: "created", 2: "invalid"})
	again, _ := f.run(t, bulk.ImportSites, sites)
	wantStatus(t, again, map[int]string{1: "unchanged", 2: "invalid"})

	staff := `{"name":"张三","id_number":"` + residentID + `","phone":"` + mobile + `","employment":[` +
		`{"firm_uscc":"` + uscc(2) + `","role":"courier","from":"2020-01-01","to":"2023-01-01"},` +
		`{"firm_uscc":"` + uscc(1) + `","role":"courier","from":"2023-02-01"}]}
{"name":"李四","id_number":"123","phone":"1"}
`
	got, _ = f.run(t, bulk.ImportStaff, staff)
	wantStatus(t, got, map[int]string{1: "created", 2: "invalid"})
	p, err := f.st.Staff(f.ctx, got[1].ID)
	if err != nil || len(p.Employment) != 2 || p.Employment[0].To.IsZero() || !p.Employment[1].Open() {
		t.Fatalf("stored person = %+v (%v), want two employments, the last open", p, err)
	}
	again, _ = f.run(t, bulk.ImportStaff, staff)
	wantStatus(t, again, map[int]string{1: "unchanged", 2: "invalid"})

	records := `{"ref":"HB-2024-001","subject":{"kind":"firm","uscc":"` + uscc(1) + `"},"category":"enforcement","source":"regulator","severity":"general","occurred_at":"2024-03-01","decided_at":"2024-03-15","summary":"未按规定验视","legal_basis":"快递市场管理办法"}
{"ref":"HB-2024-002","subject":{"kind":"site","uscc":"` + uscc(1) + `","site_name":"栾城分拨中心"},"category":"supervision","source":"regulator","severity":"minor","occurred_at":"2025-03-01","decided_at":"2025-03-02","summary":"场地不整洁","status":"repaired"}
{"ref":"HB-2024-003","subject":{"kind":"staff","id_number":"` + residentID + `"},"category":"complaint","source":"consumer","severity":"minor","occurred_at":"2025-05-01","decided_at":"2025-05-02","summary":"投诉属实"}
{"ref":"HB-2024-004","subject":{"kind":"firm","uscc":"` + uscc(1) + `"},"category":"supervision","source":"regulator","severity":"minor","occurred_at":"2025-05-01","summary":"无决定日期"}
{"ref":"HB-2024-005","subject":{"kind":"staff","id_number":"110105194912310030"},"category":"complaint","source":"consumer","severity":"minor","occurred_at":"2025-05-01","decided_at":"2025-05-02","summary":"查无此人"}
`
	got, _ = f.run(t, bulk.ImportRecords, records)
	wantStatus(t, got, map[int]string{1: "created", 2: "created", 3: "created", 4: "invalid", 5: "invalid"})
	r, err := f.st.Record(f.ctx, got[1].ID)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if r.Status != courier.StatusConfirmed || !r.DecidedAt.Equal(time.Date(2024, 3, 15, 0, 0, 0, 0, time.FixedZone("", 8*3600))) ||
		!r.PublicUntil.Equal(r.DecidedAt.AddDate(1, 0, 0)) {
		t.Errorf("imported record = %s decided %v public until %v, want confirmed with its window from the decision", r.Status, r.DecidedAt, r.PublicUntil)
	}
	if r2, _ := f.st.Record(f.ctx, got[2].ID); r2.Status != courier.StatusRepaired || r2.Subject.Kind != courier.SubjectSite {
		t.Errorf("second record = %s about %s, want repaired, about the site", r2.Status, r2.Subject.Kind)
	}
	if r3, _ := f.st.Record(f.ctx, got[3].ID); r3.Subject.ID != p.ID || r3.FirmID != p.Employment[1].FirmID {
		t.Errorf("third record about %s answered by %s, want the person and their employer then", r3.Subject.ID, r3.FirmID)
	}
	again, sum := f.run(t, bulk.ImportRecords, records)
	wantStatus(t, again, map[int]string{1: "unchanged", 2: "unchanged", 3: "unchanged", 4: "invalid", 5: "invalid"})
	if sum.Created != 0 {
		t.Errorf("re-run created %d", sum.Created)
	}
	all, _ := f.st.Records(f.ctx, courier.RecordQuery{Page: courier.Page{Limit: 100}})
	if len(all) != 3 {
		t.Errorf("records stored = %d, want 3", len(all))
	}
	for _, answers := range []map[int]bulk.Answer{got, again} {
		b, _ := json.Marshal(answers)
		if bytes.Contains(b, []byte(residentID)) || bytes.Contains(b, []byte(mobile)) || bytes.Contains(b, []byte("张三")) {
			t.Errorf("an answer carries personal data in clear: %s", b)
		}
	}
}

// TestImportRefusesOthers: only regulators import.
func TestImportRefusesOthers(t *testing.T) {
	f := newFixture(t)
	_, err := bulk.Importer{Courier: f.svc}.Import(f.ctx, credtrace.Public, bulk.ImportFirms, strings.NewReader(firmLine(1, "hq", 0)), func(bulk.Answer) error { return nil })
	if credtrace.KindOf(err) != credtrace.Forbidden {
		t.Errorf("public import: %v, want forbidden", err)
	}
}

// TestExportFormats: the same rows as NDJSON and as CSV with a BOM and a header; the manifest
// counts the rows and hashes exactly the bytes written; a formula-like text is defused in CSV.
func TestExportFormats(t *testing.T) {
	f := newFixture(t)
	f.run(t, bulk.ImportFirms, firmLine(1, "hq", 0)+"\n")
	hq, _ := f.svc.FirmByUSCC(f.ctx, uscc(1))
	for i, summary := range []string{"=HYPERLINK(\"http://x\")", "未按规定验视, \"加急\"\n第二行"} {
		_, err := f.svc.CreateRecord(f.ctx, f.reg, courier.RecordInput{Subject: courier.Subject{Kind: courier.SubjectFirm, ID: hq.ID},
			Category: courier.CatSupervision, Source: courier.SrcRegulator, Severity: courier.SevMinor,
			OccurredAt: now.Add(-time.Duration(i+1) * time.Hour), Summary: summary})
		if err != nil {
			t.Fatalf("record: %v", err)
		}
	}
	*f.clk = now.Add(time.Hour)
	w := courier.Window{Until: f.svc.ExportUntil()}
	ex := bulk.Exporter{Courier: f.svc}

	var nd bytes.Buffer
	m, err := ex.Export(f.ctx, credtrace.Public, bulk.KindDisclosures, w, bulk.NDJSON, &nd)
	if err != nil {
		t.Fatalf("ndjson export: %v", err)
	}
	sum := sha256.Sum256(nd.Bytes())
	if m.Rows != 2 || m.Bytes != int64(nd.Len()) || m.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("manifest = %+v, want 2 rows, %d bytes, sha256 %x", m, nd.Len(), sum)
	}
	lines := strings.Split(strings.TrimSuffix(nd.String(), "\n"), "\n")
	var row map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &row) != nil || row["uscc"] != uscc(1) || row["withdrawn"] != false {
		t.Fatalf("ndjson = %q", nd.String())
	}

	var cv bytes.Buffer
	m, err = ex.Export(f.ctx, credtrace.Public, bulk.KindDisclosures, w, bulk.CSV, &cv)
	if err != nil {
		t.Fatalf("csv export: %v", err)
	}
	sum = sha256.Sum256(cv.Bytes())
	if m.Rows != 2 || m.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("csv manifest = %+v, want 2 rows and sha256 %x", m, sum)
	}
	if !bytes.HasPrefix(cv.Bytes(), []byte("\xef\xbb\xbf")) {
		t.Fatalf("csv does not start with the UTF-8 BOM: %q", cv.String()[:10])
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(cv.String(), bulk.BOM))).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "record_id" {
		t.Fatalf("csv = %v (%v), want a header and two rows", recs, err)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	var summaries []string
	for _, r := range recs[1:] {
		summaries = append(summaries, r[col["summary"]])
	}
	if !strings.Contains(strings.Join(summaries, "|"), "'=HYPERLINK") || !strings.Contains(strings.Join(summaries, "|"), "\"加急\"\n第二行") {
		t.Errorf("csv summaries = %q, want the formula defused and quotes and newlines kept", summaries)
	}

	// An empty export is a header alone in CSV, nothing in NDJSON.
	cv.Reset()
	empty := courier.Window{Since: w.Until.Add(-time.Second), Until: w.Until}
	if m, err := ex.Export(f.ctx, f.reg, bulk.KindRecords, empty, bulk.CSV, &cv); err != nil || m.Rows != 0 || !strings.HasPrefix(cv.String(), bulk.BOM+"record_id,") {
		t.Errorf("empty csv = %q %+v %v", cv.String(), m, err)
	}
	// A firm may not export records in force: nothing is written.
	nd.Reset()
	if _, err := ex.Export(f.ctx, credtrace.Caller{Role: credtrace.RoleFirm, FirmID: hq.ID}, bulk.KindRecords, w, bulk.NDJSON, &nd); credtrace.KindOf(err) != credtrace.Forbidden || nd.Len() != 0 {
		t.Errorf("firm export of records in force: %v, %d bytes", err, nd.Len())
	}
}
