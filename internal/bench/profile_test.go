package bench

import (
	"testing"
	"time"
)

func TestParseTraces(t *testing.T) {
	traces := `File: benchrun
Type: cpu
Duration: 15s, Total samples = 13.26s (88.40%)
-----------+-------------------------------------------------------
     790ms   internal/runtime/syscall/linux.Syscall6
             syscall.Write (inline)
             net/http.(*response).Write
             encoding/json.(*Encoder).Encode
             github.com/tenantctl/tenantctl/pkg/api.encodeJSON
-----------+-------------------------------------------------------
     100ms   runtime.mallocgc
             runtime.newobject
             encoding/json.(*encodeState).marshal
             github.com/tenantctl/tenantctl/pkg/api.encodeJSON
-----------+-------------------------------------------------------
      60ms   runtime.memmove
             encoding/hex.Encode (inline)
             github.com/jackc/pgx/v5/pgtype.(*UUIDCodec).Encode
-----------+-------------------------------------------------------
      40ms   runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
      10ms   github.com/olekukonko/whatever
-----------+-------------------------------------------------------
`
	shares, total, err := parseTraces(traces)
	if err != nil {
		t.Fatal(err)
	}
	if total != time.Second {
		t.Errorf("total %v, want 1s", total)
	}
	want := []share{
		{"system calls (network reads and writes, the access log)", 79},
		{"JSON encoding", 10},
		{"pgx (PostgreSQL protocol, encoding and decoding)", 6},
		{"the Go runtime (GC, scheduling)", 4},
		{"other", 1},
	}
	if len(shares) != len(want) {
		t.Fatalf("shares %v, want %v", shares, want)
	}
	for i := range want {
		if shares[i] != want[i] {
			t.Errorf("share %d: %v, want %v", i, shares[i], want[i])
		}
	}
	if _, _, err := parseTraces("nothing here\n"); err == nil {
		t.Error("output without samples was accepted")
	}
}
