package db_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// TestMain fails the package if a test leaves a pool's goroutines behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// uuidPools returns a pool as pgx configures it and one as ConfigurePool
// does, on the test server.
func uuidPools(tb testing.TB) map[string]*pgxpool.Pool {
	pools := map[string]*pgxpool.Pool{}
	for _, name := range []string{"pgx-default", "configured"} {
		cfg, err := pgxpool.ParseConfig(tenancytest.DatabaseURL(tb))
		if err != nil {
			tb.Fatal(err)
		}
		if name == "configured" {
			db.ConfigurePool(cfg)
		}
		pool, err := pgxpool.NewWithConfig(tb.Context(), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(pool.Close)
		pools[name] = pool
	}
	return pools
}

// TestConfigurePoolKeepsUUIDSemantics: registering pgx-google-uuid changes
// how ids travel, not what they are: every way tenantctl passes and scans
// uuid.UUID and uuid.NullUUID gives the same answer as pgx's default path.
func TestConfigurePoolKeepsUUIDSemantics(t *testing.T) {
	ctx := t.Context()
	id, other := uuid.New(), uuid.New()
	type answer struct {
		Text   string
		Back   uuid.UUID
		Null   uuid.NullUUID
		Valid  uuid.NullUUID
		Count  int
		Second uuid.UUID
		// NULL scanned into a uuid.UUID: no error, and the variable is
		// left as it was, on pgx's default path; kept so.
		NullInto uuid.UUID
		NullErr  bool
	}
	answers := map[string]answer{}
	for name, pool := range uuidPools(t) {
		var a answer
		err := pool.QueryRow(ctx, "SELECT $1::uuid::text, $1::uuid, $2::uuid, $3::uuid, cardinality($4::uuid[]), ($4::uuid[])[2]",
			id, uuid.NullUUID{}, uuid.NullUUID{UUID: other, Valid: true}, []uuid.UUID{id, other}).
			Scan(&a.Text, &a.Back, &a.Null, &a.Valid, &a.Count, &a.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a.NullInto = other
		a.NullErr = pool.QueryRow(ctx, "SELECT NULL::uuid").Scan(&a.NullInto) != nil
		answers[name] = a
	}
	want := answer{Text: id.String(), Back: id, Valid: uuid.NullUUID{UUID: other, Valid: true}, Count: 2, Second: other, NullInto: other}
	for name, got := range answers {
		if got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
}

// BenchmarkUUID sends 20 ids as a parameter and scans them back, each in
// a row of four ids (three set, one null: a sample's id, user_id,
// created_by, updated_by), through pgx's default path and through
// ConfigurePool's.
func BenchmarkUUID(b *testing.B) {
	ctx := b.Context()
	pools := uuidPools(b)
	ids := make([]uuid.UUID, 20)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for _, name := range []string{"pgx-default", "configured"} {
		pool := pools[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := pool.Query(ctx, "SELECT id, id, id, NULL::uuid FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY n", ids)
				if err != nil {
					b.Fatal(err)
				}
				var a, c, d uuid.UUID
				var n uuid.NullUUID
				i := 0
				_, err = pgx.ForEachRow(rows, []any{&a, &c, &d, &n}, func() error {
					if a != ids[i] || d != ids[i] || n.Valid {
						b.Fatalf("row %d: %v, %v, want %v and null", i, a, n, ids[i])
					}
					i++
					return nil
				})
				if err != nil || i != len(ids) {
					b.Fatalf("%d rows, %v", i, err)
				}
			}
		})
	}
}

// TestConfigurePoolUUIDArrayInEveryMode: a []uuid.UUID parameter, as in
// "id = ANY($1)", is encoded in the query modes that do not ask the
// server for parameter types (exec and simple_protocol, which PgBouncer
// needs), as well as in pgx's default.
func TestConfigurePoolUUIDArrayInEveryMode(t *testing.T) {
	id, other := uuid.New(), uuid.New()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		cfg, err := pgxpool.ParseConfig(tenancytest.DatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.DefaultQueryExecMode = mode
		db.ConfigurePool(cfg)
		pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var in, out bool
		err = pool.QueryRow(t.Context(), "SELECT $1::uuid = ANY($2), $3::uuid = ANY($2)", id, []uuid.UUID{id}, other).Scan(&in, &out)
		if err != nil || !in || out {
			t.Errorf("%v: %v, %v, %v; want true, false, nil", mode, in, out, err)
		}
	}
}
