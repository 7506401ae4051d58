package bench

import (
	"context"
	"fmt"
	"io"
	"time"
)

// nationalDays and nationalSpacing place a national world's day statistics: four days a
// subject, half a year apart, so that they span the 24-month window of the methodology (a
// row for every day of it, 800 million rows, would not fit this machine).
const (
	nationalDays    = 4
	nationalSpacing = 182
)

// benchNational times one published scoring run over a national world — firms firms in trees
// of ten, ten staff each (100,000 firms: 1,100,000 subjects), statistics over the whole
// window — with its memory, against the 4× world's run (ref). A run streams its staff and
// statistics, so its time should follow the subjects and its memory the firms.
func benchNational(ctx context.Context, dir string, firms int, ref scoreRun, stderr io.Writer) (benchResult, error) {
	start := time.Now()
	r, err := benchScoring(ctx, dir, scoreWorld{firms: firms, staffPerFirm: 10, days: nationalDays, spacing: nationalSpacing})
	if err != nil {
		return benchResult{}, err
	}
	fmt.Fprintf(stderr, "scoring %d firms (national): %s (%d subjects, statistics of %d events), %s; fixture and run %s\n",
		firms, r.took.Round(time.Millisecond), r.run.Total, r.events, r.mem, time.Since(start).Round(time.Second))
	subjects := float64(r.run.Total) / float64(max(ref.run.Total, 1))
	return benchResult{
		name:      fmt.Sprintf("scoring run, national (%.0f×)", subjects),
		value:     fmt.Sprintf("%s for %d subjects, %s", r.took.Round(time.Millisecond), r.run.Total, r.mem),
		reference: fmt.Sprintf("%s for %d subjects, %s", ref.took.Round(time.Millisecond), ref.run.Total, ref.mem),
		ratio:     fmt.Sprintf("%.2f", r.took.Seconds()/ref.took.Seconds()),
		how: fmt.Sprintf("one published run (gather, compute, store scores, proposals) over %d firms in trees of ten and %d staff (%d subjects), %d records, "+
			"%d days of statistics a subject %d days apart across the 24-month window (%d statistic rows, standing for %d events), against the 4× world's run; "+
			"a run streams its staff and statistics a page at a time (read three times: the inputs' hash, the peer groups' values, the scores stored in batches of 1,000), "+
			"so %.0f× the subjects should cost about %.0f× the time, and its memory follows the firms it holds (trees, roll-ups, grades), not the staff; "+
			"peak heap is the Go heap in use, resident the process's VmRSS, both sampled every 20 ms during the run (before it: heap %d MiB, resident %d MiB); the issue asks for under 60 s",
			firms, firms*10, r.run.Total, firms/4, nationalDays, nationalSpacing, (firms*10+firms)*nationalDays, r.events,
			subjects, subjects, r.mem.heapBefore>>20, r.mem.rssBefore>>20),
	}, nil
}
