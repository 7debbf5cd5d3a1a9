package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// switchBenchmark is what entering a tenant costs: the list of one
// center's samples as pkg/domain sends it, in one round trip (the center
// check and the page in one batch, PostgreSQL's implicit transaction),
// through Manager.InTenantBatch, which adds the schema switch to the
// batch, and through the same batch without the switch's search_path
// over a copy of the center's table in public. Both from the harness's
// process over one pool, Scale.Conns goroutines at once, in rounds
// alternating which side goes first.
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
	pool, m, err := newManager(ctx, f.url, e.Scale.Conns, true)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	queue := func(outside, inside *pgx.Batch) {
		outside.Queue(centerCheck+"$1", c.id).QueryRow(func(row pgx.Row) error { return row.Scan(nil, nil) })
		inside.Queue(listPage+"$1 OFFSET $2", 20, 0).Query(func(rows pgx.Rows) error {
			for rows.Next() {
			}
			return rows.Err()
		})
	}
	ro := pgx.TxOptions{AccessMode: pgx.ReadOnly}
	sides := []func() error{
		func() error { return m.InTenantBatch(ctx, c.id, ro, queue, nil) },
		// InTenantBatch's batch but for the search_path: the connection's
		// own ("$user", public) finds public.samples.
		func() error {
			var b pgx.Batch
			b.Queue("SELECT set_config('transaction_read_only', 'on', true)")
			queue(&b, &b)
			return pool.SendBatch(ctx, &b).Close()
		},
	}
	var lat [2][]time.Duration
	for _, side := range sides {
		if _, err := closedLoop(e.Scale.Conns, e.Scale.Warmup, side); err != nil {
			return fail(err)
		}
	}
	const rounds = 8
	for round := range rounds {
		for k := range sides {
			i := (k + round) % 2
			l, err := closedLoop(e.Scale.Conns, e.Scale.Duration/rounds, sides[i])
			if err != nil {
				return fail(err)
			}
			lat[i] = append(lat[i], l...)
		}
	}
	t, p := fromLatencies(lat[0], e.Scale.Duration), fromLatencies(lat[1], e.Scale.Duration)
	note := fmt.Sprintf("What pkg/domain sends for a list of one center's samples (one batch, PostgreSQL's implicit transaction: the center check and the page of 20) from the harness, %d goroutines over a pool of as many connections, in %d rounds alternating which side goes first. "+
		"Tenant schema: through Manager.InTenantBatch, which opens the batch with set_config('transaction_read_only', …), then the center check, then set_config('search_path', …): %.0f tx/s, p50 %s, p99 %s; "+
		"plain table: the same batch, its first statement setting transaction_read_only only, over a copy of the center's samples in public: %.0f tx/s, p50 %s, p99 %s. "+
		"No HTTP and no guard: the switch's share of an API request (above) is smaller.",
		e.Scale.Conns, rounds, t.rps(), fmtMS(t.p50), fmtMS(t.p99), p.rps(), fmtMS(p.p50), fmtMS(p.p99))
	what := fmt.Sprintf("list of one center, %d connections", e.Scale.Conns)
	return []Row{
		{Group: group, What: what + ": p50, tenant schema vs plain table", Target: RatioAtMost(1.1),
			Ours: msFigure(t.p50), Floor: msFigure(p.p50), Note: note},
		{Group: group, What: what + ": throughput, tenant schema vs plain table", Target: RatioAtLeast(1 / 1.1),
			Ours: Figure{t.rps(), "tx/s"}, Floor: Figure{p.rps(), "tx/s"},
			Note: "≥ 0.91× is a switch costing ≤ 10% of a transaction's time"},
	}
}

// closedLoop runs fn from conns goroutines, each calling it again as soon
// as it returns, for d, and returns the latencies of the calls that ended
// within d; its error is the first fn returned.
func closedLoop(conns int, d time.Duration, fn func() error) ([]time.Duration, error) {
	end := time.Now().Add(d)
	lat := make([][]time.Duration, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			for {
				start := time.Now()
				if errs[w] = fn(); errs[w] != nil {
					return
				}
				if now := time.Now(); now.Before(end) {
					lat[w] = append(lat[w], now.Sub(start))
				} else {
					return
				}
			}
		})
	}
	wg.Wait()
	return slices.Concat(lat...), errors.Join(errs...)
}

