package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/credtrace/credtrace"
)

// DispatcherOptions tune a Dispatcher; zero fields take the defaults.
type DispatcherOptions struct {
	// AllowPrivate lets deliveries reach loopback and private addresses (see Options).
	AllowPrivate bool
	// Holder names this process in its claims (default: a random id).
	Holder string
	// Now is the clock (default time.Now); Jitter picks in [0, 1) (default math/rand).
	Now    func() time.Time
	Jitter func() float64
	// Batch is how many due deliveries one round takes (default 100); Workers how many it
	// sends at once (default 4).
	Batch, Workers int
	// Step, when set, is called at "webhook.claimed" (an attempt is claimed, nothing sent) and
	// "webhook.sent" (the receiver answered, the outcome is not stored): crash tests stop the
	// process there.
	Step func(step string)
}

// Dispatcher sends the outbox's due deliveries. Any number of processes may run one on the
// same store: each attempt is claimed first (Store.ClaimAttempt), so no two send the same
// attempt of a delivery. A process that dies after claiming leaves its claim to lapse, and the
// attempt after it is made by whoever claims next: at least once, never lost.
type Dispatcher struct {
	store  Store
	o      DispatcherOptions
	client *http.Client
}

// claimSlack is how long past the request timeout a claim lasts: the time to store the
// outcome. A process that dies holding a claim delays that delivery by RequestTimeout and this;
// one that stores its outcome later than this may see the attempt after it made as well (the
// receiver de-duplicates by event id).
const claimSlack = 5 * time.Second

// NewDispatcher returns a Dispatcher on store. Its HTTP client follows no redirects, uses no
// proxy, and (unless AllowPrivate) refuses at each connection an address that is loopback,
// private or link-local, whatever the name resolved to at subscription.
func NewDispatcher(store Store, o DispatcherOptions) *Dispatcher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Holder == "" {
		o.Holder = uuid.NewString()
	}
	dialer := &net.Dialer{Timeout: RequestTimeout}
	if !o.AllowPrivate {
		dialer.Control = refusePrivate
	}
	tr := &http.Transport{Proxy: nil, DialContext: dialer.DialContext, TLSHandshakeTimeout: RequestTimeout,
		ResponseHeaderTimeout: RequestTimeout, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Dispatcher{store: store, o: o, client: client}
}

// Close drops the idle connections to receivers.
func (d *Dispatcher) Close() { d.client.CloseIdleConnections() }

// Round is what one Run did.
type Round struct {
	Due, Delivered, Failed, Dead int
}

// Run sends the deliveries due now, one attempt each, and stores their outcomes: delivered, due
// again after a backoff, or dead once RetryWindow is over. A delivery another process is
// sending is left to it.
func (d *Dispatcher) Run(ctx context.Context) (Round, error) {
	now := d.o.Now()
	due, err := d.store.Deliveries(ctx, DeliveryQuery{Due: now, Limit: d.o.Batch})
	if err != nil {
		return Round{}, fmt.Errorf("webhook: due deliveries: %w", err)
	}
	r := Round{Due: len(due)}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, d.o.Workers)
	)
	for _, x := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := d.attempt(ctx, x)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			switch out {
			case Delivered:
				r.Delivered++
			case Dead:
				r.Dead++
			case Pending:
				r.Failed++
			}
		}()
	}
	wg.Wait()
	return r, errors.Join(errs...)
}

// attempt claims, sends and records the next attempt of x; "" when another process has it.
func (d *Dispatcher) attempt(ctx context.Context, x Delivery) (DeliveryStatus, error) {
	now := d.o.Now()
	n := x.Attempts + 1
	for ; ; n++ {
		won, lapsed, err := d.store.ClaimAttempt(ctx, x.ID, n, d.o.Holder, now.Add(RequestTimeout+claimSlack), now)
		if err != nil {
			return "", fmt.Errorf("webhook: claim %s: %w", x.ID, err)
		}
		if won {
			break
		}
		if !lapsed || n > x.Attempts+20 {
			return "", nil
		}
	}
	// Read again under the claim: a slow process may have finished an earlier attempt.
	cur, err := d.store.Delivery(ctx, x.ID)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", nil // its subscription was deleted
	}
	if err != nil {
		return "", fmt.Errorf("webhook: delivery %s: %w", x.ID, err)
	}
	if cur.Status != Pending || cur.Attempts >= n {
		return "", nil
	}
	sub, err := d.store.Subscription(ctx, cur.SubscriptionID)
	if errors.Is(err, credtrace.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("webhook: subscription of %s: %w", x.ID, err)
	}
	d.step("webhook.claimed")
	status, failure := d.send(ctx, sub, cur, n, now)
	d.step("webhook.sent")
	done := d.o.Now()
	fin := cur
	fin.Attempts, fin.LastAt, fin.LastStatus, fin.LastError = n, done, status, failure
	if failure == "" {
		fin.Status, fin.DeliveredAt = Delivered, done
	} else if next := done.Add(Backoff(n-cur.Base, d.o.Jitter())); next.After(cur.Until) {
		fin.Status = Dead
	} else {
		fin.NextAt = next
	}
	fin.LastAt, fin.NextAt, fin.DeliveredAt = ms(fin.LastAt), ms(fin.NextAt), ms(fin.DeliveredAt)
	if err := d.store.FinishAttempt(ctx, fin); err != nil {
		return "", fmt.Errorf("webhook: store the outcome of %s: %w", x.ID, err)
	}
	if err := d.store.NoteAttempt(ctx, sub.ID, ms(done), failure); err != nil {
		return "", fmt.Errorf("webhook: note attempt on %s: %w", sub.ID, err)
	}
	return fin.Status, nil
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

func (d *Dispatcher) step(s string) {
	if d.o.Step != nil {
		d.o.Step(s)
	}
}

// Backoff is the wait after the k-th failed attempt of a round (k ≥ 1): FirstRetry doubling up
// to MaxRetry, of which jitter (in [0, 1)) picks a point in the upper half.
func Backoff(k int, jitter float64) time.Duration {
	d := FirstRetry
	for i := 1; i < k && d < MaxRetry; i++ {
		d *= 2
	}
	d = min(d, MaxRetry)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// send POSTs the delivery's body, signed, and answers the receiver's status and, on failure,
// why (no 2xx, no answer in RequestTimeout, a refused address).
func (d *Dispatcher) send(ctx context.Context, sub Subscription, x Delivery, n int, now time.Time) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	body := []byte(x.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "bad receiver URL: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "credtrace-webhooks/1")
	req.Header.Set(SignatureHeader, SignatureValue(now, body, sub.Secrets(now)...))
	req.Header.Set(EventHeader, x.EventID)
	req.Header.Set("Credtrace-Event-Type", string(x.Type))
	req.Header.Set("Credtrace-Delivery-Attempt", strconv.Itoa(n))
	resp, err := d.client.Do(req)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, ErrPrivateAddress) {
			msg = "refused: the receiver resolves to a loopback, private or link-local address"
		}
		return 0, trim(msg)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	msg := "status " + strconv.Itoa(resp.StatusCode)
	if s := strings.TrimSpace(string(snippet)); s != "" {
		msg += ": " + s
	}
	return resp.StatusCode, trim(msg)
}

func trim(s string) string {
	if len(s) > 300 {
		s = s[:300]
	}
	return strings.ToValidUTF8(s, "?")
}
