package tracking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/credtrace/credtrace"
)

// PipelineOptions tune a Pipeline.
type PipelineOptions struct {
	// Shared says that several processes ingest into the store (MongoDB replicas): summaries
	// are then always read from the store, never from a cache of this process, and the derived
	// state of every batch is saved before the batch is answered. Left false, as suits SQLite
	// (one writer), recent summaries are cached and the derived state is saved in bulk.
	Shared bool
	// MaxQueued bounds the events submitted and not yet answered (DefaultMaxQueued when 0).
	// While the store does not answer, batches wait for it up to its operation timeout; past
	// this many events a batch is refused at once as Unavailable rather than queued, so that
	// the memory held for a store that went away stays bounded.
	MaxQueued int
}

// DefaultMaxQueued is the default bound of PipelineOptions.MaxQueued: five full batches
// (MaxBatch events each), some tens of megabytes, waiting on the group commit.
const DefaultMaxQueued = 5 * MaxBatch

// ErrBacklog is the error of a batch refused because MaxQueued events already wait for the
// store: the store is slow or away, and the carrier should send the batch again shortly.
var ErrBacklog = &credtrace.Error{Kind: credtrace.Unavailable, Code: "ingestion_backlog",
	Msg: "too many events wait for the store"}

// Pipeline is the ingestion machinery of a Service: the group commit that makes batches of
// events durable, the folder goroutine that folds the stored events into parcel summaries,
// statistics and anomalies, the derived state waiting to be saved, and the replay of what a
// crash left behind. The decisions it applies (normalize, fold) are the Service's.
//
// Every backend offers it the same contract, the Journal methods of Store: events are
// appended first and answered once durable; their derived state follows and moves the
// checkpoint, and Recover replays the events after it.
type Pipeline struct {
	s       *Service
	shared  bool
	parcels *parcelCache // guarded by mu

	// mu serialises folding in this process, so that parcel summaries fold events one group
	// at a time, and guards the derived state below.
	mu            sync.Mutex
	dirty         map[ParcelKey]Parcel // folded, not yet saved
	pendingStats  []EventStats
	pendingList   []Anomaly
	pendingAnoms  map[string]bool
	pendingEvents int
	// round keeps, per parcel, the events folded since the last save as they were before
	// folding (shared stores only): a save that loses a parcel to another process folds them
	// again onto the summary that won.
	round     map[ParcelKey][]Event
	through   int64
	flushedAt time.Time
	// stale says that a fold or a save failed after its events were stored (the store ran out
	// of disk, or did not answer): what is held in memory may be half-folded, so it is dropped
	// and the events after the store's checkpoint are replayed before anything else is folded
	// or read. replayed is the last sequence the latest replay folded: a group stored before
	// it is answered without folding again.
	stale    bool
	replayed int64
	size     int // of the parcel cache

	qmu      sync.Mutex // guards the group-commit queue, queued and closed
	queue    []*ingestJob
	queued   int // events submitted and not yet answered
	maxQueue int
	writing  bool
	closed   bool
	inflight sync.WaitGroup // batches submitted and not yet answered
	foldq    chan *group
	folded   chan struct{} // closed when the folder has ended
	stop     sync.Once
}

// ErrClosed is returned by ingestion after the Pipeline was closed.
var ErrClosed = errors.New("ingestion pipeline closed")

var errNoPipeline = errors.New("tracking: ingestion needs a Pipeline (see NewPipeline)")

// parcelCacheSize is how many parcel summaries a pipeline on a store it alone writes keeps in
// memory between batches.
const parcelCacheSize = 100000

// Derived state waiting to be saved, when the store is not shared.
const (
	flushEvents = 50000           // save the derived state after this many events
	flushEvery  = 5 * time.Second // or when it is older than this
)

