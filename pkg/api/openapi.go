package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// op is a route's OpenAPI operation, beyond what the route table already
// says (method, path, path parameters, authentication).
type op struct {
	sum  string // summary
	in   string // request body schema, a name in schemas(); "" for none
	out  string // success body schema; "" for none
	code int    // success status; 200 if zero
	q    query  // query parameters
	text bool   // the success body is text/plain (metrics), not JSON
	// forbids: a GET that refuses some callers (403), as only writes
	// otherwise do.
	forbids bool
}

// query is a set of query parameter groups.
type query uint8

const (
	qPage     query = 1 << iota // limit, offset
	qInactive                   // include_inactive
	qSamples                    // the sample list's filters and ordering
)

// queryParams are the parameters of each group.
var queryParams = []struct {
	group query
	name  string
	desc  string
	sch   map[string]any
}{
	{qPage, "limit", "page size (default 50, at most 500)", map[string]any{"type": "integer", "minimum": 1}},
	{qPage, "offset", "index of the first result", map[string]any{"type": "integer", "minimum": 0}},
	{qInactive, "include_inactive", "show soft-deleted rows too (superusers and admins)", map[string]any{"type": "boolean"}},
	{qSamples, "status", "only samples in this status", enumOf(domain.Statuses)},
	{qSamples, "sample_type", "only samples of this type", map[string]any{"type": "string"}},
	{qSamples, "user_id", "only samples of this user", map[string]any{"type": "string", "format": "uuid"}},
	{qSamples, "search", "substring of name, barcode or description", map[string]any{"type": "string"}},
	{qSamples, "ordering", "sort key, - for descending (default " + domain.DefaultSampleOrdering + ")", enumOf(domain.SampleOrderings())},
}

// pathParams are the schemas of the path parameters; ids are UUIDs.
var pathParams = map[string]map[string]any{
	"id":        {"type": "string", "format": "uuid"},
	"center_id": {"type": "string", "format": "uuid"},
	"barcode":   {"type": "string", "minLength": 1, "maxLength": 64},
	"status":    enumOf(domain.Statuses),
}

// openAPI serves the document, built once in New.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	return writeBody(w, s.openapi)
}

// openAPIDocument builds the OpenAPI 3.1 document from the route table and
// schemas(): adding a route adds its operation.
func (s *Server) openAPIDocument() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = operation(rt)
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "tenantctl API",
			"version":     "1",
			"description": "Centers, users and samples of tenantctl. Errors are RFC 9457 problems (application/problem+json).",
		},
		"security": []map[string][]string{{"bearer": {}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]string{"type": "http", "scheme": "bearer",
				"description": `"Authorization: Bearer <token>"; DRF's "Token <token>" is accepted too`}},
			"schemas": schemas(),
			"responses": map[string]any{"Problem": map[string]any{
				"description": "An RFC 9457 problem",
				"content":     map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}},
			}},
		},
	}
}

// operation describes one route.
func operation(rt route) map[string]any {
	o := map[string]any{
		"operationId": operationID(rt),
		"summary":     rt.op.sum,
	}
	var params []map[string]any
	for _, seg := range strings.Split(rt.path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": pathParams[name]})
		}
	}
	for _, qp := range queryParams {
		if rt.op.q&qp.group != 0 {
			params = append(params, map[string]any{"name": qp.name, "in": "query", "description": qp.desc, "schema": qp.sch})
		}
	}
	if params != nil {
		o["parameters"] = params
	}
	if rt.op.in != "" {
		o["requestBody"] = map[string]any{"required": true,
			"content": map[string]any{"application/json": map[string]any{"schema": ref(rt.op.in)}}}
	}
	if rt.access == anon {
		o["security"] = []any{} // overrides the document's bearer requirement
	}

	code := cmp0(rt.op.code, http.StatusOK)
	ok := map[string]any{"description": http.StatusText(code)}
	switch {
	case rt.op.text:
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	case rt.op.out != "":
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(rt.op.out)}}
	}
	responses := map[string]any{strconv.Itoa(code): ok}
	problem := map[string]any{"$ref": "#/components/responses/Problem"}
	errs := []int{}
	if rt.access != anon {
		errs = append(errs, 401, 503)
		if rt.method != "GET" || rt.op.forbids {
			errs = append(errs, 403)
		}
	}
	if rt.op.in != "" {
		errs = append(errs, 400, 413, 415)
	}
	if rt.op.q != 0 {
		errs = append(errs, 400)
	}
	if len(params) > 0 && strings.Contains(rt.path, "{") {
		errs = append(errs, 404)
	}
	if rt.op.in != "" && rt.method != "PATCH" || strings.HasSuffix(rt.path, "hard_delete/") || rt.access == member && rt.method == "POST" {
		errs = append(errs, 409) // uniqueness, illegal transitions, an active center's hard delete
	}
	for _, c := range errs {
		responses[strconv.Itoa(c)] = problem
	}
	responses["default"] = problem
	o["responses"] = responses
	return o
}

