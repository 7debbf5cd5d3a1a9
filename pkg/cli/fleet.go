package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/tenancy"
)

// rollout is a fleet migration paced in stages: a canary, then batches.
// Every stage is one tenancy.Manager.Migrate, so each tenant is still
// migrated atomically and a rerun resumes where a stopped rollout left off.
type rollout struct {
	// Tenants to migrate, in this order; nil for every tenant in the
	// ledger, in ledger (schema-name) order.
	Tenants []uuid.UUID
	// Target version; 0 for the latest.
	Target int32
	// Concurrency per stage; 0 for the pool's size.
	Concurrency int
	// DryRun reports the plan and changes nothing.
	DryRun bool
	// Canary migrates this many of the tenants that need it first, and
	// stops the rollout if any of them fails. 0: no canary.
	Canary int
	// BatchSize splits the tenants after the canary into batches of this
	// size. 0: one batch.
	BatchSize int
	// MaxFailures stops the rollout once this many tenants failed to
	// migrate, across stages. 0: no limit.
	MaxFailures int
}

// fleetReport is the outcome of a rollout: the summary table and, with -o
// json|yaml, the document.
type fleetReport struct {
	Public  *publicReport  `json:"public,omitempty"`
	Summary fleetSummary   `json:"summary"`
	Tenants []tenantResult `json:"tenants"`
	// Seed is what tenantctl migrate --seed loaded afterwards.
	Seed *seedDoc `json:"seed,omitempty"`
	// Pool is what the rollout of the whole fleet did to the warm pool's
	// members; absent for a selection of centers or a dry run.
	Pool *poolMigrateReport `json:"pool,omitempty"`
}

type poolMigrateReport struct {
	Migrated int `json:"migrated"`
	// Dropped counts members whose migration failed: they hold no data,
	// and a refill replaces them.
	Dropped int `json:"dropped"`
}

type publicReport struct {
	From int32 `json:"from"`
	To   int32 `json:"to"`
}

type fleetSummary struct {
	Target   int32 `json:"target"`
	DryRun   bool  `json:"dry_run"`
	Total    int   `json:"total"`
	Migrated int   `json:"migrated"`
	UpToDate int   `json:"up_to_date"`
	Planned  int   `json:"planned"`
	Failed   int   `json:"failed"`
	Skipped  int   `json:"skipped"`
	// Stopped says why the rollout ended before trying every tenant.
	Stopped string `json:"stopped,omitempty"`
}

type tenantResult struct {
	Center     uuid.UUID       `json:"center"`
	Schema     string          `json:"schema"`
	Outcome    tenancy.Outcome `json:"outcome"`
	From       int32           `json:"from"`
	To         int32           `json:"to"`
	Migrations []string        `json:"migrations,omitempty"` // applied, or planned in a dry run
	DurationMS int64           `json:"duration_ms"`
	Error      string          `json:"error,omitempty"`
}

func newTenantResult(r tenancy.Result) tenantResult {
	t := tenantResult{
		Center: r.TenantID, Schema: r.Schema, Outcome: r.Outcome, From: r.From, To: r.To,
		Migrations: r.Migrations, DurationMS: r.Duration.Milliseconds(),
	}
	if r.Err != nil {
		t.Error = r.Err.Error()
	}
	return t
}

