package bench

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// apiCall is one request of a load: its method, path, bearer token and
// JSON body ("" for none).
type apiCall struct{ method, path, token, body string }

// wrkThreads is wrk's -t: one event loop per core of a 2-core machine.
const wrkThreads = 2

// wrkLua renders a load's calls (one a line of the file args[1]: method,
// path, token and body separated by tabs; a call without a token has no
// Authorization, and every call has wrk's -H headers) once, in init, and sends them
// at random or, when args[2] is "once", thread t taking calls t,
// t+threads, t+2·threads…, so that no call is sent twice (a transition
// consumes its sample). No response function: wrk then skips parsing
// bodies, and counts statuses above 399 as errors itself. done prints
// the figures wrkLoad reads.
const wrkLua = `
local threads = {}
function setup(thread)
	table.insert(threads, thread)
	thread:set("id", #threads - 1)
end

-- sent is a global, for done to read with thread:get.
local calls, once, nthreads = {}, false, 1
sent = 0
function init(args)
	for line in io.lines(args[1]) do
		local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
		local headers = {}
		for name, value in pairs(wrk.headers) do headers[name] = value end
		if token ~= "" then headers.Authorization = "Bearer " .. token end
		if body == "" then body = nil else headers["Content-Type"] = "application/json" end
		calls[#calls + 1] = wrk.format(method, path, headers, body)
	end
	once, nthreads = args[2] == "once", tonumber(args[3])
	math.randomseed(id + 1)
end

function request()
	if once then
		sent = sent + 1
		return calls[(id + nthreads * (sent - 1)) % #calls + 1]
	end
	return calls[math.random(#calls)]
end

function done(summary, latency)
	for _, t in ipairs(threads) do
		io.write(string.format("wrk-sent %d\n", t:get("sent")))
	end
	local e = summary.errors
	io.write(string.format("wrk-result %d %d %d %d %d %d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`

// wrkLoad sends calls to base from conns connections with wrk for d
// (whole seconds, at least one), once each when once, else at random,
// with headers ("Name: value") on every call, and returns what it
// measured, with wrk's own CPU time per request. A load with a failed
// request is an error.
func wrkLoad(ctx context.Context, base string, calls []apiCall, once bool, conns int, d time.Duration, headers ...string) (measured, error) {
	if len(calls) == 0 {
		return measured{}, fmt.Errorf("wrk: no requests to send")
	}
	dir, err := os.MkdirTemp("", "tenantctl-wrk-")
	if err != nil {
		return measured{}, fmt.Errorf("wrk: %w", err)
	}
	defer os.RemoveAll(dir)
	var data strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&data, "%s\t%s\t%s\t%s\n", c.method, c.path, c.token, c.body)
	}
	script, callsFile := filepath.Join(dir, "load.lua"), filepath.Join(dir, "calls.tsv")
	err = os.WriteFile(script, []byte(wrkLua), 0o644)
	if err == nil {
		err = os.WriteFile(callsFile, []byte(data.String()), 0o644)
	}
	if err != nil {
		return measured{}, fmt.Errorf("wrk: %w", err)
	}
	mode := "random"
	if once {
		mode = "once"
	}
	secs := max(1, int(math.Round(d.Seconds())))
	args := []string{"-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", secs), "-s", script}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, "wrk", append(args, base, "--", callsFile, mode, strconv.Itoa(wrkThreads))...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return measured{}, fmt.Errorf("wrk: %w: %s", err, lastLine(cmp.Or(stderr.String(), string(out))))
	}
	m, sent, err := parseWrk(string(out))
	if err != nil {
		return measured{}, err
	}
	if once {
		if err := checkShares(sent, len(calls)); err != nil {
			return measured{}, err
		}
	}
	if m.requests > 0 {
		ps := cmd.ProcessState
		m.wrk = (ps.UserTime() + ps.SystemTime()) / time.Duration(m.requests)
	}
	return m, nil
}

// checkShares says whether each thread of a once load of n calls, thread
// id having sent sent[id], kept to its share, the calls id, id+threads…:
// one that sent more ran out of them and started over.
func checkShares(sent []int, n int) error {
	if len(sent) != wrkThreads {
		return fmt.Errorf("wrk: %d threads reported what they sent, not %d", len(sent), wrkThreads)
	}
	for id, k := range sent {
		if share := (n - id + wrkThreads - 1) / wrkThreads; k > share {
			return fmt.Errorf("wrk: thread %d sent %d requests, more than its share (%d) of the %d to be sent once", id, k, share, n)
		}
	}
	return nil
}

// parseWrk reads wrkLua's done lines: the requests each thread sent, in
// the order of their ids, then requests, duration (µs), p50 and p99 (µs),
// statuses above 399 and socket errors.
func parseWrk(out string) (m measured, sent []int, err error) {
	for line := range strings.Lines(out) {
		var k int
		if _, err := fmt.Sscanf(line, "wrk-sent %d", &k); err == nil {
			sent = append(sent, k)
			continue
		}
		var n, dur, p50, p99, status, socket int64
		if _, err := fmt.Sscanf(line, "wrk-result %d %d %d %d %d %d", &n, &dur, &p50, &p99, &status, &socket); err != nil {
			continue
		}
		if n == 0 || status+socket > 0 {
			return m, nil, fmt.Errorf("wrk: %d answers, %d of them with an error status; %d socket errors or timeouts", n, status, socket)
		}
		us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
		return measured{requests: int(n), elapsed: us(dur), p50: us(p50), p99: us(p99)}, sent, nil
	}
	return m, nil, fmt.Errorf("wrk printed no result: %s", lastLine(out))
}