// NewPipeline starts the ingestion pipeline of s: s.Ingest, and the reads of s that must see
// every accepted event, go through it from now on. Call it once per Service, and Recover
// before the service takes traffic; Close stops it.
func NewPipeline(s *Service, o PipelineOptions) *Pipeline {
	size := parcelCacheSize
	if o.Shared {
		size = -1
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	p := &Pipeline{s: s, shared: o.Shared, size: size, maxQueue: o.MaxQueued, parcels: newParcelCache(size), dirty: map[ParcelKey]Parcel{}, round: map[ParcelKey][]Event{}, pendingAnoms: map[string]bool{},
		flushedAt: s.now(), foldq: make(chan *group, 64), folded: make(chan struct{})}
	go p.folder()
	s.pipe = p
	return p
}

// Close stops taking batches, waits until the batches taken are answered (or ctx ends), stops
// the folder and saves the derived state. Closing twice is harmless.
func (p *Pipeline) Close(ctx context.Context) error {
	p.qmu.Lock()
	p.closed = true
	p.qmu.Unlock()
	drained := make(chan struct{})
	go func() { p.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
	default:
		select {
		case <-drained:
		case <-ctx.Done():
			return fmt.Errorf("close ingestion pipeline: %w", ctx.Err())
		}
	}
	p.stop.Do(func() { close(p.foldq) })
	<-p.folded
	return p.Flush(ctx)
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

// ingest makes events durable, folds them and fills in their results; index maps events to
// their inputs. The batch returned holds the events stored and the anomalies they raised.
func (p *Pipeline) ingest(ctx context.Context, events []Event, index []int, res *IngestResult, configs map[string]CarrierConfig) (Batch, error) {
	if len(events) == 0 {
		return Batch{}, nil
	}
	// Only the events are made durable before the answer; the derived state follows.
	// Batches that arrive while one is being written share the next transaction.
	job := &ingestJob{ctx: ctx, events: events, res: res, configs: configs, done: make(chan struct{}), keys: make(map[string]int, len(events))}
	for i, e := range events {
		job.keys[e.Key()] = index[i]
	}
	if err := p.submit(job); err != nil {
		return Batch{}, err
	}
	return job.batch, job.err
}

// submit queues job and returns when it is answered. The first caller to find no writer
// becomes the writer and keeps writing whatever has queued meanwhile, each round in one
// transaction (group commit): one fsync serves every batch that waited for it.
func (p *Pipeline) submit(job *ingestJob) error {
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		return ErrClosed
	}
	if p.queued > 0 && p.queued+len(job.events) > p.maxQueue {
		p.qmu.Unlock()
		return ErrBacklog
	}
	p.queued += len(job.events)
	p.inflight.Add(1)
	defer p.inflight.Done()
	defer func() {
		p.qmu.Lock()
		p.queued -= len(job.events)
		p.qmu.Unlock()
	}()
	p.queue = append(p.queue, job)
	if p.writing {
		p.qmu.Unlock()
		<-job.done
		return nil
	}
	p.writing = true
	p.qmu.Unlock()
	for {
		p.qmu.Lock()
		jobs := p.queue
		p.queue = nil
		if len(jobs) == 0 {
			p.writing = false
			p.qmu.Unlock()
			break
		}
		p.qmu.Unlock()
		p.writeGroup(jobs)
	}
	<-job.done
	return nil
}

// writeGroup appends the events of jobs in one transaction and classifies what was not new
// (duplicate or conflict). Folding waits for the folder, which takes the groups in the order
// they were stored, so the writer can start on the next group meanwhile.
func (p *Pipeline) writeGroup(jobs []*ingestJob) {
	ctx := context.WithoutCancel(jobs[0].ctx) // one client hanging up must not fail the others
	g := &group{jobs: jobs, ctx: ctx}
	for _, job := range jobs {
		sortEvents(job.events)
		g.all = append(g.all, job.events...)
	}
	st := p.s.store
	g.stored, g.last, g.err = st.AppendEvents(ctx, g.all)
	if g.err == nil {
		p.s.hub.kick() // durable: the live streams read the new events now, not at the next poll
		var again []string
		for i, e := range g.all {
			if !g.stored[i] {
				again = append(again, e.Key())
			}
		}
		if len(again) > 0 {
			g.hashes, g.err = st.EventHashes(ctx, again)
		}
	}
	p.foldq <- g
}

// sortEvents orders evs as eventLess does, stably. It sorts positions and moves each event
// once: an Event is a large struct, and a sort that swaps and compares them by value spent
// more time copying than comparing.
func sortEvents(evs []Event) {
	if slices.IsSortedFunc(evs, func(a, b Event) int { return eventCmp(&a, &b) }) {
		return
	}
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return eventCmp(&evs[a], &evs[b]) })
	sorted := make([]Event, len(evs))
	for i, j := range idx {
		sorted[i] = evs[j]
	}
	copy(evs, sorted)
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

