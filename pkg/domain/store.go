package domain

import (
	"sync"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// Store is the domain over a pool and a tenancy.Manager. It is safe for
// concurrent use; its zero value is not usable, call New.
type Store struct {
	pool *pgxpool.Pool
	m    *tenancy.Manager

	Centers  *Centers
	Users    *Users
	Samples  *Samples
	Tokens   *Tokens
	Sessions *Sessions

	// params hashes new passwords; dummy is a hash made with them, verified
	// against when a username is unknown so that timing does not tell.
	params    *argon2id.Params
	dummyOnce sync.Once
	dummy     string
}

// Pool returns the pool the Store works over, for what reads the database
// outside the domain (health checks, pool metrics, a LISTEN connection's
// settings).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Tenancy returns the Manager the Store enters tenant schemas through, for
// what reads the fleet's migration state (Inspect, Migrate).
func (s *Store) Tenancy() *tenancy.Manager { return s.m }

// New returns a Store over pool, entering tenant schemas through m (which
// must name schemas as public.centers.schema_name does: pkg/db.NewTenancy).
func New(pool *pgxpool.Pool, m *tenancy.Manager) *Store {
	s := &Store{pool: pool, m: m, params: DefaultPasswordParams}
	s.Centers = &Centers{s}
	s.Users = &Users{s}
	s.Samples = &Samples{s}
	s.Tokens = &Tokens{s}
	s.Sessions = &Sessions{s}
	return s
}

// DefaultPasswordParams are the argon2id parameters of new password hashes:
// OWASP's recommendation (19 MiB, 2 passes, 1 lane). Existing hashes carry
// their own parameters in PHC format and keep verifying if these change.
var DefaultPasswordParams = &argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// Actor is who performs a write: its ID fills created_by and updated_by.
// The zero Actor (System) is the system itself and writes nulls.
type Actor struct {
	ID uuid.UUID
}

// System is the Actor of writes no user asked for (seed, migrations).
var System = Actor{}

// By returns the Actor of user id.
func By(id uuid.UUID) Actor { return Actor{ID: id} }

// nullID is the actor as a nullable column value.
func (a Actor) nullID() uuid.NullUUID {
	return uuid.NullUUID{UUID: a.ID, Valid: a.ID != uuid.Nil}
}

// Pagination limits, as the API's LimitOffsetPagination.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ListOptions pages and filters the lists of centers and users.
type ListOptions struct {
	// Limit is the page size: 0 means DefaultLimit; above MaxLimit is
	// clamped to MaxLimit; negative is invalid.
	Limit int
	// Offset skips that many rows; negative is invalid.
	Offset int
	// IncludeInactive includes soft-deleted rows.
	IncludeInactive bool
	// IDs, when not nil, restricts the list to these ids (a caller's own
	// center, or themselves). An empty non-nil slice lists nothing.
	IDs []uuid.UUID
	// CenterID, when set, restricts a list of users to the members of that
	// center. Ignored by Centers.List (use IDs).
	CenterID *uuid.UUID
}

// page validates limit and offset into f and applies their defaults.
func page(f *fieldErrors, limit, offset int) (int, int) {
	if limit < 0 {
		f.add("limit", "must be a positive integer")
	}
	if offset < 0 {
		f.add("offset", "must be zero or a positive integer")
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	return min(limit, MaxLimit), max(offset, 0)
}
