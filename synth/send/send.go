// Package send writes a synth world to a running credtrace service through its HTTP API, as
// its parties would: the regulator registers firms, sites and staff and issues tokens, each
// carrier pushes its own events with its own token, incidents and complaints are reported, the
// platform pushes its merchants' and buyers' ratings in batches, and a scoring run (a preview
// of the period in progress) closes the lot. It is a client of the API, not a part of the
// service: synth makes the world and stays free of transport; credtrace gen wires the two.
package send

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credtrace/credtrace/synth"
)

// New returns a Writer of w to the service at base (http://host:port) with admin, a regulator
// token, sending up to workers requests at once for registrations, reports and ratings.
func New(w synth.World, base, admin string, workers int) *Writer {
	return &Writer{base: strings.TrimRight(base, "/"), admin: admin, workers: max(workers, 1), w: w,
		hc:  &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * (max(workers, 1) + len(w.HQs()))}},
		ids: map[string]string{}, tokens: map[string]string{}}
}

// Base is the service's URL, without a trailing slash.
func (wr *Writer) Base() string { return wr.base }

// Write sends the whole world in the order its parties would, showing its progress on progress
// (a bar redrawn in place on a terminal, a line every few seconds elsewhere). A request the
// service refuses for the data's sake (an incident, a complaint, a rating) does not stop it:
// Refusals reports those; a refused registration or event batch does, as an error.
func (wr *Writer) Write(ctx context.Context, progress io.Writer) error {
	w := wr.w
	units := len(w.Firms) + len(w.Sites) + len(w.Staff) + len(w.HQs()) + len(w.Merchants) + 1 + 2*len(w.HQs()) +
		w.Events() + len(w.Incidents) + len(w.Complaints) + len(w.Inspections) + len(w.Ratings) + 1
	wr.prog = newProgress(progress, int64(units), isTerminal(progress), 2*time.Second)
	err := wr.write(ctx)
	wr.prog.finish()
	return err
}

// ID is the service's id of a world reference (firm, site, person) that Write registered, or
// "" before.
func (wr *Writer) ID(ref string) string { return wr.id(ref) }

// AfterEvents sets f to run once every carrier's events are in, before any report, rating
// or the scoring run: where a caller that holds the service runs its periodic jobs (the
// anomaly and deemed-lost scan) as the service's schedule would have while the events came in.
func (wr *Writer) AfterEvents(f func(context.Context) error) { wr.afterEvents = f }

// Run is the scoring run Write started, as the service answered it (nil before).
func (wr *Writer) Run() map[string]any {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.run
}

// Refusals is nil when the service accepted every request Write sent, or else says how many it
// refused and what the first few were.
func (wr *Writer) Refusals() error {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if len(wr.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%d requests were refused; first: %s", wr.refused.Load(), strings.Join(wr.problems, "; "))
}

// Writer writes one world to one service.
type Writer struct {
	base, admin string
	workers     int
	hc          *http.Client
	prog        *progress
	w           synth.World

	mu       sync.Mutex
	ids      map[string]string // world reference (firm, site, person) → the service's id
	tokens   map[string]string // HQ ref or merchant ID → its token
	problems []string          // the first refusals, for the report
	run      map[string]any

	afterEvents func(context.Context) error

	accepted, duplicates, rejected, refused atomic.Int64
	proposed, confirmed, discounted         atomic.Int64
	eventTime                               atomic.Int64 // nanoseconds spent pushing events
}

func (wr *Writer) id(ref string) string {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.ids[ref]
}

func (wr *Writer) setID(ref, id string) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	wr.ids[ref] = id
}

func (wr *Writer) token(key string) string {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.tokens[key]
}

// problem notes a refused request that does not stop the writing.
func (wr *Writer) problem(format string, args ...any) {
	wr.refused.Add(1)
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if len(wr.problems) < 5 {
		wr.problems = append(wr.problems, fmt.Sprintf(format, args...))
	}
}

// apiError is an answer outside 2xx.
type apiError struct {
	method, path string
	status       int
	code, msg    string
	fields       []string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s: %s", e.method, e.path, e.status, e.code, e.msg)
	if len(e.fields) > 0 {
		s += " (" + strings.Join(e.fields, ", ") + ")"
	}
	return s
}

// call sends one request with a JSON body and decodes a JSON answer into out.
func (wr *Writer) call(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	return wr.send(ctx, method, path, token, rd, out)
}

