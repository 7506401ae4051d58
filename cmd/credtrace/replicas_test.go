package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credtrace/credtrace/config"
	"github.com/credtrace/credtrace/store/mongodb/mongotest"
	"github.com/credtrace/credtrace/webhook"
)

const replicaAdmin = "ct_replica-test-regulator-token-0123456789"

// replica is one credtrace service of the harness: the app as serve assembles it, on a real
// HTTP listener, sharing its database with the others.
type replica struct {
	app  *app
	cfg  config.Config
	base string
}

// replicaWorld is what the scenarios of the harness share: the replicas and the world
// registered through them.
type replicaWorld struct {
	replicas          []*replica
	firm, site, staff string
}

// replicaScenarios are further scenarios run on the replicas before the consistency check (the
// live streams across replicas add theirs here: subscribe on one, ingest on another).
var replicaScenarios []func(ctx context.Context, t *testing.T, w *replicaWorld)

// startReplicasOn assembles n services on database db of the MongoDB server at uri
// (CREDTRACE_TEST_MONGO_URI, or the embedded FerretDB), with further arguments of serve, and
// serves each on 127.0.0.1:0.
func startReplicasOn(t *testing.T, uri, db string, n int, args ...string) []*replica {
	t.Helper()
	env := map[string]string{"CREDTRACE_MONGO_URI": uri, "CREDTRACE_MONGO_DB": db, "CREDTRACE_ADMIN_TOKEN": replicaAdmin}
	getenv := func(k string) string { return env[k] }
	var out []*replica
	for i := 0; i < n; i++ {
		cfg, err := config.Load(getenv, append([]string{"--addr", "127.0.0.1:0", "--anomaly-schedule", "@every 5m"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		a, err := assemble(ctx, cfg, policy(cfg), getenv, io.Discard, log)
		cancel()
		if err != nil {
			t.Fatalf("assemble replica %d: %v", i, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- a.api.App().Listener(ln) }()
		t.Cleanup(func() {
			a.api.StopStreams()
			_ = a.api.App().ShutdownWithTimeout(5 * time.Second)
			ln.Close()
			<-served
			a.close()
		})
		out = append(out, &replica{app: a, cfg: cfg, base: "http://" + ln.Addr().String()})
	}
	return out
}

// call sends one request to the replica as the regulator, with a deadline, and decodes the
// JSON answer.
func (r *replica) call(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	return r.callAs(ctx, replicaAdmin, method, path, body)
}

// callAs is call with the bearer token of another party.
func (r *replica) callAs(ctx context.Context, token, method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

func (r *replica) must(ctx context.Context, t *testing.T, want int, method, path string, body any) map[string]any {
	t.Helper()
	return r.mustAs(ctx, t, want, replicaAdmin, method, path, body)
}

// mustAs is must with the bearer token of another party.
func (r *replica) mustAs(ctx context.Context, t *testing.T, want int, token, method, path string, body any) map[string]any {
	t.Helper()
	got, out, err := r.callAs(ctx, token, method, path, body)
	if err != nil || got != want {
		t.Fatalf("%s %s%s: %d %v %v (want %d)", method, r.base, path, got, out, err, want)
	}
	return out
}

// TestReplicas runs three services on one database: (a) the same parcels ingested through all
// of them at once, (b) the recovery passes and the scheduled scans run on all of them at once,
// then the further scenarios; the consistency check, which rebuilds every summary and statistic
// from the stored events, finds no difference. The parcels are a merchant's, which subscribed
// to their statuses: its outbox holds each status change of each parcel once.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("three services on one database")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	uri, db := mongotest.NewDB(t)
	rs := startReplicasOn(t, uri, db, 3, "--webhook-allow-private", "true")
	w := &replicaWorld{replicas: rs}
	r0 := rs[0]
	w.firm = r0.must(ctx, t, 201, "POST", "/v1/firms", map[string]any{"uscc": "91130100MA0CX7Q2K6", "name": "顺达", "kind": "hq", "region": "130102",
		"licence": map[string]any{"number": "L1", "valid_from": "2024-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z", "status": "active"}})["id"].(string)
	w.site = r0.must(ctx, t, 201, "POST", "/v1/firms/"+w.firm+"/sites", map[string]any{"name": "分拨中心", "kind": "sorting_centre", "region": "130111"})["id"].(string)
	w.staff = r0.must(ctx, t, 201, "POST", "/v1/staff", map[string]any{"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000",
		"employment": map[string]any{"firm_id": w.firm, "role": "courier", "from": "2025-01-01T00:00:00Z"}})["id"].(string)

	merchant := r0.must(ctx, t, 201, "POST", "/v1/tokens", map[string]any{"role": "merchant", "merchant_id": "M-R1"})["token"].(string)
	sub := r0.mustAs(ctx, t, 201, merchant, "POST", "/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9/m", "events": []string{string(webhook.ParcelStatus)}})["id"].(string)

	// (a) 30 parcels, three events each; every replica sends every event, in its own order and
	// batches, all at once: each event is accepted once and a duplicate everywhere else.
	const parcels = 30
	base := time.Now().Add(-30 * time.Hour).UTC().Truncate(time.Hour)
	var events []map[string]any
	for i := 0; i < parcels; i++ {
		for k, code := range []string{"collected", "departed", "delivered"} {
			e := map[string]any{"id": fmt.Sprintf("%s-%d", code, i), "waybill": fmt.Sprintf("YT%010d", i), "carrier": w.firm, "code": code,
				"at": base.Add(time.Duration(k*6)*time.Hour + time.Duration(i)*time.Minute).Format(time.RFC3339), "site": w.site, "staff": w.staff}
			if code == "collected" {
				e["merchant"] = "M-R1"
			}
			if code == "delivered" {
				e["signer"] = "recipient"
			}
			events = append(events, e)
		}
	}
	var mu sync.Mutex
	accepted, duplicates := 0, 0
	// Phase by phase (collections, then transit scans, then deliveries), so that each parcel's
	// events arrive in their order and the statistics are those a user expects.
	for phase := 0; phase < 3; phase++ {
		var wg sync.WaitGroup
		errs := make(chan error, len(rs))
		for i, r := range rs {
			var mine []map[string]any
			for k := phase; k < len(events); k += 3 {
				mine = append(mine, events[k])
			}
			rand.New(rand.NewPCG(uint64(i), uint64(phase))).Shuffle(len(mine), func(a, b int) { mine[a], mine[b] = mine[b], mine[a] })
			wg.Add(1)
			go func() {
				defer wg.Done()
				for start := 0; start < len(mine); start += 4 {
					code, out, err := r.call(ctx, "POST", "/v1/events", mine[start:min(start+4, len(mine))])
					if err != nil || code != 200 {
						errs <- fmt.Errorf("ingest on %s: %d %v %v", r.base, code, out, err)
						return
					}
					mu.Lock()
					accepted += int(out["accepted"].(float64))
					duplicates += int(out["duplicates"].(float64))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	if accepted != len(events) || duplicates != 2*len(events) {
		t.Fatalf("accepted %d and duplicates %d of %d events sent three times", accepted, duplicates, len(events))
	}

	// (b) every replica runs the recovery passes and the scans at once.
	var jobs sync.WaitGroup
	jobErrs := make(chan error, 3*len(rs))
	for _, r := range rs {
		for _, j := range r.app.jobs(r.cfg) {
			if j.name != "anomaly-scan" && j.name != "recover-stats" && j.name != "replay" {
				continue
			}
			jobs.Add(1)
			go func() {
				defer jobs.Done()
				if err := j.run(ctx); err != nil {
					jobErrs <- fmt.Errorf("%s on %s: %w", j.name, r.base, err)
				}
			}()
		}
	}
	jobs.Wait()
	close(jobErrs)
	for err := range jobErrs {
		t.Error(err)
	}

	// Every status of every parcel reached the merchant's outbox once, though each event came
	// through three services and the replay saved the parcels again.
	ds, err := r0.app.st.webhooksOf(r0.app.st.courier).Deliveries(ctx, webhook.DeliveryQuery{SubscriptionID: sub})
	if err != nil {
		t.Fatal(err)
	}
	announced := map[string]int{}
	for _, d := range ds {
		var p struct {
			Data map[string]string `json:"data"`
		}
		if err := json.Unmarshal([]byte(d.Body), &p); err != nil {
			t.Fatalf("delivery %s: %v", d.ID, err)
		}
		announced[p.Data["waybill"]+" "+p.Data["status"]]++
	}
	for i := 0; i < parcels; i++ {
		for _, code := range []string{"collected", "departed", "delivered"} {
			if k := fmt.Sprintf("YT%010d %s", i, code); announced[k] != 1 {
				t.Errorf("the merchant's outbox holds %s %d times, want once", k, announced[k])
			}
		}
	}
	if len(ds) != 3*parcels {
		t.Errorf("the merchant's outbox holds %d deliveries, want %d", len(ds), 3*parcels)
	}

	for _, sc := range replicaScenarios {
		sc(ctx, t, w)
	}

	diffs, err := rs[1].app.trk.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// FerretDB applies no update atomically (an $inc of one document from two connections can
	// lose one): its statistics documents are not exact under concurrent replicas, whatever the
	// guards. The summaries are, there too; the statistics are checked on a real MongoDB.
	real := os.Getenv(mongotest.EnvURI) != ""
	for _, d := range diffs {
		if !real && strings.HasPrefix(d, "statistics ") {
			t.Log("FerretDB:", d)
			continue
		}
		t.Error(d)
	}
	if !real {
		return
	}
	// And the figures a user reads: the site handled each parcel once, and saw each delivered.
	from, to := base.AddDate(0, 0, -1).Format("2006-01-02"), time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	days := rs[2].must(ctx, t, 200, "GET", "/v1/stats/site/"+w.site+"?from="+from+"&to="+to, nil)["days"].([]any)
	sum := map[string]float64{}
	for _, d := range days {
		for m, n := range d.(map[string]any)["counts"].(map[string]any) {
			sum[m] += n.(float64)
		}
	}
	if sum["handled"] != parcels || sum["delivered"] != parcels {
		t.Errorf("site statistics %v, want handled and delivered %d", sum, parcels)
	}
}
