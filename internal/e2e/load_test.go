package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// loadTenant is one center of the load test, with what the clients know
// of it: the samples seeded and those whose creation was acknowledged.
type loadTenant struct {
	id     uuid.UUID
	schema string
	token  string

	mu      sync.Mutex
	samples []knownSample
	created int // acknowledged creates (201)
}

type knownSample struct {
	id      uuid.UUID
	barcode string
}

func (lt *loadTenant) pick(rng *rand.Rand) knownSample {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return lt.samples[rng.IntN(len(lt.samples))]
}

// The operations of the mix, for the figures.
const (
	opList = iota
	opGet
	opByBarcode
	opCreate
	opTransition
	opProbe
	numOps
)

var opNames = [numOps]string{"list", "get", "by_barcode", "create", "transition", "cross-tenant probe"}

// reachable is, for each action, the statuses a sample may be in at any
// later time once that action was acknowledged: the state machine only
// moves forward, so an acknowledged transition can be checked at the end
// whatever ran after it.
var reachable = map[domain.Action][]domain.Status{
	domain.ActionProcess:  {domain.StatusProcessing, domain.StatusCompleted, domain.StatusRejected, domain.StatusArchived},
	domain.ActionComplete: {domain.StatusCompleted, domain.StatusArchived},
	domain.ActionReject:   {domain.StatusRejected, domain.StatusArchived},
	domain.ActionArchive:  {domain.StatusArchived},
}

