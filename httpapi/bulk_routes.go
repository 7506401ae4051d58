package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/bulk"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi/openapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// Headers of an export.
const (
	// HeaderExportUntil is the end of the export's window: the since of the next increment.
	HeaderExportUntil = "X-Export-Until"
	// HeaderCount and HeaderDigest are the export's trailers: the rows, and the SHA-256 of
	// every byte of the body (RFC 3230 Digest, base64), sent once the last row is written.
	HeaderCount  = "X-Count"
	HeaderDigest = "Digest"
)

// bulkRoutes declares the exports and the imports.
func (s *Server) bulkRoutes() {
	kinds := bulk.Kinds
	if s.deps.Scoring == nil {
		kinds = []bulk.Kind{bulk.KindDisclosures, bulk.KindRecords, bulk.KindRecordsAll}
	}
	s.add(Route{Method: "GET", Path: "/v1/exports/:kind", Roles: public, handler: s.export,
		Doc: &openapi.Operation{ID: "export", Summary: "Export public disclosures, records, the red and black lists or sanctions as NDJSON or CSV",
			Params: []openapi.Param{
				{Name: "kind", In: "path", Desc: "What the export holds. Anyone: disclosures (records of firms and sites in their publicity window), " +
					"redlist, blacklist, sanctions (in force). Regulators: records (in force, people by id), records_all and sanctions_all (every status)",
					Schema: openapi.Enum("", kinds...)},
				openapi.QueryEnum("format", "ndjson (the default) or csv (UTF-8 with a BOM, CRLF); without it, Accept: text/csv chooses CSV", bulk.NDJSON, bulk.CSV),
				{Name: "since", Desc: "An increment: only rows changed at or after this time (the " + HeaderExportUntil + " of the export before), " +
					"with withdrawals (withdrawn=true) of rows that left the set", Schema: openapi.Time("")}},
			Responses: []openapi.Response{{Status: 200, Desc: "The rows, in id order, streamed. Headers: " + HeaderExportUntil +
				" (the window's end, the next since); trailers " + HeaderCount + " (rows) and " + HeaderDigest + " (sha-256 of the body, base64), " +
				"absent when the export broke off", Body: []openapi.Content{
				{Media: bulk.MediaNDJSON, Schema: openapi.String("One JSON object a line")},
				{Media: bulk.MediaCSV, Schema: openapi.String("A header line, then one row a line")}}}},
			Errors: []int{403}}})
	s.add(Route{Method: "GET", Path: "/v1/firms/:id/report", Roles: regulators, handler: s.firmReport,
		Doc: &openapi.Operation{ID: "firmReport", Summary: "A firm's full credit file as one JSON document or a printable HTML report (信用报告)",
			Params: []openapi.Param{openapi.QueryEnum("format", "json (the default) or html; without it, Accept: text/html chooses HTML", "json", "html")},
			Responses: []openapi.Response{{Status: 200, Desc: "The credit file", Body: []openapi.Content{
				{Media: openapi.MediaJSON, Schema: openapi.Out[fileJSON]()},
				{Media: fiber.MIMETextHTML, Schema: openapi.String("The printable report")}}}}}})
	for _, k := range bulk.ImportKinds {
		s.add(Route{Method: "POST", Path: "/v1/import/" + string(k), Roles: regulators, handler: s.importer(k), limit: MaxBodyLimit,
			Doc: &openapi.Operation{ID: "import" + strings.ToUpper(string(k[:1])) + string(k[1:]), Summary: "Import " + string(k) + " of a migration, one JSON object a line",
				Body: []openapi.Content{{Media: bulk.MediaNDJSON, Schema: importSchemas[k]}}, Raw: true,
				BodyDesc: "At most " + strconv.Itoa(bulk.MaxAPILines) + " lines of at most " + strconv.Itoa(bulk.MaxLineBytes) + " bytes each (a longer line is " +
					"answered invalid on its own); the command line credtrace import takes any number. Each line is stored or refused on its own; " +
					"a re-run answers unchanged or exists for what is stored. " + importNotes[k],
				Responses: []openapi.Response{{Status: 200, Desc: "One answer a line: index (the line number), status (created, unchanged, exists, invalid), " +
					"id, reason, fields. Headers X-Import-Created, -Unchanged, -Exists and -Invalid count them",
					Body: []openapi.Content{{Media: bulk.MediaNDJSON, Schema: openapi.Out[bulk.Answer]()}}}}}})
	}
}

