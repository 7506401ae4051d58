package tracking

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Hub fans new events out to the live streams of their parcels, and alerts (incidents and
// anomalies) to the regulators' stream. A slow subscriber loses messages rather than slowing
// ingestion down: its channel is buffered and full sends are dropped and counted.
//
// The events come from the store, read by a Live poller, so that a stream sees the events
// stored by every process (every replica on one MongoDB database), not only this one's.
type Hub struct {
	mu      sync.Mutex
	parcels map[string]map[chan Event]string // waybill → subscriber → carrier ("" for any)
	alerts  map[chan Alert]struct{}
	dropped int
}

// Alert is one message of the regulators' stream.
type Alert struct {
	Kind     string // incident or anomaly
	Incident *Incident
	Anomaly  *Anomaly
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{parcels: map[string]map[chan Event]string{}, alerts: map[chan Alert]struct{}{}}
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

func (h *Hub) publishEvents(evs []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
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
				h.dropped++
			}
		}
	}
}

func (h *Hub) publishAlert(a Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.alerts {
		select {
		case ch <- a:
		default:
			h.dropped++
		}
	}
}

// Dropped counts messages lost to slow subscribers.
func (h *Hub) Dropped() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

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

// Live reads the events stored by any process, in sequence order, and hands each one once to
// the Service's Hub: one poller per process, whatever the number of subscribers. It is how
// the live streams work across replicas on a server without change streams (FerretDB), and on
// SQLite, which one process writes. Close stops it.
type Live struct {
	s       *Service
	every   time.Duration
	onError func(error)
	cur     seqCursor // owned by the run goroutine once started
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// StartLive starts the live poller of s. It reads the newest sequence before it returns, so
// that a stream subscribed after StartLive gets every event stored after it subscribed.
func StartLive(ctx context.Context, s *Service, o LiveOptions) (*Live, error) {
	if o.Every <= 0 {
		o.Every = DefaultPoll
	}
	last, err := s.store.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("start live streams: %w", err)
	}
	l := &Live{s: s, every: o.Every, onError: o.OnError, cur: newSeqCursor(last, time.Now()), stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Mode names how the poller learns of new events: "poll".
func (l *Live) Mode() string { return "poll" }

// Close stops the poller and waits until it has stopped. Closing twice is harmless.
func (l *Live) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
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
		}
		if err := l.poll(ctx); err != nil && !errors.Is(err, context.Canceled) && l.onError != nil {
			l.onError(err)
		}
	}
}

// poll reads what is new since the last poll, page by page, and publishes it.
func (l *Live) poll(ctx context.Context) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		evs, seqs, err := l.s.store.EventsSince(pctx, l.cur.query(livePage))
		cancel()
		if err != nil {
			return fmt.Errorf("live streams: poll: %w", err)
		}
		now := time.Now() // the grace is the machinery's, not the service clock's
		var fresh []Event
		for i := range evs {
			if l.cur.take(seqs[i], now) {
				fresh = append(fresh, evs[i])
			}
		}
		l.s.hub.publishEvents(fresh)
		if len(evs) < livePage {
			l.cur.expire(now)
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
