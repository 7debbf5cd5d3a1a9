package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// The request benchmarks' data: every read center has samplesPerCenter
// samples (a list page is 20 of them) and one member; writeCenters more
// centers take the creates and transitions, so that the reads' tables
// never grow.
const (
	samplesPerCenter = 100
	writeCenters     = 10
	// writeKeyBase numbers the write centers in bench_keys after the
	// read centers, however many there are.
	writeKeyBase = 1_000_000
	// pendingRate is more transitions a second than either side reaches
	// on a small machine: each side gets that many pending samples per
	// second of load, since each transition consumes one.
	pendingRate = 6000
	// fixtureConns is the fixture's pool, which seeds it.
	fixtureConns = 8
)

// benchCenter is a center as wrk's calls and pgbench's tables know it.
type benchCenter struct {
	id     uuid.UUID
	schema string
	// user is the member whose token is token.
	user    uuid.UUID
	token   string
	samples []uuid.UUID // of a read center; barcodes are barcodeOf(index)
}

func barcodeOf(i int) string { return fmt.Sprintf("B-%d", i) }

// fixture is the database of the request benchmarks, created through the
// product (domain.Store: each center its schema, a member, a token) and
// shared by the requests, switch and scale benchmarks of a run: seeded
// once, grown to the largest spread asked for. Beside the product's
// tables, bench_keys, bench_samples and bench_pending map pgbench's
// random numbers to the same centers, tokens and samples.
type fixture struct {
	url   string
	pool  *pgxpool.Pool
	st    *domain.Store
	m     *tenancy.Manager
	reads []benchCenter
	// writes are the write centers; pending[side] the pending samples of
	// the API's (0) and pgbench's (1) transitions, k-th in write center
	// k % writeCenters.
	writes  []benchCenter
	pending [2][]uuid.UUID
}

var shared struct {
	mu sync.Mutex
	f  *fixture
}

// requestFixture returns the run's fixture with at least reads read
// centers, creating the database on first use.
func requestFixture(ctx context.Context, e *Env, reads int) (*fixture, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.f == nil {
		f, err := newFixture(ctx, e)
		if err != nil {
			return nil, err
		}
		shared.f = f
	}
	f := shared.f
	if len(f.reads) < reads {
		t := time.Now()
		if err := f.seedReads(ctx, reads); err != nil {
			return nil, err
		}
		e.Log.Info("seeded read centers", "centers", reads, "took", time.Since(t).Round(time.Millisecond))
	}
	return f, nil
}

func newFixture(ctx context.Context, e *Env) (*fixture, error) {
	url, err := e.NewDatabase(ctx, "bench_requests")
	if err != nil {
		return nil, err
	}
	pool, m, err := newManager(ctx, url, fixtureConns, false)
	if err != nil {
		return nil, err
	}
	f := &fixture{url: url, pool: pool, st: domain.New(pool, m), m: m}
	if _, err = pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"+benchTables); err != nil {
		return nil, fmt.Errorf("bench: create the pgbench tables: %w", err)
	}
	return f, nil
}

// benchTables are pgbench's tables of the fixture: its numbers' centers,
// tokens and samples.
const benchTables = `
-- schema is quoted, as set_config('search_path', …) takes it; member is the
-- user of token_hash, the writes' acting user.
CREATE TABLE bench_keys (n int PRIMARY KEY, center uuid NOT NULL, schema text NOT NULL, token_hash bytea NOT NULL, member uuid NOT NULL);
CREATE TABLE bench_samples (n int, s int, sample uuid NOT NULL, barcode text NOT NULL, PRIMARY KEY (n, s));
CREATE TABLE bench_pending (k int PRIMARY KEY, n int NOT NULL, sample uuid NOT NULL)`

