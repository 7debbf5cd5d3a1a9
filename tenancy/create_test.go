package tenancy_test

// A tenant (ledger row + schema + every migration +
// the caller's registry row) exists completely or not at all, whether
// creation fails in a migration, fails in the hook, races with itself, or
// the creating process is killed at an arbitrary instant.

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// brokenMigrations is a set whose second file fails after its first
// statements succeeded (see testdata/broken/fails_halfway/002_boom.sql).
var brokenMigrations = os.DirFS("testdata/broken/fails_halfway")

// createNames are a test's tenancytest.Names and a registry table standing
// in for the application's (tenantctl's is public.centers), in the ledger
// schema. The tests need the names: to rebuild a Manager over the same ledger
// (retry after a failure), to hand them to a child process, and to query the
// ledger and registry directly rather than only through the library.
type createNames struct {
	tenancytest.Names
	Registry string // quoted, schema-qualified registry table
}

func (n createNames) withRegistry() createNames {
	n.Registry = pgx.Identifier{n.Ledger, "registry"}.Sanitize()
	return n
}

// newCreateNames reserves fresh names and creates the ledger schema with the
// registry table; tenancytest drops them when t ends.
func newCreateNames(t *testing.T, pool *pgxpool.Pool) createNames {
	t.Helper()
	n := createNames{Names: tenancytest.NewNames(t, pool, "ct")}.withRegistry()
	_, err := pool.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{n.Ledger}.Sanitize()+
		"; CREATE TABLE "+n.Registry+" (tenant_id uuid PRIMARY KEY, name text NOT NULL)")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// registerHook is the application's side of Create: its registry row, in
// the creating transaction.
func (n createNames) registerHook(id uuid.UUID) tenancy.Hook {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO "+n.Registry+" (tenant_id, name) VALUES ($1, $2)", id, "tenant "+id.String())
		return err
	}
}

// assertNoTenant checks, with direct catalog and table queries as well as
// Inspect, that nothing of tenant id exists: no schema, no ledger or
// migration rows, no registry row; and that m has no tenant at all.
func (n createNames) assertNoTenant(t *testing.T, pool *pgxpool.Pool, m *tenancy.Manager, id uuid.UUID) {
	t.Helper()
	n.assertNothingOf(t, pool, m, id)
	st, err := m.Inspect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 0 {
		t.Errorf("Inspect = %+v, want no tenants", st)
	}
}

