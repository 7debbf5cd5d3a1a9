package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CloneOptions says what Clone copies besides the structure.
type CloneOptions struct {
	// Data copies every row of the source's tables as well. Defaults to
	// false: the structure only, its tables empty.
	Data bool
}

// cloneAttempts bounds how often Clone starts again after a serialization
// failure (see Clone); each attempt rolled back completely.
const cloneAttempts = 3

// Clone makes tenant id a copy of tenant source: a new schema with the
// source's tables, columns, defaults, constraints, indexes, sequences (at
// the source's positions), views, functions, triggers and comments, the
// rows too with opts.Data, and a ledger row at the source's version with
// its applied migrations and their checksums; then hook (which may be nil)
// runs, all in one transaction, so a failure at any point leaves nothing.
// It returns ErrTenantNotFound when source is not a tenant of the Manager
// (or its schema is gone), ErrTenantExists when id is one already, and
// ErrCloneUnsupported, naming the object, when the source holds something
// a clone cannot copy faithfully.
//
// # A consistent copy of a live source
//
// The transaction is REPEATABLE READ: every row is read from one snapshot,
// taken at its first statement, so the copy is the source as it was at
// that instant while the source goes on taking writes, which Clone never
// blocks (it reads, taking ACCESS SHARE locks only). That first statement
// also locks the source's ledger row FOR SHARE, which a Migrate or a Drop
// of the source waits for (and which waits for theirs): the structure read
// from the catalog is the one the copied version describes. Should such a
// change commit while the lock waits, the snapshot is older than the row
// and PostgreSQL refuses the lock (serialization failure); Clone then
// starts again, up to three times in all. Two clones of one source share
// the lock and run side by side.
//
// # Driven by the catalog
//
// Definitions come from PostgreSQL's own deparsers (pg_get_indexdef,
// pg_get_constraintdef, pg_get_viewdef, pg_get_triggerdef,
// pg_get_functiondef, pg_get_expr, format_type), read with search_path set
// to the source's schema alone. They qualify a name only when it is not
// visible there, so names of the source's objects come out unqualified and
// names of other schemas' objects (public's functions, an extension's
// types, a foreign key to a shared table) qualified; run with search_path
// set to the new schema, the first land in the copy and the second keep
// pointing where they did. A view or a SQL-standard function body (BEGIN
// ATOMIC) that names the source's schema explicitly is stored as a parse
// tree, so it is retargeted too. The one text rewritten is the header of
// pg_get_functiondef, which always qualifies the function's own name: its
// exact expected prefix is replaced, or the clone fails.
//
// The order: sequences; functions whose bodies are text (plpgsql, SQL in
// a string), with check_function_bodies off as pg_dump does; tables with
// their columns (types, collations, defaults, identities with their
// sequences' names and options, generated columns); the rows, read from
// the snapshot (INSERT ... SELECT on the server, generated columns left
// out, OVERRIDING SYSTEM VALUE for identities), before any index,
// constraint or trigger exists, so that no trigger fires and nothing is
// checked row by row; primary key, unique, exclusion and check
// constraints; the other indexes; foreign keys, so that tables need no
// order among themselves; views and SQL-standard functions, ordered by
// their dependencies (pg_depend); triggers, with their enabled state;
// sequences' OWNED BY; comments; sequence positions, read after the rows
// so that the copy never hands out a value its rows hold. Every name
// (table, index, constraint, sequence, trigger) is kept, which is why a
// table renamed since its identity was made keeps its sequence's old name
// in the copy as in the source. Sequence positions are copied even
// without opts.Data: they are part of the structure, and ids of the copy
// then never repeat the source's.
//
// Before the hook runs, Clone checks in pg_depend that nothing of the new
// schema refers to an object of the source's.
//
// # What is refused
//
// A function whose body or settings name the source's schema: a plpgsql
// or string SQL body is text, opaque to the catalog, and copied verbatim
// it would read and write the source tenant's tables from the copy (SET
// search_path is refused for the same reason). Also partitioned tables,
// table inheritance, materialized views, foreign tables, types of the
// schema's own (enums, domains, composite and range types), aggregates,
// rules other than views', row-level security and policies, extensions
// installed in the schema, operators, collations, text search objects,
// extended statistics, and granted privileges. None of these is made by
// this package's migrations in tenantctl; each fails the clone with
// ErrCloneUnsupported before anything is written. A table's default,
// check or index expression that calls a SQL-standard function of the
// schema fails the clone too (such functions are made after tables). Not
// copied: ownership (the copy belongs to the role cloning), per-column
// storage, compression and statistics targets, and clustering.
//
// # Versions
//
// The copy is at the source's version, behind or ahead of the Manager's
// migrations as the source is: Migrate brings it forward like any tenant,
// Inspect reports it. Its ledger records the source's applied migrations
// with their checksums, applied_at and durations, and no last error.
func (m *Manager) Clone(ctx context.Context, source, id uuid.UUID, opts CloneOptions, hook Hook) error {
	var err error
	for range cloneAttempts {
		err = m.cloneOnce(ctx, source, id, opts, hook)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "40001" { // serialization_failure
			return err
		}
	}
	return err
}

