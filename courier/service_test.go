package courier_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/store/sqlite"
)

// Fixed personal data of the tests; no error, audit entry or stored field may carry it in clear.
const (
	adminSecret = "ct_admin-secret-0123456789abcdef"
	residentID  = "11010519491231002X"
	mobile      = "13800138000"
)

// start is the test clock's time when a fixture is made.
var start = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// testClock is a settable clock for the service.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// fixture is a service over a fresh SQLite store with a signed-in regulator.
type fixture struct {
	ctx   context.Context
	st    *sqlite.Store
	clock *testClock
	svc   *courier.Service
	reg   credtrace.Caller
	codes int // USCCs handed out
	ids   int // resident ID numbers handed out
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, courier.DefaultPolicy())
}

func newFixtureWith(t *testing.T, p courier.Policy) *fixture {
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
	clk := &testClock{t: start}
	svc := courier.NewService(st, courier.NewHasher([]byte("test-pii-key-0123456789abcdefghij")), p, clk.Now)
	if _, err := svc.Bootstrap(ctx, adminSecret); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	reg, err := svc.Authenticate(ctx, adminSecret)
	if err != nil {
		t.Fatalf("authenticate admin: %v", err)
	}
	return &fixture{ctx: ctx, st: st, clock: clk, svc: svc, reg: reg}
}

// withCheck appends the GB 32100 check character to a 17-character body.
func withCheck(body string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, body[i]) * weights[i]
	}
	return body + string(alphabet[(31-sum%31)%31])
}

// residentWithCheck appends the GB 11643 check character to 17 digits.
func residentWithCheck(body string) string {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

func (f *fixture) nextUSCC() string {
	f.codes++
	return withCheck(fmt.Sprintf("91130100MA%07d", f.codes))
}

func (f *fixture) nextResidentID() string {
	f.ids++
	return residentWithCheck(fmt.Sprintf("130102199001%05d", f.ids))
}

func firmInput(uscc string, kind courier.FirmKind, parent string) courier.FirmInput {
	return courier.FirmInput{USCC: uscc, Name: "顺达速运 " + uscc[10:], Kind: kind, ParentID: parent, Region: "130102",
		Licence: courier.Licence{Number: "冀邮" + uscc[10:], Scope: "省内", Status: courier.LicenceActive,
			ValidFrom: start.AddDate(-1, 0, 0), ValidTo: start.AddDate(4, 0, 0)}}
}

// firm registers a firm with a fresh USCC.
func (f *fixture) firm(t *testing.T, kind courier.FirmKind, parent string) courier.Firm {
	t.Helper()
	got, err := f.svc.CreateFirm(f.ctx, f.reg, firmInput(f.nextUSCC(), kind, parent))
	if err != nil {
		t.Fatalf("create %s firm: %v", kind, err)
	}
	return got
}

// actor issues a token and signs in with it.
func (f *fixture) actor(t *testing.T, in courier.TokenInput) credtrace.Caller {
	t.Helper()
	_, secret, err := f.svc.IssueToken(f.ctx, f.reg, in)
	if err != nil {
		t.Fatalf("issue %s token: %v", in.Role, err)
	}
	a, err := f.svc.Authenticate(f.ctx, secret)
	if err != nil {
		t.Fatalf("authenticate %s token: %v", in.Role, err)
	}
	return a
}

func (f *fixture) firmActor(t *testing.T, firmID string) credtrace.Caller {
	t.Helper()
	return f.actor(t, courier.TokenInput{Role: credtrace.RoleFirm, FirmID: firmID, Label: "firm"})
}

func (f *fixture) site(t *testing.T, firmID string) courier.Site {
	t.Helper()
	s, err := f.svc.CreateSite(f.ctx, f.reg, firmID, courier.SiteInput{Name: "分拣中心", Kind: courier.SiteSortingCentre, Region: "130102", Address: "中华大街 1 号"})
	if err != nil {
		t.Fatalf("create site: %v", err)
	}
	return s
}

// staff registers a person employed by firmID since 60 days before start.
func (f *fixture) staff(t *testing.T, firmID string) courier.Staff {
	t.Helper()
	p, err := f.svc.CreateStaff(f.ctx, f.reg, courier.StaffInput{Name: "张三", IDNumber: f.nextResidentID(), Phone: mobile,
		Employment: &courier.EmploymentInput{FirmID: firmID, Role: "courier", From: start.AddDate(0, 0, -60)}})
	if err != nil {
		t.Fatalf("create staff: %v", err)
	}
	return p
}

func recordInput(sub courier.Subject, src courier.Source, cat courier.Category, sev courier.Severity) courier.RecordInput {
	return courier.RecordInput{Subject: sub, Category: cat, Source: src, Severity: sev,
		OccurredAt: start.Add(-24 * time.Hour), Summary: "双随机抽查：未落实收寄验视", LegalBasis: "快递市场管理办法 第三十四条",
		Evidence: []courier.Evidence{{Kind: "document", Ref: "冀邮检〔2026〕12号"}}}
}

func firmSubject(id string) courier.Subject {
	return courier.Subject{Kind: courier.SubjectFirm, ID: id}
}

// confirmed enters a regulator record, which starts confirmed, on firm id.
func (f *fixture) confirmed(t *testing.T, sub courier.Subject, sev courier.Severity) courier.Record {
	t.Helper()
	r, err := f.svc.CreateRecord(f.ctx, f.reg, recordInput(sub, courier.SrcRegulator, courier.CatSupervision, sev))
	if err != nil {
		t.Fatalf("create confirmed record: %v", err)
	}
	return r
}

// pending enters a consumer complaint, which starts pending.
func (f *fixture) pending(t *testing.T, sub courier.Subject) courier.Record {
	t.Helper()
	r, err := f.svc.CreateRecord(f.ctx, f.reg, recordInput(sub, courier.SrcConsumer, courier.CatComplaint, courier.SevGeneral))
	if err != nil {
		t.Fatalf("create pending record: %v", err)
	}
	return r
}

func (f *fixture) object(t *testing.T, a credtrace.Caller, recordID string) courier.Objection {
	t.Helper()
	o, err := f.svc.FileObjection(f.ctx, a, courier.ObjectionInput{RecordID: recordID, Reasons: "运单显示已验视",
		Evidence: []courier.Evidence{{Kind: "waybill", Ref: "SF1234567890"}}})
	if err != nil {
		t.Fatalf("file objection: %v", err)
	}
	return o
}

var repairIn = courier.RepairInput{Evidence: []courier.Evidence{{Kind: "document", Ref: "整改报告"}}, Commitment: "严格落实收寄验视制度"}

// auditSeq returns the sequence number of the newest audit entry.
func (f *fixture) auditSeq(t *testing.T) int64 {
	t.Helper()
	e, ok, err := f.st.LastAudit(f.ctx)
	if err != nil {
		t.Fatalf("last audit: %v", err)
	}
	if !ok {
		return 0
	}
	return e.Seq
}

// wantAudit checks that exactly delta entries were appended since before and that the chain is intact.
func (f *fixture) wantAudit(t *testing.T, before, delta int64) {
	t.Helper()
	if got, want := f.auditSeq(t)-before, delta; got != want {
		t.Errorf("audit entries appended = %d, want %d", got, want)
	}
	res, err := f.svc.VerifyAudit(f.ctx, f.reg)
	if err != nil {
		t.Fatalf("verify audit: %v", err)
	}
	if !res.OK {
		t.Errorf("VerifyAudit = %+v, want OK", res)
	}
}

// wantErr checks err against want (nil for success) and, for validation errors, the field named.
func wantErr(t *testing.T, err, want error, field string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if field != "" && !slices.Contains(fieldNames(err), field) {
		t.Errorf("err = %v, want it to name %q", err, field)
	}
}

func TestCreateFirmTree(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	branch := f.firm(t, courier.KindBranch, hq.ID)
	outlet := f.firm(t, courier.KindOutlet, branch.ID)

	tests := []struct {
		name   string
		kind   courier.FirmKind
		parent string
		field  string // "" when the firm is accepted
	}{
		{"hq with a parent", courier.KindHQ, hq.ID, "parent_id"},
		{"branch without a parent", courier.KindBranch, "", "parent_id"},
		{"outlet without a parent", courier.KindOutlet, "", "parent_id"},
		{"branch under an outlet", courier.KindBranch, outlet.ID, "parent_id"},
		{"outlet under an outlet", courier.KindOutlet, outlet.ID, "parent_id"},
		{"branch under an unknown firm", courier.KindBranch, "no-such-firm", "parent_id"},
		{"unknown kind", courier.FirmKind("franchise"), hq.ID, "kind"},
		{"hq", courier.KindHQ, "", ""},
		{"branch under an hq", courier.KindBranch, hq.ID, ""},
		{"branch under a branch", courier.KindBranch, branch.ID, ""},
		{"outlet under a branch", courier.KindOutlet, branch.ID, ""},
		{"outlet under an hq", courier.KindOutlet, hq.ID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			got, err := f.svc.CreateFirm(f.ctx, f.reg, firmInput(f.nextUSCC(), tt.kind, tt.parent))
			if tt.field != "" {
				wantErr(t, err, credtrace.ErrInvalid, tt.field)
				f.wantAudit(t, before, 0)
				return
			}
			wantErr(t, err, nil, "")
			stored, err := f.svc.Firm(f.ctx, f.reg, got.ID)
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			if stored.Kind != tt.kind || stored.ParentID != tt.parent {
				t.Errorf("stored kind/parent = %s/%q, want %s/%q", stored.Kind, stored.ParentID, tt.kind, tt.parent)
			}
			f.wantAudit(t, before, 1)
		})
	}
}

