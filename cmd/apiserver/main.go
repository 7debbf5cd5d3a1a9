// Command apiserver serves tenantctl's HTTP API (package api) on --addr,
// over the database of TENANTCTL_DATABASE_URL (else DATABASE_URL). It
// shuts down gracefully on SIGINT or SIGTERM, finishing requests in flight.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
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
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, cmp.Or(os.Getenv("TENANTCTL_DATABASE_URL"), os.Getenv("DATABASE_URL"))); err != nil {
		slog.Error("apiserver", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, dbURL string) error {
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{Pool: pool, Tenancy: m, Logger: slog.Default()})
	if err != nil {
		return err
	}
	go srv.Listen(ctx)
	hs := &http.Server{Addr: addr, Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	slog.Info("apiserver listening", "addr", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
