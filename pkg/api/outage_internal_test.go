package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// tcpProxy forwards 127.0.0.1:<random port> to a target, and can cut every
// connection and refuse new ones (accepting and closing them at once, as a
// server going away does) until restored: an outage of the database as
// the API sees it, without touching the PostgreSQL others share.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *tcpProxy) port() uint16 { return uint16(p.ln.Addr().(*net.TCPAddr).Port) }

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed by Cleanup
		}
		if !p.track(c) {
			continue
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// track registers c, or closes it if the proxy is down.
func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) forward(c net.Conn) {
	defer p.untrack(c)
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(u) {
		return
	}
	defer p.untrack(u)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done // either side ending ends both (the deferred closes unblock the other copy)
}

func (p *tcpProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.Close()
	delete(p.conns, c)
}

// cut closes every connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// TestDatabaseOutage: with the database cut off, requests needing it
// answer 503 problems promptly (a client timeout fails the test on a hang),
// /readyz is 503 and /healthz 200; once it is back the same requests
// succeed without restarting anything: the pool reconnects, and a center
// soft-deleted meanwhile by another process is refused at once.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	tdb := testdb.New(t)

	cfg, err := pgxpool.ParseConfig(tdb.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = "127.0.0.1", proxy.port(), nil
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := serverOn(t, pool)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)

	// The fixtures go straight to the database, as another process would.
	direct := domain.New(tdb.Pool, tdb.Tenancy)
	c, err := direct.Centers.Create(ctx, domain.System, domain.CenterInput{Name: "Outage"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := direct.Users.Create(ctx, domain.System, domain.UserInput{Username: "op", Email: "op@example.com", IsSuperuser: true})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := direct.Tokens.Create(ctx, domain.System, u.ID, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// A hang is a failure: every request has 10 s.
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, res.Header.Get("Content-Type")
	}
	paths := []string{"/api/centers/", "/api/centers/" + c.ID.String() + "/samples/", "/readyz"}
	for _, p := range append(paths, "/healthz") {
		if code, _ := get(p); code != 200 {
			t.Fatalf("before the outage: GET %s: %d", p, code)
		}
	}
	proxy.cut()
	// Twice each: the first request may meet a pooled connection the cut
	// broke, the second needs a new one, which is refused.
	for range 2 {
		for _, p := range paths {
			if code, ct := get(p); code != http.StatusServiceUnavailable || ct != "application/problem+json" {
				t.Errorf("during the outage: GET %s: %d %s", p, code, ct)
			}
		}
		if code, _ := get("/healthz"); code != 200 {
			t.Errorf("during the outage: /healthz %d", code)
		}
	}

	proxy.restore()
	for _, p := range paths {
		eventually(t, 10*time.Second, "GET "+p+" after the outage", func() bool { code, _ := get(p); return code == 200 })
	}

	// Nothing about the center was kept from before the outage.
	if _, err := direct.Centers.SoftDelete(ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(paths[1]); code != http.StatusNotFound {
		t.Errorf("a center soft-deleted after the outage: GET %s: %d, want 404", paths[1], code)
	}
}
