package scoring

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/credtrace/credtrace/tracking"
)

// Inputs is everything one run reads, as of its as-of time. Compute is a pure function of it,
// so the same inputs and methodology always give the same scores.
type Inputs struct {
	AsOf        time.Time
	Firms       []FirmIn
	Sites       []SiteIn
	Staff       []StaffIn
	Records     []RecordIn // in force at AsOf
	Stats       map[SubjectKind]map[string]Counts
	StatsFrom   string              // first day of the window, for the explanation
	Ratings     []Rating            // created before AsOf, with their assessed weights
	Commitments map[string][]string // subject key → commitment ids signed before AsOf
}

// FirmIn is a firm as scoring sees it.
type FirmIn struct {
	ID, ParentID, Kind string
}

// SiteIn is a site as scoring sees it.
type SiteIn struct{ ID, FirmID string }

// StaffIn is a person as scoring sees it: the firm they work for at AsOf.
type StaffIn struct{ ID, FirmID string }

// RecordIn is a record in force at AsOf.
type RecordIn struct {
	ID          string
	SubjectKind SubjectKind
	SubjectID   string
	Category    string
	Severity    string
	OccurredAt  time.Time
	Status      string // its status at AsOf (confirmed, disputed, upheld …), for the export
}

// Counts are a subject's service-quality counters over the window.
type Counts struct {
	Handled, Delivered, OnTime, Late, Lost, Damaged, Complaints int
	// EmptySuspect counts the parcels with empty-parcel signals the subject collected: they
	// are in none of the counts above. Left out of the inputs' JSON when zero, so that the
	// inputs of runs made before it existed still hash as they did.
	EmptySuspect int `json:",omitempty"`
	// LateShare is the subject's share of late parcels' delay, in thousandths of a parcel
	// (tracking.ShareUnit): its part of each late parcel whose custody segment it held longer
	// than the norm. SlowPickup and the others count those segments by kind, LateFallback the
	// late parcels it delivered with no segment over its norm (all theirs). Read from 2026.4
	// on; left out of the inputs' JSON when zero, as EmptySuspect is.
	LateShare    int `json:",omitempty"`
	SlowPickup   int `json:",omitempty"`
	SlowSorting  int `json:",omitempty"`
	SlowLineHaul int `json:",omitempty"`
	SlowLastMile int `json:",omitempty"`
	LateFallback int `json:",omitempty"`
	// CarriedShare is, for a person, the part of LateShare on segments they had in hand (a
	// collection not handed in, a delivery round not completed, in time; tracking.MCarriedShare),
	// without the wait at a site after an arrival they happened to scan. Read for people from
	// 2026.5 on (Methodology.StaffCarriedShare); left out of the inputs' JSON when zero.
	CarriedShare int `json:",omitempty"`
}

func key(kind SubjectKind, id string) string { return string(kind) + "/" + id }

// monthsBetween is the age in months (30.44-day months) from t to asOf.
func monthsBetween(t, asOf time.Time) float64 { return asOf.Sub(t).Hours() / 24 / 30.436875 }

// subjectData gathers one subject's inputs.
type subjectData struct {
	kind     SubjectKind
	id, firm string
	records  []RecordIn
	counts   Counts
	ratings  map[RaterKind][]Rating
	commits  []string
}

// ratingHalf and friends turn measures into 0..1000 components: a measure equal to the half
// value halves the component.
const (
	regulatorHalf = 10.0 // record points per 10,000 parcels
	trackingHalf  = 10.0 // weighted rate points
)

func halving(measure, half float64) float64 { return 1000 * half / (half + measure) }

