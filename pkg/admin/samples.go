package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// sampleRoutes registers a center's samples' pages: the list, a sample,
// its create and edit forms, and one POST per action, so that an unknown
// action is a 404 like any unknown page.
func (c *Console) sampleRoutes() {
	c.handle("GET /admin/centers/{id}/samples/{$}", c.sampleList)
	c.handle("GET /admin/centers/{id}/samples/new/{$}", c.sampleNew)
	c.handle("POST /admin/centers/{id}/samples/new/{$}", c.sampleCreate)
	c.handle("GET /admin/centers/{id}/samples/{sid}/{$}", c.sampleDetail)
	c.handle("GET /admin/centers/{id}/samples/{sid}/edit/{$}", c.sampleEdit)
	c.handle("POST /admin/centers/{id}/samples/{sid}/edit/{$}", c.sampleUpdate)
	c.handle("POST /admin/centers/{id}/samples/{sid}/delete/{$}", c.sampleDelete)
	for _, a := range domain.Actions {
		c.handle("POST /admin/centers/{id}/samples/{sid}/"+string(a)+"/{$}", c.sampleTransition(a))
	}
}

// errViewer refuses a viewer's write, as the API does.
var errViewer = errForbidden("Viewers have read-only access to samples.")

// sampleCenter returns the center of the path if v may see its samples:
// members of an active center and superusers. Anyone else, and everyone
// for a soft-deleted center (whose samples the domain hides too), gets
// not found, as from the API. The pages need the center itself, which
// VisibleSample does not return; and VisibleCenter shows a superuser a
// soft-deleted center, whose samples are hidden even so.
func (c *Console) sampleCenter(r *http.Request, v *visit) (domain.Center, error) {
	ct, err := c.visibleCenter(r, v)
	if err == nil && !ct.IsActive {
		err = domain.ErrNotFound
	}
	return ct, err
}

// visibleSample returns the center and sample of the path if v may see
// them (sampleCenter, then domain.Store.VisibleSample).
func (c *Console) visibleSample(r *http.Request, v *visit) (domain.Center, domain.Sample, error) {
	ct, err := c.sampleCenter(r, v)
	if err != nil {
		return ct, domain.Sample{}, err
	}
	sid, err := pathID(r, "sid")
	if err != nil {
		return ct, domain.Sample{}, err
	}
	sm, err := c.st.VisibleSample(r.Context(), v.user, ct.ID, sid)
	return ct, sm, err
}

// writableCenter is sampleCenter for creating a sample: a viewer, who
// sees the samples, is refused with 403.
func (c *Console) writableCenter(r *http.Request, v *visit) (domain.Center, error) {
	ct, err := c.sampleCenter(r, v)
	if err == nil && !v.user.WritesSamples() {
		err = errViewer
	}
	return ct, err
}

// writableSample is visibleSample for changing the sample: a viewer, who
// sees it, is refused with 403.
func (c *Console) writableSample(r *http.Request, v *visit) (domain.Center, domain.Sample, error) {
	ct, sm, err := c.visibleSample(r, v)
	if err == nil && !v.user.WritesSamples() {
		err = errViewer
	}
	return ct, sm, err
}

func samplesPath(ct domain.Center) string { return "/admin/centers/" + ct.ID.String() + "/samples/" }

func samplePath(ct domain.Center, sm domain.Sample) string {
	return samplesPath(ct) + sm.ID.String() + "/"
}

// userRef is a user as a page names one: a username, linked, when the
// viewer may see the user (SeesUser); "another user" when not, so that a
// sample whose user moved to another center does not tell who it is.
type userRef struct {
	ID       *uuid.UUID
	Username string
	Link     bool
}

// members returns center id's members as v may see them (soft-deleted ones
// only if Privileged, or activeOnly), by username, at most domain.MaxLimit.
func (c *Console) members(ctx context.Context, v *visit, id uuid.UUID, activeOnly bool) ([]domain.User, error) {
	us, _, err := c.st.Users.List(ctx, domain.ListOptions{CenterID: &id, Limit: domain.MaxLimit,
		IncludeInactive: !activeOnly && v.user.Privileged()})
	if err != nil {
		return nil, fmt.Errorf("listing the members of %s: %w", id, err)
	}
	return us, nil
}

