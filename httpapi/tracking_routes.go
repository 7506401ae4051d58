package httpapi

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

var ingesters = []courier.Role{courier.RoleRegulator, courier.RoleFirm}

func (s *Server) trackingRoutes() {
	if s.deps.Tracking == nil {
		return
	}
	s.addLimited("POST", "/v1/events", "Push tracking events (JSON array or NDJSON, up to 10,000)", ingesters, MaxBodyLimit, s.pushEvents)
	s.addLimited("POST", "/v1/events/epcis", "Push GS1 EPCIS 2.0 ObjectEvents (?carrier=)", ingesters, MaxBodyLimit, s.pushEPCIS)
	s.add("GET", "/v1/parcels/:waybill", "Trace a parcel (public with ?phone4=)", public, s.traceParcel)
	s.add("GET", "/v1/parcels/:waybill/stream", "Follow a parcel live (server-sent events)", public, s.streamParcel)
	s.add("POST", "/v1/parcels/:waybill/handovers/:id/accept", "Take a parcel offered to your firm tree (the receiver, or a regulator)", ingesters, s.acceptHandover)
	s.add("GET", "/v1/alerts/stream", "New incidents and anomalies, live (server-sent events)", regulators, s.streamAlerts)
	s.add("POST", "/v1/incidents", "Report an incident and back-track it", []courier.Role{courier.RoleRegulator, courier.RoleFirm, courier.RoleMerchant}, s.reportIncident)
	s.add("GET", "/v1/incidents", "List incidents (?waybill=)", firms, s.listIncidents)
	s.add("GET", "/v1/incidents/:id", "Get an incident", firms, s.getIncident)
	s.add("GET", "/v1/anomalies", "List anomalies (?kind=, ?open=true)", firms, s.listAnomalies)
	s.add("POST", "/v1/anomalies/:id/incident", "Turn an anomaly into an incident", regulators, s.anomalyIncident)
	s.add("PUT", "/v1/carriers/:id/config", "Set a carrier's promise, dwell standards and code mapping", firms, s.putCarrier)
	s.add("GET", "/v1/carriers/:id/config", "A carrier's configuration", firms, s.getCarrier)
	s.add("GET", "/v1/stats/:kind/:id", "Service-quality statistics of a firm, site or person per day", firms, s.stats)
}

func (s *Server) addLimited(method, path, summary string, roles []courier.Role, limit int, h fiber.Handler) {
	s.add(method, path, summary, roles, h)
	s.routes[len(s.routes)-1].limit = limit
}

func caller(c *fiber.Ctx) tracking.Caller {
	a := actor(c)
	return tracking.Caller{TokenID: a.TokenID, Role: string(a.Role), FirmID: a.FirmID, MerchantID: a.MerchantID}
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
}

// decodeEvents reads a JSON array or NDJSON body in one pass. An element that is not a valid
// event is rejected on its own, with its index; only a body that cannot be split into elements
// fails as a whole.
func (s *Server) decodeEvents(c *fiber.Ctx) ([]tracking.EventInput, map[int]string, error) {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return nil, nil, badRequest("malformed", "a JSON array or NDJSON body of events is required")
	}
	var ins []tracking.EventInput
	bad := map[int]string{}
	add := func(r eventReq, err error) error {
		if len(ins) == tracking.MaxBatch {
			return courier.Invalid("events", "at most %d events per request", tracking.MaxBatch)
		}
		if err != nil {
			bad[len(ins)] = eventDecodeReason(err)
			ins = append(ins, tracking.EventInput{})
			return nil
		}
		ins = append(ins, r.toDomain())
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
			var r eventReq
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			err := dec.Decode(&r)
			if err == nil && dec.More() {
				err = errors.New("unexpected data after the event on its line")
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
			return nil, nil, badRequest("malformed", "the body must be a JSON array of events, or NDJSON")
		}
		for dec.More() {
			var r eventReq
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
		return nil, nil, courier.Invalid("events", "at least one event")
	}
	return ins, bad, nil
}

