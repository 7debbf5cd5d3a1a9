package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// KeyFunc extracts the tenant key (an id, a slug, a host name: whatever the
// Resolver understands) from a request.
type KeyFunc func(r *http.Request) (string, error)

// Resolver maps a tenant key to a tenant id. It is the caller's: typically
// a cached lookup in the application's registry. It should return an error
// wrapping ErrTenantNotFound for a key that names no (active) tenant, and
// ErrInvalidName for a key that cannot name one.
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
// base, and base itself, have no key.
func Subdomain(base string) KeyFunc {
	suffix := "." + strings.ToLower(strings.Trim(base, "."))
	return func(r *http.Request) (string, error) {
		host := strings.ToLower(r.Host)
		if h, _, ok := strings.Cut(host, ":"); ok {
			host = h
		}
		label, ok := strings.CutSuffix(host, suffix)
		if !ok || label == "" || strings.Contains(label, ".") {
			return "", fmt.Errorf("%w: host %q is not a single label under %q", ErrInvalidName, truncate(r.Host, 100), suffix[1:])
		}
		return label, nil
	}
}

// MiddlewareConfig configures Middleware.
type MiddlewareConfig struct {
	// Key extracts the tenant key. Required.
	Key KeyFunc
	// Resolve maps the key to a tenant. Required.
	Resolve Resolver
	// OnError writes the response when the tenant cannot be resolved.
	// Defaults to DefaultOnError.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware resolves the request's tenant and serves next with it in the
// request's context (see FromContext and Manager.InContextTenant). A missing
// key or a resolver error ends the request through OnError.
func Middleware(cfg MiddlewareConfig) func(http.Handler) http.Handler {
	if cfg.Key == nil || cfg.Resolve == nil {
		panic("tenancy: Middleware needs Key and Resolve")
	}
	onError := cfg.OnError
	if onError == nil {
		onError = DefaultOnError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, err := cfg.Key(r)
			if err == nil && key == "" {
				err = fmt.Errorf("%w: no tenant in request", ErrTenantNotFound)
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
	case errors.Is(err, ErrTenantNotFound), errors.Is(err, ErrInvalidName):
		http.Error(w, "tenant not found", http.StatusNotFound)
	default:
		http.Error(w, "tenant lookup failed", http.StatusServiceUnavailable)
	}
}
