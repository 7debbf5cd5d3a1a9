package admin_test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/admin"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// rewind puts tenant id back at version 0 in the ledger, as the CLI's
// tests do: with its tables dropped, a migration recreates them; with
// them kept, the migration fails on them ("already exists").
func (e *env) rewind(id uuid.UUID, dropTables bool) {
	e.t.Helper()
	if dropTables {
		e.exec("DROP TABLE " + pgx.Identifier{e.db.Tenancy.SchemaName(id), "samples"}.Sanitize())
	}
	e.exec("DELETE FROM public.tenancy_migrations WHERE tenant_id = $1", id)
	e.exec("UPDATE public.tenancy_tenants SET version = 0, migrated_at = NULL WHERE tenant_id = $1", id)
}

func (e *env) version(id uuid.UUID) int32 {
	e.t.Helper()
	var v int32
	if err := e.db.Pool.QueryRow(e.ctx, "SELECT version FROM public.tenancy_tenants WHERE tenant_id = $1", id).Scan(&v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// waitRun follows a run's page until it stops refreshing itself, and
// returns the last page: the run's goroutine has then finished.
func (c *client) waitRun(path string) page {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p := c.get(path)
		if p.status != http.StatusOK {
			c.t.Fatalf("run page: %d\n%s", p.status, p.body)
		}
		if !strings.Contains(p.body, `http-equiv="refresh"`) {
			return p
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the run did not finish:\n%s", p.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFleetForbidden: only superusers see the fleet or migrate it; the
// others get a 403 that says so, and nothing runs.
func TestFleetForbidden(t *testing.T) {
	e := setup(t)
	fresh, err := e.st.Centers.Create(e.ctx, domain.System, domain.CenterInput{Name: "Behind"})
	if err != nil {
		t.Fatal(err)
	}
	e.rewind(fresh.ID, true)
	for _, u := range []string{"istanbul_admin", "istanbul_user", "istanbul_viewer"} {
		c := e.signIn(u)
		c.get("/admin/fleet/").want(t, http.StatusForbidden, "superusers only")
		c.post("/admin/fleet/migrate/", nil).want(t, http.StatusForbidden, "superusers only")
		c.get("/admin/fleet/runs/anything/").want(t, http.StatusForbidden, "superusers only")
		if p := c.get("/admin/"); strings.Contains(p.body, `href="/admin/fleet/"`) {
			t.Errorf("%s: the menu links the fleet", u)
		}
	}
	if v := e.version(fresh.ID); v != 0 {
		t.Fatalf("a refused migrate migrated: version %d", v)
	}
}

// TestFleetNodes: on PostgreSQL the fleet page's nodes are the one server
// the console connects to, with every center (a soft-deleted one too) and
// their size as the center pages give it.
func TestFleetNodes(t *testing.T) {
	e := setup(t)
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	p := e.signIn("super").get("/admin/fleet/")
	p.want(t, http.StatusOK, "<h2>Nodes</h2>", "PostgreSQL: one server", "Sizes as measured "+time.Now().UTC().Format("2006-01-02"), e.nodeRow(2))
	if n := strings.Count(p.body, "<td><code>"); n != 1 {
		t.Errorf("%d node rows, want 1\n%s", n, p.body)
	}
}

// nodeRow is the fleet page's row of the one PostgreSQL server holding
// that many centers, with the size the center pages give them now.
func (e *env) nodeRow(tenants int) string {
	e.t.Helper()
	var size int64
	for _, ct := range []domain.Center{e.ist, e.ank} {
		st, err := e.st.Stats(e.ctx, ct.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		size += st.Schema.SizeBytes
	}
	cc := e.db.Pool.Config().ConnConfig
	return fmt.Sprintf(`<tr><td><code>%s</code></td><td class="num">%d</td><td class="num">%s</td></tr>`,
		net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), tenants, text.Bytes(size))
}

// TestFleetNodesStale: past NodesMaxAge the fleet page still shows the
// last measurement at once, and measures again in the background for the
// pages after it.
func TestFleetNodesStale(t *testing.T) {
	e := setup(t, func(c *admin.Config) { c.NodesMaxAge = time.Nanosecond })
	super := e.signIn("super")
	before := e.nodeRow(2)
	super.get("/admin/fleet/").want(t, http.StatusOK, before)
	if err := e.db.Tenancy.InTenant(e.ctx, e.ist.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(e.ctx, `INSERT INTO samples (name, sample_type, barcode, user_id, description)
			SELECT 'grown', 'blood', 'GROW-' || i, $1, repeat(md5(i::text), 30) FROM generate_series(1, 2000) i`, uuid.New())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	after := e.nodeRow(2)
	if after == before {
		t.Fatalf("2,000 samples did not change the size: %s", after)
	}
	super.get("/admin/fleet/").want(t, http.StatusOK, before)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p := super.get("/admin/fleet/")
		if strings.Contains(p.body, after) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new size never showed: want %s\n%s", after, p.body)
		}
	}
}

// TestFleetMigrate: the fleet page shows each tenant's version with the
// problems first; migrating runs in the background, shows progress while
// held, and ends with each tenant's outcome; a second migrate meanwhile
// goes to the running one.
func TestFleetMigrate(t *testing.T) {
	e := setup(t)
	latest := e.db.Tenancy.LatestVersion()
	behind, err := e.st.Centers.Create(e.ctx, domain.System, domain.CenterInput{Name: `Behind <script>alert(1)</script>`})
	if err != nil {
		t.Fatal(err)
	}
	broken, err := e.st.Centers.Create(e.ctx, domain.System, domain.CenterInput{Name: "Broken lab"})
	if err != nil {
		t.Fatal(err)
	}
	e.rewind(behind.ID, true)
	e.rewind(broken.ID, false)

	sts, err := e.st.Tenancy().Inspect(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := e.signIn("super")
	p := c.get("/admin/fleet/")
	p.want(t, http.StatusOK, "Behind &lt;script&gt;alert(1)&lt;/script&gt;", "Broken lab", "Istanbul Medical Center",
		`<span class="badge warn">behind</span>`, "Migrate the 2 behind", fmt.Sprintf(`%d</span><span class="l">tenant schemas`, len(sts)))
	if strings.Contains(p.body, "<script>alert") {
		t.Fatal("a center's name is raw on the fleet page")
	}
	// Problems first: both rewound tenants before the healthy ones.
	if i, j := strings.Index(p.body, "Broken lab"), strings.Index(p.body, "Ankara Research Lab"); i < 0 || j < i {
		t.Fatalf("problems not first: %d, %d", i, j)
	}

	// Hold the broken tenant's ledger row so that the run waits on it.
	tx, err := e.db.Pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	if _, err := tx.Exec(e.ctx, "SELECT FROM public.tenancy_tenants WHERE tenant_id = $1 FOR UPDATE", broken.ID); err != nil {
		t.Fatal(err)
	}
	p = c.post("/admin/fleet/migrate/", nil)
	run := p.location()
	if p.status != http.StatusSeeOther || !strings.HasPrefix(run, "/admin/fleet/runs/") {
		t.Fatalf("migrate: %d %q", p.status, run)
	}
	c.get(run).want(t, http.StatusOK, `<meta http-equiv="refresh" content="1">`, "<progress", `max="2"`, "Migrating 2 tenants")
	again := c.post("/admin/fleet/migrate/", nil)
	if again.status != http.StatusSeeOther || again.location() != run {
		t.Fatalf("second migrate while running: %d %q, want %q", again.status, again.location(), run)
	}
	c.get(run).want(t, http.StatusOK, "already running")
	c.get("/admin/fleet/").want(t, http.StatusOK, "A migration is running")
	if err := tx.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}

	p = c.waitRun(run)
	p.want(t, http.StatusOK, "finished", "2 of 2 tenants done", `value="2"`, "1 migrated", "1 failed",
		"Behind &lt;script&gt;", "Broken lab", "already exists", "001_samples.sql")
	if strings.Contains(p.body, "<script>alert") {
		t.Fatal("a center's name is raw on the run page")
	}
	// Failures are listed first.
	if i, j := strings.Index(p.body, "Broken lab"), strings.Index(p.body, "Behind &lt;"); j < i {
		t.Fatal("the failed tenant is not listed first")
	}
	if v := e.version(behind.ID); v != latest {
		t.Fatalf("behind tenant at %d, want %d", v, latest)
	}
	if v := e.version(broken.ID); v != 0 {
		t.Fatalf("broken tenant at %d, want 0 (rolled back)", v)
	}
	p = c.get("/admin/fleet/")
	p.want(t, http.StatusOK, "Migrate the 1 behind", "last-failed", "Recent migrations",
		`<span class="badge off">1 failed</span> <span class="badge on">1 migrated</span>`)

	// Repaired, the broken tenant migrates on a rerun; then nothing is
	// behind, and migrate says so and starts nothing.
	e.exec("DROP TABLE " + pgx.Identifier{broken.SchemaName, "samples"}.Sanitize())
	c.waitRun(c.post("/admin/fleet/migrate/", nil).location()).want(t, http.StatusOK, "1 migrated", "Broken lab")
	if v := e.version(broken.ID); v != latest {
		t.Fatalf("repaired tenant at %d, want %d", v, latest)
	}
	p = c.post("/admin/fleet/migrate/", nil)
	if p.status != http.StatusSeeOther || p.location() != "/admin/fleet/" {
		t.Fatalf("migrate with nothing behind: %d %q", p.status, p.location())
	}
	p = c.get("/admin/fleet/")
	p.want(t, http.StatusOK, "Nothing to migrate", `disabled>Nothing to migrate</button>`)
	if strings.Contains(p.body, "Migrate the 0") {
		t.Fatal("a migrate button for nothing")
	}
	c.get("/admin/fleet/runs/nope/").want(t, http.StatusNotFound)
	c.get("/admin/fleet/?offset=x").want(t, http.StatusBadRequest, "must be a whole number")
}

// TestFleetClose: Close ends a running migration rather than waiting for
// it, so that a server can stop; the tenant it waited on is left behind,
// rolled back, for the next run.
func TestFleetClose(t *testing.T) {
	e := setup(t)
	held, err := e.st.Centers.Create(e.ctx, domain.System, domain.CenterInput{Name: "Held"})
	if err != nil {
		t.Fatal(err)
	}
	e.rewind(held.ID, true)
	tx, err := e.db.Pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	if _, err := tx.Exec(e.ctx, "SELECT FROM public.tenancy_tenants WHERE tenant_id = $1 FOR UPDATE", held.ID); err != nil {
		t.Fatal(err)
	}
	c := e.signIn("super")
	run := c.post("/admin/fleet/migrate/", nil).location()
	c.get(run).want(t, http.StatusOK, "<progress")
	closed := make(chan struct{})
	go func() {
		e.console.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waiting for the migration 30 s on")
	}
	p := c.get(run)
	p.want(t, http.StatusOK, "finished")
	if strings.Contains(p.body, "1 migrated") {
		t.Fatalf("the held tenant was migrated:\n%s", p.body)
	}
	if v := e.version(held.ID); v != 0 {
		t.Fatalf("held tenant at version %d after Close", v)
	}
}

// TestFleetLeavesPoolOut: the warm pool's members are no centers' yet, so
// neither the fleet page nor the dashboard lists or counts them, not even
// one behind (Migrate of the fleet, not this page, brings it forward).
func TestFleetLeavesPoolOut(t *testing.T) {
	e := setup(t)
	m, err := db.NewTenancy(e.db.Pool, tenancy.Config{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if created, err := m.FillPool(e.ctx); err != nil || created != 2 {
		t.Fatalf("FillPool = %d, %v", created, err)
	}
	e.exec("UPDATE public.tenancy_pool SET version = 0")
	c := e.signIn("super")
	fleet := c.get("/admin/fleet/")
	fleet.want(t, http.StatusOK, `2</span><span class="l">tenant schemas`)
	dash := c.get("/admin/")
	dash.want(t, http.StatusOK, "All 2 tenant schemas are at the latest migration")
	for _, p := range []page{fleet, dash} {
		if strings.Contains(p.body, "center_pool_") || strings.Contains(p.body, "behind</span>") {
			t.Errorf("a pool member shows:\n%s", p.body)
		}
	}
}
