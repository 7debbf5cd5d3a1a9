package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/cmdline"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

type migrateOptions struct {
	Concurrency int
	// Seed loads the demo data (tenantctl seed) once every schema is
	// current: the one-shot step of a container, which has no shell to
	// run two commands.
	Seed bool
}

func (o migrateOptions) Validate(c *cobra.Command) error {
	if o.Concurrency < 0 {
		return usagef(c, "--concurrency must be 0 (the pool's size) or more, not %d", o.Concurrency)
	}
	return nil
}

func newMigrateCmd(a *App) *cobra.Command {
	var opts migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Migrate the public schema, then every center",
		Long: `Bring the whole database up to date: the shared public schema first (the
registry and the tenancy ledger), then every center's schema to the latest
tenant migration, several centers at once.

Each center migrates in its own transaction: one that fails is rolled back
and reported, the others go on, and running the command again resumes with
whatever is still behind. The summary lists every center that failed.

This is the deploy step, so like any migration tool's "up" it asks no
questions: it only moves schemas forward, and a rerun is harmless. For a
canary or batched rollout, or one with a confirmation showing how many
centers will move, use 'tenantctl center migrate --all'.

With --seed (or TENANTCTL_SEED=1), once every schema is current it loads
the demo data as 'tenantctl seed' does, and reports both in one document:
the one-shot step of compose.yaml's migrate service. Nothing is seeded if
a center failed to migrate.`,
		Example: `  # Deploy step: everything to the latest version.
  tenantctl migrate

  # The same, with a JSON report for the pipeline's logs.
  tenantctl migrate -o json

  # A demo database: migrated, then seeded (as compose.yaml does).
  TENANTCTL_SEED=1 tenantctl migrate`,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := opts.Validate(c); err != nil {
				return err
			}
			return a.runMigrate(c.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", 0, "centers migrated at once (0: the connection pool's size, which also caps it: pool_max_conns in the URL)")
	cmd.Flags().BoolVar(&opts.Seed, "seed", false, "then load the demo data, as tenantctl seed")
	cmdline.Env(cmd.Flags(), "seed", "TENANTCTL_SEED")
	return cmd
}

func (a *App) runMigrate(ctx context.Context, opts migrateOptions) error {
	m, err := a.Manager(ctx)
	if err != nil {
		return err
	}
	pub, err := db.MigratePublic(ctx, a.pool, m)
	if err != nil {
		return err
	}
	rep, err := a.runRollout(ctx, m, rollout{Concurrency: opts.Concurrency}, nil)
	if err != nil {
		return err
	}
	rep.Public = &publicReport{From: pub.From, To: pub.To}
	if opts.Seed && rep.err() == nil {
		st, err := a.Store(ctx)
		if err != nil {
			return err
		}
		res, err := st.Seed(ctx, domain.SeedOptions{})
		if err != nil {
			return fmt.Errorf("seed after migrating: %w", err)
		}
		rep.Seed = &seedDoc{res}
	}
	if err := a.Print(rep); err != nil {
		return err
	}
	return rep.err()
}

// databaseLabel names the database of the open pool for prompts, without
// its password: user@host:port/dbname.
func (a *App) databaseLabel() string {
	if a.pool == nil {
		return "the database"
	}
	cc := a.pool.Config().ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
}