func TestUpdateFirmParent(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	hq2 := f.firm(t, courier.KindHQ, "")
	b1 := f.firm(t, courier.KindBranch, hq.ID)
	b2 := f.firm(t, courier.KindBranch, b1.ID)
	outlet := f.firm(t, courier.KindOutlet, b1.ID)

	tests := []struct {
		name   string
		id     string
		parent string
		field  string
	}{
		{"branch under its own child", b1.ID, b2.ID, "parent_id"},
		{"branch under itself", b1.ID, b1.ID, "parent_id"},
		{"hq under its grandchild", hq.ID, b2.ID, "parent_id"},
		{"hq under another hq", hq.ID, hq2.ID, "parent_id"},
		{"branch under an outlet", b2.ID, outlet.ID, "parent_id"},
		{"branch without a parent", b2.ID, "", "parent_id"},
		{"branch under an unknown firm", b2.ID, "no-such-firm", "parent_id"},
		{"branch moved to another hq", b2.ID, hq2.ID, ""},
		{"outlet moved to the moved branch", outlet.ID, b2.ID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, err := f.svc.Firm(f.ctx, f.reg, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			before := f.auditSeq(t)
			parent := tt.parent
			_, err = f.svc.UpdateFirm(f.ctx, f.reg, tt.id, courier.FirmPatch{ParentID: &parent})
			got, rerr := f.svc.Firm(f.ctx, f.reg, tt.id)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if tt.field != "" {
				wantErr(t, err, credtrace.ErrInvalid, tt.field)
				if got.ParentID != old.ParentID || got.Version != old.Version {
					t.Errorf("refused update changed the firm: parent %q v%d, want %q v%d", got.ParentID, got.Version, old.ParentID, old.Version)
				}
				f.wantAudit(t, before, 0)
				return
			}
			wantErr(t, err, nil, "")
			if got.ParentID != tt.parent || got.Version != old.Version+1 {
				t.Errorf("after update: parent %q v%d, want %q v%d", got.ParentID, got.Version, tt.parent, old.Version+1)
			}
			f.wantAudit(t, before, 1)
		})
	}
}

func TestCreateFirmDuplicateUSCC(t *testing.T) {
	f := newFixture(t)
	const code = "91130100MA0CX7Q2K6"
	if _, err := f.svc.CreateFirm(f.ctx, f.reg, firmInput(code, courier.KindHQ, "")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, uscc string
	}{
		{"same code", code},
		{"same code in lower case with spaces", "  " + strings.ToLower(code) + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			in := firmInput(code, courier.KindHQ, "")
			in.USCC = tt.uscc
			_, err := f.svc.CreateFirm(f.ctx, f.reg, in)
			wantErr(t, err, credtrace.ErrConflict, "")
			f.wantAudit(t, before, 0)
		})
	}
	t.Run("another code is accepted", func(t *testing.T) {
		_, err := f.svc.CreateFirm(f.ctx, f.reg, firmInput("91110000802100433B", courier.KindHQ, ""))
		wantErr(t, err, nil, "")
	})
}

func TestCreateStaff(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	firmA := f.firmActor(t, hq.ID)
	employ := &courier.EmploymentInput{FirmID: hq.ID, Role: "courier", From: start.AddDate(0, -1, 0)}

	tests := []struct {
		name  string
		actor credtrace.Caller
		in    courier.StaffInput
		want  error
		field string
	}{
		{"wrong check digit", f.reg, courier.StaffInput{Name: "张三", IDNumber: "110105194912310021", Phone: mobile}, credtrace.ErrInvalid, "id_number"},
		{"letters in the ID number", f.reg, courier.StaffInput{Name: "张三", IDNumber: "1101051949123100AX", Phone: mobile}, credtrace.ErrInvalid, "id_number"},
		{"short ID number", f.reg, courier.StaffInput{Name: "张三", IDNumber: "11010519491231", Phone: mobile}, credtrace.ErrInvalid, "id_number"},
		{"bad phone", f.reg, courier.StaffInput{Name: "张三", IDNumber: residentID, Phone: "1380013800"}, credtrace.ErrInvalid, "phone"},
		{"no name", f.reg, courier.StaffInput{Name: " ", IDNumber: residentID, Phone: mobile}, credtrace.ErrInvalid, "name"},
		{"firm without an employment", firmA, courier.StaffInput{Name: "张三", IDNumber: residentID, Phone: mobile}, credtrace.ErrInvalid, "employment"},
		{"employment in the future", f.reg, courier.StaffInput{Name: "张三", IDNumber: residentID, Phone: mobile,
			Employment: &courier.EmploymentInput{FirmID: hq.ID, Role: "courier", From: start.Add(time.Hour)}}, credtrace.ErrInvalid, "employment.from"},
		{"platform may not register staff", f.actor(t, courier.TokenInput{Role: credtrace.RolePlatform}), courier.StaffInput{Name: "张三", IDNumber: residentID, Phone: mobile}, credtrace.ErrForbidden, ""},
		{"accepted with lower-case x", firmA, courier.StaffInput{Name: "张三", IDNumber: " 11010519491231002x ", Phone: mobile, Employment: employ}, nil, ""},
		{"same person again", f.reg, courier.StaffInput{Name: "张三丰", IDNumber: residentID, Phone: "13900139000"}, credtrace.ErrConflict, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			got, err := f.svc.CreateStaff(f.ctx, tt.actor, tt.in)
			wantErr(t, err, tt.want, tt.field)
			if err != nil {
				for _, secret := range []string{strings.TrimSpace(tt.in.IDNumber), tt.in.Phone, strings.ToUpper(strings.TrimSpace(tt.in.IDNumber))} {
					if secret != "" && strings.Contains(err.Error(), secret) {
						t.Errorf("error %q carries personal data", err)
					}
				}
				f.wantAudit(t, before, 0)
				return
			}
			f.wantAudit(t, before, 1)
			if got.IDMasked != "110105********002X" || got.PhoneMasked != "138****8000" {
				t.Errorf("masked = %q, %q", got.IDMasked, got.PhoneMasked)
			}
			if want := f.svc.Hasher().Hash("resident_id", residentID); got.IDHash != want {
				t.Errorf("IDHash = %q, want the keyed hash of the upper-cased number %q", got.IDHash, want)
			}
			found, err := f.svc.FindStaff(f.ctx, f.reg, residentID)
			if err != nil || found.ID != got.ID {
				t.Errorf("FindStaff = %v, %v; want %s", found.ID, err, got.ID)
			}
		})
	}
}

