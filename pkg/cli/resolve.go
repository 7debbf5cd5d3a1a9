package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// resolveCenter finds the center named by ref, an id or a name
// (case-insensitive). An unknown one is a *domain.NotFoundError with a
// suggestion when a name is close.
func (a *App) resolveCenter(ctx context.Context, ref string) (*domain.Store, domain.Center, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, domain.Center{}, err
	}
	c, err := st.Centers.Resolve(ctx, ref)
	return st, c, err
}

// resolveActiveCenter is resolveCenter for commands that work inside a
// center, which a soft-deleted one refuses.
func (a *App) resolveActiveCenter(ctx context.Context, ref string) (*domain.Store, domain.Center, error) {
	st, c, err := a.resolveCenter(ctx, ref)
	if err == nil && !c.IsActive {
		err = fmt.Errorf("center %q is deleted; restore it first: tenantctl center restore %s", c.Name, shellQuote(c.Name))
	}
	return st, c, err
}

// resolveUsers finds the users named by refs (ids or usernames), in order,
// without duplicates.
func (a *App) resolveUsers(ctx context.Context, refs []string) (*domain.Store, []domain.User, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, nil, err
	}
	users := make([]domain.User, 0, len(refs))
	seen := make(map[uuid.UUID]bool, len(refs))
	for _, ref := range refs {
		u, err := st.Users.Resolve(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		if !seen[u.ID] {
			seen[u.ID] = true
			users = append(users, u)
		}
	}
	return st, users, nil
}

// usersToChange resolves the users a command changes and the --actor who
// changes them, in that order, so an unknown user is reported first.
func (a *App) usersToChange(ctx context.Context, refs []string) (*domain.Store, []domain.User, domain.Actor, error) {
	st, users, err := a.resolveUsers(ctx, refs)
	if err != nil {
		return nil, nil, domain.System, err
	}
	actor, err := a.actor(ctx)
	if err != nil {
		return nil, nil, domain.System, err
	}
	return st, users, actor, nil
}

func userIDs(users []domain.User) []uuid.UUID {
	ids := make([]uuid.UUID, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// actor is the author of the invocation's changes: the user of --actor (an
// id or a username), or domain.System without one.
func (a *App) actor(ctx context.Context) (domain.Actor, error) {
	if a.Config.Actor == "" {
		return domain.System, nil
	}
	st, err := a.Store(ctx)
	if err != nil {
		return domain.System, err
	}
	u, err := st.Users.Resolve(ctx, a.Config.Actor)
	if err != nil {
		return domain.System, fmt.Errorf("--actor: %w", err)
	}
	if !u.IsActive {
		return domain.System, fmt.Errorf("--actor: user %q is deactivated", u.Username)
	}
	return domain.By(u.ID), nil
}

// jsonObjectFlag parses the value of a JSON flag (--settings): a JSON
// object given inline, or @FILE to read it from a file. A value that is not
// a JSON object is a usage error (exit 2), found before anything is written.
func jsonObjectFlag(c *cobra.Command, name, value string) (json.RawMessage, error) {
	data := []byte(value)
	if path, ok := strings.CutPrefix(value, "@"); ok {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, usagef(c, "invalid --%s: %v", name, err)
		}
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ):
			return nil, usagef(c, "invalid --%s: want a JSON object such as '{\"key\": \"value\"}', not a JSON %s", name, typ.Value)
		case errors.As(err, &syn):
			return nil, usagef(c, "invalid --%s: not valid JSON: %v (at byte %d)", name, err, syn.Offset)
		}
		return nil, usagef(c, "invalid --%s: not valid JSON: %v", name, err)
	}
	if obj == nil {
		return nil, usagef(c, "invalid --%s: want a JSON object such as '{\"key\": \"value\"}', not null", name)
	}
	return json.RawMessage(data), nil
}

// readPassword reads a password for --password-stdin: without echo after a
// prompt when stdin is a terminal, else the first line of stdin, its line
// ending removed. The password is never printed.
func (a *App) readPassword() (string, error) {
	if f, ok := a.env.Stdin.(*os.File); ok && a.env.IsTerminal(a.env.Stdin) {
		fmt.Fprint(a.env.Stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.env.Stderr)
		if err != nil {
			return "", fmt.Errorf("--password-stdin: %w", err)
		}
		if len(b) == 0 {
			return "", errors.New("--password-stdin: no password given")
		}
		return string(b), nil
	}
	// Enough for the longest password the domain accepts, in any script.
	r := bufio.NewReader(io.LimitReader(a.env.Stdin, 4*domain.MaxPasswordLen+2))
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("--password-stdin: no password on stdin (give it as the first line)")
	}
	return line, nil
}

// shellQuote quotes s for a command the operator may copy.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.@+/:", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pageFlags are --limit and --offset of the list commands.
type pageFlags struct {
	Limit, Offset int
}

func (p *pageFlags) add(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.Limit, "limit", domain.DefaultLimit, fmt.Sprintf("rows per page (at most %d)", domain.MaxLimit))
	cmd.Flags().IntVar(&p.Offset, "offset", 0, "rows to skip")
}

func (p pageFlags) validate(c *cobra.Command) error {
	if p.Limit < 1 || p.Limit > domain.MaxLimit {
		return usagef(c, "--limit must be between 1 and %d, not %d", domain.MaxLimit, p.Limit)
	}
	if p.Offset < 0 {
		return usagef(c, "--offset must be 0 or more, not %d", p.Offset)
	}
	return nil
}

// notePage tells the operator, on stderr and for tables only, that a list
// has more rows than it shows.
func (a *App) notePage(p pageFlags, shown, count int, noun string) {
	if a.Config.Output != OutputTable || shown >= count {
		return
	}
	if shown == 0 {
		a.Notef("no %ss at offset %d of %d", noun, p.Offset, count)
		return
	}
	a.Notef("showing %ss %d-%d of %d; see more with --offset %d", noun, p.Offset+1, p.Offset+shown, count, p.Offset+shown)
}
