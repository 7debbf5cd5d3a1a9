package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/apiserver"
)

// TestMain fails the package if Run returns while one of its goroutines
// (the HTTP server, the pool, the LISTEN loop) still runs.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer the server's goroutines may write to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs apiserver with args and environment env to its end (no
// database is reached) and returns its exit code and output.
func run(t *testing.T, args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = apiserver.Run(t.Context(), args, apiserver.Env{Stdout: &out, Stderr: &errs,
		Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errs.String()
}

// TestUsageErrors: a bad command line or environment is exit 2 with one
// line saying what is wrong, and a pointer to --help; nothing is served.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--bogus"}, nil, "unknown flag: --bogus"},
		{[]string{"-addr", "127.0.0.1:0"}, nil, "unknown shorthand flag: 'a' in -addr"},
		{[]string{"--token-ttl", "soon"}, nil, `invalid argument "soon" for "--token-ttl"`},
		{[]string{"--token-ttl", "-1s"}, nil, "--token-ttl, --request-timeout, --session-ttl and --session-idle must be positive"},
		{[]string{"--request-timeout=0s"}, nil, "--token-ttl, --request-timeout, --session-ttl and --session-idle must be positive"},
		{[]string{"--session-idle=0s"}, nil, "--token-ttl, --request-timeout, --session-ttl and --session-idle must be positive"},
		{nil, map[string]string{"TENANTCTL_SESSION_TTL": "-1h"}, "--token-ttl, --request-timeout, --session-ttl and --session-idle must be positive"},
		{[]string{"--pool-size", "-1"}, nil, "--pool-size -1 is negative (0 turns the warm pool off)"},
		{nil, map[string]string{"TENANTCTL_POOL_SIZE": "many"}, "TENANTCTL_POOL_SIZE"},
		{nil, map[string]string{"TENANTCTL_ADMIN": "maybe"}, `invalid TENANTCTL_ADMIN "maybe"`},
		{[]string{"serve"}, nil, `unexpected argument "serve"`},
		{[]string{"healthcheck", "now"}, nil, `unexpected argument "now"`},
		{nil, map[string]string{"TENANTCTL_REQUEST_TIMEOUT": "1 minute"}, `invalid TENANTCTL_REQUEST_TIMEOUT "1 minute"`},
		{nil, map[string]string{"TENANTCTL_METRICS": "perhaps"}, `invalid TENANTCTL_METRICS "perhaps"`},
	} {
		code, stdout, stderr := run(t, tc.args, tc.env)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != apiserver.ExitUsage || stdout != "" || len(lines) != 2 ||
			!strings.HasPrefix(lines[0], "apiserver: ") || !strings.Contains(lines[0], tc.want) ||
			lines[1] != "Run 'apiserver --help' for usage." {
			t.Errorf("%q %v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, tc.env, code, stdout, stderr, tc.want)
		}
	}
}

// TestUsageErrorClosesListener: a listener handed to Run is closed even
// when Run refuses its command line.
func TestUsageErrorClosesListener(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if code := apiserver.Run(t.Context(), []string{"--bogus"}, apiserver.Env{Listener: ln}); code != apiserver.ExitUsage {
		t.Errorf("exit %d, want 2", code)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts connections")
	}
}

// TestHelp: --help says what the server serves and, for every flag, its
// environment variable.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}} {
		code, stdout, stderr := run(t, args, nil)
		if code != apiserver.ExitOK || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
		for _, want := range []string{"/api/centers/", "/api/centers/{center_id}/samples/", "/api/users/",
			"/api/auth/token/", "/api/openapi.json", "/healthz", "/readyz", "/metrics",
			"--addr address               address to listen on; env TENANTCTL_ADDR",
			"env TENANTCTL_DATABASE_URL, then DATABASE_URL",
			"env TENANTCTL_TOKEN_TTL", "env TENANTCTL_REQUEST_TIMEOUT", "env TENANTCTL_METRICS", "--version",
			"/admin/", "env TENANTCTL_ADMIN", "env TENANTCTL_SESSION_TTL", "env TENANTCTL_SESSION_IDLE",
			"env TENANTCTL_SECURE_COOKIES"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%q: no %q in\n%s", args, want, stdout)
			}
		}
	}
}

