package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// The documents of the registry commands. With -o json|yaml one record is
// printed as itself (the API's JSON, plus a few read-only conveniences) and
// a list as {"count": N, "results": [...]}, N counting every match, not only
// the page shown.

// centerDoc is a center as the API shows it.
type centerDoc struct {
	domain.Center
}

type centerList struct {
	Count   int         `json:"count"`
	Results []centerDoc `json:"results"`
}

func newCenterList(cs []domain.Center, count int) centerList {
	l := centerList{Count: count, Results: make([]centerDoc, len(cs))}
	for i, c := range cs {
		l.Results[i] = centerDoc{c}
	}
	return l
}

func (l centerList) Tables() []Table {
	t := Table{Header: []string{"ID", "NAME", "SCHEMA", "ACTIVE", "CREATED"}}
	for _, c := range l.Results {
		t.Rows = append(t.Rows, []string{c.ID.String(), c.Name, c.SchemaName, yesNo(c.IsActive), fmtTime(c.CreatedAt)})
	}
	return []Table{t}
}

func (c centerDoc) Tables() []Table {
	return []Table{fields(
		"ID", c.ID.String(),
		"NAME", c.Name,
		"SCHEMA", c.SchemaName,
		"DESCRIPTION", c.Description,
		"SETTINGS", compactJSON(c.Settings),
		"ACTIVE", yesNo(c.IsActive),
		"CREATED", fmtTime(c.CreatedAt)+by(c.CreatedBy),
		"UPDATED", fmtTime(c.UpdatedAt)+by(c.UpdatedBy),
	)}
}

// userDoc is a user as the API shows it, with whether a password is set and
// the name of the user's center.
type userDoc struct {
	domain.User
	HasPassword bool   `json:"has_password"`
	CenterName  string `json:"center_name"`
}

type userList struct {
	Count   int       `json:"count"`
	Results []userDoc `json:"results"`
}

// centerNames maps center ids to names, for showing users.
type centerNames map[uuid.UUID]string

func (n centerNames) doc(u domain.User) userDoc {
	d := userDoc{User: u, HasPassword: u.HasPassword}
	if u.CenterID != nil {
		d.CenterName = n[*u.CenterID]
	}
	return d
}

func (n centerNames) list(us []domain.User, count int) userList {
	l := userList{Count: count, Results: make([]userDoc, len(us))}
	for i, u := range us {
		l.Results[i] = n.doc(u)
	}
	return l
}

func (l userList) Tables() []Table {
	t := Table{Header: []string{"ID", "USERNAME", "EMAIL", "CENTER", "ROLE", "SUPERUSER", "ACTIVE"}}
	for _, u := range l.Results {
		t.Rows = append(t.Rows, []string{u.ID.String(), u.Username, u.Email, u.CenterName, string(u.Role),
			yesNo(u.IsSuperuser), yesNo(u.IsActive)})
	}
	return []Table{t}
}

func (u userDoc) Tables() []Table {
	center := "-"
	if u.CenterID != nil {
		center = u.CenterName + " (" + u.CenterID.String() + ")"
	}
	return []Table{fields(
		"ID", u.ID.String(),
		"USERNAME", u.Username,
		"EMAIL", u.Email,
		"FIRST NAME", u.FirstName,
		"LAST NAME", u.LastName,
		"PHONE", u.Phone,
		"CENTER", center,
		"ROLE", string(u.Role),
		"SUPERUSER", yesNo(u.IsSuperuser),
		"PASSWORD", map[bool]string{true: "set", false: "none (tokens only)"}[u.HasPassword],
		"ACTIVE", yesNo(u.IsActive),
		"CREATED", fmtTime(u.CreatedAt)+by(u.CreatedBy),
		"UPDATED", fmtTime(u.UpdatedAt)+by(u.UpdatedBy),
	)}
}

// sampleDoc is a sample as the API shows it, with its user's username.
type sampleDoc struct {
	domain.Sample
	Username string `json:"username"`
}

type sampleList struct {
	Count   int         `json:"count"`
	Results []sampleDoc `json:"results"`
}

func (l sampleList) Tables() []Table {
	t := Table{Header: []string{"BARCODE", "NAME", "TYPE", "STATUS", "USER", "ACTIVE", "CREATED"}}
	for _, s := range l.Results {
		t.Rows = append(t.Rows, []string{s.Barcode, s.Name, s.SampleType, string(s.Status), s.Username,
			yesNo(s.IsActive), fmtTime(s.CreatedAt)})
	}
	return []Table{t}
}

func (s sampleDoc) Tables() []Table {
	return []Table{fields(
		"ID", s.ID.String(),
		"BARCODE", s.Barcode,
		"NAME", s.Name,
		"DESCRIPTION", s.Description,
		"TYPE", s.SampleType,
		"STATUS", string(s.Status),
		"USER", s.Username+" ("+s.UserID.String()+")",
		"METADATA", compactJSON(s.Metadata),
		"ACTIVE", yesNo(s.IsActive),
		"CREATED", fmtTime(s.CreatedAt)+by(s.CreatedBy),
		"UPDATED", fmtTime(s.UpdatedAt)+by(s.UpdatedBy),
	)}
}

// fields is a two-column table of one record: name, value, name, value...
func fields(kv ...string) Table {
	t := Table{Header: []string{"FIELD", "VALUE"}}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Rows = append(t.Rows, []string{kv[i], oneLine(kv[i+1])})
	}
	return t
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// fmtTime shows a time in UTC to the second.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// by names the author of a change, if a user.
func by(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return " by " + id.String()
}

func compactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

// sentence lists items for a message: "a, b and c" with conj "and".
func sentence(items []string, conj string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}
