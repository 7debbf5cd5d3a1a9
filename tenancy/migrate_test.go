package tenancy_test

// Every tenant schema is at a known migration
// version; fleet migration is per-tenant atomic, resumable, concurrent, and
// reports each tenant's result.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// migration3 is the change a fleet gets after its tenants were created: a
// nullable column and an index on it. Its ALTER TABLE runs before its CREATE
// INDEX, so a conflict on the index name fails the file halfway, after a
// statement of it succeeded.
const (
	migration3Name = "003_priority.sql"
	migration3SQL  = `-- A nullable column and an index: an online change to every tenant.
ALTER TABLE items ADD COLUMN priority integer;
CREATE INDEX items_priority_idx ON items (priority);
`
)

// testDeadline bounds waits that only a bug would make long (a dry run
// blocked on a row lock), so that such a bug fails the test instead of
// hanging it. Nothing asserts how long anything took.
const testDeadline = time.Minute

// migrationsUpTo returns the first n of testdata/migrations followed by
// migration3, as the fs.FS a Manager takes. Building the set in memory
// lets one test hold the "old binary" (n = 2) and the "new binary" (n = 3)
// at once.
func migrationsUpTo(tb testing.TB, n int) fstest.MapFS {
	tb.Helper()
	entries, err := fs.ReadDir(testMigrations, ".")
	if err != nil {
		tb.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") || len(out) == n {
			continue
		}
		data, err := fs.ReadFile(testMigrations, e.Name())
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: data}
	}
	if len(out) == 2 && n >= 3 {
		out[migration3Name] = &fstest.MapFile{Data: []byte(migration3SQL)}
	}
	if len(out) != n {
		tb.Fatalf("migrationsUpTo(%d): built %d files; testdata/migrations changed?", n, len(out))
	}
	return out
}

// fleetNames are a test's tenancytest.Names, with ways to read its ledger
// directly rather than only through the library under test.
type fleetNames struct{ tenancytest.Names }

func newFleetNames(tb testing.TB, pool *pgxpool.Pool, tag string) fleetNames {
	tb.Helper()
	return fleetNames{tenancytest.NewNames(tb, pool, tag)}
}

func (n fleetNames) tenantsTable() string {
	return pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize()
}

func (n fleetNames) migrationsTable() string {
	return pgx.Identifier{n.Ledger, "tenancy_migrations"}.Sanitize()
}

// ledgerRow is what the ledger says of one tenant, read directly.
type ledgerRow struct {
	Version    int32
	Migrations int // rows in tenancy_migrations
	Distinct   int // distinct versions among them
	LastError  string
}

