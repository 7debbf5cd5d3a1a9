// Package migrations embeds tenantctl's SQL migrations, in tern's file format
// (NNN_name.sql, with an optional "---- create above / drop below ----"
// separator).
//
// Public holds the migrations of the shared public schema (the registry of
// centers, users, API tokens and admin console sessions); they run once per
// database, through tern.
// Tenant holds the migrations every tenant schema receives; they are written
// without schema qualification and run by package tenancy with search_path
// set to the tenant's schema, so the same files serve every tenant.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed public/*.sql tenant/*.sql
var files embed.FS

// Public is the file system of the public schema's migrations, rooted so that
// the migration files sit at its top level (tern's FindMigrations reads only
// that level).
var Public = mustSub("public")

// Tenant is the file system of the tenant schema's migrations, rooted like
// Public.
var Tenant = mustSub("tenant")

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		// Only reachable if the embed directive and dir disagree: a build bug.
		panic("migrations: " + err.Error())
	}
	return sub
}
