package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// profileBenchmark says where the server's time goes under the list load:
// the same server code as the switch benchmark's (benchrun serve) with
// net/http/pprof on, a CPU profile taken over the measured part of the
// load, and its samples summed by what spends them.
func profileBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Where the time goes"
	fail := func(err error) []Row { return []Row{{Group: group, What: "apiserver CPU profile", Err: err}} }
	spread := e.Scale.Spreads[0]
	f, err := requestFixture(ctx, e, spread)
	if err != nil {
		return fail(err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	srv, err := startServer(ctx, f.url, self, "serve", "-pprof", pprofAddr)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()

	secs := max(1, int(e.Scale.Duration.Seconds()))
	type got struct {
		path string
		err  error
	}
	prof := make(chan got, 1)
	go func() {
		// The profile covers the measured part of the load, after its
		// warm-up.
		select {
		case <-time.After(e.Scale.Warmup):
		case <-ctx.Done():
		}
		path, err := fetchProfile(ctx, "http://"+pprofAddr+"/debug/pprof/profile?seconds="+strconv.Itoa(secs))
		prof <- got{path, err}
	}()
	m := f.loadAPI(ctx, e, srv, requests[0], spread)
	p := <-prof
	if err := errors.Join(m.err, p.err); err != nil {
		return fail(err)
	}
	defer os.Remove(p.path)
	shares, total, err := profileShares(ctx, p.path)
	if err != nil {
		return fail(err)
	}
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = fmt.Sprintf("%s %.0f%%", s.what, s.percent)
	}
	return []Row{{Group: group,
		What: fmt.Sprintf("apiserver CPU under the list load, %d connections, %d tenants (pprof over %d s)", e.Scale.Conns, spread, secs),
		Ours: Figure{m.cpu.Seconds() * 1e6, "µs CPU/request"},
		Note: fmt.Sprintf("%.1f s of CPU sampled; by what spent it (a sample counts for the first function up its stack past the runtime and small helpers, a system call wherever it is): %s. Load: %s. "+
			"Each list request is an HTTP exchange, the authentication statement, one batch (BEGIN, the schema switch, the center check), the list query and COMMIT: four round trips to PostgreSQL, each a write and a read, plus the response and the access log line.",
			total.Seconds(), strings.Join(parts, ", "), m.String())}}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// fetchProfile saves the CPU profile at url to a temporary file.
func fetchProfile(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench: fetch the CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: fetch the CPU profile: status %s", resp.Status)
	}
	out, err := os.CreateTemp("", "tenantctl-cpu-*.pb.gz")
	if err != nil {
		return "", err
	}
	defer out.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("bench: fetch the CPU profile: %w", err)
	}
	return out.Name(), nil
}

// share is a part of a profile's samples.
type share struct {
	what    string
	percent float64
}

// profileKinds names what spends a sample by the first function of its
// stack, from the leaf up, whose name starts with a prefix here; the
// system calls come first, so that a write is a system call whoever makes
// it. Frames of the runtime and of small standard helpers are passed over
// on the way up, so that an allocation counts for the code that asked for
// it; a stack of nothing else is the runtime's own (GC, scheduling).
var profileKinds = []struct{ what, prefix string }{
	{"system calls (network reads and writes, the access log)", "syscall."},
	{"system calls (network reads and writes, the access log)", "internal/runtime/syscall"},
	{"JSON encoding", "encoding/json."},
	{"pgx (PostgreSQL protocol, encoding and decoding)", "github.com/jackc/"},
	{"logging and metrics", "log/slog."},
	{"logging and metrics", "github.com/prometheus/"},
	{"net/http", "net/http."},
	{"net/http", "net."},
	{"net/http", "internal/poll."},
	{"net/http", "bufio."},
	{"tenantctl's own code", "github.com/tenantctl/"},
}

// passedOver are the frames a stack is walked up past: the runtime, and
// helpers whose time belongs to their caller.
var passedOver = []string{"runtime.", "internal/", "sync.", "bytes.", "strings.", "strconv.", "unicode/", "reflect.",
	"encoding/hex.", "encoding/base64.", "slices.", "maps.", "sort.", "math/", "time.", "fmt.", "errors.", "github.com/google/uuid."}

// profileShares sums a CPU profile's samples by profileKinds, largest
// first, with the profile's total.
func profileShares(ctx context.Context, path string) ([]share, time.Duration, error) {
	out, err := exec.CommandContext(ctx, cmp.Or(os.Getenv("GO"), "go"), "tool", "pprof", "-traces", path).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("bench: go tool pprof: %w", err)
	}
	return parseTraces(string(out))
}

// parseTraces reads `go tool pprof -traces` output: stacks separated by
// "-----------+---…" lines, each starting with its samples' time and the
// leaf function, its callers one per line below.
func parseTraces(traces string) ([]share, time.Duration, error) {
	var total time.Duration
	sums := map[string]time.Duration{}
	for i, block := range strings.Split(traces, "-----------+") {
		if i == 0 {
			continue // the header
		}
		var frames []string
		var spent time.Duration
		for j, line := range strings.Split(block, "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) == 0 {
				continue
			}
			if j == 0 {
				d, err := time.ParseDuration(fs[0])
				if err != nil || len(fs) < 2 {
					return nil, 0, fmt.Errorf("bench: pprof trace line %q", strings.TrimSpace(line))
				}
				spent, fs = d, fs[1:]
			}
			frames = append(frames, fs[0])
		}
		if len(frames) == 0 {
			continue
		}
		total += spent
		sums[kindOf(frames)] += spent
	}
	if total == 0 {
		return nil, 0, errors.New("bench: pprof printed no samples")
	}
	var shares []share
	for what, d := range sums {
		shares = append(shares, share{what, math.Round(1000*float64(d)/float64(total)) / 10})
	}
	slices.SortFunc(shares, func(a, b share) int {
		if a.percent != b.percent {
			return int(math.Copysign(1, b.percent-a.percent))
		}
		return strings.Compare(a.what, b.what)
	})
	return shares, total, nil
}

// kindOf classifies a stack, leaf first (see profileKinds).
func kindOf(frames []string) string {
	for _, f := range frames {
		for _, k := range profileKinds[:2] {
			if strings.HasPrefix(f, k.prefix) {
				return k.what
			}
		}
	}
	for _, f := range frames {
		for _, k := range profileKinds {
			if strings.HasPrefix(f, k.prefix) {
				return k.what
			}
		}
		if !slices.ContainsFunc(passedOver, func(p string) bool { return strings.HasPrefix(f, p) }) {
			return "other"
		}
	}
	return "the Go runtime (GC, scheduling)"
}
