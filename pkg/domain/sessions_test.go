package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

const (
	sessionTTL  = time.Hour
	sessionIdle = 10 * time.Minute
)

// signIn creates a session for u and checks that it authenticates.
func (b *bundle) signIn(t *testing.T, u domain.User) (domain.Session, string) {
	t.Helper()
	s, secret, err := b.st.Sessions.Create(b.ctx, u.ID, sessionTTL)
	if err != nil {
		t.Fatalf("create session for %s: %v", u.Username, err)
	}
	b.wantSession(t, secret, u)
	return s, secret
}

// wantSession fails unless secret authenticates as u.
func (b *bundle) wantSession(t *testing.T, secret string, u domain.User) {
	t.Helper()
	got, _, err := b.st.Sessions.Authenticate(b.ctx, secret, sessionIdle)
	if err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate = %s, %v; want %s", got.Username, err, u.Username)
	}
}

// wantNoSession fails unless secret is refused, and its row is gone when
// gone is set.
func (b *bundle) wantNoSession(t *testing.T, secret string, gone bool) {
	t.Helper()
	if _, _, err := b.st.Sessions.Authenticate(b.ctx, secret, sessionIdle); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("Authenticate = %v, want ErrInvalidCredentials", err)
	}
	n := b.count(t, "SELECT count(*) FROM public.admin_sessions WHERE token_hash = sha256(convert_to($1, 'UTF8'))", secret)
	if gone && n != 0 {
		t.Fatalf("the session's row is still there")
	}
}

func TestSessionCreateAuthenticate(t *testing.T) {
	b := setup(t)
	c := b.center(t, "Lab", "")
	u := b.user(t, "alice", &c.ID, domain.RoleAdmin)
	before := time.Now()
	s, secret := b.signIn(t, u)
	if !strings.HasPrefix(secret, domain.SessionPrefix) || len(secret) != len(domain.SessionPrefix)+43 {
		t.Fatalf("secret %q, want %s and 43 base64url characters", secret, domain.SessionPrefix)
	}
	if s.UserID != u.ID || s.ID == uuid.Nil || s.ExpiresAt.Before(before.Add(sessionTTL-time.Minute)) ||
		s.ExpiresAt.After(time.Now().Add(sessionTTL+time.Minute)) {
		t.Fatalf("session %+v, want alice's, expiring in %v", s, sessionTTL)
	}
	got, gs, err := b.st.Sessions.Authenticate(b.ctx, secret, sessionIdle)
	if err != nil || got.Username != "alice" || gs.ID != s.ID || gs.UserID != u.ID || !gs.ExpiresAt.Equal(s.ExpiresAt) ||
		!gs.CreatedAt.Equal(s.CreatedAt) {
		t.Fatalf("Authenticate = %+v, %+v, %v; want alice and %+v", got, gs, err, s)
	}
	// Only the hash is stored, and the user is recorded as its creator.
	if n := b.count(t, "SELECT count(*) FROM public.admin_sessions WHERE token_hash = sha256(convert_to($1, 'UTF8')) AND created_by = $2",
		secret, u.ID); n != 1 {
		t.Fatalf("%d rows hold the secret's hash", n)
	}
	if n := b.count(t, "SELECT count(*) FROM public.admin_sessions s WHERE position(convert_to($1, 'UTF8') IN s.token_hash) > 0", secret); n != 0 {
		t.Fatal("the secret itself is stored")
	}
	// Two sign-ins are two sessions.
	_, other := b.signIn(t, u)
	if other == secret {
		t.Fatal("two sessions share a secret")
	}

	for name, bad := range map[string]string{
		"empty":      "",
		"token":      "tct_" + secret[len(domain.SessionPrefix):],
		"short":      secret[:len(secret)-1],
		"long":       secret + "A",
		"unknown":    domain.SessionPrefix + strings.Repeat("A", 43),
		"one off":    secret[:len(secret)-1] + string(secret[len(secret)-1]^1),
		"no prefix":  strings.Repeat("A", len(secret)),
		"nul inside": secret[:10] + "\x00" + secret[11:],
	} {
		if _, _, err := b.st.Sessions.Authenticate(b.ctx, bad, sessionIdle); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Errorf("%s secret: %v, want ErrInvalidCredentials", name, err)
		}
	}
	if _, _, err := b.st.Sessions.Authenticate(b.ctx, secret, 0); err == nil || errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("idle 0: %v, want a programming error", err)
	}

	// Unknown or inactive users get no session; a bad ttl is refused.
	_, _, err = b.st.Sessions.Create(b.ctx, uuid.New(), sessionTTL)
	wantNotFound(t, err)
	bob := b.user(t, "bob", &c.ID, domain.RoleUser)
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, bob.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.st.Sessions.Create(b.ctx, bob.ID, sessionTTL)
	wantNotFound(t, err)
	_, _, err = b.st.Sessions.Create(b.ctx, u.ID, 0)
	wantFields(t, err, "ttl")
}

