package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
	"github.com/credtrace/credtrace/webhook"
)

// proposer is the wiring cmd does: back-tracking proposes pending records from source system.
type proposer struct{ svc *courier.Service }

func (p proposer) Propose(ctx context.Context, pr tracking.Proposal) (string, error) {
	var ev []courier.Evidence
	for _, e := range pr.Evidence {
		ev = append(ev, courier.Evidence{Kind: e.Kind, Ref: e.Ref})
	}
	r, err := p.svc.CreateRecord(ctx, credtrace.System, courier.RecordInput{
		Subject: courier.Subject{Kind: courier.SubjectKind(pr.SubjectKind), ID: pr.SubjectID}, Category: courier.Category(pr.Category),
		Source: courier.SrcSystem, Severity: courier.Severity(pr.Severity), OccurredAt: pr.OccurredAt, Summary: pr.Summary, Evidence: ev, LegalBasis: pr.LegalBasis})
	return r.ID, err
}

// verdicts is the other wiring cmd does: the complaints statistic follows the records' verdicts.
type verdicts struct{ trk *tracking.Service }

func (v verdicts) RecordInForce(ctx context.Context, r courier.Record, inForce bool) error {
	out := tracking.Verdict{RecordID: r.ID, Subject: tracking.SubjectKind(r.Subject.Kind), SubjectID: r.Subject.ID,
		ConfirmedAt: r.ConfirmedAt, InForce: inForce}
	for _, e := range r.Evidence {
		if e.Kind == "incident" {
			out.IncidentIDs = append(out.IncidentIDs, e.Ref)
		}
	}
	return v.trk.CountVerdict(ctx, out)
}

// Fixed test data: valid codes by their check characters.
const (
	usccA   = "91130100MA0CX7Q2K6"
	usccB   = "91110000802100433B"
	adminTk = "ct_test-regulator-token-0123456789"
	idNum   = "11010519491231002X"
	phone   = "13800138000"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     testing.TB
	srv   *httpapi.Server
	svc   *courier.Service
	trk   *tracking.Service
	sc    *scoring.Service
	store *sqlite.Store
	sst   scoring.Store // the scoring store of either backend
	clock *clock
	// bodies collects every response body, to prove that no personal data leaks.
	bodies *bytes.Buffer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnvOn(t, backend{courier: st, tracking: st.Tracking(), scoring: st.Scoring(), health: st,
		trackingOf: func(cs courier.Store) tracking.Store { return cs.(*sqlite.Store).Tracking() },
		scoringOf:  func(cs courier.Store) scoring.Store { return cs.(*sqlite.Store).Scoring() },
		webhooks:   st.Webhooks(),
		webhooksOf: func(cs courier.Store) webhook.Store { return cs.(*sqlite.Store).Webhooks() }})
	e.store = st
	return e
}

// backend is the store an env is built on.
type backend struct {
	courier    courier.Store
	tracking   tracking.Store
	scoring    scoring.Store
	health     httpapi.Pinger
	trackingOf func(courier.Store) tracking.Store
	scoringOf  func(courier.Store) scoring.Store
	webhooks   webhook.Store // optional: without it the webhook routes are absent
	// webhooksOf, with webhooks, audits the changes of subscriptions in the archive's trail.
	webhooksOf func(courier.Store) webhook.Store
}

