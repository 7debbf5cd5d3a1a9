// Package apiserver is the apiserver command: its flags and their
// environment variables, their validation, and the start-up of package
// api's Server over the database, as package cli is the tenantctl
// command. cmd/apiserver only hands it the process.
package apiserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/tenantctl/tenantctl/internal/cmdline"
	"github.com/tenantctl/tenantctl/pkg/admin"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
	"github.com/tenantctl/tenantctl/tenancy"
)

// Exit codes of Main and Run (internal/cmdline's, the same for both commands).
const (
	ExitOK      = cmdline.ExitOK
	ExitFailure = cmdline.ExitFailure
	ExitUsage   = cmdline.ExitUsage
)

// Env is what one run serves with. Main fills it from the process; tests
// build their own.
type Env struct {
	Stdout, Stderr io.Writer // Stderr gets the log
	// Getenv reads the environment. Defaults to os.Getenv.
	Getenv func(string) string
	// Listener, if set, is served instead of a listener on --addr. Run
	// closes it.
	Listener net.Listener
}

// Main runs apiserver with args (without the program name) until ctx ends,
// and returns the process's exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Run(ctx, args, Env{Stdout: stdout, Stderr: stderr})
}

const help = `apiserver serves tenantctl's REST API over its PostgreSQL database:

  /api/auth/token/                   exchange a username and password for a token
  /api/centers/, /api/users/,        the case study's resources and actions
  /api/centers/{center_id}/samples/  (a token is required)
  /api/openapi.json                  the OpenAPI 3.1 document of all of them
  /healthz                           200 while the process serves
  /readyz                            200 while the database answers and is migrated
  /metrics                           Prometheus metrics, without a token (see --metrics)
  /admin/                            the web console: sign in with a username and password

Every path is served with and without its trailing slash. SIGINT or SIGTERM
stops it gracefully: requests in flight finish first. A flag not given is
read from the environment variable its description names, so a container
is configured by its environment alone.

Usage:
  apiserver [flags]              serve
  apiserver healthcheck [flags]  exit 0 if the apiserver on --addr answers
                                 GET /healthz with 200 within 5 s, else 1:
                                 a container's HEALTHCHECK, without curl

Flags:
`

