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

// benchMigrationSQL is the fleet benchmark's migration, a typical one
// rolled out to every tenant.
const benchMigrationSQL = `-- make bench's fleet migration (internal/bench/fleet.go), never a product migration.
ALTER TABLE samples ADD COLUMN bench_priority integer;
CREATE INDEX samples_bench_priority_idx ON samples (bench_priority);
`

// benchMigrationDownSQL undoes benchMigrationSQL, between the fleet
// benchmark's two rounds.
const benchMigrationDownSQL = `DROP INDEX samples_bench_priority_idx;
ALTER TABLE samples DROP COLUMN bench_priority;`

// runFleet migrates a fleet of Scale.Fleet tenants, made at the product's
// latest version, by one more migration through the library
// (Manager.Migrate) and, as the floor, by the same SQL from psql -f, each
// side on a copy of the fleet in a database of its own. While building
// the fleet it measures what creating its last tenants costs against the
// first tenants of an empty database (a provisioning row), and after the
// migration how the harness's memory grows with the size of the fleet
// migrated.
func runFleet(ctx context.Context, e *Env) []Row {
	sc := e.Scale
	small := max(sc.Fleet/10, sc.Serial)
	nth := Row{Group: provisionGroup, Target: RatioAtMost(1.2),
		What: fmt.Sprintf("create the %dth tenant (the last %d of a fleet, ours) vs the first (%d into an empty database, floor), serially", sc.Fleet, sc.Serial, sc.Serial)}
	mig := Row{Group: fleetGroup, Target: RatioAtMost(1.5),
		What: fmt.Sprintf("migrate %d tenants by one migration (a nullable column and an index), %d at a time", sc.Fleet, sc.Concurrency)}
	mem := Row{Group: fleetGroup, Target: RatioAtMost(1.5),
		What: fmt.Sprintf("memory: peak live Go heap of the migrating process, %d tenants (ours) vs %d (floor)", sc.Fleet, small)}
	insp := Row{Group: fleetGroup, Target: None,
		What: fmt.Sprintf("inspect %d tenants (Manager.Inspect, as the console's dashboard and fleet page and `center status` do) vs reading the same rows", sc.Fleet)}
	// fail marks the rows not measured yet with err.
	fail := func(err error, unmeasured ...*Row) []Row {
		for _, r := range unmeasured {
			r.Err = err
		}
		return []Row{nth, mig, mem, insp}
	}

	// Both sides get the same fleet, built once, then copied: all but its
	// last sc.Serial tenants by the floor's scripts (the fastest way to
	// make tenants, and identical to the library's:
	// TestFloorTenantIsLibraryTenant), the last ones by the library for
	// the provisioning row.
	ids := newIDs(sc.Fleet)
	built, last := ids[:sc.Fleet-sc.Serial], ids[sc.Fleet-sc.Serial:]
	libURL, err := e.NewDatabase(ctx, "bench_fleet")
	if err != nil {
		return fail(err, &nth, &mig, &mem, &insp)
	}
	// Not connected until the fleet's database is copied, which wants no
	// connections to it.
	pool, product, err := newManager(ctx, libURL, sc.Concurrency, false)
	if err != nil {
		return fail(err, &nth, &mig, &mem, &insp)
	}
	defer pool.Close()
	next, err := withBenchMigration(pool)
	if err != nil {
		return fail(err, &nth, &mig, &mem, &insp)
	}
	start := time.Now()
	if _, err := e.psqlRun(ctx, libURL, sc.Concurrency, built, createTx(product)); err != nil {
		return fail(fmt.Errorf("build the fleet: %w", err), &nth, &mig, &mem, &insp)
	}
	// As a fleet in service would be: the catalogs' and the ledger's
	// statistics current, no autovacuum of the build's rows due in the
	// middle of a measurement.
	if err := vacuum(ctx, libURL); err != nil {
		return fail(err, &nth, &mig, &mem, &insp)
	}

	firstURL, err := e.NewDatabase(ctx, "bench_fleet_first")
	if err != nil {
		return fail(err, &nth, &mig, &mem, &insp)
	}
	firstPool, first, err := newManager(ctx, firstURL, sc.Concurrency, true)
	if err != nil {
		return fail(err, &nth, &mig, &mem, &insp)
	}
	nth.Ours, nth.Floor, nth.Note, err = e.lastVersusFirst(ctx, libURL, last, first)
	// Closed now, so that the fleet's migration runs with its own pool
	// alone open, as the smaller one of the memory row will.
	firstPool.Close()
	if err != nil {
		return fail(err, &nth, &mig, &mem, &insp)
	}

	floorURL, err := e.copyDatabase(ctx, "bench_fleet", "bench_fleet_floor")
	if err != nil {
		return fail(err, &mig, &mem, &insp)
	}
	e.Log.Info("fleets built", "tenants", sc.Fleet, "took", time.Since(start).Round(time.Millisecond))
	if err := warmUp(ctx, pool); err != nil {
		return fail(err, &mig, &mem, &insp)
	}

	pending := next.Migrations()[product.LatestVersion():]
	down := []tenancy.Migration{{SQL: benchMigrationDownSQL}}
	// undo takes a fleet back to the product's version before the second
	// round: the down SQL in every schema, the ledger's rows of the
	// benchmark's migration (the floor keeps none), a vacuum. It reads
	// the tenants from the ledger (the floor's database is a copy of the
	// library's: the same tenants) rather than keeping ids, which would
	// be the harness's memory counted in the library's memory row.
	undo := func(url string, ledger bool) func(round int) error {
		return func(round int) error {
			if round == 0 {
				return nil
			}
			ids, err := tenantIDs(ctx, pool)
			if err != nil {
				return err
			}
			if _, err := e.psqlRun(ctx, url, sc.Concurrency, ids, migrateTx(next, down)); err != nil {
				return fmt.Errorf("undo the migration: %w", err)
			}
			if ledger {
				if err := resetLedger(ctx, pool, product.LatestVersion()); err != nil {
					return err
				}
			}
			return vacuum(ctx, url)
		}
	}
	floor := &side{name: "floor", before: undo(floorURL, false), run: func(int) (time.Duration, error) {
		ids, err := tenantIDs(ctx, pool)
		if err != nil {
			return 0, err
		}
		return e.psqlRun(ctx, floorURL, sc.Concurrency, ids, migrateTx(next, pending))
	}}
	var libPeak heapPeaks
	lib := &side{name: "library", before: undo(libURL, true), run: func(int) (time.Duration, error) {
		took, peak, err := migrateFleet(ctx, e, next, sc.Fleet, sc.Concurrency)
		libPeak = libPeak.max(peak)
		return took, err
	}}
	// Each side migrates its fleet twice, in the order floor, library,
	// library, floor, so that a slow spell of a shared machine, or a
	// phase's aftermath, falls on both sides.
	if err := e.alternate(ctx, 2, floor, lib); err != nil {
		return fail(err, &mig, &mem, &insp)
	}
	mig.Ours, mig.Floor = perTenant(lib.took, 2*sc.Fleet), perTenant(floor.took, 2*sc.Fleet)
	mig.Note = fmt.Sprintf("Library: Manager.Migrate, Concurrency %d; progress reported: OnResult called once per tenant (%d calls, every tenant migrated: checked). "+
		"Per tenant it claims the ledger row (the version UPDATE, pipelined with BEGIN), runs the file, records it, commits. "+
		"Floor: %d psql -f at once, per tenant BEGIN; SET LOCAL search_path; the file; COMMIT: no ledger, so the ratio includes "+
		"what makes the library's migration recorded, resumable and safe against a concurrent migrator. Each side on a copy of one fleet "+
		"(vacuumed), migrated twice (floor, library, library, floor; undone in between), after a CHECKPOINT each time.",
		sc.Concurrency, sc.Fleet, sc.Concurrency)

	if insp.Ours, insp.Floor, insp.Note, err = e.inspectVersusRead(ctx, libURL, pool, next); err != nil {
		return fail(err, &mem, &insp)
	}

	// The smaller migration of the memory row: the first database, filled
	// up to small tenants, over a pool like the fleet's. Done with the
	// fleet's pool (the deferred Close is then a no-op), the harness
	// holds what it held during the larger: one pool of as many
	// connections, no list of the tenants.
	pool.Close()
	smallPool, err := newPool(ctx, firstURL, sc.Concurrency, true)
	if err != nil {
		return fail(err, &mem)
	}
	defer smallPool.Close()
	if _, err := e.psqlRun(ctx, firstURL, sc.Concurrency, newIDs(small-sc.Serial), createTx(first)); err != nil {
		return fail(err, &mem)
	}
	firstNext, err := withBenchMigration(smallPool)
	if err != nil {
		return fail(err, &mem)
	}
	_, smallPeak, err := migrateFleet(ctx, e, firstNext, small, sc.Concurrency)
	if err != nil {
		return fail(err, &mem)
	}
	mem.Ours, mem.Floor = mib(libPeak.collected), mib(smallPeak.collected)
	growth := (float64(libPeak.collected) - float64(smallPeak.collected)) / float64(max(sc.Fleet-small, 1))
	mem.Note = fmt.Sprintf("The live heap (runtime/metrics /gc/heap/live:bytes) and goroutine stacks during Manager.Migrate with "+
		"DiscardResults (each tenant's Result goes to OnResult, the progress, and is forgotten): the peak of %d readings, each right "+
		"after a GC forced at the first tenant reported and at every tenth of the fleet. Floor = the same migration of %d tenants, "+
		"the harness holding the same (one pool of %d connections, no list of the tenants). Growth: %.0f bytes a tenant: what Migrate "+
		"keeps per tenant, its id and the version it reads first (24 bytes, in a slice made at its size); without DiscardResults it "+
		"also returns a Result per tenant, about 200 bytes each. Sampled every %s between GCs instead, the peaks were %.2f and %.2f MiB: "+
		"a GC running concurrently counts what is allocated meanwhile as live, so those readings swing with the GC's timing (up to "+
		"2× on a loaded machine), more often the longer the run.",
		gcReadings, small, sc.Concurrency, growth, heapSampleEvery, mib(libPeak.sampled).Value, mib(smallPeak.sampled).Value)
	return []Row{nth, mig, mem, insp}
}