func TestEmployment(t *testing.T) {
	f := newFixture(t)
	a := f.firm(t, courier.KindHQ, "")
	b := f.firm(t, courier.KindHQ, "")
	p := f.staff(t, a.ID) // at a since start-60d
	moved := start.AddDate(0, 0, -10)

	t.Run("start closes the open employment", func(t *testing.T) {
		before := f.auditSeq(t)
		got, err := f.svc.StartEmployment(f.ctx, f.reg, p.ID, courier.EmploymentInput{FirmID: b.ID, Role: "sorter", From: moved})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Employment) != 2 {
			t.Fatalf("employments = %+v, want 2", got.Employment)
		}
		if first := got.Employment[0]; first.FirmID != a.ID || !first.To.Equal(moved) {
			t.Errorf("first employment = %+v, want at %s ending %s", first, a.ID, moved)
		}
		if second := got.Employment[1]; second.FirmID != b.ID || !second.Open() {
			t.Errorf("second employment = %+v, want open at %s", second, b.ID)
		}
		stored, err := f.svc.Staff(f.ctx, f.reg, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			at   time.Time
			want string
		}{
			{"before the move", moved.Add(-time.Hour), a.ID},
			{"after the move", start, b.ID},
		}
		for _, tt := range tests {
			if got := stored.EmployerAt(tt.at); got != tt.want {
				t.Errorf("%s: EmployerAt = %q, want %q", tt.name, got, tt.want)
			}
		}
		f.wantAudit(t, before, 1)
	})

	refused := []struct {
		name  string
		do    func() error
		want  error
		field string
	}{
		{"start before the current one started", func() error {
			_, err := f.svc.StartEmployment(f.ctx, f.reg, p.ID, courier.EmploymentInput{FirmID: a.ID, Role: "courier", From: moved.Add(-time.Hour)})
			return err
		}, credtrace.ErrInvalid, "from"},
		{"start at an unknown firm", func() error {
			_, err := f.svc.StartEmployment(f.ctx, f.reg, p.ID, courier.EmploymentInput{FirmID: "no-such-firm", Role: "courier", From: start})
			return err
		}, credtrace.ErrInvalid, "firm_id"},
		{"end in the future", func() error {
			_, err := f.svc.EndEmployment(f.ctx, f.reg, p.ID, start.Add(time.Hour))
			return err
		}, credtrace.ErrInvalid, "to"},
		{"end before it started", func() error {
			_, err := f.svc.EndEmployment(f.ctx, f.reg, p.ID, moved.Add(-time.Hour))
			return err
		}, credtrace.ErrInvalid, "to"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			wantErr(t, tt.do(), tt.want, tt.field)
			f.wantAudit(t, before, 0)
		})
	}

	t.Run("end closes the open employment", func(t *testing.T) {
		before := f.auditSeq(t)
		got, err := f.svc.EndEmployment(f.ctx, f.reg, p.ID, start)
		if err != nil {
			t.Fatal(err)
		}
		if last := got.Employment[len(got.Employment)-1]; last.Open() || !last.To.Equal(start) {
			t.Errorf("last employment = %+v, want ended at %s", last, start)
		}
		f.wantAudit(t, before, 1)
	})

	never, err := f.svc.CreateStaff(f.ctx, f.reg, courier.StaffInput{Name: "李四", IDNumber: f.nextResidentID(), Phone: mobile})
	if err != nil {
		t.Fatal(err)
	}
	noOpen := []struct {
		name string
		id   string
	}{
		{"end again", p.ID},
		{"end for a person never employed", never.ID},
	}
	for _, tt := range noOpen {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			_, err := f.svc.EndEmployment(f.ctx, f.reg, tt.id, start)
			wantErr(t, err, credtrace.ErrState, "")
			f.wantAudit(t, before, 0)
		})
	}
}

