package bench

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/internal/testdb"
)

// TestTripCounter counts what the requests benchmark's round-trip rows
// rest on: a query is one round trip, a batch (a pipeline, as
// Manager.InTenantBatch sends) is one however many statements it holds,
// and queries one after another are one each; a call's number counts
// on through the warm-up.
func TestTripCounter(t *testing.T) {
	ctx := t.Context()
	d := testdb.New(t)
	relay, err := startTripCounter(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.close()
	conn, err := pgx.Connect(ctx, relay.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var seen []int
	for _, c := range []struct {
		name  string
		trips float64
		call  func() error
	}{
		{"one query", 1, func() error { _, err := conn.Exec(ctx, "SELECT 1"); return err }},
		{"three queries", 3, func() error {
			for range 3 {
				if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
					return err
				}
			}
			return nil
		}},
		{"a batch of BEGIN, two queries and COMMIT", 1, func() error {
			b := &pgx.Batch{}
			b.Queue("BEGIN READ ONLY")
			b.Queue("SELECT set_config('search_path', 'public', true)")
			b.Queue("SELECT 1")
			b.Queue("COMMIT")
			return conn.SendBatch(ctx, b).Close()
		}},
	} {
		seen = seen[:0]
		got, err := relay.perCall(func(i int) error { seen = append(seen, i); return c.call() })
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.trips {
			t.Errorf("%s: %.3f round trips per call, want %v", c.name, got, c.trips)
		}
		if len(seen) != tripsWarm+tripsCounted || seen[0] != 0 || seen[len(seen)-1] != tripsWarm+tripsCounted-1 {
			t.Errorf("%s: calls numbered %d…%d (%d), want 0…%d", c.name, seen[0], seen[len(seen)-1], len(seen), tripsWarm+tripsCounted-1)
		}
	}
}