func eventDecodeReason(err error) string {
	var ve *courier.ValidationError
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

func asValidation(err error, ve **courier.ValidationError) bool {
	v, ok := err.(*courier.ValidationError)
	if ok {
		*ve = v
	}
	return ok
}

// ingest runs the decodable inputs and merges the decode rejections back by index; origin,
// when given, maps each input to the EPCIS eventList entry it came from.
func (s *Server) ingest(c *fiber.Ctx, ins []tracking.EventInput, bad map[int]string, origin ...[]int) error {
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
		res, err := s.deps.Tracking.Ingest(ctx(c), caller(c), keep)
		if err != nil {
			return err
		}
		for j, r := range res.Results {
			out.Results[pos[j]] = resultJSON{Index: pos[j], ID: r.ID, Status: r.Status, Reason: r.Reason}
		}
		out.Accepted, out.Duplicates, out.Rejected = res.Accepted, res.Duplicates, out.Rejected+res.Rejected
		for _, a := range res.Anomalies {
			out.Anomalies = append(out.Anomalies, anomalyOut(a))
		}
	}
	if len(origin) > 0 {
		for i := range out.Results {
			k := origin[0][i]
			out.Results[i].EPCISIndex = &k
		}
	}
	s.deps.Metrics.ingested(out.Accepted, out.Duplicates, out.Rejected, len(out.Anomalies))
	return c.JSON(out)
}