func TestSessionExpiry(t *testing.T) {
	b := setup(t)
	c := b.center(t, "Lab", "")
	u := b.user(t, "alice", &c.ID, domain.RoleUser)

	// Absolute expiry, however recently the session was used.
	s, secret := b.signIn(t, u)
	if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.admin_sessions SET expires_at = now() - interval '1 second' WHERE id = $1", s.ID); err != nil {
		t.Fatal(err)
	}
	b.wantNoSession(t, secret, false)

	// Idle expiry: last seen longer ago than idle.
	s, secret = b.signIn(t, u)
	if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.admin_sessions SET last_seen_at = now() - $2::interval WHERE id = $1",
		s.ID, (sessionIdle + time.Second).String()); err != nil {
		t.Fatal(err)
	}
	b.wantNoSession(t, secret, false)
	// A longer idle allowance still takes it.
	if got, _, err := b.st.Sessions.Authenticate(b.ctx, secret, time.Hour); err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate with a 1h idle = %v, %v", got.ID, err)
	}

	// Use moves last_seen_at, at most once a minute.
	s, secret = b.signIn(t, u)
	if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.admin_sessions SET last_seen_at = now() - interval '5 minutes' WHERE id = $1", s.ID); err != nil {
		t.Fatal(err)
	}
	seen := func() time.Time {
		t.Helper()
		var at time.Time
		if err := b.db.Pool.QueryRow(b.ctx, "SELECT last_seen_at FROM public.admin_sessions WHERE id = $1", s.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	stale := seen()
	b.wantSession(t, secret, u)
	touched := seen()
	if !touched.After(stale.Add(4 * time.Minute)) {
		t.Fatalf("last_seen_at %v after use, want about now (was %v)", touched, stale)
	}
	b.wantSession(t, secret, u)
	if again := seen(); !again.Equal(touched) {
		t.Fatalf("last_seen_at moved again within a minute: %v then %v", touched, again)
	}

	// Create deletes the user's expired sessions, and no one else's.
	bob := b.user(t, "bob", &c.ID, domain.RoleUser)
	bs, _ := b.signIn(t, bob)
	if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.admin_sessions SET expires_at = now() - interval '1 second' WHERE id = ANY($1)",
		[]uuid.UUID{s.ID, bs.ID}); err != nil {
		t.Fatal(err)
	}
	expired := b.count(t, "SELECT count(*) FROM public.admin_sessions WHERE user_id = $1 AND expires_at <= now()", u.ID)
	if expired != 1 {
		t.Fatalf("%d expired sessions of alice, want 1", expired)
	}
	b.signIn(t, u)
	if n := b.count(t, "SELECT count(*) FROM public.admin_sessions WHERE user_id = $1 AND expires_at <= now()", u.ID); n != 0 {
		t.Fatalf("%d expired sessions of alice after a sign-in, want 0", n)
	}
	if n := b.count(t, "SELECT count(*) FROM public.admin_sessions WHERE id = $1", bs.ID); n != 1 {
		t.Fatal("alice's sign-in deleted bob's expired session")
	}
}

