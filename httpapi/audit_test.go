package httpapi_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// auditEntries returns every audit entry, oldest first.
func auditEntries(t *testing.T, e *env) []map[string]any {
	t.Helper()
	var all []map[string]any
	after := 0
	for {
		page := items(e.must(200, "GET", "/v1/audit?limit=500&after="+itoa(after), adminTk, nil), "items")
		all = append(all, page...)
		if len(page) < 500 {
			return all
		}
		after = num(page[len(page)-1]["seq"])
	}
}

// entriesOf returns the entries of action on entity id.
func entriesOf(all []map[string]any, action, id string) []map[string]any {
	var out []map[string]any
	for _, x := range all {
		if x["action"] == action && x["entity_id"] == id {
			out = append(out, x)
		}
	}
	return out
}

// TestDecisionsAuditedHTTP: through the API, a sanction's approval and lift, a methodology
// version, a scoring run and its publication, an incident and a token's issue and revocation
// each leave one entry with the caller's token id and, where a status changes, before and after.
func TestDecisionsAuditedHTTP(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	admin := e.must(200, "GET", "/v1/me", adminTk, nil)["token_id"].(string)
	e.must(200, "POST", "/v1/sanctions/"+w.proposal+"/decision", adminTk, map[string]any{"approve": true, "reason": "属实"})
	e.must(200, "POST", "/v1/sanctions/"+w.sanction+"/lift", adminTk, map[string]any{"reason": "整改完成"})
	e.must(201, "PUT", "/v1/scoring/method", adminTk, []byte(nextMethod))
	e.must(204, "DELETE", "/v1/tokens/"+w.spareToken, adminTk, nil)
	all := auditEntries(t, e)
	checks := []struct {
		action, id, actor string
		detail            []string
	}{
		{"sanction.approve", w.proposal, admin, []string{"status=proposed->approved", `reason="属实"`}},
		{"sanction.lift", w.sanction, admin, []string{"status=approved->lifted", `reason="整改完成"`}},
		{"method.put", "2027.1", admin, []string{"hash="}},
		// The world's run is a preview (its data is of the period in progress); publication is
		// audited as run.publish, covered by scoring's TestDecisionsAreAudited.
		{"run.start", w.run, "t", []string{"publish=false", "status=running"}},
		{"run.finish", w.run, "t", []string{"status=succeeded"}},
		{"incident.report", w.incident, admin, []string{"kind=delayed", "waybill=" + waybill}},
		{"token.issue", w.spareToken, admin, []string{"role=platform"}},
		{"token.revoke", w.spareToken, admin, nil},
	}
	for _, c := range checks {
		got := entriesOf(all, c.action, c.id)
		if len(got) != 1 {
			t.Errorf("%s %s: %d entries, want 1", c.action, c.id, len(got))
			continue
		}
		if got[0]["actor"] != c.actor {
			t.Errorf("%s %s: actor %v, want %s", c.action, c.id, got[0]["actor"], c.actor)
		}
		d, _ := got[0]["detail"].(string)
		for _, part := range c.detail {
			if !strings.Contains(d, part) {
				t.Errorf("%s %s: detail %q lacks %q", c.action, c.id, d, part)
			}
		}
	}
	for _, x := range all {
		d, _ := x["detail"].(string)
		if strings.Contains(d, phone) || strings.Contains(d, idNum) || strings.Contains(d, "13912345678") {
			t.Errorf("entry %v holds personal data in clear", x)
		}
	}
	if v := e.must(200, "GET", "/v1/audit/verify", adminTk, nil); v["ok"] != true {
		t.Errorf("verify after the decisions: %v", v)
	}
}

