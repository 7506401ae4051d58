package tracking

import "container/list"

// parcelCache keeps the most recently folded parcel summaries, so that a parcel in flight is
// not read back and decoded from the store at each of its scans. It is filled only after a
// batch commits and emptied when one fails.
type parcelCache struct {
	max   int
	order *list.List // front: most recent
	items map[string]*list.Element
}

func newParcelCache(max int) *parcelCache {
	return &parcelCache{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *parcelCache) get(waybill string) (Parcel, bool) {
	if c.max <= 0 {
		return Parcel{}, false
	}
	el, ok := c.items[waybill]
	if !ok {
		return Parcel{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(Parcel), true
}

func (c *parcelCache) put(p Parcel) {
	if c.max <= 0 {
		return
	}
	if el, ok := c.items[p.Waybill]; ok {
		el.Value = p
		c.order.MoveToFront(el)
		return
	}
	c.items[p.Waybill] = c.order.PushFront(p)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(Parcel).Waybill)
	}
}

func (c *parcelCache) reset() {
	c.order.Init()
	c.items = map[string]*list.Element{}
}
