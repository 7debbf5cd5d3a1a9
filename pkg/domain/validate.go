package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// fieldErrors collects validation messages per field; the zero value is
// ready to use.
type fieldErrors map[string][]string

func (f *fieldErrors) add(field, msg string) {
	if *f == nil {
		*f = fieldErrors{}
	}
	(*f)[field] = append((*f)[field], msg)
}

// err returns a *ValidationError of the collected messages, or nil.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// textRule says what a string field accepts. Every string is checked for
// valid UTF-8 and NUL bytes (PostgreSQL refuses both in text, and that must
// be a 400, not a 500); nothing is trimmed.
type textRule struct {
	min, max int // in characters (runes); min 1 makes the field required
	// singleLine refuses control characters and leading or trailing white
	// space: names, identifiers, barcodes.
	singleLine bool
}

// checkText validates v against r, recording problems under field. It
// reports whether v passed.
func (f *fieldErrors) checkText(field, v string, r textRule) bool {
	if !utf8.ValidString(v) {
		f.add(field, "must be valid UTF-8")
		return false
	}
	if strings.IndexByte(v, 0) >= 0 {
		f.add(field, "must not contain NUL characters")
		return false
	}
	n := utf8.RuneCountInString(v)
	switch {
	case n == 0 && r.min > 0:
		f.add(field, "this field is required")
		return false
	case n < r.min:
		f.add(field, fmt.Sprintf("must be at least %d characters", r.min))
		return false
	case r.max > 0 && n > r.max:
		f.add(field, fmt.Sprintf("must be at most %d characters", r.max))
		return false
	}
	if r.singleLine {
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			f.add(field, "must not contain control characters")
			return false
		}
		if strings.TrimSpace(v) != v {
			f.add(field, "must not start or end with white space")
			return false
		}
	}
	return true
}

// maxJSONBytes bounds settings and metadata: 64 KiB, as the design says.
const maxJSONBytes = 64 << 10

// checkJSONObject validates a JSON object field (settings, metadata) and
// returns it re-encoded: null or empty becomes {}; invalid UTF-8, NUL
// characters (\u0000, which jsonb refuses), numbers out of float64 range and
// anything but an object are field errors. Re-encoding replaces lone UTF-16
// surrogate escapes (which jsonb also refuses) with U+FFFD.
func (f *fieldErrors) checkJSONObject(field string, raw json.RawMessage) (json.RawMessage, map[string]any) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), map[string]any{}
	}
	if len(raw) > maxJSONBytes {
		f.add(field, "must be at most 64 KiB")
		return nil, nil
	}
	if !utf8.Valid(raw) {
		f.add(field, "must be valid UTF-8")
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		f.add(field, "must be valid JSON")
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		f.add(field, "must be a JSON object")
		return nil, nil
	}
	if msg := checkJSONValue(obj, 0); msg != "" {
		f.add(field, msg)
		return nil, nil
	}
	out, err := json.Marshal(obj)
	if err != nil {
		f.add(field, "must be valid JSON")
		return nil, nil
	}
	if len(out) > maxJSONBytes {
		f.add(field, "must be at most 64 KiB")
		return nil, nil
	}
	return out, obj
}

// maxJSONDepth keeps a pathological nesting out of the database's parser.
const maxJSONDepth = 64

// checkJSONValue walks a decoded value for what jsonb refuses.
func checkJSONValue(v any, depth int) string {
	if depth > maxJSONDepth {
		return fmt.Sprintf("must not nest deeper than %d levels", maxJSONDepth)
	}
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return "must not contain NUL characters (\\u0000)"
		}
	case json.Number:
		if x, err := v.Float64(); err != nil || math.IsInf(x, 0) {
			return "contains a number out of range"
		}
	case []any:
		for _, e := range v {
			if msg := checkJSONValue(e, depth+1); msg != "" {
				return msg
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.IndexByte(k, 0) >= 0 {
				return "must not contain NUL characters (\\u0000)"
			}
			if msg := checkJSONValue(e, depth+1); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// checkSettings validates a center's settings and returns them re-encoded.
// settings.sample_types, when present, must be a non-empty list of distinct
// non-empty strings of at most 50 characters.
func (f *fieldErrors) checkSettings(raw json.RawMessage) json.RawMessage {
	out, obj := f.checkJSONObject("settings", raw)
	if obj == nil {
		return nil
	}
	st, ok := obj["sample_types"]
	if !ok {
		return out
	}
	list, ok := st.([]any)
	if !ok || len(list) == 0 {
		f.add("settings", "sample_types must be a non-empty list of strings")
		return nil
	}
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			f.add("settings", "sample_types must be a non-empty list of strings")
			return nil
		}
		var sub fieldErrors
		if !sub.checkText("sample_types", s, textRule{min: 1, max: 50, singleLine: true}) {
			f.add("settings", fmt.Sprintf("sample_types entry %q %s", s, sub["sample_types"][0]))
			return nil
		}
		if seen[s] {
			f.add("settings", fmt.Sprintf("sample_types lists %q twice", s))
			return nil
		}
		seen[s] = true
	}
	return out
}

