package api

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServeOptions configures Serve. Zero fields take the defaults noted.
type ServeOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers, so that a
	// client sending them slowly (slowloris) cannot hold a connection.
	// Defaults to 5 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included. Defaults
	// to 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of the response. Defaults to 60 s: above Config.RequestTimeout, so
	// that a timed-out request can still be answered its 503.
	WriteTimeout time.Duration
	// IdleTimeout bounds a keep-alive connection between requests.
	// Defaults to 2 minutes.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the wait for requests in flight once ctx
	// ends; past it the remaining connections are closed. Defaults to 20 s.
	ShutdownTimeout time.Duration
	// Logger receives net/http's own errors. Defaults to slog.Default().
	Logger *slog.Logger
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: it stops
// accepting connections, lets the requests in flight finish (at most
// ShutdownTimeout) and returns nil. It returns early with
// an error if serving fails. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServeOptions) error {
	log := cmp.Or(opts.Logger, slog.Default())
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cmp.Or(opts.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       cmp.Or(opts.ReadTimeout, 30*time.Second),
		WriteTimeout:      cmp.Or(opts.WriteTimeout, 60*time.Second),
		IdleTimeout:       cmp.Or(opts.IdleTimeout, 2*time.Minute),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err // never http.ErrServerClosed: only Shutdown below causes that
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(opts.ShutdownTimeout, 20*time.Second))
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		// Requests still running past the deadline: cut them off.
		err = errors.Join(err, hs.Close())
	}
	// Serve has returned ErrServerClosed (or is about to); wait for it so
	// that no goroutine of ours outlives the call.
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
