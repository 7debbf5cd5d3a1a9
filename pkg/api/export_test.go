package api

import (
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// offlineServer is a Server whose pool never connects (pgxpool connects
// lazily): enough for what needs no database.
func offlineServer(t *testing.T) *Server {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return serverOn(t, pool)
}

// serverOn is a Server over pool, with tenantctl's tenancy and a silent log.
func serverOn(t *testing.T, pool *pgxpool.Pool) *Server {
	t.Helper()
	m, err := db.NewTenancy(pool, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return quietServer(t, pool, m)
}

// quietServer is a Server over pool and m that logs nothing.
func quietServer(t *testing.T, pool *pgxpool.Pool, m *tenancy.Manager) *Server {
	t.Helper()
	s, err := New(Config{Store: domain.New(pool, m), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// OfflineServer is offlineServer for the package's external tests.
var OfflineServer = offlineServer
