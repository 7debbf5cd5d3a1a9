package throttle

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// fakeClock is a clock the test moves by hand, so no test sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// fail is one failed attempt: begin, then no release (a wrong password).
func fail(t *testing.T, th *Login, k loginKeys) {
	t.Helper()
	if retry := th.begin(k); retry != 0 {
		t.Fatalf("attempt for %v refused (retry %v), want it let through", k, retry)
	}
}

func TestThrottleLocksAfterLimitUntilLockoutEnds(t *testing.T) {
	c := newClock()
	th := New(Config{Window: time.Minute, Lockout: 2 * time.Minute,
		MaxUserFailures: 3, MaxIPFailures: 100, Now: c.now})
	k := loginKeys{user: "u:alice", ip: "ip:10.0.0.1"}
	for range 3 {
		fail(t, th, k)
	}
	if retry := th.begin(k); retry != 2*time.Minute {
		t.Fatalf("4th attempt: retry %v, want the whole lockout (2m)", retry)
	}
	// Refused attempts are not counted: the lock does not grow while the
	// client keeps knocking.
	c.add(119 * time.Second)
	if retry := th.begin(k); retry != time.Second {
		t.Fatalf("just before the lock ends: retry %v, want 1s", retry)
	}
	c.add(time.Second)
	fail(t, th, k) // the window has passed too: a fresh count
	// Another username from the same address is not locked.
	fail(t, th, loginKeys{user: "u:bob", ip: "ip:10.0.0.1"})
}

func TestThrottleWindowForgetsOldFailures(t *testing.T) {
	c := newClock()
	th := New(Config{Window: time.Minute, MaxUserFailures: 3, MaxIPFailures: 100, Now: c.now})
	k := loginKeys{user: "u:alice", ip: "ip:10.0.0.1"}
	fail(t, th, k)
	fail(t, th, k)
	c.add(time.Minute)
	fail(t, th, k)
	fail(t, th, k) // 2 in this window: still allowed
	if retry := th.begin(k); retry != 0 {
		t.Fatalf("3rd failure of the new window refused: %v", retry)
	}
	if retry := th.begin(k); retry == 0 {
		t.Fatal("4th attempt after 3 failures in one window let through")
	}
}

// A success clears the user's count but takes back only its own attempt
// from the address: one valid account cannot wipe an IP's record.
func TestThrottleSuccessResetsUserNotIP(t *testing.T) {
	c := newClock()
	th := New(Config{Window: time.Minute, MaxUserFailures: 3, MaxIPFailures: 4, Now: c.now})
	ip := "ip:10.0.0.1"
	alice := loginKeys{user: "u:alice", ip: ip}
	fail(t, th, alice)
	fail(t, th, alice)
	fail(t, th, loginKeys{user: "u:mallory", ip: ip})
	if th.begin(alice) != 0 {
		t.Fatal("alice's 3rd attempt refused")
	}
	th.succeeded(alice)
	// alice is clear; the address has 3 failures and one more locks it.
	fail(t, th, loginKeys{user: "u:carol", ip: ip})
	if retry := th.begin(loginKeys{user: "u:dave", ip: ip}); retry == 0 {
		t.Fatal("address with 4 failures not locked: the success wiped its count")
	}
	if retry := th.begin(loginKeys{user: "u:alice", ip: "ip:10.0.0.2"}); retry != 0 {
		t.Fatalf("alice from elsewhere after her success: retry %v", retry)
	}
}

