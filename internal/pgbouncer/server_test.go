package pgbouncer_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/internal/pgbouncer"
	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

// TestMain fails the package if a PgBouncer process's waiter or output
// copier outlives Stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Start's PgBouncer forwards every database name, a database made after
// it started too, to the server it was given, pools in transaction mode
// with PoolSize server connections, and Stop ends it and removes its
// folder.
func TestStartForwards(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := pgcluster.Start(t)
	s, err := pgbouncer.Start(ctx, c.URL("postgres"), func(msg string) { t.Log(msg) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	admin, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE made_later"); err != nil {
		t.Fatal(err)
	}
	u, err := pgcluster.WithDatabase(s.URL, "made_later")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("through PgBouncer: %v", err)
	}
	var db string
	var port int
	err = conn.QueryRow(ctx, "SELECT current_database(), inet_server_port()").Scan(&db, &port)
	conn.Close(ctx)
	if err != nil || db != "made_later" || port != c.Port {
		t.Fatalf("through PgBouncer: database %q on port %d (%v), want made_later on %d", db, port, err, c.Port)
	}

	cfg, err := pgx.ParseConfig(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = "pgbouncer"
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	console, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("admin console: %v", err)
	}
	rows, err := console.Query(ctx, "SHOW CONFIG")
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		settings[fmt.Sprint(vals[0])] = fmt.Sprint(vals[1])
	}
	console.Close(ctx)
	if settings["pool_mode"] != "transaction" || settings["default_pool_size"] != "3" {
		t.Errorf("pool_mode %q, default_pool_size %q; want transaction, 3", settings["pool_mode"], settings["default_pool_size"])
	}

	s.Stop()
	if pgcluster.PortInUse(s.Port) {
		t.Errorf("port %d still answers after Stop", s.Port)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("folder %s still there after Stop (%v)", s.Dir, err)
	}
}
