package admin

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// fleetRoutes registers the fleet's pages: the nodes and every tenant's
// migration state, and the migration runs started from it. Superusers
// only.
func (c *Console) fleetRoutes() {
	c.handle("GET /admin/fleet/{$}", c.fleetList)
	c.handle("POST /admin/fleet/migrate/{$}", c.fleetMigrate)
	c.handle("GET /admin/fleet/runs/{run}/{$}", c.fleetRun)
}

// errFleetForbidden refuses the fleet to anyone but a superuser. The
// page's existence is no secret to a signed-in user, so it is a 403 that
// says why rather than a 404.
var errFleetForbidden = errForbidden("The fleet's migrations are for superusers only.")

// Fleet runs live in this process only: the ledger keeps every tenant's
// outcome for good; a run's page is a view of one migration while and
// shortly after it runs, lost at a restart.
const (
	// keepRuns bounds the runs kept: the running one and the last
	// finished ones.
	keepRuns = 5
	// runTimeout bounds a run; a tenant still going then is rolled back
	// and reported skipped, and a rerun resumes it.
	runTimeout = time.Hour
	// runRows caps the outcomes a run's page lists, the interesting
	// ones (failed, skipped, migrated) first; the counts cover them all.
	runRows = 500
)

// fleetRuns are the runs this Console started, oldest first. At most one
// runs at a time: a second migrate while one runs is sent to it.
type fleetRuns struct {
	mu   sync.Mutex
	runs []*fleetRun
	// ctx is the runs' lifetime, not a request's: a run goes on after
	// its redirect, until Console.Close cancels it.
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// fleetRun is one fleet migration, updated by its goroutine as each
// tenant finishes.
type fleetRun struct {
	id      string
	started time.Time
	names   map[uuid.UUID]string // the centers' names, as at the start

	mu       sync.Mutex
	done     int
	total    int
	results  []tenancy.Result // in the order tenants finished
	finished time.Time        // zero while running
	err      error            // the whole run's, not a tenant's
}

// start begins a run of fn unless one is running, which it returns
// instead (started false).
func (fr *fleetRuns) start(total int, names map[uuid.UUID]string, fn func(*fleetRun)) (run *fleetRun, started bool) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if n := len(fr.runs); n > 0 && fr.runs[n-1].running() {
		return fr.runs[n-1], false
	}
	run = &fleetRun{id: strings.ToLower(rand.Text()), started: time.Now(), names: names, total: total}
	fr.runs = append(fr.runs, run)
	if len(fr.runs) > keepRuns {
		fr.runs = slices.Delete(fr.runs, 0, len(fr.runs)-keepRuns)
	}
	fr.wg.Go(func() { fn(run) })
	return run, true
}

func (fr *fleetRuns) get(id string) *fleetRun {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	for _, r := range fr.runs {
		if r.id == id {
			return r
		}
	}
	return nil
}

func (run *fleetRun) running() bool {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.finished.IsZero()
}

func (run *fleetRun) record(done, total int, r tenancy.Result) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.done, run.total = done, total
	run.results = append(run.results, r)
}

func (run *fleetRun) finish(err error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.finished, run.err = time.Now(), err
}

// runView is a run as its page shows it, copied under the run's lock.
type runView struct {
	ID                string
	Started, Finished time.Time
	Done, Total       int
	Counts            map[tenancy.Outcome]int
	Rows              []runRow
	More              int // outcomes not listed (beyond runRows)
	Error             string
}

type runRow struct {
	Name, Schema string
	ID           uuid.UUID
	Outcome      tenancy.Outcome
	From, To     int32
	Migrations   []string
	Duration     time.Duration
	Error        string
}

// outcomeRank orders a run's outcomes on its page: what needs a look
// first.
var outcomeRank = map[tenancy.Outcome]int{tenancy.OutcomeFailed: 0, tenancy.OutcomeSkipped: 1, tenancy.OutcomeMigrated: 2, tenancy.OutcomeUpToDate: 3}

