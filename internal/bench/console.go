package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// The console's centers list as the benchmark asks for it: pkg/admin's
// page size and session cookie, and apiserver's --session-idle default,
// which the page passes to Sessions.Authenticate.
const (
	consolePageSize = 50
	consoleCookie   = "tenantctl_session"
	consoleIdle     = time.Hour
)

// tripsCounted is how many calls (pages, requests, pgbench transactions)
// a side sends one after another through the round-trip counter, after
// tripsWarm more.
const tripsCounted, tripsWarm = 200, 10

// consolePage is a page of GET /admin/centers/: its query and the
// domain.ListOptions the page builds from it for a superuser (pkg/admin's
// centerList: every center, soft-deleted ones included).
type consolePage struct {
	name  string
	query url.Values
	opts  domain.ListOptions
}

func (p consolePage) path() string {
	if len(p.query) == 0 {
		return "/admin/centers/"
	}
	return "/admin/centers/?" + p.query.Encode()
}

// consolePages are the pages measured over a list of centers: the first,
// one in the middle, a search and another ordering.
func consolePages(centers int) []consolePage {
	mid := centers / 2 / consolePageSize * consolePageSize
	pages := []consolePage{
		{"first page", url.Values{}, domain.ListOptions{}},
		{fmt.Sprintf("middle page (offset=%d)", mid), url.Values{"offset": {strconv.Itoa(mid)}}, domain.ListOptions{Offset: mid}},
		{"search=42", url.Values{"search": {"42"}}, domain.ListOptions{Search: "42"}},
		{"ordering=-created_at", url.Values{"ordering": {"-created_at"}}, domain.ListOptions{Ordering: "-created_at"}},
	}
	for i := range pages {
		pages[i].opts.Limit, pages[i].opts.IncludeInactive = consolePageSize, true
	}
	return pages
}