// cloneOnce is one attempt of Clone, in a transaction of its own.
func (m *Manager) cloneOnce(ctx context.Context, source, id uuid.UUID, opts CloneOptions, hook Hook) error {
	tx, err := m.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return fmt.Errorf("tenancy: clone %s: begin: %w", m.SchemaName(id), err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit; otherwise the error that matters is returned below
	if err := m.clone(ctx, tx, source, id, opts); err != nil {
		return err
	}
	return hookAndCommit(ctx, tx, hook, "clone", m.SchemaName(id))
}

// CloneTx is Clone inside the caller's transaction, which must be
// REPEATABLE READ or SERIALIZABLE (else the tables would be read from
// different snapshots, and the copy could hold a row whose parent it
// lacks); nothing is visible to others until the caller commits. The
// snapshot is the transaction's, taken at its first statement: a
// serialization failure (SQLSTATE 40001) is the caller's to retry. On
// Citus the transaction keeps citus.enable_unsafe_triggers on until it
// ends (ddlSettings), as after CreateTx.
func (m *Manager) CloneTx(ctx context.Context, tx pgx.Tx, source, id uuid.UUID, opts CloneOptions) error {
	var iso string
	if err := tx.QueryRow(ctx, "SELECT current_setting('transaction_isolation')").Scan(&iso); err != nil {
		return fmt.Errorf("tenancy: clone %s: %w", m.SchemaName(id), err)
	}
	if iso != "repeatable read" && iso != "serializable" {
		return fmt.Errorf("tenancy: clone %s: the transaction is %s: a clone reads its source from one snapshot and needs REPEATABLE READ or SERIALIZABLE",
			m.SchemaName(id), iso)
	}
	return m.clone(ctx, tx, source, id, opts)
}

// clone does Clone's work in tx, leaving tx's search_path as it found it.
func (m *Manager) clone(ctx context.Context, tx pgx.Tx, source, id uuid.UUID, opts CloneOptions) error {
	src, dst := m.SchemaName(source), m.SchemaName(id)
	fail := func(err error) error { return wrapErr("clone", dst, err) }
	callerPath, err := m.cloneLedger(ctx, tx, source, id)
	if err != nil {
		return err
	}
	p, err := readClonePlan(ctx, tx, src, dst)
	if err != nil {
		return fmt.Errorf("tenancy: clone %s from %s: %w", dst, src, err)
	}
	settings, err := m.ddlSettings(ctx, tx)
	if err != nil {
		return fail(err)
	}
	if err := p.buildBeforeRows(ctx, tx, dst, settings); err != nil {
		return fail(err)
	}
	if opts.Data {
		if err := copyRows(ctx, tx, src, dst, p.data); err != nil {
			return fail(err)
		}
	}
	if err := p.buildAfterRows(ctx, tx); err != nil {
		return fail(err)
	}
	if err := copySequencePositions(ctx, tx, src, dst, p.sequenceNames); err != nil {
		return fail(err)
	}
	if err := checkCloneIndependent(ctx, tx, src, dst); err != nil {
		return fmt.Errorf("tenancy: clone %s from %s: %w", dst, src, err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true), set_config('check_function_bodies', $2, true)",
		callerPath, p.checkBodies); err != nil {
		return fail(err)
	}
	return nil
}

// cloneLedger locks source's ledger row FOR SHARE and inserts tenant id's
// row at its version, with copies of its migration records, in one
// statement; it returns the transaction's search_path before, to be given
// back. The new row comes first, as in Create: a concurrent Create or
// Clone of id waits on its unique index and then fails cleanly. The
// records' foreign key on the new row is checked at the end of the
// statement, when both exist.
func (m *Manager) cloneLedger(ctx context.Context, tx pgx.Tx, source, id uuid.UUID) (string, error) {
	var callerPath string
	err := tx.QueryRow(ctx, `WITH src AS (
	SELECT version, migrated_at FROM `+m.tenantsTbl+` WHERE tenant_id = $3 AND schema_name = $4
	AND EXISTS (SELECT FROM pg_namespace WHERE nspname = $4)
	FOR SHARE
), tenant AS (
	INSERT INTO `+m.tenantsTbl+` (tenant_id, schema_name, version, migrated_at)
	SELECT $1, $2, version, migrated_at FROM src
	RETURNING tenant_id
), applied AS (
	INSERT INTO `+m.migTbl+` (tenant_id, version, name, checksum, applied_at, duration_us)
	SELECT $1, g.version, g.name, g.checksum, g.applied_at, g.duration_us
	FROM `+m.migTbl+` g WHERE g.tenant_id = $3 AND EXISTS (SELECT FROM src)
)
SELECT current_setting('search_path') FROM tenant`, id, m.SchemaName(id), source, m.SchemaName(source)).Scan(&callerPath)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("tenancy: clone %s: source %s: %w", m.SchemaName(id), m.SchemaName(source), ErrTenantNotFound)
	}
	if err != nil {
		return "", wrapErr("clone", m.SchemaName(id), err)
	}
	return callerPath, nil
}

