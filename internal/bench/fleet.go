package bench

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/migrations"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
)

const fleetGroup = "Fleet migration"

// benchMigrationSQL is the fleet benchmark's migration, the issue's
// example of one rolled out to every tenant.
const benchMigrationSQL = `-- make bench's fleet migration (internal/bench/fleet.go), never a product migration.
ALTER TABLE samples ADD COLUMN bench_priority integer;
CREATE INDEX samples_bench_priority_idx ON samples (bench_priority);
`

// runFleet migrates a fleet of Scale.Fleet tenants, made at the product's
// latest version, by one more migration through the library
// (Manager.Migrate) and, as the floor, by the same SQL from psql -f, each
// side on a fleet and database of its own. On the way it measures how
// creating a tenant costs with the fleet in the database against an
// empty one (a provisioning row: the fleet is too slow to build twice),
// and how the harness's heap grows with the fleet migrated.
func runFleet(ctx context.Context, e *Env) []Row {
	sc := e.Scale
	small := max(sc.Fleet/10, sc.Serial)
	nth := Row{Group: provisionGroup, Target: RatioAtMost(1.2),
		What: fmt.Sprintf("create a tenant with %d tenants in the database (ours) vs in an empty one (floor); %d each, serially", sc.Fleet, sc.Serial)}
	mig := Row{Group: fleetGroup, Target: RatioAtMost(1.5),
		What: fmt.Sprintf("migrate %d tenants by one migration (a nullable column and an index), %d at a time", sc.Fleet, sc.Concurrency)}
	mem := Row{Group: fleetGroup, Target: RatioAtMost(1.5),
		What: fmt.Sprintf("memory: peak live Go heap of the migrating process, %d tenants (ours) vs %d (floor)", sc.Fleet, small)}
	// fail marks the rows not measured yet with err.
	fail := func(err error, unmeasured ...*Row) []Row {
		for _, r := range unmeasured {
			r.Err = err
		}
		return []Row{nth, mig, mem}
	}

	libURL, err := e.NewDatabase(ctx, "bench_fleet")
	if err != nil {
		return fail(err, &nth, &mig, &mem)
	}
	floorURL, err := e.NewDatabase(ctx, "bench_fleet_floor")
	if err != nil {
		return fail(err, &nth, &mig, &mem)
	}
	pool, err := warmPool(ctx, libURL, sc.Concurrency)
	if err != nil {
		return fail(err, &nth, &mig, &mem)
	}
	defer pool.Close()
	product, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		return fail(err, &nth, &mig, &mem)
	}
	next, err := withBenchMigration(pool)
	if err != nil {
		return fail(err, &nth, &mig, &mem)
	}

	// The fleets are built by the floor's scripts: the fastest way to make
	// tenants, and identical to the library's (TestFloorTenantIsLibraryTenant).
	// Floor, library, floor, library: each side's fleet has had one phase
	// of the other's between its building and its migration.
	floorIDs := newIDs(sc.Fleet)
	for _, f := range []struct{ side, url string }{{"floor", floorURL}, {"library", libURL}} {
		ids := floorIDs
		if f.side == "library" {
			ids = newIDs(sc.Fleet) // Migrate finds them in the ledger
		}
		d, err := e.psqlRun(ctx, f.url, sc.Concurrency, ids, createTx(product))
		if err != nil {
			return fail(fmt.Errorf("build the %s's fleet: %w", f.side, err), &nth, &mig, &mem)
		}
		e.Log.Info("fleet built", "side", f.side, "tenants", sc.Fleet, "took", d.Round(time.Millisecond),
			"tenants/s", fmt.Sprintf("%.0f", throughput(d, sc.Fleet).Value))
	}

	if err := e.checkpoint(ctx); err != nil {
		return fail(err, &nth, &mig, &mem)
	}
	pending := next.Migrations()[product.LatestVersion():]
	floorTime, err := e.psqlRun(ctx, floorURL, sc.Concurrency, floorIDs, migrateTx(next, pending))
	if err != nil {
		return fail(fmt.Errorf("floor: %w", err), &nth, &mig, &mem)
	}
	if err := e.checkpoint(ctx); err != nil {
		return fail(err, &nth, &mig, &mem)
	}
	libTime, libPeak, err := migrateFleet(ctx, e, next, sc.Fleet, sc.Concurrency)
	if err != nil {
		return fail(fmt.Errorf("library: %w", err), &nth, &mig, &mem)
	}
	mig.Ours, mig.Floor = perTenant(libTime, sc.Fleet), perTenant(floorTime, sc.Fleet)
	mig.Note = fmt.Sprintf("Library: Manager.Migrate, Concurrency %d; progress reported: OnResult called once per tenant (%d calls, every tenant migrated: checked). "+
		"Per tenant it claims the ledger row (the version UPDATE, pipelined with BEGIN), runs the file, records it, commits. "+
		"Floor: %d psql -f at once, per tenant BEGIN; SET LOCAL search_path; the file; COMMIT: no ledger, so the ratio includes "+
		"what makes the library's migration recorded, resumable and safe against a concurrent migrator. Each side on a fleet of its own, built by psql.",
		sc.Concurrency, sc.Fleet, sc.Concurrency)

	// The first tenants: a new database, filled up to small tenants for the
	// memory row's smaller migration.
	firstURL, err := e.NewDatabase(ctx, "bench_fleet_first")
	if err != nil {
		return fail(err, &nth, &mem)
	}
	firstPool, err := warmPool(ctx, firstURL, sc.Concurrency)
	if err != nil {
		return fail(err, &nth, &mem)
	}
	defer firstPool.Close()
	first, err := db.NewTenancy(firstPool, tenancy.Config{})
	if err != nil {
		return fail(err, &nth, &mem)
	}
	if err := e.checkpoint(ctx); err != nil {
		return fail(err, &nth, &mem)
	}
	nthTime, firstTime, err := alternateCreates(ctx, product, first, sc.Serial)
	if err != nil {
		return fail(err, &nth, &mem)
	}
	nth.Ours, nth.Floor = perTenant(nthTime, sc.Serial), perTenant(firstTime, sc.Serial)
	nth.Note = fmt.Sprintf("Both columns are the library's (Manager.Create, one connection): floor = into an empty database, "+
		"ours = into the fleet's database, its %d tenants there (and migrated). The two alternate tenant by tenant, "+
		"so a slow moment of the machine falls on both. Near 1: the cost does not grow with the number of schemas.", sc.Fleet)
	switch shared, err := sharedFunctionNames(ctx, pool); {
	case err != nil:
		nth.Note += " " + err.Error()
	case shared != "":
		nth.Note += " Where it grows: every tenant schema defines " + shared + ", and PostgreSQL resolves a function's name by listing " +
			"every function of that name and arguments in the database (FuncnameGetCandidates: plpgsql's validation at CREATE FUNCTION, " +
			"CREATE TRIGGER's lookup), one per tenant (seen with perf on a fleet of 10,000)."
	}
	// Done with the fleet's pool (the deferred Close is then a no-op):
	// the smaller migration below runs with the harness holding what it
	// held during the larger one.
	pool.Close()

	if _, err := e.psqlRun(ctx, firstURL, sc.Concurrency, newIDs(small-sc.Serial), createTx(first)); err != nil {
		return fail(err, &mem)
	}
	firstNext, err := withBenchMigration(firstPool)
	if err != nil {
		return fail(err, &mem)
	}
	_, smallPeak, err := migrateFleet(ctx, e, firstNext, small, sc.Concurrency)
	if err != nil {
		return fail(err, &mem)
	}
	mem.Ours, mem.Floor = mib(libPeak), mib(smallPeak)
	growth := (float64(libPeak) - float64(smallPeak)) / float64(max(sc.Fleet-small, 1))
	mem.Note = fmt.Sprintf("The live heap (runtime/metrics /gc/heap/live:bytes, what the last GC found reachable) and goroutine stacks, "+
		"sampled every %s during Manager.Migrate and once more after a GC with its results still held; HeapInuse would swing 2× with "+
		"the GC's pacing. Floor = the same migration "+
		"of %d tenants. Growth: %.0f bytes a tenant: the []Result that Migrate returns and the versions it reads first, one per tenant.",
		heapSampleEvery, small, growth)
	return []Row{nth, mig, mem}
}

