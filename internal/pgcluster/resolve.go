package pgcluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Mode says what a resolved database is for.
type Mode string

const (
	// Test: TEST_DATABASE_URL, a throwaway database (a private cluster:
	// a throwaway cluster too).
	Test Mode = "test"
	// Demo: DATABASE_URL, the persistent database tenantctl_demo (a
	// private cluster: reused under .pg/demo).
	Demo Mode = "demo"
)

// SystemPort is the port of the shared server on 127.0.0.1 that Resolve
// tries second.
const SystemPort = 5432

// demoDB is the demo's database, wherever it lives.
const demoDB = "tenantctl_demo"

// ResolveOptions say how Resolve looks for a server.
type ResolveOptions struct {
	Mode Mode
	// Root is the checkout, whose git-ignored .pg/ holds private clusters.
	Root string
	// Getenv reads the caller's environment (for a URL already set); nil
	// means os.Getenv.
	Getenv func(string) string
	// SystemPort is the shared server's port on 127.0.0.1; 0 means
	// SystemPort.
	SystemPort int
	// NoSystem skips the shared server, as if nothing listened there.
	NoSystem bool
	// BinDirs are where to look for the server binaries; empty means
	// FindBinDir's default places.
	BinDirs []string
	// NoInstall never runs apt-get, even as root.
	NoInstall bool
	// Clusters is how many servers a test run gets (at least 1): the
	// first as above, each further one a private cluster of its own,
	// exported as TEST_DATABASE_URL_2 … TEST_DATABASE_URL_<n>. Only the
	// test mode reads it: the demo has one database.
	Clusters int
	// KeepRunning leaves a demo cluster we start running after Close
	// (`pgenv env demo`).
	KeepRunning bool
	// Log receives progress messages; nil discards them.
	Log func(msg string)
}

// Resolved is what Resolve found or made.
type Resolved struct {
	// Env holds the NAME=value pairs to give the command: TEST_DATABASE_URL
	// (and TEST_DATABASE_URL_2 …) or DATABASE_URL.
	Env []string
	// URL is the first database's connection string.
	URL string
	// Cluster is the private cluster of URL, if it is one.
	Cluster *Cluster

	o    *ResolveOptions
	site *site
	undo []func()
}

// Close undoes what Resolve did, last first: drops the throwaway databases
// (with their children, see Resolve), stops and deletes the throwaway
// clusters, and stops a demo cluster it started unless KeepRunning. It
// gives every step a fresh context: it runs after an interrupt, and it
// must not leave half of the state behind.
func (r *Resolved) Close() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
	r.undo = nil
}

func (o *ResolveOptions) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}