func (n fleetNames) ledger(tb testing.TB, pool *pgxpool.Pool) map[uuid.UUID]ledgerRow {
	tb.Helper()
	rows, err := pool.Query(tb.Context(), `
SELECT t.tenant_id, t.version, count(g.version), count(DISTINCT g.version), coalesce(t.last_error, '')
FROM `+n.tenantsTable()+` t LEFT JOIN `+n.migrationsTable()+` g USING (tenant_id)
GROUP BY t.tenant_id`)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[uuid.UUID]ledgerRow{}
	var id uuid.UUID
	var r ledgerRow
	_, err = pgx.ForEachRow(rows, []any{&id, &r.Version, &r.Migrations, &r.Distinct, &r.LastError}, func() error {
		out[id] = r
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// fleetPool is a test pool of maxConns connections.
func fleetPool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	return testPool(tb, func(cfg *pgxpool.Config) { cfg.MaxConns = maxConns })
}

// createFleet creates count tenants with m, workers at a time, and returns
// their ids in creation order.
func createFleet(tb testing.TB, m *tenancy.Manager, count, workers int) []uuid.UUID {
	tb.Helper()
	ids := make([]uuid.UUID, count)
	for i := range ids {
		ids[i] = uuid.New()
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				if err := m.Create(tb.Context(), ids[i], nil); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		tb.Fatalf("create fleet: %v", firstErr)
	}
	return ids
}

func sameIDSet(a, b []uuid.UUID) bool {
	less := func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, less)
	slices.SortFunc(b, less)
	return slices.Equal(a, b)
}

func resultIDs(res []tenancy.Result) []uuid.UUID {
	ids := make([]uuid.UUID, len(res))
	for i, r := range res {
		ids[i] = r.TenantID
	}
	return ids
}

// TestFleetMigrateIsolatesAFailingTenant: 200 tenants get a new migration
// while one of them cannot take it. That one is rolled back to exactly its
// previous state (data kept, no half-applied column, ledger at 2, failure
// noted) and the other 199 are migrated; after the conflict is removed a
// rerun migrates that tenant alone.
func TestFleetMigrateIsolatesAFailingTenant(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const fleet = 200
	pool := fleetPool(t, 8)
	n := newFleetNames(t, pool, "mf")
	old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	ids := createFleet(t, old, fleet, 8)
	victim := ids[fleet/2]

	// A table named like migration 3's index: ALTER TABLE succeeds, then
	// CREATE INDEX fails on the name, inside the same transaction.
	err := old.InTenant(ctx, victim, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
INSERT INTO items (tenant_marker, name) SELECT 'victim', 'item-' || g FROM generate_series(1, 10) g;
CREATE TABLE items_priority_idx (id int)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)})
	type call struct {
		done, total int
		id          uuid.UUID
	}
	var calls []call // unlocked on purpose: OnResult calls are documented as serialized (go test -race checks)
	res, err := m.Migrate(ctx, tenancy.MigrateOptions{
		Concurrency: 8,
		OnResult: func(done, total int, r tenancy.Result) {
			calls = append(calls, call{done, total, r.TenantID})
		},
	})
	var fe *tenancy.FleetError
	if !errors.As(err, &fe) || fe.Total != fleet || fe.Failed != 1 || fe.Skipped != 0 {
		t.Fatalf("Migrate error = %v, want *FleetError{Total: %d, Failed: 1, Skipped: 0}", err, fleet)
	}
	if len(res) != fleet || !sameIDSet(resultIDs(res), ids) {
		t.Fatalf("Migrate returned %d results, want one per tenant (%d)", len(res), fleet)
	}
	if !slices.IsSortedFunc(res, func(a, b tenancy.Result) int { return strings.Compare(a.Schema, b.Schema) }) {
		t.Error("results are not in schema-name order, the documented order of a whole-fleet selection")
	}
	for _, r := range res {
		if r.TenantID == victim {
			var me *tenancy.MigrationError
			if r.Outcome != tenancy.OutcomeFailed || r.From != 2 || r.To != 2 || r.Migrations != nil || !errors.As(r.Err, &me) {
				t.Errorf("victim: %s %d→%d pending %v err %v; want Failed 2→2 with a *MigrationError", r.Outcome, r.From, r.To, r.Migrations, r.Err)
				continue
			}
			if me.Migration != migration3Name || me.Schema != m.SchemaName(victim) {
				t.Errorf("victim: MigrationError names %s in %s, want %s in %s", me.Migration, me.Schema, migration3Name, m.SchemaName(victim))
			}
			var pgErr *pgconn.PgError
			if !errors.As(r.Err, &pgErr) || pgErr.Code != "42P07" {
				t.Errorf("victim: error %v, want it to unwrap to duplicate_table (42P07)", r.Err)
			}
			continue
		}
		if r.Outcome != tenancy.OutcomeMigrated || r.From != 2 || r.To != 3 || !slices.Equal(r.Migrations, []string{migration3Name}) || r.Err != nil {
			t.Errorf("%s: %s %d→%d pending %v err %v; want Migrated 2→3 applying %s", r.Schema, r.Outcome, r.From, r.To, r.Migrations, r.Err, migration3Name)
		}
	}

	if len(calls) != fleet {
		t.Errorf("OnResult called %d times, want %d", len(calls), fleet)
	}
	seen := map[uuid.UUID]int{}
	for i, c := range calls {
		if c.done != i+1 || c.total != fleet {
			t.Errorf("OnResult call %d: done %d of %d, want %d of %d", i, c.done, c.total, i+1, fleet)
		}
		seen[c.id]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("OnResult reported %s %d times, want once", m.SchemaName(id), seen[id])
		}
	}

	// The ledger, read directly: the victim's row and migrations are as
	// before, with the failure noted; everyone else recorded version 3.
	led := n.ledger(t, pool)
	for _, id := range ids {
		want := ledgerRow{Version: 3, Migrations: 3, Distinct: 3}
		if id == victim {
			want = ledgerRow{Version: 2, Migrations: 2, Distinct: 2}
		}
		got := led[id]
		got.LastError, want.LastError = "", ""
		if got != want {
			t.Errorf("ledger of %s: %+v, want %+v", m.SchemaName(id), got, want)
		}
	}
	if !strings.Contains(led[victim].LastError, migration3Name) {
		t.Errorf("victim's last_error = %q, want the failure naming %s", led[victim].LastError, migration3Name)
	}

	// The catalog agrees: 199 items tables got the column and its index,
	// and the victim's table is untouched, its rows still there.
	var withColumn, withIndex int
	err = pool.QueryRow(ctx, `
SELECT
	(SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace s ON s.oid = c.relnamespace
	 WHERE starts_with(s.nspname, $1) AND c.relname = 'items' AND a.attname = 'priority' AND NOT a.attisdropped),
	(SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
	 WHERE starts_with(s.nspname, $1) AND c.relname = 'items_priority_idx' AND c.relkind = 'i')`,
		n.Prefix).Scan(&withColumn, &withIndex)
	if err != nil {
		t.Fatal(err)
	}
	if withColumn != fleet-1 || withIndex != fleet-1 {
		t.Errorf("%d tenants have the priority column and %d its index, want %d each", withColumn, withIndex, fleet-1)
	}
	err = m.InTenant(ctx, victim, func(tx pgx.Tx) error {
		var rows, cols int
		err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM items WHERE tenant_marker = 'victim'),
			(SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'priority' AND NOT attisdropped)`).Scan(&rows, &cols)
		if err != nil {
			return err
		}
		if rows != 10 || cols != 0 {
			t.Errorf("victim's items: %d rows and %d priority columns, want its 10 rows and no column", rows, cols)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	st, err := m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		want := []tenancy.Problem(nil)
		if s.TenantID == victim {
			want = []tenancy.Problem{tenancy.ProblemBehind, tenancy.ProblemLastFailed}
		}
		if !slices.Equal(s.Problems, want) {
			t.Errorf("Inspect %s: problems %v, want %v", s.Schema, s.Problems, want)
		}
	}

	// Resume: with the conflict gone, only the victim has work left.
	err = m.InTenant(ctx, victim, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DROP TABLE items_priority_idx")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err = m.Migrate(ctx, tenancy.MigrateOptions{Concurrency: 8})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if len(res) != fleet {
		t.Fatalf("rerun: %d results, want %d", len(res), fleet)
	}
	for _, r := range res {
		want, from := tenancy.OutcomeUpToDate, int32(3)
		if r.TenantID == victim {
			want, from = tenancy.OutcomeMigrated, 2
		}
		if r.Outcome != want || r.From != from || r.To != 3 || r.Err != nil {
			t.Errorf("rerun %s: %s %d→%d err %v; want %s %d→3", r.Schema, r.Outcome, r.From, r.To, r.Err, want, from)
		}
	}
	st, err = m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != fleet {
		t.Fatalf("Inspect after rerun lists %d tenants, want %d", len(st), fleet)
	}
	for _, s := range st {
		if !s.OK() || s.Version != 3 || s.LastError != "" || len(s.Applied) != 3 {
			t.Errorf("Inspect after rerun %s: version %d, %d applied, problems %v, last error %q; want healthy at 3",
				s.Schema, s.Version, len(s.Applied), s.Problems, s.LastError)
		}
	}
}

// queryCounter is a pgx.QueryTracer recording the SQL of every query,
// Exec and batch statement started while it is on.
type queryCounter struct {
	on   atomic.Bool
	mu   sync.Mutex
	sqls []string
}

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if c.on.Load() {
		c.mu.Lock()
		c.sqls = append(c.sqls, data.SQL)
		c.mu.Unlock()
	}
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// during returns the statements issued while fn ran.
func (c *queryCounter) during(fn func()) []string {
	c.mu.Lock()
	c.sqls = nil
	c.mu.Unlock()
	c.on.Store(true)
	fn()
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sqls)
}

// firstFew keeps a failure message readable when a regression issues a
// query per tenant.
func firstFew(sqls []string) []string { return sqls[:min(len(sqls), 4)] }

// TestNoOpFleetIsOneQuery: the ledger keeps every tenant's version, so a
// fleet that is up to date costs one query to migrate (two for the whole
// fleet, whose warm pool is read too) and one to inspect, however many
// tenants it has, not one per tenant.
func TestNoOpFleetIsOneQuery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const fleet = 100
	counter := &queryCounter{}
	m, _ := newManager(t, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.Tracer = counter
		cfg.MaxConns = 4
	})
	// Creating with as many workers as connections opens them all now, so
	// that a connection's setup (its own SET search_path) cannot land in
	// a measured window.
	ids := createFleet(t, m, fleet, 4)

	var err error
	for _, c := range []struct {
		name string
		opts tenancy.MigrateOptions
	}{
		{"all", tenancy.MigrateOptions{}},
		{"listed", tenancy.MigrateOptions{Tenants: ids}},
		{"dry-run", tenancy.MigrateOptions{DryRun: true}},
	} {
		var res []tenancy.Result
		sqls := counter.during(func() { res, err = m.Migrate(ctx, c.opts) })
		if err != nil {
			t.Fatalf("Migrate %s: %v", c.name, err)
		}
		if len(res) != fleet {
			t.Fatalf("Migrate %s: %d results, want %d", c.name, len(res), fleet)
		}
		for _, r := range res {
			if r.Outcome != tenancy.OutcomeUpToDate {
				t.Fatalf("Migrate %s: %s is %s, want up-to-date", c.name, r.Schema, r.Outcome)
			}
		}
		// The whole fleet includes the warm pool: one query more for its
		// members behind.
		want := 1
		if c.name == "all" {
			want = 2
		}
		if len(sqls) != want {
			t.Errorf("Migrate %s over %d up-to-date tenants issued %d queries, want %d; the first: %q", c.name, fleet, len(sqls), want, firstFew(sqls))
		}
	}

	var st []tenancy.TenantStatus
	sqls := counter.during(func() { st, err = m.Inspect(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != fleet {
		t.Fatalf("Inspect: %d tenants, want %d", len(st), fleet)
	}
	for _, s := range st {
		if !s.OK() || len(s.Applied) != 2 {
			t.Fatalf("Inspect %s: %d applied, problems %v; want healthy with 2 applied", s.Schema, len(s.Applied), s.Problems)
		}
	}
	if len(sqls) != 1 {
		t.Errorf("Inspect over %d tenants issued %d queries, want 1; the first: %q", fleet, len(sqls), firstFew(sqls))
	}
}

func TestMigrateOptions(t *testing.T) {
	t.Parallel()

	// A dry run reads the ledger and nothing else: results say what would
	// run, and neither the ledger nor the schemas change. It also takes no
	// row lock: with every ledger row locked by another transaction it
	// still completes (a locking dry run would wait for that transaction
	// forever, and the test would fail on its deadline).
	t.Run("DryRun", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		pool := fleetPool(t, 4)
		n := newFleetNames(t, pool, "md")
		ids := createFleet(t, n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 1)}), 3, 3)
		m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)})
		before := n.ledger(t, pool)

		locker, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer locker.Rollback(ctx)
		if _, err := locker.Exec(ctx, "SELECT FROM "+n.tenantsTable()+" FOR UPDATE"); err != nil {
			t.Fatal(err)
		}
		dryCtx, cancel := context.WithTimeout(ctx, testDeadline)
		defer cancel()
		res, err := m.Migrate(dryCtx, tenancy.MigrateOptions{DryRun: true})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if err := locker.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if len(res) != len(ids) || !sameIDSet(resultIDs(res), ids) {
			t.Fatalf("dry run: %d results, want one per tenant (%d)", len(res), len(ids))
		}
		wantPending := []string{"002_notes.sql", migration3Name}
		for _, r := range res {
			if r.Outcome != tenancy.OutcomePlanned || r.From != 1 || r.To != 3 || !slices.Equal(r.Migrations, wantPending) || r.Err != nil {
				t.Errorf("dry run %s: %s %d→%d pending %v err %v; want Planned 1→3 pending %v", r.Schema, r.Outcome, r.From, r.To, r.Migrations, r.Err, wantPending)
			}
		}
		after := n.ledger(t, pool)
		if len(after) != len(before) {
			t.Fatalf("ledger has %d tenants after the dry run, %d before", len(after), len(before))
		}
		for id, b := range before {
			if after[id] != b || b.Version != 1 {
				t.Errorf("ledger of %s: %+v after the dry run, %+v before; want unchanged at 1", m.SchemaName(id), after[id], b)
			}
		}
		var notes int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE starts_with(s.nspname, $1) AND c.relname = 'notes'`, n.Prefix).Scan(&notes); err != nil {
			t.Fatal(err)
		}
		if notes != 0 {
			t.Errorf("the dry run created %d notes tables, want none", notes)
		}
	})

	t.Run("TargetVersion", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		pool := fleetPool(t, 4)
		n := newFleetNames(t, pool, "mv")
		ids := createFleet(t, n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 1)}), 3, 3)
		m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)})

		for _, target := range []int32{4, -1} {
			res, err := m.Migrate(ctx, tenancy.MigrateOptions{TargetVersion: target})
			if !errors.Is(err, tenancy.ErrUnknownVersion) || res != nil {
				t.Errorf("target %d: %d results, %v; want none and ErrUnknownVersion", target, len(res), err)
			}
		}
		for id, l := range n.ledger(t, pool) {
			if l.Version != 1 {
				t.Errorf("%s at %d after refused targets, want 1", m.SchemaName(id), l.Version)
			}
		}

		for _, step := range []struct {
			target   int32
			from, to int32
			pending  string
		}{{2, 1, 2, "002_notes.sql"}, {0, 2, 3, migration3Name}} {
			res, err := m.Migrate(ctx, tenancy.MigrateOptions{TargetVersion: step.target})
			if err != nil {
				t.Fatalf("target %d: %v", step.target, err)
			}
			if len(res) != len(ids) {
				t.Fatalf("target %d: %d results, want %d", step.target, len(res), len(ids))
			}
			for _, r := range res {
				if r.Outcome != tenancy.OutcomeMigrated || r.From != step.from || r.To != step.to || !slices.Equal(r.Migrations, []string{step.pending}) {
					t.Errorf("target %d: %s %s %d→%d pending %v; want Migrated %d→%d applying %s",
						step.target, r.Schema, r.Outcome, r.From, r.To, r.Migrations, step.from, step.to, step.pending)
				}
			}
			for id, l := range n.ledger(t, pool) {
				if l.Version != step.to || l.Migrations != int(step.to) {
					t.Errorf("target %d: ledger of %s: %+v, want version and %d migrations", step.target, m.SchemaName(id), l, step.to)
				}
			}
		}

		// Every tenant is now above target 2: refused, never migrated down.
		res, err := m.Migrate(ctx, tenancy.MigrateOptions{TargetVersion: 2})
		var fe *tenancy.FleetError
		if !errors.As(err, &fe) || fe.Failed != len(ids) || fe.Skipped != 0 {
			t.Errorf("target 2 from 3: error %v, want *FleetError with %d failed", err, len(ids))
		}
		for _, r := range res {
			if r.Outcome != tenancy.OutcomeFailed || !errors.Is(r.Err, tenancy.ErrAhead) || r.From != 3 || r.To != 3 {
				t.Errorf("target 2 from 3: %s %s %d→%d err %v; want Failed with ErrAhead at 3", r.Schema, r.Outcome, r.From, r.To, r.Err)
			}
		}
		for id, l := range n.ledger(t, pool) {
			if l.Version != 3 || l.Migrations != 3 {
				t.Errorf("ledger of %s after the refused target: %+v, want still at 3", m.SchemaName(id), l)
			}
		}
	})

	// Only the listed tenants migrate, in the listed order; an id the
	// ledger does not know fails alone.
	t.Run("Tenants", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		pool := fleetPool(t, 4)
		n := newFleetNames(t, pool, "ml")
		ids := createFleet(t, n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)}), 4, 4)
		m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)})
		unknown := uuid.New()
		listed := []uuid.UUID{ids[2], unknown, ids[0]}

		res, err := m.Migrate(ctx, tenancy.MigrateOptions{Tenants: listed})
		var fe *tenancy.FleetError
		if !errors.As(err, &fe) || fe.Total != 3 || fe.Failed != 1 || fe.Skipped != 0 {
			t.Errorf("error %v, want *FleetError{Total: 3, Failed: 1}", err)
		}
		if !slices.Equal(resultIDs(res), listed) {
			t.Fatalf("results for %v, want the listed tenants in order %v", resultIDs(res), listed)
		}
		for _, r := range res {
			if r.TenantID == unknown {
				if r.Outcome != tenancy.OutcomeFailed || !errors.Is(r.Err, tenancy.ErrTenantNotFound) || r.Schema != m.SchemaName(unknown) {
					t.Errorf("unknown tenant: %s %s err %v; want Failed with ErrTenantNotFound", r.Schema, r.Outcome, r.Err)
				}
				continue
			}
			if r.Outcome != tenancy.OutcomeMigrated || r.From != 2 || r.To != 3 || r.Err != nil {
				t.Errorf("%s: %s %d→%d err %v; want Migrated 2→3", r.Schema, r.Outcome, r.From, r.To, r.Err)
			}
		}
		led := n.ledger(t, pool)
		if len(led) != len(ids) {
			t.Errorf("ledger has %d tenants, want %d: the unknown id must not be added", len(led), len(ids))
		}
		for i, id := range ids {
			want := int32(2)
			if i == 0 || i == 2 {
				want = 3
			}
			if led[id].Version != want {
				t.Errorf("ledger of %s at %d, want %d", m.SchemaName(id), led[id].Version, want)
			}
		}
	})

	// One worker, tenants in schema-name order: after the second failure
	// nothing more is started, whether it would have failed or not.
	t.Run("MaxFailures", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		pool := fleetPool(t, 4)
		n := newFleetNames(t, pool, "mx")
		old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
		ids := createFleet(t, old, 6, 4)
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(old.SchemaName(a), old.SchemaName(b)) })
		for _, i := range []int{1, 2, 4} {
			err := old.InTenant(ctx, ids[i], func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "CREATE TABLE items_priority_idx (id int)")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)})

		res, err := m.Migrate(ctx, tenancy.MigrateOptions{Concurrency: 1, MaxFailures: 2})
		var fe *tenancy.FleetError
		if !errors.As(err, &fe) || fe.Total != 6 || fe.Failed != 2 || fe.Skipped != 3 {
			t.Fatalf("error %v, want *FleetError{Total: 6, Failed: 2, Skipped: 3}", err)
		}
		if !slices.Equal(resultIDs(res), ids) {
			t.Fatalf("results for %v, want schema-name order %v", resultIDs(res), ids)
		}
		want := []tenancy.Outcome{tenancy.OutcomeMigrated, tenancy.OutcomeFailed, tenancy.OutcomeFailed, tenancy.OutcomeSkipped, tenancy.OutcomeSkipped, tenancy.OutcomeSkipped}
		for i, r := range res {
			if r.Outcome != want[i] {
				t.Errorf("tenant %d (%s): %s err %v, want %s", i, r.Schema, r.Outcome, r.Err, want[i])
			}
			switch r.Outcome {
			case tenancy.OutcomeSkipped:
				if !errors.Is(r.Err, tenancy.ErrSkipped) || r.From != 2 || r.To != 2 {
					t.Errorf("skipped %s: %d→%d err %v; want 2→2 with ErrSkipped", r.Schema, r.From, r.To, r.Err)
				}
			case tenancy.OutcomeFailed:
				var me *tenancy.MigrationError
				if !errors.As(r.Err, &me) || me.Migration != migration3Name {
					t.Errorf("failed %s: err %v, want a *MigrationError for %s", r.Schema, r.Err, migration3Name)
				}
			}
		}
		led := n.ledger(t, pool)
		for i, id := range ids {
			want := ledgerRow{Version: 2, Migrations: 2, Distinct: 2}
			if i == 0 {
				want = ledgerRow{Version: 3, Migrations: 3, Distinct: 3}
			}
			got := led[id]
			// Only attempted failures are noted; a skipped tenant was
			// never tried, so it has no error of its own to show.
			if hasErr := got.LastError != ""; hasErr != (i == 1 || i == 2) {
				t.Errorf("ledger of tenant %d: last_error %q", i, got.LastError)
			}
			got.LastError = ""
			if got != want {
				t.Errorf("ledger of tenant %d: %+v, want %+v", i, got, want)
			}
		}
	})
}

