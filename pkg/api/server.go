package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
	"github.com/tenantctl/tenantctl/tenancy/tenancyhttp"
)

// Config configures a Server. Store is required.
type Config struct {
	// Store is the domain (domain.New with pkg/db.NewTenancy's manager).
	// Its pool is also what /readyz and the pool metrics read. Required.
	Store *domain.Store
	// Logger receives request logs and errors. Defaults to slog.Default().
	Logger *slog.Logger
	// TokenTTL is the lifetime of tokens issued by POST /api/auth/token/.
	// Defaults to 24 hours.
	TokenTTL time.Duration
	// RequestTimeout bounds each request's database work: past it the
	// request's context ends and the client gets a 503. Defaults to 30 s.
	RequestTimeout time.Duration
	// LoginThrottle limits failed logins per username and per client
	// address. nil: throttle.New(throttle.Config{}). Pass the same one to
	// the admin console so that both faces share one count.
	LoginThrottle *throttle.Login
	// Console, if set, is served at /admin/ (the web console, pkg/admin)
	// behind the same request log, metrics, panic recovery and timeout as
	// the API. Give it the same LoginThrottle.
	Console http.Handler
	// DisableMetrics leaves out GET /metrics. It is served without
	// authentication (Prometheus scrapers rarely carry API tokens), so a
	// deployment that cannot keep it from the public should disable it.
	DisableMetrics bool
}

// Server is the HTTP API over the domain. Serve its Handler (with Serve).
type Server struct {
	st       *domain.Store
	log      *slog.Logger
	tokenTTL time.Duration
	timeout  time.Duration
	metrics  *metrics
	login    *throttle.Login
	routes   []route
	openapi  []byte // the OpenAPI document, encoded once
	mux      *http.ServeMux
	handler  http.Handler
}

// Route is one endpoint: a method and a path pattern as the design writes
// it, trailing slash included (it is served without the slash too).
type Route struct{ Method, Path string }

// route is an entry of the route table, the one list from which both the
// mux and the OpenAPI document are built, so the two cannot drift apart.
type route struct {
	method, path string
	access       access
	// cached: every Store call of h runs the principal's guard
	// (domain.WithPrincipal), so the token's principal may come from the
	// cache (authenticate). Member routes always are.
	cached bool
	h      handlerFunc
	op     op // its OpenAPI description
}

// access is what a route requires of the caller.
type access int

const (
	anon   access = iota // nothing
	authed               // a valid token
	member               // a valid token, and {center_id} a center id (tenant middleware), which the Store checks
)

// New returns a Server with every route registered.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is required")
	}
	if cfg.TokenTTL < 0 || cfg.RequestTimeout < 0 {
		return nil, errors.New("api: Config durations must not be negative")
	}
	s := &Server{
		st:       cfg.Store,
		log:      cmp.Or(cfg.Logger, slog.Default()),
		tokenTTL: cmp.Or(cfg.TokenTTL, 24*time.Hour),
		timeout:  cmp.Or(cfg.RequestTimeout, 30*time.Second),
		metrics:  newMetrics(cfg.Store.Pool()),
		login:    cfg.LoginThrottle,
	}
	if s.login == nil {
		s.login = throttle.New(throttle.Config{})
	}
	s.routes = s.routeTable(!cfg.DisableMetrics)
	s.mux = http.NewServeMux()
	tenant := tenancyhttp.Middleware(tenancyhttp.Config{
		Key:     tenancyhttp.PathValue("center_id"),
		Resolve: resolveCenter,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) { s.writeError(w, r, err) },
	})
	for _, rt := range s.routes {
		s.handle(s.mux, rt, tenant)
	}
	if cfg.Console != nil {
		// One route name for the whole console keeps the metrics' labels
		// bounded; the console logs nothing of its own.
		s.mux.Handle("/admin/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), r.Method, "/admin/")
			cfg.Console.ServeHTTP(w, r)
		}))
	}
	doc, err := json.Marshal(s.openAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("api: OpenAPI document: %w", err)
	}
	s.openapi = doc
	// Every middleware, in one place, outermost first.
	s.handler = s.logRequests(s.recoverPanics(s.withTimeout(s.problemMux(s.mux))))
	return s, nil
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes returns the route table: every endpoint the handler serves, each
// once (with its trailing slash).
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, rt := range s.routes {
		out[i] = Route{rt.method, rt.path}
	}
	return out
}

