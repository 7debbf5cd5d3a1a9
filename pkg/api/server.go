package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// Config configures a Server. Pool and Tenancy are required.
type Config struct {
	// Pool is the database. Required.
	Pool *pgxpool.Pool
	// Tenancy enters the centers' schemas (pkg/db.NewTenancy). Required.
	Tenancy *tenancy.Manager
	// Store is the domain. Defaults to domain.New(Pool, Tenancy).
	Store *domain.Store
	// Logger receives request logs and errors. Defaults to slog.Default().
	Logger *slog.Logger
	// TokenTTL is the lifetime of tokens issued by POST /api/auth/token/.
	// Defaults to 24 hours.
	TokenTTL time.Duration
	// RequestTimeout bounds each request's database work: past it the
	// request's context ends and the client gets a 503. Defaults to 30 s.
	RequestTimeout time.Duration
	// CenterCacheTTL is how long a center found active is trusted by the
	// tenant resolver without asking the database again. Listen evicts
	// changed centers at once; the TTL bounds staleness while the listener
	// is down. Defaults to 5 minutes.
	CenterCacheTTL time.Duration
}

// Server is the HTTP API over the domain. Serve its Handler; run Listen
// beside it so that changes made by other processes reach its cache.
type Server struct {
	pool     *pgxpool.Pool
	m        *tenancy.Manager
	st       *domain.Store
	log      *slog.Logger
	tokenTTL time.Duration
	timeout  time.Duration
	centers  *centerCache
	routes   []route
	handler  http.Handler
}

// route is one registered endpoint, for the OpenAPI document.
type route struct{ method, path string }

