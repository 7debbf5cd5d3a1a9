package testdb

import (
	"context"
	"testing"
	"time"
)

// Meanwhile runs write while another transaction makes change (an UPDATE,
// say, with args) and holds its locks: change runs first and stays
// uncommitted, write starts in a goroutine, and once write waits for one
// of change's locks, change commits; Meanwhile returns when write has.
//
// It is how a test puts a concurrent change between what write read
// earlier and the statement that waits: a plain SELECT does not wait for
// change and reads the rows as they were, so a decision write makes on
// such a read is stale by the time its writes go through, which is the
// race of a permission checked on one read and applied on another. Write
// must come to wait for change: if it returns first, or has not waited
// within a minute, tb fails (after write has returned).
//
// Write runs on another goroutine: it should record what the test checks
// afterwards rather than fail the test itself, since tb.Fatal belongs to
// the test's own goroutine.
func (d *DB) Meanwhile(tb testing.TB, write func(), change string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		tb.Fatalf("testdb: meanwhile: begin: %v", err)
	}
	// A no-op once committed; otherwise it lets write go on.
	defer tx.Rollback(context.WithoutCancel(ctx))
	var pid int
	if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		tb.Fatalf("testdb: meanwhile: %v", err)
	}
	if _, err := tx.Exec(ctx, change, args...); err != nil {
		tb.Fatalf("testdb: meanwhile: change: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		write()
	}()
	fail := func(format string, args ...any) {
		tb.Helper()
		_ = tx.Rollback(context.WithoutCancel(ctx))
		<-done
		tb.Fatalf("testdb: meanwhile: "+format, args...)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for waiting := false; !waiting; {
		select {
		case <-done:
			fail("the write returned without waiting for the change %q", change)
		case <-ctx.Done():
			fail("the write did not wait for the change %q: %v", change, ctx.Err())
		case <-tick.C:
		}
		err := d.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))", pid).
			Scan(&waiting)
		if err != nil {
			fail("%v", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		fail("commit the change: %v", err)
	}
	<-done
}
