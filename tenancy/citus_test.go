package tenancy_test

import (
	"errors"
	"maps"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
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
	// Cluster sizes a fleet by citus_shard_sizes(), another route to the
	// same figures.
	cl, err := m.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, nd := range cl.Nodes {
		total += nd.SizeBytes
	}
	// Two measurements, not one: autovacuum on the worker may add a
	// visibility map or free space map page between them.
	if diff := total - sizes[schema]; diff < -64<<10 || diff > 64<<10 {
		t.Errorf("Cluster's sizes sum to %d, SchemaSizes says %d: more than 64 KiB apart", total, sizes[schema])
	}
}

// On PostgreSQL the cluster is the server the pool connects to, with the
// Manager's tenants (not another prefix's) and their sizes; moving and
// rebalancing refuse with ErrNotCitus.
func TestClusterOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newFleetNames(t, pool, "cl")
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	ids := []uuid.UUID{tenancytest.Tenant(t, m), tenancytest.Tenant(t, m)}
	cl, err := m.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := m.SchemaSizes(ctx, []string{m.SchemaName(ids[0]), m.SchemaName(ids[1])})
	if err != nil {
		t.Fatal(err)
	}
	cc := pool.Config().ConnConfig
	want := tenancy.Node{Host: cc.Host, Port: int(cc.Port), Tenants: 2, SizeBytes: sizes[m.SchemaName(ids[0])] + sizes[m.SchemaName(ids[1])]}
	if cl.Citus || len(cl.Nodes) != 1 || cl.Nodes[0] != want {
		t.Errorf("Cluster = %+v, want one node %+v", cl, want)
	}
	schemas := []string{m.SchemaName(ids[0]), m.SchemaName(ids[1])}
	on, err := m.TenantNodes(ctx, schemas)
	if addr := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))); err != nil || !maps.Equal(on, map[string]string{schemas[0]: addr, schemas[1]: addr}) {
		t.Errorf("TenantNodes = %v, %v; want both on %s", on, err, addr)
	}
	if err := m.MoveTenant(ctx, ids[0], "worker-2", 5432, tenancy.TransferAuto); !errors.Is(err, tenancy.ErrNotCitus) {
		t.Errorf("MoveTenant = %v, want ErrNotCitus", err)
	}
	if _, err := m.RebalancePlan(ctx); !errors.Is(err, tenancy.ErrNotCitus) {
		t.Errorf("RebalancePlan = %v, want ErrNotCitus", err)
	}
	if _, err := m.StartRebalance(ctx); !errors.Is(err, tenancy.ErrNotCitus) {
		t.Errorf("StartRebalance = %v, want ErrNotCitus", err)
	}
	if _, err := m.RebalanceStatus(ctx, 1); !errors.Is(err, tenancy.ErrNotCitus) {
		t.Errorf("RebalanceStatus = %v, want ErrNotCitus", err)
	}
	if _, err := m.WaitRebalance(ctx, 1, time.Millisecond, nil); !errors.Is(err, tenancy.ErrNotCitus) {
		t.Errorf("WaitRebalance = %v, want ErrNotCitus", err)
	}
	if err := m.MoveTenant(ctx, ids[0], "worker-2", 5432, "force_logical"); err == nil || errors.Is(err, tenancy.ErrNotCitus) {
		t.Errorf("MoveTenant with an unknown mode = %v, want the mode refused first", err)
	}
}

// A rebalance job's progress counts its tasks of every state, done ones
// done; it has ended once Citus's state is final.
func TestRebalanceJobProgress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		job         tenancy.RebalanceJob
		done, total int64
		ended       bool
	}{
		{tenancy.RebalanceJob{State: "scheduled"}, 0, 0, false},
		{tenancy.RebalanceJob{State: "running", Tasks: map[string]int64{"done": 2, "running": 1, "blocked": 3}}, 2, 6, false},
		{tenancy.RebalanceJob{State: "failing", Tasks: map[string]int64{"done": 1, "error": 1}}, 1, 2, false},
		{tenancy.RebalanceJob{State: "cancelling", Tasks: map[string]int64{"cancelling": 1}}, 0, 1, false},
		{tenancy.RebalanceJob{State: "finished", Tasks: map[string]int64{"done": 4}}, 4, 4, true},
		{tenancy.RebalanceJob{State: "failed", Tasks: map[string]int64{"done": 1, "error": 1, "unscheduled": 2}}, 1, 4, true},
		{tenancy.RebalanceJob{State: "cancelled", Tasks: map[string]int64{"cancelled": 3}}, 0, 3, true},
	} {
		done, total := c.job.Progress()
		if done != c.done || total != c.total || c.job.Ended() != c.ended {
			t.Errorf("%+v: Progress = %d of %d, Ended = %v; want %d of %d, %v", c.job, done, total, c.job.Ended(), c.done, c.total, c.ended)
		}
	}
}

