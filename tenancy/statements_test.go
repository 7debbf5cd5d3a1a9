package tenancy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// Each statement of a migration file reaches the server on its own (what
// Citus needs of DDL on a distributed table), with the comments before it,
// in the tenant's one transaction: current_query(), the text of the
// client's statement being run, is each statement's alone. Semicolons in
// comments, strings and dollar quotes stay where they are.
func TestMigrationStatementsRunOneByOne(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newFleetNames(t, pool, "st")
	const file = `-- statements, one by one
CREATE TABLE seen (n int, q text);
INSERT INTO seen VALUES (1, current_query());
/* a ; in a comment */ INSERT INTO seen VALUES (2, current_query() || 'a;b' || $$c;d$$);`
	m := n.Manager(t, pool, &tenancy.Config{Migrations: withExtra(t, "003_seen.sql", file)})
	id := tenancytest.Tenant(t, m)
	var got []string
	if err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT q FROM seen ORDER BY n")
		if err != nil {
			return err
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"\nINSERT INTO seen VALUES (1, current_query());",
		"\n/* a ; in a comment */ INSERT INTO seen VALUES (2, current_query() || 'a;b' || $$c;d$$);a;bc;d",
	}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("the server saw\n%q\nwant\n%q", got, want)
	}
	// What the ledger's checksum is of is still the whole file.
	for _, mg := range m.Migrations() {
		if sum := sha256.Sum256([]byte(file)); mg.Name == "003_seen.sql" && (mg.SQL != file || mg.Checksum != hex.EncodeToString(sum[:])) {
			t.Errorf("Migration = %q, checksum %s; want the file unchanged and its SHA-256", mg.SQL, mg.Checksum)
		}
	}
}

// A failing statement is named by its position and line, in Create and in
// a fleet migration alike, and rolls the tenant's transaction back as a
// failing file did.
func TestMigrationErrorNamesStatement(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newFleetNames(t, pool, "se")
	const file = `CREATE TABLE a (id int);
CREATE TABLE b (id int);

-- the third statement, on line 5, fails
SELECT 1/0;
CREATE TABLE c (id int);
`
	check := func(what string, err error) {
		t.Helper()
		var me *tenancy.MigrationError
		if !errors.As(err, &me) || me.Migration != "003_boom.sql" || me.Statement != 3 || me.Line != 5 {
			t.Fatalf("%s: %v, want a MigrationError at 003_boom.sql, statement 3, line 5", what, err)
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
			t.Errorf("%s: %v, want it to unwrap to division_by_zero", what, err)
		}
		if !strings.Contains(err.Error(), ": migration 003_boom.sql, statement 3 (line 5): ERROR: division by zero") {
			t.Errorf("%s: error %q does not name the statement", what, err)
		}
	}
	boom := n.Manager(t, pool, &tenancy.Config{Migrations: withExtra(t, "003_boom.sql", file)})
	check("Create", boom.Create(ctx, uuid.New(), nil))

	old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	id := tenancytest.Tenant(t, old)
	res, err := boom.Migrate(ctx, tenancy.MigrateOptions{})
	if err == nil || len(res) != 1 {
		t.Fatalf("Migrate: %v, %d results; want the tenant failed", err, len(res))
	}
	check("Migrate", res[0].Err)
	var tables int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN ('a', 'b', 'c')",
		old.SchemaName(id)).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("%d of the failed file's tables are left, want none", tables)
	}
}

// A file that leaves a string, comment or dollar quote open is refused
// when the migrations are loaded, naming the file and line, before any
// tenant is touched.
func TestMigrationsMustBeClosed(t *testing.T) {
	t.Parallel()
	for sql, want := range map[string]string{
		"CREATE TABLE x (a text DEFAULT 'oops);":       "migration 003_open.sql: line 1: unterminated quoted string",
		"SELECT 1;\n/* never closed":                   "migration 003_open.sql: line 2: unterminated /* comment",
		"DO $body$ BEGIN PERFORM 1; END $$;":           "migration 003_open.sql: line 1: unterminated dollar-quoted string $body$",
		"CREATE TABLE \"x (a int);\nCREATE TABLE y();": "migration 003_open.sql: line 1: unterminated quoted identifier",
	} {
		_, err := tenancy.LoadMigrations(withExtra(t, "003_open.sql", sql), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadMigrations(%q) = %v, want %q", sql, err, want)
		}
	}
}