// TestConcurrentMigrators: two fleet migrations of the same 50 tenants at
// once, one walking the fleet in schema order and the other in reverse, so
// that they meet on every tenant. Each tenant is migrated once, by one of
// them; the other finds it current under the row lock. Nothing fails and
// the ledger records every migration exactly once.
func TestConcurrentMigrators(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const fleet = 50
	pool := fleetPool(t, 8)
	n := newFleetNames(t, pool, "mc")
	old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 1)})
	ids := createFleet(t, old, fleet, 8)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(old.SchemaName(a), old.SchemaName(b)) })
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)

	// Two Managers, as two processes (two deploys of the same binary) would
	// have.
	migrators := []*tenancy.Manager{n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)}), n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 3)})}
	opts := []tenancy.MigrateOptions{{Concurrency: 4}, {Concurrency: 4, Tenants: reversed}}
	results := make([][]tenancy.Result, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range migrators {
		wg.Go(func() {
			<-start
			results[i], errs[i] = migrators[i].Migrate(ctx, opts[i])
		})
	}
	close(start)
	wg.Wait()

	migrated := map[uuid.UUID]int{}
	for i := range migrators {
		if errs[i] != nil {
			t.Errorf("migrator %d: %v", i, errs[i])
		}
		if len(results[i]) != fleet || !sameIDSet(resultIDs(results[i]), ids) {
			t.Errorf("migrator %d: %d results, want one per tenant (%d)", i, len(results[i]), fleet)
		}
		for _, r := range results[i] {
			switch r.Outcome {
			case tenancy.OutcomeMigrated:
				migrated[r.TenantID]++
				if r.From != 1 || r.To != 3 {
					t.Errorf("migrator %d: %s migrated %d→%d, want 1→3", i, r.Schema, r.From, r.To)
				}
			case tenancy.OutcomeUpToDate:
				if r.From != 3 || r.To != 3 {
					t.Errorf("migrator %d: %s up to date at %d→%d, want 3", i, r.Schema, r.From, r.To)
				}
			default:
				t.Errorf("migrator %d: %s %s err %v, want migrated or up-to-date", i, r.Schema, r.Outcome, r.Err)
			}
		}
	}
	for _, id := range ids {
		if migrated[id] != 1 {
			t.Errorf("%s was migrated %d times across both migrators, want exactly once", old.SchemaName(id), migrated[id])
		}
	}
	led := n.ledger(t, pool)
	for _, id := range ids {
		if want := (ledgerRow{Version: 3, Migrations: 3, Distinct: 3}); led[id] != want {
			t.Errorf("ledger of %s: %+v, want %+v", old.SchemaName(id), led[id], want)
		}
	}
}

