package tracking

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Hub fans new events out to the live streams of their parcels, and alerts (incidents and
// anomalies) to the regulators' stream. A slow subscriber loses messages rather than slowing
// ingestion down: its channel is buffered and full sends are dropped and counted. Publishing
// takes a read lock only, so that subscribing and leaving do not wait on a fan-out, nor one
// fan-out on another.
//
// The events and alerts come from the store, read by a Live poller, so that a stream sees what
// every process stored (every replica on one MongoDB database), not only this one's. What this
// process stores wakes the poller at once (kick), so that its own streams need not wait for
// the next poll.
type Hub struct {
	mu      sync.RWMutex
	parcels map[string]map[chan Event]string // waybill → subscriber → carrier ("" for any)
	alerts  map[chan Alert]struct{}
	dropped atomic.Int64
	wake    chan struct{} // a read of the store is due; buffered 1, never blocks a sender
}

// Alert is one message of the regulators' stream.
type Alert struct {
	Kind     string // incident or anomaly
	Incident *Incident
	Anomaly  *Anomaly
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{parcels: map[string]map[chan Event]string{}, alerts: map[chan Alert]struct{}{}, wake: make(chan struct{}, 1)}
}

// SubscribeParcel returns a channel of new events of one parcel (its carrier's events of its
// waybill, never another carrier's; with no carrier, every carrier's events of the waybill)
// and a cancel function.
func (h *Hub) SubscribeParcel(k ParcelKey) (<-chan Event, func()) {
	ch := make(chan Event, 64)
	h.mu.Lock()
	if h.parcels[k.Waybill] == nil {
		h.parcels[k.Waybill] = map[chan Event]string{}
	}
	h.parcels[k.Waybill][ch] = k.Carrier
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.parcels[k.Waybill], ch)
		if len(h.parcels[k.Waybill]) == 0 {
			delete(h.parcels, k.Waybill)
		}
		h.mu.Unlock()
	}
}

// SubscribeAlerts returns a channel of alerts and a cancel function.
func (h *Hub) SubscribeAlerts() (<-chan Alert, func()) {
	ch := make(chan Alert, 64)
	h.mu.Lock()
	h.alerts[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.alerts, ch)
		h.mu.Unlock()
	}
}

// Subscribers counts the open subscriptions: parcel streams and alert streams.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.alerts)
	for _, subs := range h.parcels {
		n += len(subs)
	}
	return n
}

func (h *Hub) publishEvents(evs []Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.parcels) == 0 {
		return
	}
	for _, e := range evs {
		for ch, carrier := range h.parcels[e.Waybill] {
			if carrier != "" && carrier != e.Carrier {
				continue
			}
			select {
			case ch <- e:
			default:
				h.dropped.Add(1)
			}
		}
	}
}

