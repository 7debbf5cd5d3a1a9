package tenancy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/sqlsplit"
)

// Config configures a Manager. A nil *Config is not accepted: Migrations is
// required. Every other field has a default.
type Config struct {
	// Migrations holds the tenant migrations in tern's format at its top
	// level (use fs.Sub for a subfolder of an embed.FS). Required.
	Migrations fs.FS

	// MigrationData is the text/template data tern renders the migrations
	// with. It is the same for every tenant: tenant-specific names come from
	// search_path, not from templates. Defaults to none.
	MigrationData map[string]any

	// Prefix starts every tenant schema's name; the rest is the tenant's
	// UUID as 32 hex digits. It must be lowercase ASCII ending in "_".
	// Defaults to DefaultPrefix ("tenant_").
	Prefix string

	// LedgerSchema is the schema holding the ledger tables
	// (tenancy_tenants, tenancy_migrations). Defaults to "public". Managers
	// of different prefixes may share a ledger; each sees only its own
	// tenants, but a tenant id is unique across the ledger.
	LedgerSchema string

	// SearchPath lists schemas searched after the tenant's own inside
	// InTenant, e.g. []string{"public"} for extensions installed there.
	// Defaults to none: an unqualified name resolves in the tenant schema
	// (and pg_catalog) or fails, so a query can never fall through to
	// another schema's table of the same name.
	SearchPath []string

	// Concurrency bounds how many tenants a fleet migration works on at
	// once. Defaults to the pool's MaxConns.
	Concurrency int

	// MigrationLockTimeout bounds how long a migration's DDL waits for a
	// lock held by the application (a long transaction on a tenant table)
	// before the tenant fails and is rolled back, instead of queueing every
	// later query of that table behind it. It applies to migrations only
	// (Create and Migrate), never to InTenant. Defaults to 0, the server's
	// lock_timeout.
	MigrationLockTimeout time.Duration

	// PoolSize is how many warm pool members the Manager keeps: anonymous
	// schemas at the latest version that Create claims instead of creating
	// a schema (see "The warm pool" in the package documentation). FillPool
	// and KeepPoolFilled top the pool up to it; Create claims from it only
	// when it is above 0. Defaults to 0, off.
	PoolSize int

	// Logger receives one line per tenant migrated or failed, and the
	// errors of KeepPoolFilled. Defaults to discarding.
	Logger *slog.Logger
}

// Manager creates, migrates, drops, inspects and enters tenant schemas. It is
// safe for concurrent use.
type Manager struct {
	pool       *pgxpool.Pool
	migrations []Migration
	statements [][]sqlsplit.Statement // of migrations[i], at i
	prefix     string
	ledger     string     // quoted schema of the ledger tables
	tenantsTbl string     // quoted, schema-qualified
	migTbl     string     // quoted, schema-qualified
	warm       poolTables // the warm pool's ledger tables
	// setVersionSQL records tenant $1 at version $2 (and no error).
	setVersionSQL string
	searchPath    string // quoted list appended after the tenant's schema
	lockTimeout   string // lock_timeout for migrations, "" for the server's
	concurrency   int
	poolSize      int
	// refill wakes KeepPoolFilled after a Create took a member (or found
	// the pool empty); a buffer of one, sent to without blocking.
	refill chan struct{}
	log    *slog.Logger
	// citusState is whether the database is a Citus coordinator, once
	// known (see citus).
	citusState atomic.Int32
}

