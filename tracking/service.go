package tracking

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/credtrace/credtrace"
)

// FirmTree is what tracking needs to know of the courier archive. Its answers must follow
// changes to the tree and to employments at once: tracking keeps no copy of them, and an
// implementation that caches must know when its answers went stale (courier.TreeCache does).
type FirmTree interface {
	// InTree reports whether firm id is root or below it in the franchise tree.
	InTree(ctx context.Context, root, id string) (bool, error)
	// Subtree returns root and every firm below it.
	Subtree(ctx context.Context, root string) ([]string, error)
	// Root returns the brand HQ at the top of id's tree.
	Root(ctx context.Context, id string) (string, error)
	// SiteFirm returns the firm a site belongs to; ok is false for an unknown site.
	SiteFirm(ctx context.Context, siteID string) (firmID string, ok bool, err error)
	// StaffFirm returns the firm a person works for now; ok is false for an unknown person or
	// one without an open employment.
	StaffFirm(ctx context.Context, id string) (firmID string, ok bool, err error)
	// FirmExists reports whether a firm is registered.
	FirmExists(ctx context.Context, id string) (bool, error)
}

// Proposal is a credit record that back-tracking proposes; a regulator confirms or dismisses it.
type Proposal struct {
	SubjectKind string // firm, site or staff
	SubjectID   string
	Category    string // service_quality or delivery_safety
	Severity    string
	OccurredAt  time.Time
	Summary     string
	Evidence    []EvidenceRef
	LegalBasis  string
}

// EvidenceRef points at what proves a proposal.
type EvidenceRef struct {
	Kind string // waybill, event, incident
	Ref  string
}

// Proposer enters proposed records into the credit archive and returns their ids.
type Proposer interface {
	Propose(ctx context.Context, p Proposal) (string, error)
}

// Auditor writes tracking's decisions together with their entries in the archive's audit
// trail: Atomic calls fn with a Store and an append function bound to one Atomic block of the
// backend (SQLite: one transaction). cmd wires courier.Auditor here; tracking imports neither
// courier nor a store.
type Auditor interface {
	Atomic(ctx context.Context, fn func(st Store, audit func(actor, action, entity, id, detail string) error) error) error
}

// Hasher is the keyed hash of personal data.
type Hasher interface {
	Hash(purpose, value string) string
}

// Options tune the service; zero fields take the defaults.
type Options struct {
	// StallHours is how long a parcel may sit in a status before it is reported stalled.
	StallHours map[Code]int
	// BurstParcels parcels from one merchant to distinct recipients inside BurstWindow are a burst.
	BurstParcels int
	BurstWindow  time.Duration
	// MinWeightGrams and MaxWeightGrams bound a plausible collection weight.
	MinWeightGrams, MaxWeightGrams int
	// TotalDelayWithinCity and TotalDelayBetweenCities are how far past its promise an open
	// parcel is deemed lost (彻底延误时限, YZ/T 0128 快递服务: 3 calendar days within a city,
	// 7 between cities; the defaults). DeemedLostLookback bounds how long after collection the
	// scan still looks at a parcel (default 90 days): older ones were deemed lost long ago.
	TotalDelayWithinCity, TotalDelayBetweenCities, DeemedLostLookback time.Duration
	// EmptyReconcile is how long after a merchant burst was found the scan keeps withdrawing
	// what its parcels count as service (default 14 days: longer than any delivery).
	EmptyReconcile time.Duration
	// SegmentNorms are the dwell norms per custody segment kind that a late parcel's delay is
	// attributed by (default DefaultSegmentNorms, the norms methodology 2026.4 publishes; a
	// kind left out takes its default). Like the total delays, they must not change while
	// parcels are on their way: a deemed loss is taken back by the same computation.
	SegmentNorms map[SegmentKind]time.Duration
	// OnPhoneCheck, when set, is told the outcome of every phone check (PhonePassed,
	// PhoneWrong, PhoneLocked), for the metrics.
	OnPhoneCheck func(outcome string)
	// Auditor, when set, records every reported incident in the audit trail, in the same
	// Atomic block as the incident.
	Auditor Auditor
	// Notifier, when set, is told of the parcel summaries and anomalies each save stores, in
	// the same Atomic block (see Notifier).
	Notifier Notifier
}

// Notifier is told, through st, the Store of the Atomic block that stores them, of parcel
// summaries and anomalies about to be saved (a save of the derived state, a scan's anomalies):
// what it writes there commits with them on SQLite. On a backend without transactions it is
// told before the save, so that a crash between the two loses nothing (the replay saves and
// tells again); it must therefore be idempotent. cmd wires the webhooks' outbox here.
type Notifier interface {
	Stored(ctx context.Context, st Store, parcels []Parcel, anomalies []Anomaly) error
}

// DefaultStallHours are the stall thresholds per status.
var DefaultStallHours = map[Code]int{
	Collected: 48, Arrived: 36, Departed: 48, InTransit: 72, Handover: 36,
	OutForDelivery: 24, HeldForPickup: 168, DeliveryFailed: 48, Exception: 72, Damaged: 72,
}

