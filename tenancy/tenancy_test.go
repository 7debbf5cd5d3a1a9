package tenancy_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// testMigrations are the tenant migrations the package's tests run.
var testMigrations = os.DirFS("testdata/migrations")

// TestMain fails the package if a test leaves a goroutine behind (a pool
// not closed, a fleet migration's worker still running).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPool returns a pool on the test database (see tenancytest.Pool), its
// configuration changed by configure first unless that is nil.
func testPool(tb testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(tenancytest.DatabaseURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if configure != nil {
		configure(cfg)
	}
	return tenancytest.PoolWithConfig(tb, cfg)
}

// newManager returns a set-up Manager of the test migrations, with a
// ledger and prefix of its own, over a new testPool(tb, configure), and the
// pool.
func newManager(tb testing.TB, configure func(*pgxpool.Config)) (*tenancy.Manager, *pgxpool.Pool) {
	tb.Helper()
	pool := testPool(tb, configure)
	return tenancytest.NewManager(tb, pool, &tenancy.Config{Migrations: testMigrations}), pool
}

func TestCreateMigratesAndDrop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, _ := newManager(t, nil)
	id := uuid.New()
	registered := false
	if err := m.Create(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
		registered = true
		return nil
	}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !registered {
		t.Fatal("Create did not call the hook")
	}
	if err := m.Create(ctx, id, nil); !errors.Is(err, tenancy.ErrTenantExists) {
		t.Fatalf("second Create: got %v, want ErrTenantExists", err)
	}
	err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO items (tenant_marker, name) VALUES ($1, 'a')", id.String())
		return err
	})
	if err != nil {
		t.Fatalf("InTenant insert: %v", err)
	}
	st, err := m.Inspect(ctx)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if len(st) != 1 || !st[0].OK() || st[0].Version != m.LatestVersion() || len(st[0].Applied) != 2 {
		t.Fatalf("Inspect = %+v, want one healthy tenant at version %d with 2 applied", st, m.LatestVersion())
	}
	if err := m.Drop(ctx, id, nil); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if err := m.Drop(ctx, id, nil); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("second Drop: got %v, want ErrTenantNotFound", err)
	}
	if st, err := m.Inspect(ctx); err != nil || len(st) != 0 {
		t.Fatalf("Inspect after drop = %+v, %v; want none", st, err)
	}
}
