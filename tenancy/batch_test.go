package tenancy_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// countedConn counts its writes to the server: pgx flushes the messages of
// a round trip in one write, so the count is of round trips.
type countedConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// countedManager returns a Manager over a one-connection pool whose round
// trips are counted, one of its tenants, the pool and the counter.
func countedManager(t *testing.T) (*tenancy.Manager, uuid.UUID, *pgxpool.Pool, *atomic.Int64) {
	writes := &atomic.Int64{}
	m, pool := newManager(t, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 1
		dial := cfg.ConnConfig.DialFunc
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countedConn{conn, writes}, nil
		}
	})
	return m, tenancytest.Tenant(t, m), pool, writes
}

// roundTrips runs f and returns how many round trips it took.
func roundTrips(t *testing.T, writes *atomic.Int64, f func() error) int {
	t.Helper()
	before := writes.Load()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	return int(writes.Load() - before)
}

// TestInTenantBatch: the queued queries run in the transaction, with BEGIN
// and the tenant's search_path, in one round trip, and fn after them in the
// same transaction; a read-only batch without fn is a whole transaction in
// one round trip. The connection goes back as it was.
func TestInTenantBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, id, pool, writes := countedManager(t)
	items := pgx.Identifier{m.SchemaName(id), "items"}.Sanitize()

	// Read-write: the batch inserts, fn sees the row through the tenant's
	// search_path, both commit. Run twice: the first run prepares the
	// batch's new statements, a round trip more.
	for run := range 2 {
		var inserted int64
		var seen int
		trips := roundTrips(t, writes, func() error {
			return m.InTenantBatch(ctx, id, pgx.TxOptions{}, func(_, b *pgx.Batch) {
				b.Queue("INSERT INTO "+items+" (tenant_marker, name) VALUES ($1, 'batched') RETURNING id", id.String()).
					QueryRow(func(row pgx.Row) error { return row.Scan(&inserted) })
			}, func(tx pgx.Tx, _ *pgx.Batch) error {
				return tx.QueryRow(ctx, "SELECT count(*) FROM items WHERE id = $1", inserted).Scan(&seen)
			})
		})
		if inserted == 0 || seen != 1 {
			t.Errorf("run %d: inserted id %d, seen by fn %d times; want an id, seen once", run, inserted, seen)
		}
		// BEGIN + search_path + INSERT; fn's SELECT; COMMIT. The first run
		// also prepares the batch's statements, fn's and COMMIT.
		if want := 3 + map[bool]int{true: 3, false: 0}[run == 0]; trips != want {
			t.Errorf("run %d: read-write batch with fn: %d round trips, want %d", run, trips, want)
		}
	}

	// Read-only without fn: one round trip, COMMIT included.
	for run := range 2 {
		var count int
		var path string
		trips := roundTrips(t, writes, func() error {
			return m.InTenantBatch(ctx, id, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(_, b *pgx.Batch) {
				b.Queue("SELECT count(*), current_setting('search_path') FROM "+items+" WHERE name = $1", "batched").
					QueryRow(func(row pgx.Row) error { return row.Scan(&count, &path) })
			}, nil)
		})
		if want := (pgx.Identifier{m.SchemaName(id)}).Sanitize(); count != 2 || path != want {
			t.Errorf("run %d: read %d rows with search_path %q; want 2 with the tenant's", run, count, path)
		}
		if want := 1 + map[bool]int{true: 1, false: 0}[run == 0]; trips != want {
			t.Errorf("run %d: read-only batch without fn: %d round trips, want %d", run, trips, want)
		}
	}

	var path string
	if err := pool.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&path); err != nil {
		t.Fatal(err)
	}
	if path != `""` {
		t.Errorf("search_path after the batches: %q, want the connection's own", path)
	}
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired", n)
	}
}

