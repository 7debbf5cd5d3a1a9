package domain_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestMain fails the package if a test leaves a goroutine behind (a pool
// not closed, a concurrent writer still running).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type bundle struct {
	ctx context.Context
	db  *testdb.DB
	st  *domain.Store
}

func setup(t *testing.T) *bundle {
	t.Helper()
	t.Parallel()
	return newBundle(t)
}

// newBundle is setup for benchmarks too.
func newBundle(t testing.TB) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	db := testdb.New(t)
	st := domain.New(db.Pool, db.Tenancy)
	domain.SetPasswordParams(st, &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	return &bundle{ctx: ctx, db: db, st: st}
}

func (b *bundle) center(t testing.TB, name string, settings string) domain.Center {
	t.Helper()
	c, err := b.st.Centers.Create(b.ctx, domain.System, domain.CenterInput{Name: name, Settings: json.RawMessage(settings)})
	if err != nil {
		t.Fatalf("create center %q: %v", name, err)
	}
	return c
}

func (b *bundle) user(t testing.TB, username string, center *uuid.UUID, role domain.Role) domain.User {
	t.Helper()
	u, err := b.st.Users.Create(b.ctx, domain.System, domain.UserInput{
		Username: username, Email: username + "@example.com", CenterID: center, Role: role, IsSuperuser: center == nil})
	if err != nil {
		t.Fatalf("create user %q: %v", username, err)
	}
	return u
}

func (b *bundle) sample(t testing.TB, c domain.Center, u domain.User, in domain.SampleInput) domain.Sample {
	t.Helper()
	if in.Name == "" {
		in.Name = "sample " + in.Barcode
	}
	if in.SampleType == "" {
		in.SampleType = "blood"
	}
	s, err := b.st.Samples.Create(b.ctx, c.ID, domain.By(u.ID), in)
	if err != nil {
		t.Fatalf("create sample %q: %v", in.Barcode, err)
	}
	return s
}

// setStatus forces a sample's status, bypassing the state machine.
func (b *bundle) setStatus(t *testing.T, c domain.Center, id uuid.UUID, s domain.Status) {
	t.Helper()
	err := b.db.Tenancy.InTenant(b.ctx, c.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(b.ctx, "UPDATE samples SET status = $2 WHERE id = $1", id, string(s))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.db.Pool.QueryRow(b.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// wantFields fails unless err is a *ValidationError naming exactly fields.
func wantFields(t *testing.T, err error, fields ...string) *domain.ValidationError {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want *ValidationError on %v", err, err, fields)
	}
	var got []string
	for f := range ve.Fields {
		got = append(got, f)
	}
	slices.Sort(got)
	slices.Sort(fields)
	if !slices.Equal(got, fields) {
		t.Fatalf("validation error fields = %v, want %v (%v)", got, fields, ve)
	}
	return ve
}

func wantConflict(t *testing.T, err error, field string) {
	t.Helper()
	var ce *domain.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, domain.ErrConflict) || ce.Field != field {
		t.Fatalf("error = %v (%T), want *ConflictError on %s", err, err, field)
	}
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("error = %v (%T), want ErrNotFound", err, err)
	}
}

func ptr[T any](v T) *T { return &v }
