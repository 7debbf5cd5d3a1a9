package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// rootCommands lists tenantctl's top-level commands and groups. Add yours
// here; see the package documentation.
func rootCommands(a *App) []*cobra.Command {
	return []*cobra.Command{
		newMigrateCmd(a),
		newCenterCmd(a),
		newPoolCmd(a),
		newClusterCmd(a),
		newUserCmd(a),
		newSampleCmd(a),
		newTokenCmd(a),
		newSeedCmd(a),
		newCompletionCmd(a),
	}
}

// centerCommands lists the subcommands of "tenantctl center".
func centerCommands(a *App) []*cobra.Command {
	return []*cobra.Command{
		newCenterCreateCmd(a),
		newCenterCloneCmd(a),
		newCenterListCmd(a),
		newCenterGetCmd(a),
		newCenterUpdateCmd(a),
		newCenterDeleteCmd(a),
		newCenterRestoreCmd(a),
		newCenterHardDeleteCmd(a),
		newCenterStatsCmd(a),
		newCenterMigrateCmd(a),
		newCenterStatusCmd(a),
		newCenterMoveCmd(a),
		newCenterExportCmd(a),
		newCenterImportCmd(a),
	}
}

func newCenterCmd(a *App) *cobra.Command {
	return newGroupCmd("center", "Manage centers (tenants) and their schemas",
		`Manage centers, the tenants of tenantctl. Each center has a row in the
registry and a PostgreSQL schema of its own, center_<id without hyphens>.
A CENTER argument is a center id or name (case-insensitive).`,
		centerCommands(a)...)
}

func (a *App) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tenantctl",
		Short: "Operate a schema-per-tenant PostgreSQL database",
		Long: `tenantctl operates tenantctl's database: the shared public schema and one
schema per center (tenant). It migrates them, reports their state and
manages centers, users and samples.

Centers are named by id or name, users by id or username; an unknown name
gets a "did you mean ...?". Results go to stdout as a table, or with -o
json|yaml as one document: a record as itself, a list as {"count": N,
"results": [...]} (N counts every match, not only the page shown). Notes,
prompts and progress bars go to stderr. --actor USERNAME records that user
as the author (created_by, updated_by) of the changes.

Configuration comes from flags, else TENANTCTL_* environment variables
(TENANTCTL_DATABASE_URL, falling back to DATABASE_URL; TENANTCTL_OUTPUT;
TENANTCTL_ACTOR; TENANTCTL_POOL_SIZE), else the YAML file given with
--config, whose keys are the long flag names:

  database-url: postgres://app@db.internal:5432/app
  output: table
  actor: alice
  pool-size: 20

Exit status: 0 success, 1 failure, 2 usage error.`,
		Example: `  tenantctl migrate
  tenantctl seed
  tenantctl center create "Izmir Genomics" --actor admin
  tenantctl center status -o json
  TENANTCTL_DATABASE_URL=postgres://localhost/app tenantctl center migrate --all --dry-run`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Without Args cobra checks unknown subcommands itself but says so
		// in several lines; runGroup says it in one.
		Args:                       cobra.ArbitraryArgs,
		RunE:                       runGroup,
		PersistentPreRunE:          func(c *cobra.Command, _ []string) error { return a.configure(c) },
		CompletionOptions:          cobra.CompletionOptions{DisableDefaultCmd: true}, // ours validates the shell
		SuggestionsMinimumDistance: 2,
	}
	a.addGlobalFlags(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(c, err) })
	root.AddCommand(rootCommands(a)...)
	finishTree(root)
	return root
}

// newGroupCmd returns a command that only holds subcommands, such as
// "center" or "user". Without a subcommand it prints its help; with an
// unknown one it fails with a suggestion.
func newGroupCmd(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:                        use + " COMMAND",
		Short:                      short,
		Long:                       long,
		Args:                       cobra.ArbitraryArgs,
		RunE:                       runGroup,
		SuggestionsMinimumDistance: 2,
	}
	g.AddCommand(subs...)
	return g
}

func runGroup(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return c.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		quoted := make([]string, len(s))
		for i, name := range s {
			quoted[i] = strconv.Quote(name)
		}
		msg += "; did you mean " + strings.Join(quoted, " or ") + "?"
	}
	return usagef(c, "%s", msg)
}

// finishTree applies the tree-wide rules to every command, including those
// added later by other files: argument errors are usage errors, a command
// without an Args rule takes no arguments, and no command overrides the
// root's configuration hook.
func finishTree(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && (c.PersistentPreRun != nil || c.PersistentPreRunE != nil) {
			panic("cli: command " + c.CommandPath() + " sets PersistentPreRun, which would skip loading the configuration")
		}
		check := c.Args
		if check == nil {
			check = cobra.NoArgs
		}
		c.Args = func(c *cobra.Command, args []string) error { return usageErr(c, check(c, args)) }
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
