package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// fuzzEnv is one world for a whole fuzz target: building one per input would leave no time
// for the inputs.
func fuzzEnv(f *testing.F) (*env, world) {
	e := newEnv(f)
	return e, e.world()
}

// FuzzEventBodies: whatever a carrier sends as a JSON array, NDJSON or an EPCIS document, the
// answer is a 2xx or a 4xx with the JSON error shape, never a 500 and never a hang.
func FuzzEventBodies(f *testing.F) {
	e, w := fuzzEnv(f)
	seeds := []struct {
		kind byte
		body string
	}{
		{0, `[{"id":"f1","waybill":"SF1000000001","carrier":"` + w.hqA + `","code":"arrived","at":"2026-06-01T07:00:00+08:00"}]`},
		{0, `[{"id":"f1","id":"f2"}]`},
		{0, `[{"at":"9999-99-99"}]`},
		{0, "[\xff]"},
		{1, `{"id":"n1","waybill":"SF1000000001","carrier":"` + w.hqA + `","code":"departed","at":"2026-06-01T07:10:00+08:00"}` + "\n" + `{"id":`},
		{1, "\n\n{}\n"},
		{2, `{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-06-01T07:30:00+08:00","eventID":"urn:uuid:x","epcList":["urn:waybill:SF1000000001"],"action":"OBSERVE","bizStep":"urn:epcglobal:cbv:bizstep:accepting"}]}}`},
		{2, `{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"AggregationEvent"}]}}`},
		{2, `{"isA":"EPCISDocument"}`},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.body))
	}
	// Our EPCIS documents of every event type, action and identifier form.
	docs, err := filepath.Glob(filepath.Join("testdata", "epcis", "*.json"))
	if err != nil || len(docs) == 0 {
		f.Fatalf("EPCIS seeds: %v, %v", docs, err)
	}
	for _, d := range docs {
		body, err := os.ReadFile(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(2), body)
	}
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		path, ctype := "/v1/events", "application/json"
		switch kind % 3 {
		case 1:
			ctype = "application/x-ndjson"
		case 2:
			path = "/v1/events/epcis?carrier=" + w.hqA
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+w.firmA)
		checkAnswer(t, e, req)
	})
}

// FuzzDashboardForms: the dashboard's forms (sign-in, a sanction decision, an objection, a
// rating) take any form body without a 500.
func FuzzDashboardForms(f *testing.F) {
	e, w := fuzzEnv(f)
	forms := []string{"/ui/signin", "/ui/sanctions/" + w.proposal + "/decision", "/ui/objections", "/ui/ratings"}
	for i, s := range []string{"token=" + adminTk + "&csrf=x", "approve=true&reason=%E5%B1%9E%E5%AE%9E", "record_id=&reasons=", "waybill=SF1000000009&stars=9", "%zz=1", "a=1&a=2&a=3", ""} {
		f.Add(byte(i), s)
	}
	f.Fuzz(func(t *testing.T, which byte, form string) {
		req := httptest.NewRequest("POST", forms[int(which)%len(forms)], bytes.NewReader([]byte(form)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.srv.App().Test(req, 5000)
		if err != nil {
			t.Fatalf("form %q: %v", form, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("form %q: status %d", form, resp.StatusCode)
		}
	})
}

// checkAnswer sends req and fails on a 5xx, or on a 4xx without the JSON error shape.
func checkAnswer(t *testing.T, e *env, req *http.Request) {
	t.Helper()
	resp, err := e.srv.App().Test(req, 5000)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: status %d: %s", req.Method, req.URL, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 {
		var out struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || out.Error.Code == "" {
			t.Fatalf("%s %s: status %d without the error shape: %s", req.Method, req.URL, resp.StatusCode, raw)
		}
	}
}
