package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/bulk"
	"github.com/credtrace/credtrace/courier"
	"github.com/credtrace/credtrace/tracking"
)

// importEvery is how many answers pass between two progress lines.
var importEvery = 1000

// importCmd imports one NDJSON migration file into the configured store, as a regulator
// ("cli" in the audit trail): the answers to the lines that were not created go to stdout as
// NDJSON (--all: every answer), progress and the summary to stderr. It fails (exit status 1)
// when a line was invalid, so that a script notices, after importing every valid line.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "", "what the file holds: firms, sites, staff or records (load them in this order)")
	all := fs.Bool("all", false, "print every line's answer, not only those not created")
	data := fs.String("data", getenv("CREDTRACE_DATA"), "data directory of the embedded store")
	keyFile := fs.String("pii-key-file", "", "file of the personal-data key (default: beside the data directory)")
	if help, err := parseFlags(fs, args, stdout, "import --kind KIND [flags] FILE   (FILE - reads stdin; the store of serve's --data and CREDTRACE_ variables)"); help || err != nil {
		return err
	}
	k, err := bulk.ParseImportKind(*kind)
	if err != nil {
		return fmt.Errorf("--kind: must be one of firms, sites, staff, records")
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("import takes one FILE (- for stdin); got %d", fs.NArg())
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	cfg, st, hasher, err := openCommandStore(ctx, getenv, *data, *keyFile, stderr)
	if err != nil {
		return err
	}
	defer st.close()
	svc := courier.NewService(st.courier, hasher, policy(cfg), nil)
	// Imported records in force count in the statistics as the service's own do.
	trk := tracking.NewService(st.tracking, courier.NewTreeCache(svc), proposer{svc}, hasher, tracking.Options{Auditor: courier.NewAuditor(svc, st.trackingOf)}, nil)
	svc.SetWatcher(verdicts{trk})

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	seen := 0
	sum, err := bulk.Importer{Courier: svc}.Import(ctx, credtrace.Caller{Role: credtrace.RoleRegulator, TokenID: "cli"}, k, bufio.NewReaderSize(in, 1<<20),
		func(a bulk.Answer) error {
			seen++
			if seen%importEvery == 0 {
				fmt.Fprintf(stderr, "import %s: %d lines answered, up to line %d\n", k, seen, a.Index)
			}
			if *all || a.Status != string(courier.Created) {
				return enc.Encode(a)
			}
			return nil
		})
	fmt.Fprintf(stderr, "import %s: %s\n", k, sum)
	if err != nil {
		return err
	}
	if sum.Invalid > 0 {
		return fmt.Errorf("%d of %d lines were invalid (their answers are on stdout); the valid ones are stored", sum.Invalid, sum.Lines)
	}
	return nil
}
