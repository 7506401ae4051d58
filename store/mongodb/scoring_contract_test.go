package mongodb_test

import (
	"os"
	"testing"

	"github.com/credtrace/credtrace/scoring"
	"github.com/credtrace/credtrace/store/mongodb"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/store/storetest"
)

// TestScoringContract runs the scoring.Store contract suite, each subtest on a fresh database.
func TestScoringContract(t *testing.T) {
	t.Parallel()
	storetest.RunScoring(t, func(t *testing.T) scoring.Store {
		st := open(t).Scoring()
		if os.Getenv(mongotest.EnvURI) == "" {
			return embeddedFerretDB{st}
		}
		return st
	})
}

// embeddedFerretDB marks the store on the embedded FerretDB for the suite: it skips the races
// over an expired lease there, which FerretDB cannot keep exclusive. A server named by
// CREDTRACE_TEST_MONGO_URI runs them.
type embeddedFerretDB struct{ *mongodb.Scoring }

func (embeddedFerretDB) SkipLeaseRace() string {
	return "FerretDB 1.24 checks an update's filter and writes the document in two steps, so racing takeovers of an expired lease can all succeed; set " +
		mongotest.EnvURI + " to a MongoDB server to run this"
}
