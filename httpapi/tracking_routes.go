package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi/openapi"
	"github.com/credtrace/credtrace/tracking"
)

var ingesters = []credtrace.Role{credtrace.RoleRegulator, credtrace.RoleFirm}

// trackingRoutes declares the routes of parcel traceability, when the service has tracking.
func (s *Server) trackingRoutes() {
	if s.deps.Tracking == nil {
		return
	}
	s.add(Route{Method: "POST", Path: "/v1/events", Roles: ingesters, handler: s.pushEvents, limit: MaxBodyLimit,
		Doc: &openapi.Operation{ID: "pushEvents", Summary: "Push tracking events (JSON array or NDJSON, up to 10,000)",
			Body: []openapi.Content{
				{Media: fiber.MIMEApplicationJSON, Schema: openapi.Describe(openapi.Array(openapi.In[eventReq]()).WithMaxItems(tracking.MaxBatch), "A JSON array of events")},
				{Media: "application/x-ndjson", Schema: openapi.String("One event object per line, as in the JSON array")}},
			BodyDesc:  "Each event is answered on its own: a bad one is rejected with its index, the others are stored",
			Responses: openapi.OK(openapi.Out[ingestJSON]()),
			Example: []any{map[string]any{"id": "evt-0001", "waybill": "SF2000000001", "carrier": "{carrier_id}", "code": "collected",
				"at": "2026-05-31T09:00:00+08:00", "site": "{site_id}", "staff": "{staff_id}", "merchant": "M-001",
				"recipient_phone": "13912345678", "weight_g": 900, "region": "130111"}}}})
	s.add(Route{Method: "POST", Path: "/v1/events/epcis", Roles: ingesters, handler: s.pushEPCIS, limit: MaxBodyLimit,
		Doc: &openapi.Operation{ID: "pushEPCIS", Summary: "Push GS1 EPCIS 2.0 ObjectEvents (?carrier=)",
			Body: openapi.JSON(openapi.InLax[epcisDoc]()), Responses: openapi.OK(openapi.Out[ingestJSON]()),
			Params: []openapi.Param{openapi.Query("carrier", "The carrier's firm id (default: the token's firm)")}}})
	s.add(Route{Method: "GET", Path: "/v1/epcis/events", Roles: firms, handler: s.queryEPCIS,
		Doc: &openapi.Operation{ID: "queryEPCIS", Summary: "Read parcels' events back as EPCIS 2.0 (the REST query interface's subset: by EPC)",
			Responses: openapi.OK(openapi.Out[epcisQueryDoc]()), Errors: []int{404, 409},
			Params: []openapi.Param{
				openapi.Query("MATCH_epc", "The parcels' EPCs (EPC URNs, Digital Links or the carrier's own URIs), comma-separated, at most 20: required"),
				openapi.Query("EQ_bizStep", "Only events of this bizStep (a CBV name or URI)"),
				openapi.Query("EQ_bizLocation", "Only events at this location (an SGLN, a Digital Link 414 or a site URI)"),
				openapi.Query("GE_eventTime", "Only events at or after this time (RFC 3339)"),
				openapi.Query("LT_eventTime", "Only events before this time (RFC 3339)"),
				openapi.Query("perPage", "Events per page, 1 to 100 (default 30); a Link header with rel=next names the next page"),
				openapi.Query("nextPageToken", "The token of the page to read, from the previous page's Link header"),
				oaCarrier}}})
	s.add(Route{Method: "GET", Path: "/v1/parcels/:waybill", Roles: public, handler: s.traceParcel,
		Doc: &openapi.Operation{ID: "traceParcel", Summary: "Trace a parcel (public with ?phone4=)",
			Responses: openapi.OK(openapi.Out[traceJSON]()), Errors: []int{409},
			Params: []openapi.Param{openapi.Query("phone4", "Last four digits of the recipient's phone: what entitles an anonymous caller (reduced trace)"), oaCarrier}}})
	s.add(Route{Method: "GET", Path: "/v1/parcels/:waybill/stream", Roles: public, handler: s.streamParcel,
		Doc: &openapi.Operation{ID: "streamParcel", Summary: "Follow a parcel live (server-sent events)",
			Errors:    []int{409},
			Responses: []openapi.Response{{Status: 200, Desc: "A trace event with the current trace, then a tracking event per new event", Body: oaSSE}},
			Params:    []openapi.Param{openapi.Query("phone4", "As for the trace"), oaCarrier}}})
	s.add(Route{Method: "POST", Path: "/v1/parcels/:waybill/handovers/:id/accept", Roles: ingesters, handler: s.acceptHandover,
		Doc: &openapi.Operation{ID: "acceptHandover", Summary: "Take a parcel offered to your firm tree (the receiver, or a regulator)",
			Responses: openapi.OK(openapi.Out[offerJSON]()), Errors: []int{404, 409},
			Params: []openapi.Param{oaCarrier}}})
	s.add(Route{Method: "GET", Path: "/v1/alerts/stream", Roles: regulators, handler: s.streamAlerts,
		Doc: &openapi.Operation{ID: "streamAlerts", Summary: "New incidents and anomalies, live (server-sent events)",
			Responses: []openapi.Response{{Status: 200, Desc: "An event per new incident or anomaly", Body: oaSSE}}}})
	s.add(Route{Method: "POST", Path: "/v1/incidents", Roles: []credtrace.Role{credtrace.RoleRegulator, credtrace.RoleFirm, credtrace.RoleMerchant}, handler: s.reportIncident,
		Doc: &openapi.Operation{ID: "reportIncident", Summary: "Report an incident and back-track it",
			Body: openapi.JSON(openapi.In[incidentReq]()), Errors: []int{404, 409},
			Responses: []openapi.Response{{Status: 201, Desc: "Created: a new incident, back-tracked, its records proposed", Body: openapi.JSON(openapi.Out[incidentJSON]())},
				{Status: 200, Desc: "Joined: the same parcel, kind and reporting party within 7 days; the first incident, with joined true " +
					"and joined_reports counted; nothing proposed", Body: openapi.JSON(openapi.Out[incidentJSON]())}},
			BodyDesc: "Reports are de-duplicated by parcel, kind and reporting party (the merchant, the firm tree, or the source " +
				"a regulator names, such as the 12305 hotline). Proposed records count as complaints only once a regulator confirms them",
			Example: map[string]any{"waybill": "{waybill}", "kind": "lost", "reporter": "12305", "description": "收件人称未收到包裹"}}})
	s.add(Route{Method: "GET", Path: "/v1/incidents", Roles: firms, handler: s.listIncidents,
		Doc: &openapi.Operation{ID: "listIncidents", Summary: "List incidents (?waybill=)",
			Responses: openapi.OK(openapi.Out[listJSON[incidentJSON]]()), Params: oaIDPaged(
				openapi.Query("waybill", "Incidents of this waybill"), openapi.Query("carrier", "Only this carrier's (firm id or USCC)"))}})
	s.add(Route{Method: "GET", Path: "/v1/incidents/:id", Roles: firms, handler: s.getIncident,
		Doc: &openapi.Operation{ID: "getIncident", Summary: "Get an incident",
			Responses: openapi.OK(openapi.Out[incidentJSON]())}})
	s.add(Route{Method: "GET", Path: "/v1/anomalies", Roles: firms, handler: s.listAnomalies,
		Doc: &openapi.Operation{ID: "listAnomalies", Summary: "List anomalies (?kind=, ?open=true)",
			Responses: openapi.OK(openapi.Out[listJSON[anomalyJSON]]()), Params: oaIDPaged(
				openapi.QueryEnum("kind", "", tracking.AnStalled, tracking.AnPromiseBreached, tracking.AnWeight, tracking.AnNoTransit,
					tracking.AnMerchantBurst, tracking.AnSecondCarrier, tracking.AnAfterDelivery),
				openapi.QueryBool("open", "Only anomalies not turned into an incident"),
				openapi.Query("waybill", "Only anomalies of this waybill"), openapi.Query("carrier", "Only this carrier's (firm id or USCC)"))}})
	s.add(Route{Method: "POST", Path: "/v1/anomalies/:id/incident", Roles: regulators, handler: s.anomalyIncident,
		Doc: &openapi.Operation{ID: "anomalyIncident", Summary: "Turn an anomaly into an incident",
			Body: openapi.JSON(openapi.In[anomalyIncidentReq]()), Optional: true,
			Responses: openapi.Created(openapi.Out[incidentJSON]()), Errors: []int{409}}})
	s.add(Route{Method: "PUT", Path: "/v1/carriers/:id/config", Roles: firms, handler: s.putCarrier,
		Doc: &openapi.Operation{ID: "putCarrier", Summary: "Set a carrier's promise, dwell standards and code mapping",
			Body: openapi.JSON(openapi.In[carrierReq]()), Responses: openapi.OK(openapi.Out[carrierJSON]())}})
	s.add(Route{Method: "GET", Path: "/v1/carriers/:id/config", Roles: firms, handler: s.getCarrier,
		Doc: &openapi.Operation{ID: "getCarrier", Summary: "A carrier's configuration",
			Responses: openapi.OK(openapi.Out[carrierJSON]())}})
	s.add(Route{Method: "GET", Path: "/v1/stats/:kind/:id", Roles: firms, handler: s.stats,
		Doc: &openapi.Operation{ID: "stats", Summary: "Service-quality statistics of a firm, site or person per day",
			Responses: openapi.OK(openapi.Out[statsJSON]()), Params: []openapi.Param{
				{Name: "kind", In: "path", Desc: "The subject's kind", Schema: openapi.Enum("", tracking.SubjectFirm, tracking.SubjectSite, tracking.SubjectStaff)},
				{Name: "from", Desc: "First day, YYYY-MM-DD in China Standard Time (default 30 days ago)", Schema: &openapi.Schema{Type: "string", Format: "date"}},
				{Name: "to", Desc: "Last day, YYYY-MM-DD (default today)", Schema: &openapi.Schema{Type: "string", Format: "date"}}}}})
}