// Parallel guesses are counted before they are judged: out of many at
// once, only the limit get through.
func TestThrottleBoundsParallelGuesses(t *testing.T) {
	th := New(Config{MaxUserFailures: 5, MaxIPFailures: 1000})
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for i := range 100 {
		wg.Go(func() {
			if th.begin(loginKeys{user: "u:alice", ip: fmt.Sprintf("ip:10.0.0.%d", i)}) == 0 {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if passed != 5 {
		t.Fatalf("%d of 100 parallel guesses let through, want 5", passed)
	}
}

// The table never holds more than MaxEntries keys, and a flood of new keys
// evicts unlocked entries before a locked one.
func TestThrottleMemoryBound(t *testing.T) {
	c := newClock()
	th := New(Config{Window: time.Hour, MaxUserFailures: 2, MaxIPFailures: 1 << 30,
		MaxEntries: 100, Now: c.now})
	victim := loginKeys{user: "u:victim", ip: "ip:10.0.0.1"}
	fail(t, th, victim)
	fail(t, th, victim)
	for i := range 10000 {
		c.add(time.Millisecond)
		th.begin(loginKeys{user: fmt.Sprintf("u:spray%d", i), ip: "ip:10.0.0.1"})
		if n := th.len(); n > 100 {
			t.Fatalf("after %d keys the table holds %d, want at most 100", i+1, n)
		}
	}
	if retry := th.begin(victim); retry == 0 {
		t.Fatal("the locked username was evicted by a flood of new keys")
	}
}

// Keys: the peer address, never a forwarded header; absurd usernames are
// not tracked by name.
func TestThrottleKeys(t *testing.T) {
	r, _ := http.NewRequest("POST", "/api/auth/token/", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if k := keysFor(r, "alice"); k.user != "u:alice" || k.ip != "ip:192.0.2.7" {
		t.Errorf("keys %+v", k)
	}
	long := string(make([]byte, maxTrackedUsername+1))
	if k := keysFor(r, long); k.user != "" || k.ip != "ip:192.0.2.7" {
		t.Errorf("a %d-byte username is tracked by name: %+v", len(long), k.user != "")
	}
	if got := RetryAfter(1500 * time.Millisecond); got != "2" {
		t.Errorf("RetryAfter(1.5s) = %s, want 2 (rounded up)", got)
	}
	if got := RetryAfter(0); got != "1" {
		t.Errorf("RetryAfter(0) = %s, want 1", got)
	}
}

// Do books auth's three outcomes: a wrong credential counts, a success
// clears the username's count, any other error counts for nothing; and a
// locked key is refused without calling auth.
func TestDoOutcomes(t *testing.T) {
	c := newClock()
	th := New(Config{Window: time.Minute, MaxUserFailures: 2, MaxIPFailures: 100, Now: c.now})
	r, _ := http.NewRequest("POST", "/api/auth/token/", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	wrong := fmt.Errorf("authenticate alice: %w", domain.ErrInvalidCredentials)
	down := errors.New("connection refused")
	// attempt runs one sign-in whose auth returns outcome; it reports
	// whether auth was called.
	attempt := func(what string, outcome error) (retry time.Duration, called bool) {
		t.Helper()
		retry, err := th.Do(r, "alice", func() error { called = true; return outcome })
		if retry == 0 && err != outcome {
			t.Fatalf("%s: Do returned %v, want auth's error %v", what, err, outcome)
		}
		if retry > 0 && (err != nil || called) {
			t.Fatalf("%s: refused (retry %v) with err %v, auth called %v; want nil and not called", what, retry, err, called)
		}
		return retry, called
	}
	mustPass := func(what string, outcome error) {
		t.Helper()
		if retry, called := attempt(what, outcome); retry != 0 || !called {
			t.Fatalf("%s: refused (retry %v), want it let through", what, retry)
		}
	}
	// Abandoned attempts are no guesses: far more than the limit pass.
	for i := range 5 {
		mustPass(fmt.Sprintf("database failure %d", i+1), down)
	}
	mustPass("failure before the success", wrong)
	mustPass("success", nil)
	// The success cleared the count: it takes two new failures to lock.
	mustPass("failure 1 after the success", wrong)
	mustPass("failure 2 after the success", wrong)
	if retry, _ := attempt("after 2 failures", nil); retry != time.Minute {
		t.Fatalf("after 2 failures: retry %v, want the whole lockout (1m)", retry)
	}
	c.add(time.Minute)
	mustPass("after the lockout", nil)
}
