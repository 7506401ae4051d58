package tracking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credtrace/credtrace"
)

// Ingestion limits.
const (
	MaxBatch     = 10000
	MaxFutureAt  = 15 * time.Minute
	maxRemark    = 500
	maxWaybill   = 40
	minWaybill   = 6
	maxIDLength  = 100
	maxRawCode   = 40
	oldestAtYear = 2000
)

// HolderInput names the holder after an event: a firm (with site and person) or the recipient.
type HolderInput struct {
	Firm      string
	Site      string
	Staff     string
	Recipient bool
}

// EventInput is one event as a carrier sends it.
type EventInput struct {
	ID             string
	Waybill        string
	Carrier        string
	Code           string
	At             time.Time
	Site           string
	Staff          string
	Holder         *HolderInput
	Region         string
	Lat, Lng       *float64
	WeightGrams    int
	Signer         string
	MerchantID     string
	RecipientPhone string // on collection: used once for the public trace check, never stored
	Remark         string

	accept *Offer // set by AcceptHandover: this event is the receiver taking the offered parcel
}

// Outcome of one event of a batch.
const (
	Accepted  = "accepted"
	Duplicate = "duplicate"
	Rejected  = "rejected"
)

// EventResult reports one event of a batch.
type EventResult struct {
	Index  int
	ID     string
	Status string
	Reason string
	dupOf  int // index of the first occurrence of a repeat inside the batch, else -1
}

// IngestResult reports a whole batch.
type IngestResult struct {
	Accepted, Duplicates, Rejected int
	Results                        []EventResult
	Anomalies                      []Anomaly
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checkRegion(r string) bool {
	if len(r) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if r[i] < '0' || r[i] > '9' {
			return false
		}
	}
	return true
}

// contentHash identifies an event's content: a re-sent event with the same hash is a duplicate.
func contentHash(e *Event) string {
	h := sha256.New()
	f := func(v string) { h.Write([]byte(v)); h.Write([]byte{0x1f}) }
	f(e.ID)
	f(e.Waybill)
	f(e.Carrier)
	f(string(e.Code))
	f(e.RawCode)
	f(e.At.UTC().Format(time.RFC3339Nano))
	f(e.SiteID)
	f(e.StaffID)
	f(string(e.Holder.Kind) + "/" + e.Holder.Key())
	f(e.Region)
	if e.Lat != nil && e.Lng != nil {
		f(strconv.FormatFloat(*e.Lat, 'f', 6, 64) + "," + strconv.FormatFloat(*e.Lng, 'f', 6, 64))
	} else {
		f("")
	}
	f(strconv.Itoa(e.WeightGrams))
	f(e.Signer)
	f(e.MerchantID)
	f(e.RecipientKey)
	f(e.RecipientID)
	f(e.Remark)
	return hex.EncodeToString(h.Sum(nil))
}

// RecipientKey is the keyed hash that lets the public trace a parcel with the last four digits
// of the recipient's phone; neither the phone nor its digits are kept.
func (s *Service) RecipientKey(waybill, last4 string) string {
	return s.hasher.Hash("recipient", waybill+"|"+last4)
}