// execAll runs stmts in order, each its own simple-protocol Exec (no
// arguments), so that a failure names its statement.
func execAll(ctx context.Context, tx pgx.Tx, stmts []string) error {
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

// firstLine is the start of a statement, to name it in an error.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// tableData is what copying one table's rows needs.
type tableData struct {
	table    string
	columns  []string // the stored columns, generated ones left out
	identity bool     // a GENERATED ALWAYS identity column is among them
}

// copyRows copies every table's rows from src to dst on the server, read
// from the transaction's snapshot.
func copyRows(ctx context.Context, tx pgx.Tx, src, dst string, tables []tableData) error {
	for _, t := range tables {
		if len(t.columns) == 0 {
			continue // no stored column: nothing a row could hold
		}
		cols := make([]string, len(t.columns))
		for i, c := range t.columns {
			cols[i] = pgx.Identifier{c}.Sanitize()
		}
		list := strings.Join(cols, ", ")
		override := ""
		if t.identity {
			override = " OVERRIDING SYSTEM VALUE"
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+pgx.Identifier{dst, t.table}.Sanitize()+" ("+list+")"+override+
			" SELECT "+list+" FROM "+pgx.Identifier{src, t.table}.Sanitize()); err != nil {
			return fmt.Errorf("copy the rows of %s: %w", t.table, err)
		}
	}
	return nil
}

// copySequencePositions sets every sequence of dst where src's is, read
// now: sequences are not transactional, so a position read after the rows
// is at or past every value they hold. One round trip reads, one writes.
func copySequencePositions(ctx context.Context, tx pgx.Tx, src, dst string, names []string) error {
	pos, err := readSequencePositions(ctx, tx, src, names)
	if err != nil {
		return err
	}
	return setSequencePositions(ctx, tx, dst, pos)
}

// sequencePosition is a sequence's last_value and is_called.
type sequencePosition struct {
	Name     string `json:"name"`
	Last     int64  `json:"last_value"`
	IsCalled bool   `json:"is_called"`
}

// readSequencePositions reads the positions of schema's sequences names,
// in one round trip.
func readSequencePositions(ctx context.Context, tx pgx.Tx, schema string, names []string) ([]sequencePosition, error) {
	pos := make([]sequencePosition, len(names))
	var b pgx.Batch
	for i, n := range names {
		pos[i].Name = n
		b.Queue("SELECT last_value, is_called FROM " + pgx.Identifier{schema, n}.Sanitize()).QueryRow(func(row pgx.Row) error {
			return row.Scan(&pos[i].Last, &pos[i].IsCalled)
		})
	}
	if len(names) > 0 {
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return nil, fmt.Errorf("read sequence positions: %w", err)
		}
	}
	return pos, nil
}