// consoleBenchmark loads the console's centers list, signed in as a
// superuser, over the request fixture's centers (as many as the scale
// benchmark's largest spread), page by page, beside pgbench sending the
// statements the page's domain calls send, captured from them; and counts
// each side's round trips to PostgreSQL through a relay.
func consoleBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Admin console"
	fail := func(err error) []Row { return []Row{{Group: group, What: "centers page", Err: err}} }
	f, err := requestFixture(ctx, e, slices.Max(e.Scale.Spreads))
	if err != nil {
		return fail(err)
	}
	var centers int
	if err := f.pool.QueryRow(ctx, "SELECT count(*) FROM public.centers").Scan(&centers); err != nil {
		return fail(fmt.Errorf("bench: count centers: %w", err))
	}
	var rec sqlRecorder
	pool, m, err := newManager(ctx, f.url, 1, false, func(c *pgxpool.Config) { c.ConnConfig.Tracer = &rec })
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	st := domain.New(pool, m)
	u, err := st.Users.Create(ctx, domain.System, domain.UserInput{Username: "console-bench", Email: "console-bench@example.com", IsSuperuser: true})
	if err != nil {
		return fail(fmt.Errorf("bench: create the console's superuser: %w", err))
	}
	// As POST /admin/login/ does once the password is checked.
	_, secret, err := st.Sessions.Create(ctx, u.ID, 24*time.Hour)
	if err != nil {
		return fail(fmt.Errorf("bench: sign in: %w", err))
	}
	cookie := consoleCookie + "=" + secret
	srv, err := startServer(ctx, f.url, "")
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	relay, counted, err := startCounted(ctx, f.url)
	if err != nil {
		return fail(err)
	}
	defer relay.close()
	defer counted.stop()

	var rows []Row
	var trips, floorTrips []float64
	var cpu []string
	for _, p := range consolePages(centers) {
		what := fmt.Sprintf("centers page, %s: p50; %d centers, %d a page, %d connections", p.name, centers, consolePageSize, e.Scale.Conns)
		stmts, err := rec.capture(func() error {
			if _, _, err := st.Sessions.Authenticate(ctx, secret, consoleIdle); err != nil {
				return err
			}
			_, _, err := st.Centers.List(ctx, p.opts)
			return err
		})
		if err != nil {
			return append(rows, Row{Group: group, What: what, Err: err})
		}
		script, vars, err := pgbenchScript(stmts)
		if err != nil {
			return append(rows, Row{Group: group, What: what, Err: err})
		}
		req := request{name: "console", script: script, headers: []string{"Cookie: " + cookie},
			calls: func(*fixture, int, int, int) []apiCall { return []apiCall{{"GET", p.path(), "", ""}} }}
		size, err := getConsolePage(ctx, srv.base+p.path(), cookie)
		if err != nil {
			return append(rows, Row{Group: group, What: what, Err: err})
		}
		ours := f.loadAPI(ctx, e, srv, req, 0)
		oursRun, err1 := f.statementsRun(ctx)
		floor := f.loadPgbench(ctx, e, req, 0, pgbenchLoad{vars: vars})
		floorRun, err2 := f.statementsRun(ctx)
		err = errors.Join(ours.err, floor.err, err1, err2)
		if err == nil && !slices.Equal(oursRun, floorRun) {
			err = fmt.Errorf("bench: the page ran %q, pgbench %q", oursRun, floorRun)
		}
		t, err1 := relay.perCall(func(int) error {
			_, err := getConsolePage(ctx, counted.base+p.path(), cookie)
			return err
		})
		ft, err2 := relay.perPgbench(ctx, e, script, vars, "")
		trips, floorTrips = append(trips, t), append(floorTrips, ft)
		cpu = append(cpu, fmt.Sprintf("%d µs (%s)", ours.cpu.Microseconds(), p.name))
		rows = append(rows, Row{Group: group, What: what, Ours: msFigure(ours.p50), Floor: msFigure(floor.p50),
			Note: fmt.Sprintf("ours %s; pgbench %s; round trips to PostgreSQL per page: ours %.2f, pgbench %.2f; the page is %d bytes of HTML",
				ours, floor, t, ft, size),
			Err: errors.Join(err, err1, err2)})
	}
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	rows = append(rows, Row{Group: group, What: fmt.Sprintf("centers page: round trips to PostgreSQL per page, mean of the %d pages above", len(trips)),
		Ours: Figure{mean(trips), "round trips"}, Floor: Figure{mean(floorTrips), "round trips"},
		Note: fmt.Sprintf("Counted by a TCP relay between each side and PostgreSQL (a round trip: the client sending after PostgreSQL last answered it), %d pages one after another after %d more, through a second apiserver on the relay (the loads above go direct); pgbench's per transaction is runs of %d and 1 transactions through the relay, differenced, so that connecting and preparing are left out. "+
			"The floor is what the page's domain calls send (Sessions.Authenticate, then Centers.List with the page's options), captured by a pgx tracer and replayed by pgbench -M prepared, two statements outside a transaction, each its own round trip; the page is checked to run the same statements with the same rows per call (pg_stat_statements, parameters aside). "+
			"Beyond the floor the page costs the HTTP exchange, routing and the access log, parsing the query, and rendering 50 rows into HTML: apiserver CPU per page %s, which the floor does not spend.",
			tripsCounted, tripsWarm, tripsCounted+1, strings.Join(cpu, ", "))})
	return rows
}

// getConsolePage asks for a console page with cookie, without following
// redirects (a lost session is a 303 to the sign-in page), and returns
// its size; anything but the list of centers is an error.
func getConsolePage(ctx context.Context, u, cookie string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	req.Header.Set("Cookie", cookie)
	client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("bench: GET %s: %w", req.URL.RequestURI(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("bench: GET %s: %w", req.URL.RequestURI(), err)
	}
	// Every center of the fixture is "Read center 0…" or "Write center 0…".
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(" center 0")) {
		return 0, fmt.Errorf("bench: GET %s: status %d, not the list of centers", req.URL.RequestURI(), resp.StatusCode)
	}
	return len(body), nil
}

// sqlRecorder is a pgx tracer keeping the statements its pool sends, with
// their arguments, while capturing: queries and the queries of batches
// (the domain's reads are batches, a guard's statement before their own).
type sqlRecorder struct {
	mu      sync.Mutex
	on      bool
	batches int
	stmts   []recordedStmt
}

type recordedStmt struct {
	sql   string
	args  []any
	batch int // the statement's batch, counted from 1; 0 for a query of its own
}

func (r *sqlRecorder) record(s recordedStmt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on {
		r.stmts = append(r.stmts, s)
	}
}

// TraceQueryStart records the statement.
func (r *sqlRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.record(recordedStmt{sql: d.SQL, args: d.Args})
	return ctx
}

