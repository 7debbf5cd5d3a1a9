package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/pkg/throttle"
)

// userRoutes registers the users' pages and their tokens'.
func (c *Console) userRoutes() {
	c.handle("GET /admin/users/{$}", c.userList)
	c.handle("POST /admin/users/bulk/{$}", c.userBulk)
	c.handle("GET /admin/users/new/{$}", c.userNew)
	c.handle("POST /admin/users/new/{$}", c.userCreate)
	c.handle("GET /admin/users/{id}/{$}", c.userDetail)
	c.handle("POST /admin/users/{id}/{$}", c.userSave)
	c.handle("GET /admin/users/{id}/password/{$}", c.passwordForm)
	c.handle("POST /admin/users/{id}/password/{$}", c.passwordSet)
	c.tokenRoutes()
}

// usersPath is the users' list; bulk actions return to it.
const usersPath = "/admin/users/"

func userPath(id uuid.UUID) string { return usersPath + id.String() + "/" }

// visibleUser returns the user of the path's {id} if the caller sees them
// (domain.Store.VisibleUser, as the API asks); a malformed id is not found
// either.
func (c *Console) visibleUser(r *http.Request, v *visit) (domain.User, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return domain.User{}, err
	}
	return c.st.VisibleUser(r.Context(), v.user, id)
}

// ownOrManagedUser returns the user of the path's {id} if the caller may
// change them: themselves, or a user they Manage. One they do not see is
// not found; one they see but may not change is refused with refusal.
func (c *Console) ownOrManagedUser(r *http.Request, v *visit, refusal string) (domain.User, error) {
	t, err := c.visibleUser(r, v)
	if err != nil {
		return t, err
	}
	if !managesOrSelf(v.user, t) {
		return t, errForbidden(refusal)
	}
	return t, nil
}

// managesOrSelf reports whether actor may edit t's profile, set t's
// password and handle t's tokens: the users actor Manages, and actor
// themselves (the API's "self: profile fields only").
func managesOrSelf(actor, t domain.User) bool { return actor.Manages(t) || actor.ID == t.ID }

// userRow is a row of the users' list.
type userRow struct {
	domain.User
	Center string // the center's name, for a superuser's list
	// Selectable rows get a checkbox for the bulk actions: the caller
	// Manages them (every bulk action asks that, or more).
	Selectable bool
	Checked    bool
}

// userListView is the users' list's data.
type userListView struct {
	Form  form // the filters
	Query url.Values
	// Back is this list's path and query, for the bulk form to return to.
	Back   string
	Users  []userRow
	Foot   listFoot
	Center *domain.Center // a non-superuser's own center
	// Filters, built here because their choices are data.
	CenterFilter, RoleFilter fieldView
	Ordering                 fieldView
	Sort                     map[string]sortLink // by UserOrderKeys
	// The bulk form: its errors and choices; Bulk is false when no row
	// shown may be changed by the caller.
	Bulk                             bool
	BulkForm                         form
	BulkAction, BulkRole, BulkCenter fieldView
	// CanMove: change_center is offered, and the center filter and
	// column shown (a superuser's list spans the centers).
	CanMove    bool
	CanCreate  bool
	ShowActive bool // the active filter: only the Privileged see inactive users
}

// userOrderingLabels name the orderings in the list's "Sort by" choice.
var userOrderingLabels = map[string]string{
	"username": "Username, A to Z", "-username": "Username, Z to A",
	"email": "Email, A to Z", "-email": "Email, Z to A",
	"date_joined": "Oldest first", "-date_joined": "Newest first",
	"last_name": "Last name, A to Z", "-last_name": "Last name, Z to A",
	"role": "Role, A to Z", "-role": "Role, Z to A",
}

func (c *Console) userList(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.renderUsers(w, r, v, r.URL.Query(), newForm(nil), http.StatusOK)
}

