// Package synth builds a synthetic courier world: brand HQs with their branches and outlets,
// sites, staff who change jobs, merchants, parcels whose tracking events arrive the way real
// carriers send them (duplicated, out of order, late), incidents, complaints, inspection
// findings, ratings honest and bought, and empty-parcel campaigns.
//
// Every world has an answer key, World.Truth, which no party sends: a true quality per outlet,
// site and courier that drives what happens (each leg's dwell, delays, silent losses, damage
// and failed deliveries follow the holder of that leg; stars, complaints and inspection
// findings follow the outlet and courier), and the manipulation planted in it (bought
// five-star bursts on empty-parcel campaigns, a smear burst, reused waybill numbers, tiny
// outlets). The validity bench (credtrace bench -validity) scores a world and compares.
//
// It is its own folder because three consumers share it and none of them owns it: `credtrace
// gen` writes a world through the HTTP API, the bench can stream its events, and tests build
// small worlds from it. It is not a domain package: it borrows only courier's check characters,
// and knows the service through the shapes of its API, so a world can be written to any deployment.
//
// A world is a plain value, deterministic from its seed and size: New with the same arguments
// gives a deeply equal World. Objects refer to each other by world references (Firm.Ref,
// Site.Ref, Person.Ref): the service assigns its own ids on registration, and the writer maps
// references to ids (Event.Resolve).
package synth

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Size says how large a world is.
type Size struct {
	HQs               int // brand headquarters, each the root of a franchise tree
	BranchesPerHQ     int // city branches of each HQ, each with a sorting centre
	OutletsPerBranch  int // outlets (营业部) of each branch, each with an outlet site
	LockersPerOutlet  int // parcel stations and lockers (驿站) of each outlet
	CouriersPerOutlet int
	SortersPerCentre  int // sorting-centre staff of each HQ hub and branch
	Merchants         int
	Parcels           int // ordinary parcels, besides the empty-parcel campaigns
	Campaigns         int // empty-parcel campaigns (10 g collections delivered without transit)
	CampaignParcels   int // parcels of each campaign
	Days              int // how far before the world's end the first collections go
}

// Sizes are the named sizes, smallest first: tiny is for tests, small is the demo's district,
// district and large are for volume.
var Sizes = []string{"tiny", "small", "district", "large"}

// Named returns the size called name (one of Sizes).
func Named(name string) (Size, error) {
	switch name {
	case "tiny":
		return Size{HQs: 2, BranchesPerHQ: 1, OutletsPerBranch: 2, LockersPerOutlet: 1, CouriersPerOutlet: 2, SortersPerCentre: 1,
			Merchants: 6, Parcels: 60, Campaigns: 1, CampaignParcels: 6, Days: 12}, nil
	case "small":
		return Size{HQs: 3, BranchesPerHQ: 2, OutletsPerBranch: 3, LockersPerOutlet: 1, CouriersPerOutlet: 3, SortersPerCentre: 2,
			Merchants: 30, Parcels: 1500, Campaigns: 1, CampaignParcels: 40, Days: 30}, nil
	case "district":
		return Size{HQs: 6, BranchesPerHQ: 4, OutletsPerBranch: 5, LockersPerOutlet: 2, CouriersPerOutlet: 4, SortersPerCentre: 3,
			Merchants: 200, Parcels: 30000, Campaigns: 3, CampaignParcels: 120, Days: 60}, nil
	case "large":
		return Size{HQs: 12, BranchesPerHQ: 8, OutletsPerBranch: 8, LockersPerOutlet: 2, CouriersPerOutlet: 6, SortersPerCentre: 4,
			Merchants: 1500, Parcels: 100000, Campaigns: 6, CampaignParcels: 150, Days: 90}, nil
	}
	return Size{}, fmt.Errorf("unknown size %q (want one of %v)", name, Sizes)
}

// limits are each field's flag name and range.
func (s *Size) limits() []struct {
	name   string
	v      *int
	lo, hi int
} {
	return []struct {
		name   string
		v      *int
		lo, hi int
	}{
		{"hqs", &s.HQs, 1, len(brands) * 4}, {"branches", &s.BranchesPerHQ, 1, 64}, {"outlets", &s.OutletsPerBranch, 1, 64},
		{"lockers", &s.LockersPerOutlet, 0, 16}, {"couriers", &s.CouriersPerOutlet, 1, 64}, {"sorters", &s.SortersPerCentre, 1, 64},
		{"merchants", &s.Merchants, 1, 1_000_000}, {"parcels", &s.Parcels, 0, 10_000_000}, {"campaigns", &s.Campaigns, 0, 1000},
		{"campaign parcels", &s.CampaignParcels, 0, 100_000}, {"days", &s.Days, 2, 3650},
	}
}

