package tenancy_test

// Each benchmark has the library and a floor as sibling sub-benchmarks: the
// floor issues the same SQL straight through pgx, so one run gives the
// library's overhead as a ratio, on whatever machine and load it ran:
//
//	TEST_DATABASE_URL=... go test ./tenancy/ -run '^$' -bench . -benchmem
//
// TENANCY_BENCH_FLEET sets the fleet size of BenchmarkMigrateFleet
// (default 50).

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// benchConns is the pool size of every benchmark, and the concurrency of
// both sides of the fleet benchmark: on a small machine more connections
// only add contention to the measurement.
const benchConns = 4

// BenchmarkCreate creates one tenant per iteration. The floor runs what
// Create runs, in as many round trips: BEGIN pipelined with the ledger row;
// CREATE SCHEMA; per migration file, SET LOCAL search_path plus the file in
// one message; the ledger's migration rows and version as plain
// parameterized statements sent together; COMMIT, on one pgx connection
// held throughout.
func BenchmarkCreate(b *testing.B) {
	ctx := b.Context()
	pool := fleetPool(b, benchConns)
	n := newFleetNames(b, pool, "bc")
	m := n.Manager(b, pool, &tenancy.Config{Migrations: testMigrations})
	migs := m.Migrations() // the rendered SQL, so both sides send the same bytes

	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := m.Create(ctx, uuid.New(), nil); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("floor", func(b *testing.B) {
		b.ReportAllocs()
		pc, err := pool.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer pc.Release()
		conn := pc.Conn()
		insertTenant := "INSERT INTO " + n.tenantsTable() + " (tenant_id, schema_name) VALUES ($1, $2)"
		insertMigration := "INSERT INTO " + n.migrationsTable() + " (tenant_id, version, name, checksum, duration_us) VALUES ($1, $2, $3, $4, $5)"
		setVersion := "UPDATE " + n.tenantsTable() + " SET version = $2, migrated_at = now(), last_error = NULL, last_error_at = NULL WHERE tenant_id = $1"
		for b.Loop() {
			id := uuid.New()
			schema := n.Prefix + hex.EncodeToString(id[:])
			quoted := pgx.Identifier{schema}.Sanitize()
			var begin pgx.Batch
			begin.BeginTx(pgx.TxOptions{})
			begin.Queue(insertTenant, id, schema)
			br := conn.SendBatch(ctx, &begin)
			tx := br.Tx()
			if err := br.Close(); err != nil {
				b.Fatal(err)
			}
			// A failure ends the benchmark, whose cleanup closes the pool
			// and with it the open transaction.
			if _, err := tx.Exec(ctx, "CREATE SCHEMA "+quoted); err != nil {
				b.Fatal(err)
			}
			var batch pgx.Batch
			for _, mg := range migs {
				start := time.Now()
				if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+quoted+";\n"+mg.SQL); err != nil {
					b.Fatal(err)
				}
				batch.Queue(insertMigration, id, mg.Version, mg.Name, mg.Checksum, time.Since(start).Microseconds())
			}
			batch.Queue(setVersion, id, migs[len(migs)-1].Version)
			if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMigrateFleet migrates a fleet of tenants by one migration (a
// nullable column and an index) per iteration. Between iterations, with
// the timer stopped, the migration is undone in every schema (and, for the
// library, in the ledger): undoing costs a fraction of re-creating the
// fleet, whose CREATE TABLEs dominate on a slow disk. Both sides work on
// benchConns tenants at a time. The floor is, per tenant, BEGIN; SET LOCAL
// search_path plus the migration in one message; COMMIT: it has no ledger
// to lock, read or write, so the ratio is the whole price of a fleet
// migration that is recorded, resumable and safe against a concurrent
// migrator. ns/tenant is the measured time divided by the tenants migrated.
func BenchmarkMigrateFleet(b *testing.B) {
	ctx := b.Context()
	fleet := 50
	if s := os.Getenv("TENANCY_BENCH_FLEET"); s != "" {
		var err error
		if fleet, err = strconv.Atoi(s); err != nil || fleet < 1 {
			b.Fatalf("TENANCY_BENCH_FLEET=%q: want a positive integer", s)
		}
	}
	pool := fleetPool(b, benchConns)
	n := newFleetNames(b, pool, "bm")
	old := n.Manager(b, pool, &tenancy.Config{Migrations: migrationsUpTo(b, 2)})
	m := n.Manager(b, pool, &tenancy.Config{Migrations: migrationsUpTo(b, 3)})
	mig3 := m.Migrations()[2].SQL

	b.Run(fmt.Sprintf("library/tenants=%d", fleet), func(b *testing.B) {
		b.ReportAllocs()
		ids := createFleet(b, old, fleet, benchConns)
		for b.Loop() {
			res, err := m.Migrate(ctx, tenancy.MigrateOptions{Tenants: ids, Concurrency: benchConns})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Outcome != tenancy.OutcomeMigrated {
					b.Fatalf("%s: %s, want migrated", r.Schema, r.Outcome)
				}
			}
			b.StopTimer()
			undoMigration3(b, pool, n, ids, true)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fleet), "ns/tenant")
	})

	b.Run(fmt.Sprintf("floor/tenants=%d", fleet), func(b *testing.B) {
		b.ReportAllocs()
		ids := createFleet(b, old, fleet, benchConns)
		for b.Loop() {
			if err := floorMigrate(ctx, pool, n.Prefix, ids, mig3); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			undoMigration3(b, pool, n, ids, false)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fleet), "ns/tenant")
	})
}

// undoMigration3 returns the tenants' schemas, and with ledger their ledger
// rows, to version 2. It works in chunks: every schema's table and index
// are locked until commit, and the server's lock table is finite.
func undoMigration3(b *testing.B, pool *pgxpool.Pool, n fleetNames, ids []uuid.UUID, ledger bool) {
	b.Helper()
	ctx := b.Context()
	for chunk := range slices.Chunk(ids, 100) {
		var sql strings.Builder
		for _, id := range chunk {
			schema := pgx.Identifier{n.Prefix + hex.EncodeToString(id[:])}.Sanitize()
			sql.WriteString("DROP INDEX " + schema + ".items_priority_idx; ALTER TABLE " + schema + ".items DROP COLUMN priority;\n")
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sql.String()); err != nil {
				return err
			}
			if !ledger {
				return nil
			}
			if _, err := tx.Exec(ctx, "DELETE FROM "+n.migrationsTable()+" WHERE tenant_id = ANY($1) AND version = 3", chunk); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "UPDATE "+n.tenantsTable()+" SET version = 2 WHERE tenant_id = ANY($1)", chunk)
			return err
		})
		if err != nil {
			b.Fatalf("undo migration 3: %v", err)
		}
	}
}