// renderUsers renders the list for query q with the bulk form bulk (its
// errors, its checked rows). Invalid filters come back beside their fields
// with status 400.
//
// The list's scope is SeesUser's, as the API's list: a superuser lists
// everyone, anyone else the members of their own center, and soft-deleted
// ones only if Privileged. The scope is a query, not a filter over rows,
// so that counts and pages are right.
func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, v *visit, q url.Values, bulk form, status int) error {
	ctx := r.Context()
	me := v.user
	f := newForm(q)
	opts := listDefaults(listOffset(q, f))
	opts.Search = strings.TrimSpace(q.Get("search"))
	opts.Ordering = q.Get("ordering")
	if s := q.Get("role"); s != "" {
		role := domain.Role(s)
		opts.Role = &role
	}
	opts.Superuser = triState(q, "superuser", f)
	if active := triState(q, "active", f); me.Privileged() {
		opts.Active, opts.IncludeInactive = active, q.Get("active") == "all"
	}
	lv := userListView{Form: f, Query: q, BulkForm: bulk, Foot: listFoot{Empty: "No users match."}, CanMove: me.ManagesCenters(), CanCreate: me.Privileged(),
		ShowActive: me.Privileged(), Back: usersPath + withQuery(q)}
	switch {
	case me.IsSuperuser:
		var err error
		if opts.CenterID, err = c.centerParam(ctx, f, "center"); err != nil {
			return err
		}
	case me.CenterID != nil:
		ct, err := c.st.Centers.Get(ctx, *me.CenterID)
		if err != nil {
			return err
		}
		lv.Center, opts.CenterID = &ct, me.CenterID
	default:
		// A user without a center who is no superuser sees no one.
		opts.IDs = []uuid.UUID{}
	}
	var users []domain.User
	count := 0
	if !f.invalid() {
		var err error
		if users, count, err = c.st.Users.List(ctx, opts); err != nil && !f.fromError(err, "search", "center", "role", "active", "superuser", "ordering") {
			return err
		}
	}
	if f.invalid() {
		users, lv.Foot.Invalid = nil, true
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
	}
	// The choices are built after the list, which may add errors beside
	// them.
	// The center filter has every center, soft-deleted ones too, so that
	// their members can be found; the bulk form's target only the active.
	if me.IsSuperuser {
		centers, err := c.centerChoices(ctx)
		if err != nil {
			return err
		}
		lv.CenterFilter = centerField(f, centers, "center", "Center", "Any center", false)
		lv.BulkCenter = centerField(bulk, centers, "new_center", "New center", "Choose a center", true)
	}
	lv.RoleFilter = newChoice(f, "role", "Role", append([]string{"", "Any role"}, rolePairs()...)...)
	actions := []string{"", "Choose an action", "activate", "Activate", "deactivate", "Deactivate",
		"change_role", "Change role to"}
	if lv.CanMove {
		actions = append(actions, "change_center", "Move to center")
	}
	lv.BulkAction = newChoice(bulk, "action", "With the checked users", actions...)
	lv.BulkRole = newChoice(bulk, "new_role", "New role", append([]string{"", "Choose a role"}, rolePairs()...)...)
	lv.Sort = sortLinks(q, domain.UserOrderKeys, cmp.Or(q.Get("ordering"), domain.DefaultUserOrdering))
	lv.Ordering = orderingChoice(f, domain.UserOrderings(), userOrderingLabels, domain.DefaultUserOrdering)
	var ids []uuid.UUID
	for _, u := range users {
		if u.CenterID != nil && !slices.Contains(ids, *u.CenterID) {
			ids = append(ids, *u.CenterID)
		}
	}
	names, err := c.centersByID(ctx, ids)
	if err != nil {
		return err
	}
	checked := bulk.values["ids"]
	for _, u := range users {
		row := userRow{User: u, Selectable: me.Manages(u), Checked: slices.Contains(checked, u.ID.String())}
		if u.CenterID != nil {
			row.Center = names[*u.CenterID]
		}
		lv.Bulk = lv.Bulk || row.Selectable
		lv.Users = append(lv.Users, row)
	}
	lv.Foot.Pager = newPager(q, count, opts.Offset)
	return c.render(w, r, v, status, "users_list", "Users", lv)
}

