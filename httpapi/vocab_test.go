package httpapi_test

import (
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/httpapi"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// TestVocabularyCoversCodes: every code of the domains that the dashboard shows has a Chinese
// name in its vocabulary.
func TestVocabularyCoversCodes(t *testing.T) {
	codes := map[string][]string{
		"firm_kind":        strs(courier.KindHQ, courier.KindBranch, courier.KindOutlet),
		"licence":          strs(courier.LicenceActive, courier.LicenceSuspended, courier.LicenceRevoked),
		"site_kind":        strs(courier.SiteSortingCentre, courier.SiteOutlet, courier.SiteLocker),
		"subject":          strs(courier.SubjectFirm, courier.SubjectSite, courier.SubjectStaff),
		"category":         strs(courier.CatSupervision, courier.CatEnforcement, courier.CatComplaint, courier.CatMedia, courier.CatLicence, courier.CatServiceQuality, courier.CatDeliverySafety),
		"source":           strs(courier.SrcRegulator, courier.SrcConsumer, courier.SrcMerchant, courier.SrcPlatform, courier.SrcMedia, courier.SrcFirmSelf, courier.SrcSystem),
		"severity":         strs(courier.SevMinor, courier.SevGeneral, courier.SevSerious),
		"record_status":    strs(courier.StatusPending, courier.StatusConfirmed, courier.StatusDismissed, courier.StatusDisputed, courier.StatusUpheld, courier.StatusRevoked, courier.StatusRepaired),
		"objection_status": strs(courier.ObjectionPending, courier.ObjectionUpheld, courier.ObjectionRevoked),
		"event": strs(tracking.Collected, tracking.Arrived, tracking.Departed, tracking.InTransit, tracking.Handover, tracking.OutForDelivery,
			tracking.HeldForPickup, tracking.Delivered, tracking.DeliveryFailed, tracking.Returned, tracking.Exception, tracking.Lost, tracking.Damaged),
		"incident": strs(tracking.IncLost, tracking.IncDamaged, tracking.IncDelayed, tracking.IncFalseSignature, tracking.IncDataLeak, tracking.IncEmptyParcel, tracking.IncMisdelivered),
		"anomaly": strs(tracking.AnStalled, tracking.AnPromiseBreached, tracking.AnWeight, tracking.AnNoTransit, tracking.AnMerchantBurst,
			tracking.AnSecondCarrier, tracking.AnAfterDelivery),
		"sanction":        strs(scoring.RedList, scoring.BlackList, scoring.PublicExposure, scoring.PlatformRestriction, scoring.Suspension, scoring.RevocationProposal),
		"sanction_status": strs(scoring.Proposed, scoring.Reviewed, scoring.Approved, scoring.Rejected, scoring.Lifted, scoring.Withdrawn),
		"grade":           strs(scoring.GradeA, scoring.GradeB, scoring.GradeC, scoring.GradeD, scoring.Insufficient),
		"role":            strs(credtrace.RoleRegulator, credtrace.RoleFirm, credtrace.RoleMerchant, credtrace.RolePlatform, credtrace.RoleStaff, credtrace.RoleMetrics),
	}
	for vocab, cs := range codes {
		for _, c := range cs {
			if httpapi.Terms[vocab][c] == "" {
				t.Errorf("%s %q has no Chinese name", vocab, c)
			}
		}
	}
	if got, want := string(httpapi.Term("sanction", "platform_restriction")), `限制入驻电商平台 <small class="code">platform_restriction</small>`; !strings.Contains(got, want) {
		t.Errorf("term: %s, want it to hold %s", got, want)
	}
	if got := string(httpapi.Term("event", "<b>new</b>")); strings.Contains(got, "<b>") {
		t.Errorf("an unknown code is not escaped: %s", got)
	}
}

func strs[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// TestRegions: the shipped table names every province and the cities of Hebei, and composes
// full names (a municipality's placeholder level left out).
func TestRegions(t *testing.T) {
	f, err := httpapi.WebFS.Open("web/regions.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := httpapi.ReadRegions(f)
	if err != nil {
		t.Fatal(err)
	}
	provinces := 0
	for code := range r {
		if strings.HasSuffix(code, "0000") {
			provinces++
		}
	}
	if provinces != 34 {
		t.Errorf("%d provinces, want 34", provinces)
	}
	for _, tc := range []struct{ code, want string }{
		{"130000", "河北省"}, {"130100", "河北省石家庄市"}, {"130111", "河北省石家庄市栾城区"}, {"131100", "河北省衡水市"},
		{"110105", "北京市朝阳区"}, {"440300", "广东省深圳市"}, {"810000", "香港特别行政区"},
		{"139999", "河北省"}, {"990000", ""}, {"1301", ""},
	} {
		if got := r.Name(tc.code); got != tc.want {
			t.Errorf("Name(%s) = %q, want %q", tc.code, got, tc.want)
		}
	}
	for i := 1; i <= 11; i++ { // the eleven prefecture-level cities of Hebei
		code := "13" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "00"
		if n := r.Name(code); !strings.HasSuffix(n, "市") {
			t.Errorf("Hebei city %s: %q", code, n)
		}
	}
	if _, err := httpapi.ReadRegions(strings.NewReader("code,name\n1301,x\n")); err == nil {
		t.Error("a code of four digits was read")
	}
}

// TestDashboardInChinese: the pages show codes in Chinese with the code beside them, regions
// with their names, and firms by name where the lists used to show ids.
func TestDashboardInChinese(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	reg := signedIn(t, e, adminTk)
	pages := []struct {
		path string
		want []string
	}{
		{"/ui/parcels?waybill=" + waybill, []string{
			`到达 <small class="code">arrived</small>`, `揽收 <small class="code">collected</small>`,
			`河北省石家庄市栾城区 <small class="code">130111</small>`, `北京市朝阳区 <small class="code">110105</small>`,
			"顺达速运 (" + w.hqA + ")", "顺达速运石家庄分公司 (" + w.a1 + ")"}},
		{"/ui/overview", []string{`重量异常 <small class="code">implausible_weight</small>`, "顺达速运"}},
		{"/ui/objections", []string{"<td>顺达速运石家庄分公司</td>", `待复核 <small class="code">pending</small>`}},
		{"/ui/firms/" + w.a1 + "/file", []string{`日常监管 <small class="code">supervision</small>`, `待确认 <small class="code">pending</small>`,
			`有效 <small class="code">active</small>`, `河北省石家庄市长安区 <small class="code">130102</small>`}},
		{"/ui/sanctions", []string{`<small class="code">public_exposure</small>`}},
		{"/ui/firms/" + usccFor(1), []string{`公开曝光 <small class="code">public_exposure</small>`, `轻微 <small class="code">minor</small>`}},
		{"/ui/", []string{`监管部门 <small class="code">regulator</small>`}},
	}
	for _, p := range pages {
		status, page, _ := reg.do("GET", p.path, nil)
		if status != 200 {
			t.Errorf("%s: %d", p.path, status)
			continue
		}
		for _, want := range p.want {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %s", p.path, want)
			}
		}
	}
}
