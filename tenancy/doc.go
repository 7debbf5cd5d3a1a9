// Package tenancy runs schema-per-tenant multi-tenancy on PostgreSQL: every
// tenant gets a schema of its own in one database, named from its UUID, and
// this package creates, migrates, drops, inspects and enters those schemas.
// It knows schemas and migrations, not what a tenant means to the
// application: the application keeps its own registry and hooks it into the
// same transactions.
//
// # Setting up
//
// A Manager works over a pgx pool and the application's tenant migrations,
// tern-format files (NNN_name.sql) in an fs.FS. Setup creates the ledger
// tables once; it is idempotent.
//
//	//go:embed migrations/*.sql
//	var files embed.FS
//
//	migrations, _ := fs.Sub(files, "migrations")
//	m, err := tenancy.New(pool, &tenancy.Config{Migrations: migrations})
//	if err != nil { ... }
//	err = m.Setup(ctx)
//
// Tenant id 0b6f…e1 lives in schema Config.Prefix + "0b6f…e1" (32 lowercase
// hex digits). Every function takes the uuid.UUID and derives the name, so
// no caller-supplied identifier ever reaches SQL; ParseSchemaName and ParseID
// refuse anything that is not exactly such a name or id.
//
// Two tables in Config.LedgerSchema record every tenant and every migration
// applied to it: tenancy_tenants (one row per tenant: version, last error)
// and tenancy_migrations (version, name, checksum, duration). A fleet's
// versions are therefore one query away: status and Inspect each cost one
// round trip, however many tenants there are, and a no-op migration of the
// fleet two (the second reads the warm pool's members).
//
// # Creating and dropping
//
// Manager.Create inserts the ledger row, creates the schema, applies every
// migration and records it, then calls the caller's Hook, all in one
// transaction: the tenant exists completely or not at all, whatever crashes
// when. Manager.Drop is the mirror image.
//
//	err := m.Create(ctx, id, func(ctx context.Context, tx pgx.Tx) error {
//		// The application's registry row commits with the schema or not at all.
//		_, err := tx.Exec(ctx, "INSERT INTO public.customers (id, name) VALUES ($1, $2)", id, name)
//		return err
//	})
//
// # The warm pool
//
// Creating a schema and running every migration is most of Create's time.
// With Config.PoolSize above 0 the Manager keeps that many schemas created
// and migrated ahead of time, pool members, and Create claims one instead:
// in its first round trip, with BEGIN, one statement takes the oldest
// member at the latest version that no other transaction holds (FOR UPDATE
// SKIP LOCKED, so concurrent Creates never wait for each other or take the
// same member), moves its ledger row and migration records to the tenant,
// then ALTER SCHEMA ... RENAME gives it the tenant's name and the Hook runs,
// all in the one transaction: a crash leaves the member or the tenant,
// never half of either. When no member is ready Create creates cold, in
// the same transaction.
//
// Members are recorded apart from tenants, in the ledger's tenancy_pool and
// tenancy_pool_migrations, under names of the prefix, "pool_" and 27 hex
// digits, which ParseSchemaName refuses: tenant resolution can never reach
// a member. Inspect reports them with TenantStatus.PoolMember set; they are
// never orphans.
//
// Nothing refills the pool by itself. FillPool tops it up once (in
// transactions of a few members under a row lock of the ledger, so that
// refills in several processes never overshoot); KeepPoolFilled does so
// until its context ends, and at once after each claim:
//
//	m, err := tenancy.New(pool, &tenancy.Config{Migrations: migrations, PoolSize: 20})
//	...
//	go m.KeepPoolFilled(ctx, time.Minute) // stops when ctx is cancelled
//
// Migrate of the whole fleet migrates the members behind too (MigratePool;
// one whose migration fails is dropped), and Create never claims a member
// behind, so a claimed schema is always at the latest version. DrainPool
// drops the members. Members renamed into tenants keep everything but their
// name, so the tenant migrations must not write their schema's name into
// text (a function's SET search_path, say): they run unqualified anyway.
//
// # Cloning
//
// Manager.Clone makes a new tenant whose schema is a copy of another's,
// structure only or with its rows, from one snapshot of a source that goes
// on taking writes, plus the ledger rows (version, applied migrations and
// checksums), then the Hook, in one transaction. It reads the definitions
// from PostgreSQL's own deparsers with search_path set to the source, so
// the copy's objects refer to each other and references to other schemas
// stay; what it cannot copy faithfully (a plpgsql body that names the
// source's schema, enums, policies, grants, ...) fails it with
// ErrCloneUnsupported before anything is written. Clone's documentation
// gives the order, the locks and the full list.
//
//	err := m.Clone(ctx, source, id, tenancy.CloneOptions{Data: true}, func(ctx context.Context, tx pgx.Tx) error {
//		_, err := tx.Exec(ctx, "INSERT INTO public.customers (id, name) VALUES ($1, $2)", id, name)
//		return err
//	})
//
// # Working inside a tenant
//
// Manager.InTenant runs a function in a transaction whose search_path is the
// tenant's, set locally (set_config) in the same round trip as BEGIN: no
// extra round trip, and nothing survives the transaction into the pool.
//
//	err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
//		// Unqualified names resolve in the tenant's schema only.
//		_, err := tx.Exec(ctx, "INSERT INTO notes (body) VALUES ($1)", body)
//		return err
//	})
//
// Manager.InTenantBatch sends the transaction's first queries, the
// tenant's own included, with BEGIN and the switch, and its last ones with
// COMMIT: a read is one round trip (PostgreSQL's implicit transaction of a
// pipeline, without BEGIN or COMMIT at all), a write two. The first
// queries that do not read the tenant's schema (an application's registry)
// run before the switch, so that their prepared plans survive the change
// of tenant.
//
// # Migrating the fleet
//
// Tenant migrations are loaded with tern and rendered once; their SQL is
// unqualified and runs with search_path set to the tenant's schema. The
// package runs them itself rather than through tern's Migrator, which takes
// one global advisory lock for every migrator (so tenants would migrate one
// at a time) and issues RESET ALL after each migration (which would send the
// next one to the wrong schema).
//
// Manager.Migrate migrates a fleet: each tenant in its own transaction, under
// the row lock of its ledger row (not an advisory lock, so it works behind
// PgBouncer in transaction pooling mode), several tenants at once, with a
// Result per tenant. A tenant costs three round trips and one per pending
// file: BEGIN with the ledger update that claims it, the files, the ledger's
// record, COMMIT. A failing tenant rolls back and the rest go on; a rerun
// resumes. Only forward migrations run.
//
//	results, err := m.Migrate(ctx, tenancy.MigrateOptions{MaxFailures: 10})
//	for _, r := range results {
//		if r.Outcome == tenancy.OutcomeFailed {
//			log.Printf("%s stays at version %d: %v", r.Schema, r.From, r.Err)
//		}
//	}
//	var fe *tenancy.FleetError
//	if errors.As(err, &fe) { ... } // some tenants failed or were skipped
//
// # Inspecting
//
// Manager.Inspect joins the ledger to the catalog in one query and reports
// each tenant's version, applied migrations and Problems: a schema without a
// ledger row, a ledger row without a schema, a tenant behind or ahead of the
// known migrations, an edited migration file, a failed last attempt.
//
//	statuses, err := m.Inspect(ctx)
//	for _, st := range statuses {
//		if !st.OK() {
//			log.Printf("%s at version %d: %v", st.Schema, st.Version, st.Problems)
//		}
//	}
//
// # HTTP requests
//
// Package tenancyhttp resolves the tenant of an HTTP request (a path value,
// a header or a subdomain, through the application's resolver) and hands it
// to the handler in the request's context.
//
//	tenant := tenancyhttp.Middleware(tenancyhttp.Config{
//		Key:     tenancyhttp.PathValue("tenant"),
//		Resolve: registry.Lookup,
//	})
//	mux.Handle("GET /t/{tenant}/notes", tenant(notes))
//
// # Testing
//
// Package tenancytest hands out migrated tenants on a test database, each
// test with a ledger and prefix of its own, and drops them afterwards.
//
//	func TestNotes(t *testing.T) {
//		t.Parallel()
//		m := tenancytest.NewManager(t, tenancytest.Pool(t), &tenancy.Config{Migrations: migrations})
//		id := tenancytest.Tenant(t, m)
//		err := m.InTenant(t.Context(), id, func(tx pgx.Tx) error { ... })
//	}
package tenancy