// routeTable lists every route, with what its OpenAPI operation needs:
// request and response schemas (names in schemas(), see openapi.go),
// success status (200 unless set) and query parameters.
func (s *Server) routeTable(withMetrics bool) []route {
	const (
		center  = "/api/centers/{id}/"
		user    = "/api/users/{id}/"
		samples = "/api/centers/{center_id}/samples/"
		sample  = samples + "{id}/"
	)
	rs := []route{
		{"GET", "/healthz", anon, false, s.healthz, op{sum: "Liveness: 200 while the process serves", out: "Status"}},
		{"GET", "/readyz", anon, false, s.readyz, op{sum: "Readiness: the database answers and is migrated", out: "Status"}},
		{"GET", "/api/openapi.json", anon, false, s.openAPI, op{sum: "This OpenAPI document", out: "OpenAPI"}},
		{"POST", "/api/auth/token/", anon, false, s.obtainToken, op{sum: "Exchange a username and password for a token", in: "TokenRequest", out: "Token"}},

		{"GET", "/api/centers/", authed, true, s.listCenters, op{sum: "List centers", out: "CenterPage", q: qPage | qInactive}},
		{"POST", "/api/centers/", authed, false, s.createCenter, op{sum: "Create a center and its schema", in: "CenterWrite", out: "Center", code: 201}},
		{"GET", center, authed, true, s.getCenter, op{sum: "Get a center", out: "Center"}},
		{"PUT", center, authed, false, s.updateCenter(false), op{sum: "Update a center", in: "CenterWrite", out: "Center"}},
		{"PATCH", center, authed, false, s.updateCenter(true), op{sum: "Update some fields of a center", in: "CenterPatch", out: "Center"}},
		{"DELETE", center, authed, false, s.deleteCenter, op{sum: "Soft-delete a center", code: 204}},
		{"POST", center + "restore/", authed, false, s.restoreCenter, op{sum: "Restore a soft-deleted center", out: "Center"}},
		{"DELETE", center + "hard_delete/", authed, false, s.hardDeleteCenter, op{sum: "Drop a soft-deleted center and its schema", code: 204}},
		{"POST", center + "clone/", authed, false, s.cloneCenter, op{sum: "Create a center whose schema is a copy of this one's", in: "CenterClone", out: "Center", code: 201}},
		{"GET", center + "stats/", authed, true, s.centerStats, op{sum: "A center's statistics", out: "Stats"}},
		{"GET", "/api/cluster/", authed, false, s.cluster, op{sum: "The servers holding the centers' schemas, with the centers on each (superusers)", out: "Cluster", forbids: true}},

		{"GET", "/api/users/", authed, true, s.listUsers, op{sum: "List users", out: "UserPage", q: qPage | qInactive}},
		{"POST", "/api/users/", authed, false, s.createUser, op{sum: "Create a user", in: "UserCreate", out: "User", code: 201}},
		{"GET", user, authed, true, s.getUser, op{sum: "Get a user", out: "User"}},
		{"PUT", user, authed, true, s.updateUser(false), op{sum: "Update a user's profile", in: "UserUpdate", out: "User"}},
		{"PATCH", user, authed, true, s.updateUser(true), op{sum: "Update some fields of a user's profile", in: "UserPatch", out: "User"}},
		{"DELETE", user, authed, true, s.deleteUser, op{sum: "Soft-delete a user", code: 204}},
		{"POST", user + "change_center/", authed, true, s.changeCenter, op{sum: "Move a user to another center", in: "ChangeCenter", out: "User"}},
		{"POST", user + "change_role/", authed, true, s.changeRole, op{sum: "Change a user's role", in: "ChangeRole", out: "User"}},
		{"GET", "/api/users/by_center/{center_id}/", authed, true, s.usersByCenter, op{sum: "List a center's users", out: "UserPage", q: qPage | qInactive}},

		{"GET", samples, member, true, s.listSamples, op{sum: "List a center's samples", out: "SamplePage", q: qPage | qInactive | qSamples}},
		{"POST", samples, member, true, s.createSample, op{sum: "Create a sample", in: "SampleWrite", out: "Sample", code: 201}},
		{"GET", sample, member, true, s.getSample, op{sum: "Get a sample", out: "Sample"}},
		{"PUT", sample, member, true, s.updateSample(false), op{sum: "Update a sample", in: "SampleWrite", out: "Sample"}},
		{"PATCH", sample, member, true, s.updateSample(true), op{sum: "Update some fields of a sample", in: "SamplePatch", out: "Sample"}},
		{"DELETE", sample, member, true, s.deleteSample, op{sum: "Soft-delete a sample", code: 204}},
	}
	for _, a := range domain.Actions {
		rs = append(rs, route{"POST", sample + string(a) + "/", member, true, s.transitionSample(a),
			op{sum: "Sample transition: " + string(a), out: "Sample"}})
	}
	rs = append(rs,
		route{"GET", samples + "by_barcode/{barcode}/", member, true, s.sampleByBarcode, op{sum: "Get a sample by barcode", out: "Sample"}},
		route{"GET", samples + "by_status/{status}/", member, true, s.samplesByStatus, op{sum: "List a center's samples in a status", out: "SamplePage", q: qPage | qInactive | qSamples}},
	)
	if withMetrics {
		rs = append(rs, route{"GET", "/metrics", anon, false, s.serveMetrics, op{sum: "Prometheus metrics (text exposition format)", text: true}})
	}
	return rs
}