// TestMigrateDiscardResults: with DiscardResults, Migrate returns no
// Results, yet every tenant goes through OnResult, migrations run as
// without it, and the error counts the failures.
func TestMigrateDiscardResults(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := fleetPool(t, 4)
	n := newFleetNames(t, pool, "dr")
	ids := createFleet(t, n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 1)}), 3, 3)
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	missing := uuid.New()

	got := map[uuid.UUID]tenancy.Outcome{}
	res, err := m.Migrate(ctx, tenancy.MigrateOptions{Tenants: append(slices.Clone(ids), missing), DiscardResults: true,
		OnResult: func(done, total int, r tenancy.Result) {
			if total != 4 || done != len(got)+1 {
				t.Errorf("OnResult(%d, %d) after %d calls", done, total, len(got))
			}
			got[r.TenantID] = r.Outcome
		}})
	if res != nil {
		t.Errorf("%d results returned with DiscardResults", len(res))
	}
	var fe *tenancy.FleetError
	if !errors.As(err, &fe) || fe.Total != 4 || fe.Failed != 1 || fe.Skipped != 0 {
		t.Errorf("err %v, want a FleetError of 4 tenants, 1 failed", err)
	}
	for _, id := range ids {
		if got[id] != tenancy.OutcomeMigrated {
			t.Errorf("%s: %s, want migrated", m.SchemaName(id), got[id])
		}
	}
	if got[missing] != tenancy.OutcomeFailed {
		t.Errorf("the missing tenant: %s, want failed", got[missing])
	}
	for _, id := range ids {
		if row := n.ledger(t, pool)[id]; row.Version != 2 {
			t.Errorf("ledger of %s: version %d, want 2", m.SchemaName(id), row.Version)
		}
	}
}

