package container_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
	"github.com/tenantctl/tenantctl/internal/testdb"
)

// maxImageBytes is the image's size budget (issue 13: 50 MB).
const maxImageBytes = 50_000_000

// podman runs podman with storage, run state and configuration of its own
// under a test's temporary directory, so that the test leaves nothing
// behind in the machine's image store.
type podman struct {
	t    *testing.T
	bin  string
	args []string // global flags
	env  []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	find := func(name string) string {
		path, err := pgcluster.FindOrInstall(t.Context(), name, func() (string, error) { return exec.LookPath(name) },
			func(msg string) { t.Log(msg) })
		if err != nil {
			t.Fatalf("%s is needed to build and run the image (as root: apt-get install podman runc): %v", name, err)
		}
		return path
	}
	bin, runc := find("podman"), find("runc")
	dir := t.TempDir()
	// default_ulimits = []: podman's default ulimits cannot be set inside
	// this sandbox's containers. k8s-file: the container's log in a file
	// (podman logs), where the default may be journald, absent here.
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\nlog_driver = \"k8s-file\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &podman{t: t, bin: bin,
		args: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "vfs", "--runtime", runc, "--cgroup-manager", "cgroupfs"},
		env: append(os.Environ(), "CONTAINERS_CONF="+conf)}
}

// run runs podman with args and stdin, and returns its stdout and error
// (with its stderr).
func (p *podman) run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, p.bin, append(slices.Clone(p.args), args...)...)
	cmd.Env = p.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %w; stderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// must is run that fails the test on an error. Not bound to t.Context,
