package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// userCommands lists the subcommands of "tenantctl user".
func userCommands(a *App) []*cobra.Command {
	return []*cobra.Command{
		newUserCreateCmd(a),
		newUserListCmd(a),
		newUserGetCmd(a),
		newUserUpdateCmd(a),
		newUserBulkCmd(a, userDelete),
		newUserBulkCmd(a, userActivate),
		newUserBulkCmd(a, userDeactivate),
		newUserChangeCenterCmd(a),
		newUserChangeRoleCmd(a),
	}
}

func newUserCmd(a *App) *cobra.Command {
	return newGroupCmd("user", "Manage users",
		`Manage the users of the registry: each belongs to a center with a role
(admin, user or viewer), except superusers (platform operators), who may
have none. A USER is a user id or a username.`,
		userCommands(a)...)
}

// roleFlag checks a --role value: a bad one is a usage error.
func roleFlag(c *cobra.Command, v string) (domain.Role, error) {
	r := domain.Role(v)
	if !r.Valid() {
		return "", usagef(c, "invalid --role %q: want %s", v, sentence(text.Strings(domain.Roles), "or"))
	}
	return r, nil
}

// printUsers prints users as a list document, with their centers' names.
func (a *App) printUsers(ctx context.Context, st *domain.Store, users []domain.User, count int) error {
	names, err := a.centerNames(ctx, st)
	if err != nil {
		return err
	}
	return a.Print(names.list(users, count))
}

// printUser prints one user with their center's name.
func (a *App) printUser(ctx context.Context, st *domain.Store, u domain.User) error {
	names := centerNames{}
	if u.CenterID != nil {
		c, err := st.Centers.Get(ctx, *u.CenterID)
		if err != nil {
			return fmt.Errorf("center of user %q: %w", u.Username, err)
		}
		names[c.ID] = c.Name
	}
	return a.Print(names.doc(u))
}
