package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/tenantctl/tenantctl/pkg/api"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func record(srv *api.Server, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	return w
}