var importSchemas = map[bulk.ImportKind]*openapi.Schema{
	bulk.ImportFirms: openapi.Out[bulk.FirmLine](), bulk.ImportSites: openapi.Out[bulk.SiteLine](),
	bulk.ImportStaff: openapi.Out[bulk.StaffLine](), bulk.ImportRecords: openapi.Out[bulk.RecordLine](),
}

var importNotes = map[bulk.ImportKind]string{
	bulk.ImportFirms: "A firm is known by its USCC and names its parent by parent_uscc; a branch that comes before its parent is " +
		"tried again once the rest of the file is in (its answer then comes after the others).",
	bulk.ImportSites: "A site is known by its firm (firm_uscc) and its name.",
	bulk.ImportStaff: "A person is known by their resident ID number, kept only as a keyed hash and a masked form; employment " +
		"lists their periods of work oldest first, firms by USCC, only the last one open.",
	bulk.ImportRecords: "A record is known by ref, its key in the system it comes from; decided_at is required (the clocks run from " +
		"it); status is confirmed (the default), dismissed, revoked or repaired. Times are RFC 3339 or dates (YYYY-MM-DD, China Standard Time).",
}

// exportFormat reads ?format=, or the Accept header without it.
func exportFormat(c *fiber.Ctx) (bulk.Format, error) {
	switch f := c.Query("format"); f {
	case "ndjson":
		return bulk.NDJSON, nil
	case "csv":
		return bulk.CSV, nil
	case "":
		if c.Accepts(bulk.MediaNDJSON, bulk.MediaCSV) == bulk.MediaCSV {
			return bulk.CSV, nil
		}
		return bulk.NDJSON, nil
	}
	return "", credtrace.InvalidField("format", "must be ndjson or csv")
}

func (s *Server) exporter() bulk.Exporter {
	return bulk.Exporter{Courier: s.deps.Courier, Scoring: s.deps.Scoring}
}

func (s *Server) export(c *fiber.Ctx) error {
	f, err := exportFormat(c)
	if err != nil {
		return err
	}
	w := courier.Window{Until: s.deps.Courier.ExportUntil()}
	if v := c.Query("since"); v != "" {
		if w.Since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return credtrace.InvalidField("since", "must be an RFC 3339 time with its offset")
		}
		w.Since = w.Since.UTC()
		// A since at or past the window's end (asked again at once, or of a replica whose
		// clock runs ahead) is an empty window: the cursor never moves back.
		if !w.Since.Before(w.Until) {
			w.Until = w.Since
		}
	}
	a, kind, ex := actor(c), bulk.Kind(strings.Clone(c.Params("kind"))), s.exporter()
	// Refusals and bad windows are answered now, with their status; once the stream starts, an
	// export that breaks off ends without its trailers.
	if err := ex.Check(a, kind, w); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, f.Media())
	c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment",
		map[string]string{"filename": "credtrace-" + string(kind) + "-" + w.Until.UTC().Format("20060102T150405Z") + "." + string(f)}))
	c.Set(HeaderExportUntil, w.Until.UTC().Format(time.RFC3339Nano))
	c.Set(fiber.HeaderCacheControl, "no-store")
	resp := &c.Context().Response
	if err := resp.Header.SetTrailer(HeaderCount + ", " + HeaderDigest); err != nil {
		return err
	}
	cx, rid := ctx(c), requestID(c)
	pr, pw := io.Pipe()
	body := &exportBody{pr: pr, resp: resp, done: make(chan exportResult, 1)}
	go func() {
		m, err := ex.Export(cx, a, kind, w, f, pw)
		if err != nil {
			s.log.Error("export broke off", "request_id", rid, "kind", string(kind), "error", err.Error())
		}
		body.done <- exportResult{m, err}
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	c.Context().SetBodyStream(body, -1)
	return nil
}

