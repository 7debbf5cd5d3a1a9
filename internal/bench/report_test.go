package bench

import (
	"errors"
	"fmt"
	"io"
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
		Sections: []Section{
			{Bench: "provision", Measured: "Measured today.", Rows: []Row{
				{Group: "A", What: "first | piped", Ours: Figure{3, "ms"}, Floor: Figure{2, "ms"}, Target: RatioAtMost(1.2), Note: "two\nlines"},
				{Group: "B", What: "memory", Ours: Figure{40.25, "MiB"}, Target: AtMost(64, "MiB")},
				{Group: "A", What: "second", Err: errors.New("cluster gone"), Target: RatioAtLeast(1)},
			}},
			{Bench: "fleet", Measured: "Measured later.", Rows: []Row{{Group: "A", What: "third", Ours: Figure{1, "ms"}}}},
		},
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b, ""); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	want := `# Benchmarks

Machine: test.

<!-- benchmark: provision -->
## A

Measured today.

| what | ours | floor | ratio | target | met | note |
|---|---|---|---|---|---|---|
| first \| piped | 3 ms | 2 ms | 1.50× | ≤ 1.2× | **not met** | two lines |
| second | not measured | | | ≥ 1× | — | error: cluster gone |

## B

| what | ours | floor | ratio | target | met | note |
|---|---|---|---|---|---|---|
| memory | 40.2 MiB |  |  | ≤ 64 MiB | met |  |

<!-- benchmark: fleet -->
## A

Measured later.

| what | ours | floor | ratio | target | met | note |
|---|---|---|---|---|---|---|
| third | 1 ms |  |  |  | — |  |
`
	if got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
}

// TestWriteMarkdownMerge: a run of some benchmarks replaces their sections
// of the earlier file and keeps the others as they were, a section the
// file lacks going in All's order; the header is the new run's.
func TestWriteMarkdownMerge(t *testing.T) {
	// Sections of an earlier file: kept ones with what WriteMarkdown would
	// not write (a hand-made line, trailing spaces, a benchmark All no
	// longer has), and no blank line after the last.
	const provision = "<!-- benchmark: provision -->\n## Tenant provisioning\n\nMeasured long ago.  \n\n| what |\n|---|\n| kept \\| byte for byte |"
	const gone = "<!-- benchmark: retired -->\n## Retired\n\nA benchmark All no longer has."
	const fleet = "<!-- benchmark: fleet -->\n## Tenant provisioning\n\nMeasured once.\n\n| old fleet row |\n\n## Fleet migration\n\n| old migration row |"
	const console = "<!-- benchmark: console -->\n## Admin console\n\n| old console row |"
	old := "# Old title\n\nOld header, replaced.\n\n" + provision + "\n\n" + gone + "\n\n\n" + fleet + "\n\n" + console
	section := func(bench, group string) Section {
		return Section{Bench: bench, Measured: "Measured now.", Rows: []Row{{Group: group, What: "new " + bench, Ours: Figure{1, "ms"}}}}
	}
	rep := &Report{Title: "Benchmarks", Header: []string{"Assembled."}, Sections: []Section{
		section("fleet", "Fleet migration"),
		section("requests", "Tenant-scoped requests"), // missing: after fleet, before console
		section("scale", "Scale in tenants"),          // missing: after requests, before console
	}}
	rendered := func(s Section) string {
		return fmt.Sprintf("<!-- benchmark: %s -->\n## %s\n\nMeasured now.\n\n| what | ours | floor | ratio | target | met | note |\n|---|---|---|---|---|---|---|\n| new %s | 1 ms |  |  |  | — |  |",
			s.Bench, s.Rows[0].Group, s.Bench)
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b, old); err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nAssembled.\n\n" + strings.Join([]string{provision, gone,
		rendered(rep.Sections[0]), rendered(rep.Sections[1]), rendered(rep.Sections[2]), console}, "\n\n") + "\n"
	if got := b.String(); got != want {
		t.Errorf("merged:\n%s\nwant:\n%s", got, want)
	}

	// Merged again with nothing new, the file stays as it is.
	var again strings.Builder
	if err := (&Report{Title: "Benchmarks", Header: []string{"Assembled."}}).WriteMarkdown(&again, want); err != nil {
		t.Fatal(err)
	}
	if again.String() != want {
		t.Errorf("merged with no sections:\n%s\nwant:\n%s", again.String(), want)
	}

	// A file without sections (not written by WriteMarkdown) is refused,
	// not overwritten with the few sections of this run.
	if err := rep.WriteMarkdown(io.Discard, "# Benchmarks\n\n## Tenant provisioning\n\n| a row |\n"); err == nil {
		t.Error("merge into a file without sections: no error")
	}
}

// TestNotesKept: a notes section, written by hand, outlives every run: a
// run of some benchmarks keeps it where it is, a run of all of them keeps
// it (and nothing else of the earlier file) after its own sections.
func TestNotesKept(t *testing.T) {
	const notes = "<!-- notes: changes -->\n## What changed\n\n| row | before | after |\n|---|---|---|\n| list | 1 | 2 |"
	const fleet = "<!-- benchmark: fleet -->\n## Fleet migration\n\n| old fleet row |"
	const gone = "<!-- benchmark: retired -->\n## Retired\n\n| gone |"
	old := "# Benchmarks\n\nAssembled.\n\n" + fleet + "\n\n" + gone + "\n\n" + notes + "\n"
	if got := Notes(old); got != notes {
		t.Fatalf("Notes:\n%s\nwant:\n%s", got, notes)
	}
	rep := &Report{Title: "Benchmarks", Header: []string{"Assembled."}, Sections: []Section{
		{Bench: "requests", Measured: "Measured now.", Rows: []Row{{Group: "Requests", What: "new", Ours: Figure{1, "ms"}}}},
	}}
	const requests = "<!-- benchmark: requests -->\n## Requests\n\nMeasured now.\n\n| what | ours | floor | ratio | target | met | note |\n|---|---|---|---|---|---|---|\n| new | 1 ms |  |  |  | — |  |"

	var merged strings.Builder
	if err := rep.WriteMarkdown(&merged, old); err != nil {
		t.Fatal(err)
	}
	if want := "# Benchmarks\n\nAssembled.\n\n" + fleet + "\n\n" + gone + "\n\n" + requests + "\n\n" + notes + "\n"; merged.String() != want {
		t.Errorf("merged:\n%s\nwant:\n%s", merged.String(), want)
	}

	var whole strings.Builder
	if err := rep.WriteMarkdown(&whole, Notes(old)); err != nil {
		t.Fatal(err)
	}
	if want := "# Benchmarks\n\nAssembled.\n\n" + requests + "\n\n" + notes + "\n"; whole.String() != want {
		t.Errorf("a run of every benchmark:\n%s\nwant:\n%s", whole.String(), want)
	}
}
