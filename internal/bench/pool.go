package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
)

const poolGroup = "Warm pool"

// Sizes of the concurrent row: issue 14's "50 concurrent creates" over a
// pool smaller than that, so that claims and cold creates race.
const (
	poolRaceCreates = 50
	poolRaceSize    = 20
)

// poolBenchmark measures Create from a non-empty warm pool against a cold
// Create, side by side in one run, each on a database of its own: each
// side creates Scale.Serial tenants one after another, timed one by one,
// in rounds that alternate which side goes first; before each round the
// pool side's pool is filled (untimed) with exactly as many members as the
// round creates, and afterwards it must be empty, so every create of that
// side was a claim. Then poolRaceCreates concurrent creates over a pool of
// poolRaceSize: every one must succeed with a schema of its own, whole.
func poolBenchmark(ctx context.Context, e *Env) []Row {
	n := e.Scale.Serial
	serial := Row{Group: poolGroup, Target: AtMost(3, "ms"),
		What: fmt.Sprintf("create a tenant from a non-empty pool, serially: p50 (%d tenants, one at a time)", n)}
	race := Row{Group: poolGroup, Target: Target{Value: poolRaceCreates, Unit: "tenants"},
		What: fmt.Sprintf("%d concurrent creates over a pool of %d: whole, distinct tenants", poolRaceCreates, poolRaceSize)}
	fail := func(err error) []Row {
		serial.Err, race.Err = err, err
		return []Row{serial, race}
	}
	warmURL, err := e.NewDatabase(ctx, "bench_pool")
	if err != nil {
		return fail(err)
	}
	coldURL, err := e.NewDatabase(ctx, "bench_pool_cold")
	if err != nil {
		return fail(err)
	}
	warmPool, warm, err := newManagerOf(ctx, warmURL, e.Scale.Concurrency, true, tenancy.Config{PoolSize: n})
	if err != nil {
		return fail(err)
	}
	defer warmPool.Close()
	coldPool, cold, err := newManager(ctx, coldURL, e.Scale.Concurrency, true)
	if err != nil {
		return fail(err)
	}
	defer coldPool.Close()

	var warmTimes, coldTimes []time.Duration
	share := func(round int) int { return n*(round+1)/pairRounds - n*round/pairRounds }
	serialSide := func(name string, m *tenancy.Manager, times *[]time.Duration) *side {
		return &side{name: name, run: func(round int) (time.Duration, error) {
			var took time.Duration
			for range share(round) {
				start := time.Now()
				if err := m.Create(ctx, uuid.New(), nil); err != nil {
					return took, err
				}
				d := time.Since(start)
				*times = append(*times, d)
				took += d
			}
			return took, nil
		}}
	}
	w := serialSide("pool", warm, &warmTimes)
	// The pool's size is n; a round's share is filled exactly, so that
	// the round claims every member and never creates cold.
	w.before = func(round int) error { return fillTo(ctx, warmPool, share(round)) }
	run := w.run
	w.run = func(round int) (time.Duration, error) {
		d, err := run(round)
		if err == nil {
			err = expectPoolEmpty(ctx, warm)
		}
		return d, err
	}
	serial.Err = e.alternate(ctx, pairRounds, w, serialSide("cold", cold, &coldTimes))
	serial.Ours, serial.Floor = msFigure(median(warmTimes)), msFigure(median(coldTimes))
	serial.Note = fmt.Sprintf("Ours: Manager.Create claiming a member (BEGIN pipelined with the claim; ALTER SCHEMA … RENAME; COMMIT: 3 round trips); "+
		"floor column: a cold Manager.Create of the same migrations (%d round trips), p50 of each one's %d creates, fsync on. "+
		"The pool is refilled between rounds, untimed, with as many members as the round creates, and found empty after it. %s",
		len(cold.Migrations())+4, n, pairNote)

	whole, note, err := poolRace(ctx, warmURL, e.Scale.Conns)
	race.Ours, race.Note, race.Err = Figure{float64(whole), "tenants"}, note, err
	return []Row{serial, race}
}

// fillTo fills the warm pool of the database of pool until size members
// are ready, through a Manager whose pool is of that size.
func fillTo(ctx context.Context, pool *pgxpool.Pool, size int) error {
	filler, err := db.NewTenancy(pool, tenancy.Config{PoolSize: size})
	if err != nil {
		return err
	}
	_, err = filler.FillPool(ctx)
	return err
}

// expectPoolEmpty fails unless m's pool has no member left.
func expectPoolEmpty(ctx context.Context, m *tenancy.Manager) error {
	st, err := m.Inspect(ctx)
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(st, func(s tenancy.TenantStatus) bool { return s.PoolMember }); i >= 0 {
		return fmt.Errorf("bench: member %s left after the round: a create went cold", st[i].Schema)
	}
	return nil
}

// poolRace runs poolRaceCreates creates at once over a pool of
// poolRaceSize members and conns connections, then checks the outcome in
// the ledger and the catalog (Inspect): every create succeeded, each with
// a schema of its own, all whole; every member was claimed once. It
// returns how many tenants are whole.
func poolRace(ctx context.Context, url string, conns int) (int, string, error) {
	pool, m, err := newManagerOf(ctx, url, conns, true, tenancy.Config{PoolSize: poolRaceSize})
	if err != nil {
		return 0, "", err
	}
	defer pool.Close()
	before, err := m.Inspect(ctx)
	if err != nil {
		return 0, "", err
	}
	if _, err := m.FillPool(ctx); err != nil {
		return 0, "", err
	}
	ids := newIDs(poolRaceCreates)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ids {
		wg.Go(func() { errs[i] = m.Create(ctx, ids[i], nil) })
	}
	wg.Wait()
	took := time.Since(start)
	after, err := m.Inspect(ctx)
	if err != nil {
		return 0, "", err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[m.SchemaName(id)] = true
	}
	whole, members, bad := 0, 0, 0
	for _, s := range after {
		switch {
		case s.PoolMember:
			members++
		case !s.OK():
			bad++
		case want[s.Schema]:
			whole++
		}
	}
	err = errors.Join(errs...)
	if err == nil && (members != 0 || bad != 0 || len(after) != len(before)+poolRaceCreates) {
		err = fmt.Errorf("bench: after the race %d schemas (%d before), %d members left, %d with problems", len(after), len(before), members, bad)
	}
	note := fmt.Sprintf("%d goroutines calling Manager.Create at once over %d connections, the pool filled with %d members beforehand: %d claimed (the pool is empty afterwards), %d created cold, in %s; "+
		"counted afterwards by Inspect (ledger joined to the catalog): %d new tenants whole at the latest version, each in its own schema, none lost, no orphan.",
		poolRaceCreates, conns, poolRaceSize, poolRaceSize-members, poolRaceCreates-(poolRaceSize-members), took.Round(time.Millisecond), whole)
	return whole, note, err
}

// median is the p50 of ds.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