// usersBack returns the list a bulk action returns to, and its query: back
// if it is the users' list (localPath), with any query, else the list
// unfiltered.
func usersBack(back string) (string, url.Values) {
	p, ok := localPath(back, usersPath)
	if !ok {
		return usersPath, url.Values{}
	}
	u, err := url.Parse(p)
	if err != nil || u.Path != usersPath {
		return usersPath, url.Values{}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q) == 0 {
		return usersPath, url.Values{}
	}
	return usersPath + "?" + q.Encode(), q
}

// bulkAction is one of the bulk actions, bound to its parameters.
type bulkAction struct {
	// refuse says why actor may not apply the action to t, a user actor
	// sees, or "".
	refuse func(actor, t domain.User) string
	// apply applies it to every one of ids in one transaction, through
	// users, which holds the action's rule.
	apply func(ctx context.Context, users domain.CheckedUsers, actor domain.Actor, ids []uuid.UUID) ([]domain.User, error)
	// changed tells whether it changed a row, from before and after.
	changed func(before, after domain.User) bool
}

// unseen is why a row the caller does not see is refused: the same words
// whether the user exists or not, as another center's members are not the
// caller's to know about.
const unseen = "not found, or not a member of your center"

// judge says why actor may not apply act to t, or nil: the one decision,
// made on the rows the console read to report on each, then again by the
// write on the rows it locks (rule).
func (act bulkAction) judge(actor, t domain.User) *refusal {
	if !actor.SeesUser(t) {
		return &refusal{t.ID.String(), unseen}
	}
	if why := act.refuse(actor, t); why != "" {
		return &refusal{t.Username, why}
	}
	return nil
}

// rule is judge as the domain's Rule for actor's write: a row that
// changed since the console read it, so that actor may no longer change
// it, refuses the whole write.
func (act bulkAction) rule(actor domain.User) domain.Rule {
	return func(t domain.User) error {
		if rf := act.judge(actor, t); rf != nil {
			return *rf
		}
		return nil
	}
}

// manageRefusal says why actor may not change t, or "" if actor Manages t.
// The decision is Manages's; the rest only chooses the words.
func manageRefusal(actor, t domain.User) string {
	switch {
	case actor.Manages(t):
		return ""
	case t.IsSuperuser:
		return "a superuser: only a superuser may change one"
	case !actor.Privileged():
		return "only an admin or a superuser may change users"
	default:
		return "not a member of your center"
	}
}

