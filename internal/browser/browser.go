// Package browser drives a real headless Chromium from Go tests, so that the
// admin console is tested end to end as a person uses it: pages loaded over
// HTTP, forms filled and submitted, text read, screenshots taken.
//
// A test calls [New] for a tab of its own, then the helpers ([Visit],
// [Fill], [Click], [Submit], [Text], [Count], [Eval], [URL], [SetWidth],
// [Screenshot]), each of which fails the test with a message naming what
// it did. Anything else is plain
// chromedp on the same context (chromedp.Run, chromedp.Evaluate, ...).
//
// The browser is Debian's chromium: $TENANTCTL_CHROMIUM if set, else
// `chromium` on PATH, else (as root, with apt-get) `apt-get install
// chromium`. A test that needs a browser fails, never skips, when none can
// be had: a skipped browser test would let a broken console through.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tenantctl/tenantctl/internal/pgcluster"
)

// EnvChromium names a Chromium (or Chrome) binary to use instead of
// `chromium` on PATH; when set, nothing is installed.
const EnvChromium = "TENANTCTL_CHROMIUM"

// EnvScreenshots names the folder [Screenshot] writes into; unset, each
// test's screenshots go to its t.TempDir().
const EnvScreenshots = "TENANTCTL_SCREENSHOTS"

// Timeout bounds the life of one test's browser: when it passes, the
// browser is killed and every later helper fails the test, so a hung page
// or browser fails that test instead of hanging `make test` until go
// test's own -timeout panics with every package's goroutines.
const Timeout = 2 * time.Minute

// stepTimeout bounds one helper's action (a selector that never matches, a
// submit that loads nothing), so that its failure names the step.
const stepTimeout = 30 * time.Second

// Height is the viewport height of [New] and [SetWidth]; screenshots are
// full-page whatever it is.
const Height = 900

// flags are Chromium's switches, all of them: headless, no sandbox (we
// run as root on CI, where Chromium refuses its sandbox), no GPU, and
// nothing that reaches the network on its own or delays the first page.
var flags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-quic", true),
	// Without it a full-page screenshot loses the scrollbar's 15 px at
	// the right edge, and a 390 px page looks cut off when it is not.
	chromedp.Flag("hide-scrollbars", true),
	chromedp.WindowSize(1280, Height),
}

var (
	pathOnce sync.Once
	pathBin  string
	pathErr  error
)

// chromium returns the browser binary to run (see the package doc). The
// lookup on PATH, and an install, happen once per test binary; log hears
// of an install.
func chromium(ctx context.Context, log func(string)) (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		bin, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvChromium, p, err)
		}
		return bin, nil
	}
	pathOnce.Do(func() {
		pathBin, pathErr = pgcluster.FindOrInstall(ctx, "chromium", func() (string, error) {
			bin, err := exec.LookPath("chromium")
			if err != nil {
				return "", fmt.Errorf("browser tests need Debian's chromium: not on PATH (apt-get install chromium as root, or set %s)", EnvChromium)
			}
			return bin, nil
		}, log)
	})
	return pathBin, pathErr
}

// New starts a headless Chromium for the test and returns the chromedp
// context of its one tab, at 1280 x [Height] px. The browser has a fresh
// profile under t.TempDir() and lives at most [Timeout] (less if the
// test binary's deadline comes first). At t.Cleanup it is closed and waited
// for, with its child processes: no goroutine or process outlives the
// test, so goleak needs no ignore.
func New(t testing.TB) context.Context {
	t.Helper()
	bin, err := chromium(t.Context(), func(msg string) { t.Log(msg) })
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	profile := t.TempDir()
	// Not t.Context(): it ends before the cleanups run, and would kill the
	// browser where Cleanup closes it gracefully (a killed Chromium can
	// leave its children behind, writing into the profile being removed).
	life, stop := context.WithTimeout(context.Background(), timeout(t))
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(bin), chromedp.UserDataDir(profile)}, flags...)
	alloc, stopAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		closing, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		// Errors are those of a browser already gone (a timeout, a
		// crash): the test has failed on them already.
		_ = chromedp.Cancel(closing)
		cancelTab()
		stopAlloc() // waits for the browser process
		stop()
		if n := killLeftovers(profile); n > 0 {
			t.Errorf("browser: %d chromium processes outlived the browser; killed", n)
		}
	})
	// Start it now, so that a browser that cannot start fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: start %s: %v", bin, err)
	}
	return ctx
}

