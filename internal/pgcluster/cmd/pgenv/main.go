// Command pgenv gives a command a real PostgreSQL database, wherever we
// happen to run; every Makefile target that needs one goes through it:
//
//	pgenv [FLAGS] test -- CMD [ARGS...]  CMD gets TEST_DATABASE_URL, a throwaway database,
//	                                     and TEST_PGBOUNCER_URL, the same through PgBouncer
//	pgenv demo -- CMD [ARGS...]          CMD gets DATABASE_URL, the persistent demo database
//	pgenv env demo                       print `export DATABASE_URL=...` (the demo cluster stays up)
//	pgenv stop demo                      stop the demo cluster left running by `env demo`
//
// Flags (before the mode): --clusters N gives a test run N servers,
// exported as TEST_DATABASE_URL and TEST_DATABASE_URL_2 … _N (the first as
// below, each further one a private cluster); --no-system ignores the
// server on 127.0.0.1:5432, to try the private-cluster path where one
// runs.
//
// Where the database comes from is pgcluster.Resolve's order: a URL
// already set, the server on 127.0.0.1:5432, a private cluster under .pg/,
// apt-get as root, else one line saying what to set. A caller's
// TEST_PGBOUNCER_URL is used as is; otherwise PgBouncer is required, and
// installed as root when missing (see pgbouncer.Start).
//
// stdout belongs to CMD (and to the export line of `env`): our messages go
// to stderr, prefixed "pgenv:". pgenv exits with CMD's status (128 + the
// signal's number when a signal ended it) after cleaning up, also on
// SIGINT, SIGTERM and SIGHUP; a second Ctrl-C does not cut the cleanup
// short. CMD stays in our process group, the terminal's foreground one,
// so it gets Ctrl-C itself; SIGTERM and SIGHUP sent to pgenv alone are
// passed on to it. `go run` would turn CMD's status into 1, hence the
// Makefile builds pgenv and runs the binary.
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

	"github.com/tenantctl/tenantctl/internal/pgbouncer"
	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

const prog = "pgenv"

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, prog+": "+format+"\n", args...)
}

func logLine(msg string) { logf("%s", msg) }

const usage = `usage: pgenv [--clusters N] [--no-system] test -- CMD [ARGS...]
                   run CMD with TEST_DATABASE_URL set to a throwaway database
                   (and TEST_PGBOUNCER_URL to it through PgBouncer)
       pgenv [--no-system] demo -- CMD [ARGS...]
                   run CMD with DATABASE_URL set to the persistent demo database
       pgenv env demo    print an export line for the demo database (leaves its cluster running)
       pgenv stop demo   stop the demo cluster started by ` + "`env demo`" + `
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
	if len(args) == 0 || *clusters < 1 {
		fs.Usage()
		return 2
	}
	mode, args := args[0], args[1:]
	root, err := checkout()
	if err != nil {
		logf("%v", err)
		return 1
	}
	// Give up quickly on a server that is half up, rather than hang CI;
	// CMD inherits it.
	if os.Getenv("PGCONNECT_TIMEOUT") == "" {
		os.Setenv("PGCONNECT_TIMEOUT", "10")
	}
	switch {
	case (mode == "test" || mode == "demo") && len(args) > 1 && args[0] == "--":
		return withDatabase(pgcluster.ResolveOptions{Mode: pgcluster.Mode(mode), Root: root, NoSystem: *noSystem, Clusters: *clusters, Log: logLine}, args[1:])
	case mode == "env" && len(args) == 1 && args[0] == "demo":
		return printEnv(pgcluster.ResolveOptions{Mode: pgcluster.Demo, Root: root, NoSystem: *noSystem, KeepRunning: true, Log: logLine})
	case mode == "stop" && len(args) == 1 && args[0] == "demo":
		running, err := pgcluster.StopDemo(root, logLine)
		if err != nil {
			logf("%v", err)
			return 1
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
// second Ctrl-C cannot cut it short. forward names the process to pass
// SIGTERM and SIGHUP on to.
type signals struct {
	ctx    context.Context
	mu     sync.Mutex
	first  os.Signal
	target *os.Process
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
			// SIGINT from the terminal reached CMD already.
			if s.target != nil && sig != syscall.SIGINT {
				_ = s.target.Signal(sig)
			}
			s.mu.Unlock()
			cancel()
		}
	}()
	return s, stop
}

func (s *signals) forward(p *os.Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target = p
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

func withDatabase(o pgcluster.ResolveOptions, cmdArgs []string) int {
	sigs, stop := catchSignals()
	defer stop()
	r, err := pgcluster.Resolve(sigs.ctx, o)
	if err != nil {
		if st := sigs.status(); st != 0 {
			return st
		}
		logf("%v", err)
		return 1
	}
	defer r.Close()
	env := r.Env
	if o.Mode == pgcluster.Test {
		if u := os.Getenv(pgbouncer.EnvURL); u != "" {
			logf("using %s as set", pgbouncer.EnvURL)
		} else {
			// PgBouncer first in Close's order: it holds server
			// connections to the databases dropped after it.
			b, err := pgbouncer.Start(sigs.ctx, r.URL, logLine)
			if err != nil {
				if st := sigs.status(); st != 0 {
					return st
				}
				logf("%v", err)
				return 1
			}
			defer b.Stop()
			env = append(env, pgbouncer.EnvURL+"="+b.URL)
		}
	}
	if st := sigs.status(); st != 0 {
		return st
	}
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		logf("%v", err)
		return 127
	}
	sigs.forward(cmd.Process)
	err = cmd.Wait()
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
		logf("%v", err)
		return 1
	}
}

func printEnv(o pgcluster.ResolveOptions) int {
	sigs, stop := catchSignals()
	defer stop()
	r, err := pgcluster.Resolve(sigs.ctx, o)
	if err != nil {
		if st := sigs.status(); st != 0 {
			return st
		}
		logf("%v", err)
		return 1
	}
	defer r.Close()
	if r.Cluster != nil && r.Cluster.Started {
		logf("the demo cluster stays running; stop it with: make clean (or pgenv stop demo)")
	}
	fmt.Printf("export DATABASE_URL='%s'\n", strings.ReplaceAll(r.URL, "'", `'\''`))
	return 0
}