// bulkAction reads the bulk form's action and its parameter, adding
// errors to f. Moving users between centers is a superuser's alone, for
// every row alike, so asking for it otherwise is a 403.
//
// The actions refuse the caller's own row whenever they would change it:
// deactivating oneself or changing one's own role (a demotion, most
// likely) would lock an admin out of the console for good, and either, or
// a move to another center, would end the very session that asked. Another
// superuser or admin can do it, deliberately, from their own session.
func (c *Console) bulkAction(ctx context.Context, v *visit, f form) (bulkAction, error) {
	switch action := f.Get("action"); action {
	case "activate", "deactivate":
		active := action == "activate"
		return bulkAction{
			refuse: func(actor, t domain.User) string {
				if !active && t.ID == actor.ID {
					return "you cannot deactivate yourself"
				}
				return manageRefusal(actor, t)
			},
			apply: func(ctx context.Context, users domain.CheckedUsers, actor domain.Actor, ids []uuid.UUID) ([]domain.User, error) {
				return users.SetActive(ctx, actor, active, ids...)
			},
			changed: func(b, a domain.User) bool { return b.IsActive != a.IsActive },
		}, nil
	case "change_role":
		role := domain.Role(f.Get("new_role"))
		if !role.Valid() {
			f.add("new_role", "choose a role")
		}
		return bulkAction{
			refuse: func(actor, t domain.User) string {
				switch {
				case !actor.ChangesRoleOf(t):
					return manageRefusal(actor, t)
				case t.ID == actor.ID && t.Role != role:
					return "you cannot change your own role"
				}
				return ""
			},
			apply: func(ctx context.Context, users domain.CheckedUsers, actor domain.Actor, ids []uuid.UUID) ([]domain.User, error) {
				return users.ChangeRole(ctx, actor, role, ids...)
			},
			changed: func(b, a domain.User) bool { return b.Role != a.Role },
		}, nil
	case "change_center":
		if !v.user.ManagesCenters() {
			return bulkAction{}, errForbidden("Only a superuser may move users to another center.")
		}
		target, err := c.centerParam(ctx, f, "new_center")
		if err != nil {
			return bulkAction{}, err
		}
		var center uuid.UUID
		switch {
		case target != nil:
			center = *target
		case f.Get("new_center") == "":
			f.add("new_center", "choose a center")
		}
		return bulkAction{
			refuse: func(actor, t domain.User) string {
				if t.ID == actor.ID && !t.MemberOf(center) {
					return "you cannot move yourself"
				}
				return ""
			},
			apply: func(ctx context.Context, users domain.CheckedUsers, actor domain.Actor, ids []uuid.UUID) ([]domain.User, error) {
				return users.ChangeCenter(ctx, actor, center, ids...)
			},
			changed: func(b, a domain.User) bool { return !sameCenter(b.CenterID, a.CenterID) },
		}, nil
	default:
		f.add("action", "choose an action")
		return bulkAction{}, nil
	}
}

func sameCenter(a, b *uuid.UUID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// refusal is a checked row the action was not applied to. As an error, it
// is a Rule's refusal of the write.
type refusal struct{ who, why string }

func (rf refusal) Error() string { return rf.who + " (" + rf.why + ")" }

// userBulk applies the bulk action of the list's form to the checked rows:
// each row is allowed or refused, with its reason, by the permission
// methods; the allowed ones change in one domain call, one transaction, so
// that a domain error (say, the new center was just deleted) changes
// nothing. The write decides again on the rows it locks, with the same
// judge: a row that another process changed in between so that the caller
// may no longer change it (moved to another center, made a superuser)
// refuses the whole write, and the list comes back saying so. The report
// counts the rows whose state did change (some may already have been as
// asked) and names the refused ones, then the browser returns to the list
// it came from.
func (c *Console) userBulk(w http.ResponseWriter, r *http.Request, v *visit) error {
	back, q := usersBack(r.PostForm.Get("back"))
	f := newForm(r.PostForm)
	act, err := c.bulkAction(r.Context(), v, f)
	if err != nil {
		return err
	}
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, s := range r.PostForm["ids"] {
		id, err := uuid.Parse(s)
		if err != nil {
			f.add("", fmt.Sprintf("%q is not a user's id.", s))
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	switch {
	case len(r.PostForm["ids"]) == 0:
		f.add("", "Check at least one user.")
	case len(ids) > domain.MaxLimit:
		f.add("", fmt.Sprintf("Check at most %d users at once.", domain.MaxLimit))
	}
	if f.invalid() {
		return c.renderUsers(w, r, v, q, f, http.StatusBadRequest)
	}
	found, _, err := c.st.Users.List(r.Context(), domain.ListOptions{IDs: ids, IncludeInactive: true, Limit: domain.MaxLimit})
	if err != nil {
		return err
	}
	before := make(map[uuid.UUID]domain.User, len(found))
	for _, u := range found {
		before[u.ID] = u
	}
	var allowed []uuid.UUID
	var refused []refusal
	for _, id := range ids {
		t, ok := before[id]
		if !ok {
			refused = append(refused, refusal{id.String(), unseen})
			continue
		}
		if rf := act.judge(v.user, t); rf != nil {
			refused = append(refused, *rf)
			continue
		}
		allowed = append(allowed, id)
	}
	changed := 0
	if len(allowed) > 0 {
		after, err := act.apply(r.Context(), c.st.Users.Checked(act.rule(v.user)), domain.By(v.user.ID), allowed)
		if errorsIn(f, err) {
			return c.renderUsers(w, r, v, q, f, http.StatusBadRequest)
		}
		if err != nil {
			return err
		}
		for _, a := range after {
			if act.changed(before[a.ID], a) {
				changed++
			}
		}
	}
	return c.redirect(w, r, back, bulkReport(changed, len(allowed)-changed, refused))
}

// bulkReport is a bulk action's result in a line: "2 changed, 1 already
// so; 1 refused: alice (reason)".
func bulkReport(changed, same int, refused []refusal) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d changed", changed)
	if same > 0 {
		fmt.Fprintf(&b, ", %d already so", same)
	}
	if len(refused) > 0 {
		fmt.Fprintf(&b, "; %d refused: ", len(refused))
		for i, rf := range refused {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%s)", rf.who, rf.why)
		}
	}
	b.WriteByte('.')
	return b.String()
}

// errorsIn puts a domain error about the input in f, as errors of the
// form as a whole saying that nothing changed; it reports whether err was
// one. The bulk form has no field for the domain's names (center, ids).
// The write's refusals (bulkAction.rule), joined, are each named.
func errorsIn(f form, err error) bool {
	var (
		ve *domain.ValidationError
		rf refusal
	)
	switch {
	case errors.As(err, &rf):
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, e := range errs {
			if errors.As(e, &rf) {
				f.add("", "Nothing changed: refused "+rf.Error()+".")
			}
		}
	case errors.As(err, &ve):
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			for _, m := range ve.Fields[k] {
				f.add("", fmt.Sprintf("Nothing changed: %s: %s.", k, m))
			}
		}
	case errors.Is(err, domain.ErrNotFound):
		f.add("", "Nothing changed: "+err.Error()+".")
	default:
		return false
	}
	return true
}

