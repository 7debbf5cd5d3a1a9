package testdb_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/testdb"
)

// TestMain fails the package if a test database's pool outlives its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewIsMigratedAndPrivate(t *testing.T) {
	t.Parallel()
	a, b := testdb.New(t), testdb.New(t)
	ctx := t.Context()
	if _, err := a.Pool.Exec(ctx, "INSERT INTO public.centers (name) VALUES ('only in a')"); err != nil {
		t.Fatalf("insert into a: %v", err)
	}
	var n int
	if err := b.Pool.QueryRow(ctx, "SELECT count(*) FROM public.centers").Scan(&n); err != nil {
		t.Fatalf("count in b: %v", err)
	}
	if n != 0 {
		t.Fatalf("database b sees %d centers of database a", n)
	}
	if err := a.Pool.QueryRow(ctx, "SELECT count(*) FROM public.tenancy_tenants").Scan(&n); err != nil {
		t.Fatalf("ledger missing: %v", err)
	}
}
