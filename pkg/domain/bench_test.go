package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// BenchmarkRequestPath runs the domain's part of the request benchmarks'
// commonest requests (internal/bench): authenticating a token, and
// listing 20 of a center's 100 samples. Allocations per operation are
// the figure to watch; time depends on the database's machine.
func BenchmarkRequestPath(b *testing.B) {
	bd := newBundle(b)
	c := bd.center(b, "Bench", "")
	u := bd.user(b, "bench_user", &c.ID, domain.RoleUser)
	for i := range 100 {
		bd.sample(b, c, u, domain.SampleInput{Barcode: fmt.Sprintf("B-%d", i), Metadata: []byte(`{"source": "bench"}`)})
	}
	_, token, err := bd.st.Tokens.Create(bd.ctx, domain.System, u.ID, "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("authenticate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bd.st.Tokens.Authenticate(bd.ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			items, n, err := bd.st.Samples.List(bd.ctx, c.ID, domain.SampleFilter{Limit: 20})
			if err != nil || len(items) != 20 || n != 100 {
				b.Fatalf("%d items of %d, %v", len(items), n, err)
			}
		}
	})
}
