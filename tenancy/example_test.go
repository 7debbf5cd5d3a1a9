package tenancy_test

import (
	"context"
	"errors"
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
		_, _ = m.DrainPool(ctx) // members are not tenants: Drop would not find them
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

// Check the application's registry and read the tenant's rows in one
// round trip: the check's error stops the callbacks queued after it, so a
// suspended customer's rows are never returned.
func ExampleManager_InTenantBatch() {
	ctx := context.Background()
	m, pool, cfg, cleanup := exampleSetup(ctx, exampleMigrations)
	defer cleanup()
	// The application's registry (in the example's own schema, to be
	// dropped with it; an application's would be public.customers).
	customers := pgx.Identifier{cfg.LedgerSchema, "customers"}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+customers+" (id uuid PRIMARY KEY, active bool NOT NULL)"); err != nil {
		log.Fatal(err)
	}
	acme := uuid.New()
	err := m.Create(ctx, acme, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO "+customers+" (id, active) VALUES ($1, true)", acme)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	errSuspended := errors.New("customer suspended")
	countNotes := func() (int, error) {
		var n int
		err := m.InTenantBatch(ctx, acme, pgx.TxOptions{AccessMode: pgx.ReadOnly},
			func(outside, inside *pgx.Batch) {
				// The registry's query names its schema and runs before
				// the switch, so its plan serves every tenant.
				outside.Queue("SELECT active FROM "+customers+" WHERE id = $1", acme).QueryRow(func(row pgx.Row) error {
					var active bool
					if err := row.Scan(&active); err != nil {
						return err
					}
					if !active {
						return errSuspended
					}
					return nil
				})
				inside.Queue("SELECT count(*) FROM notes").QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
			}, nil)
		return n, err
	}

	n, err := countNotes()
	fmt.Println("notes:", n, err)
	if _, err := pool.Exec(ctx, "UPDATE "+customers+" SET active = false WHERE id = $1", acme); err != nil {
		log.Fatal(err)
	}
	_, err = countNotes()
	fmt.Println("suspended:", errors.Is(err, errSuspended))
	// Output:
	// notes: 0 <nil>
	// suspended: true
}

// Find what is wrong in a fleet: here a schema dropped by hand and one made
// without the library.
func ExampleManager_Inspect() {
	ctx := context.Background()
	m, pool, _, cleanup := exampleSetup(ctx, exampleMigrations)
	defer cleanup()
	healthy := uuid.MustParse("00000000-0000-0000-0000-000000000001")
	lost := uuid.MustParse("00000000-0000-0000-0000-000000000002")
	stray := uuid.MustParse("00000000-0000-0000-0000-000000000003")
	for _, id := range []uuid.UUID{healthy, lost} {
		if err := m.Create(ctx, id, nil); err != nil {
			log.Fatal(err)
		}
	}
	for _, sql := range []string{
		"DROP SCHEMA " + pgx.Identifier{m.SchemaName(lost)}.Sanitize() + " CASCADE",
		"CREATE SCHEMA " + pgx.Identifier{m.SchemaName(stray)}.Sanitize(),
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			log.Fatal(err)
		}
	}

	statuses, err := m.Inspect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range statuses {
		fmt.Println(st.TenantID, "version", st.Version, "ok", st.OK(), st.Problems)
	}
	// Output:
	// 00000000-0000-0000-0000-000000000001 version 1 ok true []
	// 00000000-0000-0000-0000-000000000002 version 1 ok false [missing-schema]
	// 00000000-0000-0000-0000-000000000003 version 0 ok false [orphan-schema]
}

// Keep migrated schemas ready in a warm pool, so that Create only renames
// one. A server runs the refill in the background instead of FillPool:
//
//	go m.KeepPoolFilled(ctx, time.Minute) // until ctx is cancelled
func ExampleManager_FillPool() {
	ctx := context.Background()
	_, pool, cfg, cleanup := exampleSetup(ctx, exampleMigrations)
	defer cleanup()
	cfg.PoolSize = 2
	m, err := tenancy.New(pool, &cfg)
	if err != nil {
		log.Fatal(err)
	}

	created, err := m.FillPool(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("members created:", created)
	// Claims a member: the ledger's records move to the tenant, the
	// schema takes the tenant's name, in Create's one transaction.
	if err := m.Create(ctx, uuid.MustParse("00000000-0000-0000-0000-00000000000a"), nil); err != nil {
		log.Fatal(err)
	}
	statuses, err := m.Inspect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range statuses {
		if st.PoolMember {
			fmt.Println("pool member at version", st.Version, "ok", st.OK())
		} else {
			fmt.Println("tenant", st.TenantID, "at version", st.Version, "ok", st.OK())
		}
	}
	// Output:
	// members created: 2
	// tenant 00000000-0000-0000-0000-00000000000a at version 1 ok true
	// pool member at version 1 ok true
}
