package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy"
)

// Scale sizes a run. Full is the scale the targets are set for (a fleet
// of 10,000 tenants); Small keeps the whole run under a few minutes on a
// 2-core machine, with the same benchmarks at smaller sizes. Duration and
// Warmup are whole seconds, as wrk's -d takes them.
type Scale struct {
	Name string
	// Serial is how many tenants each side creates one after another.
	Serial int
	// Bulk is how many tenants each side creates concurrently.
	Bulk int
	// Fleet is how many tenants the fleet migration migrates; also the
	// count at which "the Nth tenant" is created.
	Fleet int
	// Concurrency is the number of connections of bulk creation and fleet
	// migration, on both sides.
	Concurrency int
	// Spreads are the tenant counts the request load is spread over.
	Spreads []int
	// Conns is the number of client connections of request loads.
	Conns int
	// Duration is how long each request load runs, after Warmup.
	Duration, Warmup time.Duration
	// ArchiveSamples is the size of the center the archive benchmark
	// exports and imports.
	ArchiveSamples int
}

// The scales of BENCH_SCALE.
var (
	Full  = Scale{Name: "full", Serial: 200, Bulk: 1000, Fleet: 10000, Concurrency: 4, Spreads: []int{10, 1000, 10000}, Conns: 16, Duration: 10 * time.Second, Warmup: 2 * time.Second, ArchiveSamples: 300_000}
	Small = Scale{Name: "small", Serial: 30, Bulk: 200, Fleet: 500, Concurrency: 4, Spreads: []int{10, 100, 500}, Conns: 16, Duration: 2 * time.Second, Warmup: time.Second, ArchiveSamples: 100_000}
)

// ScaleNamed returns the scale called name.
func ScaleNamed(name string) (Scale, error) {
	switch name {
	case Full.Name:
		return Full, nil
	case Small.Name:
		return Small, nil
	}
	return Scale{}, fmt.Errorf("unknown scale %q (small or full)", name)
}

// Env is where benchmarks run: a throwaway cluster of their own, never a
// test or production server, since they create and drop databases.
type Env struct {
	// AdminURL is a superuser's URL to the cluster's maintenance database.
	AdminURL string
	// BinDir holds the cluster's psql and pgbench.
	BinDir string
	Scale  Scale
	Log    *slog.Logger
}

// Command returns an exec.Cmd running PostgreSQL program name (psql,
// pgbench).
func (e *Env) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, filepath.Join(e.BinDir, name), args...)
}

// NewDatabase (re)creates database name with tenantctl's public schema
// migrated into it and returns its URL. The database is left behind for
// inspection; the cluster goes away with the run.
func (e *Env) NewDatabase(ctx context.Context, name string) (string, error) {
	url, err := e.createDatabase(ctx, name, "template0 ENCODING 'UTF8'")
	if err != nil {
		return "", err
	}
	pool, m, err := newManager(ctx, url, 1, false)
	if err != nil {
		return "", fmt.Errorf("bench: connect to %s: %w", name, err)
	}
	defer pool.Close()
	if _, err := db.MigratePublic(ctx, pool, m); err != nil {
		return "", fmt.Errorf("bench: migrate %s: %w", name, err)
	}
	return url, nil
}

// copyDatabase (re)creates database to as a copy of database from, which
// must have no connections, and returns its URL. The copy is file by file
// (STRATEGY FILE_COPY, PostgreSQL 15 and later): a fleet's database is
// copied in seconds, where building it again takes minutes and the
// default strategy writes it all to the WAL.
func (e *Env) copyDatabase(ctx context.Context, from, to string) (string, error) {
	return e.createDatabase(ctx, to, pgx.Identifier{from}.Sanitize()+" STRATEGY FILE_COPY")
}

// createDatabase (re)creates database name from template (and the options
// after it) and returns its URL.
func (e *Env) createDatabase(ctx context.Context, name, template string) (string, error) {
	ident := pgx.Identifier{name}.Sanitize()
	if err := e.admin(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)", "CREATE DATABASE "+ident+" TEMPLATE "+template); err != nil {
		return "", err
	}
	cfg, err := pgx.ParseConfig(e.AdminURL)
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name), nil
}

// admin runs statements one after another on a connection of its own to
// the cluster's maintenance database.
func (e *Env) admin(ctx context.Context, statements ...string) error {
	conn, err := pgx.Connect(ctx, e.AdminURL)
	if err != nil {
		return fmt.Errorf("bench: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, sql := range statements {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("bench: %s: %w", sql, err)
		}
	}
	return nil
}

// checkpoint writes out every dirty buffer of the cluster before a
// measured phase. Creating tenants dirties many catalog pages and new
// files; without it, the checkpoint that one phase's writes call for
// lands in whichever phase comes next, and the side measured second pays
// for the first.
func (e *Env) checkpoint(ctx context.Context) error { return e.admin(ctx, "CHECKPOINT") }

// newPool returns a pool of at most conns connections to url, configured
// as the product configures its own (db.ConfigurePool), then by configure
// (a tracer), with every connection opened when warm, so that no
// measurement pays for connecting.
func newPool(ctx context.Context, url string, conns int, warm bool, configure ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	cfg.MaxConns = int32(conns)
	db.ConfigurePool(cfg)
	for _, c := range configure {
		c(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	if warm {
		if err := warmUp(ctx, pool); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}

// newManager returns tenantctl's Manager over a new pool (newPool).
func newManager(ctx context.Context, url string, conns int, warm bool, configure ...func(*pgxpool.Config)) (*pgxpool.Pool, *tenancy.Manager, error) {
	return newManagerOf(ctx, url, conns, warm, tenancy.Config{}, configure...)
}

// newManagerOf is newManager with cfg's settings (a warm pool's size).
func newManagerOf(ctx context.Context, url string, conns int, warm bool, cfg tenancy.Config, configure ...func(*pgxpool.Config)) (*pgxpool.Pool, *tenancy.Manager, error) {
	pool, err := newPool(ctx, url, conns, warm, configure...)
	if err != nil {
		return nil, nil, err
	}
	m, err := db.NewTenancy(pool, cfg)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, m, nil
}

// warmUp opens every connection pool may hold.
func warmUp(ctx context.Context, pool *pgxpool.Pool) error {
	held := make([]*pgxpool.Conn, 0, pool.Config().MaxConns)
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range cap(held) {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("pool: connect: %w", err)
		}
		held = append(held, c)
	}
	return nil
}

// A Benchmark measures one group of rows. It returns what it measured
// even when it fails part way; a row's Err says which part.
type Benchmark struct {
	Name string // for -only and the log
	Run  func(ctx context.Context, e *Env) []Row
}