// sharedFunctionNames lists the functions whose name and arguments are
// the same in many tenant schemas, e.g. "set_updated_at() (10200
// schemas)", or "" when there are none.
func sharedFunctionNames(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	rows, err := pool.Query(ctx, `
SELECT format('%s(%s) (%s schemas)', p.proname, pg_get_function_identity_arguments(min(p.oid)), count(*))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE starts_with(n.nspname, $1)
GROUP BY p.proname, p.proargtypes HAVING count(*) > 1
ORDER BY count(*) DESC, p.proname`, db.SchemaPrefix)
	if err != nil {
		return "", fmt.Errorf("list the tenants' functions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("list the tenants' functions: %w", err)
	}
	return strings.Join(names, ", "), nil
}

// alternateCreates creates n tenants through each of a and b, one at a
// time, alternating, and returns how long each side's creations took.
func alternateCreates(ctx context.Context, a, b *tenancy.Manager, n int) (aTime, bTime time.Duration, err error) {
	for range n {
		for _, side := range []struct {
			m    *tenancy.Manager
			took *time.Duration
		}{{a, &aTime}, {b, &bTime}} {
			start := time.Now()
			if err := side.m.Create(ctx, uuid.New(), nil); err != nil {
				return 0, 0, err
			}
			*side.took += time.Since(start)
		}
	}
	return aTime, bTime, nil
}

// withBenchMigration returns a Manager over pool like the product's (its
// prefix, its ledger) that knows one migration more: benchMigrationSQL,
// numbered after the product's last, in an fs.FS laid over
// migrations.Tenant. Only the benchmark's Managers see it.
func withBenchMigration(pool *pgxpool.Pool) (*tenancy.Manager, error) {
	fsys := fstest.MapFS{}
	top := 0
	err := fs.WalkDir(migrations.Tenant, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(migrations.Tenant, name)
		if err != nil {
			return err
		}
		fsys[name] = &fstest.MapFile{Data: data}
		if path.Dir(name) == "." && strings.HasSuffix(name, ".sql") {
			top++ // tern numbers the top level's files 1, 2, …
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the tenant migrations: %w", err)
	}
	fsys[fmt.Sprintf("%03d_bench_priority.sql", top+1)] = &fstest.MapFile{Data: []byte(benchMigrationSQL)}
	m, err := tenancy.New(pool, &tenancy.Config{Migrations: fsys, Prefix: db.SchemaPrefix, LedgerSchema: "public"})
	if err != nil {
		return nil, fmt.Errorf("the benchmark's migration: %w", err)
	}
	return m, nil
}

// migrateFleet migrates every tenant of m's ledger that is behind, conc at
// a time, checks that all n of them were reported through OnResult and
// migrated, and returns the time Migrate took and the peak of the live
// heap meanwhile.
func migrateFleet(ctx context.Context, e *Env, m *tenancy.Manager, n, conc int) (time.Duration, uint64, error) {
	runtime.GC() // so that the sampling starts from what is live, not the garbage of building the fleet
	heap := sampleLiveHeap(heapSampleEvery)
	reported, migrated := 0, 0
	start := time.Now()
	res, err := m.Migrate(ctx, tenancy.MigrateOptions{Concurrency: conc, OnResult: func(done, total int, r tenancy.Result) {
		reported++
		if r.Outcome == tenancy.Migrated {
			migrated++
		}
		if done%max(total/10, 1) == 0 {
			e.Log.Info("fleet migration", "done", done, "of", total)
		}
	}})
	took := time.Since(start)
	peak := heap.stop(res)
	switch {
	case err != nil:
		return 0, 0, err
	case reported != n || migrated != n || len(res) != n:
		return 0, 0, fmt.Errorf("%d tenants: OnResult called %d times, %d migrated, %d results", n, reported, migrated, len(res))
	}
	return took, peak, nil
}

// heapSampleEvery is how often migrateFleet samples the heap.
const heapSampleEvery = 50 * time.Millisecond

// heapSampler samples liveMemory until stopped and keeps the peak.
type heapSampler struct {
	done chan struct{}
	peak chan uint64
}

// sampleLiveHeap starts sampling liveMemory every interval.
func sampleLiveHeap(interval time.Duration) *heapSampler {
	h := &heapSampler{done: make(chan struct{}), peak: make(chan uint64)}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		var peak uint64
		for {
			peak = max(peak, liveMemory())
			select {
			case <-h.done:
				h.peak <- peak
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// stop ends the sampling and returns the peak, counting one more sample
// taken after a GC while keep, what the measured work returned, is still
// reachable: the memory it holds on to, whether or not a GC ran during it.
func (h *heapSampler) stop(keep any) uint64 {
	close(h.done)
	peak := <-h.peak
	runtime.GC()
	peak = max(peak, liveMemory())
	runtime.KeepAlive(keep)
	return peak
}

// liveMemory is the Go memory the process holds: the heap the last GC
// found reachable, and goroutine stacks (a goroutine per tenant would
// show there, not in the heap).
func liveMemory() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

func mib(b uint64) Figure { return Figure{Value: float64(b) / (1 << 20), Unit: "MiB"} }
