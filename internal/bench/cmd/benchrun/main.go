// Command benchrun runs tenantctl's benchmarks (package bench) against a
// throwaway PostgreSQL cluster and writes BENCHMARKS.md. scripts/bench.sh
// starts the cluster and runs it; `make bench` runs that.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"github.com/tenantctl/tenantctl/internal/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		// Hidden: the API server the request benchmarks start as a child
		// (bench.Serve).
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := bench.Serve(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun serve:", err)
			os.Exit(1)
		}
		return
	}
	url := flag.String("url", "", "superuser URL of the throwaway cluster's postgres database (required)")
	binDir := flag.String("bindir", "", "directory of the cluster's psql and pgbench (required)")
	scale := flag.String("scale", "full", "small (under two minutes) or full (10,000 tenants)")
	only := flag.String("only", "", "run only the benchmarks whose name matches this regular expression")
	out := flag.String("out", "BENCHMARKS.md", "file to write the report to")
	flag.Parse()
	if *url == "" || *binDir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: benchrun -url URL -bindir DIR [-scale small|full] [-only REGEXP] [-out FILE]")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &bench.Env{AdminURL: *url, BinDir: *binDir, Scale: sc, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	rep, err := bench.Run(ctx, env, pattern)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
	if err := rep.WriteMarkdown(f); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun: write report:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun: write report:", err)
		os.Exit(1)
	}
}
