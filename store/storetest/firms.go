package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// ----- firms -----

var firmBehaviours = []behaviour{
	{"FirmRoundTrip", testFirmRoundTrip},
	{"FirmCreateConflict", testFirmCreateConflict},
	{"FirmUpdate", testFirmUpdate},
	{"FirmPaging", testFirmPaging},
	{"FirmFilters", testFirmFilters},
	{"FirmGLN", testFirmGLN},
}

// fullFirm sets every field of a firm.
func fullFirm() courier.Firm {
	return courier.Firm{
		ID:       "f1",
		USCC:     "91110105MA01AAAA1X",
		Name:     "顺丰速运（北京）有限公司",
		Kind:     courier.KindBranch,
		ParentID: "f0",
		Region:   "110105",
		Licence: courier.Licence{
			Number:    "快递业务经营许可证 京 110105-0001",
			Scope:     "国内快递（邮政企业专营业务除外）",
			ValidFrom: at(1),
			ValidTo:   at(2).AddDate(5, 0, 0),
			Status:    courier.LicenceActive,
		},
		CreatedAt: at(3),
		UpdatedAt: at(4),
		Version:   1,
	}
}

// sparseFirm leaves every optional field, times included, at its zero value. Like every sparse
// fixture it sets the creation times, which the Service always sets.
func sparseFirm() courier.Firm {
	return courier.Firm{ID: "f2", USCC: "91310000MA02BBBB2Y", Name: "HQ", Kind: courier.KindHQ, CreatedAt: at(1), UpdatedAt: at(1), Version: 1}
}

func testFirmRoundTrip(ctx context.Context, t *testing.T, s courier.Store) {
	for _, f := range []courier.Firm{fullFirm(), sparseFirm()} {
		must(t, "create "+f.ID, s.CreateFirm(ctx, f))
	}
	for _, f := range []courier.Firm{fullFirm(), sparseFirm()} {
		checkGet(ctx, t, "Firm("+f.ID+")", s.Firm, f.ID, f)
		checkGet(ctx, t, "FirmByUSCC("+f.USCC+")", s.FirmByUSCC, f.USCC, f)
	}
}

func testFirmCreateConflict(ctx context.Context, t *testing.T, s courier.Store) {
	sameID := sparseFirm()
	sameID.ID = fullFirm().ID
	sameUSCC := sparseFirm()
	sameUSCC.USCC = fullFirm().USCC
	checkCreateConflict(ctx, t, s.CreateFirm, s.Firm, firmID, fullFirm(),
		dupCase[courier.Firm]{"same id, other USCC", sameID},
		dupCase[courier.Firm]{"other id, taken USCC", sameUSCC},
	)
}

func testFirmUpdate(ctx context.Context, t *testing.T, s courier.Store) {
	unknown := fullFirm()
	unknown.ID, unknown.USCC = "f9", "91440300MA09ZZZZ9W"
	checkUpdate(ctx, t, updateCheck[courier.Firm]{
		create: s.CreateFirm, update: s.UpdateFirm, get: s.Firm, id: firmID,
		stored:  fullFirm(),
		unknown: unknown,
		edit: func(f courier.Firm, version int, mark string) courier.Firm {
			f.Name = "顺丰 " + mark
			f.ParentID = "f0-" + mark
			f.Region = "110108"
			f.Licence.Status = courier.LicenceSuspended
			f.Licence.ValidTo = at(20+version).AddDate(6, 0, 0)
			f.UpdatedAt = at(10 + version)
			f.Version = version
			return f
		},
	})
}

func testFirmPaging(ctx context.Context, t *testing.T, s courier.Store) {
	var sorted []courier.Firm
	for i, id := range []string{"f1", "f2", "f3"} {
		f := fullFirm()
		f.ID, f.USCC = id, f.USCC[:17]+string(rune('A'+i))
		sorted = append(sorted, f)
	}
	for _, i := range []int{2, 0, 1} {
		must(t, "create", s.CreateFirm(ctx, sorted[i]))
	}
	checkPaging(ctx, t, func(ctx context.Context, p courier.Page) ([]courier.Firm, error) {
		return s.Firms(ctx, courier.FirmQuery{Page: p})
	}, firmID, sorted)
}