// Validate reports the first field out of range, or nil.
func (s Size) Validate() error {
	for _, l := range s.limits() {
		if *l.v < l.lo || *l.v > l.hi {
			return fmt.Errorf("%s: %d is outside %d–%d", l.name, *l.v, l.lo, l.hi)
		}
	}
	return nil
}

// World is everything a synthetic district holds, in the order a writer registers it: firms
// (parents before children), sites, staff, merchants, then the carriers' event batches, and
// what parties report once the parcels have moved.
type World struct {
	Seed uint64
	Size Size
	// End is the world's present: no event, report or signature is later. Shift moves the world
	// so that End is another instant (a writer makes it now).
	End         time.Time
	Firms       []Firm
	Sites       []Site
	Staff       []Person
	Merchants   []Merchant
	Commitments []Commitment
	Parcels     []Parcel
	Campaigns   []Campaign
	// Batches are each carrier's uploads in the order it sends them, at most BatchSize events
	// each; a carrier's batches must be sent in order, carriers may send side by side.
	Batches    []Batch
	Incidents  []Incident
	Complaints []Complaint
	// Inspections are the regulator's own findings, entered and confirmed as records.
	Inspections []Inspection
	Ratings     []Rating
	// Truth is what no party sends: the qualities behind the world and what was planted in it.
	Truth Truth
}

// BatchSize is the most events in one Batch.
const BatchSize = 1000

// Firm kinds, site kinds and roles, as the API names them.
const (
	KindHQ     = "hq"
	KindBranch = "branch"
	KindOutlet = "outlet"

	SiteSortingCentre = "sorting_centre"
	SiteOutlet        = "outlet"
	SiteLocker        = "locker"

	RoleCourier = "courier"
	RoleSorter  = "sorter"
)

// Firm is a courier firm of a franchise tree.
type Firm struct {
	Ref     string // the world's name for the firm
	Parent  string // Ref of the parent, "" for an HQ
	HQ      string // Ref of the brand HQ at the root of the tree (its own Ref for an HQ)
	USCC    string
	Name    string
	Kind    string
	Region  string
	Licence Licence
	// Carrier settings, on HQs only: the waybill prefix, the delivery promise, and the
	// carrier's own event codes mapped to normalised codes (nil when it sends normalised codes).
	Prefix       string
	PromiseHours int
	Codes        map[string]string
}

// Licence is a firm's courier business licence.
type Licence struct {
	Number, Scope, Status string
	ValidFrom, ValidTo    time.Time
}

// Site is a sorting centre, outlet or locker of a firm.
type Site struct {
	Ref, Firm, Name, Kind, Region, Address string
}

// Person is a member of staff with their employments, oldest first; each employment starts
// after the previous one and closes it.
type Person struct {
	Ref, Name  string
	IDNumber   string // resident ID number, GB 11643
	Phone      string
	Employment []Employment
}

// Employment is a stint at a firm.
type Employment struct {
	Firm string // Ref
	Role string
	From time.Time
}

// Merchant is a shop that ships with one carrier from one outlet.
type Merchant struct {
	ID, Name, Region string
	Carrier          string // HQ Ref
	Outlet           string // outlet firm Ref where its parcels are collected
	// Malicious merchants bury a carrier in one-star ratings after a dispute; campaign
	// merchants run empty-parcel campaigns and buy five-star ratings for them.
	Malicious, Campaign bool
}

// Commitment is a credit commitment (信用承诺) a firm signs.
type Commitment struct {
	Firm, Text, Scope, Signer string
	SignedAt                  time.Time
}

// Parcel kinds: what happens to a parcel, which its events show.
const (
	ParcelNormal         = "normal"
	ParcelFailed         = "failed"          // a failed delivery attempt, then held for pickup
	ParcelDelayed        = "delayed"         // stuck at a sorting centre past the promise
	ParcelDamaged        = "damaged"         // damaged at a sorting centre, delivered anyway
	ParcelLost           = "lost"            // its events stop mid-way
	ParcelFalseSignature = "false_signature" // signed for by the courier, not the recipient
	ParcelEmpty          = "empty"           // an empty-parcel campaign's 10 g parcel
	ParcelReused         = "reused"          // an ordinary parcel under a number another carrier used
)

// Parcel is the truth about one waybill; its events are in the carrier's batches.
type Parcel struct {
	Waybill        string
	Carrier        string // HQ Ref
	Merchant       string
	RecipientPhone string
	Origin, Dest   string // outlet firm Refs
	Kind           string
	CollectedAt    time.Time
	DeliveredAt    time.Time // zero while in flight, and for lost parcels
	Courier        string    // Person Ref who delivered it, "" when it was picked up from a locker
	Events         int       // events in the batches, duplicates not counted
}

