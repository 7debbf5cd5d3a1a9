package tenancy

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Problem is something wrong with a tenant that Inspect found.
type Problem string

// The problems Inspect reports.
const (
	// ProblemOrphanSchema: a schema with the Manager's naming (a tenant's
	// or a pool member's) has no ledger row.
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

// TenantStatus is one tenant, or one warm pool member, as the ledger and
// the catalog see it.
type TenantStatus struct {
	TenantID uuid.UUID // zero for a pool member
	Schema   string
	// PoolMember marks a member of the warm pool (Schema is the prefix,
	// "pool_" and 27 hex digits): no tenant's yet, and no orphan while its
	// ledger row exists. Its problems are a tenant's, last-failed aside.
	PoolMember bool
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
// problems, in one query whatever the number of tenants. The warm pool's
// members are reported too, with PoolMember set (and a zero TenantID), so
// that a member is never mistaken for an orphan. Tenants and members are
// in schema-name order.
func (m *Manager) Inspect(ctx context.Context) ([]TenantStatus, error) {
	// t is the ledger's rows, of tenants and of pool members, each with
	// its migrations; s is the catalog's schemas. Both are taken by
	// prefix alone and the exact shapes checked here, below: another
	// prefix may extend this one, and a regular expression per row cost
	// more than the rest of the query at 10,000 tenants. Migrations are
	// aggregated by tenant id, in a CTE of their own so that PostgreSQL,
	// which cannot estimate the prefix tests, hashes instead of looping.
	rows, err := m.pool.Query(ctx, `
WITH s AS (
	SELECT nspname::text AS schema_name FROM pg_namespace WHERE starts_with(nspname::text, $1)
), g AS MATERIALIZED (
	SELECT tenant_id, array_agg(version ORDER BY version) AS versions, array_agg(name ORDER BY version) AS names,
		array_agg(checksum ORDER BY version) AS checksums, array_agg(applied_at ORDER BY version) AS applied,
		array_agg(duration_us ORDER BY version) AS durations
	FROM `+m.migTbl+` GROUP BY tenant_id
), pg AS MATERIALIZED (
	SELECT g.schema_name, array_agg(g.version ORDER BY g.version) AS versions, array_agg(g.name ORDER BY g.version) AS names,
		array_agg(g.checksum ORDER BY g.version) AS checksums, array_agg(g.applied_at ORDER BY g.version) AS applied,
		array_agg(g.duration_us ORDER BY g.version) AS durations
	FROM `+m.warm.migrations+` g JOIN `+m.warm.members+` p USING (schema_name) WHERE p.prefix = $1 GROUP BY g.schema_name
), t AS (
	SELECT l.schema_name, l.version, l.created_at, l.migrated_at, l.last_error, l.last_error_at,
		g.versions, g.names, g.checksums, g.applied, g.durations
	FROM `+m.tenantsTbl+` l LEFT JOIN g USING (tenant_id) WHERE starts_with(l.schema_name, $1)
	UNION ALL
	SELECT p.schema_name, p.version, p.created_at, p.migrated_at, NULL, NULL,
		pg.versions, pg.names, pg.checksums, pg.applied, pg.durations
	FROM `+m.warm.members+` p LEFT JOIN pg USING (schema_name) WHERE p.prefix = $1
)
SELECT coalesce(t.schema_name, s.schema_name), t.schema_name IS NOT NULL, s.schema_name IS NOT NULL,
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
	out = slices.DeleteFunc(out, func(st TenantStatus) bool { return !m.isTenantSchema(st.Schema) && !m.IsPoolMember(st.Schema) })
	for i := range out {
		m.diagnose(&out[i])
	}
	return out, nil
}

// diagnose fills in the tenant id and the problems of a status row.
func (m *Manager) diagnose(st *TenantStatus) {
	// Inspect keeps only names of the Manager's exact shapes, so this
	// fails for a member only, whose TenantID stays zero; a tenant's id
	// comes from the name either way.
	st.PoolMember = m.IsPoolMember(st.Schema)
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
