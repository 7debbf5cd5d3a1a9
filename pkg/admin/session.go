package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
)

// The console's cookies, scoped to its pages.
const (
	sessionCookie = "tenantctl_session"
	flashCookie   = "tenantctl_flash"
	cookiePath    = "/admin/"
)

// maxForm bounds a form body; the largest field (settings, metadata) is
// 64 KiB of JSON, so 1 MiB leaves room and stops a flood.
const maxForm = 1 << 20

// visit is a signed-in request: who makes it, and the CSRF token its
// forms must carry.
type visit struct {
	user domain.User
	csrf string
}

// handler is a page: it writes a response or returns an error, which
// errorPage shows.
type handler func(w http.ResponseWriter, r *http.Request, v *visit) error

// csrfToken derives the session's CSRF token from its secret. Only the
// SHA-256 of the secret is stored, and the token is another function of
// it, so neither the database nor a page gives away the other.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tenantctl admin csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedIn runs h for a request with a live session, and sends any other
// to the sign-in page, asking to come back. POSTs must carry the session's
// CSRF token; their form is parsed here, bounded by maxForm.
func (c *Console) signedIn(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, secret, err := c.session(r)
		if errors.Is(err, domain.ErrInvalidCredentials) {
			if secret != "" {
				c.clearCookie(w, r, sessionCookie)
			}
			http.Redirect(w, r, "/admin/login/?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err != nil {
			c.errorPage(w, r, nil, err)
			return
		}
		v := &visit{user: u, csrf: csrfToken(secret)}
		if r.Method == http.MethodPost {
			if err := parseForm(w, r); err != nil {
				c.errorPage(w, r, v, err)
				return
			}
			if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(v.csrf)) {
				c.errorPage(w, r, v, errForbidden("This form has expired or belongs to another session. Reload the page and send it again."))
				return
			}
		}
		if err := h(w, r, v); err != nil {
			c.errorPage(w, r, v, err)
		}
	})
}

// session returns the user of the request's session cookie and the
// cookie's secret; domain.ErrInvalidCredentials when there is no live
// session.
func (c *Console) session(r *http.Request) (domain.User, string, error) {
	var secret string
	if ck, err := r.Cookie(sessionCookie); err == nil {
		secret = ck.Value
	}
	u, _, err := c.st.Sessions.Authenticate(r.Context(), secret, c.idle)
	return u, secret, err
}

// startSession starts a session of userID and gives this browser its
// cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, userID uuid.UUID) error {
	_, secret, err := c.st.Sessions.Create(r.Context(), userID, c.ttl)
	if err != nil {
		return fmt.Errorf("starting a session: %w", err)
	}
	c.setCookie(w, r, sessionCookie, secret, int(c.ttl.Seconds()))
	return nil
}

// parseForm parses a POST's form, its body bounded by maxForm; a body
// too large or unreadable is the error page to show.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return errBadForm(err)
	}
	return nil
}

// secureCookie tells whether the console's cookies must be Secure.
func (c *Console) secureCookie(r *http.Request) bool { return c.secure || r.TLS != nil }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secureCookie(r), SameSite: http.SameSiteLaxMode})
}

func (c *Console) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	c.setCookie(w, r, name, "", -1)
}

// loginView is the sign-in form's data.
type loginView struct {
	Form form
	Next string
}

// localPath returns raw, cleaned, if it is a path of this site under
// prefix, with its query: what a form may send the browser back to.
// Anything else would make the form an open redirect or send it out of
// the console: another host or scheme, //evil, a backslash some browsers
// read as a slash, and dot segments, which are resolved before the prefix
// is checked (/admin/..//evil.com is //evil.com, /admin/../api/ is /api/).
func localPath(raw, prefix string) (string, bool) {
	if strings.ContainsAny(raw, "\\\r\n\t") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, prefix) || strings.HasPrefix(clean, "//") {
		return "", false
	}
	u.Path, u.RawPath, u.Fragment, u.RawFragment = clean, "", "", ""
	return u.String(), true
}

// safeNext returns where to go after signing in: next if it is a console
// path other than the sign-in's, else the dashboard.
func safeNext(next string) string {
	p, ok := localPath(next, "/admin/")
	if !ok || strings.HasPrefix(p, "/admin/login/") {
		return "/admin/"
	}
	return p
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, _, err := c.session(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, loginView{Form: newForm(nil), Next: next})
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, lv loginView) {
	if err := c.render(w, r, nil, status, "login", "Sign in", lv); err != nil {
		c.errorPage(w, r, nil, err)
	}
}

// login checks a username and password through the throttle the API's
// token endpoint uses, and starts a session. Every wrong credential gets
// the same message, as Django's does.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		c.errorPage(w, r, nil, err)
		return
	}
	f := newForm(r.PostForm)
	lv := loginView{Form: f, Next: safeNext(r.PostForm.Get("next"))}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if username == "" {
		f.add("username", msgRequired)
	}
	if password == "" {
		f.add("password", msgRequired)
	}
	if f.invalid() {
		c.renderLogin(w, r, http.StatusBadRequest, lv)
		return
	}
	var u domain.User
	retry, err := c.th.Do(r, username, func() (err error) {
		u, err = c.st.Users.Authenticate(r.Context(), username, password)
		return err
	})
	switch {
	case retry > 0:
		w.Header().Set("Retry-After", throttle.RetryAfter(retry))
		f.add("", "Too many failed sign-ins. Try again in "+throttle.RetryAfter(retry)+" seconds.")
		c.renderLogin(w, r, http.StatusTooManyRequests, lv)
		return
	case errors.Is(err, domain.ErrInvalidCredentials):
		f.add("", "Please enter a correct username and password. Note that both fields may be case-sensitive.")
		c.renderLogin(w, r, http.StatusBadRequest, lv)
		return
	case err != nil:
		c.errorPage(w, r, nil, err)
		return
	}
	// A session this browser had (another user's, say) ends here, so
	// that one browser holds one session.
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.st.Sessions.End(r.Context(), ck.Value); err != nil {
			c.errorPage(w, r, nil, err)
			return
		}
	}
	if err := c.startSession(w, r, u.ID); err != nil {
		c.errorPage(w, r, nil, err)
		return
	}
	http.Redirect(w, r, lv.Next, http.StatusSeeOther)
}

// logout ends the session in the database, not only in the browser: a
// copied cookie stops working too.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, v *visit) error {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return err
	}
	if err := c.st.Sessions.End(r.Context(), ck.Value); err != nil {
		return err
	}
	c.clearCookie(w, r, sessionCookie)
	return c.redirect(w, r, "/admin/login/", "You are signed out.")
}

// redirect sends the browser to to with a 303, after a change, leaving
// msgs for the page it lands on.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, to string, msgs ...string) error {
	c.setFlash(w, r, msgs...)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// setFlash leaves a message for the next page the browser shows: the
// result of a change, after the redirect that follows it.
func (c *Console) setFlash(w http.ResponseWriter, r *http.Request, msgs ...string) {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m)
	}
	// A cookie holds about 4 KiB: 2800 bytes are 3734 in base64.
	// A longer report is cut rather than lost.
	s := text.Truncate(b.String(), 2800)
	c.setCookie(w, r, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(s)), 60)
}

// readFlash returns the messages setFlash left; render clears them once
// a page has shown them.
func readFlash(r *http.Request) []string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\n")
}
