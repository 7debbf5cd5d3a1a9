package admin

import (
	"cmp"
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

}

// centerListView is the list's data.
type centerListView struct {
	Form     form
	Query    url.Values
	Search   fieldView
	Active   fieldView
	Ordering fieldView
	Sort     map[string]sortLink // by CenterOrderKeys
	Rows     []centerRow
	Pager    pager
	// Invalid says the query had errors, so no list was read.
	Invalid bool
	Manages bool
}

// centerRow is a center as the list shows it.
type centerRow struct {
	domain.Center
	Summary string // the description, cut to fit a cell
}

// sortLink is a column heading's link: the ordering it switches to, and
// the direction the list is sorted by that column now, if it is.
type sortLink struct {
	Href string
	// Aria is the heading's aria-sort: "ascending", "descending" or "".
	Aria string
}

// orderingLabels name the orderings in the list's "Sort by" choice.
var orderingLabels = map[string]string{
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
	lv := centerListView{Form: f, Query: q, Manages: v.user.ManagesCenters()}
	status := http.StatusOK
	if !f.invalid() {
		items, count, err := c.st.Centers.List(r.Context(), opts)
		if err != nil && !f.fromError(err) {
			return err
		}
		for _, ct := range items {
			lv.Rows = append(lv.Rows, centerRow{Center: ct, Summary: text.Truncate(ct.Description, summaryLen)})
		}
		lv.Pager = newPager(q, count, opts.Offset)
	}
	if f.invalid() {
		lv.Invalid, status = true, http.StatusBadRequest
	}
	lv.Search = newField(f, "search", "Search name or description", "search")
	lv.Active = newChoice(f, "active", "Status", "all", "All", "true", "Active", "false", "Soft-deleted")
	var pairs []string
	for _, o := range domain.CenterOrderings() {
		pairs = append(pairs, o, cmp.Or(orderingLabels[o], o))
	}
	lv.Ordering = newChoice(f, "ordering", "Sort by", pairs...)
	lv.Sort = sortLinks(q, domain.CenterOrderKeys, cmp.Or(q.Get("ordering"), domain.DefaultCenterOrdering))
	return c.render(w, r, v, status, "centers_list", "Centers", lv)
}

// sortLinks returns each key's column heading link: sorted by that key
// ascending, or descending if the list is sorted by it ascending now. A
// new order starts again from the first page.
func sortLinks(q url.Values, keys []string, current string) map[string]sortLink {
	out := make(map[string]sortLink, len(keys))
	for _, k := range keys {
		l := sortLink{Href: withQuery(q, "ordering", k, "offset", "")}
		switch current {
		case k:
			l = sortLink{Href: withQuery(q, "ordering", "-"+k, "offset", ""), Aria: "ascending"}
		case "-" + k:
			l.Aria = "descending"
		}
		out[k] = l
	}
	return out
}