// Compute scores every firm, site and person, HQs combining their trees by volume.
func Compute(m Methodology, in Inputs, runID string) []Score {
	subjects := map[string]*subjectData{}
	get := func(kind SubjectKind, id, firm string) *subjectData {
		k := key(kind, id)
		d := subjects[k]
		if d == nil {
			d = &subjectData{kind: kind, id: id, firm: firm, ratings: map[RaterKind][]Rating{}}
			subjects[k] = d
		}
		return d
	}
	for _, f := range in.Firms {
		get(Firm, f.ID, f.ID)
	}
	for _, s := range in.Sites {
		get(Site, s.ID, s.FirmID)
	}
	for _, p := range in.Staff {
		get(Staff, p.ID, p.FirmID)
	}
	for _, r := range in.Records {
		if d := subjects[key(r.SubjectKind, r.SubjectID)]; d != nil {
			d.records = append(d.records, r)
		}
	}
	for kind, byID := range in.Stats {
		for id, c := range byID {
			if d := subjects[key(kind, id)]; d != nil {
				d.counts = c
			}
		}
	}
	for _, r := range netted(m, in.Ratings) {
		for _, t := range []struct {
			kind SubjectKind
			id   string
		}{{Firm, r.FirmID}, {Site, r.SiteID}, {Staff, r.StaffID}} {
			if d := subjects[key(t.kind, t.id)]; t.id != "" && d != nil {
				d.ratings[r.RaterKind] = append(d.ratings[r.RaterKind], r)
			}
		}
	}
	for k, ids := range in.Commitments {
		if d := subjects[k]; d != nil {
			d.commits = ids
		}
	}
	// The rating prior: the mean of all weighted ratings of each rater kind, else the method's
	// (summed in key order, as the streamed run does, so that the float sum is the same).
	prior := firmPrior(m, subjects)
	kinds := map[string]string{}
	for _, f := range in.Firms {
		kinds[f.ID] = f.Kind
	}
	peerOf := func(kind SubjectKind, id string, parcels int) string {
		k := string(kind)
		if kind == Firm {
			k = "firm:" + kinds[id]
		}
		return k + "/" + m.band(parcels)
	}
	priors := peerPriors(m, subjects, prior, peerOf)

	keys := make([]string, 0, len(subjects))
	for k := range subjects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	scores := map[string]*Score{}
	for _, k := range keys {
		d := subjects[k]
		sc := scoreOne(m, in, d, priors(d))
		sc.RunID = runID
		scores[k] = &sc
	}
	// HQs combine their trees, weighted by volume (parcels handled in the window).
	children := map[string][]string{}
	for _, f := range in.Firms {
		if f.ParentID != "" {
			children[f.ParentID] = append(children[f.ParentID], f.ID)
		}
	}
	for _, ids := range children { // id order, whatever the order of in.Firms
		sort.Strings(ids)
	}
	for _, f := range in.Firms {
		if f.Kind != "hq" || len(children[f.ID]) == 0 {
			continue
		}
		rollUp(m, scores, children, f.ID)
	}
	// Peer groups and percentiles: kind and volume band; the share of peers scoring better.
	groups := map[string][]*Score{}
	for _, k := range keys {
		sc := scores[k]
		sc.PeerGroup = peerOf(sc.Subject, sc.SubjectID, sc.Parcels)
		if m.Evidence != nil {
			gradeRange(m, sc)
		}
		if sc.Grade != Insufficient {
			groups[sc.PeerGroup] = append(groups[sc.PeerGroup], sc)
		}
	}
	for _, g := range groups {
		for _, sc := range g {
			better := 0
			for _, o := range g {
				if o.Value > sc.Value {
					better++
				}
			}
			if len(g) > 1 {
				sc.Percentile = round2(100 * float64(better) / float64(len(g)-1))
			}
		}
	}
	out := make([]Score, 0, len(keys))
	for _, k := range keys {
		out = append(out, *scores[k])
	}
	return out
}

