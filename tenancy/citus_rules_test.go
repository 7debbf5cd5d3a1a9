package tenancy_test

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/sqlsplit"
	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/migrations"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
)

// citusRefusal is what the emulated Citus says to CREATE TRIGGER without
// citus.enable_unsafe_triggers, in Citus's words.
const citusRefusal = "triggers are not supported on distributed tables"

// citusRules makes pool's database (a test's own: event triggers are
// database-wide) hold its schemas of prefix to the two rules of Citus's
// schema-based sharding that tenantctl's first run on a coordinator broke
// (issue 15), which PostgreSQL does not have. After every DDL command on
// such a schema an event trigger refuses CREATE TRIGGER unless
// citus.enable_unsafe_triggers is on (a placeholder setting to
// PostgreSQL, a real one to Citus), and records the text the client sent
// (current_query()) with the command's tag in public.citus_ddl_seen: a
// worker refuses a text of several statements, and Citus forwards DDL
// texts as they came, so each must be a single statement (checked by
// multiStatementDDL, since no SQL function splits a text).
func citusRules(t *testing.T, pool *pgxpool.Pool, prefix string) {
	t.Helper()
	// An event trigger's command names the schema it is in, but a
	// trigger's only in its identity ("name on schema.table").
	p := quoteLiteral(prefix)
	onPrefix := "(starts_with(coalesce(schema_name, object_identity), " + p + ") OR strpos(object_identity, ' on ' || " + p + ") > 0)"
	if _, err := pool.Exec(t.Context(), `
CREATE TABLE public.citus_ddl_seen (tag text NOT NULL, query text NOT NULL);
CREATE FUNCTION public.citus_rules_end() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT * FROM pg_event_trigger_ddl_commands()
		WHERE `+onPrefix+`
	LOOP
		IF c.command_tag = 'CREATE TRIGGER' AND current_setting('citus.enable_unsafe_triggers', true) IS DISTINCT FROM 'on' THEN
			RAISE EXCEPTION '`+citusRefusal+`';
		END IF;
		INSERT INTO public.citus_ddl_seen VALUES (c.command_tag, current_query());
	END LOOP;
END
$$;
CREATE FUNCTION public.citus_rules_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.citus_ddl_seen
	SELECT tg_tag, current_query() FROM pg_event_trigger_dropped_objects()
	WHERE `+onPrefix+` LIMIT 1;
END
$$;
CREATE EVENT TRIGGER citus_rules_end ON ddl_command_end EXECUTE FUNCTION public.citus_rules_end();
CREATE EVENT TRIGGER citus_rules_drop ON sql_drop EXECUTE FUNCTION public.citus_rules_drop();`); err != nil {
		t.Fatalf("install the Citus rules: %v", err)
	}
}

