package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

// PoolSize is the server connections per (database, user) of the PgBouncer
// Start runs: smaller than the client count of the tests that go through
// it (32 goroutines, pools of 8 and more), so that server connections are
// shared between clients, the situation in which a session setting could
// leak.
const PoolSize = 3

// Server is a PgBouncer of ours, in transaction pooling mode.
type Server struct {
	// URL is the database Start was given, through PgBouncer (with
	// default_query_exec_mode=exec: see PoolConfig).
	URL string
	// Port is PgBouncer's TCP port on 127.0.0.1.
	Port int
	// Dir holds its config, pid and log; Stop removes it.
	Dir string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Start runs a PgBouncer on a free port in front of the server of dbURL,
// forwarding every database name, each (database, user) with a pool of
// PoolSize server connections. It is required by the
// tests, not optional: they prove that tenants stay apart behind
// transaction pooling, and a run that quietly left it out would prove
// nothing. Missing, it is installed with apt-get as root. Stop it when
// done. log receives progress messages (nil: none).
func Start(ctx context.Context, dbURL string, log func(string)) (*Server, error) {
	if log == nil {
		log = func(string) {}
	}
	// Whether the package also starts a pgbouncer of its own on 6432
	// depends on the image (policy-rc.d); ours runs from its own config
	// either way.
	bin, err := pgcluster.FindOrInstall(ctx, "pgbouncer", findBinary, log)
	if err != nil {
		return nil, err
	}
	acct, err := pgcluster.ServerAccount()
	if err != nil {
		return nil, err
	}
	host, port, db, user, pass, err := target(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tenantctl-pgbouncer.")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer folder: %w", err)
	}
	s := &Server{Dir: dir}
	// Client side: trust, as the servers we use do. PgBouncer still wants
	// the user in auth_file, and logs in to the server with its password.
	userlist := filepath.Join(dir, "userlist.txt")
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	err = os.WriteFile(userlist, []byte(quote(user)+" "+quote(pass)+"\n"), 0o600)
	if err == nil {
		// As root it runs as the server's account, which must write its
		// pid and log here.
		err = acct.Chown(dir, userlist)
	}
	// A port may be taken between FreePort and PgBouncer's bind: then
	// another one.
	for tries := 20; err == nil && tries > 0; tries-- {
		var p int
		if p, err = pgcluster.FreePort(); err != nil {
			break
		}
		var bound bool
		if bound, err = s.run(acct, bin, p, fmt.Sprintf("host=%s port=%d", host, port), user); err == nil {
			s.Port = p
			s.URL = fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&default_query_exec_mode=exec", user, p, db)
			ver, _ := exec.Command(bin, "--version").Output()
			log(fmt.Sprintf("%s on 127.0.0.1:%d (transaction pooling, %d server connections per database) in front of %s:%d",
				strings.SplitN(string(ver), "\n", 2)[0], p, PoolSize, host, port))
			return s, nil
		}
		if bound {
			err = nil
		}
	}
	if err == nil {
		err = errors.New("start pgbouncer: 20 free ports on 127.0.0.1 were taken before it could bind them")
	}
	s.Stop()
	return nil, err
}

