package synth

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Truth is a world's answer key, which no party sends and the service never sees: the true
// quality of every outlet, site and courier, which drove the world's events (each leg's dwell,
// delays, silent losses, damage and failed deliveries follow the quality of the holder of that
// leg: a courier's own legs, the collection until it is handed in and the delivery round, the
// courier's), its complaints, ratings and inspection findings; and the manipulation planted in it.
// A validity bench scores the world and compares the scores with it.
type Truth struct {
	// Qualities in [0,1], 1 the best: by outlet firm Ref, by site Ref (outlet sites and lockers
	// near their outlet's quality, sorting centres their own) and by courier Person Ref (near
	// the quality of the outlet that hired them; a courier who moves keeps theirs).
	Outlets  map[string]float64
	Sites    map[string]float64
	Couriers map[string]float64
	// Tiny are outlets planted with few parcels (no merchant collects there, and at most
	// TinyDeliveries parcels are delivered there) and no inspection: too little to grade.
	Tiny []string
	// Manipulations are the planted manipulation, each with what identifies it.
	Manipulations []Manipulation
}

// TinyDeliveries is the most parcels a tiny outlet delivers.
const TinyDeliveries = 30

// Manipulation kinds.
const (
	// ManipBought is an empty-parcel campaign (Campaign) with its bought five-star ratings:
	// Waybills are the campaign's parcels.
	ManipBought = "bought_burst"
	// ManipSmear is a merchant's burst of one-star ratings after a dispute: Waybills are the
	// parcels it rated.
	ManipSmear = "smear_burst"
	// ManipReused is a waybill number another carrier used already: Waybills holds the number,
	// Carrier the HQ Ref of the carrier that reused it.
	ManipReused = "reused_waybill"
)

// Manipulation is one planted manipulation.
type Manipulation struct {
	Kind     string
	Merchant string // the merchant behind it, when there is one
	Outlet   string // the outlet firm Ref where it happens
	Carrier  string // HQ Ref
	Waybills []string
}

// truth draws the qualities and picks the tiny outlets: outlets spread over most of [0,1],
// sorting centres mostly decent, outlet sites and couriers near their outlet.
func (g *gen) truth() {
	t := &g.w.Truth
	t.Outlets, t.Sites, t.Couriers = map[string]float64{}, map[string]float64{}, map[string]float64{}
	g.tiny = map[string]bool{}
	near := func(q, sd float64) float64 { return clamp01(q + sd*g.r.NormFloat64()) }
	for _, hq := range g.hqs {
		t.Sites[hq.sc] = 0.3 + 0.65*g.r.Float64()
		for _, br := range hq.branches {
			t.Sites[br.sc] = 0.3 + 0.65*g.r.Float64()
		}
		for _, o := range hq.outlets {
			q := 0.05 + 0.9*g.r.Float64()
			t.Outlets[o.ref] = q
			t.Sites[o.site] = near(q, 0.05)
			for _, l := range o.lockers {
				t.Sites[l] = near(q, 0.08)
			}
		}
	}
	for _, hq := range g.hqs {
		for _, o := range hq.outlets {
			for _, c := range o.couriers {
				if _, ok := t.Couriers[c.person]; !ok {
					t.Couriers[c.person] = near(t.Outlets[o.ref], 0.12)
				}
			}
		}
	}
	var all []*outletState
	for _, hq := range g.hqs {
		all = append(all, hq.outlets...)
	}
	if len(all) < 4 {
		return
	}
	want := max(1, len(all)/15)
	for _, i := range g.r.Perm(len(all)) {
		if len(t.Tiny) == want {
			break
		}
		o := all[i]
		left := 0 // outlets of its brand that would stay ordinary
		for _, x := range o.hq.outlets {
			if x != o && !g.tiny[x.ref] {
				left++
			}
		}
		if left == 0 {
			continue
		}
		g.tiny[o.ref] = true
		t.Tiny = append(t.Tiny, o.ref)
	}
}

func clamp01(x float64) float64 { return max(0.02, min(0.98, x)) }

// bad is how poorly a holder works: 1 minus its quality, squared so that trouble gathers at
// the worst, never quite zero. An unknown holder (a sorter, "") counts as middling.
func (g *gen) bad(ref string) float64 {
	q, ok := g.w.Truth.Sites[ref]
	if !ok {
		if q, ok = g.w.Truth.Couriers[ref]; !ok {
			if q, ok = g.w.Truth.Outlets[ref]; !ok {
				q = 0.5
			}
		}
	}
	return 0.01 + (1-q)*(1-q)
}

// slow scales a dwell at a holder by its quality: from 0.6× at the best to 1.8× at the worst.
func (g *gen) slow(ref string, d time.Duration) time.Duration {
	q := 0.5
	if v, ok := g.w.Truth.Sites[ref]; ok {
		q = v
	} else if v, ok := g.w.Truth.Couriers[ref]; ok {
		q = v
	}
	return time.Duration(float64(d) * (0.6 + 1.2*(1-q)))
}