// TestEveryFlagHasEnv: every flag but --help and --version names its
// environment variable in --help, so that a container is configured by
// environment alone; a flag added without one fails here.
func TestEveryFlagHasEnv(t *testing.T) {
	t.Parallel()
	_, stdout, _ := run(t, []string{"--help"}, nil)
	_, flags, ok := strings.Cut(stdout, "\nFlags:\n")
	if !ok {
		t.Fatalf("no Flags: section in\n%s", stdout)
	}
	var names []string
	for line := range strings.Lines(flags) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		name := fields[0]
		if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") { // "-h, --help"
			name = fields[1]
		}
		names = append(names, name)
		if name == "--help" || name == "--version" {
			continue
		}
		if !strings.Contains(line, "; env TENANTCTL_") {
			t.Errorf("%s names no environment variable: %q", name, line)
		}
	}
	if len(names) < 11 || names[0] != "--addr" || names[len(names)-1] != "--version" {
		t.Errorf("flags %q: the help's flag lines were not all read", names)
	}
}

// TestHealthcheck: apiserver healthcheck exits 0 when GET /healthz on
// --addr (else TENANTCTL_ADDR; an empty or unspecified host is loopback)
// answers 200, and 1 with the reason otherwise.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	serve := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" || r.Method != http.MethodGet {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	healthy, sick := serve(http.StatusOK), serve(http.StatusServiceUnavailable)
	_, healthyPort, _ := net.SplitHostPort(healthy)
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		return ln.Addr().String()
	}()
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{
		{"flag", []string{"healthcheck", "--addr", healthy}, nil, apiserver.ExitOK, ""},
		{"env", []string{"healthcheck"}, map[string]string{"TENANTCTL_ADDR": healthy}, apiserver.ExitOK, ""},
		{"no host", []string{"healthcheck"}, map[string]string{"TENANTCTL_ADDR": ":" + healthyPort}, apiserver.ExitOK, ""},
		{"unspecified host", []string{"healthcheck", "--addr", "0.0.0.0:" + healthyPort}, nil, apiserver.ExitOK, ""},
		{"503", []string{"healthcheck", "--addr", sick}, nil, apiserver.ExitFailure,
			"apiserver: healthcheck: GET http://" + sick + "/healthz: 503 Service Unavailable\n"},
		{"no port", []string{"healthcheck"}, map[string]string{"TENANTCTL_ADDR": "8000"}, apiserver.ExitFailure,
			`apiserver: healthcheck: --addr "8000": address 8000: missing port in address` + "\n"},
		{"nothing listening", []string{"healthcheck", "--addr", closed}, nil, apiserver.ExitFailure,
			`apiserver: healthcheck: Get "http://` + closed + `/healthz": dial tcp ` + closed + ": connect: connection refused\n"},
	} {
		code, stdout, stderr := run(t, tc.args, tc.env)
		if code != tc.code || stdout != "" || stderr != tc.stderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d and stderr %q", tc.name, code, stdout, stderr, tc.code, tc.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, stdout, _ := run(t, []string{"--version"}, nil)
	if code != apiserver.ExitOK || !strings.HasPrefix(stdout, "apiserver ") || !strings.HasSuffix(stdout, runtime.Version()+"\n") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

// TestNoDatabase: without a database URL, or with one that does not
// answer, the server does not start: exit 1 and the reason.
func TestNoDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "apiserver: no database URL: set --database-url, TENANTCTL_DATABASE_URL or DATABASE_URL\n"},
		{map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}, "apiserver: connect to database"},
	} {
		code, _, stderr := run(t, []string{"--addr", "127.0.0.1:0"}, tc.env)
		if code != apiserver.ExitFailure || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.env, code, stderr, tc.want)
		}
	}
}

