package cmdline

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestDatabaseURLPrecedence: --database-url, else TENANTCTL_DATABASE_URL,
// else DATABASE_URL; an empty variable counts as unset.
func TestDatabaseURLPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"flag over both", []string{"--database-url", "flag"}, map[string]string{"TENANTCTL_DATABASE_URL": "tenantctl", "DATABASE_URL": "plain"}, "flag"},
		{"TENANTCTL_ over DATABASE_URL", nil, map[string]string{"TENANTCTL_DATABASE_URL": "tenantctl", "DATABASE_URL": "plain"}, "tenantctl"},
		{"DATABASE_URL last", nil, map[string]string{"DATABASE_URL": "plain"}, "plain"},
		{"empty is unset", nil, map[string]string{"TENANTCTL_DATABASE_URL": "", "DATABASE_URL": "plain"}, "plain"},
		{"none", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			url := DatabaseURL(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := FromEnv(fs, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			if *url != tc.want {
				t.Errorf("database URL %q, want %q", *url, tc.want)
			}
		})
	}
}

// TestFromEnvInvalid: a variable that does not parse as its flag's type
// is an error naming the variable; the usage names the variables.
func TestFromEnvInvalid(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	d := fs.Duration("ttl", time.Hour, "lifetime")
	Env(fs, "ttl", "TTL")
	if got := fs.Lookup("ttl").Usage; got != "lifetime; env TTL" {
		t.Errorf("usage %q", got)
	}
	err := FromEnv(fs, func(string) string { return "soon" })
	if err == nil || !strings.Contains(err.Error(), `invalid TTL "soon"`) {
		t.Errorf("error %v, want one naming TTL", err)
	}
	if err := FromEnv(fs, func(string) string { return "2m" }); err != nil || *d != 2*time.Minute {
		t.Errorf("ttl %v, error %v; want 2m", *d, err)
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "m", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := version("apiserver", bi), "apiserver v1.2.3, revision 0123abcd (modified), go1.99.1"; got != want {
		t.Errorf("version %q, want %q", got, want)
	}
	bi.Settings[1].Value = "false"
	if got, want := version("apiserver", bi), "apiserver v1.2.3, revision 0123abcd, go1.99.1"; got != want {
		t.Errorf("version %q, want %q", got, want)
	}
	// This test binary's own build information: no VCS stamp, the Go
	// version that built it.
	if got := Version("tenantctl"); !strings.HasPrefix(got, "tenantctl ") || !strings.HasSuffix(got, runtime.Version()) {
		t.Errorf("Version %q, want tenantctl ... %s", got, runtime.Version())
	}
}
