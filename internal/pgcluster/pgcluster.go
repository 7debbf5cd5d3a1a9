// Package pgcluster starts a private, throwaway PostgreSQL cluster from the
// installed server binaries, for tests that stop, crash or restart the
// server: the shared server of TEST_DATABASE_URL must never be touched so.
//
//	c := pgcluster.Start(t) // initdb + start; stopped and deleted when t ends
//	pool, _ := pgxpool.New(ctx, c.URL("postgres"))
//	c.Stop(pgcluster.Fast) // or Immediate: a crash, recovered on Start
//	c.Start()
//
// The binaries are found as scripts/pg.sh finds them (pg_config --bindir,
// the newest /usr/lib/postgresql/*/bin, initdb on PATH). When they are
// missing the test fails, it is not skipped: `make test` guarantees them, so
// their absence is a broken setup, not a reason to pass by running nothing.
//
// PostgreSQL refuses to run as root; as root its programs run as the
// postgres user (or tenantctl-pg, the user pg.sh creates) with runuser, and
// the cluster's folder is chowned to that user. Durability settings are
// those of a test run (fsync off) except synchronous_commit, which stays on:
// the tests here check that acknowledged commits survive a crash of the
// server process, which synchronous_commit = off would not promise.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Shutdown modes of pg_ctl stop.
const (
	// Fast disconnects clients, checkpoints and exits: a clean restart.
	Fast = "fast"
	// Immediate kills every process without a checkpoint, as a crash
	// would; the next start runs crash recovery from the WAL.
	Immediate = "immediate"
)

// Cluster is a running (or stopped) private cluster.
type Cluster struct {
	BinDir string
	// Dir holds data/ and the server log; owned by the server's user.
	Dir  string
	Port int

	runAs string // "" unless we are root
	tb    testing.TB
}

// FindBinDir returns the directory of initdb, pg_ctl and postgres.
func FindBinDir() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// The newest major first; a plain sort would put 9 after 15.
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	candidates = append(candidates, dirs...)
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, c := range candidates {
		if c != "" && executable(filepath.Join(c, "initdb")) && executable(filepath.Join(c, "pg_ctl")) && executable(filepath.Join(c, "postgres")) {
			return c, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in pg_config --bindir, " +
		"/usr/lib/postgresql/*/bin or PATH: install them (apt-get install postgresql) or run the tests with `make test`")
}

func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// serverUser picks the unprivileged user to run PostgreSQL as when we are
// root, as scripts/pg.sh does; "" when we are not root.
func serverUser() (string, error) {
	if os.Geteuid() != 0 {
		return "", nil
	}
	for _, name := range []string{"postgres", "tenantctl-pg"} {
		if _, err := user.Lookup(name); err == nil {
			return name, nil
		}
	}
	return "", errors.New("running as root, and neither user postgres nor tenantctl-pg exists to run PostgreSQL " +
		"(it refuses to run as root): run `make test` once (scripts/pg.sh creates tenantctl-pg) or create one")
}

// Start initialises a cluster in a fresh folder and starts it on a free
// loopback port. tb fails if that is impossible; the cluster is stopped
// (immediate) and deleted when tb ends.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := FindBinDir()
	if err != nil {
		tb.Fatalf("pgcluster: %v", err)
	}
	runAs, err := serverUser()
	if err != nil {
		tb.Fatalf("pgcluster: %v", err)
	}
	// Not t.TempDir: its parents are 0700 and root's, so the server's
	// user could not reach it.
	base, err := os.MkdirTemp("", "tenantctl-pgcluster-")
	if err != nil {
		tb.Fatalf("pgcluster: %v", err)
	}
	c := &Cluster{BinDir: bin, Dir: filepath.Join(base, "pg"), runAs: runAs, tb: tb}
	tb.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.Dir, "data", "postmaster.pid")); err == nil {
			_ = c.Stop(Immediate)
		}
		os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		tb.Fatalf("pgcluster: %v", err)
	}
	if err := os.Mkdir(c.Dir, 0o700); err != nil {
		tb.Fatalf("pgcluster: %v", err)
	}
	if runAs != "" {
		if out, err := exec.Command("chown", runAs+":", c.Dir).CombinedOutput(); err != nil {
			tb.Fatalf("pgcluster: chown %s: %v: %s", c.Dir, err, out)
		}
	}
	if out, err := c.run("initdb", "-D", c.data(), "--auth=trust", "--username=postgres",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		tb.Fatalf("pgcluster: initdb: %v\n%s", err, out)
	}
	// Several ports, in case another process takes ours between the probe
	// and the server's bind.
	for range 10 {
		c.Port = freePort(tb)
		conf := strings.Join([]string{
			"", "# pgcluster (test cluster)",
			"port = " + strconv.Itoa(c.Port),
			"listen_addresses = '127.0.0.1'",
			"unix_socket_directories = ''", // TCP only: no socket folder to own
			"max_connections = 60",
			"shared_buffers = 32MB",
			"fsync = off",
			"full_page_writes = off",
			"", // synchronous_commit stays on: see the package comment
		}, "\n")
		if err := appendFile(filepath.Join(c.data(), "postgresql.conf"), conf); err != nil {
			tb.Fatalf("pgcluster: %v", err)
		}
		err := c.Start()
		if err == nil {
			return c
		}
		if !strings.Contains(c.Log(), "could not bind") && !strings.Contains(c.Log(), "could not create any TCP/IP sockets") {
			tb.Fatalf("pgcluster: %v\nserver log:\n%s", err, c.Log())
		}
	}
	tb.Fatalf("pgcluster: no free port to start on\nserver log:\n%s", c.Log())
	return nil
}

func (c *Cluster) data() string    { return filepath.Join(c.Dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.Dir, "log") }

// URL connects to database db as postgres.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5", c.Port, db)
}

// Start starts the (stopped) cluster and waits until it accepts
// connections, crash recovery included.
func (c *Cluster) Start() error {
	out, err := c.run("pg_ctl", "-D", c.data(), "-l", c.logFile(), "-w", "-t", "120", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// Stop stops the cluster in mode (Fast or Immediate) and waits until it is
// down.
func (c *Cluster) Stop(mode string) error {
	out, err := c.run("pg_ctl", "-D", c.data(), "-m", mode, "-w", "-t", "120", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v: %s", mode, err, out)
	}
	return nil
}

// Log returns the server log so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.logFile())
	return string(b)
}

// run runs one of the server's programs, as the server's user when root.
func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	path := filepath.Join(c.BinDir, prog)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// An unreadable working directory (/root/...) trips the programs.
	cmd.Dir = "/"
	// pg_ctl's children inherit its stdout; a pipe would keep Output
	// waiting for the server to exit, so its output goes to a file.
	f, err := os.CreateTemp("", "pgcluster-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

func appendFile(name, text string) error {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pgcluster: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