// newEnvOn wires the services and the API on b, as main does, with the test clock.
func newEnvOn(t testing.TB, b backend) *env {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}
	svc := courier.NewService(b.courier, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), courier.DefaultPolicy(), clk.now)
	svc.SetAuditKey(testAuditKey)
	if _, err := svc.Bootstrap(ctx, adminTk); err != nil {
		t.Fatal(err)
	}
	metrics := httpapi.NewMetrics()
	trk := tracking.NewService(b.tracking, courier.NewTreeCache(svc), proposer{svc}, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), tracking.Options{OnPhoneCheck: metrics.PhoneCheck,
		Auditor: courier.NewAuditor(svc, b.trackingOf)}, clk.now)
	_, shared := b.courier.(*sqlite.Store)
	pipe := tracking.NewPipeline(trk, tracking.PipelineOptions{Shared: !shared})
	t.Cleanup(func() {
		if err := pipe.Close(context.Background()); err != nil {
			t.Errorf("close pipeline: %v", err)
		}
	})
	live, err := tracking.StartLive(ctx, trk, tracking.LiveOptions{Every: 10 * time.Millisecond, OnError: func(err error) { t.Logf("live: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(live.Close)
	svc.SetWatcher(verdicts{trk})
	sc := scoring.NewService(b.scoring, b.courier, trk, svc.InTree, clk.now)
	sc.SetAuditor(courier.NewAuditor(svc, b.scoringOf))
	var hooks *webhook.Service
	if b.webhooks != nil {
		// The world's receivers are on loopback: the operator's setting allows them here.
		opts := webhook.Options{AllowPrivate: true}
		if b.webhooksOf != nil {
			opts.Auditor = courier.NewAuditor(svc, b.webhooksOf)
		}
		hooks = webhook.NewService(b.webhooks, opts, clk.now)
	}
	srv := httpapi.New(httpapi.Deps{Courier: svc, Tracking: trk, Scoring: sc, Webhooks: hooks, Store: b.health, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics, Live: live})
	return &env{t: t, srv: srv, svc: svc, trk: trk, sc: sc, sst: b.scoring, clock: clk, bodies: &bytes.Buffer{}}
}

// raw sends one request through the Fiber app (a string or []byte body as it is, anything
// else as JSON) and returns the response, headers included, and its body.
func (e *env) raw(method, path, token string, body any) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.App().Test(req, 10000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	e.bodies.Write(raw)
	return resp, string(raw)
}

// call sends one request through the Fiber app and returns the status and decoded body.
func (e *env) call(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	resp, raw := e.raw(method, path, token, body)
	out := map[string]any{}
	if ct := resp.Header.Get("Content-Type"); len(raw) > 0 && (strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "application/x-ndjson")) {
		out["text"] = raw // the Prometheus exposition format, a run's NDJSON inputs
	} else if len(raw) > 0 {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// must calls and fails the test unless the status is want.
func (e *env) must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	got, out := e.call(method, path, token, body)
	if got != want {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, want, out)
	}
	return out
}

func licence() map[string]any {
	return map[string]any{"number": "L-0001", "scope": "intra-city", "valid_from": "2024-01-01T00:00:00+08:00",
		"valid_to": "2029-01-01T00:00:00+08:00", "status": "active"}
}

func firmBody(uscc, name, kind, parent string) map[string]any {
	b := map[string]any{"uscc": uscc, "name": name, "kind": kind, "region": "130102", "licence": licence()}
	if parent != "" {
		b["parent_id"] = parent
	}
	return b
}

// usccFor returns a valid USCC whose 17 leading characters end with the digits of n.
func usccFor(n int) string {
	body := []byte("9113010000000000")
	s := []byte{byte('0' + n/10%10), byte('0' + n%10)}
	base := append(body[:15:15], s...)
	for len(base) < 17 {
		base = append(base, '0')
	}
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := []int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i, c := range base[:17] {
		sum += strings.IndexByte(alphabet, c) * weights[i]
	}
	return string(base[:17]) + string(alphabet[(31-sum%31)%31])
}

// residentIDFor returns a valid resident ID number ending in serial n.
func residentIDFor(n int) string {
	base := []byte("11010519900101" + string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)}))
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range base {
		sum += int(c-'0') * weights[i]
	}
	return string(base) + string("10X98765432"[sum%11])
}

// world is the fixture most tests share: brand A (HQ, branch A1 with a site and a courier),
// brand B, and a token for every role.
type world struct {
	hqA, a1, hqB, site, staff  string
	firmA, firmB, merch, plat  string
	metrics                    string // a token of role metrics: /metrics and nothing else
	spareToken                 string
	confirmed, pending         string // records on A1
	repairPending, disputed    string
	objection                  string
	waybill, incident, anomaly string
	run, proposal, sanction    string // a scoring run (a preview of June), a pending and an approved sanction on A1
	staffTk                    string // a staff token of the courier
	staffRecord                string // a confirmed record about the courier, entered after the run
	hook                       string // brand A's webhook subscription (none when the env has no webhooks)
}

// rated is a delivered parcel of merchant M-001, to rate.
const rated = "SF1000000009"

const waybill = "SF1000000001"

// parcelEvents is a parcel of brand A collected for merchant M-001 at A1's sorting centre,
// with a 5 g collection weight (an implausible-weight anomaly).
func (w world) parcelEvents() []map[string]any {
	return []map[string]any{
		{"id": "e1", "waybill": waybill, "carrier": w.hqA, "code": "collected", "at": "2026-05-31T09:00:00+08:00", "site": w.site,
			"staff": w.staff, "merchant": "M-001", "recipient_phone": "13912345678", "weight_g": 5, "region": "130111"},
		{"id": "e2", "waybill": waybill, "carrier": w.hqA, "code": "departed", "at": "2026-05-31T18:00:00+08:00", "site": w.site, "region": "130111"},
		{"id": "e3", "waybill": waybill, "carrier": w.hqA, "code": "arrived", "at": "2026-06-01T06:00:00+08:00", "region": "110105",
			"holder": map[string]any{"firm": w.hqA}},
	}
}

