package api

import (
	"context"
	"io/fs"
	"net/http"
	"time"

	"github.com/tenantctl/tenantctl/migrations"
	"github.com/tenantctl/tenantctl/pkg/db"
)

// latestPublic is the number of the last embedded public migration.
var latestPublic = func() int32 {
	files, _ := fs.Glob(migrations.Public, "*.sql")
	return int32(len(files))
}()

// readyz answers 200 when the database answers within 2 s and its public
// schema is at the latest migration this binary embeds, else 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var version int32
	err := s.pool.QueryRow(ctx, "SELECT version FROM "+db.VersionTable).Scan(&version)
	switch {
	case err != nil:
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable, Detail: "database unreachable or not migrated"})
	case version != latestPublic:
		writeProblem(w, Problem{Status: http.StatusServiceUnavailable,
			Detail: "public schema is not at the latest migration; run tenantctl migrate"})
	default:
		return writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "public_version": version})
	}
	return nil
}
