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
	"fmt"
	"io"
	"math"
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

// Report is a run's rows and where they were measured.
type Report struct {
	Title  string
	Header []string // paragraphs before the tables: machine, server, command
	Rows   []Row
	Footer []string // paragraphs after the tables
}

// WriteMarkdown writes the report as Markdown: one table per group, in the
// order groups first appear.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rep.Title)
	for _, p := range rep.Header {
		fmt.Fprintf(&b, "%s\n\n", p)
	}
	var groups []string
	byGroup := map[string][]Row{}
	for _, r := range rep.Rows {
		if _, seen := byGroup[r.Group]; !seen {
			groups = append(groups, r.Group)
		}
		byGroup[r.Group] = append(byGroup[r.Group], r)
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "## %s\n\n", g)
		b.WriteString("| what | ours | floor | ratio | target | met | note |\n|---|---|---|---|---|---|---|\n")
		for _, r := range byGroup[g] {
			b.WriteString(r.markdown())
		}
		b.WriteString("\n")
	}
	for _, p := range rep.Footer {
		fmt.Fprintf(&b, "%s\n\n", p)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
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
