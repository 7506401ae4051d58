package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

// LeaseRaceSkipper may be implemented by the store that RunScoring's open returns, when its
// server cannot make racing takeovers of an expired lease exclusive (FerretDB 1.24 checks an
// update's filter and writes the document in two steps). SkipLeaseRace returns the reason, and
// the subtests that race over an expired lease are skipped; every other lease subtest runs.
type LeaseRaceSkipper interface {
	SkipLeaseRace() string
}

// RunScoring checks the scoring.Store contract, one subtest per behaviour: round-trips of
// ratings, runs, scores, sanctions and methodology versions with every field; the sentinel
// errors of the scoring package; versioned updates; every filter and order of the queries;
// PutScores replacing the score of a run and subject; and leases that one holder at a time
// holds, also when callers race for them. open is called once per subtest and must return a
// fresh, empty store; it should close the store with t.Cleanup.
//
// As in Run, a nil and an empty slice are equal, and so are a nil and an empty map.
func RunScoring(t *testing.T, open func(t *testing.T) scoring.Store) {
	t.Helper()
	var all []scoringBehaviour
	all = append(all, ratingBehaviours...)
	all = append(all, runBehaviours...)
	all = append(all, scoreBehaviours...)
	all = append(all, sanctionBehaviours...)
	all = append(all, leaseBehaviours...)
	all = append(all, methodBehaviours...)
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			t.Cleanup(cancel)
			s := open(t)
			if sk, ok := s.(LeaseRaceSkipper); ok && b.expiredRace {
				t.Skip(sk.SkipLeaseRace())
			}
			b.run(ctx, t, s)
		})
	}
}

// scoringBehaviour is one subtest of RunScoring. expiredRace marks the subtests that a
// LeaseRaceSkipper skips.
type scoringBehaviour struct {
	name        string
	run         func(ctx context.Context, t *testing.T, s scoring.Store)
	expiredRace bool
}

func ratingID(r scoring.Rating) string      { return r.ID }
func runID(r scoring.Run) string            { return r.ID }
func scoreSubjectID(s scoring.Score) string { return s.SubjectID }
func scoreRunID(s scoring.Score) string     { return s.RunID }
func sanctionID(s scoring.Sanction) string  { return s.ID }
func methodVersion(m scoring.MethodDoc) string {
	return m.Version
}

// wantScoringErr reports err unless it matches target, and when it does, unless it also
// matches the other scoring sentinel (a backend that answers both is wrong either way).
func wantScoringErr(t *testing.T, what string, err, target error) {
	t.Helper()
	wantErr(t, what, err, target)
	for _, other := range []error{credtrace.ErrNotFound, credtrace.ErrConflict} {
		if other != target && errors.Is(err, other) {
			t.Errorf("%s: error %v matches %v too", what, err, other)
		}
	}
}

// versioned describes one kind of versioned scoring object: checkUpdate's description, checked
// against scoring's sentinels.
type versioned[T any] updateCheck[T]

// checkVersioned runs checkUpdate with scoring's sentinels.
func checkVersioned[T any](ctx context.Context, t *testing.T, u versioned[T]) {
	t.Helper()
	u.conflict, u.notFound, u.want = credtrace.ErrConflict, credtrace.ErrNotFound, wantScoringErr
	checkUpdate(ctx, t, updateCheck[T](u))
}

// checkDuplicate stores first, then checks that dup is ErrConflict and leaves first as it was.
func checkDuplicate[T any](ctx context.Context, t *testing.T, what string, create func(context.Context, T) error, get func(context.Context, string) (T, error), id func(T) string, first, dup T) {
	t.Helper()
	must(t, "create", create(ctx, first))
	wantScoringErr(t, what, create(ctx, dup), credtrace.ErrConflict)
	checkGet(ctx, t, "the first object after the refused create", get, id(first), first)
}

// queryCase is one query of a filter table and the ids it must answer, in order.
type queryCase[Q any] struct {
	name string
	q    Q
	want []string
}

