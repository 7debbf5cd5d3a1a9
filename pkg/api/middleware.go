package api

import (
	"context"
	"crypto/rand"
	"fmt"
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

type userKey struct{}

// caller returns the authenticated user of the request.
func caller(r *http.Request) *domain.User {
	u, _ := r.Context().Value(userKey{}).(*domain.User)
	if u == nil {
		// Only reachable if a route forgot authenticate: fail closed.
		panic("api: no authenticated user on an authenticated route")
	}
	return u
}

// authenticate requires "Authorization: Bearer <token>" ("Token <token>",
// DRF's keyword, is accepted too) naming a valid token of an active user;
// anything else is a 401 with WWW-Authenticate: Bearer.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
		if !found || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) {
			s.writeError(w, r, errUnauthorized)
			return
		}
		u, err := s.st.Tokens.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if err == domain.ErrInvalidCredentials {
				err = errUnauthorized
			}
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, &u)))
	})
}
