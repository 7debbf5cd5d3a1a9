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

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		1<<20 - 1: "1024.0 KiB", 1 << 20: "1.0 MiB", 5 << 30: "5.0 GiB", 1 << 62: "4.0 EiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 centers", 1: "1 center", 2: "2 centers"} {
		if got := Plural(n, "center"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}
