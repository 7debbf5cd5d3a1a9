// Package loadgen is a closed-loop HTTP load generator for the request
// benchmarks of `make bench`: Conns clients, each with its own keep-alive
// connection, each sending its next request as soon as the previous answer
// is read, for a warm-up and then a measured duration. Every measured
// request's latency is kept, so percentiles are exact, not estimated from
// buckets; at the rates of one small machine that is a few MiB.
//
// It runs in the benchmark harness's process, a second process beside the
// server under test, as wrk would, but knows the API: a request can depend
// on the worker (its tenant, its token) and a response is checked, so an
// error page is counted as an error and not as a fast answer.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options describes a load.
type Options struct {
	// Conns is the number of concurrent clients and connections.
	Conns int
	// Warmup runs the load unmeasured first: connections, caches and the
	// server's prepared statements warm up.
	Warmup time.Duration
	// Duration is how long the load is measured.
	Duration time.Duration
	// Next returns worker's next request. It is called by that worker's
	// goroutine only, so per-worker state needs no locking.
	Next func(worker int) (*http.Request, error)
	// Check judges a response and its body; nil accepts any 2xx status.
	Check func(resp *http.Response, body []byte) error
}

// Result is what a load measured.
type Result struct {
	// Requests counts the requests answered (well or not) while measured.
	Requests int
	// Errors counts those that failed: transport errors, and responses
	// the check refused. FirstError is the first of them.
	Errors     int
	FirstError error
	// Elapsed is the measured time.
	Elapsed time.Duration
	// Latencies holds every measured request's latency, sorted.
	Latencies []time.Duration
}

// RPS is the measured requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the latency at or below which fraction p (0..1] of
// the requests were answered (nearest rank), or 0 without requests.
func (r Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	rank := int(p*float64(n)+0.999999) - 1
	return r.Latencies[min(max(rank, 0), n-1)]
}

// Run applies the load of opts and returns what it measured. Its error is
// about the options or the context; request errors are in the Result.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Conns < 1 || opts.Duration <= 0 || opts.Warmup < 0 || opts.Next == nil {
		return Result{}, errors.New("loadgen: Conns ≥ 1, Duration > 0, Warmup ≥ 0 and Next are required")
	}
	check := opts.Check
	if check == nil {
		check = func(resp *http.Response, _ []byte) error {
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("status %s", resp.Status)
			}
			return nil
		}
	}
	tr := &http.Transport{
		MaxIdleConns:        opts.Conns,
		MaxIdleConnsPerHost: opts.Conns,
		MaxConnsPerHost:     opts.Conns,
		DisableCompression:  true, // the server's own encoding cost, not gzip's, is measured
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	start := time.Now()
	measureFrom := start.Add(opts.Warmup)
	end := measureFrom.Add(opts.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	type tally struct {
		lat      []time.Duration
		errors   int
		firstErr error
		firstAt  time.Time
	}
	tallies := make([]tally, opts.Conns)
	var wg sync.WaitGroup
	for w := range opts.Conns {
		wg.Go(func() {
			t := &tallies[w]
			var body bytes.Buffer
			for {
				req, err := opts.Next(w)
				if err != nil {
					t.errors++
					t.firstErr, t.firstAt = cmpFirst(t.firstErr, t.firstAt, fmt.Errorf("loadgen: build request: %w", err))
					return
				}
				sent := time.Now()
				resp, err := client.Do(req.WithContext(ctx))
				if err == nil {
					body.Reset()
					_, err = body.ReadFrom(resp.Body)
					resp.Body.Close()
					if err == nil {
						err = check(resp, body.Bytes())
					}
				}
				done := time.Now()
				if ctx.Err() != nil || done.After(end) {
					return // cut off by the end of the run: neither success nor error
				}
				if sent.Before(measureFrom) {
					continue
				}
				t.lat = append(t.lat, done.Sub(sent))
				if err != nil {
					t.errors++
					t.firstErr, t.firstAt = cmpFirst(t.firstErr, t.firstAt, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err))
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return Result{}, fmt.Errorf("loadgen: %w", err)
	}

	var r Result
	var firstAt time.Time
	for _, t := range tallies {
		r.Latencies = append(r.Latencies, t.lat...)
		r.Errors += t.errors
		if t.firstErr != nil && (r.FirstError == nil || t.firstAt.Before(firstAt)) {
			r.FirstError, firstAt = t.firstErr, t.firstAt
		}
	}
	slices.Sort(r.Latencies)
	r.Requests = len(r.Latencies)
	r.Elapsed = opts.Duration
	return r, nil
}

// cmpFirst keeps the earlier of a recorded error and a new one.
func cmpFirst(first error, at time.Time, err error) (error, time.Time) {
	if first != nil {
		return first, at
	}
	return err, time.Now()
}
