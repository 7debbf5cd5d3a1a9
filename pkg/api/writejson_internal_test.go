package api

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestUnencodableValueIs500: a value json cannot encode is a server fault,
// answered as a 500 with an error_id, not an empty 200 logged as a
// client's hang-up.
func TestUnencodableValueIs500(t *testing.T) {
	s := offlineServer(t)
	mux := http.NewServeMux()
	s.handle(mux, route{method: "GET", path: "/nan", access: anon, h: func(w http.ResponseWriter, r *http.Request) error {
		return ok(w, math.NaN(), nil)
	}}, nil)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/nan", nil))
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if w.Code != http.StatusInternalServerError || p.Status != http.StatusInternalServerError || p.ErrorID == "" {
		t.Errorf("status %d, problem %+v; want a 500 with an error_id", w.Code, p)
	}
}

// failingWriter is a ResponseWriter whose connection is gone.
type failingWriter struct{ *httptest.ResponseRecorder }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestWriteJSONClientGone: only an error writing the body is the client's.
func TestWriteJSONClientGone(t *testing.T) {
	if err := writeJSON(failingWriter{httptest.NewRecorder()}, http.StatusOK, "x"); !errors.Is(err, errClientGone) {
		t.Errorf("write failure: %v, want errClientGone", err)
	}
	if err := writeJSON(httptest.NewRecorder(), http.StatusOK, math.Inf(1)); err == nil || errors.Is(err, errClientGone) {
		t.Errorf("encoding failure: %v, want an error that is not errClientGone", err)
	}
}
