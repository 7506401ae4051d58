package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/synth"
)

// gen builds a synthetic world and writes it through the HTTP API as its parties would: the
// regulator registers firms, sites and staff and issues tokens, each carrier pushes its own
// events with its own token, merchants rate with theirs, consumers through the public route,
// incidents and complaints are reported, and a scoring run (a preview of the period in progress) closes the lot.
func gen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "seed of the world: the same seed and size give the same world")
	sizeName := fs.String("size", "small", "size of the world: "+strings.Join(synth.Sizes, ", "))
	hqs := fs.Int("hqs", 0, "brand HQs, each with its branches and outlets (overrides --size)")
	branches := fs.Int("branches", 0, "branches per HQ (overrides --size)")
	outlets := fs.Int("outlets", 0, "outlets per branch (overrides --size)")
	merchants := fs.Int("merchants", 0, "merchants (overrides --size)")
	parcels := fs.Int("parcels", 0, "ordinary parcels (overrides --size)")
	days := fs.Int("days", 0, "days of history before now (overrides --size)")
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the service")
	token := fs.String("token", "", "a regulator token (default $CREDTRACE_ADMIN_TOKEN)")
	wait := fs.Duration("wait", 0, "wait up to this long for the service to answer /healthz")
	workers := fs.Int("workers", 8, "concurrent requests for registrations, reports and ratings")
	data := fs.String("data", "", "write into the embedded store in this directory instead of --url: gen runs the service itself, in-process, on a loopback port, for worlds too large to want a server (the same API, the same rules)")
	if help, err := parseFlags(fs, args, stdout, "gen [flags]"); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gen: unexpected argument %q", fs.Arg(0))
	}
	if *token == "" {
		*token = getenv("CREDTRACE_ADMIN_TOKEN")
	}
	if *data != "" {
		if *token == "" {
			*token = "ct_gen-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-regulator-token"
			fmt.Fprintf(stdout, "regulator token of the store in %s (shown once; `credtrace serve --data %s` accepts it): %s\n", *data, *data, *token)
		}
		base, stop, err := inProcess(ctx, *data, *token, getenv, stderr)
		if err != nil {
			return fmt.Errorf("gen: --data: %w", err)
		}
		defer stop()
		*url = base
	}
	if *token == "" {
		return errors.New("gen: --token (or CREDTRACE_ADMIN_TOKEN) is required: a regulator token of the service")
	}
	size, err := synth.Named(*sizeName)
	if err != nil {
		return fmt.Errorf("gen: --size: %w", err)
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{*hqs, &size.HQs}, {*branches, &size.BranchesPerHQ}, {*outlets, &size.OutletsPerBranch}, {*merchants, &size.Merchants}, {*parcels, &size.Parcels}, {*days, &size.Days}} {
		if o.v != 0 {
			*o.dst = o.v
		}
	}
	if err := size.Validate(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if *workers < 1 {
		return errors.New("gen: --workers must be at least 1")
	}

	started := time.Now()
	w := synth.New(*seed, size)
	// The service refuses events from the future and scores what lies before now: the world
	// ends a minute ago.
	w.Shift(time.Now().Add(-time.Minute).Truncate(time.Second).Sub(w.End))

	wr := &writer{base: strings.TrimRight(*url, "/"), admin: *token, workers: *workers, w: w,
		hc:  &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * (*workers + len(w.HQs()))}},
		ids: map[string]string{}, tokens: map[string]string{}}
	if err := wr.ready(ctx, *wait); err != nil {
		return err
	}
	units := len(w.Firms) + len(w.Sites) + len(w.Staff) + len(w.HQs()) + len(w.Merchants) + 2*len(w.HQs()) +
		w.Events() + len(w.Incidents) + len(w.Complaints) + len(w.Ratings) + 1
	wr.prog = newProgress(stderr, int64(units), isTerminal(stderr), 2*time.Second)
	fmt.Fprintf(stderr, "gen: seed %d, size %s: %d firms, %d sites, %d staff, %d merchants, %d parcels, %d events, %d incidents, %d complaints, %d ratings → %s\n",
		*seed, *sizeName, len(w.Firms), len(w.Sites), len(w.Staff), len(w.Merchants), len(w.Parcels), w.Events(), len(w.Incidents), len(w.Complaints), len(w.Ratings), wr.base)
	err = wr.write(ctx)
	wr.prog.finish()
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	wr.summary(stdout, *seed, *sizeName, time.Since(started))
	if len(wr.problems) > 0 {
		return fmt.Errorf("gen: %d requests were refused; first: %s", wr.refused.Load(), strings.Join(wr.problems, "; "))
	}
	return nil
}

// inProcess starts the service on the embedded store in dir, listening on a loopback port,
// with token as a regulator token, and answers its URL and how to stop it (saving what the
// journal holds and closing the store).
func inProcess(ctx context.Context, dir, token string, getenv func(string) string, stderr io.Writer) (string, func(), error) {
	env := func(k string) string {
		switch k {
		case "CREDTRACE_ADMIN_TOKEN":
			return token
		case "CREDTRACE_FAILPOINT":
			return ""
		}
		return getenv(k)
	}
	// The generator is every consumer at once, from one loopback address: the per-address
	// limit of phone checks is lifted for it (the per-waybill lock stays).
	cfg, err := config.Load(env, []string{"--data", dir, "--addr", "127.0.0.1:0", "--address-checks", "1000000"})
	if err != nil {
		return "", nil, err
	}
	a, err := assemble(ctx, cfg, policy(cfg), env, stderr, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.close()
		return "", nil, err
	}
	go a.api.App().Listener(ln)
	fmt.Fprintf(stderr, "gen: writing into the store in %s through an in-process service\n", dir)
	return "http://" + ln.Addr().String(), func() {
		a.api.StopStreams()
		a.api.App().Shutdown()
		a.close()
	}, nil
}

