package cli

import (
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func newUserUpdateCmd(a *App) *cobra.Command {
	var p userProfileFlags
	cmd := &cobra.Command{
		Use:   "update USER [--username U] [--email E] [--first-name F] [--last-name L] [--phone P] [--password-stdin]",
		Short: "Change a user's profile or password",
		Long: `Change the profile fields given as flags; the others stay as they are.
--phone "" removes the phone number. --password-stdin sets a new password
read from stdin (the first line, or a prompt without echo on a terminal).

The center, role and activity have commands of their own: change-center,
change-role, activate and deactivate.`,
		Example: `  tenantctl user update istanbul_user --email mehmet@example.com --phone "+90 212 555 0100"
  # Give the seed's superuser a password:
  printf '%s\n' "$PASSWORD" | tenantctl user update admin --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var patch domain.UserPatch
			f := c.Flags()
			for _, fl := range []struct {
				name string
				dst  **string
				val  *string
			}{
				{"username", &patch.Username, &p.Username}, {"email", &patch.Email, &p.Email},
				{"first-name", &patch.FirstName, &p.FirstName}, {"last-name", &patch.LastName, &p.LastName},
				{"phone", &patch.Phone, &p.Phone},
			} {
				if f.Changed(fl.name) {
					*fl.dst = fl.val
				}
			}
			if !p.PasswordStdin && patch == (domain.UserPatch{}) {
				return usagef(c, "nothing to update: give --username, --email, --first-name, --last-name, --phone or --password-stdin")
			}
			if p.PasswordStdin {
				pw, err := a.readPassword()
				if err != nil {
					return err
				}
				patch.Password = &pw
			}
			ctx := c.Context()
			st, users, actor, err := a.usersToChange(ctx, args)
			if err != nil {
				return err
			}
			u, err := st.Users.Patch(ctx, actor, users[0].ID, patch)
			if err != nil {
				return err
			}
			return a.printUser(ctx, st, u)
		},
	}
	p.add(cmd, true)
	return cmd
}
