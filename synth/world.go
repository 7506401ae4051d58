package synth

import (
	"fmt"
	"time"
)

const day = 24 * time.Hour

// firms builds the franchise trees: an HQ with a hub sorting centre, city branches with a
// sorting centre each, outlets with an outlet site and lockers.
func (g *gen) firms() {
	s := g.w.Size
	order := g.r.Perm(len(brands))
	g.outlets = map[string]*outletState{}
	seenDistrict := map[string]bool{}
	var allOutlets []int // firm indices of outlets
	for h := 0; h < s.HQs; h++ {
		b := brands[order[h%len(brands)]]
		name, prefix := b.name, b.prefix
		if n := h / len(brands); n > 0 {
			name, prefix = fmt.Sprintf("%s%d", b.name, n+1), fmt.Sprintf("%s%d", b.prefix, n+1)
		}
		home := pick(g.r, cities[0].districts)
		hq := &hqState{ref: fmt.Sprintf("hq%02d", h+1), region: home.code, prefix: prefix}
		hq.sc = hq.ref + "-hub"
		f := Firm{Ref: hq.ref, HQ: hq.ref, USCC: g.unique(func() string { return uscc(g.r, home.code) }), Name: name + "有限公司",
			Kind: KindHQ, Region: home.code, Licence: g.licence(), Prefix: prefix, PromiseHours: pick(g.r, []int{48, 72, 72})}
		if h == 1 {
			// One carrier sends its own numeric codes and maps them once in its configuration.
			f.Codes = map[string]string{"10": "collected", "20": "departed", "30": "arrived", "40": "in_transit", "50": "out_for_delivery",
				"60": "delivered", "70": "delivery_failed", "80": "held_for_pickup", "90": "handover", "A1": "damaged", "A2": "lost"}
			hq.reverse = map[string]string{}
			for _, k := range []string{"10", "20", "30", "40", "50", "60", "70", "80", "90", "A1", "A2"} {
				hq.reverse[f.Codes[k]] = k
			}
		}
		g.w.Firms = append(g.w.Firms, f)
		g.w.Sites = append(g.w.Sites, Site{Ref: hq.sc, Firm: hq.ref, Name: name + "华北转运中心", Kind: SiteSortingCentre, Region: home.code,
			Address: g.address(cities[0], home)})
		offset := g.r.IntN(64)
		for bi := 0; bi < s.BranchesPerHQ; bi++ {
			c := cities[bi%len(cities)]
			br := &branchState{ref: fmt.Sprintf("%s-b%02d", hq.ref, bi+1), region: c.code}
			br.sc = br.ref + "-sc"
			bname := name + "有限公司" + c.name + "分公司"
			if n := bi / len(cities); n > 0 {
				bname = fmt.Sprintf("%s有限公司%s第%d分公司", name, c.name, n+1)
			}
			g.w.Firms = append(g.w.Firms, Firm{Ref: br.ref, Parent: hq.ref, HQ: hq.ref, USCC: g.unique(func() string { return uscc(g.r, c.code) }),
				Name: bname, Kind: KindBranch, Region: c.code, Licence: g.licence()})
			hub := pick(g.r, c.districts)
			g.w.Sites = append(g.w.Sites, Site{Ref: br.sc, Firm: br.ref, Name: c.name + "转运中心", Kind: SiteSortingCentre, Region: c.code,
				Address: g.address(c, hub)})
			for oi := 0; oi < s.OutletsPerBranch; oi++ {
				d := c.districts[(oi+offset)%len(c.districts)]
				o := &outletState{ref: fmt.Sprintf("%s-o%02d", br.ref, oi+1), region: d.code, hq: hq, branch: br}
				o.site = o.ref + "-out"
				oname := name + c.name + d.name + "营业部"
				if n := oi / len(c.districts); n > 0 {
					oname = fmt.Sprintf("%s%s%s第%d营业部", name, c.name, d.name, n+1)
				}
				allOutlets = append(allOutlets, len(g.w.Firms))
				g.w.Firms = append(g.w.Firms, Firm{Ref: o.ref, Parent: br.ref, HQ: hq.ref, USCC: g.unique(func() string { return uscc(g.r, d.code) }),
					Name: oname, Kind: KindOutlet, Region: d.code, Licence: g.licence()})
				g.w.Sites = append(g.w.Sites, Site{Ref: o.site, Firm: o.ref, Name: d.name + "营业部", Kind: SiteOutlet, Region: d.code, Address: g.address(c, d)})
				for li := 0; li < s.LockersPerOutlet; li++ {
					ref := fmt.Sprintf("%s-l%d", o.ref, li+1)
					lname := pick(g.r, estates) + "小区驿站"
					if li%2 == 1 {
						lname = pick(g.r, estates) + "智能快递柜"
					}
					g.w.Sites = append(g.w.Sites, Site{Ref: ref, Firm: o.ref, Name: lname, Kind: SiteLocker, Region: d.code, Address: g.address(c, d)})
					o.lockers = append(o.lockers, ref)
				}
				br.outlets = append(br.outlets, o)
				hq.outlets = append(hq.outlets, o)
				g.outlets[o.ref] = o
				if !seenDistrict[d.code] {
					seenDistrict[d.code] = true
					g.districts = append(g.districts, d)
				}
			}
			hq.branches = append(hq.branches, br)
		}
		g.hqs = append(g.hqs, hq)
	}
	// One outlet's licence is suspended, so that a district shows what that looks like.
	if len(allOutlets) >= 6 {
		g.w.Firms[pick(g.r, allOutlets)].Licence.Status = "suspended"
	}
	for _, hq := range g.hqs {
		g.w.Commitments = append(g.w.Commitments, Commitment{Firm: hq.ref, Scope: "全网",
			Text:     "本企业承诺：依法合规经营，落实收寄验视、实名收寄、过机安检制度，保护用户个人信息，按承诺时限投递，接受社会监督。",
			Signer:   "法定代表人 " + personName(g.r),
			SignedAt: g.w.End.Add(-g.between(20*day, 400*day)).Truncate(time.Hour)})
	}
}

