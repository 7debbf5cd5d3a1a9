package bench

// The floor of the provisioning and fleet-migration benchmarks: the SQL
// the library sends for a tenant, written out as psql scripts, one
// transaction per tenant, and psql processes to run them.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/tenancy"
)

// The ledger tables of tenantctl's Manager (db.NewTenancy puts them in
// public).
var (
	ledgerTenants    = pgx.Identifier{"public", "tenancy_tenants"}.Sanitize()
	ledgerMigrations = pgx.Identifier{"public", "tenancy_migrations"}.Sanitize()
)

// scriptTx writes one tenant's transaction of a psql script to b.
type scriptTx func(b *strings.Builder, id uuid.UUID)

// createTx is the transaction of m.Create(ctx, id, nil), statement for
// statement, with the parameters written as literals: the ledger row,
// CREATE SCHEMA, each migration file after its SET LOCAL search_path, the
// ledger's migration rows (one multi-row VALUES where the library unnests
// arrays: the same rows) and the tenant's version. Two statements of the
// library's own plumbing are left out, as they leave nothing behind: the
// ledger row's RETURNING of the caller's search_path, and the set_config
// that gives it back before COMMIT (COMMIT ends SET LOCAL anyway). The
// library records how long each migration took; the floor records 0.
func createTx(m *tenancy.Manager) scriptTx {
	migs := m.Migrations()
	return func(b *strings.Builder, id uuid.UUID) {
		schema := m.SchemaName(id)
		tenant := quoteLiteral(id.String())
		b.WriteString("BEGIN;\n")
		fmt.Fprintf(b, "INSERT INTO %s (tenant_id, schema_name) VALUES (%s, %s);\n", ledgerTenants, tenant, quoteLiteral(schema))
		fmt.Fprintf(b, "CREATE SCHEMA %s;\n", pgx.Identifier{schema}.Sanitize())
		writeMigrations(b, schema, migs)
		fmt.Fprintf(b, "INSERT INTO %s (tenant_id, version, name, checksum, duration_us) VALUES\n", ledgerMigrations)
		for i, mg := range migs {
			sep := ",\n"
			if i == len(migs)-1 {
				sep = ";\n"
			}
			fmt.Fprintf(b, "\t(%s, %d, %s, %s, 0)%s", tenant, mg.Version, quoteLiteral(mg.Name), quoteLiteral(mg.Checksum), sep)
		}
		fmt.Fprintf(b, "UPDATE %s SET version = %d, migrated_at = now(), last_error = NULL, last_error_at = NULL WHERE tenant_id = %s;\n",
			ledgerTenants, migs[len(migs)-1].Version, tenant)
		b.WriteString("COMMIT;\n")
	}
}

// migrateTx is the schema change of a fleet migration applying migs to a
// tenant of m, without the library's ledger: its claim of the tenant (the
// version UPDATE) and its record of the files. That is the floor of a
// fleet migration; the ledger is part of what the library's figure pays.
func migrateTx(m *tenancy.Manager, migs []tenancy.Migration) scriptTx {
	return func(b *strings.Builder, id uuid.UUID) {
		b.WriteString("BEGIN;\n")
		writeMigrations(b, m.SchemaName(id), migs)
		b.WriteString("COMMIT;\n")
	}
}

// writeMigrations writes migs as the library runs them in schema: each
// file after a SET LOCAL search_path of its own. A file's SQL may end
// without a semicolon, or in a comment, so a lone ";" on a line of its own
// closes it (psql sends nothing for an empty statement).
func writeMigrations(b *strings.Builder, schema string, migs []tenancy.Migration) {
	for _, mg := range migs {
		fmt.Fprintf(b, "SET LOCAL search_path TO %s;\n%s\n;\n", pgx.Identifier{schema}.Sanitize(), mg.SQL)
	}
}

