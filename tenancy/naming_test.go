package tenancy_test

// Identifiers: a tenant key or schema name is
// either exactly what the Manager derives or refused with ErrInvalidName,
// so nothing crafted reaches SQL; and the configured names that are quoted
// into SQL are checked or quoted correctly.

import (
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// offlineManager returns a Manager whose pool never connects: New and the
// naming functions do not touch the database, and a fuzz target should not
// need one. Its prefix is the default, "tenant_".
func offlineManager(tb testing.TB, cfg tenancy.Config) (*tenancy.Manager, error) {
	tb.Helper()
	// Port 1 on loopback: nothing listens there, and pgxpool connects
	// lazily, so no connection is ever attempted.
	pool, err := pgxpool.New(tb.Context(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if cfg.Migrations == nil {
		cfg.Migrations = testMigrations
	}
	return tenancy.New(pool, &cfg)
}

// replaceAt returns s with the bytes [i, i+n) replaced by r.
func replaceAt(s string, i, n int, r string) string { return s[:i] + r + s[i+n:] }

func TestParseSchemaNameRefusesHostileNames(t *testing.T) {
	t.Parallel()
	m, err := offlineManager(t, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.MustParse("0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a6b")
	good := m.SchemaName(id)
	if good != "tenant_0b6f5a3e8c1d4f2a9e7b1c2d3e4f5a6b" {
		t.Fatalf("SchemaName = %q, want the prefix and 32 lowercase hex digits", good)
	}
	hexPart := strings.TrimPrefix(good, "tenant_")

	for name, s := range map[string]string{
		"empty":                 "",
		"prefix alone":          "tenant_",
		"public":                "public",
		"pg_catalog":            "pg_catalog",
		"information_schema":    "information_schema",
		"pg_toast":              "pg_toast",
		"quoted":                `"` + good + `"`,
		"trailing quote":        good + `"`,
		"quote inside":          replaceAt(good, 10, 1, `"`),
		"semicolon":             good + ";",
		"injection":             good + `"; DROP SCHEMA public CASCADE; --`,
		"31 hex":                good[:len(good)-1],
		"33 hex":                good + "0",
		"64 chars":              good + strings.Repeat("0", 64-len(good)),
		"very long":             good + strings.Repeat("a", 1000),
		"upper-case hex":        "tenant_" + strings.ToUpper(hexPart),
		"one upper-case digit":  replaceAt(good, len(good)-1, 1, "B"),
		"upper-case prefix":     "TENANT_" + hexPart,
		"hyphenated uuid":       "tenant_" + id.String(),
		"other prefix":          "center_" + hexPart,
		"no prefix":             hexPart,
		"prefix without _":      "tenant" + hexPart,
		"double prefix":         "tenant_" + good,
		"leading space":         " " + good,
		"trailing space":        good + " ",
		"trailing newline":      good + "\n",
		"tab inside":            replaceAt(good, 12, 1, "\t"),
		"NUL at end":            good + "\x00",
		"NUL inside":            replaceAt(good, 12, 1, "\x00"),
		"non-hex letter":        replaceAt(good, 12, 1, "g"),
		"dotless ı (2 bytes)":   replaceAt(good, 12, 2, "ı"),
		"dotted İ (2 bytes)":    replaceAt(good, 12, 2, "İ"),
		"full-width 0 (3 byte)": replaceAt(good, 12, 3, "０"),
		"cyrillic а (2 bytes)":  replaceAt(good, 12, 2, "а"),
		"arabic-indic digit":    replaceAt(good, 12, 2, "٣"),
		"invalid utf-8":         replaceAt(good, 12, 1, "\xff"),
		"regex-ish":             "tenant_.*",
		"dot-qualified":         "public." + good,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := m.ParseSchemaName(s)
			if !errors.Is(err, tenancy.ErrInvalidName) {
				t.Errorf("ParseSchemaName(%q) = %v, %v; want ErrInvalidName", s, got, err)
			}
			if got != uuid.Nil {
				t.Errorf("ParseSchemaName(%q) returned id %v with its error", s, got)
			}
		})
	}

	// The canonical name round-trips, for the nil, max and random ids too.
	for _, id := range []uuid.UUID{id, uuid.Nil, uuid.Max, uuid.New()} {
		got, err := m.ParseSchemaName(m.SchemaName(id))
		if err != nil || got != id {
			t.Errorf("ParseSchemaName(SchemaName(%v)) = %v, %v; want the id back", id, got, err)
		}
		if len(m.SchemaName(id)) > 63 {
			t.Errorf("SchemaName(%v) is %d bytes, over PostgreSQL's 63", id, len(m.SchemaName(id)))
		}
	}
}

func TestParseIDRefusesHostileKeys(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a6b")
	good := id.String()
	for name, s := range map[string]string{
		"empty":                "",
		"braces":               "{" + good + "}",
		"urn":                  "urn:uuid:" + good,
		"32 bare hex":          strings.ReplaceAll(good, "-", ""),
		"schema name":          "tenant_" + strings.ReplaceAll(good, "-", ""),
		"leading space":        " " + good,
		"trailing space":       good + " ",
		"trailing newline":     good + "\n",
		"NUL at end":           good + "\x00",
		"NUL inside":           replaceAt(good, 3, 1, "\x00"),
		"truncated":            good[:35],
		"too long":             good + "0",
		"hyphen moved":         good[:8] + good[9:10] + "-" + good[10:],
		"no hyphens, padded":   strings.ReplaceAll(good, "-", "") + "0000",
		"non-hex letter":       replaceAt(good, 3, 1, "g"),
		"quote":                replaceAt(good, 3, 1, "'"),
		"injection, 36 bytes":  `'; DROP SCHEMA public CASCADE; --  `,
		"dotless ı (2 bytes)":  replaceAt(good, 2, 2, "ı"),
		"full-width 0 (3 b)":   replaceAt(good, 0, 3, "０"),
		"arabic-indic digit":   replaceAt(good, 0, 2, "٣"),
		"invalid utf-8":        replaceAt(good, 0, 1, "\xff"),
		"percent-encoded":      strings.Replace(good, "-", "%2D", 1),
		"path traversal":       "../../../../../../../../../etc/passw",
		"public":               "public",
		"underscores for dash": strings.ReplaceAll(good, "-", "_"),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := tenancy.ParseID(s)
			if !errors.Is(err, tenancy.ErrInvalidName) {
				t.Errorf("ParseID(%q) = %v, %v; want ErrInvalidName", s, got, err)
			}
		})
	}
	// The canonical form, in either case (as documented), is accepted.
	for _, s := range []string{good, strings.ToUpper(good)} {
		if got, err := tenancy.ParseID(s); err != nil || got != id {
			t.Errorf("ParseID(%q) = %v, %v; want %v", s, got, err, id)
		}
	}
}

