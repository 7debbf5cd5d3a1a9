package pgcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

// TestMain fails the package if starting or stopping a cluster leaves a
// goroutine behind (a child process's waiter or output copier).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A committed row survives both a clean restart and a crash (immediate
// stop), and the server is reachable again after each: what the fault
// tests built on this package rely on.
func TestClusterRestarts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := pgcluster.Start(t)
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatalf("connect: %v\nserver log:\n%s", err, c.Log())
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE TABLE t (n int)")
	for i, mode := range []string{pgcluster.Fast, pgcluster.Immediate} {
		exec("INSERT INTO t VALUES (1)")
		if err := c.Stop(mode); err != nil {
			t.Fatal(err)
		}
		if conn, err := pgx.Connect(ctx, c.URL("postgres")); err == nil {
			conn.Close(ctx)
			t.Fatalf("connected to a stopped cluster (%s)", mode)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			t.Fatalf("after %s restart: %v", mode, err)
		}
		var n int
		err = conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
		conn.Close(ctx)
		if err != nil || n != i+1 {
			t.Fatalf("after %s restart: %d rows (%v), want %d", mode, n, err, i+1)
		}
	}
}