// lastVersusFirst creates the tenants last through the library into the
// fleet's database at url, and as many through first into an empty
// database, alternately, one connection each, and returns the time a
// tenant took on each side and the row's note. Its connection to url is
// closed when it returns.
func (e *Env) lastVersusFirst(ctx context.Context, url string, last []uuid.UUID, first *tenancy.Manager) (lastFig, firstFig Figure, note string, err error) {
	pool, fleet, err := newManager(ctx, url, 1, true)
	if err != nil {
		return lastFig, firstFig, "", err
	}
	defer pool.Close()
	if err := e.checkpoint(ctx); err != nil {
		return lastFig, firstFig, "", err
	}
	var lastTime, firstTime time.Duration
	create := func(m *tenancy.Manager, id uuid.UUID, took *time.Duration) error {
		start := time.Now()
		err := m.Create(ctx, id, nil)
		*took += time.Since(start)
		return err
	}
	for _, id := range last {
		if err := create(fleet, id, &lastTime); err != nil {
			return lastFig, firstFig, "", err
		}
		if err := create(first, uuid.New(), &firstTime); err != nil {
			return lastFig, firstFig, "", err
		}
	}
	note = fmt.Sprintf("Both columns are the library's (Manager.Create, one connection): ours = the fleet's last %d tenants, "+
		"each after the ones before it (built by psql, then vacuumed), floor = as many into an empty database. The two alternate "+
		"tenant by tenant, so a slow moment of the machine falls on both. Near 1: the cost does not grow with the number of schemas.", len(last))
	return perTenant(lastTime, len(last)), perTenant(firstTime, len(last)), note, nil
}

