package tenancyhttp_test

// The HTTP face of tenant resolution: each key source, the status a client
// gets when the tenant cannot be resolved (404 for unknown and malformed
// alike, 503 when the resolver's store fails), and handlers that see only
// their request's tenant's rows.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancyhttp"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// testMigrations are package tenancy's test migrations: items(tenant_marker, name).
var testMigrations = os.DirFS("../testdata/migrations")

// TestMain fails the package if a test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mwFixture is a Manager with two tenants holding rows marked with their
// ids, and a handler listing the rows of the request's tenant.
type mwFixture struct {
	m       *tenancy.Manager
	a, b    uuid.UUID
	rows    map[uuid.UUID]int // rows inserted per tenant
	served  atomic.Int64      // requests that reached the handler
	handler http.Handler
}

func newMWFixture(t *testing.T) *mwFixture {
	t.Helper()
	ctx := t.Context()
	m := tenancytest.NewManager(t, tenancytest.Pool(t), &tenancy.Config{Migrations: testMigrations})
	f := &mwFixture{m: m, rows: map[uuid.UUID]int{}}
	f.a, f.b = tenancytest.Tenant(t, f.m), tenancytest.Tenant(t, f.m)
	for id, n := range map[uuid.UUID]int{f.a: 3, f.b: 2} {
		err := f.m.InTenant(ctx, id, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO items (tenant_marker, name) SELECT $1, 'item ' || i FROM generate_series(1, $2) i", id.String(), n)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		f.rows[id] = n
	}
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.served.Add(1)
		id, ok := tenancyhttp.FromContext(r.Context())
		if !ok {
			http.Error(w, "no tenant in the request's context", http.StatusInternalServerError)
			return
		}
		var markers []string
		err := f.m.InTenant(r.Context(), id, func(tx pgx.Tx) error {
			rows, err := tx.Query(r.Context(), "SELECT tenant_marker FROM items ORDER BY id")
			if err != nil {
				return err
			}
			markers, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(markers)
	})
	return f
}

// resolveID is the resolver of an application whose tenant key is the
// tenant's UUID: malformed keys are ErrInvalidName (from ParseID), unknown
// ones ErrTenantNotFound. The registry is a map here; the resolver is the
// caller's, so the middleware must work with any.
func (f *mwFixture) resolveID(_ context.Context, key string) (uuid.UUID, error) {
	id, err := tenancy.ParseID(key)
	if err != nil {
		return uuid.Nil, err
	}
	if _, ok := f.rows[id]; !ok {
		return uuid.Nil, fmt.Errorf("%w: %s", tenancy.ErrTenantNotFound, id)
	}
	return id, nil
}

// resolveSlug maps subdomain labels to tenants.
func (f *mwFixture) resolveSlug(_ context.Context, key string) (uuid.UUID, error) {
	if id, ok := map[string]uuid.UUID{"acme": f.a, "globex": f.b}[key]; ok {
		return id, nil
	}
	return uuid.Nil, fmt.Errorf("%w: %q", tenancy.ErrTenantNotFound, key)
}

// check serves req and asserts the status and, for 200, that the body lists
// exactly the rows of tenant want.
func (f *mwFixture) check(t *testing.T, h http.Handler, req *http.Request, status int, want uuid.UUID) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != status {
		t.Fatalf("%s %s (Host %q): status %d, want %d; body %q", req.Method, req.URL, req.Host, rec.Code, status, rec.Body)
	}
	if status != http.StatusOK {
		return rec.Body.String()
	}
	var markers []string
	if err := json.Unmarshal(rec.Body.Bytes(), &markers); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if len(markers) != f.rows[want] {
		t.Errorf("%s: %d rows, want the %d of tenant %s", req.URL, len(markers), f.rows[want], want)
	}
	for _, mk := range markers {
		if mk != want.String() {
			t.Errorf("%s: a row of tenant %s in the response for %s", req.URL, mk, want)
		}
	}
	return rec.Body.String()
}