// setSequencePositions sets schema's sequences where pos says, by
// parameter, in one round trip.
func setSequencePositions(ctx context.Context, tx pgx.Tx, schema string, pos []sequencePosition) error {
	if len(pos) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, p := range pos {
		b.Queue("SELECT setval($1::regclass, $2, $3)", pgx.Identifier{schema, p.Name}.Sanitize(), p.Last, p.IsCalled)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("set sequence positions: %w", err)
	}
	return nil
}

// checkCloneIndependent fails if an object of dst depends on one of src:
// a name the deparsers qualified as the source's because something else
// shadowed it on the search path would otherwise go unnoticed.
func checkCloneIndependent(ctx context.Context, tx pgx.Tx, src, dst string) error {
	rows, err := tx.Query(ctx, `WITH s AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
d AS (SELECT oid FROM pg_namespace WHERE nspname = $2),
refs AS (
	SELECT dep.* FROM pg_class c JOIN pg_depend dep ON dep.refclassid = 'pg_class'::regclass AND dep.refobjid = c.oid WHERE c.relnamespace = (TABLE s)
	UNION ALL
	SELECT dep.* FROM pg_proc p JOIN pg_depend dep ON dep.refclassid = 'pg_proc'::regclass AND dep.refobjid = p.oid WHERE p.pronamespace = (TABLE s)
	UNION ALL
	SELECT dep.* FROM pg_type t JOIN pg_depend dep ON dep.refclassid = 'pg_type'::regclass AND dep.refobjid = t.oid WHERE t.typnamespace = (TABLE s)
)
SELECT pg_describe_object(r.classid, r.objid, r.objsubid) || ' depends on ' || pg_describe_object(r.refclassid, r.refobjid, r.refobjsubid)
FROM refs r
WHERE (TABLE d) = CASE r.classid
	WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = r.objid)
	WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = r.objid)
	WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = r.objid)
	WHEN 'pg_constraint'::regclass THEN (SELECT connamespace FROM pg_constraint WHERE oid = r.objid)
	WHEN 'pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = r.objid)
	WHEN 'pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class WHERE w.oid = r.objid)
	WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE g.oid = r.objid)
END
LIMIT 5`, src, dst)
	if err != nil {
		return fmt.Errorf("check the copy's dependencies: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("check the copy's dependencies: %w", err)
	}
	if len(found) > 0 {
		return fmt.Errorf("%w: the copy would refer to the source: %s", ErrCloneUnsupported, strings.Join(found, "; "))
	}
	return nil
}

// clonePlan is everything Clone runs to make the copy, read from the
// catalog: statements with names unqualified for the new schema's
// search_path, in the order of Clone's documentation.
type clonePlan struct {
	sequences, functions, tables      []string
	data                              []tableData
	constraints, indexes, foreignKeys []string
	late                              []string // views and SQL-standard functions, dependencies first
	triggers, ownedBy, comments       []string
	sequenceNames                     []string // every sequence, identities' too
	checkBodies                       string   // the transaction's check_function_bodies, to give back
}

// buildBeforeRows runs settings (the Manager's ddlSettings), then creates
// dst and what its rows need, in tx: sequences, functions with text
// bodies, tables. It leaves dst alone on the search path, so every
// unqualified name of the definitions lands there, and
// check_function_bodies off, since a function's body may name a table
// made after it; the caller gives both back (p.checkBodies).
func (p clonePlan) buildBeforeRows(ctx context.Context, tx pgx.Tx, dst string, settings []string) error {
	if err := execAll(ctx, tx, settings); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{dst}.Sanitize()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true), set_config('check_function_bodies', 'off', true)",
		pgx.Identifier{dst}.Sanitize()); err != nil {
		return err
	}
	return p.exec(ctx, tx, p.sequences, p.functions, p.tables)
}

// buildAfterRows completes the schema buildBeforeRows began, once its
// rows are in: constraints, indexes, foreign keys, views and SQL-standard
// functions, triggers, sequences' OWNED BY, comments.
func (p clonePlan) buildAfterRows(ctx context.Context, tx pgx.Tx) error {
	return p.exec(ctx, tx, p.constraints, p.indexes, p.foreignKeys, p.late, p.triggers, p.ownedBy, p.comments)
}

func (clonePlan) exec(ctx context.Context, tx pgx.Tx, groups ...[]string) error {
	for _, stmts := range groups {
		if err := execAll(ctx, tx, stmts); err != nil {
			return err
		}
	}
	return nil
}

