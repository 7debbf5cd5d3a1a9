package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/internal/testdb"
)

// samplesDigest is a center's samples, every column, as one digest.
func samplesDigest(t *testing.T, pool *pgxpool.Pool, schema string) string {
	t.Helper()
	var s string
	err := pool.QueryRow(t.Context(), "SELECT count(*) || ' ' || md5(string_agg(s::text, ',' ORDER BY id)) FROM "+
		pgx.Identifier{schema, "samples"}.Sanitize()+" s").Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCenterExportImport: a center exported from one database imports
// into another as itself, and into its own as a new center; the file is
// written whole or not at all, and a damaged one is refused with one line.
func TestCenterExportImport(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	src := d.center(t, istanbul)
	want := samplesDigest(t, d.Pool, src.SchemaName)
	file := filepath.Join(t.TempDir(), "istanbul.tenant")

	r := d.runWith(t, invocation{stderrTerminal: true}, "center", "export", istanbul, "-f", file)
	r.wantCode(t, ExitOK)
	if !strings.Contains(r.stderr, "exporting") || !strings.Contains(r.stdout, "samples") || !strings.Contains(r.stdout, src.ID.String()) {
		t.Errorf("export's report or progress bar missing:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil || len(entries) != 1 {
		t.Errorf("the export left %v (%v) beside its file", entries, err)
	}

	// Into another database, as itself.
	other := testdb.New(t)
	r = run(t, "--database-url", other.URL, "center", "import", "-f", file, "-o", "json")
	r.wantCode(t, ExitOK)
	got := decodeJSON[centerDoc](t, r.stdout)
	if got.ID != src.ID || got.Name != src.Name || got.Description != src.Description || compactJSON(got.Settings) != compactJSON(src.Settings) {
		t.Errorf("imported %+v, want %+v", got.Center, src)
	}
	if g := samplesDigest(t, other.Pool, src.SchemaName); g != want {
		t.Errorf("imported samples %s, want %s", g, want)
	}
	// Again: the center exists there now.
	r = run(t, "--database-url", other.URL, "center", "import", "-f", file)
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "conflict", "--as-new")

	// Into its own database, as a new center; then that name is taken.
	r = d.run(t, "center", "import", "-f", file, "--as-new", "Istanbul Copy", "-o", "json")
	r.wantCode(t, ExitOK)
	cp := decodeJSON[centerDoc](t, r.stdout)
	if cp.ID == src.ID || cp.Name != "Istanbul Copy" || !cp.IsActive {
		t.Errorf("imported as new: %+v", cp.Center)
	}
	if g := samplesDigest(t, d.Pool, cp.SchemaName); g != want {
		t.Errorf("the copy's samples %s, want %s", g, want)
	}
	before := d.countCenters(t)
	r = d.run(t, "center", "import", "-f", file, "--as-new", "istanbul copy")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "conflict", "name")

	// A damaged file: one line, nothing made.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.tenant")
	if err := os.WriteFile(cut, b[:len(b)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	r = d.run(t, "center", "import", "-f", cut, "--as-new", "Cut")
	r.wantCode(t, ExitFailure)
	r.wantOneLineError(t, false, "not a whole, intact tenant archive")
	if n := d.countCenters(t); n != before {
		t.Errorf("%d centers after refused imports, want %d", n, before)
	}

	// Standard output and standard input.
	r = d.run(t, "center", "export", istanbul, "-f", "-")
	r.wantCode(t, ExitOK)
	if !bytes.HasPrefix([]byte(r.stdout), []byte{0x1f, 0x8b}) || !strings.Contains(r.stderr, src.ID.String()) {
		t.Errorf("export to -: stdout starts %q, stderr %q", r.stdout[:min(len(r.stdout), 8)], r.stderr)
	}
	r = d.runWith(t, invocation{stdin: r.stdout}, "center", "import", "-f", "-", "--as-new", "From Stdin", "-o", "json")
	r.wantCode(t, ExitOK)
	if g := samplesDigest(t, d.Pool, decodeJSON[centerDoc](t, r.stdout).SchemaName); g != want {
		t.Errorf("imported from stdin: %s, want %s", g, want)
	}
}

// TestCenterArchiveUsage: what export and import refuse before any work.
func TestCenterArchiveUsage(t *testing.T) {
	t.Parallel()
	d := newSeeded(t)
	for _, c := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"center", "export", istanbul}, true, "-f FILE"},
		{[]string{"center", "import"}, true, "-f FILE"},
		{[]string{"center", "import", "-f", "x", "--as-new", ""}, true, "--as-new needs"},
		{[]string{"center", "import", "-f", filepath.Join(t.TempDir(), "missing")}, false, "no such file"},
		{[]string{"center", "export", "Nowhere", "-f", filepath.Join(t.TempDir(), "x")}, false, "not found"},
		{[]string{"center", "import", "-f", "/dev/null"}, false, "not a whole, intact tenant archive"},
	} {
		r := d.run(t, c.args...)
		if c.usage {
			r.wantCode(t, ExitUsage)
		} else {
			r.wantCode(t, ExitFailure)
		}
		r.wantOneLineError(t, c.usage, c.want)
	}
}