type exportResult struct {
	m   bulk.Manifest
	err error
}

// exportBody is an export's response body: fasthttp reads it, chunk by chunk, from the
// goroutine that writes the export into a pipe. At the end it sets the trailers, from the
// reading side: fasthttp writes the response's headers from the goroutine that reads the body,
// and only that goroutine may touch them (the writer's side runs while they are written).
type exportBody struct {
	pr    *io.PipeReader
	resp  *fasthttp.Response
	done  chan exportResult
	ended bool
}

func (b *exportBody) Read(p []byte) (int, error) {
	n, err := b.pr.Read(p)
	if err == io.EOF && !b.ended {
		b.ended = true
		// The writer sent its result before it closed the pipe.
		if r := <-b.done; r.err == nil {
			sum, _ := hex.DecodeString(r.m.SHA256)
			b.resp.Header.Set(HeaderCount, strconv.Itoa(r.m.Rows))
			b.resp.Header.Set(HeaderDigest, "sha-256="+base64.StdEncoding.EncodeToString(sum))
		}
	}
	return n, err
}

// Close ends the export when the response is dropped (the client went away): the writer's
// next write fails and it returns.
func (b *exportBody) Close() error {
	return b.pr.CloseWithError(errExportDropped)
}

var errExportDropped = errors.New("export: the response was dropped")

// fileOf is the JSON document of a firm's credit file, with its sanctions when the service keeps them.
func (s *Server) fileOf(c *fiber.Ctx, f courier.FirmFile) (fileJSON, []scoring.Sanction, error) {
	firm := firmOut(f.Firm)
	out := fileJSON{Firm: &firm, Sites: []siteJSON{}, Commitments: commitmentsOut(f.Commitments),
		Objections: objectionsOut(f.Objections, f.AsOf), AsOf: f.AsOf}
	for _, site := range f.Sites {
		out.Sites = append(out.Sites, siteOut(site))
	}
	out.Records, out.Counts = groupRecords(f.Records)
	var ss []scoring.Sanction
	if s.deps.Scoring != nil {
		out.Sanctions = []sanctionJSON{}
		var err error
		if ss, err = s.deps.Scoring.Sanctions(ctx(c), actor(c), scoring.SanctionQuery{FirmID: f.Firm.ID}); err != nil {
			return fileJSON{}, nil, err
		}
		for _, x := range ss {
			out.Sanctions = append(out.Sanctions, sanctionOut(x))
		}
	}
	return out, ss, nil
}

func (s *Server) firmReport(c *fiber.Ctx) error {
	html := false
	switch c.Query("format") {
	case "json":
	case "html":
		html = true
	case "":
		html = c.Accepts(fiber.MIMEApplicationJSON, fiber.MIMETextHTML) == fiber.MIMETextHTML
	default:
		return credtrace.InvalidField("format", "must be json or html")
	}
	f, err := s.deps.Courier.FirmReport(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	out, ss, err := s.fileOf(c, f)
	if err != nil {
		return err
	}
	name := "credtrace-report-" + f.Firm.USCC + "-" + f.AsOf.UTC().Format("20060102")
	if !html {
		c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name + ".json"}))
		return c.JSON(out)
	}
	var b bytes.Buffer
	if err := s.web.pages["report"].ExecuteTemplate(&b, "layout", reportData(f, ss)); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'")
	c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("inline", map[string]string{"filename": name + ".html"}))
	return c.Send(b.Bytes())
}

// reportCategories name the record categories in the report, in Chinese and in English.
var reportCategories = map[courier.Category]string{
	courier.CatSupervision: "日常监管 Supervision", courier.CatEnforcement: "行政执法 Enforcement", courier.CatComplaint: "消费者申诉 Complaints",
	courier.CatMedia: "媒体曝光 Media", courier.CatLicence: "许可管理 Licensing", courier.CatServiceQuality: "服务质量 Service quality",
	courier.CatDeliverySafety: "寄递安全 Delivery safety",
}

func reportDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(tracking.CST).Format(day)
}

