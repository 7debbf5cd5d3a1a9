package tenancy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantctl/tenantctl/internal/text"
)

// Outcome is what a fleet migration did to one tenant.
type Outcome string

// The outcomes of a tenant in a fleet migration.
const (
	// OutcomeMigrated: the pending migrations were applied and committed.
	OutcomeMigrated Outcome = "migrated"
	// OutcomeUpToDate: the tenant was already at the target; nothing ran.
	OutcomeUpToDate Outcome = "up-to-date"
	// OutcomePlanned: a dry run would apply Result.Migrations.
	OutcomePlanned Outcome = "planned"
	// OutcomeFailed: nothing was committed; Result.Err says why. The tenant stays
	// intact at Result.From.
	OutcomeFailed Outcome = "failed"
	// OutcomeSkipped: not attempted (MaxFailures reached or context ended), or
	// interrupted by the context's end and rolled back; a rerun resumes it.
	OutcomeSkipped Outcome = "skipped"
)

// MigrateOptions selects and paces a fleet migration. The zero value
// migrates every tenant to the latest version.
type MigrateOptions struct {
	// Tenants limits the migration to these tenants, in this order. Defaults
	// to every tenant in the ledger, in schema-name order.
	Tenants []uuid.UUID

	// TargetVersion is the version to reach. Defaults to LatestVersion.
	TargetVersion int32

	// Concurrency bounds the tenants migrated at once. Defaults to
	// Config.Concurrency.
	Concurrency int

	// DryRun reports what would run where, from the ledger alone: no
	// locks, no writes.
	DryRun bool

	// MaxFailures stops starting new tenants once this many have failed;
	// the rest are reported OutcomeSkipped. Defaults to 0, no limit.
	MaxFailures int

	// OnResult, if set, is called once per tenant as it finishes, with how
	// many are done out of how many, for progress reporting. Calls are
	// serialized, so it needs no locking of its own.
	OnResult func(done, total int, r Result)

	// DiscardResults makes Migrate return no Results (the error still
	// counts the failed and skipped), for fleets too large to hold a
	// Result per tenant: each one goes to OnResult and is then forgotten.
	// Migrate's memory then grows with the fleet only by the id and the
	// version it reads for each tenant first (24 bytes;
	// TestMigrateMemoryPerTenant bounds it).
	DiscardResults bool
}

// Result is one tenant's part of a fleet migration.
type Result struct {
	TenantID uuid.UUID
	Schema   string
	Outcome  Outcome
	// From is the version before; To the version after (From again when
	// nothing was committed).
	From, To int32
	// Migrations names the migration files From to To: those applied
	// (OutcomeMigrated) or, in a dry run, those that would be
	// (OutcomePlanned). It is empty for every other outcome.
	Migrations []string
	Duration   time.Duration
	Err        error
}

