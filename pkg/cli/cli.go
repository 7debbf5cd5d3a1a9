package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tenantctl/tenantctl/internal/cmdline"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// Exit codes of Main and Run (internal/cmdline's, the same for both commands).
const (
	ExitOK      = cmdline.ExitOK
	ExitFailure = cmdline.ExitFailure
	ExitUsage   = cmdline.ExitUsage
)

// Env is what one invocation runs against. Main fills it from the process;
// tests build their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// IsTerminal reports whether one of the streams above is an interactive
	// terminal: it decides whether to prompt (Stdin) and whether to draw a
	// progress bar (Stderr). Defaults to golang.org/x/term's check of an
	// *os.File, so buffers and pipes are never terminals.
	IsTerminal func(stream any) bool

	// Getenv reads the environment (TENANTCTL_DATABASE_URL and the other
	// variables of the flags). Defaults to os.Getenv.
	Getenv func(string) string
}

// Main runs tenantctl with args (without the program name) and returns the
// process's exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(ctx, args, Env{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// Run is Main with every outside dependency in env.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.IsTerminal == nil {
		env.IsTerminal = isTerminal
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if args == nil {
		args = []string{} // cobra reads os.Args for a nil slice
	}
	a := &App{env: env}
	defer a.close()

	root := a.newRootCmd()
	root.Version = cmdline.Version("tenantctl")
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, "print the version and exit") // as apiserver's: no -v
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	return a.exitCode(ctx, err)
}

// isTerminal is Env.IsTerminal's default.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// App is one invocation: its streams, its configuration (loaded before any
// command runs) and its database pool (opened on first use). Commands get it
// from their constructor.
type App struct {
	env Env

	// Config is the resolved configuration, valid inside RunE.
	Config Config

	configFile string // --config
	pool       *pgxpool.Pool
	manager    *tenancy.Manager
	store      *domain.Store
}

// Stdout is where results go.
func (a *App) Stdout() io.Writer { return a.env.Stdout }

// Stderr is where progress, prompts and notes go.
func (a *App) Stderr() io.Writer { return a.env.Stderr }

// Notef writes a line of information for the operator on stderr.
func (a *App) Notef(format string, args ...any) {
	fmt.Fprintf(a.env.Stderr, format+"\n", args...)
}

// Pool returns the invocation's database pool, opening it on first use.
func (a *App) Pool(ctx context.Context) (*pgxpool.Pool, error) {
	if a.pool != nil {
		return a.pool, nil
	}
	pool, err := db.Open(ctx, a.Config.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a.pool = pool
	return pool, nil
}

// Manager returns the tenancy.Manager of tenantctl's centers over Pool.
func (a *App) Manager(ctx context.Context) (*tenancy.Manager, error) {
	if a.manager != nil {
		return a.manager, nil
	}
	pool, err := a.Pool(ctx)
	if err != nil {
		return nil, err
	}
	m, err := db.NewTenancy(pool, tenancy.Config{PoolSize: a.Config.PoolSize})
	if err != nil {
		return nil, err
	}
	a.manager = m
	return m, nil
}

// Store returns the domain (centers, users, samples, tokens) over Pool and
// Manager, opening them on first use.
func (a *App) Store(ctx context.Context) (*domain.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	m, err := a.Manager(ctx)
	if err != nil {
		return nil, err
	}
	a.store = domain.New(a.pool, m)
	return a.store, nil
}

func (a *App) close() {
	if a.pool != nil {
		a.pool.Close()
	}
}

// usageError is a misuse of the command line: exit 2, with a pointer to the
// command's help when cmd is set.
type usageError struct {
	cmd string // command path for the --help hint; empty for none
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErr marks err as a usage error of c (nil c: no --help hint).
func usageErr(c *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	ue = &usageError{err: err}
	if c != nil {
		ue.cmd = c.CommandPath()
	}
	return ue
}

// usagef is a usage error of c with a formatted message.
func usagef(c *cobra.Command, format string, args ...any) error {
	return usageErr(c, fmt.Errorf(format, args...))
}

// exitCode prints err, if any, as one line on stderr and maps it to an exit
// code.
func (a *App) exitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.env.Stderr, "tenantctl: %s\n", oneLine(ue.Error()))
		if ue.cmd != "" {
			fmt.Fprintf(a.env.Stderr, "Run '%s --help' for usage.\n", ue.cmd)
		}
		return ExitUsage
	}
	msg := errorMessage(err)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintf(a.env.Stderr, "tenantctl: %s\n", oneLine(msg))
	return ExitFailure
}

// oneLine folds a possibly multi-line message (cobra's suggestions, a YAML
// parser's report) into one line.
func oneLine(s string) string {
	var parts []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}
