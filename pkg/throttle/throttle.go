// Package throttle limits sign-in attempts. A sign-in (the API's POST
// /api/auth/token/, the admin console's /admin/login/) is where a client
// can guess a secret, so a Login counts failures per username and per
// client IP in a sliding window and, past a limit, refuses the attempt
// with a retry delay (a 429 with Retry-After) — before the password is
// looked at, so a locked key gets no verdict even for the right password
// and costs no argon2 verification. Every face that signs users in should
// share one Login, or an attacker gets each face's limit.
//
//   - Every attempt is counted as a failure before the password is
//     checked, and taken back if it succeeds: N parallel guesses cannot
//     all slip in before the first failure is recorded.
//   - A success clears its username's count but only takes its own attempt
//     back from its IP's: an attacker holding one valid account cannot wipe
//     the count of the address it guesses other accounts from.
//   - The IP is the connection's peer (RemoteAddr). X-Forwarded-For is not
//     read, as any client can forge it; behind a reverse proxy every client
//     shares the proxy's address, so the IP limit is generous (it bounds a
//     single machine spraying many usernames) and the username limit does
//     the real work.
//   - Usernames longer than any valid one (150) are not tracked by name:
//     they cannot exist, and keys must stay small. Their IP still counts.
//   - Memory is bounded: at most MaxEntries keys. A full table first drops
//     the entries whose window has passed and which are not locked, then
//     the oldest ones, so a flood of new keys costs the attacker its own
//     history before anyone's lock.
//
// Locking a username out is a denial of service that anyone may cause for
// that username (every lockout policy has it); the lock is short and the
// user's tokens keep working.
package throttle

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// Config configures a Login. Zero fields take the
// defaults noted.
type Config struct {
	// Window is how long a failure counts. Defaults to 15 minutes.
	Window time.Duration
	// Lockout is how long a key stays locked once it reaches its limit.
	// Defaults to Window.
	Lockout time.Duration
	// MaxUserFailures locks a username after that many failures in a
	// Window. Defaults to 10.
	MaxUserFailures int
	// MaxIPFailures locks a client address after that many failures in a
	// Window. Defaults to 100.
	MaxIPFailures int
	// MaxEntries bounds the keys tracked. Defaults to 10,000.
	MaxEntries int
	// Now is the clock, for tests. Defaults to time.Now.
	Now func() time.Time
}

// Login is a sign-in throttle; safe for concurrent use.
type Login struct {
	cfg Config
	mu  sync.Mutex
	m   map[string]*throttleEntry
}

type throttleEntry struct {
	fails  int       // failures (and attempts in flight) since first
	first  time.Time // start of the window
	until  time.Time // locked until then (zero: not locked)
	latest time.Time // last attempt, for eviction
}

// maxTrackedUsername is the longest username that can exist (domain's
// pattern allows 150 characters, all ASCII).
const maxTrackedUsername = 150

// New returns a Login with cfg's limits, zero fields taking their
// defaults.
func New(cfg Config) *Login {
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = cfg.Window
	}
	if cfg.MaxUserFailures <= 0 {
		cfg.MaxUserFailures = 10
	}
	if cfg.MaxIPFailures <= 0 {
		cfg.MaxIPFailures = 100
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Login{cfg: cfg, m: map[string]*throttleEntry{}}
}

// Do runs one sign-in attempt for username, from r's client address,
// through the throttle. If the username or the address is locked it
// returns how long until the lock ends (retry > 0) and does not call auth.
// Otherwise it calls auth, returns its error as it is (retry 0) and books
// the outcome: nil is a success, an error wrapping
// domain.ErrInvalidCredentials a counted failure, and any other error (the
// database failed, the request was cancelled) an abandoned attempt that
// counts for nothing, since no guess was judged.
//
// Call it only for well-formed attempts: a malformed request is no guess.
func (t *Login) Do(r *http.Request, username string, auth func() error) (retry time.Duration, err error) {
	k := keysFor(r, username)
	if retry := t.begin(k); retry > 0 {
		return retry, nil
	}
	err = auth()
	switch {
	case err == nil:
		t.succeeded(k)
	case !errors.Is(err, domain.ErrInvalidCredentials):
		t.abandoned(k)
	}
	// A wrong credential leaves the failure begin counted.
	return 0, err
}

