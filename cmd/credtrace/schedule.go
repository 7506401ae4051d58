package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/credtrace/credtrace/tracking"

	"github.com/robfig/cron/v3"
)

// cronLog adapts slog to cron's logger.
type cronLog struct{ log *slog.Logger }

func (l cronLog) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLog) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", err.Error())...)
}

// job is one scheduled task: a plain function of a context.
type job struct {
	name string
	spec string
	run  func(ctx context.Context) error
	// quiet logs the runs that succeed at debug level: a job every few seconds (the webhook
	// dispatcher) would fill the log.
	quiet bool
}

// scheduler runs jobs on their cron specs in one time zone. A job that panics is recovered and
// logged; a run that is still going when the next is due is skipped.
type scheduler struct {
	cron *cron.Cron
	ctx  context.Context
	stop context.CancelFunc
	log  *slog.Logger
}

func newScheduler(loc *time.Location, log *slog.Logger) *scheduler {
	ctx, stop := context.WithCancel(context.Background())
	l := cronLog{log}
	return &scheduler{
		cron: cron.New(cron.WithLocation(loc), cron.WithChain(cron.Recover(l), cron.SkipIfStillRunning(l))),
		ctx:  ctx, stop: stop, log: log,
	}
}

func (s *scheduler) add(j job) error {
	if j.spec == "" {
		return nil
	}
	_, err := s.cron.AddFunc(j.spec, func() {
		start := time.Now()
		err := j.run(s.ctx)
		if err != nil {
			s.log.Error("scheduled job failed", "job", j.name, "error", err.Error(), "duration_ms", time.Since(start).Milliseconds())
			return
		}
		if j.quiet {
			s.log.Debug("scheduled job done", "job", j.name, "duration_ms", time.Since(start).Milliseconds())
			return
		}
		s.log.Info("scheduled job done", "job", j.name, "duration_ms", time.Since(start).Milliseconds())
	})
	return err
}

func (s *scheduler) start() { s.cron.Start() }

// shutdown cancels running jobs and waits for them to return.
func (s *scheduler) shutdown() {
	s.stop()
	<-s.cron.Stop().Done()
}

// How long the tracking jobs' leases last: longer than a run takes, short enough that a replica
// that died holding one delays the next run by little. A run is cut off when its lease ends.
const (
	scanLease    = 10 * time.Minute
	recoverLease = 5 * time.Minute
	replayLease  = 5 * time.Minute
	// replayAge is how long an event stays pending before a replay (of any replica) takes it:
	// longer than any save of a batch.
	replayAge = 2 * time.Minute
)

// errLeaseHeld says that another replica holds a job's lease: the round is skipped.
var errLeaseHeld = errors.New("another replica holds the lease")

// leaseOwner names this process among the replicas.
func leaseOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// leased runs fn under the named lease of the store; another holder skips the round.
func leased(st backend, name string, ttl time.Duration, fn func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := st.lease(ctx, name, ttl, fn)
		if errors.Is(err, errLeaseHeld) {
			return nil
		}
		return err
	}
}

// replay replays the events left pending, under the replay lease where replicas share the
// store (errLeaseHeld when another holds it).
func replay(ctx context.Context, st backend, pipe *tracking.Pipeline) (int, error) {
	n := 0
	err := st.lease(ctx, "replay", replayLease, func(ctx context.Context) error {
		var err error
		n, err = pipe.Recover(ctx)
		return err
	})
	return n, err
}

// replaySpec is how often the replay runs: on a shared store a replica that stopped leaves
// events pending that the others take over; one process replays at its start only.
func replaySpec(st backend) string {
	if st.shared {
		return "@every 1m"
	}
	return ""
}
