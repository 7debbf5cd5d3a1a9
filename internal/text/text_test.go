package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 4, ""},
		{"abcd", 4, "abcd"},
		{"abcde", 4, "abcd…"},
		{"abcde", 0, "…"},
		{"ééé", 6, "ééé"},
		{"ééé", 5, "éé…"}, // the third é would be split
		{"aéé", 2, "a…"},  // so would the first
		{"a😀b", 4, "a…"},  // a 4-byte rune
		{"a😀b", 5, "a😀…"}, // which fits
		{"İSTANBUL", 1, "…"},
		{"\xff\xff\xff\xff\xff", 2, "\xff\xff…"}, // not UTF-8: cut where n falls
		{strings.Repeat("\x80", 10), 6, strings.Repeat("\x80", 6) + "…"},
	} {
		got := Truncate(tc.s, tc.n)
		if got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
		if utf8.ValidString(tc.s) && !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q: not UTF-8", tc.s, tc.n, got)
		}
	}
}

func TestStrings(t *testing.T) {
	type role string
	if got := Strings([]role{"a", "b"}); strings.Join(got, ",") != "a,b" {
		t.Errorf("Strings = %q", got)
	}
	if got := Strings([]role(nil)); len(got) != 0 {
		t.Errorf("Strings(nil) = %q", got)
	}
}
