package tracking

import "sync"

// Hub fans new events out to the live streams of their parcels, and alerts (incidents and
// anomalies) to the regulators' stream. A slow subscriber loses messages rather than slowing
// ingestion down: its channel is buffered and full sends are dropped and counted.
type Hub struct {
	mu      sync.Mutex
	parcels map[ParcelKey]map[chan Event]struct{}
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
	return &Hub{parcels: map[ParcelKey]map[chan Event]struct{}{}, alerts: map[chan Alert]struct{}{}}
}

// SubscribeParcel returns a channel of new events of one parcel (its carrier's events of its
// waybill, never another carrier's) and a cancel function.
func (h *Hub) SubscribeParcel(k ParcelKey) (<-chan Event, func()) {
	ch := make(chan Event, 64)
	h.mu.Lock()
	if h.parcels[k] == nil {
		h.parcels[k] = map[chan Event]struct{}{}
	}
	h.parcels[k][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.parcels[k], ch)
		if len(h.parcels[k]) == 0 {
			delete(h.parcels, k)
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
		for ch := range h.parcels[e.Parcel()] {
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
