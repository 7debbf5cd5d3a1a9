package api_test

// No request sees another tenant's rows, and a change made by another
// process reaches the server, through the API with the API's pool behind
// PgBouncer in transaction pooling mode (pgenv starts it for `make
// test`, 3 server connections per database, fewer than the API's pool and
// the test's concurrent clients). The fixtures (seed, tokens, the "other
// process" that soft-deletes) use the test database directly; only the
// server under test goes through PgBouncer, with its LISTEN connection
// pointed at PostgreSQL directly (Config.ListenConnString).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/pgbouncer"
	"github.com/tenantctl/tenantctl/internal/pgcluster"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// setupBehindPgBouncer is setup with the server's pool, tenancy and store on
// the test's database through PgBouncer, and Listen on it directly. It
// returns the PgBouncer URL of the test's database.
func setupBehindPgBouncer(t *testing.T, configure ...func(*api.Config)) (*env, string) {
	t.Helper()
	base := pgbouncer.URL(t)
	var url string
	e := setup(t, append([]func(*api.Config){func(cfg *api.Config) {
		direct := cfg.Store.Pool().Config()
		var err error
		if url, err = pgcluster.WithDatabase(base, direct.ConnConfig.Database); err != nil {
			t.Fatal(err)
		}
		// More clients than PgBouncer's 3 server connections, configured
		// as db.Open configures the server's.
		pcfg := pgbouncer.PoolConfig(t, url, 8)
		db.ConfigurePool(pcfg)
		pool := pgbouncer.NewPool(t, pcfg)
		m, err := db.NewTenancy(pool, tenancy.Config{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Store = domain.New(pool, m)
		cfg.ListenConnString = direct.ConnString()
	}}, configure...)...)
	return e, url
}

// call is a request that is safe off the test's goroutine: it returns
// what went wrong instead of failing the test.
func (e *env) call(method, path, as, body string) (int, map[string]any, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.ts.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[as])
	res, err := e.ts.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return res.StatusCode, nil, fmt.Errorf("%s %s: %d, body %q: %w", method, path, res.StatusCode, raw, err)
		}
	}
	return res.StatusCode, out, nil
}

