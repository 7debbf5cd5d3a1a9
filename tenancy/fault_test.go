package tenancy_test

// Faults in the middle of a fleet migration (RELIABILITY.md): the backend
// migrating one tenant is killed with pg_terminate_backend while it is
// inside that tenant's migration.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/tenancy"
)

// TestFleetMigrateBackendTerminated: a fleet at version 2 gets migration
// 3, which pauses (pg_sleep) in the victim tenant only, after its first
// statement ran. The test finds that backend in pg_stat_activity by a
// marker in the migration's text and terminates it. The victim must come
// out exactly as it was: ledger at 2 with its two migrations, no column or
// index of migration 3 in the catalog, its data kept, the failure noted;
// its Result Failed; every other tenant migrated. Once the pause is
// disarmed a rerun migrates the victim alone, and Inspect finds nothing
// wrong anywhere.
//
// Knob: TENANTCTL_FAULT_FLEET (20 tenants).
func TestFleetMigrateBackendTerminated(t *testing.T) {
	t.Parallel()
	fleet := testdb.Size(t, "TENANTCTL_FAULT_FLEET", 20, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 3*testDeadline)
	defer cancel()
	pool := fleetPool(t, 4)
	n := newFleetNames(t, pool, "fk")
	old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	ids := createFleet(t, old, fleet, 4)
	victim := ids[fleet/2]
	victimSchema := old.SchemaName(victim)
	if err := old.InTenant(ctx, victim, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO items (tenant_marker, name) VALUES ($1, 'kept')", victimSchema)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// The pause is armed per schema in a table of the test's ledger schema
	// (dropped with it), so the same migration file, unchanged, runs
	// without pausing once disarmed: a rerun must not see drift.
	gate := pgx.Identifier{n.Ledger, "fault_gate"}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+gate+" (schema_name text PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO "+gate+" VALUES ($1)", victimSchema); err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	mark := "tenancy_fault_" + hex.EncodeToString(rnd[:])
	migs := migrationsUpTo(t, 2)
	// The marker is in the comment over the pause: the runner sends each
	// statement with the comments before it, so that is the text
	// pg_stat_activity shows while it sleeps.
	migs["003_priority_slow.sql"] = &fstest.MapFile{Data: []byte(`-- migration 3, pausing where the test arms it
ALTER TABLE items ADD COLUMN priority integer;
-- the pause (` + mark + `)
SELECT pg_sleep(300) FROM ` + gate + ` WHERE schema_name = current_schema();
CREATE INDEX items_priority_idx ON items (priority);
`)}
	m := n.Manager(t, pool, &tenancy.Config{Migrations: migs})

	type outcome struct {
		res []tenancy.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := m.Migrate(ctx, tenancy.MigrateOptions{Concurrency: 3})
		done <- outcome{res, err}
	}()

	// The victim's backend: running our migration (the marker) and
	// asleep in it. A liveness bound only.
	var pid int32
	deadline := time.Now().Add(testDeadline)
	for {
		err := pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND wait_event = 'PgSleep' AND position($1 in query) > 0`, mark).Scan(&pid)
		if err == nil {
			break
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim's migration never showed up asleep in pg_stat_activity")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var terminated bool
	if err := pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("pg_terminate_backend(%d): %v %v", pid, terminated, err)
	}
	got := <-done

	var fe *tenancy.FleetError
	if !errors.As(got.err, &fe) || fe.Failed+fe.Skipped != 1 || fe.Total != fleet {
		t.Fatalf("Migrate: %v, want a FleetError with the victim alone failed", got.err)
	}
	for _, r := range got.res {
		switch {
		case r.TenantID == victim:
			if (r.Outcome != tenancy.OutcomeFailed && r.Outcome != tenancy.OutcomeSkipped) || r.From != 2 || r.To != 2 || r.Err == nil {
				t.Errorf("victim: %+v, want Failed (or Skipped) at 2 with an error", r)
			}
			t.Logf("victim's error: %v", r.Err)
		case r.Outcome != tenancy.OutcomeMigrated || r.To != 3:
			t.Errorf("tenant %s: %+v, want migrated to 3", r.Schema, r)
		}
	}

	// The victim as the ledger and the catalog see it: untouched.
	ledger := n.ledger(t, pool)
	if lr := ledger[victim]; lr.Version != 2 || lr.Migrations != 2 || lr.Distinct != 2 || lr.LastError == "" {
		t.Errorf("victim's ledger: %+v, want version 2, 2 migrations, the failure noted", lr)
	}
	var column, index bool
	var kept int
	err := pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'items' AND column_name = 'priority'),
		to_regclass(quote_ident($1) || '.items_priority_idx') IS NOT NULL`, victimSchema).Scan(&column, &index)
	if err != nil {
		t.Fatal(err)
	}
	if column || index {
		t.Errorf("victim's catalog has migration 3's column (%v) or index (%v): half applied", column, index)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{victimSchema, "items"}.Sanitize()+" WHERE name = 'kept'").Scan(&kept); err != nil || kept != 1 {
		t.Errorf("victim's data: %d rows kept (%v), want 1", kept, err)
	}
	for _, id := range ids {
		if lr := ledger[id]; id != victim && (lr.Version != 3 || lr.Migrations != 3 || lr.Distinct != 3) {
			t.Errorf("tenant %s's ledger: %+v, want version 3 with 3 migrations", id, lr)
		}
	}

	// Disarmed, a rerun resumes: the victim alone is migrated.
	if _, err := pool.Exec(ctx, "DELETE FROM "+gate); err != nil {
		t.Fatal(err)
	}
	res, err := m.Migrate(ctx, tenancy.MigrateOptions{})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	migrated := 0
	for _, r := range res {
		if r.Outcome == tenancy.OutcomeMigrated {
			migrated++
			if r.TenantID != victim || r.From != 2 || r.To != 3 {
				t.Errorf("rerun migrated %+v, want the victim alone from 2 to 3", r)
			}
		} else if r.Outcome != tenancy.OutcomeUpToDate {
			t.Errorf("rerun: %+v", r)
		}
	}
	if migrated != 1 {
		t.Errorf("rerun migrated %d tenants, want 1 (the victim)", migrated)
	}
	statuses, err := m.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != fleet {
		t.Errorf("Inspect: %d tenants, want %d", len(statuses), fleet)
	}
	for _, s := range statuses {
		if !s.OK() || s.Version != 3 {
			t.Errorf("after the rerun %s: version %d, problems %v", s.Schema, s.Version, s.Problems)
		}
	}
	t.Logf("FIGURES backend terminated: fleet %d, 1 backend terminated mid-migration (pid %d), victim intact at 2, %d others migrated; rerun migrated %d",
		fleet, pid, fleet-1, migrated)
}