// weightedPick draws up to c indices of weights without replacement, each in proportion to its
// weight (Efraimidis–Spirakis keys); an index of weight 0 is never drawn.
func (g *gen) weightedPick(weights []float64, c int) []int {
	type keyed struct {
		i int
		k float64
	}
	ks := make([]keyed, 0, len(weights))
	for i, w := range weights {
		u := g.r.Float64()
		if w > 0 {
			ks = append(ks, keyed{i, math.Log(max(u, 1e-300)) / w})
		}
	}
	sort.Slice(ks, func(a, b int) bool { return ks[a].k > ks[b].k || (ks[a].k == ks[b].k && ks[a].i < ks[b].i) })
	out := make([]int, 0, c)
	for _, k := range ks[:min(c, len(ks))] {
		out = append(out, k.i)
	}
	return out
}

// inspections are the regulator's routine inspections (日常监管检查): two of every outlet but
// the tiny ones and one of every sorting centre in the window; each finds a fault with a
// chance that follows the subject's quality, and a finding is a confirmed supervision record.
func (g *gen) inspections() {
	window := time.Duration(g.w.Size.Days) * day
	find := func(kind, subject string, q float64) {
		b := 1 - q
		if !g.chance(0.85 * b * b) {
			return
		}
		sev, text := "minor", "日常检查：营业场所收寄验视记录不全"
		switch {
		case b > 0.75 && g.chance(0.4):
			sev, text = "serious", "日常检查：未落实实名收寄，快件积压严重"
		case b > 0.45:
			sev, text = "general", "日常检查：快件分拣操作不规范，存在抛扔快件现象"
		}
		at := g.w.End.Add(-g.between(day, window))
		at = time.Date(at.Year(), at.Month(), at.Day(), 10, 0, 0, 0, cst)
		g.w.Inspections = append(g.w.Inspections, Inspection{SubjectKind: kind, Subject: subject, Severity: sev, OccurredAt: at, Summary: text,
			Document: fmt.Sprintf("JC-%d-%05d", at.Year(), len(g.w.Inspections)+1)})
	}
	for _, hq := range g.hqs {
		find("site", hq.sc, g.w.Truth.Sites[hq.sc])
		for _, br := range hq.branches {
			find("site", br.sc, g.w.Truth.Sites[br.sc])
		}
		for _, o := range hq.outlets {
			if g.tiny[o.ref] {
				continue
			}
			for i := 0; i < 2; i++ {
				find("firm", o.ref, g.w.Truth.Outlets[o.ref])
			}
		}
	}
}

// reuse plants waybill numbers used twice: a parcel of one carrier, delivered, whose number a
// second carrier uses again for an ordinary parcel of its own, as when numbers are resold.
func (g *gen) reuse() {
	if len(g.hqs) < 2 {
		return
	}
	n := max(1, g.w.Size.Parcels/3000)
	var cands []int
	for i, p := range g.w.Parcels {
		if p.Kind == ParcelNormal && !p.DeliveredAt.IsZero() && g.w.End.Sub(p.DeliveredAt) > 3*day {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return
	}
	byCarrier := map[string][]Merchant{}
	for _, m := range g.w.Merchants {
		if !m.Malicious && !m.Campaign {
			byCarrier[m.Carrier] = append(byCarrier[m.Carrier], m)
		}
	}
	g.reused = map[string]bool{}
	for _, k := range g.r.Perm(len(cands)) {
		if len(g.reused) == n {
			break
		}
		orig := g.w.Parcels[cands[k]]
		if g.reused[orig.Waybill] {
			continue
		}
		var hq *hqState
		for _, j := range g.r.Perm(len(g.hqs)) {
			if g.hqs[j].ref != orig.Carrier && len(byCarrier[g.hqs[j].ref]) > 0 {
				hq = g.hqs[j]
				break
			}
		}
		if hq == nil {
			continue
		}
		m := pick(g.r, byCarrier[hq.ref])
		o := g.outlets[m.Outlet]
		d := pick(g.r, g.ordinary(hq.outlets))
		rc := pick(g.r, g.recips)
		p := Parcel{Waybill: orig.Waybill, Carrier: hq.ref, Merchant: m.ID, RecipientPhone: rc.phone, Origin: o.ref, Dest: d.ref,
			Kind: ParcelReused, CollectedAt: orig.DeliveredAt.Add(g.between(day, 3*day))}
		if p.CollectedAt.After(g.w.End) {
			continue
		}
		g.reused[orig.Waybill] = true
		g.add(p, hq, g.chain(&p, hq, o, d))
		g.w.Truth.Manipulations = append(g.w.Truth.Manipulations, Manipulation{Kind: ManipReused, Merchant: m.ID, Outlet: o.ref, Carrier: hq.ref,
			Waybills: []string{orig.Waybill}})
	}
}

// ordinary is the outlets of os that are not tiny (all of them when every one is).
func (g *gen) ordinary(os []*outletState) []*outletState {
	var out []*outletState
	for _, o := range os {
		if !g.tiny[o.ref] {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return os
	}
	return out
}