// TestInTenantBatchOutside: outside's queries run before the switch, with
// the connection's own search_path, in the same transaction as inside's,
// read-only when the transaction is; a read is still one round trip.
func TestInTenantBatchOutside(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, id, _, writes := countedManager(t)
	tenantPath := pgx.Identifier{m.SchemaName(id)}.Sanitize()
	const where = "SELECT current_setting('search_path'), transaction_timestamp()"
	type seen struct {
		path string
		at   time.Time
	}
	for _, opts := range []pgx.TxOptions{{AccessMode: pgx.ReadOnly}, {AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, {}} {
		// The first run prepares the inside statement in the tenant, in
		// round trips of its own.
		for run := range 2 {
			var out, in seen
			trips := roundTrips(t, writes, func() error {
				return m.InTenantBatch(ctx, id, opts, func(outside, inside *pgx.Batch) {
					outside.Queue(where).QueryRow(func(row pgx.Row) error { return row.Scan(&out.path, &out.at) })
					inside.Queue(where + ", count(*) FROM items").QueryRow(func(row pgx.Row) error {
						return row.Scan(&in.path, &in.at, nil)
					})
				}, nil)
			})
			if out.path != `""` || in.path != tenantPath {
				t.Errorf("%+v run %d: search_path outside %q, inside %q; want the connection's own, then %q", opts, run, out.path, in.path, tenantPath)
			}
			if !out.at.Equal(in.at) {
				t.Errorf("%+v run %d: outside's transaction began at %v, inside's at %v; want one transaction", opts, run, out.at, in.at)
			}
			if run == 1 && opts.AccessMode == pgx.ReadOnly && trips != 1 {
				t.Errorf("%+v, prepared: %d round trips, want 1", opts, trips)
			}
		}
		if opts.AccessMode != pgx.ReadOnly {
			continue
		}
		err := m.InTenantBatch(ctx, id, opts, func(outside, _ *pgx.Batch) {
			outside.Queue("CREATE TEMP TABLE doomed (id int)")
		}, nil)
		if sqlState(err) != "25006" {
			t.Errorf("%+v: a write outside a read-only batch: err %v, want read_only_sql_transaction", opts, err)
		}
	}
}

// TestInTenantBatchRollsBack: a failing queued query, a callback's error
// or fn's error commits nothing; a read-only one-trip batch whose callback
// fails reports it; the connection stays usable throughout.
func TestInTenantBatchRollsBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, id, pool, _ := countedManager(t)
	items := pgx.Identifier{m.SchemaName(id), "items"}.Sanitize()
	insert := func(_, b *pgx.Batch) {
		b.Queue("INSERT INTO "+items+" (tenant_marker, name) VALUES ($1, 'doomed')", id.String())
	}

	err := m.InTenantBatch(ctx, id, pgx.TxOptions{}, func(_, b *pgx.Batch) {
		insert(nil, b)
		b.Queue("SELECT 1/0")
	}, nil)
	if sqlState(err) != "22012" {
		t.Errorf("failing query: err %v, want division_by_zero", err)
	}
	err = m.InTenantBatch(ctx, id, pgx.TxOptions{}, func(_, b *pgx.Batch) {
		insert(nil, b)
		b.Queue("SELECT 1").QueryRow(func(pgx.Row) error { return errDeliberate })
	}, nil)
	if !errors.Is(err, errDeliberate) {
		t.Errorf("failing callback: err %v, want it returned", err)
	}
	err = m.InTenantBatch(ctx, id, pgx.TxOptions{}, insert, func(pgx.Tx, *pgx.Batch) error { return errDeliberate })
	if !errors.Is(err, errDeliberate) {
		t.Errorf("failing fn: err %v, want it returned", err)
	}
	err = m.InTenantBatch(ctx, id, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(_, b *pgx.Batch) {
		b.Queue("SELECT 1").QueryRow(func(pgx.Row) error { return errDeliberate })
	}, nil)
	if !errors.Is(err, errDeliberate) {
		t.Errorf("read-only failing callback: err %v, want it returned", err)
	}
	// Read-only holds without BEGIN too (the implicit transaction of a
	// one-trip read), and with one (another isolation level).
	for _, opts := range []pgx.TxOptions{{AccessMode: pgx.ReadOnly}, {AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}} {
		err = m.InTenantBatch(ctx, id, opts, insert, nil)
		if sqlState(err) != "25006" {
			t.Errorf("%+v: insert in a read-only batch: err %v, want read_only_sql_transaction", opts, err)
		}
	}
	err = m.InTenantBatch(ctx, id, pgx.TxOptions{IsoLevel: "bogus"}, insert, nil)
	if err == nil {
		t.Error("a bogus isolation level was accepted")
	}

	var doomed int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+items+" WHERE name = 'doomed'").Scan(&doomed); err != nil || doomed != 0 {
		t.Errorf("%d rows committed by failed transactions (%v), want 0", doomed, err)
	}
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired", n)
	}
}
