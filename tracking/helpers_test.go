package tracking_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/tracking"
)

// t0 is 10:00 CST on 2026-06-01; the tests' events happen around it.
var t0 = time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)

// recipientPhone is the recipient's phone of the tests; no stored event or parcel may carry it
// or its last four digits in clear.
const (
	recipientPhone = "13912345678"
	recipientLast4 = "5678"
	staffPhone     = "13800138000"
)

var regulator = credtrace.Caller{TokenID: "tok-regulator", Role: credtrace.RoleRegulator}

func firmCaller(id string) credtrace.Caller {
	return credtrace.Caller{TokenID: "tok-" + id, Role: credtrace.RoleFirm, FirmID: id}
}

func merchantCaller(id string) credtrace.Caller {
	return credtrace.Caller{TokenID: "tok-" + id, Role: credtrace.RoleMerchant, MerchantID: id}
}

var public = credtrace.Caller{Role: credtrace.RolePublic}

// clock is a settable clock shared by the courier and tracking services.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// proposals is a tracking.Proposer that records what back-tracking proposes.
type proposals struct {
	mu  sync.Mutex
	got []tracking.Proposal
}

func (p *proposals) Propose(_ context.Context, pr tracking.Proposal) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, pr)
	return fmt.Sprintf("rec-%d", len(p.got)), nil
}

func (p *proposals) all() []tracking.Proposal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]tracking.Proposal(nil), p.got...)
}

// archive is the real Proposer: pending records from source system in the credit archive.
type archive struct{ svc *courier.Service }

func (a archive) Propose(ctx context.Context, pr tracking.Proposal) (string, error) {
	ev := make([]courier.Evidence, len(pr.Evidence))
	for i, e := range pr.Evidence {
		ev[i] = courier.Evidence{Kind: e.Kind, Ref: e.Ref}
	}
	r, err := a.svc.CreateRecord(ctx, credtrace.System, courier.RecordInput{
		Subject:  courier.Subject{Kind: courier.SubjectKind(pr.SubjectKind), ID: pr.SubjectID},
		Category: courier.Category(pr.Category), Source: courier.SrcSystem, Severity: courier.Severity(pr.Severity),
		OccurredAt: pr.OccurredAt, Summary: pr.Summary, Evidence: ev, LegalBasis: pr.LegalBasis,
	})
	return r.ID, err
}

// verdicts is the wiring cmd does from the archive back to tracking: the complaints statistic
// follows the records' verdicts.
type verdicts struct{ svc *tracking.Service }

func (v verdicts) RecordInForce(ctx context.Context, r courier.Record, inForce bool) error {
	out := tracking.Verdict{RecordID: r.ID, Subject: tracking.SubjectKind(r.Subject.Kind), SubjectID: r.Subject.ID,
		ConfirmedAt: r.ConfirmedAt, InForce: inForce}
	for _, e := range r.Evidence {
		if e.Kind == "incident" {
			out.IncidentIDs = append(out.IncidentIDs, e.Ref)
		}
	}
	return v.svc.CountVerdict(ctx, out)
}

// world is a tracking service over a fresh SQLite store and a registered firm tree:
//
//	hqA (brand HQ)  sites siteA, siteA2; staff xA, wA
//	└─ brA (branch) site siteBr;          staff yBr
//	hqB (another brand HQ) site siteB;    staff zB
type world struct {
	ctx   context.Context
	clk   *clock
	st    *sqlite.Store
	ts    tracking.Store
	arch  *courier.Service
	opts  tracking.Options
	props *proposals
	svc   *tracking.Service

	hqA, brA, hqB                string
	siteA, siteA2, siteBr, siteB string
	xA, wA, yBr, zB              string

	residents int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOpts(t, tracking.Options{})
}

func newWorldOpts(t *testing.T, opts tracking.Options) *world {
	t.Helper()
	return newWorldWrapped(t, opts, nil)
}

