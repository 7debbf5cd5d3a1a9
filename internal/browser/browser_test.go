package browser

import (
	"bytes"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// browser's readers and waiters must all end at its cleanup.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// formPage is a sign-up form whose two columns become one below 600 px, so
// the screenshots at 1280 and 390 differ as the console's pages will.
const formPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>New center</title>
<style>
body { font: 16px system-ui, sans-serif; margin: 0; background: #f4f5f7; }
header { background: #1f3a5f; color: #fff; padding: 16px 24px; font-size: 20px; }
form { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; max-width: 720px;
       margin: 24px; padding: 24px; background: #fff; border-radius: 8px; }
label { display: flex; flex-direction: column; gap: 4px; }
input, select { font: inherit; padding: 8px; }
button { grid-column: 1 / -1; justify-self: start; font: inherit; padding: 8px 24px;
         background: #1f3a5f; color: #fff; border: 0; border-radius: 4px; }
@media (max-width: 600px) { form { grid-template-columns: 1fr; margin: 12px; } }
</style></head>
<body><header>tenantctl &middot; New center</header>
<form method="post" action="/centers">
<label>Name <input id="name" name="name" required></label>
<label>Plan <select id="plan" name="plan"><option>free</option><option>team</option></select></label>
<button id="create" type="submit">Create center</button>
</form></body></html>`

// TestFormRoundTrip proves the harness: a page served over HTTP, its form
// filled and submitted (POST, then a redirect), the server's view of the
// values and the browser's of the page it lands on, and full-page
// screenshots at both console widths.
func TestFormRoundTrip(t *testing.T) {
	var (
		mu  sync.Mutex
		got = map[string]string{}
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, formPage) })
	mux.HandleFunc("POST /centers", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got["name"], got["plan"] = r.PostFormValue("name"), r.PostFormValue("plan")
		mu.Unlock()
		http.Redirect(w, r, "/centers/1", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /centers/1", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, `<!doctype html><title>Center</title><h1 id="msg">Created %s on the %s plan</h1>`,
			html.EscapeString(got["name"]), html.EscapeString(got["plan"]))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the browser's cleanup: it holds connections
	// Kept where the caller asks; else in a folder Screenshot must create.
	shots := os.Getenv(EnvScreenshots)
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
		t.Setenv(EnvScreenshots, shots)
	}

	var profile string
	t.Run("browser", func(t *testing.T) {
		ctx := New(t)
		profile = userDataDir(t)
		if status := Visit(t, ctx, srv.URL); status != http.StatusOK {
			t.Fatalf("GET / answered %d", status)
		}
		Fill(t, ctx, "#name", "Ada & Co")
		Fill(t, ctx, "#plan", "team")
		for _, width := range []int{1280, 390} {
			SetWidth(t, ctx, width)
			inner, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth"))
			if err != nil || inner != width {
				t.Fatalf("window.innerWidth = %d, %v; want %d", inner, err, width)
			}
			name := fmt.Sprintf("form-%d", width)
			Screenshot(t, ctx, name)
			checkPNG(t, filepath.Join(shots, name+".png"), width)
		}
		if status := Submit(t, ctx, "#create"); status != http.StatusOK {
			t.Fatalf("the page after submitting answered %d", status)
		}
		mu.Lock()
		if got["name"] != "Ada & Co" || got["plan"] != "team" {
			t.Errorf("server received %v", got)
		}
		mu.Unlock()
		if u := URL(t, ctx); u != srv.URL+"/centers/1" {
			t.Errorf("browser at %s, want the redirect's target", u)
		}
		if msg := Text(t, ctx, "#msg"); msg != "Created Ada & Co on the team plan" {
			t.Errorf("page says %q", msg)
		}
	})
	if n := killLeftovers(profile); n != 0 {
		t.Errorf("%d chromium processes outlived the test", n)
	}
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("profile %s still there: %v", profile, err)
	}
}

// userDataDir is the profile folder of the test's browser, read from its
// own command line: proof that it is one New made under t.TempDir() (whose
// folders share one parent per test).
func userDataDir(t *testing.T) string {
	t.Helper()
	want := "--user-data-dir=" + filepath.Dir(t.TempDir()) + string(filepath.Separator)
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		for _, arg := range bytes.Split(b, []byte{0}) {
			if dir, ok := strings.CutPrefix(string(arg), want); ok {
				return want[len("--user-data-dir="):] + dir
			}
		}
	}
	t.Fatal("no chromium with a user-data-dir under this test's TempDir")
	return ""
}

// checkPNG fails unless path is a PNG width px wide.
func checkPNG(t *testing.T, path string, width int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.Width != width {
		t.Errorf("%s is %dx%d, want %d wide", path, cfg.Width, cfg.Height, width)
	}
}

// TestChromiumFromEnv: TENANTCTL_CHROMIUM wins, and one that names nothing
// is an error saying so, not a quiet fall back to PATH.
func TestChromiumFromEnv(t *testing.T) {
	t.Setenv(EnvChromium, "/nonexistent/chrome")
	if _, err := chromium(t.Context(), nil); err == nil || !strings.Contains(err.Error(), EnvChromium) {
		t.Fatalf("chromium() = %v, want an error naming %s", err, EnvChromium)
	}
	t.Setenv(EnvChromium, "/bin/true")
	if bin, err := chromium(t.Context(), nil); err != nil || bin != "/bin/true" {
		t.Fatalf("chromium() = %q, %v; want /bin/true", bin, err)
	}
}