// checkQueries runs each case and checks the ids that come back, in order.
func checkQueries[Q, T any](ctx context.Context, t *testing.T, query func(context.Context, Q) ([]T, error), id func(T) string, cases []queryCase[Q]) {
	t.Helper()
	for _, c := range cases {
		got, err := query(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkIDs(t, c.name, got, id, c.want...)
	}
}

// ----- ratings -----

var ratingBehaviours = []scoringBehaviour{
	{name: "RatingRoundTrip", run: testRatingRoundTrip},
	{name: "RatingCreateConflict", run: testRatingCreateConflict},
	{name: "RatingUpdate", run: testRatingUpdate},
	{name: "RatingFilters", run: testRatingFilters},
	{name: "RatingHistory", run: testRatingHistory},
}

// testRatingHistory: every stored version of a rating comes back, oldest first, each with its
// own stars, weight and clocks; refused writes add none; other ratings' versions stay apart.
func testRatingHistory(ctx context.Context, t *testing.T, s scoring.Store) {
	v1 := fullRating()
	must(t, "create", s.CreateRating(ctx, v1))
	v2 := v1
	v2.Stars, v2.Weight, v2.Flags, v2.UpdatedAt, v2.Version = 5, 1, nil, at(3), 2
	must(t, "update to version 2", s.UpdateRating(ctx, v2))
	stale := v1
	stale.Stars, stale.Version = 4, 2 // over version 1, which is gone
	wantScoringErr(t, "a stale update", s.UpdateRating(ctx, stale), credtrace.ErrConflict)
	dup := v1
	dup.ID = "rt1-again"
	wantScoringErr(t, "a duplicate rating", s.CreateRating(ctx, dup), credtrace.ErrConflict)
	other := sparseRating()
	must(t, "create another", s.CreateRating(ctx, other))

	got, err := s.RatingHistory(ctx, v1.ID)
	must(t, "RatingHistory", err)
	if len(got) != 2 {
		t.Fatalf("RatingHistory(rt1) = %d versions, want 2: %+v", len(got), got)
	}
	check(t, "version 1", got[0], v1)
	check(t, "version 2", got[1], v2)
	if got, err := s.RatingHistory(ctx, dup.ID); err != nil || len(got) != 0 {
		t.Errorf("RatingHistory of the refused duplicate = %+v, %v; want none", got, err)
	}
	if got, err := s.RatingHistory(ctx, other.ID); err != nil || len(got) != 1 {
		t.Errorf("RatingHistory(rt2) = %+v, %v; want its one version", got, err)
	} else {
		check(t, "rt2's version", got[0], other)
	}
	if got, err := s.RatingHistory(ctx, "rt9"); err != nil || len(got) != 0 {
		t.Errorf("RatingHistory of an unknown id = %+v, %v; want none", got, err)
	}
}

// fullRating sets every field: tags, flags, a fractional weight and the three clocks.
func fullRating() scoring.Rating {
	return scoring.Rating{
		ID: "rt1", RaterKind: scoring.RaterMerchant, RaterID: "m1", Waybill: "SF1000000001",
		FirmID: "f1", SiteID: "s1", StaffID: "p1", Stars: 2,
		Tags:      []string{"late", "damaged", "态度差"},
		Comment:   "包装破损，“外箱”压扁 $x.y",
		CreatedAt: at(1), UpdatedAt: at(2), RatedAt: at(1).Add(-90 * time.Minute),
		Weight:  0.375,
		Flags:   []string{"burst", "new_rater"},
		Version: 1,
	}
}

// sparseRating is a consumer's rating with no site, person, tags, flags, comment or clocks.
func sparseRating() scoring.Rating {
	return scoring.Rating{ID: "rt2", RaterKind: scoring.RaterConsumer, RaterID: "phone-hash-1", Waybill: "SF1000000001", FirmID: "f1", Stars: 5, Weight: 1, Version: 1}
}

func testRatingRoundTrip(ctx context.Context, t *testing.T, s scoring.Store) {
	ratings := []scoring.Rating{fullRating(), sparseRating()}
	for _, r := range ratings {
		must(t, "create "+r.ID, s.CreateRating(ctx, r))
	}
	for _, r := range ratings {
		checkGet(ctx, t, "Rating("+r.ID+")", s.Rating, r.ID, r)
		got, err := s.RatingByRater(ctx, r.RaterKind, r.RaterID, r.Waybill)
		if err != nil {
			t.Errorf("RatingByRater of %s: %v", r.ID, err)
		} else {
			check(t, "RatingByRater of "+r.ID, got, r)
		}
	}
	got, err := s.Ratings(ctx, scoring.RatingQuery{})
	if err != nil {
		t.Fatalf("Ratings: %v", err)
	}
	checkList(t, "Ratings", got, ratings, ratingID)

	_, err = s.Rating(ctx, "rt9")
	wantScoringErr(t, "Rating of an unknown id", err, credtrace.ErrNotFound)
	full := fullRating()
	for _, c := range []struct {
		name           string
		kind           scoring.RaterKind
		rater, waybill string
	}{
		{"unknown waybill", full.RaterKind, full.RaterID, "SF9"},
		{"unknown rater", full.RaterKind, "m9", full.Waybill},
		{"rater of the other kind", scoring.RaterConsumer, full.RaterID, full.Waybill},
	} {
		_, err := s.RatingByRater(ctx, c.kind, c.rater, c.waybill)
		wantScoringErr(t, "RatingByRater of an "+c.name, err, credtrace.ErrNotFound)
	}
}

func testRatingCreateConflict(ctx context.Context, t *testing.T, s scoring.Store) {
	sameID := sparseRating()
	sameID.ID = fullRating().ID
	checkDuplicate(ctx, t, "same id", s.CreateRating, s.Rating, ratingID, fullRating(), sameID)

	again := fullRating()
	again.ID, again.Stars, again.Comment = "rt3", 4, "second try"
	wantScoringErr(t, "the same rater rating the same waybill again", s.CreateRating(ctx, again), credtrace.ErrConflict)
	_, err := s.Rating(ctx, again.ID)
	wantScoringErr(t, "Rating of the refused second rating", err, credtrace.ErrNotFound)
	checkGet(ctx, t, "the first rating after the refused ones", s.Rating, "rt1", fullRating())

	// The key is all three of rater kind, rater and waybill.
	for i, edit := range []func(*scoring.Rating){
		func(r *scoring.Rating) { r.Waybill = "SF1000000002" },
		func(r *scoring.Rating) { r.RaterID = "m2" },
		func(r *scoring.Rating) { r.RaterKind = scoring.RaterConsumer },
	} {
		r := fullRating()
		r.ID = fmt.Sprintf("rt%d", 4+i)
		edit(&r)
		must(t, "create "+r.ID+", which differs in one part of the key", s.CreateRating(ctx, r))
		checkGet(ctx, t, "Rating("+r.ID+")", s.Rating, r.ID, r)
	}
}

func testRatingUpdate(ctx context.Context, t *testing.T, s scoring.Store) {
	unknown := fullRating()
	unknown.ID, unknown.Waybill = "rt9", "SF9"
	checkVersioned(ctx, t, versioned[scoring.Rating]{
		create: s.CreateRating, update: s.UpdateRating, get: s.Rating, id: ratingID,
		stored: fullRating(), unknown: unknown,
		// Stars, weight and both lists change, and so do the clocks.
		edit: func(r scoring.Rating, version int, mark string) scoring.Rating {
			r.Stars = 1 + version
			r.Comment = "更正：" + mark
			r.Tags = append(slices.Clone(r.Tags), mark)
			r.Flags = []string{"flag-" + mark}
			r.Weight = 1 / float64(version+1)
			r.UpdatedAt = at(10 + version)
			r.Version = version
			return r
		},
	})

	// An update that moves a rating onto another's (rater, waybill) is a conflict.
	other := sparseRating()
	must(t, "create "+other.ID, s.CreateRating(ctx, other))
	moved := other
	stored, err := s.Rating(ctx, "rt1")
	must(t, "Rating(rt1)", err)
	moved.RaterKind, moved.RaterID, moved.Waybill, moved.Version = stored.RaterKind, stored.RaterID, stored.Waybill, 2
	wantScoringErr(t, "update onto a taken rater and waybill", s.UpdateRating(ctx, moved), credtrace.ErrConflict)
	checkGet(ctx, t, "the moved rating after the refused update", s.Rating, other.ID, other)
}

func testRatingFilters(ctx context.Context, t *testing.T, s scoring.Store) {
	rating := func(id string, kind scoring.RaterKind, rater, firm string, created int) scoring.Rating {
		r := sparseRating()
		r.ID, r.RaterKind, r.RaterID, r.Waybill, r.FirmID, r.CreatedAt = id, kind, rater, "WB-"+id, firm, at(created)
		r.RatedAt = at(6 - created) // given in the opposite order to their storing (a platform's push)
		return r
	}
	for _, r := range []scoring.Rating{
		rating("rt5", scoring.RaterConsumer, "c1", "f2", 5),
		rating("rt3", scoring.RaterMerchant, "m2", "f1", 3),
		rating("rt1", scoring.RaterMerchant, "m1", "f1", 1),
		rating("rt4", scoring.RaterConsumer, "c1", "f1", 4),
		rating("rt2", scoring.RaterMerchant, "m1", "f2", 2),
	} {
		must(t, "create "+r.ID, s.CreateRating(ctx, r))
	}
	type q = scoring.RatingQuery
	checkQueries(ctx, t, s.Ratings, ratingID, []queryCase[q]{
		{"no filter, in id order", q{}, []string{"rt1", "rt2", "rt3", "rt4", "rt5"}},
		{"firm", q{FirmID: "f1"}, []string{"rt1", "rt3", "rt4"}},
		{"unknown firm", q{FirmID: "f9"}, nil},
		{"rater kind", q{RaterKind: scoring.RaterConsumer}, []string{"rt4", "rt5"}},
		{"rater", q{RaterID: "m1"}, []string{"rt1", "rt2"}},
		{"rater kind and rater", q{RaterKind: scoring.RaterMerchant, RaterID: "m1"}, []string{"rt1", "rt2"}},
		{"rater of the other kind", q{RaterKind: scoring.RaterConsumer, RaterID: "m1"}, nil},
		{"from is inclusive", q{From: at(3)}, []string{"rt3", "rt4", "rt5"}},
		{"to is exclusive", q{To: at(3)}, []string{"rt1", "rt2"}},
		{"from and to", q{From: at(2), To: at(4)}, []string{"rt2", "rt3"}},
		{"between two instants", q{From: at(2).Add(time.Millisecond), To: at(3)}, nil},
		{"firm and time", q{FirmID: "f1", From: at(2), To: at(5)}, []string{"rt3", "rt4"}},
		{"rated from is inclusive", q{RatedFrom: at(4)}, []string{"rt1", "rt2"}},
		{"rated to is exclusive", q{RatedTo: at(3)}, []string{"rt4", "rt5"}},
		{"rater and rated between", q{RaterID: "c1", RatedFrom: at(1), RatedTo: at(3)}, []string{"rt4", "rt5"}},
		{"rated and created", q{RatedFrom: at(2), RatedTo: at(5), From: at(3)}, []string{"rt3", "rt4"}},
		{"limit", q{Limit: 2}, []string{"rt1", "rt2"}},
		{"after", q{After: "rt3"}, []string{"rt4", "rt5"}},
		{"after an id that is not stored", q{After: "rt3~"}, []string{"rt4", "rt5"}},
		{"firm, after and limit", q{FirmID: "f1", After: "rt1", Limit: 1}, []string{"rt3"}},
	})
}

// ----- runs -----

var runBehaviours = []scoringBehaviour{
	{name: "RunRoundTrip", run: testRunRoundTrip},
	{name: "RunCreateConflict", run: testRunCreateConflict},
	{name: "RunUpdate", run: testRunUpdate},
	{name: "RunQueries", run: testRunQueries},
}

// fullRun is a finished publishing run with counts of its inputs and an error text.
func fullRun() scoring.Run {
	return scoring.Run{
		ID: "run-1", AsOf: at(1), Method: "2026.1", MethodHash: "sha256:0a1b", Trigger: "schedule", Publish: true, Status: scoring.RunSucceeded,
		StartedAt: at(2), FinishedAt: at(3),
		Inputs:   map[string]int{"firms": 3, "sites": 12, "staff": 40, "records": 7, "stat rows": 90, "ratings": 0},
		Progress: 55, Total: 55, Error: "partial: 站点 s9 跳过", Proposals: 2, Version: 1,
		Period: "2026-05", Reason: "更正：记录重复录入", Replaces: "run-0", SupersededBy: "run-7", InputsHash: "sha256:77ee",
	}
}

// sparseRun has just started: no inputs and no clocks but its start.
func sparseRun() scoring.Run {
	return scoring.Run{ID: "run-2", Method: "2026.1", Trigger: "manual", Status: scoring.RunRunning, StartedAt: at(1), Version: 1}
}

// normRun makes an empty Inputs nil, since backends cannot tell them apart.
func normRun(r scoring.Run) scoring.Run {
	if len(r.Inputs) == 0 {
		r.Inputs = nil
	}
	return r
}

func getRun(s scoring.Store) func(context.Context, string) (scoring.Run, error) {
	return func(ctx context.Context, id string) (scoring.Run, error) {
		r, err := s.Run(ctx, id)
		return normRun(r), err
	}
}

func testRunRoundTrip(ctx context.Context, t *testing.T, s scoring.Store) {
	empty := sparseRun()
	empty.ID, empty.Inputs = "run-3", map[string]int{}
	runs := []scoring.Run{fullRun(), sparseRun(), empty}
	for _, r := range runs {
		must(t, "create "+r.ID, s.CreateRun(ctx, r))
	}
	for _, r := range runs {
		checkGet(ctx, t, "Run("+r.ID+")", getRun(s), r.ID, normRun(r))
	}
	_, err := s.Run(ctx, "run-9")
	wantScoringErr(t, "Run of an unknown id", err, credtrace.ErrNotFound)
}

func testRunCreateConflict(ctx context.Context, t *testing.T, s scoring.Store) {
	sameID := sparseRun()
	sameID.ID = fullRun().ID
	checkDuplicate(ctx, t, "same id", s.CreateRun, getRun(s), runID, fullRun(), sameID)
}

func testRunUpdate(ctx context.Context, t *testing.T, s scoring.Store) {
	unknown := sparseRun()
	unknown.ID = "run-9"
	checkVersioned(ctx, t, versioned[scoring.Run]{
		create: s.CreateRun, update: s.UpdateRun, get: getRun(s), id: runID,
		stored: sparseRun(), unknown: unknown,
		// A run makes progress, counts its inputs and at last finishes.
		edit: func(r scoring.Run, version int, mark string) scoring.Run {
			r.Progress, r.Total = 10*version, 30
			r.Inputs = maps.Clone(r.Inputs)
			if r.Inputs == nil {
				r.Inputs = map[string]int{}
			}
			r.Inputs[mark] = version
			r.Status, r.FinishedAt, r.Error, r.Proposals = scoring.RunFailed, at(10+version), "failed: "+mark, version
			r.Version = version
			return r
		},
	})
}

func testRunQueries(ctx context.Context, t *testing.T, s scoring.Store) {
	superseded := func(r scoring.Run) scoring.Run {
		r.SupersededBy, r.Period = "run-c", "2026-01"
		return r
	}
	run := func(id string, asOf int, publish bool, status scoring.RunStatus) scoring.Run {
		r := sparseRun()
		r.ID, r.AsOf, r.Publish, r.Status = id, at(asOf), publish, status
		return r
	}
	for _, r := range []scoring.Run{
		run("run-b", 2, true, scoring.RunSucceeded),
		run("run-e", 5, true, scoring.RunRunning),
		run("run-a", 1, true, scoring.RunSucceeded),
		run("run-d", 4, false, scoring.RunSucceeded),
		run("run-c", 2, true, scoring.RunSucceeded), // the same AsOf as run-b
		run("run-f", 6, true, scoring.RunFailed),
		run("run-g", 3, false, scoring.RunFailed),
		superseded(run("run-h", 2, true, scoring.RunSucceeded)), // replaced by a later publication of its period
	} {
		must(t, "create "+r.ID, s.CreateRun(ctx, r))
	}
	type q = scoring.RunQuery
	checkQueries(ctx, t, s.Runs, runID, []queryCase[q]{
		{"all, newest first, ties by id descending", q{}, []string{"run-f", "run-e", "run-d", "run-g", "run-h", "run-c", "run-b", "run-a"}},
		{"published only: publishing, succeeded, not superseded", q{PublishedOnly: true}, []string{"run-c", "run-b", "run-a"}},
		{"before is exclusive", q{Before: at(4)}, []string{"run-g", "run-h", "run-c", "run-b", "run-a"}},
		{"before the first", q{Before: at(1)}, nil},
		{"limit", q{Limit: 2}, []string{"run-f", "run-e"}},
		{"published before, limit 1: the last published grades", q{PublishedOnly: true, Before: at(5), Limit: 1}, []string{"run-c"}},
		{"published before the tie", q{PublishedOnly: true, Before: at(2)}, []string{"run-a"}},
		{"by status: the runs left running", q{Status: scoring.RunRunning}, []string{"run-e"}},
		{"by status: failed, newest first", q{Status: scoring.RunFailed}, []string{"run-f", "run-g"}},
	})

	// A run that finishes becomes published; the filter follows the update.
	e, err := s.Run(ctx, "run-e")
	must(t, "Run(run-e)", err)
	e.Status, e.FinishedAt, e.Version = scoring.RunSucceeded, at(7), e.Version+1
	must(t, "finish run-e", s.UpdateRun(ctx, e))
	checkQueries(ctx, t, s.Runs, runID, []queryCase[q]{
		{"published only after run-e finished", q{PublishedOnly: true, Limit: 2}, []string{"run-e", "run-c"}},
	})
}

// ----- scores -----

var scoreBehaviours = []scoringBehaviour{
	{name: "ScoreRoundTrip", run: testScoreRoundTrip},
	{name: "ScorePutReplaces", run: testScorePutReplaces},
	{name: "ScoreQueries", run: testScoreQueries},
	{name: "ScoreHistory", run: testScoreHistory},
	{name: "ScoreUnpublish", run: testScoreUnpublish},
}

// testScoreUnpublish: a run's scores stop being published when its period is published again;
// they stay, with everything else as it was, and other runs' scores are untouched.
func testScoreUnpublish(ctx context.Context, t *testing.T, s scoring.Store) {
	full, sparse := fullScore(), sparseScore()
	sparse.Published = true
	other := fullScore()
	other.RunID = "run-2"
	must(t, "PutScores", s.PutScores(ctx, []scoring.Score{full, sparse, other}))
	must(t, "UnpublishScores(run-1)", s.UnpublishScores(ctx, "run-1"))
	full.Published, sparse.Published = false, false
	checkList(t, "Scores of run-1 after UnpublishScores", scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-1"}), []scoring.Score{sparse, full}, scoreSubjectID)
	checkList(t, "Scores of run-2, untouched", scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-2"}), []scoring.Score{other}, scoreSubjectID)
	must(t, "UnpublishScores of an unknown run", s.UnpublishScores(ctx, "run-9"))
}

// fullScore sets every field: components with the items that moved them.
func fullScore() scoring.Score {
	return scoring.Score{
		RunID: "run-1", Subject: scoring.Site, SubjectID: "s1", FirmID: "f1", AsOf: at(1), Method: "2026.1", MethodHash: "sha256:0a1b",
		Value: 712.5, Uncertainty: 18.25, Grade: scoring.GradeB, PeerGroup: "site/110101/depot", Percentile: 37.5, Parcels: 1234,
		Period: "2026-Q2",
		Components: []scoring.Component{
			{Party: "regulator", Value: 640, Weight: 0.4, Uncertainty: 0, Detail: "2 条记录",
				Items: []scoring.Item{
					{Kind: "record", Ref: "r1", Effect: -60, Detail: "未按规定查验"},
					{Kind: "record", Ref: "r2", Effect: -0.125},
				}},
			{Party: "tracking", Value: 801.75, Weight: 0.35, Uncertainty: 12.5, Detail: "on time 96.1%",
				Items: []scoring.Item{{Kind: "statistic", Ref: "site/s1/2026-02-01..2026-02-28", Effect: 31.5, Detail: "late 3.9%"}}},
			{Party: "consumer", Value: 700, Weight: 0.25, Uncertainty: 30},
		},
		Published: true,
	}
}

// sparseScore is an insufficient firm score with no components and no AsOf.
func sparseScore() scoring.Score {
	return scoring.Score{RunID: "run-1", Subject: scoring.Firm, SubjectID: "f1", FirmID: "f1", Method: "2026.1", Grade: scoring.Insufficient}
}

func scores(ctx context.Context, t *testing.T, s scoring.Store, q scoring.ScoreQuery) []scoring.Score {
	t.Helper()
	got, err := s.Scores(ctx, q)
	if err != nil {
		t.Fatalf("Scores %+v: %v", q, err)
	}
	return got
}

func testScoreRoundTrip(ctx context.Context, t *testing.T, s scoring.Store) {
	full, sparse := fullScore(), sparseScore()
	must(t, "PutScores", s.PutScores(ctx, []scoring.Score{full, sparse}))
	checkList(t, "Scores of run-1", scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-1"}), []scoring.Score{sparse, full}, scoreSubjectID)
	must(t, "PutScores of nothing", s.PutScores(ctx, nil))
	if got := scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-9"}); len(got) != 0 {
		t.Errorf("Scores of an unknown run: got %d, want none", len(got))
	}
}

func testScorePutReplaces(ctx context.Context, t *testing.T, s scoring.Store) {
	first, other := fullScore(), sparseScore()
	inOtherRun := fullScore()
	inOtherRun.RunID = "run-2"
	must(t, "PutScores", s.PutScores(ctx, []scoring.Score{first, other, inOtherRun}))

	second := first
	second.Value, second.Grade, second.Published, second.Components = 655, scoring.GradeC, false, first.Components[:1]
	must(t, "PutScores of the same key again", s.PutScores(ctx, []scoring.Score{second}))
	checkList(t, "Scores of run-1 after the second put", scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-1"}), []scoring.Score{other, second}, scoreSubjectID)
	checkList(t, "Scores of run-2, untouched", scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-2"}), []scoring.Score{inOtherRun}, scoreSubjectID)

	// One call with a key twice: the last wins. And a put adds to the run's other scores.
	third, fourth := first, first
	third.Value, fourth.Value, fourth.Components = 600, 590.5, nil
	added := sparseScore()
	added.SubjectID, added.Subject = "p1", scoring.Staff
	must(t, "PutScores with a key twice", s.PutScores(ctx, []scoring.Score{third, added, fourth}))
	checkList(t, "Scores of run-1 after the key was put twice", scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-1"}), []scoring.Score{other, added, fourth}, scoreSubjectID)

	// The same subject id under another kind is another score.
	asFirm := first
	asFirm.Subject, asFirm.Value = scoring.Firm, 111
	must(t, "PutScores of the same id as a firm", s.PutScores(ctx, []scoring.Score{asFirm}))
	got := scores(ctx, t, s, scoring.ScoreQuery{RunID: "run-1", SubjectID: first.SubjectID})
	slices.SortFunc(got, func(a, b scoring.Score) int { return strings.Compare(string(a.Subject), string(b.Subject)) })
	checkList(t, "Scores of s1 as a site and as a firm", got, []scoring.Score{asFirm, fourth}, scoreSubjectID)
}

func testScoreQueries(ctx context.Context, t *testing.T, s scoring.Store) {
	score := func(run string, kind scoring.SubjectKind, id string) scoring.Score {
		sc := sparseScore()
		sc.RunID, sc.Subject, sc.SubjectID = run, kind, id
		return sc
	}
	must(t, "PutScores", s.PutScores(ctx, []scoring.Score{
		score("run-1", scoring.Staff, "p1"),
		score("run-1", scoring.Firm, "f2"),
		score("run-1", scoring.Site, "s1"),
		score("run-1", scoring.Firm, "f1"),
		score("run-1", scoring.Site, "s2"),
		score("run-2", scoring.Firm, "f1"),
		score("run-2", scoring.Firm, "f3"),
	}))
	type q = scoring.ScoreQuery
	checkQueries(ctx, t, s.Scores, scoreSubjectID, []queryCase[q]{
		{"run, in subject id order", q{RunID: "run-1"}, []string{"f1", "f2", "p1", "s1", "s2"}},
		{"other run", q{RunID: "run-2"}, []string{"f1", "f3"}},
		{"subject kind", q{RunID: "run-1", Subject: scoring.Site}, []string{"s1", "s2"}},
		{"subject id", q{RunID: "run-1", SubjectID: "f2"}, []string{"f2"}},
		{"subject id of the other kind", q{RunID: "run-1", Subject: scoring.Site, SubjectID: "f2"}, nil},
		{"after", q{RunID: "run-1", After: "f2"}, []string{"p1", "s1", "s2"}},
		{"limit", q{RunID: "run-1", Limit: 2}, []string{"f1", "f2"}},
		{"kind, after and limit", q{RunID: "run-1", Subject: scoring.Firm, After: "f1", Limit: 5}, []string{"f2"}},
		{"after the last", q{RunID: "run-1", After: "s2"}, nil},
	})
}

func testScoreHistory(ctx context.Context, t *testing.T, s scoring.Store) {
	asOf := map[string]int{"run-1": 1, "run-2": 3, "run-3": 2, "run-4": 4}
	score := func(run string, kind scoring.SubjectKind, id string) scoring.Score {
		sc := sparseScore()
		sc.RunID, sc.Subject, sc.SubjectID, sc.AsOf, sc.Value = run, kind, id, at(asOf[run]), float64(asOf[run])
		return sc
	}
	// Runs are stored out of AsOf order, so that neither insertion nor id order passes.
	must(t, "PutScores of run-1", s.PutScores(ctx, []scoring.Score{score("run-1", scoring.Firm, "f1"), score("run-1", scoring.Site, "f1")}))
	must(t, "PutScores of run-2", s.PutScores(ctx, []scoring.Score{score("run-2", scoring.Firm, "f1"), score("run-2", scoring.Firm, "f2")}))
	must(t, "PutScores of run-3", s.PutScores(ctx, []scoring.Score{score("run-3", scoring.Firm, "f1")}))
	must(t, "PutScores of run-4", s.PutScores(ctx, []scoring.Score{score("run-4", scoring.Firm, "f1")}))

	cases := []struct {
		name  string
		kind  scoring.SubjectKind
		id    string
		limit int
		want  []string
	}{
		{"newest first", scoring.Firm, "f1", 10, []string{"run-4", "run-2", "run-3", "run-1"}},
		{"at most limit", scoring.Firm, "f1", 2, []string{"run-4", "run-2"}},
		{"limit 0 is no limit", scoring.Firm, "f1", 0, []string{"run-4", "run-2", "run-3", "run-1"}},
		{"limit 1: the latest", scoring.Firm, "f1", 1, []string{"run-4"}},
		{"the same id as a site", scoring.Site, "f1", 10, []string{"run-1"}},
		{"another firm", scoring.Firm, "f2", 10, []string{"run-2"}},
		{"unknown subject", scoring.Firm, "f9", 10, nil},
	}
	for _, c := range cases {
		got, err := s.ScoreHistory(ctx, c.kind, c.id, c.limit)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var want []scoring.Score
		for _, run := range c.want {
			want = append(want, score(run, c.kind, c.id))
		}
		checkList(t, c.name, got, want, scoreRunID)
	}
}

// ----- sanctions -----

var sanctionBehaviours = []scoringBehaviour{
	{name: "SanctionRoundTrip", run: testSanctionRoundTrip},
	{name: "SanctionCreateConflict", run: testSanctionCreateConflict},
	{name: "SanctionUpdate", run: testSanctionUpdate},
	{name: "SanctionFilters", run: testSanctionFilters},
	{name: "SanctionChangedSince", run: testSanctionChangedSince},
}

// fullSanction is approved, lifted and has every clock and list.
func fullSanction() scoring.Sanction {
	return scoring.Sanction{
		ID: "sn1", Kind: scoring.Suspension, FirmID: "f1", Rule: "ladder/3",
		Reason: "连续两期 D 级", LegalBasis: "《快递市场管理办法》第五十条",
		RecordIDs: []string{"r1", "r2"}, ScoreRuns: []string{"run-1", "run-2"},
		Status: scoring.Lifted, ProposedAt: at(1), ProposedBy: "run-2", ReviewedAt: at(1).Add(time.Hour), ReviewedBy: "t0", ReviewReason: "法制审核通过",
		DecidedAt: at(2), DecidedBy: "t1", Decision: "同意",
		Start: at(2), End: at(9), LiftedAt: at(5), LiftReason: "整改完成", Version: 1, Period: "2026-05",
	}
}

// sparseSanction is a fresh proposal: no records, runs, decision or clocks but its proposal.
func sparseSanction() scoring.Sanction {
	return scoring.Sanction{ID: "sn2", Kind: scoring.RedList, FirmID: "f1", Rule: "redlist/a", Status: scoring.Proposed, ProposedAt: at(1), ProposedBy: "run-1", Version: 1}
}

func testSanctionRoundTrip(ctx context.Context, t *testing.T, s scoring.Store) {
	for _, sn := range []scoring.Sanction{fullSanction(), sparseSanction()} {
		must(t, "create "+sn.ID, s.CreateSanction(ctx, sn))
	}
	for _, sn := range []scoring.Sanction{fullSanction(), sparseSanction()} {
		checkGet(ctx, t, "Sanction("+sn.ID+")", s.Sanction, sn.ID, sn)
	}
	_, err := s.Sanction(ctx, "sn9")
	wantScoringErr(t, "Sanction of an unknown id", err, credtrace.ErrNotFound)
}

func testSanctionCreateConflict(ctx context.Context, t *testing.T, s scoring.Store) {
	sameID := sparseSanction()
	sameID.ID = fullSanction().ID
	checkDuplicate(ctx, t, "same id", s.CreateSanction, s.Sanction, sanctionID, fullSanction(), sameID)
}

func testSanctionUpdate(ctx context.Context, t *testing.T, s scoring.Store) {
	unknown := sparseSanction()
	unknown.ID = "sn9"
	checkVersioned(ctx, t, versioned[scoring.Sanction]{
		create: s.CreateSanction, update: s.UpdateSanction, get: s.Sanction, id: sanctionID,
		stored: sparseSanction(), unknown: unknown,
		// A proposal is decided; its evidence grows.
		edit: func(sn scoring.Sanction, version int, mark string) scoring.Sanction {
			sn.Status, sn.DecidedAt, sn.DecidedBy, sn.Decision = scoring.Approved, at(10+version), "t2", mark
			sn.Start, sn.End = at(10+version), at(20+version)
			sn.RecordIDs = append(slices.Clone(sn.RecordIDs), "r-"+mark)
			sn.ScoreRuns = append(slices.Clone(sn.ScoreRuns), "run-"+mark)
			sn.Version = version
			return sn
		},
	})
}

func testSanctionFilters(ctx context.Context, t *testing.T, s scoring.Store) {
	sanction := func(id, firm string, kind scoring.SanctionKind, st scoring.SanctionStatus) scoring.Sanction {
		sn := sparseSanction()
		sn.ID, sn.FirmID, sn.Kind, sn.Status = id, firm, kind, st
		return sn
	}
	for _, sn := range []scoring.Sanction{
		sanction("sn4", "f2", scoring.BlackList, scoring.Approved),
		sanction("sn2", "f1", scoring.PublicExposure, scoring.Rejected),
		sanction("sn5", "f1", scoring.BlackList, scoring.Proposed),
		sanction("sn1", "f1", scoring.BlackList, scoring.Approved),
		sanction("sn3", "f2", scoring.RedList, scoring.Lifted),
	} {
		must(t, "create "+sn.ID, s.CreateSanction(ctx, sn))
	}
	type q = scoring.SanctionQuery
	st := func(ss ...scoring.SanctionStatus) []scoring.SanctionStatus { return ss }
	checkQueries(ctx, t, s.Sanctions, sanctionID, []queryCase[q]{
		{"no filter, in id order", q{}, []string{"sn1", "sn2", "sn3", "sn4", "sn5"}},
		{"an empty status list does not filter", q{Status: st()}, []string{"sn1", "sn2", "sn3", "sn4", "sn5"}},
		{"firm", q{FirmID: "f2"}, []string{"sn3", "sn4"}},
		{"kind", q{Kind: scoring.BlackList}, []string{"sn1", "sn4", "sn5"}},
		{"one status", q{Status: st(scoring.Approved)}, []string{"sn1", "sn4"}},
		{"any of two statuses", q{Status: st(scoring.Proposed, scoring.Approved)}, []string{"sn1", "sn4", "sn5"}},
		{"firm, kind and statuses", q{FirmID: "f1", Kind: scoring.BlackList, Status: st(scoring.Proposed, scoring.Lifted)}, []string{"sn5"}},
		{"limit", q{Limit: 2}, []string{"sn1", "sn2"}},
		{"after", q{After: "sn3"}, []string{"sn4", "sn5"}},
		{"firm after, limit 1", q{FirmID: "f1", After: "sn1", Limit: 1}, []string{"sn2"}},
		{"firms (a tree)", q{FirmIDs: []string{"f2", "f9"}}, []string{"sn3", "sn4"}},
		{"firms, paged", q{FirmIDs: []string{"f1", "f2"}, After: "sn2", Limit: 2}, []string{"sn3", "sn4"}},
		{"an empty firm list matches nothing", q{FirmIDs: []string{}}, nil},
		{"a firm inside the list", q{FirmID: "f1", FirmIDs: []string{"f1", "f3"}, Status: st(scoring.Approved)}, []string{"sn1"}},
		{"a firm outside the list matches nothing", q{FirmID: "f2", FirmIDs: []string{"f1"}}, nil},
		// An export of one list pages through it this way (scoring.ExportSanctions).
		{"kind after, limit 1", q{Kind: scoring.BlackList, After: "sn1", Limit: 1}, []string{"sn4"}},
	})
	// CountSanctions counts what the same query lists.
	for _, c := range []struct {
		name string
		q    q
		want int
	}{
		{"all", q{}, 5},
		{"firm", q{FirmID: "f2"}, 2},
		{"any of two statuses", q{Status: st(scoring.Proposed, scoring.Approved)}, 3},
		{"firms (a tree) and a kind", q{FirmIDs: []string{"f1", "f9"}, Kind: scoring.BlackList}, 2},
		{"an empty firm list", q{FirmIDs: []string{}}, 0},
	} {
		if n, err := s.CountSanctions(ctx, c.q); err != nil || n != c.want {
			t.Errorf("CountSanctions, %s = %d, %v; want %d", c.name, n, err, c.want)
		}
	}
}

// testSanctionChangedSince checks the store-side filter of export increments: a sanction is found
// from its last change (proposal, review, decision, lifting) on, and moves with it.
func testSanctionChangedSince(ctx context.Context, t *testing.T, s scoring.Store) {
	full, sparse := fullSanction(), sparseSanction() // sparse: proposed at(1)
	must(t, "create "+full.ID, s.CreateSanction(ctx, full))
	must(t, "create "+sparse.ID, s.CreateSanction(ctx, sparse))
	last := full.ChangedAt()
	if !last.After(at(1)) {
		t.Fatalf("the full sanction changed last at %v, not after the sparse one's proposal", last)
	}
	type q = scoring.SanctionQuery
	checkQueries(ctx, t, s.Sanctions, sanctionID, []queryCase[q]{
		{"since the proposal of the sparse one (inclusive)", q{ChangedSince: at(1)}, []string{full.ID, sparse.ID}},
		{"since the full one's last change (inclusive)", q{ChangedSince: last}, []string{full.ID}},
		{"since a moment after it", q{ChangedSince: last.Add(time.Millisecond)}, nil},
		{"since, with a kind", q{ChangedSince: at(1), Kind: sparse.Kind}, []string{sparse.ID}},
	})
	sparse.Status, sparse.DecidedAt, sparse.DecidedBy, sparse.Version = scoring.Approved, last.Add(time.Hour), "t2", 2
	must(t, "update", s.UpdateSanction(ctx, sparse))
	checkQueries(ctx, t, s.Sanctions, sanctionID, []queryCase[q]{
		{"since after the full one's last change, after the decision", q{ChangedSince: last.Add(time.Millisecond)}, []string{sparse.ID}},
	})
}

// ----- leases -----

var leaseBehaviours = []scoringBehaviour{
	{name: "LeaseExclusive", run: testLeaseExclusive},
	{name: "LeaseRaceFree", run: testLeaseRaceFree},
	{name: "LeaseRaceExpired", run: testLeaseRaceExpired, expiredRace: true},
}

// acquire calls AcquireLease and checks its answer.
func acquire(ctx context.Context, t *testing.T, s scoring.Store, what, name, holder string, until, now int, want bool) {
	t.Helper()
	got, err := s.AcquireLease(ctx, name, holder, at(until), at(now))
	if err != nil {
		t.Fatalf("%s: AcquireLease(%s, %s): %v", what, name, holder, err)
	}
	if got != want {
		t.Errorf("%s: AcquireLease(%s, %s, until %d, now %d) = %v, want %v", what, name, holder, until, now, got, want)
	}
}

func testLeaseExclusive(ctx context.Context, t *testing.T, s scoring.Store) {
	const job = "score"
	must(t, "ReleaseLease of a lease nobody holds", s.ReleaseLease(ctx, job, "a"))
	acquire(ctx, t, s, "A takes the free lease", job, "a", 2, 0, true)
	acquire(ctx, t, s, "B while A holds it", job, "b", 3, 1, false)
	acquire(ctx, t, s, "A renews", job, "a", 3, 1, true)
	acquire(ctx, t, s, "B after A's first term, within the renewal", job, "b", 4, 2, false)
	acquire(ctx, t, s, "another lease is independent", "publish", "b", 4, 2, true)
	acquire(ctx, t, s, "B once A's lease ends (until <= now)", job, "b", 6, 3, true)
	acquire(ctx, t, s, "A renewing while B holds it", job, "a", 7, 4, false)

	must(t, "ReleaseLease by A, who does not hold it", s.ReleaseLease(ctx, job, "a"))
	acquire(ctx, t, s, "A after its own release of B's lease", job, "a", 7, 4, false)
	acquire(ctx, t, s, "B renews: the release by A left it", job, "b", 7, 4, true)

	must(t, "ReleaseLease by B", s.ReleaseLease(ctx, job, "b"))
	acquire(ctx, t, s, "A after B released it", job, "a", 8, 5, true)
	acquire(ctx, t, s, "B after A took it again", job, "b", 8, 5, false)
	acquire(ctx, t, s, "the other lease, still B's", "publish", "a", 9, 3, false)
}

// race has n holders call AcquireLease at once and returns who got the lease.
func race(ctx context.Context, t *testing.T, s scoring.Store, name string, n, until, now int) []string {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	got := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.AcquireLease(ctx, name, fmt.Sprintf("holder-%d", i), at(until), at(now))
		})
	}
	close(start)
	wg.Wait()
	var won []string
	for i := range n {
		if errs[i] != nil {
			t.Errorf("holder-%d: AcquireLease: %v", i, errs[i])
		}
		if got[i] {
			won = append(won, fmt.Sprintf("holder-%d", i))
		}
	}
	return won
}

// checkOneWinner checks that exactly one holder won, and that the lease is the winner's: the
// others still cannot take it, and the winner can renew it.
func checkOneWinner(ctx context.Context, t *testing.T, s scoring.Store, name string, won []string, until, now int) {
	t.Helper()
	if len(won) != 1 {
		t.Errorf("lease %s: %d holders got it (%q), want exactly one", name, len(won), won)
		return
	}
	acquire(ctx, t, s, "a latecomer after the race", name, "late", until+1, now, false)
	acquire(ctx, t, s, "the winner renews", name, won[0], until+1, now, true)
}

const racers = 8

func testLeaseRaceFree(ctx context.Context, t *testing.T, s scoring.Store) {
	for round := range 3 {
		name := fmt.Sprintf("job-%d", round)
		checkOneWinner(ctx, t, s, name, race(ctx, t, s, name, racers, 5, 1), 5, 1)
	}
}

func testLeaseRaceExpired(ctx context.Context, t *testing.T, s scoring.Store) {
	for round := range 3 {
		name := fmt.Sprintf("job-%d", round)
		acquire(ctx, t, s, "the old holder", name, "old", 2, 0, true)
		checkOneWinner(ctx, t, s, name, race(ctx, t, s, name, racers, 5, 2), 5, 2)
	}
}

// ----- methodology versions -----

var methodBehaviours = []scoringBehaviour{
	{name: "MethodRoundTrip", run: testMethodRoundTrip},
	{name: "MethodsOrder", run: testMethodsOrder},
}

func method(version string, created int) scoring.MethodDoc {
	return scoring.MethodDoc{
		Version: version, CreatedAt: at(created), CreatedBy: "t1",
		Doc: `{"version":"` + version + `","weights":{"regulator":0.4,"tracking":0.35},"note":"权重 \"草案\""}`,
	}
}

func testMethodRoundTrip(ctx context.Context, t *testing.T, s scoring.Store) {
	m := method("2026.1", 1)
	sparse := scoring.MethodDoc{Version: "2026.0", Doc: "{}"}
	checkDuplicate(ctx, t, "PutMethod of a stored version", s.PutMethod, s.Method, methodVersion, m, method("2026.1", 2))
	must(t, "PutMethod "+sparse.Version, s.PutMethod(ctx, sparse))
	checkGet(ctx, t, "Method("+sparse.Version+")", s.Method, sparse.Version, sparse)
	_, err := s.Method(ctx, "2025.9")
	wantScoringErr(t, "Method of an unknown version", err, credtrace.ErrNotFound)
}

func testMethodsOrder(ctx context.Context, t *testing.T, s scoring.Store) {
	got, err := s.Methods(ctx)
	must(t, "Methods of an empty store", err)
	if len(got) != 0 {
		t.Errorf("Methods of an empty store: got %d, want none", len(got))
	}
	ms := []scoring.MethodDoc{method("v-b", 1), method("v-a", 2), method("v-c", 1), method("v-0", 3)}
	for _, m := range ms {
		must(t, "PutMethod "+m.Version, s.PutMethod(ctx, m))
	}
	got, err = s.Methods(ctx)
	must(t, "Methods", err)
	checkList(t, "Methods, oldest first, ties by version", got, []scoring.MethodDoc{ms[0], ms[2], ms[1], ms[3]}, methodVersion)
}
