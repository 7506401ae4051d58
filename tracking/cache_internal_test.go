package tracking

import (
	"fmt"
	"testing"
)

// The parcel-summary cache is the in-memory state of ingestion that grows with parcels: it
// must stay within its bound however many parcels pass, and not spend it on finished parcels.
func TestParcelCacheStaysWithinItsBound(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		parcels   int
		finalEach int // every finalEach-th parcel is final (0: none)
		want      int
	}{
		{"fewer parcels than the bound", 100, 40, 0, 40},
		{"many more parcels than the bound", 100, 10000, 0, 100},
		{"finished parcels are not kept", 100, 10000, 1, 0},
		{"half finished, still within the bound", 100, 10000, 2, 100},
		{"a disabled cache keeps nothing", 0, 50, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newParcelCache(tt.max)
			for i := 0; i < tt.parcels; i++ {
				p := Parcel{Waybill: fmt.Sprintf("WB%06d", i), Carrier: "c1"}
				p.Final = tt.finalEach > 0 && i%tt.finalEach == 0
				c.put(p)
				if c.len() > max(tt.max, 0) {
					t.Fatalf("after %d parcels the cache holds %d, above its bound %d", i+1, c.len(), tt.max)
				}
			}
			if got := c.len(); got != tt.want {
				t.Errorf("cache holds %d summaries, want %d", got, tt.want)
			}
		})
	}
}

// A parcel that finishes leaves the cache, so that a later scan of it is folded onto the
// stored summary rather than onto a stale one.
func TestParcelCacheDropsAParcelThatFinishes(t *testing.T) {
	c := newParcelCache(10)
	p := Parcel{Waybill: "WB1", Carrier: "c1", Status: OutForDelivery}
	c.put(p)
	if _, ok := c.get(p.Key()); !ok {
		t.Fatal("a parcel in flight is not cached")
	}
	p.Status, p.Final = Delivered, true
	c.put(p)
	if got, ok := c.get(p.Key()); ok {
		t.Errorf("a delivered parcel is still cached (status %s)", got.Status)
	}
}