// netted applies the weekly rule: one rater's ratings of one firm in one ISO week (of when
// they were given) count as one rating, their weighted mean, with at most the weight of one.
// Under NetBurstsApart the week's burst ratings net apart from its other ratings, to at most
// the weight of one burst rating, so that honest ratings do not restore a burst's weight.
func netted(m Methodology, rs []Rating) []Rating {
	type wk struct {
		kind      RaterKind
		rater     string
		firm      string
		year, num int
		burst     bool
	}
	// Order first, so that the result never depends on the order ratings were read in: the
	// netted rating takes the delivery details of the week's latest rating.
	rs = append([]Rating(nil), rs...)
	sort.Slice(rs, func(i, j int) bool {
		if a, b := rs[i].GivenAt(), rs[j].GivenAt(); !a.Equal(b) {
			return a.Before(b)
		}
		return rs[i].ID < rs[j].ID
	})
	groups := map[wk][]Rating{}
	var order []wk
	for _, r := range rs {
		y, n := r.GivenAt().In(cst).ISOWeek()
		k := wk{r.RaterKind, r.RaterID, r.FirmID, y, n, m.NetBurstsApart && hasFlag(r.Flags, FlagBurst)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []Rating
	for _, k := range order {
		g := groups[k]
		if len(g) == 1 {
			out = append(out, g[0])
			continue
		}
		sum, w, heaviest := 0.0, 0.0, 0.0
		for _, r := range g {
			sum += float64(r.Stars) * r.Weight
			w += r.Weight
			heaviest = math.Max(heaviest, r.Weight)
		}
		net := g[len(g)-1]
		net.ID = g[0].ID
		what := "ratings"
		if k.burst {
			what = "burst ratings"
		}
		net.Flags = append(append([]string(nil), net.Flags...), flagOf(FlagNetted, "%d %s by one rater of one firm in week %d-W%02d count as one", len(g), what, k.year, k.num))
		if w > 0 {
			net.Stars = int(math.Round(sum / w))
		}
		net.Weight = math.Min(w, 1)
		if k.burst {
			net.Weight = math.Min(w, heaviest)
		}
		out = append(out, net)
	}
	return out
}

var cst = time.FixedZone("CST", 8*3600)

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// scoreOne scores one subject from its own data.
func scoreOne(m Methodology, in Inputs, d *subjectData, prior ratingPrior) Score {
	sc := Score{Subject: d.kind, SubjectID: d.id, FirmID: d.firm, AsOf: in.AsOf, Method: m.Version, Parcels: d.counts.Handled}
	ev := m.Evidence
	exposure, recordHalf := math.Max(float64(d.counts.Handled)/10000, 1), regulatorHalf
	if ev != nil {
		// A rate of the volume handled, over at least the floor: a large outlet's record
		// weighs little, a tiny one's as much as over the floor.
		exposure, recordHalf = float64(max(d.counts.Handled, ev.ExposureFloor))/10000, ev.RecordHalf
	}

	// Regulators: record points per 10,000 parcels.
	type pts struct {
		r RecordIn
		p float64
	}
	var items []pts
	total := 0.0
	for _, r := range d.records {
		p := m.SeverityWeights[r.Severity] * m.CategoryWeights[r.Category] * m.timeWeight(monthsBetween(r.OccurredAt, in.AsOf))
		if p == 0 {
			continue
		}
		items = append(items, pts{r, p})
		total += p
	}
	reg := Component{Party: "regulator", Weight: m.PartyWeights["regulator"], Value: halving(total/exposure, recordHalf),
		Detail: fmt.Sprintf("%.1f record points over %.1f × 10,000 parcels = %.2f per 10,000", total, exposure, total/exposure)}
	if ev != nil {
		// The record count's Poisson error, with one more record's worth (also when there is
		// none: a small volume with no record says little).
		sq := ev.RecordUnit * ev.RecordUnit
		for _, it := range items {
			sq += it.p * it.p
		}
		sd := math.Sqrt(sq) / exposure
		if ev.RecordErrorByVolume {
			// The error is over the parcels actually handled: the floor keeps one record from
			// making a small outlet's rate explode, but no record in 40 parcels is not the
			// evidence no record in 500 is.
			sd = math.Sqrt(sq) / (float64(max(d.counts.Handled, 1)) / 10000)
		}
		reg.Uncertainty = spread(total/exposure, sd, recordHalf)
		reg.Detail = fmt.Sprintf("%.1f record points over %d parcels (at least %d) = %.2f ± %.2f per 10,000, halving at %.0f",
			total, d.counts.Handled, ev.ExposureFloor, total/exposure, sd, recordHalf)
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].p != items[j].p {
			return items[i].p > items[j].p
		}
		return items[i].r.ID < items[j].r.ID
	})
	for _, it := range items {
		without := halving((total-it.p)/exposure, recordHalf)
		reg.Items = append(reg.Items, Item{Kind: "record", Ref: it.r.ID, Effect: round2(reg.Value - without),
			Detail: fmt.Sprintf("%s/%s, %.1f months old: %.1f points", it.r.Category, it.r.Severity, monthsBetween(it.r.OccurredAt, in.AsOf), it.p)})
	}
	comps := []Component{reg}

	// Objective service quality from the tracking statistics.
	c := d.counts
	tw := m.TrackingWeights
	// Empty-parcel suspects weigh against the subject only under a methodology that gives
	// them a weight (2026.2 on); under one that does not, a subject with nothing but fake
	// parcels has no tracking component at all (never a perfect one).
	weighEmpty := tw["empty_suspect_per_10k"] > 0 && c.EmptySuspect > 0
	if c.Handled > 0 || weighEmpty {
		judged := c.OnTime + c.Late
		rate := func(n, of int, per float64) float64 {
			if of == 0 {
				return 0
			}
			return float64(n) / float64(of) * per
		}
		late, lost, dam, compl := rate(c.Late, judged, 1e4), rate(c.Lost, c.Handled, 1e4), rate(c.Damaged, c.Handled, 1e4), rate(c.Complaints, c.Handled, 1e6)
		// lateK of lateN is the late rate's proportion: the late parcels the subject delivered
		// of those it delivered, or (2026.4 on) its attributed share of late parcels of the
		// parcels it handled, whatever leg it held.
		lateW, lateK, lateN, lateWhat := tw["late_per_10k"], c.Late, judged, "late"
		if w := tw["late_share_per_10k"]; w > 0 {
			share := float64(c.LateShare) / tracking.ShareUnit
			if m.StaffCarriedShare && d.kind == Staff {
				// A person answers for the segments they had in hand (2026.5 on).
				share = float64(c.CarriedShare) / tracking.ShareUnit
			}
			late = 0
			if c.Handled > 0 {
				late = share / float64(c.Handled) * 1e4
			}
			lateW, lateK, lateN, lateWhat = w, int(math.Round(share)), c.Handled, "late (attributed)"
		}
		measure := lateW*late + tw["lost_per_10k"]*lost + tw["damaged_per_10k"]*dam + tw["complaints_per_million"]*compl
		detail := fmt.Sprintf("%d parcels: %s %.0f, lost %.1f, damaged %.1f per 10,000; complaints %.0f per million",
			c.Handled, lateWhat, late, lost, dam, compl)
		if weighEmpty {
			// Per 10,000 parcels collected, real and suspect: a campaign of fakes is measured
			// against everything the outlet took in, so it cannot hide behind its own volume.
			empty := rate(c.EmptySuspect, c.Handled+c.EmptySuspect, 1e4)
			measure += tw["empty_suspect_per_10k"] * empty
			detail += fmt.Sprintf("; %d empty-parcel suspects, %.0f per 10,000", c.EmptySuspect, empty)
		}
		tr := Component{Party: "tracking", Weight: m.PartyWeights["tracking"], Value: halving(measure, trackingHalf),
			Uncertainty: 1000 / math.Sqrt(float64(c.Handled)+1),
			Detail:      detail + fmt.Sprintf(" → measure %.2f", measure)}
		if ev != nil {
			// Each rate's binomial error, (k+½)/(n+1) for its proportion, through the weights.
			type rt struct {
				k, n int
				per  float64
				w    float64
			}
			rts := []rt{{lateK, lateN, 1e4, lateW}, {c.Lost, c.Handled, 1e4, tw["lost_per_10k"]},
				{c.Damaged, c.Handled, 1e4, tw["damaged_per_10k"]}, {c.Complaints, c.Handled, 1e6, tw["complaints_per_million"]}}
			if weighEmpty {
				rts = append(rts, rt{c.EmptySuspect, c.Handled + c.EmptySuspect, 1e4, tw["empty_suspect_per_10k"]})
			}
			sq := 0.0
			for _, r := range rts {
				sq += math.Pow(r.w*binomialSE(r.k, r.n)*r.per, 2)
			}
			sd := math.Sqrt(sq)
			tr.Uncertainty = spread(measure, sd, trackingHalf)
			tr.Detail = detail + fmt.Sprintf(" → measure %.2f ± %.2f", measure, sd)
		}
		ref := fmt.Sprintf("%s/%s/%s..%s", d.kind, d.id, in.StatsFrom, in.AsOf.In(cst).Format("2006-01-02"))
		tr.Items = append(tr.Items, Item{Kind: "statistic", Ref: ref, Effect: round2(tr.Value - 1000), Detail: tr.Detail})
		if tw["late_share_per_10k"] > 0 && (c.LateShare > 0 || c.LateFallback > 0) {
			// The delay's evidence: the segments the subject held over their norm on late
			// parcels, and what the attributed lateness alone costs the component.
			detail := delayDetail(m, c)
			if m.StaffCarriedShare && d.kind == Staff {
				detail += fmt.Sprintf("; of these %.2f on segments the person had in hand (collections, delivery rounds), the rate's numerator; the rest waited at a site after an arrival they scanned, the site's",
					float64(c.CarriedShare)/tracking.ShareUnit)
			}
			tr.Items = append(tr.Items, Item{Kind: "delay", Ref: ref + "/segments",
				Effect: round2(halving(measure, trackingHalf) - halving(measure-lateW*late, trackingHalf)), Detail: detail})
		}
		if ev != nil && ev.TimelinessShare > 0 {
			comps = append(comps, splitTracking(m, tr, lateW*late, measure-lateW*late, lateK, lateN, lateW, c)...)
		} else {
			comps = append(comps, tr)
		}
	}

	// Merchants and consumers: Bayesian average of the weighted, netted ratings.
	nRatings := 0
	for _, rk := range []RaterKind{RaterMerchant, RaterConsumer} {
		rs := d.ratings[rk]
		v, sum := 0.0, 0.0
		for _, r := range rs {
			v += r.Weight
			sum += float64(r.Stars) * r.Weight
		}
		nRatings += len(rs)
		if v == 0 {
			continue
		}
		pm := prior.mean[rk]
		mean := (sum + m.PriorCount*pm) / (v + m.PriorCount)
		comp := Component{Party: string(rk), Weight: m.PartyWeights[string(rk)], Value: (mean - 1) / 4 * 1000,
			Uncertainty: 250 / math.Sqrt(v+m.PriorCount),
			Detail: fmt.Sprintf("%d ratings weighing %.1f, raw mean %.2f, shrunk toward %.2f with %.0f pseudo-ratings → %.2f stars",
				len(rs), v, sum/v, pm, m.PriorCount, mean)}
		if ev != nil {
			// The posterior mean's error: the stars' variance (the prior's pseudo-ratings at
			// the prior variance) over the weight of the netted ratings and the prior's.
			dev := m.PriorCount * ev.StarVariance
			for _, r := range rs {
				dev += r.Weight * math.Pow(float64(r.Stars)-sum/v, 2)
			}
			variance := dev / (v + m.PriorCount)
			comp.Uncertainty = 250 * math.Sqrt(variance/(v+m.PriorCount))
			comp.Detail = fmt.Sprintf("%d ratings weighing %.1f, raw mean %.2f, shrunk toward %.2f (%s) with %.0f pseudo-ratings → %.2f ± %.2f stars",
				len(rs), v, sum/v, pm, prior.of[rk], m.PriorCount, mean, math.Sqrt(variance/(v+m.PriorCount)))
		}
		sorted := append([]Rating(nil), rs...)
		sort.Slice(sorted, func(i, j int) bool {
			if sorted[i].Stars != sorted[j].Stars {
				return sorted[i].Stars < sorted[j].Stars
			}
			return sorted[i].ID < sorted[j].ID
		})
		for _, r := range sorted {
			effect := (float64(r.Stars) - mean) * r.Weight / (v + m.PriorCount) / 4 * 1000
			detail := fmt.Sprintf("%d stars on %s, weight %.2f", r.Stars, r.Waybill, r.Weight)
			for _, f := range r.Flags {
				detail += "; " + f
			}
			comp.Items = append(comp.Items, Item{Kind: "rating", Ref: r.ID, Effect: round2(effect), Detail: detail})
		}
		comps = append(comps, comp)
	}

	// The score: the weighted mean of the components that have data, plus bonuses.
	wsum, vsum, usum := 0.0, 0.0, 0.0
	// lacking is, by party, the share of its weight its evidence lacks: all of it for a party
	// with no data.
	lacking := map[string]float64{"regulator": 1, "tracking": 1, "merchant": 1, "consumer": 1}
	seen := map[string]bool{}
	for i := range comps {
		cp := &comps[i]
		cp.Value = round2(cp.Value)
		cp.Uncertainty = round2(cp.Uncertainty)
		if ev != nil {
			// Credibility: a component weighs its party's weight × spread²/(spread² + SE²), so
			// that thin evidence of one kind yields to firmer evidence of another.
			z := ev.Spread * ev.Spread / (ev.Spread*ev.Spread + cp.Uncertainty*cp.Uncertainty)
			cp.Detail += fmt.Sprintf("; ± %.0f, credibility %.2f of weight %.2f", cp.Uncertainty, z, cp.Weight)
			// A party measured in parts (tracking under a timeliness share) lacks the
			// share-weighted mean of what its parts lack; a party of one part, 1 - z.
			part := 1.0
			if pw := m.PartyWeights[cp.Party]; pw > 0 && cp.Weight != pw {
				part = cp.Weight / pw
			}
			if !seen[cp.Party] {
				seen[cp.Party], lacking[cp.Party] = true, 0
			}
			lacking[cp.Party] += part * (1 - z)
			cp.Weight = math.Round(cp.Weight*z*1e4) / 1e4
		}
		wsum += cp.Weight
	}
	for i := range comps {
		cp := &comps[i]
		vsum += cp.Weight / wsum * cp.Value
		usum += math.Pow(cp.Weight/wsum*cp.Uncertainty, 2)
		if len(cp.Items) > 5 {
			sort.SliceStable(cp.Items, func(a, b int) bool { return math.Abs(cp.Items[a].Effect) > math.Abs(cp.Items[b].Effect) })
			cp.Items = cp.Items[:5]
		}
	}
	if len(d.commits) > 0 {
		b := math.Min(float64(len(d.commits))*m.CommitmentBonus, m.BonusCap)
		bonus := Component{Party: "bonus", Value: b, Weight: 0, Detail: fmt.Sprintf("%d credit commitments: +%.0f (cap %.0f)", len(d.commits), b, m.BonusCap)}
		for _, id := range d.commits {
			bonus.Items = append(bonus.Items, Item{Kind: "commitment", Ref: id, Effect: m.CommitmentBonus})
		}
		if len(bonus.Items) > 5 {
			bonus.Items = bonus.Items[:5]
		}
		vsum += b
		comps = append(comps, bonus)
	}
	sc.Value = round2(math.Max(0, math.Min(1000, vsum)))
	sc.Uncertainty = round2(math.Sqrt(usum))
	if ev != nil {
		// The score's error is what the evidence leaves open: each party's weight that its
		// evidence lacks could move the score by the spread of subjects, so √Σ (w·√lacking·spread)².
		// A party with firm evidence adds little; one with none adds its whole weight.
		usum = 0
		for _, p := range []string{"regulator", "tracking", "merchant", "consumer"} {
			usum += m.PartyWeights[p] * m.PartyWeights[p] * lacking[p] * ev.Spread * ev.Spread
		}
		sc.Uncertainty = round2(math.Sqrt(usum))
	}
	sc.Components = comps
	sc.Grade = m.grade(sc.Value)
	if ev != nil {
		// Too thin, whatever its kind: the score's error over the threshold. A record in force
		// is never ignored: the subject is graded, with its range.
		if sc.Uncertainty > ev.MaxSE && len(items) == 0 {
			sc.Grade = Insufficient
		}
	} else if d.counts.Handled < m.MinParcels && nRatings < m.MinRatings && len(items) == 0 {
		sc.Grade = Insufficient
	}
	return sc
}

