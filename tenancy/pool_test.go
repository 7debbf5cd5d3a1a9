package tenancy_test

// The warm pool: members are whole, claimed at most once, at the latest
// version, migrated with the fleet, reported by Inspect and never orphans.

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// memberRow is a pool member as its ledger tables record it.
type memberRow struct {
	Version    int32
	Migrations string // applied versions, "1,2"
}

// poolLedger reads the pool's ledger rows of n's prefix, schema name ->
// row, in the snapshot of q (a pool or a transaction).
func (n createNames) poolLedger(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) map[string]memberRow {
	t.Helper()
	rows, err := q.Query(t.Context(), `SELECT p.schema_name, p.version, coalesce(string_agg(g.version::text, ',' ORDER BY g.version), '')
		FROM `+pgx.Identifier{n.Ledger, "tenancy_pool"}.Sanitize()+` p
		LEFT JOIN `+pgx.Identifier{n.Ledger, "tenancy_pool_migrations"}.Sanitize()+` g USING (schema_name)
		WHERE p.prefix = $1 GROUP BY 1, 2`, n.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]memberRow{}
	var s string
	var r memberRow
	if _, err := pgx.ForEachRow(rows, []any{&s, &r.Version, &r.Migrations}, func() error { out[s] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// memberSchemas lists the catalog's schemas named as m's pool members.
func memberSchemas(t *testing.T, pool *pgxpool.Pool, m *tenancy.Manager) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1", m.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(s string) bool { return !m.IsPoolMember(s) })
}

// newPoolManager is a Manager of the test migrations with a pool of size,
// over a registry (createNames) of its own.
func newPoolManager(t *testing.T, size int) (*tenancy.Manager, createNames, *pgxpool.Pool) {
	t.Helper()
	pool := fleetPool(t, 8)
	n := newCreateNames(t, pool)
	return n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations, PoolSize: size}), n, pool
}

func fill(t *testing.T, m *tenancy.Manager, want int) {
	t.Helper()
	got, err := m.FillPool(t.Context())
	if err != nil || got != want {
		t.Fatalf("FillPool = %d, %v; want %d created", got, err, want)
	}
}

// A claimed member is a working tenant at the latest version, recorded in
// the ledger with its migrations, its registry row written by the hook; the
// member is gone from the pool and the catalog; Inspect reports the tenant
// and the other members, and no orphan.
func TestPoolClaim(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, n, pool := newPoolManager(t, 3)
	fill(t, m, 3)
	fill(t, m, 0) // full: nothing more
	before := n.poolLedger(t, pool)
	if len(before) != 3 {
		t.Fatalf("pool ledger has %d members, want 3", len(before))
	}
	for s, r := range before {
		if !m.IsPoolMember(s) || r.Version != m.LatestVersion() || r.Migrations != "1,2" {
			t.Errorf("member %s: %+v, want a member at %d with migrations 1,2", s, r, m.LatestVersion())
		}
		if _, err := m.ParseSchemaName(s); !errors.Is(err, tenancy.ErrInvalidName) {
			t.Errorf("ParseSchemaName(%s) = %v, want ErrInvalidName: a member is never a tenant", s, err)
		}
	}

	id := uuid.New()
	if err := m.Create(ctx, id, n.registerHook(id)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	after := n.poolLedger(t, pool)
	if len(after) != 2 {
		t.Fatalf("pool after a claim: %d members, want 2", len(after))
	}
	var claimed []string
	for s := range before {
		if _, ok := after[s]; !ok {
			claimed = append(claimed, s)
		}
	}
	if len(claimed) != 1 {
		t.Fatalf("members claimed: %v, want one", claimed)
	}
	if got := memberSchemas(t, pool, m); len(got) != 2 || slices.Contains(got, claimed[0]) {
		t.Errorf("member schemas after the claim: %v, want the 2 unclaimed", got)
	}
	if err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
		// The foreign key and the identity work under the new name.
		var item int64
		if err := tx.QueryRow(ctx, "INSERT INTO items (tenant_marker, name) VALUES ($1, 'a') RETURNING id", id.String()).Scan(&item); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO notes (item_id, body) VALUES ($1, 'n')", item)
		return err
	}); err != nil {
		t.Fatalf("InTenant in the claimed tenant: %v", err)
	}
	n.assertWholeTenants(t, pool, m)

	st, err := m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenants, members := 0, 0
	for _, s := range st {
		if !s.OK() || !s.InLedger || !s.SchemaExists || s.Version != m.LatestVersion() || len(s.Applied) != 2 {
			t.Errorf("Inspect %s: %+v, want healthy at %d with 2 applied", s.Schema, s, m.LatestVersion())
		}
		if s.PoolMember {
			members++
			if s.TenantID != uuid.Nil {
				t.Errorf("member %s has tenant id %s", s.Schema, s.TenantID)
			}
		} else {
			tenants++
			if s.TenantID != id {
				t.Errorf("tenant %s has id %s, want %s", s.Schema, s.TenantID, id)
			}
		}
	}
	if tenants != 1 || members != 2 {
		t.Errorf("Inspect: %d tenants and %d members, want 1 and 2", tenants, members)
	}
}

