package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	root := checkoutDir(t)
	t.Chdir(root)
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
	if left, _ := filepath.Glob(filepath.Join(clusterBase(t, root), "test-"+strconv.Itoa(os.Getpid())+"*")); len(left) > 0 {
		t.Errorf("cluster folders left behind: %q", left)
	}
	for _, p := range ports {
		if pgcluster.PortInUse(p) {
			t.Errorf("port %d still answers", p)
		}
	}
}

// checkoutDir returns a checkout of the test's own (a folder with a
// go.mod), so that pgenv's clusters stay out of the real one's .pg.
func checkoutDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/pgenvtest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// clusterBase returns the folder of the private clusters of checkout
// root, removed when the test ends (it may lie outside root, see Base).
func clusterBase(t *testing.T, root string) string {
	t.Helper()
	acct, err := pgcluster.ServerAccount()
	if err != nil {
		t.Fatal(err)
	}
	base, err := pgcluster.Base(root, acct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(base) })
	return base
}

// SIGTERM to pgenv ends every process of CMD, not only CMD itself (here
// sh, whose child sleep would otherwise be orphaned), before the database
// goes; pgenv then exits 143, as a shell would, and leaves no database or
// cluster behind.
func TestSignalEndsCMD(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pgenv")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := checkoutDir(t)
	envFile, pidFile := filepath.Join(dir, "env"), filepath.Join(dir, "pid")
	cmd := exec.Command(bin, "test", "--", "sh", "-c",
		`sleep 60 & echo $! > "$2"; env > "$1.tmp" && mv "$1.tmp" "$1"; wait`, "sh", envFile, pidFile)
	cmd.Dir, cmd.Stderr = root, os.Stderr
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "TEST_DATABASE_URL" && k != "DATABASE_URL" && k != "TEST_PGBOUNCER_URL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var env []byte
	for deadline := time.Now().Add(3 * time.Minute); env == nil; {
		env, _ = os.ReadFile(envFile)
		select {
		case err := <-exited:
			t.Fatalf("pgenv exited before CMD ran: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("CMD did not run within 3 minutes")
		}
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	sleepPid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	var dbURL string
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "TEST_DATABASE_URL="); ok {
			dbURL = v
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	select {
	case err := <-exited:
		if !errors.As(err, &exit) || exit.ExitCode() != 143 {
			t.Errorf("pgenv after SIGTERM: %v, want exit status 143", err)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("pgenv still runs 2 minutes after SIGTERM")
	}
	if err := syscall.Kill(sleepPid, 0); !errors.Is(err, syscall.ESRCH) {
		syscall.Kill(sleepPid, syscall.SIGKILL)
		t.Errorf("CMD's child sleep (pid %d) outlived pgenv (kill -0: %v)", sleepPid, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dbURL); err == nil {
		conn.Close(ctx)
		t.Errorf("TEST_DATABASE_URL=%q still usable after pgenv ended", dbURL)
	}
	if left, _ := filepath.Glob(filepath.Join(clusterBase(t, root), "test-*")); len(left) > 0 {
		t.Errorf("cluster folders left behind: %q", left)
	}
}

// --clusters > 1 is for test runs only: the demo has one database.
func TestClustersOnlyForTests(t *testing.T) {
	for _, args := range [][]string{{"--clusters", "2", "demo", "--", "true"}, {"--clusters", "2", "env", "demo"}} {
		if code := run(args); code != 2 {
			t.Errorf("pgenv %q exited %d, want 2 (usage)", args, code)
		}
	}
}