type ingestJSON struct {
	Accepted   int           `json:"accepted"`
	Duplicates int           `json:"duplicates"`
	Rejected   int           `json:"rejected"`
	Results    []resultJSON  `json:"results"`
	Anomalies  []anomalyJSON `json:"anomalies"`
}

type resultJSON struct {
	Index      int    `json:"index"`
	EPCISIndex *int   `json:"epcis_index,omitempty"` // EPCIS: the position in eventList this event came from
	ID         string `json:"id,omitempty"`
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
	// Notes says what an EPCIS event said that was kept but not used, or ignored, and why.
	Notes []string `json:"notes,omitempty"`
}

// decodeEvents reads a JSON array or NDJSON body of events in one pass (see decodeBatch).
func (s *Server) decodeEvents(c *fiber.Ctx) ([]tracking.EventInput, map[int]string, error) {
	reqs, bad, err := decodeBatch[eventReq](c, "events", "event", tracking.MaxBatch)
	if err != nil {
		return nil, nil, err
	}
	ins := make([]tracking.EventInput, len(reqs))
	for i, r := range reqs {
		if _, rejected := bad[i]; !rejected {
			ins[i] = r.toDomain()
		}
	}
	return ins, bad, nil
}

// decodeBatch reads a JSON array or NDJSON body of at most max items in one pass. An element
// that is not a valid item is rejected on its own, with its index (its place in the result
// holds a zero T); only a body that cannot be split into elements fails as a whole, naming
// field (the plural noun) or the element.
func decodeBatch[T any](c *fiber.Ctx, field, noun string, max int) ([]T, map[int]string, error) {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return nil, nil, badRequest("malformed", "a JSON array or NDJSON body of "+field+" is required")
	}
	var ins []T
	bad := map[int]string{}
	add := func(r T, err error) error {
		if len(ins) == max {
			return credtrace.InvalidField(field, "at most %d %s per request", max, field)
		}
		if err != nil {
			bad[len(ins)] = eventDecodeReason(err)
			var zero T
			ins = append(ins, zero)
			return nil
		}
		ins = append(ins, r)
		return nil
	}
	ct := string(c.Request().Header.ContentType())
	if strings.HasPrefix(ct, "application/x-ndjson") || strings.HasPrefix(ct, "application/jsonl") || body[0] == '{' {
		for len(body) > 0 {
			line := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if err := checkJSON(line, "["+strconv.Itoa(len(ins))+"]"); err != nil {
				return nil, nil, err
			}
			var r T
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			err := dec.Decode(&r)
			if err == nil && dec.More() {
				err = errors.New("unexpected data after the " + noun + " on its line")
			}
			if err := add(r, err); err != nil {
				return nil, nil, err
			}
		}
	} else {
		if err := checkJSON(body, ""); err != nil {
			return nil, nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return nil, nil, badRequest("malformed", "the body must be a JSON array of "+field+", or NDJSON")
		}
		for dec.More() {
			var r T
			err := dec.Decode(&r)
			var syn *json.SyntaxError
			if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil, jsonError(err) // the array cannot be split any further
			}
			if err := add(r, err); err != nil {
				return nil, nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, nil, jsonError(err)
		}
		if dec.More() {
			return nil, nil, badRequest("malformed", "unexpected data after the JSON array")
		}
	}
	if len(ins) == 0 {
		return nil, nil, credtrace.InvalidField(field, "at least one %s", noun)
	}
	return ins, bad, nil
}

