package scoring_test

import (
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

// standing lists "firm kind" of every proposal or sanction not withdrawn, sorted: what a firm
// faces.
func (w *world) standing(t *testing.T) []string {
	t.Helper()
	all, err := w.store.Sanctions(w.ctx, scoring.SanctionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, x := range all {
		if x.Status != scoring.Withdrawn {
			out = append(out, x.FirmID+" "+string(x.Kind))
		}
	}
	sort.Strings(out)
	return out
}

func (w *world) publish(t *testing.T, period, reason string) (scoring.Run, error) {
	t.Helper()
	return w.svc.Start(w.ctx, regulator, scoring.RunRequest{Trigger: "manual", Publish: true, Period: period, Reason: reason})
}

// The issue: the README's publishing run twice, seven minutes apart, counted as two published
// periods (black list and platform restriction); two more brought revocation proposals.
func TestPublishingTwiceIsOnePeriod(t *testing.T) {
	w := newWorld(t) // 2026-06-15: the period that has ended is May
	first := w.run(t, time.Time{}, true)
	if first.Period != "2026-05" || !first.AsOf.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, cst)) {
		t.Fatalf("publishing run on 15 June: period %q as of %s, want 2026-05 as of its end, 1 June 00:00 CST", first.Period, first.AsOf)
	}
	once := []string{"d1 public_exposure", "r1 blacklist", "r1 revocation_proposal"}
	if got := w.standing(t); !reflect.DeepEqual(got, once) {
		t.Fatalf("after the first publication: %q, want %q", got, once)
	}

	w.now = w.now.Add(7 * time.Minute)
	_, err := w.svc.StartRun(w.ctx, regulator, time.Time{}, "manual", true)
	if !errors.Is(err, credtrace.ErrConflict) {
		t.Fatalf("publishing May again without a reason = %v, want credtrace.ErrConflict", err)
	}
	if runs, _ := w.store.Runs(w.ctx, scoring.RunQuery{}); len(runs) != 1 {
		t.Errorf("the refused publication left %d runs, want the first only", len(runs))
	}

	// With a regulator's reason the period's grades are replaced, three times over: still one period.
	var last scoring.Run
	for i := 0; i < 3; i++ {
		w.now = w.now.Add(7 * time.Minute)
		r, err := w.publish(t, "", "records of May corrected after objection")
		if err != nil {
			t.Fatalf("republication %d: %v", i+1, err)
		}
		if r.Status != scoring.RunSucceeded || r.Period != "2026-05" || r.Replaces == "" || r.Reason == "" {
			t.Fatalf("republication %d = %+v, want a succeeded run of 2026-05 naming the run it replaces and why", i+1, r)
		}
		last = r
	}
	if got := w.standing(t); !reflect.DeepEqual(got, once) {
		t.Errorf("after four publications of one period: %q, want the first period's %q only", got, once)
	}
	pub, err := w.store.Runs(w.ctx, scoring.RunQuery{PublishedOnly: true})
	if err != nil || len(pub) != 1 || pub[0].ID != last.ID {
		t.Fatalf("published runs = %+v, %v; want the last republication only", pub, err)
	}
	old, err := w.store.Run(w.ctx, first.ID)
	if err != nil || old.SupersededBy == "" || old.Status != scoring.RunSucceeded {
		t.Fatalf("first run = %+v, %v; want it kept and marked superseded", old, err)
	}
	ss, err := w.store.Scores(w.ctx, scoring.ScoreQuery{RunID: first.ID})
	if err != nil || len(ss) == 0 {
		t.Fatalf("scores of the superseded run: %v, %v; want them kept", ss, err)
	}
	for _, sc := range ss {
		if sc.Published {
			t.Errorf("superseded score of %s is still published", sc.SubjectID)
		}
	}
	cur, err := w.store.Scores(w.ctx, scoring.ScoreQuery{RunID: last.ID, SubjectID: "d1"})
	if err != nil || len(cur) != 1 || !cur[0].Published || cur[0].Period != "2026-05" {
		t.Errorf("d1's score in the last run = %+v, %v; want published, period 2026-05", cur, err)
	}
	sv, err := w.svc.Supervise(w.ctx, regulator)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range sv {
		if x.WorstDecilePeriod > 1 || x.MandatoryReview {
			t.Errorf("%s: %d periods in the worst decile (review %v) after one period", x.FirmID, x.WorstDecilePeriod, x.MandatoryReview)
		}
	}

	// A correction that takes away the reason for a waiting proposal withdraws it: r1's
	// revocation-grade record turns out to have been revoked on 20 May.
	w.archive.repair("rec-r1", time.Date(2026, 5, 20, 0, 0, 0, 0, cst))
	fixed, err := w.publish(t, "2026-05", "rec-r1 was revoked on 20 May")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.standing(t), []string{"d1 public_exposure"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after the correction: %q, want %q", got, want)
	}
	for _, k := range []scoring.SanctionKind{scoring.BlackList, scoring.RevocationProposal} {
		if x := w.sanction(t, "r1", k); x.Status != scoring.Withdrawn || x.DecidedBy != "run "+fixed.ID {
			t.Errorf("r1 %s = %s by %s, want withdrawn by the correcting run", k, x.Status, x.DecidedBy)
		}
	}

	// A proposal a regulator rejected is not made again by a republication of its period.
	exposure := w.sanction(t, "d1", scoring.PublicExposure)
	if _, err := w.svc.Decide(w.ctx, regulator, exposure.ID, false, "record under objection"); err != nil {
		t.Fatal(err)
	}
	r, err := w.publish(t, "2026-05", "second correction")
	if err != nil {
		t.Fatal(err)
	}
	if got := w.proposals(t, r.ID); len(got) != 0 {
		t.Errorf("republication after a rejection proposed %q, want nothing", got)
	}
}