// TestIsolationUnderLoad is invariant 2 of DESIGN.md end to end: many
// tenants, every sample marked with its tenant (metadata and barcode
// prefix), concurrent clients each acting as a member of one tenant with a
// mix of reads, writes and attempts at other tenants' data, through the
// HTTP API served as cmd/apiserver serves it. Every response is checked
// (no row of another tenant, no 5xx, probes of other tenants 404); at the
// end every schema is read directly: every row in the schema of its
// marker, every acknowledged create there exactly once, every
// acknowledged transition reflected, and nothing else.
//
// Knobs: TENANTCTL_LOAD_TENANTS (500), TENANTCTL_LOAD_CLIENTS (32),
// TENANTCTL_LOAD_REQUESTS (20000), TENANTCTL_LOAD_POOL (12, the server's
// pool: fewer connections than clients, so connections are reused across
// tenants all the time).
func TestIsolationUnderLoad(t *testing.T) {
	// At least 2, so that there is another tenant to probe.
	nTenants := testdb.Size(t, "TENANTCTL_LOAD_TENANTS", 500, 2)
	nClients := testdb.Size(t, "TENANTCTL_LOAD_CLIENTS", 32, 1)
	nRequests := testdb.Size(t, "TENANTCTL_LOAD_REQUESTS", 20000, 1)
	poolSize := testdb.Size(t, "TENANTCTL_LOAD_POOL", 12, 1)
	const seedsPerTenant = 2
	// A liveness bound, not a performance assertion: far above what the
	// default run needs (about 30 s on 2 busy cores), scaled for soak runs
	// (3 ms a request is 4x the slowest rate measured).
	deadline := 10*time.Minute + time.Duration(nRequests)*3*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	tdb := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(tdb.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(poolSize)
	pool := tenancytest.PoolWithConfig(t, cfg) // empty search_path: nothing found by accident
	m, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st := domain.New(pool, m)

	// Tenants, each with an admin and a token, created concurrently
	// through the domain as the CLI would.
	setupStart := time.Now()
	tenants := make([]*loadTenant, nTenants)
	var next atomic.Int64
	var setupErr error
	var setupOnce sync.Once
	var wg sync.WaitGroup
	for range min(poolSize, 8) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= nTenants || ctx.Err() != nil {
					return
				}
				lt, err := createLoadTenant(ctx, st, m, i, seedsPerTenant)
				if err != nil {
					setupOnce.Do(func() { setupErr = err })
					return
				}
				tenants[i] = lt
			}
		})
	}
	wg.Wait()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	setupDur := time.Since(setupStart)

	errs := &errorCounter{}
	s, err := api.New(api.Config{Store: domain.New(pool, m), Logger: slog.New(errs), RequestTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	httpc := newHTTPClient(nClients, time.Minute)

	var (
		sent       atomic.Int64
		counts     [numOps][6]atomic.Int64 // by status class: 0 transport error, 2xx..5xx
		leaks      atomic.Int64            // a row or 2xx another tenant's request should not have seen
		fiveXX     atomic.Int64
		unexpected atomic.Int64 // any other wrong status
		failMu     sync.Mutex
		failures   []string
		ackMu      sync.Mutex
		acked      = map[uuid.UUID][]domain.Action{} // acknowledged transitions per sample
	)
	fail := func(counter *atomic.Int64, format string, args ...any) {
		counter.Add(1)
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}

	worker := func(w int) {
		rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
		seq := 0
		for sent.Add(1) <= int64(nRequests) && ctx.Err() == nil {
			li := rng.IntN(len(tenants))
			lt := tenants[li]
			c := &client{base: base, token: lt.token, http: httpc}
			samples := "/api/centers/" + lt.id.String() + "/samples/"
			var (
				op     int
				code   int
				body   []byte
				err    error
				what   string
				expect = []int{http.StatusOK}
			)
			switch p := rng.IntN(100); {
			case p < 25:
				op = opList
				q := url.Values{"limit": {fmt.Sprint(1 + rng.IntN(60))}}
				switch rng.IntN(4) {
				case 0:
					q.Set("status", string(domain.Statuses[rng.IntN(len(domain.Statuses))]))
				case 1:
					q.Set("ordering", "barcode")
				case 2:
					q.Set("search", lt.id.String()[:8])
				}
				what = "GET " + samples + "?" + q.Encode()
				code, body, err = c.do(ctx, "GET", samples+"?"+q.Encode(), nil)
				if err == nil && code == http.StatusOK {
					var pg page
					if jerr := json.Unmarshal(body, &pg); jerr != nil {
						fail(&unexpected, "%s: bad JSON: %v", what, jerr)
					}
					for _, sm := range pg.Results {
						if msg := sampleMarked(sm, lt.id); msg != "" {
							fail(&leaks, "LEAK %s: %s", what, msg)
						}
					}
				}
			case p < 40, p < 52:
				op = opGet
				k := lt.pick(rng)
				path := samples + k.id.String() + "/"
				if p >= 40 {
					op = opByBarcode
					path = samples + "by_barcode/" + url.PathEscape(k.barcode) + "/"
				}
				what = "GET " + path
				code, body, err = c.do(ctx, "GET", path, nil)
				if err == nil && code == http.StatusOK {
					checkOne(body, lt.id, k.id, what, func(f string, a ...any) { fail(&leaks, f, a...) })
				}
			case p < 72:
				op = opCreate
				seq++
				bc := barcodeFor(lt.id, fmt.Sprintf("w%d-%d", w, seq))
				what = "POST " + samples
				expect = []int{http.StatusCreated}
				code, body, err = c.do(ctx, "POST", samples, map[string]any{
					"name": "load " + bc, "sample_type": domain.DefaultSampleTypes[rng.IntN(len(domain.DefaultSampleTypes))],
					"barcode": bc, "metadata": marker{Tenant: lt.id.String()},
				})
				if err == nil && code == http.StatusCreated {
					sm := checkOne(body, lt.id, uuid.Nil, what, func(f string, a ...any) { fail(&leaks, f, a...) })
					if sm.Barcode != bc || sm.Status != domain.StatusPending {
						fail(&unexpected, "%s: created %+v, want barcode %s pending", what, sm, bc)
					}
					lt.mu.Lock()
					lt.samples = append(lt.samples, knownSample{sm.ID, bc})
					lt.created++
					lt.mu.Unlock()
				}
			case p < 85:
				op = opTransition
				k := lt.pick(rng)
				a := domain.Actions[rng.IntN(len(domain.Actions))]
				path := samples + k.id.String() + "/" + string(a) + "/"
				what = "POST " + path
				expect = []int{http.StatusOK, http.StatusConflict} // 409: not allowed from its status now
				code, body, err = c.do(ctx, "POST", path, nil)
				if err == nil && code == http.StatusOK {
					sm := checkOne(body, lt.id, k.id, what, func(f string, a ...any) { fail(&leaks, f, a...) })
					if want := reachable[a][0]; sm.Status != want {
						fail(&unexpected, "%s: status %s after %s, want %s", what, sm.Status, a, want)
					}
					ackMu.Lock()
					acked[k.id] = append(acked[k.id], a)
					ackMu.Unlock()
				}
			default:
				// Another tenant's data, asked for by this tenant's
				// member in every way a path allows: must be a 404,
				// exactly as if it did not exist.
				op = opProbe
				oi := rng.IntN(len(tenants) - 1)
				if oi >= li {
					oi++
				}
				other := tenants[oi]
				k := other.pick(rng)
				var path string
				switch rng.IntN(4) {
				case 0:
					path = "/api/centers/" + other.id.String() + "/samples/"
				case 1:
					path = "/api/centers/" + other.id.String() + "/samples/" + k.id.String() + "/"
				case 2:
					path = samples + k.id.String() + "/" // own center, another's sample id
				default:
					path = samples + "by_barcode/" + url.PathEscape(k.barcode) + "/"
				}
				what = "GET " + path + " (as a member of " + lt.id.String() + ")"
				expect = []int{http.StatusNotFound}
				code, body, err = c.do(ctx, "GET", path, nil)
				if err == nil && code/100 == 2 {
					fail(&leaks, "LEAK %s: %d %s", what, code, body)
				}
			}
			switch {
			case err != nil:
				counts[op][0].Add(1)
				fail(&unexpected, "%s: %v", what, err)
			default:
				counts[op][min(code/100, 5)].Add(1)
				if code >= 500 {
					fail(&fiveXX, "%s: %d %s", what, code, body)
				} else if !slices.Contains(expect, code) && (op != opProbe || code/100 != 2) { // a probe's 2xx is already a leak
					fail(&unexpected, "%s: %d %s", what, code, body)
				}
			}
		}
	}

	start := time.Now()
	for w := range nClients {
		wg.Go(func() { worker(w) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("the load did not finish within %v: a hang", deadline)
	}
	total := int64(0)
	for op := range numOps {
		for cl := range counts[op] {
			total += counts[op][cl].Load()
		}
	}

	// Afterwards, the database itself: every schema read directly.
	verifyStart := time.Now()
	where := map[uuid.UUID]uuid.UUID{} // sample id -> the tenant whose schema holds it
	status := map[uuid.UUID]domain.Status{}
	rows, misplaced, lost, extra := 0, 0, 0, 0
	for _, lt := range tenants {
		type row struct {
			id      uuid.UUID
			barcode string
			tenant  string
			status  domain.Status
		}
		rs, err := tdb.Pool.Query(ctx, "SELECT id, barcode, coalesce(metadata->>'tenant', ''), status FROM "+
			pgx.Identifier{lt.schema, "samples"}.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.barcode, &x.tenant, &x.status)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range got {
			rows++
			if prev, dup := where[x.id]; dup {
				misplaced++
				fail(&leaks, "sample %s in both %s and %s", x.id, prev, lt.id)
			}
			where[x.id], status[x.id] = lt.id, x.status
			if x.tenant != lt.id.String() || !strings.HasPrefix(x.barcode, lt.id.String()+"-") {
				misplaced++
				fail(&leaks, "schema %s holds sample %s of tenant %q (barcode %s)", lt.schema, x.id, x.tenant, x.barcode)
			}
		}
		lt.mu.Lock()
		if want := seedsPerTenant + lt.created; len(got) != want {
			extra += max(0, len(got)-want)
			fail(&unexpected, "schema %s: %d samples, want %d seeded + acknowledged", lt.schema, len(got), want)
		}
		for _, k := range lt.samples {
			if where[k.id] != lt.id {
				lost++
				fail(&unexpected, "acknowledged sample %s of %s is missing (found in %s)", k.id, lt.id, where[k.id])
			}
		}
		lt.mu.Unlock()
	}
	transitionsAcked := 0
	for id, actions := range acked {
		for _, a := range actions {
			transitionsAcked++
			if !slices.Contains(reachable[a], status[id]) {
				lost++
				fail(&unexpected, "sample %s: %s was acknowledged but its status is %s", id, a, status[id])
			}
		}
	}
	createsAcked := 0
	for _, lt := range tenants {
		createsAcked += lt.created
	}

	var mix []string
	for op := range numOps {
		mix = append(mix, fmt.Sprintf("%s %d (2xx %d, 4xx %d, 5xx %d, transport errors %d)", opNames[op],
			counts[op][2].Load()+counts[op][3].Load()+counts[op][4].Load()+counts[op][5].Load()+counts[op][0].Load(),
			counts[op][2].Load(), counts[op][4].Load(), counts[op][5].Load(), counts[op][0].Load()))
	}
	sort.Strings(mix)
	t.Logf("FIGURES isolation under load: %d tenants (set up in %v), %d clients, server pool %d; %d requests in %v = %.0f req/s; "+
		"%d creates and %d transitions acknowledged; %d rows verified in %v; leaks %d, 5xx %d, other unexpected %d, lost %d, extra %d, misplaced %d, error logs %d",
		nTenants, setupDur.Round(time.Millisecond), nClients, poolSize, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(),
		createsAcked, transitionsAcked, rows, time.Since(verifyStart).Round(time.Millisecond),
		leaks.Load(), fiveXX.Load(), unexpected.Load(), lost, extra, misplaced, errs.n.Load())
	t.Logf("mix: %s", strings.Join(mix, "; "))

	if total != int64(nRequests) {
		t.Errorf("%d requests answered, want %d", total, nRequests)
	}
	if counts[opProbe][4].Load() == 0 || createsAcked == 0 || transitionsAcked == 0 {
		t.Errorf("the mix did not exercise probes, creates and transitions: %s", strings.Join(mix, "; "))
	}
	if n := errs.n.Load(); n > 0 {
		t.Errorf("%d error logs from the server; first: %s", n, *errs.first.Load())
	}
	if leaks.Load()+fiveXX.Load()+unexpected.Load() > 0 || lost+extra+misplaced > 0 {
		t.Errorf("leaks %d, 5xx %d, unexpected %d, lost %d, extra %d, misplaced %d; first failures:\n%s",
			leaks.Load(), fiveXX.Load(), unexpected.Load(), lost, extra, misplaced, strings.Join(failures, "\n"))
	}
}

// createLoadTenant creates center i with an admin, a token and seeded,
// marked samples.
func createLoadTenant(ctx context.Context, st *domain.Store, m *tenancy.Manager, i, seeds int) (*loadTenant, error) {
	c, err := st.Centers.Create(ctx, domain.System, domain.CenterInput{Name: fmt.Sprintf("Load center %05d", i)})
	if err != nil {
		return nil, err
	}
	u, err := st.Users.Create(ctx, domain.System, domain.UserInput{
		Username: fmt.Sprintf("load%05d", i), Email: fmt.Sprintf("load%05d@example.com", i), CenterID: &c.ID, Role: domain.RoleAdmin})
	if err != nil {
		return nil, err
	}
	_, tok, err := st.Tokens.Create(ctx, domain.System, u.ID, "load", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	lt := &loadTenant{id: c.ID, schema: m.SchemaName(c.ID), token: tok}
	meta, _ := json.Marshal(marker{Tenant: c.ID.String()})
	for j := range seeds {
		bc := barcodeFor(c.ID, fmt.Sprintf("seed-%d", j))
		sm, err := st.Samples.Create(ctx, c.ID, domain.By(u.ID), domain.SampleInput{
			Name: "seed " + bc, SampleType: "blood", Barcode: bc, Metadata: meta})
		if err != nil {
			return nil, err
		}
		lt.samples = append(lt.samples, knownSample{sm.ID, bc})
	}
	return lt, nil
}

// checkOne decodes a sample response and reports (with leak) one that is
// not of center, or not the sample asked for (want, unless uuid.Nil).
func checkOne(body []byte, center, want uuid.UUID, what string, leak func(string, ...any)) domain.Sample {
	var sm domain.Sample
	if err := json.Unmarshal(body, &sm); err != nil {
		leak("%s: bad JSON: %v: %s", what, err, body)
		return sm
	}
	if msg := sampleMarked(sm, center); msg != "" {
		leak("LEAK %s: %s", what, msg)
	}
	if want != uuid.Nil && sm.ID != want {
		leak("LEAK %s: got sample %s", what, sm.ID)
	}
	return sm
}
