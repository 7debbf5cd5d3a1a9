package tenancy_test

// Export and Import: an archive restores the tenant it was made from,
// structure, rows, sequences and ledger, into the same or another ledger;
// a damaged, foreign or incompatible archive is refused and leaves
// nothing.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// archiveFixture is a tenant with rows in both test tables, among them
// notes large enough (10 of 320 KB) that their table's data spans several
// chunks.
type archiveFixture struct {
	m    *tenancy.Manager
	n    createNames
	pool *pgxpool.Pool
	id   uuid.UUID
}

func newArchiveFixture(t *testing.T) archiveFixture {
	t.Helper()
	pool := fleetPool(t, 4)
	n := newCreateNames(t, pool)
	f := archiveFixture{m: n.Manager(t, pool, &tenancy.Config{Migrations: testMigrations}), n: n, pool: pool, id: uuid.New()}
	if err := f.m.Create(t.Context(), f.id, n.registerHook(f.id)); err != nil {
		t.Fatal(err)
	}
	err := f.m.InTenant(t.Context(), f.id, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), `INSERT INTO items (tenant_marker, name)
			SELECT 'src', 'item ' || i || E' tab\t newline\n backslash\\ quote'' é' FROM generate_series(1, 1000) i;
			INSERT INTO notes (item_id, body)
			SELECT id, CASE WHEN id % 99 = 0 THEN repeat(md5(id::text), 10000) ELSE 'note of ' || name END FROM items WHERE id % 3 = 0;
			DELETE FROM items WHERE id = 999`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// export returns tenant id's archive.
func export(t *testing.T, m *tenancy.Manager, id uuid.UUID) []byte {
	t.Helper()
	var b bytes.Buffer
	info, err := m.Export(t.Context(), id, &b, tenancy.ExportOptions{
		Extra: func(context.Context, pgx.Tx) ([]byte, error) { return []byte(`{"name":"the registry row"}`), nil },
	})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if info.Source != id || info.Version != m.LatestVersion() || len(info.Tables) != 2 {
		t.Fatalf("Export = %+v", info)
	}
	return b.Bytes()
}

// contents is what a tenant holds that a copy must hold too: its rows,
// in order, and the next values its identities hand out.
func contents(t *testing.T, m *tenancy.Manager, id uuid.UUID) string {
	t.Helper()
	var s string
	err := m.InTenant(t.Context(), id, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT
			(SELECT string_agg(format('%s|%s|%s|%s', id, tenant_marker, md5(name), created_at), E'\n' ORDER BY id) FROM items) || E'\n' ||
			(SELECT string_agg(format('%s|%s|%s', id, item_id, md5(body)), E'\n' ORDER BY id) FROM notes) || E'\n' ||
			(SELECT format('next %s %s', nextval(pg_get_serial_sequence('items', 'id')), nextval(pg_get_serial_sequence('notes', 'id'))))`).Scan(&s)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ledgerOf is tenant id's version and applied migrations with checksums.
func ledgerOf(t *testing.T, pool *pgxpool.Pool, n createNames, id uuid.UUID) string {
	t.Helper()
	var s string
	err := pool.QueryRow(t.Context(), `SELECT t.version || ': ' || string_agg(g.version || ' ' || g.name || ' ' || g.checksum || ' ' || g.applied_at, ', ' ORDER BY g.version)
		FROM `+pgx.Identifier{n.Ledger, "tenancy_tenants"}.Sanitize()+` t JOIN `+pgx.Identifier{n.Ledger, "tenancy_migrations"}.Sanitize()+` g USING (tenant_id)
		WHERE t.tenant_id = $1 GROUP BY t.version`, id).Scan(&s)
	if err != nil {
		t.Fatalf("ledger of %s: %v", id, err)
	}
	return s
}

func describe(t *testing.T, m *tenancy.Manager, id uuid.UUID) []string {
	t.Helper()
	lines, err := m.Describe(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestExportImport: an archive imported as a new tenant, and as its own
// tenant into another ledger, gives the source's structure, rows,
// sequence positions and ledger, and hands its extra bytes to the hook.
func TestExportImport(t *testing.T) {
	t.Parallel()
	f := newArchiveFixture(t)
	ctx := t.Context()
	archive := export(t, f.m, f.id)
	want, wantDef, wantLedger := contents(t, f.m, f.id), describe(t, f.m, f.id), ledgerOf(t, f.pool, f.n, f.id)
	// contents drew a value from each sequence: the source is one ahead of
	// its archive now, which is what the copies must match below.
	if !slices.ContainsFunc(wantDef, func(l string) bool { return strings.HasPrefix(l, "relation items kind=r ") }) {
		t.Fatalf("Describe lacks the items table:\n%s", strings.Join(wantDef, "\n"))
	}

	check := func(t *testing.T, m *tenancy.Manager, pool *pgxpool.Pool, n createNames, id uuid.UUID) {
		t.Helper()
		if got := describe(t, m, id); !slices.Equal(got, wantDef) {
			t.Errorf("imported structure:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantDef, "\n"))
		}
		if got := contents(t, m, id); got != want {
			t.Errorf("imported rows differ from the source's (%d bytes vs %d)", len(got), len(want))
		}
		if got := strings.SplitN(ledgerOf(t, pool, n, id), ": ", 2)[1]; got != strings.SplitN(wantLedger, ": ", 2)[1] {
			t.Errorf("imported ledger %s, want %s", got, wantLedger)
		}
	}

	t.Run("as a new tenant", func(t *testing.T) {
		id := uuid.New()
		var hooked *tenancy.ArchiveInfo
		info, err := f.m.Import(ctx, bytes.NewReader(archive), tenancy.ImportOptions{ID: id,
			Hook: func(ctx context.Context, tx pgx.Tx, info *tenancy.ArchiveInfo) error {
				hooked = info
				_, err := tx.Exec(ctx, "INSERT INTO "+f.n.Registry+" (tenant_id, name) VALUES ($1, $2)", info.Tenant, string(info.Extra))
				return err
			}})
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		if hooked == nil || hooked.Tenant != id || hooked.Source != f.id || string(hooked.Extra) != `{"name":"the registry row"}` {
			t.Errorf("hook got %+v", hooked)
		}
		if info.Tables[0].Rows != 999 || info.Tables[1].Rows != 332 {
			t.Errorf("imported tables %+v, want 999 items and 332 notes", info.Tables)
		}
		check(t, f.m, f.pool, f.n, id)
	})

	t.Run("as itself into another ledger", func(t *testing.T) {
		n := newCreateNames(t, f.pool)
		m := n.Manager(t, f.pool, &tenancy.Config{Migrations: testMigrations})
		if _, err := m.Import(ctx, bytes.NewReader(archive), tenancy.ImportOptions{}); err != nil {
			t.Fatalf("Import: %v", err)
		}
		check(t, m, f.pool, n, f.id)
	})
}

// TestImportBehind: an archive of a tenant behind the importing Manager's
// migrations is brought up to its latest version in the import.
func TestImportBehind(t *testing.T) {
	t.Parallel()
	pool := fleetPool(t, 4)
	n := newCreateNames(t, pool)
	old := n.Manager(t, pool, &tenancy.Config{Migrations: migrationsUpTo(t, 1)})
	id := uuid.New()
	if err := old.Create(t.Context(), id, nil); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := old.Export(t.Context(), id, &b, tenancy.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	n2 := newCreateNames(t, pool)
	m := n2.Manager(t, pool, &tenancy.Config{Migrations: testMigrations})
	if _, err := m.Import(t.Context(), &b, tenancy.ImportOptions{}); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if got := ledgerOf(t, pool, n2, id); !strings.HasPrefix(got, "2: ") {
		t.Errorf("imported ledger %s, want version 2", got)
	}
	fresh := uuid.New()
	if err := m.Create(t.Context(), fresh, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(t, m, id), describe(t, m, fresh); !slices.Equal(got, want) {
		t.Errorf("imported and migrated:\n%s\nwant a new tenant's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// rewrite returns archive with each entry passed through edit (nil drops
// it), gzip and tar intact: what a careful forger, or a bug, would make.
func rewrite(t *testing.T, archive []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if b = edit(h.Name, b); b == nil {
			continue
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// editJSON rewrites one JSON entry's fields through edit.
func editJSON(t *testing.T, entry string, edit func(map[string]any)) func(string, []byte) []byte {
	return func(name string, b []byte) []byte {
		if name != entry {
			return b
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		edit(v)
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// TestImportRefuses: every way an archive can be wrong is refused with its
// error, and leaves no schema, ledger row or registry row behind.
func TestImportRefuses(t *testing.T) {
	t.Parallel()
	f := newArchiveFixture(t)
	archive := export(t, f.m, f.id)
	firstChunk := func(edit func([]byte)) func(string, []byte) []byte {
		return func(name string, b []byte) []byte {
			if name == "data/0000/000000" {
				b = bytes.Clone(b)
				edit(b)
			}
			return b
		}
	}
	// A flipped bit in the compressed data could, in the notes' periodic
	// text, change a back-reference's distance by a period and decompress
	// to the same bytes: flip the manifest's compressed bytes instead,
	// and the gzip trailer's CRC.
	flip := func(i int) []byte {
		b := bytes.Clone(archive)
		b[i] ^= 0x40
		return b
	}
	cases := []struct {
		name    string
		archive []byte
		as      uuid.UUID // uuid.Nil: a new tenant
		want    error
	}{
		{"empty", nil, uuid.Nil, tenancy.ErrBadArchive},
		{"not gzip", []byte("CREATE TABLE x ();"), uuid.Nil, tenancy.ErrBadArchive},
		{"gzip, not an archive", rewrite(t, archive, func(name string, b []byte) []byte {
			if name == "manifest.json" {
				return []byte("hello")
			}
			return b
		}), uuid.Nil, tenancy.ErrBadArchive},
		{"cut in the manifest", archive[:200], uuid.Nil, tenancy.ErrBadArchive},
		{"cut in the data", archive[:len(archive)/2], uuid.Nil, tenancy.ErrBadArchive},
		{"cut before the checksums", archive[:len(archive)-100], uuid.Nil, tenancy.ErrBadArchive},
		{"a byte of the manifest flipped", flip(40), uuid.Nil, tenancy.ErrBadArchive},
		{"the gzip checksum flipped", flip(len(archive) - 6), uuid.Nil, tenancy.ErrBadArchive},
		{"a row changed", rewrite(t, archive, firstChunk(func(b []byte) { b[bytes.IndexByte(b, '\t')+1] = 'X' })), uuid.Nil, tenancy.ErrBadArchive},
		{"a chunk dropped", rewrite(t, archive, func(name string, b []byte) []byte {
			if name == "data/0001/000001" {
				return nil
			}
			return b
		}), uuid.Nil, tenancy.ErrBadArchive},
		{"the checksums dropped", rewrite(t, archive, func(name string, b []byte) []byte {
			if name == "checksums.json" {
				return nil
			}
			return b
		}), uuid.Nil, tenancy.ErrBadArchive},
		{"a row that breaks a constraint, checksums rewritten", func() []byte {
			// notes' item 999 was deleted: a note pointing at it breaks the
			// foreign key, even with checksums that match.
			var last string
			rewrite(t, archive, func(name string, b []byte) []byte {
				if strings.HasPrefix(name, "data/0001/") {
					last = name
				}
				return b
			})
			a := rewrite(t, archive, func(name string, b []byte) []byte {
				if name == last {
					return append(bytes.Clone(b), []byte("100000\t999\tdangling\n")...)
				}
				return b
			})
			return resum(t, a)
		}(), uuid.Nil, tenancy.ErrBadArchive},
		{"an unknown format", rewrite(t, archive, editJSON(t, "manifest.json", func(v map[string]any) { v["format"] = 2 })), uuid.Nil, tenancy.ErrBadArchive},
		{"the manifest edited", rewrite(t, archive, editJSON(t, "manifest.json", func(v map[string]any) { v["exported_at"] = "2000-01-01T00:00:00Z" })), uuid.Nil, tenancy.ErrBadArchive},
		{"ahead of the migrations", rewrite(t, archive, editJSON(t, "manifest.json", func(v map[string]any) {
			v["version"] = 3
			v["migrations"] = append(v["migrations"].([]any), map[string]any{"version": 3, "name": "003_future.sql", "checksum": "x", "applied_at": "2026-01-01T00:00:00Z", "duration_us": 1})
		})), uuid.Nil, tenancy.ErrIncompatibleArchive},
		{"a migration that differs", rewrite(t, archive, editJSON(t, "manifest.json", func(v map[string]any) {
			v["migrations"].([]any)[1].(map[string]any)["checksum"] = "0000"
		})), uuid.Nil, tenancy.ErrIncompatibleArchive},
		{"a structure its migrations do not make", resum(t, rewrite(t, archive, editJSON(t, "schema.json", func(v map[string]any) {
			v["definition"] = append(v["definition"].([]any), "table zzz")
		}))), uuid.Nil, tenancy.ErrIncompatibleArchive},
		{"an existing tenant", archive, f.id, tenancy.ErrTenantExists},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := c.as
			if id == uuid.Nil {
				id = uuid.New()
			}
			hooked := false
			_, err := f.m.Import(t.Context(), bytes.NewReader(c.archive), tenancy.ImportOptions{ID: id,
				Hook: func(ctx context.Context, tx pgx.Tx, info *tenancy.ArchiveInfo) error {
					hooked = true
					_, err := tx.Exec(ctx, "INSERT INTO "+f.n.Registry+" (tenant_id, name) VALUES ($1, 'imported')", info.Tenant)
					return err
				}})
			if !errors.Is(err, c.want) {
				t.Fatalf("Import = %v, want %v", err, c.want)
			}
			t.Logf("refused (hook ran: %v): %v", hooked, err)
			if c.as == uuid.Nil {
				f.n.assertNothingOf(t, f.pool, f.m, id)
			}
			var temps int
			if err := f.pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, $1)", f.m.Prefix()+"import_").Scan(&temps); err != nil || temps != 0 {
				t.Errorf("%d temporary schemas left (%v)", temps, err)
			}
		})
	}
	// The source is untouched, and the archive itself still imports.
	if _, err := f.m.Import(t.Context(), bytes.NewReader(archive), tenancy.ImportOptions{ID: uuid.New()}); err != nil {
		t.Errorf("the intact archive, after all that: %v", err)
	}
}

// resum rewrites an archive's checksums to match what it holds: a forger's
// last step, which the checksums cannot catch and what follows must.
func resum(t *testing.T, archive []byte) []byte {
	t.Helper()
	type table struct {
		Table  string `json:"table"`
		Rows   int64  `json:"rows"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	var sums struct {
		Tables  []table           `json:"tables"`
		Entries map[string]string `json:"entries"`
	}
	var data [][]byte
	var manifest struct{ Tables []string }
	rewrite(t, archive, func(name string, b []byte) []byte {
		switch {
		case name == "manifest.json":
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatal(err)
			}
			data = make([][]byte, len(manifest.Tables))
		case strings.HasPrefix(name, "data/"):
			var i int
			for _, c := range name[len("data/"):len("data/0000")] {
				i = i*10 + int(c-'0')
			}
			data[i] = append(data[i], b...)
		case name == "checksums.json":
			if err := json.Unmarshal(b, &sums); err != nil {
				t.Fatal(err)
			}
		}
		return b
	})
	entries := map[string]string{}
	rewrite(t, archive, func(name string, b []byte) []byte {
		if !strings.HasPrefix(name, "data/") && name != "checksums.json" {
			entries[name] = sha256hex(b)
		}
		return b
	})
	sums.Entries = entries
	for i, d := range data {
		sums.Tables[i].Bytes, sums.Tables[i].SHA256 = int64(len(d)), sha256hex(d)
		sums.Tables[i].Rows = int64(bytes.Count(d, []byte("\n")))
	}
	return rewrite(t, archive, func(name string, b []byte) []byte {
		if name != "checksums.json" {
			return b
		}
		out, err := json.Marshal(sums)
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
}

// TestExportWhileWriting: an export taken while the tenant takes writes,
// two exports at once among them, is the tenant at one instant: every
// note's item is in it, and its row counts are between those before and
// after.
func TestExportWhileWriting(t *testing.T) {
	t.Parallel()
	f := newArchiveFixture(t)
	ctx := t.Context()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			err := f.m.InTenant(ctx, f.id, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `WITH i AS (INSERT INTO items (tenant_marker, name) VALUES ('w', 'written') RETURNING id)
					INSERT INTO notes (item_id, body) SELECT id, 'note' FROM i`)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			writes.Add(1)
		}
	}()
	archives := make([][]byte, 2)
	var ewg sync.WaitGroup
	for i := range archives {
		ewg.Go(func() {
			var b bytes.Buffer
			if _, err := f.m.Export(ctx, f.id, &b, tenancy.ExportOptions{}); err != nil {
				t.Error(err)
			}
			archives[i] = b.Bytes()
		})
	}
	ewg.Wait()
	stop.Store(true)
	wg.Wait()
	t.Logf("%d writes during the exports", writes.Load())
	for _, a := range archives {
		id := uuid.New()
		info, err := f.m.Import(ctx, bytes.NewReader(a), tenancy.ImportOptions{ID: id})
		if err != nil {
			t.Fatalf("Import: %v", err) // a foreign key across the snapshot would fail here
		}
		if items, notes := info.Tables[0].Rows, info.Tables[1].Rows; notes-332 != items-999 {
			t.Errorf("archive of %d items and %d notes: writes of one item and one note each, split", items, notes)
		}
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