// splitTracking parts the tracking component tr (2026.4 on) into timeliness, the late rate
// alone, and incidents, the rates of losses, damage, complaints and empty-parcel suspects,
// each with its own standard error and so its own credibility. The incidents are rare (a few
// in a thousand parcels, weighed heavily each): over an outlet's volume their error is most
// of the component's range even when none occurred, and in one sum it took the well-measured
// late rate's credibility with it. Timeliness takes the share Evidence.TimelinessShare of
// the tracking weight, incidents the rest; tr's items go with the part they explain.
func splitTracking(m Methodology, tr Component, lateMeasure, incidentMeasure float64, lateK, lateN int, lateW float64, c Counts) []Component {
	share := m.Evidence.TimelinessShare
	lateSD := lateW * binomialSE(lateK, lateN) * 1e4
	tw := m.TrackingWeights
	sq := 0.0
	for _, r := range []struct {
		k, n int
		per  float64
		w    float64
	}{{c.Lost, c.Handled, 1e4, tw["lost_per_10k"]}, {c.Damaged, c.Handled, 1e4, tw["damaged_per_10k"]},
		{c.Complaints, c.Handled, 1e6, tw["complaints_per_million"]}} {
		sq += math.Pow(r.w*binomialSE(r.k, r.n)*r.per, 2)
	}
	if tw["empty_suspect_per_10k"] > 0 && c.EmptySuspect > 0 {
		sq += math.Pow(tw["empty_suspect_per_10k"]*binomialSE(c.EmptySuspect, c.Handled+c.EmptySuspect)*1e4, 2)
	}
	incSD := math.Sqrt(sq)
	timely := Component{Party: tr.Party, Weight: tr.Weight * share, Value: halving(lateMeasure, trackingHalf),
		Uncertainty: spread(lateMeasure, lateSD, trackingHalf),
		Detail:      fmt.Sprintf("timeliness (%.0f%% of the tracking weight): %s; late measure %.2f ± %.2f", 100*share, tr.Detail, lateMeasure, lateSD)}
	inc := Component{Party: tr.Party, Weight: tr.Weight * (1 - share), Value: halving(incidentMeasure, trackingHalf),
		Uncertainty: spread(incidentMeasure, incSD, trackingHalf),
		Detail:      fmt.Sprintf("incidents (%.0f%% of the tracking weight): losses, damage, complaints and empty-parcel suspects → measure %.2f ± %.2f", 100*(1-share), incidentMeasure, incSD)}
	for _, it := range tr.Items {
		switch it.Kind {
		case "delay":
			timely.Items = append(timely.Items, it)
		default:
			it.Effect = round2(timely.Value - 1000)
			timely.Items = append(timely.Items, it)
			it.Effect = round2(inc.Value - 1000)
			inc.Items = append(inc.Items, it)
		}
	}
	return []Component{timely, inc}
}

