package synth_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/synth"
)

func size(t *testing.T, name string) synth.Size {
	t.Helper()
	s, err := synth.Named(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewIsDeterministic(t *testing.T) {
	for _, name := range []string{"tiny", "small"} {
		t.Run(name, func(t *testing.T) {
			s := size(t, name)
			a, b := synth.New(42, s), synth.New(42, s)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("two worlds of seed 42, size %s differ", name)
			}
			if a.Events() == 0 || len(a.Firms) == 0 {
				t.Fatalf("world of size %s is empty: %d firms, %d events", name, len(a.Firms), a.Events())
			}
		})
	}
}

func TestSeedsDiffer(t *testing.T) {
	s := size(t, "tiny")
	a, b := synth.New(1, s), synth.New(2, s)
	if reflect.DeepEqual(a, b) {
		t.Fatal("worlds of seeds 1 and 2 are equal")
	}
	usccs := map[string]bool{}
	for _, f := range a.Firms {
		usccs[f.USCC] = true
	}
	for _, f := range b.Firms {
		if usccs[f.USCC] {
			t.Errorf("USCC %s is in the worlds of both seeds", f.USCC)
		}
	}
	waybills := map[string]bool{}
	for _, p := range a.Parcels {
		waybills[p.Waybill] = true
	}
	for _, p := range b.Parcels {
		if waybills[p.Waybill] {
			t.Errorf("waybill %s is in the worlds of both seeds", p.Waybill)
		}
	}
}

func TestIdentifiersAreValid(t *testing.T) {
	w := synth.New(7, size(t, "small"))
	seen := map[string]bool{}
	once := func(kind, v string) {
		t.Helper()
		if seen[kind+v] {
			t.Errorf("%s %s given out twice", kind, v)
		}
		seen[kind+v] = true
	}
	for _, f := range w.Firms {
		if why := courier.CheckUSCC(f.USCC); why != "" {
			t.Errorf("firm %s: USCC %s: %s", f.Ref, f.USCC, why)
		}
		if why := courier.CheckRegion(f.Region); why != "" {
			t.Errorf("firm %s: region %s: %s", f.Ref, f.Region, why)
		}
		once("uscc", f.USCC)
	}
	for _, p := range w.Staff {
		if why := courier.CheckResidentID(p.IDNumber); why != "" {
			t.Errorf("person %s: ID number: %s", p.Ref, why)
		}
		if why := courier.CheckPhone(p.Phone); why != "" {
			t.Errorf("person %s: phone: %s", p.Ref, why)
		}
		once("id", p.IDNumber)
	}
	planted := map[string]bool{} // reused numbers are given out twice on purpose, at two carriers
	for _, m := range w.Truth.Manipulations {
		if m.Kind == synth.ManipReused {
			planted[m.Waybills[0]] = true
		}
	}
	if len(planted) == 0 {
		t.Error("no reused waybill planted")
	}
	for _, p := range w.Parcels {
		if why := courier.CheckPhone(p.RecipientPhone); why != "" {
			t.Errorf("parcel %s: recipient phone %s: %s", p.Waybill, p.RecipientPhone, why)
		}
		if planted[p.Waybill] {
			once("waybill", p.Carrier+"|"+p.Waybill)
			continue
		}
		once("waybill", p.Waybill)
	}
	for _, s := range w.Sites {
		if why := courier.CheckRegion(s.Region); why != "" {
			t.Errorf("site %s: region %s: %s", s.Ref, s.Region, why)
		}
	}
}

// world indexes a world the way the service will see it.
type world struct {
	synth.World
	firm   map[string]synth.Firm
	site   map[string]synth.Site
	person map[string]synth.Person
}

func index(w synth.World) world {
	x := world{World: w, firm: map[string]synth.Firm{}, site: map[string]synth.Site{}, person: map[string]synth.Person{}}
	for _, f := range w.Firms {
		x.firm[f.Ref] = f
	}
	for _, s := range w.Sites {
		x.site[s.Ref] = s
	}
	for _, p := range w.Staff {
		x.person[p.Ref] = p
	}
	return x
}

// TestEventsPassTheServiceRules checks what POST /v1/events would refuse: unknown references,
// sites and couriers outside the carrier's tree (couriers by their employer at the end), events
// after the end, deliveries without a signer, collection fields on other events.
func TestEventsPassTheServiceRules(t *testing.T) {
	w := index(synth.New(3, size(t, "small")))
	for i, f := range w.Firms {
		if f.Parent != "" {
			p, ok := w.firm[f.Parent]
			if !ok {
				t.Fatalf("firm %s: parent %s unknown", f.Ref, f.Parent)
			}
			for _, g := range w.Firms[i:] {
				if g.Ref == f.Parent {
					t.Errorf("firm %s comes before its parent %s", f.Ref, f.Parent)
				}
			}
			if p.Kind == synth.KindOutlet {
				t.Errorf("firm %s has an outlet as parent", f.Ref)
			}
		}
		if !f.Licence.ValidTo.After(w.End) {
			t.Errorf("firm %s: licence expired at %s, before the end %s", f.Ref, f.Licence.ValidTo, w.End)
		}
	}
	hqOf := func(firm string) string { return w.firm[firm].HQ }
	for _, p := range w.Staff {
		for i, e := range p.Employment {
			if i > 0 && !e.From.After(p.Employment[i-1].From) {
				t.Errorf("person %s: employment %d starts before the previous one", p.Ref, i)
			}
			if e.From.After(w.End) {
				t.Errorf("person %s: employment starts after the end", p.Ref)
			}
		}
	}
	for bi, b := range w.Batches {
		if n := len(b.Events); n == 0 || n > synth.BatchSize {
			t.Errorf("batch %d has %d events", bi, n)
		}
		if w.firm[b.Carrier].Kind != synth.KindHQ {
			t.Errorf("batch %d carrier %s is not an HQ", bi, b.Carrier)
		}
		for _, e := range b.Events {
			if e.Carrier != b.Carrier {
				t.Errorf("event %s of carrier %s in a batch of %s", e.ID, e.Carrier, b.Carrier)
			}
			if e.At.After(w.End) {
				t.Errorf("event %s at %s, after the end %s", e.ID, e.At, w.End)
			}
			if e.Site != "" {
				s, ok := w.site[e.Site]
				if !ok || hqOf(s.Firm) != e.Carrier {
					t.Errorf("event %s: site %s is not in the tree of %s", e.ID, e.Site, e.Carrier)
				}
			}
			if e.Staff != "" {
				p, ok := w.person[e.Staff]
				if !ok || hqOf(p.Employment[len(p.Employment)-1].Firm) != e.Carrier {
					t.Errorf("event %s: %s does not work for the tree of %s at the end", e.ID, e.Staff, e.Carrier)
				}
			}
			delivered := e.Code == "delivered" || (e.Carrier == "hq02" && e.Code == "60")
			if delivered != (e.Signer != "") {
				t.Errorf("event %s (%s) has signer %q", e.ID, e.Code, e.Signer)
			}
			collected := e.Code == "collected" || (e.Carrier == "hq02" && e.Code == "10")
			if !collected && (e.Merchant != "" || e.RecipientPhone != "") {
				t.Errorf("event %s (%s) carries collection fields", e.ID, e.Code)
			}
		}
	}
	var mapped synth.Firm
	for _, f := range w.Firms {
		if f.Codes != nil {
			mapped = f
		}
	}
	if mapped.Ref != "hq02" {
		t.Errorf("the carrier with its own codes is %q, want hq02 (the test reads its codes)", mapped.Ref)
	}
}

// TestChainsLookReal checks the shape of the parcels' stories: 6 to 12 events for a complete
// ordinary parcel, collected first, delivered last, plausible dwell times, and the stream of
// each carrier holding duplicates, out-of-order events and events late by hours.
func TestChainsLookReal(t *testing.T) {
	w := synth.New(11, size(t, "small"))
	codes := map[string]string{}
	for _, f := range w.Firms {
		for k, v := range f.Codes {
			codes[f.Ref+"|"+k] = v
		}
	}
	norm := func(e synth.Event) string {
		if c, ok := codes[e.Carrier+"|"+e.Code]; ok {
			return c
		}
		return e.Code
	}
	type sent struct {
		e     synth.Event
		order int
	}
	byWaybill := map[string][]sent{}
	firstSeen := map[string]synth.Event{}
	dups, order := 0, 0
	for _, b := range w.Batches {
		for _, e := range b.Events {
			if f, ok := firstSeen[e.ID]; ok {
				if !reflect.DeepEqual(f, e) {
					t.Errorf("event %s sent twice with different content", e.ID)
				}
				dups++
				continue
			}
			firstSeen[e.ID] = e
			// By carrier and number: a reused number is two parcels, one at each carrier.
			byWaybill[e.Carrier+"|"+e.Waybill] = append(byWaybill[e.Carrier+"|"+e.Waybill], sent{e, order})
			order++
		}
	}
	outOfOrder, lateByHours := 0, 0
	for _, p := range w.Parcels {
		evs := byWaybill[p.Carrier+"|"+p.Waybill]
		if len(evs) != p.Events {
			t.Fatalf("parcel %s: %d events sent, parcel says %d", p.Waybill, len(evs), p.Events)
		}
		for i := range evs {
			for j := i + 1; j < len(evs); j++ {
				if evs[j].e.At.Before(evs[i].e.At) { // sent later, happened earlier
					outOfOrder++
					if evs[i].e.At.Sub(evs[j].e.At) >= time.Hour {
						lateByHours++
					}
				}
			}
		}
		sorted := append([]sent(nil), evs...)
		for i := 1; i < len(sorted); i++ {
			for j := i; j > 0 && sorted[j].e.At.Before(sorted[j-1].e.At); j-- {
				sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
			}
		}
		if norm(sorted[0].e) != "collected" {
			t.Errorf("parcel %s starts with %s", p.Waybill, norm(sorted[0].e))
		}
		for i := 1; i < len(sorted); i++ {
			if gap := sorted[i].e.At.Sub(sorted[i-1].e.At); gap <= 0 || gap > 100*time.Hour {
				t.Errorf("parcel %s: %s after %s: dwell %s", p.Waybill, norm(sorted[i].e), norm(sorted[i-1].e), gap)
			}
		}
		if p.DeliveredAt.IsZero() || p.Kind == synth.ParcelEmpty {
			continue
		}
		if n := len(evs); n < 6 || n > 12 {
			t.Errorf("delivered parcel %s (%s) has %d events, want 6 to 12", p.Waybill, p.Kind, n)
		}
		if last := norm(sorted[len(sorted)-1].e); last != "delivered" {
			t.Errorf("delivered parcel %s ends with %s", p.Waybill, last)
		}
		if p.DeliveredAt.Sub(p.CollectedAt) > 10*24*time.Hour {
			t.Errorf("parcel %s took %s", p.Waybill, p.DeliveredAt.Sub(p.CollectedAt))
		}
	}
	if dups == 0 || outOfOrder == 0 || lateByHours == 0 {
		t.Errorf("carriers' streams: %d duplicates, %d out of order, %d late by an hour or more; want some of each", dups, outOfOrder, lateByHours)
	}
}

// TestWorldTellsEveryStory checks that even a tiny world has every case a page or a rule
// needs: every incident kind, complaints, an objection, bought and malicious ratings, a
// campaign of empty parcels, couriers who changed jobs.
func TestWorldTellsEveryStory(t *testing.T) {
	w := index(synth.New(5, size(t, "tiny")))
	kinds := map[string]int{}
	for _, in := range w.Incidents {
		kinds[in.Kind]++
	}
	for _, k := range []string{"lost", "damaged", "delayed", "false_signature", "empty_parcel"} {
		if kinds[k] == 0 {
			t.Errorf("no %s incident (incidents: %v)", k, kinds)
		}
	}
	if len(w.Complaints) == 0 {
		t.Error("no complaints")
	}
	objections := 0
	for _, c := range w.Complaints {
		if c.Objection != "" {
			objections++
			if !c.Confirm {
				t.Errorf("objection to a complaint that is not confirmed")
			}
		}
	}
	if objections != 1 {
		t.Errorf("%d objections, want 1", objections)
	}
	bought, malicious := 0, map[string]int{}
	for _, r := range w.Ratings {
		if r.Stars < 1 || r.Stars > 5 {
			t.Errorf("rating of %s has %d stars", r.Waybill, r.Stars)
		}
		switch r.Kind {
		case synth.RatingBought:
			bought++
			if r.Stars != 5 {
				t.Errorf("bought rating with %d stars", r.Stars)
			}
		case synth.RatingMalicious:
			malicious[r.Merchant]++
		}
	}
	if bought == 0 {
		t.Error("no bought five-star ratings")
	}
	if len(malicious) != 1 {
		t.Errorf("malicious raters %v, want one merchant", malicious)
	}
	for m, n := range malicious {
		if n < 5 {
			t.Errorf("merchant %s gives %d malicious one-star ratings, want a burst of 5 or more", m, n)
		}
	}
	if len(w.Campaigns) == 0 {
		t.Fatal("no empty-parcel campaign")
	}
	for _, c := range w.Campaigns {
		for _, wb := range c.Waybills {
			for _, b := range w.Batches {
				for _, e := range b.Events {
					if e.Waybill == wb && e.WeightGrams >= 30 {
						t.Errorf("campaign parcel %s weighs %d g", wb, e.WeightGrams)
					}
				}
			}
		}
	}
	within, across := 0, 0
	for _, p := range w.Staff {
		if len(p.Employment) < 2 {
			continue
		}
		a, b := p.Employment[0].Firm, p.Employment[len(p.Employment)-1].Firm
		if w.firm[a].HQ == w.firm[b].HQ {
			within++
		} else {
			across++
		}
	}
	if within == 0 || across == 0 {
		t.Errorf("employment changes: %d within a brand, %d across brands; want both", within, across)
	}
}

func TestShift(t *testing.T) {
	w := synth.New(9, size(t, "tiny"))
	before := synth.New(9, size(t, "tiny"))
	d := 36 * time.Hour
	w.Shift(d)
	if got := w.End.Sub(before.End); got != d {
		t.Errorf("End moved by %s, want %s", got, d)
	}
	if got := w.Batches[0].Events[0].At.Sub(before.Batches[0].Events[0].At); got != d {
		t.Errorf("first event moved by %s, want %s", got, d)
	}
	if got := w.Staff[0].Employment[0].From.Sub(before.Staff[0].Employment[0].From); got != d {
		t.Errorf("employment moved by %s, want %s", got, d)
	}
	if got := w.Incidents[0].At.Sub(before.Incidents[0].At); got != d {
		t.Errorf("incident moved by %s, want %s", got, d)
	}
	if got := w.Ratings[0].At.Sub(before.Ratings[0].At); got != d {
		t.Errorf("rating moved by %s, want %s", got, d)
	}
}

// TestRatingTimes checks when raters rate: never before the delivery nor after the end, honest
// raters hours to days after the delivery, a smear's and a campaign's ratings within hours of
// each other, and consumers under a stable pseudonym that is not their phone.
func TestRatingTimes(t *testing.T) {
	w := synth.New(3, size(t, "small"))
	delivered, phone := map[string]time.Time{}, map[string]string{}
	for _, p := range w.Parcels {
		delivered[p.Waybill], phone[p.Waybill] = p.DeliveredAt, p.RecipientPhone
	}
	campaign := map[string]int{}
	for i, c := range w.Campaigns {
		for _, wb := range c.Waybills {
			campaign[wb] = i
		}
	}
	type span struct{ lo, hi time.Time }
	bursts := map[string]*span{} // kind|merchant → the span of its ratings' times
	var lags []time.Duration
	for _, r := range w.Ratings {
		d := delivered[r.Waybill]
		if r.At.IsZero() || r.At.Before(d) || r.At.After(w.End) {
			t.Fatalf("rating of %s at %s: want between the delivery %s and the end %s", r.Waybill, r.At, d, w.End)
		}
		if r.By == synth.ByConsumer && (r.Buyer != synth.BuyerID(phone[r.Waybill]) || r.Buyer == "" || strings.Contains(r.Buyer, phone[r.Waybill])) {
			t.Errorf("consumer rating of %s by buyer %q: want the pseudonym of the recipient", r.Waybill, r.Buyer)
		}
		if r.Kind == "" {
			lags = append(lags, r.At.Sub(d))
			continue
		}
		k := r.Kind + "|" + r.Merchant
		if r.Kind == synth.RatingBought {
			k = fmt.Sprintf("%s|campaign %d", r.Kind, campaign[r.Waybill])
		}
		s := bursts[k]
		if s == nil {
			s = &span{r.At, r.At}
			bursts[k] = s
		}
		if r.At.Before(s.lo) {
			s.lo = r.At
		}
		if r.At.After(s.hi) {
			s.hi = r.At
		}
	}
	for k, s := range bursts {
		if limit := map[bool]time.Duration{true: 2 * time.Hour, false: 4 * time.Hour}[strings.HasPrefix(k, synth.RatingMalicious)]; s.hi.Sub(s.lo) > limit {
			t.Errorf("%s: ratings over %s, want a burst within %s", k, s.hi.Sub(s.lo), limit)
		}
	}
	if len(bursts) == 0 || len(lags) < 100 {
		t.Fatalf("%d bursts, %d honest ratings; want both", len(bursts), len(lags))
	}
	slices.Sort(lags)
	if med := lags[len(lags)/2]; med < 2*time.Hour || med > 3*24*time.Hour {
		t.Errorf("median honest lag %s, want hours to days", med)
	}
	if lags[len(lags)-1]-lags[0] < 24*time.Hour {
		t.Errorf("honest lags from %s to %s, want them spread over more than a day", lags[0], lags[len(lags)-1])
	}
	again := synth.New(3, size(t, "small"))
	for i := range w.Ratings {
		if !w.Ratings[i].At.Equal(again.Ratings[i].At) {
			t.Fatalf("rating %d at %s, then %s: want the same seed to give the same times", i, w.Ratings[i].At, again.Ratings[i].At)
		}
	}
}

// TestEventJSON checks that an event marshals into the fields POST /v1/events takes, with the
// references resolved and times carrying their offset.
func TestEventJSON(t *testing.T) {
	w := synth.New(1, size(t, "tiny"))
	var e synth.Event
	for _, b := range w.Batches {
		for _, x := range b.Events {
			if x.Code == "collected" {
				e = x
			}
		}
	}
	e = e.Resolve(func(ref string) string { return "id-" + ref })
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"id": true, "waybill": true, "carrier": true, "code": true, "at": true, "site": true, "staff": true, "holder": true,
		"region": true, "lat": true, "lng": true, "weight_g": true, "signer": true, "merchant": true, "recipient_phone": true, "remark": true}
	for k := range got {
		if !allowed[k] {
			t.Errorf("event JSON has field %q, which POST /v1/events does not take", k)
		}
	}
	for _, k := range []string{"id", "waybill", "carrier", "code", "at", "merchant", "recipient_phone", "weight_g"} {
		if _, ok := got[k]; !ok {
			t.Errorf("collection event JSON lacks %q: %s", k, raw)
		}
	}
	if c, _ := got["carrier"].(string); len(c) < 4 || c[:3] != "id-" {
		t.Errorf("carrier = %v, want a resolved id", got["carrier"])
	}
	at, _ := got["at"].(string)
	if _, err := time.Parse(time.RFC3339, at); err != nil || at[len(at)-6:] != "+08:00" {
		t.Errorf("at = %q, want RFC 3339 with +08:00", at)
	}
}