func TestMiddlewarePathValue(t *testing.T) {
	t.Parallel()
	f := newMWFixture(t)
	mw := tenancyhttp.Middleware(tenancyhttp.Config{Key: tenancyhttp.PathValue("tenant"), Resolve: f.resolveID})
	mux := http.NewServeMux()
	// The middleware wraps the handler, not the mux: path values exist
	// only once the mux has matched the pattern.
	mux.Handle("GET /t/{tenant}/items", mw(f.handler))

	get := func(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
	f.check(t, mux, get("/t/"+f.a.String()+"/items"), http.StatusOK, f.a)
	f.check(t, mux, get("/t/"+f.b.String()+"/items"), http.StatusOK, f.b)
	f.check(t, mux, get("/t/"+strings.ToUpper(f.a.String())+"/items"), http.StatusOK, f.a)

	served := f.served.Load()
	unknown := f.check(t, mux, get("/t/"+uuid.NewString()+"/items"), http.StatusNotFound, uuid.Nil)
	for _, key := range []string{
		"not-a-uuid",
		"%7B" + f.a.String() + "%7D", // {uuid}
		"urn:uuid:" + f.a.String(),
		strings.ReplaceAll(f.a.String(), "-", ""),
		"tenant_" + strings.ReplaceAll(f.a.String(), "-", ""),
		"%27%3B%20DROP%20SCHEMA%20public%3B--", // '; DROP SCHEMA public;--
	} {
		malformed := f.check(t, mux, get("/t/"+key+"/items"), http.StatusNotFound, uuid.Nil)
		// A client must not tell a malformed key from an unknown tenant,
		// nor see its input echoed back.
		if malformed != unknown {
			t.Errorf("malformed key %q answers %q, unknown tenant answers %q: want the same", key, malformed, unknown)
		}
	}
	if got := f.served.Load(); got != served {
		t.Errorf("the handler ran %d times for unresolved tenants", got-served)
	}
}

func TestMiddlewareHeader(t *testing.T) {
	t.Parallel()
	f := newMWFixture(t)
	h := tenancyhttp.Middleware(tenancyhttp.Config{Key: tenancyhttp.Header("X-Tenant-ID"), Resolve: f.resolveID})(f.handler)

	req := func(key string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/items", nil)
		if key != "" {
			r.Header.Set("X-Tenant-ID", key)
		}
		return r
	}
	f.check(t, h, req(f.a.String()), http.StatusOK, f.a)
	f.check(t, h, req(f.b.String()), http.StatusOK, f.b)
	served := f.served.Load()
	f.check(t, h, req(""), http.StatusNotFound, uuid.Nil)
	f.check(t, h, req(uuid.NewString()), http.StatusNotFound, uuid.Nil)
	f.check(t, h, req("x"), http.StatusNotFound, uuid.Nil)
	f.check(t, h, req(" "+f.a.String()), http.StatusNotFound, uuid.Nil)
	if got := f.served.Load(); got != served {
		t.Errorf("the handler ran %d times for unresolved tenants", got-served)
	}

	// Concurrent requests for both tenants through one handler and one
	// pool: each response holds its own tenant's rows only (check asserts
	// it), whatever connection served it.
	var wg sync.WaitGroup
	for i := range 40 {
		id := []uuid.UUID{f.a, f.b}[i%2]
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req(id.String()))
			var markers []string
			if err := json.Unmarshal(rec.Body.Bytes(), &markers); rec.Code != http.StatusOK || err != nil {
				t.Errorf("tenant %s: status %d, body %q", id, rec.Code, rec.Body)
				return
			}
			for _, mk := range markers {
				if mk != id.String() {
					t.Errorf("LEAK: response for %s holds a row of %s", id, mk)
				}
			}
			if len(markers) != f.rows[id] {
				t.Errorf("tenant %s: %d rows, want %d", id, len(markers), f.rows[id])
			}
		})
	}
	wg.Wait()
}

