package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// request is a kind of request: the API calls of its load (see wrkLoad),
// the pgbench script that sends PostgreSQL the same SQL statements in the
// same round trips, one transaction per request, and pgbench-single's,
// which sends the minimal service's one statement.
type request struct {
	name, what string
	// write: the request creates or consumes rows, on the write centers;
	// its calls k = from..to-1 are each sent once, so that the warm-up and
	// the measured load each have their own. A read's calls cover f's first
	// spread read centers and are sent at random.
	write  bool
	calls  func(f *fixture, spread, from, to int) []apiCall
	script string
	// single is pgbench-single's script over f's first spread read
	// centers, or its write centers (see singleScript).
	single func(f *fixture, spread int) string
	// headers go on every call ("Name: value"): the console's cookie.
	headers []string
	// tenant: script names a tenant's tables unqualified; pgbench
	// connects with the search_path pgbenchSession.
	tenant bool
}

// The SQL of the product, as pgbench sends it: pkg/domain's and package
// tenancy's text, with pgbench's variables for the parameters the product
// takes from the request (a page's limit, a new sample's fields) and, for
// those it takes from the token, the center or the sample, a lookup of
// the one pgbench picked (:n, :s, :k) in the bench_* tables inside the
// same statement (key), so that the floor spends no round trip the API
// does not. What the product sends in one batch, a pipeline with one
// Sync, pgbench sends in one pipeline. The token's own statement
// (Tokens.Authenticate) is not sent: the product sends it once a minute
// per token (Tokens.Principal), in the steady state never.
const (
	sampleCols = "id, name, description, sample_type, status, barcode, user_id, metadata, is_active, created_at, updated_at, created_by, updated_by"
	// centerCheck and listPage end where their parameters start.
	centerCheck = "SELECT is_active, settings FROM public.centers WHERE id = "
	listPage    = "SELECT " + sampleCols + ", (SELECT count(*) FROM samples WHERE true AND is_active) FROM samples WHERE true AND is_active ORDER BY created_at DESC, id DESC LIMIT "
)

// key is column col of the picked center's row of bench_keys (:n), as a
// statement's parameter.
func key(col string) string { return "(SELECT " + col + " FROM public.bench_keys WHERE n = :n)" }

// pgSwitch is tenancy.Manager.InTenantBatch's schema switch, after the
// statements of the registry (the guard's, the create's membership's).
var pgSwitch = "SELECT set_config('search_path', " + key("schema") + ", true)"

// pgGuard is domain's guardCenterSQL: the token's user, if the token is
// still valid, and the center, in one row.
var pgGuard = `SELECT g.role, g.center_id, g.is_superuser, c.is_active, c.settings
FROM (SELECT) one
LEFT JOIN (SELECT u.role, u.center_id, u.is_superuser
	FROM public.api_tokens t
	JOIN public.users u ON u.id = t.user_id
	LEFT JOIN public.centers c ON c.id = u.center_id
	WHERE t.token_hash = ` + key("token_hash") + ` AND t.is_active AND (t.expires_at IS NULL OR t.expires_at > now())
		AND u.is_active AND (u.is_superuser OR c.is_active)) g ON true
LEFT JOIN public.centers c ON c.id = ` + key("center")

// pgRead is a read's script, one round trip: pick (\set lines), then in
// one pipeline the read-only setting of PostgreSQL's implicit
// transaction, the guard, the switch and read, as Samples' reads send
// them (Store.inCenter with nothing after its first batch).
func pgRead(pick, read string) string {
	return pick + pipeline("SELECT set_config('transaction_read_only', 'on', true)", pgGuard, pgSwitch, read)
}

// pgWrite is a write's script, two round trips: pick, then BEGIN, the
// guard, outside (a statement of the registry, or none), the switch and
// first (a tenant's, or none) in one pipeline; then last and COMMIT in
// another, or COMMIT alone if last is empty.
func pgWrite(pick, outside, first, last string) string {
	s := pick + pipeline("BEGIN", pgGuard, outside, pgSwitch, first)
	if last == "" {
		return s + "COMMIT;\n"
	}
	return s + pipeline(last, "COMMIT")
}