// Migrate brings tenants to a version, each in its own transaction under
// its own row lock in the ledger, several at once. It reads every selected
// tenant's version in one query first, so a fleet already at the target
// costs one round trip however large it is. A failing tenant is rolled back
// and reported, and the others go on; a rerun resumes with whatever is still
// behind. Two concurrent Migrates never apply a migration twice: the second
// waits for the tenant's lock and then finds it current.
//
// Migrating every tenant (Tenants nil) to the latest version, not as a dry
// run, migrates the warm pool's members too, after the tenants
// (MigratePool); they are not among the Results, which are tenants'.
//
// The Results are in the order of the selection (none with
// DiscardResults). The error is a *FleetError
// if any tenant failed or was skipped, or an error of the whole operation
// (unknown target version, ledger unreadable), or MigratePool's, joined
// with the FleetError if both (errors.As finds either).
func (m *Manager) Migrate(ctx context.Context, opts MigrateOptions) ([]Result, error) {
	target := opts.TargetVersion
	if target == 0 {
		target = m.LatestVersion()
	}
	if target < 0 || target > m.LatestVersion() {
		return nil, fmt.Errorf("tenancy: migrate: target %d: %w (known: 1..%d)", target, ErrUnknownVersion, m.LatestVersion())
	}
	states, err := m.versions(ctx, opts.Tenants)
	if err != nil {
		return nil, err
	}

	// plan settles a tenant from the ledger's version alone, or says it
	// needs migrating. Called twice per tenant, it keeps no Result for the
	// tenants still to do.
	plan := func(st tenantVersion) (r Result, work bool) {
		r = Result{TenantID: st.id, Schema: m.SchemaName(st.id), From: st.version, To: st.version}
		switch {
		case !st.found:
			r.Outcome, r.Err = OutcomeFailed, fmt.Errorf("tenancy: migrate %s: %w", r.Schema, ErrTenantNotFound)
		case st.version > target:
			r.Outcome, r.Err = OutcomeFailed, fmt.Errorf("tenancy: migrate %s: at version %d, target %d: %w", r.Schema, st.version, target, ErrAhead)
		case st.version == target:
			r.Outcome = OutcomeUpToDate
		case opts.DryRun:
			r.Outcome, r.To, r.Migrations = OutcomePlanned, target, migrationNames(m.migrations[st.version:target])
		default:
			return r, true
		}
		return r, false
	}

	var results []Result
	if !opts.DiscardResults {
		results = make([]Result, len(states))
	}
	var mu sync.Mutex
	done, failed, skipped := 0, 0, 0
	finish := func(i int, r Result) {
		mu.Lock()
		defer mu.Unlock()
		done++
		switch r.Outcome {
		case OutcomeFailed:
			failed++
		case OutcomeSkipped:
			skipped++
		}
		if results != nil {
			results[i] = r
		}
		if opts.OnResult != nil {
			opts.OnResult(done, len(states), r)
		}
	}
	// Settled tenants are reported first, so a progress bar moves at once.
	work := 0
	for i, st := range states {
		if r, todo := plan(st); todo {
			work++
		} else {
			finish(i, r)
		}
	}

	type job struct {
		i int
		r Result
	}
	concurrency := min(cmp.Or(max(0, opts.Concurrency), m.concurrency), max(1, work))
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for j := range jobs {
				mu.Lock()
				stop := opts.MaxFailures > 0 && failed >= opts.MaxFailures
				mu.Unlock()
				r := j.r
				if stop || ctx.Err() != nil {
					r.Outcome, r.Err = OutcomeSkipped, fmt.Errorf("tenancy: migrate %s: %w", r.Schema, ErrSkipped)
				} else {
					r = m.migrateOne(ctx, r, target)
				}
				finish(j.i, r)
			}
		})
	}
	for i, st := range states {
		if r, todo := plan(st); todo {
			jobs <- job{i, r}
		}
	}
	close(jobs)
	wg.Wait()

	var fleetErr error
	if failed > 0 || skipped > 0 {
		fleetErr = &FleetError{Total: len(states), Failed: failed, Skipped: skipped}
	}
	// The whole fleet to the latest version includes the warm pool, so
	// that a member claimed after the deploy is as current as the tenants.
	if opts.Tenants == nil && !opts.DryRun && target == m.LatestVersion() {
		if _, err := m.MigratePool(ctx); err != nil {
			fleetErr = errors.Join(fleetErr, err)
		}
	}
	return results, fleetErr
}

func migrationNames(migs []Migration) []string {
	names := make([]string, len(migs))
	for i, mg := range migs {
		names[i] = mg.Name
	}
	return names
}

// migrateOne migrates one tenant in its own transaction (migrateTenant)
// and reports how it went.
func (m *Manager) migrateOne(ctx context.Context, r Result, target int32) Result {
	start := time.Now()
	err := m.migrateTenant(ctx, &r, target)
	r.Duration = time.Since(start)
	switch {
	case err != nil && ctx.Err() != nil:
		// Interrupted, not failed: nothing is wrong with the tenant, so
		// nothing goes into its ledger row, and a rerun picks it up.
		r.Outcome, r.Err, r.To, r.Migrations = OutcomeSkipped, fmt.Errorf("tenancy: migrate %s: %w: %w", r.Schema, ErrSkipped, err), r.From, nil
	case err != nil:
		r.Outcome, r.Err, r.To, r.Migrations = OutcomeFailed, err, r.From, nil
		m.recordFailure(ctx, r)
		m.log.Error("tenant migration failed", "schema", r.Schema, "version", r.From, "error", err)
	case r.To == r.From:
		r.Outcome = OutcomeUpToDate
	default:
		r.Outcome = OutcomeMigrated
		m.log.Info("tenant migrated", "schema", r.Schema, "from", r.From, "to", r.To, "duration", r.Duration)
	}
	return r
}