// TestNoDecisionWithoutItsEntry: on SQLite a decision and its entry commit together. With the
// trail refusing new entries, a decision, a methodology version and an incident all fail and
// leave nothing behind.
func TestNoDecisionWithoutItsEntry(t *testing.T) {
	e := newEnv(t)
	w := e.world()
	if _, err := e.store.DB().Exec(`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END`); err != nil {
		t.Fatal(err)
	}
	incidents := len(items(e.must(200, "GET", "/v1/incidents", adminTk, nil), "items"))
	if got, _ := e.call("POST", "/v1/sanctions/"+w.proposal+"/decision", adminTk, map[string]any{"approve": true, "reason": "属实"}); got != 500 {
		t.Errorf("decision with the trail refusing: %d, want 500", got)
	}
	if got := e.must(200, "GET", "/v1/sanctions/"+w.proposal, adminTk, nil)["status"]; got != "proposed" {
		t.Errorf("sanction after the refused entry: %v, want still proposed", got)
	}
	if got, _ := e.call("PUT", "/v1/scoring/method", adminTk, []byte(nextMethod)); got != 500 {
		t.Errorf("methodology with the trail refusing: %d, want 500", got)
	}
	if got, _ := e.call("GET", "/v1/scoring/methods/2027.1", "", nil); got != 404 {
		t.Errorf("methodology 2027.1 after the refused entry: %d, want 404", got)
	}
	if got, _ := e.call("POST", "/v1/incidents", adminTk, map[string]any{"waybill": waybill, "kind": "lost", "reporter": "12305"}); got != 500 {
		t.Errorf("incident with the trail refusing: %d, want 500", got)
	}
	if got := len(items(e.must(200, "GET", "/v1/incidents", adminTk, nil), "items")); got != incidents {
		t.Errorf("incidents after the refused entry: %d, want %d", got, incidents)
	}
}

// testAuditKey signs the test servers' checkpoints.
var testAuditKey = ed25519.NewKeyFromSeed([]byte("credtrace test audit key seed 32"))

// TestCheckpointHTTP: a regulator writes a checkpoint on demand; the public head carries it
// with the public key, and anyone verifies the signature over the published message with that
// key alone; the export lists it; verify reports a tail cut below it.
func TestCheckpointHTTP(t *testing.T) {
	e := newEnv(t)
	e.world()
	made := e.must(201, "POST", "/v1/audit/checkpoints", adminTk, nil)
	if again := e.must(200, "POST", "/v1/audit/checkpoints", adminTk, nil); again["seq"] != made["seq"] {
		t.Errorf("a second checkpoint of the same head: %v, want the first %v", again, made)
	}
	head := e.must(200, "GET", "/v1/public/audit/head", "", nil)
	pub, err := base64.StdEncoding.DecodeString(head["public_key"].(string))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("public key %v: %v", head["public_key"], err)
	}
	cp := head["checkpoint"].(map[string]any)
	sig, err := base64.StdEncoding.DecodeString(cp["signature"].(string))
	if err != nil {
		t.Fatal(err)
	}
	msg := cp["message"].(string)
	if !ed25519.Verify(pub, []byte(msg), sig) {
		t.Fatal("the published checkpoint does not verify with the published public key")
	}
	for _, want := range []string{fmt.Sprintf("seq=%d\n", num(cp["seq"])), "hash=" + cp["hash"].(string) + "\n", "key=" + head["key_id"].(string) + "\n"} {
		if !strings.Contains(msg, want) {
			t.Errorf("signed message %q lacks %q: the signature would not bind the published fields", msg, want)
		}
	}
	if ed25519.Verify(pub, []byte(strings.Replace(msg, "seq=", "seq=1", 1)), sig) {
		t.Error("the signature verifies over another sequence number")
	}
	if list := items(e.must(200, "GET", "/v1/audit/checkpoints", adminTk, nil), "items"); len(list) != 1 || list[0]["signature"] != cp["signature"] {
		t.Errorf("checkpoint export = %v, want the one checkpoint", list)
	}
	seq := num(cp["seq"])
	if v := e.must(200, "GET", "/v1/audit/verify", adminTk, nil); v["ok"] != true || num(v["checkpoint_seq"]) != seq {
		t.Fatalf("verify before the cut: %v", v)
	}
	if _, err := e.store.DB().Exec("DELETE FROM audit WHERE seq > ?", seq-3); err != nil {
		t.Fatal(err)
	}
	v := e.must(200, "GET", "/v1/audit/verify", adminTk, nil)
	if v["ok"] != false || num(v["cut_from"]) != seq-2 || num(v["cut_to"]) != seq || num(v["first_bad_seq"]) != seq-2 {
		t.Errorf("verify after cutting the last three entries: %v, want a cut tail %d to %d", v, seq-2, seq)
	}
}

// TestHealthSaysTransactions: /healthz tells whether a change and its audit entry commit
// together (SQLite: always).
func TestHealthSaysTransactions(t *testing.T) {
	e := newEnv(t)
	if got := e.must(200, "GET", "/healthz", "", nil); got["transactions"] != true {
		t.Errorf("/healthz = %v, want transactions true on SQLite", got)
	}
}
