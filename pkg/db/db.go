// Package db connects tenantctl to its database and brings the shared public
// schema up to date. The tenant schemas are package tenancy's business; this
// package only configures the tenancy.Manager the way tenantctl names them.
package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/tenantctl/tenantctl/migrations"
	"github.com/tenantctl/tenantctl/tenancy"
)

// SchemaPrefix starts every center's schema name: center_<32 hex digits>,
// as in the case study.
const SchemaPrefix = "center_"

// VersionTable is tern's version table of the public schema.
const VersionTable = "public.schema_version"

// LatestPublicVersion is the version MigratePublic brings the public schema
// to: the number of public migrations this binary embeds.
func LatestPublicVersion() int32 { return latestPublicVersion() }

var latestPublicVersion = sync.OnceValue(func() int32 {
	files, err := migrate.FindMigrations(migrations.Public)
	if err != nil {
		panic("db: embedded public migrations: " + err.Error())
	}
	return int32(len(files))
})

// PublicVersion returns the public schema's current version. A database
// never migrated is an error for which NotMigrated is true.
func PublicVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int32, error) {
	var v int32
	if err := q.QueryRow(ctx, "SELECT version FROM "+VersionTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("read the public schema's version: %w", err)
	}
	return v, nil
}

// Open returns a pool on url (a postgres:// URL or a key=value DSN; pool
// settings such as pool_max_conns go in it) after checking that the server
// answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, errors.New("no database URL: set --database-url, TENANTCTL_DATABASE_URL or DATABASE_URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message quotes the URL, password included: keep it out.
		return nil, errors.New("invalid database URL: expected postgres://user@host:port/dbname or a key=value DSN")
	}
	ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s@%s:%d/%s: %w",
			cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// ConfigurePool readies cfg for tenantctl's queries: every connection gets
// google/uuid's types registered with pgx (pgx-google-uuid), so that
// uuid.UUID parameters and columns travel as 16 binary bytes. Unregistered,
// pgx takes them through database/sql's Valuer and Scanner, by way of
// their 36-character text and an encode error per value: allocations on
// every id of every request (see BenchmarkUUID). Registration runs no SQL,
// so it is safe behind PgBouncer. An AfterConnect already set still runs.
//
// A []uuid.UUID (id = ANY($1)) is also given its array type: the exec and
// simple_protocol query modes, those PgBouncer needs, type a parameter by
// its Go type instead of asking the server, and fail to encode a slice of
// an unregistered type.
func ConfigurePool(cfg *pgxpool.Config) {
	after := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		conn.TypeMap().RegisterDefaultPgType([]uuid.UUID(nil), "_uuid")
		if after != nil {
			return after(ctx, conn)
		}
		return nil
	}
}

// NewTenancy returns the tenancy.Manager of tenantctl's centers: schemas
// center_<hex>, the ledger in public, the embedded tenant migrations.
func NewTenancy(pool *pgxpool.Pool, cfg tenancy.Config) (*tenancy.Manager, error) {
	cfg.Migrations = migrations.Tenant
	cfg.Prefix = SchemaPrefix
	cfg.LedgerSchema = "public"
	return tenancy.New(pool, &cfg)
}

// ErrNotDirect is returned for a connection that needs a PostgreSQL session
// of its own (a session-level advisory lock, LISTEN) but goes through a
// connection pooler such as PgBouncer.
var ErrNotDirect = errors.New("this needs a direct connection to PostgreSQL, not one through a connection pooler such as PgBouncer in transaction pooling mode")

// RequireDirect returns ErrNotDirect unless conn is a session of its own on
// a PostgreSQL backend. It compares the backend pid the server announced
// at connect time (BackendKeyData, used for cancel requests) with the pid
// of the backend that runs a query: they are the same backend on a direct
// connection, while a pooler announces a key of its own (PgBouncer makes it
// up) and runs queries on backends of its choosing. One round trip. A pooler
// in session mode is refused too, which errs on the safe side.
func RequireDirect(ctx context.Context, conn *pgx.Conn) error {
	var pid uint32
	// Simple protocol: a pooler's console or a proxy may not take more.
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid); err != nil {
		return fmt.Errorf("check for a direct connection: %w", err)
	}
	if announced := conn.PgConn().PID(); pid != announced {
		return fmt.Errorf("%w (the server announced backend %d, the query ran on backend %d)", ErrNotDirect, announced, pid)
	}
	return nil
}

// PublicVersions reports the public schema's current version and the latest
// embedded one; current is 0 before the first migration.
type PublicVersions struct {
	From, To int32
}

// MigratePublic brings the public schema to the latest embedded migration
// with tern, then makes sure the tenancy ledger exists.
//
// It opens a connection of its own rather than borrowing one from the pool:
// tern takes a session-level advisory lock (so two tenantctl migrate runs
// queue instead of colliding) and issues RESET ALL after each migration,
// which returns search_path to the connection's startup value; that value is
// therefore set to public at connect time.
//
// pool's connection settings must therefore reach PostgreSQL directly, not
// through PgBouncer in transaction pooling mode: there the advisory lock
// would be taken on one server connection and the migrations run on others,
// and the startup search_path would not follow them. Such a connection is
// refused with ErrNotDirect (see RequireDirect); PgBouncer 1.18 refuses the
// startup search_path itself unless told to ignore it. The tenancy ledger's
// Setup, which uses a transaction-scoped lock, is fine through PgBouncer.
func MigratePublic(ctx context.Context, pool *pgxpool.Pool, m *tenancy.Manager) (PublicVersions, error) {
	var v PublicVersions
	cc := pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["search_path"] = "public"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && strings.Contains(pgErr.Message, "unsupported startup parameter") {
			// PgBouncer's words for a startup parameter it does not pass on.
			return v, fmt.Errorf("migrate public schema: connect: %w (%v)", ErrNotDirect, err)
		}
		return v, fmt.Errorf("migrate public schema: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := RequireDirect(ctx, conn); err != nil {
		return v, fmt.Errorf("migrate public schema: %w", err)
	}

	tm, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return v, fmt.Errorf("migrate public schema: %w", err)
	}
	if err := tm.LoadMigrations(migrations.Public); err != nil {
		return v, fmt.Errorf("migrate public schema: load migrations: %w", err)
	}
	if v.From, err = tm.GetCurrentVersion(ctx); err != nil {
		return v, fmt.Errorf("migrate public schema: %w", err)
	}
	if err := tm.Migrate(ctx); err != nil {
		return v, fmt.Errorf("migrate public schema: %w", err)
	}
	// tern's Migrate succeeds only at the last migration.
	v.To = LatestPublicVersion()
	if err := m.Setup(ctx); err != nil {
		return v, fmt.Errorf("migrate public schema: %w", err)
	}
	return v, nil
}
