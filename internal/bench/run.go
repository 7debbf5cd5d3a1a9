package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

// ensureWrk finds wrk, which sends the API's loads, and installs it with
// apt-get when it is missing and we are root (as pgenv does PostgreSQL's
// packages); otherwise its error says what to install.
func ensureWrk(ctx context.Context, logf func(string, ...any)) error {
	_, err := pgcluster.FindOrInstall(ctx, "wrk", func() (string, error) {
		if _, err := exec.LookPath("wrk"); err != nil {
			return "", errors.New("wrk not found on PATH: the API's loads are sent by wrk (apt-get install wrk)")
		}
		return "wrk", nil
	}, func(msg string) { logf(msg) })
	return err
}

// Run runs the benchmarks of All whose name matches only, in order, and
// returns their report, each benchmark's section saying when and on what
// machine and server it ran. Its error is an error of the whole run (the
// cluster unreachable); a failing benchmark is a row.
func Run(ctx context.Context, e *Env, only *regexp.Regexp) (*Report, error) {
	if err := ensureWrk(ctx, e.Log.Info); err != nil {
		return nil, err
	}
	server, settings, err := describeServer(ctx, e.AdminURL)
	if err != nil {
		return nil, err
	}
	machine := fmt.Sprintf("on %d cores (%s), %s; PostgreSQL %s, a throwaway cluster with %s.",
		runtime.NumCPU(), cpuModel(), runtime.Version(), server, settings)
	rep := &Report{Title: "Benchmarks", Header: []string{
		"Assembled from runs of `make bench`: each section says when, at what BENCH_SCALE and on what machine it was measured, " +
			"and `make bench BENCH=<name>` measures one benchmark again and replaces its section only. " +
			"Every ratio compares two figures measured side by side in one run: on a shared, noisy machine ratios are stable where absolute times are not.",
	}}
	for _, b := range All() {
		if !only.MatchString(b.Name) {
			continue
		}
		e.Log.Info("benchmark", "name", b.Name, "scale", e.Scale.Name)
		t := time.Now()
		rows := b.Run(ctx, e)
		took := time.Since(t)
		e.Log.Info("benchmark done", "name", b.Name, "took", took.Round(time.Millisecond))
		rep.Sections = append(rep.Sections, Section{Bench: b.Name, Rows: rows,
			Measured: fmt.Sprintf("Measured %s, BENCH_SCALE=%s, in %s, %s",
				t.UTC().Format("2006-01-02 15:04 MST"), e.Scale.Name, took.Round(time.Second), machine)})
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}
	return rep, nil
}

// describeServer returns the server's version and its durability
// settings, which decide what a commit costs.
func describeServer(ctx context.Context, url string) (version, settings string, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", "", fmt.Errorf("connect to the benchmark cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'),
		format('fsync=%s, synchronous_commit=%s, full_page_writes=%s, shared_buffers=%s, max_connections=%s',
			current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes'),
			current_setting('shared_buffers'), current_setting('max_connections'))`).Scan(&version, &settings)
	if err != nil {
		return "", "", fmt.Errorf("read server settings: %w", err)
	}
	return version, settings, nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