// seqOptions are a sequence's options as CREATE SEQUENCE and an identity's
// clause take them, from pg_sequence q; the type (AS) is CREATE SEQUENCE's
// alone, an identity's is its column's.
const seqOptions = `format('INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s',
	q.seqincrement, q.seqmin, q.seqmax, q.seqstart, q.seqcache,
	CASE WHEN q.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)`

// identitySeq joins, for column a, the sequence s of its identity (a
// pg_depend of type 'i'), and that sequence's pg_sequence q.
const identitySeq = `pg_depend i JOIN pg_class s ON s.oid = i.objid JOIN pg_sequence q ON q.seqrelid = s.oid
	WHERE i.classid = 'pg_class'::regclass AND i.refclassid = 'pg_class'::regclass AND i.deptype = 'i'`

// The catalog queries of a clone's plan; $1 is the source's schema. Each
// runs with search_path set to it (readClonePlan), so that the deparsers
// leave the source's names unqualified. format's %I and %L quote as the
// server parses.
const (
	cloneUnsupportedSQL = `WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
SELECT what FROM (
	SELECT format('%s %I', CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index'
		WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type'
		ELSE 'relation of kind ' || c.relkind::text END, c.relname) AS what
	FROM pg_class c WHERE c.relnamespace = (TABLE n) AND c.relkind NOT IN ('r', 'S', 'i', 'v')
	UNION ALL
	SELECT format('type %I', t.typname) FROM pg_type t
	WHERE t.typnamespace = (TABLE n) AND t.typrelid = 0 AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
	UNION ALL
	SELECT format('inheritance of table %s', i.inhrelid::regclass) FROM pg_inherits i JOIN pg_class c ON c.oid IN (i.inhrelid, i.inhparent)
	WHERE c.relnamespace = (TABLE n)
	UNION ALL
	SELECT format('row-level security on %I', c.relname) FROM pg_class c WHERE c.relnamespace = (TABLE n) AND (c.relrowsecurity OR c.relforcerowsecurity)
	UNION ALL
	SELECT format('policy %I on %I', p.polname, c.relname) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = (TABLE n)
	UNION ALL
	SELECT format('rule %I on %I', r.rulename, c.relname) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
	WHERE c.relnamespace = (TABLE n) AND r.rulename <> '_RETURN'
	UNION ALL
	SELECT format('extension %I', x.extname) FROM pg_extension x WHERE x.extnamespace = (TABLE n)
	UNION ALL
	SELECT format('%s %s', CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'window function' END, p.oid::regprocedure)
	FROM pg_proc p WHERE p.pronamespace = (TABLE n) AND p.prokind IN ('a', 'w')
	UNION ALL
	SELECT format('function %s names schema %I in its body or settings', p.oid::regprocedure, $1) FROM pg_proc p
	WHERE p.pronamespace = (TABLE n) AND (strpos(lower(p.prosrc), lower($1)) > 0
		OR strpos(lower(coalesce(array_to_string(p.proconfig, ' '), '')), lower($1)) > 0)
	UNION ALL
	SELECT format('function %s sets search_path', p.oid::regprocedure) FROM pg_proc p
	WHERE p.pronamespace = (TABLE n) AND EXISTS (SELECT FROM unnest(p.proconfig) s WHERE s LIKE 'search\_path=%')
	UNION ALL
	SELECT format('operator %s', o.oid::regoperator) FROM pg_operator o WHERE o.oprnamespace = (TABLE n)
	UNION ALL
	SELECT format('collation %I', c.collname) FROM pg_collation c WHERE c.collnamespace = (TABLE n)
	UNION ALL
	SELECT format('statistics object %I', s.stxname) FROM pg_statistic_ext s WHERE s.stxnamespace = (TABLE n)
	UNION ALL
	SELECT format('text search configuration %I', c.cfgname) FROM pg_ts_config c WHERE c.cfgnamespace = (TABLE n)
	UNION ALL
	SELECT format('text search dictionary %I', d.dictname) FROM pg_ts_dict d WHERE d.dictnamespace = (TABLE n)
	UNION ALL
	SELECT format('privileges granted on %I', c.relname) FROM pg_class c WHERE c.relnamespace = (TABLE n) AND c.relacl IS NOT NULL
	UNION ALL
	SELECT format('privileges granted on column %I.%I', c.relname, a.attname) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	WHERE c.relnamespace = (TABLE n) AND a.attacl IS NOT NULL
	UNION ALL
	SELECT format('privileges granted on %s', p.oid::regprocedure) FROM pg_proc p WHERE p.pronamespace = (TABLE n) AND p.proacl IS NOT NULL
	UNION ALL
	SELECT format('privileges granted on schema %I', s.nspname) FROM pg_namespace s WHERE s.oid = (TABLE n) AND s.nspacl IS NOT NULL
) u ORDER BY what LIMIT 10`

	cloneSequencesSQL = `SELECT format('CREATE %sSEQUENCE %I AS %s ', CASE s.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, s.relname,
	format_type(q.seqtypid, NULL)) || ` + seqOptions + `
FROM pg_class s JOIN pg_sequence q ON q.seqrelid = s.oid
WHERE s.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND s.relkind = 'S'
AND NOT EXISTS (SELECT FROM pg_depend i WHERE i.classid = 'pg_class'::regclass AND i.objid = s.oid AND i.deptype = 'i')
ORDER BY s.relname`

	// pg_get_functiondef names the function schema-qualified whatever the
	// search_path: header is that exact prefix, replaced by the unqualified
	// one, or NULL when the definition does not start with it.
	cloneFunctionDef = `(SELECT CASE WHEN starts_with(def, header) THEN format('CREATE OR REPLACE %s %I(', kind, p.proname) || substr(def, length(header) + 1) END
	FROM (SELECT pg_get_functiondef(p.oid) AS def, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kind) f,
	LATERAL (SELECT format('CREATE OR REPLACE %s %I.%I(', kind, $1::text, p.proname) AS header) h)`

	cloneFunctionsSQL = `SELECT p.oid::regprocedure::text, ` + cloneFunctionDef + `
FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND p.prokind IN ('f', 'p') AND p.prosqlbody IS NULL
ORDER BY p.proname, p.oid`

	cloneTablesSQL = `SELECT c.relname::text,
	format('CREATE %sTABLE %I (%s)%s', CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, c.relname,
		coalesce(string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
			|| CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
			|| CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid, true) || ') STORED'
				WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid, true) ELSE '' END
			|| CASE WHEN a.attidentity <> '' THEN
				CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS' ELSE ' GENERATED BY DEFAULT' END
				|| (SELECT format(' AS IDENTITY (SEQUENCE NAME %I ', s.relname) || ` + seqOptions + ` || ')'
					FROM ` + identitySeq + ` AND i.refobjid = a.attrelid AND i.refobjsubid = a.attnum)
				ELSE '' END
			|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
			', ' ORDER BY a.attnum), ''),
		coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', '')),
	coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attgenerated = ''), '{}'),
	coalesce(bool_or(a.attidentity = 'a'), false)
FROM pg_class c
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind = 'r'
GROUP BY c.oid
ORDER BY c.relname`

	// Constraints: primary keys first, then unique, exclusion and check,
	// then (foreign, true) foreign keys.
	cloneConstraintsSQL = `SELECT format('ALTER TABLE %I ADD CONSTRAINT %I %s', c.relname, k.conname, pg_get_constraintdef(k.oid, true)), k.contype = 'f'
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind = 'r' AND k.contype IN ('p', 'u', 'x', 'c', 'f')
ORDER BY k.contype = 'f', k.contype <> 'p', c.relname, k.conname`

	// Indexes not made by a constraint (a foreign key's conindid is the
	// referenced table's index, hence the conrelid).
	cloneIndexesSQL = `SELECT pg_get_indexdef(i.indexrelid, 0, true)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind = 'r'
AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
ORDER BY ic.relname`

	// Views and functions with SQL-standard bodies, each keyed by catalog
	// and oid, then the edges between them (what each depends on).
	cloneLateSQL = `WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
SELECT 'pg_class'::regclass::oid, c.oid, c.relname::text,
	format('CREATE VIEW %I%s AS %s', c.relname, coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', ''), pg_get_viewdef(c.oid, true))
FROM pg_class c WHERE c.relnamespace = (TABLE n) AND c.relkind = 'v'
UNION ALL
SELECT 'pg_proc'::regclass::oid, p.oid, p.proname::text, ` + cloneFunctionDef + `
FROM pg_proc p WHERE p.pronamespace = (TABLE n) AND p.prokind IN ('f', 'p') AND p.prosqlbody IS NOT NULL
ORDER BY 3, 2`

	cloneLateEdgesSQL = `WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
SELECT 'pg_class'::regclass::oid, r.ev_class, d.refclassid, d.refobjid
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
WHERE c.relnamespace = (TABLE n) AND c.relkind = 'v' AND d.refobjid <> r.ev_class
UNION ALL
SELECT 'pg_proc'::regclass::oid, p.oid, d.refclassid, d.refobjid
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE p.pronamespace = (TABLE n) AND p.prosqlbody IS NOT NULL`

	cloneTriggersSQL = `SELECT pg_get_triggerdef(g.oid, true) || CASE g.tgenabled
	WHEN 'D' THEN format('; ALTER TABLE %I DISABLE TRIGGER %I', c.relname, g.tgname)
	WHEN 'R' THEN format('; ALTER TABLE %I ENABLE REPLICA TRIGGER %I', c.relname, g.tgname)
	WHEN 'A' THEN format('; ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', c.relname, g.tgname)
	ELSE '' END
FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND NOT g.tgisinternal
ORDER BY c.relname, g.tgname`

	cloneOwnedBySQL = `SELECT format('ALTER SEQUENCE %I OWNED BY %I.%I', s.relname, t.relname, a.attname)
FROM pg_class s
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0
JOIN pg_class t ON t.oid = d.refobjid AND t.relnamespace = s.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE s.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND s.relkind = 'S'
ORDER BY s.relname`

	// Comments of the schema ($2 the new one's name) and of its
	// relations, columns, functions, constraints and triggers.
	cloneCommentsSQL = `WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
SELECT format('COMMENT ON %s IS %L', target, description) FROM (
	SELECT format('SCHEMA %I', $2::text) AS target, d.description FROM pg_description d
	WHERE d.classoid = 'pg_namespace'::regclass AND d.objoid = (TABLE n)
	UNION ALL
	SELECT CASE WHEN d.objsubid = 0 THEN
		CASE c.relkind WHEN 'r' THEN 'TABLE ' WHEN 'v' THEN 'VIEW ' WHEN 'S' THEN 'SEQUENCE ' ELSE 'INDEX ' END || quote_ident(c.relname)
		ELSE format('COLUMN %I.%I', c.relname, a.attname) END, d.description
	FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
	LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
	WHERE c.relnamespace = (TABLE n)
	UNION ALL
	SELECT format('%s %I(%s)', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.proname, pg_get_function_identity_arguments(p.oid)), d.description
	FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid
	WHERE p.pronamespace = (TABLE n)
	UNION ALL
	SELECT format('CONSTRAINT %I ON %I', k.conname, c.relname), d.description
	FROM pg_description d JOIN pg_constraint k ON d.classoid = 'pg_constraint'::regclass AND k.oid = d.objoid
	JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = (TABLE n)
	UNION ALL
	SELECT format('TRIGGER %I ON %I', g.tgname, c.relname), d.description
	FROM pg_description d JOIN pg_trigger g ON d.classoid = 'pg_trigger'::regclass AND g.oid = d.objoid
	JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = (TABLE n)
) u ORDER BY 1`

	cloneSequenceNamesSQL = `SELECT relname::text FROM pg_class
WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND relkind = 'S' ORDER BY relname`
)