// A long key quoted in an error is cut between runes: the message quotes a
// prefix of the key, valid UTF-8, never half a rune shown as \x escapes.
// Each key's 80-byte cut falls at a different offset into its runes.
func TestLongNamesAreCutBetweenRunes(t *testing.T) {
	t.Parallel()
	m, err := offlineManager(t, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		strings.Repeat("é", 50),       // 2 bytes a rune: the cut at 80 is a boundary
		"x" + strings.Repeat("é", 50), // ... and here it is not
		strings.Repeat("€", 40),       // 3 bytes
		strings.Repeat("𝄞", 30),       // 4 bytes
		"ab" + strings.Repeat("𝄞", 30),
	} {
		for name, parse := range map[string]func(string) error{
			"ParseID":         func(s string) error { _, err := tenancy.ParseID(s); return err },
			"ParseSchemaName": func(s string) error { _, err := m.ParseSchemaName(s); return err },
		} {
			err := parse(key)
			if !errors.Is(err, tenancy.ErrInvalidName) {
				t.Fatalf("%s(%q) = %v, want ErrInvalidName", name, key, err)
			}
			msg := err.Error()
			_, quoted, _ := strings.Cut(msg, `"`)
			quoted, ok := strings.CutSuffix(quoted[:strings.LastIndex(quoted, `"`)+1], `…"`)
			if !ok || strings.Contains(msg, `\x`) || !utf8.ValidString(msg) ||
				!strings.HasPrefix(key, quoted) || len(quoted) > 80 || len(quoted) <= 80-utf8.UTFMax {
				t.Errorf("%s(%d-byte key of %q): %q; want the key's first whole runes within 80 bytes, then …", name, len(key), key[len(key)-4:], msg)
			}
		}
	}
}

