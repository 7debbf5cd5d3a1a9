package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
// the application carry the schema and give each tenant statements of its
// own in pgx's per-connection cache (512 entries), which a large fleet
// overflows (BenchmarkReadMode).
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
	return m.InTenantTx(ctx, id, pgx.TxOptions{}, fn)
}

// InTenantTx is InTenant with transaction options (isolation level, access
// mode, deferrable). TxOptions.BeginQuery and CommitQuery are not supported.
func (m *Manager) InTenantTx(ctx context.Context, id uuid.UUID, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	return m.InTenantBatch(ctx, id, opts, nil, func(tx pgx.Tx, _ *pgx.Batch) error { return fn(tx) })
}

// InTenantBatch is InTenantTx in the fewest round trips: queue's queries
// travel with BEGIN and the tenant's search_path (pgx's Batch.BeginTx), and
// the queries fn queues on last travel with COMMIT. queue, which may be nil,
// queues the first queries and reads their results with the queued
// queries' callbacks (QueuedQuery.QueryRow, Query, Exec): on inside those
// that run in the tenant's schema, on outside those that do not depend on
// it (the application's registry, schema-qualified), which run first, in
// the same transaction, before the switch. PostgreSQL re-plans a prepared
// statement whenever search_path differs from the one it was last planned
// with, so a statement of the registry run after the switch is planned
// again at every change of tenant, and before it, never. Then fn,
// which may be nil, runs in the same transaction: it may query tx, and
// queue on last what should end the transaction. An error of a queued
// query, of the first batch's callbacks or of fn rolls everything back; so
// does an error of a query on last, but its callbacks run after COMMIT was
// sent, so their errors are returned and cannot stop the commit: queue on
// last only what needs no decision once it ran. fn must not commit or roll
// back tx itself.
//
// A read-only transaction (opts.AccessMode pgx.ReadOnly) with no fn is a
// single round trip: its COMMIT travels in the first batch or, with the
// default isolation level, it is the implicit transaction PostgreSQL runs
// a pipeline in, with neither BEGIN nor COMMIT. A callback's error then
// cannot stop the commit, which is harmless only because nothing was
// written. A read-write transaction whose fn queues its writes on last is
// two round trips.
//
// # Tenant queries in the first batch
//
// The first batch's queries may name the tenant's tables unqualified. In
// pgx's default mode (QueryExecModeCacheStatement) a statement new to the
// connection is prepared before the batch is sent, and so before the
// switch, against the session's search_path, where the tenant's tables do
// not resolve. When that preparation fails, InTenantBatch sends BEGIN, the
// switch and the queries before the refused one, then the rest inside the
// transaction, where pgx prepares them against the tenant's tables and
// caches them: a statement's first use on a connection costs three round
// trips more, and later ones none, for every tenant, since PostgreSQL
// re-plans a prepared statement whenever search_path differs from the one
// it was planned with (BenchmarkReadMode). The exec and simple-protocol
// modes, which connections through PgBouncer in transaction pooling mode
// use, prepare nothing beforehand: the batch's statements are parsed in
// order, after the switch, always in one round trip. A statement that
// resolves outside the tenant too (a table of the same name in the
// session's search_path) is prepared there and still reads the tenant's
// table, re-planned; should the two tables' columns differ it fails with
// "cached plan must not change result type". Name the columns, or qualify
// the query.
func (m *Manager) InTenantBatch(ctx context.Context, id uuid.UUID, opts pgx.TxOptions, queue func(outside, inside *pgx.Batch), fn func(tx pgx.Tx, last *pgx.Batch) error) error {
	if err := checkTxOptions(opts); err != nil {
		return err
	}
	path := pgx.Identifier{m.SchemaName(id)}.Sanitize() + m.searchPath
	oneTrip := fn == nil && opts.AccessMode == pgx.ReadOnly
	// A one-trip read with PostgreSQL's default isolation needs neither
	// BEGIN nor COMMIT: PostgreSQL runs a pipeline up to its Sync, which
	// pgx sends once per batch, as one implicit transaction, and that is
	// the scope of SET LOCAL. A statement or two fewer for the server to
	// run, and the same read-only transaction, set in the switch's
	// statement or, when outside's come first, in one before them.
	implicit := oneTrip && opts == pgx.TxOptions{AccessMode: pgx.ReadOnly}
	var outside, inside, b pgx.Batch
	if queue != nil {
		queue(&outside, &inside)
	}
	// set_config(..., true) is SET LOCAL taking its value as a parameter;
	// its text is the same for every tenant, so it is prepared once.
	switch {
	case implicit && outside.Len() == 0:
		b.Queue("SELECT set_config('search_path', $1, true), set_config('transaction_read_only', 'on', true)", path)
	case implicit:
		// Read-only before the first statement, which may be outside's.
		b.Queue("SELECT set_config('transaction_read_only', 'on', true)")
		b.QueuedQueries = append(b.QueuedQueries, outside.QueuedQueries...)
		b.Queue("SELECT set_config('search_path', $1, true)", path)
	default:
		b.BeginTx(opts)
		b.QueuedQueries = append(b.QueuedQueries, outside.QueuedQueries...)
		b.Queue("SELECT set_config('search_path', $1, true)", path)
	}
	b.QueuedQueries = append(b.QueuedQueries, inside.QueuedQueries...)
	if oneTrip && !implicit {
		b.Queue("COMMIT")
	}
	// The connection, not the pool: the COMMIT that ends the transaction
	// travels in a batch of the connection, which pgx's Tx cannot see, so
	// whether the transaction is still open is asked of the connection.
	c, err := m.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if c.Conn().PgConn().TxStatus() != 'I' {
			// A failed rollback leaves the connection busy or closed; the
			// pool then destroys it instead of reusing it.
			_, _ = c.Exec(ctx, "ROLLBACK")
		}
		c.Release()
	}()
	br := c.SendBatch(ctx, &b)
	tx := br.Tx()
	err = br.Close()
	if refused, ok := preparedOutside(err); ok {
		tx, err = sendInside(ctx, c.Conn(), &b, refused, opts, implicit)
	}
	if err != nil || oneTrip {
		return err
	}
	var last pgx.Batch
	if fn != nil {
		if err := fn(tx, &last); err != nil {
			return err
		}
	}
	last.Queue("COMMIT")
	return c.SendBatch(ctx, &last).Close()
}

