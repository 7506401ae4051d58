package httpapi_test

import (
	"testing"
	"time"
)

// TestObjectionClocksDoNotJump steps the service's clock back an hour and forward a day around
// an objection: its review deadline, counted from the day it was filed, stays where it was;
// a day forward does not make a ten-day clock overdue; and the correction deadline counts from
// the decision as recorded.
func TestObjectionClocksDoNotJump(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	path := "/v1/objections/" + w.objection
	first := e.must(200, "GET", path, adminTk, nil)
	for _, step := range []time.Duration{-time.Hour, 25 * time.Hour} {
		e.clock.add(step)
		got := e.must(200, "GET", path, adminTk, nil)
		if got["review_by"] != first["review_by"] || got["overdue"] != false {
			t.Errorf("after a step of %s: review_by %v overdue %v (was %v, false)", step, got["review_by"], got["overdue"], first["review_by"])
		}
	}
	decided := e.must(200, "POST", path+"/decision", adminTk, map[string]any{"outcome": "revoked", "reason": "记录有误"})
	e.clock.add(-time.Hour)
	got := e.must(200, "GET", path, adminTk, nil)
	if got["correct_by"] == nil || got["correct_by"] != decided["correct_by"] || got["overdue"] != false {
		t.Errorf("correction deadline after a step back: %v (decided %v), overdue %v", got["correct_by"], decided["correct_by"], got["overdue"])
	}
	at, _ := time.Parse(time.RFC3339, got["decided_at"].(string))
	by, _ := time.Parse(time.RFC3339, got["correct_by"].(string))
	if by.Sub(at) < 10*24*time.Hour {
		t.Errorf("correct_by %v is not ten days after the decision %v", by, at)
	}
}
