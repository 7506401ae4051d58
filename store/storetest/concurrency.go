package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

// UpdateRaceSkipper is implemented by a store handed to Run that cannot keep racing updates of
// one version exclusive (FerretDB 1.24 checks an update's filter and writes the document in
// two steps). SkipUpdateRace returns the reason, and Run skips those races.
type UpdateRaceSkipper interface {
	SkipUpdateRace() string
}

var concurrencyBehaviours = []behaviour{
	{"ConcurrentUpdates", testConcurrentUpdates},
	{"ConcurrentInitSetting", testConcurrentInitSetting},
}

// testConcurrentUpdates checks what versioning promises, with or without transactions to lean
// on: of writers racing from one version exactly one wins, and the others get ErrConflict.
func testConcurrentUpdates(ctx context.Context, t *testing.T, s courier.Store) {
	if sk, ok := s.(UpdateRaceSkipper); ok {
		t.Skip(sk.SkipUpdateRace())
	}
	must(t, "create", s.CreateFirm(ctx, fullFirm()))
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			f := fullFirm()
			f.Name, f.Version = fmt.Sprint("writer ", i), 2
			errs[i] = s.UpdateFirm(ctx, f)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, credtrace.ErrConflict):
			t.Errorf("writer %d: UpdateFirm error = %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing updates from version 1 succeeded, want exactly 1", won, n)
	}
}

// testConcurrentInitSetting checks that instances starting together agree on one value.
func testConcurrentInitSetting(ctx context.Context, t *testing.T, s courier.Store) {
	const n = 6
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.InitSetting(ctx, "instance", fmt.Sprint("v", i)) })
	}
	wg.Wait()
	stored, err := s.Setting(ctx, "instance")
	must(t, "Setting", err)
	for i := range n {
		if errs[i] != nil || got[i] != stored {
			t.Errorf("InitSetting %d = %q, %v; want the stored %q", i, got[i], errs[i], stored)
		}
	}
}