func eventDecodeReason(err error) string {
	var ve *credtrace.Error
	switch e := jsonError(err).(type) {
	case *apiError:
		if len(e.fields) > 0 {
			return e.fields[0].Field + ": " + e.fields[0].Reason
		}
		return e.msg
	default:
		if ok := asValidation(e, &ve); ok && len(ve.Fields) > 0 {
			return ve.Fields[0].Field + ": " + ve.Fields[0].Reason
		}
		return e.Error()
	}
}

func asValidation(err error, ve **credtrace.Error) bool {
	v, ok := err.(*credtrace.Error)
	if ok {
		*ve = v
	}
	return ok
}

// ingest runs the decodable inputs and merges the decode rejections back by index; epcis,
// when given, maps each input to the EPCIS eventList entry it came from and its notes.
func (s *Server) ingest(c *fiber.Ctx, ins []tracking.EventInput, bad map[int]string, epcis *tracking.EPCISBatch) error {
	out, err := s.ingestOut(c, ins, bad, epcis)
	if err != nil {
		return err
	}
	s.deps.Metrics.ingested(out.Accepted, out.Duplicates, out.Rejected, len(out.Anomalies))
	return c.JSON(out)
}

// ingestOut is ingest's answer, not yet sent.
func (s *Server) ingestOut(c *fiber.Ctx, ins []tracking.EventInput, bad map[int]string, epcis *tracking.EPCISBatch) (ingestJSON, error) {
	keep := make([]tracking.EventInput, 0, len(ins))
	pos := make([]int, 0, len(ins))
	for i, in := range ins {
		if _, ok := bad[i]; !ok {
			keep = append(keep, in)
			pos = append(pos, i)
		}
	}
	out := ingestJSON{Results: make([]resultJSON, len(ins)), Anomalies: []anomalyJSON{}}
	for i, reason := range bad {
		out.Results[i] = resultJSON{Index: i, Status: tracking.Rejected, Reason: reason}
		out.Rejected++
	}
	if len(keep) > 0 {
		res, err := s.deps.Tracking.Ingest(ctx(c), actor(c), keep)
		if err != nil {
			return ingestJSON{}, err
		}
		for j, r := range res.Results {
			out.Results[pos[j]] = resultJSON{Index: pos[j], ID: r.ID, Status: r.Status, Reason: r.Reason}
		}
		out.Accepted, out.Duplicates, out.Rejected = res.Accepted, res.Duplicates, out.Rejected+res.Rejected
		for _, a := range res.Anomalies {
			out.Anomalies = append(out.Anomalies, anomalyOut(a))
		}
	}
	if epcis != nil {
		for i := range out.Results {
			k := epcis.Origin[i]
			out.Results[i].EPCISIndex = &k
			out.Results[i].Notes = epcis.Notes[k]
		}
	}
	return out, nil
}