// New returns a Manager over pool. It reads and checks the migrations but
// does not touch the database; call Setup once to create the ledger tables.
func New(pool *pgxpool.Pool, cfg *Config) (*Manager, error) {
	if pool == nil {
		return nil, errors.New("tenancy: New: nil pool")
	}
	if cfg == nil || cfg.Migrations == nil {
		return nil, errors.New("tenancy: New: Config.Migrations is required")
	}
	prefix := cmp.Or(cfg.Prefix, DefaultPrefix)
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	ledger := cmp.Or(cfg.LedgerSchema, "public")
	if err := validateSchemaIdent(ledger); err != nil {
		return nil, fmt.Errorf("tenancy: LedgerSchema: %w", err)
	}
	var searchPath string
	for _, s := range cfg.SearchPath {
		if err := validateSchemaIdent(s); err != nil {
			return nil, fmt.Errorf("tenancy: SearchPath: %w", err)
		}
		searchPath += ", " + pgx.Identifier{s}.Sanitize()
	}
	migs, statements, err := loadMigrations(cfg.Migrations, cfg.MigrationData)
	if err != nil {
		return nil, err
	}
	if cfg.MigrationLockTimeout < 0 {
		return nil, fmt.Errorf("tenancy: MigrationLockTimeout %v is negative", cfg.MigrationLockTimeout)
	}
	var lockTimeout string
	if cfg.MigrationLockTimeout > 0 {
		lockTimeout = strconv.FormatInt(max(1, cfg.MigrationLockTimeout.Milliseconds()), 10) + "ms"
	}
	if cfg.PoolSize < 0 {
		return nil, fmt.Errorf("tenancy: PoolSize %d is negative (0 turns the pool off)", cfg.PoolSize)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tenantsTbl := pgx.Identifier{ledger, "tenancy_tenants"}.Sanitize()
	migTbl := pgx.Identifier{ledger, "tenancy_migrations"}.Sanitize()
	return &Manager{
		pool:       pool,
		migrations: migs,
		statements: statements,
		prefix:     prefix,
		ledger:     pgx.Identifier{ledger}.Sanitize(),
		tenantsTbl: tenantsTbl,
		migTbl:     migTbl,
		warm:       newPoolTables(ledger, tenantsTbl, migTbl),
		setVersionSQL: "UPDATE " + tenantsTbl +
			" SET version = $2, migrated_at = now(), last_error = NULL, last_error_at = NULL WHERE tenant_id = $1",
		searchPath:  searchPath,
		lockTimeout: lockTimeout,
		concurrency: max(1, cmp.Or(cfg.Concurrency, int(pool.Config().MaxConns))),
		poolSize:    cfg.PoolSize,
		refill:      make(chan struct{}, 1),
		log:         logger,
	}, nil
}

// validateSchemaIdent accepts the names an operator would configure for the
// ledger or the search path; they are quoted anyway, this only keeps out
// names PostgreSQL would truncate or that are plainly not meant.
func validateSchemaIdent(s string) error {
	if s == "" || len(s) > maxIdentifierLen {
		return fmt.Errorf("%w: %q must be 1 to %d bytes", ErrInvalidName, s, maxIdentifierLen)
	}
	for _, r := range s {
		if r == 0 || r == '"' {
			return fmt.Errorf("%w: %q contains a NUL or a double quote", ErrInvalidName, s)
		}
	}
	return nil
}

// Migrations returns the tenant migrations the Manager knows, in order.
func (m *Manager) Migrations() []Migration { return append([]Migration(nil), m.migrations...) }

// LatestVersion is the version of the last known migration, the version
// Create leaves a new tenant at.
func (m *Manager) LatestVersion() int32 { return int32(len(m.migrations)) }

// Prefix returns the schema prefix of the Manager's tenants.
func (m *Manager) Prefix() string { return m.prefix }

// Setup creates the ledger tables if they do not exist. It is idempotent and
// safe to run from several processes at once. A ledger made by an earlier
// release gets the tables it lacks (the warm pool's) and keeps its rows:
// every table is only ever added, never altered.
func (m *Manager) Setup(ctx context.Context) error {
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		// CREATE ... IF NOT EXISTS is not atomic against a concurrent twin
		// (both can pass the check and one fails on pg_type's unique index),
		// so concurrent Setups queue on a lock scoped to this ledger.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "tenancy.setup:"+m.ledger); err != nil {
			return fmt.Errorf("tenancy: setup: lock: %w", err)
		}
		_, err := tx.Exec(ctx, `
CREATE SCHEMA IF NOT EXISTS `+m.ledger+`;
CREATE TABLE IF NOT EXISTS `+m.tenantsTbl+` (
	tenant_id uuid PRIMARY KEY,
	schema_name text NOT NULL UNIQUE,
	version integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	migrated_at timestamptz,
	last_error text,
	last_error_at timestamptz
);
CREATE TABLE IF NOT EXISTS `+m.migTbl+` (
	tenant_id uuid NOT NULL REFERENCES `+m.tenantsTbl+` ON DELETE CASCADE,
	version integer NOT NULL,
	name text NOT NULL,
	checksum text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	duration_us bigint NOT NULL,
	PRIMARY KEY (tenant_id, version)
);
`+m.warm.ddl())
		if err != nil {
			return fmt.Errorf("tenancy: setup: %w", err)
		}
		return nil
	})
}

