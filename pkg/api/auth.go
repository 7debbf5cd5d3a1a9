package api

import (
	"net/http"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// tokenResponse is DRF's obtain_auth_token answer, with the expiry.
type tokenResponse struct {
	Token     string     `json:"token"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// obtainToken exchanges a username and password for a token valid for
// Config.TokenTTL. Any wrong credential is the same 401.
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
	u, err := s.st.Users.Authenticate(r.Context(), *username, *password)
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