// TestLadderCountsPeriods: d1 is D in every period. Published January, February, February
// again, March, then May (April is never published): January → exposure; February → black
// list and platform restriction (two periods); February again → the same, withdrawn and made
// again, never doubled, never suspension; March → suspension (three periods); May after the
// gap → one period again: exposure (January's was rejected), not revocation.
func TestLadderCountsPeriods(t *testing.T) {
	w := newWorld(t)
	jan := w.run(t, periods[0], true)
	feb := w.run(t, periods[1], true)
	if jan.Period != "2026-01" || feb.Period != "2026-02" {
		t.Fatalf("periods %s %s, want 2026-01 2026-02", jan.Period, feb.Period)
	}
	feb2, err := w.publish(t, "2026-02", "a site's records were entered twice")
	if err != nil {
		t.Fatal(err)
	}
	// The same grades make the same proposals: February's stay, nothing is new or doubled.
	if got := w.proposals(t, feb2.ID); len(got) != 0 {
		t.Errorf("February republished proposes %q, want nothing new", got)
	}
	if got, want := w.proposals(t, feb.ID), []string{"a1 redlist red_consecutive_a", "d1 blacklist black_consecutive_d", "d1 platform_restriction ladder"}; !reflect.DeepEqual(got, want) {
		t.Errorf("February's first run's proposals %q, want them kept %q", got, want)
	}
	if got, want := w.standing(t), []string{"a1 redlist", "d1 blacklist", "d1 platform_restriction", "d1 public_exposure", "r1 blacklist", "r1 revocation_proposal"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after February twice: %q, want %q", got, want)
	}
	mar := w.run(t, periods[2], true)
	if got, want := w.proposals(t, mar.ID), []string{"d1 suspension ladder"}; !reflect.DeepEqual(got, want) {
		t.Errorf("March proposes %q, want %q (the third period)", got, want)
	}
	if got, want := w.sanction(t, "d1", scoring.Suspension).ScoreRuns, []string{mar.ID, feb2.ID, jan.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("suspension rests on runs %q, want March, February's republication, January %q", got, want)
	}
	if _, err := w.svc.Decide(w.ctx, regulator, w.sanction(t, "d1", scoring.PublicExposure).ID, false, "rectified"); err != nil {
		t.Fatal(err)
	}
	may, err := w.publish(t, "2026-05", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.proposals(t, may.ID), []string{"d1 public_exposure ladder"}; !reflect.DeepEqual(got, want) {
		t.Errorf("May after an unpublished April proposes %q, want %q: the periods in a row start again", got, want)
	}
}

func TestPreviewRunsNeverPropose(t *testing.T) {
	w := newWorld(t)
	w.run(t, periods[0], true) // January
	for _, at := range []time.Time{time.Date(2026, 2, 10, 0, 0, 0, 0, cst), time.Date(2026, 2, 20, 0, 0, 0, 0, cst)} {
		r := w.run(t, at, false)
		if r.Period != "2026-02" || r.Proposals != 0 || len(w.proposals(t, r.ID)) != 0 {
			t.Errorf("preview as of %s: period %s, %d proposals; want 2026-02 and none", at, r.Period, r.Proposals)
		}
	}
	feb := w.run(t, periods[1], true)
	// Previews are not periods: February is the second, not the fourth.
	if got, want := w.proposals(t, feb.ID), []string{"a1 redlist red_consecutive_a", "d1 blacklist black_consecutive_d", "d1 platform_restriction ladder"}; !reflect.DeepEqual(got, want) {
		t.Errorf("February proposes %q, want %q", got, want)
	}
	if g, ok, err := w.svc.PublishedGrade(w.ctx, "d1"); err != nil || !ok || g.RunID != feb.ID {
		t.Errorf("published grade from run %s (%v, %v), want February's %s, not a preview", g.RunID, ok, err, feb.ID)
	}
}

func TestRunRequestsRefused(t *testing.T) {
	w := newWorld(t) // 2026-06-15
	for _, tc := range []struct {
		name  string
		req   scoring.RunRequest
		field string
	}{
		{"a period that has not ended", scoring.RunRequest{Publish: true, Period: "2026-06"}, "period"},
		{"a label of another kind", scoring.RunRequest{Publish: true, Period: "2026-Q1"}, "period"},
		{"a preview naming a period", scoring.RunRequest{Period: "2026-05"}, "period"},
		{"a preview with a reason", scoring.RunRequest{Reason: "why"}, "reason"},
		{"as of before the period's end", scoring.RunRequest{Publish: true, Period: "2026-05", AsOf: time.Date(2026, 5, 20, 0, 0, 0, 0, cst)}, "as_of"},
	} {
		_, err := w.svc.Start(w.ctx, regulator, tc.req)
		var v *credtrace.Error
		if !errors.As(err, &v) || v.Fields[0].Field != tc.field {
			t.Errorf("%s: %v, want invalid %s", tc.name, err, tc.field)
		}
	}
	// The methodology of a period is the one in force at its start.
	r := w.run(t, time.Time{}, true)
	if r.Method != "2026.1" {
		t.Errorf("method %s", r.Method)
	}
}

func TestQuarterPeriods(t *testing.T) {
	w := newWorld(t) // 2026-06-15: the quarter that has ended is Q1
	w.svc.SetCalendar(scoring.Calendar{Kind: scoring.Quarter, Loc: cst})
	q1 := w.run(t, time.Time{}, true)
	if q1.Period != "2026-Q1" || !q1.AsOf.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, cst)) {
		t.Fatalf("quarterly publication: %s as of %s, want 2026-Q1 as of 1 April", q1.Period, q1.AsOf)
	}
	// May is in the second quarter, which has not ended: the first is what a publication on 1 May publishes.
	if _, err := w.svc.StartRun(w.ctx, regulator, time.Date(2026, 5, 1, 0, 0, 0, 0, cst), "manual", true); !errors.Is(err, credtrace.ErrConflict) {
		t.Fatalf("publishing on 1 May = %v, want credtrace.ErrConflict (2026-Q1 is published)", err)
	}
	w.now = time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)
	q2 := w.run(t, time.Time{}, true)
	if got, want := w.proposals(t, q2.ID), []string{"a1 redlist red_consecutive_a", "d1 blacklist black_consecutive_d", "d1 platform_restriction ladder"}; q2.Period != "2026-Q2" || !reflect.DeepEqual(got, want) {
		t.Errorf("second quarter %s proposes %q, want 2026-Q2 and %q", q2.Period, got, want)
	}
}