func (s *Server) pushEvents(c *fiber.Ctx) error {
	ins, bad, err := s.decodeEvents(c)
	if err != nil {
		return err
	}
	return s.ingest(c, ins, bad, nil)
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// pushEPCIS maps an EPCIS 2.0 document onto tracking events (see tracking.EPCISInputs): each
// eventList entry is answered on its own with its index, a document that is not EPCIS is one
// 400 naming what is wrong.
func (s *Server) pushEPCIS(c *fiber.Ctx) error {
	if err := checkJSON(c.Body(), ""); err != nil {
		return err
	}
	var doc epcisDoc
	if err := json.Unmarshal(c.Body(), &doc); err != nil {
		return jsonError(err)
	}
	if err := doc.check(); err != nil {
		return err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(doc.Body.EventList, &raws); err != nil {
		return badRequest("not_epcis", "epcisBody.eventList: must be an array of events", credtrace.FieldError{Field: "epcisBody.eventList", Reason: "an array"})
	}
	if len(raws) == 0 {
		return credtrace.InvalidField("epcisBody.eventList", "at least one event")
	}
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	if carrier == "" {
		carrier = actor(c).FirmID
	}
	if carrier == "" {
		return credtrace.InvalidField("carrier", "required: pass ?carrier=<firm id>")
	}
	// An entry that is not an object is answered on its own, as any other bad entry.
	events := make([]map[string]any, len(raws))
	for i, r := range raws {
		if json.Unmarshal(r, &events[i]) != nil || events[i] == nil {
			events[i] = map[string]any{"type": "(not an object)"}
		}
	}
	// Aggregations and transactions (containers and orders) and error declarations (the
	// retraction of an earlier event) are answered apart (epcis_agg.go); the ObjectEvents and
	// every other entry go through the decoder, their indexes mapped back to the document's.
	var objs []map[string]any
	var posOf []int
	var links, decls []epcisLater
	for i, ev := range events {
		if _, ok := ev["type"]; !ok {
			if isA, ok := ev["isA"].(string); ok {
				ev["type"] = isA
			}
		}
		if _, ok := ev["errorDeclaration"]; ok {
			decls = append(decls, epcisLater{i, ev})
			continue
		}
		if t := str(ev, "type"); t == "AggregationEvent" || t == "TransactionEvent" {
			links = append(links, epcisLater{i, ev})
			continue
		}
		objs = append(objs, ev)
		posOf = append(posOf, i)
	}
	b, err := s.deps.Tracking.EPCISInputs(ctx(c), carrier, objs, glnResolver{s.deps.Courier})
	if err != nil {
		return err
	}
	for i, k := range b.Origin {
		b.Origin[i] = posOf[k]
	}
	notes := make(map[int][]string, len(b.Notes))
	for k, n := range b.Notes {
		notes[posOf[k]] = n
	}
	b.Notes = notes
	return s.epcisAnswer(c, carrier, b, links, decls)
}

// queryEPCIS answers the events of the parcels MATCH_epc names that the caller may see (as
// their traces), as an EPCISQueryDocument.
func (s *Server) queryEPCIS(c *fiber.Ctx) error {
	var epcs []string
	for _, e := range strings.Split(c.Query("MATCH_epc"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			epcs = append(epcs, e)
		}
	}
	if len(epcs) == 0 || len(epcs) > 20 {
		return credtrace.InvalidField("MATCH_epc", "1 to 20 EPCs, comma-separated: the parcels to read")
	}
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	if carrier == "" {
		carrier = actor(c).FirmID
	}
	var q tracking.EPCISQuery
	q.BizStep = c.Query("EQ_bizStep")
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"GE_eventTime", &q.From}, {"LT_eventTime", &q.To}} {
		if v := c.Query(t.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return credtrace.InvalidField(t.name, "an RFC 3339 time with offset")
			}
			*t.to = at
		}
	}
	if loc := c.Query("EQ_bizLocation"); loc != "" {
		site, why, err := tracking.EPCISSite(ctx(c), glnResolver{s.deps.Courier}, loc)
		if err != nil {
			return err
		}
		if why != "" {
			return credtrace.InvalidField("EQ_bizLocation", "%s", why)
		}
		q.SiteID = site
	}
	per := 30
	if v := c.Query("perPage"); v != "" {
		if per, err = strconv.Atoi(v); err != nil || per < 1 || per > 100 {
			return credtrace.InvalidField("perPage", "1 to 100")
		}
	}
	offset := 0
	if tok := c.Query("nextPageToken"); tok != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(tok)
		if offset, err = strconv.Atoi(string(raw)); derr != nil || err != nil || offset < 0 {
			return credtrace.InvalidField("nextPageToken", "not a token this query answered")
		}
	}
	events := []map[string]any{}
	for i, epc := range epcs {
		wb, why, err := s.deps.Tracking.EPCISWaybill(ctx(c), carrier, epc)
		if err != nil {
			return err
		}
		if why != "" {
			return credtrace.InvalidField("MATCH_epc", "[%d]: %s", i, why)
		}
		t, err := s.deps.Tracking.TraceParcel(ctx(c), actor(c), wb, carrier, "")
		if errors.Is(err, credtrace.ErrNotFound) {
			continue // no parcel the caller may see: no events, as for an EPC never captured
		}
		if err != nil {
			return err
		}
		events = append(events, tracking.EPCISEvents(t, epc, q)...)
	}
	if offset > len(events) {
		offset = len(events)
	}
	page := events[offset:min(offset+per, len(events))]
	if offset+per < len(events) {
		next := c.BaseURL() + c.Path() + "?" + nextQuery(c, base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset+per))))
		c.Set("Link", "<"+next+`>; rel="next"`)
	}
	return c.JSON(epcisQueryDoc{Context: []string{epcisContext}, Type: "EPCISQueryDocument", SchemaVersion: "2.0",
		CreationDate: s.deps.Tracking.Now().Format(time.RFC3339), Body: epcisQueryBody{QueryResults: epcisQueryResults{
			QueryName: "SimpleEventQuery", ResultsBody: epcisResultsBody{EventList: page}}}})
}

