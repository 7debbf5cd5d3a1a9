package tenancy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A pool member's schema is the Manager's prefix, memberInfix and
// memberHexLen random hex digits: as long as a tenant's name, so that any
// valid prefix leaves room for it, and never a tenant's, whose 32 digits
// after the prefix are all hex (ParseSchemaName refuses "pool_…", so
// resolving a tenant can never reach a member). Another prefix cannot
// claim the name either: a prefix ends in "_", and after "pool_" only hex
// follows.
const (
	memberInfix  = "pool_"
	memberHexLen = 27
)

// Creating and draining work through the pool in transactions of at most
// this many members, so that one transaction never holds the locks of
// hundreds of schemas' objects (the server's lock table is shared and
// finite) and a refill interrupted by a crash loses little.
const poolChunk = 10

// poolTables are the warm pool's ledger tables (quoted, schema-qualified)
// and the statements over them that run often enough to be built once.
type poolTables struct {
	// members holds one row per member: its schema, the prefix of the
	// Manager that made it, its version.
	members string
	// migrations is tenancy_migrations for members, keyed by schema name.
	migrations string
	// fill holds one row per prefix, locked by each refill transaction so
	// that concurrent refills take turns instead of overshooting.
	fill string

	claimSQL string
}

func newPoolTables(ledger, tenantsTbl, migTbl string) poolTables {
	p := poolTables{
		members:    pgx.Identifier{ledger, "tenancy_pool"}.Sanitize(),
		migrations: pgx.Identifier{ledger, "tenancy_pool_migrations"}.Sanitize(),
		fill:       pgx.Identifier{ledger, "tenancy_pool_fill"}.Sanitize(),
	}
	// The claim is one statement: it takes the oldest ready member that no
	// other transaction holds (SKIP LOCKED, so concurrent Creates take
	// different members without waiting on each other), deletes its row,
	// and inserts the tenant's ledger row and migration records copied from
	// the member's. The foreign key of the records on the tenant's row is
	// checked at the end of the statement, when both exist; the member's
	// records are read from the statement's snapshot, before its row's
	// delete cascades to them. $1 tenant id, $2 its schema, $3 prefix, $4
	// the latest version.
	p.claimSQL = `WITH member AS (
	DELETE FROM ` + p.members + ` WHERE schema_name = (
		SELECT schema_name FROM ` + p.members + ` WHERE prefix = $3 AND version = $4
		ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING schema_name, version, migrated_at
), tenant AS (
	INSERT INTO ` + tenantsTbl + ` (tenant_id, schema_name, version, migrated_at)
	SELECT $1, $2, version, migrated_at FROM member
), applied AS (
	INSERT INTO ` + migTbl + ` (tenant_id, version, name, checksum, applied_at, duration_us)
	SELECT $1, g.version, g.name, g.checksum, g.applied_at, g.duration_us
	FROM ` + p.migrations + ` g JOIN member USING (schema_name)
)
SELECT schema_name FROM member`
	return p
}

// ddl creates the pool's tables if missing; Setup runs it. They are new
// tables, so a ledger of an earlier release gains them without a change to
// its own.
func (p poolTables) ddl() string {
	return `
CREATE TABLE IF NOT EXISTS ` + p.members + ` (
	schema_name text PRIMARY KEY,
	prefix text NOT NULL,
	version integer NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	migrated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tenancy_pool_claim_idx ON ` + p.members + ` (prefix, version, created_at);
CREATE TABLE IF NOT EXISTS ` + p.migrations + ` (
	schema_name text NOT NULL REFERENCES ` + p.members + ` ON DELETE CASCADE,
	version integer NOT NULL,
	name text NOT NULL,
	checksum text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	duration_us bigint NOT NULL,
	PRIMARY KEY (schema_name, version)
);
CREATE TABLE IF NOT EXISTS ` + p.fill + ` (prefix text PRIMARY KEY)`
}

// PoolSize is Config.PoolSize: how many ready members FillPool keeps.
func (m *Manager) PoolSize() int { return m.poolSize }

// IsPoolMember reports whether schema is named as the Manager's pool
// members are (whether or not it exists).
func (m *Manager) IsPoolMember(schema string) bool {
	digits, ok := strings.CutPrefix(schema, m.prefix+memberInfix)
	return ok && len(digits) == memberHexLen && isLowerHex(digits)
}

// newMemberName returns a fresh member name: 108 random bits, so that two
// refills never pick the same one.
func (m *Manager) newMemberName() string {
	var b [(memberHexLen + 1) / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	return m.prefix + memberInfix + hex.EncodeToString(b[:])[:memberHexLen]
}

// queueClaim queues the claim of a member for tenant id on b; once b is
// sent, member holds the claimed schema, or "" when no member at the latest
// version was free.
func (m *Manager) queueClaim(b *pgx.Batch, id uuid.UUID, member *string) {
	b.Queue(m.warm.claimSQL, id, m.SchemaName(id), m.prefix, m.LatestVersion()).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(member); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
}

// renameMember gives the claimed member its tenant's name. Tables, indexes,
// sequences and functions refer to each other by oid, and the migrations'
// SQL is unqualified, so the schema works unchanged under its new name; a
// name the migrations write into text (a function's SET search_path, a
// comment) would keep the member's, which is why migrations must not.
func (m *Manager) renameMember(ctx context.Context, tx pgx.Tx, id uuid.UUID, member string) error {
	schema := m.SchemaName(id)
	if _, err := tx.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{member}.Sanitize()+" RENAME TO "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return wrapErr("create", schema, err)
	}
	return nil
}

