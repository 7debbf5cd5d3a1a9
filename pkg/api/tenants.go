package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// CentersChannel is the channel on which public.centers' trigger (migration
// public/002) notifies the id of every center updated or deleted.
const CentersChannel = "tenantctl_centers"

// centerCache remembers which centers were found active, for the tenant
// resolver. It is only a fast path: every sample operation re-checks, in its
// own transaction, that the center is active (package domain), so a stale
// entry can never expose a deleted center's samples.
type centerCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[uuid.UUID]time.Time // expiry of each active center
	gen uint64                  // bumped by every eviction
}

// maxCachedCenters bounds the cache; past it, it starts over.
const maxCachedCenters = 10000

func newCenterCache(ttl time.Duration) *centerCache {
	return &centerCache{ttl: ttl, m: map[uuid.UUID]time.Time{}}
}

func (c *centerCache) lookup(id uuid.UUID) (hit bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.m[id]
	if ok && time.Now().Before(exp) {
		return true, c.gen
	}
	delete(c.m, id)
	return false, c.gen
}

// put caches id unless an eviction happened since lookup returned gen: the
// database read may predate the change that caused it.
func (c *centerCache) put(id uuid.UUID, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= maxCachedCenters {
		clear(c.m)
	}
	c.m[id] = time.Now().Add(c.ttl)
}

func (c *centerCache) evict(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	c.gen++
}

func (c *centerCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.gen++
}

// resolveCenter is the tenant middleware's Resolver: key must be a center
// id (canonical UUID) of an existing, active center. Anything else is
// tenancy.ErrTenantNotFound or ErrInvalidName, answered 404.
func (s *Server) resolveCenter(ctx context.Context, key string) (uuid.UUID, error) {
	id, err := tenancy.ParseID(key)
	if err != nil {
		return uuid.Nil, err
	}
	hit, gen := s.centers.lookup(id)
	if hit {
		return id, nil
	}
	c, err := s.st.Centers.Get(ctx, id)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && !c.IsActive) {
		return uuid.Nil, fmt.Errorf("%w: center %s", tenancy.ErrTenantNotFound, id)
	}
	if err != nil {
		return uuid.Nil, err
	}
	s.centers.put(id, gen)
	return id, nil
}

// Listen keeps the center cache in step with other processes: it LISTENs
// on CentersChannel over a connection of its own (Config.ListenConnString,
// which must reach PostgreSQL directly) and evicts every center notified. Whenever it (re)connects it flushes the whole cache, since
// notifications sent while it was away are lost. It returns when ctx ends;
// connection failures are logged and retried with backoff.
func (s *Server) Listen(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		started := time.Now()
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.centers.flush()
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "center listener lost; reconnecting",
			slog.Any("error", err), slog.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (s *Server) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.listenCC.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Through PgBouncer's transaction pooling LISTEN would succeed on some
	// server connection and then nothing would ever arrive: a silent
	// failure, unless refused here.
	if err := db.RequireDirect(ctx, conn); err != nil {
		return fmt.Errorf("center listener (set Config.ListenConnString / --listen-database-url): %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{CentersChannel}.Sanitize()); err != nil {
		return err
	}
	s.centers.flush()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id, err := uuid.Parse(n.Payload); err == nil {
			s.centers.evict(id)
		} else {
			s.centers.flush()
		}
	}
}
