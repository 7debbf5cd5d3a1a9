package tenancy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/jackc/tern/v2/migrate"

	"github.com/tenantctl/tenantctl/internal/sqlsplit"
)

// Migration is one tenant migration, loaded from tern's file format.
type Migration struct {
	// Version is the migration's sequence number, 1 for the first file.
	Version int32
	// Name is the file name, e.g. "003_add_priority.sql".
	Name string
	// SQL is the up direction, templates already rendered.
	SQL string
	// Checksum is the hex SHA-256 of SQL. The ledger records it per tenant
	// and version, so an edited migration file shows up as drift.
	Checksum string
}

// disableTxPattern is tern's marker for migrations that must run outside a
// transaction. A tenant migration always runs inside one (that is what makes
// it atomic per tenant), so such files are refused at load time.
var disableTxPattern = regexp.MustCompile(`(?m)^---- tern: disable-tx ----$`)

// sessionStatePattern finds SQL that changes search_path or resets session
// state. The library owns search_path during a migration: a session-level
// SET would outlive the transaction and follow the pooled connection to its
// next user, and RESET ALL or DISCARD would undo the tenant's search_path
// for the rest of the file (tern's own RESET ALL pitfall).
// Comments are left out of the search, so a file may explain itself.
var sessionStatePattern = regexp.MustCompile(`(?i)search_path|\bRESET\s+ALL\b|\bDISCARD\b`)

var sqlCommentPattern = regexp.MustCompile(`(?s)--[^\n]*|/\*.*?\*/`)

// LoadMigrations reads tern-format migrations (NNN_name.sql at the top level
// of fsys; shared templates in subfolders) and renders them with data, the
// same for every tenant. Only the up direction is kept: the library never
// migrates a tenant down. Files that must run outside a transaction, that
// mention search_path, RESET ALL or DISCARD, or that leave a string,
// quoted identifier, comment or dollar quote open, are refused.
func LoadMigrations(fsys fs.FS, data map[string]any) ([]Migration, error) {
	migs, _, err := loadMigrations(fsys, data)
	return migs, err
}

// loadMigrations is LoadMigrations, also returning each file cut into its
// statements, once at load, for the runner to send one by one
// (runMigrations). They are kept beside the Migrations, not in them, so
// that a Migration stays a comparable value.
func loadMigrations(fsys fs.FS, data map[string]any) ([]Migration, [][]sqlsplit.Statement, error) {
	// A Migrator without a connection only loads and renders; tern documents
	// that it touches the database only when given one.
	tm, err := migrate.NewMigratorEx(context.Background(), nil, "", &migrate.MigratorOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("tenancy: load migrations: %w", err)
	}
	for k, v := range data {
		tm.Data[k] = v
	}
	if err := tm.LoadMigrations(fsys); err != nil {
		return nil, nil, fmt.Errorf("tenancy: load migrations: %w", err)
	}
	out := make([]Migration, len(tm.Migrations))
	statements := make([][]sqlsplit.Statement, len(tm.Migrations))
	for i, mg := range tm.Migrations {
		if disableTxPattern.MatchString(mg.UpSQL) {
			return nil, nil, fmt.Errorf("tenancy: migration %s: disable-tx is not supported: each tenant migrates in one transaction", mg.Name)
		}
		if found := sessionStatePattern.FindString(sqlCommentPattern.ReplaceAllString(mg.UpSQL, "")); found != "" {
			return nil, nil, fmt.Errorf("tenancy: migration %s: %q is not allowed: the library sets search_path to the tenant's schema for every file, and nothing may change it or outlive the transaction",
				mg.Name, found)
		}
		stmts, err := sqlsplit.Split(mg.UpSQL)
		if err != nil {
			return nil, nil, fmt.Errorf("tenancy: migration %s: %w", mg.Name, err)
		}
		// The checksum is of the whole file, as before the runner split
		// it, so that no tenant's ledger shows drift for the change.
		sum := sha256.Sum256([]byte(mg.UpSQL))
		out[i] = Migration{Version: mg.Sequence, Name: mg.Name, SQL: mg.UpSQL, Checksum: hex.EncodeToString(sum[:])}
		statements[i] = stmts
	}
	return out, statements, nil
}
