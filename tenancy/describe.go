package tenancy

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// describeSQL lists the facts of schema $1 that a copy must share, one
// line each, with search_path set to the schema (DescribeSchema) so that
// its own names print unqualified and another schema's qualified: the
// description of a faithful copy equals its source's, and one whose view
// or foreign key still points at the source shows the source's name.
// Columns are numbered among the live ones, so a column dropped from the
// source (a gap in its attnums) does not differ from a copy without it.
// The deparsers print their pretty form, which leaves a visible name
// unqualified where the plain one qualifies an index's or trigger's table.
const describeSQL = `WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
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
	SELECT format('sequence %I %s start=%s min=%s max=%s increment=%s cycle=%s cache=%s', s.sequencename, s.data_type,
		s.start_value, s.min_value, s.max_value, s.increment_by, s.cycle, s.cache_size)
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

// DescribeSchema returns a canonical description of schema's structure,
// read in tx: its relations (kind, persistence, options, privileges, row
// security), columns (types, collations, defaults, identities, generated
// expressions), constraints, indexes, views, functions, triggers,
// sequences and their options, comments and types, one fact a line, as
// PostgreSQL's own deparsers print them, sorted. Two schemas have the
// same structure exactly when their descriptions are equal: the schema's
// own names print unqualified, every other schema's qualified. Rows and
// sequence positions are state, not structure, and are left out. It
// leaves tx's search_path set to schema, and returns ErrTenantNotFound
// when no such schema exists.
func DescribeSchema(ctx context.Context, tx pgx.Tx, schema string) ([]string, error) {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT set_config('search_path', $1, true) IS NOT NULL AND EXISTS (SELECT FROM pg_namespace WHERE nspname = $2)",
		pgx.Identifier{schema}.Sanitize(), schema).Scan(&exists); err != nil {
		return nil, fmt.Errorf("tenancy: describe %s: %w", schema, err)
	}
	if !exists {
		return nil, fmt.Errorf("tenancy: describe %s: %w", schema, ErrTenantNotFound)
	}
	rows, err := tx.Query(ctx, describeSQL, schema)
	if err != nil {
		return nil, fmt.Errorf("tenancy: describe %s: %w", schema, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("tenancy: describe %s: %w", schema, err)
	}
	return lines, nil
}

// Describe returns tenant id's DescribeSchema: what Import compares an
// archive's schema with, and a way to find a tenant whose schema drifted
// from its migrations (compare it with a new tenant's).
func (m *Manager) Describe(ctx context.Context, id uuid.UUID) ([]string, error) {
	var lines []string
	err := pgx.BeginTxFunc(ctx, m.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		lines, err = DescribeSchema(ctx, tx, m.SchemaName(id))
		return err
	})
	return lines, err
}