// pipeline is a pgbench pipeline of the statements that are not empty.
func pipeline(stmts ...string) string {
	s := "\\startpipeline\n"
	for _, stmt := range stmts {
		if stmt != "" {
			s += stmt + ";\n"
		}
	}
	return s + "\\endpipeline\n"
}

// pgbench's choice of center and sample.
var (
	pickRead   = "\\set n random(0, :spread - 1)\n"
	pickSample = pickRead + fmt.Sprintf("\\set s random(0, %d)\n", samplesPerCenter-1)
)

// pgbenchSession is the search_path of the floor's connections: a
// tenant's schema, since pgbench -M prepared prepares a pipeline's
// statements before it sends the pipeline, so before its switch, and an
// unqualified tenant statement prepared against the server's default
// search_path fails ("relation does not exist"). Prepared against one
// tenant's tables, it is prepared once per connection, and PostgreSQL
// re-plans it for whichever tenant the switch then names, since the
// search_path differs from the one it was planned with: as the product's,
// which InTenantBatch prepares once per connection inside the first
// tenant it meets. pgbench's other statements name their schema.
func (f *fixture) pgbenchSession() string { return pgx.Identifier{f.reads[0].schema}.Sanitize() }

// singleScript is a pgbench-single script: pick (\set lines choosing
// center :on among cs, and the request's other variables), then the
// statement stmt(table) of the chosen center's table. Each center has a
// branch of its own with its table in the text, so that pgbench prepares
// each center's statement once per connection, as pgx does the minimal
// service's schema-qualified statements.
func singleScript(pick, on string, cs []benchCenter, stmt func(table string) string) string {
	var b strings.Builder
	b.WriteString(pick)
	for i, c := range cs {
		kw := "\\elif"
		if i == 0 {
			kw = "\\if"
		}
		fmt.Fprintf(&b, "%s :%s = %d\n%s;\n", kw, on, i, stmt(samplesTable(c.id)))
	}
	b.WriteString("\\endif\n")
	return b.String()
}

// singleReads is a read's pgbench-single script over f's first spread
// read centers, center :n.
func singleReads(pick string, stmt func(table string) string) func(f *fixture, spread int) string {
	return func(f *fixture, spread int) string { return singleScript(pick, "n", f.reads[:spread], stmt) }
}

// samplesPath is the path of c's samples, with rest after it.
func samplesPath(c benchCenter, rest string) string {
	return "/api/centers/" + c.id.String() + "/samples/" + rest
}

// eachSample makes a read's calls: path(c, i) of every sample i of each
// of f's first spread read centers.
func eachSample(path func(c benchCenter, i int) string) func(f *fixture, spread, _, _ int) []apiCall {
	return func(f *fixture, spread, _, _ int) []apiCall {
		var calls []apiCall
		for _, c := range f.reads[:spread] {
			for i := range c.samples {
				calls = append(calls, apiCall{"GET", path(c, i), c.token, ""})
			}
		}
		return calls
	}
}

