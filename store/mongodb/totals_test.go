package mongodb_test

import (
	"fmt"
	"testing"

	"github.com/credtrace/credtrace/tracking"
)

// TestGroupSumsProbeTellsTheTruth: StatTotals sums on the server, in one $group stage where
// Open found the server can sum several fields in one, else one stage per metric. Both ways
// are run on the same statistics: the one-stage way must be right exactly when the probe said
// the server can (MongoDB), and the per-metric way always (FerretDB, which answers 0 for all
// but the first $sum of a stage, takes it).
func TestGroupSumsProbeTellsTheTruth(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := open(t)
	tr := s.Tracking()
	want := map[string]map[tracking.Metric]int{}
	var ds []tracking.StatDelta
	for i, id := range []string{"s1", "s2"} {
		want[id] = map[tracking.Metric]int{}
		for j, m := range tracking.Metrics {
			for _, day := range []string{"2026-03-01", "2026-03-02"} {
				n := 1 + i + j
				ds = append(ds, tracking.StatDelta{Key: tracking.StatKey{Kind: tracking.SubjectSite, ID: id, Day: day}, Metric: m, N: n})
				want[id][m] += n
			}
		}
	}
	// Outside the range, and another kind: neither counts.
	ds = append(ds, tracking.StatDelta{Key: tracking.StatKey{Kind: tracking.SubjectSite, ID: "s1", Day: "2026-03-03"}, Metric: tracking.MHandled, N: 100},
		tracking.StatDelta{Key: tracking.StatKey{Kind: tracking.SubjectFirm, ID: "s1", Day: "2026-03-01"}, Metric: tracking.MHandled, N: 100})
	if err := tr.AddStats(ctx, "probe-test", ds); err != nil {
		t.Fatal(err)
	}
	detected := s.GroupSums()
	t.Logf("server sums several fields in one $group: %v", detected)
	for _, oneStage := range []bool{false, true} {
		s.SetGroupSums(oneStage)
		got, err := tr.StatTotals(ctx, tracking.SubjectSite, "2026-03-01", "2026-03-02")
		if err != nil {
			t.Fatal(err)
		}
		right := fmt.Sprint(got) == fmt.Sprint(want)
		switch {
		case !oneStage && !right:
			t.Errorf("per metric: totals %v, want %v", got, want)
		case oneStage && right != detected:
			t.Errorf("one stage gave right totals %v, but the probe detected %v (totals %v)", right, detected, got)
		}
	}
	s.SetGroupSums(detected)
}
