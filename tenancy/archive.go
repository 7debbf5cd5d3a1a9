package tenancy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ArchiveFormat is the version of the archive Export writes and the only
// one Import reads. A change to the archive's layout or to the meaning of a
// field is a new format; Import refuses every other.
const ArchiveFormat = 1

// The archive is a gzip-compressed tar stream (`tar tzf` lists it), its
// entries in this order, each at most archiveChunk bytes long:
//
//	manifest.json      the format, the tenant, its version and migrations,
//	                   its tables in load order (archiveManifest)
//	schema.json        the schema's definition from the catalog (Describe)
//	                   and its sequences' positions
//	extra              the caller's bytes (ExportOptions.Extra), maybe none
//	data/TTTT/CCCCCC   table TTTT's rows in COPY text format, chunk CCCCCC
//	checksums.json     row counts and SHA-256 of each table's data and of
//	                   the entries above (archiveChecksums)
//
// Tar wants each entry's size before its bytes, so a table's COPY stream
// is cut into chunks that Export holds in memory one at a time: what bounds
// the exporting process's memory, whatever the tenant's size. The checksums
// come last because they are known only once the data is written; Import
// verifies them before it commits, so a file cut short, corrupted or edited
// anywhere (but in the checksums themselves, together with what they
// cover) is refused with nothing left behind. The checksums detect damage,
// not a forger: anyone can rewrite them, so an archive is as trustworthy as
// where it was kept.
const (
	entryManifest  = "manifest.json"
	entrySchema    = "schema.json"
	entryExtra     = "extra"
	entryChecksums = "checksums.json"
	dataPrefix     = "data/"
	archiveChunk   = 1 << 20
)

// archiveManifest is manifest.json.
type archiveManifest struct {
	Format     int                `json:"format"`
	Tenant     uuid.UUID          `json:"tenant"`
	Schema     string             `json:"schema"`
	Version    int32              `json:"version"`
	Migrations []ArchiveMigration `json:"migrations"`
	Tables     []string           `json:"tables"`
	ExportedAt time.Time          `json:"exported_at"`
}

// ArchiveMigration is one applied migration as the archive records it:
// the source's ledger row.
type ArchiveMigration struct {
	Version    int32     `json:"version"`
	Name       string    `json:"name"`
	Checksum   string    `json:"checksum"`
	AppliedAt  time.Time `json:"applied_at"`
	DurationUS int64     `json:"duration_us"`
}

// archiveSchema is schema.json: the schema's structure as Describe gives
// it, and its sequences' positions. Import never runs SQL from an archive:
// it builds the structure from its own migrations, checks it against
// Definition, and sets the positions by parameter.
type archiveSchema struct {
	Definition []string           `json:"definition"`
	Sequences  []sequencePosition `json:"sequences"`
}

// archiveChecksums is checksums.json.
type archiveChecksums struct {
	Tables  []TableData       `json:"tables"`
	Entries map[string]string `json:"entries"` // entry name → SHA-256, hex
}

// TableData is what an archive holds of one table: its rows, the bytes of
// their COPY text and its SHA-256 (hex).
type TableData struct {
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ArchiveInfo describes an archive: what Export wrote, what Import read.
type ArchiveInfo struct {
	// Source is the tenant the archive was exported from.
	Source uuid.UUID
	// Tenant is the tenant Import made: Source, or ImportOptions.ID.
	// Export leaves it Source.
	Tenant uuid.UUID
	// Version is the source's version when exported.
	Version int32
	// Migrations are the source's applied migrations.
	Migrations []ArchiveMigration
	// Tables are the data the archive holds, in load order.
	Tables []TableData
	// Extra is ExportOptions.Extra's bytes.
	Extra []byte
	// ExportedAt is when the export's snapshot was taken, by the server's
	// clock.
	ExportedAt time.Time
}

// ExportOptions configures Export.
type ExportOptions struct {
	// Extra, when set, returns bytes the archive carries for the caller
	// (a registry row, as JSON), read in the export's transaction and
	// snapshot: what Import hands to its Hook.
	Extra func(ctx context.Context, tx pgx.Tx) ([]byte, error)
}

// Export writes tenant id to w as one archive (see ArchiveFormat): its
// ledger rows, its schema's definition read from the catalog and every
// table's rows, from one REPEATABLE READ snapshot, so a tenant that keeps
// taking writes is exported as it was at one instant. It holds the
// tenant's ledger row FOR SHARE, so a migration of the tenant waits for
// the export, and an export that started during one begins again once it
// committed. Memory stays bounded by one chunk of a table's data.
func (m *Manager) Export(ctx context.Context, id uuid.UUID, w io.Writer, opts ExportOptions) (*ArchiveInfo, error) {
	schema := m.SchemaName(id)
	for attempt := 0; ; attempt++ {
		info, err := m.export(ctx, id, w, opts)
		var pgErr *pgconn.PgError
		// 40001: the ledger row changed after the snapshot was taken, a
		// migration that committed meanwhile. Nothing was written to w
		// before the ledger row was locked.
		if errors.As(err, &pgErr) && pgErr.Code == "40001" && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tenancy: export %s: %w", schema, err)
		}
		return info, nil
	}
}