func TestNamedSizes(t *testing.T) {
	for _, name := range synth.Sizes {
		s := size(t, name)
		if err := s.Validate(); err != nil {
			t.Errorf("size %s: %v", name, err)
		}
	}
	if _, err := synth.Named("huge"); err == nil {
		t.Error("Named(huge) = nil error, want an unknown size")
	}
	if err := (synth.Size{}).Validate(); err == nil {
		t.Error("zero size validates")
	}
}

// TestTruthDrivesTheWorld checks that the answer key is what made the world: the worse half of
// the outlets delivers late and gets low stars more often than the better half, their
// inspections find more, tiny outlets stay tiny, and every manipulation names what it planted.
func TestTruthDrivesTheWorld(t *testing.T) {
	w := synth.New(2, size(t, "small"))
	tr := w.Truth
	if len(tr.Outlets) == 0 || len(tr.Sites) != len(w.Sites) || len(tr.Couriers) == 0 {
		t.Fatalf("truth of %d outlets, %d sites (world %d), %d couriers", len(tr.Outlets), len(tr.Sites), len(w.Sites), len(tr.Couriers))
	}
	for _, m := range []map[string]float64{tr.Outlets, tr.Sites, tr.Couriers} {
		for ref, q := range m {
			if q < 0 || q > 1 {
				t.Errorf("%s has quality %v outside [0,1]", ref, q)
			}
		}
	}
	var qs []float64
	for _, q := range tr.Outlets {
		qs = append(qs, q)
	}
	sort.Float64s(qs)
	median := qs[len(qs)/2]
	worse := func(ref string) bool { return tr.Outlets[ref] < median }
	type tally struct{ parcels, trouble, ratings, low, findings int }
	var good, bad tally
	at := func(ref string) *tally {
		if worse(ref) {
			return &bad
		}
		return &good
	}
	for _, p := range w.Parcels {
		if p.Kind == synth.ParcelEmpty || p.DeliveredAt.IsZero() && p.Kind != synth.ParcelLost {
			continue
		}
		x := at(p.Dest)
		x.parcels++
		if p.Kind != synth.ParcelNormal && p.Kind != synth.ParcelReused {
			x.trouble++
		}
	}
	dest := map[string]string{}
	for _, p := range w.Parcels {
		dest[p.Waybill] = p.Dest
	}
	for _, r := range w.Ratings {
		if r.Kind != "" {
			continue
		}
		x := at(dest[r.Waybill])
		x.ratings++
		if r.Stars <= 2 {
			x.low++
		}
	}
	for _, in := range w.Inspections {
		if in.SubjectKind == "firm" {
			at(in.Subject).findings++
		}
	}
	share := func(n, of int) float64 { return float64(n) / float64(max(of, 1)) }
	if share(bad.trouble, bad.parcels) <= share(good.trouble, good.parcels) {
		t.Errorf("trouble at the worse outlets %d/%d, at the better %d/%d: want more at the worse", bad.trouble, bad.parcels, good.trouble, good.parcels)
	}
	if share(bad.low, bad.ratings) <= share(good.low, good.ratings) {
		t.Errorf("low stars at the worse outlets %d/%d, at the better %d/%d: want more at the worse", bad.low, bad.ratings, good.low, good.ratings)
	}
	if bad.findings <= good.findings {
		t.Errorf("inspection findings: %d at the worse outlets, %d at the better: want more at the worse", bad.findings, good.findings)
	}
	if len(tr.Tiny) == 0 {
		t.Fatal("no tiny outlet planted")
	}
	for _, ref := range tr.Tiny {
		n := 0
		for _, p := range w.Parcels {
			if p.Dest == ref {
				n++
			}
			if p.Origin == ref {
				t.Errorf("tiny outlet %s collects parcel %s", ref, p.Waybill)
			}
		}
		if n > synth.TinyDeliveries {
			t.Errorf("tiny outlet %s delivers %d parcels, want at most %d", ref, n, synth.TinyDeliveries)
		}
		for _, in := range w.Inspections {
			if in.Subject == ref {
				t.Errorf("tiny outlet %s inspected", ref)
			}
		}
	}
	kinds := map[string]int{}
	for _, m := range tr.Manipulations {
		kinds[m.Kind]++
		if len(m.Waybills) == 0 {
			t.Errorf("%s manipulation names no waybill", m.Kind)
		}
	}
	for _, k := range []string{synth.ManipBought, synth.ManipSmear, synth.ManipReused} {
		if kinds[k] == 0 {
			t.Errorf("no %s planted (%v)", k, kinds)
		}
	}
}