func (e *env) world() world {
	e.t.Helper()
	var w world
	w.hqA = e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccA, "顺达速运", "hq", ""))["id"].(string)
	w.a1 = e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccFor(1), "顺达速运石家庄分公司", "branch", w.hqA))["id"].(string)
	w.hqB = e.must(201, "POST", "/v1/firms", adminTk, firmBody(usccB, "飞鸿快递", "hq", ""))["id"].(string)
	w.site = e.must(201, "POST", "/v1/firms/"+w.a1+"/sites", adminTk, map[string]any{"name": "栾城分拨中心", "kind": "sorting_centre", "region": "130111"})["id"].(string)
	w.staff = e.must(201, "POST", "/v1/staff", adminTk, map[string]any{"name": "张三", "id_number": idNum, "phone": phone,
		"employment": map[string]any{"firm_id": w.a1, "role": "courier", "from": "2025-01-01T00:00:00+08:00"}})["id"].(string)
	token := func(body map[string]any) string {
		return e.must(201, "POST", "/v1/tokens", adminTk, body)["token"].(string)
	}
	w.firmA = token(map[string]any{"role": "firm", "firm_id": w.hqA, "label": "brand A"})
	w.firmB = token(map[string]any{"role": "firm", "firm_id": w.hqB, "label": "brand B"})
	w.merch = token(map[string]any{"role": "merchant", "merchant_id": "M-001"})
	w.plat = token(map[string]any{"role": "platform", "label": "mall"})
	w.metrics = token(map[string]any{"role": "metrics", "label": "prometheus"})
	w.spareToken = e.must(201, "POST", "/v1/tokens", adminTk, map[string]any{"role": "platform", "label": "spare"})["id"].(string)
	rec := func(source string, sev string) string {
		return e.must(201, "POST", "/v1/records", adminTk, map[string]any{
			"subject": map[string]any{"kind": "firm", "id": w.a1}, "category": "supervision", "source": source,
			"severity": sev, "occurred_at": "2026-05-01T10:00:00+08:00", "summary": "随机抽查发现未按规定验视",
			"evidence": []map[string]any{{"kind": "document", "ref": "JC-2026-001"}}, "legal_basis": "快递市场管理办法 第三十四条"})["id"].(string)
	}
	w.confirmed = rec("regulator", "minor")
	w.pending = rec("consumer", "general")
	w.repairPending = rec("regulator", "minor")
	e.must(201, "POST", "/v1/records/"+w.repairPending+"/repair", w.firmA, map[string]any{
		"evidence": []map[string]any{{"kind": "document", "ref": "ZG-1"}}, "commitment": "整改到位"})
	w.disputed = rec("regulator", "general")
	w.objection = e.must(201, "POST", "/v1/objections", w.firmA, map[string]any{"record_id": w.disputed, "reasons": "抽查记录有误"})["id"].(string)
	w.waybill = waybill
	res := e.must(200, "POST", "/v1/events", w.firmA, w.parcelEvents())
	if res["accepted"].(float64) != 3 {
		e.t.Fatalf("world events: %v", res)
	}
	w.anomaly = res["anomalies"].([]any)[0].(map[string]any)["id"].(string)
	w.incident = e.must(201, "POST", "/v1/incidents", adminTk, map[string]any{"waybill": waybill, "kind": "delayed", "reporter": "12305"})["id"].(string)
	e.must(200, "POST", "/v1/events", w.firmA, []map[string]any{
		{"id": "r1", "waybill": rated, "carrier": w.hqA, "code": "collected", "at": "2026-05-30T09:00:00+08:00", "site": w.site, "merchant": "M-001",
			"recipient_phone": "13700001234", "weight_g": 900},
		{"id": "r2", "waybill": rated, "carrier": w.hqA, "code": "departed", "at": "2026-05-30T19:00:00+08:00", "site": w.site},
		{"id": "r3", "waybill": rated, "carrier": w.hqA, "code": "delivered", "at": "2026-05-31T15:00:00+08:00", "site": w.site, "staff": w.staff, "signer": "recipient"},
	})
	ctx := context.Background()
	// A preview: the world is made on its clock's day, 1 June, so a publication (of May, as of
	// its end) would find none of it.
	run, err := e.sc.StartRun(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "t"}, time.Time{}, "manual", false)
	if err != nil {
		e.t.Fatalf("world run: %v", err)
	}
	w.run = run.ID
	for i, status := range []scoring.SanctionStatus{scoring.Proposed, scoring.Approved} {
		x := scoring.Sanction{ID: fmt.Sprintf("sanction-%d", i), Kind: scoring.PublicExposure, FirmID: w.a1, Rule: "test", Reason: "world",
			LegalBasis: "test", Status: status, ProposedAt: e.clock.now(), Version: 1}
		if status == scoring.Approved {
			x.Start = e.clock.now()
		}
		if err := e.sst.CreateSanction(ctx, x); err != nil {
			e.t.Fatal(err)
		}
	}
	w.proposal, w.sanction = "sanction-0", "sanction-1"
	w.staffTk = token(map[string]any{"role": "staff", "staff_id": w.staff, "label": "张三"})
	w.staffRecord = e.must(201, "POST", "/v1/records", adminTk, map[string]any{
		"subject": map[string]any{"kind": "staff", "id": w.staff}, "category": "delivery_safety", "source": "regulator",
		"severity": "minor", "occurred_at": "2026-05-20T10:00:00+08:00", "summary": "未按规定实名收寄"})["id"].(string)
	if e.store != nil {
		w.hook = e.must(201, "POST", "/v1/webhooks", w.firmA, map[string]any{"url": "http://127.0.0.1:9/credtrace"})["id"].(string)
	}
	return w
}
