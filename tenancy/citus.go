package tenancy

import (
	"context"
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