func testFirmFilters(ctx context.Context, t *testing.T, s courier.Store) {
	firm := func(id, name string, kind courier.FirmKind, parent, region string, lic courier.LicenceStatus) courier.Firm {
		f := fullFirm()
		f.ID, f.USCC, f.Name, f.Kind, f.ParentID, f.Region, f.Licence.Status = id, "9100000000000000"+id, name, kind, parent, region, lic
		return f
	}
	// Stored out of id order; f4's region holds "1301" but does not start with it.
	for _, f := range []courier.Firm{
		firm("f5", "ZTO Tangshan Branch", courier.KindBranch, "f4", "130203", courier.LicenceActive),
		firm("f1", "SF Express", courier.KindHQ, "", "110105", courier.LicenceActive),
		firm("f3", "Yunda 100% Outlet", courier.KindOutlet, "f2", "130104", courier.LicenceSuspended),
		firm("f2", "顺丰速运石家庄分公司", courier.KindBranch, "f1", "130102", courier.LicenceActive),
		firm("f4", "中通快递 ZTO", courier.KindHQ, "", "113011", courier.LicenceRevoked),
	} {
		must(t, "create "+f.ID, s.CreateFirm(ctx, f))
	}
	cases := []struct {
		name string
		q    courier.FirmQuery
		want []string
	}{
		{"no filter", courier.FirmQuery{}, []string{"f1", "f2", "f3", "f4", "f5"}},
		{"nil IDs do not filter", courier.FirmQuery{IDs: nil}, []string{"f1", "f2", "f3", "f4", "f5"}},
		{"empty IDs match nothing", courier.FirmQuery{IDs: []string{}}, nil},
		{"IDs", courier.FirmQuery{IDs: []string{"f4", "f1", "f9"}}, []string{"f1", "f4"}},
		{"one parent", courier.FirmQuery{ParentIDs: []string{"f1"}}, []string{"f2"}},
		{"two parents", courier.FirmQuery{ParentIDs: []string{"f2", "f4"}}, []string{"f3", "f5"}},
		{"kind", courier.FirmQuery{Kind: courier.KindBranch}, []string{"f2", "f5"}},
		{"region prefix of a city", courier.FirmQuery{Region: "1301"}, []string{"f2", "f3"}},
		{"region prefix of a province", courier.FirmQuery{Region: "13"}, []string{"f2", "f3", "f5"}},
		{"whole region code", courier.FirmQuery{Region: "113011"}, []string{"f4"}},
		{"region inside a code is no prefix", courier.FirmQuery{Region: "3011"}, nil},
		{"licence status", courier.FirmQuery{Licence: courier.LicenceSuspended}, []string{"f3"}},
		{"name, lower case", courier.FirmQuery{Name: "express"}, []string{"f1"}},
		{"name, upper case", courier.FirmQuery{Name: "EXPRESS"}, []string{"f1"}},
		{"name, mid-word", courier.FirmQuery{Name: "xPre"}, []string{"f1"}},
		{"name, mixed case in two firms", courier.FirmQuery{Name: "zto"}, []string{"f4", "f5"}},
		{"name, Chinese prefix", courier.FirmQuery{Name: "顺丰"}, []string{"f2"}},
		{"name, Chinese infix", courier.FirmQuery{Name: "石家庄"}, []string{"f2"}},
		{"name, Chinese next to ASCII", courier.FirmQuery{Name: "快递 Z"}, []string{"f4"}},
		{"name with a percent sign", courier.FirmQuery{Name: "100%"}, []string{"f3"}},
		{"name, percent sign alone is literal", courier.FirmQuery{Name: "%"}, []string{"f3"}},
		{"name, underscore is literal", courier.FirmQuery{Name: "_"}, nil},
		{"name, regexp characters are literal", courier.FirmQuery{Name: ".*"}, nil},
		{"name, no match", courier.FirmQuery{Name: "EMS"}, nil},
		{"IDs and kind", courier.FirmQuery{IDs: []string{"f1", "f2", "f3"}, Kind: courier.KindBranch}, []string{"f2"}},
		{"kind and region", courier.FirmQuery{Kind: courier.KindOutlet, Region: "1301"}, []string{"f3"}},
		{"parents and licence", courier.FirmQuery{ParentIDs: []string{"f1", "f2", "f4"}, Licence: courier.LicenceActive}, []string{"f2", "f5"}},
		{"filter with limit", courier.FirmQuery{Kind: courier.KindBranch, Page: courier.Page{Limit: 1}}, []string{"f2"}},
		{"filter after a page", courier.FirmQuery{Kind: courier.KindBranch, Page: courier.Page{After: "f2"}}, []string{"f5"}},
	}
	for _, c := range cases {
		got, err := s.Firms(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, firmID, c.want...)
	}
}