// nextQuery is the request's query with nextPageToken set to tok.
func nextQuery(c *fiber.Ctx, tok string) string {
	v := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, val []byte) {
		if string(k) != "nextPageToken" {
			v.Add(string(k), string(val))
		}
	})
	v.Set("nextPageToken", tok)
	return v.Encode()
}

// glnResolver finds sites and firms by their GLNs for the EPCIS decoder.
type glnResolver struct{ c *courier.Service }

func (g glnResolver) SiteByGLN(ctx context.Context, gln string) (string, bool, error) {
	st, err := g.c.SiteByGLN(ctx, gln)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", false, nil
	}
	return st.ID, err == nil, err
}

func (g glnResolver) FirmByGLN(ctx context.Context, gln string) (string, bool, error) {
	f, err := g.c.FirmByGLN(ctx, gln)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", false, nil
	}
	return f.ID, err == nil, err
}

// carrierOf reads an optional carrier (a firm id, or its 18-character unified social credit
// code, which a firm's identity being public anyone may use) from ?carrier= or from v. An
// unknown code is no parcel at all: not found.
func (s *Server) carrierOf(c *fiber.Ctx, v ...string) (string, error) {
	// A copy: Query aliases the request buffer, which fasthttp reuses, and the carrier outlives
	// the handler in the parcel summaries the pipeline saves later.
	carrier := strings.Clone(strings.TrimSpace(c.Query("carrier")))
	if len(v) > 0 && strings.TrimSpace(v[0]) != "" {
		carrier = strings.TrimSpace(v[0])
	}
	if len(carrier) != 18 || s.deps.Courier == nil {
		return carrier, nil
	}
	f, err := s.deps.Courier.FirmByUSCC(ctx(c), carrier)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", credtrace.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return f.ID, nil
}