// Run is Main with every outside dependency in env.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Listener != nil {
		defer env.Listener.Close() // for the early returns; Serve closes it too
	}
	usage := func(err error) int {
		fmt.Fprintf(env.Stderr, "apiserver: %v\nRun 'apiserver --help' for usage.\n", err)
		return ExitUsage
	}

	fs := pflag.NewFlagSet("apiserver", pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, in one line
	fs.SortFlags = false
	var cfg Config
	addr := fs.String("addr", "127.0.0.1:8000", "`address` to listen on")
	cmdline.Env(fs, "addr", "TENANTCTL_ADDR")
	databaseURL := cmdline.DatabaseURL(fs)
	fs.DurationVar(&cfg.API.TokenTTL, "token-ttl", 24*time.Hour, "lifetime of tokens issued by POST /api/auth/token/")
	cmdline.Env(fs, "token-ttl", "TENANTCTL_TOKEN_TTL")
	fs.DurationVar(&cfg.API.RequestTimeout, "request-timeout", 30*time.Second, "bound on each request's database work (503 past it)")
	cmdline.Env(fs, "request-timeout", "TENANTCTL_REQUEST_TIMEOUT")
	metrics := fs.Bool("metrics", true, "serve Prometheus metrics, unauthenticated, at GET /metrics")
	cmdline.Env(fs, "metrics", "TENANTCTL_METRICS")
	console := fs.Bool("admin", true, "serve the web console at /admin/")
	cmdline.Env(fs, "admin", "TENANTCTL_ADMIN")
	fs.DurationVar(&cfg.Admin.SessionTTL, "session-ttl", 12*time.Hour, "lifetime of a console session, however busy")
	cmdline.Env(fs, "session-ttl", "TENANTCTL_SESSION_TTL")
	fs.DurationVar(&cfg.Admin.IdleTimeout, "session-idle", time.Hour, "a console session unused this long ends")
	cmdline.Env(fs, "session-idle", "TENANTCTL_SESSION_IDLE")
	fs.BoolVar(&cfg.Admin.SecureCookie, "secure-cookies", false,
		"mark the console's cookies Secure over plain HTTP too (behind a proxy that terminates TLS)")
	cmdline.Env(fs, "secure-cookies", "TENANTCTL_SECURE_COOKIES")
	fs.IntVar(&cfg.PoolSize, "pool-size", 0, "warm pool `SIZE`: center schemas kept migrated and ready for creates (0: off)")
	cmdline.Env(fs, "pool-size", "TENANTCTL_POOL_SIZE")
	showHelp := fs.BoolP("help", "h", false, "print this help and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")

	if err := fs.Parse(args); err != nil {
		return usage(err)
	}
	switch {
	case *showHelp:
		fmt.Fprint(env.Stdout, help+fs.FlagUsages())
		return ExitOK
	case *showVersion:
		fmt.Fprintln(env.Stdout, cmdline.Version("apiserver"))
		return ExitOK
	case fs.NArg() > 1 || fs.NArg() == 1 && fs.Arg(0) != "healthcheck":
		bad := fs.Arg(0)
		if bad == "healthcheck" {
			bad = fs.Arg(1)
		}
		return usage(fmt.Errorf("unexpected argument %q: apiserver takes flags, or healthcheck and flags", bad))
	}
	if err := cmdline.FromEnv(fs, env.Getenv); err != nil {
		return usage(err)
	}
	if fs.NArg() == 1 {
		if err := healthcheck(ctx, *addr, probeTimeout); err != nil {
			fmt.Fprintf(env.Stderr, "apiserver: healthcheck: %v\n", err)
			return ExitFailure
		}
		return ExitOK
	}
	if cfg.API.TokenTTL <= 0 || cfg.API.RequestTimeout <= 0 || cfg.Admin.SessionTTL <= 0 || cfg.Admin.IdleTimeout <= 0 {
		return usage(errors.New("--token-ttl, --request-timeout, --session-ttl and --session-idle must be positive"))
	}
	if cfg.PoolSize < 0 {
		return usage(fmt.Errorf("--pool-size %d is negative (0 turns the warm pool off)", cfg.PoolSize))
	}
	cfg.DisableAdmin = !*console
	cfg.DatabaseURL = *databaseURL
	cfg.API.DisableMetrics = !*metrics
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	cfg.API.Logger = log

	ln := env.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", *addr); err != nil {
			fmt.Fprintf(env.Stderr, "apiserver: %v\n", err)
			return ExitFailure
		}
	}
	if err := Serve(ctx, ln, cfg); err != nil {
		fmt.Fprintf(env.Stderr, "apiserver: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// probeTimeout bounds apiserver healthcheck: less than the 10 s between
// the image's health checks, so that probes never pile up.
const probeTimeout = 5 * time.Second

// healthcheck asks the apiserver listening on addr (--addr's host:port;
// an empty or unspecified host, as in ":8000", is this machine's loopback)
// for GET /healthz, and returns nil if it answers 200 within timeout.
func healthcheck(ctx context.Context, addr string, timeout time.Duration) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err // *url.Error: says GET and the URL itself
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// Config is what Serve serves: the settings of apiserver's flags.
type Config struct {
	// DatabaseURL is the database (db.Open).
	DatabaseURL string
	// API configures the Server. Serve sets its Store, its LoginThrottle
	// if nil, and its Console.
	API api.Config
	// Admin configures the web console. Serve sets its Store, Logger and
	// Throttle (the API's).
	Admin admin.Config
	// DisableAdmin serves no console.
	DisableAdmin bool
	// PoolSize is the warm pool's size (tenancy.Config.PoolSize), kept
	// filled while Serve runs (Manager.KeepPoolFilled); 0 is off.
	PoolSize int
}

// poolRefill is how often a server tops up the warm pool besides after
// each create that took a member.
const poolRefill = time.Minute

// Serve opens the database of cfg and serves the API on ln until ctx ends,
// then shuts down gracefully (api.Serve) and closes the database. It
// closes ln.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	srv, closeAll, err := open(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeAll()
	log := cmp.Or(cfg.API.Logger, slog.Default())
	log.Info("apiserver listening", "addr", ln.Addr().String())
	return api.Serve(ctx, ln, srv.Handler(), api.ServeOptions{Logger: log})
}

// open returns the Server of cfg over a pool of its own, and what closes
// them once it has stopped serving: the warm pool's refill, the console's
// background work, then the pool.
func open(ctx context.Context, cfg Config) (*api.Server, func(), error) {
	pool, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	m, err := db.NewTenancy(pool, tenancy.Config{PoolSize: cfg.PoolSize, Logger: cfg.API.Logger})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	// The refill holds a connection while it works: it must stop before
	// the pool closes, or pool.Close would wait for it.
	refill, stopRefill := context.WithCancel(ctx)
	refilled := make(chan struct{})
	go func() {
		defer close(refilled)
		// Its only error is a non-positive interval; FillPool's are logged.
		_ = m.KeepPoolFilled(refill, poolRefill)
	}()
	closers := []func(){func() { stopRefill(); <-refilled }}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
		pool.Close()
	}
	cfg.API.Store = domain.New(pool, m)
	if cfg.API.LoginThrottle == nil {
		cfg.API.LoginThrottle = throttle.New(throttle.Config{})
	}
	if !cfg.DisableAdmin {
		cfg.Admin.Store, cfg.Admin.Logger, cfg.Admin.Throttle = cfg.API.Store, cfg.API.Logger, cfg.API.LoginThrottle
		console, err := admin.New(cfg.Admin)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		cfg.API.Console = console
		closers = append(closers, console.Close)
	}
	srv, err := api.New(cfg.API)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return srv, closeAll, nil
}
