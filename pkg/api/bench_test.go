package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// BenchmarkHandler runs requests through the whole handler, middleware
// included, in process: the server's own cost per request, beside
// PostgreSQL's, for profiling (-cpuprofile, -memprofile). The requests
// are a member's, on the seeded Istanbul center, logged as apiserver logs
// them (JSON, here discarded).
func BenchmarkHandler(b *testing.B) {
	d := testdb.New(b)
	st := domain.New(d.Pool, d.Tenancy)
	if _, err := st.Seed(b.Context(), domain.SeedOptions{}); err != nil {
		b.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ist, err := st.Centers.GetByName(b.Context(), "Istanbul Medical Center")
	if err != nil {
		b.Fatal(err)
	}
	u, err := st.Users.GetByUsername(b.Context(), "istanbul_user")
	if err != nil {
		b.Fatal(err)
	}
	_, tok, err := st.Tokens.Create(b.Context(), domain.System, u.ID, "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	items, _, err := st.Samples.List(b.Context(), ist.ID, domain.SampleFilter{Limit: 1})
	if err != nil || len(items) == 0 {
		b.Fatalf("a sample of Istanbul: %v", err)
	}
	samples := "/api/centers/" + ist.ID.String() + "/samples/"
	for _, path := range []string{samples + items[0].ID.String() + "/", samples + "?limit=20"} {
		b.Run(path[len(samples):], func(b *testing.B) {
			h := srv.Handler()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequestWithContext(b.Context(), "GET", path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, w.Code, w.Body)
				}
			}
		})
	}
}
