package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// reqInfo is what the request log needs from inner layers: the route the
// mux matched and the status written. It travels by pointer in the context
// because the mux sees a copy of the request the logger holds.
type reqInfo struct {
	id     string
	method string // the route's method and path; empty if no route matched
	path   string
	status int
}

type infoKey struct{}

func info(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(infoKey{}).(*reqInfo)
	if ri == nil {
		return &reqInfo{}
	}
	return ri
}

func setRoute(ctx context.Context, method, path string) {
	ri := info(ctx)
	ri.method, ri.path = method, path
}

func setStatus(ctx context.Context, status int) { info(ctx).status = status }

// requestID returns the request's id (X-Request-ID).
func requestID(ctx context.Context) string { return info(ctx).id }

// saneRequestID accepts a client's X-Request-ID only if it cannot forge log
// lines or flood them.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// statusWriter records the status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	ri *reqInfo
}

func (w *statusWriter) WriteHeader(code int) {
	if w.ri.status == 0 {
		w.ri.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.ri.status == 0 {
		w.ri.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests gives the request an id (the client's X-Request-ID if sane,
// else a new one, echoed in the response), logs one line per request
// (method, route pattern, status, duration, id; never headers or bodies)
// and counts it in the metrics. Both happen here, after the response, so
// that they agree on route and status.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: r.Header.Get("X-Request-ID")}
		if !saneRequestID.MatchString(ri.id) {
			ri.id = strings.ToLower(rand.Text()[:16])
		}
		w.Header().Set("X-Request-ID", ri.id)
		ctx := context.WithValue(r.Context(), infoKey{}, ri)
		next.ServeHTTP(&statusWriter{ResponseWriter: w, ri: ri}, r.WithContext(ctx))
		status := ri.status
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.observe(ri.path, r.Method, status, d)
		route := ""
		if ri.path != "" {
			route = ri.method + " " + ri.path
		}
		level := slog.LevelInfo
		if status >= 500 && status != 499 {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(ctx, level, "request",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", d),
			slog.String("request_id", ri.id))
	})
}

// recoverPanics turns a panic into a logged 500 problem. http.ErrAbortHandler
// is re-panicked, as net/http expects.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			if info(r.Context()).status != 0 {
				// Headers are out: all that can be done is to log it.
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic after response started",
					slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
				return
			}
			s.writeError(w, r, err)
		}()
		next.ServeHTTP(w, r)
	})
}

type authKey struct{}

// auth is what authenticate learned of a request: its caller, and what
// proving the token again needs (proveAgain).
type auth struct {
	principal domain.Principal
	token     string
	// body is the request's body, read ahead on routes that may run
	// twice; nil on others and for requests without one.
	body []byte
}

// caller returns the authenticated user of the request.
func caller(r *http.Request) *domain.User {
	a, _ := r.Context().Value(authKey{}).(*auth)
	if a == nil {
		// Only reachable if a route forgot authenticate: fail closed.
		panic("api: no authenticated user on an authenticated route")
	}
	return &a.principal.User
}

// authenticate requires "Authorization: Bearer <token>" ("Token <token>",
// DRF's keyword, is accepted too) naming a valid token of an active user;
// anything else is a 401 with WWW-Authenticate: Bearer.
//
// On a cached route (route.cached), whose Store calls all run the
// principal's guard, the token's principal may come from the Store's cache
// (Tokens.Principal) and travels in the context (domain.WithPrincipal):
// the request then spends no round trip of its own on its token. Should
// the guard find the user changed (domain.ErrPrincipalChanged), the
// handler runs once more with the principal proved again (proveAgain), so
// the body is read ahead to be read twice; so it does when the handler
// refused the request on the cached principal's word alone and the user
// turns out to have changed (a viewer since promoted). Other routes prove
// the token by its own statement (Tokens.Authenticate).
func (s *Server) authenticate(next http.Handler, cached bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
		if !found || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) {
			s.writeError(w, r, errUnauthorized)
			return
		}
		token = strings.TrimSpace(token)
		prove := s.st.Tokens.Authenticate
		if cached {
			prove = s.st.Tokens.Principal
		}
		p, err := prove(r.Context(), token)
		if err != nil {
			if err == domain.ErrInvalidCredentials {
				err = errUnauthorized
			}
			s.writeError(w, r, err)
			return
		}
		a := &auth{principal: p, token: token}
		ctx := context.WithValue(r.Context(), authKey{}, a)
		if cached {
			ctx = domain.WithPrincipal(ctx, p)
			if r.Body != nil && r.Body != http.NoBody {
				// One byte past the limit, so that readObject still
				// answers a body too large with its 413.
				if a.body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1)); err != nil {
					s.writeError(w, r, errStatus(http.StatusBadRequest, "could not read the request body"))
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(a.body))
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// proveAgain proves r's token again, bypassing the cache, and returns r
// with its principal as it is now and its body as it came, to run the
// handler once more; changed says whether the principal differs from r's.
func (s *Server) proveAgain(r *http.Request) (_ *http.Request, changed bool, err error) {
	a := r.Context().Value(authKey{}).(*auth)
	p, err := s.st.Tokens.Authenticate(r.Context(), a.token)
	if err != nil {
		return r, false, err
	}
	changed = !p.Same(a.principal)
	ctx := domain.WithPrincipal(context.WithValue(r.Context(), authKey{}, &auth{principal: p, token: a.token, body: a.body}), p)
	r = r.WithContext(ctx)
	if a.body != nil {
		r.Body = io.NopCloser(bytes.NewReader(a.body))
	}
	return r, changed, nil
}
