package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestRequestTrips: with an API request's principal (WithPrincipal), every
// read the API makes is one round trip to PostgreSQL, the guard included,
// and every write of a sample or of a user two, in the steady state (tripCounter.trips runs
// each twice). A principal the guard refuses stops the operation in the
// same trips.
func TestRequestTrips(t *testing.T) {
	b := setup(t)
	st, counter := tripStore(t, b)
	c := b.center(t, "Trips", "")
	u := b.user(t, "tripper", &c.ID, domain.RoleAdmin)
	sm := b.sample(t, c, u, domain.SampleInput{Barcode: "TRIP-1"})
	_, token, err := st.Tokens.Create(b.ctx, domain.System, u.ID, "trips", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Tokens.Authenticate(b.ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := domain.WithPrincipal(b.ctx, p)
	by := domain.By(u.ID)
	n := 0
	ops := []struct {
		name  string
		trips int
		op    func() error
	}{
		{"Samples.List", 1, func() error { _, _, err := st.Samples.List(ctx, c.ID, domain.SampleFilter{Limit: 20}); return err }},
		{"Samples.Get", 1, func() error { _, err := st.Samples.Get(ctx, c.ID, sm.ID); return err }},
		{"Samples.GetByBarcode", 1, func() error { _, err := st.Samples.GetByBarcode(ctx, c.ID, "TRIP-1"); return err }},
		{"Stats", 1, func() error { _, err := st.Stats(ctx, c.ID); return err }},
		{"Centers.Get", 1, func() error { _, err := st.Centers.Get(ctx, c.ID); return err }},
		{"Centers.List", 1, func() error {
			_, _, err := st.Centers.List(ctx, domain.ListOptions{IDs: []uuid.UUID{c.ID}})
			return err
		}},
		{"Users.Get", 1, func() error { _, err := st.Users.Get(ctx, u.ID); return err }},
		{"Users.List", 1, func() error { _, _, err := st.Users.List(ctx, domain.ListOptions{CenterID: &c.ID}); return err }},
		{"Samples.Create", 2, func() error {
			n++
			_, err := st.Samples.Create(ctx, c.ID, by, domain.SampleInput{Name: "t", SampleType: "blood", Barcode: "TRIP-C" + string(rune('A'+n))})
			return err
		}},
		{"Samples.Patch", 2, func() error {
			_, err := st.Samples.Patch(ctx, c.ID, by, sm.ID, domain.SamplePatch{Name: &sm.Name})
			return err
		}},
		{"Samples.SoftDelete", 2, func() error { _, err := st.Samples.SoftDelete(ctx, c.ID, by, sm.ID); return err }},
		{"Samples.Restore", 2, func() error { _, err := st.Samples.Restore(ctx, c.ID, by, sm.ID); return err }},
		{"Users.Patch", 2, func() error {
			name := "Trip"
			_, err := st.Users.Patch(ctx, by, u.ID, domain.UserPatch{FirstName: &name})
			return err
		}},
		{"Users.ChangeRole", 2, func() error { _, err := st.Users.ChangeRole(ctx, by, domain.RoleAdmin, u.ID); return err }},
		{"Samples.Transition", 2, func() error {
			// The fixture's own trips go through b's pool, not st's.
			fresh := b.sample(t, c, u, domain.SampleInput{Barcode: "TRIP-" + uuid.NewString()})
			_, err := st.Samples.Transition(ctx, c.ID, by, fresh.ID, domain.ActionProcess, false)
			return err
		}},
	}
	for _, o := range ops {
		if got := counter.trips(t, o.op); got != o.trips {
			t.Errorf("%s: %d round trips, want %d", o.name, got, o.trips)
		}
	}

	// Revoked: the next read is refused by its own trip.
	if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.api_tokens SET is_active = false"); err != nil {
		t.Fatal(err)
	}
	counter.mu.Lock()
	counter.n = 0
	counter.mu.Unlock()
	if _, err := st.Samples.Get(ctx, c.ID, sm.ID); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("a revoked token's read: %v, want ErrInvalidCredentials", err)
	}
	if counter.n != 1 {
		t.Errorf("a revoked token's read: %d round trips, want 1", counter.n)
	}
}
