package domain

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// The validators are the API's only defence between a client's bytes and
// PostgreSQL: whatever they accept must be storable (else a 500), and what
// they refuse must be refused as a field error (never a panic). These
// targets check the first against the real server: read-only casts on the
// shared test database, no tables touched.

// FuzzCheckJSONObject: settings and metadata. Anything accepted is a JSON
// object within 64 KiB that jsonb takes and that validates to itself again
// (re-encoding is stable); nothing panics.
func FuzzCheckJSONObject(f *testing.F) {
	pool := tenancytest.Pool(f)
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `1`, `{"a":1}`, `{"a":{"b":[1,2,{"c":null}]}}`,
		`{"a":"\u0000"}`, `{"\u0000":1}`, `{"a":"\ud800"}`, `{"a":1e400}`, `{"a":-1e308}`,
		`{"a":1} {"b":2}`, `{"a":1}x`, "{\"a\":\"\xff\"}", `{"a":1,"a":2}`,
		strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70),
		strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70),
		`{"a":"` + strings.Repeat("x", 70000) + `"}`,
		`{"sample_types":["blood","blood"]}`, `{"sample_types":[]}`, `{"sample_types":[" x"]}`,
		`{"sample_types":["a\u0000"]}`, `{"sample_types":"blood"}`, `{"sample_types":["blood",1]}`,
		`{"k":"<script>'; DROP TABLE samples; --"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, settings := range []bool{false, true} {
			var fe fieldErrors
			var out json.RawMessage
			if settings {
				out = fe.checkSettings(json.RawMessage(in))
			} else {
				out, _ = fe.checkJSONObject("metadata", json.RawMessage(in))
			}
			if len(fe) > 0 {
				if out != nil {
					t.Fatalf("%q: errors %v and a value %q", in, fe, out)
				}
				continue
			}
			if len(out) > maxJSONBytes || !utf8.Valid(out) || !bytes.HasPrefix(out, []byte("{")) {
				t.Fatalf("%q accepted as %q", in, out)
			}
			var back fieldErrors
			again, _ := back.checkJSONObject("metadata", out)
			if len(back) > 0 || !bytes.Equal(again, out) {
				t.Fatalf("%q accepted as %q, which validates to %q %v", in, out, again, back)
			}
			var ok bool
			if err := pool.QueryRow(t.Context(), "SELECT jsonb_typeof($1::text::jsonb) = 'object'", string(out)).Scan(&ok); err != nil || !ok {
				t.Fatalf("%q accepted as %q, which jsonb refuses: %v", in, out, err)
			}
		}
	})
}

// FuzzCheckText: every text rule the domain uses. Accepted strings are
// valid UTF-8 without NUL within the rune bounds (so text and varchar
// columns take them), single-line ones without control characters or
// surrounding space; the rules never panic.
func FuzzCheckText(f *testing.F) {
	pool := tenancytest.Pool(f)
	for _, s := range []string{"", "a", " a", "a ", "a\nb", "a\x00b", "\xff", "\xed\xa0\x80", "ı", "'; --", `%_\`,
		strings.Repeat("é", 201), strings.Repeat("x", 64), strings.Repeat("x", 65), "\u2028", "\u00a0x", "x\u200b"} {
		f.Add(s)
	}
	rules := []textRule{{min: 1, max: 200, singleLine: true}, {}, {min: 1, max: 64, singleLine: true},
		{max: 150, singleLine: true}, {max: 50}, {max: 200}}
	f.Fuzz(func(t *testing.T, s string) {
		var fe fieldErrors
		okAny := false
		for i, r := range rules {
			field := string(rune('a' + i))
			if !fe.checkText(field, s, r) {
				if len(fe[field]) != 1 {
					t.Fatalf("rule %+v refused %q with %v", r, s, fe[field])
				}
				continue
			}
			okAny = true
			n := utf8.RuneCountInString(s)
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || n < r.min || (r.max > 0 && n > r.max) ||
				(r.singleLine && (strings.TrimSpace(s) != s || strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f }))) {
				t.Fatalf("rule %+v accepted %q", r, s)
			}
		}
		fe = nil
		fe.checkUsername(s)
		fe.checkEmail(s)
		p := s
		fe.checkPassword(&p)
		if okAny {
			var back string
			if err := pool.QueryRow(t.Context(), "SELECT $1::text", s).Scan(&back); err != nil || back != s {
				t.Fatalf("%q accepted but PostgreSQL stores %q: %v", s, back, err)
			}
		}
	})
}

// orderClause is every ORDER BY an orderSpec may produce: its keys' fixed
// SQL only, so no input reaches the statement.
func orderClause(o orderSpec) *regexp.Regexp {
	var exprs []string
	for _, k := range o.keys {
		e, ok := o.sql[k]
		if !ok {
			e = k
		}
		exprs = append(exprs, regexp.QuoteMeta(e))
	}
	return regexp.MustCompile(`^((` + strings.Join(exprs, "|") + `) (ASC|DESC), )*id (ASC|DESC)$`)
}

// FuzzOrderBy: ?ordering= of samples, centers and users either gives a
// clause of whitelisted fragments or a field error, never anything of the
// input.
func FuzzOrderBy(f *testing.F) {
	for _, s := range []string{"", "name", "-name", "name,-barcode", " status , -created_at", "name,name", "id",
		"name;DROP TABLE samples", "-", ",", "--name", "name DESC", "updated_at,", "NAME", "\x00",
		"-date_joined,email", "lower(name)", "role,-last_name,username"} {
		f.Add(s)
	}
	specs := []orderSpec{sampleOrder, centerOrder, userOrder}
	clauses := make([]*regexp.Regexp, len(specs))
	for i, o := range specs {
		clauses[i] = orderClause(o)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, o := range specs {
			var fe fieldErrors
			clause := o.clause(s, &fe)
			if len(fe) > 0 {
				if clause != "" || len(fe["ordering"]) != 1 {
					t.Fatalf("%q: clause %q with errors %v", s, clause, fe)
				}
				continue
			}
			if !clauses[i].MatchString(clause) {
				t.Fatalf("ordering %q gave ORDER BY %q", s, clause)
			}
		}
	})
}

// FuzzEscapeLike: search must match literally. For any needle and
// haystack, PostgreSQL's LIKE with the escaped pattern agrees with
// strings.Contains (LIKE rather than ILIKE, so that case folding, which
// Go and the collation do differently, is out of the comparison).
func FuzzEscapeLike(f *testing.F) {
	pool := tenancytest.Pool(f)
	for _, p := range [][2]string{{"%", "abc"}, {"_", "abc"}, {"%", "50%"}, {"_", "a_b"}, {`\`, `a\b`}, {`\%`, `a\%b`},
		{`a%c`, "abc"}, {"a_c", "abc"}, {"a_c", "a_c"}, {`\\`, `\`}, {"", "x"}, {"x", ""}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, needle, hay string) {
		if !utf8.ValidString(needle) || !utf8.ValidString(hay) || strings.ContainsRune(needle+hay, 0) {
			return // refused by checkText before any query
		}
		var got bool
		err := pool.QueryRow(t.Context(), `SELECT $2::text LIKE $1 ESCAPE '\'`,
			"%"+escapeLike(needle)+"%", hay).Scan(&got)
		if err != nil {
			t.Fatalf("needle %q: %v", needle, err)
		}
		if want := strings.Contains(hay, needle); got != want {
			t.Fatalf("%q LIKE escaped %q = %v, want %v", hay, needle, got, want)
		}
	})
}