// Campaign is an empty-parcel campaign: a burst of light collections delivered without transit.
type Campaign struct {
	Merchant string
	Outlet   string
	At       time.Time
	Waybills []string
}

// Holder names who holds a parcel after an event, by world references.
type Holder struct {
	Firm      string `json:"firm,omitempty"`
	Site      string `json:"site,omitempty"`
	Staff     string `json:"staff,omitempty"`
	Recipient bool   `json:"recipient,omitempty"`
}

// Event is one tracking event in the shape of POST /v1/events, with world references in
// Carrier, Site, Staff and Holder: Resolve turns them into the service's ids.
type Event struct {
	ID             string    `json:"id"`
	Waybill        string    `json:"waybill"`
	Carrier        string    `json:"carrier"`
	Code           string    `json:"code"`
	At             time.Time `json:"at"`
	Site           string    `json:"site,omitempty"`
	Staff          string    `json:"staff,omitempty"`
	Holder         *Holder   `json:"holder,omitempty"`
	Region         string    `json:"region,omitempty"`
	WeightGrams    int       `json:"weight_g,omitempty"`
	Signer         string    `json:"signer,omitempty"`
	Merchant       string    `json:"merchant,omitempty"`
	RecipientPhone string    `json:"recipient_phone,omitempty"`
	Remark         string    `json:"remark,omitempty"`
}

// Resolve returns e with its references replaced by id(ref).
func (e Event) Resolve(id func(ref string) string) Event {
	e.Carrier = id(e.Carrier)
	if e.Site != "" {
		e.Site = id(e.Site)
	}
	if e.Staff != "" {
		e.Staff = id(e.Staff)
	}
	if e.Holder != nil {
		h := *e.Holder
		if h.Firm != "" {
			h.Firm = id(h.Firm)
		}
		if h.Site != "" {
			h.Site = id(h.Site)
		}
		if h.Staff != "" {
			h.Staff = id(h.Staff)
		}
		e.Holder = &h
	}
	return e
}

// Batch is one upload of a carrier.
type Batch struct {
	Carrier string // HQ Ref: the carrier whose token sends it
	Events  []Event
}

// Inspection is a fault the regulator found in a routine inspection (日常监管检查): a
// supervision record by the regulator, confirmed at once.
type Inspection struct {
	SubjectKind string // firm or site
	Subject     string // its Ref
	Severity    string
	OccurredAt  time.Time
	Summary     string
	Document    string // the inspection report's number, the record's evidence
}

// Reporters of incidents and ratings.
const (
	ByRegulator = "regulator"
	ByMerchant  = "merchant"
	ByConsumer  = "consumer"
)

// Incident is a report about a parcel, by a regulator (on a consumer's call to 12305) or by the
// merchant who shipped it.
type Incident struct {
	Waybill     string
	Kind        string // lost, damaged, delayed, false_signature, empty_parcel
	By          string // ByRegulator or ByMerchant
	Merchant    string // the merchant's ID when By is ByMerchant
	Reporter    string
	At          time.Time
	Description string
	// Confirm says the regulator confirms the records the back-tracking proposes.
	Confirm bool
}

// Complaint is a consumer complaint a regulator enters as a credit record (source consumer).
type Complaint struct {
	SubjectKind string // firm, site or staff
	Subject     string // its Ref
	Waybill     string
	Severity    string
	OccurredAt  time.Time
	Summary     string
	Confirm     bool   // the regulator confirms it
	Objection   string // when not "", the carrier's HQ objects to the confirmed record with these reasons
}

// Rating kinds besides honest ones.
const (
	RatingBought    = "bought"    // five stars on an empty-parcel campaign
	RatingMalicious = "malicious" // a one-star burst by one merchant
)

// Rating is a rating of a delivered parcel by its merchant, or by its recipient, as the
// platform they trade on forwards it: At is when the rater gave it, never before the parcel's
// delivery nor after the world's End.
type Rating struct {
	By       string // ByMerchant or ByConsumer
	Merchant string // the rating merchant's ID
	Waybill  string
	Phone4   string // for consumers: the last four digits of the recipient's phone
	Buyer    string // for consumers: the platform's pseudonymous id of the recipient (see BuyerID)
	At       time.Time
	Stars    int
	Tags     []string
	Comment  string
	Kind     string // "", RatingBought or RatingMalicious
}

// HQs returns the brand HQs.
func (w World) HQs() []Firm {
	var out []Firm
	for _, f := range w.Firms {
		if f.Kind == KindHQ {
			out = append(out, f)
		}
	}
	return out
}

// Events counts the events of all batches, re-sent duplicates included.
func (w World) Events() int {
	n := 0
	for _, b := range w.Batches {
		n += len(b.Events)
	}
	return n
}