var requests = []request{{
	name: "list", tenant: true, what: "list: GET …/samples/?limit=20 (20 of 100 rows)",
	calls: func(f *fixture, spread, _, _ int) []apiCall {
		calls := make([]apiCall, spread)
		for i, c := range f.reads[:spread] {
			calls[i] = apiCall{"GET", samplesPath(c, "?limit=20"), c.token, ""}
		}
		return calls
	},
	script: pgRead(pickRead, listPage+":limit OFFSET :offset"),
	single: singleReads(pickRead, func(table string) string { return singleList(table, ":limit", ":offset") }),
}, {
	name: "get", tenant: true, what: "get by id: GET …/samples/{id}/",
	calls:  eachSample(func(c benchCenter, i int) string { return samplesPath(c, c.samples[i].String()+"/") }),
	script: pgRead(pickSample, "SELECT "+sampleCols+" FROM samples WHERE id = (SELECT sample FROM public.bench_samples WHERE n = :n AND s = :s)"),
	// pgbench knows no sample ids: it reads the one it picked in the same
	// statement, a primary-key lookup in bench_samples more than the
	// minimal service's.
	single: singleReads(pickSample, func(table string) string {
		return singleGet(table, "id", "(SELECT sample FROM public.bench_samples WHERE n = :n AND s = :s)")
	}),
}, {
	name: "barcode", tenant: true, what: "get by barcode: GET …/samples/by_barcode/{barcode}/",
	calls: eachSample(func(c benchCenter, i int) string { return samplesPath(c, "by_barcode/"+barcodeOf(i)+"/") }),
	// Sample s's barcode is barcodeOf(s).
	script: pgRead(pickSample, "SELECT "+sampleCols+" FROM samples WHERE barcode = 'B-' || :s"),
	single: singleReads(pickSample, func(table string) string { return singleGet(table, "barcode", "'B-' || :s") }),
}, {
	name: "create", what: "create: POST …/samples/", write: true, tenant: true,
	calls: func(f *fixture, _, from, to int) []apiCall {
		var calls []apiCall
		for k := from; k < to; k++ {
			c := f.writes[k%len(f.writes)]
			body := `{"name": "bench", "description": "", "sample_type": "blood", "barcode": "api-` + strconv.Itoa(k) + `", "metadata": {}}`
			calls = append(calls, apiCall{"POST", samplesPath(c, ""), c.token, body})
		}
		return calls
	},
	// The token's member creates the sample and is its user. The empty
	// description is a literal: pgbench takes no empty variable.
	script: pgWrite(fmt.Sprintf("\\set n %d + random(0, %d)\n\\set barcode (:client_id + 1) * 1000000000 + :i\n\\set i :i + 1\n", writeKeyBase, writeCenters-1),
		"SELECT center_id IS NOT DISTINCT FROM "+key("center")+", is_active FROM public.users WHERE id = "+key("member")+" FOR SHARE", "",
		"INSERT INTO samples (name, description, sample_type, barcode, user_id, metadata, created_by, updated_by)\n"+
			"VALUES (:name, '', :type, :barcode, "+key("member")+", :meta, "+key("member")+", "+key("member")+")\nRETURNING "+sampleCols),
	// Barcodes past the floor's, in write center :w (its id :center<w>,
	// singleVars).
	single: func(f *fixture, _ int) string {
		pick := fmt.Sprintf("\\set w random(0, %d)\n\\set barcode (:client_id + 1) * 1000000000 + 500000000 + :i\n\\set i :i + 1\n", writeCenters-1)
		var w int
		return singleScript(pick, "w", f.writes, func(table string) string {
			w++
			return singleCreate(table, ":name", "''", ":type", ":barcode", ":meta", fmt.Sprintf(":center%d", w-1))
		})
	},
}, {
	name: "transition", what: "transition: POST …/samples/{id}/process/ (pending→processing)", write: true, tenant: true,
	// Pending sample k is in write center k % writeCenters (seedWrites).
	calls: func(f *fixture, _, from, to int) []apiCall {
		var calls []apiCall
		for k, id := range f.pending[0][from:min(to, len(f.pending[0]))] {
			c := f.writes[(from+k)%len(f.writes)]
			calls = append(calls, apiCall{"POST", samplesPath(c, id.String()+"/process/"), c.token, ""})
		}
		return calls
	},
	// Pending sample k is in write center k % writeCenters, key n
	// writeKeyBase + k % writeCenters (seedWrites).
	script: pgWrite(fmt.Sprintf("\\set k (:client_id + :clients * :i) %% :pending\n\\set i :i + 1\n\\set n %d + :k %% %d\n", writeKeyBase, writeCenters), "",
		"UPDATE samples SET status = :to, updated_by = "+key("member")+" WHERE id = (SELECT sample FROM public.bench_pending WHERE k = :k) AND status = ANY(:from) AND (is_active OR NOT :active_only) RETURNING "+sampleCols, ""),
	// The pending samples :pending and on, past the floor's; pending
	// sample k is in write center k % writeCenters, and pgbench reads its
	// id in the same statement, as get's does.
	single: func(f *fixture, _ int) string {
		pick := fmt.Sprintf("\\set k :pending + (:client_id + :clients * :i) %% :pending\n\\set i :i + 1\n\\set w :k %% %d\n", writeCenters)
		return singleScript(pick, "w", f.writes, func(table string) string {
			return singleProcess(table, "(SELECT sample FROM public.bench_pending WHERE k = :k)")
		})
	},
}}

