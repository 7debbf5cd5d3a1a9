package bench

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/testdb"
	"github.com/tenantctl/tenantctl/pkg/api"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestMinimalServiceAnswersAsTheAPI: for the same rows, the minimal
// service's responses to the API's calls (list, get, by barcode, create,
// process) have the API's status, Location and JSON, but for what a
// write makes anew (id, barcode, times), and the host in a page's links.
func TestMinimalServiceAnswersAsTheAPI(t *testing.T) {
	ctx := t.Context()
	d := testdb.New(t)
	st := domain.New(d.Pool, d.Tenancy)
	center, err := st.Centers.Create(ctx, domain.System, domain.CenterInput{Name: "Minimal center"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.Users.Create(ctx, domain.System, domain.UserInput{Username: "member", Email: "member@example.com",
		CenterID: &center.ID, Role: domain.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := st.Tokens.Create(ctx, domain.System, u.ID, "bench", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := benchCenter{id: center.ID, schema: d.Tenancy.SchemaName(center.ID), token: token}
	// 30 samples: a page of 20 has a next link. Two of the same type to
	// process, one per side.
	c.samples = make([]uuid.UUID, 30)
	for i := range c.samples {
		c.samples[i] = uuid.New()
	}
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := insertSamples(ctx, tx, c, c.samples, "B-"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	apiSrv, err := api.New(api.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ours := httptest.NewServer(apiSrv.Handler())
	defer ours.Close()
	least := httptest.NewServer(minimalHandler(d.Pool))
	defer least.Close()

	call := func(base string, method, path, body string) (int, string, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		// The page's links name the server's host.
		b = []byte(strings.ReplaceAll(string(b), strings.TrimPrefix(base, "http://"), "HOST"))
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
		return resp.StatusCode, resp.Header.Get("Location"), v
	}
	// What a write makes anew, and the processed samples' own fields.
	created := []string{"id", "barcode", "created_at", "updated_at"}
	processed := append(created, "name")
	for _, k := range []struct {
		name, method, ours, least string
		differ                    []string
	}{
		{name: "list", method: "GET", ours: "?limit=20", least: "?limit=20"},
		{name: "list past the last page", method: "GET", ours: "?limit=20&offset=40", least: "?limit=20&offset=40"},
		{name: "get", method: "GET", ours: c.samples[3].String() + "/", least: c.samples[3].String() + "/"},
		{name: "by barcode", method: "GET", ours: "by_barcode/B-7/", least: "by_barcode/B-7/"},
		{name: "create", method: "POST", ours: "", least: "", differ: created},
		{name: "process", method: "POST", ours: c.samples[25].String() + "/process/", least: c.samples[29].String() + "/process/", differ: processed},
	} {
		body := ""
		if k.name == "create" {
			body = `{"name": "bench", "description": "", "sample_type": "blood", "barcode": "%s", "metadata": {}}`
		}
		st1, loc1, v1 := call(ours.URL, k.method, samplesPath(c, k.ours), strings.Replace(body, "%s", "api-1", 1))
		st2, loc2, v2 := call(least.URL, k.method, samplesPath(c, k.least), strings.Replace(body, "%s", "api-2", 1))
		if st1 != st2 || (loc1 == "") != (loc2 == "") {
			t.Errorf("%s: the API answered %d (Location %q), the minimal service %d (Location %q)", k.name, st1, loc1, st2, loc2)
		}
		for _, f := range k.differ {
			if v1[f] == nil || v2[f] == nil {
				t.Errorf("%s: %s missing: API %v, minimal %v", k.name, f, v1[f], v2[f])
			}
			delete(v1, f)
			delete(v2, f)
		}
		if !reflect.DeepEqual(v1, v2) {
			t.Errorf("%s: the API answered\n%v\nthe minimal service\n%v", k.name, v1, v2)
		}
	}
}
