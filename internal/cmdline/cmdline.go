// Package cmdline is what tenantctl's two commands, tenantctl and
// apiserver, share on their command lines: flags that fall back to
// environment variables (--database-url among them) and --version.
package cmdline

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
)

// The exit codes of both commands. pkg/cli and pkg/apiserver re-export
// them for callers of their Run outside this module.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // the command line was wrong; nothing ran
)

// envKey is the flag annotation that holds a flag's environment variables.
const envKey = "tenantctl_env"

// Env names the environment variables that set the flag name of fs when
// the command line does not, in order of precedence, and says so in its
// usage. It panics if fs has no such flag: a programming error.
func Env(fs *pflag.FlagSet, name string, vars ...string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("cmdline: no flag --" + name)
	}
	f.Usage += "; env " + strings.Join(vars, ", then ")
	if err := fs.SetAnnotation(name, envKey, vars); err != nil {
		panic(err)
	}
}

// FromEnv sets each flag of fs that Env gave variables to and that the
// command line left unset from the first of them that getenv finds not
// empty. An invalid value is an error naming the variable. Call it after
// fs.Parse; a flag so set counts as Changed.
func FromEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		for _, name := range f.Annotations[envKey] {
			v := getenv(name)
			if v == "" {
				continue
			}
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("invalid %s %q: %w", name, v, serr)
			}
			return
		}
	})
	return err
}

// DatabaseURL adds --database-url to fs: a PostgreSQL URL or key=value
// DSN, else TENANTCTL_DATABASE_URL, else DATABASE_URL (see FromEnv).
func DatabaseURL(fs *pflag.FlagSet) *string {
	p := fs.String("database-url", "", "PostgreSQL `URL` (postgres://user@host:port/db) or key=value DSN")
	Env(fs, "database-url", "TENANTCTL_DATABASE_URL", "DATABASE_URL")
	return p
}

// Version is what --version prints for command name: the module's version,
// the VCS revision it was built from (marked modified when the work tree
// had changes) and the Go version, from the binary's build information.
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (no build information)"
	}
	return version(name, bi)
}

func version(name string, bi *debug.BuildInfo) string {
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)" // a test binary's main module has none
	}
	out := name + " " + v
	if rev != "" {
		out += ", revision " + rev + modified
	}
	return out + ", " + bi.GoVersion
}
