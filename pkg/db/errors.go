package db

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// What PostgreSQL's errors mean to tenantctl, so that its front ends (the
// HTTP API, the CLI) map meanings to statuses and messages without knowing
// SQLSTATEs.

// IsUnavailable reports whether err means the database could not be
// reached, dropped the connection, refused it for load or for a shutdown,
// or did not answer before the context's deadline: a failure worth a retry
// later, not a fault of the request.
func IsUnavailable(err error) bool {
	var (
		connErr *pgconn.ConnectError
		pgErr   *pgconn.PgError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &connErr), errors.Is(err, puddle.ErrClosedPool), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, pgconn.ErrConnClosed):
		// A pooled connection the server or the network dropped: the first
		// query on it after an outage fails so (or, once pgx has noticed,
		// with "conn closed"), before pgxpool discards it.
		return true
	case errors.As(err, &pgErr):
		// Class 08 connection exception; too many connections; the server
		// shutting down (an administrator's pg_terminate_backend included)
		// or starting up.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "53300" ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return false
}

// NotMigrated reports whether err is PostgreSQL's undefined_table for a
// table of the public schema: the database was never migrated (run
// tenantctl migrate). detail is PostgreSQL's message, which names the
// missing table (relation "public.centers" does not exist).
func NotMigrated(err error) (detail string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" && strings.Contains(pgErr.Message, `"public.`) {
		return pgErr.Message, true
	}
	return "", false
}
