package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/db"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

//go:embed templates static
var files embed.FS

// pages are the parsed templates, one set per page (each page file with
// the layout and the partials), and the static files.
type pages struct {
	t      map[string]*template.Template
	static map[string]staticFile
}

type staticFile struct {
	body        []byte
	contentType string
	etag        string
}

// parsePages parses every template once, at New: a broken template fails
// the start, not a request.
func parsePages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}, static: map[string]staticFile{}}
	statics, err := fs.ReadDir(files, "static")
	if err != nil {
		return nil, fmt.Errorf("reading the static files: %w", err)
	}
	for _, e := range statics {
		b, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		p.static[e.Name()] = staticFile{body: b, contentType: mime.TypeByExtension(path.Ext(e.Name())),
			etag: hex.EncodeToString(sum[:8])}
	}
	funcs := template.FuncMap{
		"static":   func(name string) string { return "/admin/static/" + name + "?v=" + p.static[name].etag },
		"date":     formatTime,
		"bytes":    text.Bytes,
		"plural":   text.Plural,
		"field":    newField,
		"choice":   newChoice,
		"id":       formatID,
		"outcome":  outcomeBadge,
		"sorthead": newSortHead,
		"duration": formatDuration,
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("finding the templates: %w", err)
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", n, err)
		}
		p.t[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// page is what the layout renders: the page's own Data and what every page
// shows around it.
type page struct {
	Title string
	// Section is the part of the menu the page belongs to: its template
	// name up to the first "_".
	Section string
	User    *domain.User
	CSRF    string
	Flash   []string
	// Crumbs lead from the top of the menu to the page's parent, on every
	// page below the top level.
	Crumbs []crumb
	Data   any
}

// crumb is a link of the breadcrumb trail.
type crumb struct{ Label, Href string }

// The crumbs of the pages other pages are below.
var (
	centersCrumb = crumb{"Centers", "/admin/centers/"}
	usersCrumb   = crumb{"Users", usersPath}
	fleetCrumb   = crumb{"Fleet", "/admin/fleet/"}
)

func centerCrumb(ct domain.Center) crumb  { return crumb{ct.Name, centerURL(ct.ID)} }
func samplesCrumb(ct domain.Center) crumb { return crumb{"Samples", samplesPath(ct)} }
func userCrumb(u domain.User) crumb       { return crumb{u.Username, userPath(u.ID)} }

// render writes page name with data and status, below crumbs. It renders
// into a buffer first, so that a template error is a clean 500 and never
// half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title string, data any, crumbs ...crumb) error {
	t, ok := c.pages.t[name]
	if !ok {
		return fmt.Errorf("admin: no page %q", name)
	}
	section, _, _ := strings.Cut(name, "_")
	p := page{Title: title, Section: section, Data: data, Crumbs: crumbs}
	// An error page leaves the messages for the next page: they are the
	// result of a change, which the error did not undo.
	if name != "error" {
		p.Flash = readFlash(r)
	}
	if v != nil {
		p.User, p.CSRF = &v.user, v.csrf
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("admin: rendering %s: %w", name, err)
	}
	// Shown, the messages are cleared; not before, so that a page that
	// failed to render loses none.
	if _, err := r.Cookie(flashCookie); err == nil && name != "error" {
		c.clearCookie(w, r, flashCookie)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		// The client went away; there is no one left to tell.
		c.log.DebugContext(r.Context(), "admin: writing a page", slog.Any("error", err))
	}
	return nil
}

// static serves the stylesheet. A URL carrying the file's hash (as the
// pages' links do) may be cached for good.
func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	f, ok := c.pages.static[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", `"`+f.etag+`"`)
	if r.URL.Query().Get("v") == f.etag {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+f.etag+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(f.body)
}

// pathID returns the path's wildcard name as an id; a malformed one is
// domain.ErrNotFound, as an id that names nothing.
func pathID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return uuid.UUID{}, domain.ErrNotFound
	}
	return id, nil
}

// statusError is an error page with a status and a message for the user.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func errForbidden(msg string) error { return &statusError{http.StatusForbidden, msg} }

// errBadForm is the error of a form body that could not be read.
func errBadForm(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &statusError{http.StatusRequestEntityTooLarge, "The form is larger than 1 MiB."}
	}
	return &statusError{http.StatusBadRequest, "The form could not be read."}
}

// errorView is the error page's data.
type errorView struct {
	Message   string
	RequestID string
}