func (m *Manager) export(ctx context.Context, id uuid.UUID, w io.Writer, opts ExportOptions) (*ArchiveInfo, error) {
	// Not READ ONLY, which refuses FOR SHARE; nothing is written.
	tx, err := m.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) // nothing to keep
	schema := m.SchemaName(id)
	man := archiveManifest{Format: ArchiveFormat, Tenant: id, Schema: schema}
	err = tx.QueryRow(ctx, "SELECT version, now() FROM "+m.tenantsTbl+" WHERE tenant_id = $1 FOR SHARE", id).
		Scan(&man.Version, &man.ExportedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrTenantNotFound
	}
	if err != nil {
		return nil, wrapErr("read ledger", schema, err)
	}
	rows, err := tx.Query(ctx, "SELECT version, name, checksum, applied_at, duration_us FROM "+m.migTbl+
		" WHERE tenant_id = $1 ORDER BY version", id)
	if err != nil {
		return nil, err
	}
	man.Migrations, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ArchiveMigration])
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	def, err := readSchema(ctx, tx, schema)
	if err != nil {
		return nil, err
	}
	if man.Tables, err = listRelations(ctx, tx, schema, 'r'); err != nil {
		return nil, err
	}
	var extra []byte
	if opts.Extra != nil {
		if extra, err = opts.Extra(ctx, tx); err != nil {
			return nil, fmt.Errorf("extra: %w", err)
		}
	}

	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	aw := &archiveWriter{tw: tar.NewWriter(gz), at: man.ExportedAt, sums: map[string]string{}}
	if err := aw.json(entryManifest, man); err != nil {
		return nil, err
	}
	if err := aw.json(entrySchema, def); err != nil {
		return nil, err
	}
	if err := aw.entry(entryExtra, extra); err != nil {
		return nil, err
	}
	info := &ArchiveInfo{Source: id, Tenant: id, Version: man.Version, Migrations: man.Migrations,
		Extra: extra, ExportedAt: man.ExportedAt}
	for i, table := range man.Tables {
		cw := &chunkWriter{aw: aw, dir: fmt.Sprintf("%s%04d/", dataPrefix, i), h: sha256.New()}
		tag, err := tx.Conn().PgConn().CopyTo(ctx, cw, "COPY "+pgx.Identifier{schema, table}.Sanitize()+" TO STDOUT")
		if err == nil {
			err = cw.flush()
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", table, err)
		}
		info.Tables = append(info.Tables, TableData{Table: table, Rows: tag.RowsAffected(), Bytes: cw.bytes,
			SHA256: hex.EncodeToString(cw.h.Sum(nil))})
	}
	if err := aw.json(entryChecksums, archiveChecksums{Tables: info.Tables, Entries: aw.sums}); err != nil {
		return nil, err
	}
	if err := aw.tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return info, nil
}

// archiveWriter writes an archive's entries, remembering the SHA-256 of
// each but the data chunks (whose checksums are per table).
type archiveWriter struct {
	tw   *tar.Writer
	at   time.Time
	sums map[string]string
}

func (aw *archiveWriter) json(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return aw.entry(name, b)
}

func (aw *archiveWriter) entry(name string, b []byte) error {
	if !strings.HasPrefix(name, dataPrefix) {
		sum := sha256.Sum256(b)
		aw.sums[name] = hex.EncodeToString(sum[:])
	}
	if err := aw.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(b)), Mode: 0o644, ModTime: aw.at}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := aw.tw.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// chunkWriter cuts one table's COPY stream into entries of archiveChunk
