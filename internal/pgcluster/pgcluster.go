// Package pgcluster is tenantctl's one way to get a PostgreSQL server:
// it finds the installed server binaries, runs initdb, picks a free port
// and starts private clusters (Open, and Start for tests), and Resolve
// gives a command a database the way `make` needs one (its doc gives the
// order it tries). The command pgenv (cmd/pgenv) is the Makefile's face
// of it.
//
// Tests that stop, crash or restart a server use Start, never the shared
// server of TEST_DATABASE_URL:
//
//	c := pgcluster.Start(t) // initdb + start; stopped and deleted when t ends
//	pool, _ := pgxpool.New(ctx, c.URL("postgres"))
//	c.Stop(pgcluster.Immediate) // a crash, recovered by the next Start
//	c.Start()
//
// When the binaries are missing Start fails the test, it does not skip it:
// their absence is a broken setup, not a reason to pass by running
// nothing.
//
// PostgreSQL refuses to run as root; as root its programs run as the
// postgres user, or as the system user tenantctl-pg, created when neither
// exists (see ServerAccount).
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Shutdown modes of Stop (pg_ctl stop -m).
const (
	// Fast disconnects clients, checkpoints and exits: a clean restart.
	Fast = "fast"
	// Immediate kills every process without a checkpoint, as a crash
	// would; the next start runs crash recovery from the WAL.
	Immediate = "immediate"
)

// portTries is how many free ports a start tries: the probe and the
// bind are not atomic, another process may take the port in between.
const portTries = 20

// Options describe a cluster for Open.
type Options struct {
	// BinDir holds initdb, pg_ctl and postgres; "" means FindBinDir().
	BinDir string
	// Dir is the cluster's folder (data/, log, port); "" means a fresh
	// temporary one. A folder initialised earlier is reused.
	Dir string
	// Durable keeps fsync, synchronous_commit and full_page_writes on,
	// PostgreSQL's defaults, as in production: for the demo's data and
	// for benchmarks. Otherwise all three are off: data that dies with
	// the test run needs none of them.
	Durable bool
	// Settings are extra postgresql.conf lines, applied last, e.g.
	// "shared_preload_libraries = 'pg_stat_statements'".
	Settings []string
	// Log receives progress messages; nil discards them.
	Log func(msg string)
}

// Cluster is a private cluster, running or stopped.
type Cluster struct {
	// BinDir holds the server binaries the cluster runs.
	BinDir string
	// Dir holds data/, the server log and the last port; owned by the
	// server's user.
	Dir string
	// Port is the TCP port on 127.0.0.1 the server listens on, or last
	// listened on when stopped.
	Port int
	// Started is false when Open found the cluster already running (a
	// demo cluster left up by `pgenv env demo`): its owner stops it.
	Started bool

	acct    Account
	opts    Options
	tempDir string // removed by Remove: Dir's parent when Open made it
}

func newCluster(bin string, acct Account, dir string, o Options) *Cluster {
	return &Cluster{BinDir: bin, Dir: dir, acct: acct, opts: o}
}

// FindBinDir returns the directory of initdb, pg_ctl and postgres, looking
// in dirs, or when dirs is empty in pg_config --bindir, the newest
// /usr/lib/postgresql/*/bin and the directory of initdb on PATH.
func FindBinDir(dirs ...string) (string, error) {
	candidates := dirs
	if len(dirs) == 0 {
		// pg_config alone (libpq-dev) can point at a folder without a
		// server, hence the check of every candidate below.
		if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
			candidates = append(candidates, strings.TrimSpace(string(out)))
		}
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		// The newest major first; a plain sort would put 9 after 15.
		slices.SortFunc(found, func(a, b string) int { return majorOf(b) - majorOf(a) })
		candidates = append(candidates, found...)
		if p, err := exec.LookPath("initdb"); err == nil {
			candidates = append(candidates, filepath.Dir(p))
		}
	}
	for _, c := range candidates {
		if c != "" && executable(filepath.Join(c, "initdb")) && executable(filepath.Join(c, "pg_ctl")) && executable(filepath.Join(c, "postgres")) {
			return c, nil
		}
	}
	where := "pg_config --bindir, /usr/lib/postgresql/*/bin or PATH"
	if len(dirs) > 0 {
		where = strings.Join(dirs, ", ")
	}
	return "", fmt.Errorf("%w (initdb, pg_ctl, postgres) in %s: install PostgreSQL (apt-get install postgresql)", errNoBinaries, where)
}