// Hook runs inside the transaction that creates or drops a tenant, after the
// library's own work, so that the caller's registry row lives and dies with
// the schema. It sees the connection's own search_path, not the tenant's. An
// error from the hook rolls everything back.
type Hook func(ctx context.Context, tx pgx.Tx) error

// Create makes tenant id: its ledger row, its schema and every migration,
// then hook (which may be nil), all in one transaction. A crash at any instant
// leaves either the whole tenant or nothing. It returns ErrTenantExists if the
// tenant or its schema already exists.
//
// BEGIN travels with the ledger row in one round trip (pgx's
// Batch.BeginTx); CREATE SCHEMA is one more, each migration file one, the
// ledger's record one, COMMIT one.
//
// With Config.PoolSize above 0 Create first claims a warm pool member in
// that same first round trip, and renames it (one more) instead of creating
// and migrating a schema; only when no member is ready does it create cold,
// in the same transaction. See "The warm pool" in the package
// documentation.
func (m *Manager) Create(ctx context.Context, id uuid.UUID, hook Hook) error {
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{})
	first := m.queueFirst(&b, id)
	br := m.pool.SendBatch(ctx, &b)
	tx := br.Tx()
	defer tx.Rollback(ctx) // a no-op after Commit; otherwise the error that matters is returned below
	if err := br.Close(); err != nil {
		return wrapErr("create", m.SchemaName(id), err)
	}
	if err := m.finishCreate(ctx, tx, id, first); err != nil {
		return err
	}
	if err := hookAndCommit(ctx, tx, hook, "create", m.SchemaName(id)); err != nil {
		return err
	}
	m.wakeRefill()
	return nil
}

// hookAndCommit runs hook, if not nil, in tx after the library's work,
// then commits tx; op and schema name what failed.
func hookAndCommit(ctx context.Context, tx pgx.Tx, hook Hook, op, schema string) error {
	if hook != nil {
		if err := hook(ctx, tx); err != nil {
			return fmt.Errorf("tenancy: %s %s: hook: %w", op, schema, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("tenancy: %s %s: commit: %w", op, schema, err)
	}
	return nil
}

// CreateTx is Create inside the caller's transaction; nothing is visible to
// others until the caller commits. It claims a pool member as Create does;
// the member stays locked, unavailable to other claims, until then. On
// Citus the transaction keeps citus.enable_unsafe_triggers on until it
// ends (ddlSettings).
func (m *Manager) CreateTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	var b pgx.Batch
	first := m.queueFirst(&b, id)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return wrapErr("create", m.SchemaName(id), err)
	}
	if err := m.finishCreate(ctx, tx, id, first); err != nil {
		return err
	}
	m.wakeRefill()
	return nil
}

// firstStatement is what Create's first round trip returned once sent:
// the pool member claimed, or the caller's search_path of a cold create.
type firstStatement struct {
	claim      bool   // a claim was queued (the pool is on)
	member     string // the member claimed; "" if the pool had none ready
	callerPath string // a cold create's (see queueCreate)
}

// queueFirst queues Create's first statement on b: a claim from the warm
// pool when it is on, else the cold create's ledger row.
func (m *Manager) queueFirst(b *pgx.Batch, id uuid.UUID) *firstStatement {
	f := &firstStatement{claim: m.poolSize > 0}
	if f.claim {
		m.queueClaim(b, id, &f.member)
	} else {
		m.queueCreate(b, id, &f.callerPath)
	}
	return f
}

// finishCreate completes tenant id in tx after its first statement: it
// renames the claimed member, or creates the schema cold (in one more round
// trip for the ledger row when a claim found the pool empty).
func (m *Manager) finishCreate(ctx context.Context, tx pgx.Tx, id uuid.UUID, f *firstStatement) error {
	switch {
	case f.member != "":
		return m.renameMember(ctx, tx, id, f.member)
	case f.claim:
		var b pgx.Batch
		m.queueCreate(&b, id, &f.callerPath)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return wrapErr("create", m.SchemaName(id), err)
		}
	}
	return m.createSchema(ctx, tx, id, f.callerPath)
}