// vacuum runs VACUUM (ANALYZE) on the catalogs and the public schema of
// url's database: where building or changing a fleet leaves dead rows and
// stale statistics. The tenants' own tables stay empty and unchanged;
// vacuuming each of them would take minutes for nothing.
func vacuum(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("vacuum: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname IN ('pg_catalog', 'public')`)
	if err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	var tables []string
	var schema, table string
	_, err = pgx.ForEachRow(rows, []any{&schema, &table}, func() error {
		tables = append(tables, pgx.Identifier{schema, table}.Sanitize())
		return nil
	})
	if err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(tables, ", ")); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// resetLedger puts every tenant of pool's ledger back at version, as if
// the migrations after it had never run.
func resetLedger(ctx context.Context, pool *pgxpool.Pool, version int32) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM "+ledgerMigrations+" WHERE version > $1", version); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE "+ledgerTenants+" SET version = $1 WHERE version > $1", version)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset the ledger to version %d: %w", version, err)
	}
	return nil
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

// heapPeaks are the peaks of the Go memory a migration held (liveMemory):
// collected, read right after GCs forced at gcReadings points of its
// progress, and sampled, read every heapSampleEvery whatever the GC was
// doing.
type heapPeaks struct{ collected, sampled uint64 }

func (p heapPeaks) max(q heapPeaks) heapPeaks {
	return heapPeaks{max(p.collected, q.collected), max(p.sampled, q.sampled)}
}

