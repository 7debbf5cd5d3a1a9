package bench

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenantctl/tenantctl/internal/loadgen"
)

// pgbenchLoad is a floor: script run by pgbench with conns clients, each
// transaction one request's SQL.
type pgbenchLoad struct {
	script string
	vars   map[string]string // -D
}

// pgbenchRun is what a pgbench load measured, in the load generator's
// terms, and how many transactions it ran in all, warm-up included.
type pgbenchRun struct {
	loadgen.Result
	total int
}

// runPgbench runs load against dbURL in prepared mode for the scale's
// warm-up and duration, and measures like the load generator: the
// transactions begun after the warm-up and ended within the duration,
// with each one's latency from pgbench's per-transaction log.
func (e *Env) runPgbench(ctx context.Context, dbURL string, load pgbenchLoad) (pgbenchRun, error) {
	dir, err := os.MkdirTemp("", "tenantctl-pgbench-")
	if err != nil {
		return pgbenchRun{}, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(script, []byte(load.script), 0o644); err != nil {
		return pgbenchRun{}, fmt.Errorf("bench: %w", err)
	}
	sc := e.Scale
	secs := int(math.Ceil((sc.Warmup + sc.Duration).Seconds()))
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(sc.Conns), "-j", "2", "-T", strconv.Itoa(secs),
		"-f", script, "-l", "--log-prefix", filepath.Join(dir, "log")}
	for _, k := range slices.Sorted(maps.Keys(load.vars)) {
		args = append(args, "-D", k+"="+load.vars[k])
	}
	out, err := e.Command(ctx, "pgbench", append(args, dbURL)...).CombinedOutput()
	if err != nil {
		return pgbenchRun{}, fmt.Errorf("pgbench: %w: %s", err, lastLine(string(out)))
	}
	logs, err := filepath.Glob(filepath.Join(dir, "log.*"))
	if err != nil || len(logs) == 0 {
		return pgbenchRun{}, fmt.Errorf("pgbench wrote no transaction log: %s", lastLine(string(out)))
	}
	type tx struct{ start, end time.Time }
	var txs []tx
	for _, name := range logs {
		f, err := os.Open(name)
		if err != nil {
			return pgbenchRun{}, fmt.Errorf("bench: %w", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// client_id transaction_no time script_no time_epoch time_us
			fs := strings.Fields(sc.Text())
			if len(fs) < 6 {
				continue
			}
			lat, err1 := strconv.ParseInt(fs[2], 10, 64)
			sec, err2 := strconv.ParseInt(fs[4], 10, 64)
			usec, err3 := strconv.ParseInt(fs[5], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				f.Close()
				return pgbenchRun{}, fmt.Errorf("pgbench log: unexpected line %q", sc.Text())
			}
			end := time.Unix(sec, usec*1000)
			txs = append(txs, tx{end.Add(-time.Duration(lat) * time.Microsecond), end})
		}
		f.Close()
	}
	first := txs[0].start
	for _, t := range txs {
		if t.start.Before(first) {
			first = t.start
		}
	}
	from := first.Add(sc.Warmup)
	to := from.Add(sc.Duration)
	r := pgbenchRun{total: len(txs)}
	for _, t := range txs {
		if !t.start.Before(from) && !t.end.After(to) {
			r.Latencies = append(r.Latencies, t.end.Sub(t.start))
		}
	}
	slices.Sort(r.Latencies)
	r.Requests = len(r.Latencies)
	r.Elapsed = sc.Duration
	return r, nil
}
