package admin

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// centerRoutes registers the centers' pages.
func (c *Console) centerRoutes() {
	c.handle("GET /admin/centers/{$}", c.centerList)
	c.handle("GET /admin/centers/new/{$}", c.centerNewForm)
	c.handle("POST /admin/centers/new/{$}", c.centerCreate)
	c.handle("GET /admin/centers/{id}/{$}", c.centerPage)
	c.handle("GET /admin/centers/{id}/edit/{$}", c.centerEditForm)
	c.handle("POST /admin/centers/{id}/edit/{$}", c.centerEdit)
	c.handle("POST /admin/centers/{id}/delete/{$}", c.centerSetActive(false))
	c.handle("POST /admin/centers/{id}/restore/{$}", c.centerSetActive(true))
	c.handle("GET /admin/centers/{id}/hard_delete/{$}", c.centerHardDeleteForm)
	c.handle("POST /admin/centers/{id}/hard_delete/{$}", c.centerHardDelete)
}

var errCentersSuperuserOnly = errForbidden("Only a superuser may create, change or delete centers.")

// visibleCenter returns the center of the path's {id} if v's user may see
// it (domain.Store.VisibleCenter, as the API asks); a malformed id is not
// found either.
func (c *Console) visibleCenter(r *http.Request, v *visit) (domain.Center, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return domain.Center{}, err
	}
	return c.st.VisibleCenter(r.Context(), v.user, id)
}

// managedCenter is visibleCenter for the actions only superusers have:
// another center is still a 404, one's own a 403.
func (c *Console) managedCenter(r *http.Request, v *visit) (domain.Center, error) {
	ct, err := c.visibleCenter(r, v)
	if err == nil && !v.user.ManagesCenters() {
		return domain.Center{}, errCentersSuperuserOnly
	}
	return ct, err
}

func centerURL(id uuid.UUID) string { return "/admin/centers/" + id.String() + "/" }

// centerListView is the list's data.
type centerListView struct {
	Form     form
	Query    url.Values
	Search   fieldView
	Active   fieldView
	Ordering fieldView
	Sort     map[string]sortLink // by CenterOrderKeys
	Rows     []centerRow
	Foot     listFoot
	Manages  bool
}

// centerRow is a center as the list shows it, flat and formatted here:
// html/template finds a field of an embedded struct by a slow search, and
// a function call per cell costs a reflective call each, which on a page
// of 50 rows was a fifth of the page's CPU.
type centerRow struct {
	ID, Name         string
	Summary          string // the description, cut to fit a cell
	IsActive         bool
	Created, Updated string
}

// centerOrderingLabels name the orderings in the list's "Sort by" choice.
var centerOrderingLabels = map[string]string{
	"name": "Name, A to Z", "-name": "Name, Z to A",
	"created_at": "Oldest first", "-created_at": "Newest first",
	"updated_at": "Least recently updated", "-updated_at": "Recently updated",
}

// summaryLen is how many bytes of a description the list shows.
const summaryLen = 90

