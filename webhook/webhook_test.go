package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/store/sqlite"
	"github.com/credtrace/credtrace/webhook"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func newStore(t *testing.T) webhook.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "credtrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.Webhooks()
}

// received is one request a receiver got.
type received struct {
	eventID, signature, attempt string
	body                        []byte
}

// receiver is an httptest server that answers with the statuses of answer, one per request
// (the last one repeats), and keeps every request.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
	// answer returns the status of the n-th request (from 1).
	answer func(n int) int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{eventID: req.Header.Get(webhook.EventHeader), signature: req.Header.Get(webhook.SignatureHeader),
			attempt: req.Header.Get("Credtrace-Delivery-Attempt"), body: body})
		n := len(r.got)
		r.mu.Unlock()
		st := r.answer(n)
		w.WriteHeader(st)
		if st >= 300 {
			io.WriteString(w, "not now")
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

var (
	t0   = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	firm = credtrace.Caller{TokenID: "tok-firm", Role: credtrace.RoleFirm, FirmID: "hq"}
)

func pendingRecord(id string) webhook.Event {
	return webhook.Event{ID: webhook.KeyID(webhook.RecordPending, id), Type: webhook.RecordPending, At: t0,
		Owners: []string{webhook.FirmOwner("branch"), webhook.FirmOwner("hq")}, Data: map[string]string{"record_id": id, "firm_id": "branch"}}
}

type rig struct {
	st    webhook.Store
	svc   *webhook.Service
	disp  *webhook.Dispatcher
	clock *clock
}

func newRig(t *testing.T, allowPrivate bool, res webhook.Resolver) *rig {
	t.Helper()
	clk := &clock{t: t0}
	st := newStore(t)
	d := webhook.NewDispatcher(st, webhook.DispatcherOptions{AllowPrivate: allowPrivate, Now: clk.now, Jitter: func() float64 { return 0.5 }})
	t.Cleanup(d.Close)
	return &rig{st: st, svc: webhook.NewService(st, webhook.Options{AllowPrivate: allowPrivate, Resolver: res}, clk.now), disp: d, clock: clk}
}

func (r *rig) run(t *testing.T) webhook.Round {
	t.Helper()
	round, err := r.disp.Run(t.Context())
	if err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	return round
}

// TestReceiverVerifiesSignatures: a receiver checks every delivery's signature with the secret
// it was shown once, and de-duplicates by event id; an event announced twice is delivered once,
// and after a rotation both the new and (during the grace) the old secret verify.
func TestReceiverVerifiesSignatures(t *testing.T) {
	r := newRig(t, true, nil)
	recv := newReceiver(t, func(int) int { return 204 })
	sub, err := r.svc.Subscribe(t.Context(), firm, webhook.Input{URL: recv.srv.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Fatalf("secret %q", sub.Secret)
	}
	for _, ev := range []webhook.Event{pendingRecord("r1"), pendingRecord("r1"), pendingRecord("r2")} {
		if err := webhook.Emit(t.Context(), r.st, r.clock.now(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.run(t); got.Delivered != 2 {
		t.Fatalf("round %+v, want 2 delivered", got)
	}
	r.run(t) // nothing is due again
	seen := map[string]int{}
	for _, q := range recv.requests() {
		if err := webhook.Verify(q.signature, q.body, sub.Secret, 5*time.Minute, r.clock.now()); err != nil {
			t.Errorf("signature of %s: %v", q.eventID, err)
		}
		if err := webhook.Verify(q.signature, q.body, "whsec_wrong", 5*time.Minute, r.clock.now()); err == nil {
			t.Error("a wrong secret verifies")
		}
		var p struct {
			ID   string            `json:"id"`
			Type string            `json:"type"`
			Data map[string]string `json:"data"`
		}
		if err := json.Unmarshal(q.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != q.eventID || p.Type != "record.pending" || p.Data["firm_id"] != "branch" {
			t.Errorf("payload %s under event id %s", q.body, q.eventID)
		}
		seen[q.eventID]++
	}
	if len(seen) != 2 || seen[webhook.KeyID(webhook.RecordPending, "r1")] != 1 {
		t.Errorf("events received: %v, want r1 and r2 once each", seen)
	}

	rotated, err := r.svc.Rotate(t.Context(), firm, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == sub.Secret {
		t.Fatal("rotation kept the secret")
	}
	if err := webhook.Emit(t.Context(), r.st, r.clock.now(), pendingRecord("r3")); err != nil {
		t.Fatal(err)
	}
	r.run(t)
	last := recv.requests()[2]
	for name, secret := range map[string]string{"new": rotated.Secret, "previous (in its grace)": sub.Secret} {
		if err := webhook.Verify(last.signature, last.body, secret, 5*time.Minute, r.clock.now()); err != nil {
			t.Errorf("after rotation, the %s secret: %v", name, err)
		}
	}
	// Once the grace is over, the previous secret signs no more.
	r.clock.set(t0.Add(webhook.SecretGrace + time.Minute))
	if err := webhook.Emit(t.Context(), r.st, r.clock.now(), pendingRecord("r4")); err != nil {
		t.Fatal(err)
	}
	r.run(t)
	late := recv.requests()[3]
	if err := webhook.Verify(late.signature, late.body, sub.Secret, 5*time.Minute, r.clock.now()); err == nil {
		t.Error("the previous secret still verifies after its grace")
	}
	if err := webhook.Verify(late.signature, late.body, rotated.Secret, 5*time.Minute, r.clock.now()); err != nil {
		t.Errorf("the new secret after the grace: %v", err)
	}
	// A stale timestamp fails verification however good the signature.
	if err := webhook.Verify(late.signature, late.body, rotated.Secret, 5*time.Minute, r.clock.now().Add(time.Hour)); err == nil {
		t.Error("a signature an hour old verifies")
	}
}

// TestRetryWithBackoff: the receiver fails twice and then accepts; each retry waits for its
// backoff on the injected clock, and the subscription shows the failures, then the success.
func TestRetryWithBackoff(t *testing.T) {
	r := newRig(t, true, nil)
	recv := newReceiver(t, func(n int) int {
		if n <= 2 {
			return 500
		}
		return 200
	})
	sub, err := r.svc.Subscribe(t.Context(), firm, webhook.Input{URL: recv.srv.URL, Events: []webhook.EventType{webhook.RecordPending}})
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.Emit(t.Context(), r.st, r.clock.now(), pendingRecord("r1")); err != nil {
		t.Fatal(err)
	}
	id := webhook.DeliveryID(webhook.KeyID(webhook.RecordPending, "r1"), sub.ID)
	for k := 1; k <= 2; k++ {
		if got := r.run(t); got.Failed != 1 {
			t.Fatalf("attempt %d: round %+v, want one failure", k, got)
		}
		d, err := r.st.Delivery(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		wait := webhook.Backoff(k, 0.5)
		if want := r.clock.now().Add(wait); !d.NextAt.Equal(want) || d.Attempts != k || d.LastStatus != 500 {
			t.Fatalf("after failure %d: next %s attempts %d status %d; want next %s (backoff %s), attempts %d, status 500", k, d.NextAt, d.Attempts, d.LastStatus, want, wait, k)
		}
		st, err := r.svc.Status(t.Context(), firm, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Failures != k || !strings.HasPrefix(st.LastError, "status 500") || st.Pending != 1 {
			t.Errorf("status after failure %d: %+v", k, st)
		}
		// Not due before its backoff.
		r.clock.set(d.NextAt.Add(-time.Millisecond))
		if got := r.run(t); got.Due != 0 {
			t.Fatalf("a delivery was due before its backoff: %+v", got)
		}
		r.clock.set(d.NextAt)
	}
	if got := r.run(t); got.Delivered != 1 {
		t.Fatalf("third attempt: %+v", got)
	}
	if w1, w2 := webhook.Backoff(1, 0.5), webhook.Backoff(2, 0.5); w2 != 2*w1 {
		t.Errorf("backoff does not double: %s then %s", w1, w2)
	}
	reqs := recv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, q := range reqs {
		if q.eventID != reqs[0].eventID || q.attempt != strconv.Itoa(i+1) {
			t.Errorf("request %d: event %s attempt %s", i, q.eventID, q.attempt)
		}
	}
	st, err := r.svc.Status(t.Context(), firm, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Failures != 0 || st.LastSuccessAt.IsZero() || st.Pending != 0 || st.LastError == "" {
		t.Errorf("status after the success: %+v (failures 0, a success, nothing pending, the last error kept)", st)
	}
}

// TestDeadLetterAndReplay: a receiver that never accepts gets its delivery given up after the
// retry window; the dead letter is listed, and replayed once the receiver is back.
func TestDeadLetterAndReplay(t *testing.T) {
	r := newRig(t, true, nil)
	var mu sync.Mutex
	down := true
	recv := newReceiver(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return 503
		}
		return 200
	})
	sub, err := r.svc.Subscribe(t.Context(), firm, webhook.Input{URL: recv.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.Emit(t.Context(), r.st, r.clock.now(), pendingRecord("r1")); err != nil {
		t.Fatal(err)
	}
	id := webhook.DeliveryID(webhook.KeyID(webhook.RecordPending, "r1"), sub.ID)
	attempts := 0
	for ; attempts < 100; attempts++ {
		got := r.run(t)
		if got.Dead == 1 {
			break
		}
		d, err := r.st.Delivery(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		r.clock.set(d.NextAt)
	}
	if elapsed := r.clock.now().Sub(t0); elapsed < webhook.RetryWindow-webhook.MaxRetry || elapsed > webhook.RetryWindow {
		t.Errorf("given up after %s of retries, want about %s", elapsed, webhook.RetryWindow)
	}
	dead, err := r.svc.DeadLetters(t.Context(), firm, sub.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].ID != id || dead[0].LastStatus != 503 {
		t.Fatalf("dead letters %+v", dead)
	}
	r.clock.set(r.clock.now().Add(48 * time.Hour))
	if got := r.run(t); got.Due != 0 {
		t.Fatalf("a dead letter is still sent: %+v", got)
	}
	other := credtrace.Caller{TokenID: "tok-b", Role: credtrace.RoleFirm, FirmID: "brand-b"}
	if _, err := r.svc.Replay(t.Context(), other, sub.ID, ""); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("another firm replays: %v, want not found", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	n, err := r.svc.Replay(t.Context(), firm, sub.ID, id)
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	if _, err := r.svc.Replay(t.Context(), firm, sub.ID, id); !errors.Is(err, credtrace.ErrState) {
		t.Errorf("replaying a pending delivery: %v, want a state error", err)
	}
	if got := r.run(t); got.Delivered != 1 {
		t.Fatalf("after replay: %+v", got)
	}
	st, err := r.svc.Status(t.Context(), firm, sub.ID)
	if err != nil || st.Dead != 0 || st.Pending != 0 {
		t.Errorf("status after replay: %+v, %v", st, err)
	}
}

// fakeResolver answers fixed addresses per host.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, a := range f[host] {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

// TestSSRFRefused: without the operator's setting, receivers on loopback, private and
// link-local addresses are refused at subscription, by their literal address or by what their
// name resolves to, and again by the dialer at delivery: a name that resolved to a public
// address when it was subscribed and points at loopback now gets nothing.
func TestSSRFRefused(t *testing.T) {
	res := fakeResolver{"hooks.example.com": {"93.184.216.34"}, "rebind.example.com": {"127.0.0.1"}, "mixed.example.com": {"93.184.216.34", "10.1.2.3"}}
	r := newRig(t, false, res)
	for _, u := range []string{"http://127.0.0.1:8080/x", "http://localhost.:1/", "http://10.0.0.7/", "http://192.168.1.1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data",
		"http://[fd00::1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://rebind.example.com/", "http://mixed.example.com/", "ftp://hooks.example.com/", "http://u:p@hooks.example.com/"} {
		_, err := r.svc.Subscribe(t.Context(), firm, webhook.Input{URL: u})
		if credtrace.KindOf(err) != credtrace.Invalid || len(credtrace.FieldsOf(err)) == 0 || credtrace.FieldsOf(err)[0].Field != "url" {
			t.Errorf("subscribe %s: %v, want invalid url", u, err)
		}
	}
	if _, err := r.svc.Subscribe(t.Context(), firm, webhook.Input{URL: "https://hooks.example.com/credtrace"}); err != nil {
		t.Fatalf("a public receiver: %v", err)
	}

	// The dialer refuses what the name resolves to at delivery: here the receiver is on
	// loopback, as a rebound name would be.
	recv := newReceiver(t, func(int) int { return 200 })
	sneaky := webhook.Subscription{ID: "s-sneaky", Role: credtrace.RoleFirm, Owner: webhook.OwnerOf(firm), URL: recv.srv.URL,
		Events: []webhook.EventType{webhook.RecordPending}, Secret: "whsec_x", CreatedAt: t0, CreatedBy: "tok", Version: 1}
	if err := r.st.CreateSubscription(t.Context(), sneaky); err != nil {
		t.Fatal(err)
	}
	if err := webhook.Emit(t.Context(), r.st, r.clock.now(), pendingRecord("r1")); err != nil {
		t.Fatal(err)
	}
	r.run(t)
	if n := len(recv.requests()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
	d, err := r.st.Delivery(t.Context(), webhook.DeliveryID(webhook.KeyID(webhook.RecordPending, "r1"), sneaky.ID))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != webhook.Pending || !strings.Contains(d.LastError, "refused") {
		t.Errorf("delivery to loopback: status %s, error %q; want pending with the refusal", d.Status, d.LastError)
	}
}

// TestSubscriptionRules: who may subscribe to what, how many, and that a party sees only its own.
func TestSubscriptionRules(t *testing.T) {
	r := newRig(t, true, nil)
	ctx := t.Context()
	for _, c := range []credtrace.Caller{{TokenID: "s", Role: credtrace.RoleStaff, StaffID: "p"}, {Role: credtrace.RoleMetrics, TokenID: "m"}, credtrace.Public} {
		if _, err := r.svc.Subscribe(ctx, c, webhook.Input{URL: "http://127.0.0.1:1/"}); !errors.Is(err, credtrace.ErrForbidden) {
			t.Errorf("%s subscribes: %v, want forbidden", c.Role, err)
		}
	}
	_, err := r.svc.Subscribe(ctx, firm, webhook.Input{URL: "http://127.0.0.1:1/", Events: []webhook.EventType{webhook.AnomalyFound}})
	if credtrace.KindOf(err) != credtrace.Invalid || credtrace.FieldsOf(err)[0].Field != "events[0]" {
		t.Errorf("a firm subscribes to anomalies: %v, want invalid events[0]", err)
	}
	var first webhook.Subscription
	for i := range webhook.MaxSubscriptions {
		s, err := r.svc.Subscribe(ctx, firm, webhook.Input{URL: "http://127.0.0.1:1/" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = s
		}
	}
	if _, err := r.svc.Subscribe(ctx, firm, webhook.Input{URL: "http://127.0.0.1:1/more"}); !errors.Is(err, credtrace.ErrState) {
		t.Errorf("subscription %d: %v, want a state error", webhook.MaxSubscriptions+1, err)
	}
	other := credtrace.Caller{TokenID: "tok-b", Role: credtrace.RoleFirm, FirmID: "brand-b"}
	if _, err := r.svc.Status(ctx, other, first.ID); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("another firm reads the subscription: %v", err)
	}
	if err := r.svc.Unsubscribe(ctx, other, first.ID); !errors.Is(err, credtrace.ErrNotFound) {
		t.Errorf("another firm deletes the subscription: %v", err)
	}
	mine, err := r.svc.Subscriptions(ctx, other)
	if err != nil || len(mine) != 0 {
		t.Errorf("another firm lists %d subscriptions, %v", len(mine), err)
	}
	// A platform's events reach every platform subscription; a firm's only its tree's.
	plat := credtrace.Caller{TokenID: "tok-p", Role: credtrace.RolePlatform}
	ps, err := r.svc.Subscribe(ctx, plat, webhook.Input{URL: "http://127.0.0.1:1/p"})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := r.svc.Subscribe(ctx, other, webhook.Input{URL: "http://127.0.0.1:1/b"})
	if err != nil {
		t.Fatal(err)
	}
	barred := webhook.Event{ID: webhook.KeyID(webhook.EligibilityChanged, "x1", "barred"), Type: webhook.EligibilityChanged, At: t0, Data: map[string]string{"firm_id": "branch"}}
	if err := webhook.Emit(ctx, r.st, t0, barred, pendingRecord("r1")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sub  string
		want int
	}{{ps.ID, 1}, {bs.ID, 0}, {first.ID, 1}} {
		n, err := r.st.CountDeliveries(ctx, c.sub, webhook.Pending)
		if err != nil || n != c.want {
			t.Errorf("deliveries of %s: %d, %v; want %d", c.sub, n, err, c.want)
		}
	}
}

// TestEmitBatch: a batch reaches each subscription that may see and wants its events, once per
// event however often the batch is announced (a retried save), and no other subscription.
func TestEmitBatch(t *testing.T) {
	r := newRig(t, true, nil)
	other := credtrace.Caller{TokenID: "tok-other", Role: credtrace.RoleFirm, FirmID: "elsewhere"}
	mine, err := r.svc.Subscribe(t.Context(), firm, webhook.Input{URL: "http://127.0.0.1:9/mine"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := r.svc.Subscribe(t.Context(), other, webhook.Input{URL: "http://127.0.0.1:9/theirs"})
	if err != nil {
		t.Fatal(err)
	}
	batch := []webhook.Event{pendingRecord("r1"), pendingRecord("r2"), pendingRecord("r1")}
	for range 2 {
		if err := webhook.EmitBatch(t.Context(), r.st, r.clock.now(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := r.st.Deliveries(t.Context(), webhook.DeliveryQuery{SubscriptionID: mine.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.EventID)
	}
	slices.Sort(got)
	want := []string{pendingRecord("r1").ID, pendingRecord("r2").ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the firm's outbox: %v, want %v", got, want)
	}
	if n, err := r.st.CountDeliveries(t.Context(), theirs.ID, webhook.Pending); err != nil || n != 0 {
		t.Errorf("another firm's outbox: %d %v, want none", n, err)
	}
}
