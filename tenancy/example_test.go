package tenancy_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// exampleMigrations stands in for an application's embed.FS of tern-format
// tenant migrations.
var exampleMigrations = fstest.MapFS{
	"001_notes.sql": {Data: []byte(`CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);`)},
}

// exampleSetup connects to the test database and returns a Manager with a
// prefix and ledger schema of its own, its pool and Config, and a function
// removing them.
func exampleSetup(ctx context.Context, migrations fstest.MapFS) (*tenancy.Manager, *pgxpool.Pool, tenancy.Config, func()) {
	pool, err := pgxpool.New(ctx, os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	suffix := uuid.NewString()[:8]
	cfg := tenancy.Config{
		Migrations:   migrations,
		Prefix:       "ex" + suffix + "_",
		LedgerSchema: "example_" + suffix,
	}
	m, err := tenancy.New(pool, &cfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Setup(ctx); err != nil {
		log.Fatal(err)
	}
	return m, pool, cfg, func() {
		st, _ := m.Inspect(ctx)
		for _, s := range st {
			_ = m.Drop(ctx, s.TenantID, nil)
		}
		_, _ = pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{"example_" + suffix}.Sanitize()+" CASCADE")
		pool.Close()
	}
}

// Create a tenant, with the application's own registry row in the same
// transaction, and work inside it.
func Example() {
	ctx := context.Background()
	m, _, _, cleanup := exampleSetup(ctx, exampleMigrations)
	defer cleanup()

	acme := uuid.New()
	err := m.Create(ctx, acme, func(ctx context.Context, tx pgx.Tx) error {
		// Insert the application's registry row here: it commits with the
		// schema or not at all.
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	var n int
	err = m.InTenant(ctx, acme, func(tx pgx.Tx) error {
		// Unqualified names resolve in the tenant's schema.
		if _, err := tx.Exec(ctx, "INSERT INTO notes (body) VALUES ('hello')"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&n)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("notes in acme:", n)
	// Output: notes in acme: 1
}

// Migrate every tenant to a new migration, one transaction per tenant,
// several at once, with a result per tenant.
func ExampleManager_Migrate() {
	ctx := context.Background()
	m, pool, cfg, cleanup := exampleSetup(ctx, exampleMigrations)
	defer cleanup()
	for range 3 {
		if err := m.Create(ctx, uuid.New(), nil); err != nil {
			log.Fatal(err)
		}
	}

	// A new release ships a second migration; a Manager over the new files
	// (same prefix and ledger) rolls it out.
	cfg.Migrations = fstest.MapFS{
		"001_notes.sql":    exampleMigrations["001_notes.sql"],
		"002_priority.sql": {Data: []byte(`ALTER TABLE notes ADD COLUMN priority int;`)},
	}
	m2, err := tenancy.New(pool, &cfg)
	if err != nil {
		log.Fatal(err)
	}
	results, err := m2.Migrate(ctx, tenancy.MigrateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.Outcome, r.From, "->", r.To, r.Migrations)
	}
	// Output:
	// migrated 1 -> 2 [002_priority.sql]
	// migrated 1 -> 2 [002_priority.sql]
	// migrated 1 -> 2 [002_priority.sql]
}
