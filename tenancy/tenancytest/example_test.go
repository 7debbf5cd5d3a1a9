package tenancytest_test

import (
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// migrations stands in for the application's embedded tenant migrations.
var migrations = fstest.MapFS{
	"001_notes.sql": {Data: []byte(`CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);`)},
}

// testNotes is what a test of the application does with its *testing.T:
// a tenant of its own, migrated, dropped when the test ends.
func testNotes(t testing.TB) {
	m := tenancytest.NewManager(t, tenancytest.Pool(t), &tenancy.Config{Migrations: migrations})
	id := tenancytest.Tenant(t, m)
	var n int
	err := m.InTenant(t.Context(), id, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), "INSERT INTO notes (body) VALUES ('hello')"); err != nil {
			return err
		}
		return tx.QueryRow(t.Context(), "SELECT count(*) FROM notes").Scan(&n)
	})
	if err != nil {
		t.Fatalf("InTenant: %v", err)
	}
	fmt.Println("notes:", n)
}

func Example() {
	// An Example has no *testing.T; exampleT plays one.
	t := &exampleT{}
	defer t.end()
	testNotes(t)
	// Output: notes: 1
}
