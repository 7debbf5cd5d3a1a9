package db_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// TestClassify: each classifier against the errors a real server and pgx
// give, not hand-made ones.
func TestClassify(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	query := func(p *pgxpool.Pool, ctx context.Context, sql string) error {
		_, err := p.Exec(ctx, sql)
		if err == nil {
			t.Fatalf("%s: no error", sql)
		}
		return err
	}

	closed, err := pgxpool.New(ctx, tenancytest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()

	refused, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer refused.Close()

	for _, tc := range []struct {
		name                     string
		err                      error
		unavailable, notMigrated bool
	}{
		{"closed pool", query(closed, ctx, "SELECT 1"), true, false},
		{"deadline", query(pool, short, "SELECT pg_sleep(5)"), true, false},
		{"connection refused", query(refused, ctx, "SELECT 1"), true, false},
		{"terminated backend", terminated(t, pool), true, false},
		{"public table missing", query(pool, ctx, "SELECT FROM public.tenantctl_no_such_table"), false, true},
		{"other table missing", query(pool, ctx, "SELECT FROM tenantctl_no_such_table"), false, false},
		{"syntax error", query(pool, ctx, "SELEKT 1"), false, false},
		{"nil", nil, false, false},
	} {
		if got := db.IsUnavailable(tc.err); got != tc.unavailable {
			t.Errorf("%s: IsUnavailable(%v) = %v", tc.name, tc.err, got)
		}
		if detail, got := db.NotMigrated(tc.err); got != tc.notMigrated || got && !strings.Contains(detail, "public.tenantctl_no_such_table") {
			t.Errorf("%s: NotMigrated(%v) = %q, %v", tc.name, tc.err, detail, got)
		}
	}
}

// terminated returns the error of a query on a connection whose backend an
// administrator ended with pg_terminate_backend.
func terminated(t *testing.T, pool *pgxpool.Pool) error {
	ctx := t.Context()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var ok bool
	if err := pool.QueryRow(ctx, "SELECT pg_terminate_backend($1, 5000)", conn.Conn().PgConn().PID()).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend: %v, %v", ok, err)
	}
	_, err = conn.Exec(ctx, "SELECT 1")
	if err == nil {
		t.Fatal("a query on a terminated backend succeeded")
	}
	return err
}

// TestPublicVersion: a migrated database is at LatestPublicVersion, which
// is where MigratePublic leaves it; one without the version table is not
// migrated.
func TestPublicVersion(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ctx := t.Context()
	v, err := db.MigratePublic(ctx, d.Pool, d.Tenancy)
	if err != nil {
		t.Fatal(err)
	}
	if v.To != db.LatestPublicVersion() || db.LatestPublicVersion() < 2 {
		t.Errorf("MigratePublic to %d, LatestPublicVersion %d", v.To, db.LatestPublicVersion())
	}
	if got, err := db.PublicVersion(ctx, d.Pool); err != nil || got != db.LatestPublicVersion() {
		t.Errorf("PublicVersion = %d, %v; want %d", got, err, db.LatestPublicVersion())
	}
	if _, err := d.Pool.Exec(ctx, "DROP TABLE "+db.VersionTable); err != nil {
		t.Fatal(err)
	}
	_, err = db.PublicVersion(ctx, d.Pool)
	if _, ok := db.NotMigrated(err); !ok {
		t.Errorf("PublicVersion without its table: %v, want not migrated", err)
	}
}
