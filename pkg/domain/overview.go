package domain

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Overview is the whole platform at a glance, for the console's dashboard:
// centers by state, users by role and state, and the samples of every
// active center by status.
type Overview struct {
	ActiveCenters, InactiveCenters int
	// Users counts active users; ByRole includes superusers by their role.
	Users          UserStats
	Superusers     int
	InactiveUsers  int
	Samples        SampleStats
	CentersCounted int // active centers whose samples are in Samples
}

// overviewChunk is how many schemas one statement of Overview reads: a
// statement per schema would be a round trip each, one for the whole fleet
// a plan over thousands of tables.
// A var, so that a test can make a small fleet span several chunks.
var overviewChunk = 200

// Overview counts the platform: one statement for the centers, one for
// the users, one listing the active centers, then one per overviewChunk of
// them for their samples. Each statement is its own transaction, not one
// snapshot for all: a transaction holds a lock on every table it reads
// until it ends, and 10,000 tenants' samples tables overflow PostgreSQL's
// shared lock table (max_locks_per_transaction × max_connections; "out of
// shared memory", for every session of the server, until it ends). So the
// figures may be of instants a few milliseconds apart, and a center
// hard-deleted while its chunk is read fails the call (ask again). Its
// cost grows with the fleet (every tenant's samples are counted), so a
// caller that shows it often should keep it a while.
func (s *Store) Overview(ctx context.Context) (Overview, error) {
	o := Overview{Users: newUserStats(), Samples: newSampleStats()}
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE is_active), count(*) FILTER (WHERE NOT is_active) FROM public.centers`).
		Scan(&o.ActiveCenters, &o.InactiveCenters)
	if err != nil {
		return o, fmt.Errorf("counting the centers: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT role, is_superuser, is_active, count(*) FROM public.users GROUP BY 1, 2, 3`)
	if err != nil {
		return o, fmt.Errorf("counting the users: %w", err)
	}
	var role Role
	var super, active bool
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&role, &super, &active, &n}, func() error {
		switch {
		case !active:
			o.InactiveUsers += n
		default:
			o.Users.ByRole[role] += n
			o.Users.Total += n
			if super {
				o.Superusers += n
			}
		}
		return nil
	}); err != nil {
		return o, fmt.Errorf("counting the users: %w", err)
	}
	// A center whose schema lacks its samples table (being created, or a
	// broken tenant the dashboard reports anyway) is left out.
	rows, err = s.pool.Query(ctx, `SELECT schema_name FROM public.centers
WHERE is_active AND to_regclass(quote_ident(schema_name) || '.samples') IS NOT NULL ORDER BY schema_name`)
	if err != nil {
		return o, fmt.Errorf("listing the tenants to count: %w", err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return o, fmt.Errorf("listing the tenants to count: %w", err)
	}
	o.CentersCounted = len(schemas)
	for len(schemas) > 0 {
		chunk := schemas[:min(overviewChunk, len(schemas))]
		schemas = schemas[len(chunk):]
		parts := make([]string, len(chunk))
		for i, sc := range chunk {
			parts[i] = "SELECT status, sample_type, count(*) FROM " + pgx.Identifier{sc, "samples"}.Sanitize() +
				" WHERE is_active GROUP BY 1, 2"
		}
		rows, err := s.pool.Query(ctx, strings.Join(parts, " UNION ALL "))
		if err != nil {
			return o, fmt.Errorf("counting the samples: %w", err)
		}
		var status Status
		var typ string
		if _, err := pgx.ForEachRow(rows, []any{&status, &typ, &n}, func() error {
			o.Samples.ByStatus[status] += n
			o.Samples.ByType[typ] += n
			o.Samples.Total += n
			return nil
		}); err != nil {
			return o, fmt.Errorf("counting the samples: %w", err)
		}
	}
	return o, nil
}
