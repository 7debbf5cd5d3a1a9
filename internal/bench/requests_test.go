package bench

import (
	"os/exec"
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