// reportData is the printable report's view of a file. People appear by their archive id only.
func reportData(f courier.FirmFile, ss []scoring.Sanction) map[string]any {
	style, _ := webFS.ReadFile("web/style.css")
	type rec struct{ Decided, Subject, Severity, Status, Summary, LegalBasis string }
	type cat struct {
		Label   string
		Records []rec
	}
	sites := map[string]string{}
	for _, s := range f.Sites {
		sites[s.ID] = s.Name
	}
	var cats []cat
	counts := map[courier.RecordStatus]int{}
	for _, k := range courier.Categories {
		cg := cat{Label: reportCategories[k]}
		for _, r := range f.Records {
			if r.Category != k {
				continue
			}
			counts[r.Status]++
			sub := "企业 firm"
			switch r.Subject.Kind {
			case courier.SubjectSite:
				sub = "场所 " + sites[r.Subject.ID]
			case courier.SubjectStaff:
				sub = "从业人员 staff " + r.Subject.ID
			}
			cg.Records = append(cg.Records, rec{reportDay(r.Decided()), sub, string(r.Severity), string(r.Status), r.Summary, r.LegalBasis})
		}
		cats = append(cats, cg)
	}
	type count struct {
		Label string
		N     int
	}
	var cs []count
	for _, st := range []courier.RecordStatus{courier.StatusConfirmed, courier.StatusDisputed, courier.StatusUpheld, courier.StatusPending,
		courier.StatusRepaired, courier.StatusRevoked, courier.StatusDismissed} {
		if counts[st] > 0 {
			cs = append(cs, count{string(st), counts[st]})
		}
	}
	type sanction struct{ Kind, Status, Start, End, Reason, LegalBasis string }
	var sj []sanction
	for _, x := range ss {
		sj = append(sj, sanction{string(x.Kind), string(x.Status), reportDay(x.Start), reportDay(x.End), x.Reason, x.LegalBasis})
	}
	type commitment struct{ Date, Text string }
	var cm []commitment
	for _, c := range f.Commitments {
		cm = append(cm, commitment{reportDay(c.SignedAt), c.Text})
	}
	type objection struct{ Filed, Record, Status, Decision string }
	var oj []objection
	for _, o := range f.Objections {
		oj = append(oj, objection{reportDay(o.FiledAt), o.RecordID, string(o.Status), o.Decision})
	}
	return map[string]any{"Style": template.CSS(style), "Name": f.Firm.Name, "USCC": f.Firm.USCC, "Kind": string(f.Firm.Kind),
		"Region": f.Firm.Region, "LicenceNumber": f.Firm.Licence.Number, "LicenceStatus": string(f.Firm.Licence.Status),
		"LicenceTo": reportDay(f.Firm.Licence.ValidTo), "AsOf": f.AsOf.In(tracking.CST).Format("2006-01-02 15:04 CST"),
		"Sites": f.Sites, "Categories": cats, "Counts": cs, "Sanctions": sj, "Commitments": cm, "Objections": oj}
}

// importer answers an import of kind: the body's lines, each on its own, as NDJSON.
func (s *Server) importer(kind bulk.ImportKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		a := actor(c)
		if err := courier.CheckImporter(a); err != nil {
			return err
		}
		body := c.Body()
		if n := bulk.CountLines(body); n > bulk.MaxAPILines {
			return credtrace.InvalidField("body", "%d lines; at most %d a request: split the file, or run credtrace import on the server", n, bulk.MaxAPILines)
		}
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		sum, err := bulk.Importer{Courier: s.deps.Courier}.Import(ctx(c), a, kind, bytes.NewReader(body), func(ans bulk.Answer) error {
			return enc.Encode(ans)
		})
		if err != nil {
			return err
		}
		c.Set("X-Import-Created", strconv.Itoa(sum.Created))
		c.Set("X-Import-Unchanged", strconv.Itoa(sum.Unchanged))
		c.Set("X-Import-Exists", strconv.Itoa(sum.Exists))
		c.Set("X-Import-Invalid", strconv.Itoa(sum.Invalid))
		c.Set(fiber.HeaderContentType, bulk.NDJSON.Media())
		return c.Send(out.Bytes())
	}
}
