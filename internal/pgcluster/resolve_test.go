package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

// noEnv is a caller's environment without any database URL.
func noEnv(string) string { return "" }

// query runs sql on url and returns the first column of every row.
func query(t *testing.T, url, sql string, args ...any) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return vals
}

func resolve(t *testing.T, o pgcluster.ResolveOptions) *pgcluster.Resolved {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	o.Log = func(msg string) { t.Log(msg) }
	r, err := pgcluster.Resolve(ctx, o)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return r
}

// A URL the caller set is used as it is, before anything else is tried.
func TestResolveGivenURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode pgcluster.Mode
		env  map[string]string
		want string
	}{
		{pgcluster.Test, map[string]string{"TEST_DATABASE_URL": "postgres://a/t", "DATABASE_URL": "postgres://a/d"}, "TEST_DATABASE_URL=postgres://a/t"},
		{pgcluster.Test, map[string]string{"DATABASE_URL": "postgres://a/d"}, "TEST_DATABASE_URL=postgres://a/d"},
		{pgcluster.Demo, map[string]string{"TEST_DATABASE_URL": "postgres://a/t", "DATABASE_URL": "postgres://a/d"}, "DATABASE_URL=postgres://a/d"},
	} {
		r := resolve(t, pgcluster.ResolveOptions{Mode: tc.mode, Root: t.TempDir(), BinDirs: []string{t.TempDir()},
			Getenv: func(k string) string { return tc.env[k] }})
		r.Close()
		if !slices.Equal(r.Env, []string{tc.want}) || r.Cluster != nil {
			t.Errorf("%s with %v: Env %q, cluster %v; want [%s] and no cluster", tc.mode, tc.env, r.Env, r.Cluster, tc.want)
		}
	}
}

// A server that postgres enters without a password (the shared one on
// 5432, played here by a private cluster) gets a test a uniquely named
// database; Close drops it and every database named after it plus "_",
// and nothing else. The demo gets tenantctl_demo, which stays.
func TestResolveSystemServer(t *testing.T) {
	t.Parallel()
	c := pgcluster.Start(t)
	o := pgcluster.ResolveOptions{Mode: pgcluster.Test, Root: t.TempDir(), SystemPort: c.Port, Getenv: noEnv, BinDirs: []string{t.TempDir()}}
	r := resolve(t, o)
	if r.Cluster != nil {
		t.Fatalf("started a cluster of its own in %s", r.Cluster.Dir)
	}
	db := query(t, r.URL, "SELECT current_database()")[0]
	if !strings.HasPrefix(db, "tenantctl_test_") || r.URL != pgcluster.LocalURL(c.Port, db) {
		t.Fatalf("database %s at %s, want tenantctl_test_* on port %d", db, r.URL, c.Port)
	}
	admin := c.URL("postgres")
	for _, name := range []string{db + "_child", db + "x"} {
		query(t, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	}
	r.Close()
	left := query(t, admin, "SELECT datname FROM pg_database WHERE datname LIKE 'tenantctl%' ORDER BY 1")
	if !slices.Equal(left, []string{db + "x"}) {
		t.Errorf("databases after Close: %q, want only %s (not a child: no _)", left, db+"x")
	}

	o.Mode = pgcluster.Demo
	r = resolve(t, o)
	r.Close()
	if want := pgcluster.LocalURL(c.Port, "tenantctl_demo"); r.URL != want {
		t.Errorf("demo URL %s, want %s", r.URL, want)
	}
	if got := query(t, admin, "SELECT datname FROM pg_database WHERE datname = 'tenantctl_demo'"); len(got) != 1 {
		t.Errorf("tenantctl_demo gone after Close")
	}
}

// Without a URL or a shared server, a test run gets a private cluster of
// its own with production durability off, and further ones with
// Clusters; Close stops and deletes them all.
func TestResolvePrivateClusters(t *testing.T) {
	t.Parallel()
	r := resolve(t, pgcluster.ResolveOptions{Mode: pgcluster.Test, Root: t.TempDir(), NoSystem: true, Getenv: noEnv, Clusters: 2})
	defer r.Close()
	if r.Cluster == nil || len(r.Env) != 2 || !strings.HasPrefix(r.Env[1], "TEST_DATABASE_URL_2=") {
		t.Fatalf("cluster %v, Env %q: want a private cluster and TEST_DATABASE_URL, TEST_DATABASE_URL_2", r.Cluster, r.Env)
	}
	second := strings.TrimPrefix(r.Env[1], "TEST_DATABASE_URL_2=")
	var ids []string
	for _, u := range []string{r.URL, second} {
		got := query(t, u, "SELECT current_database() || ' ' || current_setting('fsync') || ' ' || current_setting('synchronous_commit') || ' ' || system_identifier FROM pg_control_system()")
		f := strings.Fields(got[0])
		if f[0] != "tenantctl_test" || f[1] != "off" || f[2] != "off" {
			t.Errorf("%s: database, fsync, synchronous_commit = %q, want tenantctl_test off off", u, f[:3])
		}
		ids = append(ids, f[3])
	}
	if ids[0] == ids[1] {
		t.Errorf("TEST_DATABASE_URL and TEST_DATABASE_URL_2 are the same cluster (%s)", ids[0])
	}
	// Base's folder outside Root (root's fallback in /var/tmp) goes too.
	t.Cleanup(func() { os.Remove(filepath.Dir(r.Cluster.Dir)) })
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(r.Cluster.Dir), "test-*"))
	if len(dirs) != 2 {
		t.Errorf("cluster folders %q, want 2", dirs)
	}
	r.Close()
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there after Close (%v)", d, err)
		}
	}
	for _, u := range []string{r.URL, second} {
		cfg, _ := pgx.ParseConfig(u)
		if pgcluster.PortInUse(int(cfg.Port)) {
			t.Errorf("port %d still answers after Close", cfg.Port)
		}
	}
}

