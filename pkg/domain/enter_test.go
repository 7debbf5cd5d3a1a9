package domain_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestWithEnter serves a center's samples from a plain table in public, as
// the request benchmarks do: the sample operations go through the EnterFunc,
// the center's own schema is untouched, and the center check still holds.
func TestWithEnter(t *testing.T) {
	b := setup(t)
	c := b.center(t, "Plain", "")
	u := b.user(t, "plain_user", &c.ID, domain.RoleUser)
	if _, err := b.db.Pool.Exec(b.ctx, "CREATE TABLE public.samples (LIKE "+
		pgx.Identifier{b.db.Tenancy.SchemaName(c.ID), "samples"}.Sanitize()+" INCLUDING ALL)"); err != nil {
		t.Fatal(err)
	}
	entered := 0
	plain := domain.New(b.db.Pool, b.db.Tenancy, domain.WithEnter(
		func(ctx context.Context, _ uuid.UUID, opts pgx.TxOptions, queue func(*pgx.Batch), fn func(pgx.Tx) error) error {
			entered++
			var batch pgx.Batch
			batch.BeginTx(opts)
			batch.Queue("SET LOCAL search_path TO public")
			queue(&batch)
			br := b.db.Pool.SendBatch(ctx, &batch)
			tx := br.Tx()
			defer tx.Rollback(ctx)
			if err := br.Close(); err != nil {
				return err
			}
			if err := fn(tx); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}))

	sm, err := plain.Samples.Create(b.ctx, c.ID, domain.By(u.ID), domain.SampleInput{Name: "p", SampleType: "blood", Barcode: "P-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := plain.Samples.Get(b.ctx, c.ID, sm.ID); err != nil || got.Barcode != "P-1" {
		t.Fatalf("Get through the plain table: %+v, %v", got, err)
	}
	if _, err := b.st.Samples.Get(b.ctx, c.ID, sm.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the center's schema has the plain table's sample: %v", err)
	}
	var n int
	if err := b.db.Pool.QueryRow(b.ctx, "SELECT count(*) FROM public.samples").Scan(&n); err != nil || n != 1 {
		t.Fatalf("public.samples holds %d rows (%v), want 1", n, err)
	}
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Samples.Get(b.ctx, c.ID, sm.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a deactivated center's sample through the plain table: %v, want not found", err)
	}
	if entered != 3 {
		t.Errorf("entered %d times, want 3 (create, get, get)", entered)
	}
}