// quoteLiteral quotes s as an SQL string literal by doubling its single
// quotes, which is all a literal needs with standard_conforming_strings on
// (PostgreSQL's default since 9.1; psql -X leaves it so). The scripts'
// literals are the benchmark's own generated uuids, schema names and
// checksums (hex) and the migration files' names.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// clockSQL prints the server's clock in microseconds: the first and last
// statement of every script, so that a script is timed from inside its
// connection.
const clockSQL = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;\n"

// psqlRun runs tx for every tenant of ids from procs psql processes at
// once against url, each its share of ids in one script (`psql -X -q -v
// ON_ERROR_STOP=1 -f`), and returns the wall time from the earliest
// script's first statement to the latest one's end by the server's clock.
// psql's start-up and connection are thus not in it, as the library's
// figures leave out its pool's connecting (psqlStartup measures them). The
// scripts are written before any psql starts and deleted afterwards.
func (e *Env) psqlRun(ctx context.Context, url string, procs int, ids []uuid.UUID, tx scriptTx) (time.Duration, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	dir, err := os.MkdirTemp("", "tenantctl-bench-psql-")
	if err != nil {
		return 0, fmt.Errorf("psql scripts: %w", err)
	}
	defer os.RemoveAll(dir)
	var files []string
	for chunk := range slices.Chunk(ids, (len(ids)+procs-1)/procs) {
		name := filepath.Join(dir, fmt.Sprintf("tenants-%d.sql", len(files)))
		if err := writeScript(name, chunk, tx); err != nil {
			return 0, err
		}
		files = append(files, name)
	}

	cmds := make([]*exec.Cmd, len(files))
	outs := make([]bytes.Buffer, len(files))
	stderrs := make([]bytes.Buffer, len(files))
	for i, f := range files {
		cmds[i] = e.Command(ctx, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", f)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &stderrs[i]
		if err := cmds[i].Start(); err != nil {
			return 0, fmt.Errorf("psql: %w", err)
		}
	}
	var first, last int64
	var errs []error
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("psql -f %s: %w: %s", filepath.Base(files[i]), err, strings.TrimSpace(stderrs[i].String())))
			continue
		}
		start, end, err := parseClocks(outs[i].String())
		if err != nil {
			errs = append(errs, fmt.Errorf("psql -f %s: %w", filepath.Base(files[i]), err))
			continue
		}
		if first == 0 || start < first {
			first = start
		}
		last = max(last, end)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return time.Duration(last-first) * time.Microsecond, nil
}

// parseClocks reads the two clocks a script printed (clockSQL).
func parseClocks(out string) (start, end int64, err error) {
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("want the two clock readings on stdout, got %q", out)
	}
	if start, err = strconv.ParseInt(f[0], 10, 64); err == nil {
		end, err = strconv.ParseInt(f[1], 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("clock readings %q: %w", out, err)
	}
	return start, end, nil
}

// psqlStartup is how long psql takes to start, connect and exit with
// nothing to do: what psqlRun leaves out of its figures.
func (e *Env) psqlStartup(ctx context.Context, url string) (time.Duration, error) {
	start := time.Now()
	if out, err := e.Command(ctx, "psql", "-X", "-q", "-d", url, "-f", os.DevNull).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return time.Since(start), nil
}

// writeScript writes the script of ids to file name: the clock, tx of
// every tenant, the clock.
func writeScript(name string, ids []uuid.UUID, tx scriptTx) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("psql script: %w", err)
	}
	defer f.Close() // a second Close after the checked one below is harmless
	// A bufio.Writer's error sticks: once a write fails, every later one
	// and Flush return it, so Flush's error is every write's.
	w := bufio.NewWriter(f)
	w.WriteString(clockSQL)
	var b strings.Builder
	for _, id := range ids {
		b.Reset()
		tx(&b, id)
		w.WriteString(b.String())
	}
	w.WriteString(clockSQL)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("psql script: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("psql script: %w", err)
	}
	return nil
}
