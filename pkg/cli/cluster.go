package cli

import (
	"net"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/tenancy"
)

func newClusterCmd(a *App) *cobra.Command {
	return newGroupCmd("cluster", "Show and rebalance the servers holding the centers",
		`Show the servers that hold the centers' schemas and, on a Citus coordinator
(citus.enable_schema_based_sharding = on), rebalance them. On PostgreSQL
there is one server; rebalance refuses.`,
		newClusterStatusCmd(a), newClusterRebalanceCmd(a))
}

// clusterDoc is 'cluster status' as printed.
type clusterDoc struct {
	Citus bool       `json:"citus"`
	Nodes []nodeDoc  `json:"nodes"`
	Total clusterSum `json:"total"`
}

type nodeDoc struct {
	Node      string `json:"node"`
	Centers   int    `json:"centers"`
	SizeBytes int64  `json:"size_bytes"`
}

type clusterSum struct {
	Centers   int   `json:"centers"`
	SizeBytes int64 `json:"size_bytes"`
}

func (d clusterDoc) Tables() []Table {
	t := Table{Header: []string{"NODE", "CENTERS", "SIZE"}}
	for _, n := range d.Nodes {
		t.Rows = append(t.Rows, []string{n.Node, strconv.Itoa(n.Centers), text.Bytes(n.SizeBytes)})
	}
	t.Rows = append(t.Rows, []string{"total", strconv.Itoa(d.Total.Centers), text.Bytes(d.Total.SizeBytes)})
	kind := "PostgreSQL"
	if d.Citus {
		kind = "Citus"
	}
	t.Title = kind
	return []Table{t}
}

func newClusterStatusCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the servers and the centers on each",
		Long: `List the servers holding center schemas, with the centers on each and their
size: on PostgreSQL the one server; on a Citus coordinator every primary
node, from Citus's metadata (a center's schema is on the node holding its
shards). Sizes are the ones 'center stats' shows.`,
		Example: `  tenantctl cluster status
  tenantctl cluster status -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			m, err := a.Manager(c.Context())
			if err != nil {
				return err
			}
			cl, err := m.Cluster(c.Context())
			if err != nil {
				return err
			}
			d := clusterDoc{Citus: cl.Citus, Nodes: make([]nodeDoc, len(cl.Nodes))}
			for i, n := range cl.Nodes {
				d.Nodes[i] = nodeDoc{Node: n.Addr(), Centers: n.Tenants, SizeBytes: n.SizeBytes}
				d.Total.Centers += n.Tenants
				d.Total.SizeBytes += n.SizeBytes
			}
			return a.Print(d)
		},
	}
}

// rebalanceDoc is 'cluster rebalance' as printed: the plan of a dry run,
// the job started (--detach), or the job followed to its end.
type rebalanceDoc struct {
	DryRun    bool                `json:"dry_run"`
	Moves     []tenancy.ShardMove `json:"moves,omitempty"`
	Job       int64               `json:"job,omitempty"`
	State     string              `json:"state,omitempty"`
	TasksDone int64               `json:"tasks_done,omitempty"`
	Tasks     int64               `json:"tasks,omitempty"`
	Took      string              `json:"took,omitempty"`
}

func (d rebalanceDoc) Tables() []Table {
	switch {
	case d.DryRun:
		t := Table{Title: strconv.Itoa(len(d.Moves)) + " shard moves planned", Header: []string{"TABLE", "SHARD", "SIZE", "FROM", "TO"}}
		for _, mv := range d.Moves {
			t.Rows = append(t.Rows, []string{mv.Table, strconv.FormatInt(mv.ShardID, 10), text.Bytes(mv.SizeBytes), mv.From, mv.To})
		}
		return []Table{t}
	case d.Job == 0:
		return []Table{fields("JOB", "none", "STATE", "nothing to move: the nodes are balanced")}
	case d.State == "":
		return []Table{fields("JOB", strconv.FormatInt(d.Job, 10), "FOLLOW", "SELECT * FROM citus_rebalance_status()")}
	}
	return []Table{fields("JOB", strconv.FormatInt(d.Job, 10), "STATE", d.State,
		"TASKS DONE", strconv.FormatInt(d.TasksDone, 10)+" of "+strconv.FormatInt(d.Tasks, 10), "TOOK", d.Took)}
}

// rebalancePoll is how often 'cluster rebalance' asks for its job's
// status: one query of Citus's job tables, which asks the workers for
// the running moves' progress.
const rebalancePoll = 500 * time.Millisecond

func newClusterRebalanceCmd(a *App) *cobra.Command {
	var dryRun, detach bool
	cmd := &cobra.Command{
		Use:   "rebalance [--dry-run | --detach]",
		Short: "Rebalance the centers across the Citus nodes",
		Long: `Start Citus's background rebalance (citus_rebalance_start) and follow it to
