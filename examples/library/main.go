// Command library shows package tenancy from the outside: it creates two
// tenants, writes rows in each, shows that neither sees the other's, rolls
// out a new migration to both, and drops one.
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres go run ./examples/library
//
// (`make example` provides a throwaway database.) It works in a ledger
// schema and with a schema prefix of its own, and removes them on exit.
package main

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// Two releases of the application's tenant migrations: v2 adds a column.
//
//go:embed migrations
var migrationFiles embed.FS

const ledger = "example_ledger"

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	url := cmp.Or(os.Getenv("DATABASE_URL"), os.Getenv("TEST_DATABASE_URL"))
	if url == "" {
		return fmt.Errorf("set DATABASE_URL to a PostgreSQL database")
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	defer cleanup(pool)

	v1, err := manager(pool, "migrations/v1")
	if err != nil {
		return err
	}
	if err := v1.Setup(ctx); err != nil {
		return err
	}

	tenants := map[string]uuid.UUID{"acme": uuid.New(), "globex": uuid.New()}
	for _, name := range []string{"acme", "globex"} {
		id := tenants[name]
		// The hook is where an application writes its own registry row, in
		// the transaction that creates the schema.
		if err := v1.Create(ctx, id, nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "created %-6s in schema %s\n", name, v1.SchemaName(id))
		err := v1.InTenant(ctx, id, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO orders (item) VALUES ($1), ($2)", name+"-anvil", name+"-rocket")
			return err
		})
		if err != nil {
			return err
		}
	}

	for _, name := range []string{"acme", "globex"} {
		var items []string
		err := v1.InTenant(ctx, tenants[name], func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, "SELECT item FROM orders ORDER BY id")
			items, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-6s sees only its own orders: %v\n", name, items)
	}

	// The next release ships 002: a Manager over the new files migrates
	// every tenant, each in its own transaction.
	v2, err := manager(pool, "migrations/v2")
	if err != nil {
		return err
	}
	results, err := v2.Migrate(ctx, tenancy.MigrateOptions{})
	if err != nil {
		return err
	}
	for _, r := range results {
		fmt.Fprintf(out, "migrated %s: %s, version %d -> %d\n", r.Schema, r.Outcome, r.From, r.To)
	}

	if err := v2.Drop(ctx, tenants["globex"], nil); err != nil {
		return err
	}
	status, err := v2.Inspect(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dropped globex; %d tenant left: %s at version %d\n", len(status), status[0].Schema, status[0].Version)
	return nil
}

func manager(pool *pgxpool.Pool, dir string) (*tenancy.Manager, error) {
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	return tenancy.New(pool, &tenancy.Config{Migrations: sub, Prefix: "example_", LedgerSchema: ledger})
}

// cleanup removes what the example made, so that it can run again.
func cleanup(pool *pgxpool.Pool) {
	ctx := context.Background()
	m, err := manager(pool, "migrations/v2")
	if err != nil {
		log.Print(err)
		return
	}
	status, err := m.Inspect(ctx)
	if err != nil {
		log.Print(err)
		return
	}
	for _, s := range status {
		if err := m.Drop(ctx, s.TenantID, nil); err != nil {
			log.Print(err)
		}
	}
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{ledger}.Sanitize()+" CASCADE"); err != nil {
		log.Print(err)
	}
}
