package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/tenantctl/tenantctl/pkg/domain"
	"github.com/tenantctl/tenantctl/tenancy"
	"github.com/tenantctl/tenantctl/tenancy/tenancyhttp"
)

var (
	sampleWritable = []string{"name", "description", "sample_type", "barcode", "user_id", "metadata"}
	// status is read-only too, but moves only by the transition actions:
	// sent back unchanged it is ignored, changed it is a 400.
	sampleReadOnly = []string{"id", "is_active", "created_at", "updated_at", "created_by", "updated_by"}
)

// sampleCenter returns the request's center (resolved by the tenant
// middleware) if the caller belongs to it (superusers belong everywhere).
func sampleCenter(r *http.Request) (uuid.UUID, error) {
	id, ok := tenancyhttp.FromContext(r.Context())
	if !ok || !caller(r).SeesCenter(id) {
		return uuid.Nil, errNotFound
	}
	return id, nil
}

// pathSample returns the request's center and the path's sample if the
// caller may see it, by the Store's VisibleSample, where the rule is.
// Parsing the request is the API's part.
func (s *Server) pathSample(r *http.Request) (uuid.UUID, domain.Sample, error) {
	cid, err := sampleCenter(r)
	if err != nil {
		return cid, domain.Sample{}, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return cid, domain.Sample{}, err
	}
	sm, err := s.st.VisibleSample(r.Context(), *caller(r), cid, id)
	return cid, sm, err
}

var errViewer = errForbidden("viewers have read-only access to samples")

func (s *Server) listSamples(w http.ResponseWriter, r *http.Request) error {
	return s.writeSamples(w, r, domain.Status(r.URL.Query().Get("status")))
}

// samplesByStatus is the list filtered by a status in the path; an
// unknown status is a 400, as it is in ?status=.
func (s *Server) samplesByStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := domain.ParseStatus(r.PathValue("status"))
	if err != nil {
		return err
	}
	return s.writeSamples(w, r, st)
}

func (s *Server) writeSamples(w http.ResponseWriter, r *http.Request, status domain.Status) error {
	cid, err := sampleCenter(r)
	if err != nil {
		return err
	}
	limit, offset, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := domain.SampleFilter{Status: status, SampleType: q.Get("sample_type"), Search: q.Get("search"),
		Ordering: q.Get("ordering"), Limit: limit, Offset: offset,
		IncludeInactive: caller(r).Privileged() && flag(r, "include_inactive")}
	if v := q.Get("user_id"); v != "" {
		id, err := tenancy.ParseID(v)
		if err != nil {
			return fieldError(map[string][]string{"user_id": {invalidID(v)}})
		}
		f.UserID = &id
	}
	items, count, err := s.st.Samples.List(r.Context(), cid, f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newPage(r, items, count, limit, offset))
}

func (s *Server) getSample(w http.ResponseWriter, r *http.Request) error {
	_, sm, err := s.pathSample(r)
	return ok(w, sm, err)
}

func (s *Server) sampleByBarcode(w http.ResponseWriter, r *http.Request) error {
	cid, err := sampleCenter(r)
	if err != nil {
		return err
	}
	sm, err := s.st.Samples.GetByBarcode(r.Context(), cid, r.PathValue("barcode"))
	if err == nil && !caller(r).SeesSample(sm) {
		err = errNotFound
	}
	return ok(w, sm, err)
}

