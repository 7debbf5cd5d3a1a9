package cli

import (
	"runtime"
	"strings"
	"testing"
)

// TestVersion: --version prints the build's version line, the same as
// apiserver's, and needs no database.
func TestVersion(t *testing.T) {
	r := run(t, "--version")
	r.wantCode(t, ExitOK)
	if !strings.HasPrefix(r.stdout, "tenantctl ") || !strings.HasSuffix(r.stdout, ", "+runtime.Version()+"\n") {
		t.Errorf("stdout %q, want tenantctl's version line", r.stdout)
	}
}
