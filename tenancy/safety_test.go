package tenancy_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// withExtra returns the test migrations plus one more file.
func withExtra(tb testing.TB, name, sql string) fstest.MapFS {
	fsys := migrationsUpTo(tb, 2)
	fsys[name] = &fstest.MapFile{Data: []byte(sql)}
	return fsys
}

// A migration may not move search_path or reset session state: a session
// SET would outlive its transaction on the pooled connection.
func TestMigrationsMayNotTouchSessionState(t *testing.T) {
	t.Parallel()
	pool := tenancytest.Pool(t)
	for _, sql := range []string{
		"SET search_path TO public;",
		"SELECT set_config('search_path', 'public', false);",
		"RESET ALL;",
		"reset   all;",
		"DISCARD ALL;",
	} {
		_, err := tenancy.New(pool, &tenancy.Config{Migrations: withExtra(t, "003_x.sql", sql)})
		if err == nil {
			t.Errorf("New accepted a migration doing %q", sql)
		}
	}
	// A word that merely contains "reset", and comments, are fine.
	for _, sql := range []string{
		"ALTER TABLE items ADD COLUMN preset text;",
		"-- runs with search_path set to the tenant\nALTER TABLE items ADD COLUMN a text;",
		"/* no RESET ALL here */ ALTER TABLE items ADD COLUMN b text;",
	} {
		if _, err := tenancy.New(pool, &tenancy.Config{Migrations: withExtra(t, "003_x.sql", sql)}); err != nil {
			t.Errorf("New refused an innocent migration %q: %v", sql, err)
		}
	}
}

// The hook runs with the connection's own search_path, and Create and
// Migrate leave that path on the connection afterwards.
func TestCreateAndMigrateKeepTheCallersSearchPath(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t) // its connections start with search_path ''
	n := tenancytest.NewNames(t, pool, "sp")
	m := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})

	var inHook string
	id := uuid.New()
	err := m.Create(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SHOW search_path").Scan(&inHook)
	})
	if err != nil {
		t.Fatal(err)
	}
	if inHook != `""` {
		t.Errorf("the hook sees search_path %q, want the connection's own %q", inHook, `""`)
	}

	m3 := n.Manager(t, pool, &tenancy.Config{Migrations: withExtra(t, "003_x.sql", "ALTER TABLE items ADD COLUMN extra text;")})
	if _, err := m3.Migrate(ctx, tenancy.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	assertEveryConnClean(t, pool)
}

// A migration whose DDL waits longer than MigrationLockTimeout for the application's
// lock fails, rolled back, instead of queueing the tenant's traffic.
func TestMigrationLockTimeout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := tenancytest.NewNames(t, pool, "lt")
	id := tenancytest.Tenant(t, n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations}))

	// An application transaction reading items holds a lock the ALTER needs.
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, "SELECT count(*) FROM "+pgx.Identifier{n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations}).SchemaName(id), "items"}.Sanitize()); err != nil {
		t.Fatal(err)
	}

	m := n.Manager(t, pool, &tenancy.Config{
		Migrations:           withExtra(t, "003_x.sql", "ALTER TABLE items ADD COLUMN extra text;"),
		MigrationLockTimeout: 100 * time.Millisecond,
	})
	res, err := m.Migrate(ctx, tenancy.MigrateOptions{})
	var pgErr *pgconn.PgError
	if len(res) != 1 || res[0].Outcome != tenancy.OutcomeFailed || !errors.As(res[0].Err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("Migrate under a held lock = %+v, %v; want one Failed result with lock_not_available (55P03)", res, err)
	}
	if res[0].To != 2 {
		t.Errorf("the failed tenant reports version %d, want 2", res[0].To)
	}
}

// A context ending in the middle of a tenant's migration rolls it back and
// reports it Skipped, not Failed: nothing is wrong with the tenant, and its
// ledger row gets no error.
func TestMigrateInterruptedIsSkipped(t *testing.T) {
	t.Parallel()
	pool := tenancytest.Pool(t)
	n := tenancytest.NewNames(t, pool, "in")
	tenancytest.Tenant(t, n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations}))
	m := n.Manager(t, pool, &tenancy.Config{Migrations: withExtra(t, "003_slow.sql", "SELECT pg_sleep(30);")})

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	res, err := m.Migrate(ctx, tenancy.MigrateOptions{})
	var fe *tenancy.FleetError
	if len(res) != 1 || res[0].Outcome != tenancy.OutcomeSkipped || !errors.Is(res[0].Err, tenancy.ErrSkipped) ||
		!errors.As(err, &fe) || fe.Skipped != 1 || fe.Failed != 0 {
		t.Fatalf("interrupted Migrate = %+v, %v; want one Skipped result", res, err)
	}
	st, err := m.Inspect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Version != 2 || st[0].LastError != "" {
		t.Errorf("after the interruption Inspect = %+v; want version 2 and no recorded error", st)
	}
}
