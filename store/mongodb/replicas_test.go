package mongodb_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/tracking"
)

// TestLeaseRace races owners for one lease: exactly one holds each term, and a holder's token
// stops being current once a later term is taken.
func TestLeaseRace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := open(t)
	const racers = 6
	var mu sync.Mutex
	var won []mongodb.Lease
	var wg sync.WaitGroup
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.AcquireLease(ctx, "scan", "owner"+string(rune('a'+i)), time.Minute)
			if errors.Is(err, mongodb.ErrLeaseHeld) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			won = append(won, l)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d of %d racers took the lease, want 1: %v", len(won), racers, won)
	}
	l := won[0]
	if held, err := s.Held(ctx, l); err != nil || !held {
		t.Fatalf("Held = %v, %v after taking it", held, err)
	}
	if _, err := s.AcquireLease(ctx, "scan", "other", time.Minute); !errors.Is(err, mongodb.ErrLeaseHeld) {
		t.Fatalf("another owner took a held lease: %v", err)
	}
	if err := s.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	next, err := s.AcquireLease(ctx, "scan", "other", time.Minute)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if next.Token <= l.Token {
		t.Fatalf("token %d after %d, want larger", next.Token, l.Token)
	}
	if held, err := s.Held(ctx, l); err != nil || held {
		t.Fatalf("the lapsed holder's Held = %v, %v, want false", held, err)
	}
}

// TestFoldRace saves several versions 1 of one parcel summary at once, as replicas that read it
// at version 0 would: exactly one lands, the others get a FoldConflictError, and the stored
// summary is the winner's.
func TestFoldRace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := open(t).Tracking()
	const racers = 5
	var events []tracking.Event
	for i := 0; i < racers; i++ {
		events = append(events, tracking.Event{ID: "e" + string(rune('a'+i)), Waybill: "YT0000000001", Carrier: "c1", Code: tracking.Collected,
			At: time.Date(2026, 4, 1, 8, i, 0, 0, time.UTC), ReceivedAt: time.Now(), Hash: "h"})
	}
	if _, _, err := tr.AppendEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	landed, conflicts := []string{}, 0
	var wg sync.WaitGroup
	for i := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := events[i]
			p := tracking.Parcel{Waybill: e.Waybill, Carrier: e.Carrier, Events: 1, Version: 1, Folded: []string{e.Key()}, Status: e.Code}
			err := tr.SaveDerived(ctx, tracking.Derived{Parcels: []tracking.Parcel{p}, Events: []tracking.EventStats{{Key: e.Key(), Parcel: e.Parcel()}}})
			var fc *tracking.FoldConflictError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				landed = append(landed, e.Key())
			case errors.As(err, &fc):
				conflicts++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(landed) != 1 || conflicts != racers-1 {
		t.Fatalf("%v landed and %d conflicts of %d racing saves of version 1, want 1 and %d", landed, conflicts, racers, racers-1)
	}
	got, err := tr.ParcelsByKey(ctx, []tracking.ParcelKey{events[0].Parcel()})
	if err != nil {
		t.Fatal(err)
	}
	p := got[events[0].Parcel()]
	if p.Version != 1 || len(p.Folded) != 1 || p.Folded[0] != landed[0] {
		t.Fatalf("stored summary version %d folded %v, want version 1 holding %s", p.Version, p.Folded, landed[0])
	}
	// The losers' events stay pending for a replay; the winner's does not.
	evs, _, err := tr.EventsAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != racers-1 {
		t.Fatalf("%d events left pending, want %d", len(evs), racers-1)
	}
}