// errNoBinaries is FindBinDir's failure, for which Resolve says what to
// set instead.
var errNoBinaries = errors.New("no PostgreSQL server binaries")

func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Account is the user PostgreSQL's programs (and PgBouncer, which refuses
// root too) run as.
type Account struct {
	// Name is "" when we are not root: the programs run as ourselves.
	Name string
	cred *syscall.Credential
}

// ServerAccount returns the account to run the server as: ourselves, or
// when we are root the postgres user, else the system user tenantctl-pg,
// created with useradd if need be. It is worked out once per process:
// clusters started in parallel would otherwise race to create the user.
var ServerAccount = sync.OnceValues(serverAccount)

func serverAccount() (Account, error) {
	if os.Geteuid() != 0 {
		return Account{}, nil
	}
	name := "postgres"
	u, err := user.Lookup(name)
	if err != nil {
		name = "tenantctl-pg"
		if u, err = user.Lookup(name); err != nil {
			out, addErr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
				"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
			// Another process (a second test run) may have created it
			// meanwhile: then useradd fails, and the user is there.
			if u, err = user.Lookup(name); err != nil {
				return Account{}, fmt.Errorf("create system user %s to run PostgreSQL (it refuses to run as root): %w: %s; run as a non-root user or set the database URL", name, errors.Join(addErr, err), bytes.TrimSpace(out))
			}
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return Account{Name: name, cred: cred}, nil
}

// Command is exec.CommandContext running as a, from / so that an
// unreadable working directory (/root/...) cannot trip the program.
func (a Account) Command(ctx context.Context, path string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = "/"
	if a.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.cred}
	}
	return cmd
}

// Chown gives paths to a (a no-op when we are not root).
func (a Account) Chown(paths ...string) error {
	if a.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(a.cred.Uid), int(a.cred.Gid)); err != nil {
			return fmt.Errorf("chown %s to %s: %w", p, a.Name, err)
		}
	}
	return nil
}

// startMu serialises starts within this process: parallel starts could
// otherwise be handed the same free port, and all but one fail to bind.
// Other processes are handled by moving on to another port.
var startMu sync.Mutex

