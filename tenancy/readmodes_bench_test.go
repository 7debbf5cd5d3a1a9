package tenancy_test

// BenchmarkReadMode measures how a tenant read can travel to PostgreSQL in
// one round trip (issue 12, "A known obstacle"). See the benchmark's doc for
// the modes; the figures below are from
//
//	bin/pgenv test -- go test -run '^$' -bench ReadMode -benchtime 2000x -count 3 ./tenancy/
//
// on 2 shared cores, PostgreSQL on loopback, median of 3 runs (ns/op;
// rt/op is round trips per read, counted as writes to the socket):
//
//	mode       tenants=10                 tenants=1000
//	           ns/op   rt/op  allocs B    ns/op   rt/op  allocs B
//	baseline   472882  3      364  18586  874626  3      364  18586
//	exec       444796  1      507  24898  889898  1      507  24898
//	simple     371272  1      519  23745  814883  1      519  23747
//	prepared   378168  1      394  19276  734443  1      394  19277
//	qualified  295886  1      376  18738  817131  1.87   397  19803
//
// No mode returned another tenant's rows, prepared included, on one
// connection switching tenants at every read. On loopback the two round
// trips saved are worth less than the run-to-run noise (about ±15%); over
// a network each is a network round trip. At 1,000 tenants every mode is
// slower alike, presumably because a read mostly touches a tenant its
// backend has not seen lately (catalog and relation caches; not profiled
// here). qualified degrades with the
// fleet: pgx's statement cache holds 512 statements per connection, so
// about half the reads miss, and a miss costs a Parse round trip (and a
// Deallocate of the evicted one) before the batch. exec and simple are
// the only modes that work behind PgBouncer 1.18 in transaction pooling
// (no prepared statement survives a transaction there), and cost about
// 140-155 allocations more per read than cached statements.

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/migrations"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// readModeRows is how many samples each tenant holds: more than a page, so
// that the count subquery and LIMIT both matter.
const readModeRows = 25

// readModeCols are pkg/domain's sample columns, in its order.
const readModeCols = "id, name, description, sample_type, status, barcode, user_id, metadata, is_active, created_at, updated_at, created_by, updated_by"

// readModeSQL is pkg/domain's first page of a center's active samples
// (Samples.List with no filter: collectPage's statement) over table.
func readModeSQL(table string) string {
	where := " FROM " + table + " WHERE true AND is_active"
	return "SELECT " + readModeCols + ", (SELECT count(*)" + where + ")" + where +
		" ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
}

// readModeSample is a row of the page, scanned as pkg/domain scans it.
type readModeSample struct {
	ID                                          uuid.UUID
	Name, Description, SampleType, Status, Code string
	UserID                                      uuid.UUID
	Metadata                                    []byte
	IsActive                                    bool
	CreatedAt, UpdatedAt                        time.Time
	CreatedBy, UpdatedBy                        *uuid.UUID
	Total                                       int
}

// collectReadModePage reads a page and checks the isolation invariant:
// every sample of tenant id is named after id, so a row of another tenant
// cannot pass unseen.
func collectReadModePage(rows pgx.Rows, id uuid.UUID) error {
	page, err := pgx.AppendRows(make([]readModeSample, 0, 20), rows, func(row pgx.CollectableRow) (s readModeSample, err error) {
		err = row.Scan(&s.ID, &s.Name, &s.Description, &s.SampleType, &s.Status, &s.Code, &s.UserID,
			&s.Metadata, &s.IsActive, &s.CreatedAt, &s.UpdatedAt, &s.CreatedBy, &s.UpdatedBy, &s.Total)
		return s, err
	})
	if err != nil {
		return fmt.Errorf("read the page: %w", err)
	}
	if len(page) != 20 {
		return fmt.Errorf("tenant %s: %d rows, want 20", id, len(page))
	}
	for _, s := range page {
		if s.Name != id.String() || s.Total != readModeRows {
			return fmt.Errorf("tenant %s: got a row of %q (total %d): another tenant's rows", id, s.Name, s.Total)
		}
	}
	return nil
}