// A failure's error is kept in the ledger cut to 4000 bytes between runes:
// half a rune is not UTF-8, PostgreSQL would refuse the text, and the
// failure would go unrecorded. The migration's message is chosen so that
// byte 4000 of the error falls inside a 2-byte rune.
func TestLongFailureIsRecordedWhole(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newFleetNames(t, pool, "lf")
	old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	id := tenancytest.Tenant(t, old)
	head := "tenancy: schema " + old.SchemaName(id) + ": migration 003_x.sql, statement 1 (line 1): ERROR: "
	pad := (len(head) + 1) % 2 // 4000-len(head)-pad is odd: mid-rune
	sql := fmt.Sprintf(`DO $$ BEGIN RAISE EXCEPTION '%%', repeat('x', %d) || repeat('é', 3000); END $$;`, pad)
	m := n.Manager(t, pool, &tenancy.Config{Migrations: withExtra(t, "003_x.sql", sql)})
	if _, err := m.Migrate(ctx, tenancy.MigrateOptions{}); err == nil {
		t.Fatal("Migrate succeeded; want the migration's exception")
	}
	got := n.ledger(t, pool)[id].LastError
	if !strings.HasPrefix(got, head) || !utf8.ValidString(got) || !strings.HasSuffix(got, "é…") || len(got) > 4000+len("…") {
		t.Errorf("last_error (%d bytes) = %q…%q; want %q, then the message cut to 4000 bytes between runes and …",
			len(got), got[:min(len(got), len(head))], got[max(0, len(got)-10):], head)
	}
}