// Open initialises (unless Dir already holds a cluster) and starts a
// cluster, on the port of the folder's previous start if it is free, else
// on one the kernel picks; a cluster found running is used as it is.
// Remove or Stop it when done.
func Open(ctx context.Context, o Options) (*Cluster, error) {
	bin := o.BinDir
	if bin == "" {
		var err error
		if bin, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	acct, err := ServerAccount()
	if err != nil {
		return nil, err
	}
	c := newCluster(bin, acct, o.Dir, o)
	if c.Dir == "" {
		// Not t.TempDir-like 0700 parents: the server's user must reach it.
		if c.tempDir, err = os.MkdirTemp("", "tenantctl-pg-"); err != nil {
			return nil, fmt.Errorf("cluster folder: %w", err)
		}
		c.Dir = filepath.Join(c.tempDir, "pg")
		if err := os.Chmod(c.tempDir, 0o755); err != nil {
			c.Remove()
			return nil, fmt.Errorf("cluster folder: %w", err)
		}
	}
	if err := c.open(ctx); err != nil {
		if c.tempDir != "" {
			c.Remove()
		}
		return nil, err
	}
	return c, nil
}

// open does Open's work on a cluster whose folder is chosen.
func (c *Cluster) open(ctx context.Context) error {
	if err := c.init(ctx); err != nil {
		return err
	}
	if c.running(ctx) {
		pid, _ := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
		// Line 4 of postmaster.pid is the port.
		if lines := strings.Split(string(pid), "\n"); len(lines) > 3 {
			c.Port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
		}
		if c.Port == 0 {
			return fmt.Errorf("the cluster in %s runs, but its postmaster.pid names no port", c.Dir)
		}
		c.logf("the cluster in %s is already running", c.Dir)
		return nil
	}
	if err := c.startOnFreePort(ctx); err != nil {
		return err
	}
	c.Started = true
	return nil
}

func (c *Cluster) data() string    { return filepath.Join(c.Dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.Dir, "log") }

func (c *Cluster) logf(format string, args ...any) {
	if c.opts.Log != nil {
		c.opts.Log(fmt.Sprintf(format, args...))
	}
}

// init runs initdb unless the folder holds a cluster already, which must
// then be of the binaries' major version (a data folder only opens with
// the major that wrote it).
func (c *Cluster) init(ctx context.Context) error {
	marker := filepath.Join(c.Dir, "initialized")
	if _, err := os.Stat(marker); err == nil {
		have, err := os.ReadFile(filepath.Join(c.data(), "PG_VERSION"))
		if err != nil {
			return fmt.Errorf("cluster in %s: %w", c.Dir, err)
		}
		ver, err := c.major(ctx)
		if err != nil {
			return err
		}
		if h := strings.TrimSpace(string(have)); h != ver {
			return fmt.Errorf("%s was made by PostgreSQL %s but %s is %s: remove it (make clean) to start over", c.Dir, h, c.BinDir, ver)
		}
		return nil
	}
	// No marker: a fresh folder, or an initdb cut short by Ctrl-C, started
	// over.
	if err := os.RemoveAll(c.data()); err != nil {
		return fmt.Errorf("cluster folder: %w", err)
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("cluster folder: %w", err)
	}
	if err := os.Chmod(c.Dir, 0o700); err != nil {
		return fmt.Errorf("cluster folder: %w", err)
	}
	if err := c.acct.Chown(c.Dir); err != nil {
		return err
	}
	c.logf("initdb %s", c.data())
	args := []string{"-D", c.data(), "--auth=trust", "--username=postgres", "-E", "UTF8", "--locale=C"}
	if !c.opts.Durable {
		args = append(args, "--no-sync")
	}
	if out, err := c.run(ctx, "initdb", args...); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", c.data(), err, Tail(out, 20))
	}
	// Settings that change from start to start (the port) are written to
	// an included file on every start rather than passed with pg_ctl -o,
	// which goes through /bin/sh and breaks on paths with spaces. The
	// include is resolved relative to postgresql.conf.
	conf := filepath.Join(c.data(), "postgresql.conf")
	b, err := os.ReadFile(conf)
	if err == nil {
		err = os.WriteFile(conf, append(b, "include_if_exists = 'tenantctl.conf'\n"...), 0o600)
	}
	if err != nil {
		return fmt.Errorf("include tenantctl.conf: %w", err)
	}
	// Written last: an initdb cut short leaves no marker.
	return os.WriteFile(marker, nil, 0o644)
}

var (
	versionRe = regexp.MustCompile(`[0-9]+`)
	// socketDirRe matches the folders that are safe in
	// unix_socket_directories' quoted value.
	socketDirRe = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)
)

// major returns the major version of the cluster's binaries ("15").
func (c *Cluster) major(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(c.BinDir, "postgres"), "-V").Output()
	if err != nil {
		return "", fmt.Errorf("postgres -V: %w", err)
	}
	m := versionRe.Find(out)
	if m == nil {
		return "", fmt.Errorf("postgres -V: no version in %q", out)
	}
	return string(m), nil
}

func (c *Cluster) running(ctx context.Context) bool {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err != nil {
		return false
	}
	_, err := c.run(ctx, "pg_ctl", "-D", c.data(), "status")
	return err == nil
}

// writeConf writes the settings of the next start.
func (c *Cluster) writeConf(port int) error {
	// The socket beside the cluster: we never need /var/run/postgresql
	// (root's, or absent). A socket path is limited to ~107 bytes and the
	// value is quoted; in an unsuitable folder TCP alone will do.
	sockDir := c.Dir
	if len(sockDir) > 90 || !socketDirRe.MatchString(sockDir) {
		sockDir = ""
	}
	lines := []string{
		"# Written by internal/pgcluster on every start; edits are lost.",
		"port = " + strconv.Itoa(port),
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + sockDir + "'",
		// Go tests run packages in parallel, each with its own pool.
		"max_connections = 200",
	}
	if c.opts.Durable {
		lines = append(lines, "fsync = on", "synchronous_commit = on", "full_page_writes = on")
	} else {
		lines = append(lines, "fsync = off", "synchronous_commit = off", "full_page_writes = off")
	}
	lines = append(lines, c.opts.Settings...)
	name := filepath.Join(c.data(), "tenantctl.conf")
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return c.acct.Chown(name)
}

