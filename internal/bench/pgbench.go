package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgbenchLoad is a floor: script run by pgbench with conns clients, each
// transaction one request's SQL.
type pgbenchLoad struct {
	script string
	vars   map[string]string // -D
	// walk is how many transactions of each client are a walk (see
	// walkScript), before the scale's warm-up and measured duration, and
	// walkTime how long they are expected to take at most.
	walk     int
	walkTime time.Duration
	// session is the search_path of pgbench's connections, if not the
	// server's default (see fixture.pgbenchSession).
	session string
}

// pgbenchCommand is pgbench with args, its connections' search_path
// session unless empty.
func (e *Env) pgbenchCommand(ctx context.Context, session string, args ...string) *exec.Cmd {
	cmd := e.Command(ctx, "pgbench", args...)
	if session != "" {
		// libpq's options, which the server reads as command-line
		// switches; the last of duplicate variables wins.
		cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path="+session)
	}
	return cmd
}

// walkScript makes a list's script start each client with a walk over
// every one of the spread's centers, from its own offset, before picking
// centers at random: a run's connections meet every center first, as a
// long-running server's do. pgbench's variables outlive a transaction, so
// :i counts a client's transactions.
func walkScript(script string) (string, error) {
	rest, ok := strings.CutPrefix(script, pickRead)
	if !ok {
		return "", errors.New("bench: the list's pgbench script does not start by picking a center")
	}
	return "\\if :i < :spread\n\\set n (:client_id * :spread / :clients + :i) % :spread\n\\else\n" + pickRead +
		"\\endif\n\\set i :i + 1\n" + rest, nil
}

// pgbenchRun is a pgbench load's transactions, from its logs.
type pgbenchRun []pgbenchTx

type pgbenchTx struct {
	client, no int // the client, and the transaction's number in its sequence
	start, end time.Time
}

// runPgbench runs load against dbURL in prepared mode for the scale's
// warm-up and duration, and measures as wrkLoad does: the transactions
// begun after the warm-up and ended within the duration, with each one's
// latency from pgbench's per-transaction log. total counts every
// transaction, warm-up included.
func (e *Env) runPgbench(ctx context.Context, dbURL string, load pgbenchLoad) (m measured, total int, err error) {
	dir, err := os.MkdirTemp("", "tenantctl-pgbench-")
	if err != nil {
		return m, 0, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(script, []byte(load.script), 0o644); err != nil {
		return m, 0, fmt.Errorf("bench: %w", err)
	}
	sc := e.Scale
	secs := int(math.Ceil((load.walkTime + sc.Warmup + sc.Duration).Seconds()))
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(sc.Conns), "-j", "2", "-T", strconv.Itoa(secs),
		"-f", script, "-l", "--log-prefix", filepath.Join(dir, "log")}
	for _, k := range slices.Sorted(maps.Keys(load.vars)) {
		args = append(args, "-D", k+"="+load.vars[k])
	}
	out, err := e.pgbenchCommand(ctx, load.session, append(args, dbURL)...).CombinedOutput()
	if err != nil {
		return m, 0, fmt.Errorf("pgbench: %w: %s", err, lastLine(string(out)))
	}
	logs, err := filepath.Glob(filepath.Join(dir, "log.*"))
	if err != nil || len(logs) == 0 {
		return m, 0, fmt.Errorf("pgbench wrote no transaction log: %s", lastLine(string(out)))
	}
	var r pgbenchRun
	for _, name := range logs {
		b, err := os.ReadFile(name)
		if err != nil {
			return m, 0, fmt.Errorf("bench: %w", err)
		}
		if r, err = r.add(string(b)); err != nil {
			return m, 0, err
		}
	}
	lat := r.window(load.walk, sc.Warmup, sc.Duration)
	if len(lat) == 0 {
		return m, 0, fmt.Errorf("pgbench: no transaction in the measured window (walk of %d per client expected to take %s)", load.walk, load.walkTime)
	}
	return fromLatencies(lat, sc.Duration), len(r), nil
}

// add reads a pgbench per-transaction log into r, each line
// "client_id transaction_no time script_no time_epoch time_us": the
// latency in µs and when the transaction ended.
func (r pgbenchRun) add(log string) (pgbenchRun, error) {
	for line := range strings.Lines(log) {
		fs := strings.Fields(line)
		if len(fs) < 6 {
			continue
		}
		client, err0 := strconv.Atoi(fs[0])
		no, err1 := strconv.Atoi(fs[1])
		lat, err2 := strconv.ParseInt(fs[2], 10, 64)
		sec, err3 := strconv.ParseInt(fs[4], 10, 64)
		usec, err4 := strconv.ParseInt(fs[5], 10, 64)
		if err := errors.Join(err0, err1, err2, err3, err4); err != nil {
			return r, fmt.Errorf("pgbench log: unexpected line %q", strings.TrimSpace(line))
		}
		end := time.Unix(sec, usec*1000)
		r = append(r, pgbenchTx{client, no, end.Add(-time.Duration(lat) * time.Microsecond), end})
	}
	return r, nil
}

// window returns the latencies of the transactions begun after warmup and
// ended within duration, counted from the first one's start, or, when
// each client first walks walk transactions, from the end of the last
// walk, walks left out; sorted.
func (r pgbenchRun) window(walk int, warmup, duration time.Duration) []time.Duration {
	if len(r) == 0 {
		return nil
	}
	first := r[0].start
	for _, t := range r {
		if walk == 0 && t.start.Before(first) {
			first = t.start
		}
		if walk > 0 && t.no == walk-1 && t.end.After(first) {
			first = t.end
		}
	}
	from := first.Add(warmup)
	to := from.Add(duration)
	var lat []time.Duration
	for _, t := range r {
		if t.no >= walk && !t.start.Before(from) && !t.end.After(to) {
			lat = append(lat, t.end.Sub(t.start))
		}
	}
	slices.Sort(lat)
	return lat
}