// ----- sites -----

var siteBehaviours = []behaviour{
	{"SiteRoundTrip", testSiteRoundTrip},
	{"SiteCreateConflict", testSiteCreateConflict},
	{"SiteUpdate", testSiteUpdate},
	{"SitePaging", testSitePaging},
	{"SiteFilters", testSiteFilters},
	{"SiteGLN", testSiteGLN},
}

func fullSite() courier.Site {
	return courier.Site{
		ID:        "s1",
		FirmID:    "f1",
		Name:      "朝阳区望京转运中心",
		Kind:      courier.SiteSortingCentre,
		Region:    "110105",
		Address:   "北京市朝阳区望京街 10 号",
		CreatedAt: at(1),
		UpdatedAt: at(2),
		Version:   1,
	}
}

func sparseSite() courier.Site {
	return courier.Site{ID: "s2", FirmID: "f1", Name: "Locker 7", Kind: courier.SiteLocker, CreatedAt: at(1), UpdatedAt: at(1), Version: 1}
}

func testSiteRoundTrip(ctx context.Context, t *testing.T, s courier.Store) {
	for _, v := range []courier.Site{fullSite(), sparseSite()} {
		must(t, "create "+v.ID, s.CreateSite(ctx, v))
	}
	for _, v := range []courier.Site{fullSite(), sparseSite()} {
		checkGet(ctx, t, "Site("+v.ID+")", s.Site, v.ID, v)
	}
}

func testSiteCreateConflict(ctx context.Context, t *testing.T, s courier.Store) {
	sameID := sparseSite()
	sameID.ID = fullSite().ID
	checkCreateConflict(ctx, t, s.CreateSite, s.Site, siteID, fullSite(),
		dupCase[courier.Site]{"same id", sameID})
}

func testSiteUpdate(ctx context.Context, t *testing.T, s courier.Store) {
	unknown := fullSite()
	unknown.ID = "s9"
	checkUpdate(ctx, t, updateCheck[courier.Site]{
		create: s.CreateSite, update: s.UpdateSite, get: s.Site, id: siteID,
		stored:  fullSite(),
		unknown: unknown,
		edit: func(v courier.Site, version int, mark string) courier.Site {
			v.Name = "望京 " + mark
			v.Kind = courier.SiteOutlet
			v.Region = "110108"
			v.Address = "北京市海淀区 " + mark
			v.UpdatedAt = at(10 + version)
			v.Version = version
			return v
		},
	})
}

func testSitePaging(ctx context.Context, t *testing.T, s courier.Store) {
	var sorted []courier.Site
	for _, id := range []string{"s1", "s2", "s3"} {
		v := fullSite()
		v.ID = id
		sorted = append(sorted, v)
	}
	for _, i := range []int{1, 2, 0} {
		must(t, "create", s.CreateSite(ctx, sorted[i]))
	}
	checkPaging(ctx, t, func(ctx context.Context, p courier.Page) ([]courier.Site, error) {
		return s.Sites(ctx, courier.SiteQuery{Page: p})
	}, siteID, sorted)
}

