package domain_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// errRefused is the refusal of the rules of these tests.
var errRefused = errors.New("refused")

// managedBy is a face's rule for actor: the users actor Manages.
func managedBy(actor domain.User) domain.Rule {
	return func(t domain.User) error {
		if !actor.Manages(t) {
			return fmt.Errorf("%s: %w", t.Username, errRefused)
		}
		return nil
	}
}

// TestCheckedBulk: a Rule refuses a bulk write as a whole, naming every
// refused row in the order of the ids, and nothing changes; a missing
// user is reported before the rule, the rule before the center's check.
func TestCheckedBulk(t *testing.T) {
	b := setup(t)
	c1, c2 := b.center(t, "One", ""), b.center(t, "Two", "")
	alice := b.user(t, "alice", &c1.ID, domain.RoleAdmin)
	bob := b.user(t, "bob", &c1.ID, domain.RoleUser)
	carol := b.user(t, "carol", &c2.ID, domain.RoleUser)
	dave := b.user(t, "dave", &c2.ID, domain.RoleViewer)
	users := b.st.Users.Checked(managedBy(alice))

	_, err := users.SetActive(b.ctx, domain.By(alice.ID), false, dave.ID, bob.ID, carol.ID)
	if !errors.Is(err, errRefused) || err.Error() != "dave: refused\ncarol: refused" {
		t.Fatalf("SetActive(dave, bob, carol) = %q, want dave's and carol's refusals", err)
	}
	for _, u := range []domain.User{bob, carol, dave} {
		if got, _ := b.st.Users.Get(b.ctx, u.ID); !got.IsActive || got.UpdatedBy != nil {
			t.Fatalf("a refused write changed %s: %+v", u.Username, got)
		}
	}

	// Allowed rows change as the operator's write changes them.
	us, err := users.ChangeRole(b.ctx, domain.By(alice.ID), domain.RoleViewer, bob.ID)
	if err != nil || len(us) != 1 || us[0].Role != domain.RoleViewer || *us[0].UpdatedBy != alice.ID {
		t.Fatalf("ChangeRole(bob) = %+v, %v", us, err)
	}

	_, err = users.SetActive(b.ctx, domain.By(alice.ID), false, carol.ID, uuid.New())
	wantNotFound(t, err)
	inactive := b.center(t, "Closed", "")
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, inactive.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := users.ChangeCenter(b.ctx, domain.By(alice.ID), inactive.ID, carol.ID); !errors.Is(err, errRefused) {
		t.Fatalf("ChangeCenter(inactive, carol) = %v, want the refusal first", err)
	}
	_, err = users.ChangeCenter(b.ctx, domain.By(alice.ID), inactive.ID, bob.ID)
	wantFields(t, err, "center")

	// SetSuperuser takes the rule too; no rule is the operator's.
	if _, err := users.SetSuperuser(b.ctx, domain.By(alice.ID), carol.ID, true); !errors.Is(err, errRefused) {
		t.Fatalf("SetSuperuser(carol) = %v, want refused", err)
	}
	if u, err := b.st.Users.Checked(nil).SetSuperuser(b.ctx, domain.System, carol.ID, true); err != nil || !u.IsSuperuser {
		t.Fatalf("SetSuperuser without a rule = %+v, %v", u, err)
	}
}

