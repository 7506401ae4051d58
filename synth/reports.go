package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"time"
)

// notAfter returns t, or the end of the world when t is later.
func (g *gen) notAfter(t time.Time) time.Time {
	if t.After(g.w.End) {
		return g.w.End
	}
	return t
}

// reports are what parties say once parcels have moved: incidents reported to the regulator
// (12305) or by merchants, and consumer complaints the regulator enters as credit records.
func (g *gen) reports() {
	merchant := map[string]Merchant{}
	for _, m := range g.w.Merchants {
		merchant[m.ID] = m
	}
	last := map[string]time.Time{}
	for _, b := range g.w.Batches {
		for _, e := range b.Events {
			if e.At.After(last[e.Waybill]) {
				last[e.Waybill] = e.At
			}
		}
	}
	objected, delayReported := false, false // the first delayed delivery is always reported
	const objection = "快件已按约定投递，收件人已确认收到，投诉内容与事实不符，请求更正。"
	complain := func(c Complaint) {
		c.Confirm = g.chance(0.6)
		if c.Confirm && !objected {
			c.Objection, objected = objection, true
		}
		g.w.Complaints = append(g.w.Complaints, c)
	}
	for _, p := range g.w.Parcels {
		if g.reused[p.Waybill] {
			continue // two parcels answer to the number: nobody reports on it
		}
		delivered := !p.DeliveredAt.IsZero()
		m := merchant[p.Merchant]
		d := g.outlets[p.Dest]
		switch {
		case p.Kind == ParcelLost:
			g.w.Incidents = append(g.w.Incidents, Incident{Waybill: p.Waybill, Kind: "lost", By: ByRegulator, Reporter: "12305",
				At: g.notAfter(last[p.Waybill].Add(g.between(3*day, 6*day))), Description: "收件人反映快件长期未到，物流信息多日未更新",
				Confirm: g.chance(0.5)})
		case p.Kind == ParcelDelayed && delivered && (g.chance(0.3) || !delayReported):
			delayReported = true
			in := Incident{Waybill: p.Waybill, Kind: "delayed", By: ByRegulator, Reporter: "12305",
				At: g.notAfter(p.DeliveredAt.Add(g.between(2*time.Hour, 2*day))), Description: "快件超出承诺时限送达", Confirm: g.chance(0.5)}
			if g.chance(0.5) {
				in.By, in.Merchant, in.Reporter = ByMerchant, m.ID, m.Name
			}
			g.w.Incidents = append(g.w.Incidents, in)
			if g.chance(0.5) {
				complain(Complaint{SubjectKind: "firm", Subject: d.branch.ref, Waybill: p.Waybill, Severity: "minor",
					OccurredAt: in.At, Summary: "消费者投诉：快件在转运中心滞留多日，超出承诺时限"})
			}
		case p.Kind == ParcelDamaged && delivered:
			g.w.Incidents = append(g.w.Incidents, Incident{Waybill: p.Waybill, Kind: "damaged", By: ByMerchant, Merchant: m.ID, Reporter: m.Name,
				At: g.notAfter(p.DeliveredAt.Add(g.between(time.Hour, day))), Description: "收件人反映外包装破损、内件损坏", Confirm: g.chance(0.5)})
		case p.Kind == ParcelFalseSignature && delivered:
			in := Incident{Waybill: p.Waybill, Kind: "false_signature", By: ByRegulator, Reporter: "12305",
				At: g.notAfter(p.DeliveredAt.Add(g.between(day, 3*day))), Description: "收件人称未本人签收，快递员未经同意代签", Confirm: g.chance(0.5)}
			g.w.Incidents = append(g.w.Incidents, in)
			if p.Courier != "" {
				complain(Complaint{SubjectKind: "staff", Subject: p.Courier, Waybill: p.Waybill, Severity: "general",
					OccurredAt: in.At, Summary: "消费者投诉：快递员未经本人同意代签快件"})
			}
		case p.Kind == ParcelNormal && delivered && p.Courier != "" && g.chance(0.012*g.bad(p.Courier)):
			complain(Complaint{SubjectKind: "staff", Subject: p.Courier, Waybill: p.Waybill, Severity: "minor",
				OccurredAt: g.notAfter(p.DeliveredAt.Add(g.between(time.Hour, day))), Summary: "消费者投诉：快递员服务态度恶劣"})
		}
	}
	if !objected && len(g.w.Complaints) > 0 {
		c := &g.w.Complaints[0]
		c.Confirm, c.Objection = true, objection
	}
	for _, c := range g.w.Campaigns {
		if len(c.Waybills) == 0 {
			continue
		}
		g.w.Incidents = append(g.w.Incidents, Incident{Waybill: c.Waybills[0], Kind: "empty_parcel", By: ByRegulator, Reporter: "寄递安全检查",
			At: g.notAfter(c.At.Add(g.between(day, 2*day))), Description: "疑似刷单空包：10克左右快件集中揽收后未经运输即签收", Confirm: true})
	}
}