// TestServe: apiserver serves /healthz on its listener, over the database
// --database-url names (else TENANTCTL_DATABASE_URL, else DATABASE_URL),
// and when its context ends it stops gracefully with exit 0.
func TestServe(t *testing.T) {
	t.Parallel()
	good := testdb.New(t).URL
	const bad = "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flag", []string{"--database-url", good}, map[string]string{"TENANTCTL_DATABASE_URL": bad, "DATABASE_URL": bad}},
		{"TENANTCTL_DATABASE_URL", nil, map[string]string{"TENANTCTL_DATABASE_URL": good, "DATABASE_URL": bad}},
		{"DATABASE_URL", []string{"--metrics=false", "--admin=false"}, map[string]string{"DATABASE_URL": good}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, stop, exited, stderr := serve(t, tc.args, tc.env)
			base := "http://" + ln.Addr().String()
			if got := get(t, base+"/healthz", exited, stderr); got != http.StatusOK {
				t.Errorf("/healthz: %d", got)
			}
			if got := get(t, base+"/readyz", exited, stderr); got != http.StatusOK {
				t.Errorf("/readyz: %d", got)
			}
			if code, _, stderr := run(t, []string{"healthcheck", "--addr", ln.Addr().String()}, nil); code != apiserver.ExitOK {
				t.Errorf("apiserver healthcheck: exit %d, stderr %q", code, stderr)
			}
			// --metrics=false leaves /metrics out (this case also gives
			// --admin=false); the default serves it.
			wantMetrics := http.StatusOK
			if len(tc.args) > 0 && tc.args[0] == "--metrics=false" {
				wantMetrics = http.StatusNotFound
			}
			if got := get(t, base+"/metrics", exited, stderr); got != wantMetrics {
				t.Errorf("/metrics: %d, want %d", got, wantMetrics)
			}
			// So does --admin=false the console (whose /admin/ sends to
			// its sign-in page, which the client follows).
			if got := get(t, base+"/admin/", exited, stderr); got != wantMetrics {
				t.Errorf("/admin/: %d, want %d", got, wantMetrics)
			}
			stop()
			select {
			case code := <-exited:
				if code != apiserver.ExitOK {
					t.Errorf("exit %d after the context ended; stderr:\n%s", code, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("still serving 30 s after the context ended")
			}
			if _, err := http.Get(base + "/healthz"); err == nil {
				t.Error("still answering after Run returned")
			}
			if !strings.Contains(stderr.String(), "apiserver listening") {
				t.Errorf("no start-up line in the log:\n%s", stderr.String())
			}
		})
	}
}

// serve runs apiserver with args and env on a listener of its own until
// stop, which the test's end calls too; exited gets its exit code.
func serve(t *testing.T, args []string, env map[string]string) (ln net.Listener, stop func(), exited <-chan int, stderr *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	t.Cleanup(stop)
	stderr = &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- apiserver.Run(ctx, args, apiserver.Env{Stdout: io.Discard, Stderr: stderr,
			Getenv: func(k string) string { return env[k] }, Listener: ln})
	}()
	return ln, stop, code, stderr
}

// get returns the status of GET url; it fails the test if the server
// exits first.
func get(t *testing.T, url string, exited <-chan int, stderr fmt.Stringer) int {
	t.Helper()
	select {
	case code := <-exited:
		t.Fatalf("exited %d before serving; stderr:\n%s", code, stderr)
	default:
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeKeepsPoolFilled: with --pool-size, the server fills the warm
// pool while it serves, and its refill stops with it (TestMain's goleak).
func TestServeKeepsPoolFilled(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	_, stop, exited, stderr := serve(t, []string{"--admin=false"}, map[string]string{"DATABASE_URL": d.URL, "TENANTCTL_POOL_SIZE": "2"})
	members := 0
	for deadline := time.Now().Add(30 * time.Second); members < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if err := d.Pool.QueryRow(t.Context(), "SELECT count(*) FROM public.tenancy_pool").Scan(&members); err != nil {
			t.Fatal(err)
		}
	}
	if members != 2 {
		t.Errorf("%d pool members 30 s after the server started with --pool-size 2, want 2; stderr:\n%s", members, stderr.String())
	}
	stop()
	if code := <-exited; code != apiserver.ExitOK {
		t.Errorf("exit %d after the context ended; stderr:\n%s", code, stderr.String())
	}
}