// bytes under dir, hashing it whole.
type chunkWriter struct {
	aw     *archiveWriter
	dir    string
	buf    []byte
	chunks int
	bytes  int64
	h      hash.Hash
}

func (cw *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	cw.h.Write(p)
	cw.bytes += int64(n)
	for len(p) > 0 {
		take := min(len(p), archiveChunk-len(cw.buf))
		cw.buf = append(cw.buf, p[:take]...)
		p = p[take:]
		if len(cw.buf) == archiveChunk {
			if err := cw.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush writes what is buffered as the next chunk, if anything is.
func (cw *chunkWriter) flush() error {
	if len(cw.buf) == 0 {
		return nil
	}
	err := cw.aw.entry(fmt.Sprintf("%s%06d", cw.dir, cw.chunks), cw.buf)
	cw.chunks++
	cw.buf = cw.buf[:0]
	return err
}

// ImportOptions configures Import.
type ImportOptions struct {
	// ID is the tenant to import as; uuid.Nil imports as the archive's
	// own tenant.
	ID uuid.UUID
	// Hook runs in the import's transaction once the archive's manifest,
	// definition and extra bytes are read and checked, before its data is
	// loaded, so that the caller's registry row lives and dies with the
	// schema, and a conflict there (a registry row of that name) costs no
	// loading. It sees the connection's own search_path. An error from it
	// rolls everything back.
	Hook func(ctx context.Context, tx pgx.Tx, info *ArchiveInfo) error
}

// Import reads an archive Export wrote and makes its tenant, as
// ImportOptions.ID or as the archive's own, all in one transaction: the
// schema under a temporary name, its definition, its data, then the
// checksums verified, the schema renamed to the tenant's name and the
// ledger rows recorded. An archive behind the Manager's migrations is
// brought up to the latest in that same transaction. It reads the archive
// once, front to back, holding one chunk at a time.
//
// It returns ErrBadArchive for a file that is not an archive, is cut
// short, corrupt, altered or of another format; ErrIncompatibleArchive
// for one whose migrations this Manager does not have (it is ahead, or a
// migration of the same version differs); ErrTenantExists when the tenant
// exists. In every case nothing is left behind.
func (m *Manager) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*ArchiveInfo, error) {
	gz, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("tenancy: import: %w: not gzip: %w", ErrBadArchive, err)
	}
	ar := &archiveReader{gz: gz, tr: tar.NewReader(gz), sums: map[string]string{}}
	var man archiveManifest
	if err := ar.json(entryManifest, &man); err != nil {
		return nil, fmt.Errorf("tenancy: import: %w", err)
	}
	if man.Format != ArchiveFormat {
		return nil, fmt.Errorf("tenancy: import: %w: format %d, this release reads format %d", ErrBadArchive, man.Format, ArchiveFormat)
	}
	if err := m.compatible(man); err != nil {
		return nil, fmt.Errorf("tenancy: import: %w", err)
	}
	id := man.Tenant
	if opts.ID != uuid.Nil {
		id = opts.ID
	}
	info, err := m.importTx(ctx, ar, man, id, opts)
	if err != nil {
		return nil, fmt.Errorf("tenancy: import %s: %w", m.SchemaName(id), err)
	}
	return info, nil
}

// compatible checks that man's migrations are a prefix of the Manager's,
// version by version, with the same names and checksums.
func (m *Manager) compatible(man archiveManifest) error {
	if int(man.Version) != len(man.Migrations) {
		return fmt.Errorf("%w: version %d with %d migrations recorded", ErrBadArchive, man.Version, len(man.Migrations))
	}
	if man.Version > m.LatestVersion() {
		return fmt.Errorf("%w: the archive is at version %d, this Manager knows %d migrations: upgrade before importing it",
			ErrIncompatibleArchive, man.Version, m.LatestVersion())
	}
	for i, am := range man.Migrations {
		mg := m.migrations[i]
		if am.Version != mg.Version || am.Name != mg.Name || am.Checksum != mg.Checksum {
			return fmt.Errorf("%w: the archive's migration %d is %s (checksum %s), this Manager's is %s (checksum %s)",
				ErrIncompatibleArchive, am.Version, am.Name, am.Checksum, mg.Name, mg.Checksum)
		}
	}
	return nil
}

// readSchema reads schema.json's content for schema in tx: its structure
// and its sequences' positions. Positions read after the snapshot are at
// or past every value the snapshot's rows hold.
func readSchema(ctx context.Context, tx pgx.Tx, schema string) (archiveSchema, error) {
	var def archiveSchema
	var err error
	if def.Definition, err = DescribeSchema(ctx, tx, schema); err != nil {
		return def, err
	}
	names, err := listRelations(ctx, tx, schema, 'S')
	if err != nil {
		return def, err
	}
	def.Sequences, err = readSequencePositions(ctx, tx, schema, names)
	if err != nil {
		return def, err
	}
	return def, nil
}

// listRelations lists the relations of kind (pg_class.relkind) in schema,
// by name in byte order.
func listRelations(ctx context.Context, tx pgx.Tx, schema string, kind byte) ([]string, error) {
	var names []string
	if err := tx.QueryRow(ctx, "SELECT coalesce(array_agg(relname::text ORDER BY relname COLLATE \"C\"), '{}') FROM pg_class"+
		" WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND relkind = $2", schema, string(kind)).Scan(&names); err != nil {
		return nil, fmt.Errorf("list the relations of kind %c: %w", kind, err)
	}
	return names, nil
}

// importSchemaName is a fresh temporary name for an import's schema under
// prefix: like a pool member's, never a tenant's (ParseSchemaName refuses
// it), and unique, so concurrent imports never meet.
func importSchemaName(prefix string) (string, error) {
	b := make([]byte, memberHexLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + "import_" + hex.EncodeToString(b)[:memberHexLen-2], nil
}

// importTx is Import's transaction; ar is past the manifest.
//
// The archive's structure is never run: a scratch schema is made from the
// Manager's own migrations up to the archive's version, described and
// compared with the archive's description, and the clone plan read from
// it (see Clone) makes the tenant's schema, under a temporary name, in
// two halves around the data: tables first, then the rows by COPY, then
// constraints, indexes, foreign keys and triggers, so that indexes are
// built once instead of row by row, and no trigger fires on the rows.
func (m *Manager) importTx(ctx context.Context, ar *archiveReader, man archiveManifest, id uuid.UUID, opts ImportOptions) (*ArchiveInfo, error) {
	var def archiveSchema
	if err := ar.json(entrySchema, &def); err != nil {
		return nil, err
	}
	extra, err := ar.entry(entryExtra)
	if err != nil {
		return nil, err
	}
	info := &ArchiveInfo{Source: man.Tenant, Tenant: id, Version: man.Version, Migrations: man.Migrations,
		Extra: extra, ExportedAt: man.ExportedAt}

	tx, err := m.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	schema := m.SchemaName(id)
	var callerPath string
	// The ledger row first, as Create does: a concurrent import or create
	// of the same tenant waits on its unique index and fails cleanly.
	if err := tx.QueryRow(ctx, "INSERT INTO "+m.tenantsTbl+" (tenant_id, schema_name, version) VALUES ($1, $2, $3)"+
		" RETURNING current_setting('search_path')", id, schema, man.Version).Scan(&callerPath); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return nil, ErrTenantExists
		}
		return nil, fmt.Errorf("ledger: %w", err)
	}
	scratch, err := importSchemaName(m.prefix)
	if err != nil {
		return nil, err
	}
	temp, err := importSchemaName(m.prefix)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{scratch}.Sanitize()); err != nil {
		return nil, err
	}
	if _, err := m.runMigrations(ctx, tx, scratch, m.migrations[:man.Version]); err != nil {
		return nil, err
	}
	made, err := DescribeSchema(ctx, tx, scratch)
	if err != nil {
		return nil, err
	}
	if diff := firstDifference(def.Definition, made); diff != "" {
		return nil, fmt.Errorf("%w: its schema is not what its migrations make here (%s)", ErrIncompatibleArchive, diff)
	}
	tables, err := listRelations(ctx, tx, scratch, 'r')
	if err != nil {
		return nil, err
	}
	if !slices.Equal(man.Tables, tables) {
		return nil, fmt.Errorf("%w: the manifest lists the tables %q, its schema has %q", ErrBadArchive, man.Tables, tables)
	}
	p, err := readClonePlan(ctx, tx, scratch, temp)
	if err != nil {
		return nil, err
	}
	if opts.Hook != nil {
		if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true)", callerPath); err != nil {
			return nil, err
		}
		if err := opts.Hook(ctx, tx, info); err != nil {
			return nil, fmt.Errorf("hook: %w", err)
		}
	}
	settings, err := m.ddlSettings(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := p.buildBeforeRows(ctx, tx, temp, settings); err != nil {
		return nil, err
	}
	for i, table := range man.Tables {
		dr := &dataReader{ar: ar, dir: fmt.Sprintf("%s%04d/", dataPrefix, i), h: sha256.New()}
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, dr, "COPY "+pgx.Identifier{temp, table}.Sanitize()+" FROM STDIN")
		if dr.err != nil {
			return nil, dr.err // the archive's fault, whatever COPY made of it
		}
		if err != nil {
			return nil, fmt.Errorf("%w: table %s: %w", ErrBadArchive, table, err)
		}
		info.Tables = append(info.Tables, TableData{Table: table, Rows: tag.RowsAffected(), Bytes: dr.bytes,
			SHA256: hex.EncodeToString(dr.h.Sum(nil))})
	}
	if err := p.buildAfterRows(ctx, tx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadArchive, err) // the rows break a constraint
	}
	if err := setPositions(ctx, tx, temp, def.Sequences, p.sequenceNames); err != nil {
		return nil, err
	}
	if err := ar.verify(info.Tables); err != nil {
		return nil, err
	}
	if err := ar.drain(); err != nil {
		return nil, err
	}
	var b pgx.Batch
	b.Queue("DROP SCHEMA " + pgx.Identifier{scratch}.Sanitize() + " CASCADE")
	b.Queue("ALTER SCHEMA " + pgx.Identifier{temp}.Sanitize() + " RENAME TO " + pgx.Identifier{schema}.Sanitize())
	for _, am := range man.Migrations {
		b.Queue("INSERT INTO "+m.migTbl+" (tenant_id, version, name, checksum, applied_at, duration_us) VALUES ($1, $2, $3, $4, $5, $6)",
			id, am.Version, am.Name, am.Checksum, am.AppliedAt, am.DurationUS)
	}
	b.Queue("SELECT set_config('search_path', $1, true), set_config('check_function_bodies', $2, true)", callerPath, p.checkBodies)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("rename and record: %w", err)
	}
	if rest := m.migrations[man.Version:]; len(rest) > 0 {
		if err := m.apply(ctx, tx, id, schema, callerPath, rest); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return info, nil
}

