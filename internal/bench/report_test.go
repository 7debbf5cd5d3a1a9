package bench

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRowMet(t *testing.T) {
	ms := func(v float64) Figure { return Figure{v, "ms"} }
	for _, c := range []struct {
		name    string
		row     Row
		met, ok bool
	}{
		{"ratio at most, met", Row{Ours: ms(1.4), Floor: ms(1), Target: RatioAtMost(1.5)}, true, true},
		{"ratio at most, missed", Row{Ours: ms(1.6), Floor: ms(1), Target: RatioAtMost(1.5)}, false, true},
		{"ratio at most, on the mark", Row{Ours: ms(3), Floor: ms(2), Target: RatioAtMost(1.5)}, true, true},
		{"ratio at least, met", Row{Ours: Figure{500, "req/s"}, Floor: Figure{1000, "tx/s"}, Target: RatioAtLeast(0.4)}, true, true},
		{"ratio at least, missed", Row{Ours: Figure{300, "req/s"}, Floor: Figure{1000, "tx/s"}, Target: RatioAtLeast(0.4)}, false, true},
		{"absolute, met", Row{Ours: Figure{40, "MiB"}, Target: AtMost(64, "MiB")}, true, true},
		{"absolute, missed", Row{Ours: Figure{70, "MiB"}, Target: AtMost(64, "MiB")}, false, true},
		{"no floor for a ratio", Row{Ours: ms(1), Target: RatioAtMost(1.5)}, false, false},
		{"no target", Row{Ours: ms(1), Floor: ms(1)}, false, false},
		{"failed", Row{Ours: ms(1), Floor: ms(1), Target: RatioAtMost(2), Err: errors.New("boom")}, false, false},
	} {
		met, ok := c.row.Met()
		if met != c.met || ok != c.ok {
			t.Errorf("%s: Met() = %v, %v; want %v, %v", c.name, met, ok, c.met, c.ok)
		}
	}
	if r := (Row{Ours: ms(3)}).Ratio(); !math.IsNaN(r) {
		t.Errorf("ratio without a floor = %v, want NaN", r)
	}
}

func TestWriteMarkdown(t *testing.T) {
	rep := &Report{
		Title:  "Benchmarks",
		Header: []string{"Machine: test."},
		Rows: []Row{
			{Group: "A", What: "first | piped", Ours: Figure{3, "ms"}, Floor: Figure{2, "ms"}, Target: RatioAtMost(1.2), Note: "two\nlines"},
			{Group: "B", What: "memory", Ours: Figure{40.25, "MiB"}, Target: AtMost(64, "MiB")},
			{Group: "A", What: "second", Err: errors.New("cluster gone"), Target: RatioAtLeast(1)},
		},
		Footer: []string{"The end."},
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	want := `# Benchmarks

Machine: test.

## A

| what | ours | floor | ratio | target | met | note |
|---|---|---|---|---|---|---|
| first \| piped | 3 ms | 2 ms | 1.50× | ≤ 1.2× | **not met** | two lines |
| second | not measured | | | ≥ 1× | — | error: cluster gone |

## B

| what | ours | floor | ratio | target | met | note |
|---|---|---|---|---|---|---|
| memory | 40.2 MiB |  |  | ≤ 64 MiB | met |  |

The end.
`
	if got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
}
