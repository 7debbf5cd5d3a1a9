package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// switchBenchmark is the tenant-switch cost of the performance issue: the
// same server code (benchrun serve) listing one center's samples from its
// tenant schema, and from a plain copy of its table in public with no
// schema switch (serve -plain), loaded in alternation.
func switchBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Tenant switch"
	fail := func(err error) []Row { return []Row{{Group: group, What: "tenant switch", Err: err}} }
	f, err := requestFixture(ctx, e, 1)
	if err != nil {
		return fail(err)
	}
	c := f.reads[0]
	_, err = f.pool.Exec(ctx, "DROP TABLE IF EXISTS public.samples; CREATE TABLE public.samples (LIKE "+
		pgx.Identifier{c.schema, "samples"}.Sanitize()+" INCLUDING ALL); INSERT INTO public.samples SELECT * FROM "+
		pgx.Identifier{c.schema, "samples"}.Sanitize()+"; ANALYZE public.samples")
	if err != nil {
		return fail(fmt.Errorf("bench: copy the samples into public: %w", err))
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	tenant, err := startServer(ctx, f.url, self, "serve")
	if err != nil {
		return fail(err)
	}
	defer tenant.stop()
	plain, err := startServer(ctx, f.url, self, "serve", "-plain")
	if err != nil {
		return fail(err)
	}
	defer plain.stop()

	// Four rounds each of a quarter of the duration, alternating, so that
	// the moments of a shared machine fall on both sides alike (two
	// servers loaded at once are not scheduled alike).
	quarter := *e
	quarter.Scale.Duration /= 4
	var sides [2]measured
	for range 4 {
		for i, srv := range []*server{tenant, plain} {
			m := f.loadAPI(ctx, &quarter, srv, requests[0], 1)
			if m.err == nil && m.r.Errors > 0 {
				m.err = fmt.Errorf("%d errors; first: %w", m.r.Errors, m.r.FirstError)
			}
			if m.err != nil {
				return fail(m.err)
			}
			sides[i] = sides[i].merge(m)
		}
	}
	t, p := sides[0].r, sides[1].r
	note := fmt.Sprintf("tenant schema: %.0f req/s, p50 %s, p99 %s, server CPU %d µs/request; plain table in public: %.0f req/s, p50 %s, p99 %s, server CPU %d µs/request",
		t.RPS(), fmtMS(t.Percentile(0.5)), fmtMS(t.Percentile(0.99)), sides[0].cpu.Microseconds(),
		p.RPS(), fmtMS(p.Percentile(0.5)), fmtMS(p.Percentile(0.99)), sides[1].cpu.Microseconds())
	what := fmt.Sprintf("list of one center, %d connections", e.Scale.Conns)
	return []Row{
		{Group: group, What: what + ": p50, tenant schema vs plain table", Target: RatioAtMost(1.1),
			Ours: Figure{float64(t.Percentile(0.5)) / 1e6, "ms"}, Floor: Figure{float64(p.Percentile(0.5)) / 1e6, "ms"}, Note: note},
		{Group: group, What: what + ": throughput, tenant schema vs plain table", Target: RatioAtLeast(1 / 1.1),
			Ours: Figure{t.RPS(), "req/s"}, Floor: Figure{p.RPS(), "req/s"},
			Note: "≥ 0.91× is a switch costing ≤ 10% of a request's time"},
	}
}

// scaleBenchmark is item 5 of the performance issue: the list spread
// uniformly over each of the scale's spreads of centers, against one
// cmd/apiserver, beside pgbench; and the server's memory meanwhile.
func scaleBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Scale in tenants"
	fail := func(err error) []Row { return []Row{{Group: group, What: "scale", Err: err}} }
	spreads := e.Scale.Spreads
	t := time.Now()
	f, err := requestFixture(ctx, e, slices.Max(spreads))
	if err != nil {
		return fail(err)
	}
	seeded := time.Since(t)
	dir, err := os.MkdirTemp("", "tenantctl-bench-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	bin, err := buildAPIServer(ctx, dir)
	if err != nil {
		return fail(err)
	}
	srv, err := startServer(ctx, f.url, bin)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()

	list := requests[0]
	var rows []Row
	var p50, floorP50 []float64
	var rssPeak int64
	for _, n := range spreads {
		load, stop := context.WithCancel(ctx)
		rss := srv.sampleRSS(load)
		ours := f.loadAPI(ctx, e, srv, list, n)
		stop()
		rssPeak = <-rss
		floor := f.loadPgbench(ctx, e, list, n)
		p50 = append(p50, float64(ours.r.Percentile(0.5))/1e6)
		floorP50 = append(floorP50, float64(floor.r.Percentile(0.5))/1e6)
		rows = append(rows, Row{Group: group, What: fmt.Sprintf("list spread over %d tenants: p50", n),
			Ours: Figure{p50[len(p50)-1], "ms"}, Floor: Figure{float64(floor.r.Percentile(0.5)) / 1e6, "ms"},
			Note: "ours " + ours.String() + "; pgbench " + floor.String(), Err: errors.Join(ours.err, floor.err)})
	}
	_, hwm, err := srv.memory()
	rows = append(rows,
		Row{Group: group, What: fmt.Sprintf("list p50 at %d tenants vs at %d", spreads[len(spreads)-1], spreads[0]),
			Ours: Figure{p50[len(p50)-1], "ms"}, Floor: Figure{p50[0], "ms"}, Target: RatioAtMost(1.2),
			Note: fmt.Sprintf("pgbench's p50 for the same SQL went from %.2f to %.2f ms (%.2f×): PostgreSQL re-plans a prepared statement whenever search_path differs from its last run's, and each backend loads the catalog entries of every schema it meets. Ours also pays, on the first request to each center, the tenant middleware's center lookup (pkg/api's center cache): the statements/request above 4.0. Growing the fixture to %d centers (through the product) took %s",
				floorP50[0], floorP50[len(floorP50)-1], floorP50[len(floorP50)-1]/floorP50[0], len(f.reads), seeded.Round(time.Second))},
		Row{Group: group, What: fmt.Sprintf("apiserver resident memory under the list spread over %d tenants", spreads[len(spreads)-1]),
			Ours: Figure{float64(rssPeak) / (1 << 20), "MiB"}, Target: AtMost(64, "MiB"),
			Note: fmt.Sprintf("largest VmRSS sampled every 50 ms during that load; VmHWM over the whole run %.1f MiB. Per-tenant state in the server is bounded: the center cache by maxCachedCenters (10,000; pkg/api), pgx's statement cache by its size per connection (the statements' text is the same for every tenant)", float64(hwm)/(1<<20)),
			Err:  err})
	return rows
}
