package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantctl/tenantctl/pkg/cli"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

const archiveGroup = "Tenant export and import"

// Tenantctl is benchrun's hidden "tenantctl" mode: the CLI itself in a
// process of its own, so that the archive benchmark measures the
// exporting and importing processes' time and memory as an operator's
// tenantctl spends them.
func Tenantctl(ctx context.Context, args []string) int {
	return cli.Main(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// archiveBenchmark measures `tenantctl center export` and `tenantctl
// center import` of one center of Scale.ArchiveSamples samples against
// pg_dump -Fc -n and pg_restore --single-transaction of the same schema,
// in rounds that alternate which side goes first: each side's export of
// the same center, then each side's import into a database of its own,
// made (untimed) for the round with the registry migrated, as a target
// database of an import is. Each run is a process; its time is the wall
// time from start to exit, its memory the peak resident set the kernel
// reports for it.
func archiveBenchmark(ctx context.Context, e *Env) []Row {
	n := e.Scale.ArchiveSamples
	what := fmt.Sprintf("a center of %d samples", n)
	exp := Row{Group: archiveGroup, What: "export " + what + ": `tenantctl center export` vs `pg_dump -Fc -n`, throughput", Target: RatioAtLeast(0.8)}
	imp := Row{Group: archiveGroup, What: "import " + what + ": `tenantctl center import` vs `pg_restore --single-transaction`, throughput", Target: RatioAtLeast(0.8)}
	expMem := Row{Group: archiveGroup, What: "exporting process's peak resident memory, " + what + " (floor: pg_dump's)", Target: AtMost(64, "MiB")}
	impMem := Row{Group: archiveGroup, What: "importing process's peak resident memory, " + what + " (floor: pg_restore's)", Target: AtMost(64, "MiB")}
	rows := func(err error) []Row {
		for _, r := range []*Row{&exp, &imp, &expMem, &impMem} {
			r.Err = err
		}
		return []Row{exp, imp, expMem, impMem}
	}
	url, err := e.NewDatabase(ctx, "bench_archive")
	if err != nil {
		return rows(err)
	}
	center, schema, err := archiveFixture(ctx, url, n)
	if err != nil {
		return rows(err)
	}
	dir, err := os.MkdirTemp("", "tenantctl-bench-archive-")
	if err != nil {
		return rows(err)
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return rows(err)
	}

	// Each round writes its own files and imports them into databases of
	// its own, so that no side reads what the other left in the page
	// cache or the server's buffers more than its own run did.
	var ours, floor archiveRuns
	oursFile := func(r int) string { return filepath.Join(dir, fmt.Sprintf("ours-%d.tenant", r)) }
	floorFile := func(r int) string { return filepath.Join(dir, fmt.Sprintf("pgdump-%d.dump", r)) }
	var oursDB, floorDB string
	exportOurs := &side{name: "tenantctl export", run: func(r int) (time.Duration, error) {
		return ours.export.run(ctx, exec.CommandContext(ctx, self, "tenantctl", "center", "export", center.String(), "-f", oursFile(r), "-o", "json", "--database-url", url))
	}}
	exportFloor := &side{name: "pg_dump", run: func(r int) (time.Duration, error) {
		return floor.export.run(ctx, e.Command(ctx, "pg_dump", "-Fc", "-n", schema, "-f", floorFile(r), "-d", url))
	}}
	if err := e.alternate(ctx, pairRounds, exportOurs, exportFloor); err != nil {
		return rows(err)
	}
	importOurs := &side{name: "tenantctl import",
		before: func(r int) (err error) {
			oursDB, err = e.NewDatabase(ctx, fmt.Sprintf("bench_archive_ours_%d", r))
			return err
		},
		run: func(r int) (time.Duration, error) {
			return ours.imp.run(ctx, exec.CommandContext(ctx, self, "tenantctl", "center", "import", "-f", oursFile(r), "-o", "json", "--database-url", oursDB))
		}}
	importFloor := &side{name: "pg_restore",
		before: func(r int) (err error) {
			floorDB, err = e.NewDatabase(ctx, fmt.Sprintf("bench_archive_floor_%d", r))
			return err
		},
		run: func(r int) (time.Duration, error) {
			return floor.imp.run(ctx, e.Command(ctx, "pg_restore", "--single-transaction", "-d", floorDB, floorFile(r)))
		}}
	if err := e.alternate(ctx, pairRounds, importOurs, importFloor); err != nil {
		return rows(err)
	}
	if err := sameRows(ctx, oursDB, floorDB, schema, n); err != nil {
		return rows(err)
	}

	oursSize, floorSize := fileSize(oursFile(0)), fileSize(floorFile(0))
	exp.Ours, exp.Floor = ours.export.throughput(n), floor.export.throughput(n)
	exp.Note = fmt.Sprintf("Higher is better. %d rounds, each side's median: tenantctl %s, pg_dump %s; files %.1f MiB (gzip level 1, COPY text) and %.1f MiB (pg_dump's custom format, zlib's default level). Both read one snapshot; tenantctl also reads the schema's description and the registry row, and checksums every byte (SHA-256).",
		pairRounds, ours.export.median(), floor.export.median(), mib(oursSize).Value, mib(floorSize).Value)
	imp.Ours, imp.Floor = ours.imp.throughput(n), floor.imp.throughput(n)
	imp.Note = fmt.Sprintf("Higher is better. Each into a new database with the registry migrated, the rows checked equal afterwards; medians: tenantctl %s, pg_restore %s. tenantctl also builds a scratch schema from its migrations to check the archive's definition against, verifies every checksum, and records the ledger and registry rows; both build the indexes after the rows.",
		ours.imp.median(), floor.imp.median())
	expMem.Ours, expMem.Floor = mib(ours.export.peak()), mib(floor.export.peak())
	expMem.Note = "The largest peak resident set (VmHWM, read every 10 ms) of the rounds' processes; tenantctl's is benchrun's binary in its tenantctl mode, the CLI's code and a little more. The export holds one chunk of a table's rows (1 MiB) at a time, whatever the tenant's size."
	impMem.Ours, impMem.Floor = mib(ours.imp.peak()), mib(floor.imp.peak())
	impMem.Note = "As above; the import streams each table's chunks into COPY FROM, holding one chunk at a time."
	return []Row{exp, imp, expMem, impMem}
}

// archiveFixture creates, through the product, the center an archive
// benchmark exports: n samples with metadata, as a laboratory's.
func archiveFixture(ctx context.Context, url string, n int) (uuid.UUID, string, error) {
	pool, m, err := newManager(ctx, url, 2, false)
	if err != nil {
		return uuid.Nil, "", err
	}
	defer pool.Close()
	st := domain.New(pool, m)
	c, err := st.Centers.Create(ctx, domain.System, domain.CenterInput{Name: "Archive"})
	if err != nil {
		return uuid.Nil, "", fmt.Errorf("bench: create center: %w", err)
	}
	schema := m.SchemaName(c.ID)
	_, err = pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "samples"}.Sanitize()+`
	(name, sample_type, barcode, user_id, metadata, created_at, updated_at)
SELECT 'Sample ' || s, (ARRAY['blood', 'urine', 'tissue', 'saliva'])[1 + s % 4], 'A-' || s, gen_random_uuid(),
	jsonb_build_object('source', 'bench', 'lot', s % 997, 'note', md5(s::text)),
	now() - s * interval '1 minute', now() - s * interval '1 minute'
FROM generate_series(1, $1::int) s`, n)
	if err == nil {
		_, err = pool.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{schema, "samples"}.Sanitize())
	}
	if err != nil {
		return uuid.Nil, "", fmt.Errorf("bench: insert samples: %w", err)
	}
	return c.ID, schema, nil
}

