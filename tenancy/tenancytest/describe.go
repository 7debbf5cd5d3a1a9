package tenancytest

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// describeSchemaSQL lists the facts of schema $1 that a copy must share,
// one line each, with search_path set to the schema (DescribeSchema) so
// that its own names print unqualified and another schema's qualified: the
// description of a faithful copy equals its source's, and one whose view
// or foreign key still points at the source shows the source's name.
// Columns are numbered among the live ones, so a column dropped from the
// source (a gap in its attnums) does not differ from a copy without it.
const describeSchemaSQL = `WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
SELECT line FROM (
	SELECT format('relation %I kind=%s persistence=%s options=%s acl=%s rls=%s', c.relname, c.relkind, c.relpersistence,
		c.reloptions, c.relacl, c.relrowsecurity) AS line
	FROM pg_class c WHERE c.relnamespace = (TABLE n) AND c.relkind <> 't'
	UNION ALL
	SELECT format('column %I #%s %I %s collation=%s notnull=%s default=%s identity=%s generated=%s serial=%s',
		c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname, format_type(a.atttypid, a.atttypmod),
		a.attcollation::regcollation, a.attnotnull, pg_get_expr(d.adbin, d.adrelid, true), a.attidentity, a.attgenerated,
		pg_get_serial_sequence(quote_ident(c.relname), a.attname)::regclass)
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE c.relnamespace = (TABLE n) AND c.relkind IN ('r', 'v')
	UNION ALL
	SELECT format('constraint %I %I %s', c.relname, k.conname, pg_get_constraintdef(k.oid, true))
	FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = (TABLE n)
	UNION ALL
	SELECT format('index %s valid=%s clustered=%s', pg_get_indexdef(i.indexrelid, 0, true), i.indisvalid, i.indisclustered)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = (TABLE n)
	UNION ALL
	SELECT format('view %I %s', c.relname, pg_get_viewdef(c.oid, true)) FROM pg_class c WHERE c.relnamespace = (TABLE n) AND c.relkind = 'v'
	UNION ALL
	-- The header names the function's schema whatever the search_path:
	-- its first occurrence is left out.
	SELECT format('function %s %s', p.oid::regprocedure,
		overlay(pg_get_functiondef(p.oid) PLACING '' FROM position(quote_ident($1) || '.' IN pg_get_functiondef(p.oid)) FOR length(quote_ident($1)) + 1))
	FROM pg_proc p WHERE p.pronamespace = (TABLE n)
	UNION ALL
	SELECT format('trigger %I %s enabled=%s', c.relname, pg_get_triggerdef(g.oid, true), g.tgenabled)
	FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = (TABLE n) AND NOT g.tgisinternal
	UNION ALL
	SELECT format('sequence %I %s start=%s min=%s max=%s increment=%s cycle=%s cache=%s last=%s', s.sequencename, s.data_type,
		s.start_value, s.min_value, s.max_value, s.increment_by, s.cycle, s.cache_size, s.last_value)
	FROM pg_sequences s WHERE s.schemaname = $1
	UNION ALL
	SELECT format('comment %s: %s', CASE WHEN d.classoid = 'pg_namespace'::regclass THEN 'schema'
		ELSE pg_describe_object(d.classoid, d.objoid, d.objsubid) END, d.description)
	FROM pg_description d
	WHERE (d.classoid = 'pg_namespace'::regclass AND d.objoid = (TABLE n))
		OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM pg_class WHERE relnamespace = (TABLE n)))
		OR (d.classoid = 'pg_proc'::regclass AND d.objoid IN (SELECT oid FROM pg_proc WHERE pronamespace = (TABLE n)))
		OR (d.classoid = 'pg_constraint'::regclass AND d.objoid IN (SELECT oid FROM pg_constraint WHERE connamespace = (TABLE n)))
		OR (d.classoid = 'pg_trigger'::regclass AND d.objoid IN
			(SELECT g.oid FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = (TABLE n)))
	UNION ALL
	SELECT format('type %I %s', t.typname, t.typtype) FROM pg_type t WHERE t.typnamespace = (TABLE n)
) facts ORDER BY line COLLATE "C"`

// DescribeSchema returns a canonical description of schema's structure:
// its relations, columns (types, collations, defaults, identities,
// generated expressions), constraints, indexes, views, functions, triggers,
// sequences with their positions, comments and types, one fact a line, as
// PostgreSQL's own deparsers print them, sorted. Two schemas are copies of
// each other when their descriptions are equal: the schema's own names
// print unqualified, so that the copy of a view that still read the
// source's table would differ. Rows are DescribeData's.
func DescribeSchema(tb testing.TB, pool *pgxpool.Pool, schema string) []string {
	tb.Helper()
	var lines []string
	err := pgx.BeginFunc(tb.Context(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(tb.Context(), "SELECT set_config('search_path', $1, true)", pgx.Identifier{schema}.Sanitize()); err != nil {
			return err
		}
		rows, err := tx.Query(tb.Context(), describeSchemaSQL, schema)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		tb.Fatalf("tenancytest: describe schema %s: %v", schema, err)
	}
	return lines
}

// DescribeData returns, for each table of schema in name order, its row
// count and the MD5 of its rows' text, sorted: equal for two schemas
// whose tables hold the same rows, column for column.
func DescribeData(tb testing.TB, pool *pgxpool.Pool, schema string) []string {
	tb.Helper()
	ctx := tb.Context()
	rows, err := pool.Query(ctx, `SELECT relname::text FROM pg_class
WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND relkind = 'r' ORDER BY relname COLLATE "C"`, schema)
	if err != nil {
		tb.Fatalf("tenancytest: describe data %s: %v", schema, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("tenancytest: describe data %s: %v", schema, err)
	}
	out := make([]string, len(tables))
	for i, t := range tables {
		var count int64
		var sum string
		err := pool.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text COLLATE "C")), '') FROM `+
			pgx.Identifier{schema, t}.Sanitize()+" r").Scan(&count, &sum)
		if err != nil {
			tb.Fatalf("tenancytest: describe data %s.%s: %v", schema, t, err)
		}
		out[i] = fmt.Sprintf("%s rows=%d md5=%s", t, count, sum)
	}
	return out
}