func TestNewRefusesBadNames(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]tenancy.Config{
		"prefix upper case":         {Prefix: "Tenant_"},
		"prefix pg_":                {Prefix: "pg_"},
		"prefix pg_ something":      {Prefix: "pg_tenant_"},
		"prefix without _":          {Prefix: "tenant"},
		"prefix 32 bytes":           {Prefix: strings.Repeat("a", 31) + "_"},
		"prefix quote":              {Prefix: `a"b_`},
		"prefix leading digit":      {Prefix: "1a_"},
		"prefix leading _":          {Prefix: "_a_"},
		"prefix hyphen":             {Prefix: "a-b_"},
		"prefix space":              {Prefix: "a b_"},
		"prefix dot":                {Prefix: "a.b_"},
		"prefix semicolon":          {Prefix: "a;b_"},
		"prefix newline at end":     {Prefix: "a_\n"},
		"prefix dotless ı":          {Prefix: "ı_"},
		"prefix NUL":                {Prefix: "a\x00_"},
		"ledger quote":              {LedgerSchema: `led"ger`},
		"ledger 64 bytes":           {LedgerSchema: strings.Repeat("l", 64)},
		"ledger 32 two-byte runes":  {LedgerSchema: strings.Repeat("ı", 32)},
		"ledger NUL":                {LedgerSchema: "led\x00ger"},
		"search path empty element": {SearchPath: []string{""}},
		"search path quote":         {SearchPath: []string{`public"; DROP SCHEMA x; --`}},
		"search path too long":      {SearchPath: []string{"public", strings.Repeat("s", 64)}},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := offlineManager(t, cfg)
			if !errors.Is(err, tenancy.ErrInvalidName) {
				t.Errorf("New(%+v) = %v, %v; want ErrInvalidName", cfg, m, err)
			}
		})
	}

	// The edges that must still be accepted: empty means the default, and
	// a prefix of 31 bytes leaves exactly 32 for the hex digits.
	for name, cfg := range map[string]tenancy.Config{
		"defaults":               {},
		"prefix 31 bytes":        {Prefix: strings.Repeat("a", 30) + "_"},
		"prefix with digits":     {Prefix: "t3n_4nt_"},
		"ledger 63 bytes":        {LedgerSchema: strings.Repeat("l", 63)},
		"ledger needing quoting": {LedgerSchema: "Ledger; DROP SCHEMA public --"},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := offlineManager(t, cfg)
			if err != nil {
				t.Fatalf("New(%+v) = %v", cfg, err)
			}
			if want := cmpOr(cfg.Prefix, tenancy.DefaultPrefix); m.Prefix() != want {
				t.Errorf("Prefix() = %q, want %q", m.Prefix(), want)
			}
			if n := len(m.SchemaName(uuid.Max)); n > 63 {
				t.Errorf("schema names are %d bytes, over PostgreSQL's 63", n)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// A ledger schema name that needs quoting (upper case, spaces, a semicolon)
// is used verbatim, proving it is quoted wherever it reaches SQL: Setup,
// Create, Inspect, Migrate and Drop all work, and public is untouched.
func TestHostileLedgerSchemaIsQuoted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	n := newCreateNames(t, pool) // for the random suffix and the cleanup of its prefix
	// Double quotes are refused in LedgerSchema (TestNewRefusesBadNames);
	// anything else must be quoted, or this would drop public.
	ledger := "Ledger; DROP SCHEMA public; -- " + n.Prefix
	t.Cleanup(func() { tenancytest.DropSchemas(t, pool, n.Prefix, ledger) })
	m := tenancytest.Names{Prefix: n.Prefix, Ledger: ledger}.Manager(t, pool, &tenancy.Config{Migrations: testMigrations, PoolSize: 1})
	// The tenant is claimed from the pool, so the pool's statements run
	// over the hostile name too.
	if created, err := m.FillPool(ctx); err != nil || created != 1 {
		t.Fatalf("FillPool = %d, %v", created, err)
	}
	id := tenancytest.Tenant(t, m)
	var tables []string
	rows, err := pool.Query(ctx, "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", ledger)
	if err == nil {
		tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tables, []string{"tenancy_migrations", "tenancy_pool", "tenancy_pool_fill", "tenancy_pool_migrations", "tenancy_tenants"}) {
		t.Errorf("tables in schema %q: %v, want the ledger's five tables", ledger, tables)
	}
	if st, err := m.Inspect(ctx); err != nil || len(st) != 1 || !st[0].OK() {
		t.Errorf("Inspect = %+v, %v; want one healthy tenant", st, err)
	}
	if _, err := m.Migrate(ctx, tenancy.MigrateOptions{}); err != nil {
		t.Errorf("Migrate: %v", err)
	}
	if err := m.Drop(ctx, id, nil); err != nil {
		t.Errorf("Drop: %v", err)
	}
	var publicExists bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public')").Scan(&publicExists); err != nil || !publicExists {
		t.Fatalf("schema public exists: %v, %v", publicExists, err)
	}
}

