package domain_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// TestCenterCreateRaceSeparatePools: two "processes" (each its own pool,
// Manager and Store, as two tenantctl or apiserver processes have) create
// a center of the same name at the same instant, round after round; the
// second name differs in case, which the registry must still see as the
// same. Exactly one wins each round; the other gets a *ConflictError on
// name (409 in the API, exit 1 in the CLI); and afterwards nothing is
// orphaned: Inspect finds every tenant healthy, and registry rows, ledger
// rows and schemas are the same set.
//
// Knob: TENANTCTL_RACE_ROUNDS (20).
func TestCenterCreateRaceSeparatePools(t *testing.T) {
	b := setup(t)
	rounds := testdb.Size(t, "TENANTCTL_RACE_ROUNDS", 20, 1)
	var stores [2]*domain.Store
	for i := range stores {
		pool, err := pgxpool.New(b.ctx, b.db.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		m, err := db.NewTenancy(pool, tenancy.Config{})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = domain.New(pool, m)
	}

	wins := [2]int{}
	for round := range rounds {
		names := [2]string{fmt.Sprintf("Race center %d", round), fmt.Sprintf("RACE CENTER %d", round)}
		var errs [2]error
		var created [2]domain.Center
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range stores {
			wg.Go(func() {
				<-start
				created[i], errs[i] = stores[i].Centers.Create(b.ctx, domain.System, domain.CenterInput{Name: names[i]})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			var ce *domain.ConflictError
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both creates succeeded: %s and %s", round, created[0].ID, created[1].ID)
				}
				winner = i
			case errors.As(err, &ce) && ce.Field == "name" && errors.Is(err, domain.ErrConflict):
			default:
				t.Fatalf("round %d: creator %d: %v, want success or a name conflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: both creates failed: %v; %v", round, errs[0], errs[1])
		}
		wins[winner]++
	}

	statuses, err := b.db.Tenancy.Inspect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statuses {
		if !s.OK() {
			t.Errorf("%s: %v", s.Schema, s.Problems)
		}
	}
	// The three sets agree: no schema without a row, no row without a
	// schema, no ledger row of a center that does not exist.
	orphans := b.count(t, `
SELECT (SELECT count(*) FROM pg_namespace n WHERE n.nspname ~ '^center_[0-9a-f]{32}$'
		AND NOT EXISTS (SELECT FROM public.centers c WHERE c.schema_name = n.nspname))
	+ (SELECT count(*) FROM public.centers c WHERE NOT EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = c.schema_name))
	+ (SELECT count(*) FROM public.tenancy_tenants t WHERE NOT EXISTS (SELECT FROM public.centers c WHERE c.id = t.tenant_id))
	+ (SELECT count(*) FROM public.centers c WHERE NOT EXISTS (SELECT FROM public.tenancy_tenants t WHERE t.tenant_id = c.id))`)
	centers := b.count(t, "SELECT count(*) FROM public.centers")
	if len(statuses) != rounds || centers != rounds || orphans != 0 {
		t.Errorf("%d centers, %d tenants, %d orphans; want %d, %d, 0", centers, len(statuses), orphans, rounds, rounds)
	}
	t.Logf("FIGURES create race (domain, separate pools): %d rounds, wins %d/%d, %d conflicts, %d centers, %d orphans",
		rounds, wins[0], wins[1], rounds, centers, orphans)
}