// delayDetail tells the segments behind a subject's late share.
func delayDetail(m Methodology, c Counts) string {
	var parts []string
	for _, k := range []struct {
		kind string
		n    int
	}{{"pickup", c.SlowPickup}, {"sorting", c.SlowSorting}, {"line_haul", c.SlowLineHaul}, {"last_mile", c.SlowLastMile}} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (norm %g h)", strings.ReplaceAll(k.kind, "_", " "), k.n, m.SegmentNorms[k.kind]))
		}
	}
	out := fmt.Sprintf("%.2f late parcels attributed", float64(c.LateShare)/tracking.ShareUnit)
	if len(parts) > 0 {
		out += "; segments held over their norm on late parcels: " + strings.Join(parts, ", ")
	}
	if c.LateFallback > 0 {
		out += fmt.Sprintf("; %d late parcels delivered with no segment over its norm, counted whole to the delivering outlet", c.LateFallback)
	}
	return out
}

// binomialSE is the standard error of a proportion of k in n, with (k+½)/(n+1) for the
// proportion so that no count, not even none, is taken as certain. Zero for n = 0.
func binomialSE(k, n int) float64 {
	if n <= 0 {
		return 0
	}
	p := (float64(k) + 0.5) / (float64(n) + 1)
	return math.Sqrt(p * (1 - p) / float64(n))
}