// readMode is one way of sending the read. configure adapts the pool
// (exec mode, a statement prepared per connection); read performs one read
// of tenant id through m, whose pool was so configured.
type readMode struct {
	name      string
	configure func(cfg *pgxpool.Config)
	read      func(ctx context.Context, m *tenancy.Manager, id uuid.UUID) error
}

// BenchmarkReadMode runs one tenant read, pkg/domain's shape (BEGIN READ
// ONLY; the tenant's search_path; the center check, here the tenant's
// ledger row; the first page of samples with their count; COMMIT), over a
// pool configured as the product's (db.ConfigurePool), each read of a
// tenant picked at random among 10 or 1,000:
//
//   - baseline: today's, Samples.List through InTenantBatch: the batch of
//     BEGIN, switch and check, then the list query, then COMMIT.
//   - exec: one batch of all five through InTenantBatch's read-only path,
//     on a pool whose default_query_exec_mode is exec: pgx v5.13 takes a
//     batch's exec mode from the connection only (Batch.Queue accepts no
//     QueryExecMode), so every statement of the batch goes unprepared,
//     Parse/Bind/Execute in one pipeline, and the list is parsed after the
//     switch.
//   - simple: the same with simple_protocol: one Query message of five
//     statements, the arguments quoted into the text by pgx.
//   - prepared: one batch, cached statements, the list prepared once per
//     connection (AfterConnect) against an empty template tenant, so pgx
//     finds it prepared and sends it with the others; PostgreSQL re-plans
//     it for each tenant's search_path.
//   - qualified: one batch, cached statements, the list naming
//     "schema".samples, so each tenant has a statement of its own in pgx's
//     cache (512 per connection): a miss costs a Parse round trip first.
//
// Every read checks that its rows are the tenant's (collectReadModePage);
// before measuring, each mode reads every tenant twice, interleaved, on a
// single connection, so that a mode carrying one tenant's statement or
// plan into another's read fails the benchmark. rt/op counts the writes to
// the server's socket per read: pgx flushes once per round trip, then
// waits for the answer.
func BenchmarkReadMode(b *testing.B) {
	ctx := b.Context()
	setup := testPool(b, func(cfg *pgxpool.Config) { cfg.MaxConns = benchConns; db.ConfigurePool(cfg) })
	n := tenancytest.NewNames(b, setup, "rm")
	// The product's samples table, without 002, which moves its trigger
	// function to the public schema this package's tests do not migrate.
	samples, err := fs.ReadFile(migrations.Tenant, "001_samples.sql")
	if err != nil {
		b.Fatal(err)
	}
	cfg := &tenancy.Config{Migrations: fstest.MapFS{"001_samples.sql": {Data: samples}}}
	m := n.Manager(b, setup, cfg)
	template := tenancytest.Tenant(b, m)
	unqualified := readModeSQL("samples")
	check := "SELECT version FROM " + pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize() + " WHERE tenant_id = $1"
	queueCheck := func(bt *pgx.Batch, id uuid.UUID) {
		bt.Queue(check, id).QueryRow(func(row pgx.Row) error {
			var v int32
			return row.Scan(&v)
		})
	}
	ro := pgx.TxOptions{AccessMode: pgx.ReadOnly}
	oneTrip := func(sql func(id uuid.UUID) string) func(ctx context.Context, m *tenancy.Manager, id uuid.UUID) error {
		return func(ctx context.Context, m *tenancy.Manager, id uuid.UUID) error {
			return m.InTenantBatch(ctx, id, ro, func(outside, bt *pgx.Batch) {
				queueCheck(outside, id)
				bt.Queue(sql(id), 20, 0).Query(func(rows pgx.Rows) error {
					return collectReadModePage(rows, id)
				})
			}, nil)
		}
	}
	qualified := map[uuid.UUID]string{}
	modes := []readMode{
		{"baseline", nil, func(ctx context.Context, m *tenancy.Manager, id uuid.UUID) error {
			return m.InTenantBatch(ctx, id, ro, func(outside, _ *pgx.Batch) { queueCheck(outside, id) }, func(tx pgx.Tx, _ *pgx.Batch) error {
				rows, err := tx.Query(ctx, unqualified, 20, 0)
				if err != nil {
					return err
				}
				return collectReadModePage(rows, id)
			})
		}},
		{"exec", func(cfg *pgxpool.Config) { cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec },
			oneTrip(func(uuid.UUID) string { return unqualified })},
		{"simple", func(cfg *pgxpool.Config) { cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol },
			oneTrip(func(uuid.UUID) string { return unqualified })},
		{"prepared", func(cfg *pgxpool.Config) {
			path := pgx.Identifier{m.SchemaName(template)}.Sanitize()
			cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
				return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true)", path); err != nil {
						return err
					}
					// Named after its text, so that pgx's batch finds it
					// (Conn.preparedStatements) and does not prepare it again.
					_, err := tx.Prepare(ctx, unqualified, unqualified)
					return err
				})
			}
		}, oneTrip(func(uuid.UUID) string { return unqualified })},
		{"qualified", nil, oneTrip(func(id uuid.UUID) string { return qualified[id] })},
	}

	for _, fleet := range []int{10, 1000} {
		ids := createFleet(b, m, fleet, benchConns)
		fillReadModeTenants(b, setup, m, ids)
		for _, id := range ids {
			qualified[id] = readModeSQL(pgx.Identifier{m.SchemaName(id), "samples"}.Sanitize())
		}
		for _, mode := range modes {
			b.Run(fmt.Sprintf("tenants=%d/%s", fleet, mode.name), func(b *testing.B) {
				one, _ := readModePool(b, n, cfg, mode.configure, 1)
				for _, id := range append(ids, ids...) {
					if err := mode.read(ctx, one, id); err != nil {
						b.Fatalf("%s disqualified: on one connection: %v", mode.name, err)
					}
				}
				bench, writes := readModePool(b, n, cfg, mode.configure, benchConns)
				// Warm every connection of the pool, as a server's would be.
				for _, id := range ids[:min(len(ids), 4*benchConns)] {
					if err := mode.read(ctx, bench, id); err != nil {
						b.Fatal(err)
					}
				}
				writes.Store(0)
				b.ReportAllocs()
				for b.Loop() {
					id := ids[rand.IntN(len(ids))]
					if err := mode.read(ctx, bench, id); err != nil {
						b.Fatalf("%s: %v", mode.name, err)
					}
				}
				b.ReportMetric(float64(writes.Load())/float64(b.N), "rt/op")
			})
		}
	}
}