func (g *gen) licence() Licence {
	from := g.w.End.Add(-g.between(400*day, 4*365*day))
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, cst)
	return Licence{Number: fmt.Sprintf("冀邮%d%04d", from.Year(), g.r.IntN(10000)), Scope: "国内快递（邮政企业专营业务除外）", Status: "active",
		ValidFrom: from, ValidTo: from.AddDate(5, 0, 0)}
}

func (g *gen) address(c city, d district) string {
	return fmt.Sprintf("河北省%s市%s%s%d号", c.name, d.name, pick(g.r, streets), 1+g.r.IntN(300))
}

// person registers someone born near region with a first employment.
func (g *gen) person(region, firm, role string, from time.Time) *Person {
	p := Person{Ref: fmt.Sprintf("p%05d", len(g.w.Staff)+1), Name: personName(g.r),
		IDNumber:   g.unique(func() string { return residentID(g.r, region) }),
		Phone:      g.unique(func() string { return phone(g.r) }),
		Employment: []Employment{{Firm: firm, Role: role, From: from}}}
	g.w.Staff = append(g.w.Staff, p)
	return &g.w.Staff[len(g.w.Staff)-1]
}

// hired returns a start date well before the world's window, at nine in the morning.
func (g *gen) hired(before time.Duration) time.Time {
	t := g.w.End.Add(-before - g.between(30*day, 5*365*day))
	return time.Date(t.Year(), t.Month(), t.Day(), 9, 0, 0, 0, cst)
}