// quoteLiteral quotes s as an SQL string literal, for the constant prefix
// of a test's own event trigger.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// multiStatementDDL returns the texts of citusRules' record that are not
// a single statement, and how many commands the record holds.
func multiStatementDDL(t *testing.T, pool *pgxpool.Pool) (bad []string, seen map[string]int) {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT tag, query FROM public.citus_ddl_seen")
	if err != nil {
		t.Fatal(err)
	}
	seen = map[string]int{}
	var tag, query string
	if _, err := pgx.ForEachRow(rows, []any{&tag, &query}, func() error {
		seen[tag]++
		if stmts, err := sqlsplit.Split(query); err != nil || len(stmts) != 1 {
			bad = append(bad, tag+": "+query)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return bad, seen
}

// tenantMigrations returns the product's first n tenant migrations.
func tenantMigrations(t *testing.T, n int) fstest.MapFS {
	t.Helper()
	entries, err := fs.ReadDir(migrations.Tenant, ".")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, e := range entries[:n] {
		data, err := fs.ReadFile(migrations.Tenant, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: data}
	}
	return out
}

// Every path of the library that makes or changes a tenant's schema —
// creation cold and from the warm pool, fleet migration, pool migration,
// clone, import — keeps to Citus's rules (citusRules) with the product's
// own migrations (functions, dollar quotes, indexes, triggers dropped and
// made again) on a Manager that takes the database for Citus. The same
// rules refuse a Manager that does not know it is on Citus, and a text
// of two statements, so the emulation is not one that passes anything.
// A third rule, no foreign key across a tenant schema's edge, is checked
// on the catalog at the end.
func TestCitusRulesOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := testdb.New(t)
	citusRules(t, d.Pool, db.SchemaPrefix)
	manager := func(n, poolSize int, citus bool) *tenancy.Manager {
		m, err := tenancy.New(d.Pool, &tenancy.Config{Migrations: tenantMigrations(t, n), Prefix: db.SchemaPrefix,
			LedgerSchema: "public", PoolSize: poolSize})
		if err != nil {
			t.Fatal(err)
		}
		if citus {
			tenancy.AssumeCitus(m)
		}
		return m
	}

	unaware := uuid.New()
	if err := manager(1, 0, false).Create(ctx, unaware, nil); err == nil || !strings.Contains(err.Error(), citusRefusal) {
		t.Fatalf("Create by a Manager that does not know it is on Citus: %v; want %q", err, citusRefusal)
	}
	if _, err := d.Pool.Exec(ctx, "CREATE SCHEMA center_rules_probe; CREATE TABLE center_rules_probe.t (i int)"); err != nil {
		t.Fatal(err)
	}
	if bad, _ := multiStatementDDL(t, d.Pool); len(bad) != 2 {
		t.Fatalf("texts of several statements seen: %q; want the probe's two commands", bad)
	}
	if _, err := d.Pool.Exec(ctx, "DROP SCHEMA center_rules_probe CASCADE; TRUNCATE public.citus_ddl_seen"); err != nil {
		t.Fatal(err)
	}

	old := manager(1, 0, true)
	first, second := uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{first, second} {
		if err := old.Create(ctx, id, nil); err != nil {
			t.Fatalf("Create at version 1: %v", err)
		}
	}
	if err := old.InTenant(ctx, first, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO samples (name, sample_type, barcode, user_id) VALUES ('s', 'blood', 'B-1', $1)", uuid.New())
		return err
	}); err != nil {
		t.Fatal(err)
	}

	m := manager(2, 1, true)
	if _, err := m.FillPool(ctx); err != nil {
		t.Fatalf("FillPool at version 2: %v", err)
	}
	results, err := m.Migrate(ctx, tenancy.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Outcome != tenancy.OutcomeMigrated {
			t.Fatalf("Migrate %s: %s, %v", r.Schema, r.Outcome, r.Err)
		}
	}
	pooled := uuid.New()
	if err := m.Create(ctx, pooled, nil); err != nil {
		t.Fatalf("Create from the pool: %v", err)
	}
	cloned := uuid.New()
	if err := m.Clone(ctx, first, cloned, tenancy.CloneOptions{Data: true}, nil); err != nil {
		t.Fatalf("Clone: %v", err)
	}
	var archive bytes.Buffer
	if _, err := m.Export(ctx, first, &archive, tenancy.ExportOptions{}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	imported := uuid.New()
	if _, err := m.Import(ctx, &archive, tenancy.ImportOptions{ID: imported}); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if err := m.Drop(ctx, second, nil); err != nil {
		t.Fatalf("Drop: %v", err)
	}

	for _, id := range []uuid.UUID{first, pooled, cloned, imported} {
		var triggers int
		var barcodes []string
		if err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'samples'::regclass AND NOT tgisinternal").Scan(&triggers); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT barcode FROM samples ORDER BY barcode")
			if err != nil {
				return err
			}
			barcodes, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}); err != nil {
			t.Fatalf("%s: %v", m.SchemaName(id), err)
		}
		want := []string{"B-1"}
		if id == pooled {
			want = nil
		}
		if triggers != 1 || strings.Join(barcodes, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %d triggers, rows %q; want 1 trigger, rows %q", m.SchemaName(id), triggers, barcodes, want)
		}
	}
	bad, seen := multiStatementDDL(t, d.Pool)
	if len(bad) > 0 {
		t.Errorf("DDL texts of several statements, which a Citus worker refuses: %q", bad)
	}
	// Each path made its triggers under the rules: two creations at
	// version 1 (a CREATE TRIGGER each), the pool member made at version 2
	// (001's CREATE, 002's DROP and CREATE), the migration of the two
	// tenants (a DROP and a CREATE each), the clone (one CREATE), the
	// import's scratch schema (as the member) and its copy (one CREATE).
	if seen["CREATE TRIGGER"] != 10 || seen["DROP TRIGGER"] != 4 {
		t.Errorf("commands seen under the rules: %v; want 10 CREATE TRIGGER and 4 DROP TRIGGER", seen)
	}
	// Citus also refuses a foreign key between a distributed schema and
	// any other but a reference table (EnsureFKeysForTenantTable in its
	// schema_based_sharding.c); the registry has no reference tables, so
	// no tenant's key may leave its schema, either way.
	var crossing []string
	rows, err := d.Pool.Query(ctx, `SELECT conname::text FROM pg_constraint c
		JOIN pg_class f ON f.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
		WHERE c.contype = 'f' AND f.relnamespace <> r.relnamespace
		AND (starts_with(f.relnamespace::regnamespace::text, $1) OR starts_with(r.relnamespace::regnamespace::text, $1))`, db.SchemaPrefix)
	if err == nil {
		crossing, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(crossing) > 0 {
		t.Errorf("foreign keys across a tenant schema's edge: %q, %v; want none", crossing, err)
	}
}
