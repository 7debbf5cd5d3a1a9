package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/tenancy"
)

// runQuiet is run without logging the whole output: these tests run many
// invocations and report what matters themselves.
func runQuiet(t *testing.T, args ...string) result { return invoke(t, invocation{}, args...) }

// TestCenterCreateRaceCLI: two `tenantctl center create` invocations (each
// its own pool, as two processes) with the same name, differing in case,
// started together, round after round. Exactly one exits 0; the other exits
// 1 with one error line naming the conflict; and no schema, registry row
// or ledger row is left without the others.
//
// Knob: TENANTCTL_RACE_ROUNDS (20).
func TestCenterCreateRaceCLI(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	rounds := testdb.Size(t, "TENANTCTL_RACE_ROUNDS", 20, 1)
	for round := range rounds {
		names := [2]string{fmt.Sprintf("CLI race %d", round), fmt.Sprintf("cli RACE %d", round)}
		var res [2]result
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range res {
			wg.Go(func() {
				<-start
				res[i] = runQuiet(t, "--database-url", d.URL, "center", "create", names[i], "-o", "json")
			})
		}
		close(start)
		wg.Wait()
		won, lost := -1, -1
		for i, r := range res {
			switch r.code {
			case ExitOK:
				won = i
			case ExitFailure:
				lost = i
			}
		}
		if won < 0 || lost < 0 {
			t.Fatalf("round %d: exits %d and %d, want one 0 and one 1; stderr: %q / %q", round, res[0].code, res[1].code, res[0].stderr, res[1].stderr)
		}
		res[lost].wantOneLineError(t, false, "name")
		if round == 0 {
			t.Logf("the loser says: %s", strings.TrimSpace(res[lost].stderr))
		}
		if !strings.Contains(res[lost].stderr, "exist") && !strings.Contains(res[lost].stderr, "conflict") && !strings.Contains(res[lost].stderr, "taken") {
			t.Errorf("round %d: the loser's error does not say it is a conflict: %q", round, res[lost].stderr)
		}
	}
	var orphans, centers int
	err := d.Pool.QueryRow(t.Context(), `
SELECT (SELECT count(*) FROM pg_namespace n WHERE n.nspname ~ '^center_[0-9a-f]{32}$'
		AND NOT EXISTS (SELECT FROM public.centers c WHERE c.schema_name = n.nspname))
	+ (SELECT count(*) FROM public.centers c WHERE NOT EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = c.schema_name))
	+ (SELECT count(*) FROM public.tenancy_tenants t WHERE NOT EXISTS (SELECT FROM public.centers c WHERE c.id = t.tenant_id))
	+ (SELECT count(*) FROM public.centers c WHERE NOT EXISTS (SELECT FROM public.tenancy_tenants t WHERE t.tenant_id = c.id)),
	(SELECT count(*) FROM public.centers)`).Scan(&orphans, &centers)
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := d.Tenancy.Inspect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statuses {
		if !s.OK() {
			t.Errorf("%s: %v", s.Schema, s.Problems)
		}
	}
	if centers != rounds || len(statuses) != rounds || orphans != 0 {
		t.Errorf("%d centers, %d tenants, %d orphans; want %d, %d, 0", centers, len(statuses), orphans, rounds, rounds)
	}
	t.Logf("FIGURES create race (CLI): %d rounds, %d winners, %d conflicts (exit 1), %d orphans", rounds, rounds, rounds, orphans)
}

// TestConcurrentCenterMigrateAll: two `tenantctl center migrate --all
// --yes` at once over a fleet whose every center is behind. To be sure the
// two really overlap (rather than one finishing before the other starts),
// the test holds the first center's ledger row locked until both
// invocations are seen waiting on it. Both must exit 0; each center must
// be reported migrated by exactly one of them and up to date by the
// other; the ledger must hold exactly one row per (center, version); and
// every center must end at the latest version with its tables.
//
// Knob: TENANTCTL_MIGRATE_CENTERS (50).
func TestConcurrentCenterMigrateAll(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	d := testdb.New(t)
	n := testdb.Size(t, "TENANTCTL_MIGRATE_CENTERS", 50, 1)
	ids := createTenants(t, d, n)
	for _, id := range ids {
		rewind(t, d, id, true)
	}

	// Hold the first center (both runs start with it, in ledger order).
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	if _, err := tx.Exec(ctx, "SELECT FROM public.tenancy_tenants WHERE tenant_id = $1 FOR UPDATE", ids[0]); err != nil {
		t.Fatal(err)
	}

	var res [2]result
	var wg sync.WaitGroup
	for i := range res {
		wg.Go(func() {
			res[i] = runQuiet(t, "--database-url", d.URL, "center", "migrate", "--all", "--yes", "--concurrency", "3", "-o", "json")
		})
	}
	deadline := time.Now().Add(2 * time.Minute) // liveness only
	for {
		var waiting int
		err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%tenancy_tenants%'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two invocations were never both waiting on the held center (%d waiting)", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	migratedBy := map[uuid.UUID]int{}
	var perRun [2]int
	for i, r := range res {
		if r.code != ExitOK {
			t.Fatalf("invocation %d: exit %d; stderr: %s", i, r.code, r.stderr)
		}
		doc := decodeJSON[fleetDoc](t, r.stdout)
		if doc.Summary.Total != n || doc.Summary.Failed != 0 || doc.Summary.Skipped != 0 {
			t.Errorf("invocation %d: summary %+v", i, doc.Summary)
		}
		for _, tr := range doc.Tenants {
			switch tr.Outcome {
			case tenancy.OutcomeMigrated:
				migratedBy[tr.Center]++
				perRun[i]++
			case tenancy.OutcomeUpToDate:
			default:
				t.Errorf("invocation %d: %s %s", i, tr.Schema, tr.Outcome)
			}
		}
	}
	for _, id := range ids {
		if migratedBy[id] != 1 {
			t.Errorf("center %s migrated %d times, want once", id, migratedBy[id])
		}
	}
	var dupes, rows, behind, missingTables int
	err = d.Pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM (SELECT FROM public.tenancy_migrations GROUP BY tenant_id, version HAVING count(*) > 1) x),
		(SELECT count(*) FROM public.tenancy_migrations),
		(SELECT count(*) FROM public.tenancy_tenants WHERE version <> $1),
		(SELECT count(*) FROM public.tenancy_tenants WHERE to_regclass(quote_ident(schema_name) || '.samples') IS NULL)`,
		d.Tenancy.LatestVersion()).Scan(&dupes, &rows, &behind, &missingTables)
	if err != nil {
		t.Fatal(err)
	}
	if dupes != 0 || rows != n*int(d.Tenancy.LatestVersion()) || behind != 0 || missingTables != 0 {
		t.Errorf("ledger: %d duplicated (tenant, version), %d rows (want %d), %d behind, %d without their tables", dupes, rows, n*int(d.Tenancy.LatestVersion()), behind, missingTables)
	}
	t.Logf("FIGURES concurrent migrate --all: %d centers, 2 invocations overlapping (both seen waiting on a held center), migrated %d + %d, each center once; ledger duplicates %d",
		n, perRun[0], perRun[1], dupes)
}