// folder folds stored groups in order, one at a time, and answers their jobs, until Close.
func (p *Pipeline) folder() {
	defer close(p.folded)
	for g := range p.foldq {
		p.mu.Lock()
		err := g.err
		if err == nil {
			// A store shared by replicas keeps every event pending until its derived state
			// lands, and their recovery replays what a failed save left: only a pipeline that
			// alone writes its store replays here.
			if err = p.foldGroup(g); err != nil && !p.shared {
				p.stale = true
			}
		}
		p.mu.Unlock()
		for _, job := range g.jobs {
			job.err = err
			close(job.done)
		}
	}
}

func (p *Pipeline) foldGroup(g *group) error {
	ctx, s := g.ctx, p.s
	if p.stale {
		if err := p.replayLocked(ctx); err != nil {
			return fmt.Errorf("events stored, derived state not saved (replayed when the store takes writes again): %w", err)
		}
	}
	// A replay since the group was stored folded its events already: they are answered, not
	// folded twice.
	fold := g.last == 0 || g.last > p.replayed
	var missing []ParcelKey
	seen := map[ParcelKey]bool{}
	for i, e := range g.all {
		k := e.Parcel()
		if !fold || !g.stored[i] || seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := p.dirty[k]; ok {
			continue
		}
		if pc, ok := p.parcels.get(k); ok {
			p.dirty[k] = pc
			continue
		}
		missing = append(missing, k)
	}
	if len(missing) > 0 {
		got, err := s.store.ParcelsByKey(ctx, missing)
		if err != nil {
			// The events are durable; their derived state comes back with the next replay.
			return fmt.Errorf("events stored, summaries unreadable (replayed before the next batch is folded): %w", err)
		}
		for _, k := range missing {
			p.dirty[k] = got[k] // zero for a new parcel
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
			if !fold {
				continue
			}
			pc := p.dirty[e.Parcel()]
			if p.shared && slices.Contains(pc.Folded, e.Key()) {
				continue // another process replayed it into the summary already
			}
			a, err := p.foldOne(ctx, &pc, e, job.configs[e.Carrier], reuse)
			if err != nil {
				return fmt.Errorf("events stored, derived state not saved (replayed before the next batch is folded): %w", err)
			}
			anomalies = append(anomalies, a...)
			pc.UpdatedAt = now
			p.dirty[e.Parcel()] = pc
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
			if p.pendingAnoms[a.ID] {
				continue
			}
			if _, err := s.store.Anomaly(ctx, a.ID); err == nil {
				continue
			}
			p.pendingAnoms[a.ID] = true
			p.pendingList = append(p.pendingList, a)
			job.batch.Anomalies = append(job.batch.Anomalies, a)
		}
	}
	if g.last > p.through {
		p.through = g.last
	}
	// New anomalies are saved at once (they are rare): the alert streams of every process read
	// them from the store, so an anomaly held in memory would reach none of them.
	if p.shared || len(p.pendingList) > 0 || p.pendingEvents >= flushEvents || s.now().Sub(p.flushedAt) > flushEvery || p.s.now().Before(p.flushedAt) {
		if err := p.flushLocked(ctx); err != nil {
			return fmt.Errorf("events stored, derived state not saved (replayed before the next batch is folded): %w", err)
		}
	}
	return nil
}

// Flush saves the derived state that the pipeline holds in memory; reads of statistics,
// parcels and anomalies call it first, so they always see every accepted event.
func (p *Pipeline) Flush(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stale {
		return p.replayLocked(ctx)
	}
	return p.flushLocked(ctx)
}

// replayLocked drops the derived state held in memory, which a failed fold or save may have
// left half-done, and replays the events after the store's checkpoint onto the state the store
// saved, as Recover does at start: the statistics come out exactly as if nothing had failed.
// The pipeline stays stale until a replay succeeds.
func (p *Pipeline) replayLocked(ctx context.Context) error {
	p.parcels = newParcelCache(p.size)
	p.dirty, p.round = map[ParcelKey]Parcel{}, map[ParcelKey][]Event{}
	p.pendingStats, p.pendingList, p.pendingEvents = nil, nil, 0
	p.pendingAnoms = map[string]bool{}
	if _, err := p.recoverLocked(ctx); err != nil {
		return fmt.Errorf("replay after a failed save: %w", err)
	}
	p.stale = false
	p.replayed = p.through
	return nil
}

