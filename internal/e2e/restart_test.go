package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// TestPostgresRestartUnderLoad: the API over a private cluster, clients
// creating and listing samples non-stop, and the server stopped and started
// again underneath them, cycle after cycle, alternately clean (pg_ctl stop
// -m fast) and crashed (-m immediate, recovered from the WAL on start).
// While it is down every request is answered, and answered 503 (a bounded
// client timeout turns a hang into a failure; a 500, a 401 or a dropped
// connection fails too); once it is back the API serves again by itself,
// no restart, no operator; and afterwards every sample whose creation was
// acknowledged (201), before, during or after an outage, is in its
// tenant's schema.
//
// Knobs: TENANTCTL_RESTART_CYCLES (2), TENANTCTL_RESTART_CLIENTS (8).
func TestPostgresRestartUnderLoad(t *testing.T) {
	cycles := testdb.Size(t, "TENANTCTL_RESTART_CYCLES", 2, 1)
	nClients := testdb.Size(t, "TENANTCTL_RESTART_CLIENTS", 8, 1)
	const nTenants = 3
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute+time.Duration(cycles)*time.Minute)
	defer cancel()

	c := pgcluster.Start(t)
	cfg, err := pgxpool.ParseConfig(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	m, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigratePublic(ctx, pool, m); err != nil {
		t.Fatal(err)
	}
	st := domain.New(pool, m)
	tenants := make([]*loadTenant, nTenants)
	for i := range tenants {
		if tenants[i], err = createLoadTenant(ctx, st, m, i, 1); err != nil {
			t.Fatal(err)
		}
	}

	errs := &errorCounter{}
	// The request timeout is below the client's: a request stuck on the
	// database is answered 503 by the server before the client gives up,
	// so a client timeout can only mean the server itself hung.
	s, err := api.New(api.Config{Store: domain.New(pool, m), Logger: slog.New(errs), RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	httpc := newHTTPClient(nClients, 20*time.Second)

	var (
		down      atomic.Bool // the cluster is stopped (set before the stop begins, cleared after the start returns)
		ok        atomic.Int64
		unavail   atomic.Int64
		okWhile   atomic.Int64 // 2xx while down: a request that finished before the stop took effect
		badMu     sync.Mutex
		bad       []string
		badN      atomic.Int64
		ackMu     sync.Mutex
		ackByTent = map[uuid.UUID][]uuid.UUID{}
		acks      int
	)
	flag := func(format string, args ...any) {
		badN.Add(1)
		badMu.Lock()
		defer badMu.Unlock()
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range nClients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for seq := 0; loadCtx.Err() == nil; seq++ {
				lt := tenants[rng.IntN(len(tenants))]
				cl := &client{base: base, token: lt.token, http: httpc}
				path := "/api/centers/" + lt.id.String() + "/samples/"
				var code int
				var body []byte
				var err error
				if rng.IntN(2) == 0 {
					bc := barcodeFor(lt.id, fmt.Sprintf("r%d-%d", w, seq))
					code, body, err = cl.do(loadCtx, "POST", path, map[string]any{
						"name": "restart " + bc, "sample_type": "blood", "barcode": bc, "metadata": marker{Tenant: lt.id.String()}})
					if err == nil && code == http.StatusCreated {
						var sm domain.Sample
						if jerr := json.Unmarshal(body, &sm); jerr != nil || sm.Barcode != bc {
							flag("POST %s: 201 with %s", path, body)
						} else {
							ackMu.Lock()
							ackByTent[lt.id] = append(ackByTent[lt.id], sm.ID)
							acks++
							ackMu.Unlock()
						}
					}
				} else {
					code, body, err = cl.do(loadCtx, "GET", path+"?limit=5", nil)
				}
				switch {
				case loadCtx.Err() != nil:
					return
				case err != nil:
					flag("request failed (a hang or a dropped connection): %v", err)
				case code == http.StatusServiceUnavailable:
					unavail.Add(1)
					if !strings.Contains(string(body), `"status":503`) {
						flag("503 without a problem body: %s", body)
					}
				case code/100 == 2:
					ok.Add(1)
					if down.Load() {
						okWhile.Add(1)
					}
				default:
					flag("status %d (down=%v): %s", code, down.Load(), body)
				}
			}
		})
	}
	t.Cleanup(func() { stopLoad(); wg.Wait() })

	// waitFor is a liveness bound: it fails only if the thing never
	// happens within a generous deadline.
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Fatalf("%s: not within %v (ok %d, 503 %d, bad %d: %v)\nserver log:\n%s", what, limit, ok.Load(), unavail.Load(), badN.Load(), bad, tail(c.Log(), 30))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	probe := func(path string) int {
		cl := &client{base: base, token: tenants[0].token, http: httpc}
		code, _, err := cl.do(ctx, "GET", path, nil)
		if err != nil {
			t.Fatalf("GET %s: %v (a hang or a crash)", path, err)
		}
		return code
	}

	waitFor("load under way", time.Minute, func() bool { return ok.Load() >= 200 })
	modes := []string{pgcluster.Fast, pgcluster.Immediate}
	var downtime time.Duration
	for cycle := range cycles {
		mode := modes[cycle%len(modes)]
		okBefore, unavailBefore := ok.Load(), unavail.Load()
		down.Store(true)
		stopped := time.Now()
		if err := c.Stop(mode); err != nil {
			t.Fatal(err)
		}
		// Down: the load gets 503s, and so do these, promptly; the
		// process still serves /healthz.
		waitFor(fmt.Sprintf("cycle %d (%s): 503s while down", cycle, mode), time.Minute,
			func() bool { return unavail.Load()-unavailBefore >= 50 })
		for _, p := range []string{"/readyz", "/api/centers/", "/api/centers/" + tenants[1].id.String() + "/samples/"} {
			if code := probe(p); code != http.StatusServiceUnavailable {
				t.Errorf("cycle %d: GET %s while down: %d, want 503", cycle, p, code)
			}
		}
		if code := probe("/healthz"); code != http.StatusOK {
			t.Errorf("cycle %d: /healthz while down: %d, want 200", cycle, code)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		down.Store(false)
		downtime += time.Since(stopped)
		// Back by itself: successes again, for the load and /readyz.
		okAfter := ok.Load()
		waitFor(fmt.Sprintf("cycle %d (%s): recovery", cycle, mode), time.Minute,
			func() bool { return ok.Load()-okAfter >= 200 })
		waitFor(fmt.Sprintf("cycle %d (%s): /readyz after recovery", cycle, mode), time.Minute,
			func() bool { return probe("/readyz") == http.StatusOK })
		t.Logf("cycle %d (%s): %d ok before the stop, %d 503 during, recovered",
			cycle, mode, okBefore, unavail.Load()-unavailBefore)
	}
	stopLoad()
	wg.Wait()

	// Every acknowledged create is there, in its own tenant, read straight
	// from the schema over a new connection.
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lost, present := 0, 0
	for _, lt := range tenants {
		rows, err := conn.Query(ctx, "SELECT id FROM "+pgx.Identifier{lt.schema, "samples"}.Sanitize()+
			" WHERE metadata->>'tenant' = $1", lt.id.String())
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			t.Fatal(err)
		}
		present += len(ids)
		have := make(map[uuid.UUID]bool, len(ids))
		for _, id := range ids {
			have[id] = true
		}
		for _, id := range ackByTent[lt.id] {
			if !have[id] {
				lost++
				flag("acknowledged sample %s of %s lost", id, lt.id)
			}
		}
	}
	t.Logf("FIGURES postgres restart: %d cycles (%v down in all), %d clients, %d tenants; %d requests ok, %d answered 503, %d ok while down (finished before the stop); "+
		"%d creates acknowledged, %d lost, %d rows present (created when the answer was lost: %d); bad answers %d, error logs %d",
		cycles, downtime.Round(time.Millisecond), nClients, nTenants, ok.Load(), unavail.Load(), okWhile.Load(),
		acks, lost, present, present-acks-nTenants, badN.Load(), errs.n.Load())
	if badN.Load() > 0 {
		t.Errorf("%d bad answers or losses; first:\n%s", badN.Load(), strings.Join(bad, "\n"))
	}
	if n := errs.n.Load(); n > 0 {
		t.Errorf("%d error logs (500s) from the server; first: %s", n, *errs.first.Load())
	}
	if acks == 0 || unavail.Load() == 0 {
		t.Errorf("nothing was tested: %d acknowledged, %d 503", acks, unavail.Load())
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
