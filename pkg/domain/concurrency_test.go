package domain_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// Concurrent Seeds never fail and never duplicate: the loser of each race
// sees the winner's unique violation and counts the record as existing.
func TestSeedConcurrent(t *testing.T) {
	b := setup(t)
	var wg sync.WaitGroup
	results := make([]domain.SeedResult, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = b.st.Seed(b.ctx, domain.SeedOptions{}) })
	}
	wg.Wait()
	var created domain.SeedResult
	for i, err := range errs {
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		created.Centers.Created += results[i].Centers.Created
		created.Users.Created += results[i].Users.Created
		created.Samples.Created += results[i].Samples.Created
	}
	if created.Centers.Created != 2 || created.Users.Created != 7 || created.Samples.Created != 16 {
		t.Fatalf("created in all = %+v", created)
	}
	if n := b.count(t, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'center\\_%'"); n != 2 {
		t.Fatalf("%d schemas", n)
	}
}

// Two racing transitions of one sample: exactly one wins.
func TestTransitionConcurrent(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	u := b.user(t, "u", &c.ID, domain.RoleUser)
	for round := range 5 {
		s := b.sample(t, c, u, domain.SampleInput{Barcode: "R" + string(rune('0'+round))})
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = b.st.Samples.Transition(b.ctx, c.ID, domain.By(u.ID), s.ID, domain.ActionProcess, false)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			var te *domain.TransitionError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &te) && te.From == domain.StatusProcessing:
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d transitions succeeded", round, ok)
		}
	}
}