// newWorldWrapped is newWorldOpts with the tracking service over wrap(store) (wrap nil: the
// store itself).
func newWorldWrapped(t *testing.T, opts tracking.Options, wrap func(tracking.Store) tracking.Store) *world {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	clk := &clock{t: t0.Add(4 * 24 * time.Hour)}
	hasher := courier.NewHasher([]byte("tracking-test-key-0123456789abcdef"))
	arch := courier.NewService(st, hasher, courier.DefaultPolicy(), clk.Now)
	w := &world{ctx: ctx, clk: clk, st: st, ts: st.Tracking(), arch: arch, opts: opts, props: &proposals{}}
	if wrap != nil {
		w.ts = wrap(w.ts)
	}
	w.svc = tracking.NewService(w.ts, arch, w.props, hasher, opts, clk.Now)
	startPipeline(t, w.svc)

	w.hqA = w.firm(t, "91130100MA0CX7Q2K6", courier.KindHQ, "")
	w.brA = w.firm(t, uscc("91130100MA0CX7Q3K"), courier.KindBranch, w.hqA)
	w.hqB = w.firm(t, "91110000802100433B", courier.KindHQ, "")
	w.siteA = w.site(t, w.hqA, courier.SiteSortingCentre)
	w.siteA2 = w.site(t, w.hqA, courier.SiteOutlet)
	w.siteBr = w.site(t, w.brA, courier.SiteOutlet)
	w.siteB = w.site(t, w.hqB, courier.SiteSortingCentre)
	w.xA = w.staff(t, w.hqA)
	w.wA = w.staff(t, w.hqA)
	w.yBr = w.staff(t, w.brA)
	w.zB = w.staff(t, w.hqB)
	return w
}

// startPipeline starts svc's ingestion pipeline and closes it when the test ends.
func startPipeline(t *testing.T, svc *tracking.Service) *tracking.Pipeline {
	t.Helper()
	p := tracking.NewPipeline(svc, tracking.PipelineOptions{})
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("close pipeline: %v", err)
		}
	})
	return p
}

// useArchive makes back-tracking propose real records in the credit archive.
func (w *world) useArchive(t *testing.T) {
	t.Helper()
	w.svc = tracking.NewService(w.ts, w.arch, archive{w.arch}, w.arch.Hasher(), w.opts, w.clk.Now)
	startPipeline(t, w.svc)
	w.arch.SetWatcher(verdicts{w.svc})
}

// uscc appends the GB 32100 check character to a 17-character body.
func uscc(body string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, body[i]) * weights[i]
	}
	return body + string(alphabet[(31-sum%31)%31])
}

