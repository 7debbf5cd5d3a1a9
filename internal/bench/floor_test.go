package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestFloorScripts runs each request's pgbench script as the floor does
// (-M prepared, the session search_path pgbenchSession) over two read
// centers and the write centers: every statement prepares and runs, the
// guard finds each picked token's user and center, and the writes act as
// the token's member on the rows they picked. pgbench sees no result (no
// \gset in a pipeline), so what its statements find is checked here.
func TestFloorScripts(t *testing.T) {
	ctx := t.Context()
	d := testdb.New(t)
	e := testEnv(t)
	// The fixture's pool, as the benchmarks': the test pool's empty
	// search_path finds no bench_* table.
	pool, m, err := newManager(ctx, d.URL, fixtureConns, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	f := &fixture{url: d.URL, pool: pool, st: domain.New(pool, m), m: m}
	if _, err := pool.Exec(ctx, benchTables); err != nil {
		t.Fatal(err)
	}
	const spread, perSide, runs = 2, 20, 5
	if err := f.seedReads(ctx, spread); err != nil {
		t.Fatal(err)
	}
	if err := f.seedWrites(ctx, perSide); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "script.sql")
	for _, req := range requests {
		if err := os.WriteFile(file, []byte(req.script), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-n", "-M", "prepared", "-c", "1", "-t", strconv.Itoa(runs), "-f", file}
		for k, v := range pgbenchVars(spread, 1, perSide) {
			args = append(args, "-D", k+"="+v)
		}
		out, err := e.pgbenchCommand(ctx, f.pgbenchSession(), append(args, d.URL)...).CombinedOutput()
		if done := "actually processed: " + strconv.Itoa(runs) + "/"; err != nil || !strings.Contains(string(out), done) {
			t.Errorf("%s: pgbench: %v\n%s", req.name, err, out)
		}
	}

	for _, n := range []int{0, spread - 1, writeKeyBase, writeKeyBase + writeCenters - 1} {
		var role *string
		var active *bool
		err := pool.QueryRow(ctx, "SELECT role::text, is_active FROM ("+strings.ReplaceAll(pgGuard, ":n", strconv.Itoa(n))+") g").Scan(&role, &active)
		if err != nil || role == nil || active == nil || !*active {
			t.Errorf("guard of key %d: role %v, center active %v, %v; want the member's role and an active center", n, role, active, err)
		}
	}

	var created, processed int
	for _, c := range f.writes {
		var n, p int
		err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE barcode ~ '^[0-9]{10}$' AND user_id = $1 AND created_by = $1 AND updated_by = $1),
	count(*) FILTER (WHERE status = 'processing' AND updated_by = $1 AND id IN (SELECT sample FROM bench_pending WHERE k < $2))
FROM `+pgx.Identifier{c.schema, "samples"}.Sanitize(), c.user, runs).Scan(&n, &p)
		if err != nil {
			t.Fatal(err)
		}
		created, processed = created+n, processed+p
	}
	if created != runs || processed != runs {
		t.Errorf("%d samples created and %d processed by their center's member, want %d each", created, processed, runs)
	}
}
