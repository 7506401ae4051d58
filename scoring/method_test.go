package scoring_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

func TestDefaultMethodParses(t *testing.T) {
	m, err := scoring.ParseMethod(scoring.DefaultMethod)
	if err != nil {
		t.Fatalf("ParseMethod(DefaultMethod) = %v", err)
	}
	if got, want := m.Version, "2026.1"; got != want {
		t.Errorf("Version = %q, want %q", got, want)
	}
	wantBands := []scoring.TimeBand{{UpToMonths: 6, Weight: 3}, {UpToMonths: 12, Weight: 2}, {UpToMonths: 24, Weight: 1}}
	if got := m.TimeWeights; !reflect.DeepEqual(got, wantBands) {
		t.Errorf("TimeWeights = %v, want %v", got, wantBands)
	}
	sum := 0.0
	for _, w := range m.PartyWeights {
		sum += w
	}
	// 0.4 + 0.3 + 0.15 + 0.15 = 1
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("party weights sum to %v, want 1", sum)
	}
	if got, want := m.Cutoffs, map[string]float64{"A": 850, "B": 700, "C": 550}; !reflect.DeepEqual(got, want) {
		t.Errorf("Cutoffs = %v, want %v", got, want)
	}
	if got, want := m.Lists.SanctionMonths["revocation_proposal"], 0; got != want {
		t.Errorf("revocation months = %d, want %d (until lifted)", got, want)
	}
}

