package loadgen_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantctl/tenantctl/internal/loadgen"
)

func TestRunCountsAndTimes(t *testing.T) {
	var served atomic.Int64
	conns := map[string]bool{}
	connCh := make(chan string, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		select {
		case connCh <- r.RemoteAddr:
		default:
		}
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	var perWorker [4]atomic.Int64
	res, err := loadgen.Run(context.Background(), loadgen.Options{
		Conns: 4, Warmup: 100 * time.Millisecond, Duration: 400 * time.Millisecond,
		Next: func(w int) (*http.Request, error) {
			perWorker[w].Add(1)
			return http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	close(connCh)
	for a := range connCh {
		conns[a] = true
	}
	if res.Errors != 0 || res.FirstError != nil {
		t.Fatalf("errors %d (%v), want none", res.Errors, res.FirstError)
	}
	// Each request takes at least 2 ms, so 4 clients over 400 ms answer at
	// most 800, and some of them at least.
	if res.Requests < 20 || res.Requests > 800 {
		t.Errorf("requests %d, want between 20 and 800", res.Requests)
	}
	if int64(res.Requests) >= served.Load() {
		t.Errorf("measured %d of %d served: the warm-up must not be counted", res.Requests, served.Load())
	}
	if p50 := res.Percentile(0.5); p50 < 2*time.Millisecond {
		t.Errorf("p50 %v, below the handler's 2 ms", p50)
	}
	if res.Percentile(0.5) > res.Percentile(0.99) || res.Percentile(0.99) > res.Percentile(1) {
		t.Errorf("percentiles out of order: %v %v %v", res.Percentile(0.5), res.Percentile(0.99), res.Percentile(1))
	}
	if got := res.RPS(); got < 50 || got > 2000 {
		t.Errorf("RPS %.0f, want 50..2000", got)
	}
	for w := range perWorker {
		if perWorker[w].Load() == 0 {
			t.Errorf("worker %d sent nothing", w)
		}
	}
	if len(conns) > 4 {
		t.Errorf("%d client connections, want at most 4 (keep-alive)", len(conns))
	}
}

func TestRunChecksResponses(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "nope", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	next := func(int) (*http.Request, error) { return http.NewRequest(http.MethodGet, srv.URL, nil) }

	res, err := loadgen.Run(context.Background(), loadgen.Options{Conns: 1, Duration: 200 * time.Millisecond, Next: next})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 4 || res.Errors < res.Requests/2-1 || res.Errors > res.Requests/2+1 {
		t.Errorf("%d errors of %d requests, want half", res.Errors, res.Requests)
	}
	if res.FirstError == nil || !strings.Contains(res.FirstError.Error(), "500") {
		t.Errorf("first error %v, want the 500", res.FirstError)
	}

	res, err = loadgen.Run(context.Background(), loadgen.Options{Conns: 1, Duration: 100 * time.Millisecond, Next: next,
		Check: func(resp *http.Response, body []byte) error {
			if string(body) != `{"ok":true}` {
				return errors.New("unexpected body")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || !strings.Contains(res.FirstError.Error(), "unexpected body") {
		t.Errorf("a custom check's refusal must count: %d errors, first %v", res.Errors, res.FirstError)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	_, err := loadgen.Run(context.Background(), loadgen.Options{Conns: 0, Duration: time.Second,
		Next: func(int) (*http.Request, error) { return nil, nil }})
	if err == nil {
		t.Fatal("Conns 0 accepted")
	}
}

func TestRunCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := loadgen.Run(ctx, loadgen.Options{Conns: 2, Duration: time.Second,
		Next: func(int) (*http.Request, error) { return http.NewRequest(http.MethodGet, srv.URL, nil) }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestPercentile(t *testing.T) {
	r := loadgen.Result{Latencies: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0.01, 1}} {
		if got := r.Percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if (loadgen.Result{}).Percentile(0.5) != 0 {
		t.Error("no requests: want 0")
	}
}
