// Package testdb gives each test of tenantctl's own packages a database of
// its own, migrated, on the server of TEST_DATABASE_URL, and drops it when
// the test ends. Tests of the domain work in the shared public schema, so
// unlike package tenancy's tests they cannot share one database.
package testdb

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// DB is a test's database.
type DB struct {
	// URL connects to the database, for code under test that opens its own
	// pool (the CLI, a child process).
	URL     string
	Pool    *pgxpool.Pool
	Tenancy *tenancy.Manager
}

// New creates a fresh database (see Empty), migrates the public schema and
// the tenancy ledger into it, and returns it with a pool on it.
func New(tb testing.TB) *DB {
	tb.Helper()
	dbURL := Empty(tb)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	db.ConfigurePool(cfg) // as the CLI and the API configure theirs
	pool := tenancytest.PoolWithConfig(tb, cfg)
	m, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	if _, err := db.MigratePublic(ctx, pool, m); err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	return &DB{URL: dbURL, Pool: pool, Tenancy: m}
}

// Empty creates a database with nothing in it, drops it (forcibly) when tb
// ends, and returns its URL. Its name starts with the name of
// TEST_DATABASE_URL's database, so the test harness can sweep up what a
// killed test run leaves behind.
func Empty(tb testing.TB) string {
	tb.Helper()
	base := tenancytest.DatabaseURL(tb)
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("testdb: connect: %v", err)
	}
	defer admin.Close(ctx)
	// PostgreSQL truncates names to 63 bytes: shorten the base, never the
	// random part that keeps parallel tests apart.
	dbName := admin.Config().Database
	name := fmt.Sprintf("%s_%s", dbName[:min(len(dbName), 50)], strings.ToLower(rand.Text()[:12]))
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		tb.Fatalf("testdb: create database: %v", err)
	}
	tb.Cleanup(func() {
		// tb.Context() is done by now: the drop gets a context of its own.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("testdb: drop database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("testdb: drop database: %v", err)
		}
	})
	dbURL, err := pgcluster.WithDatabase(base, name)
	if err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	return dbURL
}

// Size returns the integer in environment variable name, one of the sizes
// `make soak` raises (RELIABILITY.md lists them), or def when it is unset.
// It fails tb unless the value is an integer of at least least.
func Size(tb testing.TB, name string, def, least int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		tb.Fatalf("%s=%q: want an integer of at least %d", name, v, least)
	}
	return n
}
