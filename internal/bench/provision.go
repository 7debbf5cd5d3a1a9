package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/tenancy"
)

const provisionGroup = "Tenant provisioning"

// runProvision creates tenants through the library (tenantctl's Manager,
// m.Create with no hook: the ledger row, the schema and every tenant
// migration, committed) and, as the floor, runs the same statements from
// psql -f: Scale.Serial tenants one after another, then Scale.Bulk at
// Scale.Concurrency. Each side has a database of its own, so neither
// creates into the other's schemas.
func runProvision(ctx context.Context, e *Env) []Row {
	sc := e.Scale
	serial := Row{Group: provisionGroup, Target: RatioAtMost(1.5),
		What: fmt.Sprintf("create a tenant, serially (%d tenants, one connection)", sc.Serial)}
	bulk := Row{Group: provisionGroup, Target: RatioAtLeast(1),
		What: fmt.Sprintf("bulk create: %d tenants over %d connections (throughput)", sc.Bulk, sc.Concurrency)}

	fail := func(err error) []Row {
		serial.Err, bulk.Err = err, err
		return []Row{serial, bulk}
	}
	libURL, err := e.NewDatabase(ctx, "bench_provision")
	if err != nil {
		return fail(err)
	}
	floorURL, err := e.NewDatabase(ctx, "bench_provision_floor")
	if err != nil {
		return fail(err)
	}
	pool, m, err := newManager(ctx, libURL, sc.Concurrency, true)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	// The floor's scripts come from the same Manager: its names and
	// migrations, run against the floor's database.
	tx := createTx(m)
	startup, err := e.psqlStartup(ctx, floorURL)
	if err != nil {
		return fail(err)
	}
	floorNote := fmt.Sprintf("Floor: the same statements (createTx in internal/bench/psql.go, checked identical by a test) "+
		"from psql -f, one transaction per tenant (psql sends each statement on its own: more round trips than the library), "+
		"timed inside psql by the server's clock; psql's start-up and connection (%.0f ms a process) are left out, "+
		"as the library's pool is connected beforehand.", ms(startup))

	var lib, floor time.Duration
	lib, floor, serial.Err = measurePair(ctx, e, sc.Serial,
		func(n int) (time.Duration, error) { return createTenants(ctx, m, newIDs(n), 1) },
		func(n int) (time.Duration, error) { return e.psqlRun(ctx, floorURL, 1, newIDs(n), tx) })
	serial.Ours, serial.Floor = perTenant(lib, sc.Serial), perTenant(floor, sc.Serial)
	serial.Note = fmt.Sprintf("Library: Manager.Create, %d round trips (BEGIN pipelined with the ledger row; CREATE SCHEMA; "+
		"each migration file; the ledger's record; COMMIT). %s %s", len(m.Migrations())+4, floorNote, pairNote)

	lib, floor, bulk.Err = measurePair(ctx, e, sc.Bulk,
		func(n int) (time.Duration, error) { return createTenants(ctx, m, newIDs(n), sc.Concurrency) },
		func(n int) (time.Duration, error) { return e.psqlRun(ctx, floorURL, sc.Concurrency, newIDs(n), tx) })
	bulk.Ours, bulk.Floor = throughput(lib, sc.Bulk), throughput(floor, sc.Bulk)
	bulk.Note = fmt.Sprintf("Higher is better. Library: %d goroutines calling Manager.Create over a pool of %d connections. "+
		"Floor: %d psql processes at once, each a share of the tenants; wall time from the first script's start to the last one's end, "+
		"by the server's clock. %s", sc.Concurrency, sc.Concurrency, sc.Concurrency, pairNote)
	return []Row{serial, bulk}
}

// pairRounds is how many rounds measurePair splits each side's work into.
const pairRounds = 4

var pairNote = fmt.Sprintf("Each side on a database of its own, in %d rounds alternating which side goes first, each round after a CHECKPOINT.", pairRounds)

// measurePair measures n tenants of work on each side of a row in
// pairRounds rounds (alternate), each round a share of the n. lib and
// floor do n tenants of work and return its time.
func measurePair(ctx context.Context, e *Env, n int, lib, floor func(n int) (time.Duration, error)) (libTime, floorTime time.Duration, err error) {
	share := func(run func(int) (time.Duration, error)) func(int) (time.Duration, error) {
		return func(round int) (time.Duration, error) { return run(n*(round+1)/pairRounds - n*round/pairRounds) }
	}
	l, f := &side{name: "library", run: share(lib)}, &side{name: "floor", run: share(floor)}
	err = e.alternate(ctx, pairRounds, l, f)
	return l.took, f.took, err
}

// side is one side of a row measured in rounds: before readies round r
// (untimed; nil for nothing to do), run does its work and returns its
// time; took sums them.
type side struct {
	name   string
	before func(round int) error
	run    func(round int) (time.Duration, error)
	took   time.Duration
}

// alternate measures a and b in rounds, alternating which goes first (a,
// b, b, a, …): in each round both sides' before, then each side's run
// after a checkpoint. On a shared machine a slow spell then falls on both
// sides, instead of on whichever happened to run during it.
func (e *Env) alternate(ctx context.Context, rounds int, a, b *side) error {
	for round := range rounds {
		order := []*side{a, b}
		if round%2 == 1 {
			order = []*side{b, a}
		}
		for _, s := range order {
			if s.before == nil {
				continue
			}
			if err := s.before(round); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
		for _, s := range order {
			if err := e.checkpoint(ctx); err != nil {
				return err
			}
			d, err := s.run(round)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			s.took += d
			e.Log.Info("measured", "side", s.name, "round", round+1, "took", d.Round(time.Millisecond))
		}
	}
	return nil
}

// createTenants creates ids through m, conc at a time, and returns the
// wall time.
func createTenants(ctx context.Context, m *tenancy.Manager, ids []uuid.UUID, conc int) (time.Duration, error) {
	start := time.Now()
	err := concurrently(ctx, conc, len(ids), func(i int) error { return m.Create(ctx, ids[i], nil) })
	return time.Since(start), err
}

// newIDs returns n new tenant ids.
func newIDs(n int) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
	}
	return ids
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perTenant(d time.Duration, n int) Figure {
	return Figure{Value: ms(d) / float64(max(n, 1)), Unit: "ms/tenant"}
}

func throughput(d time.Duration, n int) Figure {
	if d <= 0 {
		return Figure{Unit: "tenants/s"}
	}
	return Figure{Value: float64(n) / d.Seconds(), Unit: "tenants/s"}
}
