package pgcluster

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Start starts a private cluster for a test that stops, crashes or
// restarts its server, failing tb if that is impossible; the cluster is
// stopped (immediate) and deleted when tb ends. Its commits survive a
// crash of the server's processes (not of the machine): fsync and
// full_page_writes are off, synchronous_commit on, which is what such
// tests check.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	return StartN(tb, 1)[0]
}

// StartN starts n private clusters at once, each on a port and in a folder
// of its own, as Start does: for a test that needs several servers.
func StartN(tb testing.TB, n int) []*Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := make([]*Cluster, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Go(func() {
			cs[i], errs[i] = Open(ctx, Options{
				// Small: a test may run several at once.
				Settings: []string{"synchronous_commit = on", "max_connections = 60", "shared_buffers = 32MB"},
			})
		})
	}
	wg.Wait()
	for _, c := range cs {
		if c != nil {
			tb.Cleanup(func() {
				if err := c.Remove(); err != nil {
					tb.Errorf("pgcluster: %v", err)
				}
			})
		}
	}
	for _, err := range errs {
		if err != nil {
			tb.Fatalf("pgcluster: %v", err)
		}
	}
	return cs
}