// TestSessionEndedByUserChange: every change of what a session was granted
// on ends it, through the domain's methods and through raw SQL alike (the
// trigger, whichever process writes); profile changes do not.
func TestSessionEndedByUserChange(t *testing.T) {
	b := setup(t)
	c1, c2 := b.center(t, "One", ""), b.center(t, "Two", "")
	for _, tc := range []struct {
		name   string
		method func(u domain.User) error
		sql    string // the same change by hand; $1 is the user, $2 the other center
	}{
		{"deactivation", func(u domain.User) error {
			_, err := b.st.Users.SetActive(b.ctx, domain.System, false, u.ID)
			return err
		}, "UPDATE public.users SET is_active = false WHERE id = $1 AND $2::uuid IS NOT NULL"},
		{"role change", func(u domain.User) error {
			_, err := b.st.Users.ChangeRole(b.ctx, domain.System, domain.RoleViewer, u.ID)
			return err
		}, "UPDATE public.users SET role = 'viewer' WHERE id = $1 AND $2::uuid IS NOT NULL"},
		{"center change", func(u domain.User) error {
			_, err := b.st.Users.ChangeCenter(b.ctx, domain.System, c2.ID, u.ID)
			return err
		}, "UPDATE public.users SET center_id = $2 WHERE id = $1"},
		{"superuser grant", func(u domain.User) error {
			_, err := b.st.Users.SetSuperuser(b.ctx, domain.System, u.ID, true)
			return err
		}, "UPDATE public.users SET is_superuser = true WHERE id = $1 AND $2::uuid IS NOT NULL"},
		{"password change", func(u domain.User) error {
			return b.st.Users.SetPassword(b.ctx, domain.System, u.ID, ptr("a brand new password"))
		}, "UPDATE public.users SET password_hash = 'x' WHERE id = $1 AND $2::uuid IS NOT NULL"},
		{"password set by Patch", func(u domain.User) error {
			_, err := b.st.Users.Patch(b.ctx, domain.System, u.ID, domain.UserPatch{Password: ptr("a brand new password")})
			return err
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"method", "sql"} {
				if how == "sql" && tc.sql == "" {
					continue
				}
				name := strings.NewReplacer(" ", "_").Replace(tc.name) + "_" + how
				u := b.user(t, name, &c1.ID, domain.RoleAdmin)
				_, secret := b.signIn(t, u)
				other := b.user(t, name+"_other", &c1.ID, domain.RoleAdmin)
				_, otherSecret := b.signIn(t, other)
				if how == "method" {
					if err := tc.method(u); err != nil {
						t.Fatalf("%s: %v", how, err)
					}
				} else if _, err := b.db.Pool.Exec(b.ctx, tc.sql, u.ID, c2.ID); err != nil {
					t.Fatalf("%s: %v", tc.sql, err)
				}
				b.wantNoSession(t, secret, true)
				b.wantSession(t, otherSecret, other)
				// A new sign-in after the change works (if the user still may).
				if tc.name != "deactivation" {
					now, _ := b.st.Users.Get(b.ctx, u.ID)
					b.signIn(t, now)
				}
			}
		})
	}

	t.Run("profile change keeps sessions", func(t *testing.T) {
		u := b.user(t, "profile", &c1.ID, domain.RoleUser)
		_, secret := b.signIn(t, u)
		if _, err := b.st.Users.Patch(b.ctx, domain.System, u.ID, domain.UserPatch{FirstName: ptr("Pat"), Email: ptr("pat@example.com")}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.users SET first_name = 'Patricia', phone = '+1 555' WHERE id = $1", u.ID); err != nil {
			t.Fatal(err)
		}
		// Setting what it already is changes nothing either.
		if _, err := b.st.Users.ChangeRole(b.ctx, domain.System, domain.RoleUser, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.st.Users.ChangeCenter(b.ctx, domain.System, c1.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		b.wantSession(t, secret, u)
	})
}

// TestSessionCenterInactive: soft-deleting a center ends its members'
// sessions for good — restoring it brings none back, whichever process
// did either — while a superuser, even one that is a member, keeps theirs.
func TestSessionCenterInactive(t *testing.T) {
	b := setup(t)
	c := b.center(t, "Lab", "")
	other := b.center(t, "Other lab", "")
	u := b.user(t, "alice", &c.ID, domain.RoleAdmin)
	stranger := b.user(t, "bob", &other.ID, domain.RoleUser)
	root := b.user(t, "root", nil, domain.RoleAdmin)
	member, err := b.st.Users.SetSuperuser(b.ctx, domain.System, b.user(t, "carol", &c.ID, domain.RoleAdmin).ID, true)
	if err != nil {
		t.Fatal(err)
	}
	_, secret := b.signIn(t, u)
	_, strangerSecret := b.signIn(t, stranger)
	_, rootSecret := b.signIn(t, root)
	_, memberSecret := b.signIn(t, member)
	if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.centers SET is_active = false WHERE id = $1", c.ID); err != nil {
		t.Fatal(err)
	}
	b.wantNoSession(t, secret, true)
	b.wantSession(t, rootSecret, root)
	b.wantSession(t, memberSecret, member)
	b.wantSession(t, strangerSecret, stranger)
	if _, err := b.st.Centers.Restore(b.ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	b.wantNoSession(t, secret, true)
	// Signing in again works once the center is back.
	_, secret = b.signIn(t, u)
	b.wantSession(t, secret, u)
}

func TestSessionEnd(t *testing.T) {
	b := setup(t)
	c := b.center(t, "Lab", "")
	u := b.user(t, "alice", &c.ID, domain.RoleAdmin)
	v := b.user(t, "bob", &c.ID, domain.RoleUser)
	_, s1 := b.signIn(t, u)
	_, s2 := b.signIn(t, u)
	_, other := b.signIn(t, v)

	if err := b.st.Sessions.End(b.ctx, s1); err != nil {
		t.Fatal(err)
	}
	b.wantNoSession(t, s1, true)
	b.wantSession(t, s2, u)
	// Ending twice, or a secret that is no session, is not an error.
	for _, s := range []string{s1, "", "garbage", domain.SessionPrefix + strings.Repeat("A", 43)} {
		if err := b.st.Sessions.End(b.ctx, s); err != nil {
			t.Errorf("End(%q) = %v", s, err)
		}
	}

	b.wantSession(t, other, v)

	// Hard-deleting the center takes its members' sessions with them.
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Centers.HardDelete(b.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, "SELECT count(*) FROM public.admin_sessions"); n != 0 {
		t.Fatalf("%d sessions outlived their users", n)
	}
}
