package synth

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Shares of parcels and events, near what a district sees: losses and damage are rare (a few
// per ten thousand), late deliveries are not. Each kind gets at least one parcel in any world
// of 30 parcels or more, so that even a test world has every case.
const (
	shareFailed   = 0.05
	shareDelayed  = 0.02
	shareDamaged  = 0.002
	shareLost     = 0.001
	shareFalseSig = 0.002

	shareDuplicate  = 0.02  // re-sent once, as after a timeout
	shareOutOfOrder = 0.03  // sent after the event that follows it
	shareLate       = 0.025 // sent hours after it happened
	uploadEvery     = 4 * time.Hour

	// courierSlip times a courier's bad() is the chance that they hold a parcel they carry a
	// day or more too long: a collection handed in late, a delivery round not completed. A
	// middling courier (quality 0.5) slips on about one parcel in fifteen, the worst on one in four.
	courierSlip = 0.25
	maxChain    = 12
)

// parcels sends every ordinary parcel from its merchant's outlet to its recipient's.
func (g *gen) parcels() {
	s := g.w.Size
	g.outbox = map[string][]sending{}
	g.parcelIdx = map[string]int{}
	g.evs = make([]Event, 0, s.Parcels*9+s.Campaigns*s.CampaignParcels*2)
	g.w.Parcels = make([]Parcel, 0, s.Parcels+s.Campaigns*s.CampaignParcels)
	n := max(20, s.Parcels/2)
	for i := 0; i < n; i++ {
		g.recips = append(g.recips, recipient{phone: g.unique(func() string { return phone(g.r) }), district: pick(g.r, g.districts).code})
	}
	// Merchants ship by a Zipf-like law: a few big shops, many small ones.
	cum := make([]float64, len(g.w.Merchants))
	total := 0.0
	for i := range cum {
		total += 1 / math.Pow(float64(i+1), 0.9)
		cum[i] = total
	}
	hqOf := map[string]*hqState{}
	for _, h := range g.hqs {
		hqOf[h.ref] = h
	}
	// Routes first, so that what happens to a parcel can follow the quality of who holds it.
	type route struct {
		p     Parcel
		hq    *hqState
		o, d  *outletState
		story bool
	}
	g.tinyLoad = map[string]int{}
	routes := make([]route, s.Parcels)
	for i := range routes {
		x := g.r.Float64() * total
		m := &g.w.Merchants[sort.SearchFloat64s(cum, x)%len(cum)]
		hq := hqOf[m.Carrier]
		o := g.outlets[m.Outlet]
		rc := pick(g.r, g.recips)
		var near []*outletState
		for _, d := range hq.outlets {
			if d.region == rc.district && (!g.tiny[d.ref] || g.tinyLoad[d.ref] < TinyDeliveries) {
				near = append(near, d)
			}
		}
		if len(near) == 0 {
			near = g.ordinary(hq.outlets)
		}
		d := pick(g.r, near)
		if g.tiny[d.ref] {
			g.tinyLoad[d.ref]++
		}
		routes[i] = route{p: Parcel{Waybill: g.waybill(hq), Carrier: hq.ref, Merchant: m.ID, RecipientPhone: rc.phone, Origin: o.ref, Dest: d.ref,
			Kind: ParcelNormal, CollectedAt: g.collectTime(0)}, hq: hq, o: o, d: d}
	}
	// Each kind's count is its share of the parcels; which parcels get it follows the holders:
	// losses any holder on the way, delays and damage the last sorting centre (delays the
	// delivering outlet too), failed deliveries and false signatures the delivering outlet.
	blame := map[string]func(r route) float64{
		ParcelLost: func(r route) float64 {
			return g.bad(r.o.site) + g.bad(r.o.branch.sc) + g.bad(r.d.branch.sc) + g.bad(r.d.site)
		},
		ParcelDelayed:        func(r route) float64 { return g.bad(r.d.branch.sc) + g.bad(r.d.site) },
		ParcelDamaged:        func(r route) float64 { return g.bad(r.d.branch.sc) },
		ParcelFalseSignature: func(r route) float64 { return g.bad(r.d.ref) },
		ParcelFailed:         func(r route) float64 { return g.bad(r.d.ref) },
	}
	for _, k := range []struct {
		kind  string
		share float64
	}{{ParcelLost, shareLost}, {ParcelDelayed, shareDelayed}, {ParcelDamaged, shareDamaged}, {ParcelFalseSignature, shareFalseSig}, {ParcelFailed, shareFailed}} {
		c := int(math.Round(k.share * float64(s.Parcels)))
		if s.Parcels >= 30 {
			c = max(c, 1)
		}
		weights := make([]float64, len(routes))
		for i, r := range routes {
			if !r.story {
				weights[i] = blame[k.kind](r)
			}
		}
		for _, i := range g.weightedPick(weights, c) {
			routes[i].p.Kind, routes[i].story = k.kind, true
		}
	}
	for _, r := range routes {
		p := r.p
		// Parcels with a story are done by the end: their events are all in.
		if minAgo := min(7*day, time.Duration(s.Days)*day/2); r.story && p.CollectedAt.After(g.w.End.Add(-minAgo)) {
			p.CollectedAt = g.collectTime(minAgo)
		}
		evs := g.chain(&p, r.hq, r.o, r.d)
		g.add(p, r.hq, evs)
	}
}

func (g *gen) waybill(hq *hqState) string {
	return g.unique(func() string { return fmt.Sprintf("%s%012d", hq.prefix, g.r.Int64N(1_000_000_000_000)) })
}

// collectTime is a working-hours instant at least minAgo and at most the window before the end.
func (g *gen) collectTime(minAgo time.Duration) time.Time {
	window := time.Duration(g.w.Size.Days) * day
	t := g.w.End.Add(-g.between(minAgo, window))
	t = time.Date(t.Year(), t.Month(), t.Day(), 8, 0, 0, 0, cst).Add(g.between(0, 11*time.Hour))
	for t.After(g.w.End) {
		t = t.Add(-day)
	}
	return t
}

// add keeps a parcel's events up to the end of the world, records what they show and queues
// them at the carrier.
func (g *gen) add(p Parcel, hq *hqState, evs []Event) {
	kept := evs[:0]
	for _, e := range evs {
		if !e.At.After(g.w.End) {
			kept = append(kept, e)
		}
	}
	id := p.Waybill
	if p.Kind == ParcelReused {
		id += "-" + hq.prefix // the second carrier's own event ids
	}
	for i := range kept {
		kept[i].ID = fmt.Sprintf("%s-%02d", id, i+1)
		if kept[i].Code == "delivered" {
			p.DeliveredAt, p.Courier = kept[i].At, kept[i].Staff
		}
	}
	p.Events = len(kept)
	g.parcelIdx[p.Waybill] = len(g.w.Parcels)
	g.w.Parcels = append(g.w.Parcels, p)
	g.enqueue(hq, kept)
}

// enqueue decides when the carrier's system sends each event: minutes after it happened as a
// rule, hours late for some, after its successor for some, and twice for some.
func (g *gen) enqueue(hq *hqState, evs []Event) {
	sent := make([]time.Time, len(evs))
	for i, e := range evs {
		switch {
		case i > 0 && g.chance(shareLate):
			sent[i] = e.At.Add(g.between(2*time.Hour, 12*time.Hour))
		default:
			sent[i] = e.At.Add(g.between(30*time.Second, 10*time.Minute))
		}
	}
	for i := 0; i+1 < len(evs); i++ {
		if g.chance(shareOutOfOrder) && !sent[i+1].Before(sent[i]) {
			sent[i] = sent[i+1].Add(g.between(time.Second, 2*time.Minute))
		}
	}
	box := g.outbox[hq.ref]
	for i, e := range evs {
		if hq.reverse != nil {
			e.Code = hq.reverse[e.Code]
		}
		ev := int32(len(g.evs))
		g.evs = append(g.evs, e)
		box = append(box, sending{ev: ev, sent: sent[i].Unix(), seq: int32(len(box))})
		if g.chance(shareDuplicate) {
			box = append(box, sending{ev: ev, sent: sent[i].Add(g.between(5*time.Minute, 90*time.Minute)).Unix(), seq: int32(len(box))})
		}
	}
	g.outbox[hq.ref] = box
}

// chain is the events of one parcel, in time order, ending where its kind says.
func (g *gen) chain(p *Parcel, hq *hqState, o, d *outletState) []Event {
	var evs []Event
	add := func(code string, at time.Time, site, staff, region string) *Event {
		evs = append(evs, Event{Waybill: p.Waybill, Carrier: hq.ref, Code: code, At: at, Site: site, Staff: staff, Region: region})
		return &evs[len(evs)-1]
	}
	sorter := func(pool []string) string {
		if g.chance(0.6) {
			return pick(g.r, pool)
		}
		return ""
	}
	inter := o.branch != d.branch
	base := 6
	if inter {
		base += 2
	}
	budget := maxChain - base
	take := func(want bool, cost int) bool {
		if want && cost <= budget {
			budget -= cost
			return true
		}
		return false
	}
	failedCost := 2
	if len(d.lockers) > 0 {
		failedCost = 3
	}
	failed := take(p.Kind == ParcelFailed, failedCost)
	damaged := take(p.Kind == ParcelDamaged, 1)
	departure := take(g.chance(0.7), 1)
	hub := take(inter && g.chance(0.5), 2)
	transit := take(inter && g.chance(0.35), 1)
	delayed := p.Kind == ParcelDelayed

	t := p.CollectedAt
	courier := g.courierAt(o, t)
	e := add("collected", t, o.site, courier, o.region)
	e.Merchant, e.RecipientPhone, e.WeightGrams = p.Merchant, p.RecipientPhone, g.weight()
	// The collecting courier's leg follows the courier: how soon they bring the parcel in, and
	// a share, the worse the courier the larger, handed in only the next day or the day after.
	if g.chance(courierSlip * g.bad(courier)) {
		t = t.Add(g.between(16*time.Hour, 48*time.Hour))
	}
	if departure {
		t = t.Add(g.slow(courier, g.between(40*time.Minute, 4*time.Hour)))
		add("departed", t, o.site, courier, o.region)
	}
	// A delayed parcel is stuck at the last sorting centre or at the delivering outlet, the
	// worse of the two the likelier.
	stuckAtOutlet := delayed && g.r.Float64()*(g.bad(d.branch.sc)+g.bad(d.site)) < g.bad(d.site)
	atCentre := func(sc string, pool []string, region string, last bool) {
		t = t.Add(g.slow(sc, g.between(30*time.Minute, 3*time.Hour)))
		add("arrived", t, sc, sorter(pool), region)
		if last && damaged {
			t = t.Add(g.between(10*time.Minute, time.Hour))
			add("damaged", t, sc, sorter(pool), region).Remark = "外包装破损，内件受损"
		}
		if last && delayed && !stuckAtOutlet {
			t = t.Add(g.between(60*time.Hour, 84*time.Hour)) // stuck: the promise is breached
		}
		t = t.Add(g.slow(sc, g.between(time.Hour, 6*time.Hour)))
		add("departed", t, sc, sorter(pool), region)
	}
	atCentre(o.branch.sc, o.branch.sorters, o.branch.region, !inter)
	if inter {
		if hub {
			atCentre(hq.sc, hq.sorters, hq.region, false)
		}
		if transit {
			t = t.Add(g.between(2*time.Hour, 6*time.Hour))
			add("in_transit", t, "", "", d.branch.region).Remark = "干线运输中"
		}
		t = t.Add(g.between(2*time.Hour, 10*time.Hour))
		atCentre(d.branch.sc, d.branch.sorters, d.branch.region, true)
	}
	t = t.Add(g.between(time.Hour, 3*time.Hour))
	arrivedDest := len(evs)
	staff := ""
	if g.chance(0.5) {
		staff = g.courierAt(d, t)
	}
	add("arrived", t, d.site, staff, d.region)
	switch {
	case stuckAtOutlet:
		t = t.Add(g.between(60*time.Hour, 80*time.Hour))
	case g.chance(0.6 * g.bad(d.site)):
		t = t.Add(g.between(12*time.Hour, 40*time.Hour)) // left on the shelf for a day or so
	}
	t = g.round(t)
	dc := g.courierAt(d, t)
	if p.Kind == ParcelFailed || p.Kind == ParcelFalseSignature {
		dc = g.courierBy(d, t, g.bad)
	}
	add("out_for_delivery", t, d.site, dc, d.region)
	switch {
	case failed && len(d.lockers) > 0:
		t = t.Add(g.between(time.Hour, 4*time.Hour))
		add("delivery_failed", t, d.site, dc, d.region).Remark = "收件人电话无人接听"
		l := pick(g.r, d.lockers)
		t = t.Add(g.between(10*time.Minute, 50*time.Minute))
		h := add("handover", t, d.site, dc, d.region)
		h.Holder, h.Remark = &Holder{Firm: d.ref, Site: l}, "转驿站代收"
		t = t.Add(g.between(5*time.Minute, 30*time.Minute))
		add("held_for_pickup", t, l, "", d.region)
		t = t.Add(g.between(3*time.Hour, 40*time.Hour))
		add("delivered", t, l, "", d.region).Signer = "locker"
	case failed:
		t = t.Add(g.between(time.Hour, 4*time.Hour))
		add("delivery_failed", t, d.site, dc, d.region).Remark = "收件人不在家"
		t = g.round(t.Add(12 * time.Hour))
		dc = g.courierAt(d, t)
		add("out_for_delivery", t, d.site, dc, d.region)
		t = t.Add(g.between(30*time.Minute, 4*time.Hour))
		add("delivered", t, d.site, dc, d.region).Signer = "recipient"
	default:
		t = t.Add(g.slow(dc, g.between(20*time.Minute, 5*time.Hour)))
		if g.chance(courierSlip * g.bad(dc)) {
			// Not delivered on the round: the courier keeps it and delivers it a day or two later.
			t = t.Add(g.between(24*time.Hour, 60*time.Hour))
		}
		site, signer, remark := d.site, "recipient", ""
		switch x := g.r.Float64(); {
		case p.Kind == ParcelFalseSignature:
			signer, remark = "proxy", "已签收，他人代签"
		case x < 0.2:
			signer, remark = "proxy", "家人代签"
		case x < 0.45 && len(d.lockers) > 0:
			site, signer = pick(g.r, d.lockers), "locker"
		}
		e := add("delivered", t, site, dc, d.region)
		e.Signer, e.Remark = signer, remark
	}
	if p.Kind == ParcelLost {
		// Its scans stop somewhere between the first sorting centre and the destination outlet;
		// sometimes the carrier itself scans it lost.
		// It stops in the hands of a holder, the worse the likelier.
		ws := make([]float64, len(evs)+1)
		for k := 2; k <= min(arrivedDest+1, len(evs)-1); k++ {
			ws[k] = g.bad(evs[k-1].Site)
		}
		k := 2
		if ks := g.weightedPick(ws, 1); len(ks) == 1 {
			k = ks[0]
		}
		evs = evs[:k]
		if g.chance(0.3) {
			last := evs[k-1]
			e := add("lost", last.At.Add(g.between(12*time.Hour, 48*time.Hour)), last.Site, "", last.Region)
			e.Remark = "快件遗失"
		}
	}
	return evs
}

// round is when a courier next goes out: within two hours when the parcel is in by four in the
// afternoon, else at eight the next morning.
func (g *gen) round(t time.Time) time.Time {
	l := t.In(cst)
	switch h := l.Hour(); {
	case h < 7:
		return time.Date(l.Year(), l.Month(), l.Day(), 8, 0, 0, 0, cst).Add(g.between(0, 90*time.Minute))
	case h < 16:
		return t.Add(g.between(30*time.Minute, 2*time.Hour))
	}
	n := l.Add(day)
	return time.Date(n.Year(), n.Month(), n.Day(), 8, 0, 0, 0, cst).Add(g.between(0, 90*time.Minute))
}

// courierAt is a courier working at o at t.
func (g *gen) courierAt(o *outletState, t time.Time) string {
	var at []string
	for _, s := range o.couriers {
		if !t.Before(s.from) && (s.to.IsZero() || t.Before(s.to)) {
			at = append(at, s.person)
		}
	}
	if len(at) == 0 {
		return o.couriers[0].person
	}
	return pick(g.r, at)
}

// courierBy is a courier working at o at t, drawn in proportion to weight.
func (g *gen) courierBy(o *outletState, t time.Time, weight func(ref string) float64) string {
	var at []string
	var ws []float64
	for _, s := range o.couriers {
		if !t.Before(s.from) && (s.to.IsZero() || t.Before(s.to)) {
			at, ws = append(at, s.person), append(ws, weight(s.person))
		}
	}
	if len(at) == 0 {
		return o.couriers[0].person
	}
	return at[g.weightedPick(ws, 1)[0]]
}

// weight is a parcel's weight in grams: log-normal around 900 g, between 50 g and 30 kg.
func (g *gen) weight() int {
	w := math.Exp(math.Log(900) + 0.9*g.r.NormFloat64())
	return int(max(50, min(30000, w)))
}

// campaigns are bursts of empty parcels: 10 g collections, one courier, all delivered a few
// hours later at the same outlet with no transit scan, to recipients who never existed.
func (g *gen) campaigns() {
	s := g.w.Size
	var runners []int
	for i, m := range g.w.Merchants {
		if m.Campaign {
			runners = append(runners, i)
		}
	}
	if len(runners) == 0 || s.CampaignParcels == 0 {
		return
	}
	hqOf := map[string]*hqState{}
	for _, h := range g.hqs {
		hqOf[h.ref] = h
	}
	for k := 0; k < s.Campaigns; k++ {
		m := g.w.Merchants[runners[k%len(runners)]]
		hq, o := hqOf[m.Carrier], g.outlets[m.Outlet]
		at := g.collectTime(min(2*day, time.Duration(s.Days)*day/2))
		c := Campaign{Merchant: m.ID, Outlet: o.ref, At: at}
		courier := g.courierAt(o, at)
		for j := 0; j < s.CampaignParcels; j++ {
			p := Parcel{Waybill: g.waybill(hq), Carrier: hq.ref, Merchant: m.ID, RecipientPhone: g.unique(func() string { return phone(g.r) }),
				Origin: o.ref, Dest: o.ref, Kind: ParcelEmpty, CollectedAt: at.Add(g.between(0, 50*time.Minute))}
			e1 := Event{Waybill: p.Waybill, Carrier: hq.ref, Code: "collected", At: p.CollectedAt, Site: o.site, Staff: courier, Region: o.region,
				Merchant: m.ID, RecipientPhone: p.RecipientPhone, WeightGrams: 5 + g.r.IntN(11)}
			e2 := Event{Waybill: p.Waybill, Carrier: hq.ref, Code: "delivered", At: p.CollectedAt.Add(g.between(time.Hour, 6*time.Hour)), Site: o.site,
				Staff: courier, Region: o.region, Signer: pick(g.r, []string{"proxy", "locker"})}
			c.Waybills = append(c.Waybills, p.Waybill)
			g.add(p, hq, []Event{e1, e2})
		}
		g.w.Campaigns = append(g.w.Campaigns, c)
	}
}

// batches cuts each carrier's sendings into uploads: in the order sent, a new upload every
// uploadEvery or BatchSize events; the world's batches are ordered by their first sending.
func (g *gen) batches() {
	type cut struct {
		b     Batch
		first int64
		hq    int
	}
	every := int64(uploadEvery / time.Second)
	var all []cut
	for hi, hq := range g.hqs {
		box := g.outbox[hq.ref]
		sortSendings(box)
		// One backing array per carrier: batches are windows of it.
		evs := make([]Event, len(box))
		start := 0
		for i, s := range box {
			evs[i] = g.evs[s.ev]
			if i > start && (i-start == BatchSize || box[start].sent/every != s.sent/every) {
				all = append(all, cut{b: Batch{Carrier: hq.ref, Events: evs[start:i:i]}, first: box[start].sent, hq: hi})
				start = i
			}
		}
		if start < len(box) {
			all = append(all, cut{b: Batch{Carrier: hq.ref, Events: evs[start:len(box):len(box)]}, first: box[start].sent, hq: hi})
		}
		g.outbox[hq.ref] = nil
	}
	g.evs, g.outbox = nil, nil
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].first != all[j].first {
			return all[i].first < all[j].first
		}
		return all[i].hq < all[j].hq
	})
	g.w.Batches = make([]Batch, len(all))
	for i, c := range all {
		g.w.Batches[i] = c.b
	}
}
