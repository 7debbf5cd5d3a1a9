package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
)

// tokenResponse is DRF's obtain_auth_token answer, with the expiry.
type tokenResponse struct {
	Token     string     `json:"token"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// obtainToken exchanges a username and password for a token valid for
// Config.TokenTTL. Any wrong credential is the same 401. Repeated failures
// for a username or from an address are throttled (Config.LoginThrottle):
// past the limit the answer is a 429 with Retry-After, whatever the
// password.
func (s *Server) obtainToken(w http.ResponseWriter, r *http.Request) error {
	o, err := readObject(w, r, []string{"username", "password"}, nil)
	if err != nil {
		return err
	}
	o.require("username", "password")
	username, password := o.str("username"), o.str("password")
	if err := o.err(); err != nil {
		return err
	}
	// Only well-formed requests count: a malformed body is no guess.
	var u domain.User
	retry, err := s.login.Do(r, *username, func() (err error) {
		u, err = s.st.Users.Authenticate(r.Context(), *username, *password)
		return err
	})
	if retry > 0 {
		w.Header().Set("Retry-After", throttle.RetryAfter(retry))
		return errTooManyAttempts(retry)
	}
	if err != nil {
		return err
	}
	t, token, err := s.st.Tokens.Create(r.Context(), domain.By(u.ID), u.ID, "api login", s.tokenTTL)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, tokenResponse{Token: token, ExpiresAt: t.ExpiresAt})
}

// errTooManyAttempts is the 429 of a locked key; the caller sets
// Retry-After.
func errTooManyAttempts(retry time.Duration) error {
	return errStatus(http.StatusTooManyRequests,
		fmt.Sprintf("too many failed login attempts; retry in %s s", throttle.RetryAfter(retry)))
}
