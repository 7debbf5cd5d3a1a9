// Package tenancy runs schema-per-tenant multi-tenancy on PostgreSQL: every
// tenant gets a schema of its own in one database, named from its UUID, and
// this package creates, migrates, drops, inspects and enters those schemas.
// It knows schemas and migrations, not what a tenant means to the
// application: the application keeps its own registry and hooks it into the
// same transactions.
//
// # Naming
//
// Tenant id 0b6f…e1 lives in schema Config.Prefix + "0b6f…e1" (32 lowercase
// hex digits). Every function takes the uuid.UUID and derives the name, so
// no caller-supplied identifier ever reaches SQL; ParseSchemaName and ParseID
// refuse anything that is not exactly such a name or id.
//
// # The ledger
//
// Two tables in Config.LedgerSchema record every tenant and every migration
// applied to it: tenancy_tenants (one row per tenant: version, last error)
// and tenancy_migrations (version, name, checksum, duration). A fleet's
// versions are therefore one query away: a no-op fleet migration, status and
// Inspect each cost one round trip, however many tenants there are.
// Manager.Setup creates the tables.
//
// # Creating and dropping
//
// Manager.Create inserts the ledger row, creates the schema, applies every
// migration and records it, then calls the caller's Hook, all in one
// transaction: the tenant exists completely or not at all, whatever crashes
// when. Manager.Drop is the mirror image.
//
// # Migrations
//
// Tenant migrations are tern-format files (NNN_name.sql), loaded with tern
// and rendered once; their SQL is unqualified and runs with search_path set
// to the tenant's schema. The package runs them itself rather than through
// tern's Migrator, which takes one global advisory lock for every migrator
// (so tenants would migrate one at a time) and issues RESET ALL after each
// migration (which would send the next one to the wrong schema).
//
// Manager.Migrate migrates a fleet: each tenant in its own transaction, under
// the row lock of its ledger row (not an advisory lock, so it works behind
// PgBouncer in transaction pooling mode), several tenants at once, with a
// Result per tenant. A tenant costs three round trips and one per pending
// file: BEGIN with the ledger update that claims it, the files, the ledger's
// record, COMMIT. A failing tenant rolls back and the rest go on; a rerun
// resumes. Only forward migrations run.
//
// # Working inside a tenant
//
// Manager.InTenant runs a function in a transaction whose search_path is the
// tenant's, set locally (set_config) in the same round trip as BEGIN: no
// extra round trip, and nothing survives the transaction into the pool.
// Manager.InTenantBatch also sends the transaction's first schema-qualified
// queries (a registry check) with BEGIN, and a read-only one with its
// COMMIT: one round trip. Middleware puts the tenant of an HTTP request in
// its context for Manager.InContextTenant.
//
// # Testing
//
// Package tenancytest hands out migrated tenants on a test database.
package tenancy
