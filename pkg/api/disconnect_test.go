package api_test

import (
	"bufio"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestClientHangsUpMidResponse: a client that closes its connection while
// a large 200 is being written is a client disconnect, logged as such. It
// is not a database outage, and no second header follows the first
// (net/http's "superfluous response.WriteHeader call").
func TestClientHangsUpMidResponse(t *testing.T) {
	e := setup(t)
	// 300 samples of 60 kB: a page of about 18 MB, more than the kernel
	// buffers between server and client hold.
	samples := pgx.Identifier{e.ist.SchemaName, "samples"}.Sanitize()
	if _, err := e.db.Pool.Exec(e.ctx, `INSERT INTO `+samples+` (name, sample_type, barcode, user_id, metadata)
		SELECT 'big', 'blood', 'BIG-' || i, $1, jsonb_build_object('pad', repeat('x', 60000))
		FROM generate_series(1, 300) AS i`, e.users["super"].ID); err != nil {
		t.Fatal(err)
	}
	var httpLog syncBuffer
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.Config.ErrorLog = log.New(&httpLog, "", 0)
	ts.Start()
	t.Cleanup(ts.Close)

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Write([]byte("GET " + samplesPath(e.ist) + "?limit=500 HTTP/1.1\r\nHost: test\r\n" +
		"Authorization: Bearer " + e.tokens["super"] + "\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q, %v", status, err)
	}
	conn.Close() // with most of the body unread

	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(e.logs.String(), `"msg":"request"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no request log line within 20 s; log:\n%s", e.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"client disconnected"`) {
		t.Errorf("no client disconnect logged:\n%s", logs)
	}
	if strings.Contains(logs, "database unavailable") || strings.Contains(logs, "internal error") {
		t.Errorf("a client's hang-up logged as a server fault:\n%s", logs)
	}
	if s := httpLog.String(); strings.Contains(s, "superfluous") {
		t.Errorf("net/http: %s", s)
	}
}