func (run *fleetRun) snapshot() runView {
	run.mu.Lock()
	defer run.mu.Unlock()
	v := runView{ID: run.id, Started: run.started, Finished: run.finished, Done: run.done, Total: run.total,
		Counts: map[tenancy.Outcome]int{}}
	if run.err != nil {
		v.Error = run.err.Error()
	}
	for _, r := range run.results {
		v.Counts[r.Outcome]++
		row := runRow{Name: run.names[r.TenantID], Schema: r.Schema, ID: r.TenantID, Outcome: r.Outcome,
			From: r.From, To: r.To, Migrations: r.Migrations, Duration: r.Duration}
		if r.Err != nil {
			row.Error = r.Err.Error()
		}
		v.Rows = append(v.Rows, row)
	}
	slices.SortStableFunc(v.Rows, func(a, b runRow) int { return cmp.Compare(outcomeRank[a.Outcome], outcomeRank[b.Outcome]) })
	if len(v.Rows) > runRows {
		v.More, v.Rows = len(v.Rows)-runRows, v.Rows[:runRows]
	}
	return v
}

// Running tells the page to refresh itself.
func (v runView) Running() bool { return v.Finished.IsZero() }

// fleetRow is a tenant on the fleet page.
type fleetRow struct {
	tenancy.TenantStatus
	Name   string // empty for a schema without a center
	Active bool
}

// fleetView is the fleet page's data.
type fleetView struct {
	Latest   int32
	Total    int
	Healthy  int
	Behind   int // tenants a migration would bring to Latest
	Problems map[tenancy.Problem]int
	Rows     []fleetRow
	// Cluster is where the tenants live: the one server on PostgreSQL,
	// each node with its tenants and their size on Citus.
	Cluster  tenancy.Cluster
	Measured time.Time // when Cluster was measured (nodesCache)
	Foot     listFoot
	Form     form
	Running  *runView
	Runs     []runView
}

// fleetRows reads every tenant's state from the ledger, named after its
// center, problems first, then by name. The warm pool's members are left
// out: the fleet is the centers, and Migrate keeps the members current.
func (c *Console) fleetRows(ctx context.Context) ([]fleetRow, error) {
	sts, err := c.st.Tenancy().Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspecting the tenants: %w", err)
	}
	// Every center: Inspect read every tenant already, and the order by
	// name needs every name.
	all, err := c.allCenters(ctx)
	if err != nil {
		return nil, err
	}
	centers := make(map[uuid.UUID]domain.Center, len(all))
	for _, ct := range all {
		centers[ct.ID] = ct
	}
	rows := make([]fleetRow, 0, len(sts))
	for _, s := range sts {
		if s.PoolMember {
			continue // no center's yet: 'tenantctl pool status' shows them
		}
		ct, ok := centers[s.TenantID]
		rows = append(rows, fleetRow{TenantStatus: s, Name: ct.Name, Active: ok && ct.IsActive})
	}
	slices.SortFunc(rows, func(a, b fleetRow) int {
		// A schema without a center (empty name) after the named ones.
		return cmp.Or(falseFirst(a.OK(), b.OK()), falseFirst(a.Name == "", b.Name == ""),
			strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.Schema, b.Schema))
	})
	return rows, nil
}

