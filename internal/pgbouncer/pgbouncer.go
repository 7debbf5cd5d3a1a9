// Package pgbouncer runs the PgBouncer of `make test` (Start: pool_mode =
// transaction, a server pool smaller than the tests' client count; pgenv
// exports it as TEST_PGBOUNCER_URL), helps tests run tenantctl's code
// through it, and checks afterwards that no server connection kept a
// tenant's session state.
//
// Its tests fail, rather than skip, when TEST_PGBOUNCER_URL is unset:
// tenants must stay apart also behind PgBouncer in transaction pooling
// mode, and a run that quietly left PgBouncer out would not show it.
package pgbouncer

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the environment variable with the test database's
// connection string through PgBouncer.
const EnvURL = "TEST_PGBOUNCER_URL"

// DefaultSearchPath is PostgreSQL's default search_path, which every server
// connection of PgBouncer's must show between transactions.
const DefaultSearchPath = `"$user", public`

// URL returns the test database's connection string through PgBouncer,
// failing tb when it is not set.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		tb.Fatalf("pgbouncer: %s is not set; run the tests with `make test`, which starts PgBouncer in front of the test database", EnvURL)
	}
	return u
}

// PoolConfig parses connString for a pool of maxConns connections through
// PgBouncer, and fails tb unless it is usable there.
//
// The pool has no AfterConnect hook, on purpose: behind transaction pooling
// a session-level SET (tenancytest.Pool sets search_path empty) runs on
// whichever server connection PgBouncer lends for that one statement, stays
// there for the next client, and is absent from the server connections the
// client gets later. Its connections therefore run with PostgreSQL's
// default search_path (DefaultSearchPath), and everything tenant-scoped has
// to come from SET LOCAL inside a transaction, which is what package
// tenancy does.
func PoolConfig(tb testing.TB, connString string, maxConns int32) *pgxpool.Config {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		tb.Fatalf("pgbouncer: parse %s: %v", EnvURL, err)
	}
	// PgBouncer 1.18 does not track protocol-level prepared statements
	// (1.21 does, with max_prepared_statements): pgx's default, a named
	// statement prepared once per client connection, breaks as soon as
	// that client's next transaction runs on another server connection.
	// describe_exec is no better: it Syncs between preparing the unnamed
	// statement and binding it, and outside a transaction PgBouncer may
	// hand the Bind to another server connection. cache_describe re-sends
	// the statement text and so survives PgBouncer, but it trusts result
	// types cached per client connection, which differ between tenants
	// while a migration rolls out. exec sends Parse, Bind and Execute in
	// one message, with nothing kept between statements.
	switch m := cfg.ConnConfig.DefaultQueryExecMode; m {
	case pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol:
	default:
		tb.Fatalf("pgbouncer: %s must set default_query_exec_mode=exec (or simple_protocol), not %v", EnvURL, m)
	}
	cfg.MaxConns = maxConns
	return cfg
}

// Pool returns a pool of maxConns connections on connString (a database
// through PgBouncer; see PoolConfig), closed when tb ends.
func Pool(tb testing.TB, connString string, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	return NewPool(tb, PoolConfig(tb, connString, maxConns))
}

// NewPool connects cfg and closes the pool when tb ends.
func NewPool(tb testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("pgbouncer: connect: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		tb.Fatalf("pgbouncer: connect through PgBouncer: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// AssertServerConnsClean fails tb unless every server connection PgBouncer
// holds for connString's database is back at PostgreSQL's defaults: search
// path DefaultSearchPath and no transaction left open.
//
// A client cannot pick a server connection, so it asks many times, in
// parallel: each autocommit SELECT lands on whichever server connection
// PgBouncer lends it and reports that backend's pid and search_path. Rounds
// repeat until every server connection PgBouncer's admin console lists for
// the database (SHOW SERVERS) has answered at least once, so the check
// covers them all rather than the one that happened to be idle.
func AssertServerConnsClean(tb testing.TB, connString string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const clients, perClient, maxRounds = 32, 10, 30
	pool := Pool(tb, connString, clients)
	db := pool.Config().ConnConfig.Database
	user := pool.Config().ConnConfig.User

	seen := map[int32]bool{}
	var mu sync.Mutex
	for round := 1; ; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Go(func() {
				for range perClient {
					var pid int32
					var path string
					var fresh bool
					// now() is the transaction's start: equal to the
					// statement's only if this SELECT began a transaction
					// of its own, not one left open on the server. That
					// holds for a simple-protocol query (one message); in
					// the extended protocol the transaction starts at
					// Parse and the statement's clock again at Execute.
					err := pool.QueryRow(ctx, "SELECT pg_backend_pid(), current_setting('search_path'), now() = statement_timestamp()",
						pgx.QueryExecModeSimpleProtocol).Scan(&pid, &path, &fresh)
					if err == nil && path != DefaultSearchPath {
						err = fmt.Errorf("server connection (backend %d) has search_path %q outside any transaction, want the default %q: a session setting leaked through PgBouncer", pid, path, DefaultSearchPath)
					}
					if err == nil && !fresh {
						err = fmt.Errorf("server connection (backend %d) was handed out inside a transaction left open", pid)
					}
					if err != nil {
						errs <- err // one per client at most: errs has room for all
						return
					}
					mu.Lock()
					seen[pid] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		failed := false
		for err := range errs {
			tb.Error(err)
			failed = true
		}
		if failed {
			return
		}

		servers, err := serverPIDs(ctx, connString, db, user)
		if err != nil {
			tb.Fatalf("pgbouncer: SHOW SERVERS on the admin console: %v", err)
		}
		var missing []int32
		for _, pid := range servers {
			if !seen[pid] {
				missing = append(missing, pid)
			}
		}
		if len(missing) == 0 {
			tb.Logf("pgbouncer: %d server connections of %s, every one answered clean (%d distinct backends in %d rounds)", len(servers), db, len(seen), round)
			return
		}
		if round == maxRounds {
			tb.Fatalf("pgbouncer: after %d rounds, server connections %v (of %v) never answered", round, missing, servers)
		}
	}
}

// serverPIDs lists the backend pids of PgBouncer's server connections for
// database db and user, from its admin console. The console speaks only the
// simple query protocol.
func serverPIDs(ctx context.Context, connString, db, user string) ([]int32, error) {
	cc, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	cc.Database = "pgbouncer"
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SHOW SERVERS")
	if err != nil {
		return nil, err
	}
	maps, err := pgx.CollectRows(rows, pgx.RowToMap)
	if err != nil {
		return nil, err
	}
	var pids []int32
	for _, m := range maps {
		if fmt.Sprint(m["database"]) != db || fmt.Sprint(m["user"]) != user {
			continue
		}
		var pid int32
		if _, err := fmt.Sscan(fmt.Sprint(m["remote_pid"]), &pid); err != nil {
			return nil, fmt.Errorf("remote_pid %v: %w", m["remote_pid"], err)
		}
		if pid != 0 { // 0: still logging in
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
