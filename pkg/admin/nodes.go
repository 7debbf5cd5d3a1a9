package admin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tenantctl/tenantctl/tenancy"
)

// defaultNodesMaxAge is Config.NodesMaxAge's default. Measuring the nodes
// reads the size of every relation of every tenant (Manager.Cluster): at
// 10,000 tenants on the 2-core machine of BENCHMARKS.md it took 1.0 s, and
// 8.1 s the first time after they were made, against 0.35 s for the rest
// of the fleet page (Inspect).
const defaultNodesMaxAge = 30 * time.Second

// measureTimeout bounds one measurement of the nodes in the background.
const measureTimeout = time.Minute

// nodesCache is the fleet page's last measurement of the nodes. A page
// shows what it holds, however old, and one older than maxAge starts a
// new measurement in the background for the pages after it (stale while
// revalidate), so only the first page of a process waits for one.
type nodesCache struct {
	maxAge time.Duration

	mu        sync.Mutex
	cluster   tenancy.Cluster
	at        time.Time     // when cluster was measured; zero: never
	measuring chan struct{} // open while a measurement runs
	err       error         // the last measurement's, when it failed
}

// nodes returns the last measurement of the nodes and when it was made,
// waiting for the first one.
func (c *Console) nodes(ctx context.Context) (tenancy.Cluster, time.Time, error) {
	n := &c.nodeSizes
	n.mu.Lock()
	if !n.at.IsZero() {
		cl, at := n.cluster, n.at
		if time.Since(at) >= n.maxAge && n.measuring == nil {
			c.measureNodesLocked()
		}
		n.mu.Unlock()
		return cl, at, nil
	}
	if n.measuring == nil {
		c.measureNodesLocked()
	}
	done := n.measuring
	n.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return tenancy.Cluster{}, time.Time{}, ctx.Err()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.at.IsZero() {
		return tenancy.Cluster{}, time.Time{}, fmt.Errorf("measuring the nodes: %w", n.err)
	}
	return n.cluster, n.at, nil
}

// measureNodesLocked starts a measurement, with n.mu held. It runs on the
// Console's lifetime, not a request's: a page that stops waiting leaves
// it to the pages after it.
func (c *Console) measureNodesLocked() {
	n := &c.nodeSizes
	n.measuring = make(chan struct{})
	c.fleet.wg.Go(func() {
		ctx, cancel := context.WithTimeout(c.fleet.ctx, measureTimeout)
		defer cancel()
		cl, err := c.st.Tenancy().Cluster(ctx)
		n.mu.Lock()
		defer n.mu.Unlock()
		switch {
		case err == nil:
			n.cluster, n.at, n.err = cl, time.Now(), nil
		case n.at.IsZero():
			n.err = err // for the pages waiting for the first figures
		default:
			// The pages go on showing the last figures, with their
			// time; the next page past maxAge tries again.
			c.log.ErrorContext(ctx, "admin: measuring the nodes failed", slog.Any("error", err))
		}
		close(n.measuring)
		n.measuring = nil
	})
}
