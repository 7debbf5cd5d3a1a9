package tenancy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// TestInspectProblems builds one of each thing that can be wrong with a
// tenant (behind, schema dropped behind the ledger's back, schema without a
// ledger row) next to a healthy tenant, and looks at them through three
// Managers, as three builds of an application would: the current one, one
// whose first migration file was edited after it ran, and an older one that
// knows fewer migrations.
func TestInspectProblems(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newFleetNames(t, pool, "in")
	current := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2)})
	older := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 1)})
	editedFS := migrationsUpTo(t, 2)
	editedFS["001_items.sql"] = &fstest.MapFile{Data: append([]byte("-- edited after it ran\n"), editedFS["001_items.sql"].Data...)}
	edited := n.Manager(t, pool, &tenancy.Config{Migrations: editedFS})

	healthy := tenancytest.Tenant(t, current)
	behind := tenancytest.Tenant(t, older)
	missing := tenancytest.Tenant(t, current)
	orphan := uuid.New()
	_, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{current.SchemaName(missing)}.Sanitize()+" CASCADE;"+
		"CREATE SCHEMA "+pgx.Identifier{current.SchemaName(orphan)}.Sanitize()+";"+
		// Not of the Manager's naming (a prefix match only): never listed.
		"CREATE SCHEMA "+pgx.Identifier{n.Prefix + "not_a_tenant"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	// Nor a tenant of a prefix extending this one, in the same ledger.
	extended, err := tenancy.New(pool, &tenancy.Config{Migrations: migrationsUpTo(t, 2), Prefix: n.Prefix + "x_", LedgerSchema: n.Ledger})
	if err != nil {
		t.Fatal(err)
	}
	tenancytest.Tenant(t, extended)

	type want struct {
		problems []tenancy.Problem
		drifted  []int32
	}
	none := want{}
	for _, c := range []struct {
		name string
		m    *tenancy.Manager
		want map[uuid.UUID]want
	}{
		{"current", current, map[uuid.UUID]want{
			healthy: none,
			behind:  {problems: []tenancy.Problem{tenancy.ProblemBehind}},
			missing: {problems: []tenancy.Problem{tenancy.ProblemMissingSchema}},
			orphan:  {problems: []tenancy.Problem{tenancy.ProblemOrphanSchema}},
		}},
		{"edited", edited, map[uuid.UUID]want{
			healthy: {problems: []tenancy.Problem{tenancy.ProblemDrift}, drifted: []int32{1}},
			behind:  {problems: []tenancy.Problem{tenancy.ProblemBehind, tenancy.ProblemDrift}, drifted: []int32{1}},
			missing: {problems: []tenancy.Problem{tenancy.ProblemMissingSchema, tenancy.ProblemDrift}, drifted: []int32{1}},
			orphan:  {problems: []tenancy.Problem{tenancy.ProblemOrphanSchema}},
		}},
		{"older", older, map[uuid.UUID]want{
			healthy: {problems: []tenancy.Problem{tenancy.ProblemAhead}},
			behind:  none,
			missing: {problems: []tenancy.Problem{tenancy.ProblemMissingSchema, tenancy.ProblemAhead}},
			orphan:  {problems: []tenancy.Problem{tenancy.ProblemOrphanSchema}},
		}},
	} {
		st, err := c.m.Inspect(ctx)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []uuid.UUID
		for _, s := range st {
			got = append(got, s.TenantID)
		}
		if len(st) != len(c.want) || !sameIDSet(got, []uuid.UUID{healthy, behind, missing, orphan}) {
			t.Fatalf("%s: Inspect lists %v, want exactly the four tenants", c.name, got)
		}
		if !slices.IsSortedFunc(st, func(a, b tenancy.TenantStatus) int { return strings.Compare(a.Schema, b.Schema) }) {
			t.Errorf("%s: Inspect is not in schema-name order", c.name)
		}
		for _, s := range st {
			w := c.want[s.TenantID]
			if !slices.Equal(s.Problems, w.problems) || !slices.Equal(s.DriftedVersions, w.drifted) {
				t.Errorf("%s: %s: problems %v drifted %v, want %v drifted %v", c.name, s.Schema, s.Problems, s.DriftedVersions, w.problems, w.drifted)
			}
			if s.OK() != (len(w.problems) == 0) {
				t.Errorf("%s: %s: OK() = %v with problems %v", c.name, s.Schema, s.OK(), s.Problems)
			}
			if s.Schema != c.m.SchemaName(s.TenantID) {
				t.Errorf("%s: schema %s, want %s", c.name, s.Schema, c.m.SchemaName(s.TenantID))
			}
			if inLedger, exists := s.TenantID != orphan, s.TenantID != missing; s.InLedger != inLedger || s.SchemaExists != exists {
				t.Errorf("%s: %s: in ledger %v, schema exists %v; want %v, %v", c.name, s.Schema, s.InLedger, s.SchemaExists, inLedger, exists)
			}
		}
	}

	// The ledger's view of the healthy tenant, entry by entry.
	st, err := current.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(st, func(s tenancy.TenantStatus) bool { return s.TenantID == healthy })
	h := st[i]
	if h.Version != 2 || len(h.Applied) != 2 || h.CreatedAt.IsZero() || h.MigratedAt == nil || h.LastError != "" || h.LastErrorAt != nil {
		t.Fatalf("healthy tenant: %+v, want version 2, 2 applied, created and migrated times, no error", h)
	}
	for j, mg := range current.Migrations() {
		a := h.Applied[j]
		if a.Version != mg.Version || a.Name != mg.Name || a.Checksum != mg.Checksum || a.AppliedAt.IsZero() || a.Duration < 0 {
			t.Errorf("healthy tenant: applied[%d] = %+v, want version %d %s checksum %s", j, a, mg.Version, mg.Name, mg.Checksum)
		}
	}
	if o := st[slices.IndexFunc(st, func(s tenancy.TenantStatus) bool { return s.TenantID == orphan })]; o.Version != 0 || len(o.Applied) != 0 {
		t.Errorf("orphan: version %d with %d applied, want nothing: the ledger never knew it", o.Version, len(o.Applied))
	}

	// An older build refuses to touch a tenant it cannot understand.
	res, err := older.Migrate(ctx, tenancy.MigrateOptions{Tenants: []uuid.UUID{healthy}})
	if len(res) != 1 || res[0].Outcome != tenancy.OutcomeFailed || !errors.Is(res[0].Err, tenancy.ErrAhead) || err == nil {
		t.Errorf("older build's Migrate of a newer tenant = %+v, %v; want Failed with ErrAhead", res, err)
	}

	// Drop cleans up either half of a broken tenant, and then neither is
	// there to drop again.
	for _, id := range []uuid.UUID{missing, orphan} {
		if err := current.Drop(ctx, id, nil); err != nil {
			t.Errorf("Drop %s: %v", current.SchemaName(id), err)
		}
		if err := current.Drop(ctx, id, nil); !errors.Is(err, tenancy.ErrTenantNotFound) {
			t.Errorf("second Drop %s = %v, want ErrTenantNotFound", current.SchemaName(id), err)
		}
	}
	var leftovers int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)) +
		(SELECT count(*) FROM `+n.tenantsTable()+` WHERE tenant_id = ANY($2))`,
		[]string{current.SchemaName(missing), current.SchemaName(orphan)}, []uuid.UUID{missing, orphan}).Scan(&leftovers); err != nil {
		t.Fatal(err)
	}
	if leftovers != 0 {
		t.Errorf("%d schemas or ledger rows of the dropped tenants remain, want none", leftovers)
	}
	st, err = current.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for _, s := range st {
		got = append(got, s.TenantID)
	}
	if !sameIDSet(got, []uuid.UUID{healthy, behind}) {
		t.Errorf("Inspect after the drops lists %v, want only %v and %v", got, healthy, behind)
	}
}