// spread is the standard error of halving(measure, half) when the measure has standard error
// sd: half the component's change from one error below (never below zero) to one above.
func spread(measure, sd, half float64) float64 {
	return (halving(math.Max(measure-sd, 0), half) - halving(measure+sd, half)) / 2
}

// ratingPrior is what a subject's ratings shrink toward, by rater kind, and what that mean is
// of, for the explanation.
type ratingPrior struct {
	mean map[RaterKind]float64
	of   map[RaterKind]string
}

// peerPriors gives each subject its rating prior. Under a methodology that shrinks toward the
// peer group (2026.3 on) it is the weighted mean of the ratings of the subject's peer group
// (kind and volume band) without the subject's own, while they weigh at least one; else, and
// under earlier versions, the mean of all firms' ratings.
func peerPriors(m Methodology, subjects map[string]*subjectData, all map[RaterKind]float64, peerOf func(SubjectKind, string, int) string) func(*subjectData) ratingPrior {
	allOf := map[RaterKind]string{RaterMerchant: "all firms", RaterConsumer: "all firms"}
	if m.Evidence == nil || m.Evidence.Shrink != "peer" {
		return func(*subjectData) ratingPrior { return ratingPrior{mean: all, of: allOf} }
	}
	type acc struct{ sum, w float64 }
	own := func(d *subjectData, rk RaterKind) acc {
		var a acc
		for _, r := range d.ratings[rk] {
			a.sum += float64(r.Stars) * r.Weight
			a.w += r.Weight
		}
		return a
	}
	keys := make([]string, 0, len(subjects))
	for k := range subjects {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a fixed order of summing, so that a replay adds up the same
	groups := map[string]map[RaterKind]acc{}
	for _, k := range keys {
		d := subjects[k]
		g := peerOf(d.kind, d.id, d.counts.Handled)
		if groups[g] == nil {
			groups[g] = map[RaterKind]acc{}
		}
		for _, rk := range []RaterKind{RaterMerchant, RaterConsumer} {
			a, o := groups[g][rk], own(d, rk)
			groups[g][rk] = acc{a.sum + o.sum, a.w + o.w}
		}
	}
	return func(d *subjectData) ratingPrior {
		g := peerOf(d.kind, d.id, d.counts.Handled)
		p := ratingPrior{mean: map[RaterKind]float64{}, of: map[RaterKind]string{}}
		for _, rk := range []RaterKind{RaterMerchant, RaterConsumer} {
			a, o := groups[g][rk], own(d, rk)
			if a.w-o.w >= 1 {
				p.mean[rk], p.of[rk] = (a.sum-o.sum)/(a.w-o.w), "peer group "+g+", the subject's own left out"
			} else {
				p.mean[rk], p.of[rk] = all[rk], "all firms: too few peer ratings"
			}
		}
		return p
	}
}

// gradeRange explains how sure a grade is (2026.3 on): the grades within one standard error
// of the score, as a component of no weight. A range of one grade says the grade holds.
func gradeRange(m Methodology, sc *Score) {
	if sc.Grade == Insufficient {
		sc.Components = append(sc.Components, Component{Party: "evidence", Uncertainty: sc.Uncertainty,
			Detail: fmt.Sprintf("score %.0f ± %.0f (one standard error) exceeds %.0f and no record is in force: too little evidence to grade", sc.Value, sc.Uncertainty, m.Evidence.MaxSE)})
		return
	}
	lo, hi := m.grade(math.Max(0, sc.Value-sc.Uncertainty)), m.grade(math.Min(1000, sc.Value+sc.Uncertainty))
	r := string(lo)
	if lo != hi {
		r = string(lo) + "–" + string(hi)
	}
	detail := fmt.Sprintf("score %.0f ± %.0f (one standard error): grade %s", sc.Value, sc.Uncertainty, sc.Grade)
	if lo != hi {
		detail += fmt.Sprintf(", within one standard error %s", r)
	} else {
		detail += ", holds within one standard error"
	}
	sc.Components = append(sc.Components, Component{Party: "evidence", Uncertainty: sc.Uncertainty, Detail: detail,
		Items: []Item{{Kind: "grade_range", Ref: r, Detail: detail}}})
}

// rollUp makes an HQ's score the volume-weighted mean of its tree's own scores (the HQ's own
// included), recursively through branches.
func rollUp(m Methodology, scores map[string]*Score, children map[string][]string, hq string) {
	var members []*Score
	var walk func(id string)
	walk = func(id string) {
		if sc := scores[key(Firm, id)]; sc != nil {
			members = append(members, sc)
		}
		for _, c := range children[id] {
			walk(c)
		}
	}
	walk(hq)
	own := *scores[key(Firm, hq)]
	vol, sum, usum := 0, 0.0, 0.0
	for _, sc := range members {
		if sc.Grade == Insufficient {
			continue
		}
		vol += sc.Parcels
	}
	counted := 0
	for _, sc := range members {
		if sc.Grade == Insufficient {
			continue
		}
		w := 1.0
		if vol > 0 {
			w = float64(sc.Parcels) / float64(vol)
		}
		counted++
		sum += w * sc.Value
		usum += math.Pow(w*sc.Uncertainty, 2)
	}
	hqs := scores[key(Firm, hq)]
	if counted == 0 {
		return
	}
	if vol == 0 {
		sum /= float64(counted)
	}
	total := 0
	for _, sc := range members {
		total += sc.Parcels
	}
	roll := Component{Party: "tree", Weight: 0, Value: round2(sum),
		Detail: fmt.Sprintf("HQ score: the volume-weighted mean of %d firms of the tree (own score %.0f)", counted, own.Value)}
	for _, sc := range members {
		if sc.Grade == Insufficient {
			continue
		}
		roll.Items = append(roll.Items, Item{Kind: "firm", Ref: sc.SubjectID, Effect: round2(sc.Value),
			Detail: fmt.Sprintf("%d parcels, score %.0f", sc.Parcels, sc.Value)})
	}
	hqs.Components = append(hqs.Components, roll)
	hqs.Value = round2(sum)
	hqs.Uncertainty = round2(math.Sqrt(usum))
	hqs.Parcels = total
	hqs.Grade = m.grade(hqs.Value)
}
