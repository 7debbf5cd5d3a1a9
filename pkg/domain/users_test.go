package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

func TestUserValidation(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	gone := b.center(t, "Gone", "")
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, gone.ID); err != nil {
		t.Fatal(err)
	}
	ok := func(mod func(*domain.UserInput)) domain.UserInput {
		in := domain.UserInput{Username: "alice", Email: "alice@example.com", CenterID: &c.ID}
		mod(&in)
		return in
	}
	cases := []struct {
		name   string
		in     domain.UserInput
		fields []string
	}{
		{"username space", ok(func(in *domain.UserInput) { in.Username = "al ice" }), []string{"username"}},
		{"username empty", ok(func(in *domain.UserInput) { in.Username = "" }), []string{"username"}},
		{"username long", ok(func(in *domain.UserInput) { in.Username = strings.Repeat("a", 151) }), []string{"username"}},
		{"username unicode", ok(func(in *domain.UserInput) { in.Username = "ayşe" }), []string{"username"}},
		{"email invalid", ok(func(in *domain.UserInput) { in.Email = "not-an-email" }), []string{"email"}},
		{"email display name", ok(func(in *domain.UserInput) { in.Email = "Alice <alice@example.com>" }), []string{"email"}},
		{"email quoted space", ok(func(in *domain.UserInput) { in.Email = `"a b"@example.com` }), []string{"email"}},
		{"email long", ok(func(in *domain.UserInput) { in.Email = strings.Repeat("a", 250) + "@x.io" }), []string{"email"}},
		{"role", ok(func(in *domain.UserInput) { in.Role = "owner" }), []string{"role"}},
		{"no center", ok(func(in *domain.UserInput) { in.CenterID = nil }), []string{"center"}},
		{"unknown center", ok(func(in *domain.UserInput) { in.CenterID = ptr(uuid.New()) }), []string{"center"}},
		{"inactive center", ok(func(in *domain.UserInput) { in.CenterID = &gone.ID }), []string{"center"}},
		{"short password", ok(func(in *domain.UserInput) { in.Password = ptr("123456789") }), []string{"password"}},
		{"NUL first name", ok(func(in *domain.UserInput) { in.FirstName = "A\x00" }), []string{"first_name"}},
		{"invalid UTF-8 last name", ok(func(in *domain.UserInput) { in.LastName = "\xc3\x28" }), []string{"last_name"}},
		{"long phone", ok(func(in *domain.UserInput) { in.Phone = strings.Repeat("1", 33) }), []string{"phone"}},
		{"everything", domain.UserInput{Username: "a b", Email: "x", Role: "boss", Password: ptr("short"), FirstName: "\x00"},
			[]string{"username", "email", "role", "center", "password", "first_name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.st.Users.Create(b.ctx, domain.System, tc.in)
			wantFields(t, err, tc.fields...)
		})
	}
	if n := b.count(t, "SELECT count(*) FROM public.users"); n != 0 {
		t.Fatalf("%d users written by invalid input", n)
	}
	// The valid extremes: a superuser without center, 10-character password.
	u, err := b.st.Users.Create(b.ctx, domain.System, domain.UserInput{Username: "a.b-c_d@e+f", Email: "x@y",
		IsSuperuser: true, Password: ptr("0123456789")})
	if err != nil || u.Role != domain.RoleUser || u.CenterID != nil || !u.HasPassword || u.Phone != "" {
		t.Fatalf("Create superuser = %+v, %v", u, err)
	}
}

func TestUserConflicts(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	b.user(t, "alice", &c.ID, domain.RoleUser)
	_, err := b.st.Users.Create(b.ctx, domain.System, domain.UserInput{Username: "alice", Email: "other@example.com", CenterID: &c.ID})
	wantConflict(t, err, "username")
	_, err = b.st.Users.Create(b.ctx, domain.System, domain.UserInput{Username: "alice2", Email: "ALICE@Example.COM", CenterID: &c.ID})
	wantConflict(t, err, "email")
	bob := b.user(t, "bob", &c.ID, domain.RoleUser)
	_, err = b.st.Users.Patch(b.ctx, domain.System, bob.ID, domain.UserPatch{Email: ptr("Alice@example.com")})
	wantConflict(t, err, "email")
}