// userFormView is the data of the pages with a user's form: creating one,
// a user's profile, setting a password.
type userFormView struct {
	Form   form
	Target domain.User    // the user shown; zero when creating one
	Center *domain.Center // the target's center; for the creating admin, their own
	// Role and Centers are the create form's choices; Centers is empty
	// for an admin, whose users join their own center.
	Role, Centers fieldView
	// What the caller may do: Superuser, create anyone; Edit, change
	// the target's profile, password and tokens; Rename, the username.
	Superuser, Edit, Rename bool
	// Self: the target is the caller, who must give the current password
	// to set a new one.
	Self bool
}

// centerOf returns the center a user belongs to, or nil for none.
func (c *Console) centerOf(r *http.Request, id *uuid.UUID) (*domain.Center, error) {
	if id == nil {
		return nil, nil
	}
	ct, err := c.st.Centers.Get(r.Context(), *id)
	if err != nil {
		return nil, fmt.Errorf("reading the user's center: %w", err)
	}
	return &ct, nil
}

// mayCreate refuses the create form to those who create no one: users
// and viewers.
func mayCreate(v *visit) error {
	if !v.user.Privileged() {
		return errForbidden("Only a superuser or an admin may create users.")
	}
	return nil
}

// renderCreate renders the new-user form of f. It is built last, after
// the domain's errors: its selects take their errors when built.
func (c *Console) renderCreate(w http.ResponseWriter, r *http.Request, v *visit, status int, f form) error {
	fv := userFormView{Form: f, Superuser: v.user.IsSuperuser}
	if f.Get("role") == "" {
		f.values.Set("role", string(domain.RoleUser))
	}
	fv.Role = newChoice(f, "role", "Role", rolePairs()...)
	if v.user.IsSuperuser {
		centers, err := c.centerChoices(r.Context())
		if err != nil {
			return err
		}
		fv.Centers = centerField(f, centers, "center", "Center", "No center (superusers only)", true)
	} else {
		var err error
		if fv.Center, err = c.centerOf(r, v.user.CenterID); err != nil {
			return err
		}
	}
	return c.render(w, r, v, status, "users_new", "New user", fv, usersCrumb)
}

