// Package bench is the harness behind `make bench`. Every benchmark
// measures tenantctl and, side by side in the same run on the same
// cluster, PostgreSQL's own floor for the same work (psql -f for DDL,
// pgbench for requests), and reports the ratio against its target. A
// ratio measured in one run is stable on a noisy machine where absolute
// times are not.
//
// Benchmarks report; they never fail the run: a benchmark that errs is a
// row saying so, and the others go on.
package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Figure is a measured value and its unit, e.g. {1.3, "ms/tenant"}.
type Figure struct {
	Value float64
	Unit  string
}

func (f Figure) String() string {
	if f.Unit == "" && f.Value == 0 {
		return ""
	}
	return strings.TrimSpace(formatValue(f.Value) + " " + f.Unit)
}

func formatValue(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v) // three significant digits, no trailing zeros

}

// Target is what a row must meet: Ours/Floor (Ratio) or Ours itself
// compared with Value, at most (AtMost) or at least.
type Target struct {
	Ratio  bool
	AtMost bool
	Value  float64
	Unit   string // of Value when not a ratio
}

// None marks a row that reports without a target.
var None = Target{}

// RatioAtMost is a target of Ours/Floor ≤ v.
func RatioAtMost(v float64) Target { return Target{Ratio: true, AtMost: true, Value: v} }

// RatioAtLeast is a target of Ours/Floor ≥ v.
func RatioAtLeast(v float64) Target { return Target{Ratio: true, Value: v} }

// AtMost is a target of Ours ≤ v unit.
func AtMost(v float64, unit string) Target { return Target{AtMost: true, Value: v, Unit: unit} }

