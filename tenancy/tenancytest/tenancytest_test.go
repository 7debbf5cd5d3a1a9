package tenancytest_test

import (
	"context"
	"log"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if an example leaves a goroutine behind (a
// pool that its cleanup did not close).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// exampleT is the testing.TB of an Example, which gets none from the
// testing package: it implements what tenancytest and the examples call,
// fails by exiting, and runs the cleanups at end as a test would.
type exampleT struct {
	testing.TB // nil: any other method panics, failing the example loudly
	ctx        context.Context
	cancel     context.CancelFunc
	cleanups   []func()
}

func (*exampleT) Helper() {}

func (*exampleT) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }

func (*exampleT) Errorf(format string, args ...any) { log.Fatalf(format, args...) }

func (t *exampleT) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

// Context is done when the example ends, before the cleanups run, as
// testing.T's is.
func (t *exampleT) Context() context.Context {
	if t.ctx == nil {
		t.ctx, t.cancel = context.WithCancel(context.Background())
	}
	return t.ctx
}

func (t *exampleT) end() {
	if t.cancel != nil {
		t.cancel()
	}
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