// singleVars are pgbench-single's variables besides pgbenchVars: the
// write centers' ids, center0….
func (f *fixture) singleVars() map[string]string {
	vars := map[string]string{}
	for i, c := range f.writes {
		vars[fmt.Sprintf("center%d", i)] = c.id.String()
	}
	return vars
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

// measured is one side of a comparison: what a load measured, what
// PostgreSQL did for it per request and, for the API, the server's and
// wrk's CPU time per request.
type measured struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	pgWork
	cpu, wrk time.Duration
	err      error
}

// pgWork is what PostgreSQL did per request, by pg_stat_statements (with
// track_planning): the statements, besides BEGIN and COMMIT, the plans it
// made of them, and the time it spent planning and executing them.
type pgWork struct {
	stmts, plans float64
	planned, ran time.Duration
}

// fromLatencies measures the requests of latencies, answered in elapsed.
func fromLatencies(latencies []time.Duration, elapsed time.Duration) measured {
	slices.Sort(latencies)
	// nearest rank
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(int(math.Ceil(p*float64(len(latencies))))-1, len(latencies)-1)]
	}
	return measured{requests: len(latencies), elapsed: elapsed, p50: pct(0.5), p99: pct(0.99)}
}

// rps is the requests answered per second.
func (m measured) rps() float64 {
	if m.elapsed <= 0 {
		return 0
	}
	return float64(m.requests) / m.elapsed.Seconds()
}