func (c *Console) centerList(w http.ResponseWriter, r *http.Request, v *visit) error {
	q := r.URL.Query()
	f := newForm(q)
	opts := listDefaults(listOffset(q, f))
	opts.Active = triState(q, "active", f)
	opts.Search = strings.TrimSpace(q.Get("search"))
	opts.Ordering = q.Get("ordering")
	// A superuser sees the deleted centers too, unless filtered out; the
	// others see their own center only.
	opts.IncludeInactive = v.user.ManagesCenters()
	if !v.user.IsSuperuser {
		opts.IDs = []uuid.UUID{}
		if v.user.CenterID != nil {
			opts.IDs = []uuid.UUID{*v.user.CenterID}
		}
	}
	lv := centerListView{Form: f, Query: q, Manages: v.user.ManagesCenters(), Foot: listFoot{Empty: "No center matches."}}
	status := http.StatusOK
	if !f.invalid() {
		items, count, err := c.st.Centers.List(r.Context(), opts)
		if err != nil && !f.fromError(err, centerListFields...) {
			return err
		}
		for _, ct := range items {
			lv.Rows = append(lv.Rows, centerRow{ID: ct.ID.String(), Name: ct.Name, IsActive: ct.IsActive,
				Summary: text.Truncate(ct.Description, summaryLen), Created: formatTime(ct.CreatedAt), Updated: formatTime(ct.UpdatedAt)})
		}
		lv.Foot.Pager = newPager(q, count, opts.Offset)
	}
	if f.invalid() {
		lv.Rows, lv.Foot.Invalid, status = nil, true, http.StatusBadRequest
	}
	lv.Search = newField(f, "search", "Search name or description", "search")
	lv.Active = newChoice(f, "active", "Status", "all", "All", "true", "Active", "false", "Soft-deleted")
	lv.Ordering = orderingChoice(f, domain.CenterOrderings(), centerOrderingLabels, domain.DefaultCenterOrdering)
	lv.Sort = sortLinks(q, domain.CenterOrderKeys, cmp.Or(q.Get("ordering"), domain.DefaultCenterOrdering))
	return c.render(w, r, v, status, "centers_list", "Centers", lv)
}

// The inputs of the centers' list and form, beside which a domain error
// about them is shown.
var (
	centerListFields = []string{"search", "active", "ordering"}
	centerFields     = []string{"name", "description", "settings"}
)

// centerFormView is the create and edit form's data.
type centerFormView struct {
	Form   form
	Center *domain.Center // nil on the create form
}

// renderCenterForm renders the create form (ct nil) or ct's edit form.
func (c *Console) renderCenterForm(w http.ResponseWriter, r *http.Request, v *visit, status int, f form, ct *domain.Center) error {
	title := "New center"
	if ct != nil {
		title = "Edit " + ct.Name
	}
	crumbs := []crumb{centersCrumb}
	if ct != nil {
		crumbs = append(crumbs, centerCrumb(*ct))
	}
	return c.render(w, r, v, status, "centers_form", title, centerFormView{Form: f, Center: ct}, crumbs...)
}

func (c *Console) centerNewForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	if !v.user.ManagesCenters() {
		return errCentersSuperuserOnly
	}
	return c.renderCenterForm(w, r, v, http.StatusOK, newForm(url.Values{"settings": {"{}"}}), nil)
}

// centerInput reads the form's fields. Settings go to the domain as typed:
// it reports text that is not JSON, or not an object, under "settings".
func centerInput(f form) domain.CenterInput {
	return domain.CenterInput{Name: f.Get("name"), Description: f.Get("description"),
		Settings: json.RawMessage(f.Get("settings"))}
}

func (c *Console) centerCreate(w http.ResponseWriter, r *http.Request, v *visit) error {
	if !v.user.ManagesCenters() {
		return errCentersSuperuserOnly
	}
	f := newForm(r.PostForm)
	ct, err := c.st.Centers.Create(r.Context(), domain.By(v.user.ID), centerInput(f))
	if f.fromError(err, centerFields...) {
		return c.renderCenterForm(w, r, v, http.StatusBadRequest, f, nil)
	}
	if err != nil {
		return err
	}
	return c.redirect(w, r, centerURL(ct.ID), "Center "+ct.Name+" created, with its schema "+ct.SchemaName+".")
}

func (c *Console) centerEditForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := c.managedCenter(r, v)
	if err != nil {
		return err
	}
	f := newForm(url.Values{"name": {ct.Name}, "description": {ct.Description}, "settings": {indentJSON(ct.Settings)}})
	return c.renderCenterForm(w, r, v, http.StatusOK, f, &ct)
}

func (c *Console) centerEdit(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := c.managedCenter(r, v)
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	updated, err := c.st.Centers.Update(r.Context(), domain.By(v.user.ID), ct.ID, centerInput(f))
	if f.fromError(err, centerFields...) {
		return c.renderCenterForm(w, r, v, http.StatusBadRequest, f, &ct)
	}
	if err != nil {
		return err
	}
	return c.redirect(w, r, centerURL(ct.ID), "Center "+updated.Name+" saved.")
}

