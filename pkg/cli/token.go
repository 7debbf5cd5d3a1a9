package cli

import (
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

func newTokenCmd(a *App) *cobra.Command {
	return newGroupCmd("token", "Issue API tokens",
		`Issue API tokens for the HTTP API ('Authorization: Bearer <token>').`,
		newTokenCreateCmd(a),
	)
}

// tokenDoc is a new token: the only time the token itself is shown.
type tokenDoc struct {
	Token     string     `json:"token"`
	ID        uuid.UUID  `json:"id"`
	UserID    uuid.UUID  `json:"user_id"`
	Username  string     `json:"username"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
}

func (t tokenDoc) Tables() []Table {
	expires := "never"
	if t.ExpiresAt != nil {
		expires = fmtTime(*t.ExpiresAt)
	}
	return []Table{fields(
		"TOKEN", t.Token,
		"ID", t.ID.String(),
		"USER", t.Username,
		"NAME", t.Name,
		"EXPIRES", expires,
	)}
}

func newTokenCreateCmd(a *App) *cobra.Command {
	var user, name string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --user USER [--name NAME] [--ttl DURATION]",
		Short: "Issue an API token for a user; it is shown once",
		Long: `Issue an API token for an active user (--user, a username or id). The
token is printed once, now: only its SHA-256 is stored, so it cannot be
shown again. Keep it in a secret store; a lost token is replaced by a new
one.

--ttl is how long the token is valid (Go duration: 720h, 90m); 0 means it
never expires. With -o json the document is {"token", "id", "user_id",
"username", "name", "expires_at", "created_at"}.`,
		Example: `  tenantctl token create --user istanbul_admin
  tenantctl token create --user ci-bot --name "CI pipeline" --ttl 2160h
  TOKEN=$(tenantctl token create --user istanbul_admin -o json | jq -r .token)
  curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/api/centers/`,
		RunE: func(c *cobra.Command, _ []string) error {
			if user == "" {
				return usagef(c, "--user is required")
			}
			if ttl < 0 {
				return usagef(c, "--ttl must be 0 (no expiry) or more, not %s", ttl)
			}
			ctx := c.Context()
			st, users, actor, err := a.usersToChange(ctx, []string{user})
			if err != nil {
				return err
			}
			u := users[0]
			t, plain, err := st.Tokens.Create(ctx, actor, u.ID, name, ttl)
			if err != nil {
				return err
			}
			if err := a.Print(tokenDoc{Token: plain, ID: t.ID, UserID: u.ID, Username: u.Username, Name: t.Name,
				ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt}); err != nil {
				return err
			}
			if a.Config.Output == OutputTable {
				a.Notef("Save the token now: it cannot be shown again.")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the token's `USER` (username or id)")
	cmd.Flags().StringVar(&name, "name", "", "a label for the token (at most 100 characters)")
	cmd.Flags().DurationVar(&ttl, "ttl", 720*time.Hour, "validity, e.g. 720h; 0 for no expiry")
	return cmd
}