// normalize checks one input and turns it into an Event; the reason names what is wrong.
func (s *Service) normalize(ctx context.Context, c credtrace.Caller, in EventInput, now time.Time, configs map[string]CarrierConfig, offers map[ParcelKey]*Trace) (Event, string, error) {
	e := Event{ID: strings.TrimSpace(in.ID), Waybill: strings.TrimSpace(in.Waybill), Carrier: strings.TrimSpace(in.Carrier),
		At: in.At.UTC().Truncate(time.Millisecond), SiteID: in.Site, StaffID: in.Staff, Region: in.Region,
		WeightGrams: in.WeightGrams, Signer: in.Signer, MerchantID: strings.TrimSpace(in.MerchantID), Remark: in.Remark, ReceivedAt: now}
	switch {
	case e.ID == "":
		return e, "id: required", nil
	case len(e.ID) > maxIDLength:
		return e, fmt.Sprintf("id: at most %d characters", maxIDLength), nil
	case e.Waybill == "":
		return e, "waybill: required", nil
	case len(e.Waybill) < minWaybill || len(e.Waybill) > maxWaybill || !isAlnum(e.Waybill):
		return e, fmt.Sprintf("waybill: %d to %d letters, digits, '-' or '_'", minWaybill, maxWaybill), nil
	case e.Carrier == "":
		return e, "carrier: required", nil
	case in.At.IsZero():
		return e, "at: required (RFC 3339 with offset)", nil
	case e.At.After(now.Add(MaxFutureAt)):
		return e, "at: more than 15 minutes in the future", nil
	case e.At.Year() < oldestAtYear:
		return e, "at: before the year 2000", nil
	case e.Region != "" && !checkRegion(e.Region):
		return e, "region: must be a 6-digit administrative division code", nil
	case (in.Lat == nil) != (in.Lng == nil):
		return e, "lat, lng: give both or neither", nil
	case in.Lat != nil && (math.Abs(*in.Lat) > 90 || math.Abs(*in.Lng) > 180 || math.IsNaN(*in.Lat) || math.IsNaN(*in.Lng)):
		return e, "lat, lng: out of range", nil
	case e.WeightGrams < 0:
		return e, "weight_g: must not be negative", nil
	case utf8.RuneCountInString(e.Remark) > maxRemark:
		return e, fmt.Sprintf("remark: at most %d characters", maxRemark), nil
	}
	if in.Lat != nil {
		lat, lng := *in.Lat, *in.Lng
		e.Lat, e.Lng = &lat, &lng
	}
	// The carrier must be a registered firm, and a firm may push only for its own tree.
	if ok, err := s.firmExists(ctx, e.Carrier); err != nil {
		return e, "", err
	} else if !ok {
		return e, "carrier: no such firm", nil
	}
	// scope is the tree whose sites and staff may scan: the carrier's, except for the receiver
	// of a handover offered to another tree, who scans the carrier's parcel with its own.
	scope, receiver := e.Carrier, (*Offer)(nil)
	if c.Role == credtrace.RoleFirm {
		ok, err := s.inTree(ctx, c.FirmID, e.Carrier)
		if err != nil {
			return e, "", err
		}
		if !ok {
			// The one exception: a parcel offered to the caller's tree, which its scan takes.
			if receiver, err = s.offeredTo(ctx, c.FirmID, e.Parcel(), offers); err != nil {
				return e, "", err
			}
			if receiver == nil {
				return e, "carrier: outside your firm tree", nil
			}
			scope = c.FirmID
		}
	}
	if in.accept != nil {
		receiver = in.accept
		var err error
		if scope, err = s.root(ctx, receiver.To.FirmID); err != nil {
			return e, "", err
		}
	}
	cfg, ok := configs[e.Carrier]
	if !ok {
		var err error
		if cfg, err = s.config(ctx, s.store, e.Carrier); err != nil {
			return e, "", err
		}
		configs[e.Carrier] = cfg
	}
	code := Code(strings.TrimSpace(in.Code))
	if !code.Valid() {
		mapped, ok := cfg.Codes[string(code)]
		if !ok {
			return e, fmt.Sprintf("code: unknown code %q (not a normalised code and not in the carrier's mapping)", truncate(string(code), maxRawCode)), nil
		}
		e.RawCode, code = string(code), mapped
	}
	e.Code = code
	e.FirmID = e.Carrier
	if receiver != nil {
		e.FirmID = receiver.To.FirmID
	}
	if e.SiteID != "" {
		firm, ok, err := s.siteFirm(ctx, e.SiteID)
		if err != nil {
			return e, "", err
		}
		if !ok {
			return e, "site: no such site", nil
		}
		if in, err := s.inTree(ctx, scope, firm); err != nil {
			return e, "", err
		} else if !in {
			if receiver != nil {
				return e, "site: not a site of the receiving firm tree", nil
			}
			return e, "site: not a site of the carrier's firm tree", nil
		}
		e.FirmID = firm
	}
	if e.StaffID != "" {
		// The courier must work for the carrier's tree (where the site is, for a partner's site).
		if why, err := s.staffIn(ctx, "staff", e.StaffID, scope); err != nil || why != "" {
			return e, why, err
		}
	}
	switch e.Code {
	case Delivered:
		switch e.Signer {
		case SignerRecipient, SignerProxy, SignerLocker:
		case "":
			return e, "signer: required on delivery (recipient, proxy or locker)", nil
		default:
			return e, "signer: must be one of recipient, proxy, locker", nil
		}
	default:
		if e.Signer != "" {
			return e, "signer: only on delivery", nil
		}
	}
	if e.Code != Collected && (e.MerchantID != "" || in.RecipientPhone != "") {
		return e, "merchant, recipient_phone: only on collection", nil
	}
	if in.RecipientPhone != "" {
		p := strings.TrimSpace(in.RecipientPhone)
		if len(p) < 4 || !isDigits(p) {
			return e, "recipient_phone: must be digits", nil
		}
		e.RecipientKey = s.RecipientKey(e.Waybill, p[len(p)-4:])
		e.RecipientID = s.hasher.Hash("recipient_phone", p)
	}
	h, reason, err := s.holder(ctx, e, in.Holder, in.accept != nil)
	if err != nil || reason != "" {
		return e, reason, err
	}
	e.Holder = h
	e.Hash = contentHash(&e)
	evs := []Event{e}
	if err := s.withRoots(ctx, evs); err != nil {
		return e, "", err
	}
	return evs[0], "", nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// holder resolves who holds the parcel after e. A handover must name the new holder; a
// delivery passes it to the recipient; other scans leave it with the scanning firm, site and person.
func (s *Service) holder(ctx context.Context, e Event, in *HolderInput, taking bool) (Holder, string, error) {
	if in == nil || (*in == HolderInput{}) {
		switch e.Code {
		case Handover:
			return Holder{}, "holder: a handover must name the new holder", nil
		case Delivered:
			return Holder{Kind: HolderRecipient}, "", nil
		}
		return Holder{Kind: HolderFirm, FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID}, "", nil
	}
	if in.Recipient {
		if in.Firm != "" || in.Site != "" || in.Staff != "" {
			return Holder{}, "holder: either the recipient or a firm, not both", nil
		}
		return Holder{Kind: HolderRecipient}, "", nil
	}
	h := Holder{Kind: HolderFirm, FirmID: in.Firm, SiteID: in.Site, StaffID: in.Staff}
	if h.SiteID != "" {
		firm, ok, err := s.siteFirm(ctx, h.SiteID)
		if err != nil {
			return Holder{}, "", err
		}
		if !ok {
			return Holder{}, "holder.site: no such site", nil
		}
		if h.FirmID == "" {
			h.FirmID = firm
		} else if h.FirmID != firm {
			return Holder{}, "holder.site: not a site of holder.firm", nil
		}
	}
	if h.FirmID == "" {
		return Holder{}, "holder.firm: required unless the holder is the recipient", nil
	}
	if ok, err := s.firmExists(ctx, h.FirmID); err != nil {
		return Holder{}, "", err
	} else if !ok {
		return Holder{}, "holder.firm: no such firm", nil
	}
	if h.StaffID != "" {
		if why, err := s.staffIn(ctx, "holder.staff", h.StaffID, h.FirmID); err != nil || why != "" {
			return Holder{}, why, err
		}
	}
	if e.Code == Handover && !taking && h.Key() == (Holder{Kind: HolderFirm, FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID}).Key() {
		return Holder{}, "holder: a handover must pass the parcel to a new holder", nil
	}
	return h, "", nil
}

// Ingest validates a batch, stores the valid events (even when others are rejected) and
// answers each one: accepted, duplicate (same carrier, id and content) or rejected with its
// reason. Accepted events are durable when Ingest returns.
func (s *Service) Ingest(ctx context.Context, c credtrace.Caller, inputs []EventInput) (IngestResult, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return IngestResult{}, credtrace.ErrForbidden
	}
	if len(inputs) == 0 {
		return IngestResult{}, credtrace.InvalidField("events", "at least one event")
	}
	if len(inputs) > MaxBatch {
		return IngestResult{}, credtrace.InvalidField("events", "at most %d events per request", MaxBatch)
	}
	now := s.Now()
	res := IngestResult{Results: make([]EventResult, len(inputs))}
	configs := map[string]CarrierConfig{}
	offers := map[ParcelKey]*Trace{}
	events := make([]Event, 0, len(inputs))
	index := make([]int, 0, len(inputs)) // input index of events[i]
	seen := map[string]int{}             // key → position in events, for repeats inside the batch
	for i, in := range inputs {
		e, reason, err := s.normalize(ctx, c, in, now, configs, offers)
		if err != nil {
			return IngestResult{}, fmt.Errorf("ingest event %d: %w", i, err)
		}
		res.Results[i] = EventResult{Index: i, ID: e.ID, dupOf: -1}
		if reason != "" {
			res.Results[i].Status, res.Results[i].Reason = Rejected, reason
			continue
		}
		if j, ok := seen[e.Key()]; ok {
			if events[j].Hash == e.Hash {
				res.Results[i].Status, res.Results[i].dupOf = Duplicate, index[j]
			} else {
				res.Results[i].Status, res.Results[i].Reason = Rejected, "id: conflict: the batch holds this id twice with different content"
			}
			continue
		}
		seen[e.Key()] = len(events)
		events = append(events, e)
		index = append(index, i)
	}

	var b Batch
	var err error
	if j, ok := s.store.(Journal); ok {
		// Only the events are made durable before the answer; the derived state follows.
		// Batches that arrive while one is being written share the next transaction.
		job := &ingestJob{ctx: ctx, events: events, res: &res, configs: configs, done: make(chan struct{}), keys: make(map[string]int, len(events))}
		for i, e := range events {
			job.keys[e.Key()] = index[i]
		}
		s.submit(j, job)
		b, err = job.batch, job.err
		if err != nil {
			return IngestResult{}, fmt.Errorf("ingest: %w", err)
		}
	} else {
		s.ingest.Lock()
		err = s.store.Atomic(ctx, func(st Store) error {
			var err error
			if b, err = s.prepare(ctx, st, events, index, &res, configs, now); err != nil || (len(b.Events) == 0 && len(b.Parcels) == 0) {
				return err
			}
			// The sources first: should the process stop before the batch is written, the
			// carrier sends it again, the fold names the same sources, and they add nothing.
			if err := applySources(ctx, st, b.sources); err != nil {
				return err
			}
			return st.WriteBatch(ctx, b)
		})
		if err == nil {
			for _, p := range b.Parcels {
				s.parcels.put(p)
			}
		}
		s.ingest.Unlock()
		if err != nil {
			return IngestResult{}, fmt.Errorf("ingest: %w", err)
		}
		if s.opts.StepHook != nil {
			s.opts.StepHook("committed")
		}
	}
	for _, r := range res.Results {
		switch r.Status {
		case Accepted:
			res.Accepted++
		case Duplicate:
			res.Duplicates++
		default:
			res.Rejected++
		}
	}
	res.Anomalies = b.Anomalies
	s.hub.publishEvents(b.Events)
	for i := range b.Anomalies {
		a := b.Anomalies[i]
		s.hub.publishAlert(Alert{Kind: "anomaly", Anomaly: &a})
	}
	return res, nil
}