func TestMiddlewareSubdomain(t *testing.T) {
	t.Parallel()
	f := newMWFixture(t)
	// The base is normalized: case and surrounding dots do not matter.
	h := tenancyhttp.Middleware(tenancyhttp.Config{Key: tenancyhttp.Subdomain(".Example.COM."), Resolve: f.resolveSlug})(f.handler)

	req := func(host string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/items", nil)
		r.Host = host
		return r
	}
	for host, want := range map[string]uuid.UUID{
		"acme.example.com":      f.a,
		"acme.example.com:8443": f.a,
		"ACME.Example.Com":      f.a,
		"globex.example.com":    f.b,
	} {
		f.check(t, h, req(host), http.StatusOK, want)
	}
	served := f.served.Load()
	for _, host := range []string{
		"example.com",               // the base itself names no tenant
		"example.com:8443",          //
		".example.com",              // empty label
		"x.acme.example.com",        // nested labels are refused, not trimmed
		"acme.globex.example.com",   //
		"acme.example.org",          // another domain
		"acmeexample.com",           // not a label boundary
		"acme.example.com.evil.org", // base not at the end
		"unknown.example.com",       // well-formed, no such tenant
		"",                          // no Host at all
	} {
		f.check(t, h, req(host), http.StatusNotFound, uuid.Nil)
	}
	if got := f.served.Load(); got != served {
		t.Errorf("the handler ran %d times for unresolved tenants", got-served)
	}

	// The key function itself refuses malformed hosts with ErrInvalidName.
	key := tenancyhttp.Subdomain("example.com")
	for _, host := range []string{"example.com", "a.b.example.com", "a.example.net"} {
		if k, err := key(req(host)); !errors.Is(err, tenancy.ErrInvalidName) {
			t.Errorf("Subdomain key of %q = %q, %v; want ErrInvalidName", host, k, err)
		}
	}
	if k, err := key(req("Acme.example.com:80")); err != nil || k != "acme" {
		t.Errorf(`Subdomain key of "Acme.example.com:80" = %q, %v; want "acme"`, k, err)
	}
}

// A resolver that cannot reach its store answers 503, not 404: the tenant
// may well exist. The store here is a real pool that has been closed.
func TestMiddlewareResolverDown(t *testing.T) {
	t.Parallel()
	f := newMWFixture(t)
	registry := tenancytest.Pool(t)
	registry.Close()
	resolve := func(ctx context.Context, key string) (uuid.UUID, error) {
		id, err := tenancy.ParseID(key)
		if err != nil {
			return uuid.Nil, err
		}
		var exists bool
		if err := registry.QueryRow(ctx, "SELECT true").Scan(&exists); err != nil {
			return uuid.Nil, fmt.Errorf("registry: %w", err)
		}
		return id, nil
	}
	h := tenancyhttp.Middleware(tenancyhttp.Config{Key: tenancyhttp.Header("X-Tenant-ID"), Resolve: resolve})(f.handler)
	r := httptest.NewRequest(http.MethodGet, "/items", nil)
	r.Header.Set("X-Tenant-ID", f.a.String())
	f.check(t, h, r, http.StatusServiceUnavailable, uuid.Nil)
	// A malformed key is still 404: it could never name a tenant.
	r.Header.Set("X-Tenant-ID", "nope")
	f.check(t, h, r, http.StatusNotFound, uuid.Nil)
	if f.served.Load() != 0 {
		t.Error("the handler ran without a tenant")
	}
}

// OnError, when set, replaces DefaultOnError and receives the resolver's
// error.
func TestMiddlewareOnError(t *testing.T) {
	t.Parallel()
	errDown := errors.New("down")
	var got error
	h := tenancyhttp.Middleware(tenancyhttp.Config{
		Key:     tenancyhttp.Header("X-Tenant-ID"),
		Resolve: func(context.Context, string) (uuid.UUID, error) { return uuid.Nil, errDown },
		OnError: func(w http.ResponseWriter, _ *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		},
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran") }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Tenant-ID", "k")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusTeapot || !errors.Is(got, errDown) {
		t.Errorf("status %d, OnError got %v; want 418 and the resolver's error", rec.Code, got)
	}
}

func TestMiddlewareNeedsKeyAndResolve(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]tenancyhttp.Config{
		"no key":     {Resolve: func(context.Context, string) (uuid.UUID, error) { return uuid.Nil, nil }},
		"no resolve": {Key: tenancyhttp.Header("X")},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Middleware did not panic", name)
				}
			}()
			tenancyhttp.Middleware(cfg)
		}()
	}
}

// NewContext and FromContext round-trip, and a bare context has no tenant.
func TestContext(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if _, ok := tenancyhttp.FromContext(ctx); ok {
		t.Error("FromContext found a tenant in a bare context")
	}
	id := uuid.New()
	if got, ok := tenancyhttp.FromContext(tenancyhttp.NewContext(ctx, id)); !ok || got != id {
		t.Errorf("FromContext(NewContext(%v)) = %v, %v", id, got, ok)
	}
}
