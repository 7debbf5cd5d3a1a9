package tenancy_test

// Tenant isolation and per-tenant atomic migration behind PgBouncer in
// transaction pooling mode (the one pgenv starts for `make test`: a server
// pool of 3 per database, smaller than these tests' client pools). There a
// client's consecutive transactions run on different server connections,
// and one server connection serves many clients in turn: a tenant's
// search_path that outlived its transaction, or a statement prepared on one
// server connection and used on another, would show here.
//
// These tests are not parallel on purpose: they end by checking every
// server connection PgBouncer holds for the test database, and run alone
// (before the package's parallel tests start) so that no other test's
// transaction keeps one of them busy. Their pools have no AfterConnect
// hook: see pgbouncer.PoolConfig.

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/pgbouncer"
	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// pgbClientConns is the client pool size of these tests: larger than
// PgBouncer's server pool, so clients queue for and share server
// connections.
const pgbClientConns = 8

// pgbouncerPool returns a pool through PgBouncer after checking that
// PgBouncer really is in transaction pooling mode: two client connections
// take turns on one backend (in session pooling each would own one), and
// one client connection's statements run on more than one backend.
func pgbouncerPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	url := pgbouncer.URL(t)
	pool := pgbouncer.Pool(t, url, pgbClientConns)
	ctx := t.Context()
	c1, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Release()
	c2, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Release()
	pid := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) int32 {
		var p int32
		if err := q.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shared := false
	c1Backends := map[int32]bool{}
	for range 50 {
		a, b := pid(c1), pid(c2)
		c1Backends[a] = true
		shared = shared || a == b
		// c2 pins a backend with an open transaction: c1 must run elsewhere.
		tx, err := c2.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pinned := pid(tx)
		other := pid(c1)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if other == pinned {
			t.Fatalf("client 1 ran on backend %d while client 2 held it in a transaction", pinned)
		}
		c1Backends[other] = true
		if shared && len(c1Backends) > 1 {
			return pool, url
		}
	}
	t.Fatalf("%s does not behave as transaction pooling: clients shared a backend: %v; backends of one client: %v", pgbouncer.EnvURL, shared, c1Backends)
	return nil, ""
}

// TestIsolationBehindPgBouncer is TestIsolationUnderPoolPressure's workload
// (50 tenants, 32 goroutines, committed, rolled-back, failed and canceled
// transactions) through PgBouncer, followed by a check of every server
// connection: none kept a tenant's search_path or an open transaction.
func TestIsolationBehindPgBouncer(t *testing.T) {
	pool, url := pgbouncerPool(t)
	// Schemas are listed and dropped over a direct connection: the cleanup
	// must not depend on the thing under test. The monitor reads
	// pg_stat_activity, which only a direct connection sees as it is.
	direct := tenancytest.Pool(t)
	m := tenancytest.NewNames(t, direct, "pb").Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	// No AfterConnect SET behind PgBouncer (see pgbouncer.PoolConfig), so
	// outside InTenant the pool shows PostgreSQL's default search_path.
	isolationWorkload(t, m, pool, direct, pgbouncer.DefaultSearchPath)
	if t.Failed() {
		return
	}
	pgbouncer.AssertServerConnsClean(t, url)
}

