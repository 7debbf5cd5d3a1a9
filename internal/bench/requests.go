package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tenantctl/tenantctl/internal/loadgen"
)

// request is a kind of tenant-scoped request: how the load generator asks
// the API for it, and the pgbench script that sends PostgreSQL the same
// SQL statements in the same round trips, one transaction per request.
type request struct {
	name, what string
	write      bool // creates or consumes rows: runs on the write centers
	status     int  // the answer expected
	// next returns the load generator's request maker for a load spread
	// over f's first spread read centers.
	next   func(f *fixture, base string, spread, conns int) func(w int) (*http.Request, error)
	script string
}

// The SQL of the product, as pgbench sends it. Each request reads its
// centre, token and sample from the bench_* tables inside the
// authentication statement, so that the floor spends no round trip the
// API does not. Everything else is the product's text (pkg/domain) with
// pgbench's variables for parameters, and what the product sends in one
// batch pgbench sends in one pipeline.
const (
	sampleCols = "id, name, description, sample_type, status, barcode, user_id, metadata, is_active, created_at, updated_at, created_by, updated_by"
	centerSQL  = "SELECT is_active, settings FROM public.centers WHERE id = :center;\n"
	commitSQL  = "COMMIT;\n"
)

// pgAuth is domain.Tokens.Authenticate's statement, the token hash taken
// from keys (one row of bench_keys' columns and any more), whose columns
// it returns with the user's into pgbench variables.
func pgAuth(keys string) string {
	return `WITH k AS (` + keys + `), hit AS (
	SELECT t.id, t.user_id
	FROM public.api_tokens t
	JOIN public.users u ON u.id = t.user_id
	LEFT JOIN public.centers c ON c.id = u.center_id
	WHERE t.token_hash = (SELECT token_hash FROM k) AND t.is_active AND (t.expires_at IS NULL OR t.expires_at > now())
		AND u.is_active AND (u.is_superuser OR c.is_active)
), touch AS (
	UPDATE public.api_tokens SET last_used_at = now()
	WHERE id = (SELECT id FROM hit) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT u.id AS user_id, u.username, u.email, u.first_name, u.last_name, coalesce(u.phone, '') AS phone, u.center_id,
	u.role, u.is_superuser, u.password_hash IS NOT NULL AS has_password, u.is_active, u.created_at, u.updated_at,
	u.created_by, u.updated_by, k.*
FROM hit JOIN public.users u ON u.id = hit.user_id CROSS JOIN k
\gset
`
}

// pgEnter is the opening of domain.Store's center transactions, one
// round trip: BEGIN, the schema switch (tenancy.Manager.InTenantBatch)
// and the center check, in one pipeline as the batch is.
func pgEnter(readOnly bool) string {
	begin := "BEGIN"
	if readOnly {
		begin += " READ ONLY"
	}
	return "\\startpipeline\n" + begin + ";\nSELECT set_config('search_path', :schema, true);\n" + centerSQL + "\\endpipeline\n"
}

// pgbench's choice of center and sample, and their rows.
var (
	keyOfRead   = "SELECT * FROM bench_keys WHERE n = :n"
	keyOfSample = "SELECT k.*, s.sample, s.barcode FROM bench_keys k JOIN bench_samples s ON s.n = k.n WHERE k.n = :n AND s.s = :s"
	pickRead    = "\\set n random(0, :spread - 1)\n"
	pickSample  = pickRead + fmt.Sprintf("\\set s random(0, %d)\n", samplesPerCenter-1)
)

