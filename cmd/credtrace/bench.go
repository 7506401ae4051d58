package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/credtrace/credtrace/bench"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/synth"
	"github.com/credtrace/credtrace/tracking"
)

// benchCmd parses the bench's flags and runs it with the service's own wiring.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.Options{
		Proposer: func(svc *courier.Service) tracking.Proposer { return proposer{svc} },
		Watcher:  func(trk *tracking.Service) courier.Watcher { return verdicts{trk} },
	}
	fs.BoolVar(&o.Short, "short", false, "a quick run (under two minutes)")
	fs.IntVar(&o.Rounds, "rounds", 3, "alternating rounds of ingestion and reference; the table shows medians")
	fs.IntVar(&o.Events, "events", 300000, "events per round in the ingestion ratio")
	fs.IntVar(&o.Long, "long", 10000000, "events of the long run that measures memory and trace cost against store size (0 skips it)")
	fs.IntVar(&o.ScoreFirms, "score-firms", 10000, "firms of the 4× scoring world (staff: ten per firm); the 1× world has a quarter")
	fs.IntVar(&o.ScoreNational, "score-national", 100000, "firms of the national scoring world (staff: ten per firm, statistics over 24 months), timed against the 4× world (0 skips it; -short caps it at 8000)")
	fs.StringVar(&o.Out, "out", "", "also write the raw results as JSON to this file")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile of the bench process every 10 s to this prefix (PREFIX-1.prof, PREFIX-2.prof, ...)")
	validity := fs.Bool("validity", false, "run the validity bench instead: score synthetic worlds through an in-process service and compare with their truth")
	seeds := fs.Int("seeds", 3, "worlds of the validity bench (seeds first-seed to first-seed+N-1)")
	firstSeed := fs.Int("first-seed", 1, "the validity bench's first seed (seeds 1 to 3 are the published figures' worlds; others are for tuning a methodology away from them)")
	keep := fs.String("keep", "", "the validity bench keeps each seed's run inputs and truth under this directory")
	sizeName := fs.String("validity-size", "validity", "size of the validity bench's worlds: validity (30 outlets, 4,000 parcels) or one of gen's: "+strings.Join(synth.Sizes, ", "))
	soak := fs.Duration("soak", 0, "run the soak instead for this long (e.g. 20m): ingestion, traces, SSE subscribers, webhooks and scoring runs at once against a child service; fails when its memory, goroutines, open files or p99 latency trend up past the stated bounds")
	traceOnly := fs.Bool("trace", false, "measure the trace figures alone: the authenticated trace route against a bare Fiber handler, and trace latency while a generator child ingests")
	genIngest := fs.Bool("gen-ingest", false, "be the load generator child of the trace-under-ingestion figure (started by the bench itself, orders in $"+bench.GenEnv+")")
	if help, err := parseFlags(fs, args, stdout, "bench [flags]"); help || err != nil {
		return err
	}
	if *genIngest {
		return bench.GenIngest(ctx, stdout)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	o.Exe = exe
	if *traceOnly {
		return bench.Trace(ctx, o, stdout, stderr)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		stop := heapProfiles(*memprofile, 10*time.Second)
		defer stop()
	}
	if *soak > 0 {
		return bench.Soak(ctx, bench.SoakOptions{Exe: exe, Duration: *soak}, stdout, stderr)
	}
	if *validity {
		size := bench.ValiditySize
		if *sizeName != "validity" {
			var err error
			if size, err = synth.Named(*sizeName); err != nil {
				return fmt.Errorf("bench: -validity-size: %w", err)
			}
		}
		if *seeds < 1 {
			return errors.New("bench: -seeds must be at least 1")
		}
		if *firstSeed < 1 {
			return errors.New("bench: -first-seed must be at least 1")
		}
		v := bench.ValidityOptions{Size: size, SizeName: *sizeName, Out: o.Out, Keep: *keep,
			Serve: func(ctx context.Context, dir, token string) (bench.Served, error) {
				base, a, stop, err := startInProcess(ctx, dir, token, os.Getenv, stderr)
				if err != nil {
					return bench.Served{}, err
				}
				return bench.Served{URL: base, Tracking: a.trk, Stop: stop}, nil
			}}
		for s := *firstSeed; s < *firstSeed+*seeds; s++ {
			v.Seeds = append(v.Seeds, uint64(s))
		}
		return bench.Validity(ctx, v, stdout, stderr)
	}
	return bench.Run(ctx, o, stdout, stderr)
}

// heapProfiles writes a heap profile to prefix-N.prof every interval until stop is called, so
// that the profile of the moment memory peaked is among them.
func heapProfiles(prefix string, every time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if f, err := os.Create(fmt.Sprintf("%s-%d.prof", prefix, n)); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}()
	return func() { close(done) }
}
