package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/tenantctl/tenantctl/internal/cmdline"
)

// Config is an invocation's resolved configuration. Each setting comes from
// its flag if given, else its environment variable, else the --config file,
// else the default.
type Config struct {
	// DatabaseURL: --database-url, TENANTCTL_DATABASE_URL, DATABASE_URL,
	// database-url. No default.
	DatabaseURL string
	// Output: -o/--output, TENANTCTL_OUTPUT, output. One of table, json,
	// yaml; defaults to table.
	Output string
	// Actor is the username recorded as created_by/updated_by by commands
	// that change the registry: --actor, TENANTCTL_ACTOR, actor. Defaults to
	// none (a system action).
	Actor string
	// PoolSize is the warm pool's size (tenancy.Config.PoolSize): how many
	// ready schemas 'pool fill' keeps, and whether 'center create' claims
	// one. --pool-size, TENANTCTL_POOL_SIZE, pool-size. Defaults to 0, off.
	PoolSize int
	// Yes answers yes to every confirmation: --yes only. Consent is given
	// per invocation, never by a file or a forgotten variable.
	Yes bool
}

// Output formats.
const (
	OutputTable = "table"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
)

var outputFormats = []string{OutputTable, OutputJSON, OutputYAML}

// configKeys are the settings a config file may hold: each a global flag,
// whose environment variables (cmdline.Env) come before the file.
var configKeys = []string{"database-url", "output", "actor", "pool-size"}

// usernamePattern is public.users' username check.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.@+-]{1,150}$`)

func (a *App) addGlobalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	cmdline.DatabaseURL(f)
	f.StringVar(&a.configFile, "config", "", "YAML configuration `FILE` (keys: database-url, output, actor, pool-size)")
	f.StringP("output", "o", OutputTable, "output `format`: table, json or yaml")
	cmdline.Env(f, "output", "TENANTCTL_OUTPUT")
	f.BoolVar(&a.Config.Yes, "yes", false, "answer yes to confirmations (required for destructive actions when stdin is not a terminal)")
	f.String("actor", "", "`USERNAME` recorded as the author of registry changes")
	cmdline.Env(f, "actor", "TENANTCTL_ACTOR")
	f.Int("pool-size", 0, "warm pool `SIZE`: schemas kept ready for center create (0: off; see 'tenantctl pool')")
	cmdline.Env(f, "pool-size", "TENANTCTL_POOL_SIZE")
}

// configure resolves a.Config from the flags of c's tree, the environment
// and the config file, with a viper instance of this invocation alone.
func (a *App) configure(c *cobra.Command) error {
	flags := c.Root().PersistentFlags()
	if err := cmdline.FromEnv(flags, a.env.Getenv); err != nil {
		return usageErr(nil, err)
	}
	// The command's own flags with a variable (tenantctl migrate --seed).
	if err := cmdline.FromEnv(c.LocalNonPersistentFlags(), a.env.Getenv); err != nil {
		return usageErr(c, err)
	}
	// A flag set by the command line or the environment is Changed, which
	// puts it before the file for viper.
	v := viper.New()
	for _, k := range configKeys {
		if err := v.BindPFlag(k, flags.Lookup(k)); err != nil {
			return fmt.Errorf("bind flag %s: %w", k, err)
		}
	}
	if a.configFile != "" {
		v.SetConfigFile(a.configFile)
		v.SetConfigType("yaml") // whatever the file's extension
		if err := v.ReadInConfig(); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return usagef(nil, "config file %s does not exist", a.configFile)
			}
			return usagef(nil, "config file %s: %v", a.configFile, err)
		}
		// Every key viper knows is bound above, so any other came from the
		// file: a typo that would otherwise be silently ignored.
		var unknown []string
		for _, key := range v.AllKeys() {
			if !slices.Contains(configKeys, key) {
				unknown = append(unknown, key)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			return usagef(nil, "config file %s: unknown key %s (known: %s)",
				a.configFile, strings.Join(unknown, ", "), strings.Join(configKeys, ", "))
		}
	}

	a.Config.DatabaseURL = v.GetString("database-url")
	a.Config.Output = strings.ToLower(v.GetString("output"))
	a.Config.Actor = v.GetString("actor")
	a.Config.PoolSize = v.GetInt("pool-size")
	if a.Config.PoolSize < 0 {
		return usagef(c, "invalid pool size %d: want 0 (off) or more", a.Config.PoolSize)
	}
	// viper reads a file's value that is not a number as 0.
	if raw := v.GetString("pool-size"); raw != strconv.Itoa(a.Config.PoolSize) {
		return usagef(c, "invalid pool size %q: want a whole number, 0 (off) or more", raw)
	}
	if !slices.Contains(outputFormats, a.Config.Output) {
		return usagef(c, "invalid output format %q: want table, json or yaml", v.GetString("output"))
	}
	if a.Config.Actor != "" && !usernamePattern.MatchString(a.Config.Actor) {
		return usagef(c, "invalid actor %q: a username is 1 to 150 letters, digits or _.@+-", a.Config.Actor)
	}
	return nil
}