// sampleTypesOf returns the sample types a center's settings allow: its
// settings.sample_types, else DefaultSampleTypes.
func sampleTypesOf(settings json.RawMessage) []string {
	var s struct {
		SampleTypes []string `json:"sample_types"`
	}
	if json.Unmarshal(settings, &s) != nil || len(s.SampleTypes) == 0 {
		return DefaultSampleTypes
	}
	return s.SampleTypes
}

// SuggestionCandidates bounds a "did you mean" lookup: at most this many
// names leave the database and are compared in Go, however many centers or
// users the registry holds. PostgreSQL still filters the whole table (no
// index serves an edit distance), a scan of short names in one query.
const SuggestionCandidates = 50

// registryNames is a column of the registry that Resolve looks names up in.
// The fields are fixed SQL, never input.
type registryNames struct {
	table  pgx.Identifier
	column string
	order  string // ties go to the earlier name in this ORDER BY
}

var (
	centerNames = registryNames{pgx.Identifier{"public", "centers"}, "name", "is_active DESC, lower(name)"}
	userNames   = registryNames{pgx.Identifier{"public", "users"}, "username", "is_active DESC, username"}
)

// suggestion returns the name suggest picks for key among the names of rn,
// and how many candidates it read: at most SuggestionCandidates. The query
// keeps only names suggest could pick (key a prefix of them; or a length
// within 2 and, since two edits leave one of three pieces of key intact,
// one of those pieces inside them), ranks them by how much of key they
// share (equal, prefix, bigrams in common, length) and returns the best
// SuggestionCandidates in rn's order. Invalid UTF-8 and NUL, which no name
// holds, get no suggestion.
//
// The pieces and bigrams are cut from key as given and lowered in SQL, as
// the names are: Go's strings.ToLower folds more than lower() does under
// the C locale (only ASCII), and a piece lowered by one compared with a
// name lowered by the other would miss.
func (s *Store) suggestion(ctx context.Context, rn registryNames, key string) (string, int, error) {
	if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return "", 0, nil
	}
	k := []rune(key)
	pieces := make([]string, 3)
	for i := range pieces {
		pieces[i] = string(k[i*len(k)/3 : (i+1)*len(k)/3])
	}
	var bigrams []string
	for i := 0; i+1 < len(k); i++ {
		bigrams = append(bigrams, string(k[i:i+2]))
	}
	q := fmt.Sprintf(`
SELECT %[1]s FROM (
	SELECT %[1]s, is_active FROM %[2]s
	WHERE ($3 AND starts_with(lower(%[1]s), lower($1)))
		OR (char_length(lower(%[1]s)) BETWEEN $2 - 2 AND $2 + 2
			AND EXISTS (SELECT FROM unnest($4::text[]) p WHERE strpos(lower(%[1]s), lower(p)) > 0))
	ORDER BY lower(%[1]s) = lower($1) DESC, ($3 AND starts_with(lower(%[1]s), lower($1))) DESC,
		(SELECT count(*) FROM unnest($5::text[]) b WHERE strpos(lower(%[1]s), lower(b)) > 0) DESC,
		abs(char_length(lower(%[1]s)) - $2), %[3]s
	LIMIT $6) c
ORDER BY %[3]s`, rn.column, rn.table.Sanitize(), rn.order)
	rows, err := s.pool.Query(ctx, q, key, len(k), len(key) >= 3, pieces, bigrams, SuggestionCandidates)
	if err != nil {
		return "", 0, fmt.Errorf("suggest a %s: %w", rn.column, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", 0, fmt.Errorf("suggest a %s: %w", rn.column, err)
	}
	return suggest(key, names), len(names), nil
}

// suggest returns the candidate closest to key, if one is close enough to be
// what was meant: equal but for case, a case-insensitive prefix of it or it
// of the candidate, or within Levenshtein distance 2 (case-insensitive).
// Ties go to the earlier candidate.
func suggest(key string, candidates []string) string {
	k := strings.ToLower(key)
	best, bestScore := "", 1<<30
	for _, c := range candidates {
		lc := strings.ToLower(c)
		var score int
		switch {
		case lc == k:
			score = 0
		case len(k) >= 3 && strings.HasPrefix(lc, k):
			score = 1
		default:
			d := levenshtein(k, lc, 3)
			if d > 2 {
				continue
			}
			score = 1 + d
		}
		if score < bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// levenshtein is the edit distance between a and b in runes, or limit when
// the distance is at least limit (so long names cost nothing).
func levenshtein(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(rb)], limit)
}
