package main

import (
	"context"
	"log/slog"
	"time"

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
