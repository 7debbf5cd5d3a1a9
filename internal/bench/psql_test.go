package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
)

// TestMain fails the package if a measurement leaves a goroutine behind
// (a pool, a load generator's worker, a test server).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestQuoteLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"":                `''`,
		"001_samples.sql": `'001_samples.sql'`,
		"it's":            `'it''s'`,
		`''`:              `''''''`,
		`back\slash`:      `'back\slash'`,
	} {
		if got := quoteLiteral(in); got != want {
			t.Errorf("quoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseClocks(t *testing.T) {
	start, end, err := parseClocks("1764321951123456\n1764321952000001\n")
	if err != nil || start != 1764321951123456 || end != 1764321952000001 {
		t.Errorf("parseClocks = %d, %d, %v", start, end, err)
	}
	for _, bad := range []string{"", "1\n", "1\n2\n3\n", "x\n2\n"} {
		if _, _, err := parseClocks(bad); err == nil {
			t.Errorf("parseClocks(%q): no error", bad)
		}
	}
}

// TestCreateTxText checks the script's shape where the identity tests
// cannot see it: one transaction, the migrations in order each after its
// own search_path, every file closed even when it ends in a comment.
func TestCreateTxText(t *testing.T) {
	// New only reads the migrations: the pool never connects.
	pool, err := pgxpool.New(t.Context(), "postgres://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m, err := tenancy.New(pool, &tenancy.Config{Prefix: db.SchemaPrefix, Migrations: fstest.MapFS{
		"001_a.sql": {Data: []byte("CREATE TABLE a (id int);\n-- ends in a comment")},
		"002_b.sql": {Data: []byte("CREATE TABLE b (id int)")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.MustParse("0193a4b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")
	var b strings.Builder
	createTx(m)(&b, id)
	want := `BEGIN;
INSERT INTO "public"."tenancy_tenants" (tenant_id, schema_name) VALUES ('0193a4b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b', 'center_0193a4b27c3d7e4f8a9b0c1d2e3f4a5b');
CREATE SCHEMA "center_0193a4b27c3d7e4f8a9b0c1d2e3f4a5b";
SET LOCAL search_path TO "center_0193a4b27c3d7e4f8a9b0c1d2e3f4a5b";
CREATE TABLE a (id int);
-- ends in a comment
;
SET LOCAL search_path TO "center_0193a4b27c3d7e4f8a9b0c1d2e3f4a5b";
CREATE TABLE b (id int)
;
INSERT INTO "public"."tenancy_migrations" (tenant_id, version, name, checksum, duration_us) VALUES
	('0193a4b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b', 1, '001_a.sql', '` + m.Migrations()[0].Checksum + `', 0),
	('0193a4b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b', 2, '002_b.sql', '` + m.Migrations()[1].Checksum + `', 0);
UPDATE "public"."tenancy_tenants" SET version = 2, migrated_at = now(), last_error = NULL, last_error_at = NULL WHERE tenant_id = '0193a4b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b';
COMMIT;
`
	if got := b.String(); got != want {
		t.Errorf("createTx wrote\n%s\nwant\n%s", got, want)
	}
}

// TestFloorTenantIsLibraryTenant is what makes the provisioning floor
// honest: a tenant made by the floor's script through psql is the
// library's tenant, table for table and ledger row for ledger row, for
// the product's migrations and for the fleet benchmark's Manager, which
// knows one migration more. A migration file whose name needs quoting
// checks the literals.
func TestFloorTenantIsLibraryTenant(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	e := testEnv(t)
	next, err := withBenchMigration(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	quoted, err := tenancy.New(d.Pool, &tenancy.Config{Prefix: "quoted_", Migrations: fstest.MapFS{
		"001_o'brien.sql": {Data: []byte("CREATE TABLE t (id int)")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, m := range []*tenancy.Manager{d.Tenancy, next, quoted} {
		lib, floor := uuid.New(), uuid.New()
		if err := m.Create(ctx, lib, nil); err != nil {
			t.Fatalf("library: %v", err)
		}
		if _, err := e.psqlRun(ctx, d.URL, 1, []uuid.UUID{floor}, createTx(m)); err != nil {
			t.Fatalf("floor: %v", err)
		}
		sameSchema(t, d, m.SchemaName(lib), m.SchemaName(floor))
		if got, want := ledgerRows(t, d, floor), ledgerRows(t, d, lib); !slices.Equal(got, want) {
			t.Errorf("%s: the floor's ledger rows\n%s\nwant the library's\n%s", m.Prefix(), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// And the ledger's own judge: no drift, nothing behind, nothing orphaned.
	for _, m := range []*tenancy.Manager{next, quoted} {
		statuses, err := m.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range statuses {
			if !s.OK() && !(m == next && slices.Equal(s.Problems, []tenancy.Problem{tenancy.ProblemBehind})) {
				t.Errorf("Inspect: %s: %v", s.Schema, s.Problems)
			}
		}
	}
}

// TestFloorMigrationIsLibraryMigration: the fleet floor's script leaves a
// tenant's schema as Manager.Migrate does (the floor keeps no ledger, by
// design).
func TestFloorMigrationIsLibraryMigration(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	e := testEnv(t)
	ctx := t.Context()
	lib, floor := uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{lib, floor} {
		if err := d.Tenancy.Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	next, err := withBenchMigration(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := next.Migrate(ctx, tenancy.MigrateOptions{Tenants: []uuid.UUID{lib}}); err != nil || res[0].Outcome != tenancy.OutcomeMigrated {
		t.Fatalf("library: %v %v", res, err)
	}
	pending := next.Migrations()[d.Tenancy.LatestVersion():]
	if _, err := e.psqlRun(ctx, d.URL, 1, []uuid.UUID{floor}, migrateTx(next, pending)); err != nil {
		t.Fatalf("floor: %v", err)
	}
	sameSchema(t, d, next.SchemaName(lib), next.SchemaName(floor))
}

// TestWithBenchMigration: the benchmark's Manager knows the product's
// migrations, unchanged, and one more after them.
func TestWithBenchMigration(t *testing.T) {
	d := testdb.New(t)
	next, err := withBenchMigration(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	product := d.Tenancy.Migrations()
	got := next.Migrations()
	if len(got) != len(product)+1 || !slices.Equal(got[:len(product)], product) {
		t.Fatalf("migrations %v, want the product's %v and one more", got, product)
	}
	last := got[len(got)-1]
	if last.Version != int32(len(product)+1) || !strings.HasSuffix(last.Name, "_bench_priority.sql") || last.SQL != strings.TrimSpace(benchMigrationSQL) {
		t.Errorf("the benchmark's migration is %d %s %q", last.Version, last.Name, last.SQL)
	}
}

// TestPsqlRunReportsFailure: a script that fails stops (ON_ERROR_STOP)
// and its error says why.
func TestPsqlRunReportsFailure(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	e := testEnv(t)
	id := uuid.New()
	if err := d.Tenancy.Create(t.Context(), id, nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.psqlRun(t.Context(), d.URL, 2, []uuid.UUID{uuid.New(), id}, createTx(d.Tenancy))
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("creating an existing tenant: %v, want a duplicate key error", err)
	}
}

// testEnv is an Env whose psql is the installed server's, found as
// pgcluster finds its binaries.
func testEnv(t *testing.T) *Env {
	t.Helper()
	dir, err := pgcluster.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "psql")); err != nil {
		t.Fatalf("no psql beside the server binaries: %v", err)
	}
	return &Env{BinDir: dir}
}

// sameSchema fails t unless schemas a and b hold the same relations,
// columns, indexes, constraints, triggers and functions, their names
// aside.
func sameSchema(t *testing.T, d *testdb.DB, a, b string) {
	t.Helper()
	la, lb := describeSchema(t, d, a), describeSchema(t, d, b)
	if len(la) == 0 {
		t.Fatalf("schema %s is empty", a)
	}
	if !slices.Equal(la, lb) {
		t.Errorf("schema %s (floor)\n%s\ndiffers from %s (library)\n%s", b, strings.Join(lb, "\n"), a, strings.Join(la, "\n"))
	}
}

// describeSchema lists what schema holds, from the catalog, one line per
// object, with the schema's name replaced by "<schema>".
func describeSchema(t *testing.T, d *testdb.DB, schema string) []string {
	t.Helper()
	rows, err := d.Pool.Query(t.Context(), `
SELECT 'relation ' || c.relname || ' ' || c.relkind::text
	FROM pg_class c WHERE c.relnamespace = $1::regnamespace
UNION ALL
SELECT format('column %s.%s %s notnull=%s default=%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
		a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid))
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = $1::regnamespace
UNION ALL
SELECT format('constraint %s %s', con.conname, pg_get_constraintdef(con.oid))
	FROM pg_constraint con WHERE con.connamespace = $1::regnamespace
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(tg.oid)
	FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid WHERE c.relnamespace = $1::regnamespace AND NOT tg.tgisinternal
UNION ALL
SELECT 'function ' || pg_get_functiondef(p.oid)
	FROM pg_proc p WHERE p.pronamespace = $1::regnamespace
ORDER BY 1`, pgx.Identifier{schema}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, schema, "<schema>")
	}
	return lines
}

// ledgerRows lists tenant id's ledger rows but for what differs between
// any two tenants: ids, times and the measured durations.
func ledgerRows(t *testing.T, d *testdb.DB, id uuid.UUID) []string {
	t.Helper()
	rows, err := d.Pool.Query(t.Context(), `
SELECT format('tenant version=%s migrated=%s last_error=%s last_error_at=%s', version, migrated_at IS NOT NULL, last_error, last_error_at)
	FROM public.tenancy_tenants WHERE tenant_id = $1
UNION ALL
SELECT format('migration %s %s %s', version, name, checksum)
	FROM public.tenancy_migrations WHERE tenant_id = $1
ORDER BY 1`, id)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 2 {
		t.Fatalf("tenant %s: ledger rows %q", id, lines)
	}
	return lines
}

// TestUndoBenchMigration: the fleet benchmark's undo, between its rounds,
// takes a migrated tenant back to the product's, schema and ledger, and
// it can be migrated again.
func TestUndoBenchMigration(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	e := testEnv(t)
	ctx := t.Context()
	migrated, untouched := uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{migrated, untouched} {
		if err := d.Tenancy.Create(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	next, err := withBenchMigration(d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	migrate := func() {
		t.Helper()
		res, err := next.Migrate(ctx, tenancy.MigrateOptions{Tenants: []uuid.UUID{migrated}})
		if err != nil || res[0].Outcome != tenancy.OutcomeMigrated {
			t.Fatalf("migrate: %v %v", res, err)
		}
	}
	migrate()
	down := []tenancy.Migration{{SQL: benchMigrationDownSQL}}
	if _, err := e.psqlRun(ctx, d.URL, 1, []uuid.UUID{migrated}, migrateTx(next, down)); err != nil {
		t.Fatal(err)
	}
	if err := resetLedger(ctx, d.Pool, d.Tenancy.LatestVersion()); err != nil {
		t.Fatal(err)
	}
	sameSchema(t, d, next.SchemaName(untouched), next.SchemaName(migrated))
	if got, want := ledgerRows(t, d, migrated), ledgerRows(t, d, untouched); !slices.Equal(got, want) {
		t.Errorf("ledger rows after the undo\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	migrate()
}