// findBinary looks where Debian installs PgBouncer (/usr/sbin, which an
// ordinary user's PATH often lacks); PGBOUNCER may name another binary.
func findBinary() (string, error) {
	onPath, _ := exec.LookPath("pgbouncer")
	for _, c := range []string{os.Getenv("PGBOUNCER"), onPath, "/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"} {
		if fi, err := os.Stat(c); c != "" && err == nil && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", errors.New("pgbouncer is required by the tests (" + EnvURL + ") but not installed: apt-get install pgbouncer (or set PGBOUNCER=/path/to/pgbouncer, or " + EnvURL + ")")
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// target asks the server of dbURL where PgBouncer must connect, so that a
// URL in any syntax works alike. Over a Unix socket there is no server
// address: its folder stands in.
func target(ctx context.Context, dbURL string) (host string, port int, db, user, pass string, err error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return "", 0, "", "", "", fmt.Errorf("pgbouncer: parse the database URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		// Give up on a server that is half up rather than hang CI.
		cfg.ConnectTimeout = 10 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", 0, "", "", "", fmt.Errorf("pgbouncer: ask the test database where it listens: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `SELECT coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
		coalesce(inet_server_port(), current_setting('port')::int), current_database(), current_user`).Scan(&host, &port, &db, &user)
	if err != nil {
		return "", 0, "", "", "", fmt.Errorf("pgbouncer: ask the test database where it listens: %w", err)
	}
	if !plainName.MatchString(db) || !plainName.MatchString(user) {
		return "", 0, "", "", "", fmt.Errorf("pgbouncer: database %s / user %s: unusual names are not supported behind PgBouncer here; set %s", db, user, EnvURL)
	}
	// The URL's password, or PGPASSWORD's (pgx reads both); ours and the
	// shared server trust, so it is normally empty.
	return host, port, db, user, cfg.Password, nil
}

// run writes the config for port and runs PgBouncer in the background
// (not -d: its early death stays ours to see), until it accepts
// connections. bound reports a failure to bind the port, for the caller to
// try the next.
func (s *Server) run(acct pgcluster.Account, bin string, port int, server, user string) (bound bool, err error) {
	ini := filepath.Join(s.Dir, "pgbouncer.ini")
	logFile := filepath.Join(s.Dir, "pgbouncer.log")
	conf := fmt.Sprintf(`; Written by internal/pgbouncer for one test run; removed at its end.
[databases]
; Tests make databases of their own (internal/testdb): every name is
; forwarded, each (database, user) getting a pool of its own.
* = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
; No Unix socket: nothing of ours uses it, and /var/run/postgresql may
; be someone else's.
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
; pgx sends no extra_float_digits, but other drivers (lib/pq, psql
; tools) do. search_path is deliberately NOT ignored: a client asking
; for a session search_path at startup would silently not get it on
; the server connections it is handed, so it must fail instead.
ignore_startup_parameters = extra_float_digits
; A database made by a test may not exist yet, or be dropped while
; its pool lingers: retry logins quickly instead of after 15 s.
server_login_retry = 1
; Unused databases' pools go away, so dropped test databases do not
; keep pools around for the whole run.
autodb_idle_timeout = 60
logfile = %s
pidfile = %s
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
; The tests read SHOW SERVERS on the admin console ("pgbouncer"
; database) to know every server connection they must find clean.
admin_users = %s
`, server, port, filepath.Join(s.Dir, "userlist.txt"), PoolSize, logFile, filepath.Join(s.Dir, "pgbouncer.pid"), user)
	if err := os.WriteFile(ini, []byte(conf), 0o600); err != nil {
		return false, fmt.Errorf("pgbouncer config: %w", err)
	}
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		return false, fmt.Errorf("pgbouncer log: %w", err)
	}
	if err := acct.Chown(ini, logFile); err != nil {
		return false, err
	}
	s.cmd = acct.Command(context.Background(), bin, "-q", ini)
	// A process group of its own: the terminal's Ctrl-C goes to the
	// tests, and PgBouncer must outlive them until Stop.
	if s.cmd.SysProcAttr == nil {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	s.cmd.SysProcAttr.Setpgid = true
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return false, fmt.Errorf("start pgbouncer: %w", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait() // its log says why
		close(done)
	}(s.cmd, s.done)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-s.done:
			s.cmd = nil
			text, _ := os.ReadFile(logFile)
			if strings.Contains(string(text), "Address already in use") || strings.Contains(string(text), "bind") {
				return true, errors.New("port taken")
			}
			return false, fmt.Errorf("PgBouncer did not start (config in %s); last lines of its log:\n%s", s.Dir, pgcluster.Tail(text, 20))
		case <-time.After(50 * time.Millisecond):
		}
		if pgcluster.PortInUse(port) {
			return false, nil
		}
	}
	return false, errors.New("PgBouncer did not accept connections within 10 s")
}

// Stop ends PgBouncer and removes its folder. SIGTERM is PgBouncer 1.18's
// immediate shutdown (SIGINT would wait for clients, and the tests are
// over).
func (s *Server) Stop() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		s.cmd = nil
	}
	os.RemoveAll(s.Dir)
}