func (s *Server) traceParcel(c *fiber.Ctx) error {
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	t, err := s.deps.Tracking.TraceParcel(ctx(c), actor(c), c.Params("waybill"), carrier, c.Query("phone4"))
	if err != nil {
		return err
	}
	return c.JSON(traceOut(t))
}

// streamParcel sends the current trace, then each new event of the parcel as it is stored (by
// any replica), as server-sent events, with a comment every 15 seconds to keep proxies from
// closing it. It subscribes before it reads the trace, so that nothing stored in between is
// lost; an event the trace already holds is not sent again.
func (s *Server) streamParcel(c *fiber.Ctx) error {
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	t, ch, cancel, err := s.deps.Tracking.FollowParcel(ctx(c), actor(c), c.Params("waybill"), carrier, c.Query("phone4"))
	if err != nil {
		return err
	}
	snapshot, _ := json.Marshal(traceOut(t))
	first := fmt.Sprintf("event: trace\ndata: %s\n\n", snapshot)
	return sse(c, s.stop, cancel, first, ch, func(e tracking.Event) string {
		if e.Carrier != t.Carrier || t.Holds(e) {
			return ""
		}
		out := eventOut(e)
		if t.Reduced {
			r := tracking.ReduceEvent(e)
			out = eventJSON{Code: string(r.Code), At: r.At, Region: r.Region, Signer: r.Signer}
		}
		b, _ := json.Marshal(out)
		return fmt.Sprintf("event: tracking\ndata: %s\n\n", b)
	})
}

