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
// path, token and body separated by tabs) once, in init, and sends them
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
		local headers = {Authorization = "Bearer " .. token}
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
	local e, most = summary.errors, 0
	for _, t in ipairs(threads) do
		most = math.max(most, t:get("sent"))
	end
	io.write(string.format("wrk-result %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout, most))
end
`

// wrkLoad sends calls to base from conns connections with wrk for d
// (whole seconds, at least one), once each when once, else at random, and
// returns what it measured, with wrk's own CPU time per request. A load
// with a failed request is an error.
func wrkLoad(ctx context.Context, base string, calls []apiCall, once bool, conns int, d time.Duration) (measured, error) {
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
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", secs),
		"-s", script, base, "--", callsFile, mode, strconv.Itoa(wrkThreads))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return measured{}, fmt.Errorf("wrk: %w: %s", err, lastLine(cmp.Or(stderr.String(), string(out))))
	}
	m, most, err := parseWrk(string(out))
	if err != nil {
		return measured{}, err
	}
	// A thread that ran out of its share of the calls started over.
	if once && most*wrkThreads > len(calls) {
		return measured{}, fmt.Errorf("wrk: a thread sent %d requests, more than its share of the %d to be sent once", most, len(calls))
	}
	if m.requests > 0 {
		ps := cmd.ProcessState
		m.wrk = (ps.UserTime() + ps.SystemTime()) / time.Duration(m.requests)
	}
	return m, nil
}

// parseWrk reads wrkLua's done line: requests, duration (µs), p50 and p99
// (µs), statuses above 399, socket errors, and the most requests one
// thread sent.
func parseWrk(out string) (m measured, most int, err error) {
	for line := range strings.Lines(out) {
		var n, dur, p50, p99, status, socket int64
		if _, err := fmt.Sscanf(line, "wrk-result %d %d %d %d %d %d %d", &n, &dur, &p50, &p99, &status, &socket, &most); err != nil {
			continue
		}
		if n == 0 || status+socket > 0 {
			return m, 0, fmt.Errorf("wrk: %d answers, %d of them with an error status; %d socket errors or timeouts", n, status, socket)
		}
		us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
		return measured{requests: int(n), elapsed: us(dur), p50: us(p50), p99: us(p99)}, most, nil
	}
	return m, 0, fmt.Errorf("wrk printed no result: %s", lastLine(out))
}
