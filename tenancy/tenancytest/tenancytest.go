// Package tenancytest hands out tenant schemas on a real PostgreSQL to tests
// of programs built on package tenancy, and removes them afterwards.
//
// Each Manager it returns has a ledger schema and a schema prefix of its
// own, random per call, so tests using it can run in parallel (t.Parallel),
// in parallel packages, on one database, and a fleet operation of one test
// never sees another test's tenants.
//
//	func TestSamples(t *testing.T) {
//		t.Parallel()
//		pool := tenancytest.Pool(t)
//		m := tenancytest.NewManager(t, pool, &tenancy.Config{Migrations: migrations.Tenant})
//		id := tenancytest.Tenant(t, m)
//		err := m.InTenant(t.Context(), id, func(tx pgx.Tx) error { ... })
//	}
//
// The database comes from TEST_DATABASE_URL; the test fails (it is not
// skipped) when that is unset, so a misconfigured CI cannot pass by running
// nothing.
package tenancytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// EnvDatabaseURL names the environment variable with the test database's
// connection string.
const EnvDatabaseURL = "TEST_DATABASE_URL"

// DatabaseURL returns the test database's connection string, failing tb
// when it is not set.
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(EnvDatabaseURL)
	if url == "" {
		tb.Fatalf("tenancytest: %s is not set; run the tests with `make test`, which provides a database", EnvDatabaseURL)
	}
	return url
}

// Pool returns a new pool on the test database, closed when tb ends. Its
// connections start with an empty search_path, so a query that forgets to
// name its schema, or runs outside InTenant, fails loudly instead of finding
// a table by accident.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(DatabaseURL(tb))
	if err != nil {
		tb.Fatalf("tenancytest: parse %s: %v", EnvDatabaseURL, err)
	}
	return PoolWithConfig(tb, cfg)
}

// PoolWithConfig is Pool with the caller's pool configuration (MaxConns,
// hooks); it adds the empty search_path to any AfterConnect already set.
func PoolWithConfig(tb testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	tb.Helper()
	after := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "SET search_path TO ''"); err != nil {
			return err
		}
		if after != nil {
			return after(ctx, conn)
		}
		return nil
	}
	ctx := tb.Context()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("tenancytest: connect: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		tb.Fatalf("tenancytest: connect: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// Names is a schema prefix and a ledger schema reserved for one test. Most
// tests want NewManager, which hides them; a test that needs several Managers
// over one ledger (an old and a new release of its migrations, a child
// process) or reads the ledger itself takes Names.
type Names struct {
	Prefix string // tenant schema prefix, e.g. "tt0a1b2c3d4e_"
	Ledger string // ledger schema
}

// NewNames reserves fresh names, tag first (lowercase letters, a few at
// most; "tt" if empty), and drops every schema of the prefix and the ledger
// schema when tb ends.
func NewNames(tb testing.TB, pool *pgxpool.Pool, tag string) Names {
	tb.Helper()
	if tag == "" {
		tag = "tt"
	}
	suffix := tag + randomHex(tb, 5)
	n := Names{Prefix: suffix + "_", Ledger: "tenancytest_" + suffix}
	tb.Cleanup(func() { DropSchemas(tb, pool, n.Prefix, n.Ledger) })
	return n
}

// Manager returns a set-up Manager over n: cfg with n's Prefix and
// LedgerSchema (cfg itself is not changed). Setup is idempotent, so every
// Manager of a test may be made this way.
func (n Names) Manager(tb testing.TB, pool *pgxpool.Pool, cfg *tenancy.Config) *tenancy.Manager {
	tb.Helper()
	c := *cfg
	c.Prefix, c.LedgerSchema = n.Prefix, n.Ledger
	m, err := tenancy.New(pool, &c)
	if err != nil {
		tb.Fatalf("tenancytest: %v", err)
	}
	if err := m.Setup(tb.Context()); err != nil {
		tb.Fatalf("tenancytest: %v", err)
	}
	return m
}

// NewManager returns a set-up Manager with a fresh ledger schema and schema
// prefix (cfg's Prefix and LedgerSchema are replaced; the rest is kept). When
// tb ends, every schema of that prefix and the ledger schema are dropped.
func NewManager(tb testing.TB, pool *pgxpool.Pool, cfg *tenancy.Config) *tenancy.Manager {
	tb.Helper()
	return NewNames(tb, pool, "").Manager(tb, pool, cfg)
}

// Tenant creates a tenant at the latest version; it is dropped with the
// Manager's other schemas when tb ends.
func Tenant(tb testing.TB, m *tenancy.Manager) uuid.UUID {
	tb.Helper()
	id := uuid.New()
	if err := m.Create(tb.Context(), id, nil); err != nil {
		tb.Fatalf("tenancytest: %v", err)
	}
	return id
}

// DropSchemas removes every schema whose name starts with prefix, and the
// schema ledger (none if empty), reporting failures through tb. It is the
// cleanup NewNames registers, for names a test makes up itself (a prefix
// extending another, say). It drops in batches: one DROP SCHEMA ... CASCADE locks every
// object in the schema, and hundreds of tenants in a single transaction
// would exhaust the server's lock table.
func DropSchemas(tb testing.TB, pool *pgxpool.Pool, prefix, ledger string) {
	tb.Helper()
	// Not tb.Context(): a cleanup runs after it is done.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rows, err := pool.Query(ctx, "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1) OR nspname = $2", prefix, ledger)
	if err != nil {
		tb.Errorf("tenancytest: cleanup: %v", err)
		return
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Errorf("tenancytest: cleanup: %v", err)
		return
	}
	const batch = 50
	for len(schemas) > 0 {
		n := min(batch, len(schemas))
		var sql string
		for _, s := range schemas[:n] {
			sql += "DROP SCHEMA " + pgx.Identifier{s}.Sanitize() + " CASCADE;"
		}
		if _, err := pool.Exec(ctx, sql); err != nil {
			tb.Errorf("tenancytest: cleanup: %v", err)
			return
		}
		schemas = schemas[n:]
	}
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("tenancytest: %v", err)
	}
	return hex.EncodeToString(b)
}
