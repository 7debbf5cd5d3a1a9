// Package cli is tenantctl's command line: every command, flag and output
// format, with cmd/tenantctl only wiring it to the process. Each call of Main
// (or Run) builds a fresh command tree, configuration and database pool, so
// tests run commands in-process, in parallel, and read what they wrote.
//
// # Conventions
//
// Exit codes: 0 success, 1 failure (ExitFailure), 2 usage (ExitUsage): an
// unknown command or flag, a bad flag value, a wrong number of arguments, an
// invalid configuration. An error is one line on stderr,
// "tenantctl: <message>"; a usage error adds a line pointing at --help.
//
// Stdout carries the result and nothing else: a table, or with -o json|yaml
// one document. Progress bars, prompts and notes go to stderr.
//
// Configuration: a global flag, else its TENANTCTL_* environment variable
// (the database URL also falls back to DATABASE_URL), else the YAML file of
// --config, else the default. See Config.
//
// Destructive or fleet-wide actions ask "[y/N]" when stdin is a terminal and
// refuse without --yes when it is not (App.Confirm).
//
// # Adding a command
//
// Write the command in a file of its own as a constructor taking the
// invocation's *App, and list it in commands.go (rootCommands for a
// top-level command or group, centerCommands for "tenantctl center ...";
// newGroupCmd makes a new group such as "user"):
//
//	func newCenterListCmd(a *App) *cobra.Command {
//		var opts centerListOptions
//		cmd := &cobra.Command{
//			Use:   "list",
//			Short: "List centers",
//			Long:  "...",
//			Example: "  tenantctl center list -o json",
//			RunE: func(c *cobra.Command, args []string) error {
//				pool, err := a.Pool(c.Context())
//				...
//				return a.Print(result) // result implements Tabular
//			},
//		}
//		cmd.Flags().BoolVar(&opts.All, "all", false, "...")
//		return cmd
//	}
//
// A command reaches the database through App.Pool and App.Manager (opened on
// first use, closed when the invocation ends) and the domain through
// App.Store; it names centers and users with resolveCenter and resolveUsers
// (id or name, with a suggestion for a typo) and its author with App.actor
// (--actor). It prints its result with App.Print, asks with App.Confirm,
// writes notes with App.Notef, and returns errors: usagef for a misuse (exit
// 2, bad flag values included, such as invalid JSON in --settings), anything
// else for a failure (exit 1). The domain's errors are returned as they are:
// errorMessage (errors.go) turns them into the one-line message, in one place.
//
// Output documents (-o json|yaml): a record is printed as itself, a list as
// {"count": N, "results": [...]}.
// A command that sets no Args accepts no arguments. Commands must not set
// PersistentPreRun(E): the root's loads the configuration.
package cli