// firstDifference names the first line in which two descriptions differ,
// "" when they are the same.
func firstDifference(archive, here []string) string {
	for i := range max(len(archive), len(here)) {
		switch {
		case i >= len(archive):
			return fmt.Sprintf("here, not in the archive: %q", here[i])
		case i >= len(here):
			return fmt.Sprintf("in the archive, not here: %q", archive[i])
		case archive[i] != here[i]:
			return fmt.Sprintf("the archive has %q where here is %q", archive[i], here[i])
		}
	}
	return ""
}

// setPositions sets each sequence of the archive where it was, by
// parameter; the archive must name exactly the sequences the plan made.
func setPositions(ctx context.Context, tx pgx.Tx, schema string, pos []sequencePosition, made []string) error {
	names := make([]string, len(pos))
	for i, p := range pos {
		names[i] = p.Name
	}
	if !slices.Equal(names, slices.Sorted(slices.Values(made))) {
		return fmt.Errorf("%w: the archive has the positions of sequences %v, its schema has %v", ErrBadArchive, names, made)
	}
	if err := setSequencePositions(ctx, tx, schema, pos); err != nil {
		return fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	return nil
}

// archiveReader reads an archive's entries in order, hashing them; a
// header read past the end of a table's data waits in next.
type archiveReader struct {
	gz   *gzip.Reader
	tr   *tar.Reader
	next *tar.Header
	sums map[string]string
}

// header returns the next entry's header, or ErrBadArchive at the end.
func (ar *archiveReader) header() (*tar.Header, error) {
	if h := ar.next; h != nil {
		ar.next = nil
		return h, nil
	}
	h, err := ar.tr.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the archive ends early", ErrBadArchive)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	if h.Typeflag != tar.TypeReg || h.Size < 0 || h.Size > archiveChunk {
		return nil, fmt.Errorf("%w: entry %q is not a file of at most %d bytes", ErrBadArchive, h.Name, archiveChunk)
	}
	return h, nil
}

