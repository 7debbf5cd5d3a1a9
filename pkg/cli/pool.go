package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/tenancy"
)

func newPoolCmd(a *App) *cobra.Command {
	return newGroupCmd("pool", "Manage the warm pool of ready center schemas",
		`Manage the warm pool: center schemas created and migrated ahead of time,
so that creating a center only renames one (a few milliseconds) instead of
creating and migrating a schema. Each member is recorded in the tenancy
ledger (public.tenancy_pool) under a name center_pool_<27 hex digits> that
is never a center's; 'center status' counts them and never calls them
orphans, and 'migrate' migrates them with the centers.

The pool's size comes from --pool-size (TENANTCTL_POOL_SIZE, pool-size in
the config file); 0, the default, turns it off: center create then never
claims a member. 'pool fill' tops it up once; apiserver, given the same
--pool-size (TENANTCTL_POOL_SIZE), keeps it full while it serves, at once
after each create that took a member and every minute besides.`,
		newPoolStatusCmd(a), newPoolFillCmd(a), newPoolDrainCmd(a))
}

func newPoolStatusCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the warm pool's members and how many are ready",
		Long: `List the pool's members: each one's schema, version and problems (behind
until 'tenantctl migrate' runs after a new release; orphan-schema for a
member schema without its ledger row), and a summary: the configured size,
the members, and those ready to be claimed (at the latest version, no
problem). The exit status is 1 when a member has a problem.`,
		Example: `  tenantctl pool status
  tenantctl --pool-size 20 pool status -o json`,
		RunE: func(c *cobra.Command, _ []string) error {
			m, err := a.Manager(c.Context())
			if err != nil {
				return err
			}
			rep, err := a.poolStatus(c.Context(), m)
			if err != nil {
				return err
			}
			return a.printPool(rep)
		},
	}
}

func newPoolFillCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "fill",
		Short: "Create members until the pool holds --pool-size ready ones",
		Long: `Create and migrate schemas until the pool holds --pool-size members ready
to be claimed, then show the pool. Members are created a few per
transaction under a lock row of the ledger, so concurrent fills (another
tenantctl, an apiserver's refill) take turns and never overshoot the size.`,
		Example: `  tenantctl --pool-size 20 pool fill
  TENANTCTL_POOL_SIZE=20 tenantctl pool fill -o json`,
		RunE: func(c *cobra.Command, _ []string) error {
			if a.Config.PoolSize == 0 {
				return usagef(c, "the pool size is 0 (off): give --pool-size N, TENANTCTL_POOL_SIZE or pool-size in the config file")
			}
			ctx := c.Context()
			m, err := a.Manager(ctx)
			if err != nil {
				return err
			}
			created, err := m.FillPool(ctx)
			if err != nil {
				return err
			}
			rep, err := a.poolStatus(ctx, m)
			if err != nil {
				return err
			}
			rep.Created = &created
			return a.printPool(rep)
		},
	}
}

func newPoolDrainCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "drain",
		Short: "Drop every member of the warm pool",
		Long: `Drop the pool's members, their schemas and ledger rows. A member being
claimed at that moment becomes its center as usual. A process that keeps
the pool filled (Manager.KeepPoolFilled) refills it; stop it, or give it a
pool size of 0, first to empty the pool for good.

Asks for confirmation on a terminal; pass --yes otherwise.`,
		Example: `  tenantctl pool drain --yes`,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := a.canConfirm(); err != nil {
				return err
			}
			ctx := c.Context()
			m, err := a.Manager(ctx)
			if err != nil {
				return err
			}
			before, err := a.poolStatus(ctx, m)
			if err != nil {
				return err
			}
			if len(before.Members) > 0 {
				if err := a.Confirm("Drop " + text.Plural(len(before.Members), "warm pool schema") + " of " + a.databaseLabel() + "?"); err != nil {
					return err
				}
			}
			dropped, err := m.DrainPool(ctx)
			if err != nil {
				return err
			}
			rep, err := a.poolStatus(ctx, m)
			if err != nil {
				return err
			}
			rep.Dropped = &dropped
			return a.printPool(rep)
		},
	}
}

// poolReport is the pool as 'pool status' shows it, and what 'pool fill'
// created or 'pool drain' dropped.
type poolReport struct {
	Created *int `json:"created,omitempty"`
	Dropped *int `json:"dropped,omitempty"`
	// Size is the configured size, Latest the version members are made at.
	Size   int   `json:"size"`
	Latest int32 `json:"latest"`
	// Ready counts the members a center create would claim.
	Ready   int          `json:"ready"`
	Members []poolMember `json:"members"`
}

type poolMember struct {
	Schema    string            `json:"schema"`
	Version   int32             `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	Problems  []tenancy.Problem `json:"problems"`
}

// poolStatus reads the pool's members from Inspect, the one query that
// also finds member schemas without a ledger row.
func (a *App) poolStatus(ctx context.Context, m *tenancy.Manager) (poolReport, error) {
	rep := poolReport{Size: m.PoolSize(), Latest: m.LatestVersion(), Members: []poolMember{}}
	statuses, err := m.Inspect(ctx)
	if err != nil {
		return rep, err
	}
	for _, st := range statuses {
		if !st.PoolMember {
			continue
		}
		if st.OK() {
			rep.Ready++
		}
		rep.Members = append(rep.Members, poolMember{Schema: st.Schema, Version: st.Version, CreatedAt: st.CreatedAt,
			Problems: append([]tenancy.Problem{}, st.Problems...)})
	}
	return rep, nil
}

// printPool prints rep and fails (exit 1) when a member has a problem.
func (a *App) printPool(rep poolReport) error {
	if err := a.Print(rep); err != nil {
		return err
	}
	if rep.Ready < len(rep.Members) {
		return problemsError(len(rep.Members), "pool members", rep.problemList())
	}
	return nil
}

func (r poolReport) problemList() []string {
	var bad []string
	for _, mb := range r.Members {
		if len(mb.Problems) > 0 {
			bad = append(bad, mb.Schema+" ("+joinProblems(mb.Problems)+")")
		}
	}
	return bad
}

// Tables shows a row per member, then the counts.
func (r poolReport) Tables() []Table {
	members := Table{Header: []string{"SCHEMA", "VERSION", "CREATED", "PROBLEMS"}}
	for _, mb := range r.Members {
		problems := joinProblems(mb.Problems)
		if problems == "" {
			problems = "ok"
		}
		members.Rows = append(members.Rows, []string{mb.Schema, itoa(mb.Version), mb.CreatedAt.UTC().Format(time.RFC3339), problems})
	}
	summary := Table{Header: []string{"POOL", "SCHEMAS"}}
	if r.Created != nil {
		summary.Rows = append(summary.Rows, []string{"created", strconv.Itoa(*r.Created)})
	}
	if r.Dropped != nil {
		summary.Rows = append(summary.Rows, []string{"dropped", strconv.Itoa(*r.Dropped)})
	}
	summary.Rows = append(summary.Rows,
		[]string{"ready", strconv.Itoa(r.Ready)},
		[]string{"members", strconv.Itoa(len(r.Members))},
		[]string{"size", strconv.Itoa(r.Size)},
	)
	if len(r.Members) == 0 {
		return []Table{summary}
	}
	return []Table{members, summary}
}
