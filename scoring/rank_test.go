package scoring_test

import (
	"reflect"
	"testing"

	"github.com/credtrace/credtrace/scoring"
)

func TestRank(t *testing.T) {
	sc := func(id string, v float64, g scoring.Grade) scoring.Score {
		return scoring.Score{Subject: scoring.Firm, SubjectID: id, Value: v, Grade: g}
	}
	latest := []scoring.Score{sc("a", 950, scoring.GradeA), sc("b", 610, scoring.GradeC), sc("c", 400, scoring.GradeD),
		sc("d", 0, scoring.Insufficient), sc("e", 610, scoring.GradeC), sc("f", 800, scoring.GradeB)}
	previous := []scoring.Score{sc("a", 900, scoring.GradeA), sc("b", 700, scoring.GradeB), sc("c", 300, scoring.GradeD), sc("f", 700, scoring.GradeB)}
	worst, improved := scoring.Rank(latest, previous, 3)
	var ids []string
	for _, x := range worst {
		ids = append(ids, x.SubjectID)
	}
	if want := []string{"c", "b", "e"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("worst = %v, want %v (lowest first, no grade no rank, ties by id)", ids, want)
	}
	ids = nil
	var deltas []float64
	for _, x := range improved {
		ids, deltas = append(ids, x.SubjectID), append(deltas, x.Delta)
	}
	if want := []string{"c", "f", "a"}; !reflect.DeepEqual(ids, want) || !reflect.DeepEqual(deltas, []float64{100, 100, 50}) {
		t.Errorf("improved = %v %v, want %v [100 100 50] (most first, ties by id, fallers left out)", ids, deltas, want)
	}
	if w, i := scoring.Rank(nil, nil, 5); len(w) != 0 || len(i) != 0 {
		t.Errorf("Rank(nothing) = %v, %v", w, i)
	}
}
