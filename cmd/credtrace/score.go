package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/tracking"
)

// score runs one scoring run on the configured store and prints its outcome: the same run the
// schedule starts, by hand.
func score(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asOf := fs.String("as-of", "", "as-of time, RFC 3339 (default: now)")
	publish := fs.Bool("publish", false, "publish the grades of the period that has ended and apply the list and sanction rules")
	period := fs.String("period", "", "with --publish: the period to publish (2026-11, 2026-Q4; default: the last one ended at --as-of)")
	reason := fs.String("reason", "", "with --publish: a regulator's reason to publish a period again, replacing its grades")
	data := fs.String("data", getenv("CREDTRACE_DATA"), "data directory of the embedded store")
	keyFile := fs.String("pii-key-file", "", "file of the personal-data key (default: beside the data directory)")
	replay := fs.String("replay", "", "recompute run RUN from its inputs with its methodology version and report every difference (exit status 1 when any)")
	inputsFile := fs.String("inputs", "", "with --replay: the inputs to replay, an export of GET /v1/scoring/runs/{id}/inputs (default: read them from the store)")
	if help, err := parseFlags(fs, args, stdout, "score [flags]   (reads the store of serve's --data and CREDTRACE_ variables)"); help || err != nil {
		return err
	}
	var at time.Time
	if *asOf != "" {
		t, err := time.Parse(time.RFC3339, *asOf)
		if err != nil {
			return fmt.Errorf("--as-of: %q is not an RFC 3339 time", *asOf)
		}
		at = t
	}
	cfg, st, hasher, err := openCommandStore(ctx, getenv, *data, *keyFile, stderr)
	if err != nil {
		return err
	}
	defer st.close()
	svc := courier.NewService(st.courier, hasher, policy(cfg), nil)
	opts := tracking.Options{Auditor: courier.NewAuditor(svc, st.trackingOf)}
	// No pipeline and no journal replay here: a running service may own the journal's unsaved
	// state, and replaying it from a second process would count it twice. The run reads what
	// is saved.
	trk := tracking.NewService(st.tracking, courier.NewTreeCache(svc), proposer{svc}, hasher, opts, nil)
	sc := scoring.NewService(st.scoring, st.courier, trk, svc.InTree, nil)
	sc.SetAuditor(courier.NewAuditor(svc, st.scoringOf))
	cal, err := calendar(cfg)
	if err != nil {
		return err
	}
	sc.SetCalendar(cal)
	if *replay != "" {
		return replayRun(ctx, sc, *replay, *inputsFile, stdout)
	}
	r, err := sc.Start(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "cli"}, scoring.RunRequest{AsOf: at, Trigger: "manual", Publish: *publish, Period: *period, Reason: *reason})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %s: %s, period %s, as of %s with methodology %s: %d subjects scored, %d proposals, %s (inputs %v)\n",
		r.ID, r.Status, r.Period, r.AsOf.Format(time.RFC3339), r.Method, r.Total, r.Proposals, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond), r.Inputs)
	return nil
}

// replayRun recomputes a run from its inputs and prints what differs, subject by subject; it
// fails when anything does, so that a script can tell.
func replayRun(ctx context.Context, sc *scoring.Service, runID, file string, stdout io.Writer) error {
	var src io.Reader
	from := "the store"
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("--inputs: %w", err)
		}
		defer f.Close()
		src, from = f, file
	}
	p, err := sc.Replay(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "cli"}, runID, src)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replay of run %s (period %s, as of %s, methodology %s %s) from %s: %d subjects\n",
		p.Run.ID, p.Run.Period, p.Run.AsOf.Format(time.RFC3339), p.Run.Method, p.Run.MethodHash, from, p.Subjects)
	if !p.InputsMatch {
		fmt.Fprintf(stdout, "inputs differ from those the run read: %s, the run recorded %s\n", p.InputsHash, p.Run.InputsHash)
	}
	side := func(sc *scoring.Score) string {
		if sc == nil {
			return "none"
		}
		return fmt.Sprintf("%.2f %s", sc.Value, sc.Grade)
	}
	for _, d := range p.Differences {
		fmt.Fprintf(stdout, "%s/%s: stored %s, replayed %s\n", d.Subject, d.SubjectID, side(d.Stored), side(d.Replayed))
	}
	if !p.Same() {
		return fmt.Errorf("replay of run %s: %d subjects differ", runID, len(p.Differences))
	}
	fmt.Fprintln(stdout, "every score and grade is the same")
	return nil
}