// centerSetActive soft-deletes a center (active false) or restores it.
func (c *Console) centerSetActive(active bool) handler {
	return func(w http.ResponseWriter, r *http.Request, v *visit) error {
		ct, err := c.managedCenter(r, v)
		if err != nil {
			return err
		}
		by := domain.By(v.user.ID)
		msg := "Center " + ct.Name + " restored."
		if active {
			_, err = c.st.Centers.Restore(r.Context(), by, ct.ID)
		} else {
			_, err = c.st.Centers.SoftDelete(r.Context(), by, ct.ID)
			msg = "Center " + ct.Name + " soft-deleted: its members cannot sign in and its data is kept until a hard delete."
		}
		if err != nil {
			return err
		}
		return c.redirect(w, r, centerURL(ct.ID), msg)
	}
}

// centerHardDeleteView is the hard delete's confirmation page.
type centerHardDeleteView struct {
	Form   form
	Center domain.Center
	Stats  domain.Stats
}

// deletableCenter is the center a hard delete may remove: a superuser's,
// and soft-deleted (domain.ErrActive, a 409, otherwise). Its stats say
// what would be lost.
func (c *Console) deletableCenter(r *http.Request, v *visit) (domain.Stats, error) {
	ct, err := c.managedCenter(r, v)
	if err != nil {
		return domain.Stats{}, err
	}
	if ct.IsActive {
		return domain.Stats{}, domain.ErrActive
	}
	return c.st.Stats(r.Context(), ct.ID)
}

func (c *Console) centerHardDeleteForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	st, err := c.deletableCenter(r, v)
	if err != nil {
		return err
	}
	return c.renderHardDelete(w, r, v, http.StatusOK, st, newForm(nil))
}

// renderHardDelete renders the hard delete's confirmation for the center
// of st.
func (c *Console) renderHardDelete(w http.ResponseWriter, r *http.Request, v *visit, status int, st domain.Stats, f form) error {
	return c.render(w, r, v, status, "centers_harddelete", "Delete "+st.Center.Name+" for good",
		centerHardDeleteView{Form: f, Center: st.Center, Stats: st}, centersCrumb, centerCrumb(st.Center))
}

func (c *Console) centerHardDelete(w http.ResponseWriter, r *http.Request, v *visit) error {
	st, err := c.deletableCenter(r, v)
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	// The exact name, case and all: typing it is the point, not finding it.
	if f.Get("confirm") != st.Center.Name {
		f.add("confirm", "Type the center's name exactly as shown to confirm; nothing was deleted.")
		return c.renderHardDelete(w, r, v, http.StatusBadRequest, st, f)
	}
	if err := c.st.Centers.HardDelete(r.Context(), st.Center.ID); err != nil {
		return err
	}
	return c.redirect(w, r, "/admin/centers/", "Center "+st.Center.Name+" deleted for good, with its schema "+st.Center.SchemaName+
		", its samples and its members.")
}

// centerView is the center page's data.
type centerView struct {
	Stats    domain.Stats
	Settings string
	Charts   []chart
	Users    []domain.User
	// UserCount is how many members the viewer may see, of which Users
	// is the first page.
	UserCount int
	Manages   bool
}

func (c *Console) centerPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := c.visibleCenter(r, v)
	if err != nil {
		return err
	}
	st, err := c.st.Stats(r.Context(), ct.ID)
	if err != nil {
		return err
	}
	// Members as the users' list shows them to the viewer: soft-deleted
	// ones to the privileged only (domain.User.SeesUser).
	opts := listDefaults(0)
	opts.CenterID = &ct.ID
	opts.IncludeInactive = v.user.Privileged()
	users, count, err := c.st.Users.List(r.Context(), opts)
	if err != nil {
		return err
	}
	cv := centerView{Stats: st, Settings: indentJSON(st.Center.Settings), Users: users, UserCount: count,
		Manages: v.user.ManagesCenters(),
		Charts:  charts(st.Samples, st.Users)}
	return c.render(w, r, v, http.StatusOK, "centers_detail", st.Center.Name, cv, centersCrumb)
}
