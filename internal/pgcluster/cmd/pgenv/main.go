// Command pgenv gives a command a real PostgreSQL database, wherever we
// happen to run; every Makefile target that needs one goes through it
// (the usage below says how). Where the database comes from is
// pgcluster.Resolve's order (its doc, and the README's "Databases"). A
// caller's TEST_PGBOUNCER_URL is used as is; otherwise PgBouncer is
// required, and installed as root when missing (see pgbouncer.Start).
//
// stdout belongs to CMD (and to the export line of `env`): our messages go
// to stderr, prefixed "pgenv:". pgenv exits with CMD's status, or 128 +
// the signal's number when SIGINT, SIGTERM or SIGHUP ended the run, after
// ending every process of CMD and cleaning up; a second Ctrl-C does not
// cut the cleanup short. `go run` would turn CMD's status into 1, hence
// the Makefile builds pgenv and runs the binary.
//
// Without a terminal CMD runs in a process group of its own, to which
// those signals are passed on: a signal to pgenv reaches every process of
// CMD (`sh -c '… go test …'` included), and what CMD leaves running is
// ended before its database goes. In a terminal CMD stays in our group,
// the foreground one, so that Ctrl-C and a hangup reach all of it from the
// terminal; a group of its own would have to be handed the terminal and
// take it back, and a Ctrl-Z would leave us waiting for a stopped CMD.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/tenantctl/tenantctl/internal/pgbouncer"
	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

const prog = "pgenv"

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, prog+": "+format+"\n", args...)
}

func logLine(msg string) { logf("%s", msg) }

func fail(err error) int {
	logf("%v", err)
	return 1
}

