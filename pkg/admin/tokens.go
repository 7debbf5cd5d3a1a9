package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// tokenRoutes registers a user's API tokens' pages.
func (c *Console) tokenRoutes() {
	c.handle("GET /admin/users/{id}/tokens/{$}", c.tokenList)
	c.handle("POST /admin/users/{id}/tokens/{$}", c.tokenIssue)
	c.handle("POST /admin/users/{id}/tokens/{token_id}/revoke/{$}", c.tokenRevoke)
}

// tokenTTLs are the lifetimes a token may be issued with, by the form's
// value; 0 is no expiry.
var tokenTTLs = map[string]time.Duration{"1d": 24 * time.Hour, "30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour, "never": 0}

// defaultTTL is the lifetime the form offers first.
const defaultTTL = "30d"

// tokenRow is a row of a user's tokens.
type tokenRow struct {
	domain.Token
	// State is "active", "expired" or "revoked".
	State string
}

// tokensView is a user's tokens' page.
type tokensView struct {
	Target domain.User
	Tokens []tokenRow
	Form   form
	TTL    fieldView
	// InactiveNote says why an inactive user's page has no issue form.
	InactiveNote string
	// NewToken is the token just issued, shown this once; it is stored
	// only as its hash.
	NewToken, NewName string
}

// msgInactiveTokens says why an inactive user gets no token.
const msgInactiveTokens = "An inactive user cannot get tokens; activate the user first."

// tokenOwner is the user whose tokens the path names, if the caller may
// see, issue and revoke them.
func (c *Console) tokenOwner(r *http.Request, v *visit) (domain.User, error) {
	return c.ownOrManagedUser(r, v, "You may see only your own API tokens.")
}

// renderTokens renders t's tokens with the issue form f, and newToken, if
// not empty, in a box of its own.
func (c *Console) renderTokens(w http.ResponseWriter, r *http.Request, v *visit, status int, t domain.User, f form, newToken, newName string) error {
	toks, err := c.st.Tokens.List(r.Context(), t.ID)
	if err != nil {
		return err
	}
	tv := tokensView{Target: t, Form: f, NewToken: newToken, NewName: newName, InactiveNote: msgInactiveTokens}
	now := time.Now()
	for _, tk := range toks {
		row := tokenRow{Token: tk, State: "active"}
		switch {
		case !tk.IsActive:
			row.State = "revoked"
		case tk.ExpiresAt != nil && !tk.ExpiresAt.After(now):
			row.State = "expired"
		}
		tv.Tokens = append(tv.Tokens, row)
	}
	if f.Get("ttl") == "" {
		f.values.Set("ttl", defaultTTL)
	}
	tv.TTL = newChoice(f, "ttl", "Valid for", "1d", "1 day", "30d", "30 days", "90d", "90 days", "never", "Never expires")
	return c.render(w, r, v, status, "tokens_list", "API tokens of "+t.Username, tv, usersCrumb, userCrumb(t))
}

func (c *Console) tokenList(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := c.tokenOwner(r, v)
	if err != nil {
		return err
	}
	return c.renderTokens(w, r, v, http.StatusOK, t, newForm(nil), "", "")
}

// tokenIssue issues a token and shows it on the page it answers with, the
// only time it is ever shown: never in a redirect's URL or a cookie, and
// the page is not cached (render says no-store).
func (c *Console) tokenIssue(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := c.tokenOwner(r, v)
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	ttl, ok := tokenTTLs[f.Get("ttl")]
	if !ok {
		f.add("ttl", "choose how long the token is valid")
	}
	if !t.IsActive {
		f.add("", msgInactiveTokens)
	}
	if !f.invalid() {
		tk, plain, err := c.st.Tokens.Create(r.Context(), domain.By(v.user.ID), t.ID, f.Get("name"), ttl)
		switch {
		case err == nil:
			return c.renderTokens(w, r, v, http.StatusOK, t, newForm(nil), plain, tk.Name)
		case errors.Is(err, domain.ErrNotFound):
			// Deactivated since the page was read.
			f.add("", msgInactiveTokens)
		case !f.fromError(err, "name", "ttl"):
			return err
		}
	}
	return c.renderTokens(w, r, v, http.StatusBadRequest, t, f, "", "")
}

// tokenRevoke revokes one of the user's tokens for good; a token of
// anyone else is not found here.
func (c *Console) tokenRevoke(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := c.tokenOwner(r, v)
	if err != nil {
		return err
	}
	id, err := pathID(r, "token_id")
	if err != nil {
		return err
	}
	tk, err := c.st.Tokens.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if tk.UserID != t.ID {
		return domain.ErrNotFound
	}
	if err := c.st.Tokens.Revoke(r.Context(), domain.By(v.user.ID), tk.ID); err != nil {
		return err
	}
	name := tk.Name
	if name == "" {
		name = "without a name"
	} else {
		name = "“" + name + "”"
	}
	return c.redirect(w, r, userPath(t.ID)+"tokens/", "Token "+name+" of "+t.Username+" revoked.")
}
