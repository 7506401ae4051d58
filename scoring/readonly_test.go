package scoring_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/credtrace/credtrace/internal/rofs"
	"github.com/credtrace/credtrace/scoring"
)

// TestRunOnAReadOnlyDisk turns the disk under the store read-only between a run's start and
// its end: the run fails (its scores cannot be written), and once the disk takes writes again
// it records that outcome and gives the lease up by itself, so that the run does not read as
// running for ever and the next run need not wait for the lease to lapse.
func TestRunOnAReadOnlyDisk(t *testing.T) {
	backing, mnt := t.TempDir(), t.TempDir()
	fsys, err := rofs.Mount(backing, mnt)
	if errors.Is(err, rofs.ErrNoFUSE) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Set(rofs.Writable); fsys.Unmount() })
	w := newWorldAt(t, filepath.Join(mnt, "credtrace.db"))
	begun, finish, err := w.svc.BeginRun(w.ctx, regulator, time.Time{}, "manual", false)
	if err != nil {
		t.Fatal(err)
	}
	fsys.Set(rofs.ReadOnly)
	type outcome struct {
		r   scoring.Run
		err error
	}
	done := make(chan outcome, 1)
	go func() { r, err := finish(w.ctx); done <- outcome{r, err} }()
	// Once the store has been refused a write, the disk takes writes again.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if reason, _ := w.db.Degraded(); reason == "read-only" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run wrote nothing on a read-only disk")
		}
	}
	fsys.Set(rofs.Writable)
	o := <-done
	if o.r.Status != scoring.RunFailed || o.err == nil {
		t.Errorf("a run whose scores met a read-only disk: %s, %v (want failed, with the error)", o.r.Status, o.err)
	}
	stored, err := w.store.Run(w.ctx, begun.ID)
	if err != nil || stored.Status != scoring.RunFailed {
		t.Errorf("the stored run: %s %v (want failed)", stored.Status, err)
	}
	if r, err := w.svc.StartRun(w.ctx, regulator, time.Time{}, "manual", false); err != nil || r.Status != scoring.RunSucceeded {
		t.Errorf("the next run once the disk takes writes: %+v %v", r.Status, err)
	}
}