const usage = `usage: pgenv [--clusters N] [--no-system] test -- CMD [ARGS...]
                   run CMD with TEST_DATABASE_URL set to a throwaway database
                   (and TEST_PGBOUNCER_URL to it through PgBouncer); --clusters N
                   adds TEST_DATABASE_URL_2 … _N, each a private cluster
       pgenv [--no-system] demo -- CMD [ARGS...]
                   run CMD with DATABASE_URL set to the persistent demo database
       pgenv env demo    print an export line for the demo database (leaves its cluster running)
       pgenv stop demo   stop the demo cluster started by ` + "`env demo`" + `
--no-system ignores the server on 127.0.0.1:5432. Where the database comes
from: the README, "Databases".
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	clusters := fs.Int("clusters", 1, "servers for a test run: TEST_DATABASE_URL, TEST_DATABASE_URL_2 … _N")
	noSystem := fs.Bool("no-system", false, "ignore the server on 127.0.0.1:5432")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	args = fs.Args()
	if len(args) == 0 || *clusters < 1 || (*clusters > 1 && args[0] != "test") {
		fs.Usage()
		return 2
	}
	mode, args := args[0], args[1:]
	root, err := checkout()
	if err != nil {
		return fail(err)
	}
	o := pgcluster.ResolveOptions{Mode: pgcluster.Mode(mode), Root: root, NoSystem: *noSystem, Clusters: *clusters, Log: logLine}
	switch {
	case (mode == "test" || mode == "demo") && len(args) > 1 && args[0] == "--":
		return withDatabase(o, args[1:])
	case mode == "env" && len(args) == 1 && args[0] == "demo":
		o.Mode, o.KeepRunning = pgcluster.Demo, true
		return withDatabase(o, nil)
	case mode == "stop" && len(args) == 1 && args[0] == "demo":
		running, err := pgcluster.StopDemo(root, logLine)
		if err != nil {
			return fail(err)
		}
		if !running {
			logf("the demo cluster is not running")
		}
		return 0
	}
	fs.Usage()
	return 2
}

// checkout returns the folder of go.mod above the working directory: .pg/
// lives there.
func checkout() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above: run pgenv in the checkout", dir)
		}
	}
}

// signals turns SIGINT, SIGTERM and SIGHUP into a cancelled context (what
// Resolve is doing stops, and the cleanup runs) and remembers the first,
// for the exit status. They stay caught until the cleanup is over, so a
// second Ctrl-C cannot cut it short. Once CMD runs they are passed on to
// it (see the package doc).
type signals struct {
	ctx   context.Context
	mu    sync.Mutex
	first os.Signal
	// pass sends a signal on to CMD; nil until CMD runs.
	pass func(syscall.Signal)
}

func catchSignals() (s *signals, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	s = &signals{ctx: ctx}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	stop = func() {
		signal.Stop(ch)
		close(ch)
	}
	go func() {
		for sig := range ch {
			s.mu.Lock()
			if s.first == nil {
				s.first = sig
			}
			if s.pass != nil {
				s.pass(sig.(syscall.Signal))
			}
			s.mu.Unlock()
			cancel()
		}
	}()
	return s, stop
}

// passTo makes pass CMD's way of receiving signals, and passes on one
// that came while CMD was starting.
func (s *signals) passTo(pass func(syscall.Signal)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pass = pass
	if sig, ok := s.first.(syscall.Signal); ok {
		pass(sig)
	}
}

// status is the shell's exit status for an interrupted run: 128 + the
// signal's number; 0 when none came.
func (s *signals) status() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sig, ok := s.first.(syscall.Signal); ok {
		return 128 + int(sig)
	}
	return 0
}

// fail is fail, except that an error caused by a signal is the signal's
// status, without a word: the user asked for it.
func (s *signals) fail(err error) int {
	if st := s.status(); st != 0 {
		return st
	}
	return fail(err)
}

// withDatabase runs CMD (cmdArgs) with the database Resolve finds for o,
// or with cmdArgs nil prints an export line for it (`pgenv env demo`).
func withDatabase(o pgcluster.ResolveOptions, cmdArgs []string) int {
	sigs, stop := catchSignals()
	defer stop()
	r, err := pgcluster.Resolve(sigs.ctx, o)
	if err != nil {
		return sigs.fail(err)
	}
	defer r.Close()
	if cmdArgs == nil {
		if r.Cluster != nil && r.Cluster.Started {
			logf("the demo cluster stays running; stop it with: bin/pgenv stop demo")
		}
		fmt.Printf("export DATABASE_URL='%s'\n", strings.ReplaceAll(r.URL, "'", `'\''`))
		return 0
	}
	env := r.Env
	if o.Mode == pgcluster.Test {
		if u := os.Getenv(pgbouncer.EnvURL); u != "" {
			logf("using %s as set", pgbouncer.EnvURL)
		} else {
			// PgBouncer first in Close's order: it holds server
			// connections to the databases dropped after it.
			b, err := pgbouncer.Start(sigs.ctx, r.URL, logLine)
			if err != nil {
				return sigs.fail(err)
			}
			defer b.Stop()
			env = append(env, pgbouncer.EnvURL+"="+b.URL)
		}
	}
	if st := sigs.status(); st != 0 {
		return st
	}
	// Give up quickly on a server that is half up, rather than hang CI.
	if os.Getenv("PGCONNECT_TIMEOUT") == "" {
		env = append(env, "PGCONNECT_TIMEOUT=10")
	}
	code := runCmd(sigs, cmdArgs, env)
	if st := sigs.status(); st != 0 {
		return st
	}
	return code
}

// runCmd runs CMD with env added to ours, passes sigs on to it, and
// returns its status once every process of it has ended.
func runCmd(sigs *signals, cmdArgs, env []string) int {
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	tty := term.IsTerminal(int(os.Stdin.Fd()))
	if !tty {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// CMD's orphans are re-parented to us rather than to pid 1,
		// which in a container may never reap them: a zombie would keep
		// the group alive for endGroup.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			logf("warning: cannot become the subreaper of CMD's processes: %v", err)
		}
	}
	if err := cmd.Start(); err != nil {
		logf("%v", err)
		return 127
	}
	pid := cmd.Process.Pid
	sigs.passTo(func(sig syscall.Signal) {
		switch {
		case !tty:
			_ = syscall.Kill(-pid, sig)
		case sig != syscall.SIGINT: // Ctrl-C reached CMD from the terminal
			_ = syscall.Kill(pid, sig)
		}
	})
	err := cmd.Wait()
	if !tty {
		endGroup(pid)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	default:
		return fail(err)
	}
}

// endGroup returns once no process of group pgid is left, reaping those
// re-parented to us: what CMD leaves behind must not outlive its
// database. Stragglers get 5 s, then SIGTERM, then SIGKILL.
func endGroup(pgid int) {
	for _, sig := range []syscall.Signal{0, syscall.SIGTERM, syscall.SIGKILL} {
		if sig != 0 {
			logf("ending the processes CMD left running (%v)", sig)
			_ = syscall.Kill(-pgid, sig)
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for {
				if pid, err := syscall.Wait4(-pgid, nil, syscall.WNOHANG, nil); pid <= 0 || err != nil {
					break
				}
			}
			if syscall.Kill(-pgid, 0) != nil {
				return
			}
		}
	}
	logf("warning: processes of group %d are still there", pgid)
}