// wakeRefill tells KeepPoolFilled that a Create took a member or found none.
func (m *Manager) wakeRefill() {
	if m.poolSize == 0 {
		return
	}
	select {
	case m.refill <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// FillPool creates pool members until Config.PoolSize of them are ready
// (at the latest version), and returns how many it created. Members at
// another version do not count: Migrate brings those behind forward, and
// those ahead belong to a newer release.
//
// It works in transactions of a few members each, each under the row lock
// of the prefix in the ledger's tenancy_pool_fill (a row lock, not an
// advisory lock, so that it works behind PgBouncer in transaction pooling
// mode): a concurrent FillPool, in this process or another, waits for that
// transaction, then counts the members again, so together they never
// create more than the pool lacks. Claims take no such lock and never wait
// for a refill. An error stops it; the members of the transactions already
// committed stay.
func (m *Manager) FillPool(ctx context.Context) (created int, err error) {
	for m.poolSize > 0 {
		n, more, err := m.fillChunk(ctx)
		created += n
		if err != nil || !more {
			return created, err
		}
	}
	return created, nil
}

// fillChunk creates up to poolChunk of the members missing in one
// transaction, and reports whether more are missing. BEGIN, the lock and
// the count travel in one round trip; the count is a statement of its own,
// after the lock, so that it sees the members of the refill it waited for.
func (m *Manager) fillChunk(ctx context.Context) (created int, more bool, err error) {
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{})
	b.Queue("INSERT INTO "+m.warm.fill+" (prefix) VALUES ($1) ON CONFLICT (prefix) DO UPDATE SET prefix = excluded.prefix", m.prefix)
	var ready int
	b.Queue("SELECT count(*) FROM "+m.warm.members+" WHERE prefix = $1 AND version = $2", m.prefix, m.LatestVersion()).
		QueryRow(func(row pgx.Row) error { return row.Scan(&ready) })
	br := m.pool.SendBatch(ctx, &b)
	tx := br.Tx()
	defer tx.Rollback(ctx) // a no-op after Commit; otherwise the error that matters is returned below
	if err := br.Close(); err != nil {
		return 0, false, wrapErr("fill", "pool", err)
	}
	missing := m.poolSize - ready
	n := min(missing, poolChunk)
	if n <= 0 {
		return 0, false, nil // full: the rollback releases the lock
	}
	for range n {
		if err := m.createMember(ctx, tx); err != nil {
			return 0, false, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("tenancy: fill pool: commit: %w", err)
	}
	return n, missing > n, nil
}

// createMember makes one member in tx: its ledger row at the latest
// version, its schema, every migration and their records. It is a cold
// Create without a tenant; nothing runs after it in tx that reads
// search_path, so unlike Create it leaves the tenant's in place.
func (m *Manager) createMember(ctx context.Context, tx pgx.Tx) error {
	name := m.newMemberName()
	if _, err := tx.Exec(ctx, "INSERT INTO "+m.warm.members+" (schema_name, prefix, version) VALUES ($1, $2, $3)",
		name, m.prefix, m.LatestVersion()); err != nil {
		return wrapErr("fill pool: create", name, err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return wrapErr("fill pool: create", name, err)
	}
	return m.recordMember(ctx, tx, name, m.migrations)
}

// recordMember runs migs on member and records them in
// tenancy_pool_migrations.
func (m *Manager) recordMember(ctx context.Context, tx pgx.Tx, member string, migs []Migration) error {
	return m.runAndRecord(ctx, tx, member, migs, func(b *pgx.Batch, durations []int64) {
		queueRecordInto(b, m.warm.migrations+" (schema_name", member, migs, durations)
	})
}

// DrainPool drops the Manager's pool members, schemas and ledger rows, in
// transactions of a few each, and returns how many it dropped. It drops the
// members that existed when it started: one a concurrent Create is
// claiming (locked) is left to become a tenant, and one a refill makes
// meanwhile is kept, so stop KeepPoolFilled (or set PoolSize to 0) first
// to empty the pool for good.
func (m *Manager) DrainPool(ctx context.Context) (dropped int, err error) {
	rows, err := m.pool.Query(ctx, "SELECT schema_name FROM "+m.warm.members+" WHERE prefix = $1 ORDER BY schema_name", m.prefix)
	if err != nil {
		return 0, wrapErr("drain", "pool", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, wrapErr("drain", "pool", err)
	}
	for len(names) > 0 {
		k := min(poolChunk, len(names))
		n, err := m.dropMembers(ctx, names[:k])
		dropped += n
		if err != nil {
			return dropped, err
		}
		names = names[k:]
	}
	return dropped, nil
}

// dropMembers drops those of names that are still members and not held by
// another transaction, in one transaction, and returns how many.
func (m *Manager) dropMembers(ctx context.Context, names []string) (int, error) {
	var dropped int
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT schema_name FROM "+m.warm.members+
			" WHERE schema_name = ANY($1) FOR UPDATE SKIP LOCKED", names)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(locked) == 0 {
			return err
		}
		var drop strings.Builder
		for _, s := range locked {
			// IF EXISTS: a row whose schema is gone (Inspect's
			// missing-schema) is removed all the same.
			drop.WriteString("DROP SCHEMA IF EXISTS " + pgx.Identifier{s}.Sanitize() + " CASCADE;\n")
		}
		if _, err := tx.Exec(ctx, drop.String()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+m.warm.members+" WHERE schema_name = ANY($1)", locked); err != nil {
			return err
		}
		dropped = len(locked)
		return nil
	})
	if err != nil {
		return 0, wrapErr("drain", "pool", err)
	}
	return dropped, nil
}

// PoolMigration is what MigratePool did.
type PoolMigration struct {
	// Migrated counts the members brought to the latest version.
	Migrated int
	// Dropped counts the members whose migration failed and that were
	// dropped instead: a member holds no data, and the next refill makes a
	// new one at the latest version.
	Dropped int
}

// MigratePool brings the Manager's pool members that are behind to the
// latest version, each in its own transaction under its ledger row's lock,
// as Migrate does a tenant. A member whose migration fails is dropped, so
// that after MigratePool (and Migrate, which calls it) no member is left at
// an old version. Members ahead, made by a newer release, are left alone.
// An error is returned only when the ledger cannot be read, a failed member
// cannot be dropped, or ctx ends.
//
// Claims take only members at the latest version, so one being migrated is
// never claimed; should an older release's Create claim it first, its
// migration here finds the row gone and skips it.
func (m *Manager) MigratePool(ctx context.Context) (PoolMigration, error) {
	var pm PoolMigration
	rows, err := m.pool.Query(ctx, "SELECT schema_name, version FROM "+m.warm.members+
		" WHERE prefix = $1 AND version < $2 ORDER BY schema_name", m.prefix, m.LatestVersion())
	if err != nil {
		return pm, wrapErr("migrate", "pool", err)
	}
	type behind struct {
		schema  string
		version int32
	}
	var members []behind
	var b behind
	if _, err := pgx.ForEachRow(rows, []any{&b.schema, &b.version}, func() error {
		members = append(members, b)
		return nil
	}); err != nil {
		return pm, wrapErr("migrate", "pool", err)
	}
	for _, mb := range members {
		migrated, err := m.migrateMember(ctx, mb.schema, mb.version)
		switch {
		case err == nil:
			if migrated {
				pm.Migrated++
			}
		case ctx.Err() != nil:
			return pm, fmt.Errorf("tenancy: migrate pool: %w", err)
		default:
			m.log.Warn("pool member migration failed; dropping it", "schema", mb.schema, "version", mb.version, "error", err)
			n, derr := m.dropMembers(ctx, []string{mb.schema})
			pm.Dropped += n
			if derr != nil {
				return pm, fmt.Errorf("tenancy: migrate pool: %w", errors.Join(err, derr))
			}
		}
	}
	return pm, nil
}

// migrateMember migrates member from version from to the latest in one
// transaction: BEGIN pipelined with the UPDATE that locks its row and
// claims it only if it is still at from (else another migrator or a drain
// got there first, and it reports false); the files; their records;
// COMMIT.
func (m *Manager) migrateMember(ctx context.Context, member string, from int32) (bool, error) {
	tx, claimed, err := m.beginUpdate(ctx, "UPDATE "+m.warm.members+" SET version = $2, migrated_at = now() WHERE schema_name = $1 AND version = $3",
		member, m.LatestVersion(), from)
	if err != nil {
		return false, fmt.Errorf("tenancy: migrate %s: lock: %w", member, err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit; otherwise the error that matters is returned below
	if !claimed {
		return false, nil
	}
	if err := m.recordMember(ctx, tx, member, m.migrations[from:]); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("tenancy: migrate %s: commit: %w", member, err)
	}
	return true, nil
}

// KeepPoolFilled keeps the pool full until ctx ends: it calls FillPool at
// once, then every interval and whenever a Create of this Manager took a
// member or found the pool empty. It blocks; run it in a goroutine of its
// own and cancel ctx to stop it. It returns nil once ctx is done (after
// the FillPool in progress, whose open transaction rolls back with ctx,
// has returned), so no goroutine of it outlives the call. FillPool's
// errors do not stop it: each is logged to Config.Logger at Warn level and
// the next round tries again. With PoolSize 0 it returns nil at once; an
// interval that is not positive is an error.
//
// An application server starts it next to its listener:
//
//	go m.KeepPoolFilled(ctx, time.Minute) // returns when ctx is cancelled at shutdown
func (m *Manager) KeepPoolFilled(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("tenancy: KeepPoolFilled: interval %v is not positive", interval)
	}
	if m.poolSize == 0 {
		return nil
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if _, err := m.FillPool(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("pool refill failed", "prefix", m.prefix, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-m.refill:
		}
	}
}
