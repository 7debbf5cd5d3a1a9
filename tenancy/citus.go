package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// On a Citus coordinator with citus.enable_schema_based_sharding on, every
// tenant schema the Manager creates is a distributed schema: its tables
// live on one worker, and a tenant transaction's SET LOCAL search_path
// routes it there. The library finds Citus out by itself (citus below), so
// nothing is configured for it; what differs is done here and in
// runMigrations. Citus's schema-based sharding, with citus_schemas and
// citus_shards for where a schema is and how large:
// https://www.citusdata.com/blog/2023/07/31/schema-based-sharding-comes-to-postgres-with-citus/
// and its functions: https://docs.citusdata.com/en/latest/develop/api_udf.html

// ErrNotCitus is returned by the operations that need a Citus coordinator
// (MoveTenant, Rebalance) on any other database.
var ErrNotCitus = errors.New("this database is not a Citus coordinator")

// The Manager's knowledge of Citus, in Manager.citusState.
const (
	citusUnknown int32 = iota // not asked yet (or the last ask failed)
	citusAbsent
	citusPresent
)

// rowQuerier is what citus asks through: the pool, or a transaction of
// the caller's, so that finding out never needs a second connection.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// IsCitus reports whether the database is a Citus coordinator (the citus
// extension is installed). It asks the database once per Manager and
// remembers the answer: an extension is not installed or dropped under a
// running application.
func (m *Manager) IsCitus(ctx context.Context) (bool, error) { return m.citus(ctx, m.pool) }

// citus is IsCitus asking through q when the answer is not known yet. Two
// first askers at once both ask and store the same answer.
func (m *Manager) citus(ctx context.Context, q rowQuerier) (bool, error) {
	switch m.citusState.Load() {
	case citusPresent:
		return true, nil
	case citusAbsent:
		return false, nil
	}
	var present bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')").Scan(&present); err != nil {
		return false, fmt.Errorf("is the database Citus: %w", err)
	}
	state := citusAbsent
	if present {
		state = citusPresent
	}
	m.citusState.Store(state)
	return present, nil
}

// ddlSettings returns the SET LOCAL statements a transaction that makes
// or changes a tenant's schema runs first: none on PostgreSQL. Citus
// refuses CREATE TRIGGER on a distributed table (every table of a
// distributed schema is one) unless citus.enable_unsafe_triggers is on;
// it is a user-settable setting, so the transaction turns it on for
// itself alone. A trigger then fires on the worker holding the shard,
// which is where a tenant's rows live anyway. Migrations, clones and
// imports all create triggers, and all take their settings from here.
// https://docs.citusdata.com/en/latest/develop/api_guc.html#citus-enable-unsafe-triggers-boolean
func (m *Manager) ddlSettings(ctx context.Context, q rowQuerier) ([]string, error) {
	citus, err := m.citus(ctx, q)
	if err != nil || !citus {
		return nil, err
	}
	return []string{"SET LOCAL citus.enable_unsafe_triggers = on"}, nil
}

// SchemaSizesSQL returns the one query of schema sizes, for a caller that
// sends it in a batch of its own: $1 is a text[] of schema names, and it
// returns a row (schema_name text, size_bytes bigint) per schema that
// exists. A schema's size sums its tables' (data, indexes and TOAST, each
// index counted once), materialized views' and sequences' total relation
// size. On Citus a distributed table's data lives on a worker, and the
// coordinator's pg_total_relation_size is of its empty shell there, so a
// distributed table's size is Citus's citus_total_relation_size, the sum
// over its shards
// (https://docs.citusdata.com/en/latest/admin_guide/table_management.html#determining-table-and-relation-size);
// what stays local (sequences) is measured as on PostgreSQL. A worker
// that cannot be reached fails the query rather than be counted as 0.
func (m *Manager) SchemaSizesSQL(ctx context.Context) (string, error) {
	citus, err := m.IsCitus(ctx)
	if err != nil {
		return "", fmt.Errorf("tenancy: schema sizes: %w", err)
	}
	return schemaSizesQuery(citus, false), nil
}

// schemaSizesQuery is SchemaSizesSQL's query, on Citus or not, for a few
// schemas or (fleet) for a whole fleet's. citus_total_relation_size asks
// a worker once per table, so a fleet of 10,000 tenants would be some
// 50,000 round trips; citus_shard_sizes() (Citus 12.0 and later, as
// schema-based sharding is) asks each node once for the total relation
// size of all its shards, which costs a node as much for one tenant as
// for all, hence that route for the fleet and the other for a few.
// citus_shard_sizes() leaves out, with a warning, the shards of a node it
// cannot reach: a table with no size from it is measured again by
// citus_total_relation_size, which fails the query for an unreachable
// node rather than count it as 0.
// https://docs.citusdata.com/en/latest/develop/api_udf.html#citus-shard-sizes
func schemaSizesQuery(citus, fleet bool) string {
	size, with, joins := "pg_total_relation_size(r.oid)", "", ""
	if citus {
		dist := "citus_total_relation_size(r.oid)"
		joins = " LEFT JOIN pg_dist_partition p ON p.logicalrelid = r.oid"
		if fleet {
			with = "WITH shards AS (SELECT sh.logicalrelid, sum(z.size) AS size FROM citus_shard_sizes() z" +
				" JOIN pg_dist_shard sh ON sh.shardid = z.shard_id GROUP BY sh.logicalrelid) "
			joins += " LEFT JOIN shards s ON s.logicalrelid = r.oid"
			dist = "coalesce(s.size, " + dist + ")"
		}
		size = "CASE WHEN p.logicalrelid IS NULL THEN pg_total_relation_size(r.oid) ELSE " + dist + " END"
	}
	return with + "SELECT n.nspname::text, coalesce(sum(" + size + "), 0)::bigint FROM pg_namespace n" +
		" LEFT JOIN pg_class r ON r.relnamespace = n.oid AND r.relkind IN ('r', 'm', 'S')" + joins +
		" WHERE n.nspname = ANY($1::text[]) GROUP BY n.nspname"
}

// SchemaSizes returns the size in bytes of each of schemas that exists
// (SchemaSizesSQL), keyed by name.
func (m *Manager) SchemaSizes(ctx context.Context, schemas []string) (map[string]int64, error) {
	sql, err := m.SchemaSizesSQL(ctx)
	if err != nil {
		return nil, err
	}
	return m.schemaSizes(ctx, sql, schemas)
}

// fleetSizes is SchemaSizes for a whole fleet's schemas (see
// schemaSizesQuery).
func (m *Manager) fleetSizes(ctx context.Context, citus bool, schemas []string) (map[string]int64, error) {
	return m.schemaSizes(ctx, schemaSizesQuery(citus, true), schemas)
}

// schemaSizes runs sql, a query of SchemaSizesSQL's form, over schemas.
func (m *Manager) schemaSizes(ctx context.Context, sql string, schemas []string) (map[string]int64, error) {
	rows, err := m.pool.Query(ctx, sql, schemas)
	if err != nil {
		return nil, fmt.Errorf("tenancy: schema sizes: %w", err)
	}
	sizes := make(map[string]int64, len(schemas))
	var name string
	var size int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &size}, func() error {
		sizes[name] = size
		return nil
	}); err != nil {
		return nil, fmt.Errorf("tenancy: schema sizes: %w", err)
	}
	return sizes, nil
}
