package tenancy_test

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/tenancy"
)

// maxBytesPerTenant bounds what a fleet migration with DiscardResults may
// hold per tenant: its id and version are 24 bytes (measured: 8 to 26, the
// readings' noise a few kB over the 4,000 tenants between the two fleets);
// a Result kept per tenant (measured: 178 to 196 more) or a schema name
// (56) would break it.
const maxBytesPerTenant = 64

// TestMigrateMemoryPerTenant: with DiscardResults, the memory a fleet
// migration holds grows with the fleet by no more than maxBytesPerTenant a
// tenant, whether it migrates the whole ledger or a list of tenants. The
// held memory is the live heap (runtime/metrics) right after a GC forced at
// the first tenant reported, the middle and the last, less the live heap
// before; the growth is the difference between two fleets, so that what
// Migrate holds whatever the fleet's size cancels out.
//
// Not parallel: the live heap is the whole process's, and Go runs the
// package's parallel tests only after its sequential ones.
func TestMigrateMemoryPerTenant(t *testing.T) {
	const smaller, larger = 500, 4500
	pool := fleetPool(t, 4)
	// Two no-op files: what is measured is what Migrate keeps, not what
	// a migration costs the server.
	migs := fstest.MapFS{"001_a.sql": {Data: []byte("SELECT 1;")}, "002_b.sql": {Data: []byte("SELECT 2;")}}
	held := func(t *testing.T, tenants int, listed bool) int64 {
		ctx := t.Context()
		n := newFleetNames(t, pool, "mm")
		m := n.Manager(t, pool, &tenancy.Config{Migrations: migs})
		// Ledger rows alone, at version 1: the schemas need not exist for
		// SELECT 2 to run in them, and thousands are made in one statement.
		rows, err := pool.Query(ctx, "INSERT INTO "+n.tenantsTable()+" (tenant_id, schema_name, version)"+
			" SELECT id, $1 || replace(id::text, '-', ''), 1 FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $2)) g"+
			" RETURNING tenant_id", n.Prefix, tenants)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			t.Fatal(err)
		}
		if !listed {
			ids = nil
		}
		before := liveHeapAfterGC()
		var peak int64
		migrated := 0
		_, err = m.Migrate(ctx, tenancy.MigrateOptions{Tenants: ids, Concurrency: 4, DiscardResults: true,
			OnResult: func(done, total int, r tenancy.Result) {
				if r.Outcome == tenancy.OutcomeMigrated {
					migrated++
				}
				if done == 1 || done == total/2 || done == total {
					peak = max(peak, liveHeapAfterGC())
				}
			}})
		if err != nil || migrated != tenants {
			t.Fatalf("Migrate: %d of %d migrated, err %v", migrated, tenants, err)
		}
		return peak - before
	}
	// A first migration pays for what any first use would (pgx's type
	// plans, the statements prepared on each connection): not the fleet's.
	held(t, smaller, false)
	for _, c := range []struct {
		name   string
		listed bool
	}{{"ledger", false}, {"listed", true}} {
		t.Run(c.name, func(t *testing.T) {
			small, large := held(t, smaller, c.listed), held(t, larger, c.listed)
			perTenant := float64(large-small) / (larger - smaller)
			t.Logf("held %d bytes for %d tenants, %d for %d: %.1f bytes a tenant", small, smaller, large, larger, perTenant)
			if perTenant > maxBytesPerTenant {
				t.Errorf("Migrate held %.1f bytes a tenant more (%d tenants: %d bytes; %d: %d); want at most %d",
					perTenant, larger, large, smaller, small, maxBytesPerTenant)
			}
		})
	}
}

// liveHeapAfterGC is the heap a full GC found reachable. Two GCs: the
// first moves what sync.Pools hold (pgx's buffers) to their victim caches,
// which survive it, and only the second frees them.
func liveHeapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