func (m measured) String() string {
	if m.err != nil {
		return "error: " + m.err.Error()
	}
	s := fmt.Sprintf("%.0f/s, p50 %s, p99 %s", m.rps(), fmtMS(m.p50), fmtMS(m.p99))
	if m.stmts > 0 {
		s += fmt.Sprintf(", %.1f statements/request besides BEGIN and COMMIT, %.2f plans/request, PostgreSQL %d µs planning and %d µs executing per request",
			m.stmts, m.plans, m.planned.Microseconds(), m.ran.Microseconds())
	}
	if m.cpu > 0 {
		s += fmt.Sprintf(", server CPU %d µs/request", m.cpu.Microseconds())
	}
	if m.wrk > 0 {
		s += fmt.Sprintf(", wrk CPU %d µs/request", m.wrk.Microseconds())
	}
	return s
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// msFigure is d in milliseconds.
func msFigure(d time.Duration) Figure { return Figure{float64(d) / 1e6, "ms"} }

// loadAPI runs req's load against srv with wrk, spread over spread read
// centers, after a warm-up, and counts the SQL statements and the server's
// CPU time of the measured part.
func (f *fixture) loadAPI(ctx context.Context, e *Env, srv *server, req request, spread int) measured {
	return f.loadFrom(ctx, e, srv, req, spread, 0)
}

// loadFrom is loadAPI with a write's calls numbered from first: a second
// service's load (the minimal one's) creates and consumes samples of its
// own.
func (f *fixture) loadFrom(ctx context.Context, e *Env, srv *server, req request, spread, first int) measured {
	sc := e.Scale
	warm, end := first+int(pendingRate*sc.Warmup.Seconds()), first+int(pendingRate*(sc.Warmup+sc.Duration).Seconds())
	if _, err := wrkLoad(ctx, srv.base, req.calls(f, spread, first, warm), req.write, sc.Conns, sc.Warmup, req.headers...); err != nil {
		return measured{err: fmt.Errorf("warm-up: %w", err)}
	}
	if err := f.resetStatements(ctx); err != nil {
		return measured{err: err}
	}
	cpu0, err := srv.cpuTime()
	if err != nil {
		return measured{err: err}
	}
	m, err := wrkLoad(ctx, srv.base, req.calls(f, spread, warm, end), req.write, sc.Conns, sc.Duration, req.headers...)
	if err != nil {
		return measured{err: err}
	}
	cpu1, err := srv.cpuTime()
	if err != nil {
		return measured{err: err}
	}
	if m.requests > 0 {
		m.cpu = (cpu1 - cpu0) / time.Duration(m.requests)
	}
	m.pgWork, m.err = f.statementsPer(ctx, int64(m.requests))
	return m
}

// loadPgbench runs req's floor, spread as loadAPI's; the list's with
// walk set starts each client with a walk over every center of the spread
// (walkScript), given about walkTime; load.vars add to pgbenchVars.
func (f *fixture) loadPgbench(ctx context.Context, e *Env, req request, spread int, load pgbenchLoad) measured {
	if load.script == "" {
		load.script = req.script
	}
	if err := f.resetStatements(ctx); err != nil {
		return measured{err: err}
	}
	// Half the pending samples for the floor, half for pgbench-single.
	pending := len(f.pending[1]) / 2
	vars := pgbenchVars(spread, e.Scale.Conns, pending)
	maps.Copy(vars, load.vars)
	load.vars = vars
	if req.tenant && load.session == "" {
		load.session = f.pgbenchSession()
	}
	m, total, err := e.runPgbench(ctx, f.url, load)
	if err != nil {
		return measured{err: err}
	}
	m.pgWork, m.err = f.statementsPer(ctx, int64(total))
	if req.name == "transition" && total > pending {
		m.err = fmt.Errorf("pgbench ran %d transitions, more than the %d pending samples", total, pending)
	}
	return m
}

func (f *fixture) resetStatements(ctx context.Context) error {
	if _, err := f.pool.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return fmt.Errorf("bench: reset pg_stat_statements: %w", err)
	}
	return nil
}

// statementsOfRun selects from pg_stat_statements the statements a load
// ran in the bench database, but BEGIN and COMMIT and the harness's own
// reads of the extension.
const statementsOfRun = `FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND query NOT LIKE '%pg_stat_statements%' AND query !~* '^\s*(begin|commit)'`