func (h *Hub) publishAlerts(as []Alert) {
	if len(as) == 0 {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, a := range as {
		for ch := range h.alerts {
			select {
			case ch <- a:
			default:
				h.dropped.Add(1)
			}
		}
	}
}

// kick tells the poller that this process stored something: it reads the store now.
func (h *Hub) kick() {
	select {
	case h.wake <- struct{}{}:
	default: // a read is due already and will see this too
	}
}

// Dropped counts messages lost to slow subscribers.
func (h *Hub) Dropped() int { return int(h.dropped.Load()) }

// DefaultPoll is how often a Live poller reads the store unless told otherwise.
const DefaultPoll = 250 * time.Millisecond

// Bounds of the live poller's search for events whose sequence it has passed (see seqCursor).
const (
	liveLookback = 1024             // sequences below the newest at start looked for once
	liveGrace    = 30 * time.Second // how long a skipped sequence is looked for
	liveMaxGaps  = 256              // runs of skipped sequences looked for at once
	livePage     = 1000             // events read by one query
)

// LiveOptions tune a Live poller.
type LiveOptions struct {
	Every   time.Duration // between two polls; 0 is DefaultPoll
	OnError func(error)   // told of each failed poll (the next poll tries again); may be nil
}

// Watcher is implemented by a store that can tell of its writes as they happen (a MongoDB
// change stream). Told of one, the Live poller reads what is new at once, by sequence as it
// always does, so that a notice lost or doubled never loses or doubles an event; it polls
// only as a safety net (every WatchedPoll).
type Watcher interface {
	// Watch starts telling notify (without blocking: a full channel means a read is due
	// anyway) of each event and alert any process stores, until ctx ends. It has subscribed
	// when it returns, so that whatever is stored afterwards is told. ok is false when the
	// server cannot watch, and the poller polls. It reopens a failed watch where it stopped
	// (a resume token), telling onError of each failure.
	Watch(ctx context.Context, notify chan<- struct{}, onError func(error)) (ok bool, err error)
}

// WatchedPoll is how often a Live poller reads the store when a Watcher tells it of writes.
const WatchedPoll = 5 * time.Second

// Live reads the events and alerts stored by any process, in sequence order, and hands each
// one once to the Service's Hub: one poller per process, whatever the number of subscribers.
// It is how the live streams work across replicas: on a server with change streams the
// store's Watcher wakes it; on one without (FerretDB), and on SQLite, which one process writes,
// it polls. This process's own writes wake it either way. Close stops it.
type Live struct {
	s       *Service
	every   time.Duration
	onError func(error)
	mode    string
	notify  chan struct{}      // the Watcher's notices
	events  seqCursor          // owned by the run goroutine once started
	alerts  seqCursor          // likewise
	cancel  context.CancelFunc // ends the watch
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// StartLive starts the live poller of s. It subscribes to the store's changes, where the
// store can watch, and reads the newest sequences before it returns, so that a stream
// subscribed after StartLive gets every event and alert stored after it subscribed.
func StartLive(ctx context.Context, s *Service, o LiveOptions) (*Live, error) {
	if o.Every <= 0 {
		o.Every = DefaultPoll
	}
	onError := o.OnError
	if onError == nil {
		onError = func(error) {}
	}
	l := &Live{s: s, every: o.Every, onError: onError, mode: "poll", notify: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	if w, ok := s.store.(Watcher); ok {
		// A server that claims change streams and then refuses one still has the events: the
		// poller polls, and says why.
		watching, err := w.Watch(wctx, l.notify, onError)
		if err != nil {
			onError(fmt.Errorf("live streams: no change stream, polling: %w", err))
		}
		if watching && err == nil {
			l.mode, l.every = "change stream", max(o.Every, WatchedPoll)
		}
	}
	last, err := s.store.LastSeq(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("start live streams: %w", err)
	}
	l.events = newSeqCursor(last, time.Now())
	if l.alerts, err = l.startAlerts(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("start live streams: %w", err)
	}
	go l.run()
	return l, nil
}

// startAlerts reads the alerts of the look-back window once without publishing them: an
// alert has no snapshot that a stream could drop it by, so only those stored after the
// start come (those of the window still being inserted among them).
func (l *Live) startAlerts(ctx context.Context) (seqCursor, error) {
	last, err := l.s.store.LastAlertSeq(ctx)
	if err != nil {
		return seqCursor{}, err
	}
	c := newSeqCursor(last, time.Now())
	for {
		_, seqs, err := l.s.store.AlertsSince(ctx, c.query(livePage))
		if err != nil {
			return seqCursor{}, fmt.Errorf("read alerts: %w", err)
		}
		for _, seq := range seqs {
			c.take(seq, time.Now())
		}
		if len(seqs) < livePage {
			return c, nil
		}
	}
}

// Mode names how the poller learns of new events: "poll", or "change stream" when the store
// tells of its writes.
func (l *Live) Mode() string { return l.mode }

// Close stops the poller and waits until it has stopped. Closing twice is harmless.
func (l *Live) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
	l.cancel()
}

func (l *Live) run() {
	defer close(l.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		case <-l.s.hub.wake:
		case <-l.notify:
		}
		if err := l.poll(ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.onError(err)
		}
	}
}

// poll reads what is new since the last poll, page by page, and publishes it.
func (l *Live) poll(ctx context.Context) error {
	if err := pollSeq(ctx, &l.events, l.s.store.EventsSince, l.s.hub.publishEvents); err != nil {
		return fmt.Errorf("live streams: poll events: %w", err)
	}
	if err := pollSeq(ctx, &l.alerts, l.s.store.AlertsSince, l.s.hub.publishAlerts); err != nil {
		return fmt.Errorf("live streams: poll alerts: %w", err)
	}
	return nil
}

// pollSeq reads what cur has not seen, page by page, and publishes what is new.
func pollSeq[T any](ctx context.Context, cur *seqCursor, read func(context.Context, SeqQuery) ([]T, []int64, error), publish func([]T)) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		items, seqs, err := read(pctx, cur.query(livePage))
		cancel()
		if err != nil {
			return err
		}
		now := time.Now() // the grace is the machinery's, not the service clock's
		var fresh []T
		for i := range items {
			if cur.take(seqs[i], now) {
				fresh = append(fresh, items[i])
			}
		}
		publish(fresh)
		if len(items) < livePage {
			cur.expire(now)
			return nil
		}
	}
}

