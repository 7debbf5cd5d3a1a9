// Command apiserver serves tenantctl's HTTP API (package api) on --addr,
// over the database of TENANTCTL_DATABASE_URL (else DATABASE_URL). It
// shuts down gracefully on SIGINT or SIGTERM, finishing requests in flight.
//
// The database URL may go through PgBouncer in transaction pooling mode
// (add default_query_exec_mode=exec to it for PgBouncer before 1.21); the
// center listener's LISTEN cannot, so then give it a direct URL with
// --listen-database-url or TENANTCTL_LISTEN_DATABASE_URL.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	ttl := flag.Duration("token-ttl", 24*time.Hour, "lifetime of tokens issued by POST /api/auth/token/")
	timeout := flag.Duration("request-timeout", 30*time.Second, "bound on each request's database work (503 past it)")
	metrics := flag.Bool("metrics", true, "serve Prometheus metrics, unauthenticated, at GET /metrics")
	listenURL := flag.String("listen-database-url", "", "direct PostgreSQL URL for the LISTEN connection, when the database URL goes through PgBouncer (env TENANTCTL_LISTEN_DATABASE_URL; default: the database URL)")
	flag.Parse()
	if *ttl <= 0 || *timeout <= 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "apiserver: --token-ttl and --request-timeout must be positive; no arguments are taken")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *addr, api.Config{TokenTTL: *ttl, RequestTimeout: *timeout, DisableMetrics: !*metrics,
		ListenConnString: cmp.Or(*listenURL, os.Getenv("TENANTCTL_LISTEN_DATABASE_URL"))})
	if err != nil {
		slog.Error("apiserver", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, cfg api.Config) error {
	pool, err := db.Open(ctx, cmp.Or(os.Getenv("TENANTCTL_DATABASE_URL"), os.Getenv("DATABASE_URL")))
	if err != nil {
		return err
	}
	defer pool.Close()
	if cfg.Tenancy, err = db.NewTenancy(pool, tenancy.Config{}); err != nil {
		return err
	}
	cfg.Pool = pool
	srv, err := api.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	slog.Info("apiserver listening", "addr", ln.Addr().String())
	return api.Serve(ctx, ln, srv.Handler(), api.ServeOptions{Background: srv.Listen})
}
