package scoring_test

import (
	"strings"
	"testing"

	"github.com/credtrace/credtrace/scoring"
)

// FuzzParseMethod: no document panics the parser, and a document it accepts holds the
// invariants the scoring code relies on.
func FuzzParseMethod(f *testing.F) {
	f.Add(scoring.DefaultMethod)
	f.Add(strings.Replace(scoring.DefaultMethod, `"window_months": 24`, `"window_months": 0`, 1))
	f.Add(`{"version": "x"}`)
	f.Add(`{"version": "x", "version": "y"}`)
	f.Add(`[]`)
	f.Add(`{"time_weights": [{"up_to_months": -1, "weight": 1e308}]}`)
	f.Add("")
	f.Fuzz(func(t *testing.T, doc string) {
		m, err := scoring.ParseMethod(doc)
		if err != nil {
			return
		}
		if m.Version == "" || m.WindowMonths < 1 || m.WindowMonths > 60 || len(m.TimeWeights) == 0 || m.PartyWeights["regulator"] <= 0 {
			t.Fatalf("accepted a document that breaks the rules: %+v", m)
		}
		last := 0
		for _, b := range m.TimeWeights {
			if b.UpToMonths <= last || b.Weight < 0 {
				t.Fatalf("accepted time bands %+v", m.TimeWeights)
			}
			last = b.UpToMonths
		}
	})
}
