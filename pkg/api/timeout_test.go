package api_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/pkg/api"
)

// A request whose database work outlasts RequestTimeout — here an update
// waiting on a row another transaction holds — is cancelled and answered
// 503, and the server goes on serving.
func TestRequestTimeout(t *testing.T) {
	e := setup(t, func(c *api.Config) { c.RequestTimeout = 300 * time.Millisecond })
	s := e.newSample(e.ist)

	locked := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- e.db.Tenancy.InTenant(t.Context(), e.ist.ID, func(tx pgx.Tx) error {
			if _, err := tx.Exec(t.Context(), "SELECT 1 FROM samples WHERE id = $1 FOR UPDATE", s.ID); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	select {
	case <-locked:
	case err := <-done:
		t.Fatalf("lock holder: %v", err)
	}

	r := e.expect(e.do("PATCH", samplePath(e.ist, s), "istanbul_user", `{"name": "renamed"}`), 503, "update behind a held lock")
	if r.str("detail") == "" {
		t.Errorf("503 without a detail: %s", r.raw)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("lock holder: %v", err)
	}
	e.expect(e.do("PATCH", samplePath(e.ist, s), "istanbul_user", `{"name": "renamed"}`), 200, "the same update once the lock is gone")
}