func (s *Server) acceptHandover(c *fiber.Ctx) error {
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	o, err := s.deps.Tracking.AcceptHandover(ctx(c), actor(c), c.Params("waybill"), carrier, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(offerOut(o))
}

func (s *Server) streamAlerts(c *fiber.Ctx) error {
	ch, cancel := s.deps.Tracking.Hub().SubscribeAlerts()
	return sse(c, s.stop, cancel, ": alerts stream open\n\n", ch, func(a tracking.Alert) string {
		var b []byte
		if a.Incident != nil {
			b, _ = json.Marshal(incidentOut(*a.Incident))
		} else if a.Anomaly != nil {
			b, _ = json.Marshal(anomalyOut(*a.Anomaly))
		}
		return fmt.Sprintf("event: %s\ndata: %s\n\n", a.Kind, b)
	})
}

// sse streams server-sent events: first, then one message per value received from ch (none
// when render returns ""), until the client goes away or the server stops; a comment every
// 15 s keeps proxies from timing out.
//
// A client that leaves is noticed at once, not at the next write (which the kernel may still
// take): the stream reads the connection, which a client of a stream never writes to again,
// and ends when that read does (the client closed or reset it). The connection is closed after
// the stream, never reused, since the read may have taken bytes of it.
func sse[T any](c *fiber.Ctx, stop <-chan struct{}, cancel func(), first string, ch <-chan T, render func(T) string) error {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetConnectionClose()
	conn := c.Context().Conn()
	// The server's write timeout is set once per response; a stream pushes it forward before
	// each message instead, so that it lives as long as the client reads.
	alive := func() { conn.SetWriteDeadline(time.Now().Add(30 * time.Second)) }
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		defer cancel()
		gone := make(chan struct{})
		go watchGone(conn, gone)
		alive()
		if _, err := w.WriteString(first); err != nil || w.Flush() != nil {
			return
		}
		keep := time.NewTicker(15 * time.Second)
		defer keep.Stop()
		for {
			var msg string
			select {
			case <-stop:
				return
			case <-gone:
				return
			case <-keep.C:
				msg = ": keep-alive\n\n"
			case v := <-ch:
				if msg = render(v); msg == "" {
					continue
				}
			}
			alive()
			if _, err := w.WriteString(msg); err != nil || w.Flush() != nil {
				return
			}
		}
	}))
	return nil
}

// watchGone reads conn until the read fails (the client closed or reset the connection, or
// the server closed it after the stream), then closes gone. What a client sends on a stream's
// connection is dropped.
func watchGone(conn net.Conn, gone chan<- struct{}) {
	defer close(gone)
	conn.SetReadDeadline(time.Time{}) // the request's read deadline is past use
	buf := make([]byte, 256)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				conn.SetReadDeadline(time.Time{})
				continue
			}
			return
		}
	}
}

func (s *Server) reportIncident(c *fiber.Ctx) error {
	var req incidentReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	carrier, err := s.carrierOf(c, req.Carrier)
	if err != nil {
		return err
	}
	in := tracking.IncidentInput{Waybill: req.Waybill, Carrier: carrier, Kind: tracking.IncidentKind(req.Kind), Reporter: req.Reporter,
		Description: req.Description, Evidence: req.Evidence}
	if req.At != nil {
		in.At = req.At.Time
	}
	inc, err := s.deps.Tracking.ReportIncident(ctx(c), actor(c), in)
	if err != nil {
		return err
	}
	if inc.Joined {
		// The same report again: nothing was created, so 200 with the incident it joined.
		return c.JSON(incidentOut(inc))
	}
	return c.Status(fiber.StatusCreated).JSON(incidentOut(inc))
}

func (s *Server) listIncidents(c *fiber.Ctx) error {
	after, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	items, err := s.deps.Tracking.Incidents(ctx(c), actor(c), c.Query("waybill"), carrier, after, limit+1)
	if err != nil {
		return err
	}
	return c.JSON(pageOut(items, limit, func(i tracking.Incident) string { return i.ID }, incidentOut))
}

