package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/credtrace/credtrace/synth"
)

// TestGen writes a tiny world into a real service and finds it there, as its parties left it:
// the firms, a parcel's trace, the incidents, the ratings in a published scoring run, the
// anomalies the empty-parcel campaign raises.
func TestGen(t *testing.T) {
	const admin = "ct_gen-test-admin-token-0123456789"
	const seed = 3
	s := startServe(t, t.TempDir(), map[string]string{"CREDTRACE_ADMIN_TOKEN": admin})
	size, err := synth.Named("tiny")
	if err != nil {
		t.Fatal(err)
	}
	want := synth.New(seed, size)

	var stdout, stderr bytes.Buffer
	args := []string{"gen", "--seed", fmt.Sprint(seed), "--size", "tiny", "--url", s.base, "--token", admin}
	if err := run(t.Context(), args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("gen: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), " 0 rejected") {
		t.Errorf("gen summary does not report 0 rejected events:\n%s", &stdout)
	}
	if !strings.Contains(stderr.String(), "gen: 100%") || strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress off a terminal = %q, want plain lines ending at 100%%", &stderr)
	}

	t.Run("firms", func(t *testing.T) {
		status, body := httpCall(t, "GET", s.base+"/v1/firms?limit=500", admin, nil)
		if status != http.StatusOK {
			t.Fatalf("GET /v1/firms = %d %v", status, body)
		}
		items, _ := body["items"].([]any)
		got := map[string]bool{}
		for _, it := range items {
			f, _ := it.(map[string]any)
			got[fmt.Sprint(f["uscc"])] = true
		}
		if len(items) != len(want.Firms) {
			t.Errorf("GET /v1/firms lists %d firms, want %d", len(items), len(want.Firms))
		}
		for _, f := range want.Firms {
			if !got[f.USCC] {
				t.Errorf("firm %s (%s) is not listed", f.Name, f.USCC)
			}
		}
	})

	t.Run("trace", func(t *testing.T) {
		var p synth.Parcel
		for _, x := range want.Parcels {
			if x.Kind == synth.ParcelNormal && !x.DeliveredAt.IsZero() {
				p = x
				break
			}
		}
		if p.Waybill == "" {
			t.Fatal("the tiny world has no delivered ordinary parcel")
		}
		status, body := httpCall(t, "GET", s.base+"/v1/parcels/"+p.Waybill, admin, nil)
		if status != http.StatusOK {
			t.Fatalf("GET /v1/parcels/%s = %d %v", p.Waybill, status, body)
		}
		events, _ := body["events"].([]any)
		if body["status"] != "delivered" || len(events) != p.Events {
			t.Errorf("trace of %s: status %v with %d events, want delivered with %d", p.Waybill, body["status"], len(events), p.Events)
		}
		if custody, _ := body["custody"].([]any); len(custody) == 0 {
			t.Errorf("trace of %s has no custody chain", p.Waybill)
		}
	})

	t.Run("incidents", func(t *testing.T) {
		status, body := httpCall(t, "GET", s.base+"/v1/incidents?limit=500", admin, nil)
		items, _ := body["items"].([]any)
		if status != http.StatusOK || len(items) != len(want.Incidents) {
			t.Errorf("GET /v1/incidents = %d with %d items, want %d", status, len(items), len(want.Incidents))
		}
	})

	t.Run("anomalies of the campaign", func(t *testing.T) {
		status, body := httpCall(t, "GET", s.base+"/v1/anomalies?kind=no_transit&limit=500", admin, nil)
		items, _ := body["items"].([]any)
		if status != http.StatusOK || len(items) < size.CampaignParcels {
			t.Errorf("GET /v1/anomalies?kind=no_transit = %d with %d items, want at least the campaign's %d", status, len(items), size.CampaignParcels)
		}
	})

	t.Run("scoring run with the ratings", func(t *testing.T) {
		status, body := httpCall(t, "GET", s.base+"/v1/scoring/runs", admin, nil)
		items, _ := body["items"].([]any)
		if status != http.StatusOK || len(items) == 0 {
			t.Fatalf("GET /v1/scoring/runs = %d %v, want a run", status, body)
		}
		r, _ := items[0].(map[string]any)
		inputs, _ := r["inputs"].(map[string]any)
		if r["status"] != "succeeded" || r["publish"] != false || r["period"] == "" {
			t.Errorf("run = %v %v %v, want a succeeded preview of the period in progress", r["status"], r["publish"], r["period"])
		}
		if got, _ := inputs["ratings"].(float64); int(got) != len(want.Ratings) {
			t.Errorf("run inputs count %v ratings, want %d", inputs["ratings"], len(want.Ratings))
		}
		if got, _ := inputs["firms"].(float64); int(got) != len(want.Firms) {
			t.Errorf("run inputs count %v firms, want %d", inputs["firms"], len(want.Firms))
		}
	})

	t.Run("same seed twice", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, func(string) string { return "" }, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "already registered") || !strings.Contains(err.Error(), "--seed") {
			t.Errorf("gen of the same world again = %v, want an error saying it is there and to use another --seed", err)
		}
	})
}

func TestGenBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"gen", "--url", "http://127.0.0.1:1"}, "--token"},
		{"unknown size", []string{"gen", "--size", "huge", "--token", "x"}, "huge"},
		{"size out of range", []string{"gen", "--hqs", "1000", "--token", "x"}, "hqs"},
		{"no service", []string{"gen", "--url", "http://127.0.0.1:1", "--token", "x"}, "does not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, func(string) string { return "" }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error naming %s", tt.args, err, tt.want)
			}
		})
	}
}

// TestGenIntoStore writes a tiny world into a fresh data directory with no server running,
// then serves that directory and finds the world there with the token gen printed.
func TestGenIntoStore(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	if err := run(t.Context(), []string{"gen", "--size", "tiny", "--data", dir}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("gen --data: %v", err)
	}
	_, tok, ok := strings.Cut(out.String(), "accepts it): ")
	if !ok {
		t.Fatalf("no token printed: %s", out.String())
	}
	tok, _, _ = strings.Cut(tok, "\n")
	p := startServe(t, dir, map[string]string{})
	status, body := httpCall(t, "GET", p.base+"/v1/scoring/runs", tok, nil)
	if status != 200 || len(body["items"].([]any)) == 0 {
		t.Fatalf("runs after gen --data: %d %v", status, body)
	}
}
