package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/pkg/api"
)

// wait fails the test unless ch yields within 10 s: a liveness bound, not
// a timing assertion.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10 s", what)
		panic("unreachable")
	}
}

// TestServeGraceful: cancelling Serve's context stops new connections at
// once but lets the request in flight finish with its 200; then Serve
// returns nil.
func TestServeGraceful(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	inner := api.OfflineServer(t).Handler()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			inner.ServeHTTP(w, r)
			return
		}
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- api.Serve(ctx, ln, h, api.ServeOptions{Logger: discard()})
	}()

	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get("http://" + addr + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz through Serve: %v %v", res, err)
	}
	res.Body.Close()

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		res, err := client.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		slow <- result{res.StatusCode, string(b), err}
	}()
	wait(t, started, "slow request started")
	cancel()

	// The listener closes; Serve waits for the request in flight.
	refused := make(chan struct{})
	go func() {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				close(refused)
				return
			}
			c.Close()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	wait(t, refused, "new connections refused after cancel")
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}

	close(release)
	if r := wait(t, slow, "slow request"); r.err != nil || r.status != 200 || r.body != "done" {
		t.Errorf("in-flight request: %d %q %v", r.status, r.body, r.err)
	}
	if err := wait(t, served, "Serve returning"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("a connection was accepted after shutdown")
	}
}

// TestServeSlowHeaders: a client that sends part of a request line and
// stalls is disconnected after ReadHeaderTimeout.
func TestServeSlowHeaders(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := api.OfflineServer(t).Handler()
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- api.Serve(ctx, ln, h, api.ServeOptions{ReadHeaderTimeout: 200 * time.Millisecond, Logger: discard()})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTT"); err != nil {
		t.Fatal(err)
	}
	// Our own deadline only bounds the test: the server must hang up first.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the stalled client was not cut off")
	}
	cancel()
	if err := wait(t, served, "Serve returning"); err != nil {
		t.Errorf("Serve: %v", err)
	}
}