// queueCreate queues tenant id's ledger row on b; once b is sent,
// callerPath holds the transaction's search_path before the tenant's, for
// apply to give back. The row goes first: a concurrent Create of the same
// tenant then waits on its unique index and fails cleanly once this one
// commits, instead of racing on CREATE SCHEMA.
func (m *Manager) queueCreate(b *pgx.Batch, id uuid.UUID, callerPath *string) {
	b.Queue("INSERT INTO "+m.tenantsTbl+" (tenant_id, schema_name) VALUES ($1, $2)"+
		" RETURNING current_setting('search_path')", id, m.SchemaName(id)).QueryRow(func(row pgx.Row) error {
		return row.Scan(callerPath)
	})
}

// createSchema creates tenant id's schema and applies every migration. CREATE
// SCHEMA is not batched with the ledger row: its text differs per tenant, and
// in a batch pgx would prepare it, a round trip of its own, and keep it in
// the connection's statement cache, evicting statements that are reused.
func (m *Manager) createSchema(ctx context.Context, tx pgx.Tx, id uuid.UUID, callerPath string) error {
	schema := m.SchemaName(id)
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return wrapErr("create", schema, err)
	}
	return m.apply(ctx, tx, id, schema, callerPath, m.migrations)
}

// wrapErr names the operation and schema and maps the server's refusals that
// callers act on to the package's sentinels.
func wrapErr(op, schema string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "42P06": // unique_violation on the ledger, duplicate_schema
			return fmt.Errorf("tenancy: %s %s: %w", op, schema, ErrTenantExists)
		case "42P01", "3F000": // undefined_table, invalid_schema_name: no ledger
			return fmt.Errorf("tenancy: %s %s: %w: %w", op, schema, ErrNoLedger, err)
		}
	}
	return fmt.Errorf("tenancy: %s %s: %w", op, schema, err)
}

// apply runs migs on a new tenant inside tx (runMigrations), then records
// them and the tenant's version in the ledger and gives the transaction
// back its callerPath, in one round trip: what runs next in the transaction
// (a Hook, the caller of CreateTx) sees its own search_path, not the
// tenant's.
func (m *Manager) apply(ctx context.Context, tx pgx.Tx, id uuid.UUID, schema, callerPath string, migs []Migration) error {
	return m.runAndRecord(ctx, tx, schema, migs, func(b *pgx.Batch, durations []int64) {
		m.queueRecord(b, id, migs, durations)
		b.Queue(m.setVersionSQL, id, migs[len(migs)-1].Version)
		b.Queue("SELECT set_config('search_path', $1, true)", callerPath)
	})
}

// runAndRecord runs migs on schema inside tx (runMigrations), then sends
// what record queues, given each file's duration, in one round trip.
func (m *Manager) runAndRecord(ctx context.Context, tx pgx.Tx, schema string, migs []Migration, record func(b *pgx.Batch, durations []int64)) error {
	if len(migs) == 0 {
		return nil
	}
	durations, err := m.runMigrations(ctx, tx, schema, migs)
	if err != nil {
		return err
	}
	var b pgx.Batch
	record(&b, durations)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("tenancy: schema %s: record migrations: %w", schema, err)
	}
	return nil
}

// runMigrations runs migs in order inside tx with search_path set to the
// tenant's schema and returns how long each took. Each file's statements
// go one by one, as psql would send them (internal/sqlsplit): Citus
// forwards a DDL statement's text to the worker holding a distributed
// table, and the worker refuses a text of several statements. They are
// pipelined, one round trip per file as when a file was one
// simple-protocol string, so that a failure names its file and statement
// and the ledger gets each file's duration.
func (m *Manager) runMigrations(ctx context.Context, tx pgx.Tx, schema string, migs []Migration) ([]int64, error) {
	ddl, err := m.ddlSettings(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("tenancy: schema %s: %w", schema, err)
	}
	// SET LOCAL ends with the transaction, so the pooled connection goes
	// back with its own settings whatever happens here.
	settings := []string{"SET LOCAL search_path TO " + pgx.Identifier{schema}.Sanitize()}
	if m.lockTimeout != "" {
		// A constant of the Manager's, digits and "ms": not input.
		settings = append(settings, "SET LOCAL lock_timeout = '"+m.lockTimeout+"'")
	}
	settings = append(settings, ddl...)
	conn := tx.Conn().PgConn()
	durations := make([]int64, len(migs))
	for i, mg := range migs {
		start := time.Now()
		// The migration's own SET or RESET could move search_path;
		// setting it before every file keeps each file's unqualified
		// names in the tenant schema (tern's RESET ALL pitfall, avoided
		// by construction).
		var b pgconn.Batch
		for _, sql := range settings {
			b.ExecParams(sql, nil, nil, nil, nil)
		}
		stmts := m.statements[mg.Version-1]
		for _, st := range stmts {
			b.ExecParams(st.SQL, nil, nil, nil, nil)
		}
		if done, err := execBatch(ctx, conn, &b); err != nil {
			me := &MigrationError{Schema: schema, Migration: mg.Name, Err: err}
			if k := done - len(settings); k >= 0 && k < len(stmts) {
				me.Statement, me.Line = k+1, stmts[k].Line
			}
			return nil, me
		}
		durations[i] = time.Since(start).Microseconds()
	}
	return durations, nil
}

