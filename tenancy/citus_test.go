package tenancy_test

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// On the test database (PostgreSQL) the Manager finds no Citus, and a
// schema's size is PostgreSQL's total relation size of its tables and
// sequences, read here independently of the library's query.
func TestSchemaSizesOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newFleetNames(t, pool, "sz")
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	if citus, err := m.IsCitus(ctx); err != nil || citus {
		t.Fatalf("IsCitus = %v, %v on PostgreSQL; want false", citus, err)
	}
	id := tenancytest.Tenant(t, m)
	empty := tenancytest.Tenant(t, m)
	if err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO items (tenant_marker, name) SELECT 'x', repeat('n', 500) FROM generate_series(1, 200)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	schemas := []string{m.SchemaName(id), m.SchemaName(empty), "no_such_schema"}
	got, err := m.SchemaSizes(ctx, schemas)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range schemas[:2] {
		var want int64
		if err := pool.QueryRow(ctx, `SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
			WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'S')`, pgx.Identifier{s}.Sanitize()).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got[s] != want || want == 0 {
			t.Errorf("size of %s = %d, want %d (and not 0)", s, got[s], want)
		}
	}
	if got[m.SchemaName(id)] <= got[m.SchemaName(empty)] {
		t.Errorf("the schema with 200 rows (%d bytes) is not larger than the empty one (%d)", got[m.SchemaName(id)], got[m.SchemaName(empty)])
	}
	if _, ok := got["no_such_schema"]; ok || len(got) != 2 {
		t.Errorf("sizes %v, want the two existing schemas only", got)
	}
}

// citusPool returns a pool on the Citus coordinator of TEST_CITUS_URL
// (with citus.enable_schema_based_sharding on), or skips the test,
// saying so: Citus is not in Debian, so `make test` has none, and these
// tests are then not run, never passed.
func citusPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv("TEST_CITUS_URL")
	if url == "" {
		t.Skip("not run: TEST_CITUS_URL is not set (a Citus coordinator with citus.enable_schema_based_sharding = on)")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("TEST_CITUS_URL: %v", err)
	}
	return tenancytest.PoolWithConfig(t, cfg)
}

// On Citus the project's shape of tenant (a table, indexes, a trigger)
// is created statement by statement with unsafe triggers on, its schema
// is a distributed schema, its trigger fires, and its size is its shards'.
func TestCitusCreateAndSize(t *testing.T) {
	t.Parallel()
	pool := citusPool(t)
	ctx := t.Context()
	n := newFleetNames(t, pool, "ct")
	m := n.Manager(t, pool, &tenancy.Config{Migrations: withExtra(t, "003_trigger.sql", `
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.name := NEW.name || '!';
	RETURN NEW;
END
$$;
CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();`)})
	if citus, err := m.IsCitus(ctx); err != nil || !citus {
		t.Fatalf("IsCitus = %v, %v on TEST_CITUS_URL; want true", citus, err)
	}
	id := tenancytest.Tenant(t, m)
	schema := m.SchemaName(id)
	var distributed bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_dist_schema WHERE schemaid = $1::regnamespace)",
		pgx.Identifier{schema}.Sanitize()).Scan(&distributed); err != nil || !distributed {
		t.Fatalf("%s in pg_dist_schema: %v, %v; want a distributed schema", schema, distributed, err)
	}
	var name string
	if err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO items (tenant_marker, name) VALUES ('x', 'a')"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "UPDATE items SET name = 'b' RETURNING name").Scan(&name)
	}); err != nil || name != "b!" {
		t.Fatalf("update through the trigger: %q, %v; want \"b!\"", name, err)
	}
	sizes, err := m.SchemaSizes(ctx, []string{schema})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	if err := pool.QueryRow(ctx, `SELECT sum(citus_total_relation_size(logicalrelid))::bigint FROM pg_dist_partition p
		JOIN pg_dist_schema s USING (colocationid) WHERE s.schemaid = $1::regnamespace`, pgx.Identifier{schema}.Sanitize()).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if sizes[schema] < want || want == 0 {
		t.Errorf("size of %s = %d, want at least its shards' %d (and not 0)", schema, sizes[schema], want)
	}
}