// writer writes one world to one service.
type writer struct {
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

	accepted, duplicates, rejected, refused atomic.Int64
	proposed, confirmed, discounted         atomic.Int64
	eventTime                               atomic.Int64 // nanoseconds spent pushing events
}

func (wr *writer) id(ref string) string {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.ids[ref]
}

func (wr *writer) setID(ref, id string) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	wr.ids[ref] = id
}

func (wr *writer) token(key string) string {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.tokens[key]
}

// problem notes a refused request that does not stop the writing.
func (wr *writer) problem(format string, args ...any) {
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
func (wr *writer) call(ctx context.Context, method, path, token string, body, out any) error {
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

func (wr *writer) send(ctx context.Context, method, path, token string, body io.Reader, out any) error {
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

// ready waits for /healthz (up to wait) and checks that the token is a regulator's.
func (wr *writer) ready(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := wr.call(ctx, "GET", "/healthz", "", nil, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gen: the service at %s does not answer: %w", wr.base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var me struct{ Role string }
	if err := wr.call(ctx, "GET", "/v1/me", wr.admin, nil, &me); err != nil {
		return fmt.Errorf("gen: check the token: %w", err)
	}
	if me.Role != "regulator" {
		return fmt.Errorf("gen: the token belongs to a %s; gen needs a regulator token", me.Role)
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
func (wr *writer) write(ctx context.Context) error {
	steps := []struct {
		phase string
		run   func(context.Context) error
	}{
		{"firms", wr.firms}, {"sites", wr.sites}, {"staff", wr.staff}, {"tokens", wr.issueTokens}, {"carriers", wr.carriers},
		{"events", wr.events}, {"incidents", wr.incidents}, {"complaints", wr.complaints}, {"ratings", wr.ratings}, {"scoring", wr.score},
	}
	for _, s := range steps {
		wr.prog.phase(s.phase)
		if err := s.run(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (wr *writer) firms(ctx context.Context) error {
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

func (wr *writer) sites(ctx context.Context) error {
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

func (wr *writer) staff(ctx context.Context) error {
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
func (wr *writer) issueTokens(ctx context.Context) error {
	type req struct{ key, role, firm, merchant, label string }
	var reqs []req
	for _, f := range wr.w.HQs() {
		reqs = append(reqs, req{key: f.Ref, role: "firm", firm: wr.id(f.Ref), label: f.Name + " 系统对接"})
	}
	for _, m := range wr.w.Merchants {
		reqs = append(reqs, req{key: m.ID, role: "merchant", merchant: m.ID, label: m.Name})
	}
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
func (wr *writer) carriers(ctx context.Context) error {
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
func (wr *writer) events(ctx context.Context) error {
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

// transient reports whether a request may succeed when sent again.
func transient(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status >= 500 || ae.status == http.StatusTooManyRequests
	}
	return !errors.Is(err, context.Canceled)
}

// hqOfSubject is the brand HQ that answers for a complaint's subject.
func (wr *writer) hqOfSubject(kind, ref string) string {
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

func (wr *writer) incidents(ctx context.Context) error {
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
func (wr *writer) complaints(ctx context.Context) error {
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

func (wr *writer) ratings(ctx context.Context) error {
	rs := wr.w.Ratings
	return parallel(ctx, len(rs), wr.workers, func(ctx context.Context, i int) error {
		defer wr.prog.add(1)
		r := rs[i]
		body := map[string]any{"waybill": r.Waybill, "stars": r.Stars, "tags": r.Tags, "comment": r.Comment}
		if r.Tags == nil {
			body["tags"] = []string{}
		}
		path, tok := "/v1/ratings", wr.token(r.Merchant)
		if r.By == synth.ByConsumer {
			path, tok = "/v1/public/ratings", ""
			body["phone4"] = r.Phone4
		}
		var out struct{ Weight float64 }
		if err := wr.call(ctx, "POST", path, tok, body, &out); err != nil {
			wr.problem("rating of %s: %v", r.Waybill, err)
			return nil
		}
		if out.Weight < 1 {
			wr.discounted.Add(1)
		}
		return nil
	})
}

// score starts a scoring run and waits for its outcome; while another run holds the lease (a
// scheduled one), it tries again. It is a preview, not a publication: the world is written
// today, and a publication is of the period that has ended, which holds none of it.
func (wr *writer) score(ctx context.Context) error {
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

func (wr *writer) summary(out io.Writer, seed uint64, size string, took time.Duration) {
	w := wr.w
	fmt.Fprintf(out, "gen: wrote the world of seed %d, size %s to %s in %s\n", seed, size, wr.base, took.Round(100*time.Millisecond))
	fmt.Fprintf(out, "  %d firms (%d brands), %d sites, %d staff, %d merchants\n", len(w.Firms), len(w.HQs()), len(w.Sites), len(w.Staff), len(w.Merchants))
	rate := 0.0
	if d := time.Duration(wr.eventTime.Load()); d > 0 {
		rate = float64(w.Events()) / d.Seconds()
	}
	fmt.Fprintf(out, "  %d events of %d parcels in %d batches: %d accepted, %d duplicates, %d rejected (%.0f events/s)\n",
		w.Events(), len(w.Parcels), len(w.Batches), wr.accepted.Load(), wr.duplicates.Load(), wr.rejected.Load(), rate)
	fmt.Fprintf(out, "  %d incidents proposing %d records, %d complaints, %d records confirmed, %d ratings (%d weigh less than one: bursts, bought stars)\n",
		len(w.Incidents), wr.proposed.Load(), len(w.Complaints), wr.confirmed.Load(), len(w.Ratings), wr.discounted.Load())
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