// entry reads the next entry, which must be named name.
func (ar *archiveReader) entry(name string) ([]byte, error) {
	h, err := ar.header()
	if err != nil {
		return nil, err
	}
	if h.Name != name {
		return nil, fmt.Errorf("%w: entry %q where %q belongs", ErrBadArchive, h.Name, name)
	}
	b, err := io.ReadAll(ar.tr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadArchive, name, err)
	}
	sum := sha256.Sum256(b)
	ar.sums[name] = hex.EncodeToString(sum[:])
	return b, nil
}

func (ar *archiveReader) json(name string, v any) error {
	b, err := ar.entry(name)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadArchive, name, err)
	}
	return nil
}

// verify reads checksums.json, the last entry, and compares it with what
// was read: each table's rows, bytes and SHA-256, and every other entry's
// SHA-256.
func (ar *archiveReader) verify(tables []TableData) error {
	var want archiveChecksums
	if err := ar.json(entryChecksums, &want); err != nil {
		return err
	}
	if len(want.Tables) != len(tables) {
		return fmt.Errorf("%w: checksums of %d tables, %d read", ErrBadArchive, len(want.Tables), len(tables))
	}
	for i, t := range tables {
		if want.Tables[i] != t {
			return fmt.Errorf("%w: table %s: read %d rows, %d bytes, SHA-256 %s; the archive recorded %d rows, %d bytes, SHA-256 %s",
				ErrBadArchive, t.Table, t.Rows, t.Bytes, t.SHA256, want.Tables[i].Rows, want.Tables[i].Bytes, want.Tables[i].SHA256)
		}
	}
	delete(ar.sums, entryChecksums)
	if len(want.Entries) != len(ar.sums) {
		return fmt.Errorf("%w: checksums of %d entries, %d read", ErrBadArchive, len(want.Entries), len(ar.sums))
	}
	for name, sum := range ar.sums {
		if want.Entries[name] != sum {
			return fmt.Errorf("%w: entry %s does not match its checksum", ErrBadArchive, name)
		}
	}
	if _, err := ar.tr.Next(); err != io.EOF {
		return fmt.Errorf("%w: entries after %s", ErrBadArchive, entryChecksums)
	}
	return nil
}