// seqCursor is where the poller has read up to: the newest sequence seen, and the runs of
// lower sequences not seen yet. On MongoDB a sequence is taken from a counter before its event
// is inserted, so events can land out of sequence order (and a duplicate event takes a
// sequence it never uses): a skipped sequence is looked for again for liveGrace, so that an
// event inserted a moment after a higher one is still delivered. SQLite leaves no gaps.
type seqCursor struct {
	last int64
	gaps []seqGap // ascending, disjoint, all below last
}

type seqGap struct {
	SeqRange
	since time.Time
}

// newSeqCursor starts after last, looking back liveLookback sequences for events still being
// inserted (those already stored are delivered once more; streams drop what their snapshot holds).
func newSeqCursor(last int64, now time.Time) seqCursor {
	c := seqCursor{last: last}
	if last > 0 {
		c.gaps = []seqGap{{SeqRange{From: max(1, last-liveLookback+1), To: last}, now}}
	}
	return c
}

func (c *seqCursor) query(limit int) SeqQuery {
	q := SeqQuery{After: c.last, Limit: limit}
	for _, g := range c.gaps {
		q.Gaps = append(q.Gaps, g.SeqRange)
	}
	return q
}

// take records seq as seen and reports whether it is new.
func (c *seqCursor) take(seq int64, now time.Time) bool {
	if seq > c.last {
		if seq > c.last+1 {
			c.gaps = append(c.gaps, seqGap{SeqRange{From: c.last + 1, To: seq - 1}, now})
		}
		c.last = seq
		return true
	}
	for i, g := range c.gaps {
		if seq < g.From || seq > g.To {
			continue
		}
		var split []seqGap
		if seq > g.From {
			split = append(split, seqGap{SeqRange{From: g.From, To: seq - 1}, g.since})
		}
		if seq < g.To {
			split = append(split, seqGap{SeqRange{From: seq + 1, To: g.To}, g.since})
		}
		c.gaps = append(c.gaps[:i], append(split, c.gaps[i+1:]...)...)
		return true
	}
	return false
}

// expire stops looking for sequences skipped more than liveGrace ago, and for the oldest runs
// beyond liveMaxGaps.
func (c *seqCursor) expire(now time.Time) {
	kept := c.gaps[:0]
	for _, g := range c.gaps {
		if now.Sub(g.since) < liveGrace {
			kept = append(kept, g)
		}
	}
	if n := len(kept) - liveMaxGaps; n > 0 {
		kept = kept[n:]
	}
	c.gaps = kept
}