// statementsPer returns what PostgreSQL did in the bench database since
// the last reset, per request of n. BEGIN and COMMIT are left out: the
// extension does not see pgbench's, which travel as prepared statements.
// A prepared statement's generic plan is made once and reused: a plan per
// call is a custom plan, or one made again because the statement's
// search_path changed.
func (f *fixture) statementsPer(ctx context.Context, n int64) (pgWork, error) {
	if n == 0 {
		return pgWork{}, nil
	}
	var calls, plans int64
	var planMS, execMS float64
	err := f.pool.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(plans), 0)::bigint,
	coalesce(sum(total_plan_time), 0), coalesce(sum(total_exec_time), 0) `+statementsOfRun).Scan(&calls, &plans, &planMS, &execMS)
	if err != nil {
		return pgWork{}, fmt.Errorf("bench: read pg_stat_statements: %w", err)
	}
	per := func(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond) / float64(n)) }
	return pgWork{stmts: float64(calls) / float64(n), plans: float64(plans) / float64(n), planned: per(planMS), ran: per(execMS)}, nil
}

// floorNote says how the throughput rows' pgbench sends the product's SQL.
const floorNote = "pgbench sends the product's statements in the product's round trips (the round-trip rows below count both): a read's schema switch, guard with center check and query in one pipeline, " +
	"a write's BEGIN, switch, guard and first statement in one, then its INSERT and COMMIT in another or COMMIT alone; the center, token and sample it picks are looked up in bench_* tables inside those statements. " +
	"-M prepared, its connections' search_path a read center's schema: pgbench prepares a pipeline's statements before sending it, so before the switch, where an unqualified tenant statement would not resolve; " +
	"PostgreSQL then re-plans each for the tenant the switch names, as it does the product's, which pgx prepares once per connection inside a tenant"

// requestsBenchmark loads the API server (Serve) with each kind of request,
// spread over the smallest spread's centers, beside pgbench sending the
// same SQL, the minimal service (Minimal) answering the same calls with
// one statement each, and pgbench-single sending that statement; then
// counts the round trips to PostgreSQL of each (tripRows).
func requestsBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Tenant-scoped requests"
	spread := e.Scale.Spreads[0]
	fail := func(err error) []Row { return []Row{{Group: group, What: "requests", Err: err}} }
	f, err := requestFixture(ctx, e, spread)
	if err != nil {
		return fail(err)
	}
	// Each side's writes, the API's and the minimal service's, pgbench's
	// and pgbench-single's, have perSide pending samples of their own.
	// The round trips' counted calls come after them (tripRows).
	perSide := int(pendingRate * (e.Scale.Warmup + e.Scale.Duration).Seconds())
	if err := f.seedWrites(ctx, 2*perSide+tripsWarm+tripsCounted); err != nil {
		return fail(err)
	}
	srv, err := startServer(ctx, f.url, "")
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	least, err := startChild(ctx, "minimal", f.url)
	if err != nil {
		return fail(err)
	}
	defer least.stop()

	var rows []Row
	var cpu []string
	var cpuRow Row
	for _, req := range requests {
		ours := f.loadAPI(ctx, e, srv, req, spread)
		floor := f.loadPgbench(ctx, e, req, spread, pgbenchLoad{})
		minimal := f.loadFrom(ctx, e, least, req, spread, perSide)
		single := f.loadPgbench(ctx, e, req, spread, pgbenchLoad{script: req.single(f, spread), vars: f.singleVars()})
		where := fmt.Sprintf("%d tenants", spread)
		if req.write {
			where = fmt.Sprintf("%d tenants", len(f.writes))
		}
		row := Row{Group: group, What: fmt.Sprintf("%s; %d connections, %s", req.what, e.Scale.Conns, where),
			Ours: Figure{ours.rps(), "req/s"}, Floor: Figure{floor.rps(), "tx/s"},
			Note: "ours " + ours.String() + "; pgbench " + floor.String() + "; " + floorNote, Err: errors.Join(ours.err, floor.err)}
		// A few requests in flight when a load ends are counted in its
		// statements and not in its requests: a few hundredths.
		if d := ours.stmts - floor.stmts; row.Err == nil && math.Abs(d) > 0.25 {
			row.Err = fmt.Errorf("bench: ours sent %.2f statements per request, pgbench %.2f: the floor no longer sends the product's SQL", ours.stmts, floor.stmts)
		}
		rows = append(rows, row)
		if req.name == "list" {
			rows[len(rows)-1].Target = RatioAtLeast(0.4)
			rows = append(rows, Row{Group: group, What: fmt.Sprintf("list p99; %d connections", e.Scale.Conns),
				Ours: msFigure(ours.p99), Floor: msFigure(floor.p99), Target: AtMost(5, "ms"), Err: ours.err,
				Note: fmt.Sprintf("the floor is pgbench's own p99 for the same SQL: %d closed-loop clients on %d cores share the CPUs with PostgreSQL (and, on our side, the server and wrk), so a request's latency is mostly its turn: about connections / throughput",
					e.Scale.Conns, runtime.NumCPU())})
			rows = append(rows, Row{Group: group, What: fmt.Sprintf("list p99 ÷ p50; %d connections", e.Scale.Conns),
				Ours: msFigure(ours.p99), Floor: msFigure(ours.p50), Target: RatioAtMost(3), Err: ours.err,
				Note: "ours, both of the list load above: how far the slowest requests stray from the typical one, a ratio that holds on a slower or faster machine where the p99 itself does not; pgbench's for the same SQL: " + fmtMS(floor.p99) + " ÷ " + fmtMS(floor.p50)})
		}
		name, _, _ := strings.Cut(req.what, ":")
		target := RatioAtLeast(0.8)
		if req.write {
			target = RatioAtLeast(0.7)
		}
		rows = append(rows, Row{Group: group, What: name + " ÷ the minimal service (the same calls by wrk, one statement each, no authentication, tenancy or logging)",
			Ours: Figure{ours.rps(), "req/s"}, Floor: Figure{minimal.rps(), "req/s"}, Target: target,
			Note: "minimal service " + minimal.String(), Err: errors.Join(ours.err, minimal.err)},
			Row{Group: group, What: name + " ÷ pgbench-single (the minimal service's one statement, " + strconv.Itoa(e.Scale.Conns) + " clients)",
				Ours: Figure{ours.rps(), "req/s"}, Floor: Figure{single.rps(), "tx/s"},
				Note: "pgbench-single " + single.String(), Err: errors.Join(ours.err, single.err)})
		cpu = append(cpu, fmt.Sprintf("%s: wrk %d µs, minimal service %d µs", name, minimal.wrk.Microseconds(), minimal.cpu.Microseconds()))
		if req.name == "list" {
			cpuRow = Row{Group: group, What: "wrk's CPU per request ÷ the minimal service's, list",
				Ours: Figure{float64(minimal.wrk) / 1e3, "µs CPU/request"}, Floor: Figure{float64(minimal.cpu) / 1e3, "µs CPU/request"},
				Target: RatioAtMost(1), Err: minimal.err}
		}
	}
	cpuRow.Note = "the load generator must cost less than the server it measures, since wrk, the server and PostgreSQL share " +
		strconv.Itoa(runtime.NumCPU()) + " cores; under each load of the minimal service: " + strings.Join(cpu, "; ")
	rows = append(rows, cpuRow)
	return append(rows, f.tripRows(ctx, e, spread, 2*perSide)...)
}

// tripReads are the API's reads besides the requests' kinds, measured for
// their round trips only: path is the read of center c's, as its member.
var tripReads = []struct {
	what string
	path func(c benchCenter) string
}{
	{"centers list: GET /api/centers/", func(benchCenter) string { return "/api/centers/" }},
	{"center: GET /api/centers/{id}/", func(c benchCenter) string { return "/api/centers/" + c.id.String() + "/" }},
	{"center stats: GET /api/centers/{id}/stats/", func(c benchCenter) string { return "/api/centers/" + c.id.String() + "/stats/" }},
	{"users list: GET /api/users/", func(benchCenter) string { return "/api/users/" }},
	{"user: GET /api/users/{id}/", func(c benchCenter) string { return "/api/users/" + c.user.String() + "/" }},
	{"samples by status: GET …/samples/by_status/pending/", func(c benchCenter) string { return samplesPath(c, "by_status/pending/") }},
}

// tripRows counts the round trips to PostgreSQL of each kind of request
// and of tripReads, through a relay (tripCounter) and a second API server
// on it, both started after the loads so that they cost the loads
// nothing; and pgbench's per transaction of each request's script. A
// read's calls are its load's over spread read centers, in turn; a
// write's are its load's numbered from first on, which no load sends.
func (f *fixture) tripRows(ctx context.Context, e *Env, spread, first int) []Row {
	const (
		group = "Round trips to PostgreSQL per request"
		unit  = "round trips"
	)
	fail := func(err error) []Row { return []Row{{Group: group, What: "round trips per request", Err: err}} }
	relay, counted, err := startCounted(ctx, f.url)
	if err != nil {
		return fail(err)
	}
	defer relay.close()
	defer counted.stop()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	perCall := func(calls []apiCall) (float64, error) {
		return relay.perCall(func(i int) error { return sendCall(ctx, client, counted.base, calls[i%len(calls)]) })
	}
	how := fmt.Sprintf("Counted by a TCP relay between a second apiserver and PostgreSQL (a round trip: the server sending after PostgreSQL last answered it), "+
		"%d calls one after another after %d more, so that the server's pool is connected and pgx's statement cache warm: the steady state; the loads above go direct. "+
		"A read's calls are its load's, over the read centers in turn; a write's are new ones, past the loads' barcodes and pending samples. ", tripsCounted, tripsWarm)
	var rows []Row
	// pgbench's share of the pending samples is loadPgbench's: the floor
	// took those from 0 on, and the count takes the last ones.
	pending := len(f.pending[1]) / 2
	for _, req := range requests {
		row := Row{Group: group, What: req.what + ": round trips per request", Floor: Figure{1, unit}, Target: AtMost(1, unit)}
		calls := req.calls(f, spread, 0, 0)
		vars := pgbenchVars(spread, 1, pending)
		if req.write {
			row.Target = AtMost(2, unit)
			calls = req.calls(f, spread, first, first+tripsWarm+tripsCounted)
			if len(calls) < tripsWarm+tripsCounted {
				row.Err = fmt.Errorf("bench: %d calls of %s past the loads', want %d", len(calls), req.name, tripsWarm+tripsCounted)
				rows = append(rows, row)
				continue
			}
			// Barcodes 1,400,000,000 on (client 0's), past the floor's
			// and short of pgbench-single's; and the floor's last pending
			// samples, with one client.
			vars["i"] = "400000000"
			if req.name == "transition" {
				vars["i"] = strconv.Itoa(pending - tripsCounted - 2)
			}
		}
		ours, err := perCall(calls)
		floor, err2 := relay.perPgbench(ctx, e, req.script, vars, f.pgbenchSession())
		row.Ours, row.Err = Figure{ours, unit}, errors.Join(err, err2)
		floorIs := "The floor is one round trip, the least a read can take"
		if req.write {
			// A write's least depends on what it must read before it
			// writes; what pgbench sends is at least what the
			// throughput rows compare with.
			row.Floor, floorIs = Figure{floor, unit}, "The floor is pgbench's"
		}
		row.Note = fmt.Sprintf("%s; pgbench's script of the same SQL (the floor of the throughput rows above), through the relay: %.2f round trips per transaction (runs of %d and 1 transactions, differenced, so that connecting and preparing are left out)",
			floorIs, floor, tripsCounted+1)
		rows = append(rows, row)
	}
	for _, r := range tripReads {
		calls := make([]apiCall, spread)
		for i, c := range f.reads[:spread] {
			calls[i] = apiCall{"GET", r.path(c), c.token, ""}
		}
		ours, err := perCall(calls)
		rows = append(rows, Row{Group: group, What: r.what + ": round trips per request, as a center's member", Ours: Figure{ours, unit},
			Floor: Figure{1, unit}, Target: AtMost(1, unit), Err: err, Note: fmt.Sprintf("The floor is one round trip, the least a read can take; the calls go to the members of %d read centers in turn", spread)})
	}
	rows[0].Note = how + rows[0].Note
	return rows
}

// sendCall sends c to the server at base and reads the answer, which
// must be a success.
func sendCall(ctx context.Context, client *http.Client, base string, c apiCall) error {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, base+c.path, body)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", c.method, c.path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", c.method, c.path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bench: %s %s: status %d: %s", c.method, c.path, resp.StatusCode, lastLine(string(answer)))
	}
	return nil
}