func TestParseNodeAddr(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]tenancy.Node{
		"worker-2:5432": {Host: "worker-2", Port: 5432},
		"10.0.0.7:1":    {Host: "10.0.0.7", Port: 1},
		"[::1]:65535":   {Host: "::1", Port: 65535},
	} {
		host, port, err := tenancy.ParseNodeAddr(s)
		if err != nil || host != want.Host || port != want.Port {
			t.Errorf("ParseNodeAddr(%q) = %q, %d, %v; want %q, %d", s, host, port, err, want.Host, want.Port)
		}
		if want.Addr() != s {
			t.Errorf("%+v.Addr() = %q, want %q", want, want.Addr(), s)
		}
	}
	for _, s := range []string{"", "worker-2", ":5432", "worker-2:", "worker-2:0", "worker-2:65536", "worker-2:-1", "worker-2:5432x", "::1:5432", "a:b:5432"} {
		if host, port, err := tenancy.ParseNodeAddr(s); err == nil {
			t.Errorf("ParseNodeAddr(%q) = %q, %d; want an error", s, host, port)
		}
	}
}

// On Citus, a tenant moves to another worker and the cluster shows it
// there; a rebalance plan is readable, and a rebalance of an unbalanced
// cluster is followed to its end. Not parallel: a rebalance is the
// whole cluster's, and would move the other tests' shards.
func TestCitusMoveAndCluster(t *testing.T) {
	pool := citusPool(t)
	ctx := t.Context()
	n := newFleetNames(t, pool, "cm")
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	id := tenancytest.Tenant(t, m)
	cl, err := m.Cluster(ctx)
	if err != nil || !cl.Citus {
		t.Fatalf("Cluster = %+v, %v; want Citus", cl, err)
	}
	var from, to *tenancy.Node
	for i := range cl.Nodes {
		switch {
		case cl.Nodes[i].Tenants == 1 && from == nil:
			from = &cl.Nodes[i]
		case cl.Nodes[i].Tenants == 0 && to == nil:
			to = &cl.Nodes[i]
		}
	}
	if from == nil || to == nil {
		t.Fatalf("Cluster = %+v; want the tenant on one node and another node empty (two workers)", cl)
	}
	if err := m.MoveTenant(ctx, id, to.Host, to.Port, tenancy.TransferBlockWrites); err != nil {
		t.Fatal(err)
	}
	after, err := m.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range after.Nodes {
		if nd.Host == to.Host && nd.Port == to.Port && nd.Tenants != 1 {
			t.Errorf("after the move %s:%d holds %d tenants, want 1", nd.Host, nd.Port, nd.Tenants)
		}
	}
	if on, err := m.TenantNodes(ctx, []string{m.SchemaName(id)}); err != nil || on[m.SchemaName(id)] != to.Addr() {
		t.Errorf("TenantNodes after the move = %v, %v; want it on %s", on, err, to.Addr())
	}
	if _, err := m.RebalancePlan(ctx); err != nil {
		t.Errorf("RebalancePlan: %v", err)
	}
	// Two more tenants, both moved onto the first's node, leave the other
	// empty: a rebalance has work, and is followed to its end.
	for range 2 {
		more := tenancytest.Tenant(t, m)
		if on, err := m.TenantNodes(ctx, []string{m.SchemaName(more)}); err != nil {
			t.Fatal(err)
		} else if on[m.SchemaName(more)] != to.Addr() {
			if err := m.MoveTenant(ctx, more, to.Host, to.Port, tenancy.TransferBlockWrites); err != nil {
				t.Fatal(err)
			}
		}
	}
	job, err := m.StartRebalance(ctx)
	if err != nil || job == 0 {
		t.Fatalf("StartRebalance = %d, %v; want a job, three tenants on one node of two", job, err)
	}
	j, err := m.WaitRebalance(ctx, job, 100*time.Millisecond, nil)
	if done, total := j.Progress(); err != nil || j.State != "finished" || done != total || total == 0 {
		t.Errorf("WaitRebalance = %+v (%d of %d tasks done), %v; want finished with every task done", j, done, total, err)
	}
	if cl, err := m.Cluster(ctx); err != nil {
		t.Fatal(err)
	} else {
		for _, nd := range cl.Nodes {
			if nd.Addr() == to.Addr() && nd.Tenants == 3 {
				t.Errorf("after the rebalance %s still holds all three tenants", nd.Addr())
			}
		}
	}
}
