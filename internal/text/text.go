// Package text holds string helpers shared by the library and its front
// ends, which must not depend on each other.
package text

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Truncate shortens s to at most n bytes and marks the cut with "…" (3
// more bytes), for input quoted in an error message and for errors kept in
// a text column. It cuts between runes: half a rune would show as \x
// escapes in a quoted string, and PostgreSQL refuses text that is not
// valid UTF-8. n must not be negative.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	// A rune is at most utf8.UTFMax bytes: look no further back, so that
	// bytes that are not UTF-8 at all are cut where n falls.
	for i := n; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			cut = i
			break
		}
	}
	return s[:cut] + "…"
}

// Strings converts a list of a string type (an enum's values: roles,
// statuses, orderings) to plain strings, for joining into messages and
// offering as flag values.
func Strings[T ~string](vs []T) []string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return s
}

// Bytes is n in the largest binary unit that keeps it at 1 or more:
// "512 B", "1.5 KiB", "2.0 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Plural is n and noun, with an s unless n is 1: "1 center", "2 centers".
func Plural(n int, noun string) string {
	s := strconv.Itoa(n) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