// ingestJob is one request's batch waiting for the group commit.
type ingestJob struct {
	ctx     context.Context
	events  []Event
	res     *IngestResult
	configs map[string]CarrierConfig
	batch   Batch
	err     error
	done    chan struct{}
	keys    map[string]int // event key → input index
}

// submit queues job and returns when it is written. The first caller to find no writer
// becomes the writer and keeps writing whatever has queued meanwhile, each round in one
// transaction (group commit): one fsync serves every batch that waited for it.
func (s *Service) submit(j Journal, job *ingestJob) {
	s.qmu.Lock()
	s.queue = append(s.queue, job)
	if s.writing {
		s.qmu.Unlock()
		<-job.done
		return
	}
	s.writing = true
	s.qmu.Unlock()
	for {
		s.qmu.Lock()
		jobs := s.queue
		s.queue = nil
		if len(jobs) == 0 {
			s.writing = false
			s.qmu.Unlock()
			break
		}
		s.qmu.Unlock()
		s.writeGroup(j, jobs)
	}
	<-job.done
}

// writeGroup appends the events of jobs in one transaction and classifies what was not new
// (duplicate or conflict). Folding waits for the folder, which takes the groups in the order
// they were stored, so the writer can start on the next group meanwhile.
func (s *Service) writeGroup(j Journal, jobs []*ingestJob) {
	ctx := context.WithoutCancel(jobs[0].ctx) // one client hanging up must not fail the others
	g := &group{jobs: jobs, ctx: ctx}
	for _, job := range jobs {
		sort.SliceStable(job.events, func(a, b int) bool { return eventLess(job.events[a], job.events[b]) })
		g.all = append(g.all, job.events...)
	}
	g.stored, g.last, g.err = j.AppendEvents(ctx, g.all)
	if g.err == nil && s.opts.StepHook != nil {
		s.opts.StepHook("committed")
	}
	if g.err == nil {
		var again []string
		for i, e := range g.all {
			if !g.stored[i] {
				again = append(again, e.Key())
			}
		}
		if len(again) > 0 {
			g.hashes, g.err = s.store.EventHashes(ctx, again)
		}
	}
	s.folderOnce.Do(func() {
		s.foldq = make(chan *group, 64)
		go s.folder()
	})
	s.foldq <- g
}

