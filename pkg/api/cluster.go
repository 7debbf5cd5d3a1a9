package api

import (
	"net/http"
)

// clusterBody is GET /api/cluster/'s body: where the centers' schemas
// live (tenancy.Cluster).
type clusterBody struct {
	// Citus says the database is a Citus coordinator.
	Citus bool          `json:"citus"`
	Nodes []clusterNode `json:"nodes"`
}

// clusterNode is a server holding center schemas: on PostgreSQL the one
// the API connects to, on Citus a primary node of pg_dist_node.
type clusterNode struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// Tenants counts the center schemas on the node, soft-deleted
	// centers' included; SizeBytes sums their sizes as stats/ gives them.
	Tenants   int   `json:"tenants"`
	SizeBytes int64 `json:"size_bytes"`
}

// cluster lists the nodes with the centers on each: superusers only, as
// it tells of every center.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request) error {
	if !caller(r).ManagesCenters() {
		return errSuperuserOnly
	}
	cl, err := s.st.Tenancy().Cluster(r.Context())
	if err != nil {
		return err
	}
	body := clusterBody{Citus: cl.Citus, Nodes: make([]clusterNode, len(cl.Nodes))}
	for i, n := range cl.Nodes {
		body.Nodes[i] = clusterNode{Host: n.Host, Port: n.Port, Tenants: n.Tenants, SizeBytes: n.SizeBytes}
	}
	return writeJSON(w, http.StatusOK, body)
}
