package cli

import (
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newUserListCmd(a *App) *cobra.Command {
	var page pageFlags
	var center string
	var includeInactive bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Long: `List users by username, a page at a time (--limit, --offset), all of them or
a center's members (--center, by id or name). Deactivated users are hidden
unless --include-inactive.

With -o json or -o yaml the document is {"count": N, "results": [...]}, N
counting every match, not only this page.`,
		Example: `  tenantctl user list
  tenantctl user list --center "Ankara Research Lab" --include-inactive
  tenantctl user list -o json | jq -r '.results[].username'`,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := page.validate(c); err != nil {
				return err
			}
			ctx := c.Context()
			st, err := a.Store(ctx)
			if err != nil {
				return err
			}
			opts := domain.ListOptions{Limit: page.Limit, Offset: page.Offset, IncludeInactive: includeInactive}
			if center != "" {
				_, cen, err := a.resolveCenter(ctx, center)
				if err != nil {
					return err
				}
				opts.CenterID = &cen.ID
			}
			users, count, err := st.Users.List(ctx, opts)
			if err != nil {
				return err
			}
			if err := a.printUsers(ctx, st, users, count); err != nil {
				return err
			}
			a.notePage(page, len(users), count, "user")
			return nil
		},
	}
	page.add(cmd)
	cmd.Flags().StringVar(&center, "center", "", "only the members of `CENTER` (id or name)")
	cmd.Flags().BoolVar(&includeInactive, "include-inactive", false, "include deactivated users")
	return cmd
}

func newUserGetCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "get USER",
		Short: "Show a user",
		Long: `Show one user, active or not. USER is a user id or a username; an unknown
username gets a suggestion. The password hash is never shown, only whether
a password is set.`,
		Example: `  tenantctl user get istanbul_admin
  tenantctl user get istanbul_admin -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			st, users, err := a.resolveUsers(ctx, args)
			if err != nil {
				return err
			}
			return a.printUser(ctx, st, users[0])
		},
	}
}