// maxRefolds bounds how often one save folds again after losing parcels to other processes.
const maxRefolds = 50

func (p *Pipeline) flushLocked(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := p.saveLocked(ctx)
		var fc *FoldConflictError
		if !p.shared || !errors.As(err, &fc) || attempt == maxRefolds {
			return err
		}
		if err := p.refold(ctx, fc.Parcels); err != nil {
			return err
		}
	}
}

func (p *Pipeline) saveLocked(ctx context.Context) error {
	if len(p.dirty) == 0 && p.pendingEvents == 0 && len(p.pendingList) == 0 {
		return nil
	}
	d := Derived{Events: p.pendingStats, Anomalies: p.pendingList, Through: p.through}
	for _, pc := range p.dirty {
		if p.shared {
			pc.Version++ // compare and set: the save lands only onto the version read
		}
		d.Parcels = append(d.Parcels, pc)
	}
	sortParcels(d.Parcels)
	if err := p.s.saveDerived(ctx, d); err != nil {
		return fmt.Errorf("save derived state: %w", err)
	}
	if len(d.Anomalies) > 0 {
		p.s.hub.kick() // the alert stream reads the anomalies just stored
	}
	for _, pc := range d.Parcels {
		p.parcels.put(pc)
	}
	p.dirty, p.round = map[ParcelKey]Parcel{}, map[ParcelKey][]Event{}
	p.pendingStats, p.pendingList, p.pendingEvents = nil, nil, 0
	p.pendingAnoms = map[string]bool{}
	p.flushedAt = p.s.now()
	return nil
}