func TestUserLifecycle(t *testing.T) {
	b := setup(t)
	c1, c2 := b.center(t, "One", ""), b.center(t, "Two", "")
	root := b.user(t, "root", nil, domain.RoleAdmin)
	alice := b.user(t, "alice", &c1.ID, domain.RoleAdmin)
	bob := b.user(t, "bob", &c1.ID, domain.RoleUser)
	carol := b.user(t, "carol", &c2.ID, domain.RoleViewer)
	// The username pattern allows a UUID's spelling; such a user is found
	// by that name when no user has it as id.
	uuidName := uuid.NewString()
	dave := b.user(t, uuidName, &c2.ID, domain.RoleUser)

	for ref, want := range map[string]uuid.UUID{"alice": alice.ID, bob.ID.String(): bob.ID, uuidName: dave.ID} {
		if u, err := b.st.Users.Resolve(b.ctx, ref); err != nil || u.ID != want {
			t.Fatalf("Resolve(%q) = %v, %v", ref, u.ID, err)
		}
	}
	_, err := b.st.Users.Resolve(b.ctx, "alcie")
	var nf *domain.NotFoundError
	if !errors.As(err, &nf) || nf.Suggestion != "alice" {
		t.Fatalf("Resolve(alcie) = %v, want suggestion alice", err)
	}
	_, err = b.st.Users.Resolve(b.ctx, "bad name\x00")
	wantNotFound(t, err)

	list, total, err := b.st.Users.List(b.ctx, domain.ListOptions{CenterID: &c1.ID})
	if err != nil || total != 2 || len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" {
		t.Fatalf("List(c1) = %v, %d, %v", list, total, err)
	}

	// Profile: patch, full update, phone removal.
	p, err := b.st.Users.Patch(b.ctx, domain.By(root.ID), bob.ID, domain.UserPatch{FirstName: ptr("Bob"), Phone: ptr("+90 555 000 0000")})
	if err != nil || p.FirstName != "Bob" || p.Phone != "+90 555 000 0000" || p.Email != bob.Email || *p.UpdatedBy != root.ID {
		t.Fatalf("Patch = %+v, %v", p, err)
	}
	p, err = b.st.Users.Update(b.ctx, domain.System, bob.ID, domain.UserProfile{Username: "robert", Email: "robert@example.com"})
	if err != nil || p.Username != "robert" || p.FirstName != "" || p.Phone != "" || p.UpdatedBy != nil {
		t.Fatalf("Update = %+v, %v", p, err)
	}

	// Bulk deactivation is all or nothing.
	_, err = b.st.Users.SetActive(b.ctx, domain.System, false, alice.ID, uuid.New())
	wantNotFound(t, err)
	if u, _ := b.st.Users.Get(b.ctx, alice.ID); !u.IsActive {
		t.Fatal("a failed bulk deactivation deactivated alice")
	}
	us, err := b.st.Users.SetActive(b.ctx, domain.System, false, alice.ID, bob.ID, alice.ID)
	if err != nil || len(us) != 2 || us[0].IsActive || us[1].IsActive {
		t.Fatalf("SetActive = %+v, %v", us, err)
	}
	if _, total, _ := b.st.Users.List(b.ctx, domain.ListOptions{CenterID: &c1.ID}); total != 0 {
		t.Fatalf("deactivated users listed: %d", total)
	}
	if _, total, _ := b.st.Users.List(b.ctx, domain.ListOptions{CenterID: &c1.ID, IncludeInactive: true}); total != 2 {
		t.Fatalf("IncludeInactive lists %d", total)
	}
	if us, err = b.st.Users.SetActive(b.ctx, domain.System, true, alice.ID); err != nil || !us[0].IsActive {
		t.Fatalf("reactivate = %+v, %v", us, err)
	}

	us, err = b.st.Users.ChangeRole(b.ctx, domain.System, domain.RoleViewer, alice.ID, carol.ID)
	if err != nil || us[0].Role != domain.RoleViewer || us[1].Role != domain.RoleViewer {
		t.Fatalf("ChangeRole = %+v, %v", us, err)
	}
	_, err = b.st.Users.ChangeRole(b.ctx, domain.System, "god", alice.ID)
	wantFields(t, err, "role")

	us, err = b.st.Users.ChangeCenter(b.ctx, domain.System, c2.ID, alice.ID, carol.ID, alice.ID)
	if err != nil || len(us) != 2 || us[0].ID != alice.ID || !us[0].MemberOf(c2.ID) || us[1].ID != carol.ID || !us[1].MemberOf(c2.ID) {
		t.Fatalf("ChangeCenter = %+v, %v", us, err)
	}
	_, err = b.st.Users.ChangeCenter(b.ctx, domain.System, uuid.New(), alice.ID)
	wantFields(t, err, "center")
	// All or none: an unknown user among them moves no one.
	_, err = b.st.Users.ChangeCenter(b.ctx, domain.System, c1.ID, alice.ID, uuid.New())
	wantNotFound(t, err)
	if got, err := b.st.Users.Get(b.ctx, alice.ID); err != nil || !got.MemberOf(c2.ID) {
		t.Fatalf("after a refused ChangeCenter alice = %+v, %v; want still in c2", got, err)
	}
	_, err = b.st.Users.ChangeCenter(b.ctx, domain.System, c2.ID)
	wantFields(t, err, "ids")
	inactive := b.center(t, "Closed Lab", "")
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, inactive.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.st.Users.ChangeCenter(b.ctx, domain.System, inactive.ID, alice.ID)
	wantFields(t, err, "center")

	_, err = b.st.Users.SetSuperuser(b.ctx, domain.System, root.ID, false)
	wantFields(t, err, "center")
	u, err := b.st.Users.SetSuperuser(b.ctx, domain.System, alice.ID, true)
	if err != nil || !u.IsSuperuser {
		t.Fatalf("SetSuperuser = %+v, %v", u, err)
	}

	// The hash is never serialized, nor even selectable through User.
	if err := b.st.Users.SetPassword(b.ctx, domain.System, alice.ID, ptr("correct horse battery")); err != nil {
		t.Fatal(err)
	}
	u, _ = b.st.Users.Get(b.ctx, alice.ID)
	raw, _ := json.Marshal(u)
	if strings.Contains(string(raw), "argon2") || strings.Contains(string(raw), "password") {
		t.Fatalf("user JSON leaks the password: %s", raw)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for _, k := range []string{"id", "username", "email", "first_name", "last_name", "phone", "center", "role", "is_superuser", "is_active", "created_at", "updated_at", "created_by", "updated_by"} {
		if _, ok := m[k]; !ok {
			t.Errorf("user JSON lacks %q: %s", k, raw)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	pw := "correct horse battery"
	u, err := b.st.Users.Create(b.ctx, domain.System, domain.UserInput{Username: "alice", Email: "a@example.com", CenterID: &c.ID, Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	b.user(t, "nopass", &c.ID, domain.RoleUser)
	if got, err := b.st.Users.Authenticate(b.ctx, "alice", pw); err != nil || got.ID != u.ID {
		t.Fatalf("right password: %v, %v", got.ID, err)
	}
	for _, tc := range [][2]string{{"alice", "wrong password"}, {"alice", ""}, {"nobody", pw}, {"nopass", pw}, {"bad name", pw}, {"ALICE", pw}} {
		if _, err := b.st.Users.Authenticate(b.ctx, tc[0], tc[1]); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrInvalidCredentials", tc[0], tc[1], err)
		}
	}
	// Inactive user, then inactive center.
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Users.Authenticate(b.ctx, "alice", pw); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("inactive user authenticated: %v", err)
	}
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, true, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Centers.SoftDelete(b.ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Users.Authenticate(b.ctx, "alice", pw); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("user of a soft-deleted center authenticated: %v", err)
	}
	// New password replaces the old.
	if _, err := b.st.Centers.Restore(b.ctx, domain.System, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Users.Patch(b.ctx, domain.System, u.ID, domain.UserPatch{Password: ptr("another password")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Users.Authenticate(b.ctx, "alice", pw); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if _, err := b.st.Users.Authenticate(b.ctx, "alice", "another password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	var hash string
	if err := b.db.Pool.QueryRow(b.ctx, "SELECT password_hash FROM public.users WHERE id = $1", u.ID).Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("stored hash %q, %v", hash, err)
	}
}

func TestTokens(t *testing.T) {
	b := setup(t)
	c := b.center(t, "C", "")
	u := b.user(t, "alice", &c.ID, domain.RoleUser)
	tok, plain, err := b.st.Tokens.Create(b.ctx, domain.By(u.ID), u.ID, "laptop", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "tct_") || len(plain) != 4+43 || tok.ExpiresAt != nil || tok.LastUsedAt != nil {
		t.Fatalf("token %q, %+v", plain, tok)
	}
	if n := b.count(t, "SELECT count(*) FROM public.api_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))", plain); n != 1 {
		t.Fatal("stored hash is not the SHA-256 of the token")
	}
	got, err := b.st.Tokens.Authenticate(b.ctx, plain)
	if err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate = %v, %v", got.ID, err)
	}
	t1, _ := b.st.Tokens.Get(b.ctx, tok.ID)
	if t1.LastUsedAt == nil {
		t.Fatal("last_used_at not set")
	}
	if _, err := b.st.Tokens.Authenticate(b.ctx, plain); err != nil {
		t.Fatal(err)
	}
	if t2, _ := b.st.Tokens.Get(b.ctx, tok.ID); !t2.LastUsedAt.Equal(*t1.LastUsedAt) {
		t.Fatal("last_used_at rewritten within a minute")
	}
	for _, bad := range []string{"", "tct_", plain[:len(plain)-1] + "A", "xyz_" + plain[4:], plain + "x"} {
		if bad == plain {
			continue
		}
		if _, err := b.st.Tokens.Authenticate(b.ctx, bad); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q) = %v", bad, err)
		}
	}

	// Expiry.
	exp, plainExp, err := b.st.Tokens.Create(b.ctx, domain.System, u.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Pool.Exec(b.ctx, "UPDATE public.api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", exp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Tokens.Authenticate(b.ctx, plainExp); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("expired token: %v", err)
	}
	ttl, _, err := b.st.Tokens.Create(b.ctx, domain.System, u.ID, "", 3600e9)
	if err != nil || ttl.ExpiresAt == nil {
		t.Fatalf("ttl token = %+v, %v", ttl, err)
	}

	// Revocation.
	if err := b.st.Tokens.Revoke(b.ctx, domain.System, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Tokens.Revoke(b.ctx, domain.System, tok.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	wantNotFound(t, b.st.Tokens.Revoke(b.ctx, domain.System, uuid.New()))
	if _, err := b.st.Tokens.Authenticate(b.ctx, plain); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("revoked token: %v", err)
	}

	// A deactivated user's tokens stop working.
	_, plain2, _ := b.st.Tokens.Create(b.ctx, domain.System, u.ID, "", 0)
	if _, err := b.st.Users.SetActive(b.ctx, domain.System, false, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Tokens.Authenticate(b.ctx, plain2); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("inactive user's token: %v", err)
	}
	_, _, err = b.st.Tokens.Create(b.ctx, domain.System, u.ID, "", 0)
	wantNotFound(t, err)
	_, _, err = b.st.Tokens.Create(b.ctx, domain.System, u.ID, strings.Repeat("n", 101), -1)
	wantFields(t, err, "name", "ttl")

	list, err := b.st.Tokens.List(b.ctx, u.ID)
	if err != nil || len(list) != 4 {
		t.Fatalf("List = %d, %v", len(list), err)
	}
}
