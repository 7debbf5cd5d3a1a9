package sqlsplit_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/internal/sqlsplit"
)

// texts returns the statements' SQL, for comparing.
func texts(stmts []sqlsplit.Statement) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = s.SQL
	}
	return out
}

// TestSplit: each construct that may hold a semicolon keeps it, and the
// statements carry everything around them.
func TestSplit(t *testing.T) {
	for _, c := range []struct {
		name  string
		src   string
		want  []string
		lines []int
	}{
		{"empty", "", nil, nil},
		{"blanks only", " \n\t", []string{" \n\t"}, []int{1}},
		{"comments only", "-- a;\n/* b; */", []string{"-- a;\n/* b; */"}, []int{1}},
		{"two", "SELECT 1;SELECT 2;", []string{"SELECT 1;", "SELECT 2;"}, []int{1, 1}},
		{"last without semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1;", "\nSELECT 2"}, []int{1, 2}},
		{"leading comments go with the statement", "-- head\n\nCREATE TABLE a ();\n-- next\nCREATE TABLE b ();\n-- tail\n",
			[]string{"-- head\n\nCREATE TABLE a ();", "\n-- next\nCREATE TABLE b ();\n-- tail\n"}, []int{3, 5}},
		{"empty statements join the next", ";;SELECT 1;;", []string{";;SELECT 1;;"}, []int{1}},
		{"line comment", "SELECT 1 -- x; y\n;SELECT 2;", []string{"SELECT 1 -- x; y\n;", "SELECT 2;"}, []int{1, 2}},
		{"line comment at the end", "SELECT 1; -- x;", []string{"SELECT 1; -- x;"}, []int{1}},
		{"block comment", "SELECT /* ; */ 1;SELECT 2;", []string{"SELECT /* ; */ 1;", "SELECT 2;"}, []int{1, 1}},
		{"nested block comment", "SELECT /* a /* b; */ c; */ 1;SELECT 2;", []string{"SELECT /* a /* b; */ c; */ 1;", "SELECT 2;"}, []int{1, 1}},
		{"comment in an operator", "SELECT 1 +-- x;\n2;SELECT 3;", []string{"SELECT 1 +-- x;\n2;", "SELECT 3;"}, []int{1, 2}},
		{"string", "SELECT ';''';SELECT 2;", []string{"SELECT ';''';", "SELECT 2;"}, []int{1, 1}},
		{"backslash is plain in a string", `SELECT 'a\';SELECT 2;`, []string{`SELECT 'a\';`, "SELECT 2;"}, []int{1, 1}},
		{"escape string", `SELECT E'a\';b';SELECT 2;`, []string{`SELECT E'a\';b';`, "SELECT 2;"}, []int{1, 1}},
		{"lower-case escape string", `SELECT e'\\';SELECT 2;`, []string{`SELECT e'\\';`, "SELECT 2;"}, []int{1, 1}},
		{"a word ending in e is no escape prefix", `SELECT some'a\';SELECT 2;`, []string{`SELECT some'a\';`, "SELECT 2;"}, []int{1, 1}},
		{"quoted identifier", `SELECT 1 AS "a"";b";SELECT 2;`, []string{`SELECT 1 AS "a"";b";`, "SELECT 2;"}, []int{1, 1}},
		{"dollar quote", "DO $$ BEGIN; END $$;SELECT 2;", []string{"DO $$ BEGIN; END $$;", "SELECT 2;"}, []int{1, 1}},
		{"tagged dollar quote", "DO $f$ $$; $f$;SELECT 2;", []string{"DO $f$ $$; $f$;", "SELECT 2;"}, []int{1, 1}},
		{"parameters are no tags", "PREPARE p AS SELECT $1, $2;SELECT 2;", []string{"PREPARE p AS SELECT $1, $2;", "SELECT 2;"}, []int{1, 1}},
		{"a $ inside a word is no tag", "SELECT a$b$ FROM t;SELECT 2;", []string{"SELECT a$b$ FROM t;", "SELECT 2;"}, []int{1, 1}},
		{"parentheses", "CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);SELECT 3;",
			[]string{"CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);", "SELECT 3;"}, []int{1, 1}},
		{"SQL-standard body", "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n SELECT 2;\nEND;\nSELECT 3;",
			[]string{"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n SELECT 2;\nEND;", "\nSELECT 3;"}, []int{1, 6}},
		{"procedure body", "CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; END;SELECT 2;", []string{"CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; END;", "SELECT 2;"}, []int{1, 1}},
		{"BEGIN outside a routine", "BEGIN;SELECT 1;", []string{"BEGIN;", "SELECT 1;"}, []int{1, 1}},
		{"lines count inside tokens", "SELECT '\n\n';\n/*\n*/ SELECT $$\n$$;\nSELECT \"\n\";SELECT 4;",
			[]string{"SELECT '\n\n';", "\n/*\n*/ SELECT $$\n$$;", "\nSELECT \"\n\";", "SELECT 4;"}, []int{1, 5, 7, 8}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := sqlsplit.Split(c.src)
			if err != nil {
				t.Fatalf("Split(%q): %v", c.src, err)
			}
			if g := texts(got); strings.Join(g, "\x00") != strings.Join(c.want, "\x00") {
				t.Errorf("Split(%q) =\n%q\nwant\n%q", c.src, g, c.want)
			}
			for i := range min(len(got), len(c.lines)) {
				if got[i].Line != c.lines[i] {
					t.Errorf("statement %d: line %d, want %d", i+1, got[i].Line, c.lines[i])
				}
			}
		})
	}
}