// Shift moves every instant of the world by d, in place: a writer shifts the world so that End
// is now, since the service refuses events from the future and scores what lies before now.
func (w *World) Shift(d time.Duration) {
	w.End = w.End.Add(d)
	for i := range w.Firms {
		l := &w.Firms[i].Licence
		l.ValidFrom, l.ValidTo = l.ValidFrom.Add(d), l.ValidTo.Add(d)
	}
	for i := range w.Staff {
		for j := range w.Staff[i].Employment {
			e := &w.Staff[i].Employment[j]
			e.From = e.From.Add(d)
		}
	}
	for i := range w.Commitments {
		w.Commitments[i].SignedAt = w.Commitments[i].SignedAt.Add(d)
	}
	for i := range w.Parcels {
		p := &w.Parcels[i]
		p.CollectedAt = p.CollectedAt.Add(d)
		if !p.DeliveredAt.IsZero() {
			p.DeliveredAt = p.DeliveredAt.Add(d)
		}
	}
	for i := range w.Campaigns {
		w.Campaigns[i].At = w.Campaigns[i].At.Add(d)
	}
	for i := range w.Batches {
		for j := range w.Batches[i].Events {
			e := &w.Batches[i].Events[j]
			e.At = e.At.Add(d)
		}
	}
	for i := range w.Incidents {
		w.Incidents[i].At = w.Incidents[i].At.Add(d)
	}
	for i := range w.Complaints {
		w.Complaints[i].OccurredAt = w.Complaints[i].OccurredAt.Add(d)
	}
	for i := range w.Inspections {
		w.Inspections[i].OccurredAt = w.Inspections[i].OccurredAt.Add(d)
	}
	for i := range w.Ratings {
		w.Ratings[i].At = w.Ratings[i].At.Add(d)
	}
}

// cst is China Standard Time, the zone of every instant of a world; one value, so that equal
// worlds are deeply equal.
var cst = time.FixedZone("CST", 8*3600)

// end is the present of every world before it is shifted.
var end = time.Date(2026, 12, 1, 10, 0, 0, 0, cst)

// New builds the world of seed and size. The same seed and size give a deeply equal world.
// A size that does not validate is clamped into range.
func New(seed uint64, size Size) World {
	size = clamp(size)
	g := &gen{
		r:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		w:    World{Seed: seed, Size: size, End: end},
		used: map[string]bool{},
	}
	g.firms()
	g.staff()
	g.truth()
	g.merchants()
	g.parcels()
	g.reuse()
	g.campaigns()
	g.batches()
	g.reports()
	g.inspections()
	g.ratings()
	return g.w
}

func clamp(s Size) Size {
	for _, l := range s.limits() {
		*l.v = max(l.lo, min(l.hi, *l.v))
	}
	return s
}

// gen is the state of one world being built.
type gen struct {
	r    *rand.Rand
	w    World
	used map[string]bool // codes, numbers and waybills already given out

	hqs       []*hqState
	outlets   map[string]*outletState // by firm Ref
	districts []district              // districts with at least one outlet, in first-seen order
	recips    []recipient

	// evs holds every event once; outbox says, per carrier, which it sends when.
	evs    []Event
	outbox map[string][]sending
	// Parcels by waybill index into w.Parcels.
	parcelIdx map[string]int
	tiny      map[string]bool // outlet Refs planted tiny
	tinyLoad  map[string]int  // parcels delivered at each tiny outlet so far
	reused    map[string]bool // waybill numbers two carriers use
}

type hqState struct {
	ref, sc, region string
	sorters         []string
	branches        []*branchState
	outlets         []*outletState
	prefix          string
	reverse         map[string]string // normalised code → the carrier's code
}

type branchState struct {
	ref, sc, region string
	sorters         []string
	outlets         []*outletState
}

type outletState struct {
	ref, site, region string
	hq                *hqState
	branch            *branchState
	lockers           []string
	couriers          []stint
}

// stint is when a courier works at an outlet: from From until To (zero: still there).
type stint struct {
	person   string
	from, to time.Time
}

type recipient struct {
	phone    string
	district string
}

// sending is one upload of g.evs[ev], at sent (Unix seconds): small, since a large world
// queues millions.
type sending struct {
	ev   int32
	seq  int32
	sent int64
}

// pick returns a random element of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// between returns a random duration in [lo, hi).
func (g *gen) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(g.r.Int64N(int64(hi-lo)/int64(time.Second)))*time.Second
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// unique calls next until it gives a value not given out before.
func (g *gen) unique(next func() string) string {
	for {
		v := next()
		if !g.used[v] {
			g.used[v] = true
			return v
		}
	}
}

func sortSendings(s []sending) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].sent != s[j].sent {
			return s[i].sent < s[j].sent
		}
		return s[i].seq < s[j].seq
	})
}