func TestCreateRecordRoles(t *testing.T) {
	f := newFixture(t)
	hqA := f.firm(t, courier.KindHQ, "")
	branchA := f.firm(t, courier.KindBranch, hqA.ID)
	hqB := f.firm(t, courier.KindHQ, "")
	firmA := f.firmActor(t, hqA.ID)
	merchant := f.actor(t, courier.TokenInput{Role: credtrace.RoleMerchant, MerchantID: "shop-1"})
	platform := f.actor(t, courier.TokenInput{Role: credtrace.RolePlatform})

	in := func(sub string, src courier.Source, cat courier.Category) courier.RecordInput {
		return recordInput(firmSubject(sub), src, cat, courier.SevGeneral)
	}
	future := in(hqA.ID, courier.SrcRegulator, courier.CatSupervision)
	future.OccurredAt = start.Add(time.Minute)
	unknown := in("no-such-firm", courier.SrcRegulator, courier.CatSupervision)

	tests := []struct {
		name   string
		actor  credtrace.Caller
		in     courier.RecordInput
		want   error
		field  string
		status courier.RecordStatus
	}{
		{"regulator source starts confirmed", f.reg, in(hqA.ID, courier.SrcRegulator, courier.CatSupervision), nil, "", courier.StatusConfirmed},
		{"consumer source starts pending", f.reg, in(hqA.ID, courier.SrcConsumer, courier.CatComplaint), nil, "", courier.StatusPending},
		{"media source starts pending", f.reg, in(hqA.ID, courier.SrcMedia, courier.CatMedia), nil, "", courier.StatusPending},
		{"firm self-report on itself", firmA, in(hqA.ID, courier.SrcFirmSelf, courier.CatDeliverySafety), nil, "", courier.StatusPending},
		{"firm self-report on its branch", firmA, in(branchA.ID, courier.SrcFirmSelf, courier.CatServiceQuality), nil, "", courier.StatusPending},
		{"firm entering a regulator record", firmA, in(hqA.ID, courier.SrcRegulator, courier.CatSupervision), credtrace.ErrInvalid, "source", ""},
		{"firm entering a complaint", firmA, in(hqA.ID, courier.SrcConsumer, courier.CatComplaint), credtrace.ErrInvalid, "source", ""},
		{"firm self-report on another brand", firmA, in(hqB.ID, courier.SrcFirmSelf, courier.CatDeliverySafety), credtrace.ErrInvalid, "subject.id", ""},
		{"merchant complaint", merchant, in(hqB.ID, courier.SrcMerchant, courier.CatComplaint), nil, "", courier.StatusPending},
		{"merchant supervision record", merchant, in(hqB.ID, courier.SrcMerchant, courier.CatSupervision), credtrace.ErrInvalid, "category", ""},
		{"merchant as consumer", merchant, in(hqB.ID, courier.SrcConsumer, courier.CatComplaint), credtrace.ErrInvalid, "source", ""},
		{"merchant as regulator", merchant, in(hqB.ID, courier.SrcRegulator, courier.CatComplaint), credtrace.ErrInvalid, "source", ""},
		{"platform complaint", platform, in(hqB.ID, courier.SrcPlatform, courier.CatComplaint), nil, "", courier.StatusPending},
		{"platform as merchant", platform, in(hqB.ID, courier.SrcMerchant, courier.CatComplaint), credtrace.ErrInvalid, "source", ""},
		{"platform media record", platform, in(hqB.ID, courier.SrcPlatform, courier.CatMedia), credtrace.ErrInvalid, "category", ""},
		{"public", credtrace.Public, in(hqB.ID, courier.SrcConsumer, courier.CatComplaint), credtrace.ErrForbidden, "", ""},
		{"occurred in the future", f.reg, future, credtrace.ErrInvalid, "occurred_at", ""},
		{"unknown subject", f.reg, unknown, credtrace.ErrInvalid, "subject.id", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			got, err := f.svc.CreateRecord(f.ctx, tt.actor, tt.in)
			wantErr(t, err, tt.want, tt.field)
			if err != nil {
				f.wantAudit(t, before, 0)
				return
			}
			f.wantAudit(t, before, 1)
			if got.Status != tt.status {
				t.Errorf("status = %s, want %s", got.Status, tt.status)
			}
			if got.FirmID != tt.in.Subject.ID {
				t.Errorf("FirmID = %q, want the subject %q", got.FirmID, tt.in.Subject.ID)
			}
			if tt.status == courier.StatusPending && (!got.PublicUntil.IsZero() || !got.RepairEligibleAt.IsZero() || !got.ConfirmedAt.IsZero()) {
				t.Errorf("pending record has clocks: confirmed %s public until %s repair %s", got.ConfirmedAt, got.PublicUntil, got.RepairEligibleAt)
			}
			stored, err := f.svc.Record(f.ctx, f.reg, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Status != tt.status || stored.Version != 1 {
				t.Errorf("stored status %s v%d, want %s v1", stored.Status, stored.Version, tt.status)
			}
		})
	}
}

func TestRecordClocks(t *testing.T) {
	// A policy other than the default, so that the test sees the configured months at work.
	p := courier.Policy{
		PublicityMonths: map[courier.Severity]int{courier.SevMinor: 2, courier.SevGeneral: 6, courier.SevSerious: 24},
		RepairMonths:    map[courier.Severity]int{courier.SevMinor: 1, courier.SevGeneral: 4, courier.SevSerious: 18},
	}
	f := newFixtureWith(t, p)
	hq := f.firm(t, courier.KindHQ, "")

	for _, sev := range []courier.Severity{courier.SevMinor, courier.SevGeneral, courier.SevSerious} {
		t.Run("regulator record "+string(sev), func(t *testing.T) {
			now := f.svc.Now()
			r := f.confirmed(t, firmSubject(hq.ID), sev)
			checkClocks(t, r, now, start.Add(-24*time.Hour), p, sev)
		})
	}
	t.Run("consumer record confirmed later", func(t *testing.T) {
		r := f.pending(t, firmSubject(hq.ID))
		f.clock.Advance(5 * 24 * time.Hour)
		confirmedAt := f.svc.Now()
		got, err := f.svc.ConfirmRecord(f.ctx, f.reg, r.ID, "核实属实")
		if err != nil {
			t.Fatal(err)
		}
		checkClocks(t, got, confirmedAt, start.Add(-24*time.Hour), p, courier.SevGeneral)
		if n := len(got.History); n != 1 || got.History[0].From != courier.StatusPending || got.History[0].To != courier.StatusConfirmed {
			t.Errorf("history = %+v, want one pending→confirmed step", got.History)
		}
	})
}

