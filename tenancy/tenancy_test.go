package tenancy_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// testMigrations are the tenant migrations the package's tests run.
var testMigrations = os.DirFS("testdata/migrations")

func newManager(t *testing.T) *tenancy.Manager {
	t.Helper()
	return tenancytest.NewManager(t, tenancytest.Pool(t), &tenancy.Config{Migrations: testMigrations})
}

func TestCreateMigratesAndDrop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newManager(t)
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