// errorPage shows err as a page with its status: 404 for what does not
// exist or is not the caller's to see, 409 for what contradicts the data,
// 503 while the database is away, 500 (logged) for anything else.
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	status := http.StatusInternalServerError
	ev := errorView{RequestID: w.Header().Get("X-Request-ID"),
		Message: "Something went wrong on our side. It has been logged; try again, and tell the operators if it persists."}
	var se *statusError
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &se):
		status, ev.Message = se.status, se.msg
	case errors.Is(err, domain.ErrNotFound):
		status, ev.Message = http.StatusNotFound, "There is no such page, or what it shows does not exist or is not yours to see."
	case errors.As(err, &ve):
		status, ev.Message = http.StatusBadRequest, ve.Error()
	case errors.Is(err, domain.ErrConflict):
		status, ev.Message = http.StatusConflict, err.Error()
	case db.IsUnavailable(err):
		status, ev.Message = http.StatusServiceUnavailable, "The database is unavailable right now. Try again in a moment."
	default:
		c.log.ErrorContext(r.Context(), "admin: page failed", slog.String("path", r.URL.Path),
			slog.String("request_id", ev.RequestID), slog.Any("error", err))
	}
	title := http.StatusText(status)
	if rerr := c.render(w, r, v, status, "error", title, ev); rerr != nil {
		c.log.ErrorContext(r.Context(), "admin: error page failed", slog.Any("error", rerr))
		http.Error(w, title, status)
	}
}

// msgRequired is an empty required field's error, in the domain's words.
const msgRequired = "this field is required"

// form is a submitted (or empty) form and its errors, by field; "" holds
// the errors of the form as a whole.
type form struct {
	values url.Values
	errors map[string][]string
}

func newForm(v url.Values) form {
	if v == nil {
		v = url.Values{}
	}
	return form{values: v, errors: map[string][]string{}}
}

// Get returns a field's value.
func (f form) Get(name string) string { return f.values.Get(name) }

// Errors returns a field's errors.
func (f form) Errors(name string) []string { return f.errors[name] }

func (f form) add(name, msg string) { f.errors[name] = append(f.errors[name], msg) }

func (f form) invalid() bool { return len(f.errors) > 0 }

// fromError puts a domain error about the input beside its fields: a
// validation error's messages, or a uniqueness conflict's. fields are the
// inputs the page shows; an error under any other key (the domain's
// non_field_errors, actor, or a field this page does not have) goes to the
// form as a whole, where the "formerrors" partial shows it, so that no
// refusal is a 400 without a word. It reports whether err was one; any
// other error is the page's to show.
func (f form) fromError(err error, fields ...string) bool {
	var ve *domain.ValidationError
	var ce *domain.ConflictError
	switch {
	case errors.As(err, &ve):
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			for _, m := range ve.Fields[k] {
				f.addFor(k, m, fields)
			}
		}
	case errors.As(err, &ce):
		f.addFor(ce.Field, ce.Message, fields)
	default:
		return false
	}
	return true
}

// addFor adds msg beside field name if the page shows it (fields), else
// to the form as a whole, named by the key unless it names no field.
func (f form) addFor(name, msg string, fields []string) {
	switch {
	case slices.Contains(fields, name):
		f.add(name, msg)
	case name == "" || name == "non_field_errors":
		f.add("", msg)
	default:
		f.add("", name+": "+msg)
	}
}

// fieldView is one labelled input with its errors, as the "field"
// partial draws it.
type fieldView struct {
	Name, Label, Type, Value string
	// Autocomplete tells password managers what a password field is.
	Autocomplete string
	Errors       []string
	Options      []option
}

type option struct {
	Value, Label string
	Selected     bool
}

// newField is an input named name: text, email, tel, number, textarea,
// json (a textarea for code), checkbox, password (a new one) or
// current-password (the sign-in's). A password is never sent back to the
// browser.
func newField(f form, name, label, typ string) fieldView {
	fv := fieldView{Name: name, Label: label, Type: typ, Value: f.Get(name), Errors: f.Errors(name)}
	switch typ {
	case "password":
		fv.Value, fv.Autocomplete = "", "new-password"
	case "current-password":
		fv.Value, fv.Type, fv.Autocomplete = "", "password", "current-password"
	}
	return fv
}

// newChoice is a select named name over pairs of value and label.
func newChoice(f form, name, label string, pairs ...string) fieldView {
	fv := fieldView{Name: name, Label: label, Type: "select", Value: f.Get(name), Errors: f.Errors(name)}
	for i := 0; i+1 < len(pairs); i += 2 {
		fv.Options = append(fv.Options, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == fv.Value})
	}
	return fv
}

// indentJSON lays a JSON document (settings, metadata) out for reading
// and editing; what the database returned is valid JSON, so it cannot
// fail, but if it did the raw text is still the right thing to show.
func indentJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

func formatTime(t any) string {
	switch t := t.(type) {
	case time.Time:
		return t.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if t != nil {
			return t.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return "—"
}

// formatDuration is d to the millisecond, "1.234s" rather than
// "1.234567891s": a run's times are for a glance.
func formatDuration(d time.Duration) string { return d.Round(time.Millisecond).String() }

func formatID(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}

// withQuery returns q with key set to value (removed when empty) as a
// query string, "?" included: for links that change one parameter of a
// list (page, sort) and keep the others.
func withQuery(q url.Values, kv ...string) string {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return "?" + out.Encode()
}