// ratings are merchants' and recipients' ratings of delivered parcels: honest ones for a share
// of parcels, their stars following the quality of the delivering outlet and courier, a
// one-star burst by the malicious merchant, and bought five stars on every campaign parcel.
// Each rating carries the time its rater gave it (see ratingClock): an honest one some hours to
// a few days after the delivery, a smear's or a campaign's within a few hours of each other.
func (g *gen) ratings() {
	clk := newRatingClock(g.w.Seed, g.w.End)
	rated := map[string]bool{}
	stars := func(p Parcel, consumer bool) (int, []string) {
		q := g.w.Truth.Outlets[p.Dest]
		if c, ok := g.w.Truth.Couriers[p.Courier]; ok {
			q = (q + c) / 2
		}
		n := int(math.Round(1.2 + 3.8*q + 0.7*g.r.NormFloat64()))
		n = max(1, min(5, n))
		tags := map[int][]string{1: {"rude"}, 2: {"late"}, 3: nil, 4: {"on_time"}, 5: {"good_service"}}[n]
		switch {
		case p.Kind == ParcelDelayed:
			n, tags = 2, []string{"late"}
		case p.Kind == ParcelDamaged:
			n, tags = 1, []string{"damaged"}
		case p.Kind == ParcelFalseSignature && consumer:
			n, tags = 1, []string{"false_signature"}
		case p.Kind == ParcelFailed:
			n, tags = min(n, 3), []string{"late"}
		case n == 5 && g.chance(0.2):
			tags = []string{"on_time", "careful"}
		}
		return n, tags
	}
	comments := map[int]string{1: "很不满意", 2: "不太满意", 3: "一般", 4: "挺好", 5: "非常满意"}
	for _, p := range g.w.Parcels {
		if p.DeliveredAt.IsZero() || p.Kind == ParcelEmpty || g.reused[p.Waybill] {
			continue
		}
		if g.chance(0.1) && p.Kind != ParcelFalseSignature {
			n, tags := stars(p, false)
			g.w.Ratings = append(g.w.Ratings, Rating{By: ByMerchant, Merchant: p.Merchant, Waybill: p.Waybill, At: clk.honest(p.DeliveredAt),
				Stars: n, Tags: tags, Comment: comments[n]})
			rated["m:"+p.Merchant+"|"+p.Waybill] = true
		}
		if g.chance(0.08) || (p.Kind == ParcelFalseSignature && g.chance(0.5)) {
			n, tags := stars(p, true)
			g.w.Ratings = append(g.w.Ratings, Rating{By: ByConsumer, Waybill: p.Waybill, Phone4: p.RecipientPhone[len(p.RecipientPhone)-4:],
				Buyer: BuyerID(p.RecipientPhone), At: clk.honest(p.DeliveredAt), Stars: n, Tags: tags})
		}
	}
	// The malicious merchant, in a dispute with its carrier, rates eight of its deliveries one
	// star within two hours.
	for _, m := range g.w.Merchants {
		if !m.Malicious {
			continue
		}
		smear := Manipulation{Kind: ManipSmear, Merchant: m.ID, Outlet: m.Outlet, Carrier: m.Carrier}
		first := len(g.w.Ratings)
		for _, p := range g.w.Parcels {
			if len(smear.Waybills) == 8 {
				break
			}
			if p.Merchant != m.ID || p.DeliveredAt.IsZero() || p.Kind == ParcelEmpty || g.reused[p.Waybill] || rated["m:"+m.ID+"|"+p.Waybill] {
				continue
			}
			g.w.Ratings = append(g.w.Ratings, Rating{By: ByMerchant, Merchant: m.ID, Waybill: p.Waybill, Stars: 1, Tags: []string{"rude", "late"},
				Comment: "服务太差，再也不用", Kind: RatingMalicious})
			smear.Waybills = append(smear.Waybills, p.Waybill)
		}
		clk.burst(g.w.Ratings[first:], g.delivered, 2*time.Hour)
		if len(smear.Waybills) > 0 {
			g.w.Truth.Manipulations = append(g.w.Truth.Manipulations, smear)
		}
	}
	for _, c := range g.w.Campaigns {
		g.w.Truth.Manipulations = append(g.w.Truth.Manipulations, Manipulation{Kind: ManipBought, Merchant: c.Merchant, Outlet: c.Outlet,
			Carrier: g.w.Parcels[g.parcelIdx[c.Waybills[0]]].Carrier, Waybills: c.Waybills})
		first := len(g.w.Ratings)
		for _, wb := range c.Waybills {
			p := g.w.Parcels[g.parcelIdx[wb]]
			if p.DeliveredAt.IsZero() {
				continue
			}
			g.w.Ratings = append(g.w.Ratings, Rating{By: ByMerchant, Merchant: c.Merchant, Waybill: wb, Stars: 5, Tags: []string{"good_service", "on_time"},
				Comment: "好评！", Kind: RatingBought})
			if g.chance(0.6) {
				g.w.Ratings = append(g.w.Ratings, Rating{By: ByConsumer, Waybill: wb, Phone4: p.RecipientPhone[len(p.RecipientPhone)-4:],
					Buyer: BuyerID(p.RecipientPhone), Stars: 5, Tags: []string{"good_service"}, Comment: "五星好评", Kind: RatingBought})
			}
		}
		clk.burst(g.w.Ratings[first:], g.delivered, 4*time.Hour)
	}
}

