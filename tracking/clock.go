package tracking

import (
	"sync"
	"time"
)

// steadyClock is the latest time the service's clock has shown, carried forward by the
// monotonic clock: when the host clock steps back (NTP correcting a clock that ran fast, a
// virtual machine restored), the bound of how far in the future an event may lie stays where
// true time is, and an event stamped by a carrier's correct clock is not refused as being in
// the future. A step forward moves it forward with the clock (it only ever widens the bound).
type steadyClock struct {
	mu   sync.Mutex
	last time.Time // the latest time shown
	mono time.Time // when it was shown, with its monotonic reading
}

// latest is the later of now and the latest time shown carried forward by the time elapsed
// since, and becomes the latest time shown.
func (c *steadyClock) latest(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.last.IsZero() {
		if carried := c.last.Add(time.Since(c.mono)); carried.After(now) {
			now = carried
		}
	}
	c.last, c.mono = now, time.Now()
	return now
}