// execBatch sends b in one round trip, unnamed statements and no Describe
// round trip first (so nothing lands in pgx's statement cache), and
// returns how many of its statements completed before the first error.
// The server skips the rest of a pipeline after an error, and the
// transaction is then aborted, as a failing statement of a
// simple-protocol string left it.
func execBatch(ctx context.Context, conn *pgconn.PgConn, b *pgconn.Batch) (done int, err error) {
	mrr := conn.ExecBatch(ctx, b)
	for mrr.NextResult() {
		if _, err = mrr.ResultReader().Close(); err != nil {
			break
		}
		done++
	}
	if cerr := mrr.Close(); err == nil {
		err = cerr
	}
	return done, err
}

// queueRecord queues the ledger rows of migs, applied to tenant id in the
// given durations (µs), on b.
func (m *Manager) queueRecord(b *pgx.Batch, id uuid.UUID, migs []Migration, durations []int64) {
	queueRecordInto(b, m.migTbl+" (tenant_id", id, migs, durations)
}

// queueRecordInto queues the rows of migs on b, inserted by into (a
// schema-qualified table and the opening of its column list, ending in the
// key's column, which key fills): tenancy_migrations for a tenant,
// tenancy_pool_migrations for a pool member.
func queueRecordInto(b *pgx.Batch, into string, key any, migs []Migration, durations []int64) {
	versions := make([]int32, len(migs))
	names := make([]string, len(migs))
	sums := make([]string, len(migs))
	for i, mg := range migs {
		versions[i], names[i], sums[i] = mg.Version, mg.Name, mg.Checksum
	}
	b.Queue("INSERT INTO "+into+", version, name, checksum, duration_us)"+
		" SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::bigint[])",
		key, versions, names, sums, durations)
}

// Drop removes tenant id: DROP SCHEMA ... CASCADE and its ledger rows, then
// hook (which may be nil), in one transaction. It waits for a migration of
// the same tenant in progress. A ledger row whose schema is already gone, or
// a schema with no ledger row, is dropped too; ErrTenantNotFound means
// neither existed.
func (m *Manager) Drop(ctx context.Context, id uuid.UUID, hook Hook) error {
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if err := m.DropTx(ctx, tx, id); err != nil {
			return err
		}
		if hook != nil {
			if err := hook(ctx, tx); err != nil {
				return fmt.Errorf("tenancy: drop %s: hook: %w", m.SchemaName(id), err)
			}
		}
		return nil
	})
}

// DropTx is Drop inside the caller's transaction.
func (m *Manager) DropTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	schema := m.SchemaName(id)
	// Deleting the row first takes its lock, the same one a migration holds,
	// so a drop never interleaves with a migration of this tenant.
	// schema_name too: a Manager of another prefix sharing the ledger may
	// own this id, and its row is not this Manager's to delete.
	tag, err := tx.Exec(ctx, "DELETE FROM "+m.tenantsTbl+" WHERE tenant_id = $1 AND schema_name = $2", id, schema)
	if err != nil {
		return wrapErr("drop", schema, err)
	}
	var existed bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema).Scan(&existed); err != nil {
		return fmt.Errorf("tenancy: drop %s: %w", schema, err)
	}
	if !existed && tag.RowsAffected() == 0 {
		return fmt.Errorf("tenancy: drop %s: %w", schema, ErrTenantNotFound)
	}
	if existed {
		if _, err := tx.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("tenancy: drop %s: %w", schema, err)
		}
	}
	return nil
}