// startOnFreePort starts the cluster on the port of its previous start if
// that is free (a DATABASE_URL printed by `pgenv env demo` earlier stays
// right), else on a free one the kernel picks. The probe and the bind
// are not atomic (another process may take the port in between), so a
// failure to bind moves on to another port.
func (c *Cluster) startOnFreePort(ctx context.Context) error {
	startMu.Lock()
	defer startMu.Unlock()
	portFile := filepath.Join(c.Dir, "port")
	b, _ := os.ReadFile(portFile)
	last, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for range portTries {
		port := last
		if last = 0; port == 0 || PortInUse(port) {
			var err error
			if port, err = FreePort(); err != nil {
				return err
			}
		}
		if err := c.writeConf(port); err != nil {
			return err
		}
		off := len(c.Log())
		c.Port = port
		err := c.start(ctx)
		if err == nil {
			return os.WriteFile(portFile, []byte(strconv.Itoa(port)+"\n"), 0o644)
		}
		log := c.Log()
		log = log[min(off, len(log)):]
		if strings.Contains(log, "could not bind") || strings.Contains(log, "could not create any TCP/IP sockets") {
			continue
		}
		return fmt.Errorf("start PostgreSQL in %s: %w\nlast lines of %s:\n%s", c.Dir, err, c.logFile(), Tail([]byte(log), 20))
	}
	return fmt.Errorf("start PostgreSQL in %s: %d free ports on 127.0.0.1 were taken before it could bind them", c.Dir, portTries)
}

// FreePort returns a TCP port on 127.0.0.1 that the kernel found free; it
// may be taken again before the caller binds it.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// URL connects to database db as postgres, giving up after 5 s on a
// server that does not answer (a test's cluster may be down on purpose).
func (c *Cluster) URL(db string) string {
	return LocalURL(c.Port, db) + "&connect_timeout=5"
}

// LocalURL connects to database db as postgres on 127.0.0.1:port.
func LocalURL(port int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, url.PathEscape(db))
}

// Start starts the stopped cluster on its port and waits until it accepts
// connections, crash recovery included.
func (c *Cluster) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return c.start(ctx)
}

func (c *Cluster) start(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-l", c.logFile(), "-w", "-t", "120", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Stop stops the cluster in mode (Fast or Immediate) and waits until it is
// down.
func (c *Cluster) Stop(mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w: %s", mode, err, bytes.TrimSpace(out))
	}
	return nil
}

// Remove stops the cluster (immediate: its data is about to go) if it
// runs, and deletes its folder. After a failed stop the folder goes
// anyway: a postmaster whose data folder disappears notices on its next
// lock-file check and shuts itself down.
func (c *Cluster) Remove() error {
	var errs []error
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		c.logf("stopping the cluster in %s", c.Dir)
		errs = append(errs, c.Stop(Immediate))
	}
	dir := c.Dir
	if c.tempDir != "" {
		dir = c.tempDir
	}
	errs = append(errs, os.RemoveAll(dir))
	return errors.Join(errs...)
}

// Log returns the server log so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.logFile())
	return string(b)
}

// run runs one of the server's programs as the server's account.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := c.acct.Command(ctx, filepath.Join(c.BinDir, prog), args...)
	// pg_ctl's children inherit its stdout; a pipe would keep us waiting
	// for the server to exit, so the output goes to a file.
	f, err := os.CreateTemp("", "pgcluster-out-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prog, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

// PortInUse reports whether something accepts TCP connections on
// 127.0.0.1:port; a closed port on loopback answers at once.
func PortInUse(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// WithDatabase returns connection string base with its database replaced
// by name, for URLs and key=value DSNs alike.
func WithDatabase(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("parse connection string: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return base + " dbname=" + name, nil
}

// Tail returns the last n lines of out, for an error message.
func Tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