func (c *Console) userNew(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := mayCreate(v); err != nil {
		return err
	}
	return c.renderCreate(w, r, v, http.StatusOK, newForm(nil))
}

// userCreate creates a user: a superuser anyone, an admin members of
// their own center who are no superusers (the center they do not choose),
// as the API's create; whether the caller Manages the user-to-be decides.
// The password is optional (without one the user signs in with tokens
// only) and typed twice.
func (c *Console) userCreate(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := mayCreate(v); err != nil {
		return err
	}
	f := newForm(r.PostForm)
	in := domain.UserInput{Username: f.Get("username"), Email: f.Get("email"), FirstName: f.Get("first_name"),
		LastName: f.Get("last_name"), Phone: f.Get("phone"), Role: domain.Role(f.Get("role")),
		IsSuperuser: f.Get("is_superuser") != "", CenterID: v.user.CenterID}
	if s := f.Get("center"); s != "" {
		// A malformed id is bad input, beside the field (or above the
		// form, for an admin, who has none), not a center to refuse.
		if id, err := uuid.Parse(s); err != nil {
			f.addFor("center", "choose a center from the list", createFields(v))
		} else {
			in.CenterID = &id
		}
	} else if v.user.IsSuperuser {
		in.CenterID = nil
	}
	if !v.user.Manages(domain.User{CenterID: in.CenterID, IsSuperuser: in.IsSuperuser, Role: in.Role}) {
		return errForbidden("An admin may create users only in their own center, and no superusers.")
	}
	in.Password = newPassword(f)
	if !f.invalid() {
		u, err := c.st.Users.Create(r.Context(), domain.By(v.user.ID), in)
		if err == nil {
			return c.redirect(w, r, userPath(u.ID), "User "+u.Username+" created.")
		}
		if !f.fromError(err, createFields(v)...) {
			return err
		}
	}
	return c.renderCreate(w, r, v, http.StatusBadRequest, f)
}

// createFields are the inputs the create form shows v: the center and
// superuser fields to a superuser only (an admin's users join the admin's
// center).
func createFields(v *visit) []string {
	fields := []string{"username", "email", "first_name", "last_name", "phone", "role", "password", "password2"}
	if v.user.IsSuperuser {
		fields = append(fields, "center", "is_superuser")
	}
	return fields
}

// profileFields are the inputs of t's profile form shown to v: the
// username only to a manager of t, who may change it.
func profileFields(v *visit, t domain.User) []string {
	fields := []string{"email", "first_name", "last_name", "phone"}
	if v.user.Manages(t) {
		fields = append(fields, "username")
	}
	return fields
}

// newPassword reads a password typed twice, fields password and
// password2: nil when both are empty, else the password, with an error
// beside password2 when the two differ. Its length is the domain's to
// check.
func newPassword(f form) *string {
	p, again := f.Get("password"), f.Get("password2")
	if p == "" && again == "" {
		return nil
	}
	if p != again {
		f.add("password2", "the two passwords do not match")
	}
	return &p
}

// renderProfile renders t's page, its form filled from f, or from the
// user when f is nil.
func (c *Console) renderProfile(w http.ResponseWriter, r *http.Request, v *visit, status int, t domain.User, f *form) error {
	if f == nil {
		nf := newForm(url.Values{"username": {t.Username}, "email": {t.Email}, "first_name": {t.FirstName},
			"last_name": {t.LastName}, "phone": {t.Phone}})
		f = &nf
	}
	ct, err := c.centerOf(r, t.CenterID)
	if err != nil {
		return err
	}
	return c.render(w, r, v, status, "users_detail", t.Username, userFormView{Form: *f, Target: t, Center: ct,
		Superuser: v.user.IsSuperuser, Edit: managesOrSelf(v.user, t), Rename: v.user.Manages(t)}, usersCrumb)
}

func (c *Console) userDetail(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := c.visibleUser(r, v)
	if err != nil {
		return err
	}
	return c.renderProfile(w, r, v, http.StatusOK, t, nil)
}

