package bench

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/tenantctl/tenantctl/internal/loadgen"
)

// loadCostBenchmark compares the CPU time per request of the two load
// generators, internal/loadgen (in this process: getrusage of the
// process) and wrk (a child: its rusage), under the same list load
// against the same server, in alternating rounds.
func loadCostBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Load generator"
	fail := func(err error) []Row { return []Row{{Group: group, What: "load generator cost", Err: err}} }
	spread := e.Scale.Spreads[0]
	f, err := requestFixture(ctx, e, spread)
	if err != nil {
		return fail(err)
	}
	srv, stop, err := startAPIServer(ctx, f.url)
	if err != nil {
		return fail(err)
	}
	defer stop()
	calls := requests[0].calls(f, spread, 0, 0)
	sc := e.Scale
	var goCPU, wrkCPU time.Duration
	var goN, wrkN int
	var goRPS, wrkRPS float64
	for range 3 {
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		i := 0
		r, err := loadgen.Run(ctx, loadgen.Options{Conns: sc.Conns, Duration: sc.Duration,
			Next: func(w int) (*http.Request, error) {
				c := calls[(w+i)%len(calls)]
				i++
				req, err := http.NewRequest(c.method, srv.base+c.path, nil)
				if err == nil {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				return req, err
			}})
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		if err != nil || r.Errors > 0 {
			return fail(fmt.Errorf("loadgen: %v, %d errors %v", err, r.Errors, r.FirstError))
		}
		goCPU += time.Duration(syscall.TimevalToNsec(ru1.Utime) - syscall.TimevalToNsec(ru0.Utime) + syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Stime))
		goN += r.Requests
		goRPS += r.RPS() / 3
		m, err := wrkLoad(ctx, srv.base, calls, false, sc.Conns, sc.Duration)
		if err != nil {
			return fail(err)
		}
		wrkCPU += m.wrk * time.Duration(m.requests)
		wrkN += m.requests
		wrkRPS += m.rps() / 3
	}
	return []Row{{Group: group, What: "load generator CPU per list request, loadgen vs wrk",
		Ours: Figure{float64(goCPU.Microseconds()) / float64(goN), "µs/request"}, Floor: Figure{float64(wrkCPU.Microseconds()) / float64(wrkN), "µs/request"},
		Note: fmt.Sprintf("loadgen %.0f req/s, wrk %.0f req/s (3 rounds each, alternating)", goRPS, wrkRPS)}}
}