func testSiteFilters(ctx context.Context, t *testing.T, s courier.Store) {
	site := func(id, firm string, kind courier.SiteKind) courier.Site {
		v := fullSite()
		v.ID, v.FirmID, v.Kind = id, firm, kind
		return v
	}
	for _, v := range []courier.Site{
		site("s4", "f3", courier.SiteOutlet),
		site("s2", "f1", courier.SiteOutlet),
		site("s1", "f1", courier.SiteSortingCentre),
		site("s3", "f2", courier.SiteLocker),
	} {
		must(t, "create "+v.ID, s.CreateSite(ctx, v))
	}
	cases := []struct {
		name string
		q    courier.SiteQuery
		want []string
	}{
		{"no filter", courier.SiteQuery{}, []string{"s1", "s2", "s3", "s4"}},
		{"one firm", courier.SiteQuery{FirmIDs: []string{"f1"}}, []string{"s1", "s2"}},
		{"two firms", courier.SiteQuery{FirmIDs: []string{"f3", "f2"}}, []string{"s3", "s4"}},
		{"firm without sites", courier.SiteQuery{FirmIDs: []string{"f9"}}, nil},
		{"kind", courier.SiteQuery{Kind: courier.SiteOutlet}, []string{"s2", "s4"}},
		{"firm and kind", courier.SiteQuery{FirmIDs: []string{"f1"}, Kind: courier.SiteOutlet}, []string{"s2"}},
		{"firm with limit", courier.SiteQuery{FirmIDs: []string{"f1", "f2"}, Page: courier.Page{After: "s1", Limit: 1}}, []string{"s2"}},
	}
	for _, c := range cases {
		got, err := s.Sites(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, siteID, c.want...)
	}
}

// ----- staff -----

var staffBehaviours = []behaviour{
	{"StaffRoundTrip", testStaffRoundTrip},
	{"StaffCreateConflict", testStaffCreateConflict},
	{"StaffUpdate", testStaffUpdate},
	{"StaffPaging", testStaffPaging},
	{"StaffFilters", testStaffFilters},
	{"StaffFilterFollowsUpdate", testStaffFilterFollowsUpdate},
}

// fullStaff has three employments, the last one open (zero To).
func fullStaff() courier.Staff {
	return courier.Staff{
		ID:          "p1",
		Name:        "张伟",
		IDHash:      "idhash-p1",
		IDMasked:    "110105********123X",
		PhoneHash:   "phonehash-p1",
		PhoneMasked: "138****0001",
		Employment: []courier.Employment{
			{FirmID: "f1", Role: "courier", From: at(1), To: at(2)},
			{FirmID: "f2", Role: "分拣员", From: at(3), To: at(4)},
			{FirmID: "f3", Role: "station manager", From: at(5)},
		},
		CreatedAt: at(6),
		UpdatedAt: at(7),
		Version:   1,
	}
}

func sparseStaff() courier.Staff {
	return courier.Staff{ID: "p2", Name: "Li Na", IDHash: "idhash-p2", CreatedAt: at(1), UpdatedAt: at(1), Version: 1}
}

func testStaffRoundTrip(ctx context.Context, t *testing.T, s courier.Store) {
	for _, v := range []courier.Staff{fullStaff(), sparseStaff()} {
		must(t, "create "+v.ID, s.CreateStaff(ctx, v))
	}
	for _, v := range []courier.Staff{fullStaff(), sparseStaff()} {
		checkGet(ctx, t, "Staff("+v.ID+")", s.Staff, v.ID, v)
		checkGet(ctx, t, "StaffByIDHash("+v.IDHash+")", s.StaffByIDHash, v.IDHash, v)
	}
}

func testStaffCreateConflict(ctx context.Context, t *testing.T, s courier.Store) {
	sameID := sparseStaff()
	sameID.ID = fullStaff().ID
	sameHash := sparseStaff()
	sameHash.IDHash = fullStaff().IDHash
	checkCreateConflict(ctx, t, s.CreateStaff, s.Staff, staffID, fullStaff(),
		dupCase[courier.Staff]{"same id, other ID hash", sameID},
		dupCase[courier.Staff]{"other id, taken ID hash", sameHash},
	)
}

