package tenancy

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with errors.Is; the library wraps them with
// the tenant and the operation.
var (
	// ErrInvalidName is returned for a schema name, prefix or tenant key
	// that is not exactly what the Manager would derive. Nothing reaches SQL
	// before this check.
	ErrInvalidName = errors.New("tenancy: invalid tenant name")

	// ErrTenantNotFound is returned when the ledger has no row for a tenant.
	ErrTenantNotFound = errors.New("tenancy: tenant not found")

	// ErrTenantExists is returned by Create when the tenant's ledger row or
	// schema already exists.
	ErrTenantExists = errors.New("tenancy: tenant already exists")

	// ErrUnknownVersion is returned for a target version the Manager has no
	// migration for.
	ErrUnknownVersion = errors.New("tenancy: unknown migration version")

	// ErrAhead is a tenant's error when its schema is at a version above the
	// target (or above every known migration). Down migrations are never run
	// by the library: rolling a fleet back is a new forward migration.
	ErrAhead = errors.New("tenancy: tenant is ahead of the target version")

	// ErrSkipped is a tenant's error when a fleet migration stopped before
	// reaching it, because MaxFailures was reached or the context ended.
	ErrSkipped = errors.New("tenancy: tenant skipped")

	// ErrCloneUnsupported is returned by Clone when the source schema
	// holds something a clone cannot copy faithfully (see Clone); the
	// error names it. Nothing was written.
	ErrCloneUnsupported = errors.New("tenancy: the source holds what a clone cannot copy")

	// ErrNoLedger is returned when the ledger tables do not exist: call
	// Manager.Setup first.
	ErrNoLedger = errors.New("tenancy: ledger tables missing (call Manager.Setup)")

	// ErrBadArchive is returned by Import for a file that is not an
	// archive Export wrote, is cut short, corrupt or altered, or is of
	// another ArchiveFormat. Nothing was made.
	ErrBadArchive = errors.New("tenancy: not a whole, intact tenant archive")

	// ErrIncompatibleArchive is returned by Import for an archive this
	// Manager cannot restore faithfully: it is at a version past the
	// Manager's migrations, a migration of the same version differs, or
	// its schema is not what its migrations make. Nothing was made.
	ErrIncompatibleArchive = errors.New("tenancy: the archive does not fit this Manager's migrations")
)

// MigrationError is a tenant migration that PostgreSQL rejected, with the
// migration's name and the statement that failed. It unwraps to the
// driver's error (a *pgconn.PgError when the server refused the SQL).
type MigrationError struct {
	Schema    string
	Migration string
	// Statement is the failing statement's position in the file, from 1,
	// and Line the file's line it starts on; both are 0 when what failed
	// was no statement of the file (the connection, or the library's own
	// settings sent before them).
	Statement, Line int
	Err             error
}

func (e *MigrationError) Error() string {
	if e.Statement == 0 {
		return fmt.Sprintf("tenancy: schema %s: migration %s: %v", e.Schema, e.Migration, e.Err)
	}
	return fmt.Sprintf("tenancy: schema %s: migration %s, statement %d (line %d): %v", e.Schema, e.Migration, e.Statement, e.Line, e.Err)
}

func (e *MigrationError) Unwrap() error { return e.Err }

// FleetError reports a fleet migration in which some tenants failed or were
// skipped; the per-tenant Results returned beside it say which and why.
type FleetError struct {
	Total   int
	Failed  int
	Skipped int
}

func (e *FleetError) Error() string {
	return fmt.Sprintf("tenancy: %d of %d tenants failed, %d skipped", e.Failed, e.Total, e.Skipped)
}