// edited returns DefaultMethod with change applied to its JSON object.
func edited(t *testing.T, change func(doc map[string]any)) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(scoring.DefaultMethod), &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseMethodNamesBadFields(t *testing.T) {
	weights := func(reg, tr, me, co any) map[string]any {
		w := map[string]any{"regulator": reg, "tracking": tr, "merchant": me, "consumer": co}
		for k, v := range w {
			if v == nil {
				delete(w, k)
			}
		}
		return w
	}
	tests := []struct {
		name   string
		change func(doc map[string]any)
		fields []string
		reason string // a part of the first field's reason
	}{
		{"unknown field", func(d map[string]any) { d["severity_weight"] = 1 }, []string{"methodology"}, "severity_weight"},
		{"party weights sum to 1.1", func(d map[string]any) { d["party_weights"] = weights(0.5, 0.3, 0.15, 0.15) }, // 0.5+0.3+0.15+0.15 = 1.1
			[]string{"party_weights"}, "1.100"},
		{"party weights sum to 0.9", func(d map[string]any) { d["party_weights"] = weights(0.3, 0.3, 0.15, 0.15) }, // 0.3+0.3+0.15+0.15 = 0.9
			[]string{"party_weights"}, "0.900"},
		{"a party missing", func(d map[string]any) { d["party_weights"] = weights(0.55, 0.3, 0.15, nil) }, // 0.55+0.3+0.15 = 1, consumer absent
			[]string{"party_weights.consumer"}, "required"},
		{"negative party weight", func(d map[string]any) { d["party_weights"] = weights(0.6, 0.3, 0.15, -0.05) }, // sums to 1 but consumer < 0
			[]string{"party_weights.consumer"}, "non-negative"},
		{"cut-offs out of order", func(d map[string]any) { d["cutoffs"] = map[string]any{"A": 700, "B": 850, "C": 550} }, []string{"cutoffs"}, "A > B > C"},
		{"cut-off A above 1000", func(d map[string]any) { d["cutoffs"] = map[string]any{"A": 1001, "B": 700, "C": 550} }, []string{"cutoffs"}, "1000"},
		{"cut-off C zero", func(d map[string]any) { d["cutoffs"] = map[string]any{"A": 850, "B": 700, "C": 0} }, []string{"cutoffs"}, "> 0"},
		{"cut-off B missing", func(d map[string]any) { d["cutoffs"] = map[string]any{"A": 850, "C": 550} }, []string{"cutoffs"}, ""},
		{"equal time bands", func(d map[string]any) {
			d["time_weights"] = []any{map[string]any{"up_to_months": 6, "weight": 3}, map[string]any{"up_to_months": 6, "weight": 2}}
		}, []string{"time_weights[1]"}, "grow"},
		{"shrinking time bands", func(d map[string]any) {
			d["time_weights"] = []any{map[string]any{"up_to_months": 12, "weight": 3}, map[string]any{"up_to_months": 6, "weight": 2}, map[string]any{"up_to_months": 24, "weight": 1}}
		}, []string{"time_weights[1]"}, "grow"},
		{"negative time weight", func(d map[string]any) {
			d["time_weights"] = []any{map[string]any{"up_to_months": 6, "weight": -1}}
		}, []string{"time_weights[0]"}, "non-negative"},
		{"no version", func(d map[string]any) { delete(d, "version") }, []string{"version"}, "required"},
		{"window too long", func(d map[string]any) { d["window_months"] = 61 }, []string{"window_months"}, "60"},
		{"severity missing", func(d map[string]any) { d["severity_weights"] = map[string]any{"minor": 1, "general": 3} }, []string{"severity_weights.serious"}, "positive"},
		{"prior mean out of range", func(d map[string]any) { d["prior_mean"] = 6 }, []string{"prior_mean"}, ""},
		{"volume bands descending", func(d map[string]any) { d["volume_bands"] = []any{100000, 10000} }, []string{"volume_bands"}, "ascending"},
		{"burst weight above 1", func(d map[string]any) { d["burst_weight"] = 1.5 }, []string{"burst_weight"}, ""},
		{"two bad fields", func(d map[string]any) {
			d["cutoffs"] = map[string]any{"A": 500, "B": 700, "C": 550}
			d["party_weights"] = weights(0.4, 0.4, 0.15, 0.15) // 1.1
		}, []string{"party_weights", "cutoffs"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scoring.ParseMethod(edited(t, tc.change))
			if !errors.Is(err, credtrace.ErrInvalid) {
				t.Fatalf("err = %v, want credtrace.ErrInvalid", err)
			}
			var ve *credtrace.Error
			if !errors.As(err, &ve) {
				t.Fatalf("err = %T, want *credtrace.Validation", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Fatalf("fields = %q, want %q (%v)", got, tc.fields, err)
			}
			if !strings.Contains(ve.Fields[0].Reason, tc.reason) {
				t.Errorf("reason = %q, want it to mention %q", ve.Fields[0].Reason, tc.reason)
			}
		})
	}
}

func TestParseMethodAcceptsAChangedCommittee(t *testing.T) {
	doc := edited(t, func(d map[string]any) {
		d["version"] = "2027.1"
		d["party_weights"] = map[string]any{"regulator": 0.5, "tracking": 0.2, "merchant": 0.2, "consumer": 0.1} // 0.5+0.2+0.2+0.1 = 1
		d["time_weights"] = []any{map[string]any{"up_to_months": 12, "weight": 2}, map[string]any{"up_to_months": 36, "weight": 1}}
		d["window_months"] = 36
	})
	m, err := scoring.ParseMethod(doc)
	if err != nil {
		t.Fatalf("ParseMethod = %v", err)
	}
	if got, want := m.Version, "2027.1"; got != want {
		t.Errorf("Version = %q, want %q", got, want)
	}
	if got, want := m.PartyWeights["merchant"], 0.2; got != want {
		t.Errorf("merchant weight = %v, want %v", got, want)
	}
}

func TestParseMethodRejectsTrailingData(t *testing.T) {
	if _, err := scoring.ParseMethod(scoring.DefaultMethod + ` {"version": "x"}`); !errors.Is(err, credtrace.ErrInvalid) {
		t.Errorf("ParseMethod(two documents) = %v, want credtrace.ErrInvalid", err)
	}
}

func TestParseMethodRegulatorWeightZero(t *testing.T) {
	// Every subject has a regulator component; with its weight 0 a subject with nothing else
	// (no parcels, no ratings) has no weight at all and Compute divides 0 by 0.
	doc := edited(t, func(d map[string]any) {
		d["party_weights"] = map[string]any{"regulator": 0, "tracking": 0.5, "merchant": 0.25, "consumer": 0.25}
	})
	if _, err := scoring.ParseMethod(doc); !errors.Is(err, credtrace.ErrInvalid) || !strings.Contains(err.Error(), "party_weights.regulator") {
		t.Errorf("ParseMethod(regulator weight 0) = %v, want credtrace.ErrInvalid naming party_weights.regulator", err)
	}
}