func testStaffUpdate(ctx context.Context, t *testing.T, s courier.Store) {
	unknown := fullStaff()
	unknown.ID, unknown.IDHash = "p9", "idhash-p9"
	checkUpdate(ctx, t, updateCheck[courier.Staff]{
		create: s.CreateStaff, update: s.UpdateStaff, get: s.Staff, id: staffID,
		stored:  fullStaff(),
		unknown: unknown,
		// The open employment ends and a new one starts, as when a courier changes firm.
		edit: func(v courier.Staff, version int, mark string) courier.Staff {
			v.Employment = slices.Clone(v.Employment)
			v.Employment[len(v.Employment)-1].To = at(10 + version)
			v.Employment = append(v.Employment, courier.Employment{FirmID: "f4", Role: mark, From: at(10 + version)})
			v.PhoneHash = "phonehash-" + mark
			v.PhoneMasked = "139****" + mark
			v.UpdatedAt = at(10 + version)
			v.Version = version
			return v
		},
	})
}

func testStaffPaging(ctx context.Context, t *testing.T, s courier.Store) {
	var sorted []courier.Staff
	for _, id := range []string{"p1", "p2", "p3"} {
		v := fullStaff()
		v.ID, v.IDHash = id, "idhash-"+id
		sorted = append(sorted, v)
	}
	for _, i := range []int{2, 0, 1} {
		must(t, "create", s.CreateStaff(ctx, sorted[i]))
	}
	checkPaging(ctx, t, func(ctx context.Context, p courier.Page) ([]courier.Staff, error) {
		return s.StaffList(ctx, courier.StaffQuery{Page: p})
	}, staffID, sorted)
}

func testStaffFilters(ctx context.Context, t *testing.T, s courier.Store) {
	staff := func(id string, firms ...string) courier.Staff {
		v := sparseStaff()
		v.ID, v.Name, v.IDHash = id, "staff "+id, "idhash-"+id
		for i, f := range firms {
			e := courier.Employment{FirmID: f, Role: "courier", From: at(2 * i)}
			if i < len(firms)-1 {
				e.To = at(2*i + 1)
			}
			v.Employment = append(v.Employment, e)
		}
		return v
	}
	for _, v := range []courier.Staff{
		staff("p4", "f2", "f1"),       // past at f2, current at f1
		staff("p1", "f1", "f2"),       // past at f1, current at f2
		staff("p3"),                   // never employed
		staff("p2", "f3"),             // current at f3
		staff("p5", "f1", "f5", "f1"), // back at f1 after f5
	} {
		must(t, "create "+v.ID, s.CreateStaff(ctx, v))
	}
	cases := []struct {
		name string
		q    courier.StaffQuery
		want []string
	}{
		{"no filter", courier.StaffQuery{}, []string{"p1", "p2", "p3", "p4", "p5"}},
		{"past or current firm", courier.StaffQuery{FirmIDs: []string{"f1"}}, []string{"p1", "p4", "p5"}},
		{"only a past firm", courier.StaffQuery{FirmIDs: []string{"f5"}}, []string{"p5"}},
		{"current firm", courier.StaffQuery{FirmIDs: []string{"f3"}}, []string{"p2"}},
		{"two firms each person matches once", courier.StaffQuery{FirmIDs: []string{"f1", "f2"}}, []string{"p1", "p4", "p5"}},
		{"firm without staff", courier.StaffQuery{FirmIDs: []string{"f9"}}, nil},
		{"firms with limit", courier.StaffQuery{FirmIDs: []string{"f1", "f2"}, Page: courier.Page{Limit: 2}}, []string{"p1", "p4"}},
		{"firms after a page", courier.StaffQuery{FirmIDs: []string{"f1", "f2"}, Page: courier.Page{After: "p1"}}, []string{"p4", "p5"}},
	}
	for _, c := range cases {
		got, err := s.StaffList(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, staffID, c.want...)
	}
}