func (s *Server) pushEvents(c *fiber.Ctx) error {
	ins, bad, err := s.decodeEvents(c)
	if err != nil {
		return err
	}
	return s.ingest(c, ins, bad)
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

func refOf(v any) string {
	switch x := v.(type) {
	case string:
		return tracking.EPCISRef(x)
	case map[string]any:
		return tracking.EPCISRef(str(x, "id"))
	}
	return ""
}

// pushEPCIS maps EPCIS 2.0 ObjectEvents onto tracking events: one event per EPC in epcList
// (the EPC's last segment is the waybill), bizStep and disposition give the code, bizLocation
// (else readPoint) the site, the destinationList's owning or possessing party the new holder.
func (s *Server) pushEPCIS(c *fiber.Ctx) error {
	var doc epcisDoc
	if err := checkJSON(c.Body(), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(c.Body(), &doc); err != nil {
		return jsonError(err)
	}
	if len(doc.Body.EventList) == 0 {
		return courier.Invalid("epcisBody.eventList", "at least one event")
	}
	carrier, err := s.carrierOf(c)
	if err != nil {
		return err
	}
	if carrier == "" {
		carrier = actor(c).FirmID
	}
	if carrier == "" {
		return courier.Invalid("carrier", "required: pass ?carrier=<firm id>")
	}
	var ins []tracking.EventInput
	var origin []int
	bad := map[int]string{}
	for pos, ev := range doc.Body.EventList {
		reject := func(reason string) {
			bad[len(ins)] = reason
			ins = append(ins, tracking.EventInput{})
			origin = append(origin, pos)
		}
		if t := str(ev, "type"); t != "ObjectEvent" {
			reject(fmt.Sprintf("type: %q is not an ObjectEvent", t))
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, str(ev, "eventTime"))
		if err != nil {
			reject("eventTime: must be an RFC 3339 time with offset")
			continue
		}
		code, ok := tracking.EPCISCode(str(ev, "bizStep"), str(ev, "disposition"))
		if !ok {
			reject(fmt.Sprintf("bizStep: %q (disposition %q) maps to no tracking code", str(ev, "bizStep"), str(ev, "disposition")))
			continue
		}
		epcs, _ := ev["epcList"].([]any)
		if len(epcs) == 0 {
			reject("epcList: at least one EPC (the waybill)")
			continue
		}
		base := str(ev, "eventID")
		if base == "" {
			raw, _ := json.Marshal(ev)
			sum := sha256.Sum256(raw)
			base = "epcis-" + hex.EncodeToString(sum[:12])
		}
		base = tracking.EPCISRef(base)
		site := refOf(ev["bizLocation"])
		if site == "" {
			site = refOf(ev["readPoint"])
		}
		var holder *tracking.HolderInput
		if dl, _ := ev["destinationList"].([]any); len(dl) > 0 {
			for _, d := range dl {
				dm, _ := d.(map[string]any)
				typ := tracking.EPCISRef(str(dm, "type"))
				if typ == "owning_party" || typ == "possessing_party" {
					holder = &tracking.HolderInput{Firm: tracking.EPCISRef(str(dm, "destination"))}
				}
			}
		}
		for i, e := range epcs {
			epc, _ := e.(string)
			in := tracking.EventInput{ID: base, Waybill: tracking.EPCISRef(epc), Carrier: carrier, Code: string(code), At: at, Site: site, Holder: holder,
				Staff: str(ev, "credtrace:staff"), Signer: str(ev, "credtrace:signer"), Remark: "EPCIS " + str(ev, "bizStep")}
			if len(epcs) > 1 {
				in.ID = base + "#" + strconv.Itoa(i)
			}
			if code == tracking.Delivered && in.Signer == "" {
				in.Signer = tracking.SignerRecipient
			}
			ins = append(ins, in)
			origin = append(origin, pos)
		}
	}
	return s.ingest(c, ins, bad, origin)
}

// carrierOf reads an optional carrier (a firm id, or its 18-character unified social credit
// code, which a firm's identity being public anyone may use) from ?carrier= or from v. An
// unknown code is no parcel at all: not found.
func (s *Server) carrierOf(c *fiber.Ctx, v ...string) (string, error) {
	carrier := strings.TrimSpace(c.Query("carrier"))
	if len(v) > 0 && strings.TrimSpace(v[0]) != "" {
		carrier = strings.TrimSpace(v[0])
	}
	if len(carrier) != 18 || s.deps.Courier == nil {
		return carrier, nil
	}
	f, err := s.deps.Courier.FirmByUSCC(ctx(c), carrier)
	if errors.Is(err, courier.ErrNotFound) {
		return "", tracking.ErrNotFound
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
	t, err := s.deps.Tracking.TraceParcel(ctx(c), caller(c), c.Params("waybill"), carrier, c.Query("phone4"))
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
	t, ch, cancel, err := s.deps.Tracking.FollowParcel(ctx(c), caller(c), c.Params("waybill"), carrier, c.Query("phone4"))
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
	o, err := s.deps.Tracking.AcceptHandover(ctx(c), caller(c), c.Params("waybill"), carrier, c.Params("id"))
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
func sse[T any](c *fiber.Ctx, stop <-chan struct{}, cancel func(), first string, ch <-chan T, render func(T) string) error {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	conn := c.Context().Conn()
	// The server's write timeout is set once per response; a stream pushes it forward before
	// each message instead, so that it lives as long as the client reads.
	alive := func() { conn.SetWriteDeadline(time.Now().Add(30 * time.Second)) }
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		defer cancel()
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
	inc, err := s.deps.Tracking.ReportIncident(ctx(c), caller(c), in)
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
	items, err := s.deps.Tracking.Incidents(ctx(c), caller(c), c.Query("waybill"), carrier, after, limit+1)
	if err != nil {
		return err
	}
	return c.JSON(pageOut(items, limit, func(i tracking.Incident) string { return i.ID }, incidentOut))
}

func (s *Server) getIncident(c *fiber.Ctx) error {
	inc, err := s.deps.Tracking.Incident(ctx(c), caller(c), c.Params("id"))
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
	items, err := s.deps.Tracking.Anomalies(ctx(c), caller(c), q)
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
	inc, err := s.deps.Tracking.AnomalyToIncident(ctx(c), caller(c), c.Params("id"), tracking.IncidentKind(req.Kind), req.Description)
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
	cfg, err := s.deps.Tracking.SetCarrierConfig(ctx(c), caller(c), c.Params("id"), tracking.CarrierInput{
		PromiseHours: req.PromiseHours, DwellHours: req.DwellHours, Codes: req.Codes})
	if err != nil {
		return err
	}
	return c.JSON(carrierOut(cfg))
}

func (s *Server) getCarrier(c *fiber.Ctx) error {
	cfg, err := s.deps.Tracking.CarrierConfig(ctx(c), caller(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(carrierOut(cfg))
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
		return courier.Invalid("kind", "must be one of firm, site, staff")
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
