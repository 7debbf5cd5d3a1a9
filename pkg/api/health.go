package api

import (
	"context"
	"net/http"
	"time"

	"github.com/tenantctl/tenantctl/pkg/db"
)

// readyz answers 200 when the database answers within 2 s and its public
// schema is at the latest migration this binary embeds, else 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	version, err := db.PublicVersion(ctx, s.st.Pool())
	switch {
	case err != nil:
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable, Detail: "database unreachable or not migrated"})
	case version != db.LatestPublicVersion():
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable,
			Detail: "public schema is not at the latest migration; run tenantctl migrate"})
	default:
		return writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "public_version": version})
	}
	return nil
}