// Resolve finds or makes a database for o.Mode, trying in order:
//
//  1. the URL the caller set (TEST_DATABASE_URL, else DATABASE_URL; for the
//     demo DATABASE_URL): they know best, nothing is touched;
//  2. a server on 127.0.0.1:5432 that user postgres enters without a
//     password: a test gets a uniquely named database, dropped by Close
//     together with every database named after it plus "_" (the test
//     packages' own, which a killed test leaks); the demo tenantctl_demo;
//  3. a private cluster started from the installed binaries under
//     Root/.pg (a fresh one per test run, deleted by Close; the demo's
//     reused, on the same port as last time);
//  4. as root with apt-get: install postgresql, then 3;
//  5. an error of one line saying what to set.
//
// On error nothing is left behind.
func Resolve(ctx context.Context, o ResolveOptions) (_ *Resolved, err error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.SystemPort == 0 {
		o.SystemPort = SystemPort
	}
	r := &Resolved{o: &o}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	name := "DATABASE_URL"
	if o.Mode == Test {
		name = "TEST_DATABASE_URL"
	}
	switch {
	case o.Getenv(name) != "":
		r.URL = o.Getenv(name)
		o.logf("using %s as set", name)
	case o.Mode == Test && o.Getenv("DATABASE_URL") != "":
		r.URL = o.Getenv("DATABASE_URL")
		o.logf("TEST_DATABASE_URL not set; using DATABASE_URL as set")
	default:
		ok, err := r.systemServer(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			dir, db := "demo", demoDB
			if o.Mode == Test {
				dir, db = "test-"+strconv.Itoa(os.Getpid()), "tenantctl_test"
			}
			r.Cluster, r.URL, err = r.privateDB(ctx, dir, db)
			if errors.Is(err, errNoBinaries) {
				err = fmt.Errorf("no PostgreSQL found: set %s=postgres://USER@HOST:PORT/DB or install PostgreSQL (apt-get install postgresql)", name)
			}
			if err != nil {
				return nil, err
			}
			o.logf("using a private cluster in %s: %s", r.Cluster.Dir, r.URL)
		}
	}
	r.Env = append(r.Env, name+"="+r.URL)
	for i := 2; o.Mode == Test && i <= o.Clusters; i++ {
		name := "TEST_DATABASE_URL_" + strconv.Itoa(i)
		if u := o.Getenv(name); u != "" {
			o.logf("using %s as set", name)
			r.Env = append(r.Env, name+"="+u)
			continue
		}
		c, u, err := r.privateDB(ctx, "test-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(i), "tenantctl_test")
		if err != nil {
			return nil, fmt.Errorf("%s needs a private cluster: %w", name, err)
		}
		o.logf("%s: a private cluster in %s: %s", name, c.Dir, u)
		r.Env = append(r.Env, name+"="+u)
	}
	return r, nil
}

// privateDB opens the private cluster dir and makes database db in it.
func (r *Resolved) privateDB(ctx context.Context, dir, db string) (*Cluster, string, error) {
	c, err := r.ownCluster(ctx, dir)
	if err != nil {
		return nil, "", err
	}
	u, err := r.createDB(ctx, c.Port, db, false)
	return c, u, err
}

// systemServer uses the shared server if it answers and lets postgres in
// without a password.
func (r *Resolved) systemServer(ctx context.Context) (bool, error) {
	o := r.o
	if o.NoSystem {
		return false, nil
	}
	port := o.SystemPort
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if !PortInUse(port) {
		return false, nil
	}
	// Something may answer that will not let us in as postgres without a
	// password; then a private cluster is the better bet than failing.
	if err := ping(ctx, LocalURL(port, "postgres")); err != nil {
		o.logf("a server answers on %s but user postgres cannot log in without a password; not using it (%v)", addr, err)
		return false, nil
	}
	db := demoDB
	if o.Mode == Test {
		// pid + random: concurrent runs (and several checkouts) share
		// this server, and a name must never be reused while its owner
		// still runs.
		db = fmt.Sprintf("tenantctl_test_%d_%s", os.Getpid(), strings.ToLower(rand.Text()[:8]))
	}
	u, err := r.createDB(ctx, port, db, o.Mode == Test)
	if err != nil {
		return false, err
	}
	r.URL = u
	o.logf("using the server on %s: %s", addr, u)
	return true, nil
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// createDB creates database db on 127.0.0.1:port unless it exists, and
// returns its URL. drop: Close drops it, with its children.
func (r *Resolved) createDB(ctx context.Context, port int, db string, drop bool) (string, error) {
	admin := LocalURL(port, "postgres")
	if drop {
		// Before the CREATE: an interrupt during it still drops it.
		r.undo = append(r.undo, func() { dropDatabases(r.o, admin, db) })
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("create database %s on 127.0.0.1:%d: %w", db, port, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return "", fmt.Errorf("create database %s on 127.0.0.1:%d: %w", db, port, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
			return "", fmt.Errorf("create database %s on 127.0.0.1:%d: %w", db, port, err)
		}
	}
	return LocalURL(port, db), nil
}

// dropDatabases drops db and every database whose name is db + "_" + …:
// test packages derive theirs so (internal/testdb), and a killed test
// process leaks them. left() rather than LIKE, because "_" is a LIKE
// wildcard and would match too much. Children sort after the parent, so
// the descending order drops them first.
func dropDatabases(o *ResolveOptions, adminURL, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.logf("dropping database %s (and %s_*)", db, db)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		o.logf("warning: could not drop %s: %v", db, err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE datname = $1 OR left(datname, length($1) + 1) = $1 || '_' ORDER BY datname DESC`, db)
	var names []string
	if err == nil {
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	for _, name := range names {
		if err == nil {
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
	}
	if err != nil {
		o.logf("warning: could not drop %s: %v", db, err)
	}
}

// site is what the private clusters of one checkout share: the server
// binaries, the account they run as and the folder they live in.
type site struct {
	bin  string
	acct Account
	base string
	log  func(string)
}

func newSite(root, bin string, log func(string)) (*site, error) {
	acct, err := ServerAccount()
	if err != nil {
		return nil, err
	}
	base, err := Base(root, acct)
	if err != nil {
		return nil, err
	}
	return &site{bin: bin, acct: acct, base: base, log: log}, nil
}

// cluster is the cluster in the site's folder name.
func (s *site) cluster(name string, o Options) *Cluster {
	o.Log = s.log
	return newCluster(s.bin, s.acct, filepath.Join(s.base, name), o)
}

// setup finds the server binaries (installing them as root unless
// NoInstall) and the site, once per Resolve; test runs first sweep the
// clusters of dead runs.
func (r *Resolved) setup(ctx context.Context) (*site, error) {
	if r.site != nil {
		return r.site, nil
	}
	find := func() (string, error) { return FindBinDir(r.o.BinDirs...) }
	var bin string
	var err error
	if r.o.NoInstall {
		bin, err = find()
	} else {
		bin, err = FindOrInstall(ctx, "postgresql", find, r.o.Log)
	}
	if err != nil {
		return nil, err
	}
	if r.site, err = newSite(r.o.Root, bin, r.o.Log); err != nil {
		return nil, err
	}
	if r.o.Mode == Test {
		r.site.sweepStale()
	}
	return r.site, nil
}

// ownCluster opens the private cluster dir of the site: a throwaway one
// for the tests (removed by Close), the demo's otherwise (stopped by
// Close if we started it, unless KeepRunning).
func (r *Resolved) ownCluster(ctx context.Context, dir string) (*Cluster, error) {
	s, err := r.setup(ctx)
	if err != nil {
		return nil, err
	}
	test := r.o.Mode == Test
	c := s.cluster(dir, Options{Durable: !test})
	if test {
		// Before open: an interrupt in the middle still removes it.
		r.undo = append(r.undo, func() { removeCluster(c) })
	}
	if err := c.open(ctx); err != nil {
		return nil, err
	}
	if !test && c.Started && !r.o.KeepRunning {
		r.undo = append(r.undo, func() {
			c.logf("stopping the cluster in %s", c.Dir)
			if err := c.Stop(Fast); err != nil {
				c.logf("warning: %v (see %s)", err, c.logFile())
			}
		})
	}
	return c, nil
}

func removeCluster(c *Cluster) {
	if err := c.Remove(); err != nil {
		c.logf("warning: %v", err)
	}
}

// Base returns the folder of the private clusters of checkout root:
// root/.pg (git-ignored, found again by the next demo run), or, when the
// server's account cannot even traverse root (root's checkout under
// /root), a folder of that checkout's own in /var/tmp/tenantctl-pg.
func Base(root string, acct Account) (string, error) {
	base := filepath.Join(root, ".pg")
	// The server must reach its data folder: every folder on the way
	// searchable.
	if acct.Name != "" && acct.Command(context.Background(), "test", "-x", root).Run() != nil {
		base = filepath.Join("/var/tmp/tenantctl-pg", fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(root))))
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("cluster folder: %w", err)
	}
	if acct.Name != "" {
		// The server's account traverses it even under a umask of 077.
		for _, d := range []string{filepath.Dir(base), base} {
			if d == root {
				continue
			}
			if err := os.Chmod(d, 0o755); err != nil {
				return "", fmt.Errorf("cluster folder: %w", err)
			}
		}
	}
	return base, nil
}

var staleRe = regexp.MustCompile(`^test-([0-9]+)(-[0-9]+)?$`)

// sweepStale removes the test clusters of runs that died without cleaning
// up (SIGKILL, a power loss): their folders, and possibly postmasters,
// would otherwise stay forever.
func (s *site) sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(s.base, "test-*"))
	for _, d := range dirs {
		m := staleRe.FindStringSubmatch(filepath.Base(d))
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // its run is alive
		}
		c := s.cluster(filepath.Base(d), Options{})
		c.logf("removing stale test cluster %s", d)
		removeCluster(c)
	}
}

// FindOrInstall returns what find finds; when it finds nothing and we are
// root with apt-get, it installs the Debian package pkg first (apt-get's
// output on stderr: stdout belongs to the command we run) and asks find
// again. log (nil: none) hears of the install. Installs are serialised
// across processes: test binaries of several packages run at once, and a
// second apt-get would fail on the lock the first one holds.
func FindOrInstall(ctx context.Context, pkg string, find func() (string, error), log func(msg string)) (string, error) {
	found, err := find()
	if _, noApt := exec.LookPath("apt-get"); err == nil || noApt != nil || os.Geteuid() != 0 {
		return found, err
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "tenantctl-apt.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("install lock: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("install lock: %w", err)
	}
	// The process we waited for may have installed it.
	if found, err := find(); err == nil {
		return found, nil
	}
	if log != nil {
		log(pkg + " not found; installing it with apt-get")
	}
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", pkg}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("apt-get %s %s: %w", args[0], pkg, err)
		}
	}
	return find()
}

// StopDemo stops the demo cluster of checkout root left running by
// `pgenv env demo`; running reports whether there was one.
func StopDemo(root string, log func(string)) (running bool, err error) {
	bin, err := FindBinDir()
	if err != nil {
		return false, err
	}
	s, err := newSite(root, bin, log)
	if err != nil {
		return false, err
	}
	c := s.cluster("demo", Options{})
	if !c.running(context.Background()) {
		return false, nil
	}
	c.logf("stopping the cluster in %s", c.Dir)
	return true, c.Stop(Fast)
}