its end (citus_job_status, twice a second), with a progress bar of its
tasks on a terminal; a task moves one center's schema, all its tables
together. It fails if the job fails or is cancelled. Interrupted, it stops
following and the job goes on: SELECT * FROM citus_rebalance_status()
shows it. --detach starts the job and returns its id at once. --dry-run
prints the moves it would make (get_rebalance_table_shards_plan) and moves
nothing. On PostgreSQL it refuses: there is one server.`,
		Example: `  tenantctl cluster rebalance --dry-run
  tenantctl cluster rebalance
  tenantctl cluster rebalance --detach -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dryRun && detach {
				return usagef(c, "--dry-run and --detach do not go together: a dry run starts nothing")
			}
			ctx := c.Context()
			m, err := a.Manager(ctx)
			if err != nil {
				return err
			}
			d := rebalanceDoc{DryRun: dryRun}
			if dryRun {
				if d.Moves, err = m.RebalancePlan(ctx); err != nil {
					return err
				}
				return a.Print(d)
			}
			start := time.Now()
			if d.Job, err = m.StartRebalance(ctx); err != nil {
				return err
			}
			if d.Job == 0 || detach {
				return a.Print(d)
			}
			var bar *progressbar.ProgressBar
			j, err := m.WaitRebalance(ctx, d.Job, rebalancePoll, func(j tenancy.RebalanceJob) {
				done, total := j.Progress()
				if bar == nil {
					bar = a.bar(total, "rebalancing", progressbar.OptionShowCount())
				}
				if bar != nil {
					bar.ChangeMax64(total)
					_ = bar.Set64(done)
				}
			})
			a.finishBar(bar)
			if err != nil {
				return err
			}
			d.State = j.State
			d.TasksDone, d.Tasks = j.Progress()
			d.Took = time.Since(start).Round(time.Millisecond).String()
			return a.Print(d)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the planned moves; move nothing")
	cmd.Flags().BoolVar(&detach, "detach", false, "start the rebalance and return its job id without following it")
	return cmd
}

// moveDoc is 'center move' as printed.
type moveDoc struct {
	Center string               `json:"center"`
	Schema string               `json:"schema"`
	To     string               `json:"to"`
	Mode   tenancy.TransferMode `json:"mode"`
	Took   string               `json:"took"`
}

func (d moveDoc) Tables() []Table {
	return []Table{fields("CENTER", d.Center, "SCHEMA", d.Schema, "MOVED TO", d.To, "MODE", string(d.Mode), "TOOK", d.Took)}
}

func newCenterMoveCmd(a *App) *cobra.Command {
	var to, mode string
	cmd := &cobra.Command{
		Use:   "move CENTER --to HOST:PORT [--mode auto|block_writes]",
		Short: "Move a center's schema to another Citus node",
		Long: `Move a center's schema, all its tables, to the Citus node HOST:PORT (as
pg_dist_node names it) with citus_schema_move, and return once it has
moved, saying how long it took. --mode auto (the default) copies by
logical replication while the center keeps taking writes; block_writes
holds its writes during the copy.
On PostgreSQL it refuses: there is one server. A soft-deleted center is
refused too: restore it first.`,
		Example: `  tenantctl center move "Istanbul Medical Center" --to worker-2:5432
  tenantctl center move "Ankara Research Lab" --to 10.0.0.7:5432 --mode block_writes`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if to == "" {
				return usagef(c, "--to HOST:PORT is required: the node to move to")
			}
			host, port, err := tenancy.ParseNodeAddr(to)
			if err != nil {
				return usagef(c, "--to: %v", err)
			}
			tm, err := tenancy.ParseTransferMode(mode)
			if err != nil {
				return usagef(c, "--mode: %v", err)
			}
			ctx := c.Context()
			m, err := a.Manager(ctx)
			if err != nil {
				return err
			}
			// On PostgreSQL no center can move, so that is said first,
			// whatever CENTER names.
			if citus, err := m.IsCitus(ctx); err != nil {
				return err
			} else if !citus {
				return tenancy.ErrNotCitus
			}
			_, center, err := a.resolveActiveCenter(ctx, args[0])
			if err != nil {
				return err
			}
			start := time.Now()
			if err := m.MoveTenant(ctx, center.ID, host, port, tm); err != nil {
				return err
			}
			return a.Print(moveDoc{Center: center.Name, Schema: m.SchemaName(center.ID), To: net.JoinHostPort(host, strconv.Itoa(port)), Mode: tm,
				Took: time.Since(start).Round(time.Millisecond).String()})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the node to move to, HOST:PORT as in pg_dist_node (required)")
	cmd.Flags().StringVar(&mode, "mode", string(tenancy.TransferAuto), "how to copy: auto or block_writes")
	return cmd
}
