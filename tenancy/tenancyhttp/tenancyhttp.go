// Package tenancyhttp resolves the tenant of an HTTP request for handlers
// built on package tenancy: Middleware takes a key from the request (a path
// value, a header, a subdomain), maps it to a tenant id with the caller's
// Resolver, and serves the handler with the id in the request's context,
// where FromContext finds it.
//
//	tenant := tenancyhttp.Middleware(tenancyhttp.Config{
//		Key:     tenancyhttp.PathValue("tenant"),
//		Resolve: registry.Lookup, // the application's cached registry
//	})
//	mux.Handle("GET /t/{tenant}/notes", tenant(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		id, _ := tenancyhttp.FromContext(r.Context())
//		err := m.InTenant(r.Context(), id, func(tx pgx.Tx) error { ... })
//	})))
//
// An unknown tenant and a malformed key both answer 404, so a client can
// neither probe which tenants exist nor tell the two apart; a resolver that
// cannot reach its store answers 503.
package tenancyhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/tenancy"
)

// KeyFunc extracts the tenant key (an id, a slug, a host name: whatever the
// Resolver understands) from a request.
type KeyFunc func(r *http.Request) (string, error)

// Resolver maps a tenant key to a tenant id. It is the caller's: typically
// a cached lookup in the application's registry. It should return an error
// wrapping tenancy.ErrTenantNotFound for a key that names no (active)
// tenant, and tenancy.ErrInvalidName for a key that cannot name one
// (tenancy.ParseID returns it for a key that is not a UUID).
type Resolver func(ctx context.Context, key string) (uuid.UUID, error)

// PathValue takes the key from the path wildcard name of the request's
// ServeMux pattern, e.g. "center_id" in "/api/centers/{center_id}/samples/".
// The middleware must then wrap the handler registered on the mux, not the
// mux itself: path values exist only once the mux has matched.
func PathValue(name string) KeyFunc {
	return func(r *http.Request) (string, error) {
		return r.PathValue(name), nil
	}
}

// Header takes the key from a request header, e.g. "X-Tenant-ID".
func Header(name string) KeyFunc {
	return func(r *http.Request) (string, error) {
		return r.Header.Get(name), nil
	}
}

// Subdomain takes the key from the leftmost label of the Host header under
// base: "acme.example.com" under "example.com" gives "acme". Hosts outside
// base, and base itself, have no key: tenancy.ErrInvalidName. The error
// does not repeat the host, which OnError has in the request.
func Subdomain(base string) KeyFunc {
	suffix := "." + strings.ToLower(strings.Trim(base, "."))
	return func(r *http.Request) (string, error) {
		host := strings.ToLower(r.Host)
		if h, _, ok := strings.Cut(host, ":"); ok {
			host = h
		}
		label, ok := strings.CutSuffix(host, suffix)
		if !ok || label == "" || strings.Contains(label, ".") {
			return "", fmt.Errorf("%w: host is not a single label under %q", tenancy.ErrInvalidName, suffix[1:])
		}
		return label, nil
	}
}

// Config configures Middleware.
type Config struct {
	// Key extracts the tenant key. Required.
	Key KeyFunc
	// Resolve maps the key to a tenant. Required.
	Resolve Resolver
	// OnError writes the response when the tenant cannot be resolved.
	// Defaults to DefaultOnError.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware resolves the request's tenant and serves next with it in the
// request's context, where FromContext finds it. A missing key or a
// resolver error ends the request through OnError. It panics if cfg lacks
// Key or Resolve: that is a programming error, found at start-up.
func Middleware(cfg Config) func(http.Handler) http.Handler {
	if cfg.Key == nil || cfg.Resolve == nil {
		panic("tenancyhttp: Middleware needs Key and Resolve")
	}
	onError := cfg.OnError
	if onError == nil {
		onError = DefaultOnError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, err := cfg.Key(r)
			if err == nil && key == "" {
				err = fmt.Errorf("%w: no tenant in request", tenancy.ErrTenantNotFound)
			}
			var id uuid.UUID
			if err == nil {
				id, err = cfg.Resolve(r.Context(), key)
			}
			if err != nil {
				onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
		})
	}
}

// DefaultOnError answers 404 for an unknown or malformed tenant (a client
// must not be able to tell the two apart, nor probe which tenants exist) and
// 503 for anything else, which is the resolver failing to reach its store.
func DefaultOnError(w http.ResponseWriter, _ *http.Request, err error) {
	switch {
	case errors.Is(err, tenancy.ErrTenantNotFound), errors.Is(err, tenancy.ErrInvalidName):
		http.Error(w, "tenant not found", http.StatusNotFound)
	default:
		http.Error(w, "tenant lookup failed", http.StatusServiceUnavailable)
	}
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying tenant id, as Middleware passes
// it to the handler.
func NewContext(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the tenant carried by ctx, if any.
func FromContext(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(ctxKey{}).(uuid.UUID)
	return id, ok
}
