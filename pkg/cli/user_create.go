package cli

import (
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

type userProfileFlags struct {
	Username, Email, FirstName, LastName, Phone string
	PasswordStdin                               bool
}

func (p *userProfileFlags) add(cmd *cobra.Command, withUsername bool) {
	f := cmd.Flags()
	if withUsername {
		f.StringVar(&p.Username, "username", "", "new username")
	}
	f.StringVar(&p.Email, "email", "", "email `address` (unique, case-insensitively)")
	f.StringVar(&p.FirstName, "first-name", "", "first name")
	f.StringVar(&p.LastName, "last-name", "", "last name")
	f.StringVar(&p.Phone, "phone", "", "phone number (\"\" for none)")
	f.BoolVar(&p.PasswordStdin, "password-stdin", false,
		"read a password (at least 10 characters) from stdin: the first line, or a prompt without echo on a terminal")
}

func newUserCreateCmd(a *App) *cobra.Command {
	var p userProfileFlags
	var center, role string
	var superuser bool
	cmd := &cobra.Command{
		Use:   "create USERNAME --email EMAIL [--center CENTER] [--role ROLE]",
		Short: "Create a user",
		Long: `Create a user. A user belongs to a center (--center, by id or name) with a
role: admin, user (the default) or viewer. A --superuser (platform
operator) may have no center.

Without a password the user authenticates with API tokens only ('tenantctl
token create'). --password-stdin reads one from stdin: the first line, its
line ending removed, or typed at a prompt without echo on a terminal. It is
stored only as an argon2id hash and never printed.`,
		Example: `  tenantctl user create izmir_admin --email admin@izmir.example --center "Izmir Genomics" --role admin
  printf '%s\n' "$PASSWORD" | tenantctl user create ops --email ops@example.com --superuser --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			in := domain.UserInput{Username: args[0], Email: p.Email, FirstName: p.FirstName, LastName: p.LastName,
				Phone: p.Phone, IsSuperuser: superuser}
			if !c.Flags().Changed("email") {
				return usagef(c, "--email is required")
			}
			if role != "" {
				r, err := roleFlag(c, role)
				if err != nil {
					return err
				}
				in.Role = r
			}
			if !superuser && center == "" {
				return usagef(c, "--center is required (only a --superuser may have no center)")
			}
			if p.PasswordStdin {
				pw, err := a.readPassword()
				if err != nil {
					return err
				}
				in.Password = &pw
			}
			ctx := c.Context()
			st, err := a.Store(ctx)
			if err != nil {
				return err
			}
			if center != "" {
				_, cen, err := a.resolveCenter(ctx, center)
				if err != nil {
					return err
				}
				in.CenterID = &cen.ID
			}
			actor, err := a.actor(ctx)
			if err != nil {
				return err
			}
			u, err := st.Users.Create(ctx, actor, in)
			if err != nil {
				return err
			}
			return a.printUser(ctx, st, u)
		},
	}
	p.add(cmd, false)
	cmd.Flags().StringVar(&center, "center", "", "the user's `CENTER` (id or name)")
	cmd.Flags().StringVar(&role, "role", "", "role in the center: admin, user or viewer (default user)")
	cmd.Flags().BoolVar(&superuser, "superuser", false, "make the user a platform operator")
	return cmd
}