// TestCheckedBulkRace: the rule decides on the row the write changes. A
// face read bob as a member of alice's center; before its write, another
// transaction moves bob to another center (or makes him a superuser). The
// write waits for that transaction, then its rule sees bob as he now is
// and refuses: nothing changes. The operator's write, with no rule, goes
// through the same race, as every face's did when it decided on its read.
func TestCheckedBulkRace(t *testing.T) {
	b := setup(t)
	c1, c2 := b.center(t, "One", ""), b.center(t, "Two", "")
	alice := b.user(t, "alice", &c1.ID, domain.RoleAdmin)
	bob := b.user(t, "bob", &c1.ID, domain.RoleUser)
	users := b.st.Users.Checked(managedBy(alice))
	read, err := b.st.Users.Get(b.ctx, bob.ID)
	if err != nil || !alice.Manages(read) {
		t.Fatalf("alice does not manage bob to begin with: %+v, %v", read, err)
	}

	var werr error
	b.db.Meanwhile(t, func() { _, werr = users.SetActive(b.ctx, domain.By(alice.ID), false, bob.ID) },
		"UPDATE public.users SET center_id = $1 WHERE id = $2", c2.ID, bob.ID)
	if !errors.Is(werr, errRefused) {
		t.Fatalf("deactivating bob moved meanwhile: %v, want refused", werr)
	}
	if got, _ := b.st.Users.Get(b.ctx, bob.ID); !got.IsActive || !got.MemberOf(c2.ID) {
		t.Fatalf("bob after the refused write: %+v, want active, in c2", got)
	}

	if _, err := b.st.Users.ChangeCenter(b.ctx, domain.System, c1.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	b.db.Meanwhile(t, func() { _, werr = users.ChangeRole(b.ctx, domain.By(alice.ID), domain.RoleAdmin, bob.ID) },
		"UPDATE public.users SET is_superuser = true WHERE id = $1", bob.ID)
	if !errors.Is(werr, errRefused) {
		t.Fatalf("promoting bob made a superuser meanwhile: %v, want refused", werr)
	}
	if got, _ := b.st.Users.Get(b.ctx, bob.ID); got.Role != domain.RoleUser || !got.IsSuperuser {
		t.Fatalf("bob after the refused write: %+v, want role user, superuser", got)
	}

	b.db.Meanwhile(t, func() { _, werr = b.st.Users.SetActive(b.ctx, domain.System, false, bob.ID) },
		"UPDATE public.users SET center_id = $1 WHERE id = $2", c2.ID, bob.ID)
	if got, _ := b.st.Users.Get(b.ctx, bob.ID); werr != nil || got.IsActive || !got.MemberOf(c2.ID) {
		t.Fatalf("the operator's write: %+v, %v; want bob deactivated in c2", got, werr)
	}
}

// TestBulkCrossed: two admins each change the other at the same time,
// then both change the two of them, in opposite orders, round after round.
// No write may deadlock: the rows are locked in id order, and with a lock
// that leaves free the KEY SHARE lock each UPDATE's updated_by takes on
// its actor's row, which the other write has locked.
func TestBulkCrossed(t *testing.T) {
	b := setup(t)
	c := b.center(t, "One", "")
	alice := b.user(t, "alice", &c.ID, domain.RoleAdmin)
	ann := b.user(t, "ann", &c.ID, domain.RoleAdmin)
	// concurrently runs alice's write over aliceIDs and ann's over annIDs at
	// the same time.
	concurrently := func(aliceIDs, annIDs []uuid.UUID) error {
		// updated_by must change for its foreign key to be checked.
		if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.users SET updated_by = NULL"); err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, errs[0] = b.st.Users.Checked(managedBy(alice)).ChangeRole(b.ctx, domain.By(alice.ID), domain.RoleAdmin, aliceIDs...)
		})
		wg.Go(func() {
			<-start
			_, errs[1] = b.st.Users.Checked(managedBy(ann)).SetActive(b.ctx, domain.By(ann.ID), true, annIDs...)
		})
		close(start)
		wg.Wait()
		return errors.Join(errs...)
	}
	for round := range 20 {
		if err := concurrently([]uuid.UUID{ann.ID}, []uuid.UUID{alice.ID}); err != nil {
			t.Fatalf("round %d, each the other: %v", round, err)
		}
		if err := concurrently([]uuid.UUID{ann.ID, alice.ID}, []uuid.UUID{alice.ID, ann.ID}); err != nil {
			t.Fatalf("round %d, both in opposite orders: %v", round, err)
		}
	}
}

// tripCounter counts what a pool sends: each query and each batch is one
// round trip (the statement cache is warm in the steady state).
type tripCounter struct {
	mu sync.Mutex
	n  int
}

func (c *tripCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }

// trips returns how many round trips fn took, after a first run of fn
// that prepares its statements.
func (c *tripCounter) trips(t *testing.T, fn func() error) int {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.n = 0
	c.mu.Unlock()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// tripStore is a Store over b's database on a pool of one connection, as
// the product configures it, whose round trips counter counts: a query
// or a batch, pipelined, is one.
func tripStore(t *testing.T, b *bundle) (*domain.Store, *tripCounter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(b.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	db.ConfigurePool(cfg)
	counter := &tripCounter{}
	cfg.ConnConfig.Tracer = counter
	cfg.MaxConns = 1 // one connection, whose statement cache the first calls warm
	pool := tenancytest.PoolWithConfig(t, cfg)
	m, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return domain.New(pool, m), counter
}

func (c *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.add()
	return ctx
}

func (*tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.add()
	return ctx
}

func (*tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestBulkTrips: a bulk write is two round trips, the lock travelling
// with BEGIN (and ChangeCenter's check of the center), COMMIT with the
// UPDATE; a refusal's second is the ROLLBACK.
func TestBulkTrips(t *testing.T) {
	b := setup(t)
	st, counter := tripStore(t, b)
	c1, c2 := b.center(t, "One", ""), b.center(t, "Two", "")
	alice := b.user(t, "alice", &c1.ID, domain.RoleAdmin)
	bob := b.user(t, "bob", &c1.ID, domain.RoleUser)
	carol := b.user(t, "carol", &c2.ID, domain.RoleUser)
	users := st.Users.Checked(managedBy(alice))
	for _, tc := range []struct {
		name  string
		trips int
		write func() error
	}{
		{"SetActive", 2, func() error {
			_, err := users.SetActive(b.ctx, domain.By(alice.ID), true, bob.ID)
			return err
		}},
		{"ChangeCenter", 2, func() error {
			_, err := st.Users.ChangeCenter(b.ctx, domain.System, c1.ID, bob.ID)
			return err
		}},
		{"refused", 2, func() error {
			_, err := users.SetActive(b.ctx, domain.By(alice.ID), true, carol.ID)
			if !errors.Is(err, errRefused) {
				return fmt.Errorf("want refused, got %w", err)
			}
			return nil
		}},
	} {
		if n := counter.trips(t, tc.write); n != tc.trips {
			t.Errorf("%s: %d round trips, want %d", tc.name, n, tc.trips)
		}
	}
}