// seedWrites creates the write centers and, per side, perSide pending
// samples, unless done already.
func (f *fixture) seedWrites(ctx context.Context, perSide int) error {
	if len(f.writes) > 0 {
		return nil
	}
	writes := make([]benchCenter, writeCenters)
	err := concurrently(ctx, writeCenters, writeCenters, func(i int) error {
		c, err := f.createCenter(ctx, fmt.Sprintf("Write center %02d", i), writeKeyBase+i)
		writes[i] = c
		return err
	})
	if err != nil {
		return err
	}
	var pending [2][]uuid.UUID
	for side := range pending {
		pending[side] = make([]uuid.UUID, perSide)
		for k := range pending[side] {
			pending[side][k] = uuid.New()
		}
	}
	err = concurrently(ctx, writeCenters, writeCenters, func(w int) error {
		var ids []uuid.UUID
		var ks []int
		for side := range pending {
			for k := w; k < perSide; k += writeCenters {
				ids = append(ids, pending[side][k])
				ks = append(ks, k+side*perSide)
			}
		}
		return pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			if err := insertSamples(ctx, tx, writes[w], ids, "P-"); err != nil {
				return err
			}
			// Only pgbench's half is looked up by pgbench.
			_, err := tx.Exec(ctx, `INSERT INTO bench_pending (k, n, sample)
SELECT k - $3, $1, s FROM unnest($2::int[], $4::uuid[]) AS t(k, s) WHERE k >= $3`, writeKeyBase+w, ks, perSide, ids)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("bench: seed pending samples: %w", err)
	}
	f.writes, f.pending = writes, pending
	return nil
}

// seedReads grows the read centers to n, each with samplesPerCenter
// samples.
func (f *fixture) seedReads(ctx context.Context, n int) error {
	from := len(f.reads)
	reads := append(f.reads, make([]benchCenter, n-from)...)
	err := concurrently(ctx, fixtureConns, n-from, func(i int) error {
		i += from
		c, err := f.createCenter(ctx, fmt.Sprintf("Read center %05d", i), i)
		if err != nil {
			return err
		}
		c.samples = make([]uuid.UUID, samplesPerCenter)
		for j := range c.samples {
			c.samples[j] = uuid.New()
		}
		reads[i] = c
		return pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			if err := insertSamples(ctx, tx, c, c.samples, "B-"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO bench_samples (n, s, sample, barcode)
SELECT $1, s - 1, id, 'B-' || (s - 1) FROM unnest($2::uuid[]) WITH ORDINALITY AS t(id, s)`, i, c.samples)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("bench: seed read centers: %w", err)
	}
	f.reads = reads
	_, err = f.pool.Exec(ctx, "ANALYZE bench_keys; ANALYZE bench_samples; ANALYZE public.centers; ANALYZE public.users; ANALYZE public.api_tokens")
	return err
}

// createCenter creates a center through the product, with a member (a
// user without a password: hashing one is slow, and tokens need none) and
// a token, and records them in bench_keys as n.
func (f *fixture) createCenter(ctx context.Context, name string, n int) (benchCenter, error) {
	c, err := f.st.Centers.Create(ctx, domain.System, domain.CenterInput{Name: name})
	if err != nil {
		return benchCenter{}, fmt.Errorf("bench: create center: %w", err)
	}
	username := fmt.Sprintf("bench%07d", n)
	u, err := f.st.Users.Create(ctx, domain.System, domain.UserInput{Username: username, Email: username + "@example.com",
		CenterID: &c.ID, Role: domain.RoleUser})
	if err != nil {
		return benchCenter{}, fmt.Errorf("bench: create user: %w", err)
	}
	_, token, err := f.st.Tokens.Create(ctx, domain.System, u.ID, "bench", 0)
	if err != nil {
		return benchCenter{}, fmt.Errorf("bench: create token: %w", err)
	}
	bc := benchCenter{id: c.ID, schema: f.m.SchemaName(c.ID), user: u.ID, token: token}
	sum := sha256.Sum256([]byte(token))
	if _, err := f.pool.Exec(ctx, "INSERT INTO bench_keys (n, center, schema, token_hash, member) VALUES ($1, $2, $3, $4, $5)",
		n, c.ID, pgx.Identifier{bc.schema}.Sanitize(), sum[:], u.ID); err != nil {
		return benchCenter{}, fmt.Errorf("bench: record center: %w", err)
	}
	return bc, nil
}

// insertSamples bulk-inserts samples ids into c's schema, owned by its
// member, with barcodes prefix + index and creation times a minute apart.
func insertSamples(ctx context.Context, tx pgx.Tx, c benchCenter, ids []uuid.UUID, prefix string) error {
	_, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{c.schema, "samples"}.Sanitize()+`
	(id, name, sample_type, barcode, user_id, metadata, created_at, updated_at)
SELECT id, 'Sample ' || s, (ARRAY['blood', 'urine', 'tissue', 'saliva'])[1 + s % 4], $3 || (s - 1),
	(SELECT id FROM public.users WHERE center_id = $2), '{"source": "bench"}',
	now() - s * interval '1 minute', now() - s * interval '1 minute'
FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, s)`, ids, c.id, prefix)
	return err
}

// concurrently runs fn(0..n-1) from conc goroutines, each taking the next
// i, until the first error, which it returns.
func concurrently(ctx context.Context, conc, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, conc) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := fn(i); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
