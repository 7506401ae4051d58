package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/credtrace/credtrace/config"
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
	publish := fs.Bool("publish", false, "publish the grades and apply the list and sanction rules")
	data := fs.String("data", getenv("CREDTRACE_DATA"), "data directory of the embedded store")
	keyFile := fs.String("pii-key-file", "", "file of the personal-data key (default: beside the data directory)")
	if err := fs.Parse(args); err != nil {
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
	var cargs []string
	if *data != "" {
		cargs = append(cargs, "--data", *data)
	}
	if *keyFile != "" {
		cargs = append(cargs, "--pii-key-file", *keyFile)
	}
	cfg, err := config.Load(getenv, cargs)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	key, err := piiKey(ctx, cfg, st.courier, newLogger(stderr))
	if err != nil {
		return err
	}
	hasher := courier.NewHasher(key)
	svc := courier.NewService(st.courier, hasher, policy(cfg), nil)
	opts := tracking.Options{ParcelCache: -1, Auditor: courier.NewAuditor(svc, st.trackingOf)}
	// No journal replay here: a running service may own the journal's unsaved state, and
	// replaying it from a second process would count it twice. The run reads what is saved.
	trk := tracking.NewService(st.tracking, courier.NewTreeCache(svc), proposer{svc}, hasher, opts, nil)
	sc := scoring.NewService(st.scoring, st.courier, trk, svc.InTree, nil)
	sc.SetAuditor(courier.NewAuditor(svc, st.scoringOf))
	r, err := sc.StartRun(ctx, scoring.Caller{Role: "regulator", TokenID: "cli"}, at, "manual", *publish)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %s: %s as of %s with methodology %s: %d subjects scored, %d proposals, %s (inputs %v)\n",
		r.ID, r.Status, r.AsOf.Format(time.RFC3339), r.Method, r.Total, r.Proposals, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond), r.Inputs)
	return nil
}
