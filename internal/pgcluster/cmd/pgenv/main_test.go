package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

// TestMain fails the package if pgenv returns while a goroutine of its
// own (a cluster's or PgBouncer's process waiter) still runs.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// `pgenv --no-system --clusters 2 test -- CMD` runs CMD with the URLs of two
// private clusters and of PgBouncer in front of the first, all usable
// while CMD runs; it exits with CMD's status, and leaves nothing running
// or on disk.
func TestRunPrivate(t *testing.T) {
	for _, name := range []string{"TEST_DATABASE_URL", "DATABASE_URL", "TEST_PGBOUNCER_URL", "TEST_DATABASE_URL_2"} {
		t.Setenv(name, "")
	}
	dir := t.TempDir()
	envFile, done := filepath.Join(dir, "env"), filepath.Join(dir, "done")
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--no-system", "--clusters", "2", "test", "--", "sh", "-c",
			`env > "$1.tmp" && mv "$1.tmp" "$1"; while [ ! -e "$2" ]; do sleep 0.1; done; exit 3`, "sh", envFile, done})
	}()
	env := map[string]string{}
	for deadline := time.Now().Add(3 * time.Minute); len(env) == 0; {
		if b, err := os.ReadFile(envFile); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "TEST_") {
					env[k] = v
				}
			}
		}
		select {
		case c := <-code:
			t.Fatalf("pgenv exited %d before CMD ran", c)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("CMD did not run within 3 minutes")
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var ports []int
	for _, name := range []string{"TEST_DATABASE_URL", "TEST_DATABASE_URL_2", "TEST_PGBOUNCER_URL"} {
		conn, err := pgx.Connect(ctx, env[name])
		if err != nil {
			t.Fatalf("%s=%q: %v", name, env[name], err)
		}
		var port int
		err = conn.QueryRow(ctx, "SELECT inet_server_port()").Scan(&port)
		conn.Close(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ports = append(ports, port)
	}
	if ports[0] == ports[1] || ports[2] != ports[0] {
		t.Errorf("servers of TEST_DATABASE_URL, _2 and TEST_PGBOUNCER_URL on ports %v: want two clusters, PgBouncer in front of the first", ports)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 3 {
		t.Errorf("pgenv exited %d, want CMD's 3", c)
	}
	root, err := checkout()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := pgcluster.ServerAccount()
	if err != nil {
		t.Fatal(err)
	}
	base, err := pgcluster.Base(root, acct)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(base, "test-"+strconv.Itoa(os.Getpid())+"*")); len(left) > 0 {
		t.Errorf("cluster folders left behind: %q", left)
	}
	for _, p := range ports {
		if pgcluster.PortInUse(p) {
			t.Errorf("port %d still answers", p)
		}
	}
}