// TestFleetMigrateBehindPgBouncer: a fleet of 60 tenants is migrated by two
// concurrent migrators through PgBouncer, each with more workers than
// PgBouncer has server connections. Fleet locking is a row lock held by the
// tenant's transaction, so it lives exactly as long as the server
// connection is the transaction's: every tenant is migrated exactly once,
// the other migrator finds it current, and a rerun does nothing.
func TestFleetMigrateBehindPgBouncer(t *testing.T) {
	pool, url := pgbouncerPool(t)
	direct := tenancytest.Pool(t)
	ctx := t.Context()
	const fleet, concurrency = 60, 6

	n := newFleetNames(t, direct, "pf")
	old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	ids := createFleet(t, old, fleet, pgbClientConns)
	next := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)})

	type run struct {
		res []tenancy.Result
		err error
	}
	runs := make(chan run, 2)
	for range 2 {
		go func() {
			res, err := next.Migrate(ctx, tenancy.MigrateOptions{Concurrency: concurrency})
			runs <- run{res, err}
		}()
	}
	migratedBy := map[string]int{}
	for range 2 {
		r := <-runs
		if r.err != nil {
			t.Fatalf("Migrate: %v", r.err)
		}
		if !sameIDSet(resultIDs(r.res), ids) {
			t.Fatalf("Migrate reported %d tenants, want the fleet's %d", len(r.res), len(ids))
		}
		for _, res := range r.res {
			switch res.Outcome {
			case tenancy.OutcomeMigrated:
				migratedBy[res.Schema]++
				if res.From != 2 || res.To != 3 {
					t.Errorf("%s: migrated from %d to %d, want 2 to 3", res.Schema, res.From, res.To)
				}
			case tenancy.OutcomeUpToDate:
			default:
				t.Errorf("%s: %s %v", res.Schema, res.Outcome, res.Err)
			}
		}
	}
	if len(migratedBy) != fleet {
		t.Errorf("%d tenants were migrated, want all %d", len(migratedBy), fleet)
	}
	for schema, k := range migratedBy {
		if k != 1 {
			t.Errorf("%s was migrated %d times", schema, k)
		}
	}

	// What the database says, read directly: every tenant at 3 with each
	// migration recorded once, and the new column in every schema.
	for id, row := range n.ledger(t, direct) {
		if row.Version != 3 || row.Migrations != 3 || row.Distinct != 3 || row.LastError != "" {
			t.Errorf("tenant %s: ledger %+v, want version 3 with 3 distinct migrations", id, row)
		}
	}
	var cols int
	if err := direct.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE starts_with(table_schema, $1) AND table_name = 'items' AND column_name = 'priority'", n.Prefix).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != fleet {
		t.Errorf("%d tenant schemas have the new column, want %d", cols, fleet)
	}

	res, err := next.Migrate(ctx, tenancy.MigrateOptions{Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != tenancy.OutcomeUpToDate {
			t.Errorf("rerun: %s: %s %v", r.Schema, r.Outcome, r.Err)
		}
	}

	// Tenant work still sees only its own schema afterwards.
	for _, id := range ids[:5] {
		err := next.InTenant(ctx, id, func(tx pgx.Tx) error {
			var schema string
			if err := tx.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
				return err
			}
			if schema != next.SchemaName(id) {
				t.Errorf("InTenant(%s): current_schema %q", id, schema)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pgbouncer.AssertServerConnsClean(t, url)
}

// TestPoolBehindPgBouncer: the warm pool through PgBouncer in transaction
// pooling mode. Its locks are row locks, held by transactions, never
// advisory or session state: two refills at once still create exactly
// what the pool lacks, creates racing for fewer members than they are all
// end whole, each claim at most once, and a migration reaches the members.
func TestPoolBehindPgBouncer(t *testing.T) {
	pool, url := pgbouncerPool(t)
	direct := tenancytest.Pool(t)
	ctx := t.Context()
	const size, creates = 6, 12
	n := newCreateNames(t, direct)
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2), PoolSize: size})

	var created [2]int
	var errs [2]error
	var wg sync.WaitGroup
	for i := range created {
		wg.Go(func() { created[i], errs[i] = m.FillPool(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil || created[0]+created[1] != size {
		t.Fatalf("two FillPools created %d + %d (%v), want %d in all", created[0], created[1], err, size)
	}
	createErrs := make([]error, creates)
	for i := range createErrs {
		wg.Go(func() {
			id := uuid.New()
			createErrs[i] = m.Create(ctx, id, n.registerHook(id))
		})
	}
	wg.Wait()
	if err := errors.Join(createErrs...); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if left := n.poolLedger(t, direct); len(left) != 0 {
		t.Errorf("%d members left after %d creates, want all %d claimed", len(left), creates, size)
	}
	n.assertWholeTenants(t, direct, m)

	fill(t, m, size)
	next := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3), PoolSize: size})
	if _, err := next.Migrate(ctx, tenancy.MigrateOptions{}); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for s, r := range n.poolLedger(t, direct) {
		if r.Version != 3 || r.Migrations != "1,2,3" {
			t.Errorf("member %s after Migrate: %+v, want version 3 with 1,2,3", s, r)
		}
	}
	pgbouncer.AssertServerConnsClean(t, url)
}
