package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"go.yaml.in/yaml/v3"
)

// Table is one table of a result: a header and rows of cells.
type Table struct {
	// Title, if set, is printed on a line of its own above the table.
	Title  string
	Header []string
	Rows   [][]string
}

// Tabular is a result that can be shown as tables. JSON and YAML show the
// value itself, through its json tags.
type Tabular interface {
	Tables() []Table
}

// Print writes v to stdout in the configured output format: its Tables for
// table (v must be Tabular), one indented JSON document for json, one YAML
// document for yaml.
func (a *App) Print(v any) error {
	return printer{format: a.Config.Output, w: a.env.Stdout}.print(v)
}

// printer renders results in one format on one writer.
type printer struct {
	format string
	w      io.Writer
}

func (p printer) print(v any) error {
	switch p.format {
	case OutputJSON:
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	case OutputYAML:
		return writeYAML(p.w, v)
	default:
		t, ok := v.(Tabular)
		if !ok {
			return fmt.Errorf("cannot show %T as a table; use -o json or -o yaml", v)
		}
		for i, tbl := range t.Tables() {
			if i > 0 {
				fmt.Fprintln(p.w)
			}
			if err := writeTable(p.w, tbl); err != nil {
				return err
			}
		}
		return nil
	}
}

// writeTable renders tbl without borders, columns apart by spaces, the way
// kubectl and psql's aligned output read: easy to scan and to grep.
func writeTable(w io.Writer, tbl Table) error {
	if tbl.Title != "" {
		fmt.Fprintln(w, tbl.Title)
	}
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off, ShowHeader: tw.Off},
				Lines:      tw.Lines{ShowTop: tw.Off, ShowBottom: tw.Off, ShowHeaderLine: tw.Off, ShowFooterLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		// Long cells (error messages) stay whole: a wrapped or truncated
		// error is worse than a wide line.
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	pad := tw.Padding{Left: "", Right: "   ", Overwrite: true}
	t.Configure(func(cfg *tablewriter.Config) {
		cfg.Header.Padding.Global = pad
		cfg.Row.Padding.Global = pad
	})
	t.Header(tbl.Header)
	if err := t.Bulk(tbl.Rows); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	// The last column's padding would end every line in blanks.
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// writeYAML writes v as one YAML document with the keys and key order of its
// JSON form, so json and yaml output never disagree on names.
func writeYAML(w io.Writer, v any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var node yaml.Node
	// JSON is YAML; decoding into a Node keeps the key order.
	if err := yaml.Unmarshal(js, &node); err != nil {
		return err
	}
	blockStyle(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// blockStyle drops the flow style and quoting that came with the JSON, so
// the encoder writes ordinary block YAML (and quotes only what needs it).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