// residentID appends the GB 11643 check character to 17 digits.
func residentID(body string) string {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

func (w *world) firm(t *testing.T, code string, kind courier.FirmKind, parent string) string {
	t.Helper()
	f, err := w.arch.CreateFirm(w.ctx, credtrace.System, courier.FirmInput{USCC: code, Name: "顺达速运 " + code[10:], Kind: kind,
		ParentID: parent, Region: "130102", Licence: courier.Licence{Number: "冀邮" + code[10:], Scope: "省内", Status: courier.LicenceActive,
			ValidFrom: t0.AddDate(-1, 0, 0), ValidTo: t0.AddDate(4, 0, 0)}})
	if err != nil {
		t.Fatalf("create %s firm %s: %v", kind, code, err)
	}
	return f.ID
}

func (w *world) site(t *testing.T, firmID string, kind courier.SiteKind) string {
	t.Helper()
	s, err := w.arch.CreateSite(w.ctx, credtrace.System, firmID, courier.SiteInput{Name: "网点 " + string(kind), Kind: kind, Region: "130111", Address: "中华大街 1 号"})
	if err != nil {
		t.Fatalf("create site: %v", err)
	}
	return s.ID
}

func (w *world) staff(t *testing.T, firmID string) string {
	t.Helper()
	w.residents++
	p, err := w.arch.CreateStaff(w.ctx, credtrace.System, courier.StaffInput{Name: "张三", IDNumber: residentID(fmt.Sprintf("130102199001%05d", w.residents)),
		Phone: staffPhone, Employment: &courier.EmploymentInput{FirmID: firmID, Role: "courier", From: t0.AddDate(0, 0, -60)}})
	if err != nil {
		t.Fatalf("create staff: %v", err)
	}
	return p.ID
}

// ev is one event as a carrier sends it; a delivery is signed by the recipient.
func ev(id, waybill, carrier string, code tracking.Code, at time.Time, site, staff string) tracking.EventInput {
	in := tracking.EventInput{ID: id, Waybill: waybill, Carrier: carrier, Code: string(code), At: at, Site: site, Staff: staff, Region: "130111"}
	if code == tracking.Delivered {
		in.Signer = tracking.SignerRecipient
	}
	return in
}

// with returns in changed by f.
func with(in tracking.EventInput, f func(*tracking.EventInput)) tracking.EventInput {
	f(&in)
	return in
}

// shipped sets the merchant and recipient phone of a collection.
func shipped(in tracking.EventInput, merchant, phone string) tracking.EventInput {
	in.MerchantID, in.RecipientPhone = merchant, phone
	return in
}

func (w *world) ingest(t *testing.T, c credtrace.Caller, ins ...tracking.EventInput) tracking.IngestResult {
	t.Helper()
	res, err := w.svc.Ingest(w.ctx, c, ins)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return res
}

// accept ingests events as a regulator and fails unless every one is accepted.
func (w *world) accept(t *testing.T, ins ...tracking.EventInput) tracking.IngestResult {
	t.Helper()
	res := w.ingest(t, regulator, ins...)
	for _, r := range res.Results {
		if r.Status != tracking.Accepted {
			t.Fatalf("event %d (%s): %s %s", r.Index, r.ID, r.Status, r.Reason)
		}
	}
	return res
}

// stats returns one subject's counters by day.
func (w *world) stats(t *testing.T, kind tracking.SubjectKind, id string) map[string]map[tracking.Metric]int {
	t.Helper()
	ds, err := w.svc.Stats(w.ctx, kind, id, "2026-05-01", "2026-07-31")
	if err != nil {
		t.Fatalf("stats %s %s: %v", kind, id, err)
	}
	out := map[string]map[tracking.Metric]int{}
	for _, d := range ds {
		if len(d.Counts) > 0 {
			out[d.Key.Day] = d.Counts
		}
	}
	return out
}

func (w *world) trace(t *testing.T, waybill string) tracking.Trace {
	t.Helper()
	tr, err := w.svc.TraceParcel(w.ctx, regulator, waybill, "", "")
	if err != nil {
		t.Fatalf("trace %s: %v", waybill, err)
	}
	return tr
}

func (w *world) parcel(t *testing.T, waybill string) tracking.Parcel {
	t.Helper()
	if err := w.svc.Flush(w.ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	carriers, err := w.ts.WaybillCarriers(w.ctx, waybill)
	if err != nil || len(carriers) != 1 {
		t.Fatalf("parcel %s: carriers %v, %v; want one", waybill, carriers, err)
	}
	return w.parcelOf(t, tracking.ParcelKey{Carrier: carriers[0], Waybill: waybill})
}

// parcelOf returns one carrier's parcel summary.
func (w *world) parcelOf(t *testing.T, k tracking.ParcelKey) tracking.Parcel {
	t.Helper()
	if err := w.svc.Flush(w.ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	ps, err := w.ts.ParcelsByKey(w.ctx, []tracking.ParcelKey{k})
	if err != nil {
		t.Fatalf("parcel %v: %v", k, err)
	}
	p, ok := ps[k]
	if !ok {
		t.Fatalf("parcel %v: not stored", k)
	}
	return p
}

// waybillEvents returns the stored events of a waybill at every carrier.
func (w *world) waybillEvents(waybill string) ([]tracking.Event, error) {
	carriers, err := w.ts.WaybillCarriers(w.ctx, waybill)
	if err != nil {
		return nil, err
	}
	var out []tracking.Event
	for _, c := range carriers {
		evs, err := w.ts.ParcelEvents(w.ctx, tracking.ParcelKey{Carrier: c, Waybill: waybill})
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

func (w *world) anomalies(t *testing.T, kind tracking.AnomalyKind) []tracking.Anomaly {
	t.Helper()
	as, err := w.svc.Anomalies(w.ctx, regulator, tracking.AnomalyQuery{Kind: kind})
	if err != nil {
		t.Fatalf("anomalies: %v", err)
	}
	return as
}

func eventIDs(evs []tracking.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func fieldNames(err error) []string {
	var v *credtrace.Error
	if !errors.As(err, &v) {
		return nil
	}
	var out []string
	for _, f := range v.Fields {
		out = append(out, f.Field)
	}
	return out
}