// group is one transaction's worth of jobs on its way to the folder.
type group struct {
	ctx    context.Context
	jobs   []*ingestJob
	all    []Event
	stored []bool
	last   int64
	hashes map[string]string
	err    error
}

// folder folds stored groups in order, one at a time, and answers their jobs.
func (s *Service) folder() {
	for g := range s.foldq {
		s.ingest.Lock()
		err := g.err
		if err == nil {
			err = s.foldGroup(g)
		}
		s.ingest.Unlock()
		for _, job := range g.jobs {
			job.err = err
			close(job.done)
		}
	}
}

func (s *Service) foldGroup(g *group) error {
	ctx := g.ctx
	var missing []ParcelKey
	seen := map[ParcelKey]bool{}
	for i, e := range g.all {
		k := e.Parcel()
		if !g.stored[i] || seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := s.dirty[k]; ok {
			continue
		}
		if p, ok := s.parcels.get(k); ok {
			s.dirty[k] = p
			continue
		}
		missing = append(missing, k)
	}
	if len(missing) > 0 {
		got, err := s.store.ParcelsByKey(ctx, missing)
		if err != nil {
			// The events are durable; their derived state comes back with the next replay.
			return fmt.Errorf("events stored, summaries unreadable (replayed at restart): %w", err)
		}
		for _, k := range missing {
			s.dirty[k] = got[k] // zero for a new parcel
		}
	}
	now := s.Now()
	reuse := newReuseCheck(s.store, g.all)
	k := 0
	for _, job := range g.jobs {
		var fresh []Event
		var anomalies []Anomaly
		for range job.events {
			e := &g.all[k]
			ok := g.stored[k]
			k++
			r := &job.res.Results[job.keys[e.Key()]]
			if !ok {
				if g.hashes[e.Key()] == e.Hash {
					r.Status = Duplicate
				} else {
					r.Status, r.Reason = Rejected, conflictReason
				}
				continue
			}
			r.Status = Accepted
			p := s.dirty[e.Parcel()]
			if p.Waybill == "" {
				a, err := reuse.check(ctx, e)
				if err != nil {
					return fmt.Errorf("events stored, derived state not saved (replayed at restart): %w", err)
				}
				e.reused = len(a) > 0
				anomalies = append(anomalies, a...)
			}
			anomalies = append(anomalies, s.fold(&p, e, job.configs[e.Carrier], s.opts)...)
			// The events are durable: a crash before these land replays the fold, which names
			// the same sources again, and the store adds each once.
			if err := applySources(ctx, s.store, e.sources); err != nil {
				return fmt.Errorf("events stored, derived state not saved (replayed at restart): %w", err)
			}
			p.UpdatedAt = now
			s.dirty[e.Parcel()] = p
			s.pendingDeltas = append(s.pendingDeltas, e.Deltas...)
			s.pendingEvents++
			fresh = append(fresh, *e)
		}
		for i := range job.res.Results {
			r := &job.res.Results[i]
			if r.dupOf >= 0 && job.res.Results[r.dupOf].Reason == conflictReason {
				r.Status, r.Reason = Rejected, conflictReason
			}
		}
		job.batch = Batch{Events: fresh}
		for _, a := range anomalies {
			if s.pendingAnoms[a.ID] {
				continue
			}
			if _, err := s.store.Anomaly(ctx, a.ID); err == nil {
				continue
			}
			s.pendingAnoms[a.ID] = true
			s.pendingList = append(s.pendingList, a)
			job.batch.Anomalies = append(job.batch.Anomalies, a)
		}
	}
	if g.last > s.through {
		s.through = g.last
	}
	if s.pendingEvents >= flushEvents || s.now().Sub(s.flushedAt) > flushEvery {
		if err := s.flushLocked(ctx); err != nil {
			return fmt.Errorf("events stored, derived state not saved (replayed at restart): %w", err)
		}
	}
	return nil
}