func (c *Console) fleetList(w http.ResponseWriter, r *http.Request, v *visit) error {
	if !v.user.ManagesCenters() {
		return errFleetForbidden
	}
	q := r.URL.Query()
	f := newForm(q)
	offset := listOffset(q, f)
	rows, err := c.fleetRows(r.Context())
	if err != nil {
		return err
	}
	cl, measured, err := c.nodes(r.Context())
	if err != nil {
		return err
	}
	fv := fleetView{Latest: c.st.Tenancy().LatestVersion(), Total: len(rows), Problems: map[tenancy.Problem]int{},
		Cluster: cl, Measured: measured, Form: f}
	for _, row := range rows {
		if row.OK() {
			fv.Healthy++
		}
		for _, p := range row.Problems {
			fv.Problems[p]++
		}
	}
	fv.Behind = fv.Problems[tenancy.ProblemBehind]
	fv.Foot = listFoot{Pager: newPager(q, len(rows), offset), Invalid: f.invalid(), Empty: "No tenant schemas."}
	if offset < len(rows) && !f.invalid() {
		fv.Rows = rows[offset:min(offset+pageSize, len(rows))]
	}
	c.fleet.mu.Lock()
	runs := slices.Clone(c.fleet.runs)
	c.fleet.mu.Unlock()
	for i := len(runs) - 1; i >= 0; i-- {
		rv := runs[i].snapshot()
		rv.Rows = nil // the list shows a run's counts; its page, the outcomes
		if rv.Running() {
			fv.Running = &rv
		}
		fv.Runs = append(fv.Runs, rv)
	}
	status := http.StatusOK
	if f.invalid() {
		status = http.StatusBadRequest
	}
	return c.render(w, r, v, status, "fleet_list", "Fleet", fv)
}

// fleetMigrate starts migrating the tenants that are behind, in the
// background, and shows the run. The run's context is not the request's:
// it goes on after the redirect, bounded by runTimeout and Console.Close.
func (c *Console) fleetMigrate(w http.ResponseWriter, r *http.Request, v *visit) error {
	if !v.user.ManagesCenters() {
		return errFleetForbidden
	}
	rows, err := c.fleetRows(r.Context())
	if err != nil {
		return err
	}
	var behind []uuid.UUID
	names := map[uuid.UUID]string{}
	for _, row := range rows {
		if row.InLedger && slices.Contains(row.Problems, tenancy.ProblemBehind) {
			behind = append(behind, row.TenantID)
			names[row.TenantID] = row.Name
		}
	}
	if len(behind) == 0 {
		return c.redirect(w, r, "/admin/fleet/", "Nothing to migrate: no tenant is behind.")
	}
	m := c.st.Tenancy()
	// Half the pool at most, so that the console and the API keep
	// connections to answer with while the fleet migrates. The pool's
	// size is the operator's one setting for the load this process puts
	// on the database; the migration's share follows it rather than a
	// setting of its own.
	concurrency := max(1, int(c.st.Pool().Config().MaxConns)/2)
	run, started := c.fleet.start(len(behind), names, func(run *fleetRun) {
		ctx, cancel := context.WithTimeout(c.fleet.ctx, runTimeout)
		defer cancel()
		_, err := m.Migrate(ctx, tenancy.MigrateOptions{Tenants: behind, Concurrency: concurrency,
			DiscardResults: true, OnResult: run.record})
		if _, ok := errors.AsType[*tenancy.FleetError](err); ok {
			err = nil // the tenants' own failures are in their outcomes
		}
		if err != nil {
			c.log.ErrorContext(ctx, "admin: fleet migration failed", slog.String("run", run.id), slog.Any("error", err))
		}
		run.finish(err)
	})
	msg := "Migrating " + text.Plural(len(behind), "tenant") + " that are behind."
	if !started {
		msg = "A migration is already running; here it is. Start another when it has finished."
	}
	return c.redirect(w, r, "/admin/fleet/runs/"+run.id+"/", msg)
}

func (c *Console) fleetRun(w http.ResponseWriter, r *http.Request, v *visit) error {
	if !v.user.ManagesCenters() {
		return errFleetForbidden
	}
	run := c.fleet.get(r.PathValue("run"))
	if run == nil {
		return domain.ErrNotFound
	}
	return c.render(w, r, v, http.StatusOK, "fleet_run", "Fleet migration", run.snapshot(), fleetCrumb)
}

// outcomeBadge is the badge class of a run's outcome: "off" for what
// needs a look, "on" for a tenant migrated, none for one already there.
func outcomeBadge(o tenancy.Outcome) string {
	switch o {
	case tenancy.OutcomeFailed, tenancy.OutcomeSkipped:
		return "badge off"
	case tenancy.OutcomeMigrated:
		return "badge on"
	}
	return "badge"
}

// falseFirst compares a and b, false before true.
func falseFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