// drain reads the stream to its end, so that gzip checks its CRC and
// length: the checksums covered every entry, this catches damage in what
// follows them.
func (ar *archiveReader) drain() error {
	if _, err := io.Copy(io.Discard, ar.gz); err != nil {
		return fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	return nil
}

// dataReader reads one table's chunks, in order, as one stream for COPY
// FROM, hashing it; it stops at the first entry that is not the next of
// its chunks and leaves that entry to the archiveReader. An error of the
// archive's is kept in err, since COPY reports a reader's error as its own.
type dataReader struct {
	ar     *archiveReader
	dir    string
	chunks int
	open   bool // inside a chunk
	done   bool
	bytes  int64
	h      hash.Hash
	err    error
}

func (dr *dataReader) Read(p []byte) (int, error) {
	for !dr.done {
		if dr.open {
			n, err := dr.ar.tr.Read(p)
			dr.h.Write(p[:n])
			dr.bytes += int64(n)
			if err == io.EOF {
				dr.open = false
				if n > 0 {
					return n, nil
				}
				continue
			}
			if err != nil {
				dr.err = fmt.Errorf("%w: %w", ErrBadArchive, err)
				return n, dr.err
			}
			return n, nil
		}
		h, err := dr.ar.header()
		if err != nil {
			dr.err = err
			return 0, err
		}
		if !strings.HasPrefix(h.Name, dr.dir) {
			dr.ar.next, dr.done = h, true
			break
		}
		if want := fmt.Sprintf("%s%06d", dr.dir, dr.chunks); h.Name != want {
			dr.err = fmt.Errorf("%w: entry %q where %q belongs", ErrBadArchive, h.Name, want)
			return 0, dr.err
		}
		dr.chunks++
		dr.open = true
	}
	return 0, io.EOF
}
