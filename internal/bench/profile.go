package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// profileBenchmark says where the server's time goes under the list load:
// the API server (Serve) with net/http/pprof on, a CPU profile taken over
// the measured part of the load, and its samples summed by what spends them.
func profileBenchmark(ctx context.Context, e *Env) []Row {
	const group = "Where the time goes"
	fail := func(err error) []Row { return []Row{{Group: group, What: "apiserver CPU profile", Err: err}} }
	spread := e.Scale.Spreads[0]
	f, err := requestFixture(ctx, e, spread)
	if err != nil {
		return fail(err)
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return fail(err)
	}
	srv, err := startServer(ctx, f.url, pprofAddr)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()

	secs := max(1, int(e.Scale.Duration.Seconds()))
	var shares []share
	var total time.Duration
	fetched := make(chan error, 1)
	go func() {
		// The profile covers the measured part of the load, after its
		// warm-up.
		select {
		case <-time.After(e.Scale.Warmup):
		case <-ctx.Done():
		}
		var err error
		shares, total, err = fetchProfile(ctx, "http://"+pprofAddr+"/debug/pprof/profile?seconds="+strconv.Itoa(secs))
		fetched <- err
	}()
	m := f.loadAPI(ctx, e, srv, requests[0], spread)
	if err := errors.Join(m.err, <-fetched); err != nil {
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
			"Each list request is an HTTP exchange, one round trip to PostgreSQL (a write and a read: one pipeline, PostgreSQL's implicit transaction, of the read-only setting, the token's guard with the center check, the schema switch and the list query; the token's own statement only once a minute per token), plus the response and the access log line.",
			total.Seconds(), strings.Join(parts, ", "), m.String())}}
}

// fetchProfile reads the CPU profile at url and sums it (profileShares).
func fetchProfile(ctx context.Context, url string) ([]share, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: fetch the CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("bench: fetch the CPU profile: status %s", resp.Status)
	}
	var body io.Reader = resp.Body
	if path := os.Getenv(ProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, 0, fmt.Errorf("bench: keep the CPU profile: %w", err)
		}
		defer f.Close()
		body = io.TeeReader(body, f)
	}
	return profileShares(body)
}

// ProfileEnv names the file that keeps the profile row's CPU profile, for
// `go tool pprof`, when set: the row sums it by kind, pprof shows it whole.
const ProfileEnv = "TENANTCTL_BENCH_PROFILE"

// share is a part of a profile's samples.
type share struct {
	what    string
	percent float64
}

// profileKinds names what spends a sample by the first function of its
// stack, from the leaf up, whose name starts with a prefix here; a system
// call comes first wherever it is (syscallPrefixes), so that a write is a
// system call whoever makes it. Frames of the runtime and of small
// standard helpers are passed over on the way up, so that an allocation
// counts for the code that asked for it; a stack of nothing else is the
// runtime's own (GC, scheduling).
var profileKinds = []struct{ what, prefix string }{
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

// syscalls is the kind of a stack with a frame of syscallPrefixes.
const syscalls = "system calls (network reads and writes, the access log)"

var syscallPrefixes = []string{"syscall.", "internal/runtime/syscall"}

// passedOver are the frames a stack is walked up past: the runtime, and
// helpers whose time belongs to their caller.
var passedOver = []string{"runtime.", "internal/", "sync.", "bytes.", "strings.", "strconv.", "unicode/", "reflect.",
	"encoding/hex.", "encoding/base64.", "slices.", "maps.", "sort.", "math/", "time.", "fmt.", "errors.", "github.com/google/uuid."}

// profileShares reads a CPU profile (pprof's protocol buffer, gzipped or
// not) and sums its samples by profileKinds, largest first, with the
// profile's total.
func profileShares(r io.Reader) ([]share, time.Duration, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: read the CPU profile: %w", err)
	}
	cpu := slices.IndexFunc(p.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" && t.Unit == "nanoseconds" })
	if cpu < 0 {
		return nil, 0, errors.New("bench: not a CPU profile")
	}
	var total time.Duration
	sums := map[string]time.Duration{}
	for _, s := range p.Sample {
		// Leaf first; a location's lines are its inlined calls, callee first.
		var frames []string
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				frames = append(frames, l.Function.Name)
			}
		}
		if len(frames) == 0 {
			continue
		}
		spent := time.Duration(s.Value[cpu])
		total += spent
		sums[kindOf(frames)] += spent
	}
	if total == 0 {
		return nil, 0, errors.New("bench: the CPU profile has no samples")
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
	if slices.ContainsFunc(frames, func(f string) bool { return hasPrefix(f, syscallPrefixes) }) {
		return syscalls
	}
	for _, f := range frames {
		for _, k := range profileKinds {
			if strings.HasPrefix(f, k.prefix) {
				return k.what
			}
		}
		if !hasPrefix(f, passedOver) {
			return "other"
		}
	}
	return "the Go runtime (GC, scheduling)"
}

func hasPrefix(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}