// readClonePlan reads the plan of a clone of src into dst. It first locks
// every table and view of src in ACCESS SHARE mode, as reading
// them would, for the rest of the transaction: the deparsers read the
// catalog as it is now, not as of the snapshot, so no DDL may change the
// source between them and the rows (writes of rows go on). It returns
// ErrCloneUnsupported naming what it cannot copy.
func readClonePlan(ctx context.Context, tx pgx.Tx, src, dst string) (clonePlan, error) {
	var p clonePlan
	rows, err := tx.Query(ctx, `SELECT relname::text FROM pg_class
WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND relkind IN ('r', 'v') ORDER BY relname`, src)
	if err != nil {
		return p, err
	}
	rels, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return p, err
	}
	if len(rels) > 0 {
		names := make([]string, len(rels))
		for i, r := range rels {
			names[i] = pgx.Identifier{src, r}.Sanitize()
		}
		// An Exec of its own without arguments, not in the batch: its text
		// is this source's alone, and pgx would prepare it there.
		if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS SHARE MODE"); err != nil {
			return p, err
		}
	}
	var b pgx.Batch
	b.Queue("SELECT set_config('search_path', $1, true), current_setting('check_function_bodies')", pgx.Identifier{src}.Sanitize()).
		QueryRow(func(row pgx.Row) error {
			var path string
			return row.Scan(&path, &p.checkBodies)
		})
	var unsupported []string
	queueStrings(&b, cloneUnsupportedSQL, &unsupported, src)
	queueStrings(&b, cloneSequencesSQL, &p.sequences, src)
	b.Queue(cloneFunctionsSQL, src).Query(func(rows pgx.Rows) error {
		var name string
		var def *string
		_, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error {
			if def == nil {
				return fmt.Errorf("function %s: pg_get_functiondef did not start as expected", name)
			}
			p.functions = append(p.functions, *def)
			return nil
		})
		return err
	})
	b.Queue(cloneTablesSQL, src).Query(func(rows pgx.Rows) error {
		var t tableData
		var create string
		_, err := pgx.ForEachRow(rows, []any{&t.table, &create, &t.columns, &t.identity}, func() error {
			p.tables = append(p.tables, create)
			p.data = append(p.data, t)
			return nil
		})
		return err
	})
	b.Queue(cloneConstraintsSQL, src).Query(func(rows pgx.Rows) error {
		var def string
		var foreign bool
		_, err := pgx.ForEachRow(rows, []any{&def, &foreign}, func() error {
			if foreign {
				p.foreignKeys = append(p.foreignKeys, def)
			} else {
				p.constraints = append(p.constraints, def)
			}
			return nil
		})
		return err
	})
	queueStrings(&b, cloneIndexesSQL, &p.indexes, src)
	var nodes []lateNode
	b.Queue(cloneLateSQL, src).Query(func(rows pgx.Rows) error {
		var n lateNode
		var def *string
		_, err := pgx.ForEachRow(rows, []any{&n.key.class, &n.key.oid, &n.name, &def}, func() error {
			if def == nil {
				return fmt.Errorf("function %s: pg_get_functiondef did not start as expected", n.name)
			}
			n.def = *def
			nodes = append(nodes, n)
			return nil
		})
		return err
	})
	var edges [][2]objKey
	b.Queue(cloneLateEdgesSQL, src).Query(func(rows pgx.Rows) error {
		var e [2]objKey
		_, err := pgx.ForEachRow(rows, []any{&e[0].class, &e[0].oid, &e[1].class, &e[1].oid}, func() error {
			edges = append(edges, e)
			return nil
		})
		return err
	})
	queueStrings(&b, cloneTriggersSQL, &p.triggers, src)
	queueStrings(&b, cloneOwnedBySQL, &p.ownedBy, src)
	queueStrings(&b, cloneCommentsSQL, &p.comments, src, dst)
	queueStrings(&b, cloneSequenceNamesSQL, &p.sequenceNames, src)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return p, fmt.Errorf("read the source's catalog: %w", err)
	}
	if len(unsupported) > 0 {
		return p, fmt.Errorf("%w: %s", ErrCloneUnsupported, strings.Join(unsupported, "; "))
	}
	p.late = dependencyOrder(nodes, edges)
	return p, nil
}