// With the pool empty Create falls back to a cold create; it never fills
// the pool itself.
func TestPoolEmptyCreatesCold(t *testing.T) {
	t.Parallel()
	m, n, pool := newPoolManager(t, 2)
	id := uuid.New()
	if err := m.Create(t.Context(), id, n.registerHook(id)); err != nil {
		t.Fatalf("Create with an empty pool: %v", err)
	}
	n.assertWholeTenants(t, pool, m)
	if got := n.poolLedger(t, pool); len(got) != 0 {
		t.Errorf("pool after a cold create: %v, want empty", got)
	}
}

// A claim that fails (the hook refuses, the tenant exists) rolls back
// whole: the member is back in the pool under its own name, and nothing of
// the tenant is left.
func TestPoolClaimRollsBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, n, pool := newPoolManager(t, 1)
	fill(t, m, 1)
	before := n.poolLedger(t, pool)

	id := uuid.New()
	errRegistry := errors.New("registry refused the tenant")
	err := m.Create(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
		if err := n.registerHook(id)(ctx, tx); err != nil {
			return err
		}
		return errRegistry
	})
	if !errors.Is(err, errRegistry) {
		t.Fatalf("Create = %v, want the hook's error", err)
	}
	if after := n.poolLedger(t, pool); !maps.Equal(before, after) {
		t.Errorf("pool after a failed claim: %v, want %v", after, before)
	}
	if got := memberSchemas(t, pool, m); len(got) != 1 {
		t.Errorf("member schemas after a failed claim: %v, want 1", got)
	}
	var schemas, ledger, registry int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1),
		(SELECT count(*) FROM `+pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize()+`),
		(SELECT count(*) FROM `+n.Registry+`)`, m.SchemaName(id)).Scan(&schemas, &ledger, &registry); err != nil {
		t.Fatal(err)
	}
	if schemas != 0 || ledger != 0 || registry != 0 {
		t.Errorf("after a failed claim: %d schemas, %d ledger rows, %d registry rows of the tenant; want none", schemas, ledger, registry)
	}

	// The tenant exists: the claim refuses it and keeps the member.
	if err := m.Create(ctx, id, n.registerHook(id)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	fill(t, m, 1)
	if err := m.Create(ctx, id, nil); !errors.Is(err, tenancy.ErrTenantExists) {
		t.Fatalf("Create of an existing tenant = %v, want ErrTenantExists", err)
	}
	if got := n.poolLedger(t, pool); len(got) != 1 {
		t.Errorf("pool after a refused claim: %v, want its member", got)
	}
	n.assertWholeTenants(t, pool, m)
}

// 50 concurrent Creates over a pool of 20: 50 distinct tenants, every one
// whole, the 20 members each claimed once (a second claim of one would
// fail its rename) and the 30 others created cold.
func TestPoolConcurrentCreates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const creates, size = 50, 20
	m, n, pool := newPoolManager(t, size)
	fill(t, m, size)
	members := n.poolLedger(t, pool)

	ids := make([]uuid.UUID, creates)
	errs := make([]error, creates)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = uuid.New()
		wg.Go(func() {
			<-start
			errs[i] = m.Create(ctx, ids[i], n.registerHook(ids[i]))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Create %d: %v", i, err)
		}
	}
	if got := n.ledgerCount(t, pool); got != creates {
		t.Errorf("%d tenants in the ledger, want %d", got, creates)
	}
	left := n.poolLedger(t, pool)
	if len(left) != 0 {
		t.Errorf("%d members left, want all %d claimed: %v", len(left), size, left)
	}
	for s := range members {
		if slices.Contains(memberSchemas(t, pool, m), s) {
			t.Errorf("claimed member %s still exists under its name", s)
		}
	}
	n.assertWholeTenants(t, pool, m)
}

// Two concurrent refills take turns on the prefix's lock row: together
// they create exactly what the pool lacks.
func TestPoolConcurrentFills(t *testing.T) {
	t.Parallel()
	const size = 15
	m, n, pool := newPoolManager(t, size)
	var created [2]int
	var errs [2]error
	var wg sync.WaitGroup
	for i := range created {
		wg.Go(func() { created[i], errs[i] = m.FillPool(t.Context()) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("FillPool: %v, %v", errs[0], errs[1])
	}
	if created[0]+created[1] != size {
		t.Errorf("concurrent refills created %d + %d, want %d in all", created[0], created[1], size)
	}
	if got := n.poolLedger(t, pool); len(got) != size {
		t.Errorf("pool has %d members, want %d", len(got), size)
	}
}

// membersBehind makes size members at version 1, as a release with only
// the first migration would, over a registry of their own.
func membersBehind(t *testing.T, size int) (createNames, *pgxpool.Pool) {
	t.Helper()
	pool := fleetPool(t, 4)
	n := newCreateNames(t, pool)
	fill(t, n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 1), PoolSize: size}), size)
	return n, pool
}

// Members made by an older release are behind: Create does not claim them
// (it creates cold), Migrate brings them to the latest version with the
// fleet, and then Create claims them.
func TestPoolMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, pool := membersBehind(t, 3)
	m := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations, PoolSize: 3})

	id := uuid.New()
	if err := m.Create(ctx, id, n.registerHook(id)); err != nil {
		t.Fatal(err)
	}
	if got := n.poolLedger(t, pool); len(got) != 3 {
		t.Fatalf("Create claimed a member behind: %d left, want 3", len(got))
	}
	st, err := m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	behind := 0
	for _, s := range st {
		if s.PoolMember && slices.Equal(s.Problems, []tenancy.Problem{tenancy.ProblemBehind}) {
			behind++
		}
	}
	if behind != 3 {
		t.Errorf("Inspect: %d members behind, want 3: %+v", behind, st)
	}

	if _, err := m.Migrate(ctx, tenancy.MigrateOptions{}); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for s, r := range n.poolLedger(t, pool) {
		if r.Version != 2 || r.Migrations != "1,2" {
			t.Errorf("member %s after Migrate: %+v, want version 2 with 1,2", s, r)
		}
	}
	id2 := uuid.New()
	if err := m.Create(ctx, id2, n.registerHook(id2)); err != nil {
		t.Fatal(err)
	}
	if got := n.poolLedger(t, pool); len(got) != 2 {
		t.Errorf("after Migrate Create did not claim: %d members, want 2", len(got))
	}
	n.assertWholeTenants(t, pool, m)
}

// A member whose migration fails is dropped, not left behind.
func TestPoolMigrateFailureDrops(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	n, pool := membersBehind(t, 2)
	migs := migrationsUpTo(t, 1)
	migs["002_boom.sql"] = &fstest.MapFile{Data: []byte("SELECT 1/0;\n")}
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migs, PoolSize: 2})
	got, err := m.MigratePool(ctx)
	if err != nil || got != (tenancy.PoolMigration{Dropped: 2}) {
		t.Fatalf("MigratePool = %+v, %v; want 2 dropped", got, err)
	}
	if left := n.poolLedger(t, pool); len(left) != 0 {
		t.Errorf("members left: %v", left)
	}
	if left := memberSchemas(t, pool, m); len(left) != 0 {
		t.Errorf("member schemas left: %v", left)
	}
}

// DrainPool drops every member, schema and ledger rows; Inspect then finds
// nothing.
func TestPoolDrain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, n, pool := newPoolManager(t, 12) // more than one transaction's worth
	fill(t, m, 12)
	dropped, err := m.DrainPool(ctx)
	if err != nil || dropped != 12 {
		t.Fatalf("DrainPool = %d, %v; want 12", dropped, err)
	}
	if left := n.poolLedger(t, pool); len(left) != 0 {
		t.Errorf("members left in the ledger: %v", left)
	}
	if left := memberSchemas(t, pool, m); len(left) != 0 {
		t.Errorf("member schemas left: %v", left)
	}
	if st, err := m.Inspect(ctx); err != nil || len(st) != 0 {
		t.Errorf("Inspect after drain = %+v, %v; want nothing", st, err)
	}
	if dropped, err := m.DrainPool(ctx); err != nil || dropped != 0 {
		t.Errorf("DrainPool of an empty pool = %d, %v", dropped, err)
	}
}

// KeepPoolFilled fills the pool, refills it after a claim without waiting
// for its interval, and returns nil, leaving no goroutine (TestMain's
// goleak), once its context ends.
func TestKeepPoolFilled(t *testing.T) {
	t.Parallel()
	m, n, pool := newPoolManager(t, 2)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.KeepPoolFilled(ctx, time.Hour) }()

	waitMembers := func(want int) map[string]memberRow {
		t.Helper()
		deadline := time.Now().Add(testDeadline) // a liveness bound only
		for {
			got := n.poolLedger(t, pool)
			if len(got) == want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("pool has %d members, want %d", len(got), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	first := waitMembers(2)
	id := uuid.New()
	if err := m.Create(t.Context(), id, n.registerHook(id)); err != nil {
		t.Fatal(err)
	}
	// The hour's interval is far off: the claim itself woke the refill.
	refilled := waitMembers(2)
	if maps.Equal(first, refilled) {
		t.Error("the pool holds the same members after a claim")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("KeepPoolFilled = %v, want nil after cancel", err)
	}
	n.assertWholeTenants(t, pool, m)
}

func TestPoolConfig(t *testing.T) {
	t.Parallel()
	pool := fleetPool(t, 1)
	if _, err := tenancy.New(pool, &tenancy.Config{Migrations: testMigrations, PoolSize: -1}); err == nil {
		t.Error("New accepted PoolSize -1")
	}
	off, _, _ := newPoolManager(t, 0)
	if err := off.KeepPoolFilled(t.Context(), time.Hour); err != nil {
		t.Errorf("KeepPoolFilled with the pool off = %v, want nil at once", err)
	}
	if err := off.KeepPoolFilled(t.Context(), 0); err == nil {
		t.Error("KeepPoolFilled accepted interval 0")
	}
	if created, err := off.FillPool(t.Context()); created != 0 || err != nil {
		t.Errorf("FillPool with the pool off = %d, %v; want 0, nil", created, err)
	}
}
