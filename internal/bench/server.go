package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the serve mode's -pprof listener
	"os"
	"os/exec"
	"path/filepath"
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

// buildAPIServer builds ./cmd/apiserver into dir, as `go build` would for
// a deployment (the go command of $GO, else of PATH).
func buildAPIServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "apiserver")
	cmd := exec.CommandContext(ctx, cmp.Or(os.Getenv("GO"), "go"), "build", "-o", bin, "github.com/tenantctl/tenantctl/cmd/apiserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build apiserver: %w: %s", err, out)
	}
	return bin, nil
}

// startAPIServer builds cmd/apiserver into a temporary folder and starts
// it over dbURL; stop ends it and removes the folder.
func startAPIServer(ctx context.Context, dbURL string) (srv *server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "tenantctl-bench-")
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	bin, err := buildAPIServer(ctx, dir)
	if err == nil {
		srv, err = startServer(ctx, dbURL, bin)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return srv, func() { srv.stop(); os.RemoveAll(dir) }, nil
}

// startServer runs argv (a server taking --addr) over database dbURL on a
// free loopback port and waits until it answers /healthz.
func startServer(ctx context.Context, dbURL string, argv ...string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(argv[0], append(argv[1:], "--addr", addr)...)
	cmd.Env = append(os.Environ(), "TENANTCTL_DATABASE_URL="+dbURL)
	// Its request log goes nowhere: writing it is part of the server's
	// cost, keeping it is not. Only the last lines are kept, for errors.
	s := &server{cmd: cmd, base: "http://" + addr, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = &tailWriter{buf: s.stderr, max: 8 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(argv[0]), err)
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
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
			return nil, fmt.Errorf("%s exited at start: %s", filepath.Base(argv[0]), lastLine(s.stderr.String()))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not answer /healthz within 30 s", filepath.Base(argv[0]))
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
func (s *server) memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read the server's memory: %w", err)
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

// Serve is benchrun's hidden serve mode: the API server of cmd/apiserver
// over TENANTCTL_DATABASE_URL, with its options, and with -pprof serving
// net/http/pprof for profiling the server under a benchmark's load.
func Serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchrun serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "address to listen on")
	pprofAddr := fs.String("pprof", "", "address to serve net/http/pprof on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := apiserver.Config{DatabaseURL: os.Getenv("TENANTCTL_DATABASE_URL")}
	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return apiserver.Serve(ctx, ln, cfg)
}