// testStaffFilterFollowsUpdate catches a backend whose index of employers (a join table, an
// array field) is written on create but not on update.
func testStaffFilterFollowsUpdate(ctx context.Context, t *testing.T, s courier.Store) {
	v := sparseStaff()
	v.Employment = []courier.Employment{{FirmID: "f1", Role: "courier", From: at(1)}}
	must(t, "create", s.CreateStaff(ctx, v))
	// A mistyped employer is corrected, then the person moves on.
	v.Employment = []courier.Employment{
		{FirmID: "f3", Role: "courier", From: at(1), To: at(2)},
		{FirmID: "f2", Role: "courier", From: at(2)},
	}
	v.Version = 2
	must(t, "update", s.UpdateStaff(ctx, v))
	for _, c := range []struct {
		firm string
		want []string
	}{{"f1", nil}, {"f2", []string{v.ID}}, {"f3", []string{v.ID}}} {
		got, err := s.StaffList(ctx, courier.StaffQuery{FirmIDs: []string{c.firm}})
		if err != nil {
			t.Errorf("firm %s: %v", c.firm, err)
			continue
		}
		checkIDs(t, "firm "+c.firm+" after the update", got, staffID, c.want...)
	}
}

// A GLN finds its firm; it is unique among the firms that have one, and any number have none.
func testFirmGLN(ctx context.Context, t *testing.T, s courier.Store) {
	f := fullFirm()
	f.GLN = "0614141008889"
	must(t, "create a firm with a GLN", s.CreateFirm(ctx, f))
	must(t, "create a firm without", s.CreateFirm(ctx, sparseFirm()))
	other := sparseFirm()
	other.ID, other.USCC = "f3", "91440300MA03CCCC3Z"
	must(t, "create a second firm without", s.CreateFirm(ctx, other))
	checkGet(ctx, t, "FirmByGLN", s.FirmByGLN, f.GLN, f)
	wantErr(t, "FirmByGLN of an unknown GLN", func() error { _, err := s.FirmByGLN(ctx, "0614141009992"); return err }(), credtrace.ErrNotFound)

	taken := sparseFirm()
	taken.ID, taken.USCC, taken.GLN = "f4", "91440300MA04DDDD4Q", f.GLN
	wantErr(t, "create with a taken GLN", s.CreateFirm(ctx, taken), credtrace.ErrConflict)
	other.GLN, other.Version = f.GLN, 2
	wantErr(t, "update to a taken GLN", s.UpdateFirm(ctx, other), credtrace.ErrConflict)

	// Once the first lets its GLN go, another firm takes it.
	f.GLN, f.Version = "", 2
	must(t, "clear the GLN", s.UpdateFirm(ctx, f))
	checkGet(ctx, t, "the firm without its GLN", s.Firm, f.ID, f)
	must(t, "update to the freed GLN", s.UpdateFirm(ctx, other))
	checkGet(ctx, t, "FirmByGLN after it moved", s.FirmByGLN, other.GLN, other)
}

// A GLN, or a GLN with its extension, finds its site, and names one site only.
func testSiteGLN(ctx context.Context, t *testing.T, s courier.Store) {
	a, b := fullSite(), sparseSite()
	a.GLN, b.GLN = "0614141007776", "0614141007776.dock3"
	must(t, "create a site with a GLN", s.CreateSite(ctx, a))
	must(t, "create a site with the GLN and an extension", s.CreateSite(ctx, b))
	c := sparseSite()
	c.ID = "s3"
	must(t, "create a site without", s.CreateSite(ctx, c))
	c.ID = "s4"
	must(t, "create another site without", s.CreateSite(ctx, c))
	checkGet(ctx, t, "SiteByGLN", s.SiteByGLN, a.GLN, a)
	checkGet(ctx, t, "SiteByGLN with extension", s.SiteByGLN, b.GLN, b)
	wantErr(t, "SiteByGLN of an unknown GLN", func() error { _, err := s.SiteByGLN(ctx, "0614141009992"); return err }(), credtrace.ErrNotFound)
	c.ID, c.GLN = "s5", a.GLN
	wantErr(t, "create with a taken GLN", s.CreateSite(ctx, c), credtrace.ErrConflict)
	c.ID, c.GLN, c.Version = "s4", b.GLN, 2
	wantErr(t, "update to a taken GLN", s.UpdateSite(ctx, c), credtrace.ErrConflict)
}
