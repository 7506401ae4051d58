package tracking

import "container/list"

// parcelCache keeps the most recently folded parcel summaries, so that a parcel in flight is
// not read back and decoded from the store at each of its scans. It is filled only after a
// batch commits and emptied when one fails.
type parcelCache struct {
	max   int
	order *list.List // front: most recent
	items map[ParcelKey]*list.Element
}

func newParcelCache(max int) *parcelCache {
	return &parcelCache{max: max, order: list.New(), items: map[ParcelKey]*list.Element{}}
}

func (c *parcelCache) get(k ParcelKey) (Parcel, bool) {
	if c.max <= 0 {
		return Parcel{}, false
	}
	el, ok := c.items[k]
	if !ok {
		return Parcel{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(Parcel), true
}

// put keeps p as the most recent summary, dropping the least recent past max. A final parcel
// (delivered, returned, lost) is dropped rather than kept: scans after the end are rare, and
// read back from the store, while completed parcels would otherwise fill the cache and push
// out the parcels in flight, which every batch scans again.
func (c *parcelCache) put(p Parcel) {
	if c.max <= 0 {
		return
	}
	if p.Final {
		if el, ok := c.items[p.Key()]; ok {
			c.order.Remove(el)
			delete(c.items, p.Key())
		}
		return
	}
	if el, ok := c.items[p.Key()]; ok {
		el.Value = p
		c.order.MoveToFront(el)
		return
	}
	c.items[p.Key()] = c.order.PushFront(p)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(Parcel).Key())
	}
}

// len is how many summaries the cache holds.
func (c *parcelCache) len() int { return c.order.Len() }
