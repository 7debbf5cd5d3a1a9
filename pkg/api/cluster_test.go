package api_test

import (
	"testing"

	"github.com/tenantctl/tenantctl/pkg/domain"
)

// TestClusterOnPostgres: on PostgreSQL the cluster is the one server the
// API connects to, holding every center, a soft-deleted one too, and their
// sizes as stats/ gives them. Without a token it is a 401 (the 403 of
// other callers is in TestPermissions).
func TestClusterOnPostgres(t *testing.T) {
	e := setup(t)
	if _, err := e.st.Centers.SoftDelete(e.ctx, domain.System, e.ank.ID); err != nil {
		t.Fatal(err)
	}
	centers := e.expect(e.do("GET", "/api/centers/?include_inactive=true", "super", ""), 200, "centers").results()
	var size float64
	for _, c := range centers {
		st := e.expect(e.do("GET", "/api/centers/"+c["id"].(string)+"/stats/", "super", ""), 200, "stats")
		size += st.body["schema"].(map[string]any)["size_bytes"].(float64)
	}
	r := e.expect(e.do("GET", "/api/cluster/", "super", ""), 200, "cluster")
	hasKeys(t, "cluster", r.body, "citus", "nodes")
	nodes, _ := r.body["nodes"].([]any)
	if r.body["citus"] != false || len(nodes) != 1 {
		t.Fatalf("cluster: %s; want one PostgreSQL node", r.raw)
	}
	node := nodes[0].(map[string]any)
	hasKeys(t, "node", node, "host", "port", "tenants", "size_bytes")
	cc := e.db.Pool.Config().ConnConfig
	if node["host"] != cc.Host || node["port"] != float64(cc.Port) || node["tenants"] != float64(len(centers)) ||
		node["size_bytes"] != size || len(centers) != 2 || size == 0 {
		t.Errorf("node %v; want %s:%d with the %d centers and their %v bytes", node, cc.Host, cc.Port, len(centers), size)
	}
	e.expect(e.do("GET", "/api/cluster/", "", ""), 401, "cluster without a token")
}