// sortParcels orders ps by key, as the save writes them. Each key is made once, and each
// summary moved once: a comparison that built two key strings and swapped whole summaries
// made this sort a visible share of a save.
func sortParcels(ps []Parcel) {
	type keyed struct {
		key string
		i   int
	}
	ks := make([]keyed, len(ps))
	for i := range ps {
		ks[i] = keyed{ps[i].Key().String(), i}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	sorted := make([]Parcel, len(ps))
	for i, k := range ks {
		sorted[i] = ps[k.i]
	}
	copy(ps, sorted)
}

// Recover replays the events stored after the checkpoint and saves their derived state: a
// crash between an answer and the next save loses nothing, and counts nothing twice. It
// returns how many events it replayed, and runs before the service takes traffic.
func (p *Pipeline) Recover(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recoverLocked(ctx)
}

func (p *Pipeline) recoverLocked(ctx context.Context) (int, error) {
	s := p.s
	cp, err := s.store.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	replayed := 0
	configs := map[string]CarrierConfig{}
	for {
		evs, seqs, err := s.store.EventsAfter(ctx, cp, 5000)
		if err != nil {
			return replayed, err
		}
		if len(evs) == 0 {
			return replayed, p.flushLocked(ctx)
		}
		var need []ParcelKey
		for _, e := range evs {
			if _, ok := p.dirty[e.Parcel()]; !ok {
				need = append(need, e.Parcel())
			}
		}
		got, err := s.store.ParcelsByKey(ctx, need)
		if err != nil {
			return replayed, err
		}
		for k, pc := range got {
			if _, ok := p.dirty[k]; !ok {
				p.dirty[k] = pc
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
			pc := p.dirty[e.Parcel()]
			e.Deltas = nil
			if p.shared && slices.Contains(pc.Folded, e.Key()) {
				p.through = seqs[i]
				continue // a save that stopped before its events were marked holds it already
			}
			// The same fold, in the same order, from the same saved state as the first time:
			// it moves exactly the statistics the event moved then.
			anoms, err := p.foldOne(ctx, &pc, &e, cfg, reuse)
			if err != nil {
				return replayed, err
			}
			pc.UpdatedAt = e.ReceivedAt
			p.dirty[e.Parcel()] = pc
			for _, a := range anoms {
				if !p.pendingAnoms[a.ID] {
					p.pendingAnoms[a.ID] = true
					p.pendingList = append(p.pendingList, a)
				}
			}
			p.through = seqs[i]
			replayed++
		}
		cp = seqs[len(seqs)-1]
		if err := p.flushLocked(ctx); err != nil {
			return replayed, err
		}
	}
}

// foldOne folds e into pc and records what the fold moved with the derived state to save. The
// sources the fold names are added now on a store only this process writes; on a shared one
// they go with the save, which adds them only if the summary lands.
func (p *Pipeline) foldOne(ctx context.Context, pc *Parcel, e *Event, cfg CarrierConfig, reuse *reuseCheck) ([]Anomaly, error) {
	s := p.s
	orig := *e
	var anoms []Anomaly
	if pc.Waybill == "" {
		a, err := reuse.check(ctx, e)
		if err != nil {
			return nil, err
		}
		e.reused = len(a) > 0
		anoms = a
	}
	anoms = append(anoms, s.fold(pc, e, cfg, s.opts)...)
	st := EventStats{Key: e.Key(), Parcel: e.Parcel(), Deltas: e.Deltas}
	if p.shared {
		for _, src := range e.sources {
			st.Sources = append(st.Sources, StatSource{Key: src.key, Deltas: src.deltas})
		}
		pc.Folded = append(pc.Folded, e.Key())
		p.round[e.Parcel()] = append(p.round[e.Parcel()], orig)
	} else if err := applySources(ctx, s.store, e.sources); err != nil {
		// The events are durable: a crash before these land replays the fold, which names
		// the same sources again, and the store adds each once.
		return nil, err
	}
	p.pendingStats = append(p.pendingStats, st)
	p.pendingEvents++
	return anoms, nil
}

// refold follows a save that landed but for the parcels of keys, which other processes saved
// meanwhile: it reads their summaries as saved and folds onto them the events of this round
// that they do not hold yet; the rest of the round is saved and dropped.
func (p *Pipeline) refold(ctx context.Context, keys []ParcelKey) error {
	s := p.s
	round := p.round
	p.dirty, p.round = map[ParcelKey]Parcel{}, map[ParcelKey][]Event{}
	p.pendingStats, p.pendingList, p.pendingEvents = nil, nil, 0
	p.pendingAnoms = map[string]bool{}
	got, err := s.store.ParcelsByKey(ctx, keys)
	if err != nil {
		return fmt.Errorf("refold: %w", err)
	}
	var all []Event
	for _, k := range keys {
		all = append(all, round[k]...)
	}
	reuse := newReuseCheck(s.store, all)
	configs := map[string]CarrierConfig{}
	now := s.Now()
	for _, k := range keys {
		evs := round[k]
		pc := got[k]
		folded := false
		for i := range evs {
			e := evs[i]
			if slices.Contains(pc.Folded, e.Key()) {
				continue // the winner holds it
			}
			cfg, ok := configs[e.Carrier]
			if !ok {
				if cfg, err = s.config(ctx, s.store, e.Carrier); err != nil {
					return fmt.Errorf("refold: %w", err)
				}
				configs[e.Carrier] = cfg
			}
			anoms, err := p.foldOne(ctx, &pc, &e, cfg, reuse)
			if err != nil {
				return fmt.Errorf("refold: %w", err)
			}
			for _, a := range anoms {
				if p.pendingAnoms[a.ID] {
					continue
				}
				if _, err := s.store.Anomaly(ctx, a.ID); err == nil {
					continue
				}
				p.pendingAnoms[a.ID] = true
				p.pendingList = append(p.pendingList, a)
			}
			folded = true
		}
		if folded {
			pc.UpdatedAt = now
			p.dirty[k] = pc
		}
	}
	return nil
}

// saveDerived saves d, telling the Notifier first in the same Atomic block when there is one.
func (s *Service) saveDerived(ctx context.Context, d Derived) error {
	n := s.opts.Notifier
	if n == nil {
		return s.store.SaveDerived(ctx, d)
	}
	return s.store.Atomic(ctx, func(st Store) error {
		if err := n.Stored(ctx, st, d.Parcels, d.Anomalies); err != nil {
			return fmt.Errorf("announce: %w", err)
		}
		return st.SaveDerived(ctx, d)
	})
}