// TestSplitRefuses: whatever is left open is refused, with the line it
// opens on.
func TestSplitRefuses(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"SELECT 1;\nSELECT 'a", "line 2: unterminated quoted string"},
		{"SELECT E'a\\'", "line 1: unterminated escape string"},
		{"SELECT \"a", "line 1: unterminated quoted identifier"},
		{"\n\nSELECT /* a /* b */", "line 3: unterminated /* comment"},
		{"DO $x$ BEGIN END $y$;", "line 1: unterminated dollar-quoted string $x$"},
		{"SELECT $$", "line 1: unterminated dollar-quoted string $$"},
	} {
		if got, err := sqlsplit.Split(c.src); err == nil || err.Error() != c.want {
			t.Errorf("Split(%q) = %q, %v; want the error %q", c.src, texts(got), err, c.want)
		}
	}
}

// TestSplitMigrations: the project's own migration files (both
// directions: tern cuts them apart later) split into the statements a
// reader counts, and back into the files.
func TestSplitMigrations(t *testing.T) {
	for file, want := range map[string]int{
		"../../migrations/tenant/001_samples.sql":                  10,
		"../../migrations/tenant/002_shared_updated_at.sql":        6,
		"../../tenancy/testdata/broken/fails_halfway/002_boom.sql": 4,
	} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sqlsplit.Split(string(src))
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(file), err)
		}
		if len(got) != want || strings.Join(texts(got), "") != string(src) {
			t.Errorf("%s: %d statements (rejoined equal: %v), want %d", filepath.Base(file), len(got), strings.Join(texts(got), "") == string(src), want)
		}
	}
}

// FuzzSplit: every input is either refused or cut into statements that,
// concatenated, are the input byte for byte, each of which splits alone
// into itself (a cut is where psql's would be, whatever comes after), each
// but the last ending in its semicolon.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"", ";", "SELECT 1; SELECT 2", "-- c\n/* a /* b */ */ SELECT ';', E'\\'', \"x\"\"y\";",
		"DO $t$ ; $t$; SELECT $1;", "CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END; SELECT 2;",
		"SELECT 'open", "/* open", "$a$ open", "a$b$;c", "(;);)", "E'\\\\';e'';",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		got, err := sqlsplit.Split(src)
		if err != nil {
			if !strings.Contains(err.Error(), "unterminated") {
				t.Fatalf("Split(%q): %v, want only unterminated tokens refused", src, err)
			}
			return
		}
		if joined := strings.Join(texts(got), ""); joined != src {
			t.Fatalf("Split(%q) rejoins to %q", src, joined)
		}
		for i, s := range got {
			if i < len(got)-1 && !strings.HasSuffix(s.SQL, ";") {
				t.Fatalf("Split(%q): statement %d %q does not end in its semicolon", src, i+1, s.SQL)
			}
			if s.Line < 1 || s.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("Split(%q): statement %d at line %d", src, i+1, s.Line)
			}
			again, err := sqlsplit.Split(s.SQL)
			if err != nil || len(again) != 1 || again[0].SQL != s.SQL {
				t.Fatalf("Split(%q): statement %d %q splits alone into %q, %v", src, i+1, s.SQL, texts(again), err)
			}
		}
	})
}
