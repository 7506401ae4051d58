package scoring_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/scoring"
)

// rateInStore gives a1 n merchant ratings of stars by n raters on 1 June (version 1 each).
func (w *world) rateInStore(t *testing.T, n, stars int) []scoring.Rating {
	t.Helper()
	var out []scoring.Rating
	for i := range n {
		r := rating(fmt.Sprintf("rt%02d", i), scoring.RaterMerchant, fmt.Sprintf("m%02d", i), "a1", stars, 1, time.Date(2026, 6, 1, 10, 0, 0, 0, cst))
		r.Version = 1
		if err := w.store.CreateRating(w.ctx, r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (w *world) firmScores(t *testing.T, runID string) map[string]float64 {
	t.Helper()
	ss, err := w.store.Scores(w.ctx, scoring.ScoreQuery{RunID: runID, Subject: scoring.Firm})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, sc := range ss {
		out[sc.SubjectID] = sc.Value
	}
	return out
}

func (w *world) export(t *testing.T, runID string) []byte {
	t.Helper()
	h, in, err := w.svc.RunInputs(w.ctx, regulator, runID)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := scoring.WriteInputs(&buf, h, in); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReplayFromExportAndStore(t *testing.T) {
	w := newWorld(t) // 15 June
	w.rateInStore(t, 3, 2)
	asOf := time.Date(2026, 6, 10, 0, 0, 0, 0, cst)
	r := w.run(t, asOf, false)
	if !strings.HasPrefix(r.InputsHash, "sha256:") {
		t.Fatalf("run inputs hash %q", r.InputsHash)
	}
	exported := w.export(t, r.ID)
	lines := strings.Split(strings.TrimSpace(string(exported)), "\n")
	for _, want := range []string{`"type":"run"`, `"run_id":"` + r.ID + `"`, `"period":"2026-06"`, `"method":"2026.1"`, `"method_hash":"` + r.MethodHash + `"`, `"inputs_hash":"` + r.InputsHash + `"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %s lacks %s", lines[0], want)
		}
	}
	count := map[string]int{}
	for _, l := range lines[1:] {
		typ := strings.SplitN(strings.TrimPrefix(l, `{"type":"`), `"`, 2)[0]
		count[typ]++
	}
	if want := map[string]int{"firm": 4, "record": 3, "stat": 4, "rating": 3}; !reflect.DeepEqual(count, want) {
		t.Errorf("export lines by type %v, want %v", count, want)
	}
	if !strings.Contains(string(exported), `"status":"confirmed"`) {
		t.Error("records do not carry the status the run used")
	}

	for _, tc := range []struct {
		name string
		src  []byte
	}{{"from the store", nil}, {"from the exported file", exported}} {
		var src *bytes.Reader
		if tc.src != nil {
			src = bytes.NewReader(tc.src)
		}
		var p scoring.Replay
		var err error
		if src == nil {
			p, err = w.svc.Replay(w.ctx, regulator, r.ID, nil)
		} else {
			p, err = w.svc.Replay(w.ctx, regulator, r.ID, src)
		}
		if err != nil || !p.Same() || p.Subjects != 4 {
			t.Errorf("replay %s = %+v, %v; want the same 4 scores and inputs", tc.name, p, err)
		}
	}

	// Inputs that are not the run's: a rating's stars changed in the file.
	tampered := bytes.Replace(exported, []byte(`"stars":2`), []byte(`"stars":5`), 1)
	p, err := w.svc.Replay(w.ctx, regulator, r.ID, bytes.NewReader(tampered))
	if err != nil {
		t.Fatal(err)
	}
	if p.InputsMatch || len(p.Differences) != 1 || p.Differences[0].SubjectID != "a1" || p.Differences[0].Stored.Value == p.Differences[0].Replayed.Value {
		t.Errorf("replay of tampered inputs = %+v, want the inputs and a1's score to differ", p)
	}
	if _, err := w.svc.Replay(w.ctx, credtrace.Caller{Role: credtrace.RoleFirm, FirmID: "a1"}, r.ID, nil); !errors.Is(err, credtrace.ErrForbidden) {
		t.Errorf("a firm replays: %v, want credtrace.ErrForbidden", err)
	}
	if _, _, err := w.svc.RunInputs(w.ctx, platform, r.ID); !errors.Is(err, credtrace.ErrForbidden) {
		t.Errorf("a platform exports: %v, want credtrace.ErrForbidden", err)
	}
	if _, err := w.svc.Replay(w.ctx, regulator, r.ID, strings.NewReader(`{"type":"firm","id":"x"}`)); !errors.Is(err, credtrace.ErrInvalid) {
		t.Errorf("inputs without a header: %v, want credtrace.ErrInvalid", err)
	}
}

// A rating edited after a run's as-of time is read as it was then: the replay still matches,
// and a new run as of the old time reads the old stars.
func TestRatingEditedAfterRun(t *testing.T) {
	w := newWorld(t) // 15 June
	rs := w.rateInStore(t, 3, 1)
	asOf := time.Date(2026, 6, 10, 0, 0, 0, 0, cst)
	before := w.run(t, asOf, false)

	edited := rs[0]
	edited.Stars, edited.UpdatedAt, edited.Version = 5, time.Date(2026, 6, 12, 0, 0, 0, 0, cst), 2
	if err := w.store.UpdateRating(w.ctx, edited); err != nil {
		t.Fatal(err)
	}
	p, err := w.svc.Replay(w.ctx, regulator, before.ID, nil)
	if err != nil || !p.Same() {
		t.Errorf("replay after the edit = %+v, %v; want the run's inputs and scores", p, err)
	}
	again := w.run(t, asOf, false)
	if again.InputsHash != before.InputsHash {
		t.Errorf("a new run as of the old time read other inputs (%s, want %s)", again.InputsHash, before.InputsHash)
	}
	if got, want := w.firmScores(t, again.ID), w.firmScores(t, before.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("a new run as of 10 June scores %v, want the old stars' %v", got, want)
	}
	// A run after the edit reads the new stars.
	now := w.run(t, time.Time{}, false)
	if w.firmScores(t, now.ID)["a1"] <= w.firmScores(t, before.ID)["a1"] {
		t.Errorf("a run after the edit scores a1 %v, want more than %v with five stars", w.firmScores(t, now.ID)["a1"], w.firmScores(t, before.ID)["a1"])
	}
}