// New returns a Server with every route registered.
func New(cfg Config) (*Server, error) {
	if cfg.Pool == nil || cfg.Tenancy == nil {
		return nil, errors.New("api: Config.Pool and Config.Tenancy are required")
	}
	s := &Server{
		pool:     cfg.Pool,
		m:        cfg.Tenancy,
		st:       cfg.Store,
		log:      cmp.Or(cfg.Logger, slog.Default()),
		tokenTTL: cmp.Or(cfg.TokenTTL, 24*time.Hour),
		timeout:  cmp.Or(cfg.RequestTimeout, 30*time.Second),
	}
	if s.st == nil {
		s.st = domain.New(cfg.Pool, cfg.Tenancy)
	}
	s.centers = newCenterCache(cmp.Or(cfg.CenterCacheTTL, 5*time.Minute))
	mux := http.NewServeMux()
	s.register(mux)
	// Every middleware, in one place, outermost first.
	s.handler = s.logRequests(s.recoverPanics(s.withTimeout(s.problemMux(mux))))
	return s, nil
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler { return s.handler }

// register lists every route. Each path is served with and without its
// trailing slash (the slash is canonical, as in the seed).
func (s *Server) register(mux *http.ServeMux) {
	tenant := tenancy.Middleware(tenancy.MiddlewareConfig{
		Key:     tenancy.PathValue("center_id"),
		Resolve: s.resolveCenter,
		OnError: func(w http.ResponseWriter, r *http.Request, err error) { s.writeError(w, r, err) },
	})
	const auth, anon = true, false

	s.handle(mux, "GET", "/healthz", anon, s.healthz)
	s.handle(mux, "GET", "/readyz", anon, s.readyz)
	s.handle(mux, "GET", "/api/openapi.json", anon, s.openAPI)
	s.handle(mux, "POST", "/api/auth/token/", anon, s.obtainToken)

	s.handle(mux, "GET", "/api/centers/", auth, s.listCenters)
	s.handle(mux, "POST", "/api/centers/", auth, s.createCenter)
	s.handle(mux, "GET", "/api/centers/{id}/", auth, s.getCenter)
	s.handle(mux, "PUT", "/api/centers/{id}/", auth, s.updateCenter(false))
	s.handle(mux, "PATCH", "/api/centers/{id}/", auth, s.updateCenter(true))
	s.handle(mux, "DELETE", "/api/centers/{id}/", auth, s.deleteCenter)
	s.handle(mux, "POST", "/api/centers/{id}/restore/", auth, s.restoreCenter)
	s.handle(mux, "DELETE", "/api/centers/{id}/hard_delete/", auth, s.hardDeleteCenter)
	s.handle(mux, "GET", "/api/centers/{id}/stats/", auth, s.centerStats)

	s.handle(mux, "GET", "/api/users/", auth, s.listUsers)
	s.handle(mux, "POST", "/api/users/", auth, s.createUser)
	s.handle(mux, "GET", "/api/users/{id}/", auth, s.getUser)
	s.handle(mux, "PUT", "/api/users/{id}/", auth, s.updateUser(false))
	s.handle(mux, "PATCH", "/api/users/{id}/", auth, s.updateUser(true))
	s.handle(mux, "DELETE", "/api/users/{id}/", auth, s.deleteUser)
	s.handle(mux, "POST", "/api/users/{id}/change_center/", auth, s.changeCenter)
	s.handle(mux, "POST", "/api/users/{id}/change_role/", auth, s.changeRole)
	s.handle(mux, "GET", "/api/users/by_center/{center_id}/", auth, s.usersByCenter)

	const samples = "/api/centers/{center_id}/samples/"
	s.handle(mux, "GET", samples, auth, s.listSamples, tenant)
	s.handle(mux, "POST", samples, auth, s.createSample, tenant)
	s.handle(mux, "GET", samples+"{id}/", auth, s.getSample, tenant)
	s.handle(mux, "PUT", samples+"{id}/", auth, s.updateSample(false), tenant)
	s.handle(mux, "PATCH", samples+"{id}/", auth, s.updateSample(true), tenant)
	s.handle(mux, "DELETE", samples+"{id}/", auth, s.deleteSample, tenant)
	for _, a := range domain.Actions {
		s.handle(mux, "POST", samples+"{id}/"+string(a)+"/", auth, s.transitionSample(a), tenant)
	}
	s.handle(mux, "GET", samples+"by_barcode/{barcode}/", auth, s.sampleByBarcode, tenant)
	s.handle(mux, "GET", samples+"by_status/{status}/", auth, s.samplesByStatus, tenant)
}

// handlerFunc is an endpoint: it writes a success or returns an error,
// which writeError maps to a problem.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers h for method and path, and for path without its
// trailing slash. "{$}" anchors the slash form, which would otherwise match
// a whole subtree. With auth the request must carry a valid token; mw wrap
// h inside authentication (the tenant middleware, which needs the mux's
// path values, so it wraps the handler rather than the mux).
func (s *Server) handle(mux *http.ServeMux, method, path string, auth bool, h handlerFunc, mw ...func(http.Handler) http.Handler) {
	s.routes = append(s.routes, route{method, path})
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	for i := len(mw) - 1; i >= 0; i-- {
		next = mw[i](next)
	}
	if auth {
		next = s.authenticate(next)
	}
	patterns := []string{method + " " + path}
	if p, ok := strings.CutSuffix(path, "/"); ok {
		patterns = []string{method + " " + path + "{$}", method + " " + p}
	}
	for _, p := range patterns {
		route := method + " " + path
		mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), route)
			next.ServeHTTP(w, r)
		}))
	}
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

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return encodeJSON(w, v)
}

// encodeJSON writes v without HTML escaping: the API serves JSON, not HTML,
// and escaped "&" in pagination links (\u0026) only puzzles people reading
// them.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ok writes v as a 200, or err.
func ok[T any](w http.ResponseWriter, v T, err error) error {
	if err != nil {
		return err
	}
	_ = writeJSON(w, http.StatusOK, v)
	return nil
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

// openAPI describes the routes (paths and methods; bodies are in the
// design document).
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		op := map[string]any{"responses": map[string]any{"default": map[string]any{"description": "JSON, or application/problem+json on error"}}}
		var params []map[string]any
		for _, seg := range strings.Split(rt.path, "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				params = append(params, map[string]any{"name": strings.TrimSuffix(name, "}"), "in": "path", "required": true, "schema": map[string]string{"type": "string"}})
			}
		}
		if params != nil {
			op["parameters"] = params
		}
		if strings.HasPrefix(rt.path, "/api/") && rt.path != "/api/auth/token/" && rt.path != "/api/openapi.json" {
			op["security"] = []map[string][]string{{"bearer": {}}}
		}
		paths[rt.path][strings.ToLower(rt.method)] = op
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]string{"title": "tenantctl API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"bearer": map[string]string{"type": "http", "scheme": "bearer"}}},
	})
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