// timeout is Timeout, or less when the test binary must end sooner (5s
// before, to report the failure rather than panic).
func timeout(t testing.TB) time.Duration {
	d := Timeout
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := dt.Deadline(); ok {
			d = min(d, time.Until(end)-5*time.Second)
		}
	}
	return d
}

// killLeftovers kills the processes whose command line names profile, the
// browser's user-data-dir (Chromium passes it to every child), and says
// how many there were. After a graceful close there are none.
func killLeftovers(profile string) int {
	want := []byte("--user-data-dir=" + profile + "\x00")
	procs, _ := os.ReadDir("/proc")
	n := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, want) && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// step runs the action a on the tab of ctx within stepTimeout, and fails
// the test with what (e.g. `submit "button"`) on an error.
func step[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	return within(t, ctx, what, func(ctx context.Context) (T, error) { return chromedp.Run(ctx, a) })
}

// within is step for an f that runs its own actions on ctx.
func within[T any](t testing.TB, ctx context.Context, what string, f func(context.Context) (T, error)) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := f(sctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the step's %s or the browser's %s)", err, stepTimeout, Timeout)
		}
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// Visit loads url and returns the HTTP status of its document.
func Visit(t testing.TB, ctx context.Context, url string) int {
	t.Helper()
	return within(t, ctx, "visit "+url, func(ctx context.Context) (int, error) {
		return status(chromedp.Run(ctx, chromedp.NavigateResponse(url)))
	})
}

// Fill sets the value of the form field (input, textarea or select) that
// the CSS selector sel finds first, as a script would: no key events.
func Fill(t testing.TB, ctx context.Context, sel, value string) {
	t.Helper()
	step(t, ctx, fmt.Sprintf("fill %q", sel), chromedp.SetValue(chromedp.CSS(sel), value))
}

// Click clicks the element that the CSS selector sel finds first (a
// checkbox, say) and waits for nothing: for a click that loads a page, use
// [Submit].
func Click(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	step(t, ctx, fmt.Sprintf("click %q", sel), chromedp.Click(chromedp.CSS(sel)))
}

// Submit clicks the (submit) button that the CSS selector sel finds first,
// waits for the page that loads, after any redirects, and returns its HTTP
// status. A click that loads no page fails the test after the step's
// timeout.
func Submit(t testing.TB, ctx context.Context, sel string) int {
	t.Helper()
	return within(t, ctx, fmt.Sprintf("submit %q", sel), func(ctx context.Context) (int, error) {
		return status(chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))))
	})
}

// status is the HTTP status of a loaded document.
func status(resp *network.Response, err error) (int, error) {
	if err == nil && resp == nil {
		err = errors.New("no HTTP response")
	}
	if err != nil {
		return 0, err
	}
	return int(resp.Status), nil
}

// Text returns the visible text (innerText) of the first element the CSS
// selector sel finds, waiting for it to appear.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	return step(t, ctx, fmt.Sprintf("text of %q", sel), chromedp.Text(chromedp.CSS(sel)))
}

// Count returns how many elements the CSS selector sel finds now (0 is an
// answer, not a wait).
func Count(t testing.TB, ctx context.Context, sel string) int {
	t.Helper()
	return Eval[int](t, ctx, fmt.Sprintf("document.querySelectorAll(%q).length", sel))
}

// Eval returns the value of the JavaScript expression expr in the page,
// decoded from JSON into a T.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	return step(t, ctx, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// URL returns the address of the page the tab shows.
func URL(t testing.TB, ctx context.Context) string {
	t.Helper()
	return step(t, ctx, "location", chromedp.Location())
}

// SetWidth makes the viewport width px wide (and [Height] high), as a
// window or phone of that width would show the page: CSS media queries
// and window.innerWidth see it. The console is checked at 1280 and 390.
func SetWidth(t testing.TB, ctx context.Context, width int) {
	t.Helper()
	step(t, ctx, fmt.Sprintf("set width %d", width), chromedp.EmulateViewport(int64(width), Height))
}

// Screenshot saves a full-page PNG of the tab as <name>.png, in
// $TENANTCTL_SCREENSHOTS (created if missing) when that is set, else in a
// t.TempDir(), and logs its path.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png := step(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browser: screenshot folder: %v", err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	t.Logf("screenshot %s", path)
}
