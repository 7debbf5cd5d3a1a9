package cli

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

func newCenterExportCmd(a *App) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "export CENTER -f FILE",
		Short: "Write a center to one portable file",
		Long: `Write a center to one file: its schema's definition, every row of its
tables, its migrations with their checksums, its registry row, and the row
counts and SHA-256 checksums of everything, read from one snapshot while the
center keeps serving. 'tenantctl center import' restores it, here or in
another database. The file is a gzip-compressed tar stream (tar tzf lists
it); its rows are in COPY text format. The center's users, tokens and
sessions are not in it.

The file is written under a temporary name beside FILE and renamed to FILE
once whole, so FILE is never left half written; "-f -" writes to standard
output instead. A progress bar counts the bytes on a terminal.`,
		Example: `  tenantctl center export "Istanbul Medical Center" -f istanbul.tenant
  tenantctl center export "Istanbul Medical Center" -f - | ssh backup 'cat > istanbul.tenant'`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if file == "" {
				return usagef(c, "name the file to write: -f FILE (or -f - for standard output)")
			}
			ctx := c.Context()
			st, center, err := a.resolveCenter(ctx, args[0])
			if err != nil {
				return err
			}
			out, commit, err := a.createOutput(file)
			if err != nil {
				return err
			}
			defer out.Close() // after commit, a no-op; else it removes the temporary file
			w, bar := io.Writer(out), a.byteBar(-1, "exporting")
			if bar != nil {
				w = io.MultiWriter(out, bar)
			}
			start := time.Now()
			info, err := st.Centers.Export(ctx, center.ID, w)
			a.finishBar(bar)
			if err != nil {
				return err
			}
			size, err := commit()
			if err != nil {
				return err
			}
			doc := archiveDoc{Center: center.Name, ID: center.ID.String(), File: file, Bytes: size,
				Version: info.Version, Data: info.Tables, Took: time.Since(start).Round(time.Millisecond).String()}
			if file == "-" {
				return printer{format: a.Config.Output, w: a.env.Stderr}.print(doc)
			}
			return a.Print(doc)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the `FILE` to write, - for standard output")
	return cmd
}

func newCenterImportCmd(a *App) *cobra.Command {
	var file, asNew string
	cmd := &cobra.Command{
		Use:   "import -f FILE [--as-new NAME]",
		Short: "Restore a center from a file 'center export' wrote",
		Long: `Restore a center from a file 'tenantctl center export' wrote, into the
database of --database-url: as the same center (same id, name and state),
which must not exist there, or with --as-new as a new center of that name
(a new id, the archive's description and settings). All in one transaction:
the schema is built from this release's own migrations under a temporary
name, checked against the file's definition, loaded, verified against the
file's row counts and checksums, and renamed; a file that is cut short,
corrupt, altered, of an unknown format or from a release with migrations
this one lacks is refused with one error and leaves nothing behind. A file
from an older release is migrated to the latest version in the same
transaction. Nothing from the file is run as SQL.

"-f -" reads standard input. A progress bar counts the bytes of a file on a
terminal.`,
		Example: `  tenantctl center import -f istanbul.tenant
  tenantctl center import -f istanbul.tenant --as-new "Istanbul (copy)"
  tenantctl center import -f istanbul.tenant --database-url postgres://other-host/multitenant_db`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if file == "" {
				return usagef(c, "name the file to read: -f FILE (or -f - for standard input)")
			}
			if c.Flags().Changed("as-new") && asNew == "" {
				return usagef(c, "--as-new needs the new center's name")
			}
			in, size, err := a.openInput(file)
			if err != nil {
				return err
			}
			defer in.Close()
			r, bar := io.Reader(in), a.byteBar(size, "importing")
			if bar != nil {
				br := progressbar.NewReader(in, bar)
				r = &br
			}
			ctx := c.Context()
			st, err := a.Store(ctx)
			if err != nil {
				return err
			}
			actor, err := a.actor(ctx)
			if err != nil {
				return err
			}
			center, err := st.Centers.Import(ctx, actor, r, domain.ImportOptions{AsNew: asNew})
			a.finishBar(bar)
			if err != nil {
				return err
			}
			return a.Print(centerDoc{center})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the `FILE` to read, - for standard input")
	cmd.Flags().StringVar(&asNew, "as-new", "", "import as a new center of this `NAME`")
	return cmd
}

// createOutput opens where an export goes: standard output for "-", else
// a temporary file beside name that commit syncs and renames to name,
// returning its size. Closing before commit removes the temporary file.
func (a *App) createOutput(name string) (io.WriteCloser, func() (int64, error), error) {
	if name == "-" {
		cw := &countingWriter{w: a.env.Stdout}
		return nopWriteCloser{cw}, func() (int64, error) { return cw.n, nil }, nil
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return nil, nil, err
	}
	t := &tempOutput{f: f, name: name}
	return t, t.commit, nil
}

// tempOutput is an export's file until it is whole.
type tempOutput struct {
	f         *os.File
	name      string
	committed bool
}

func (t *tempOutput) Write(p []byte) (int, error) { return t.f.Write(p) }

func (t *tempOutput) commit() (int64, error) {
	if err := t.f.Sync(); err != nil {
		return 0, err
	}
	st, err := t.f.Stat()
	if err != nil {
		return 0, err
	}
	if err := t.f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(t.f.Name(), t.name); err != nil {
		return 0, err
	}
	t.committed = true
	return st.Size(), nil
}

func (t *tempOutput) Close() error {
	if t.committed {
		return nil
	}
	t.f.Close()
	return os.Remove(t.f.Name())
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// openInput opens what an import reads, standard input for "-", with its
// size when it is a regular file (-1 otherwise).
func (a *App) openInput(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(a.env.Stdin), -1, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return f, -1, nil
	}
	return f, st.Size(), nil
}

// byteBar is a progress bar of n bytes (-1 if unknown), or nil (see bar).
func (a *App) byteBar(n int64, what string) *progressbar.ProgressBar {
	// No spinner of its own for an unknown length: its goroutine outlives
	// Exit by up to a tick; the bar redraws as bytes come.
	return a.bar(n, what, progressbar.OptionShowBytes(true), progressbar.OptionSetSpinnerChangeInterval(0))
}

// archiveDoc reports an export.
type archiveDoc struct {
	Center  string              `json:"center"`
	ID      string              `json:"id"`
	File    string              `json:"file"`
	Bytes   int64               `json:"bytes"`
	Version int32               `json:"version"`
	Data    []tenancy.TableData `json:"tables"`
	Took    string              `json:"took"`
}

func (d archiveDoc) Tables() []Table {
	head := Table{Header: []string{"CENTER", "ID", "FILE", "BYTES", "VERSION", "TOOK"},
		Rows: [][]string{{d.Center, d.ID, d.File, strconv.FormatInt(d.Bytes, 10), strconv.Itoa(int(d.Version)), d.Took}}}
	tables := Table{Header: []string{"TABLE", "ROWS", "BYTES", "CHECKSUM"}}
	for _, t := range d.Data {
		tables.Rows = append(tables.Rows, []string{t.Table, strconv.FormatInt(t.Rows, 10), strconv.FormatInt(t.Bytes, 10), t.SHA256})
	}
	return []Table{head, tables}
}
