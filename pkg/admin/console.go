package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
)

// Config configures a Console. Store is required.
type Config struct {
	// Store is the domain the console works over.
	Store *domain.Store
	// Logger receives errors the pages could not show. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Throttle limits failed sign-ins. Give it the API's, so that a guess
	// counts the same on both faces. Defaults to a throttle of its own.
	Throttle *throttle.Login
	// SessionTTL is how long a session lasts however busy it is. Defaults
	// to 12 hours.
	SessionTTL time.Duration
	// IdleTimeout ends a session unused that long. Defaults to 1 hour.
	IdleTimeout time.Duration
	// SecureCookie marks the session cookie Secure even when a request
	// arrives over plain HTTP: set it behind a proxy that terminates TLS.
	// Requests served over TLS get a Secure cookie anyway.
	SecureCookie bool
	// NodesMaxAge is how old the fleet page's nodes and their sizes may
	// be before a page asks for them again, in the background: the page
	// shows them with the time they were measured. Defaults to 30 seconds.
	NodesMaxAge time.Duration
}

// Console is the web console's handler. Mount it at /admin/.
type Console struct {
	st      *domain.Store
	log     *slog.Logger
	th      *throttle.Login
	ttl     time.Duration
	idle    time.Duration
	secure  bool
	pages   *pages
	mux     *http.ServeMux
	handler http.Handler
	fleet   fleetRuns // the fleet migrations this process ran (fleet.go)
	// nodeSizes is the fleet page's last measurement of the nodes
	// (nodes.go); its measurements run on fleet's lifetime.
	nodeSizes nodesCache
}

// New returns a Console with every page registered.
func New(cfg Config) (*Console, error) {
	if cfg.Store == nil {
		return nil, errors.New("admin: Config.Store is required")
	}
	if cfg.SessionTTL < 0 || cfg.IdleTimeout < 0 || cfg.NodesMaxAge < 0 {
		return nil, errors.New("admin: Config durations must not be negative")
	}
	p, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	c := &Console{
		st:     cfg.Store,
		log:    cmp.Or(cfg.Logger, slog.Default()),
		th:     cfg.Throttle,
		ttl:    cmp.Or(cfg.SessionTTL, 12*time.Hour),
		idle:   cmp.Or(cfg.IdleTimeout, time.Hour),
		secure: cfg.SecureCookie,
		pages:  p,
		mux:    http.NewServeMux(),
	}
	c.nodeSizes.maxAge = cmp.Or(cfg.NodesMaxAge, defaultNodesMaxAge)
	if c.th == nil {
		c.th = throttle.New(throttle.Config{})
	}
	c.fleet.ctx, c.fleet.stop = context.WithCancel(context.Background())
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, nil, errForbidden("This form was sent from another site, so it was refused. Open the page here and send it again."))
	}))
	c.handler = securityHeaders(cop.Handler(c.mux))
	return c, nil
}

// Close stops what the console runs in the background, a fleet migration
// started from its fleet page, and waits for it: the tenant being migrated
// rolls back, the rest are skipped, and a rerun resumes them. Call it
// after the server has stopped and before the Store's pool closes, which
// would otherwise wait for the migration's connections.
func (c *Console) Close() {
	c.fleet.stop()
	c.fleet.wg.Wait()
}

// ServeHTTP serves the console's pages, every path under /admin/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// routes registers every page. Patterns end in {$} so that a page does not
// answer for a whole subtree; the mux redirects a page's path without its
// trailing slash to the one with it (307), as the API serves both.
func (c *Console) routes() {
	c.mux.HandleFunc("GET /admin/static/{file}", c.static)
	c.mux.HandleFunc("GET /admin/login/{$}", c.loginForm)
	c.mux.HandleFunc("POST /admin/login/{$}", c.login)
	c.handle("POST /admin/logout/{$}", c.logout)
	c.handle("GET /admin/{$}", c.dashboard)
	c.centerRoutes()
	c.userRoutes()
	c.sampleRoutes()
	c.fleetRoutes()
	c.mux.HandleFunc("/admin/", c.unknown)
}

// unknown answers a path no page has: a 404 for the signed-in and a
// sign-in for the others, so that no page's existence is told to a
// stranger.
func (c *Console) unknown(w http.ResponseWriter, r *http.Request) {
	c.signedIn(func(w http.ResponseWriter, r *http.Request, v *visit) error {
		return domain.ErrNotFound
	}).ServeHTTP(w, r)
}

// handle registers a page that needs a session.
func (c *Console) handle(pattern string, h handler) { c.mux.Handle(pattern, c.signedIn(h)) }

// securityHeaders sets what every response of the console carries. The
// policy allows no script and no inline style: the pages need neither.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
