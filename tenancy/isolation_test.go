package tenancy_test

// No query ever sees another tenant's rows. The
// danger in schema-per-tenant is a search_path that outlives its request on
// a pooled connection, or a cached prepared statement planned for another
// tenant's table; these tests drive many tenants through very few
// connections to give both every chance to happen.

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// errDeliberate is returned by transactions that roll back on purpose.
var errDeliberate = errors.New("deliberate rollback")

// isoTenant is one tenant of the isolation test and the inserts it has
// acknowledged (InTenant returned nil).
type isoTenant struct {
	id     uuid.UUID
	schema string
	acked  atomic.Int64
}

// sqlState returns the SQLSTATE of err, or "" when it is not a server error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// TestIsolationUnderPoolPressure runs 32 goroutines over 50 tenants and a
// pool of 4 connections: every operation lands on a connection that just
// served other tenants. Each operation asserts it sees only its tenant's
// rows; committed, rolled-back, failed and canceled transactions are mixed
// in. Afterwards every tenant holds exactly its acknowledged inserts, and
// every pooled connection is back at the pool's empty search_path.
func TestIsolationUnderPoolPressure(t *testing.T) {
	t.Parallel()
	const maxConns = 4
	m, pool := newManager(t, func(cfg *pgxpool.Config) { cfg.MaxConns = maxConns })
	// A separate pool watches the server for the cancellation cases: the
	// test pool may be saturated by the very transactions being watched.
	monitor := tenancytest.Pool(t)
	// tenancytest pools run SET search_path TO '', which PostgreSQL shows
	// as "" (an empty identifier).
	isolationWorkload(t, m, pool, monitor, `""`)
	if t.Failed() {
		return
	}
	assertEveryConnClean(t, pool)
}

