package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPgbenchWindow: transactions are measured as wrk measures requests,
// begun after the warm-up and ended within the duration, with their
// logged latencies.
func TestPgbenchWindow(t *testing.T) {
	// Transactions of 2 ms, 4 ms and 3 ms, ending at t0+1s, t0+2.5s, t0+3.5s
	// after a first one starting at t0 = 1000 s.
	log := "0 0 1000000 0 1001 0\n1 0 4000 0 1002 500000\n0 1 3000 0 1003 500000\n"
	r, err := pgbenchRun{}.add(log)
	if err != nil {
		t.Fatal(err)
	}
	lat := r.window(0, time.Second, 2*time.Second) // [1001 s, 1003 s]
	if m := fromLatencies(lat, 2*time.Second); len(r) != 3 || m.requests != 1 || lat[0] != 4*time.Millisecond || m.elapsed != 2*time.Second {
		t.Errorf("window = %d of %d, latencies %v, elapsed %v; want the 4 ms one of 3 over 2 s", m.requests, len(r), lat, m.elapsed)
	}
	if _, err := (pgbenchRun{}).add("0 0 x 0 1 2\n"); err == nil {
		t.Error("a malformed line was accepted")
	}

	// After a walk of 2 transactions per client the window opens when the
	// last client's walk ends (t0+2s, client 1's second transaction), and
	// walks are never measured.
	log = "0 0 1000 0 1000 0\n0 1 1000 0 1001 0\n1 0 1000 0 1001 0\n1 1 1000 0 1002 0\n" +
		"0 2 5000 0 1002 500000\n1 2 6000 0 1003 0\n0 3 7000 0 1003 200000\n1 3 8000 0 1005 0\n"
	if r, err = (pgbenchRun{}).add(log); err != nil {
		t.Fatal(err)
	}
	lat = r.window(2, 0, 1500*time.Millisecond) // [1002 s, 1003.5 s]
	if len(lat) != 3 || lat[0] != 5*time.Millisecond || lat[2] != 7*time.Millisecond {
		t.Errorf("window after walks = %d, latencies %v; want the 5, 6 and 7 ms ones", len(lat), lat)
	}
}

// TestServerProcessFigures reads a child's memory and CPU time as the
// scale benchmark reads the server's.
func TestServerProcessFigures(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	s := &server{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	defer s.stop()
	rss, peak, err := s.memory()
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("memory() = %d, %d, %v", rss, peak, err)
	}
	if cpu, err := s.cpuTime(); err != nil || cpu < 0 {
		t.Errorf("cpuTime() = %v, %v", cpu, err)
	}
}

// TestParseWrk reads the line wrkLua's done prints among wrk's own
// report, and refuses a load with failed requests.
func TestParseWrk(t *testing.T) {
	m, sent, err := parseWrk("Running 2s test @ http://127.0.0.1:1\n  2 threads and 16 connections\nwrk-sent 1510\nwrk-sent 1490\nwrk-result 3000 2000500 8760 28150 0 0\nRequests/sec: 1499.63\n")
	if err != nil || !slices.Equal(sent, []int{1510, 1490}) || m.requests != 3000 || m.elapsed != 2000500*time.Microsecond || m.p50 != 8760*time.Microsecond || m.p99 != 28150*time.Microsecond {
		t.Errorf("parseWrk = %+v, %v", m, err)
	}
	for _, bad := range []string{"wrk-result 3000 2000500 8760 28150 2 0\n", "wrk-result 3000 2000500 8760 28150 0 1\n",
		"wrk-result 3000 2000500 8760\n", "unable to connect\n"} {
		if _, _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk(%q): no error", bad)
		}
	}
}

// TestCheckShares: with an odd number of calls thread 0's share is one
// more than thread 1's, and a thread that sends exactly its share sent
// no call twice.
func TestCheckShares(t *testing.T) {
	for _, c := range []struct {
		sent []int
		n    int
		ok   bool
	}{
		{[]int{3, 2}, 5, true}, {[]int{2, 2}, 5, true}, {[]int{2, 2}, 4, true},
		{[]int{4, 1}, 5, false}, {[]int{3, 3}, 5, false}, {[]int{3, 2}, 4, false}, {[]int{3}, 5, false},
	} {
		if err := checkShares(c.sent, c.n); (err == nil) != c.ok {
			t.Errorf("checkShares(%v, %d) = %v, want ok %v", c.sent, c.n, err, c.ok)
		}
	}
}

// TestWrkLoad drives wrk through wrkLua against a test server: each call
// of a once load is sent at most once, with its token and body, and an
// error status fails the load.
func TestWrkLoad(t *testing.T) {
	if err := ensureWrk(t.Context(), t.Logf); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body)]++
		mu.Unlock()
		if r.URL.Path == "/fail/" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		time.Sleep(time.Millisecond)
	}))
	defer srv.Close()
	var calls []apiCall
	for i := range 20001 { // odd: thread 0's share is one more than thread 1's
		calls = append(calls, apiCall{"POST", fmt.Sprintf("/k/%d/", i), "tok", `{"k": 1}`})
	}
	m, err := wrkLoad(t.Context(), srv.URL, calls, true, 4, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if m.requests == 0 || m.requests > len(seen) || m.p50 <= 0 || m.p99 < m.p50 {
		t.Errorf("wrk measured %+v, the server saw %d distinct requests", m, len(seen))
	}
	for k, n := range seen {
		if n > 1 || !strings.HasSuffix(k, ` Bearer tok {"k": 1}`) {
			t.Errorf("%q sent %d times", k, n)
		}
	}
	mu.Unlock()
	if m, err := wrkLoad(t.Context(), srv.URL, calls[:101], true, 4, time.Second); err == nil {
		t.Errorf("a once load of 101 calls for a second was not an error: %+v", m)
	}
	if m, err := wrkLoad(t.Context(), srv.URL, []apiCall{{"GET", "/fail/", "tok", ""}}, false, 2, time.Second); err == nil {
		t.Errorf("a load answered 500 was not an error: %+v", m)
	}
}