func (s *Server) createSample(w http.ResponseWriter, r *http.Request) error {
	cid, err := sampleCenter(r)
	if err != nil {
		return err
	}
	u := caller(r)
	if !u.WritesSamples() {
		return errViewer
	}
	o, err := readObject(w, r, append(sampleWritable, "status"), sampleReadOnly)
	if err != nil {
		return err
	}
	o.require("name", "sample_type", "barcode")
	in := domain.SampleInput{}
	for f, dst := range map[string]*string{"name": &in.Name, "description": &in.Description,
		"sample_type": &in.SampleType, "barcode": &in.Barcode} {
		if v := o.str(f); v != nil {
			*dst = *v
		}
	}
	in.UserID, _ = o.id("user_id", true)
	if v := o.json("metadata"); v != nil {
		in.Metadata = *v
	}
	if v := o.str("status"); v != nil && domain.Status(*v) != domain.StatusPending {
		o.add("status", "new samples are pending; use the process, complete, reject and archive actions")
	}
	if err := o.err(); err != nil {
		return err
	}
	sm, err := s.st.Samples.Create(r.Context(), cid, domain.By(u.ID), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/centers/"+cid.String()+"/samples/"+sm.ID.String()+"/")
	return writeJSON(w, http.StatusCreated, sm)
}

// updateSample is PUT (name, sample_type and barcode required; others left
// out are kept, as in DRF) and PATCH. The sample is judged as the write
// locks it (CheckedSamples): two round trips, and no read before them to
// go stale.
func (s *Server) updateSample(partial bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		cid, id, err := s.writableSample(r)
		if err != nil {
			return err
		}
		o, err := readObject(w, r, append(sampleWritable, "status"), sampleReadOnly)
		if err != nil {
			return err
		}
		if !partial {
			o.require("name", "sample_type", "barcode")
		}
		p := domain.SamplePatch{Name: o.str("name"), Description: o.str("description"),
			SampleType: o.str("sample_type"), Barcode: o.str("barcode"), Metadata: o.json("metadata")}
		p.UserID, _ = o.id("user_id", false)
		status := o.str("status")
		if err := o.err(); err != nil {
			return err
		}
		u := caller(r)
		seen := domain.SeenBy(*u)
		sm, err := s.st.Samples.Checked(func(cur domain.Sample) error {
			if err := seen(cur); err != nil {
				return err
			}
			if status != nil && domain.Status(*status) != cur.Status {
				return fieldError(map[string][]string{"status": {"cannot be changed here; use the process, complete, reject and archive actions"}})
			}
			return nil
		}).Patch(r.Context(), cid, domain.By(u.ID), id, p)
		return ok(w, sm, err)
	}
}

// writableSample returns the request's center and the path's sample id if
// the caller may write samples. A viewer is told it may not only about a
// sample it sees (pathSample), as by the transitions.
func (s *Server) writableSample(r *http.Request) (uuid.UUID, uuid.UUID, error) {
	cid, err := sampleCenter(r)
	if err != nil {
		return cid, uuid.Nil, err
	}
	if !caller(r).WritesSamples() {
		if _, _, err := s.pathSample(r); err != nil {
			return cid, uuid.Nil, err
		}
		return cid, uuid.Nil, errViewer
	}
	id, err := pathID(r, "id")
	return cid, id, err
}

func (s *Server) deleteSample(w http.ResponseWriter, r *http.Request) error {
	cid, err := sampleCenter(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u := caller(r)
	seen := domain.SeenBy(*u)
	_, err = s.st.Samples.Checked(func(cur domain.Sample) error {
		if err := seen(cur); err != nil {
			return err
		}
		if !u.DeletesSamples() {
			return errForbidden("only a superuser or an admin may delete samples")
		}
		return nil
	}).SoftDelete(r.Context(), cid, domain.By(u.ID), id)
	return noContent(w, err)
}

// transitionSample applies action (process, complete, reject, archive);
// a status the action does not start from is a 409. A body, if any, is
// ignored. For a caller who may act, the sample's visibility is checked by
// the transition's own statement: one transaction, not a read before it.
func (s *Server) transitionSample(action domain.Action) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		cid, id, err := s.writableSample(r)
		if err != nil {
			return err
		}
		u := caller(r)
		sm, err := s.st.Samples.Transition(r.Context(), cid, domain.By(u.ID), id, action, !u.Privileged())
		return ok(w, sm, err)
	}
}