var requests = []request{{
	name: "list", what: "list: GET …/samples/?limit=20 (20 of 100 rows)", status: http.StatusOK,
	next: func(f *fixture, base string, spread, conns int) func(int) (*http.Request, error) {
		return perWorker(conns, func(rng *rand.Rand) (*http.Request, error) {
			c := f.reads[rng.IntN(spread)]
			return apiRequest("GET", base+"/api/centers/"+c.id.String()+"/samples/?limit=20", c.token, "")
		})
	},
	script: pickRead + pgAuth(keyOfRead) + pgEnter(true) +
		"SELECT " + sampleCols + ", count(*) OVER () FROM samples WHERE true AND is_active ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset;\n" +
		commitSQL,
}, {
	name: "get", what: "get by id: GET …/samples/{id}/", status: http.StatusOK,
	next: func(f *fixture, base string, spread, conns int) func(int) (*http.Request, error) {
		return perWorker(conns, func(rng *rand.Rand) (*http.Request, error) {
			c := f.reads[rng.IntN(spread)]
			return apiRequest("GET", base+"/api/centers/"+c.id.String()+"/samples/"+c.samples[rng.IntN(len(c.samples))].String()+"/", c.token, "")
		})
	},
	script: pickSample + pgAuth(keyOfSample) + pgEnter(true) +
		"SELECT " + sampleCols + " FROM samples WHERE id = :sample;\n" + commitSQL,
}, {
	name: "barcode", what: "get by barcode: GET …/samples/by_barcode/{barcode}/", status: http.StatusOK,
	next: func(f *fixture, base string, spread, conns int) func(int) (*http.Request, error) {
		return perWorker(conns, func(rng *rand.Rand) (*http.Request, error) {
			c := f.reads[rng.IntN(spread)]
			return apiRequest("GET", base+"/api/centers/"+c.id.String()+"/samples/by_barcode/"+barcodeOf(rng.IntN(len(c.samples)))+"/", c.token, "")
		})
	},
	script: pickSample + pgAuth(keyOfSample) + pgEnter(true) +
		"SELECT " + sampleCols + " FROM samples WHERE barcode = :barcode;\n" + commitSQL,
}, {
	name: "create", what: "create: POST …/samples/", write: true, status: http.StatusCreated,
	next: func(f *fixture, base string, _, conns int) func(int) (*http.Request, error) {
		var seq atomic.Int64
		return perWorker(conns, func(rng *rand.Rand) (*http.Request, error) {
			c := f.writes[rng.IntN(len(f.writes))]
			body := `{"name": "bench", "description": "", "sample_type": "blood", "barcode": "api-` + strconv.FormatInt(seq.Add(1), 10) + `", "metadata": {}}`
			return apiRequest("POST", base+"/api/centers/"+c.id.String()+"/samples/", c.token, body)
		})
	},
	script: fmt.Sprintf("\\set n %d + random(0, %d)\n\\set barcode (:client_id + 1) * 1000000000 + :i\n\\set i :i + 1\n", writeKeyBase, writeCenters-1) +
		pgAuth(keyOfRead) + pgEnter(false) +
		"SELECT center_id IS NOT DISTINCT FROM :center, is_active FROM public.users WHERE id = :user_id FOR SHARE;\n" +
		"INSERT INTO samples (name, description, sample_type, barcode, user_id, metadata, created_by, updated_by)\n" +
		"VALUES (:name, '', :type, :barcode, :user_id, :meta, :user_id, :user_id)\nRETURNING " + sampleCols + ";\n" + commitSQL,
}, {
	name: "transition", what: "transition: POST …/samples/{id}/process/ (pending→processing)", write: true, status: http.StatusOK,
	next: func(f *fixture, base string, _, conns int) func(int) (*http.Request, error) {
		// Worker w takes pending samples w, w+conns, w+2·conns…, as
		// pgbench's client w does its own.
		taken := make([]int, conns)
		pending := f.pending[0]
		return func(w int) (*http.Request, error) {
			k := (w + conns*taken[w]) % len(pending)
			taken[w]++
			c := f.writes[k%len(f.writes)]
			return apiRequest("POST", base+"/api/centers/"+c.id.String()+"/samples/"+pending[k].String()+"/process/", c.token, "")
		}
	},
	script: "\\set k (:client_id + :clients * :i) % :pending\n\\set i :i + 1\n" +
		pgAuth("SELECT k.*, p.sample FROM bench_pending p JOIN bench_keys k USING (n) WHERE p.k = :k") +
		pgEnter(false) + "UPDATE samples SET status = :to, updated_by = :user_id WHERE id = :sample AND status = ANY(:from) AND (is_active OR NOT :active_only) RETURNING " + sampleCols + ";\n" +
		commitSQL,
}}

// perWorker makes a request maker with a random source of its own per
// worker (Next is called by one worker's goroutine at a time).
func perWorker(conns int, next func(rng *rand.Rand) (*http.Request, error)) func(int) (*http.Request, error) {
	rngs := make([]*rand.Rand, conns)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 1))
	}
	return func(w int) (*http.Request, error) { return next(rngs[w]) }
}