// preparedOutside returns the SQL of the statement whose preparation
// before a batch the server refused, if err is that: a tenant query
// prepared outside its tenant. An argument that cannot be encoded fails
// the same step with no server error, and is returned as it is.
func preparedOutside(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var pre pgx.ErrPreprocessingBatch
	var pgErr *pgconn.PgError
	if errors.As(err, &pre) && errors.As(err, &pgErr) {
		return pre.SQL(), true
	}
	return "", false
}

// sendInside sends b, whose statement refused sends nothing of, in two
// steps, as an explicit transaction even if b was to be an implicit one
// (a pipeline is one transaction only up to its Sync): BEGIN, the queries
// queued before refused (which prepared outside the tenant, or were
// cached) with the switch among them, then the rest inside the
// transaction, where pgx prepares and caches them against the tenant's
// tables. The first step's callbacks run before the rest is sent, so a
// registry check that fails (a dropped tenant) answers before the query
// that cannot prepare. The queries are queued anew, callbacks kept: pgx
// remembers on each queued query the statement it failed to prepare.
func sendInside(ctx context.Context, c *pgx.Conn, b *pgx.Batch, refused string, opts pgx.TxOptions, implicit bool) (pgx.Tx, error) {
	var enter, rest pgx.Batch
	enter.BeginTx(opts)
	qs := b.QueuedQueries
	if !implicit {
		qs = qs[1:] // b's own BEGIN
	}
	i := slices.IndexFunc(qs, func(q *pgx.QueuedQuery) bool { return q.SQL == refused })
	if i < 0 {
		return nil, fmt.Errorf("tenancy: the refused statement is not in the batch: %q", refused)
	}
	requeue(&enter, qs[:i])
	requeue(&rest, qs[i:])
	if implicit {
		// The end the pipeline's Sync would have been.
		rest.Queue("COMMIT")
	}
	br := c.SendBatch(ctx, &enter)
	tx := br.Tx()
	if err := br.Close(); err != nil {
		return tx, err
	}
	return tx, tx.SendBatch(ctx, &rest).Close()
}

// requeue queues qs on b as they are, callbacks kept.
func requeue(b *pgx.Batch, qs []*pgx.QueuedQuery) {
	for _, q := range qs {
		b.Queue(q.SQL, q.Arguments...).Fn = q.Fn
	}
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
