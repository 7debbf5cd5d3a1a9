package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// inspectCalls is how many times each side of the Inspect row reads the
// fleet, after one call to warm up.
const inspectCalls = 11

// inspectLedgerSQL and inspectSchemasSQL read what Manager.Inspect
// reports of the product's tenants, unaggregated: the ledger's rows with
// their migrations, in order, and the catalog's schemas of the prefix,
// by the same prefix test as Inspect's (starts_with), which leaves it the
// exact shapes to check. The floor's script is both.
func inspectLedgerSQL(m *tenancy.Manager) string {
	return `SELECT t.schema_name, t.version, t.created_at, t.migrated_at, t.last_error, t.last_error_at,
	g.version, g.name, g.checksum, g.applied_at, g.duration_us
FROM ` + ledgerTenants + ` t LEFT JOIN ` + ledgerMigrations + ` g USING (tenant_id)
WHERE starts_with(t.schema_name, ` + quoteLiteral(m.Prefix()) + `) ORDER BY t.schema_name, g.version`
}

func inspectSchemasSQL(m *tenancy.Manager) string {
	return "SELECT nspname FROM pg_namespace WHERE starts_with(nspname::text, " + quoteLiteral(m.Prefix()) + ")"
}

// pgbenchLatency is pgbench's "latency average = 12.345 ms".
var pgbenchLatency = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

// inspectVersusRead measures Manager.Inspect on the fleet of pool against
// pgbench reading the same rows (inspectLedgerSQL, inspectSchemasSQL), one client, and
// returns the median call on our side, the mean transaction on the
// floor's, and the row's note. It checks first that the floor reads a row
// for each applied migration (or tenant without one) of the ledger's
// tenants Inspect reports.
func (e *Env) inspectVersusRead(ctx context.Context, url string, pool *pgxpool.Pool, m *tenancy.Manager) (ours, floor Figure, note string, err error) {
	sts, err := m.Inspect(ctx)
	if err != nil {
		return ours, floor, "", err
	}
	want := 0
	for _, st := range sts {
		if st.InLedger && !st.PoolMember {
			want += max(len(st.Applied), 1)
		}
	}
	var got int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM ("+inspectLedgerSQL(m)+") r").Scan(&got); err != nil {
		return ours, floor, "", fmt.Errorf("bench: count the floor's rows: %w", err)
	}
	if got != want {
		return ours, floor, "", fmt.Errorf("bench: the floor reads %d ledger rows, Inspect reports %d", got, want)
	}
	took := make([]time.Duration, inspectCalls)
	for i := range took {
		start := time.Now()
		if _, err := m.Inspect(ctx); err != nil {
			return ours, floor, "", err
		}
		took[i] = time.Since(start)
	}
	dir, err := os.MkdirTemp("", "tenantctl-inspect-")
	if err != nil {
		return ours, floor, "", fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "inspect.sql")
	if err := os.WriteFile(script, []byte(inspectLedgerSQL(m)+";\n"+inspectSchemasSQL(m)+";\n"), 0o644); err != nil {
		return ours, floor, "", fmt.Errorf("bench: %w", err)
	}
	out, err := e.pgbenchCommand(ctx, "", "-n", "-M", "prepared", "-c", "1", "-t", strconv.Itoa(inspectCalls+1), "-f", script, url).CombinedOutput()
	if err != nil {
		return ours, floor, "", fmt.Errorf("pgbench: %w: %s", err, lastLine(string(out)))
	}
	mm := pgbenchLatency.FindSubmatch(out)
	if mm == nil {
		return ours, floor, "", fmt.Errorf("pgbench printed no latency average: %s", lastLine(string(out)))
	}
	lat, err := strconv.ParseFloat(string(mm[1]), 64)
	if err != nil {
		return ours, floor, "", fmt.Errorf("pgbench latency %q: %w", mm[1], err)
	}
	ours, floor = Figure{Value: ms(median(took)), Unit: "ms"}, Figure{Value: lat, Unit: "ms"}
	note = fmt.Sprintf("Library: Manager.Inspect (one query: the ledger's rows aggregated per tenant with their migrations, "+
		"the catalog's schemas, joined), %d calls after one to warm up, median. Floor: pgbench -M prepared, one client, "+
		"%d transactions of the same rows unaggregated (%d ledger rows, checked equal to what Inspect reports, and the "+
		"schemas), mean latency; pgbench discards the rows, the library decodes them into %d TenantStatus values and "+
		"diagnoses each.", inspectCalls, inspectCalls+1, want, len(sts))
	return ours, floor, note, nil
}