// TraceQueryEnd is pgx.QueryTracer's.
func (r *sqlRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart numbers the batch its queries will be recorded with.
func (r *sqlRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	return ctx
}

// TraceBatchQuery records a statement of the batch.
func (r *sqlRecorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.mu.Lock()
	batch := r.batches
	r.mu.Unlock()
	r.record(recordedStmt{sql: d.SQL, args: d.Args, batch: batch})
}

// TraceBatchEnd is pgx.BatchTracer's.
func (r *sqlRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// capture returns the statements fn sends.
func (r *sqlRecorder) capture(fn func() error) ([]recordedStmt, error) {
	r.mu.Lock()
	r.on, r.stmts = true, nil
	r.mu.Unlock()
	err := fn()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	if err != nil {
		return nil, fmt.Errorf("bench: capture the page's statements: %w", err)
	}
	return r.stmts, nil
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// pgbenchScript turns statements into a pgbench script sending each in a
// round trip of its own, as pgx sends a query outside a batch, and the
// statements of one batch in a pipeline: statement i's parameter $n
// becomes variable :si_n, whose value vars holds.
func pgbenchScript(stmts []recordedStmt) (script string, vars map[string]string, err error) {
	var b strings.Builder
	vars = map[string]string{}
	inBatch := func(i int) bool {
		return i >= 0 && i < len(stmts) && stmts[i].batch != 0 &&
			((i > 0 && stmts[i-1].batch == stmts[i].batch) || (i+1 < len(stmts) && stmts[i+1].batch == stmts[i].batch))
	}
	for i, s := range stmts {
		if inBatch(i) && (i == 0 || stmts[i-1].batch != s.batch) {
			b.WriteString("\\startpipeline\n")
		}
		var errs []error
		sql := placeholder.ReplaceAllStringFunc(s.sql, func(p string) string {
			n, _ := strconv.Atoi(p[1:])
			if n < 1 || n > len(s.args) {
				errs = append(errs, fmt.Errorf("bench: %s of %d arguments", p, len(s.args)))
				return p
			}
			v, err := pgbenchValue(s.args[n-1])
			errs = append(errs, err)
			name := fmt.Sprintf("s%d_%d", i, n)
			vars[name] = v
			return ":" + name
		})
		if err := errors.Join(errs...); err != nil {
			return "", nil, err
		}
		b.WriteString(strings.TrimSpace(sql) + ";\n")
		if inBatch(i) && (i+1 == len(stmts) || stmts[i+1].batch != s.batch) {
			b.WriteString("\\endpipeline\n")
		}
	}
	return b.String(), vars, nil
}

// pgbenchValue is v in PostgreSQL's text form, as pgbench sends its
// variables.
func pgbenchValue(v any) (string, error) {
	switch v := v.(type) {
	case []byte:
		return `\x` + hex.EncodeToString(v), nil
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("bench: no pgbench form for an argument of type %T", v)
}

// constant matches what pg_stat_statements writes $ in a statement's text
// when it sees the statement parsed (pgbench's, prepared after the reset)
// and not otherwise (the page's, prepared by pgx in the warm-up), besides
// the parameters: string literals, booleans and numbers.
var constant = regexp.MustCompile(`'(?:[^']|'')*'|\b(?:true|false)\b|\b[0-9]+(?:\.[0-9]+)?\b`)

// statementsRun lists the statements run since the last reset
// (statementsOfRun), each with its rows per call, its parameters and
// constants written $ and white space collapsed: pgbench numbers a
// parameter used twice as two.
func (f *fixture) statementsRun(ctx context.Context) ([]string, error) {
	rows, err := f.pool.Query(ctx, "SELECT query, rows::float8 / calls "+statementsOfRun)
	if err != nil {
		return nil, fmt.Errorf("bench: read pg_stat_statements: %w", err)
	}
	var out []string
	var query string
	var perCall float64
	_, err = pgx.ForEachRow(rows, []any{&query, &perCall}, func() error {
		query = constant.ReplaceAllString(placeholder.ReplaceAllString(query, "$"), "$")
		query = strings.Join(strings.Fields(query), " ")
		out = append(out, fmt.Sprintf("%s (%.2f rows)", strings.TrimSuffix(query, ";"), perCall))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bench: read pg_stat_statements: %w", err)
	}
	// A statement may have more than one entry (pgbench's search has
	// shown two of the same text); what is compared is which ran.
	slices.Sort(out)
	return slices.Compact(out), nil
}

// startCounted starts a relay to dbURL's server (startTripCounter) and an
// API server whose database is reached through it, for counting a
// request's round trips apart from the loads, which go direct.
func startCounted(ctx context.Context, dbURL string) (*tripCounter, *server, error) {
	relay, err := startTripCounter(dbURL)
	if err != nil {
		return nil, nil, err
	}
	counted, err := startServer(ctx, relay.url, "")
	if err != nil {
		relay.close()
		return nil, nil, err
	}
	return relay, counted, nil
}

// tripCounter is a TCP relay to PostgreSQL that counts round trips: a
// client's bytes after PostgreSQL last answered it start one. PostgreSQL
// answers only once a query's messages are all in (at Sync), so a query,
// or a pipeline of them, is one round trip however TCP cuts it.
type tripCounter struct {
	ln     net.Listener
	target string
	url    string // the database's URL through the relay
	trips  atomic.Int64
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

// startTripCounter relays a loopback port to dbURL's server and returns
// the relay, whose url is dbURL through it.
func startTripCounter(dbURL string) (*tripCounter, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("bench: relay: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: relay: %w", err)
	}
	t := &tripCounter{ln: ln, target: u.Host}
	u.Host = ln.Addr().String()
	t.url = u.String()
	t.wg.Go(t.accept)
	return t, nil
}

func (t *tripCounter) accept() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", t.target)
		if err != nil {
			c.Close()
			continue
		}
		t.mu.Lock()
		if t.closed {
			c.Close()
			s.Close()
		} else {
			t.conns = append(t.conns, c, s)
			var answered atomic.Bool
			answered.Store(true)
			t.wg.Go(func() {
				relayBytes(c, s, func() {
					if answered.Swap(false) {
						t.trips.Add(1)
					}
				})
			})
			// Marked before the answer is passed on: the client's next
			// bytes come after it.
			t.wg.Go(func() { relayBytes(s, c, func() { answered.Store(true) }) })
		}
		t.mu.Unlock()
	}
}

// relayBytes copies from to to until either ends, calling seen before
// passing each read on, and closes both.
func relayBytes(from, to net.Conn, seen func()) {
	defer from.Close()
	defer to.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			seen()
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (t *tripCounter) close() {
	t.ln.Close()
	t.mu.Lock()
	t.closed = true
	for _, c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

// perCall sends call(0), call(1)… one after another, tripsWarm of them
// uncounted, so that the server's pool is connected and pgx's statement
// cache holds the calls' statements (the steady state is what counts),
// then tripsCounted counted, and returns the round trips per call. call
// gets its number, for calls that must each be new (a create's barcode).
func (t *tripCounter) perCall(call func(i int) error) (float64, error) {
	for i := range tripsWarm {
		if err := call(i); err != nil {
			return 0, err
		}
	}
	t.trips.Store(0)
	for i := range tripsCounted {
		if err := call(tripsWarm + i); err != nil {
			return 0, err
		}
	}
	return float64(t.trips.Load()) / tripsCounted, nil
}

// perPgbench runs script through the relay with one client for 1 and for
// tripsCounted+1 transactions and returns the round trips of a
// transaction: the difference over tripsCounted, without connecting and
// preparing. A script numbering its transactions by :i (the requests'
// writes, each taking a fresh barcode or pending sample by it) starts its
// second run where the first stopped, vars["i"] + 1. session is
// pgbenchLoad's.
func (t *tripCounter) perPgbench(ctx context.Context, e *Env, script string, vars map[string]string, session string) (float64, error) {
	dir, err := os.MkdirTemp("", "tenantctl-pgbench-")
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	run := func(n int, vars map[string]string) (int64, error) {
		args := []string{"-n", "-M", "prepared", "-c", "1", "-t", strconv.Itoa(n), "-f", file}
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			args = append(args, "-D", k+"="+vars[k])
		}
		t.trips.Store(0)
		if out, err := e.pgbenchCommand(ctx, session, append(args, t.url)...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("pgbench: %w: %s", err, lastLine(string(out)))
		}
		return t.trips.Load(), nil
	}
	one, err := run(1, vars)
	if err != nil {
		return 0, err
	}
	next := vars
	if v, ok := vars["i"]; ok {
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("bench: pgbench variable i=%q: %w", v, err)
		}
		next = maps.Clone(vars)
		next["i"] = strconv.Itoa(i + 1)
	}
	many, err := run(tripsCounted+1, next)
	if err != nil {
		return 0, err
	}
	return float64(many-one) / tripsCounted, nil
}