// userRefs resolves user ids to usernames in one query: a null id, or one
// whose user no longer exists, is "system"; a user v may not see,
// "another user".
func (c *Console) userRefs(ctx context.Context, v *visit, ids ...*uuid.UUID) ([]userRef, error) {
	var want []uuid.UUID
	for _, id := range ids {
		if id != nil {
			want = append(want, *id)
		}
	}
	found := map[uuid.UUID]domain.User{}
	if len(want) > 0 {
		us, _, err := c.st.Users.List(ctx, domain.ListOptions{IDs: want, IncludeInactive: true, Limit: len(want)})
		if err != nil {
			return nil, fmt.Errorf("reading the users a page names: %w", err)
		}
		for _, u := range us {
			found[u.ID] = u
		}
	}
	out := make([]userRef, len(ids))
	for i, id := range ids {
		out[i] = userRef{Username: "system"}
		if id == nil {
			continue
		}
		switch u, ok := found[*id]; {
		case ok && v.user.SeesUser(u):
			out[i] = userRef{ID: id, Username: u.Username, Link: true}
		case ok:
			out[i] = userRef{Username: "another user"}
		}
	}
	return out, nil
}

// sampleRow is a row of the samples list.
type sampleRow struct {
	domain.Sample
	User userRef
}

// sampleListView is the samples list's data.
type sampleListView struct {
	Center  domain.Center
	Form    form
	Query   url.Values
	Filters []fieldView
	// IncludeInactive is shown to Privileged users only.
	IncludeInactive, ShowInactive bool
	Rows                          []sampleRow
	Sort                          map[string]sortLink // by SampleOrderKeys
	Foot                          listFoot
	CanWrite                      bool
}

// The inputs of the samples' list and form, beside which a domain error
// about them is shown.
var (
	sampleListFields = []string{"search", "status", "sample_type", "user_id", "ordering", "include_inactive"}
	sampleFields     = []string{"name", "barcode", "sample_type", "user_id", "description", "metadata"}
)

// sampleOrderingLabels names each of domain.SampleOrderings for the sort select.
var sampleOrderingLabels = map[string]string{
	"created_at": "Created, oldest first", "-created_at": "Created, newest first",
	"updated_at": "Updated, oldest first", "-updated_at": "Updated, newest first",
	"name": "Name, A–Z", "-name": "Name, Z–A",
	"barcode": "Barcode, A–Z", "-barcode": "Barcode, Z–A",
	"status": "Status, A–Z", "-status": "Status, Z–A",
}

// typePairs are a select's value/label pairs for a center's sample types,
// plus current if it is not one of them (a type since removed from the
// center's list, which old samples keep).
func typePairs(ct domain.Center, current string) []string {
	types := ct.SampleTypes()
	if current != "" && !slices.Contains(types, current) {
		types = append(types, current)
	}
	var pairs []string
	for _, t := range types {
		pairs = append(pairs, t, t)
	}
	return pairs
}

func userPairs(us []domain.User) []string {
	var pairs []string
	for _, u := range us {
		label := u.Username
		if !u.IsActive {
			label += " (inactive)"
		}
		pairs = append(pairs, u.ID.String(), label)
	}
	return pairs
}

// sampleList is the list of a center's samples with the API's filters,
// search and ordering. Invalid parameters are shown beside their fields,
// with status 400 and no rows.
func (c *Console) sampleList(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := c.sampleCenter(r, v)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := newForm(q)
	offset := listOffset(q, f)
	flt := domain.SampleFilter{Status: domain.Status(q.Get("status")), SampleType: q.Get("sample_type"),
		Search: strings.TrimSpace(q.Get("search")), Ordering: q.Get("ordering"), Limit: pageSize, Offset: offset}
	if s := q.Get("user_id"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			f.add("user_id", "is not a user id")
		}
		flt.UserID = &id
	}
	if b := triState(q, "include_inactive", f); b != nil && *b {
		// As in the API: asked for by anyone else, it is ignored.
		flt.IncludeInactive = v.user.Privileged()
	}
	members, err := c.members(r.Context(), v, ct.ID, false)
	if err != nil {
		return err
	}
	lv := sampleListView{Center: ct, Form: f, Query: q, ShowInactive: v.user.Privileged(), IncludeInactive: flt.IncludeInactive,
		CanWrite: v.user.WritesSamples(), Foot: listFoot{Empty: "No samples match."},
		Sort: sortLinks(q, domain.SampleOrderKeys, cmp.Or(q.Get("ordering"), domain.DefaultSampleOrdering))}
	status := http.StatusOK
	if !f.invalid() {
		items, count, err := c.st.Samples.List(r.Context(), ct.ID, flt)
		switch {
		case f.fromError(err, sampleListFields...):
		case err != nil:
			return err
		default:
			ids := make([]*uuid.UUID, len(items))
			for i := range items {
				ids[i] = &items[i].UserID
			}
			refs, err := c.userRefs(r.Context(), v, ids...)
			if err != nil {
				return err
			}
			for i, s := range items {
				lv.Rows = append(lv.Rows, sampleRow{Sample: s, User: refs[i]})
			}
			lv.Foot.Pager = newPager(q, count, offset)
		}
	}
	// The filters are drawn last: the list's own errors go beside them too.
	statuses := []string{"", "any"}
	for _, s := range domain.Statuses {
		statuses = append(statuses, string(s), string(s))
	}
	lv.Filters = []fieldView{
		newField(f, "search", "Search name, barcode or description", "search"),
		newChoice(f, "status", "Status", statuses...),
		newChoice(f, "sample_type", "Type", append([]string{"", "any"}, typePairs(ct, q.Get("sample_type"))...)...),
		newChoice(f, "user_id", "User", append([]string{"", "anyone"}, userPairs(members)...)...),
		orderingChoice(f, domain.SampleOrderings(), sampleOrderingLabels, domain.DefaultSampleOrdering),
	}
	if f.invalid() {
		lv.Rows, lv.Foot.Invalid, status = nil, true, http.StatusBadRequest
	}
	return c.render(w, r, v, status, "samples_list", "Samples of "+ct.Name, lv, centersCrumb, centerCrumb(ct))
}

