package container_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.yaml.in/yaml/v3"

	"github.com/tenantctl/tenantctl/pkg/apiserver"
	"github.com/tenantctl/tenantctl/pkg/cli"
)

// repoRoot is the checkout's root, where Dockerfile and compose.yaml are.
const repoRoot = "../.."

// compose is the part of the Compose specification compose.yaml uses;
// decoding with KnownFields makes any other key (a typo such as
// depend_on) an error.
type compose struct {
	Name     string             `yaml:"name"`
	Shared   any                `yaml:"x-tenantctl"` // the anchors the services merge
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       string            `yaml:"build"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Restart string `yaml:"restart"`
}

func readCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c compose
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// defaults replaces each ${VAR:-default} of s by its default, as Compose
// does when VAR is unset; any other interpolation is an error.
func defaults(t *testing.T, s string) string {
	t.Helper()
	out := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(s, "$1")
	if strings.Contains(out, "$") {
		t.Errorf("%q: an interpolation without a default", s)
	}
	return out
}

// envNames returns the environment variables help names ("; env A, then
// B" after each flag, as internal/cmdline.Env writes them).
func envNames(help string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`; env ([A-Z][A-Z0-9_]*(?:, then [A-Z][A-Z0-9_]*)*)`).FindAllStringSubmatch(help, -1) {
		names = append(names, strings.Split(m[1], ", then ")...)
	}
	return names
}

// apiserverEnv and tenantctlMigrateEnv are the variables apiserver and
// tenantctl migrate read, from their --help.
func apiserverEnv(t *testing.T) []string {
	t.Helper()
	var out bytes.Buffer
	if code := apiserver.Run(t.Context(), []string{"--help"}, apiserver.Env{Stdout: &out}); code != apiserver.ExitOK {
		t.Fatalf("apiserver --help: exit %d", code)
	}
	return envNames(out.String())
}

func tenantctlMigrateEnv(t *testing.T) []string {
	t.Helper()
	var out bytes.Buffer
	if code := cli.Run(t.Context(), []string{"migrate", "--help"}, cli.Env{Stdout: &out}); code != cli.ExitOK {
		t.Fatalf("tenantctl migrate --help: exit %d", code)
	}
	return envNames(out.String())
}

// TestCompose: compose.yaml has the case study's shape (db, a one-shot
// migrate, api on 8000), each service waits for what it needs, and every
// variable it gives a tenantctl binary is one that binary reads.
func TestCompose(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	if names := slices.Sorted(func(yield func(string) bool) {
		for k := range c.Services {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(names, []string{"api", "db", "migrate"}) {
		t.Fatalf("services %q, want api, db, migrate", names)
	}
	db, migrate, api := c.Services["db"], c.Services["migrate"], c.Services["api"]

	// db: postgres:15 on a named volume, healthy once pg_isready says so.
	if db.Image != "postgres:15" || db.Build != "" {
		t.Errorf("db: image %q, build %q; want postgres:15, pulled", db.Image, db.Build)
	}
	if len(db.Volumes) != 1 || !strings.HasSuffix(db.Volumes[0], ":/var/lib/postgresql/data") {
		t.Errorf("db: volumes %q, want one on /var/lib/postgresql/data", db.Volumes)
	} else if vol, _, _ := strings.Cut(db.Volumes[0], ":"); !hasKey(c.Volumes, vol) {
		t.Errorf("db: volume %q is not a named volume of the file (%v)", vol, c.Volumes)
	}
	user, name, password := db.Environment["POSTGRES_USER"], db.Environment["POSTGRES_DB"], db.Environment["POSTGRES_PASSWORD"]
	if hc := db.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "pg_isready", "-U", user, "-d", name}) || hc.Retries < 1 {
		t.Errorf("db: healthcheck %+v, want pg_isready -U %s -d %s with retries", hc, user, name)
	}

	// migrate and api: the one image of the Dockerfile, on the database db
	// serves.
	for _, s := range []struct {
		name string
		svc  service
		env  []string
	}{{"migrate", migrate, tenantctlMigrateEnv(t)}, {"api", api, apiserverEnv(t)}} {
		if s.svc.Image != "tenantctl:latest" || s.svc.Build != "." {
			t.Errorf("%s: image %q, build %q; want tenantctl:latest built from the Dockerfile", s.name, s.svc.Image, s.svc.Build)
		}
		if cond := s.svc.DependsOn["db"].Condition; cond != "service_healthy" {
			t.Errorf("%s: depends on db %q, want service_healthy", s.name, cond)
		}
		for k := range s.svc.Environment {
			if !slices.Contains(s.env, k) {
				t.Errorf("%s: environment %s is not a variable its binary reads (%q)", s.name, k, s.env)
			}
		}
		cfg, err := pgconn.ParseConfig(defaults(t, s.svc.Environment["DATABASE_URL"]))
		if err != nil {
			t.Errorf("%s: DATABASE_URL: %v", s.name, err)
			continue
		}
		if cfg.Host != "db" || cfg.Port != 5432 || cfg.User != defaults(t, user) || cfg.Password != defaults(t, password) || cfg.Database != defaults(t, name) {
			t.Errorf("%s: DATABASE_URL %s@%s:%d/%s, want db's %s@db:5432/%s and its password", s.name, cfg.User, cfg.Host, cfg.Port, cfg.Database, user, name)
		}
	}

	// migrate: one shot of tenantctl migrate, seeding unless told not to.
	if !slices.Equal(migrate.Entrypoint, []string{"/usr/local/bin/tenantctl"}) || !slices.Equal(migrate.Command, []string{"migrate"}) {
		t.Errorf("migrate: entrypoint %q, command %q; want tenantctl migrate", migrate.Entrypoint, migrate.Command)
	}
	if seed := defaults(t, migrate.Environment["TENANTCTL_SEED"]); seed != "1" {
		t.Errorf("migrate: TENANTCTL_SEED defaults to %q, want 1", seed)
	}
	if migrate.Restart != "no" || len(migrate.Ports) != 0 {
		t.Errorf("migrate: restart %q, ports %q; want a one-shot without ports", migrate.Restart, migrate.Ports)
	}

	// api: the image's entry point with no flag at all, on 8000, once the
	// database is healthy and migrate has succeeded.
	if len(api.Entrypoint)+len(api.Command) != 0 {
		t.Errorf("api: entrypoint %q, command %q; want the image's apiserver without flags", api.Entrypoint, api.Command)
	}
	if len(api.Ports) != 1 || !strings.HasSuffix(defaults(t, api.Ports[0]), "8000:8000") {
		t.Errorf("api: ports %q, want 8000 published as 8000", api.Ports)
	}
	if cond := api.DependsOn["migrate"].Condition; cond != "service_completed_successfully" {
		t.Errorf("api: depends on migrate %q, want service_completed_successfully", cond)
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" && cur == "" {
			continue
		}
		if rest, ok := strings.CutSuffix(line, "\\"); ok {
			cur += rest + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfile: the image is FROM scratch (nothing to pull), runs as a
// non-root user, enters apiserver with a health check that needs no curl,
// carries the OCI labels, and sets no variable but PATH and the listen
// address: no secret, and every setting a variable apiserver reads.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	reads := apiserverEnv(t)
	byCmd := map[string][]string{}
	for _, in := range readDockerfile(t) {
		byCmd[in.cmd] = append(byCmd[in.cmd], in.args)
	}
	if got := byCmd["FROM"]; !slices.Equal(got, []string{"scratch"}) {
		t.Errorf("FROM %q, want scratch alone", got)
	}
	if got := byCmd["USER"]; len(got) != 1 {
		t.Errorf("USER %q, want one", got)
	} else if uid, err := strconv.Atoi(strings.Split(got[0], ":")[0]); err != nil || uid == 0 {
		t.Errorf("USER %q, want a numeric non-root uid (scratch has no user names to resolve)", got[0])
	}
	if got := byCmd["ENTRYPOINT"]; !slices.Equal(got, []string{`["/usr/local/bin/apiserver"]`}) {
		t.Errorf("ENTRYPOINT %q, want apiserver", got)
	}
	if got := byCmd["CMD"]; len(got) != 0 {
		t.Errorf("CMD %q: the image needs no flag", got)
	}
	if got := byCmd["HEALTHCHECK"]; len(got) != 1 || !strings.HasSuffix(got[0], `CMD ["/usr/local/bin/apiserver", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %q, want apiserver healthcheck", got)
	}
	if got := byCmd["EXPOSE"]; !slices.Equal(got, []string{"8000"}) {
		t.Errorf("EXPOSE %q, want 8000", got)
	}
	labels := strings.Join(byCmd["LABEL"], " ")
	for _, l := range []string{"source", "version", "licenses", "revision"} {
		if !strings.Contains(labels, "org.opencontainers.image."+l+"=") {
			t.Errorf("no label org.opencontainers.image.%s in %q", l, labels)
		}
	}
	var env []string
	for _, e := range byCmd["ENV"] {
		for _, kv := range strings.Fields(e) {
			env = append(env, kv)
			if k, _, _ := strings.Cut(kv, "="); k != "PATH" && !slices.Contains(reads, k) {
				t.Errorf("ENV %s: not a variable apiserver reads", kv)
			}
		}
	}
	if !slices.Equal(env, []string{"PATH=/usr/local/bin", "TENANTCTL_ADDR=:8000"}) {
		t.Errorf("ENV %q, want PATH and TENANTCTL_ADDR=:8000 only", env)
	}
	for _, in := range readDockerfile(t) {
		if regexp.MustCompile(`(?i)password|secret|token|database_url`).MatchString(in.args) && in.cmd != "LABEL" {
			t.Errorf("%s %s: a secret in the image", in.cmd, in.args)
		}
	}
}