// gcReadings is how many times migrateFleet forces a GC to read the live
// memory: at the first tenant reported (when Migrate has read them all
// from the ledger) and at every tenth of the fleet.
const gcReadings = 11

// migrateFleet migrates every tenant of m's ledger that is behind, conc at
// a time, checks that all n of them were reported through OnResult and
// migrated, and returns the time Migrate took and the peaks of its memory
// meanwhile. The forced GCs (a few milliseconds each, gcReadings of them)
// fall in the time measured, as a progress report's work would.
func migrateFleet(ctx context.Context, e *Env, m *tenancy.Manager, n, conc int) (time.Duration, heapPeaks, error) {
	runtime.GC() // so that the sampling starts from what is live, not the garbage of building the fleet
	sampled := sampleLiveMemory()
	var peaks heapPeaks
	reported, migrated := 0, 0
	start := time.Now()
	// DiscardResults: a fleet of any size, with progress (OnResult) and
	// no Result kept per tenant.
	_, err := m.Migrate(ctx, tenancy.MigrateOptions{Concurrency: conc, DiscardResults: true, OnResult: func(done, total int, r tenancy.Result) {
		reported++
		if r.Outcome == tenancy.OutcomeMigrated {
			migrated++
		}
		if tenth := done%max(total/10, 1) == 0; tenth || done == 1 {
			runtime.GC()
			peaks.collected = max(peaks.collected, liveMemory())
			if tenth {
				e.Log.Info("fleet migration", "done", done, "of", total)
			}
		}
	}})
	took := time.Since(start)
	peaks.sampled = sampled()
	switch {
	case err != nil:
		return 0, heapPeaks{}, err
	case reported != n || migrated != n:
		return 0, heapPeaks{}, fmt.Errorf("%d tenants: OnResult called %d times, %d migrated", n, reported, migrated)
	}
	return took, peaks, nil
}

// tenantIDs reads the ids of the tenants in pool's ledger.
func tenantIDs(ctx context.Context, pool *pgxpool.Pool) ([]uuid.UUID, error) {
	rows, err := pool.Query(ctx, "SELECT tenant_id FROM "+ledgerTenants+" ORDER BY schema_name")
	if err != nil {
		return nil, fmt.Errorf("read the tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("read the tenants: %w", err)
	}
	return ids, nil
}

// heapSampleEvery is how often migrateFleet samples the heap.
const heapSampleEvery = 50 * time.Millisecond

// sampleLiveMemory samples liveMemory every heapSampleEvery until the
// function it returns is called, which returns the peak.
func sampleLiveMemory() (peak func() uint64) {
	done, peakc := make(chan struct{}), make(chan uint64)
	go func() {
		t := time.NewTicker(heapSampleEvery)
		defer t.Stop()
		var peak uint64
		for {
			peak = max(peak, liveMemory())
			select {
			case <-done:
				peakc <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-peakc }
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