// scaleBenchmark is the list spread uniformly over each of the scale's
// spreads of centers, against one API server (Serve), beside pgbench; and the
// server's memory meanwhile.
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
	srv, err := startServer(ctx, f.url, "")
	if err != nil {
		return fail(err)
	}
	defer srv.stop()

	list := requests[0]
	var rows []Row
	var p50, floorP50 []float64
	var cold []string
	var rssPeak int64
	for _, n := range spreads {
		// First as a server just started meets the spread; then, after
		// every client has visited every center, as a long-running one
		// does: PostgreSQL loads a schema's catalog entries into a
		// backend's caches the first time the backend meets it, and keeps
		// them for the connection's life.
		first := f.loadAPI(ctx, e, srv, list, n)
		firstFloor := f.loadPgbench(ctx, e, list, n, pgbenchLoad{})
		walked, err := walkScript(list.script)
		if err = errors.Join(first.err, firstFloor.err, err, f.walkAPI(ctx, srv, n, e.Scale.Conns)); err != nil {
			return append(rows, Row{Group: group, What: fmt.Sprintf("list spread over %d tenants", n), Err: err})
		}
		cold = append(cold, fmt.Sprintf("%d tenants %s (pgbench %s)", n, fmtMS(first.p50), fmtMS(firstFloor.p50)))

		load, stop := context.WithCancel(ctx)
		rss := srv.sampleRSS(load)
		ours := f.loadAPI(ctx, e, srv, list, n)
		stop()
		rssPeak = max(rssPeak, <-rss)
		// pgbench's connections end with each run, so its walk opens the
		// measured run; it is given half again the time a walk took at the
		// cold run's rate, and a second more.
		walkTime := time.Second + time.Duration(1.5*float64(n*e.Scale.Conns)/max(firstFloor.rps(), 1)*float64(time.Second))
		floor := f.loadPgbench(ctx, e, list, n, pgbenchLoad{script: walked, walk: n, walkTime: walkTime})
		p50 = append(p50, float64(ours.p50)/1e6)
		floorP50 = append(floorP50, float64(floor.p50)/1e6)
		rows = append(rows, Row{Group: group, What: fmt.Sprintf("list spread over %d tenants, every center visited: p50", n),
			Ours: Figure{p50[len(p50)-1], "ms"}, Floor: msFigure(floor.p50),
			Note: "ours " + ours.String() + "; pgbench " + floor.String(), Err: errors.Join(ours.err, floor.err)})
	}
	last := len(spreads) - 1
	_, hwm, err := srv.memory()
	rows = append(rows,
		Row{Group: group, What: fmt.Sprintf("list p50 at %d tenants vs at %d, every center visited", spreads[last], spreads[0]),
			Ours: Figure{p50[last], "ms"}, Floor: Figure{p50[0], "ms"}, Target: RatioAtMost(1.2),
			Note: fmt.Sprintf("Both after a walk that asked for every center of the spread %d times, as many clients at once (ours: through the API before the measured load, whose pool then met each center on every connection with near certainty; pgbench: each client every center once, at the start of the measured run, one connection per client, its walks left out of the figures). pgbench's p50 for the same SQL went from %.2f to %.2f ms (%.2f×). "+
				"Measured before the walk, as a server just started meets the spread, p50 was: %s: the difference is PostgreSQL loading each schema's catalog entries (relation, indexes, statistics) into a backend's caches the first time the backend meets it; a request that meets a schema for the first time also re-plans its statements, as every request does whose search_path differs from its connection's last (both sides alike). "+
				"Growing the fixture to %d centers (through the product) took %s",
				e.Scale.Conns, floorP50[0], floorP50[last], floorP50[last]/floorP50[0], strings.Join(cold, "; "), len(f.reads), seeded.Round(time.Second))},
		Row{Group: group, What: fmt.Sprintf("apiserver resident memory under the list spread over %d tenants", spreads[last]),
			Ours: Figure{float64(rssPeak) / (1 << 20), "MiB"}, Target: AtMost(64, "MiB"),
			Note: fmt.Sprintf("largest VmRSS sampled every 50 ms during the measured loads; VmHWM over the whole run, walks included, %.1f MiB. Per-tenant state in the server is bounded: the principal cache by maxCachedPrincipals (16,384 tokens; pkg/domain), pgx's statement cache by its size per connection (the statements' text is the same for every tenant). PostgreSQL's per-backend catalog caches grow with the schemas a connection meets and are freed with it (pgxpool's MaxConnLifetime, an hour by default)", float64(hwm)/(1<<20)),
			Err:  err})
	return rows
}

// walkAPI asks the API for the list of every one of the spread's first
// centers from each of conns clients at once, each starting at its own
// offset, and checks every answer.
func (f *fixture) walkAPI(ctx context.Context, srv *server, spread, conns int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	defer client.CloseIdleConnections()
	// Request i is client i % conns's (i / conns)th.
	return concurrently(ctx, conns, spread*conns, func(i int) error {
		c := f.reads[((i%conns)*spread/conns+i/conns)%spread]
		req, err := http.NewRequestWithContext(ctx, "GET", srv.base+samplesPath(c, "?limit=20"), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("bench: walk: %w", err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return fmt.Errorf("bench: walk: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("bench: walk: %s: status %d", req.URL.Path, resp.StatusCode)
		}
		return nil
	})
}
