package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// TestRouteTableIsServed: every entry of the route table (Routes) is what
// the mux dispatches for its method and path, with and without the
// trailing slash, so the table the OpenAPI document is built from is the
// router's.
func TestRouteTableIsServed(t *testing.T) {
	t.Parallel()
	s := offlineServer(t)
	values := map[string]string{"id": "0b0e6a7e-3c1a-4f7e-9a52-4b7f4d0c2f10", "center_id": "7d2f1c3e-8a4b-4c6d-9e0f-112233445566",
		"barcode": "B-1", "status": "pending"}
	seen := map[Route]bool{}
	for _, rt := range s.Routes() {
		if seen[rt] {
			t.Errorf("%s %s registered twice", rt.Method, rt.Path)
		}
		seen[rt] = true
		path := pathParam.ReplaceAllStringFunc(rt.Path, func(m string) string { return values[m[1:len(m)-1]] })
		want := rt.Method + " " + rt.Path
		if strings.HasSuffix(rt.Path, "/") {
			want += "{$}"
		}
		if _, got := s.mux.Handler(httptest.NewRequest(rt.Method, path, nil)); got != want {
			t.Errorf("%s %s: mux pattern %q, want %q", rt.Method, path, got, want)
		}
		if p, ok := strings.CutSuffix(path, "/"); ok {
			if _, got := s.mux.Handler(httptest.NewRequest(rt.Method, p, nil)); got != rt.Method+" "+strings.TrimSuffix(rt.Path, "/") {
				t.Errorf("%s %s: mux pattern %q", rt.Method, p, got)
			}
		}
	}
	if len(seen) < 30 {
		t.Errorf("only %d routes in the table", len(seen))
	}
}

// TestOpenAPI: the served document is OpenAPI 3.1.0, has exactly the
// route table's operations, each with responses and its path parameters,
// and every $ref resolves.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	s := offlineServer(t)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Info       map[string]any                        `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
			Schemas         map[string]any            `json:"schemas"`
			Responses       map[string]any            `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Info["title"] == nil || doc.Info["version"] == nil {
		t.Errorf("openapi %q, info %v", doc.OpenAPI, doc.Info)
	}
	if b := doc.Components.SecuritySchemes["bearer"]; b["type"] != "http" || b["scheme"] != "bearer" {
		t.Errorf("bearer security scheme: %v", b)
	}
	for _, name := range []string{"Center", "User", "Sample", "Stats", "CenterPage", "UserPage", "SamplePage", "Problem"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components/schemas lacks %s", name)
		}
	}

	routes := map[Route]bool{}
	for _, rt := range s.Routes() {
		routes[rt] = true
		raw, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s %s is served but not in the document", rt.Method, rt.Path)
			continue
		}
		var o struct {
			Responses  map[string]any `json:"responses"`
			Parameters []struct {
				Name, In string
				Required bool
				Schema   map[string]any
			} `json:"parameters"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		if len(o.Responses) == 0 {
			t.Errorf("%s %s has no responses", rt.Method, rt.Path)
		}
		var inPath []string
		for _, p := range o.Parameters {
			if p.In == "path" {
				inPath = append(inPath, p.Name)
				if !p.Required {
					t.Errorf("%s %s: path parameter %s not required", rt.Method, rt.Path, p.Name)
				}
				if (p.Name == "id" || p.Name == "center_id") && p.Schema["format"] != "uuid" {
					t.Errorf("%s %s: %s is not format uuid", rt.Method, rt.Path, p.Name)
				}
			}
		}
		var want []string
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			want = append(want, m[1])
		}
		if !slices.Equal(inPath, want) {
			t.Errorf("%s %s: path parameters %v, want %v", rt.Method, rt.Path, inPath, want)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !routes[Route{strings.ToUpper(method), path}] {
				t.Errorf("%s %s is in the document but not served", method, path)
			}
		}
	}

	// Every reference resolves.
	for _, m := range regexp.MustCompile(`"\$ref":"#/components/(schemas|responses)/([A-Za-z]+)"`).FindAllStringSubmatch(w.Body.String(), -1) {
		var ok bool
		if m[1] == "schemas" {
			ok = doc.Components.Schemas[m[2]] != nil
		} else {
			ok = doc.Components.Responses[m[2]] != nil
		}
		if !ok {
			t.Errorf("dangling $ref %s/%s", m[1], m[2])
		}
	}
}

// TestOpenAPIAuth: anonymous routes opt out of the document's bearer
// requirement; the others inherit it and document 401, and 403 where they
// may refuse.
func TestOpenAPIAuth(t *testing.T) {
	t.Parallel()
	s := offlineServer(t)
	doc := s.openAPIDocument()
	for _, rt := range s.routes {
		o := doc["paths"].(map[string]map[string]any)[rt.path][strings.ToLower(rt.method)].(map[string]any)
		_, optOut := o["security"]
		_, has401 := o["responses"].(map[string]any)["401"]
		if optOut != (rt.access == anon) || has401 != (rt.access != anon) {
			t.Errorf("%s %s: security opt-out %v, 401 %v, access %v", rt.method, rt.path, optOut, has401, rt.access)
		}
		// 403 for what may refuse an authenticated caller: writes, and
		// the reads marked so (the superusers' GET /api/cluster/).
		_, has403 := o["responses"].(map[string]any)["403"]
		if want := rt.access != anon && (rt.method != "GET" || rt.op.forbids); has403 != want {
			t.Errorf("%s %s: 403 documented %v, want %v", rt.method, rt.path, has403, want)
		}
	}
	// Served without a token.
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if w.Code != http.StatusOK {
		t.Errorf("openapi.json without a token: %d", w.Code)
	}
}