// userSave saves a user's profile: the users the caller Manages, and the
// caller's own, but only a manager may change a username (the API's
// rule). Center, role and activity are the bulk actions'.
func (c *Console) userSave(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := c.ownOrManagedUser(r, v, "You may change only your own profile.")
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	p := domain.UserProfile{Username: t.Username, Email: f.Get("email"), FirstName: f.Get("first_name"),
		LastName: f.Get("last_name"), Phone: f.Get("phone")}
	if v.user.Manages(t) {
		p.Username = f.Get("username")
	} else if _, sent := r.PostForm["username"]; sent && f.Get("username") != t.Username {
		return errForbidden("Only an administrator may change a username.")
	}
	u, err := c.st.Users.Update(r.Context(), domain.By(v.user.ID), t.ID, p)
	if err == nil {
		return c.redirect(w, r, userPath(u.ID), "User "+u.Username+" saved.")
	}
	if !f.fromError(err, profileFields(v, t)...) {
		return err
	}
	return c.renderProfile(w, r, v, http.StatusBadRequest, t, &f)
}

// passwordTarget is the user whose password the path names, if the caller
// may set it.
func (c *Console) passwordTarget(r *http.Request, v *visit) (domain.User, error) {
	return c.ownOrManagedUser(r, v, "You may set only your own password.")
}

func (c *Console) passwordForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := c.passwordTarget(r, v)
	if err != nil {
		return err
	}
	return c.renderPassword(w, r, v, http.StatusOK, t, newForm(nil))
}

// renderPassword renders the form setting t's password.
func (c *Console) renderPassword(w http.ResponseWriter, r *http.Request, v *visit, status int, t domain.User, f form) error {
	return c.render(w, r, v, status, "users_password", "Set password", userFormView{Form: f, Target: t, Self: t.ID == v.user.ID},
		usersCrumb, userCrumb(t))
}

// checkCurrentPassword adds an error beside current_password unless f
// holds v's user's password, checked through the sign-in's throttle: a
// stolen session must not be enough to take the account for good, as
// Django's PasswordChangeForm asks for the old password.
func (c *Console) checkCurrentPassword(r *http.Request, v *visit, f form) error {
	current := f.Get("current_password")
	if current == "" {
		f.add("current_password", msgRequired)
		return nil
	}
	retry, err := c.th.Do(r, v.user.Username, func() error {
		_, err := c.st.Users.Authenticate(r.Context(), v.user.Username, current)
		return err
	})
	switch {
	case retry > 0:
		f.add("current_password", "Too many wrong passwords. Try again in "+throttle.RetryAfter(retry)+" seconds.")
	case errors.Is(err, domain.ErrInvalidCredentials):
		f.add("current_password", "Your current password was entered incorrectly.")
	case err != nil:
		return fmt.Errorf("checking the current password: %w", err)
	}
	return nil
}

// passwordSet sets a password typed twice. A new password ends the user's
// sessions (a trigger does); setting one's own starts a new session for
// this browser, as Django keeps the session of who changed it, so that
// only the other sign-ins end.
func (c *Console) passwordSet(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := c.passwordTarget(r, v)
	if err != nil {
		return err
	}
	f := newForm(r.PostForm)
	self := t.ID == v.user.ID
	if self {
		if err := c.checkCurrentPassword(r, v, f); err != nil {
			return err
		}
	}
	p := newPassword(f)
	if p == nil {
		f.add("password", msgRequired)
	}
	if !f.invalid() {
		err := c.st.Users.SetPassword(r.Context(), domain.By(v.user.ID), t.ID, p)
		if err == nil {
			if self {
				if err := c.startSession(w, r, t.ID); err != nil {
					return err
				}
			}
			return c.redirect(w, r, userPath(t.ID), "Password of "+t.Username+" changed; the sessions it had were signed out.")
		}
		if !f.fromError(err, "password", "password2") {
			return err
		}
	}
	return c.renderPassword(w, r, v, http.StatusBadRequest, t, f)
}
