// Command benchrun runs tenantctl's benchmarks (package bench) against a
// throwaway PostgreSQL cluster and writes BENCHMARKS.md; `make bench` runs
// it. With -only it replaces the sections of the benchmarks it ran and
// keeps the others, so that the file is assembled from several runs. Without -url it starts that cluster itself (internal/pgcluster),
// never the test or shared server, with production durability (fsync,
// synchronous_commit and full_page_writes on), room for the request
// benchmarks' connections (16 clients of pgbench, or the apiserver's pool,
// plus the harness's own) and pg_stat_statements, and deletes it
// afterwards.
//
// Benchmarks report, they do not fail: a benchmark that errs is a row of
// BENCHMARKS.md saying why. benchrun fails only when the cluster cannot be
// had or the harness cannot run at all.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"github.com/tenantctl/tenantctl/internal/bench"
	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

func main() {
	// Hidden: the API server (bench.Serve) and the minimal service
	// (bench.Minimal) the request benchmarks start as children, and the
	// CLI (bench.Tenantctl) the archive benchmark runs.
	if modes := map[string]func(context.Context, []string) int{"serve": bench.Serve, "minimal": bench.Minimal, "tenantctl": bench.Tenantctl}; len(os.Args) > 1 && modes[os.Args[1]] != nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := modes[os.Args[1]](ctx, os.Args[2:])
		stop()
		os.Exit(code)
	}
	url := flag.String("url", "", "superuser URL of a throwaway cluster's postgres database (default: a cluster of benchrun's own)")
	binDir := flag.String("bindir", "", "directory of the cluster's psql and pgbench (required with -url)")
	scale := flag.String("scale", "full", "small (under two minutes) or full (10,000 tenants)")
	only := flag.String("only", "", "run only the benchmarks whose name matches this regular expression, replacing only their sections of -out")
	out := flag.String("out", "BENCHMARKS.md", "file to write the report to")
	flag.Parse()
	if (*url != "" && *binDir == "") || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: benchrun [-url URL -bindir DIR] [-scale small|full] [-only REGEXP] [-out FILE]")
		os.Exit(2)
	}
	sc, err := bench.ScaleNamed(*scale)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(2)
	}
	pattern, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun: -only:", err)
		os.Exit(2)
	}
	// The report is merged into the file's earlier one: with -only it
	// keeps the other benchmarks' sections, without it only the notes.
	// Read, and tried with no sections, before a run whose figures a
	// file that cannot be merged into would lose.
	old, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
	if *only == "" {
		old = []byte(bench.Notes(string(old)))
	}
	if err := (&bench.Report{}).WriteMarkdown(io.Discard, string(old)); err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: %s: %v\n", *out, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cluster *pgcluster.Cluster
	if *url == "" {
		if cluster, err = startCluster(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun:", err)
			os.Exit(1)
		}
		*url, *binDir = cluster.URL("postgres"), cluster.BinDir
	}
	env := &bench.Env{AdminURL: *url, BinDir: *binDir, Scale: sc, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	rep, err := bench.Run(ctx, env, pattern)
	if cluster != nil {
		if err := cluster.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun:", err)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b, string(old)); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun: write report:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun: write report:", err)
		os.Exit(1)
	}
}

// startCluster starts the benchmarks' own cluster (see the package
// comment), installing PostgreSQL as root when its binaries are missing.
func startCluster(ctx context.Context) (*pgcluster.Cluster, error) {
	log := func(msg string) { fmt.Fprintln(os.Stderr, "benchrun:", msg) }
	bin, err := pgcluster.FindOrInstall(ctx, "postgresql", func() (string, error) { return pgcluster.FindBinDir() }, log)
	if err != nil {
		return nil, err
	}
	return pgcluster.Open(ctx, pgcluster.Options{
		BinDir:  bin,
		Durable: true,
		// track_planning: the plans per request in the requests' notes.
		Settings: []string{"max_connections = 200", "shared_preload_libraries = 'pg_stat_statements'", "pg_stat_statements.track_planning = on"},
		Log:      log,
	})
}
