package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/tenancy/tenancytest"
)

// TestMain fails the package if the example returns without closing its
// pool.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example is documentation that runs: this keeps it running, and keeps
// what it claims true.
func TestExampleRuns(t *testing.T) {
	t.Setenv("DATABASE_URL", tenancytest.DatabaseURL(t))
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"acme   sees only its own orders: [acme-anvil acme-rocket]",
		"globex sees only its own orders: [globex-anvil globex-rocket]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^migrated example_[0-9a-f]{32}: migrated, version 1 -> 2$`).FindAllString(got, -1)); n != 2 {
		t.Errorf("%d tenants migrated 1 -> 2, want 2:\n%s", n, got)
	}
	if !regexp.MustCompile(`dropped globex; 1 tenant left: example_[0-9a-f]{32} at version 2`).MatchString(got) {
		t.Errorf("drop not reported as expected:\n%s", got)
	}
}
