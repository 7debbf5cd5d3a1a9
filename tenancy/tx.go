package tenancy

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// InTenant runs fn in a transaction whose search_path is tenant id's schema
// (then Config.SearchPath), and commits if fn returns nil.
//
// # Why a transaction-local search_path
//
// The schema is switched with set_config(..., true), SET LOCAL taking its
// value as a parameter, pipelined with BEGIN, so entering a tenant costs no
// round trip beyond the transaction's own BEGIN and COMMIT (InTenantBatch).
// SET LOCAL dies with the transaction:
// commit, rollback, or a connection lost mid-way all leave the pooled
// connection as it was, so a tenant can never leak into the next user of the
// connection. Behind PgBouncer in transaction pooling mode the whole
// transaction runs on one server connection, which is exactly the scope of
// SET LOCAL. The alternative, schema-qualified SQL, would make every query of
// the application carry the schema and defeat prepared statements shared
// across tenants.
//
// fn's queries may be prepared and cached by pgx as usual: PostgreSQL
// re-plans a cached statement when search_path differs from the one it was
// planned with, so one statement serves every tenant. The exception is a
// statement whose result columns differ between tenants, which happens while
// a migration is rolling out: "SELECT *" or "RETURNING *" over a table that
// gained a column fails once with "cached plan must not change result type"
// (SQLSTATE 0A000) before pgx drops the statement. Name the columns.
//
// Behind PgBouncer in transaction pooling mode, statements must not be
// prepared per connection unless PgBouncer tracks them (1.21+ with
// max_prepared_statements); otherwise set pgx's default_query_exec_mode to
// exec or simple_protocol in the connection string.
//
// InTenant does not check that the tenant exists: a missing schema makes
// fn's queries fail with "relation does not exist". Resolve tenants first
// (package tenancyhttp does it for HTTP requests) when the id comes from
// outside.
func (m *Manager) InTenant(ctx context.Context, id uuid.UUID, fn func(pgx.Tx) error) error {
	return m.InTenantBatch(ctx, id, pgx.TxOptions{}, nil, fn)
}

// InTenantTx is InTenant with transaction options (isolation level, access
// mode, deferrable). TxOptions.BeginQuery and CommitQuery are not supported.
func (m *Manager) InTenantTx(ctx context.Context, id uuid.UUID, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	return m.InTenantBatch(ctx, id, opts, nil, fn)
}

// InTenantBatch is InTenantTx whose first queries travel with BEGIN and the
// tenant's search_path in one round trip (pgx's Batch.BeginTx): queue, which
// may be nil, queues them on the batch and reads their results with the
// queued queries' callbacks (QueuedQuery.QueryRow, Query, Exec). Then fn,
// which may be nil, runs in the same transaction, and the transaction
// commits if nothing failed. An error of a queued query, of a callback or of
// fn rolls everything back.
//
// The queued queries must name their tables with their schema, or not
// depend on search_path at all: pgx prepares a batch's statements that are
// new to the connection before it sends the batch, that is before the
// tenant's search_path is set. A check of a registry row in public fits;
// the tenant's own tables are fn's business.
//
// A read-only transaction (opts.AccessMode pgx.ReadOnly) with no fn sends
// its COMMIT in the same batch, so it is a single round trip. A callback's
// error then cannot stop the commit, which is harmless only because nothing
// was written; a read-write transaction commits after the callbacks
// succeeded.
func (m *Manager) InTenantBatch(ctx context.Context, id uuid.UUID, opts pgx.TxOptions, queue func(*pgx.Batch), fn func(pgx.Tx) error) error {
	if err := checkTxOptions(opts); err != nil {
		return err
	}
	var b pgx.Batch
	b.BeginTx(opts)
	// set_config(..., true) is SET LOCAL taking its value as a parameter;
	// its text is the same for every tenant, so it is prepared once.
	b.Queue("SELECT set_config('search_path', $1, true)", pgx.Identifier{m.SchemaName(id)}.Sanitize()+m.searchPath)
	if queue != nil {
		queue(&b)
	}
	oneTrip := fn == nil && opts.AccessMode == pgx.ReadOnly
	if oneTrip {
		b.Queue("COMMIT")
	}
	br := m.pool.SendBatch(ctx, &b)
	tx := br.Tx()
	defer tx.Rollback(ctx) // a no-op once committed; otherwise the error that matters is returned below
	if err := br.Close(); err != nil {
		return err
	}
	if oneTrip {
		return nil
	}
	if fn != nil {
		if err := fn(tx); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// checkTxOptions accepts only pgx's own constants: pgx renders the options
// into the text of BEGIN, so nothing else may reach it.
func checkTxOptions(opts pgx.TxOptions) error {
	if opts.BeginQuery != "" || opts.CommitQuery != "" {
		return fmt.Errorf("tenancy: TxOptions.BeginQuery and CommitQuery are not supported")
	}
	switch opts.IsoLevel {
	case "", pgx.Serializable, pgx.RepeatableRead, pgx.ReadCommitted, pgx.ReadUncommitted:
	default:
		return fmt.Errorf("tenancy: unknown isolation level %q", opts.IsoLevel)
	}
	switch opts.AccessMode {
	case "", pgx.ReadWrite, pgx.ReadOnly:
	default:
		return fmt.Errorf("tenancy: unknown access mode %q", opts.AccessMode)
	}
	switch opts.DeferrableMode {
	case "", pgx.Deferrable, pgx.NotDeferrable:
	default:
		return fmt.Errorf("tenancy: unknown deferrable mode %q", opts.DeferrableMode)
	}
	return nil
}