// readModePool returns a Manager over n on a pool of conns connections
// configured as the product's, then by configure unless nil, and the count
// of writes to the server's sockets.
func readModePool(b *testing.B, n tenancytest.Names, cfg *tenancy.Config, configure func(*pgxpool.Config), conns int32) (*tenancy.Manager, *atomic.Int64) {
	b.Helper()
	writes := new(atomic.Int64)
	pool := testPool(b, func(c *pgxpool.Config) {
		c.MaxConns = conns
		db.ConfigurePool(c)
		if configure != nil {
			configure(c)
		}
		var d net.Dialer
		c.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, writes}, nil
		}
	})
	return n.Manager(b, pool, cfg), writes
}

// countingConn counts its writes: pgconn buffers a round trip's messages
// and writes them at once.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// fillReadModeTenants gives each tenant readModeRows active samples named
// after the tenant, and one inactive sample that the read must not count.
func fillReadModeTenants(b *testing.B, pool *pgxpool.Pool, m *tenancy.Manager, ids []uuid.UUID) {
	b.Helper()
	var bt pgx.Batch
	for _, id := range ids {
		table := pgx.Identifier{m.SchemaName(id), "samples"}.Sanitize()
		bt.Queue("INSERT INTO "+table+" (name, sample_type, barcode, user_id, is_active) "+
			"SELECT $1, 'blood', 'B-' || g, gen_random_uuid(), g <= $2 FROM generate_series(1, $2 + 1) g", id.String(), readModeRows)
		bt.Queue("ANALYZE " + table)
	}
	if err := pool.SendBatch(b.Context(), &bt).Close(); err != nil {
		b.Fatalf("fill tenants: %v", err)
	}
}
