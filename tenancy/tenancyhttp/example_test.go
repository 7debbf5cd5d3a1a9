package tenancyhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancyhttp"
)

// Serve each customer's routes under its subdomain. The resolver stands in
// for the application's registry; the handler would enter the tenant with
// Manager.InTenant(r.Context(), id, ...).
func ExampleMiddleware() {
	acme := uuid.MustParse("0b6f5a0e-6c1d-4c43-9a3e-5d8c2b7e41e1")
	registry := map[string]uuid.UUID{"acme": acme}
	tenant := tenancyhttp.Middleware(tenancyhttp.Config{
		Key: tenancyhttp.Subdomain("example.com"),
		Resolve: func(_ context.Context, key string) (uuid.UUID, error) {
			id, ok := registry[key]
			if !ok {
				return uuid.Nil, fmt.Errorf("customer %q: %w", key, tenancy.ErrTenantNotFound)
			}
			return id, nil
		},
	})
	notes := tenant(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := tenancyhttp.FromContext(r.Context())
		fmt.Fprintln(w, "notes of", id)
	}))

	for _, host := range []string{"acme.example.com", "globex.example.com", "example.com"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/notes", nil)
		req.Host = host
		notes.ServeHTTP(rec, req)
		fmt.Print(host, ": ", rec.Code, " ", rec.Body)
	}
	// Output:
	// acme.example.com: 200 notes of 0b6f5a0e-6c1d-4c43-9a3e-5d8c2b7e41e1
	// globex.example.com: 404 tenant not found
	// example.com: 404 tenant not found
}
