package admin

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// pageSize is the rows of a list page, as Django's admin shows 100.
const pageSize = 50

// pager is a list page's place in the list, as the "pager" partial draws
// it: links keep every other parameter of the query.
type pager struct {
	Count, From, To int
	Prev, Next      string // query strings; "" at either end
	Pages           bool   // more than one page
}

// maxOffset bounds a list's offset: far past any list's end, and far
// from the int's limit, where offset+pageSize would wrap negative and the
// pager link to nonsense.
const maxOffset = 1_000_000_000

// listOffset reads a list's offset parameter; anything but a whole
// number from 0 to maxOffset is an error. The offset has no input (the
// pager's links set it), so its error is the list's as a whole, shown
// above the rows by "formerrors", as a domain error about it is
// (fromError).
func listOffset(q url.Values, f form) int {
	s := q.Get("offset")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxOffset {
		f.add("", "offset: must be a whole number from 0 to "+strconv.Itoa(maxOffset))
		return 0
	}
	return n
}

// listFoot is what the "listfoot" partial draws below a list's rows: the
// empty state and the pager, or nothing when the query was invalid, as
// no list was read then. Every list does the same with a bad query:
// status 400, no rows, the errors beside the filters or above the list.
type listFoot struct {
	Pager   pager
	Invalid bool
	Empty   string // what to say when nothing matches
}

// sortHead is a sortable column heading, as the "sorthead" partial draws
// it.
type sortHead struct {
	Label, Class string
	Link         sortLink
}

// newSortHead is the heading of column key of a list sorted as links say
// (sortLinks); class is the cell's, such as hide-sm.
func newSortHead(links map[string]sortLink, key, label, class string) sortHead {
	return sortHead{Label: label, Class: class, Link: links[key]}
}

// orderingChoice is a list's "Sort by" select over the domain's
// orderings, labelled by labels, def selected when the query names none.
// An ordering the query names that is none of them (several keys, as the
// API takes them) is kept, under its own name.
func orderingChoice(f form, orderings []string, labels map[string]string, def string) fieldView {
	current := cmp.Or(f.Get("ordering"), def)
	pairs := make([]string, 0, 2*len(orderings)+2)
	for _, o := range orderings {
		pairs = append(pairs, o, cmp.Or(labels[o], o))
	}
	if !slices.Contains(orderings, current) {
		pairs = append(pairs, current, current)
	}
	fv := newChoice(f, "ordering", "Sort by", pairs...)
	for i := range fv.Options {
		fv.Options[i].Selected = fv.Options[i].Value == current
	}
	return fv
}

func newPager(q url.Values, count, offset int) pager {
	p := pager{Count: count, Pages: count > pageSize}
	if count > 0 && offset < count {
		p.From, p.To = offset+1, min(offset+pageSize, count)
	}
	switch {
	case offset > pageSize:
		p.Prev = withQuery(q, "offset", strconv.Itoa(offset-pageSize))
	case offset > 0:
		p.Prev = withQuery(q, "offset", "") // the first page has no offset
	}
	if offset+pageSize < count {
		p.Next = withQuery(q, "offset", strconv.Itoa(offset+pageSize))
	}
	return p
}

// triState reads a filter that is true, false or absent ("" or "all").
func triState(q url.Values, name string, f form) *bool {
	switch q.Get(name) {
	case "", "all":
		return nil
	case "true":
		t := true
		return &t
	case "false":
		t := false
		return &t
	}
	f.add(name, "must be true, false or all")
	return nil
}

// listDefaults are the options every list starts from.
func listDefaults(offset int) domain.ListOptions {
	return domain.ListOptions{Limit: pageSize, Offset: offset}
}

// sortLink is a sortable column heading's link: the ordering it switches
// to, and how the list is sorted by that column now, if it is.
type sortLink struct {
	Href string
	// Aria is the heading's aria-sort: "ascending", "descending" or "".
	Aria string
	// Arrow shows Aria to the eye: "▲", "▼" or "".
	Arrow string
}

// sortLinks returns each key's column heading link: sorted by that key
// ascending, or descending if the list is sorted by it ascending now
// (current is the list's ordering). A new order starts again from the
// first page.
func sortLinks(q url.Values, keys []string, current string) map[string]sortLink {
	out := make(map[string]sortLink, len(keys))
	for _, k := range keys {
		l := sortLink{Href: withQuery(q, "ordering", k, "offset", "")}
		switch current {
		case k:
			l = sortLink{Href: withQuery(q, "ordering", "-"+k, "offset", ""), Aria: "ascending", Arrow: "▲"}
		case "-" + k:
			l.Aria, l.Arrow = "descending", "▼"
		}
		out[k] = l
	}
	return out
}