// TestTenantScopedBehindPgBouncer: sample list, create, get and transitions
// in two centers, from 16 concurrent clients, through an API whose pool
// goes through PgBouncer. Every sample carries its center's marker in its
// name; no response ever shows another center's sample, another center's
// path never finds one (404), every acknowledged create is in its center's
// schema and nowhere else, and afterwards no server connection kept a
// center's search_path.
func TestTenantScopedBehindPgBouncer(t *testing.T) {
	e, url := setupBehindPgBouncer(t)

	// Representative calls, one by one.
	ist, ank := e.ist, e.ank
	r := e.expect(e.do("POST", samplesPath(ist), "istanbul_user", `{"name": "pb one", "sample_type": "blood", "barcode": "PB-1"}`), 201, "create sample")
	one := samplesPath(ist) + r.str("id") + "/"
	e.expect(e.do("GET", one, "istanbul_user", ""), 200, "get sample")
	for _, a := range []string{"process", "complete", "archive"} {
		if got := e.expect(e.do("POST", one+a+"/", "istanbul_user", ""), 200, a).str("status"); got == "pending" {
			t.Errorf("%s left status %q", a, got)
		}
	}
	e.expect(e.do("GET", samplesPath(ist)+"by_barcode/PB-1/", "istanbul_user", ""), 200, "by barcode")
	// The same barcode in the other center is another tenant's business.
	e.expect(e.do("POST", samplesPath(ank), "ankara_user", `{"name": "pb one", "sample_type": "blood", "barcode": "PB-1"}`), 201, "same barcode, other center")
	e.expect(e.do("GET", samplesPath(ank), "istanbul_user", ""), 404, "other center's samples")
	e.expect(e.do("GET", samplesPath(ank)+r.str("id")+"/", "super", ""), 404, "a sample through the other center's path")
	e.expect(e.do("POST", samplesPath(ank)+r.str("id")+"/reject/", "super", ""), 404, "a transition through the other center's path")

	// Concurrent clients: creates, reads and transitions in both centers,
	// each response checked.
	type center struct {
		c      domain.Center
		user   string
		marker string
		acked  atomic.Int64
	}
	centers := []*center{
		{c: ist, user: "istanbul_user", marker: "pb:" + ist.ID.String()},
		{c: ank, user: "ankara_user", marker: "pb:" + ank.ID.String()},
	}
	const clients, perClient = 16, 25
	var wg sync.WaitGroup
	var requests atomic.Int64
	errs := make(chan error, clients)
	for g := range clients {
		wg.Go(func() {
			for i := range perClient {
				own, other := centers[(g+i)%2], centers[(g+i+1)%2]
				check := func(method, path, as, body string, want int) (map[string]any, error) {
					requests.Add(1)
					st, b, err := e.call(method, path, as, body)
					if err == nil && st != want {
						err = fmt.Errorf("%s %s as %s: %d, want %d: %v", method, path, as, st, want, b)
					}
					return b, err
				}
				b, err := check("POST", samplesPath(own.c), own.user, fmt.Sprintf(`{"name": %q, "sample_type": "blood", "barcode": "G%d-%d"}`, own.marker, g, i), 201)
				if err != nil {
					errs <- err
					return
				}
				own.acked.Add(1)
				id, _ := b["id"].(string)
				if b, err = check("GET", samplesPath(own.c)+id+"/", own.user, "", 200); err == nil && b["name"] != own.marker {
					err = fmt.Errorf("LEAK: sample %s of %s read back as %v", id, own.c.Name, b["name"])
				}
				if err == nil {
					_, err = check("POST", samplesPath(own.c)+id+"/process/", own.user, "", 200)
				}
				if err == nil {
					_, err = check("GET", samplesPath(other.c)+id+"/", "super", "", 404)
				}
				if err == nil {
					b, err = check("GET", samplesPath(own.c)+"?limit=500", "super", "", 200)
				}
				if err == nil {
					results, _ := b["results"].([]any)
					for _, x := range results {
						name, _ := x.(map[string]any)["name"].(string)
						if strings.HasPrefix(name, "pb:") && name != own.marker {
							err = fmt.Errorf("LEAK: %s's list shows a sample named %q", own.c.Name, name)
							break
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	// What each schema holds, read directly: exactly the acknowledged
	// creates, and none of the other center's.
	ctx := t.Context()
	for _, c := range centers {
		var mine, theirs int64
		err := e.db.Pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE name = $1), count(*) FILTER (WHERE name LIKE 'pb:%' AND name <> $1) FROM "+
			pgx.Identifier{c.c.SchemaName, "samples"}.Sanitize(), c.marker).Scan(&mine, &theirs)
		if err != nil {
			t.Fatal(err)
		}
		if mine != c.acked.Load() || theirs != 0 {
			t.Errorf("%s holds %d of its samples (want the %d acknowledged) and %d of the other center's (want 0)", c.c.Name, mine, c.acked.Load(), theirs)
		}
	}
	t.Logf("%d requests from %d clients through PgBouncer", requests.Load(), clients)
	pgbouncer.AssertServerConnsClean(t, url)
}

// TestListenBehindPgBouncer: with the pool behind PgBouncer and Listen on a
// direct connection, a center soft-deleted by another process answers 404
// within 2 s; a Listen pointed at PgBouncer says in the log that it needs a
// direct connection, instead of listening to nothing.
func TestListenBehindPgBouncer(t *testing.T) {
	e, url := setupBehindPgBouncer(t, func(cfg *api.Config) { cfg.CenterCacheTTL = time.Hour })
	lctx, stop := context.WithCancel(e.ctx)
	done := make(chan error)
	go func() { done <- e.srv.Listen(lctx) }()
	t.Cleanup(func() { stop(); <-done })

	// The listener is a session of its own on the server.
	listening := func() bool {
		var n int
		_ = e.db.Pool.QueryRow(e.ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'").Scan(&n)
		return n == 1
	}
	deadline := time.Now().Add(5 * time.Second)
	for !listening() {
		if time.Now().After(deadline) {
			t.Fatalf("listener not connected within 5 s; log: %s", e.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}

	c := e.newCenter("Remote behind PgBouncer")
	e.expect(e.do("GET", samplesPath(c), "super", ""), 200, "before")
	// Another process: the fixtures' store, on the database directly.
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for e.do("GET", samplesPath(c), "super", "").status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("a center soft-deleted by another process still answered after 2 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(e.logs.String(), "direct connection") {
		t.Errorf("the direct listener complained: %s", e.logs)
	}

	// Misconfigured: LISTEN through PgBouncer is refused, loudly.
	logs := &syncBuffer{}
	bad, err := api.New(api.Config{Store: e.st, ListenConnString: url,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	bctx, bstop := context.WithCancel(e.ctx)
	bdone := make(chan error)
	go func() { bdone <- bad.Listen(bctx) }()
	deadline = time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "needs a direct connection to PostgreSQL") {
		if time.Now().After(deadline) {
			bstop()
			<-bdone
			t.Fatalf("Listen through PgBouncer did not report it; log: %s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bstop()
	<-bdone
}

// TestMigratePublicRefusesPgBouncer: public migrations (tern's session
// advisory lock) through PgBouncer are refused with db.ErrNotDirect, not run
// with a lock that protects nothing.
func TestMigratePublicRefusesPgBouncer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pgb := pgbouncer.Pool(t, pgbouncer.URL(t), 2)
	m, err := db.NewTenancy(pgb, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigratePublic(ctx, pgb, m); !errors.Is(err, db.ErrNotDirect) {
		t.Fatalf("MigratePublic through PgBouncer = %v, want db.ErrNotDirect", err)
	}
}
