package tenancy

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Problem is something wrong with a tenant that Inspect found.
type Problem string

// The problems Inspect reports.
const (
	// ProblemOrphanSchema: a schema with the Manager's naming has no ledger row.
	ProblemOrphanSchema Problem = "orphan-schema"
	// ProblemMissingSchema: a ledger row's schema does not exist.
	ProblemMissingSchema Problem = "missing-schema"
	// ProblemBehind: the tenant has migrations pending.
	ProblemBehind Problem = "behind"
	// ProblemAhead: the tenant is at a version above every known migration (a
	// newer binary migrated it, or files were removed).
	ProblemAhead Problem = "ahead"
	// ProblemDrift: an applied migration's checksum differs from the file's now
	// (the file was edited after it ran).
	ProblemDrift Problem = "drift"
	// ProblemLastFailed: the tenant's last migration attempt failed.
	ProblemLastFailed Problem = "last-failed"
)

// AppliedMigration is a ledger entry: one migration applied to one tenant.
type AppliedMigration struct {
	Version   int32
	Name      string
	Checksum  string
	AppliedAt time.Time
	Duration  time.Duration
}

// TenantStatus is one tenant as the ledger and the catalog see it.
type TenantStatus struct {
	TenantID uuid.UUID
	Schema   string
	// InLedger and SchemaExists are both true for a healthy tenant.
	InLedger     bool
	SchemaExists bool
	Version      int32
	CreatedAt    time.Time
	MigratedAt   *time.Time
	LastError    string
	LastErrorAt  *time.Time
	Applied      []AppliedMigration
	// DriftedVersions lists applied versions whose checksum no longer
	// matches the migration file.
	DriftedVersions []int32
	Problems        []Problem
}

// OK reports whether Inspect found nothing wrong with the tenant.
func (s TenantStatus) OK() bool { return len(s.Problems) == 0 }

// Inspect reports every tenant of the Manager's naming: the ledger's rows
// joined to the catalog's schemas, with each tenant's applied migrations and
// problems, in one query whatever the number of tenants. Tenants are in
// schema-name order.
func (m *Manager) Inspect(ctx context.Context) ([]TenantStatus, error) {
	rows, err := m.pool.Query(ctx, `
WITH s AS (
	SELECT nspname::text AS schema_name FROM pg_namespace
	WHERE nspname ~ ('^' || $1 || '[0-9a-f]{32}$')
), t AS (
	SELECT t.tenant_id, t.schema_name, t.version, t.created_at, t.migrated_at, t.last_error, t.last_error_at,
		coalesce(array_agg(g.version ORDER BY g.version) FILTER (WHERE g.version IS NOT NULL), '{}') AS versions,
		coalesce(array_agg(g.name ORDER BY g.version) FILTER (WHERE g.version IS NOT NULL), '{}') AS names,
		coalesce(array_agg(g.checksum ORDER BY g.version) FILTER (WHERE g.version IS NOT NULL), '{}') AS checksums,
		coalesce(array_agg(g.applied_at ORDER BY g.version) FILTER (WHERE g.version IS NOT NULL), '{}') AS applied,
		coalesce(array_agg(g.duration_us ORDER BY g.version) FILTER (WHERE g.version IS NOT NULL), '{}') AS durations
	FROM `+m.tenantsTbl+` t LEFT JOIN `+m.migTbl+` g USING (tenant_id)
	WHERE t.schema_name ~ ('^' || $1 || '[0-9a-f]{32}$') -- not starts_with: another prefix may extend this one
	GROUP BY t.tenant_id
)
SELECT coalesce(t.schema_name, s.schema_name), t.tenant_id IS NOT NULL, s.schema_name IS NOT NULL,
	coalesce(t.version, 0), coalesce(t.created_at, 'epoch'), t.migrated_at, coalesce(t.last_error, ''), t.last_error_at,
	coalesce(t.versions, '{}'), coalesce(t.names, '{}'), coalesce(t.checksums, '{}'), coalesce(t.applied, '{}'), coalesce(t.durations, '{}')
FROM t FULL JOIN s USING (schema_name)
ORDER BY 1`, m.prefix)
	if err != nil {
		return nil, wrapErr("inspect", "ledger", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TenantStatus, error) {
		var (
			st        TenantStatus
			versions  []int32
			names     []string
			checksums []string
			applied   []time.Time
			durations []int64
		)
		err := row.Scan(&st.Schema, &st.InLedger, &st.SchemaExists, &st.Version, &st.CreatedAt, &st.MigratedAt,
			&st.LastError, &st.LastErrorAt, &versions, &names, &checksums, &applied, &durations)
		if err != nil {
			return st, err
		}
		st.Applied = make([]AppliedMigration, len(versions))
		for i := range versions {
			st.Applied[i] = AppliedMigration{Version: versions[i], Name: names[i], Checksum: checksums[i],
				AppliedAt: applied[i], Duration: time.Duration(durations[i]) * time.Microsecond}
		}
		return st, nil
	})
	if err != nil {
		return nil, wrapErr("inspect", "ledger", err)
	}
	for i := range out {
		m.diagnose(&out[i])
	}
	return out, nil
}

// diagnose fills in the tenant id and the problems of a status row.
func (m *Manager) diagnose(st *TenantStatus) {
	// The query only returns names of the Manager's exact shape, so this
	// cannot fail; the id comes from the name either way.
	st.TenantID, _ = m.ParseSchemaName(st.Schema)
	if !st.InLedger {
		st.Problems = append(st.Problems, ProblemOrphanSchema)
		return
	}
	if !st.SchemaExists {
		st.Problems = append(st.Problems, ProblemMissingSchema)
	}
	switch latest := m.LatestVersion(); {
	case st.Version < latest:
		st.Problems = append(st.Problems, ProblemBehind)
	case st.Version > latest:
		st.Problems = append(st.Problems, ProblemAhead)
	}
	for _, a := range st.Applied {
		if int(a.Version) <= len(m.migrations) && m.migrations[a.Version-1].Checksum != a.Checksum {
			st.DriftedVersions = append(st.DriftedVersions, a.Version)
		}
	}
	if len(st.DriftedVersions) > 0 {
		st.Problems = append(st.Problems, ProblemDrift)
	}
	if st.LastError != "" {
		st.Problems = append(st.Problems, ProblemLastFailed)
	}
}