// floorMigrate applies sql to each tenant's schema in its own transaction,
// benchConns at a time, and returns the first error.
func floorMigrate(ctx context.Context, pool *pgxpool.Pool, prefix string, ids []uuid.UUID, sql string) error {
	jobs := make(chan uuid.UUID)
	errs := make(chan error, benchConns)
	var wg sync.WaitGroup
	for range benchConns {
		wg.Go(func() {
			var first error
			for id := range jobs {
				if first != nil {
					continue // drain, so the sender never blocks
				}
				setPath := "SET LOCAL search_path TO " + pgx.Identifier{prefix + hex.EncodeToString(id[:])}.Sanitize() + ";\n"
				first = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, setPath+sql)
					return err
				})
			}
			errs <- first
		})
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkTenantQuery is one indexed lookup among 1000 rows of a tenant's
// table, three ways: through InTenant (a transaction whose BEGIN carries
// the SET LOCAL search_path); through a plain transaction naming the table
// by its schema; and, the floor, the bare query with no transaction. The
// two others query the very same table, schema-qualified, so that the
// table, its statistics and its cache are not a difference between them:
// only how the query reaches it is.
func BenchmarkTenantQuery(b *testing.B) {
	ctx := b.Context()
	m, pool := newManager(b, func(cfg *pgxpool.Config) { cfg.MaxConns = benchConns })
	id := tenancytest.Tenant(b, m)
	const rows = 1000
	err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, fmt.Sprintf(`
INSERT INTO items (tenant_marker, name) SELECT 'bench', 'item-' || g FROM generate_series(1, %d) g;
ANALYZE items`, rows))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	// Rows were inserted in order into a fresh identity column, so item-k
	// has id k: every lookup checks its answer.
	names := make([]string, rows)
	for i := range names {
		names[i] = fmt.Sprintf("item-%d", i+1)
	}
	const tenantSQL = "SELECT id FROM items WHERE name = $1"
	qualifiedSQL := "SELECT id FROM " + pgx.Identifier{m.SchemaName(id), "items"}.Sanitize() + " WHERE name = $1"

	lookups := []struct {
		name   string
		lookup func(name string) (int64, error)
	}{
		{"library", func(name string) (got int64, err error) {
			err = m.InTenant(ctx, id, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, tenantSQL, name).Scan(&got)
			})
			return got, err
		}},
		{"tx", func(name string) (got int64, err error) {
			err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, qualifiedSQL, name).Scan(&got)
			})
			return got, err
		}},
		{"floor", func(name string) (got int64, err error) {
			err = pool.QueryRow(ctx, qualifiedSQL, name).Scan(&got)
			return got, err
		}},
	}
	for _, l := range lookups {
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				got, err := l.lookup(names[i%rows])
				if err != nil {
					b.Fatal(err)
				}
				if want := int64(i%rows + 1); got != want {
					b.Fatalf("%s: id %d, want %d", names[i%rows], got, want)
				}
				i++
			}
		})
	}
}
