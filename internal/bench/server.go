package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // Serve's pprof listener
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantctl/tenantctl/pkg/apiserver"
)

// server is an API server under load: a child process, so that the load
// generator in the harness is a second process, as a client would be.
type server struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	stderr *bytes.Buffer
	exited chan struct{}
}

// startServer starts benchrun's serve mode (Serve) over database dbURL on
// a free loopback port, with net/http/pprof on pprofAddr unless it is "",
// and waits until it answers /healthz.
func startServer(ctx context.Context, dbURL, pprofAddr string) (*server, error) {
	return startChild(ctx, "serve", dbURL, pprofEnv+"="+pprofAddr)
}

// startChild starts benchrun's mode (serve, minimal) over database dbURL
// on a free loopback port, with env added to its environment, and waits
// until it answers /healthz.
func startChild(ctx context.Context, mode, dbURL string, env ...string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: start the API server: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, mode, "--addr", addr)
	cmd.Env = append(append(os.Environ(), "TENANTCTL_DATABASE_URL="+dbURL), env...)
	// Its request log goes nowhere: writing it is part of the server's
	// cost, keeping it is not. Only the last lines are kept, for errors.
	s := &server{cmd: cmd, base: "http://" + addr, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = &tailWriter{buf: s.stderr, max: 8 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start benchrun %s: %w", mode, err)
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("bench: benchrun %s exited at start: %s", mode, lastLine(s.stderr.String()))
		case <-wait.Done():
			s.stop()
			return nil, fmt.Errorf("bench: benchrun %s did not answer /healthz within 30 s: %w", mode, wait.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the server with SIGTERM (a graceful shutdown), and SIGKILL if
// that takes over 10 s.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// memory returns the server's resident set now and its peak (VmRSS and
// VmHWM of /proc/<pid>/status), in bytes.
func (s *server) memory() (rss, peak int64, err error) { return procMemory(s.cmd.Process.Pid) }

// procMemory returns process pid's resident set now and its peak since it
// exec'd (VmRSS and VmHWM of /proc/<pid>/status), in bytes.
func procMemory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read a process's memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, errors.New("no VmRSS or VmHWM in /proc/<pid>/status")
	}
	return rss, peak, nil
}

// cpuTime returns the CPU time the server has used so far, user and
// system (/proc/<pid>/stat), at the kernel's 10 ms tick.
func (s *server) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read the server's CPU time: %w", err)
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the first, utime the 12th and stime the 13th.
	_, rest, _ := bytes.Cut(b, []byte(") "))
	fs := strings.Fields(string(rest))
	if len(fs) < 13 {
		return 0, errors.New("unexpected /proc/<pid>/stat")
	}
	utime, err1 := strconv.ParseInt(fs[11], 10, 64)
	stime, err2 := strconv.ParseInt(fs[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc/<pid>/stat")
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// sampleRSS records the server's largest VmRSS every 50 ms until ctx ends,
// then returns it.
func (s *server) sampleRSS(ctx context.Context) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := s.memory(); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-ctx.Done():
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// tailWriter keeps roughly the last max bytes written to it.
type tailWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if over := w.buf.Len() - w.max; over > 0 {
		w.buf.Next(over)
	}
	return len(p), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// pprofEnv names the environment variable of Serve's net/http/pprof
// address: a variable rather than a flag, so that every argument is
// apiserver's own.
const pprofEnv = "BENCHRUN_PPROF_ADDR"

// Serve is benchrun's hidden serve mode, the API server every request
// benchmark loads as a child process (so that the load generator is
// another process, as a client is): apiserver.Main with args, as
// cmd/apiserver runs it, and net/http/pprof on $BENCHRUN_PPROF_ADDR when
// set, for profiling the server under load without a profiling seam in
// the product. It returns the exit code.
func Serve(ctx context.Context, args []string) int {
	if addr := os.Getenv(pprofEnv); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchrun serve: pprof: %v\n", err)
			return apiserver.ExitFailure
		}
		go func() { _ = http.Serve(ln, nil) }()
	}
	return apiserver.Main(ctx, args, os.Stdout, os.Stderr)
}
