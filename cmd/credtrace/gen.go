package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/synth"
	"github.com/credtrace/credtrace/synth/send"
)

// gen builds a synthetic world (synth) and writes it through the HTTP API as its parties would
// (synth/send), to the service at --url or to one it starts in-process on --data.
func gen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "seed of the world: the same seed and size give the same world")
	sizeName := fs.String("size", "small", "size of the world: "+strings.Join(synth.Sizes, ", "))
	hqs := fs.Int("hqs", 0, "brand HQs, each with its branches and outlets (overrides --size)")
	branches := fs.Int("branches", 0, "branches per HQ (overrides --size)")
	outlets := fs.Int("outlets", 0, "outlets per branch (overrides --size)")
	merchants := fs.Int("merchants", 0, "merchants (overrides --size)")
	parcels := fs.Int("parcels", 0, "ordinary parcels (overrides --size)")
	days := fs.Int("days", 0, "days of history before now (overrides --size)")
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the service")
	token := fs.String("token", "", "a regulator token (default $CREDTRACE_ADMIN_TOKEN)")
	wait := fs.Duration("wait", 0, "wait up to this long for the service to answer /healthz")
	workers := fs.Int("workers", 8, "concurrent requests for registrations, reports and ratings")
	data := fs.String("data", "", "write into the embedded store in this directory instead of --url: gen runs the service itself, in-process, on a loopback port, for worlds too large to want a server (the same API, the same rules)")
	if help, err := parseFlags(fs, args, stdout, "gen [flags]"); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gen: unexpected argument %q", fs.Arg(0))
	}
	if *token == "" {
		*token = getenv("CREDTRACE_ADMIN_TOKEN")
	}
	if *data != "" {
		if *token == "" {
			*token = "ct_gen-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-regulator-token"
			fmt.Fprintf(stdout, "regulator token of the store in %s (shown once; `credtrace serve --data %s` accepts it): %s\n", *data, *data, *token)
		}
		base, stop, err := inProcess(ctx, *data, *token, getenv, stderr)
		if err != nil {
			return fmt.Errorf("gen: --data: %w", err)
		}
		defer stop()
		*url = base
	}
	if *token == "" {
		return errors.New("gen: --token (or CREDTRACE_ADMIN_TOKEN) is required: a regulator token of the service")
	}
	size, err := synth.Named(*sizeName)
	if err != nil {
		return fmt.Errorf("gen: --size: %w", err)
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{*hqs, &size.HQs}, {*branches, &size.BranchesPerHQ}, {*outlets, &size.OutletsPerBranch}, {*merchants, &size.Merchants}, {*parcels, &size.Parcels}, {*days, &size.Days}} {
		if o.v != 0 {
			*o.dst = o.v
		}
	}
	if err := size.Validate(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if *workers < 1 {
		return errors.New("gen: --workers must be at least 1")
	}

	started := time.Now()
	w := synth.New(*seed, size)
	// The service refuses events from the future and scores what lies before now: the world
	// ends a minute ago.
	w.Shift(time.Now().Add(-time.Minute).Truncate(time.Second).Sub(w.End))

	wr := send.New(w, *url, *token, *workers)
	if err := wr.Ready(ctx, *wait); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	fmt.Fprintf(stderr, "gen: seed %d, size %s: %d firms, %d sites, %d staff, %d merchants, %d parcels, %d events, %d incidents, %d complaints, %d ratings → %s\n",
		*seed, *sizeName, len(w.Firms), len(w.Sites), len(w.Staff), len(w.Merchants), len(w.Parcels), w.Events(), len(w.Incidents), len(w.Complaints), len(w.Ratings), wr.Base())
	if err := wr.Write(ctx, stderr); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	wr.Summary(stdout, *seed, *sizeName, time.Since(started))
	if err := wr.Refusals(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}

// inProcess starts the service on the embedded store in dir, listening on a loopback port,
// with token as a regulator token, and answers its URL and how to stop it (saving what the
// journal holds and closing the store).
func inProcess(ctx context.Context, dir, token string, getenv func(string) string, stderr io.Writer) (string, func(), error) {
	base, _, stop, err := startInProcess(ctx, dir, token, getenv, stderr)
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(stderr, "gen: writing into the store in %s through an in-process service\n", dir)
	return base, stop, nil
}

// startInProcess is inProcess answering the assembled app too, for the validity bench.
func startInProcess(ctx context.Context, dir, token string, getenv func(string) string, stderr io.Writer) (string, *app, func(), error) {
	env := func(k string) string {
		switch k {
		case "CREDTRACE_ADMIN_TOKEN":
			return token
		case "CREDTRACE_FAILPOINT":
			return ""
		}
		return getenv(k)
	}
	// The generator is every consumer at once, from one loopback address: the per-address
	// limit of phone checks is lifted for it (the per-waybill lock stays).
	cfg, err := config.Load(env, []string{"--data", dir, "--addr", "127.0.0.1:0", "--address-checks", "1000000"})
	if err != nil {
		return "", nil, nil, err
	}
	a, err := assemble(ctx, cfg, policy(cfg), env, stderr, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.close()
		return "", nil, nil, err
	}
	go a.api.App().Listener(ln)
	return "http://" + ln.Addr().String(), a, func() {
		a.api.StopStreams()
		a.api.App().Shutdown()
		a.close()
	}, nil
}