// sampleView is a sample's page: every field, the audit fields as
// usernames, and the actions v may take.
type sampleView struct {
	Center               domain.Center
	Sample               domain.Sample
	Metadata             string
	User                 userRef
	CreatedBy, UpdatedBy userRef
	Actions              []actionButton
	CanWrite, CanDelete  bool
}

// actionButton is a transition the sample's status allows.
type actionButton struct {
	Action domain.Action
	To     domain.Status
}

func (c *Console) sampleDetail(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, sm, err := c.visibleSample(r, v)
	if err != nil {
		return err
	}
	sv := sampleView{Center: ct, Sample: sm, Metadata: indentJSON(sm.Metadata),
		CanWrite: v.user.WritesSamples(), CanDelete: v.user.DeletesSamples() && sm.IsActive}
	refs, err := c.userRefs(r.Context(), v, &sm.UserID, sm.CreatedBy, sm.UpdatedBy)
	if err != nil {
		return err
	}
	sv.User, sv.CreatedBy, sv.UpdatedBy = refs[0], refs[1], refs[2]
	if sv.CanWrite {
		for _, a := range domain.Actions {
			if to, ok := a.Allows(sm.Status); ok {
				sv.Actions = append(sv.Actions, actionButton{a, to})
			}
		}
	}
	return c.render(w, r, v, http.StatusOK, "samples_detail", sm.Name, sv, centersCrumb, centerCrumb(ct), samplesCrumb(ct))
}

// sampleFormView is the create and edit forms' data.
type sampleFormView struct {
	Center     domain.Center
	Sample     *domain.Sample // nil when creating
	Form       form
	Type, User fieldView
	// Action is where the form posts; Cancel, the page it came from.
	Action, Cta, Cancel string
}

// renderSampleForm shows the create (sm nil) or edit form of f.
func (c *Console) renderSampleForm(w http.ResponseWriter, r *http.Request, v *visit, status int, ct domain.Center,
	sm *domain.Sample, f form) error {
	members, err := c.members(r.Context(), v, ct.ID, true)
	if err != nil {
		return err
	}
	fv := sampleFormView{Center: ct, Sample: sm, Form: f,
		Type: newChoice(f, "sample_type", "Type", append([]string{"", "— choose —"}, typePairs(ct, f.Get("sample_type"))...)...)}
	users := userPairs(members)
	if sm != nil && !slices.ContainsFunc(members, func(u domain.User) bool { return u.ID == sm.UserID }) {
		// The sample's user left the center or was deactivated: the
		// sample keeps them until someone picks another.
		refs, err := c.userRefs(r.Context(), v, &sm.UserID)
		if err != nil {
			return err
		}
		users = append([]string{sm.UserID.String(), refs[0].Username + " (current, not an active member)"}, users...)
	}
	if sm == nil {
		fv.Action, fv.Cta, fv.Cancel = samplesPath(ct)+"new/", "Create sample", samplesPath(ct)
		users = append([]string{"", "— choose —"}, users...)
	} else {
		fv.Action, fv.Cta, fv.Cancel = samplePath(ct, *sm)+"edit/", "Save", samplePath(ct, *sm)
	}
	fv.User = newChoice(f, "user_id", "User", users...)
	title := "New sample"
	if sm != nil {
		title = "Edit " + sm.Name
	}
	crumbs := []crumb{centersCrumb, centerCrumb(ct), samplesCrumb(ct)}
	if sm != nil {
		crumbs = append(crumbs, crumb{sm.Name, samplePath(ct, *sm)})
	}
	return c.render(w, r, v, status, "samples_form", title, fv, crumbs...)
}