// Inside InTenant the search path is the tenant's schema and nothing else
// (no public, no other tenant), unless Config.SearchPath adds schemas after
// it.
func TestInTenantSearchPath(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := tenancytest.Pool(t)
	for name, c := range map[string]struct {
		extra []string
	}{
		"alone":       {nil},
		"with public": {[]string{"public"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := tenancytest.NewManager(t, pool, &tenancy.Config{Migrations: testMigrations, SearchPath: c.extra})
			id := tenancytest.Tenant(t, m)
			want := append([]string{m.SchemaName(id)}, c.extra...)
			var got []string
			err := m.InTenant(ctx, id, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, "SELECT current_schemas(false)::text[]").Scan(&got)
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("current_schemas(false) inside InTenant = %v, want %v", got, want)
			}
		})
	}
}

// FuzzParseSchemaName: ParseSchemaName never panics, refuses with
// ErrInvalidName, and succeeds exactly for the names SchemaName derives.
// The "exactly" is checked both ways: an accepted s must be SchemaName of
// the id returned, and a refused s must not be a derivable name, judged by
// an independent parser (uuid.Parse on what follows the prefix).
func FuzzParseSchemaName(f *testing.F) {
	m, err := offlineManager(f, tenancy.Config{})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"",
		"public",
		"tenant_0b6f5a3e8c1d4f2a9e7b1c2d3e4f5a6b",
		"tenant_0B6F5A3E8C1D4F2A9E7B1C2D3E4F5A6B",
		"tenant_0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a6b",
		"tenant_0b6f5a3e8c1d4f2a9e7b1c2d3e4f5a6",
		`"tenant_0b6f5a3e8c1d4f2a9e7b1c2d3e4f5a6b"`,
		"tenant_0b6f5a3e8c1d4f2a9e7b1c2d3e4f5a6b\x00",
		"tenant_０b6f5a3e8c1d4f2a9e7b1c2d3e4f5a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := m.ParseSchemaName(s)
		if err == nil {
			if m.SchemaName(id) != s {
				t.Fatalf("ParseSchemaName(%q) = %v, but SchemaName of that is %q", s, id, m.SchemaName(id))
			}
		} else {
			if !errors.Is(err, tenancy.ErrInvalidName) {
				t.Fatalf("ParseSchemaName(%q) = %v, want ErrInvalidName", s, err)
			}
			if rest, ok := strings.CutPrefix(s, m.Prefix()); ok {
				if other, perr := uuid.Parse(rest); perr == nil && m.SchemaName(other) == s {
					t.Fatalf("ParseSchemaName(%q) refused SchemaName(%v)", s, other)
				}
			}
		}
		// And the other direction for an id derived from the input.
		sum := sha256.Sum256([]byte(s))
		derived := uuid.UUID(sum[:16])
		if back, err := m.ParseSchemaName(m.SchemaName(derived)); err != nil || back != derived {
			t.Fatalf("ParseSchemaName(SchemaName(%v)) = %v, %v", derived, back, err)
		}
	})
}

// FuzzParseID: ParseID never panics, refuses with ErrInvalidName, and
// accepts only the 36-byte hyphenated form (either case) of the id it
// returns.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"",
		"0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a6b",
		"0B6F5A3E-8C1D-4F2A-9E7B-1C2D3E4F5A6B",
		"{0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a6b}",
		"urn:uuid:0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a6b",
		"0b6f5a3e8c1d4f2a9e7b1c2d3e4f5a6b",
		"0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a6\x00",
		"ı0b6f5a3e-8c1d-4f2a-9e7b-1c2d3e4f5a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := tenancy.ParseID(s)
		if err != nil {
			if !errors.Is(err, tenancy.ErrInvalidName) {
				t.Fatalf("ParseID(%q) = %v, want ErrInvalidName", s, err)
			}
			return
		}
		if asciiLower(s) != id.String() {
			t.Fatalf("ParseID(%q) = %v, but %q is not its canonical form", s, id, s)
		}
	})
}

// asciiLower lowers A-F only, unlike strings.ToLower, so that no Unicode
// case mapping can make a non-canonical key look canonical.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