func (wr *Writer) send(ctx context.Context, method, path, token string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, wr.base+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := wr.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Code, Message string
				Fields        []struct{ Field, Reason string }
			}
		}
		json.Unmarshal(raw, &e)
		ae := &apiError{method: method, path: path, status: resp.StatusCode, code: e.Error.Code, msg: e.Error.Message}
		if ae.msg == "" {
			ae.msg = strings.TrimSpace(string(raw))
		}
		for _, f := range e.Error.Fields {
			ae.fields = append(ae.fields, f.Field+": "+f.Reason)
		}
		return ae
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
		}
	}
	return nil
}

// Ready waits for the service to answer /healthz (up to wait) and checks that the token is a
// regulator's.
func (wr *Writer) Ready(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := wr.call(ctx, "GET", "/healthz", "", nil, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the service at %s does not answer: %w", wr.base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var me struct{ Role string }
	if err := wr.call(ctx, "GET", "/v1/me", wr.admin, nil, &me); err != nil {
		return fmt.Errorf("check the token: %w", err)
	}
	if me.Role != "regulator" {
		return fmt.Errorf("the token belongs to a %s; gen needs a regulator token", me.Role)
	}
	return nil
}

// parallel runs f(0..n-1) on up to workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for k := 0; k < min(workers, n); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

type idJSON struct {
	ID string `json:"id"`
}

// write sends the whole world, in the order its parties would.
func (wr *Writer) write(ctx context.Context) error {
	steps := []struct {
		phase string
		run   func(context.Context) error
	}{
		{"firms", wr.firms}, {"sites", wr.sites}, {"staff", wr.staff}, {"tokens", wr.issueTokens}, {"carriers", wr.carriers},
		{"events", wr.events}, {"scan", wr.scan}, {"incidents", wr.incidents}, {"complaints", wr.complaints}, {"inspections", wr.inspections},
		{"ratings", wr.ratings}, {"scoring", wr.score},
	}
	for _, s := range steps {
		wr.prog.phase(s.phase)
		if err := s.run(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (wr *Writer) firms(ctx context.Context) error {
	w := wr.w
	// Parents first: HQs, then branches, then outlets, each level side by side.
	for _, kind := range []string{synth.KindHQ, synth.KindBranch, synth.KindOutlet} {
		var level []synth.Firm
		for _, f := range w.Firms {
			if f.Kind == kind {
				level = append(level, f)
			}
		}
		err := parallel(ctx, len(level), wr.workers, func(ctx context.Context, i int) error {
			f := level[i]
			body := map[string]any{"uscc": f.USCC, "name": f.Name, "kind": f.Kind, "region": f.Region,
				"licence": map[string]any{"number": f.Licence.Number, "scope": f.Licence.Scope, "status": f.Licence.Status,
					"valid_from": f.Licence.ValidFrom, "valid_to": f.Licence.ValidTo}}
			if f.Parent != "" {
				body["parent_id"] = wr.id(f.Parent)
			}
			var out idJSON
			err := wr.call(ctx, "POST", "/v1/firms", wr.admin, body, &out)
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusConflict {
				return fmt.Errorf("firm %s (USCC %s) is already registered: this world (seed %d) was written to this service before; use another --seed or a fresh data directory",
					f.Name, f.USCC, w.Seed)
			}
			if err != nil {
				return err
			}
			wr.setID(f.Ref, out.ID)
			wr.prog.add(1)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (wr *Writer) sites(ctx context.Context) error {
	sites := wr.w.Sites
	return parallel(ctx, len(sites), wr.workers, func(ctx context.Context, i int) error {
		s := sites[i]
		var out idJSON
		if err := wr.call(ctx, "POST", "/v1/firms/"+wr.id(s.Firm)+"/sites", wr.admin,
			map[string]any{"name": s.Name, "kind": s.Kind, "region": s.Region, "address": s.Address}, &out); err != nil {
			return err
		}
		wr.setID(s.Ref, out.ID)
		wr.prog.add(1)
		return nil
	})
}

func (wr *Writer) staff(ctx context.Context) error {
	staff := wr.w.Staff
	return parallel(ctx, len(staff), wr.workers, func(ctx context.Context, i int) error {
		p := staff[i]
		e := p.Employment[0]
		var out idJSON
		if err := wr.call(ctx, "POST", "/v1/staff", wr.admin, map[string]any{"name": p.Name, "id_number": p.IDNumber, "phone": p.Phone,
			"employment": map[string]any{"firm_id": wr.id(e.Firm), "role": e.Role, "from": e.From}}, &out); err != nil {
			return fmt.Errorf("register %s: %w", p.Ref, err)
		}
		wr.setID(p.Ref, out.ID)
		// Each later employment starts a new job and closes the open one.
		for _, e := range p.Employment[1:] {
			if err := wr.call(ctx, "POST", "/v1/staff/"+out.ID+"/employments", wr.admin,
				map[string]any{"firm_id": wr.id(e.Firm), "role": e.Role, "from": e.From}, nil); err != nil {
				return fmt.Errorf("employment of %s: %w", p.Ref, err)
			}
		}
		wr.prog.add(1)
		return nil
	})
}

// issueTokens gives each brand HQ and each merchant its token, as a regulator does when a party
// joins.
func (wr *Writer) issueTokens(ctx context.Context) error {
	type req struct{ key, role, firm, merchant, label string }
	var reqs []req
	for _, f := range wr.w.HQs() {
		reqs = append(reqs, req{key: f.Ref, role: "firm", firm: wr.id(f.Ref), label: f.Name + " 系统对接"})
	}
	for _, m := range wr.w.Merchants {
		reqs = append(reqs, req{key: m.ID, role: "merchant", merchant: m.ID, label: m.Name})
	}
	reqs = append(reqs, req{key: platformToken, role: "platform", label: "电商平台 评价对接"})
	return parallel(ctx, len(reqs), wr.workers, func(ctx context.Context, i int) error {
		r := reqs[i]
		var out struct{ Token string }
		body := map[string]any{"role": r.role, "label": r.label}
		if r.firm != "" {
			body["firm_id"] = r.firm
		}
		if r.merchant != "" {
			body["merchant_id"] = r.merchant
		}
		if err := wr.call(ctx, "POST", "/v1/tokens", wr.admin, body, &out); err != nil {
			return err
		}
		wr.mu.Lock()
		wr.tokens[r.key] = out.Token
		wr.mu.Unlock()
		wr.prog.add(1)
		return nil
	})
}

// carriers sets each carrier's promise and code mapping and signs its credit commitment, with
// the carrier's own token.
func (wr *Writer) carriers(ctx context.Context) error {
	for _, f := range wr.w.HQs() {
		body := map[string]any{"promise_hours": f.PromiseHours}
		if f.Codes != nil {
			body["codes"] = f.Codes
		}
		if err := wr.call(ctx, "PUT", "/v1/carriers/"+wr.id(f.Ref)+"/config", wr.token(f.Ref), body, nil); err != nil {
			return err
		}
		wr.prog.add(1)
	}
	for _, c := range wr.w.Commitments {
		if err := wr.call(ctx, "POST", "/v1/commitments", wr.token(c.Firm), map[string]any{
			"subject": map[string]any{"kind": "firm", "id": wr.id(c.Firm)}, "text": c.Text, "scope": c.Scope, "signer": c.Signer, "signed_at": c.SignedAt}, nil); err != nil {
			return err
		}
		wr.prog.add(1)
	}
	return nil
}

// events pushes each carrier's batches in order with its token, the carriers side by side.
// Re-sending is safe (an event sent twice is answered duplicate), so a batch that fails on
// the way is sent again.
func (wr *Writer) events(ctx context.Context) error {
	hqs := wr.w.HQs()
	start := time.Now()
	defer func() { wr.eventTime.Store(int64(time.Since(start))) }()
	return parallel(ctx, len(hqs), len(hqs), func(ctx context.Context, i int) error {
		hq := hqs[i]
		tok := wr.token(hq.Ref)
		var buf bytes.Buffer
		for _, b := range wr.w.Batches {
			if b.Carrier != hq.Ref {
				continue
			}
			out := make([]synth.Event, len(b.Events))
			for j, e := range b.Events {
				out[j] = e.Resolve(wr.id)
			}
			buf.Reset()
			if err := json.NewEncoder(&buf).Encode(out); err != nil {
				return err
			}
			var res struct {
				Accepted, Duplicates, Rejected int
				Results                        []struct {
					Index          int
					ID             string
					Status, Reason string
				}
			}
			var err error
			for attempt := 0; attempt < 3; attempt++ {
				if err = wr.send(ctx, "POST", "/v1/events", tok, bytes.NewReader(buf.Bytes()), &res); err == nil || !transient(err) {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(attempt+1) * time.Second):
				}
			}
			if err != nil {
				return err
			}
			wr.accepted.Add(int64(res.Accepted))
			wr.duplicates.Add(int64(res.Duplicates))
			wr.rejected.Add(int64(res.Rejected))
			for _, r := range res.Results {
				if r.Status == "rejected" {
					wr.problem("event %s of %s rejected: %s", r.ID, hq.Name, r.Reason)
				}
			}
			wr.prog.add(len(b.Events))
		}
		return nil
	})
}

func (wr *Writer) scan(ctx context.Context) error {
	if wr.afterEvents == nil {
		return nil
	}
	return wr.afterEvents(ctx)
}

// transient reports whether a request may succeed when sent again.
func transient(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status >= 500 || ae.status == http.StatusTooManyRequests
	}
	return !errors.Is(err, context.Canceled)
}

// hqOfSubject is the brand HQ that answers for a complaint's subject.
func (wr *Writer) hqOfSubject(kind, ref string) string {
	firm := ref
	if kind == "staff" {
		for _, p := range wr.w.Staff {
			if p.Ref == ref {
				firm = p.Employment[len(p.Employment)-1].Firm
			}
		}
	}
	for _, f := range wr.w.Firms {
		if f.Ref == firm {
			return f.HQ
		}
	}
	return ""
}

func (wr *Writer) incidents(ctx context.Context) error {
	ins := wr.w.Incidents
	return parallel(ctx, len(ins), wr.workers, func(ctx context.Context, i int) error {
		in := ins[i]
		tok := wr.admin
		if in.By == synth.ByMerchant {
			tok = wr.token(in.Merchant)
		}
		var out struct {
			ProposedRecordIDs []string `json:"proposed_record_ids"`
		}
		if err := wr.call(ctx, "POST", "/v1/incidents", tok, map[string]any{"waybill": in.Waybill, "kind": in.Kind, "reporter": in.Reporter,
			"at": in.At, "description": in.Description}, &out); err != nil {
			wr.problem("%s incident on %s: %v", in.Kind, in.Waybill, err)
			wr.prog.add(1)
			return nil
		}
		wr.proposed.Add(int64(len(out.ProposedRecordIDs)))
		if in.Confirm {
			for _, id := range out.ProposedRecordIDs {
				if err := wr.call(ctx, "POST", "/v1/records/"+id+"/confirm", wr.admin, map[string]any{"reason": "经核查属实"}, nil); err != nil {
					wr.problem("confirm record %s: %v", id, err)
					continue
				}
				wr.confirmed.Add(1)
			}
		}
		wr.prog.add(1)
		return nil
	})
}

// complaints enters consumers' complaints as records (source consumer), confirms some, and
// lets a carrier object to one.
func (wr *Writer) complaints(ctx context.Context) error {
	cs := wr.w.Complaints
	return parallel(ctx, len(cs), wr.workers, func(ctx context.Context, i int) error {
		defer wr.prog.add(1)
		c := cs[i]
		var rec idJSON
		if err := wr.call(ctx, "POST", "/v1/records", wr.admin, map[string]any{
			"subject": map[string]any{"kind": c.SubjectKind, "id": wr.id(c.Subject)}, "category": "complaint", "source": "consumer",
			"severity": c.Severity, "occurred_at": c.OccurredAt, "summary": c.Summary,
			"evidence": []map[string]any{{"kind": "waybill", "ref": c.Waybill}}}, &rec); err != nil {
			wr.problem("complaint on %s: %v", c.Waybill, err)
			return nil
		}
		if !c.Confirm {
			return nil
		}
		if err := wr.call(ctx, "POST", "/v1/records/"+rec.ID+"/confirm", wr.admin, map[string]any{"reason": "经核查属实"}, nil); err != nil {
			wr.problem("confirm complaint %s: %v", rec.ID, err)
			return nil
		}
		wr.confirmed.Add(1)
		if c.Objection != "" {
			tok := wr.token(wr.hqOfSubject(c.SubjectKind, c.Subject))
			if err := wr.call(ctx, "POST", "/v1/objections", tok, map[string]any{"record_id": rec.ID, "reasons": c.Objection}, nil); err != nil {
				wr.problem("objection to %s: %v", rec.ID, err)
			}
		}
		return nil
	})
}

// inspections enters the regulator's inspection findings as supervision records, confirmed:
// the service confirms a regulator's own record as it enters it, and the writer confirms one
// it did not.
func (wr *Writer) inspections(ctx context.Context) error {
	ins := wr.w.Inspections
	return parallel(ctx, len(ins), wr.workers, func(ctx context.Context, i int) error {
		defer wr.prog.add(1)
		in := ins[i]
		var rec struct {
			ID, Status string
		}
		if err := wr.call(ctx, "POST", "/v1/records", wr.admin, map[string]any{
			"subject": map[string]any{"kind": in.SubjectKind, "id": wr.id(in.Subject)}, "category": "supervision", "source": "regulator",
			"severity": in.Severity, "occurred_at": in.OccurredAt, "summary": in.Summary,
			"evidence": []map[string]any{{"kind": "document", "ref": in.Document}}}, &rec); err != nil {
			wr.problem("inspection record %s: %v", in.Document, err)
			return nil
		}
		if rec.Status != "confirmed" {
			if err := wr.call(ctx, "POST", "/v1/records/"+rec.ID+"/confirm", wr.admin, map[string]any{"reason": "检查记录属实"}, nil); err != nil {
				wr.problem("confirm inspection record %s: %v", rec.ID, err)
				return nil
			}
		}
		wr.confirmed.Add(1)
		return nil
	})
}

// RatingBatch is the most ratings send pushes in one call.
const RatingBatch = 1000

// platformToken is the key of the platform's token: the marketplace that forwards its
// merchants' and buyers' ratings.
const platformToken = "platform"

// ratings pushes every rating through the platform's route, RatingBatch at a time, each with
// the time its rater gave it: merchants under their merchant id, consumers under the
// platform's pseudonym of the buyer.
func (wr *Writer) ratings(ctx context.Context) error {
	rs := wr.w.Ratings
	n := (len(rs) + RatingBatch - 1) / RatingBatch
	return parallel(ctx, n, wr.workers, func(ctx context.Context, b int) error {
		batch := rs[b*RatingBatch : min(len(rs), (b+1)*RatingBatch)]
		defer wr.prog.add(len(batch))
		body := make([]map[string]any, len(batch))
		for i, r := range batch {
			x := map[string]any{"waybill": r.Waybill, "stars": r.Stars, "tags": r.Tags, "comment": r.Comment,
				"rated_at": r.At.Format(time.RFC3339), "rater_kind": "merchant", "merchant_id": r.Merchant}
			if r.Tags == nil {
				x["tags"] = []string{}
			}
			if r.By == synth.ByConsumer {
				x["rater_kind"], x["buyer_id"] = "consumer", r.Buyer
				delete(x, "merchant_id")
			}
			body[i] = x
		}
		var out struct {
			Results []struct {
				Index          int
				Status, Reason string
				Weight         *float64
			}
		}
		if err := wr.call(ctx, "POST", "/v1/platform/ratings", wr.token(platformToken), body, &out); err != nil {
			for _, r := range batch {
				wr.problem("rating of %s: %v", r.Waybill, err)
			}
			return nil
		}
		if len(out.Results) != len(batch) {
			return fmt.Errorf("POST /v1/platform/ratings: %d answers to %d ratings", len(out.Results), len(batch))
		}
		for _, x := range out.Results {
			switch {
			case x.Index < 0 || x.Index >= len(batch):
				return fmt.Errorf("POST /v1/platform/ratings: an answer for item %d of %d", x.Index, len(batch))
			case x.Status != "accepted":
				wr.problem("rating of %s: %s", batch[x.Index].Waybill, x.Reason)
			case x.Weight != nil && *x.Weight < 1:
				wr.discounted.Add(1)
			}
		}
		return nil
	})
}

// score starts a scoring run and waits for its outcome; while another run holds the lease (a
// scheduled one), it tries again. It is a preview, not a publication: the world is written
// today, and a publication is of the period that has ended, which holds none of it.
func (wr *Writer) score(ctx context.Context) error {
	var run map[string]any
	for attempt := 0; ; attempt++ {
		err := wr.call(ctx, "POST", "/v1/scoring/runs", wr.admin, map[string]any{"publish": false}, &run)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusConflict && attempt < 60 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	id, _ := run["id"].(string)
	for run["status"] == "running" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if err := wr.call(ctx, "GET", "/v1/scoring/runs/"+id, wr.admin, nil, &run); err != nil {
			return err
		}
	}
	wr.mu.Lock()
	wr.run = run
	wr.mu.Unlock()
	wr.prog.add(1)
	if run["status"] != "succeeded" {
		return fmt.Errorf("scoring run %s %v: %v", id, run["status"], run["error"])
	}
	return nil
}

// Summary prints what Write sent and how the service answered, for the world of seed and
// size written in took, with a parcel to trace and tokens to try.
func (wr *Writer) Summary(out io.Writer, seed uint64, size string, took time.Duration) {
	w := wr.w
	fmt.Fprintf(out, "gen: wrote the world of seed %d, size %s to %s in %s\n", seed, size, wr.base, took.Round(100*time.Millisecond))
	fmt.Fprintf(out, "  %d firms (%d brands), %d sites, %d staff, %d merchants\n", len(w.Firms), len(w.HQs()), len(w.Sites), len(w.Staff), len(w.Merchants))
	rate := 0.0
	if d := time.Duration(wr.eventTime.Load()); d > 0 {
		rate = float64(w.Events()) / d.Seconds()
	}
	fmt.Fprintf(out, "  %d events of %d parcels in %d batches: %d accepted, %d duplicates, %d rejected (%.0f events/s)\n",
		w.Events(), len(w.Parcels), len(w.Batches), wr.accepted.Load(), wr.duplicates.Load(), wr.rejected.Load(), rate)
	fmt.Fprintf(out, "  %d incidents proposing %d records, %d complaints, %d inspection findings, %d records confirmed, %d ratings (%d weigh less than one: bursts, bought stars)\n",
		len(w.Incidents), wr.proposed.Load(), len(w.Complaints), len(w.Inspections), wr.confirmed.Load(), len(w.Ratings), wr.discounted.Load())
	if wr.run != nil {
		fmt.Fprintf(out, "  scoring run %v %v: %v subjects, %v proposals, preview of period %v\n", wr.run["id"], wr.run["status"], wr.run["total"], wr.run["proposals"], wr.run["period"])
	}
	var sample string
	for _, p := range w.Parcels {
		if !p.DeliveredAt.IsZero() && p.Kind == synth.ParcelNormal && p.Events >= 8 {
			sample = p.Waybill
			break
		}
	}
	if sample != "" {
		fmt.Fprintf(out, "  trace a parcel: curl -H 'Authorization: Bearer <regulator token>' %s/v1/parcels/%s\n", wr.base, sample)
	}
	hq := w.HQs()[0]
	fmt.Fprintf(out, "  firm token of %s (shown once): %s\n", hq.Name, wr.token(hq.Ref))
	for _, m := range w.Merchants {
		if !m.Malicious && !m.Campaign {
			fmt.Fprintf(out, "  merchant token of %s (%s, shown once): %s\n", m.Name, m.ID, wr.token(m.ID))
			break
		}
	}
}

// isTerminal reports whether w is a terminal, where progress is a bar redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress shows how far the writing is: on a terminal one line redrawn with \r several
// times a second, elsewhere (a log, a pipe) a line at each phase and every few seconds.
type progress struct {
	out   io.Writer
	tty   bool
	total int64
	done  atomic.Int64
	start time.Time

	mu   sync.Mutex
	name string
	last string

	stop chan struct{}
	wg   sync.WaitGroup
}

func newProgress(out io.Writer, total int64, tty bool, every time.Duration) *progress {
	p := &progress{out: out, tty: tty, total: max(total, 1), start: time.Now(), stop: make(chan struct{})}
	if tty {
		every = 100 * time.Millisecond
	} else if every <= 0 {
		every = 2 * time.Second
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

func (p *progress) add(n int) { p.done.Add(int64(n)) }

// phase names what is being written now.
func (p *progress) phase(name string) {
	p.mu.Lock()
	p.name = name
	p.mu.Unlock()
	p.draw(!p.tty)
}

// finish draws the last state and ends the line.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
	p.draw(true)
	if p.tty {
		fmt.Fprintln(p.out)
	}
}

func (p *progress) draw(force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := min(p.done.Load(), p.total)
	elapsed := time.Since(p.start).Round(100 * time.Millisecond)
	if p.tty {
		fmt.Fprintf(p.out, "\r%s %-10s %s\x1b[K", bar(done, p.total, 30), p.name, elapsed)
		return
	}
	line := fmt.Sprintf("gen: %3d%% %-10s %d/%d", done*100/p.total, p.name, done, p.total)
	if !force && line == p.last {
		return
	}
	p.last = line
	fmt.Fprintf(p.out, "%s %s\n", line, elapsed)
}

// bar renders done of total as "[=====>    ]  52%".
func bar(done, total int64, width int) string {
	if total <= 0 {
		total = 1
	}
	done = max(0, min(done, total))
	fill := int(done * int64(width) / total)
	b := strings.Repeat("=", fill)
	if fill < width {
		b += ">" + strings.Repeat(" ", width-fill-1)
	}
	return fmt.Sprintf("[%s] %3d%%", b, done*100/total)
}