func (o Options) withDefaults() Options {
	if o.StallHours == nil {
		o.StallHours = DefaultStallHours
	}
	if o.BurstParcels <= 0 {
		o.BurstParcels = 100
	}
	if o.BurstWindow <= 0 {
		o.BurstWindow = time.Hour
	}
	if o.MinWeightGrams <= 0 {
		o.MinWeightGrams = 30
	}
	if o.MaxWeightGrams <= 0 {
		o.MaxWeightGrams = 60000
	}
	if o.TotalDelayWithinCity <= 0 {
		o.TotalDelayWithinCity = 3 * 24 * time.Hour
	}
	if o.TotalDelayBetweenCities <= 0 {
		o.TotalDelayBetweenCities = 7 * 24 * time.Hour
	}
	if o.DeemedLostLookback <= 0 {
		o.DeemedLostLookback = 90 * 24 * time.Hour
	}
	if o.EmptyReconcile <= 0 {
		o.EmptyReconcile = 14 * 24 * time.Hour
	}
	norms := make(map[SegmentKind]time.Duration, len(SegmentKinds))
	for _, k := range SegmentKinds {
		norms[k] = DefaultSegmentNorms[k]
		if d := o.SegmentNorms[k]; d > 0 {
			norms[k] = d
		}
	}
	o.SegmentNorms = norms
	return o
}

// Service is parcel traceability over a Store.
type Service struct {
	store    Store
	tree     FirmTree
	proposer Proposer
	hasher   Hasher
	opts     Options
	now      func() time.Time
	steady   steadyClock // the bound of the events' times, immune to the clock stepping back
	hub      *Hub
	pipe     *Pipeline // set by NewPipeline

	reports sync.Mutex // serialises incident reports: a repeat must see the incident it joins
	scanned scanMark   // where this process's previous scan ended (see window.go)
}

// NewService returns a Service. now may be nil for the wall clock. It ingests once
// NewPipeline has started its pipeline; it reads without one.
func NewService(store Store, tree FirmTree, proposer Proposer, hasher Hasher, opts Options, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, tree: tree, proposer: proposer, hasher: hasher, opts: opts.withDefaults(), now: now, hub: NewHub()}
}

// Flush saves the derived state that ingestion holds in memory; reads of statistics, parcels
// and anomalies call it first, so they always see every accepted event. Without a pipeline
// there is nothing to save.
func (s *Service) Flush(ctx context.Context) error {
	if s.pipe == nil {
		return nil
	}
	return s.pipe.Flush(ctx)
}

// Hub returns the live event hub that streams subscribe to.
func (s *Service) Hub() *Hub { return s.hub }

// Now is the service clock in UTC at millisecond precision.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func (s *Service) inTree(ctx context.Context, root, id string) (bool, error) {
	return s.tree.InTree(ctx, root, id)
}

// treeCarriers returns the carriers of q (every carrier when nil) that are in firm root's
// tree, for a query scoped to the tree on the server: a non-nil empty result matches nothing.
func (s *Service) treeCarriers(ctx context.Context, root string, carriers []string) ([]string, error) {
	tree, err := s.tree.Subtree(ctx, root)
	if err != nil {
		return nil, err
	}
	if carriers == nil {
		return tree, nil
	}
	out := []string{}
	for _, c := range carriers {
		if slices.Contains(tree, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *Service) siteFirm(ctx context.Context, site string) (string, bool, error) {
	return s.tree.SiteFirm(ctx, site)
}

// staffIn reports why person id may not scan for firm tree root, or "" when they may: they
// must work for a firm of that tree now.
func (s *Service) staffIn(ctx context.Context, field, id, root string) (string, error) {
	firm, ok, err := s.tree.StaffFirm(ctx, id)
	if err != nil {
		return "", err
	}
	if !ok {
		return field + ": no such person, or not employed now", nil
	}
	in, err := s.inTree(ctx, root, firm)
	if err != nil {
		return "", err
	}
	if !in {
		return field + ": does not work for the firm tree of " + root, nil
	}
	return "", nil
}

func (s *Service) firmExists(ctx context.Context, id string) (bool, error) {
	return s.tree.FirmExists(ctx, id)
}

func (s *Service) root(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	return s.tree.Root(ctx, id)
}

// canSeeCarrier reports whether c may see the private data of parcels of carrier.
func (s *Service) canSeeCarrier(ctx context.Context, c credtrace.Caller, carrier string) (bool, error) {
	switch c.Role {
	case credtrace.RoleRegulator:
		return true, nil
	case credtrace.RoleFirm:
		return s.inTree(ctx, c.FirmID, carrier)
	}
	return false, nil
}

// config returns a carrier's configuration, or the defaults.
func (s *Service) config(ctx context.Context, st Store, carrier string) (CarrierConfig, error) {
	cfg, err := st.CarrierConfig(ctx, carrier)
	if errors.Is(err, credtrace.ErrNotFound) {
		return CarrierConfig{FirmID: carrier}, nil
	}
	return cfg, err
}