// sameRows checks that the two imports hold the same n samples.
func sameRows(ctx context.Context, oursURL, floorURL, schema string, n int) error {
	var counts [2]int
	var sums [2]string
	for i, url := range []string{oursURL, floorURL} {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		err = conn.QueryRow(ctx, "SELECT count(*), md5(string_agg(s::text, ',' ORDER BY id)) FROM "+
			pgx.Identifier{schema, "samples"}.Sanitize()+" s").Scan(&counts[i], &sums[i])
		conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("bench: read the import: %w", err)
		}
	}
	if counts != [2]int{n, n} || sums[0] != sums[1] {
		return fmt.Errorf("bench: the imports differ: tenantctl's %d rows (md5 %s), pg_restore's %d (md5 %s), want %d", counts[0], sums[0], counts[1], sums[1], n)
	}
	return nil
}

// archiveRuns are one side's processes.
type archiveRuns struct{ export, imp processRuns }

// processRuns are the wall times and peak resident sets (bytes) of one
// kind of process.
type processRuns struct {
	took []time.Duration
	rss  []uint64
}

// run runs cmd to its end and records it. Its peak resident set is
// VmHWM, read every 10 ms while it runs: getrusage's ru_maxrss would not
// do, since a child Go starts shares the parent's memory until it execs
// (vfork) and the kernel carries that size over into the child's maximum.
func (p *processRuns) run(ctx context.Context, cmd *exec.Cmd) (time.Duration, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("bench: %s: %w", filepath.Base(cmd.Path), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, hwm, err := procMemory(cmd.Process.Pid); err == nil {
			peak = max(peak, hwm)
		}
		select {
		case err := <-done:
			d := time.Since(start)
			if err != nil {
				return d, fmt.Errorf("bench: %s: %w: %s", filepath.Base(cmd.Path), err, tail(out.Bytes()))
			}
			p.took, p.rss = append(p.took, d), append(p.rss, uint64(peak))
			return d, ctx.Err()
		case <-tick.C:
		}
	}
}

func (p *processRuns) median() time.Duration {
	s := slices.Sorted(slices.Values(p.took))
	return s[len(s)/2].Round(time.Millisecond)
}

func (p *processRuns) throughput(n int) Figure {
	return Figure{Value: float64(n) / p.median().Seconds(), Unit: "samples/s"}
}

func (p *processRuns) peak() uint64 { return slices.Max(p.rss) }

func fileSize(name string) uint64 {
	st, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return uint64(st.Size())
}

// tail is the end of a process's output, for an error.
func tail(out []byte) string {
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return string(out)
}
