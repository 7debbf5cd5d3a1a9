package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// userBulkAction is one of the commands that (de)activate several users at
// once, all or none.
type userBulkAction struct {
	use, short, long, example string
	active                    bool
}

var (
	userDelete = userBulkAction{
		use:   "delete USER...",
		short: "Soft-delete (deactivate) users",
		long: `Soft-delete users: they are deactivated, can no longer authenticate (by
password or token) and leave the default lists, but stay in the registry.
The same as 'tenantctl user deactivate'; undo with 'tenantctl user activate'.`,
		example: `  tenantctl user delete istanbul_viewer
  tenantctl user delete ankara_user ankara_viewer -o json`,
	}
	userActivate = userBulkAction{
		use:   "activate USER...",
		short: "Activate users",
		long:  `Activate users, so that they can authenticate again.`,
		example: `  tenantctl user activate istanbul_viewer
  tenantctl user activate ankara_user ankara_viewer`,
		active: true,
	}
	userDeactivate = userBulkAction{
		use:   "deactivate USER...",
		short: "Deactivate users",
		long: `Deactivate users: they can no longer authenticate, by password or token,
and leave the default lists.`,
		example: `  tenantctl user deactivate istanbul_viewer ankara_viewer`,
	}
)

func newUserBulkCmd(a *App, act userBulkAction) *cobra.Command {
	return &cobra.Command{
		Use:   act.use,
		Short: act.short,
		Long: act.long + `

USER is a user id or a username; give several to change them all at once,
in one transaction: if any is unknown, none changes. The changed users are
printed ({"count", "results"} with -o json).`,
		Example: act.example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			st, users, actor, err := a.usersToChange(ctx, args)
			if err != nil {
				return err
			}
			changed, err := st.Users.SetActive(ctx, actor, act.active, userIDs(users)...)
			if err != nil {
				return err
			}
			return a.printUsers(ctx, st, changed, len(changed))
		},
	}
}

func newUserChangeRoleCmd(a *App) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "change-role --role ROLE USER...",
		Short: "Give users a role",
		Long: `Give one or more users a role in their center: admin, user or viewer. USER
is a user id or a username; several change in one transaction, all or none.
The changed users are printed ({"count", "results"} with -o json).`,
		Example: `  tenantctl user change-role --role viewer istanbul_user
  tenantctl user change-role --role user ankara_viewer istanbul_viewer`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if role == "" {
				return usagef(c, "--role is required: %s", sentence(text.Strings(domain.Roles), "or"))
			}
			r, err := roleFlag(c, role)
			if err != nil {
				return err
			}
			ctx := c.Context()
			st, users, actor, err := a.usersToChange(ctx, args)
			if err != nil {
				return err
			}
			changed, err := st.Users.ChangeRole(ctx, actor, r, userIDs(users)...)
			if err != nil {
				return err
			}
			return a.printUsers(ctx, st, changed, len(changed))
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "the new `role`: admin, user or viewer")
	return cmd
}

func newUserChangeCenterCmd(a *App) *cobra.Command {
	var center string
	cmd := &cobra.Command{
		Use:   "change-center USER --center CENTER",
		Short: "Move a user to another center",
		Long: `Move a user to another center (by id or name), which must be active. The
user keeps their role; their samples stay in the old center.`,
		Example: `  tenantctl user change-center istanbul_user --center "Ankara Research Lab"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if center == "" {
				return usagef(c, "--center is required")
			}
			ctx := c.Context()
			st, users, err := a.resolveUsers(ctx, args)
			if err != nil {
				return err
			}
			_, cen, err := a.resolveCenter(ctx, center)
			if err != nil {
				return err
			}
			if !cen.IsActive {
				return fmt.Errorf("center %q is deleted; a user can only move to an active center", cen.Name)
			}
			actor, err := a.actor(ctx)
			if err != nil {
				return err
			}
			moved, err := st.Users.ChangeCenter(ctx, actor, cen.ID, users[0].ID)
			if err != nil {
				return err
			}
			return a.printUser(ctx, st, moved[0])
		},
	}
	cmd.Flags().StringVar(&center, "center", "", "the new `CENTER` (id or name)")
	return cmd
}
