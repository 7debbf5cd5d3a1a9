package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// served API, a load generator's client, a child process's output copier.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs an API server over pool and m, answering within
// requestTimeout, on a loopback listener the way cmd/apiserver does
// (api.Serve with its timeouts, Listen beside it) until the test ends. It
// returns the server's base URL and the counter of the errors it logs.
func serve(t *testing.T, pool *pgxpool.Pool, m *tenancy.Manager, requestTimeout time.Duration) (string, *errorCounter) {
	t.Helper()
	errs := &errorCounter{}
	s, err := api.New(api.Config{Store: domain.New(pool, m), Logger: slog.New(errs), RequestTimeout: requestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- api.Serve(ctx, ln, s.Handler(), api.ServeOptions{Logger: quietLogger()})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("api.Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), errs
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// errorCounter is a slog.Handler that counts (and keeps the first few of)
// the records at Error level: the API logs every 500 there, so a load test
// can assert none happened even where no client was looking.
type errorCounter struct {
	n     atomic.Int64
	first atomic.Pointer[string]
}

func (e *errorCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (e *errorCounter) Handle(_ context.Context, r slog.Record) error {
	e.n.Add(1)
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	e.first.CompareAndSwap(nil, &msg)
	return nil
}
func (e *errorCounter) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *errorCounter) WithGroup(string) slog.Handler      { return e }

// client is one tenant's view of the API: its token and HTTP client.
type client struct {
	base  string
	token string
	http  *http.Client
}

// newHTTPClient returns a client whose every request is bounded: a hang is
// a failure the test reports, never a test that hangs.
func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute},
	}
}

// do sends a request and returns the status and body. err is a transport
// error or a timeout, never a status.
func (c *client) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	return res.StatusCode, b, nil
}

// marker is what every sample of a center carries, in its metadata and as
// its barcode's prefix, so that a row seen anywhere names its tenant.
type marker struct {
	Tenant string `json:"tenant"`
}

func barcodeFor(center uuid.UUID, tag string) string { return center.String() + "-" + tag }

// sampleMarked checks that a sample the API returned for center belongs to
// it: by metadata and by barcode. It returns what is wrong, or "".
func sampleMarked(s domain.Sample, center uuid.UUID) string {
	var m marker
	if err := json.Unmarshal(s.Metadata, &m); err != nil || m.Tenant != center.String() {
		return fmt.Sprintf("sample %s (barcode %q, metadata %s) seen through center %s", s.ID, s.Barcode, s.Metadata, center)
	}
	if len(s.Barcode) < 37 || s.Barcode[:36] != center.String() || s.Barcode[36] != '-' {
		return fmt.Sprintf("sample %s (barcode %q) seen through center %s", s.ID, s.Barcode, center)
	}
	return ""
}

// page is the API's list envelope.
type page struct {
	Count   int             `json:"count"`
	Results []domain.Sample `json:"results"`
}
