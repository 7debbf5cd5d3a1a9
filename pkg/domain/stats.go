package domain

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Stats are a center's figures, as GET /api/centers/{id}/stats/ returns
// them. Counts are of active rows (soft-deleted samples and users are left
// out). ByStatus and ByRole list every status and role, zeros included;
// ByType lists the types that occur.
type Stats struct {
	Center  Center      `json:"center"`
	Samples SampleStats `json:"samples"`
	Users   UserStats   `json:"users"`
	Schema  SchemaStats `json:"schema"`
}

// SampleStats counts a center's samples.
type SampleStats struct {
	Total    int            `json:"total"`
	ByStatus map[Status]int `json:"by_status"`
	ByType   map[string]int `json:"by_type"`
}

// UserStats counts a center's members.
type UserStats struct {
	Total  int          `json:"total"`
	ByRole map[Role]int `json:"by_role"`
}

// SchemaStats describes a center's schema.
type SchemaStats struct {
	Name string `json:"name"`
	// MigrationVersion is the tenant's version in the tenancy ledger.
	MigrationVersion int32 `json:"migration_version"`
	// SizeBytes is the schema's size as tenancy measures it
	// (Manager.SchemaSizesSQL): data, indexes and TOAST of its tables,
	// materialized views and sequences, on whichever node of a Citus
	// cluster they live.
	SizeBytes int64 `json:"size_bytes"`
}

// newSampleStats are zero samples, with every status listed.
func newSampleStats() SampleStats {
	s := SampleStats{ByStatus: make(map[Status]int, len(Statuses)), ByType: map[string]int{}}
	for _, v := range Statuses {
		s.ByStatus[v] = 0
	}
	return s
}

// newUserStats are zero users, with every role listed.
func newUserStats() UserStats {
	u := UserStats{ByRole: make(map[Role]int, len(Roles))}
	for _, r := range Roles {
		u.ByRole[r] = 0
	}
	return u
}

// Stats returns center id's figures in one read-only transaction of one
// round trip: the center, its schema's version and size, its members and
// its samples, counted by statements that travel with BEGIN and COMMIT. A
// soft-deleted center has stats too (Center.IsActive says so); the API
// decides who may see them. (The Manager's first Stats asks the database
// once more, whether it is Citus: the size is measured differently there.)
func (s *Store) Stats(ctx context.Context, id uuid.UUID) (Stats, error) {
	st := Stats{Samples: newSampleStats(), Users: newUserStats()}
	st.Schema.Name = s.m.SchemaName(id)
	sizeSQL, err := s.m.SchemaSizesSQL(ctx)
	if err != nil {
		return st, err
	}
	// The registry's statements before the switch, the samples' after it.
	err = s.m.InTenantBatch(ctx, id, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(b, inside *pgx.Batch) {
		s.queueGuard(ctx, b)
		b.Queue("SELECT "+centerCols+" FROM public.centers WHERE id = $1", id).QueryRow(func(row pgx.Row) (err error) {
			st.Center, err = scanCenter(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("center", id.String())
			}
			return err
		})
		// The version comes from package tenancy's ledger table, which
		// pkg/db.NewTenancy puts in public: one row of it, where Inspect
		// would read the whole fleet.
		b.Queue("SELECT coalesce((SELECT version FROM public.tenancy_tenants WHERE tenant_id = $1), 0)", id).
			QueryRow(func(row pgx.Row) error { return row.Scan(&st.Schema.MigrationVersion) })
		b.Queue(sizeSQL, []string{st.Schema.Name}).QueryRow(func(row pgx.Row) error {
			var name string
			err := row.Scan(&name, &st.Schema.SizeBytes)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // no schema, no size; a missing center is the query above's error
			}
			return err
		})
		b.Queue("SELECT role, count(*) FROM public.users WHERE center_id = $1 AND is_active GROUP BY role", id).
			Query(func(rows pgx.Rows) error {
				var role Role
				var n int
				_, err := pgx.ForEachRow(rows, []any{&role, &n}, func() error {
					st.Users.ByRole[role] = n
					st.Users.Total += n
					return nil
				})
				return err
			})
		inside.Queue("SELECT status, sample_type, count(*) FROM samples WHERE is_active GROUP BY status, sample_type").
			Query(func(rows pgx.Rows) error {
				var status Status
				var typ string
				var n int
				_, err := pgx.ForEachRow(rows, []any{&status, &typ, &n}, func() error {
					st.Samples.ByStatus[status] += n
					st.Samples.ByType[typ] += n
					st.Samples.Total += n
					return nil
				})
				return err
			})
	}, nil)
	return st, err
}