// delivered is when the parcel of waybill was delivered.
func (g *gen) delivered(waybill string) time.Time {
	return g.w.Parcels[g.parcelIdx[waybill]].DeliveredAt
}

// BuyerID is the pseudonymous id a platform gives the recipient with phone: stable for one
// phone, and not the phone.
func BuyerID(phone string) string {
	h := sha256.Sum256([]byte("credtrace-synth-buyer|" + phone))
	return "buyer-" + hex.EncodeToString(h[:8])
}

// ratingClock gives ratings the times their raters gave them, from a stream of its own so that
// the rest of a world does not depend on them; never after end.
type ratingClock struct {
	r   *rand.Rand
	end time.Time
}

func newRatingClock(seed uint64, end time.Time) *ratingClock {
	return &ratingClock{r: rand.New(rand.NewPCG(seed^0x5bd1e995, seed+0x2545f4914f6cdd1d)), end: end}
}

// within returns a random instant in [from, from+d), whole seconds.
func (c *ratingClock) within(from time.Time, d time.Duration) time.Time {
	if d < time.Second {
		return from
	}
	return from.Add(time.Duration(c.r.Int64N(int64(d/time.Second))) * time.Second)
}

// honest is when an honest rater rates a parcel delivered at delivered: mostly the same day,
// some a few days later, never after end.
func (c *ratingClock) honest(delivered time.Time) time.Time {
	lo, span := 2*time.Hour, 10*time.Hour
	if c.r.Float64() < 0.4 {
		lo, span = 12*time.Hour, 84*time.Hour
	}
	if at := c.within(delivered.Add(lo), span); !at.After(c.end) {
		return at
	}
	return c.within(delivered, c.end.Sub(delivered))
}

// burst times rs as one rater's burst: within span of each other, starting an hour or a day
// after the last of their parcels was delivered (as far as end allows), never before a
// parcel's delivery.
func (c *ratingClock) burst(rs []Rating, delivered func(waybill string) time.Time, span time.Duration) {
	if len(rs) == 0 {
		return
	}
	var last time.Time
	for _, r := range rs {
		last = maxTime(last, delivered(r.Waybill))
	}
	start := c.within(last.Add(time.Hour), 23*time.Hour)
	if start.Add(span).After(c.end) {
		start = maxTime(last, c.end.Add(-span))
	}
	span = min(span, c.end.Sub(start))
	for i := range rs {
		rs[i].At = c.within(start, span)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
