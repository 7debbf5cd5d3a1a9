package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newTestServer(t *testing.T) (*Server, *testdb.DB, context.Context) {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	db := testdb.New(t)
	s, err := New(Config{Store: domain.New(db.Pool, db.Tenancy), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, db, ctx
}

// eventually polls cond every 20 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestListenEvicts: a center changed by another process (its own pool, as
// `tenantctl center delete` would) leaves the cache within 2 s, also after
// the listener's connection was killed and re-established.
func TestListenEvicts(t *testing.T) {
	s, db, ctx := newTestServer(t)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.Listen(lctx) }()
	t.Cleanup(func() { stop(); <-done })

	// Another process.
	cfg, _ := pgxpool.ParseConfig(db.URL)
	other, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ost := domain.New(other, db.Tenancy)

	listening := func() bool {
		var n int
		_ = db.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'").Scan(&n)
		return n == 1
	}
	eventually(t, 5*time.Second, "listener connected", listening)
	for round := range 2 {
		c, err := ost.Centers.Create(ctx, domain.System, domain.CenterInput{Name: "Listen " + string(rune('A'+round))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.resolveCenter(ctx, c.ID.String()); err != nil {
			t.Fatal(err)
		}
		if hit, _ := s.centers.lookup(c.ID); !hit {
			t.Fatal("center not cached")
		}
		if _, err := ost.Centers.SoftDelete(ctx, domain.System, c.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "eviction", func() bool { hit, _ := s.centers.lookup(c.ID); return !hit })
		if _, err := s.resolveCenter(ctx, c.ID.String()); err == nil {
			t.Fatal("soft-deleted center resolved")
		}
		if round == 0 {
			// Kill the listener's connection: it must come back.
			if _, err := other.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			eventually(t, 5*time.Second, "listener reconnected", listening)
		}
	}
}

// TestSoftDeleteReachesAPI: through HTTP, a center soft-deleted by another
// process answers 404 for its samples within 2 s.
func TestSoftDeleteReachesAPI(t *testing.T) {
	s, db, ctx := newTestServer(t)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.Listen(lctx) }()
	t.Cleanup(func() { stop(); <-done })
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	c, err := s.st.Centers.Create(ctx, domain.System, domain.CenterInput{Name: "Remote"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.st.Users.Create(ctx, domain.System, domain.UserInput{Username: "op", Email: "op@example.com", IsSuperuser: true})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := s.st.Tokens.Create(ctx, domain.System, u.ID, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/centers/"+c.ID.String()+"/samples/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("before: %d", got)
	}
	cfg, _ := pgxpool.ParseConfig(db.URL)
	other, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := domain.New(other, db.Tenancy).Centers.SoftDelete(ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "404 after remote soft delete", func() bool { return get() == 404 })
}

// TestRecoverPanics: a panicking handler is a 500 problem with an error
// id, and the panic's text stays in the log.
func TestRecoverPanics(t *testing.T) {
	var logs strings.Builder
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	h := s.logRequests(s.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internals")
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || w.Header().Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(w.Body.String(), `"error_id"`) || strings.Contains(w.Body.String(), "secret") {
		t.Errorf("panic answered %d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "secret internals") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}