// operationID names a route's operation: method and path, e.g.
// get_api_centers_id.
func operationID(rt route) string {
	id := strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(strings.TrimSuffix(rt.path, "/"))
	return strings.Trim(id, "_")
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func enumOf[T ~string](vs []T) map[string]any {
	return map[string]any{"type": "string", "enum": vs}
}

// schemas are components/schemas. Responses are reflected from the Go
// types the handlers encode, so they follow the domain; request bodies are
// the writable fields each handler accepts (the same lists readObject
// checks), typed as in the response.
func schemas() map[string]any {
	center, user, sample := schemaOf(reflect.TypeFor[domain.Center]()), schemaOf(reflect.TypeFor[domain.User]()), schemaOf(reflect.TypeFor[domain.Sample]())
	password := map[string]any{"type": "string", "minLength": 10, "writeOnly": true, "description": "stored only as a slow hash, never returned"}
	return map[string]any{
		"Center":      center,
		"User":        user,
		"Sample":      sample,
		"Stats":       schemaOf(reflect.TypeFor[domain.Stats]()),
		"Cluster":     schemaOf(reflect.TypeFor[clusterBody]()),
		"CenterPage":  schemaOf(reflect.TypeFor[page[domain.Center]]()),
		"UserPage":    schemaOf(reflect.TypeFor[page[domain.User]]()),
		"SamplePage":  schemaOf(reflect.TypeFor[page[domain.Sample]]()),
		"Problem":     schemaOf(reflect.TypeFor[Problem]()),
		"Token":       schemaOf(reflect.TypeFor[tokenResponse]()),
		"CenterWrite": pick(center, centerWritable, nil, "name"),
		"CenterPatch": pick(center, centerWritable, nil),
		"CenterClone": objectSchema(map[string]any{
			"name":        center["properties"].(map[string]any)["name"],
			"description": center["properties"].(map[string]any)["description"],
			"with_data":   map[string]any{"type": "boolean", "default": false, "description": "copy the source's samples too"},
		}, "name"),
		"UserCreate":   pick(user, append(slices.Clone(userProfile), userManaged...), password, "username", "email"),
		"UserUpdate":   pick(user, userProfile, password, "username", "email"),
		"UserPatch":    pick(user, userProfile, password),
		"SampleWrite":  pick(sample, sampleWritable, nil, "name", "sample_type", "barcode"),
		"SamplePatch":  pick(sample, sampleWritable, nil),
		"ChangeCenter": objectSchema(map[string]any{"center": map[string]any{"type": "string", "format": "uuid"}}, "center"),
		"ChangeRole":   objectSchema(map[string]any{"role": enumOf(domain.Roles)}, "role"),
		"TokenRequest": objectSchema(map[string]any{"username": map[string]any{"type": "string"}, "password": map[string]any{"type": "string", "writeOnly": true}}, "username", "password"),
		"Status":       objectSchema(map[string]any{"status": map[string]any{"type": "string"}, "public_version": map[string]any{"type": "integer"}}, "status"),
		"OpenAPI":      map[string]any{"type": "object", "description": "an OpenAPI 3.1 document"},
	}
}

func objectSchema(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// pick is a request body: fields of a resource schema (password, if not
// nil, added), with required ones. Other fields are not refused here: a
// PUT may send back the read-only ones, which are ignored.
func pick(resource map[string]any, fields []string, password map[string]any, required ...string) map[string]any {
	all := resource["properties"].(map[string]any)
	props := map[string]any{}
	for _, f := range fields {
		if f == "password" {
			if password != nil {
				props[f] = password
			}
			continue
		}
		props[f] = all[f]
	}
	return objectSchema(props, required...)
}

var (
	uuidType    = reflect.TypeFor[uuid.UUID]()
	timeType    = reflect.TypeFor[time.Time]()
	rawJSONType = reflect.TypeFor[json.RawMessage]()
	// components are named struct types referenced rather than inlined.
	components = map[reflect.Type]string{reflect.TypeFor[domain.Center](): "Center",
		reflect.TypeFor[domain.User](): "User", reflect.TypeFor[domain.Sample](): "Sample"}
	enums = map[reflect.Type]map[string]any{reflect.TypeFor[domain.Role](): enumOf(domain.Roles),
		reflect.TypeFor[domain.Status](): enumOf(domain.Statuses)}
)

// schemaOf is the JSON Schema of what encoding/json makes of t. Every
// field is required (the API always writes them) unless omitempty.
func schemaOf(t reflect.Type) map[string]any {
	switch t {
	case uuidType:
		return map[string]any{"type": "string", "format": "uuid"}
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawJSONType: // settings and metadata: always JSON objects
		return map[string]any{"type": "object"}
	}
	if e, ok := enums[t]; ok {
		return maps.Clone(e)
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem())
		s["type"] = []any{s["type"], "null"}
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": fieldSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": fieldSchema(t.Elem())}
	case reflect.Struct:
		props, required := map[string]any{}, []string{}
		for f := range t.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = fieldSchema(f.Type)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		return objectSchema(props, required...)
	}
	return map[string]any{}
}

// fieldSchema is schemaOf, with a $ref for component types.
func fieldSchema(t reflect.Type) map[string]any {
	if name, ok := components[t]; ok {
		return ref(name)
	}
	return schemaOf(t)
}