// migrateTenant migrates tenant r from r.From to target in one transaction,
// under the ledger row's lock, in as few round trips as the work allows:
// BEGIN pipelined with the UPDATE of the row to target; one per pending
// file; the files' ledger rows; COMMIT.
//
// The UPDATE comes first because it takes the row's lock, the one a
// concurrent migrator and Drop take, and it claims the tenant only if the
// row is still at the version r.From was read at for planning. When it is
// not (another migrator got there first, or the tenant was dropped) the
// row is locked and read again, a round trip more on a rare path, and the
// tenant is migrated from wherever it is, or not at all. Everything rolls
// back on failure, the version with the rest.
func (m *Manager) migrateTenant(ctx context.Context, r *Result, target int32) error {
	tx, claimed, err := m.beginUpdate(ctx, m.setVersionSQL+" AND version = $3", r.TenantID, target, r.From)
	if err != nil {
		return fmt.Errorf("tenancy: migrate %s: lock: %w", r.Schema, err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit; otherwise the error that matters is returned below
	if !claimed {
		var current int32
		err := tx.QueryRow(ctx, "SELECT version FROM "+m.tenantsTbl+" WHERE tenant_id = $1 FOR UPDATE", r.TenantID).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("tenancy: migrate %s: %w (dropped meanwhile)", r.Schema, ErrTenantNotFound)
		}
		if err != nil {
			return fmt.Errorf("tenancy: migrate %s: lock: %w", r.Schema, err)
		}
		r.From, r.To = current, current
		if current > target {
			// Another binary, with newer migrations, got here first.
			return fmt.Errorf("tenancy: migrate %s: at version %d, target %d: %w", r.Schema, current, target, ErrAhead)
		}
		if current == target {
			return nil
		}
		if _, err := tx.Exec(ctx, m.setVersionSQL, r.TenantID, target); err != nil {
			return fmt.Errorf("tenancy: migrate %s: record version: %w", r.Schema, err)
		}
	}
	pending := m.migrations[r.From:target]
	if err := m.runAndRecord(ctx, tx, r.Schema, pending, func(b *pgx.Batch, durations []int64) {
		m.queueRecord(b, r.TenantID, pending, durations)
	}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("tenancy: migrate %s: commit: %w", r.Schema, err)
	}
	r.To, r.Migrations = target, migrationNames(pending)
	return nil
}

// beginUpdate begins a transaction with an UPDATE of one ledger row (which
// takes the row's lock) in the same round trip, and reports whether the
// row was updated. On error nothing is left open.
func (m *Manager) beginUpdate(ctx context.Context, sql string, args ...any) (pgx.Tx, bool, error) {
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{})
	updated := false
	b.Queue(sql, args...).Exec(func(ct pgconn.CommandTag) error {
		updated = ct.RowsAffected() == 1
		return nil
	})
	br := m.pool.SendBatch(ctx, &b)
	tx := br.Tx()
	if err := br.Close(); err != nil {
		_ = tx.Rollback(ctx) // the error that matters is Close's
		return nil, false, err
	}
	return tx, updated, nil
}

// recordFailure notes the error in the ledger, outside the rolled-back
// transaction, so that Inspect and the CLI can show it later. It is best
// effort: the Result already carries the error.
func (m *Manager) recordFailure(ctx context.Context, r Result) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := m.pool.Exec(ctx, "UPDATE "+m.tenantsTbl+" SET last_error = $2, last_error_at = now() WHERE tenant_id = $1",
		r.TenantID, text.Truncate(r.Err.Error(), 4000))
	if err != nil {
		m.log.Warn("could not record tenant migration failure", "schema", r.Schema, "error", err)
	}
}

type tenantVersion struct {
	id      uuid.UUID
	version int32
	found   bool
}

// versions reads the version of the selected tenants (all, in schema-name
// order, when ids is nil; else in the order of ids, found false for one not
// in the ledger) in one query. A fleet migration keeps what it returns
// throughout, so each row carries the number of rows to come: the slice
// is made once at its size, not grown by appending, which would leave up
// to a quarter of it unused and, while it grows, both copies live.
func (m *Manager) versions(ctx context.Context, ids []uuid.UUID) ([]tenantVersion, error) {
	var rows pgx.Rows
	var err error
	if ids == nil {
		rows, err = m.pool.Query(ctx, "SELECT tenant_id, version, count(*) OVER () FROM "+m.tenantsTbl+
			" WHERE schema_name ~ ('^' || $1 || '[0-9a-f]{32}$') ORDER BY schema_name", m.prefix) // not starts_with: another prefix may extend this one
	} else {
		// The join keeps the selection's order, with NULLs for a tenant
		// not found, so that no map from id to position is needed.
		rows, err = m.pool.Query(ctx, "SELECT s.id, t.version, cardinality($1::uuid[]) FROM unnest($1::uuid[]) WITH ORDINALITY AS s (id, n)"+
			" LEFT JOIN "+m.tenantsTbl+" t ON t.tenant_id = s.id AND t.schema_name ~ ('^' || $2 || '[0-9a-f]{32}$') ORDER BY s.n", ids, m.prefix)
	}
	if err != nil {
		return nil, wrapErr("read", "ledger", err)
	}
	var out []tenantVersion
	var id uuid.UUID
	var version pgtype.Int4
	var total int64
	_, err = pgx.ForEachRow(rows, []any{&id, &version, &total}, func() error {
		if out == nil {
			out = make([]tenantVersion, 0, total)
		}
		out = append(out, tenantVersion{id: id, version: version.Int32, found: version.Valid})
		return nil
	})
	if err != nil {
		return nil, wrapErr("read", "ledger", err)
	}
	return out, nil
}