// prepare classifies a batch's events against the store (new, duplicate, conflict) and folds
// the new ones into their parcels' summaries, in time order, so that statistics and anomalies
// see each parcel as it was when the event happened (as far as the store knows it). Anomalies
// already known are left out.
func (s *Service) prepare(ctx context.Context, st Store, events []Event, index []int, res *IngestResult, configs map[string]CarrierConfig, now time.Time) (Batch, error) {
	keys := make([]string, len(events))
	for i, e := range events {
		keys[i] = e.Key()
	}
	stored, err := st.EventHashes(ctx, keys)
	if err != nil {
		return Batch{}, err
	}
	var fresh []Event
	hadDup := map[ParcelKey]bool{}
	for i, e := range events {
		r := &res.Results[index[i]]
		if h, ok := stored[e.Key()]; ok {
			hadDup[e.Parcel()] = true
			if h == e.Hash {
				r.Status = Duplicate
			} else {
				r.Status, r.Reason = Rejected, conflictReason
			}
			continue
		}
		r.Status = Accepted
		fresh = append(fresh, e)
	}
	// A repeat inside the batch shares the fate of its first occurrence.
	for i := range res.Results {
		r := &res.Results[i]
		if r.dupOf >= 0 && res.Results[r.dupOf].Reason == conflictReason {
			r.Status, r.Reason = Rejected, conflictReason
		}
	}
	var order []ParcelKey
	parcels := map[ParcelKey]Parcel{}
	var missing []ParcelKey
	touched := append([]Event(nil), fresh...)
	for i, e := range events {
		if res.Results[index[i]].Status == Duplicate {
			touched = append(touched, e) // its summary may need healing, see below
		}
	}
	if len(touched) == 0 {
		return Batch{}, nil
	}
	for _, e := range touched {
		k := e.Parcel()
		if _, ok := parcels[k]; ok {
			continue
		}
		order = append(order, k)
		if p, ok := s.dirty[k]; ok {
			parcels[k] = p
		} else if p, ok := s.parcels.get(k); ok {
			parcels[k] = p
		} else {
			parcels[k] = Parcel{}
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		got, err := st.ParcelsByKey(ctx, missing)
		if err != nil {
			return Batch{}, err
		}
		for k, p := range got {
			parcels[k] = p
		}
	}
	// A writer that stopped between storing events and their summary (MongoDB has no
	// transaction to tie them) leaves summaries behind their events; a re-sent batch finds
	// those events stored, so the summary is folded again from the stored events.
	healed := map[ParcelKey]bool{}
	for _, k := range order {
		if !hadDup[k] {
			continue
		}
		evs, err := st.ParcelEvents(ctx, k)
		if err != nil {
			return Batch{}, err
		}
		if len(evs) > parcels[k].Events {
			if err := s.withRoots(ctx, evs); err != nil {
				return Batch{}, err
			}
			parcels[k] = s.rebuild(evs, configs)
			healed[k] = true
		}
	}
	sort.SliceStable(fresh, func(i, j int) bool { return eventLess(fresh[i], fresh[j]) })
	var anomalies []Anomaly
	reuse := newReuseCheck(st, fresh)
	for i := range fresh {
		e := &fresh[i]
		p := parcels[e.Parcel()]
		if p.Waybill == "" {
			a, err := reuse.check(ctx, e)
			if err != nil {
				return Batch{}, err
			}
			e.reused = len(a) > 0
			anomalies = append(anomalies, a...)
		}
		anomalies = append(anomalies, s.fold(&p, e, configs[e.Carrier], s.opts)...)
		p.UpdatedAt = now
		parcels[e.Parcel()] = p
	}
	b := Batch{Events: fresh}
	folded := map[ParcelKey]bool{}
	for _, e := range fresh {
		folded[e.Parcel()] = true
		b.sources = append(b.sources, e.sources...)
	}
	for _, k := range order {
		if folded[k] || healed[k] {
			b.Parcels = append(b.Parcels, parcels[k])
		}
	}
	seen := map[string]bool{}
	for _, a := range anomalies {
		if seen[a.ID] || s.pendingAnoms[a.ID] {
			continue
		}
		seen[a.ID] = true
		if _, err := st.Anomaly(ctx, a.ID); err == nil {
			continue
		} else if !errors.Is(err, credtrace.ErrNotFound) {
			return Batch{}, err
		}
		b.Anomalies = append(b.Anomalies, a)
	}
	return b, nil
}

// rebuild folds a parcel's stored events from nothing, in time order. The statistics those
// events moved were counted when they were stored; the deltas of this fold are dropped.
func (s *Service) rebuild(evs []Event, configs map[string]CarrierConfig) Parcel {
	sort.Slice(evs, func(i, j int) bool { return eventLess(evs[i], evs[j]) })
	var p Parcel
	for i := range evs {
		e := evs[i]
		e.Deltas = nil
		cfg, ok := configs[e.Carrier]
		if !ok {
			cfg = CarrierConfig{FirmID: e.Carrier}
		}
		s.fold(&p, &e, cfg, s.opts)
	}
	return p
}

const conflictReason = "id: conflict: this carrier already sent an event with this id and other content"

// Journal mode: derived state waiting to be saved, guarded by the ingest mutex.
const (
	flushEvents = 50000           // save the derived state after this many events
	flushEvery  = 5 * time.Second // or when it is older than this
)

// Flush saves the derived state that ingestion holds in memory (journal mode); reads of
// statistics, parcels and anomalies call it first, so they always see every accepted event.
func (s *Service) Flush(ctx context.Context) error {
	s.ingest.Lock()
	defer s.ingest.Unlock()
	return s.flushLocked(ctx)
}

func (s *Service) flushLocked(ctx context.Context) error {
	j, ok := s.store.(Journal)
	if !ok || (len(s.dirty) == 0 && s.pendingEvents == 0 && len(s.pendingList) == 0) {
		return nil
	}
	d := Derived{Deltas: coalesce(s.pendingDeltas), Anomalies: s.pendingList, Through: s.through}
	for _, p := range s.dirty {
		d.Parcels = append(d.Parcels, p)
	}
	sort.Slice(d.Parcels, func(i, k int) bool { return d.Parcels[i].Key().String() < d.Parcels[k].Key().String() })
	if err := j.SaveDerived(ctx, d); err != nil {
		return fmt.Errorf("save derived state: %w", err)
	}
	for _, p := range d.Parcels {
		s.parcels.put(p)
	}
	s.dirty = map[ParcelKey]Parcel{}
	s.pendingDeltas, s.pendingList, s.pendingEvents = nil, nil, 0
	s.pendingAnoms = map[string]bool{}
	s.flushedAt = s.now()
	return nil
}

func coalesce(ds []StatDelta) []StatDelta {
	sums := map[StatKey]map[Metric]int{}
	var keys []StatKey
	for _, d := range ds {
		if sums[d.Key] == nil {
			sums[d.Key] = map[Metric]int{}
			keys = append(keys, d.Key)
		}
		sums[d.Key][d.Metric] += d.N
	}
	var out []StatDelta
	for _, k := range keys {
		for _, m := range Metrics {
			if n := sums[k][m]; n != 0 {
				out = append(out, StatDelta{Key: k, Metric: m, N: n})
			}
		}
	}
	return out
}

// Recover replays the events stored after the journal's checkpoint (journal mode) and saves
// their derived state: a crash between an answer and the next save loses nothing, and counts
// nothing twice. It runs before the service takes traffic.
func (s *Service) Recover(ctx context.Context) (int, error) {
	j, ok := s.store.(Journal)
	if !ok {
		return 0, nil
	}
	s.ingest.Lock()
	defer s.ingest.Unlock()
	cp, err := j.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	replayed := 0
	configs := map[string]CarrierConfig{}
	for {
		evs, seqs, err := j.EventsAfter(ctx, cp, 5000)
		if err != nil {
			return replayed, err
		}
		if len(evs) == 0 {
			return replayed, s.flushLocked(ctx)
		}
		var need []ParcelKey
		for _, e := range evs {
			if _, ok := s.dirty[e.Parcel()]; !ok {
				need = append(need, e.Parcel())
			}
		}
		got, err := s.store.ParcelsByKey(ctx, need)
		if err != nil {
			return replayed, err
		}
		for k, p := range got {
			if _, ok := s.dirty[k]; !ok {
				s.dirty[k] = p
			}
		}
		if err := s.withRoots(ctx, evs); err != nil {
			return replayed, err
		}
		reuse := newReuseCheck(s.store, evs)
		for i := range evs {
			e := evs[i]
			cfg, ok := configs[e.Carrier]
			if !ok {
				if cfg, err = s.config(ctx, s.store, e.Carrier); err != nil {
					return replayed, err
				}
				configs[e.Carrier] = cfg
			}
			p := s.dirty[e.Parcel()]
			e.Deltas = nil
			var anoms []Anomaly
			if p.Waybill == "" {
				if anoms, err = reuse.check(ctx, &e); err != nil {
					return replayed, err
				}
				e.reused = len(anoms) > 0
			}
			// The same fold, in the same order, from the same saved state as the first time:
			// it moves exactly the statistics the event moved then.
			anoms = append(anoms, s.fold(&p, &e, cfg, s.opts)...)
			if err := applySources(ctx, s.store, e.sources); err != nil {
				return replayed, err
			}
			p.UpdatedAt = e.ReceivedAt
			s.dirty[e.Parcel()] = p
			s.pendingDeltas = append(s.pendingDeltas, e.Deltas...)
			s.pendingEvents++
			for _, a := range anoms {
				if !s.pendingAnoms[a.ID] {
					s.pendingAnoms[a.ID] = true
					s.pendingList = append(s.pendingList, a)
				}
			}
			s.through = seqs[i]
			replayed++
		}
		cp = seqs[len(seqs)-1]
		if err := s.flushLocked(ctx); err != nil {
			return replayed, err
		}
	}
}

// eventLess orders events by time, then by their place in a parcel's life, then by id.
func eventLess(a, b Event) bool {
	if !a.At.Equal(b.At) {
		return a.At.Before(b.At)
	}
	if codeRank[a.Code] != codeRank[b.Code] {
		return codeRank[a.Code] < codeRank[b.Code]
	}
	return a.ID < b.ID
}

func party(e *Event) Party { return Party{FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID} }

// deltas adds n to metric for each subject of p on day.
func deltas(p Party, day string, m Metric, n int) []StatDelta {
	var out []StatDelta
	if p.FirmID != "" {
		out = append(out, StatDelta{Key: StatKey{SubjectFirm, p.FirmID, day}, Metric: m, N: n})
	}
	if p.SiteID != "" {
		out = append(out, StatDelta{Key: StatKey{SubjectSite, p.SiteID, day}, Metric: m, N: n})
	}
	if p.StaffID != "" {
		out = append(out, StatDelta{Key: StatKey{SubjectStaff, p.StaffID, day}, Metric: m, N: n})
	}
	return out
}

// fold applies event e to parcel summary p: state, holder, the statistics e moves (recorded
// on e.Deltas) and the anomalies e reveals. Later-timed ordinary events never replace a final
// state; out-of-order events slot into the summary by their time.
func (s *Service) fold(p *Parcel, e *Event, cfg CarrierConfig, o Options) []Anomaly {
	var anoms []Anomaly
	// A scan of a parcel that may have been deemed lost revives it: the deemed loss of the
	// state it was in is neutralised (see revive), whether or not the scan got to count it.
	if p.Waybill != "" && p.deemable(o, e.ReceivedAt.Add(reviveMargin)) {
		e.sources = append(e.sources, revive(*p, o)...)
	}
	collectedBefore, deliveredBefore, judgedBefore := !p.CollectedAt.IsZero(), !p.DeliveredAt.IsZero(), p.Judged
	if e.Region != "" && !e.At.Before(p.LastAt) {
		p.LastRegion = e.Region
	}
	if p.Waybill == "" {
		p.Waybill, p.Carrier, p.FirstAt = e.Waybill, e.Carrier, e.At
	}
	found := false
	for _, c := range p.Carriers {
		found = found || c == e.Carrier
	}
	if !found {
		p.Carriers = append(p.Carriers, e.Carrier)
	}
	p.Events++
	if e.At.Before(p.FirstAt) {
		p.FirstAt = e.At
	}
	if e.At.After(p.LastAt) {
		p.LastAt = e.At
	}
	if e.Code.Final() {
		if !p.Final || !e.At.Before(p.StatusAt) {
			p.Status, p.StatusAt, p.Final = e.Code, e.At, true
		}
	} else if !p.Final && !e.At.Before(p.StatusAt) {
		p.Status, p.StatusAt = e.Code, e.At
	}
	if h := e.custody(); !h.IsZero() && !e.At.Before(p.HolderAt) && (!p.Final || e.Code.Final()) {
		p.Holder, p.HolderAt = h, e.At
	}
	if e.Code.transit() {
		p.TransitScans++
	}
	who := party(e)
	day := Day(e.At)
	switch e.Code {
	case Collected:
		if !p.DeliveredAt.IsZero() && e.At.After(p.DeliveredAt) {
			anoms = append(anoms, Anomaly{ID: anomalyID(AnAfterDelivery, p.Key().String()), Kind: AnAfterDelivery, Waybill: e.Waybill, Carrier: e.Carrier,
				Detail: "a new collection after the parcel was delivered at " + p.DeliveredAt.Format(time.RFC3339), EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
		}
		if p.CollectedAt.IsZero() || e.At.Before(p.CollectedAt) {
			p.CollectedAt, p.CollectedBy = e.At, who
			p.PromiseBy = e.At.Add(cfg.Promise())
			if e.Region != "" {
				p.CollectedRegion = e.Region
			}
			if e.MerchantID != "" {
				p.MerchantID = e.MerchantID
			}
			if e.RecipientKey != "" {
				p.RecipientKey, p.RecipientID = e.RecipientKey, e.RecipientID
			}
			if e.WeightGrams > 0 {
				p.WeightGrams = e.WeightGrams
				if e.WeightGrams < o.MinWeightGrams || e.WeightGrams > o.MaxWeightGrams {
					anoms = append(anoms, Anomaly{ID: anomalyID(AnWeight, p.Key().String()), Kind: AnWeight, Waybill: e.Waybill, Carrier: e.Carrier, MerchantID: e.MerchantID,
						Detail: fmt.Sprintf("collection weight %d g is outside %d–%d g", e.WeightGrams, o.MinWeightGrams, o.MaxWeightGrams), EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
				}
			}
		}
	case Delivered:
		if p.DeliveredAt.IsZero() {
			p.DeliveredAt, p.DeliveredBy, p.Signer = e.At, who, e.Signer
		}
	case Lost:
		if !p.Lost { // a parcel is lost once, however many scans say so
			p.Lost = true
			e.Deltas = append(e.Deltas, deltas(who, day, MLost, 1)...)
		}
	case Damaged:
		if !p.Damaged {
			p.Damaged = true
			e.Deltas = append(e.Deltas, deltas(who, day, MDamaged, 1)...)
		}
	}
	if !p.Judged && !p.CollectedAt.IsZero() && !p.DeliveredAt.IsZero() {
		p.Judged = true
		// Judged once both ends are known, whichever arrived first.
		if p.TransitScans == 0 {
			anoms = append(anoms, Anomaly{ID: anomalyID(AnNoTransit, p.Key().String()), Kind: AnNoTransit, Waybill: e.Waybill, Carrier: p.Carrier, MerchantID: p.MerchantID,
				Detail: "collected and delivered with no transit scan in between", EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
		}
		p.Verdict = MOnTime
		if p.DeliveredAt.After(p.PromiseBy) {
			p.Verdict = MLate
			anoms = append(anoms, Anomaly{ID: anomalyID(AnPromiseBreached, p.Key().String()), Kind: AnPromiseBreached, Waybill: e.Waybill, Carrier: p.Carrier,
				Detail:   fmt.Sprintf("delivered %s after a promise due %s", p.DeliveredAt.Format(time.RFC3339), p.PromiseBy.Format(time.RFC3339)),
				EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt})
		}
	}
	// Empty-parcel signals the fold sees itself (the merchant bursts come from the scan): what
	// the parcel counted as service so far is withdrawn, keyed by item so that the scan's
	// withdrawals of a burst and these never take the same count twice, and nothing more is.
	if !p.Empty && (e.reused || emptySignal(anoms)) {
		p.Empty = true
		e.sources = append(e.sources, withdrawals(*p, !deliveredBefore && !p.DeliveredAt.IsZero(), !judgedBefore && p.Judged)...)
	} else if p.Empty && !collectedBefore && !p.CollectedAt.IsZero() {
		e.sources = append(e.sources, suspectItem(*p)) // marked before its collection was seen
	}
	if !deliveredBefore && !p.DeliveredAt.IsZero() {
		if p.Empty {
			p.DeliveryWithheld = true
		} else {
			e.Deltas = append(e.Deltas, deltas(p.DeliveredBy, Day(p.DeliveredAt), MDelivered, 1)...)
		}
	}
	if !judgedBefore && p.Judged {
		if p.Empty {
			p.Verdict = VerdictWithheld
		} else {
			e.Deltas = append(e.Deltas, deltas(p.DeliveredBy, Day(p.DeliveredAt), p.Verdict, 1)...)
		}
	}
	if p.Empty {
		return anoms
	}
	for _, d := range deltas(who, day, MHandled, 1) {
		k := d.Key.String()
		seen := false
		for _, h := range p.Handled {
			seen = seen || h == k
		}
		if !seen {
			p.Handled = append(p.Handled, k)
			e.Deltas = append(e.Deltas, d)
		}
	}
	return anoms
}

// reuseCheck finds new parcels whose waybill another carrier uses too: the same number at two
// carriers is two parcels, and a signal of reused or resold numbers (reused_second_carrier).
type reuseCheck struct {
	st      Store
	batch   map[string][]string // waybill → carriers with events in the batch being folded
	carrier map[string][]string // waybill → carriers with stored events, read once
}

func newReuseCheck(st Store, evs []Event) *reuseCheck {
	r := &reuseCheck{st: st, batch: map[string][]string{}, carrier: map[string][]string{}}
	for _, e := range evs {
		if !slices.Contains(r.batch[e.Waybill], e.Carrier) {
			r.batch[e.Waybill] = append(r.batch[e.Waybill], e.Carrier)
		}
	}
	return r
}

// check is called with the first event of a new parcel. The anomaly's detail does not name the
// other carriers: the carrier's own tree sees it, and may not learn who else uses the number;
// regulators find them by tracing the waybill.
func (r *reuseCheck) check(ctx context.Context, e *Event) ([]Anomaly, error) {
	stored, ok := r.carrier[e.Waybill]
	if !ok {
		var err error
		if stored, err = r.st.WaybillCarriers(ctx, e.Waybill); err != nil {
			return nil, fmt.Errorf("carriers of waybill %s: %w", e.Waybill, err)
		}
		r.carrier[e.Waybill] = stored
	}
	others := 0
	seen := map[string]bool{e.Carrier: true}
	for _, c := range slices.Concat(stored, r.batch[e.Waybill]) {
		if !seen[c] {
			seen[c] = true
			others++
		}
	}
	if others == 0 {
		return nil, nil
	}
	return []Anomaly{{ID: anomalyID(AnSecondCarrier, e.Parcel().String()), Kind: AnSecondCarrier, Waybill: e.Waybill, Carrier: e.Carrier,
		Detail:   fmt.Sprintf("waybill %s is used by %d other carrier(s) too: the same number at two carriers is two parcels (reused or resold numbers?)", e.Waybill, others),
		EventIDs: []string{e.ID}, FoundAt: e.ReceivedAt}}, nil
}

// offeredTo returns the handover of parcel k offered to firm tree root, when the parcel is
// still waiting for it or that tree holds it now (it took it), else nil. Traces are cached per
// batch in seen.
func (s *Service) offeredTo(ctx context.Context, root string, k ParcelKey, seen map[ParcelKey]*Trace) (*Offer, error) {
	t, ok := seen[k]
	if !ok {
		evs, err := s.store.ParcelEvents(ctx, k)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			cfg, err := s.config(ctx, s.store, k.Carrier)
			if err != nil {
				return nil, err
			}
			tr, err := s.buildTrace(ctx, evs, cfg)
			if err != nil {
				return nil, err
			}
			t = &tr
		}
		seen[k] = t
	}
	if t == nil {
		return nil, nil
	}
	for i := len(t.Offers) - 1; i >= 0; i-- {
		o := t.Offers[i]
		if in, err := s.inTree(ctx, root, o.To.FirmID); err != nil || !in {
			if err != nil {
				return nil, err
			}
			continue
		}
		if !o.Accepted {
			return &o, nil
		}
		if t.Holder.Kind == HolderFirm {
			if in, err := s.inTree(ctx, root, t.Holder.FirmID); err != nil || in {
				return &o, err
			}
		}
	}
	return nil, nil
}

// AcceptHandover records that the receiving tree took a parcel offered to it: the receiver's
// firm tree or a regulator may accept. Custody and responsibility pass to the receiver from
// now on. Accepting an accepted offer changes nothing. It returns the offer as it stands.
// Errors: credtrace.ErrNotFound for no such offer the caller may accept, *AmbiguousError
// when the offer id names handovers of several parcels of the waybill.
func (s *Service) AcceptHandover(ctx context.Context, c credtrace.Caller, waybill, carrier, id string) (Offer, error) {
	if !c.IsRegulator() && c.Role != credtrace.RoleFirm {
		return Offer{}, credtrace.ErrForbidden
	}
	carriers, err := s.store.WaybillCarriers(ctx, strings.TrimSpace(waybill))
	if err != nil {
		return Offer{}, err
	}
	if carrier != "" {
		if !slices.Contains(carriers, carrier) {
			return Offer{}, credtrace.ErrNotFound
		}
		carriers = []string{carrier}
	}
	type hit struct {
		k ParcelKey
		o Offer
	}
	var hits []hit
	for _, cr := range carriers {
		k := ParcelKey{Carrier: cr, Waybill: strings.TrimSpace(waybill)}
		evs, err := s.store.ParcelEvents(ctx, k)
		if err != nil {
			return Offer{}, err
		}
		cfg, err := s.config(ctx, s.store, cr)
		if err != nil {
			return Offer{}, err
		}
		t, err := s.buildTrace(ctx, evs, cfg)
		if err != nil {
			return Offer{}, err
		}
		for _, off := range t.Offers {
			if off.ID != id {
				continue
			}
			if c.Role == credtrace.RoleFirm {
				if in, err := s.inTree(ctx, c.FirmID, off.To.FirmID); err != nil {
					return Offer{}, err
				} else if !in {
					continue
				}
			}
			hits = append(hits, hit{k, off})
		}
	}
	switch len(hits) {
	case 0:
		return Offer{}, credtrace.ErrNotFound
	case 1:
	default:
		amb := &AmbiguousError{Waybill: waybill}
		for _, h := range hits {
			amb.Carriers = append(amb.Carriers, h.k.Carrier)
		}
		sort.Strings(amb.Carriers)
		return Offer{}, amb
	}
	h := hits[0]
	if h.o.Accepted {
		return h.o, nil
	}
	at := s.Now()
	if at.Before(h.o.At) {
		at = h.o.At
	}
	to := h.o.To
	in := EventInput{ID: "accept-" + h.o.ID, Waybill: h.k.Waybill, Carrier: h.k.Carrier, Code: string(Handover), At: at,
		Site: to.SiteID, Staff: to.StaffID, Holder: &HolderInput{Firm: to.FirmID, Site: to.SiteID, Staff: to.StaffID},
		Remark: "accepted handover " + h.o.ID + " (token " + c.TokenID + ")", accept: &h.o}
	res, err := s.Ingest(ctx, c, []EventInput{in})
	if err != nil {
		return Offer{}, err
	}
	if r := res.Results[0]; r.Status == Rejected {
		return Offer{}, fmt.Errorf("accept handover %s: %s: %w", h.o.ID, r.Reason, credtrace.ErrConflict)
	}
	h.o.Accepted, h.o.AcceptedAt, h.o.AcceptedBy = true, at, in.ID
	return h.o, nil
}