// The demo's private cluster is durable and reused: the same folder and
// port the next time, whether it was left running or stopped.
func TestResolveDemoCluster(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	o := pgcluster.ResolveOptions{Mode: pgcluster.Demo, Root: root, NoSystem: true, Getenv: noEnv, KeepRunning: true}
	first := resolve(t, o)
	first.Close()
	t.Cleanup(func() {
		if _, err := pgcluster.StopDemo(root, nil); err != nil {
			t.Error(err)
		}
		os.RemoveAll(filepath.Dir(first.Cluster.Dir))
	})
	if got := query(t, first.URL, "SELECT current_setting('fsync') || current_database()"); got[0] != "ontenantctl_demo" {
		t.Errorf("demo database: fsync and name %q, want on, tenantctl_demo", got[0])
	}
	o.KeepRunning = false
	again := resolve(t, o)
	again.Close()
	if again.URL != first.URL || again.Cluster.Started {
		t.Errorf("second run: %s (started: %v), want the running %s", again.URL, again.Cluster.Started, first.URL)
	}
	if running, err := pgcluster.StopDemo(root, nil); !running || err != nil {
		t.Fatalf("StopDemo: running %v, %v; want it running and stopped", running, err)
	}
	third := resolve(t, o)
	third.Close()
	if third.URL != first.URL || !third.Cluster.Started {
		t.Errorf("after a stop: %s (started: %v), want %s started again", third.URL, third.Cluster.Started, first.URL)
	}
	if pgcluster.PortInUse(third.Cluster.Port) {
		t.Errorf("the demo cluster still runs after Close without KeepRunning")
	}
}

// When nothing works the error is one line saying what to set.
func TestResolveNothing(t *testing.T) {
	t.Parallel()
	for mode, name := range map[pgcluster.Mode]string{pgcluster.Test: "TEST_DATABASE_URL", pgcluster.Demo: "DATABASE_URL"} {
		_, err := pgcluster.Resolve(t.Context(), pgcluster.ResolveOptions{Mode: mode, Root: t.TempDir(), NoSystem: true,
			NoInstall: true, Getenv: noEnv, BinDirs: []string{t.TempDir()}})
		want := "no PostgreSQL found: set " + name + "=postgres://USER@HOST:PORT/DB or install PostgreSQL (apt-get install postgresql)"
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", mode, err, want)
		}
	}
}

// StartN starts clusters that are distinct servers, and removes them when
// the test ends.
func TestStartN(t *testing.T) {
	t.Parallel()
	var cs []*pgcluster.Cluster
	t.Run("start", func(t *testing.T) {
		cs = pgcluster.StartN(t, 3)
		seen := map[string]bool{}
		for _, c := range cs {
			seen[query(t, c.URL("postgres"), "SELECT system_identifier::text FROM pg_control_system()")[0]] = true
		}
		if len(seen) != 3 {
			t.Errorf("3 clusters, %d distinct system identifiers", len(seen))
		}
	})
	for _, c := range cs {
		if _, err := os.Stat(c.Dir); !os.IsNotExist(err) || pgcluster.PortInUse(c.Port) {
			t.Errorf("cluster on port %d in %s left behind after its test (%v)", c.Port, c.Dir, err)
		}
	}
}
