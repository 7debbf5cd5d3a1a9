package bench

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/testdb"
)

// The Inspect row's floor reads the rows Inspect reports of the ledger's
// tenants (inspectVersusRead checks the counts agree), and pgbench runs
// it: beside three tenants, an orphan schema (reported by Inspect, not in
// the ledger) and a schema of the prefix but not of the Manager's shape
// (reported by neither) leave the two sides agreeing.
func TestInspectVersusRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := testdb.New(t)
	e := testEnv(t)
	for range 3 {
		if err := d.Tenancy.Create(ctx, uuid.New(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{d.Tenancy.SchemaName(uuid.New())}.Sanitize()+
		"; CREATE SCHEMA "+pgx.Identifier{d.Tenancy.Prefix() + "not_a_tenant"}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	ours, floor, note, err := e.inspectVersusRead(ctx, d.URL, d.Pool, d.Tenancy)
	if err != nil || ours.Value <= 0 || floor.Value <= 0 || note == "" {
		t.Fatalf("inspectVersusRead = %v, %v, %q, %v; want both sides measured", ours, floor, note, err)
	}
}