// which ends before the cleanups that remove the container and image.
func (p *podman) must(args ...string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := p.run(ctx, "", args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// logs returns the container's log: podman logs writes what the container
// wrote to stderr (apiserver's log) to its own stderr.
func (p *podman) logs(name string) string {
	cmd := exec.Command(p.bin, append(slices.Clone(p.args), "logs", name)...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("podman logs %s: %v\n%s", name, err, out)
	}
	return string(out)
}

// TestImage builds the image of the Dockerfile with podman from bin/image/
// (make image-context), checks its configuration, migrates and seeds a
// test database with the image's tenantctl, serves it with the image's
// apiserver given no flag (on the host's network, as compose's api would
// be on its own), and checks health, readiness, the API, the console, the
// health check, the user it runs as and a clean stop on SIGTERM.
func TestImage(t *testing.T) {
	if os.Getenv("TENANTCTL_IMAGE_TEST") != "1" {
		t.Skip("builds and runs the container image with podman: run by make image-test")
	}
	for _, f := range []string{"apiserver", "tenantctl", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt"} {
		if _, err := os.Stat(filepath.Join(repoRoot, "bin/image", f)); err != nil {
			t.Fatalf("bin/image/%s: %v (make image-test stages it with make image-context)", f, err)
		}
	}
	p := newPodman(t)
	const image = "localhost/tenantctl:image-test"
	version := os.Getenv("TENANTCTL_IMAGE_VERSION")

	start := time.Now()
	p.must("build", "--format", "docker", "--layers=false", "-t", image,
		"--build-arg", "VERSION="+version, "--build-arg", "REVISION="+os.Getenv("TENANTCTL_IMAGE_REVISION"), repoRoot)
	t.Cleanup(func() { p.must("rmi", "-f", image) })
	t.Logf("built %s in %v", image, time.Since(start).Round(time.Millisecond))

	// The image's configuration: as the Dockerfile says, and small.
	var img []struct {
		Size   int64
		Config struct {
			User       string
			Env        []string
			Entrypoint []string
			Cmd        []string
			Labels     map[string]string
		}
		HealthCheck struct{ Test []string }
	}
	if err := json.Unmarshal([]byte(p.must("image", "inspect", image)), &img); err != nil || len(img) != 1 {
		t.Fatalf("image inspect: %v, %d images", err, len(img))
	}
	cfg := img[0].Config
	t.Logf("image size %d bytes (%.1f MB); labels %v", img[0].Size, float64(img[0].Size)/1e6, cfg.Labels)
	if img[0].Size > maxImageBytes {
		t.Errorf("image of %d bytes, over the %d budget", img[0].Size, maxImageBytes)
	}
	if cfg.User != "65532:65532" || strings.Join(cfg.Entrypoint, " ") != "/usr/local/bin/apiserver" || len(cfg.Cmd) != 0 ||
		strings.Join(cfg.Env, " ") != "PATH=/usr/local/bin TENANTCTL_ADDR=:8000" {
		t.Errorf("image config %+v", cfg)
	}
	if got := strings.Join(img[0].HealthCheck.Test, " "); got != "CMD /usr/local/bin/apiserver healthcheck" {
		t.Errorf("health check %q", got)
	}
	for _, l := range []string{"source", "version", "licenses", "revision"} {
		if cfg.Labels["org.opencontainers.image."+l] == "" {
			t.Errorf("label org.opencontainers.image.%s empty or missing", l)
		}
	}
	if version != "" && cfg.Labels["org.opencontainers.image.version"] != version {
		t.Errorf("version label %q, want %q", cfg.Labels["org.opencontainers.image.version"], version)
	}

	// compose's migrate step: tenantctl migrate, seeding with TENANTCTL_SEED=1.
	dbURL := testdb.Empty(t)
	out := p.must("run", "--rm", "--network", "host", "--entrypoint", "/usr/local/bin/tenantctl",
		"-e", "DATABASE_URL="+dbURL, "-e", "TENANTCTL_SEED=1", image, "migrate", "-o", "json")
	var migrated struct {
		Public *struct{ From, To int }
		Seed   *struct{ Centers struct{ Created int } }
	}
	if err := json.Unmarshal([]byte(out), &migrated); err != nil || migrated.Public == nil || migrated.Public.To < 1 ||
		migrated.Seed == nil || migrated.Seed.Centers.Created != 2 {
		t.Fatalf("tenantctl migrate in the image: %v, %+v, output:\n%s", err, migrated, out)
	}

	// compose's api: the image's apiserver with no flag, configured by
	// environment; on the host's network, so the address is a free port
	// here rather than the image's :8000.
	addr := freeAddr(t)
	name := fmt.Sprintf("tenantctl-image-test-%d", os.Getpid())
	p.must("run", "-d", "--name", name, "--network", "host", "-e", "DATABASE_URL="+dbURL, "-e", "TENANTCTL_ADDR="+addr, image)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container log:\n%s", p.logs(name))
		}
		p.must("rm", "-f", "-t", "0", name)
	})
	base := "http://" + addr
	for _, path := range []string{"/healthz", "/readyz"} {
		waitFor200(t, base+path)
	}
	if _, err := p.run(t.Context(), "", "healthcheck", "run", name); err != nil {
		t.Errorf("the image's HEALTHCHECK: %v", err)
	}

	// tenantctl inside the running container, with its environment: the
	// seeded centers; a password for admin (the README's way to sign in).
	out = p.must("exec", name, "tenantctl", "center", "list", "-o", "json")
	var centers struct {
		Count   int
		Results []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &centers); err != nil || centers.Count != 2 {
		t.Errorf("tenantctl center list in the container: %v, output:\n%s", err, out)
	}
	const password = "image-test-password"
	if _, err := p.run(t.Context(), password+"\n", "exec", "-i", name, "tenantctl", "user", "update", "admin", "--password-stdin"); err != nil {
		t.Errorf("setting admin's password: %v", err)
	}
	token := postToken(t, base, "admin", password)
	if got := getStatus(t, base+"/api/centers/", token); got != http.StatusOK {
		t.Errorf("GET /api/centers/ with admin's token: %d", got)
	}
	if got := getStatus(t, base+"/admin/login/", ""); got != http.StatusOK {
		t.Errorf("GET /admin/login/: %d", got)
	}

	// Not root: the image's user, and the kernel's view of the process.
	if got := strings.TrimSpace(p.must("inspect", "--format", "{{.Config.User}}", name)); got != "65532:65532" {
		t.Errorf("container user %q", got)
	}
	pid := strings.TrimSpace(p.must("inspect", "--format", "{{.State.Pid}}", name))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if k, v, _ := strings.Cut(line, ":"); k == "Uid" || k == "Gid" {
			if f := strings.Fields(v); len(f) != 4 || f[0] != "65532" || f[1] != "65532" || f[2] != "65532" || f[3] != "65532" {
				t.Errorf("/proc/%s/status %s: %q, want 65532 throughout", pid, k, v)
			}
		}
	}

	// SIGTERM: a graceful stop, exit 0, well inside podman's timeout
	// (past it podman would SIGKILL, exit 137).
	start = time.Now()
	p.must("stop", "-t", "20", name)
	took := time.Since(start)
	code := strings.TrimSpace(p.must("inspect", "--format", "{{.State.ExitCode}}", name))
	t.Logf("podman stop took %v, exit code %s", took.Round(time.Millisecond), code)
	if code != "0" || took > 15*time.Second {
		t.Errorf("after SIGTERM: exit code %s after %v, want 0 well within 20 s", code, took)
	}
	if logs := p.logs(name); !strings.Contains(logs, "apiserver listening") {
		t.Errorf("container log without the start-up line:\n%s", logs)
	}
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor200 polls url until it answers 200, for up to 30 s.
func waitFor200(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := status(url, "")
		if err == nil && got == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d, %v after 30 s", url, got, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func status(url, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func getStatus(t *testing.T, url, token string) int {
	t.Helper()
	got, err := status(url, token)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// postToken signs in through POST /api/auth/token/ and returns the token.
func postToken(t *testing.T, base, username, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := http.Post(base+"/api/auth/token/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.Token == "" {
		t.Fatalf("POST /api/auth/token/ as %s: %d, %v", username, resp.StatusCode, err)
	}
	return tok.Token
}