// staff hires couriers for every outlet and sorters for every sorting centre, moves some
// couriers between outlets of their brand in the middle of the window, and brings one courier
// over from another brand before it.
func (g *gen) staff() {
	s := g.w.Size
	window := time.Duration(s.Days) * day
	for _, hq := range g.hqs {
		for i := 0; i < s.SortersPerCentre; i++ {
			p := g.person(hq.region, hq.ref, RoleSorter, g.hired(window))
			hq.sorters = append(hq.sorters, p.Ref)
		}
		for _, br := range hq.branches {
			for i := 0; i < s.SortersPerCentre; i++ {
				p := g.person(pick(g.r, g.districtsOf(br)).code, br.ref, RoleSorter, g.hired(window))
				br.sorters = append(br.sorters, p.Ref)
			}
			for _, o := range br.outlets {
				for i := 0; i < s.CouriersPerOutlet; i++ {
					region := o.region
					if g.chance(0.3) {
						region = pick(g.r, g.districts).code
					}
					from := g.hired(window)
					p := g.person(region, o.ref, RoleCourier, from)
					o.couriers = append(o.couriers, stint{person: p.Ref, from: from})
				}
			}
		}
	}
	// Moves inside a brand: never an outlet's first courier, so no outlet is left without one.
	moved := 0
	for _, hq := range g.hqs {
		if len(hq.outlets) < 2 {
			continue
		}
		for oi, o := range hq.outlets {
			for ci := 1; ci < len(o.couriers); ci++ {
				force := moved == 0 && oi == len(hq.outlets)-1 && ci == len(o.couriers)-1
				if !force && !g.chance(0.12) {
					continue
				}
				to := hq.outlets[(oi+1+g.r.IntN(len(hq.outlets)-1))%len(hq.outlets)]
				at := g.w.End.Add(-window/2 + g.between(-3*day, 3*day))
				at = time.Date(at.Year(), at.Month(), at.Day(), 9, 0, 0, 0, cst)
				st := &o.couriers[ci]
				if !at.After(st.from) {
					continue
				}
				st.to = at
				g.personByRef(st.person).Employment = append(g.personByRef(st.person).Employment, Employment{Firm: to.ref, Role: RoleCourier, From: at})
				to.couriers = append(to.couriers, stint{person: st.person, from: at})
				moved++
			}
		}
	}
	// One courier comes over from another brand before the window starts.
	if len(g.hqs) >= 2 {
		from, to := pick(g.r, g.hqs[0].outlets), pick(g.r, g.hqs[1].outlets)
		joined := g.w.End.Add(-window - g.between(10*day, 40*day))
		joined = time.Date(joined.Year(), joined.Month(), joined.Day(), 9, 0, 0, 0, cst)
		p := g.person(to.region, from.ref, RoleCourier, g.hired(window+60*day))
		p.Employment = append(p.Employment, Employment{Firm: to.ref, Role: RoleCourier, From: joined})
		to.couriers = append(to.couriers, stint{person: p.Ref, from: joined})
	}
}

func (g *gen) personByRef(ref string) *Person {
	var n int
	fmt.Sscanf(ref, "p%d", &n)
	return &g.w.Staff[n-1]
}

func (g *gen) districtsOf(br *branchState) []district {
	for _, c := range cities {
		if c.code == br.region {
			return c.districts
		}
	}
	return cities[0].districts
}

// merchants opens shops, each with one carrier and the outlet that collects its parcels; the
// first is the malicious one, the last ones run the empty-parcel campaigns.
func (g *gen) merchants() {
	s := g.w.Size
	for i := 0; i < s.Merchants; i++ {
		hq := pick(g.r, g.hqs)
		d := pick(g.r, g.districts)
		var near []*outletState
		for _, o := range g.ordinary(hq.outlets) {
			if o.region == d.code {
				near = append(near, o)
			}
		}
		if len(near) == 0 {
			near = g.ordinary(hq.outlets)
		}
		o := pick(g.r, near)
		cname := cities[0].name
		for _, c := range cities {
			if c.code == o.branch.region {
				cname = c.name
			}
		}
		name := g.unique(func() string { return cname + pick(g.r, estates) + pick(g.r, goods) + pick(g.r, shopKinds) })
		m := Merchant{ID: g.unique(func() string { return fmt.Sprintf("MCH%08d", g.r.IntN(100_000_000)) }), Name: name, Region: o.region,
			Carrier: hq.ref, Outlet: o.ref, Malicious: i == 0}
		if s.Campaigns > 0 && i >= max(1, s.Merchants-max(1, s.Campaigns/2)) {
			m.Campaign = true
		}
		g.w.Merchants = append(g.w.Merchants, m)
	}
	if s.Campaigns > 0 && !g.w.Merchants[len(g.w.Merchants)-1].Campaign {
		g.w.Merchants[len(g.w.Merchants)-1].Campaign = true
	}
}