func (s *Server) getIncident(c *fiber.Ctx) error {
	inc, err := s.deps.Tracking.Incident(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(incidentOut(inc))
}

func (s *Server) listAnomalies(c *fiber.Ctx) error {
	after, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	q := tracking.AnomalyQuery{Kind: tracking.AnomalyKind(c.Query("kind")), Waybill: strings.TrimSpace(c.Query("waybill")), Open: c.QueryBool("open"), After: after, Limit: limit + 1}
	if carrier != "" {
		q.Carriers = []string{carrier}
	}
	items, err := s.deps.Tracking.Anomalies(ctx(c), actor(c), q)
	if err != nil {
		return err
	}
	return c.JSON(pageOut(items, limit, func(a tracking.Anomaly) string { return a.ID }, anomalyOut))
}

func (s *Server) anomalyIncident(c *fiber.Ctx) error {
	var req anomalyIncidentReq
	if len(c.Body()) > 0 {
		if err := s.decode(c, &req); err != nil {
			return err
		}
	}
	inc, err := s.deps.Tracking.AnomalyToIncident(ctx(c), actor(c), c.Params("id"), tracking.IncidentKind(req.Kind), req.Description)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(incidentOut(inc))
}

func (s *Server) putCarrier(c *fiber.Ctx) error {
	var req carrierReq
	if err := s.decode(c, &req); err != nil {
		return err
	}
	cfg, err := s.deps.Tracking.SetCarrierConfig(ctx(c), actor(c), c.Params("id"), tracking.CarrierInput{
		PromiseHours: req.PromiseHours, DwellHours: req.DwellHours, Codes: req.Codes,
		WaybillRule: req.WaybillRule, GS1Prefixes: req.GS1Prefixes, TempMinC: req.TempMinC, TempMaxC: req.TempMaxC})
	if err != nil {
		return err
	}
	return s.carrierJSON(c, cfg)
}

// carrierJSON answers a carrier's configuration with the GLNs of the carrier and its sites.
func (s *Server) carrierJSON(c *fiber.Ctx, cfg tracking.CarrierConfig) error {
	out := carrierOut(cfg)
	f, err := s.deps.Courier.Firm(ctx(c), actor(c), cfg.FirmID)
	if err != nil {
		return err
	}
	if f.GLN != "" {
		out.GLNs = append(out.GLNs, glnJSON{GLN: f.GLN, Firm: f.ID})
	}
	for cursor := ""; ; {
		sites, next, err := s.deps.Courier.Sites(ctx(c), actor(c), f.ID, cursor, 500)
		if err != nil {
			return err
		}
		for _, st := range sites {
			if st.GLN != "" {
				out.GLNs = append(out.GLNs, glnJSON{GLN: st.GLN, Firm: f.ID, Site: st.ID})
			}
		}
		if next == "" || len(sites) == 0 {
			break
		}
		cursor = next
	}
	return c.JSON(out)
}

func (s *Server) getCarrier(c *fiber.Ctx) error {
	cfg, err := s.deps.Tracking.CarrierConfig(ctx(c), actor(c), c.Params("id"))
	if err != nil {
		return err
	}
	return s.carrierJSON(c, cfg)
}

type statsJSON struct {
	Kind   string         `json:"kind"`
	ID     string         `json:"id"`
	From   string         `json:"from"`
	To     string         `json:"to"`
	Days   []dayJSON      `json:"days"`
	Totals map[string]int `json:"totals"`
}

type dayJSON struct {
	Day    string         `json:"day"`
	Counts map[string]int `json:"counts"`
}

// stats answers a subject's day statistics; a firm sees its tree's firms and sites.
func (s *Server) stats(c *fiber.Ctx) error {
	kind, id := tracking.SubjectKind(c.Params("kind")), c.Params("id")
	a := actor(c)
	var firm string
	switch kind {
	case tracking.SubjectFirm:
		firm = id
	case tracking.SubjectSite:
		site, err := s.deps.Courier.Site(ctx(c), a, id)
		if err != nil {
			return err
		}
		firm = site.FirmID
	case tracking.SubjectStaff:
		if _, err := s.deps.Courier.Staff(ctx(c), a, id); err != nil {
			return err
		}
	default:
		return credtrace.InvalidField("kind", "must be one of firm, site, staff")
	}
	if firm != "" {
		if _, err := s.deps.Courier.Firm(ctx(c), a, firm); err != nil {
			return err
		}
	}
	now := s.deps.Tracking.Now()
	from, to := c.Query("from", tracking.Day(now.AddDate(0, 0, -30))), c.Query("to", tracking.Day(now))
	days, err := s.deps.Tracking.Stats(ctx(c), kind, id, from, to)
	if err != nil {
		return err
	}
	out := statsJSON{Kind: string(kind), ID: id, From: from, To: to, Days: []dayJSON{}, Totals: map[string]int{}}
	for _, m := range tracking.Metrics {
		out.Totals[string(m)] = 0
	}
	for _, d := range days {
		dj := dayJSON{Day: d.Key.Day, Counts: map[string]int{}}
		for m, n := range d.Counts {
			dj.Counts[string(m)] = n
			out.Totals[string(m)] += n
		}
		out.Days = append(out.Days, dj)
	}
	return c.JSON(out)
}