func (c *Console) sampleNew(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := c.writableCenter(r, v)
	if err != nil {
		return err
	}
	vals := url.Values{"metadata": {"{}"}}
	if v.user.MemberOf(ct.ID) {
		vals.Set("user_id", v.user.ID.String())
	}
	return c.renderSampleForm(w, r, v, http.StatusOK, ct, nil, newForm(vals))
}

// sampleInput reads the form's fields; a user id that is not one is an
// error beside its field.
func sampleInput(f form) domain.SampleInput {
	in := domain.SampleInput{Name: f.Get("name"), Description: f.Get("description"), SampleType: f.Get("sample_type"),
		Barcode: f.Get("barcode"), Metadata: json.RawMessage(f.Get("metadata"))}
	if s := f.Get("user_id"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			f.add("user_id", "is not a user id")
		}
		in.UserID = &id
	}
	return in
}

func (c *Console) sampleCreate(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := c.writableCenter(r, v)
	if err != nil {
		return err
	}
	return c.sampleSave(w, r, v, ct, nil)
}

func (c *Console) sampleEdit(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, sm, err := c.writableSample(r, v)
	if err != nil {
		return err
	}
	f := newForm(url.Values{"name": {sm.Name}, "description": {sm.Description}, "sample_type": {sm.SampleType},
		"barcode": {sm.Barcode}, "user_id": {sm.UserID.String()}, "metadata": {indentJSON(sm.Metadata)}})
	return c.renderSampleForm(w, r, v, http.StatusOK, ct, &sm, f)
}

func (c *Console) sampleUpdate(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, sm, err := c.writableSample(r, v)
	if err != nil {
		return err
	}
	return c.sampleSave(w, r, v, ct, &sm)
}

// sampleSave creates a sample of ct from the posted form (sm nil) or
// saves sm; bad input is the form again with status 400.
func (c *Console) sampleSave(w http.ResponseWriter, r *http.Request, v *visit, ct domain.Center, sm *domain.Sample) error {
	f := newForm(r.PostForm)
	in := sampleInput(f)
	if f.invalid() {
		return c.renderSampleForm(w, r, v, http.StatusBadRequest, ct, sm, f)
	}
	var out domain.Sample
	var err error
	verb := "created"
	if sm == nil {
		out, err = c.st.Samples.Create(r.Context(), ct.ID, domain.By(v.user.ID), in)
	} else {
		out, err = c.st.Samples.Checked(domain.SeenBy(v.user)).Update(r.Context(), ct.ID, domain.By(v.user.ID), sm.ID, in)
		verb = "saved"
	}
	if f.fromError(err, sampleFields...) {
		return c.renderSampleForm(w, r, v, http.StatusBadRequest, ct, sm, f)
	}
	if err != nil {
		return err
	}
	return c.redirect(w, r, samplePath(ct, out), "Sample "+out.Name+" "+verb+".")
}

// sampleTransition applies action; a status it does not start from is a
// 409 page and changes nothing. As in the API, a viewer is told it may not
// act only about a sample it sees, and for the others the sample's
// visibility is checked by the transition's own statement.
func (c *Console) sampleTransition(action domain.Action) handler {
	return func(w http.ResponseWriter, r *http.Request, v *visit) error {
		ct, err := c.sampleCenter(r, v)
		if err != nil {
			return err
		}
		if !v.user.WritesSamples() {
			_, _, err := c.writableSample(r, v) // its 404, or the 403
			return err
		}
		sid, err := pathID(r, "sid")
		if err != nil {
			return err
		}
		sm, err := c.st.Samples.Transition(r.Context(), ct.ID, domain.By(v.user.ID), sid, action, !v.user.Privileged())
		if err != nil {
			return err
		}
		return c.redirect(w, r, samplePath(ct, sm), "Sample "+sm.Name+": "+string(action)+" done, now "+string(sm.Status)+".")
	}
}

func (c *Console) sampleDelete(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, sm, err := c.visibleSample(r, v)
	if err != nil {
		return err
	}
	if !v.user.DeletesSamples() {
		return errForbidden("Only a superuser or an admin may delete samples.")
	}
	if _, err := c.st.Samples.Checked(domain.SeenBy(v.user)).SoftDelete(r.Context(), ct.ID, domain.By(v.user.ID), sm.ID); err != nil {
		return err
	}
	return c.redirect(w, r, samplesPath(ct), "Sample "+sm.Name+" soft-deleted: an admin still sees it with “Include soft-deleted”.")
}