// checkClocks checks that r was confirmed at confirmed and that its clocks run from decided.
func checkClocks(t *testing.T, r courier.Record, confirmed, decided time.Time, p courier.Policy, sev courier.Severity) {
	t.Helper()
	tests := []struct {
		name      string
		got, want time.Time
	}{
		{"ConfirmedAt", r.ConfirmedAt, confirmed},
		{"DecidedAt", r.DecidedAt, decided},
		{"PublicUntil", r.PublicUntil, decided.AddDate(0, p.PublicityMonths[sev], 0)},
		{"RepairEligibleAt", r.RepairEligibleAt, decided.AddDate(0, p.RepairMonths[sev], 0)},
	}
	for _, tt := range tests {
		if !tt.got.Equal(tt.want) {
			t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
	if r.Status != courier.StatusConfirmed {
		t.Errorf("status = %s, want confirmed", r.Status)
	}
}

// TestClocksStartAtDecision backfills a penalty decided eleven months ago: its year of
// publicity ends in one month, and its three months before repair have been served.
func TestClocksStartAtDecision(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	now := f.svc.Now()
	in := recordInput(firmSubject(hq.ID), courier.SrcRegulator, courier.CatEnforcement, courier.SevGeneral)
	in.OccurredAt = now.AddDate(0, -11, -20)
	in.DecidedAt = now.AddDate(0, -11, 0) // 行政处罚决定书 of eleven months ago
	r, err := f.svc.CreateRecord(f.ctx, f.reg, in)
	if err != nil {
		t.Fatal(err)
	}
	checkClocks(t, r, now, in.DecidedAt, courier.DefaultPolicy(), courier.SevGeneral)
	if got, want := r.PublicUntil, now.AddDate(0, -11, 0).AddDate(0, 12, 0); !got.Equal(want) || got.After(now.AddDate(0, 1, 1)) {
		t.Errorf("public until %s, want %s: one month from now, not a year from the entry", got, want)
	}
	if !r.Public(now) || r.Public(now.AddDate(0, 1, 1)) {
		t.Errorf("public now %v, in a month and a day %v; want true, false", r.Public(now), r.Public(now.AddDate(0, 1, 1)))
	}
	// Repair counts from the decision: the minimum period is served already.
	got, err := f.svc.RequestRepair(f.ctx, f.reg, r.ID, courier.RepairInput{
		Evidence: []courier.Evidence{{Kind: "document", Ref: "整改报告"}}, Commitment: "按期整改"})
	if err != nil {
		t.Fatalf("repair of a penalty decided 11 months ago: %v, want it accepted", err)
	}
	if !got.RepairPending() {
		t.Error("no repair request pending")
	}

	// A pending record confirmed later also runs from its decision, not from the confirmation.
	p := recordInput(firmSubject(hq.ID), courier.SrcConsumer, courier.CatComplaint, courier.SevMinor)
	p.DecidedAt = start.Add(-time.Hour)
	pr, err := f.svc.CreateRecord(f.ctx, f.reg, p)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * 24 * time.Hour)
	c, err := f.svc.ConfirmRecord(f.ctx, f.reg, pr.ID, "核实")
	if err != nil {
		t.Fatal(err)
	}
	checkClocks(t, c, f.svc.Now(), p.DecidedAt, courier.DefaultPolicy(), courier.SevMinor)
}

func TestDecidedAtRefused(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	now := f.svc.Now()
	tests := []struct {
		name     string
		occurred time.Time
		decided  time.Time
	}{
		{"in the future", now.Add(-time.Hour), now.Add(time.Minute)},
		{"before the event", now.Add(-time.Hour), now.Add(-2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := recordInput(firmSubject(hq.ID), courier.SrcRegulator, courier.CatEnforcement, courier.SevGeneral)
			in.OccurredAt, in.DecidedAt = tt.occurred, tt.decided
			_, err := f.svc.CreateRecord(f.ctx, f.reg, in)
			var v *credtrace.Error
			if !errors.As(err, &v) || len(v.Fields) != 1 || v.Fields[0].Field != "decided_at" {
				t.Fatalf("err = %v, want one invalid field decided_at", err)
			}
		})
	}
}

func TestRefusedTransitions(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	sub := firmSubject(hq.ID)

	// Each setup returns the record the action works on and, for objection actions, the objection.
	tests := []struct {
		name  string
		setup func(t *testing.T) (recordID, objectionID string)
		act   func(recordID, objectionID string) error
	}{
		{"confirm a confirmed record",
			func(t *testing.T) (string, string) { return f.confirmed(t, sub, courier.SevGeneral).ID, "" },
			func(id, _ string) error { _, err := f.svc.ConfirmRecord(f.ctx, f.reg, id, "again"); return err }},
		{"dismiss a confirmed record",
			func(t *testing.T) (string, string) { return f.confirmed(t, sub, courier.SevGeneral).ID, "" },
			func(id, _ string) error { _, err := f.svc.DismissRecord(f.ctx, f.reg, id, "不属实"); return err }},
		{"confirm a dismissed record",
			func(t *testing.T) (string, string) {
				r := f.pending(t, sub)
				if _, err := f.svc.DismissRecord(f.ctx, f.reg, r.ID, "不属实"); err != nil {
					t.Fatal(err)
				}
				return r.ID, ""
			},
			func(id, _ string) error { _, err := f.svc.ConfirmRecord(f.ctx, f.reg, id, ""); return err }},
		{"object to a pending record",
			func(t *testing.T) (string, string) { return f.pending(t, sub).ID, "" },
			func(id, _ string) error {
				_, err := f.svc.FileObjection(f.ctx, f.reg, courier.ObjectionInput{RecordID: id, Reasons: "不属实"})
				return err
			}},
		{"object to a disputed record",
			func(t *testing.T) (string, string) {
				r := f.confirmed(t, sub, courier.SevGeneral)
				f.object(t, f.reg, r.ID)
				return r.ID, ""
			},
			func(id, _ string) error {
				_, err := f.svc.FileObjection(f.ctx, f.reg, courier.ObjectionInput{RecordID: id, Reasons: "再次异议"})
				return err
			}},
		{"repair a pending record",
			func(t *testing.T) (string, string) { return f.pending(t, sub).ID, "" },
			func(id, _ string) error { _, err := f.svc.RequestRepair(f.ctx, f.reg, id, repairIn); return err }},
		{"repair before the minimum period",
			func(t *testing.T) (string, string) { return f.confirmed(t, sub, courier.SevGeneral).ID, "" },
			func(id, _ string) error { _, err := f.svc.RequestRepair(f.ctx, f.reg, id, repairIn); return err }},
		{"repair a disputed record",
			func(t *testing.T) (string, string) {
				r := f.confirmed(t, sub, courier.SevMinor)
				f.object(t, f.reg, r.ID)
				return r.ID, ""
			},
			func(id, _ string) error { _, err := f.svc.RequestRepair(f.ctx, f.reg, id, repairIn); return err }},
		{"second repair while one is pending",
			func(t *testing.T) (string, string) {
				r := f.confirmed(t, sub, courier.SevMinor) // minor: no minimum period
				if _, err := f.svc.RequestRepair(f.ctx, f.reg, r.ID, repairIn); err != nil {
					t.Fatal(err)
				}
				return r.ID, ""
			},
			func(id, _ string) error { _, err := f.svc.RequestRepair(f.ctx, f.reg, id, repairIn); return err }},
		{"repair a repaired record",
			func(t *testing.T) (string, string) {
				r := f.confirmed(t, sub, courier.SevMinor)
				if _, err := f.svc.RequestRepair(f.ctx, f.reg, r.ID, repairIn); err != nil {
					t.Fatal(err)
				}
				if _, err := f.svc.DecideRepair(f.ctx, f.reg, r.ID, true, "整改到位"); err != nil {
					t.Fatal(err)
				}
				return r.ID, ""
			},
			func(id, _ string) error { _, err := f.svc.RequestRepair(f.ctx, f.reg, id, repairIn); return err }},
		{"decide a repair nobody asked for",
			func(t *testing.T) (string, string) { return f.confirmed(t, sub, courier.SevMinor).ID, "" },
			func(id, _ string) error { _, err := f.svc.DecideRepair(f.ctx, f.reg, id, true, "ok"); return err }},
		{"decide an objection twice",
			func(t *testing.T) (string, string) {
				r := f.confirmed(t, sub, courier.SevGeneral)
				o := f.object(t, f.reg, r.ID)
				if _, err := f.svc.DecideObjection(f.ctx, f.reg, o.ID, courier.ObjectionUpheld, "证据不足"); err != nil {
					t.Fatal(err)
				}
				return r.ID, o.ID
			},
			func(_, oid string) error {
				_, err := f.svc.DecideObjection(f.ctx, f.reg, oid, courier.ObjectionRevoked, "改判")
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rid, oid := tt.setup(t)
			old, err := f.svc.Record(f.ctx, f.reg, rid)
			if err != nil {
				t.Fatal(err)
			}
			before := f.auditSeq(t)
			wantErr(t, tt.act(rid, oid), credtrace.ErrState, "")
			got, err := f.svc.Record(f.ctx, f.reg, rid)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != old.Status || got.Version != old.Version || len(got.Repairs) != len(old.Repairs) {
				t.Errorf("refused transition changed the record: %s v%d, want %s v%d", got.Status, got.Version, old.Status, old.Version)
			}
			f.wantAudit(t, before, 0)
		})
	}
}

func TestRepairAfterMinimumPeriod(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	firmA := f.firmActor(t, hq.ID)
	r := f.confirmed(t, firmSubject(hq.ID), courier.SevGeneral) // 3 months before repair

	f.clock.Set(r.RepairEligibleAt.Add(-time.Millisecond))
	_, err := f.svc.RequestRepair(f.ctx, firmA, r.ID, repairIn)
	wantErr(t, err, credtrace.ErrState, "")

	f.clock.Set(r.RepairEligibleAt)
	before := f.auditSeq(t)
	got, err := f.svc.RequestRepair(f.ctx, firmA, r.ID, repairIn)
	if err != nil {
		t.Fatalf("repair at the end of the minimum period: %v", err)
	}
	if !got.RepairPending() || got.Status != courier.StatusConfirmed {
		t.Errorf("after request: status %s, repair pending %v", got.Status, got.RepairPending())
	}
	got, err = f.svc.DecideRepair(f.ctx, f.reg, r.ID, true, "整改到位")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != courier.StatusRepaired || got.RepairPending() {
		t.Errorf("after approval: status %s, repair pending %v; want repaired", got.Status, got.RepairPending())
	}
	f.wantAudit(t, before, 2)
}

func TestObjectionsOverdue(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	firmA := f.firmActor(t, hq.ID)
	other := f.firmActor(t, f.firm(t, courier.KindHQ, "").ID)
	open := f.object(t, firmA, f.confirmed(t, firmSubject(hq.ID), courier.SevGeneral).ID)
	decided := f.object(t, firmA, f.confirmed(t, firmSubject(hq.ID), courier.SevGeneral).ID)
	if _, err := f.svc.DecideObjection(f.ctx, f.reg, decided.ID, courier.ObjectionUpheld, "证据不足"); err != nil {
		t.Fatal(err)
	}
	if want := open.FiledAt.AddDate(0, 0, courier.ReviewDays); !open.ReviewBy.Equal(want) {
		t.Errorf("ReviewBy = %s, want %s", open.ReviewBy, want)
	}

	tests := []struct {
		name  string
		after time.Duration // since filing
		actor credtrace.Caller
		want  []string
	}{
		{"at filing", 0, f.reg, nil},
		{"at the review deadline", 10 * 24 * time.Hour, f.reg, nil},
		{"eleven days later", 11 * 24 * time.Hour, f.reg, []string{open.ID}},
		{"eleven days later, as the firm", 11 * 24 * time.Hour, firmA, []string{open.ID}},
		{"eleven days later, as another brand", 11 * 24 * time.Hour, other, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Set(open.FiledAt.Add(tt.after))
			items, _, err := f.svc.Objections(f.ctx, tt.actor, true, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := objectionIDs(items); !slices.Equal(got, tt.want) {
				t.Errorf("overdue = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("without the filter every objection is listed", func(t *testing.T) {
		items, _, err := f.svc.Objections(f.ctx, f.reg, false, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{open.ID, decided.ID}
		slices.Sort(want)
		if got := objectionIDs(items); !slices.Equal(got, want) {
			t.Errorf("objections = %v, want %v", got, want)
		}
	})
}

func objectionIDs(os []courier.Objection) []string {
	var ids []string
	for _, o := range os {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	return ids
}

func recordIDs(rs []courier.Record) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestDisclose(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	other := f.firm(t, courier.KindHQ, "")
	site := f.site(t, hq.ID)
	person := f.staff(t, hq.ID)
	sub := firmSubject(hq.ID)

	general := f.confirmed(t, sub, courier.SevGeneral)                                                    // public 12 months
	minor := f.confirmed(t, sub, courier.SevMinor)                                                        // public 3 months
	atSite := f.confirmed(t, courier.Subject{Kind: courier.SubjectSite, ID: site.ID}, courier.SevSerious) // 36 months
	f.pending(t, sub)
	dismissed := f.pending(t, sub)
	if _, err := f.svc.DismissRecord(f.ctx, f.reg, dismissed.ID, "不属实"); err != nil {
		t.Fatal(err)
	}
	revoked := f.confirmed(t, sub, courier.SevGeneral)
	if _, err := f.svc.DecideObjection(f.ctx, f.reg, f.object(t, f.reg, revoked.ID).ID, courier.ObjectionRevoked, "证据不足"); err != nil {
		t.Fatal(err)
	}
	upheld := f.confirmed(t, sub, courier.SevGeneral)
	if _, err := f.svc.DecideObjection(f.ctx, f.reg, f.object(t, f.reg, upheld.ID).ID, courier.ObjectionUpheld, "维持"); err != nil {
		t.Fatal(err)
	}
	disputed := f.confirmed(t, sub, courier.SevGeneral)
	f.object(t, f.reg, disputed.ID)
	repaired := f.confirmed(t, sub, courier.SevMinor)
	if _, err := f.svc.RequestRepair(f.ctx, f.reg, repaired.ID, repairIn); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DecideRepair(f.ctx, f.reg, repaired.ID, true, "整改到位"); err != nil {
		t.Fatal(err)
	}
	f.confirmed(t, courier.Subject{Kind: courier.SubjectStaff, ID: person.ID}, courier.SevGeneral) // personal: never public
	f.confirmed(t, firmSubject(other.ID), courier.SevGeneral)                                      // another firm's

	tests := []struct {
		name string
		at   time.Time
		want []string
	}{
		{"now", start, sorted(general.ID, minor.ID, atSite.ID, upheld.ID, disputed.ID)},
		{"at the end of the minor window", minor.PublicUntil, sorted(general.ID, atSite.ID, upheld.ID, disputed.ID)},
		{"just before the end of the general window", general.PublicUntil.Add(-time.Millisecond), sorted(general.ID, atSite.ID, upheld.ID, disputed.ID)},
		{"past the general window", general.PublicUntil.Add(time.Hour), sorted(atSite.ID)},
		{"past every window", atSite.PublicUntil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Set(tt.at)
			d, err := f.svc.Disclose(f.ctx, strings.ToLower(hq.USCC))
			if err != nil {
				t.Fatal(err)
			}
			if d.Firm.ID != hq.ID {
				t.Errorf("disclosed firm %s, want %s", d.Firm.ID, hq.ID)
			}
			if got := recordIDs(d.Records); !slices.Equal(got, tt.want) {
				t.Errorf("disclosed records = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("unknown code", func(t *testing.T) {
		_, err := f.svc.Disclose(f.ctx, "91110000802100433B")
		wantErr(t, err, credtrace.ErrNotFound, "")
	})
}

func TestFirmScope(t *testing.T) {
	f := newFixture(t)
	hqA := f.firm(t, courier.KindHQ, "")
	branchA := f.firm(t, courier.KindBranch, hqA.ID)
	siteA := f.site(t, branchA.ID)
	hqB := f.firm(t, courier.KindHQ, "")
	siteB := f.site(t, hqB.ID)
	staffB := f.staff(t, hqB.ID)
	recordA := f.confirmed(t, firmSubject(branchA.ID), courier.SevMinor)
	staffA := f.staff(t, branchA.ID)
	recordB := f.confirmed(t, firmSubject(hqB.ID), courier.SevMinor)
	objectionB := f.object(t, f.reg, f.confirmed(t, firmSubject(hqB.ID), courier.SevGeneral).ID)
	asA := f.firmActor(t, hqA.ID)
	asBranch := f.firmActor(t, branchA.ID)
	name := "改名"

	tests := []struct {
		name  string
		actor credtrace.Caller
		call  func(a credtrace.Caller) error
		want  error
	}{
		{"another brand's firm", asA, func(a credtrace.Caller) error { _, err := f.svc.Firm(f.ctx, a, hqB.ID); return err }, credtrace.ErrNotFound},
		{"another brand's file", asA, func(a credtrace.Caller) error { _, err := f.svc.FirmFile(f.ctx, a, hqB.ID); return err }, credtrace.ErrNotFound},
		{"another brand's site", asA, func(a credtrace.Caller) error { _, err := f.svc.Site(f.ctx, a, siteB.ID); return err }, credtrace.ErrNotFound},
		{"another brand's site list", asA, func(a credtrace.Caller) error { _, _, err := f.svc.Sites(f.ctx, a, hqB.ID, "", 0); return err }, credtrace.ErrNotFound},
		{"a site for another brand", asA, func(a credtrace.Caller) error {
			_, err := f.svc.CreateSite(f.ctx, a, hqB.ID, courier.SiteInput{Name: "x", Kind: courier.SiteLocker, Region: "130102"})
			return err
		}, credtrace.ErrNotFound},
		{"change another brand's site", asA, func(a credtrace.Caller) error {
			_, err := f.svc.UpdateSite(f.ctx, a, siteB.ID, courier.SiteInput{Name: "x", Kind: courier.SiteLocker, Region: "130102"})
			return err
		}, credtrace.ErrNotFound},
		{"another brand's staff", asA, func(a credtrace.Caller) error { _, err := f.svc.Staff(f.ctx, a, staffB.ID); return err }, credtrace.ErrNotFound},
		{"another brand's staff file", asA, func(a credtrace.Caller) error { _, err := f.svc.StaffFile(f.ctx, a, staffB.ID); return err }, credtrace.ErrNotFound},
		{"change another brand's staff", asA, func(a credtrace.Caller) error {
			_, err := f.svc.UpdateStaff(f.ctx, a, staffB.ID, courier.StaffPatch{Name: &name})
			return err
		}, credtrace.ErrNotFound},
		{"end another brand's employment", asA, func(a credtrace.Caller) error { _, err := f.svc.EndEmployment(f.ctx, a, staffB.ID, start); return err }, credtrace.ErrNotFound},
		{"another brand's record", asA, func(a credtrace.Caller) error { _, err := f.svc.Record(f.ctx, a, recordB.ID); return err }, credtrace.ErrNotFound},
		{"repair another brand's record", asA, func(a credtrace.Caller) error {
			_, err := f.svc.RequestRepair(f.ctx, a, recordB.ID, repairIn)
			return err
		}, credtrace.ErrNotFound},
		{"another brand's objection", asA, func(a credtrace.Caller) error { _, err := f.svc.Objection(f.ctx, a, objectionB.ID); return err }, credtrace.ErrNotFound},
		{"a branch token and its hq", asBranch, func(a credtrace.Caller) error { _, err := f.svc.Firm(f.ctx, a, hqA.ID); return err }, credtrace.ErrNotFound},
		{"own hq", asA, func(a credtrace.Caller) error { _, err := f.svc.Firm(f.ctx, a, hqA.ID); return err }, nil},
		{"own branch", asA, func(a credtrace.Caller) error { _, err := f.svc.Firm(f.ctx, a, branchA.ID); return err }, nil},
		{"own branch's site", asA, func(a credtrace.Caller) error { _, err := f.svc.Site(f.ctx, a, siteA.ID); return err }, nil},
		{"a branch token and itself", asBranch, func(a credtrace.Caller) error { _, err := f.svc.FirmFile(f.ctx, a, branchA.ID); return err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			wantErr(t, tt.call(tt.actor), tt.want, "")
			f.wantAudit(t, before, 0)
		})
	}

	lists := []struct {
		name string
		list func() ([]string, error)
		want []string
	}{
		{"firms", func() ([]string, error) {
			items, _, err := f.svc.Firms(f.ctx, asA, courier.FirmQuery{}, "", 0)
			var ids []string
			for _, x := range items {
				ids = append(ids, x.ID)
			}
			return sorted(ids...), err
		}, sorted(hqA.ID, branchA.ID)},
		{"records", func() ([]string, error) {
			items, _, err := f.svc.Records(f.ctx, asA, courier.RecordQuery{}, "", 0)
			return recordIDs(items), err
		}, []string{recordA.ID}},
		{"objections", func() ([]string, error) {
			items, _, err := f.svc.Objections(f.ctx, asA, false, "", 0)
			return objectionIDs(items), err
		}, nil},
		{"staff", func() ([]string, error) {
			items, _, err := f.svc.StaffList(f.ctx, asA, "", "", 0)
			var ids []string
			for _, x := range items {
				ids = append(ids, x.ID)
			}
			return ids, err
		}, []string{staffA.ID}},
	}
	for _, tt := range lists {
		t.Run("list "+tt.name, func(t *testing.T) {
			got, err := tt.list()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAuditEveryChange(t *testing.T) {
	f := newFixture(t)
	var (
		firm      courier.Firm
		site      courier.Site
		person    courier.Staff
		pending   courier.Record
		dismissed courier.Record
		minor     courier.Record
		objection courier.Objection
		tokenID   string
		err       error
	)
	name, phone := "新名", "13900139000"
	steps := []struct {
		name   string
		do     func() error
		action string
	}{
		{"create firm", func() error {
			firm, err = f.svc.CreateFirm(f.ctx, f.reg, firmInput(f.nextUSCC(), courier.KindHQ, ""))
			return err
		}, "firm.create"},
		{"update firm", func() error {
			_, err := f.svc.UpdateFirm(f.ctx, f.reg, firm.ID, courier.FirmPatch{Name: &name})
			return err
		}, "firm.update"},
		{"issue token", func() error {
			tk, _, err := f.svc.IssueToken(f.ctx, f.reg, courier.TokenInput{Role: credtrace.RoleFirm, FirmID: firm.ID})
			tokenID = tk.ID
			return err
		}, "token.issue"},
		{"create site", func() error {
			site, err = f.svc.CreateSite(f.ctx, f.reg, firm.ID, courier.SiteInput{Name: "驿站", Kind: courier.SiteLocker, Region: "130102"})
			return err
		}, "site.create"},
		{"update site", func() error {
			_, err := f.svc.UpdateSite(f.ctx, f.reg, site.ID, courier.SiteInput{Name: "驿站二", Kind: courier.SiteLocker, Region: "130102"})
			return err
		}, "site.update"},
		{"create staff", func() error {
			person, err = f.svc.CreateStaff(f.ctx, f.reg, courier.StaffInput{Name: "张三", IDNumber: residentID, Phone: mobile})
			return err
		}, "staff.create"},
		{"update staff", func() error {
			_, err := f.svc.UpdateStaff(f.ctx, f.reg, person.ID, courier.StaffPatch{Phone: &phone})
			return err
		}, "staff.update"},
		{"start employment", func() error {
			_, err := f.svc.StartEmployment(f.ctx, f.reg, person.ID, courier.EmploymentInput{FirmID: firm.ID, Role: "courier", From: start.AddDate(0, 0, -1)})
			return err
		}, "staff.employ"},
		{"end employment", func() error { _, err := f.svc.EndEmployment(f.ctx, f.reg, person.ID, start); return err }, "staff.leave"},
		{"create record", func() error {
			pending, err = f.svc.CreateRecord(f.ctx, f.reg, recordInput(firmSubject(firm.ID), courier.SrcConsumer, courier.CatComplaint, courier.SevGeneral))
			return err
		}, "record.create"},
		{"confirm record", func() error { _, err := f.svc.ConfirmRecord(f.ctx, f.reg, pending.ID, "属实"); return err }, "record.confirm"},
		{"create another record", func() error {
			dismissed, err = f.svc.CreateRecord(f.ctx, f.reg, recordInput(firmSubject(firm.ID), courier.SrcConsumer, courier.CatComplaint, courier.SevGeneral))
			return err
		}, "record.create"},
		{"dismiss record", func() error { _, err := f.svc.DismissRecord(f.ctx, f.reg, dismissed.ID, "不属实"); return err }, "record.dismiss"},
		{"file objection", func() error {
			objection, err = f.svc.FileObjection(f.ctx, f.reg, courier.ObjectionInput{RecordID: pending.ID, Reasons: "不属实"})
			return err
		}, "objection.file"},
		{"decide objection", func() error {
			_, err := f.svc.DecideObjection(f.ctx, f.reg, objection.ID, courier.ObjectionUpheld, "维持")
			return err
		}, "objection.decide"},
		{"create minor record", func() error {
			minor, err = f.svc.CreateRecord(f.ctx, f.reg, recordInput(firmSubject(firm.ID), courier.SrcRegulator, courier.CatSupervision, courier.SevMinor))
			return err
		}, "record.create"},
		{"request repair", func() error { _, err := f.svc.RequestRepair(f.ctx, f.reg, minor.ID, repairIn); return err }, "record.repair_request"},
		{"reject repair", func() error { _, err := f.svc.DecideRepair(f.ctx, f.reg, minor.ID, false, "材料不全"); return err }, "record.repair_decide"},
		{"create commitment", func() error {
			_, err := f.svc.CreateCommitment(f.ctx, f.reg, courier.CommitmentInput{Subject: firmSubject(firm.ID), Text: "诚信经营", Signer: "法定代表人", SignedAt: start})
			return err
		}, "commitment.create"},
		{"revoke token", func() error { return f.svc.RevokeToken(f.ctx, f.reg, tokenID) }, "token.revoke"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := f.auditSeq(t)
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			f.wantAudit(t, before, 1)
			last, _, err := f.st.LastAudit(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if last.Action != st.action || last.Actor != f.reg.TokenID {
				t.Errorf("last entry = %s by %s, want %s by %s", last.Action, last.Actor, st.action, f.reg.TokenID)
			}
		})
	}

	t.Run("chain", func(t *testing.T) {
		res, err := f.svc.VerifyAudit(f.ctx, f.reg)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(1 + len(steps)); !res.OK || res.Entries != want {
			t.Errorf("VerifyAudit = %+v, want OK with %d entries", res, want)
		}
		entries, err := f.svc.AuditList(f.ctx, f.reg, 0, courier.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			for _, secret := range []string{residentID, mobile, phone} {
				if strings.Contains(fmt.Sprint(e), secret) {
					t.Errorf("audit entry %d carries personal data: %+v", e.Seq, e)
				}
			}
		}
	})

	refused := []struct {
		name string
		do   func() error
		want error
	}{
		{"invalid firm", func() error {
			_, err := f.svc.CreateFirm(f.ctx, f.reg, firmInput("91130100MA0CX7Q2K7", courier.KindHQ, ""))
			return err
		}, credtrace.ErrInvalid},
		{"duplicate firm", func() error {
			_, err := f.svc.CreateFirm(f.ctx, f.reg, firmInput(firm.USCC, courier.KindHQ, ""))
			return err
		}, credtrace.ErrConflict},
		{"firm by a firm", func() error {
			_, err := f.svc.CreateFirm(f.ctx, credtrace.Caller{Role: credtrace.RoleFirm, FirmID: firm.ID}, firmInput(f.nextUSCC(), courier.KindHQ, ""))
			return err
		}, credtrace.ErrForbidden},
		{"unknown firm", func() error {
			_, err := f.svc.UpdateFirm(f.ctx, f.reg, "no-such-firm", courier.FirmPatch{Name: &name})
			return err
		}, credtrace.ErrNotFound},
		{"revoke a revoked token", func() error { return f.svc.RevokeToken(f.ctx, f.reg, tokenID) }, credtrace.ErrState},
		{"revoke own token", func() error { return f.svc.RevokeToken(f.ctx, f.reg, f.reg.TokenID) }, credtrace.ErrState},
		{"dismiss without a reason", func() error { _, err := f.svc.DismissRecord(f.ctx, f.reg, pending.ID, " "); return err }, credtrace.ErrInvalid},
	}
	for _, tt := range refused {
		t.Run("refused "+tt.name, func(t *testing.T) {
			before := f.auditSeq(t)
			wantErr(t, tt.do(), tt.want, "")
			f.wantAudit(t, before, 0)
		})
	}
}

// told is a courier.Watcher that notes what it is told.
type told struct{ got []string }

func (w *told) RecordInForce(_ context.Context, r courier.Record, inForce bool) error {
	w.got = append(w.got, fmt.Sprintf("%s:%v", r.Status, inForce))
	return nil
}

// The watcher hears exactly when a record starts or stops counting: confirmation (or a
// regulator's entry), revocation and repair; never a pending entry, a dismissal, a dispute or
// an upheld objection.
func TestWatcherToldOnlyWhenForceChanges(t *testing.T) {
	f := newFixture(t)
	hq := f.firm(t, courier.KindHQ, "")
	w := &told{}
	f.svc.SetWatcher(w)
	want := func(step string, tail ...string) {
		t.Helper()
		if !slices.Equal(w.got, tail) {
			t.Errorf("%s: watcher told %v, want %v", step, w.got, tail)
		}
		w.got = nil
	}
	dismissed := f.pending(t, firmSubject(hq.ID))
	want("pending entry")
	if _, err := f.svc.DismissRecord(f.ctx, f.reg, dismissed.ID, "不属实"); err != nil {
		t.Fatal(err)
	}
	want("dismissal")
	p := f.pending(t, firmSubject(hq.ID))
	if _, err := f.svc.ConfirmRecord(f.ctx, f.reg, p.ID, "属实"); err != nil {
		t.Fatal(err)
	}
	want("confirmation", "confirmed:true")
	o := f.object(t, f.reg, p.ID)
	want("dispute")
	if _, err := f.svc.DecideObjection(f.ctx, f.reg, o.ID, courier.ObjectionRevoked, "异议成立"); err != nil {
		t.Fatal(err)
	}
	want("revocation", "revoked:false")

	r := f.confirmed(t, firmSubject(hq.ID), courier.SevMinor)
	want("regulator's entry", "confirmed:true")
	o = f.object(t, f.reg, r.ID)
	if _, err := f.svc.DecideObjection(f.ctx, f.reg, o.ID, courier.ObjectionUpheld, "异议不成立"); err != nil {
		t.Fatal(err)
	}
	want("upheld objection")
	if _, err := f.svc.RequestRepair(f.ctx, f.reg, r.ID, courier.RepairInput{Evidence: []courier.Evidence{{Kind: "document", Ref: "整改"}}, Commitment: "承诺"}); err != nil {
		t.Fatal(err)
	}
	want("repair request")
	if _, err := f.svc.DecideRepair(f.ctx, f.reg, r.ID, true, "整改到位"); err != nil {
		t.Fatal(err)
	}
	want("repair", "repaired:false")
}