// loginKeys are the keys one attempt counts against, with their limits.
type loginKeys struct {
	user, ip string // "" when not tracked
}

func keysFor(r *http.Request, username string) loginKeys {
	var k loginKeys
	if len(username) <= maxTrackedUsername {
		k.user = "u:" + username
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(host) <= 64 { // an address; anything longer is not one
		k.ip = "ip:" + host
	}
	return k
}

// begin records an attempt for k, or refuses it: retry is how long until
// the longest lock on k ends, 0 when the attempt may proceed.
func (t *Login) begin(k loginKeys) (retry time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	for _, key := range []string{k.user, k.ip} {
		if e := t.m[key]; key != "" && e != nil && now.Before(e.until) {
			retry = max(retry, e.until.Sub(now))
		}
	}
	if retry > 0 {
		return retry
	}
	t.count(k.user, t.cfg.MaxUserFailures, now)
	t.count(k.ip, t.cfg.MaxIPFailures, now)
	return 0
}

// count adds one failure to key, locking it when it reaches limit.
func (t *Login) count(key string, limit int, now time.Time) {
	if key == "" {
		return
	}
	e := t.m[key]
	if e == nil {
		if len(t.m) >= t.cfg.MaxEntries {
			t.evict(now)
		}
		e = &throttleEntry{first: now}
		t.m[key] = e
	}
	if now.Sub(e.first) >= t.cfg.Window {
		// The window has passed: start a new one.
		e.fails, e.first = 0, now
	}
	e.fails++
	e.latest = now
	if e.fails >= limit {
		e.until = now.Add(t.cfg.Lockout)
	}
}

// succeeded takes back the attempt begin counted: the username's count is
// cleared, the IP's lowered by one.
func (t *Login) succeeded(k loginKeys) { t.release(k, true) }

// abandoned takes back an attempt that was never judged (the database
// failed): both counts are lowered by one.
func (t *Login) abandoned(k loginKeys) { t.release(k, false) }

func (t *Login) release(k loginKeys, clearUser bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if clearUser && k.user != "" {
		delete(t.m, k.user)
	}
	t.uncount(k.user, t.cfg.MaxUserFailures)
	t.uncount(k.ip, t.cfg.MaxIPFailures)
}

// uncount lowers key's count by one, unlocking it if that puts it under
// limit again.
func (t *Login) uncount(key string, limit int) {
	e := t.m[key]
	if key == "" || e == nil {
		return
	}
	e.fails = max(e.fails-1, 0)
	if e.fails < limit {
		e.until = time.Time{}
	}
}

// evict makes room for one entry: first everything stale (window passed,
// not locked), then, if that freed nothing, the least recently used tenth.
func (t *Login) evict(now time.Time) {
	for k, e := range t.m {
		if now.Sub(e.first) >= t.cfg.Window && !now.Before(e.until) {
			delete(t.m, k)
		}
	}
	if len(t.m) < t.cfg.MaxEntries {
		return
	}
	// Still full of live entries: drop the least recently used tenth (at
	// least one), preferring unlocked ones. O(n) per eviction, and
	// evictions are a tenth of the table apart.
	n := max(t.cfg.MaxEntries/10, 1)
	for range n {
		var oldest string
		var oldestAt time.Time
		oldestLocked := true
		for k, e := range t.m {
			locked := now.Before(e.until)
			if oldest == "" || (oldestLocked && !locked) || (locked == oldestLocked && e.latest.Before(oldestAt)) {
				oldest, oldestAt, oldestLocked = k, e.latest, locked
			}
		}
		delete(t.m, oldest)
	}
}

// len is the number of keys tracked.
func (t *Login) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// RetryAfter formats retry as a Retry-After header value: whole seconds,
// rounded up (a client retrying at once would be refused), at least 1.
func RetryAfter(retry time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(retry.Seconds())), 1), 10)
}