// isolationWorkload is the core of the isolation tests, run on whatever
// pool m works through (directly, or through PgBouncer): 32 goroutines
// over 50 tenants, each operation asserting it sees only its tenant's rows,
// then every tenant checked to hold exactly its acknowledged inserts.
// monitor must reach the server directly (it reads pg_stat_activity);
// outsidePath is the search_path pool's connections show outside InTenant.
func isolationWorkload(t *testing.T, m *tenancy.Manager, pool, monitor *pgxpool.Pool, outsidePath string) {
	t.Helper()
	ctx := t.Context()
	const numTenants, workers, opsPerWorker = 50, 32, 40
	tenants := make([]*isoTenant, numTenants)
	var wg sync.WaitGroup
	errs := make(chan error, numTenants)
	for i := range tenants {
		tenants[i] = &isoTenant{id: uuid.New()}
		tenants[i].schema = m.SchemaName(tenants[i].id)
		wg.Go(func() { errs <- m.Create(ctx, tenants[i].id, nil) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var counts [numOps]atomic.Int64 // operations run, by kind, for the log
	for w := range workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(seed, uint64(w)))
			for op := range opsPerWorker {
				tn := tenants[rng.IntN(numTenants)]
				kind := rng.IntN(len(counts))
				counts[kind].Add(1)
				if err := isoOp(ctx, m, pool, monitor, outsidePath, tn, kind, fmt.Sprintf("w%d-op%d", w, op)); err != nil {
					t.Errorf("worker %d op %d (kind %d) in %s: %v", w, op, kind, tn.schema, err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("ops by kind (insert, read, fn error, SQL error, cancel between, cancel during, outside InTenant, tx options): %v", loadAll(counts[:]))
	if t.Failed() {
		return
	}

	// Every acknowledged insert is there, and nothing else: rolled-back,
	// failed and canceled transactions left no row in any tenant.
	var total int64
	for _, tn := range tenants {
		var n int64
		if err := m.InTenant(ctx, tn.id, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		if want := tn.acked.Load(); n != want {
			t.Errorf("%s has %d rows, want the %d acknowledged inserts", tn.schema, n, want)
		}
		total += n
	}
	if total == 0 {
		t.Fatal("no insert was acknowledged: the test exercised nothing")
	}
}

// assertEveryConnClean holds every connection the pool may have at once, so
// that each one is checked, not the same idle one MaxConns times, and
// asserts that none kept a tenant's search_path or an open transaction.
func assertEveryConnClean(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := t.Context()
	maxConns := int(pool.Config().MaxConns)
	pids := map[uint32]bool{}
	for i := range maxConns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release() // held until the end, so the next Acquire gets another
		pids[c.Conn().PgConn().PID()] = true
		var path string
		var schemas []string
		if err := c.QueryRow(ctx, "SELECT current_setting('search_path'), current_schemas(false)::text[]").Scan(&path, &schemas); err != nil {
			t.Fatal(err)
		}
		// tenancytest pools run SET search_path TO '', which PostgreSQL
		// shows as "" (an empty identifier).
		if path != `""` || len(schemas) != 0 {
			t.Errorf("pooled connection %d: search_path %q, schemas %v; want the pool default \"\" and none", i, path, schemas)
		}
		if st := c.Conn().PgConn().TxStatus(); st != 'I' {
			t.Errorf("pooled connection %d: transaction status %c, want idle", i, st)
		}
	}
	if len(pids) != maxConns {
		t.Errorf("checked %d distinct connections, want %d", len(pids), maxConns)
	}
}

func loadAll(cs []atomic.Int64) []int64 {
	out := make([]int64, len(cs))
	for i := range cs {
		out[i] = cs[i].Load()
	}
	return out
}

// assertOwnRows reads every row of the tenant (through a prepared, cached
// statement, which PostgreSQL must re-plan for each tenant's table) and
// fails if one carries another tenant's marker or the transaction is not in
// the tenant's schema.
func assertOwnRows(ctx context.Context, tx pgx.Tx, tn *isoTenant) (int, error) {
	var current string
	if err := tx.QueryRow(ctx, "SELECT current_schema()").Scan(&current); err != nil {
		return 0, err
	}
	if current != tn.schema {
		return 0, fmt.Errorf("current_schema() = %q, want %q", current, tn.schema)
	}
	rows, err := tx.Query(ctx, "SELECT tenant_marker FROM items WHERE id > $1", 0)
	if err != nil {
		return 0, err
	}
	markers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	for _, mk := range markers {
		if mk != tn.id.String() {
			return 0, fmt.Errorf("LEAK: tenant %s sees a row of tenant %s", tn.id, mk)
		}
	}
	return len(markers), nil
}

// The operations of the isolation test.
const (
	opInsert = iota
	opRead
	opFnError
	opSQLError
	opCancelBetween
	opCancelDuring
	opOutside
	opTxOptions
	numOps
)

// isoOp runs one operation of the given kind in tenant tn and checks its
// outcome; it returns an error only for a violated expectation. outsidePath
// is the search_path pool's connections have outside InTenant.
func isoOp(ctx context.Context, m *tenancy.Manager, pool, monitor *pgxpool.Pool, outsidePath string, tn *isoTenant, kind int, name string) error {
	insert := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO items (tenant_marker, name) VALUES ($1, $2)", tn.id.String(), name)
		return err
	}
	switch kind {
	case opInsert: // insert, read back, commit
		err := m.InTenant(ctx, tn.id, func(tx pgx.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			n, err := assertOwnRows(ctx, tx, tn)
			if err == nil && n == 0 {
				err = errors.New("own insert not visible in its transaction")
			}
			return err
		})
		if err != nil {
			return err
		}
		tn.acked.Add(1)

	case opRead: // read only
		return m.InTenant(ctx, tn.id, func(tx pgx.Tx) error {
			_, err := assertOwnRows(ctx, tx, tn)
			return err
		})

	case opFnError: // fn fails after writing: rolled back
		err := m.InTenant(ctx, tn.id, func(tx pgx.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			if _, err := assertOwnRows(ctx, tx, tn); err != nil {
				return err
			}
			return errDeliberate
		})
		if !errors.Is(err, errDeliberate) {
			return fmt.Errorf("got %v, want the deliberate error", err)
		}

	case opSQLError: // SQL error after writing: the transaction is aborted
		err := m.InTenant(ctx, tn.id, func(tx pgx.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "SELECT 1/0")
			return err
		})
		if sqlState(err) != "22012" {
			return fmt.Errorf("got %v, want division_by_zero", err)
		}

	case opCancelBetween, opCancelDuring: // context canceled mid-transaction
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		monitorDone := make(chan error, 1)
		err := m.InTenant(cctx, tn.id, func(tx pgx.Tx) error {
			if _, err := tx.Exec(cctx, "INSERT INTO items (tenant_marker, name) VALUES ($1, $2)", tn.id.String(), name); err != nil {
				return err
			}
			if kind == opCancelBetween {
				close(monitorDone)
				cancel()
				_, err := tx.Exec(cctx, "SELECT 1")
				return err
			}
			// Cancel only once the server is inside the statement: a
			// cancel request that arrives before it starts is lost, and
			// the backend would then sleep on, holding its connection
			// and its locks. The backend's pid is asked of the server:
			// behind PgBouncer the pid of the protocol's BackendKeyData
			// (PgConn().PID()) is PgBouncer's invention, not a backend.
			var pid int32
			if err := tx.QueryRow(cctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				return err
			}
			go func() {
				defer cancel()
				for {
					var sleeping bool
					if err := monitor.QueryRow(ctx, "SELECT coalesce(bool_or(wait_event = 'PgSleep'), false) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&sleeping); err != nil {
						monitorDone <- err
						return
					}
					if sleeping {
						monitorDone <- nil
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			_, err := tx.Exec(cctx, "SELECT pg_sleep(60)")
			return err
		})
		if merr := <-monitorDone; merr != nil {
			return merr
		}
		if err == nil || !(errors.Is(err, context.Canceled) || sqlState(err) == "57014") {
			return fmt.Errorf("got %v, want a cancellation", err)
		}

	case opOutside: // outside InTenant, the pool's connections know no tenant
		var path string
		if err := pool.QueryRow(ctx, "SHOW search_path").Scan(&path); err != nil {
			return err
		}
		if path != outsidePath {
			return fmt.Errorf("a pooled connection has search_path %q outside InTenant, want %q", path, outsidePath)
		}
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n)
		if sqlState(err) != "42P01" {
			return fmt.Errorf("unqualified query outside InTenant: got %v (%d rows), want undefined_table", err, n)
		}

	case opTxOptions: // InTenantTx with options keeps the tenant's search_path
		return m.InTenantTx(ctx, tn.id, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			_, err := assertOwnRows(ctx, tx, tn)
			return err
		})
	}
	return nil
}

// TestInTenantTxOptions: the isolation level and access mode requested are
// the transaction's, and the tenant's search_path is set with them.
func TestInTenantTxOptions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, _ := newManager(t, nil)
	id := tenancytest.Tenant(t, m)

	for _, opts := range []pgx.TxOptions{
		{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly, DeferrableMode: pgx.Deferrable},
		{IsoLevel: pgx.Serializable},
		{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadWrite},
		{IsoLevel: pgx.ReadCommitted, DeferrableMode: pgx.NotDeferrable},
		{AccessMode: pgx.ReadOnly},
	} {
		t.Run(fmt.Sprintf("%s/%s/%s", opts.IsoLevel, opts.AccessMode, opts.DeferrableMode), func(t *testing.T) {
			err := m.InTenantTx(ctx, id, opts, func(tx pgx.Tx) error {
				var iso, ro, deferrable, schema string
				err := tx.QueryRow(ctx, "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'),"+
					" current_setting('transaction_deferrable'), current_schema()").Scan(&iso, &ro, &deferrable, &schema)
				if err != nil {
					return err
				}
				wantIso := string(opts.IsoLevel)
				if wantIso == "" {
					wantIso = "read committed"
				}
				wantRO := map[bool]string{true: "on", false: "off"}[opts.AccessMode == pgx.ReadOnly]
				wantDef := map[bool]string{true: "on", false: "off"}[opts.DeferrableMode == pgx.Deferrable]
				if iso != wantIso || ro != wantRO || deferrable != wantDef || schema != m.SchemaName(id) {
					t.Errorf("inside: isolation %q read_only %q deferrable %q schema %q; want %q %q %q %q",
						iso, ro, deferrable, schema, wantIso, wantRO, wantDef, m.SchemaName(id))
				}
				_, err = tx.Exec(ctx, "INSERT INTO items (tenant_marker, name) VALUES ($1, 'x')", id.String())
				if opts.AccessMode == pgx.ReadOnly {
					if sqlState(err) != "25006" {
						t.Errorf("insert in a read-only transaction: got %v, want read_only_sql_transaction", err)
					}
					// The refused insert aborted the transaction, so it
					// cannot commit; end it with an error of our own.
					return errDeliberate
				}
				return err
			})
			if opts.AccessMode == pgx.ReadOnly && errors.Is(err, errDeliberate) {
				err = nil
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestInTenantTxRefusesBogusOptions: options that would end up in the BEGIN
// text are restricted to pgx's constants, and a refused option never reaches
// the database (the pool is not even asked for a connection) nor fn.
func TestInTenantTxRefusesBogusOptions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, pool := newManager(t, nil)
	id := tenancytest.Tenant(t, m)

	for name, opts := range map[string]pgx.TxOptions{
		"iso injection":        {IsoLevel: "serializable; DROP SCHEMA public CASCADE"},
		"iso unknown":          {IsoLevel: "x; drop"},
		"iso upper case":       {IsoLevel: "SERIALIZABLE"},
		"access injection":     {AccessMode: "read only; DROP TABLE items"},
		"deferrable injection": {DeferrableMode: "deferrable; COMMIT"},
		"begin query":          {BeginQuery: "BEGIN"},
		"commit query":         {CommitQuery: "COMMIT"},
		"begin query and iso":  {IsoLevel: pgx.Serializable, BeginQuery: "BEGIN; SET LOCAL search_path TO public"},
	} {
		t.Run(name, func(t *testing.T) {
			before := pool.Stat().AcquireCount()
			called := false
			err := m.InTenantTx(ctx, id, opts, func(pgx.Tx) error { called = true; return nil })
			if err == nil {
				t.Fatal("InTenantTx accepted bogus options")
			}
			if called {
				t.Error("fn ran despite refused options")
			}
			// Subtests run one at a time and nothing else uses this
			// pool, so any acquisition would be InTenantTx's.
			if after := pool.Stat().AcquireCount(); after != before {
				t.Errorf("pool acquisitions went from %d to %d: the refused options reached the database", before, after)
			}
		})
	}
}

// TestManagersSharingALedger: two Managers with different prefixes on one
// ledger schema (the default "public" ledger is shared by every Manager of
// a database) never list, inspect or migrate each other's tenants, even when
// one prefix is the start of the other.
func TestManagersSharingALedger(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool)
	outer := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	// newCreateNames cleans up every schema starting with n.Prefix, which
	// includes the inner Manager's.
	inner := tenancytest.Names{Prefix: n.Prefix + "x_", Ledger: n.Ledger}.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})

	outerIDs := []uuid.UUID{tenancytest.Tenant(t, outer), tenancytest.Tenant(t, outer)}
	innerIDs := []uuid.UUID{tenancytest.Tenant(t, inner)}

	for _, c := range []struct {
		name string
		m    *tenancy.Manager
		want []uuid.UUID
	}{{"outer", outer, outerIDs}, {"inner", inner, innerIDs}} {
		st, err := c.m.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []uuid.UUID
		for _, s := range st {
			got = append(got, s.TenantID)
			if !s.OK() {
				t.Errorf("%s.Inspect: %s: %v", c.name, s.Schema, s.Problems)
			}
		}
		if !sameIDs(got, c.want) {
			t.Errorf("%s.Inspect lists %v, want its own tenants %v", c.name, got, c.want)
		}
		res, err := c.m.Migrate(ctx, tenancy.MigrateOptions{})
		if err != nil {
			t.Errorf("%s.Migrate: %v", c.name, err)
		}
		got = got[:0]
		for _, r := range res {
			got = append(got, r.TenantID)
			if r.Outcome != tenancy.OutcomeUpToDate {
				t.Errorf("%s.Migrate: %s: %s %v", c.name, r.Schema, r.Outcome, r.Err)
			}
		}
		if !sameIDs(got, c.want) {
			t.Errorf("%s.Migrate worked on %v, want its own tenants %v", c.name, got, c.want)
		}
	}
}

// TestManagersSharingALedgerTargeted: naming another Manager's tenant
// explicitly is "not found", neither a migration into a schema that does
// not exist nor the deletion of the other Manager's ledger row.
func TestManagersSharingALedgerTargeted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool)
	mine := n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	other := tenancytest.Names{Prefix: "o" + n.Prefix, Ledger: n.Ledger}
	t.Cleanup(func() { tenancytest.DropSchemas(t, pool, other.Prefix, "") })
	theirs := other.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	id := tenancytest.Tenant(t, theirs)

	res, err := mine.Migrate(ctx, tenancy.MigrateOptions{Tenants: []uuid.UUID{id}})
	if len(res) != 1 || res[0].Outcome != tenancy.OutcomeFailed || !errors.Is(res[0].Err, tenancy.ErrTenantNotFound) {
		t.Errorf("Migrate of another Manager's tenant = %+v, %v; want one Failed result with ErrTenantNotFound", res, err)
	}
	if err := mine.Drop(ctx, id, nil); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Errorf("Drop of another Manager's tenant = %v, want ErrTenantNotFound", err)
	}
	st, err := theirs.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || !st[0].OK() || st[0].TenantID != id || st[0].LastError != "" {
		t.Errorf("the owner's Inspect = %+v, want its tenant untouched and healthy", st)
	}
}

func sameIDs(a, b []uuid.UUID) bool {
	cmp := func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}
