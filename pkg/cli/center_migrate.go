package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/tenancy"
)

type centerMigrateOptions struct {
	All         bool
	Concurrency int
	DryRun      bool
	Target      int
	Canary      int
	BatchSize   int
	MaxFailures int
}

func (o centerMigrateOptions) Validate(c *cobra.Command, args []string) error {
	switch {
	case o.All && len(args) > 0:
		return usagef(c, "give either CENTER arguments or --all, not both")
	case !o.All && len(args) == 0:
		return usagef(c, "name the centers to migrate, or pass --all")
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"concurrency", o.Concurrency}, {"target", o.Target}, {"canary", o.Canary},
		{"batch-size", o.BatchSize}, {"max-failures", o.MaxFailures},
	} {
		if f.v < 0 {
			return usagef(c, "--%s must be 0 or more, not %d", f.name, f.v)
		}
	}
	return nil
}

func newCenterMigrateCmd(a *App) *cobra.Command {
	var opts centerMigrateOptions
	cmd := &cobra.Command{
		Use:   "migrate [CENTER...|--all]",
		Short: "Migrate centers' schemas to the latest (or a target) version",
		Long: `Apply pending tenant migrations to the named centers, or to every center
with --all. A CENTER is a center id or name (case-insensitive).

Each center migrates in its own transaction, several at once
(--concurrency): one that fails is rolled back, recorded in the ledger and
reported, and the others go on. Centers already at the target are skipped,
so running the command again resumes an interrupted or stopped rollout.

A staged rollout tries the migration on a few centers before the fleet:
--canary N migrates the first N centers that need it (in schema-name order)
and stops if any of them fails; the rest follow in batches of --batch-size;
--max-failures stops the rollout once that many centers have failed. Centers
not attempted are reported as skipped.

Migrating more than one center asks for confirmation on a terminal; pass
--yes otherwise. --dry-run only reads the ledger and needs no confirmation.
A summary follows; the exit status is 1 if any center failed or was skipped.`,
		Example: `  # What would run where, without changing anything.
  tenantctl center migrate --all --dry-run

  # One center, by name or id.
  tenantctl center migrate "Istanbul Medical Center"
  tenantctl center migrate 7c9e6679-7425-40de-944b-e07fc1f90ae7

  # The fleet: 5 canaries, then batches of 100, stop after 3 failures.
  tenantctl center migrate --all --canary 5 --batch-size 100 --max-failures 3 --yes`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.Validate(c, args); err != nil {
				return err
			}
			return a.runCenterMigrate(c.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.All, "all", false, "migrate every center")
	f.IntVar(&opts.Concurrency, "concurrency", 0, "centers migrated at once (0: the connection pool's size, which also caps it: pool_max_conns in the URL)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "report what would be migrated, change nothing")
	f.IntVar(&opts.Target, "target", 0, "target migration `version` (0: the latest)")
	f.IntVar(&opts.Canary, "canary", 0, "migrate this many centers first and stop if any fails")
	f.IntVar(&opts.BatchSize, "batch-size", 0, "centers per batch after the canary (0: all at once)")
	f.IntVar(&opts.MaxFailures, "max-failures", 0, "stop after this many centers failed (0: no limit)")
	return cmd
}

func (a *App) runCenterMigrate(ctx context.Context, opts centerMigrateOptions, args []string) error {
	fleet := opts.All || len(args) > 1
	if fleet && !opts.DryRun {
		// Fail before connecting when the answer can never come.
		if err := a.canConfirm(); err != nil {
			return err
		}
	}
	var ids []uuid.UUID
	if !opts.All {
		var err error
		if ids, err = a.resolveCenters(ctx, args); err != nil {
			return err
		}
	}
	m, err := a.Manager(ctx)
	if err != nil {
		return err
	}
	var confirm func(int, int, int32) error
	if fleet {
		confirm = func(toMigrate, total int, target int32) error {
			return a.Confirm(fmt.Sprintf("Migrate %d of %d centers of %s to version %d?",
				toMigrate, total, a.databaseLabel(), target))
		}
	}
	rep, err := a.runRollout(ctx, m, rollout{
		Tenants:     ids,
		Target:      int32(min(opts.Target, 1<<31-1)),
		Concurrency: opts.Concurrency,
		DryRun:      opts.DryRun,
		Canary:      opts.Canary,
		BatchSize:   opts.BatchSize,
		MaxFailures: opts.MaxFailures,
	}, confirm)
	if errors.Is(err, tenancy.ErrUnknownVersion) {
		return usagef(nil, "--target %d: no such migration version (the latest is %d)", opts.Target, m.LatestVersion())
	}
	if err != nil {
		return err
	}
	if err := a.Print(rep); err != nil {
		return err
	}
	return rep.err()
}

// resolveCenters turns CENTER arguments into center ids, in order, without
// duplicates. An id is taken as it is (the tenancy ledger is the judge of
// which exist, so a schema whose registry row is gone can still be
// migrated); anything else is a center name, looked up in the registry.
func (a *App) resolveCenters(ctx context.Context, args []string) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, 0, len(args))
	seen := make(map[uuid.UUID]bool, len(args))
	for _, arg := range args {
		id, err := tenancy.ParseID(arg)
		if err != nil {
			_, c, rerr := a.resolveCenter(ctx, arg)
			if rerr != nil {
				return nil, rerr
			}
			id = c.ID
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}