func apiRequest(method, url, token, body string) (*http.Request, error) {
	var req *http.Request
	var err error
	if body == "" {
		req, err = http.NewRequest(method, url, nil)
	} else {
		req, err = http.NewRequest(method, url, strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

// pgbenchVars are the variables of every script: the list's page, the
// created sample's fields, the transition's statuses, the pending
// samples' count, the spread.
func pgbenchVars(spread, conns, pending int) map[string]string {
	return map[string]string{
		"spread": strconv.Itoa(spread), "clients": strconv.Itoa(conns), "pending": strconv.Itoa(pending), "i": "0",
		"limit": "20", "offset": "0", "name": "bench", "type": "blood", "meta": "{}",
		"to": "processing", "from": "{pending}", "active_only": "true",
	}
}

// measured is one side of a comparison: a load's result, its SQL
// statements per request (pg_stat_statements) and, for the API, the
// server's CPU time per request.
type measured struct {
	r     loadgen.Result
	stmts float64
	cpu   time.Duration
	err   error
}

func (m measured) String() string {
	if m.err != nil {
		return "error: " + m.err.Error()
	}
	s := fmt.Sprintf("%.0f/s, p50 %s, p99 %s", m.r.RPS(), fmtMS(m.r.Percentile(0.5)), fmtMS(m.r.Percentile(0.99)))
	if m.stmts > 0 {
		s += fmt.Sprintf(", %.1f statements/request besides BEGIN and COMMIT", m.stmts)
	}
	if m.cpu > 0 {
		s += fmt.Sprintf(", server CPU %d µs/request", m.cpu.Microseconds())
	}
	if m.r.Errors > 0 {
		s += fmt.Sprintf(", %d errors (first: %v)", m.r.Errors, m.r.FirstError)
	}
	return s
}

// merge pools two loads of one side: their requests, latencies and
// time, and their server CPU per request weighted by requests.
func (m measured) merge(o measured) measured {
	if n := m.r.Requests + o.r.Requests; n > 0 {
		m.cpu = (m.cpu*time.Duration(m.r.Requests) + o.cpu*time.Duration(o.r.Requests)) / time.Duration(n)
	}
	m.r.Requests += o.r.Requests
	m.r.Errors += o.r.Errors
	m.r.Elapsed += o.r.Elapsed
	m.r.Latencies = append(m.r.Latencies, o.r.Latencies...)
	slices.Sort(m.r.Latencies)
	return m
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// loadAPI runs req's load against srv, spread over spread read centers,
// and counts the SQL statements and the server CPU time it caused.
func (f *fixture) loadAPI(ctx context.Context, e *Env, srv *server, req request, spread int) measured {
	if err := f.resetStatements(ctx); err != nil {
		return measured{err: err}
	}
	cpu0, err := srv.cpuTime()
	if err != nil {
		return measured{err: err}
	}
	var answered atomic.Int64
	r, err := loadgen.Run(ctx, loadgen.Options{
		Conns: e.Scale.Conns, Warmup: e.Scale.Warmup, Duration: e.Scale.Duration,
		Next: req.next(f, srv.base, spread, e.Scale.Conns),
		Check: func(resp *http.Response, body []byte) error {
			answered.Add(1)
			if resp.StatusCode != req.status {
				return fmt.Errorf("status %d, want %d: %.200s", resp.StatusCode, req.status, body)
			}
			return nil
		},
	})
	if err != nil {
		return measured{err: err}
	}
	cpu1, err := srv.cpuTime()
	if err != nil {
		return measured{err: err}
	}
	m := measured{r: r}
	if n := answered.Load(); n > 0 {
		m.cpu = (cpu1 - cpu0) / time.Duration(n)
	}
	m.stmts, m.err = f.statementsPer(ctx, answered.Load())
	return m
}

// loadPgbench runs req's floor, spread as loadAPI's.
func (f *fixture) loadPgbench(ctx context.Context, e *Env, req request, spread int) measured {
	return f.runFloor(ctx, e, req, pgbenchLoad{script: req.script}, spread)
}

// loadPgbenchWalk runs the list's floor with each client first walking
// every center of the spread (walkScript's script), in about walkTime.
func (f *fixture) loadPgbenchWalk(ctx context.Context, e *Env, script string, spread int, walkTime time.Duration) measured {
	return f.runFloor(ctx, e, requests[0], pgbenchLoad{script: script, walk: spread, walkTime: walkTime}, spread)
}

func (f *fixture) runFloor(ctx context.Context, e *Env, req request, load pgbenchLoad, spread int) measured {
	if err := f.resetStatements(ctx); err != nil {
		return measured{err: err}
	}
	load.vars = pgbenchVars(spread, e.Scale.Conns, len(f.pending[1]))
	run, err := e.runPgbench(ctx, f.url, load)
	if err != nil {
		return measured{err: err}
	}
	m := measured{r: run.Result}
	m.stmts, m.err = f.statementsPer(ctx, int64(run.total))
	if req.name == "transition" && run.total > len(f.pending[1]) {
		m.err = fmt.Errorf("pgbench ran %d transitions, more than the %d pending samples", run.total, len(f.pending[1]))
	}
	return m
}

func (f *fixture) resetStatements(ctx context.Context) error {
	if _, err := f.pool.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return fmt.Errorf("bench: reset pg_stat_statements: %w", err)
	}
	return nil
}

// statementsPer returns the statements run in the bench database since
// the last reset, per request of n. BEGIN and COMMIT are left out: the
// extension does not see pgbench's, which travel as prepared statements.
func (f *fixture) statementsPer(ctx context.Context, n int64) (float64, error) {
	if n == 0 {
		return 0, nil
	}
	var calls int64
	err := f.pool.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND query NOT LIKE '%pg_stat_statements%' AND query !~* '^\s*(begin|commit)'`).Scan(&calls)
	if err != nil {
		return 0, fmt.Errorf("bench: read pg_stat_statements: %w", err)
	}
	return float64(calls) / float64(n), nil
}

// requestsBenchmark is item 4 of the performance issue: each request
// against cmd/apiserver, spread over the smallest spread's centers,
// beside pgbench sending the same SQL.
func requestsBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Tenant-scoped requests"
	spread := e.Scale.Spreads[0]
	fail := func(err error) []Row { return []Row{{Group: group, What: "requests", Err: err}} }
	f, err := requestFixture(ctx, e, spread)
	if err != nil {
		return fail(err)
	}
	secs := (e.Scale.Warmup + e.Scale.Duration).Seconds()
	if err := f.seedWrites(ctx, int(pendingRate*secs)); err != nil {
		return fail(err)
	}
	srv, stop, err := startAPIServer(ctx, f.url)
	if err != nil {
		return fail(err)
	}
	defer stop()

	var rows []Row
	for _, req := range requests {
		ours := f.loadAPI(ctx, e, srv, req, spread)
		floor := f.loadPgbench(ctx, e, req, spread)
		where := fmt.Sprintf("%d tenants", spread)
		if req.write {
			where = fmt.Sprintf("%d tenants", len(f.writes))
		}
		row := Row{Group: group, What: fmt.Sprintf("%s; %d connections, %s", req.what, e.Scale.Conns, where),
			Ours: Figure{ours.r.RPS(), "req/s"}, Floor: Figure{floor.r.RPS(), "tx/s"},
			Note: "ours " + ours.String() + "; pgbench " + floor.String()}
		if req.name == "list" {
			row.Target = RatioAtLeast(0.4)
		}
		row.Err = errors.Join(ours.err, floor.err)
		rows = append(rows, row)
		if req.name == "list" {
			rows = append(rows, Row{Group: group, What: fmt.Sprintf("list p99; %d connections", e.Scale.Conns),
				Ours: Figure{float64(ours.r.Percentile(0.99)) / 1e6, "ms"}, Floor: Figure{float64(floor.r.Percentile(0.99)) / 1e6, "ms"},
				Target: AtMost(5, "ms"), Err: ours.err,
				Note: fmt.Sprintf("the floor is pgbench's own p99 for the same SQL: %d closed-loop clients on %d cores share the CPUs with PostgreSQL (and, on our side, the server and the load generator), so a request's latency is mostly its turn: about connections / throughput",
					e.Scale.Conns, runtime.NumCPU())})
		}
	}
	return rows
}