// assertNothingOf checks with direct catalog and table queries that
// nothing of tenant id exists, whatever other tenants m has.
func (n createNames) assertNothingOf(t *testing.T, pool *pgxpool.Pool, m *tenancy.Manager, id uuid.UUID) {
	t.Helper()
	ctx := t.Context()
	var schemas, ledgerRows, migRows, regRows int
	err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_namespace WHERE nspname = $1),
		(SELECT count(*) FROM `+pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize()+` WHERE tenant_id = $2),
		(SELECT count(*) FROM `+pgx.Identifier{n.Ledger, "tenancy_migrations"}.Sanitize()+` WHERE tenant_id = $2),
		(SELECT count(*) FROM `+n.Registry+` WHERE tenant_id = $2)`,
		m.SchemaName(id), id).Scan(&schemas, &ledgerRows, &migRows, &regRows)
	if err != nil {
		t.Fatal(err)
	}
	if schemas != 0 || ledgerRows != 0 || migRows != 0 || regRows != 0 {
		t.Errorf("tenant %s half exists: %d schemas, %d ledger rows, %d migration rows, %d registry rows; want none",
			id, schemas, ledgerRows, migRows, regRows)
	}
}

// A migration failing halfway through the second file rolls back the whole
// tenant, including the first file and the statements of the second that
// had succeeded; the error names the file. A retry with fixed migrations
// then succeeds, proving that nothing (row, schema, lock) was left behind.
func TestCreateMigrationFailsHalfway(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool)
	broken := n.Manager(t, pool, &tenancy.Config{Migrations: brokenMigrations})
	id := uuid.New()

	hookCalled := false
	err := broken.Create(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
		hookCalled = true
		return n.registerHook(id)(ctx, tx)
	})
	var me *tenancy.MigrationError
	if !errors.As(err, &me) {
		t.Fatalf("Create = %v, want a *MigrationError", err)
	}
	if me.Migration != "002_boom.sql" || me.Schema != broken.SchemaName(id) {
		t.Errorf("MigrationError names %q in %q, want 002_boom.sql in %q", me.Migration, me.Schema, broken.SchemaName(id))
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Errorf("Create = %v, want it to unwrap to division_by_zero (22012)", err)
	}
	if !strings.Contains(err.Error(), "002_boom.sql") {
		t.Errorf("error %q does not name the failing file", err)
	}
	// The hook runs after the migrations, so a failed migration never
	// reaches it.
	if hookCalled {
		t.Error("hook ran although a migration failed")
	}
	n.assertNoTenant(t, pool, broken, id)

	good := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	if err := good.Create(ctx, id, n.registerHook(id)); err != nil {
		t.Fatalf("Create after the failed attempt: %v", err)
	}
	st, err := good.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || !st[0].OK() || st[0].TenantID != id || st[0].Version != good.LatestVersion() {
		t.Fatalf("Inspect after retry = %+v, want one healthy tenant %s", st, id)
	}
}

// CreateTx inside the caller's transaction: the registry row written before
// the failing CreateTx disappears with the caller's rollback, and the
// MigrationError reaches the caller unchanged.
func TestCreateTxMigrationFailsRollsBackCallerRow(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool)
	broken := n.Manager(t, pool, &tenancy.Config{Migrations: brokenMigrations})
	id := uuid.New()

	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := n.registerHook(id)(ctx, tx); err != nil {
			return err
		}
		return broken.CreateTx(ctx, tx, id)
	})
	var me *tenancy.MigrationError
	if !errors.As(err, &me) || me.Migration != "002_boom.sql" {
		t.Fatalf("CreateTx = %v, want a *MigrationError for 002_boom.sql", err)
	}
	n.assertNoTenant(t, pool, broken, id)
}

// A hook error rolls back the ledger row, the schema with its migrated
// tables, and whatever the hook wrote before failing.
func TestCreateHookErrorLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool)
	m := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	id := uuid.New()
	errRegistry := errors.New("registry refused the tenant")

	err := m.Create(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
		// The hook sees the complete tenant: its schema and tables exist
		// inside the transaction.
		var tables int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", m.SchemaName(id)).Scan(&tables); err != nil {
			return err
		}
		if tables != 2 {
			return fmt.Errorf("hook sees %d tables in the new schema, want 2", tables)
		}
		if err := n.registerHook(id)(ctx, tx); err != nil {
			return err
		}
		return errRegistry
	})
	if !errors.Is(err, errRegistry) {
		t.Fatalf("Create = %v, want the hook's error", err)
	}
	n.assertNoTenant(t, pool, m, id)
}

// Eight concurrent Creates of one tenant: exactly one wins, the others get
// ErrTenantExists (not a raw unique or duplicate-schema error), and there is
// one schema, one ledger row and one registry row.
func TestCreateConcurrentSameID(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool)
	m := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	id := uuid.New()

	const racers = 8
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = m.Create(ctx, id, n.registerHook(id))
		})
	}
	close(start)
	wg.Wait()

	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, tenancy.ErrTenantExists):
			t.Errorf("racer %d: Create = %v, want nil or ErrTenantExists", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d Creates succeeded, want exactly 1 (errors: %v)", wins, errs)
	}
	var schemas, regRows int
	err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, $1)), (SELECT count(*) FROM "+n.Registry+")",
		n.Prefix).Scan(&schemas, &regRows)
	if err != nil {
		t.Fatal(err)
	}
	if schemas != 1 || regRows != 1 {
		t.Errorf("%d schemas and %d registry rows, want 1 and 1", schemas, regRows)
	}
	st, err := m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || !st[0].OK() || st[0].TenantID != id {
		t.Errorf("Inspect = %+v, want one healthy tenant %s", st, id)
	}
}

// Environment of the crash child (see TestCrashChild).
const (
	envCrashChild  = "TENANCY_CRASH_CHILD"
	envCrashPrefix = "TENANCY_CRASH_PREFIX"
	envCrashLedger = "TENANCY_CRASH_LEDGER"
	envCrashPool   = "TENANCY_CRASH_POOL" // the warm pool's size, "" for off
)

// crashAppName tags the child's connections so that the parent can wait
// for the server to have finished with them before checking.
func crashAppName(prefix string) string { return "tenancy-crash-" + prefix }

// TestCrashChild is not a test on its own: it is the process that
// TestCreateSurvivesKill runs and SIGKILLs. Without TENANCY_CRASH_CHILD it
// returns at once (and passes), so a plain `go test` run is unaffected.
// With it, it creates tenants from several goroutines, each with a registry
// row written by the hook, until killed (or for at most a minute, so that an
// orphaned child cannot run on). With TENANCY_CRASH_POOL it keeps a warm
// pool of that size filled as well (KeepPoolFilled), so that its Creates
// claim members and kills land in claims and in refills too.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		return
	}
	n := createNames{Names: tenancytest.Names{Prefix: os.Getenv(envCrashPrefix), Ledger: os.Getenv(envCrashLedger)}}.withRegistry()
	pool := testPool(t, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 5
		cfg.ConnConfig.RuntimeParams["application_name"] = crashAppName(n.Prefix)
	})
	poolSize, _ := strconv.Atoi(os.Getenv(envCrashPool))
	m, err := tenancy.New(pool, &tenancy.Config{Migrations: testMigrations, Prefix: n.Prefix, LedgerSchema: n.Ledger, PoolSize: poolSize})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// A full pool first, so that the first Creates, before the parent's
	// kill, claim members while the refill starts to replace them.
	if _, err := m.FillPool(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = m.KeepPoolFilled(ctx, 10*time.Millisecond) }) // returns at once with the pool off
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				id := uuid.New()
				err := m.Create(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
					if err := n.registerHook(id)(ctx, tx); err != nil {
						return err
					}
					// A short pause keeps transactions open at the end,
					// with everything written but not committed, so that
					// kills land there too and not only between round trips.
					_, err := tx.Exec(ctx, "SELECT pg_sleep(random() * 0.002)")
					return err
				})
				if err != nil && ctx.Err() == nil {
					t.Errorf("child Create: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCreateSurvivesKill runs TestCrashChild in a child process and kills
// it with SIGKILL at random moments while it creates tenants, then checks
// that the crashes left only whole tenants: every ledger row has its schema
// at the latest version with every table and a registry row, every schema
// of the prefix has a ledger row, every registry row a ledger row, and
// Inspect finds nothing wrong.
func TestCreateSurvivesKill(t *testing.T) {
	t.Parallel()
	createSurvivesKill(t, 0)
}

// TestPoolSurvivesKill is TestCreateSurvivesKill with a warm pool of 4 in
// the child, whose Creates claim members while its refill makes new ones:
// every member left is whole too (its ledger row, its schema at the latest
// version with every table, its migrations recorded), no member is half
// claimed (a schema renamed without its ledger rows moved, or the reverse),
// and a migration shipped afterwards leaves no member at an old version.
func TestPoolSurvivesKill(t *testing.T) {
	t.Parallel()
	n, pool := createSurvivesKill(t, 4)
	// A claimed tenant's version is the member's, recorded before the
	// claim's transaction began; a cold one's in that transaction.
	var claimed int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize()+
		" WHERE migrated_at < created_at").Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed == 0 {
		t.Error("the child claimed no member: the test did not exercise claims")
	}
	// Members of the old release besides those the kills left.
	old := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations, PoolSize: 4})
	if _, err := old.FillPool(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3), PoolSize: 4})
	if _, err := m.Migrate(t.Context(), tenancy.MigrateOptions{}); err != nil {
		t.Fatalf("Migrate to 3: %v", err)
	}
	members := n.poolLedger(t, pool)
	for s, r := range members {
		if r.Version != 3 || r.Migrations != "1,2,3" {
			t.Errorf("member %s after Migrate: %+v, want version 3 with 1,2,3", s, r)
		}
	}
	st, err := m.Inspect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.OK() || s.Version != 3 {
			t.Errorf("after Migrate %s (member %v): version %d, problems %v", s.Schema, s.PoolMember, s.Version, s.Problems)
		}
	}
	if len(members) != 4 {
		t.Errorf("%d members after Migrate, want 4", len(members))
	}
	t.Logf("%d tenants claimed from the pool; %d members, all at version 3 after Migrate", claimed, len(members))
}

// createSurvivesKill is TestCreateSurvivesKill with a warm pool of
// poolSize (0: off) in the child; it returns the names and pool for more
// checks.
func createSurvivesKill(t *testing.T, poolSize int) (createNames, *pgxpool.Pool) {
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool)
	m := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := mrand.New(mrand.NewPCG(seed, 0))

	const rounds = 4
	openTotal := 0
	for round := range rounds {
		before := n.ledgerCount(t, pool)
		target := before + 1 + rng.IntN(6)

		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashPrefix+"="+n.Prefix, envCrashLedger+"="+n.Ledger,
			envCrashPool+"="+strconv.Itoa(poolSize))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Should the test stop early, the child must not outlive it (and
		// race the cleanup, which runs after this).
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		// Wait until the child has created a few tenants, so that the kill
		// lands in its steady state rather than while it connects.
		deadline := time.Now().Add(time.Minute)
		for n.ledgerCount(t, pool) < target {
			select {
			case err := <-exited:
				t.Fatalf("round %d: child exited before being killed (%v):\n%s", round, err, out.String())
			case <-time.After(2 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("round %d: child created no tenants within a minute:\n%s", round, out.String())
			}
		}
		time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
		// For the log only: how many of the child's transactions were open
		// (and so must vanish) an instant before the kill.
		var open int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND xact_start IS NOT NULL",
			crashAppName(n.Prefix)).Scan(&open); err != nil {
			t.Fatal(err)
		}
		openTotal += open
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := <-exited; err == nil {
			t.Fatalf("round %d: child exited cleanly, want killed:\n%s", round, out.String())
		}
		// The server notices the dead client only when it next reads from
		// it. Until the child's backends are gone a transaction may still
		// commit, so checking earlier could compare two different states.
		n.waitBackendsGone(t, pool)
		n.assertWholeTenants(t, pool, m)
	}
	if got := n.ledgerCount(t, pool); got < rounds {
		t.Fatalf("%d tenants after %d rounds, want at least %d", got, rounds, rounds)
	}
	st, err := m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.OK() {
			t.Errorf("Inspect: %s: %v", s.Schema, s.Problems)
		}
	}
	t.Logf("%d tenants and members survived %d kills; %d transactions were open just before the kills", len(st), rounds, openTotal)
	return n, pool
}

func (n createNames) ledgerCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var c int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize()).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (n createNames) waitBackendsGone(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var c int
		if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", crashAppName(n.Prefix)).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends of the killed child still alive after 30s", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// assertWholeTenants checks that every tenant and every pool member of n's
// prefix is whole or absent, from the catalog, the ledger and the registry
// directly (one snapshot), and through Inspect.
func (n createNames) assertWholeTenants(t *testing.T, pool *pgxpool.Pool, m *tenancy.Manager) {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)

	query := func(sql string, args ...any) map[string]string {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		var k, v string
		_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ledger := pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize()
	migTbl := pgx.Identifier{n.Ledger, "tenancy_migrations"}.Sanitize()
	// schema name -> version
	inLedger := query("SELECT schema_name, version::text FROM " + ledger)
	// schema name -> applied versions
	applied := query("SELECT t.schema_name, string_agg(g.version::text, ',' ORDER BY g.version) FROM " + ledger +
		" t JOIN " + migTbl + " g USING (tenant_id) GROUP BY 1")
	// schema name -> its tables, of tenants and of pool members
	schemas := query(`SELECT n.nspname::text, coalesce(string_agg(c.relname::text, ',' ORDER BY c.relname) FILTER (WHERE c.relkind = 'r'), '')
		FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
		WHERE n.nspname ~ ('^' || $1 || '([0-9a-f]{32}|pool_[0-9a-f]{27})$') GROUP BY 1`, n.Prefix)
	members := n.poolLedger(t, tx)
	// registry tenant -> the schema it implies
	registry := map[string]string{}
	for id := range query("SELECT tenant_id::text, name FROM " + n.Registry) {
		registry[m.SchemaName(uuid.MustParse(id))] = id
	}

	latest := fmt.Sprint(m.LatestVersion())
	for s, version := range inLedger {
		if version != latest {
			t.Errorf("ledger: %s at version %s, want %s", s, version, latest)
		}
		if got := applied[s]; got != "1,2" {
			t.Errorf("ledger: %s has migrations %q recorded, want 1,2", s, got)
		}
		if tables, ok := schemas[s]; !ok {
			t.Errorf("ledger row %s has no schema", s)
		} else if tables != "items,notes" {
			t.Errorf("schema %s has tables %q, want items,notes", s, tables)
		}
		if _, ok := registry[s]; !ok {
			t.Errorf("ledger row %s has no registry row", s)
		}
	}
	// A pool member is whole as a tenant is, without a registry row.
	for s, r := range members {
		if fmt.Sprint(r.Version) != latest || r.Migrations != "1,2" {
			t.Errorf("pool: member %s at version %d with migrations %q recorded, want %s with 1,2", s, r.Version, r.Migrations, latest)
		}
		if tables, ok := schemas[s]; !ok {
			t.Errorf("pool row %s has no schema", s)
		} else if tables != "items,notes" {
			t.Errorf("member schema %s has tables %q, want items,notes", s, tables)
		}
	}
	for s := range schemas {
		_, tenant := inLedger[s]
		_, member := members[s]
		if !tenant && !member {
			t.Errorf("orphan schema %s: no ledger row", s)
		}
	}
	for s, id := range registry {
		if _, ok := inLedger[s]; !ok {
			t.Errorf("registry row %s has no ledger row", id)
		}
	}

	st, err := m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(inLedger)+len(members) {
		t.Errorf("Inspect reports %d tenants and members, the ledger has %d and %d", len(st), len(inLedger), len(members))
	}
	for _, s := range st {
		if !s.OK() {
			t.Errorf("Inspect: %s: %v", s.Schema, s.Problems)
		}
	}
}