// runRollout plans the rollout in one read of the ledger, asks confirm (if
// set) when something is to be migrated, then runs its stages. The report
// covers every selected tenant; its err names those that failed or were
// skipped.
func (a *App) runRollout(ctx context.Context, m *tenancy.Manager, r rollout, confirm func(toMigrate, total int, target int32) error) (*fleetReport, error) {
	target := r.Target
	if target == 0 {
		target = m.LatestVersion()
	}
	plan, err := m.Migrate(ctx, tenancy.MigrateOptions{Tenants: r.Tenants, TargetVersion: target, DryRun: true})
	var fleetErr *tenancy.FleetError
	if err != nil && !errors.As(err, &fleetErr) {
		return nil, err
	}
	var missing []string
	for _, p := range plan {
		if errors.Is(p.Err, tenancy.ErrTenantNotFound) {
			missing = append(missing, p.TenantID.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("center not found: %s", strings.Join(missing, ", "))
	}

	rep := &fleetReport{Summary: fleetSummary{Target: target, DryRun: r.DryRun}}
	results := make([]tenancy.Result, len(plan))
	index := make(map[uuid.UUID]int, len(plan))
	var work []uuid.UUID
	for i, p := range plan {
		results[i] = p
		index[p.TenantID] = i
		if p.Outcome == tenancy.OutcomePlanned {
			work = append(work, p.TenantID)
		}
	}
	if r.DryRun || len(work) == 0 {
		rep.fill(results)
		return rep, a.migratePool(ctx, m, r, target, rep)
	}
	if confirm != nil {
		if err := confirm(len(work), len(plan), target); err != nil {
			return nil, err
		}
	}

	stages := splitStages(work, r.Canary, r.BatchSize)
	bar := a.progressBar(len(work))
	failed := 0
	for n, stage := range stages {
		name := stageName(n, len(stages), r.Canary > 0)
		if bar != nil {
			bar.Describe(name)
		} else if len(stages) > 1 {
			a.Notef("%s: migrating %s", name, text.Plural(len(stage), "center"))
		}
		budget := 0
		if r.MaxFailures > 0 {
			budget = r.MaxFailures - failed
		}
		out, err := m.Migrate(ctx, tenancy.MigrateOptions{
			Tenants: stage, TargetVersion: target, Concurrency: r.Concurrency, MaxFailures: budget,
			OnResult: func(_, _ int, _ tenancy.Result) {
				if bar != nil {
					_ = bar.Add(1)
				}
			},
		})
		if err != nil && !errors.As(err, &fleetErr) {
			// The stage never started (the ledger became unreadable): what
			// ran before stands, the rest is not attempted.
			a.finishBar(bar)
			return nil, err
		}
		for _, res := range out {
			if res.Outcome == tenancy.OutcomeFailed {
				failed++
			}
			results[index[res.TenantID]] = res
		}
		var stop string
		switch {
		case ctx.Err() != nil:
			stop = "interrupted"
		case n == 0 && r.Canary > 0 && failed > 0:
			stop = "canary failed"
		case r.MaxFailures > 0 && failed >= r.MaxFailures:
			stop = "max failures reached (" + strconv.Itoa(r.MaxFailures) + ")"
		}
		if stop != "" && n < len(stages)-1 {
			rep.Summary.Stopped = stop
			for _, rest := range stages[n+1:] {
				for _, id := range rest {
					res := &results[index[id]]
					res.Outcome, res.Err, res.To, res.Migrations = tenancy.OutcomeSkipped, fmt.Errorf("not attempted: %s", stop), res.From, nil
				}
			}
			break
		}
	}
	a.finishBar(bar)
	rep.fill(results)
	return rep, a.migratePool(ctx, m, r, target, rep)
}

// migratePool migrates the warm pool's members after a rollout of the
// whole fleet to the latest version that ran to its end, so that a center
// created from the pool afterwards is as current as the others.
func (a *App) migratePool(ctx context.Context, m *tenancy.Manager, r rollout, target int32, rep *fleetReport) error {
	if r.Tenants != nil || r.DryRun || target != m.LatestVersion() || rep.Summary.Stopped != "" || ctx.Err() != nil {
		return nil
	}
	pm, err := m.MigratePool(ctx)
	rep.Pool = &poolMigrateReport{Migrated: pm.Migrated, Dropped: pm.Dropped}
	return err
}

// splitStages cuts work into the canary (if any) and batches.
func splitStages(work []uuid.UUID, canary, batch int) [][]uuid.UUID {
	var stages [][]uuid.UUID
	if canary > 0 {
		n := min(canary, len(work))
		stages = append(stages, work[:n])
		work = work[n:]
	}
	if batch <= 0 {
		batch = len(work)
	}
	for len(work) > 0 {
		n := min(batch, len(work))
		stages = append(stages, work[:n])
		work = work[n:]
	}
	return stages
}

func stageName(n, total int, canary bool) string {
	switch {
	case canary && n == 0:
		return "canary"
	case total == 1:
		return "migrating"
	case canary:
		return fmt.Sprintf("batch %d/%d", n, total-1)
	default:
		return fmt.Sprintf("batch %d/%d", n+1, total)
	}
}

// progressBar returns a bar over n tenants on stderr, or nil when stderr is
// not a terminal or the output is a document.
func (a *App) progressBar(n int) *progressbar.ProgressBar {
	return a.bar(int64(n), "migrating", progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))
}

// bar is a progress bar of n steps (-1: unknown) on stderr with the
// options all of tenantctl's share and opts, or nil when stderr is not a
// terminal or the output is a document.
func (a *App) bar(n int64, what string, opts ...progressbar.Option) *progressbar.ProgressBar {
	if a.Config.Output != OutputTable || !a.env.IsTerminal(a.env.Stderr) {
		return nil
	}
	stderr := a.env.Stderr
	return progressbar.NewOptions64(n, append([]progressbar.Option{
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
	}, opts...)...)
}

func (a *App) finishBar(bar *progressbar.ProgressBar) {
	if bar != nil && !bar.IsFinished() {
		_ = bar.Exit()
	}
}

func (rep *fleetReport) fill(results []tenancy.Result) {
	s := &rep.Summary
	s.Total = len(results)
	rep.Tenants = make([]tenantResult, len(results))
	for i, r := range results {
		rep.Tenants[i] = newTenantResult(r)
		switch r.Outcome {
		case tenancy.OutcomeMigrated:
			s.Migrated++
		case tenancy.OutcomeUpToDate:
			s.UpToDate++
		case tenancy.OutcomePlanned:
			s.Planned++
		case tenancy.OutcomeFailed:
			s.Failed++
		case tenancy.OutcomeSkipped:
			s.Skipped++
		}
	}
}

// err is the rollout's verdict: nil when no tenant failed or was skipped,
// else an error naming them.
func (rep *fleetReport) err() error {
	s := rep.Summary
	if s.Failed == 0 && s.Skipped == 0 {
		return nil
	}
	var failed, skipped []string
	for _, t := range rep.Tenants {
		switch t.Outcome {
		case tenancy.OutcomeFailed:
			failed = append(failed, t.Schema)
		case tenancy.OutcomeSkipped:
			skipped = append(skipped, t.Schema)
		}
	}
	msg := fmt.Sprintf("%d of %d centers failed, %d skipped", s.Failed, s.Total, s.Skipped)
	if s.Stopped != "" {
		msg += " (stopped: " + s.Stopped + ")"
	}
	if len(failed) > 0 {
		msg += "; failed: " + listSome(failed, 5)
	}
	if len(skipped) > 0 {
		msg += "; skipped: " + listSome(skipped, 5)
	}
	return errors.New(msg)
}

// listSome joins up to n names, saying how many more there are.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// Tables shows the counts per outcome, then a row per tenant that did not
// succeed (in a dry run, per tenant that would be migrated), then what
// --seed loaded.
func (rep *fleetReport) Tables() []Table {
	var tables []Table
	if rep.Public != nil {
		tables = append(tables, Table{
			Header: []string{"SCHEMA", "FROM", "TO"},
			Rows:   [][]string{{"public", itoa(rep.Public.From), itoa(rep.Public.To)}},
		})
	}
	s := rep.Summary
	counts := Table{Header: []string{"OUTCOME", "CENTERS"}}
	for _, c := range []struct {
		outcome tenancy.Outcome
		n       int
	}{
		{tenancy.OutcomeMigrated, s.Migrated}, {tenancy.OutcomePlanned, s.Planned}, {tenancy.OutcomeUpToDate, s.UpToDate},
		{tenancy.OutcomeFailed, s.Failed}, {tenancy.OutcomeSkipped, s.Skipped},
	} {
		if c.n > 0 {
			counts.Rows = append(counts.Rows, []string{string(c.outcome), strconv.Itoa(c.n)})
		}
	}
	counts.Rows = append(counts.Rows, []string{"total", strconv.Itoa(s.Total)})
	if s.Stopped != "" {
		counts.Rows = append(counts.Rows, []string{"stopped", s.Stopped})
	}
	tables = append(tables, counts)
	if p := rep.Pool; p != nil && p.Migrated+p.Dropped > 0 {
		tables = append(tables, Table{Header: []string{"WARM POOL", "SCHEMAS"}, Rows: [][]string{
			{"migrated", strconv.Itoa(p.Migrated)}, {"dropped", strconv.Itoa(p.Dropped)},
		}})
	}

	detail := Table{Header: []string{"SCHEMA", "OUTCOME", "FROM", "TO", "DETAIL"}}
	for _, t := range rep.Tenants {
		switch t.Outcome {
		case tenancy.OutcomeFailed, tenancy.OutcomeSkipped:
			detail.Rows = append(detail.Rows, []string{t.Schema, string(t.Outcome), itoa(t.From), itoa(t.To), t.Error})
		case tenancy.OutcomePlanned:
			detail.Rows = append(detail.Rows, []string{t.Schema, string(t.Outcome), itoa(t.From), itoa(t.To), strings.Join(t.Migrations, ", ")})
		}
	}
	if len(detail.Rows) > 0 {
		tables = append(tables, detail)
	}
	if rep.Seed != nil {
		tables = append(tables, rep.Seed.Tables()...)
	}
	return tables
}

func itoa(v int32) string { return strconv.Itoa(int(v)) }