func (t Target) String() string {
	if t == None {
		return ""
	}
	op := "≥"
	if t.AtMost {
		op = "≤"
	}
	if t.Ratio {
		return fmt.Sprintf("%s %s×", op, formatValue(t.Value))
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", op, formatValue(t.Value), t.Unit))
}

// Row is one line of BENCHMARKS.md.
type Row struct {
	// Group heads the table the row is in, e.g. "Tenant provisioning".
	Group string
	// What is measured, in a few words a reader can reproduce.
	What  string
	Ours  Figure
	Floor Figure // zero when the target is not a ratio to a floor
	Target
	// Note says what the figures mean, or where the time goes.
	Note string
	// Err is why the row could not be measured; the row then says so.
	Err error
}

// Ratio is Ours/Floor, or NaN without a floor.
func (r Row) Ratio() float64 {
	if r.Floor.Value == 0 {
		return math.NaN()
	}
	return r.Ours.Value / r.Floor.Value
}

// Met reports whether the row meets its target; ok is false when it has
// none or was not measured.
func (r Row) Met() (met, ok bool) {
	if r.Err != nil || r.Target == None {
		return false, false
	}
	v := r.Ours.Value
	if r.Target.Ratio {
		if v = r.Ratio(); math.IsNaN(v) {
			return false, false
		}
	}
	if r.Target.AtMost {
		return v <= r.Target.Value, true
	}
	return v >= r.Target.Value, true
}

// Report is a run's rows, a section for each benchmark run.
type Report struct {
	Title    string
	Header   []string // paragraphs before the sections
	Sections []Section
}

// Section is one benchmark's rows and where they were measured: a
// BENCHMARKS.md assembled from several runs says for each section which
// run it comes from.
type Section struct {
	Bench    string // the benchmark's name in All
	Measured string // when, at what scale, on what machine and server
	Rows     []Row
}

// sectionMark opens each section in the Markdown (an HTML comment, which
// renders as nothing): what WriteMarkdown finds the sections of an earlier
// file by. A benchmark's section is written by a run; a notes section is
// written by hand (what changed, and what it bought) and kept by every
// run, after the benchmarks' sections.
var sectionMark = regexp.MustCompile(`(?m)^<!-- (benchmark|notes): (\S+) -->$`)

// Notes returns the notes sections of old, a file WriteMarkdown wrote:
// the earlier file of a run of every benchmark, which replaces all of
// old's benchmark sections, retired ones too, and keeps its notes.
func Notes(old string) string {
	var notes []string
	marks := sectionMark.FindAllStringSubmatchIndex(old, -1)
	for i, m := range marks {
		if old[m[2]:m[3]] != "notes" {
			continue
		}
		end := len(old)
		if i+1 < len(marks) {
			end = marks[i+1][0]
		}
		notes = append(notes, strings.TrimRight(old[m[0]:end], "\n"))
	}
	return strings.Join(notes, "\n\n")
}

// WriteMarkdown writes the report as Markdown over old, the file's earlier
// content ("" for none): rep's title and header, then old's sections with
// those of the benchmarks rep ran replaced by rep's, the others kept byte
// for byte (but for the blank lines between sections). A section of rep
// that old lacks goes before the first of old's that comes after it in
// All (notes come after every benchmark), or last. A section is one table per group, in the order groups
// first appear in it, the Measured line under its first heading.
func (rep *Report) WriteMarkdown(w io.Writer, old string) error {
	type chunk struct{ bench, text string }
	var chunks []chunk
	marks := sectionMark.FindAllStringSubmatchIndex(old, -1)
	if len(marks) == 0 && strings.TrimSpace(old) != "" {
		return errors.New("the earlier report has no sections marked <!-- benchmark: NAME --> or <!-- notes: NAME -->: run every benchmark to write it anew")
	}
	for i, m := range marks {
		end := len(old)
		if i+1 < len(marks) {
			end = marks[i+1][0]
		}
		name := old[m[4]:m[5]]
		if old[m[2]:m[3]] == "notes" {
			name = "" // no benchmark's name: ordered after them all
		}
		chunks = append(chunks, chunk{name, strings.TrimRight(old[m[0]:end], "\n")})
	}
	order := map[string]int{"": math.MaxInt}
	for i, b := range All() {
		order[b.Name] = i + 1 // 0: a benchmark All no longer has
	}
	for _, s := range rep.Sections {
		c := chunk{s.Bench, s.markdown()}
		i := slices.IndexFunc(chunks, func(o chunk) bool { return o.bench == s.Bench })
		if i >= 0 {
			chunks[i] = c
			continue
		}
		i = slices.IndexFunc(chunks, func(o chunk) bool { return order[o.bench] > order[s.Bench] })
		if i < 0 {
			i = len(chunks)
		}
		chunks = slices.Insert(chunks, i, c)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rep.Title)
	for _, p := range rep.Header {
		fmt.Fprintf(&b, "%s\n\n", p)
	}
	for _, c := range chunks {
		fmt.Fprintf(&b, "%s\n\n", c.text)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// markdown is the section without the blank lines after it.
func (s Section) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- benchmark: %s -->\n", s.Bench)
	var groups []string
	byGroup := map[string][]Row{}
	for _, r := range s.Rows {
		if _, seen := byGroup[r.Group]; !seen {
			groups = append(groups, r.Group)
		}
		byGroup[r.Group] = append(byGroup[r.Group], r)
	}
	for i, g := range groups {
		fmt.Fprintf(&b, "## %s\n\n", g)
		if i == 0 {
			fmt.Fprintf(&b, "%s\n\n", s.Measured)
		}
		b.WriteString("| what | ours | floor | ratio | target | met | note |\n|---|---|---|---|---|---|---|\n")
		for _, r := range byGroup[g] {
			b.WriteString(r.markdown())
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func (r Row) markdown() string {
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	if r.Err != nil {
		return fmt.Sprintf("| %s | not measured | | | %s | — | %s |\n", cell(r.What), r.Target, cell("error: "+r.Err.Error()))
	}
	ratio := ""
	if x := r.Ratio(); !math.IsNaN(x) {
		ratio = fmt.Sprintf("%.2f×", x)
	}
	met := "—"
	if m, ok := r.Met(); ok {
		met = map[bool]string{true: "met", false: "**not met**"}[m]
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |\n", cell(r.What), r.Ours, r.Floor, ratio, r.Target, met, cell(r.Note))
}