// handlerFunc is an endpoint: it writes a success or returns an error,
// which writeError maps to a problem.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers rt for its path, and for the path without its trailing
// slash. "{$}" anchors the slash form, which would otherwise match a whole
// subtree. Authenticated routes check the token first; member routes then
// run the tenant middleware, which needs the mux's path values, so it wraps
// the handler rather than the mux.
func (s *Server) handle(mux *http.ServeMux, rt route, tenant func(http.Handler) http.Handler) {
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := rt.h(w, r)
		// Run again, once, as the user is now, when the guard refused the
		// cached principal, or when the handler refused the request on its
		// word alone and it is stale: nothing was written or changed.
		if rt.cached && (errors.Is(err, domain.ErrPrincipalChanged) || (refusal(err) && !domain.Guarded(r.Context()))) {
			again, changed, perr := s.proveAgain(r)
			switch {
			case perr != nil:
				err = perr
			case changed || errors.Is(err, domain.ErrPrincipalChanged):
				err = rt.h(w, again)
			}
		}
		if rt.access >= authed && errors.Is(err, domain.ErrInvalidCredentials) {
			// The guard's answer: the token went bad since it was proved.
			err = errUnauthorized
		}
		switch {
		case err == nil:
		case errors.Is(err, errClientGone):
			// Not the database's fault, and a second header cannot be sent.
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "client disconnected",
				slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
		default:
			s.writeError(w, r, err)
		}
	})
	if rt.access == member {
		next = tenant(next)
	}
	if rt.access >= authed {
		next = s.authenticate(next, rt.cached)
	}
	patterns := []string{rt.method + " " + rt.path}
	if p, ok := strings.CutSuffix(rt.path, "/"); ok {
		patterns = []string{rt.method + " " + rt.path + "{$}", rt.method + " " + p}
	}
	for _, p := range patterns {
		mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The route, not r.Pattern: one name for both patterns, for
			// the log and the metrics.
			setRoute(r.Context(), rt.method, rt.path)
			next.ServeHTTP(w, r)
		}))
	}
}

// refusal reports whether err refuses a request for who asks (403, or a
// 404 that hides what the caller may not see).
func refusal(err error) bool {
	var he *httpError
	return errors.Is(err, domain.ErrNotFound) || (errors.As(err, &he) && (he.status == http.StatusForbidden || he.status == http.StatusNotFound))
}

// problemMux serves mux, answering its own 404 and 405 (Allow header kept)
// as problems instead of its plain-text bodies.
func (s *Server) problemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		h, _ := mux.Handler(r)
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, Problem{Status: rec.status, Detail: "method " + r.Method + " is not allowed here; allowed: " + rec.header.Get("Allow")})
		case http.StatusNotFound:
			writeProblem(w, Problem{Status: rec.status, Detail: "not found"})
		default: // a redirect to the clean path
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
		}
	})
}

// headerRecorder keeps the status and headers of the mux's own handlers
// and drops their bodies.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// errClientGone marks an error from writing a response body: the client
// hung up or stopped reading. The status is already sent, so it cannot be
// answered with a problem, and it is not the server's fault.
var errClientGone = errors.New("writing the response")

// writeJSON writes v with status. v is marshalled before the header is
// sent, so that a value that cannot be encoded is still answered as a 500;
// an error after that is the client's (errClientGone).
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return fmt.Errorf("api: encoding a %d response: %w", status, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return writeBody(w, b)
}

// writeBody writes b, the body of a response whose header is sent.
func writeBody(w io.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("%w: %w", errClientGone, err)
	}
	return nil
}

// marshalJSON encodes v without HTML escaping: the API serves JSON, not
// HTML, and escaped "&" in pagination links (\u0026) only puzzles people
// reading them.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ok writes v as a 200, or err.
func ok[T any](w http.ResponseWriter, v T, err error) error {
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// healthz answers 200 while the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveMetrics serves the Prometheus exposition of the Server's registry.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.h.ServeHTTP(w, r)
	return nil
}

// withTimeout gives each request a context deadline, so that database
// work past it is cancelled (and answered 503).
func (s *Server) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