// queueStrings queues sql on b, collecting its one text column into out.
func queueStrings(b *pgx.Batch, sql string, out *[]string, args ...any) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		*out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
}

// objKey names a catalog object: its catalog's oid and its own.
type objKey struct{ class, oid uint32 }

// lateNode is a view or a SQL-standard function to create.
type lateNode struct {
	key  objKey
	name string
	def  string
}

// dependencyOrder returns the definitions of nodes so that each comes
// after those it depends on (edges: from depends on to; edges to anything
// else are ignored), depth first, in nodes' order otherwise. PostgreSQL
// refuses dependency cycles among views and functions.
func dependencyOrder(nodes []lateNode, edges [][2]objKey) []string {
	byKey := make(map[objKey]lateNode, len(nodes))
	for _, n := range nodes {
		byKey[n.key] = n
	}
	deps := map[objKey][]objKey{}
	for _, e := range edges {
		if _, ok := byKey[e[1]]; ok && e[0] != e[1] {
			deps[e[0]] = append(deps[e[0]], e[1])
		}
	}
	out := make([]string, 0, len(nodes))
	placed := make(map[objKey]bool, len(nodes))
	var place func(k objKey)
	place = func(k objKey) {
		if placed[k] {
			return
		}
		placed[k] = true
		for _, d := range deps[k] {
			place(d)
		}
		out = append(out, byKey[k].def)
	}
	for _, n := range nodes {
		place(n.key)
	}
	return out
}
