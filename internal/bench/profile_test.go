package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestProfileShares reads a CPU profile as pprof writes it: each sample's
// stack leaf first, inlined calls as lines of one location.
func TestProfileShares(t *testing.T) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     int64(10 * time.Millisecond),
	}
	funcs := map[string]*profile.Function{}
	// stack adds a sample of d; a frame "a+b" is a location where a was
	// inlined into b.
	stack := func(d time.Duration, frames ...string) {
		s := &profile.Sample{Value: []int64{int64(d) / p.Period, int64(d)}}
		for _, fr := range frames {
			loc := &profile.Location{ID: uint64(len(p.Location) + 1)}
			for _, name := range strings.Split(fr, "+") {
				f, ok := funcs[name]
				if !ok {
					f = &profile.Function{ID: uint64(len(p.Function) + 1), Name: name}
					funcs[name] = f
					p.Function = append(p.Function, f)
				}
				loc.Line = append(loc.Line, profile.Line{Function: f})
			}
			p.Location = append(p.Location, loc)
			s.Location = append(s.Location, loc)
		}
		p.Sample = append(p.Sample, s)
	}
	p.DurationNanos = int64(time.Second)
	stack(790*time.Millisecond, "internal/runtime/syscall/linux.Syscall6", "syscall.Write+net/http.(*response).Write",
		"encoding/json.(*Encoder).Encode", "github.com/tenantctl/tenantctl/pkg/api.encodeJSON")
	stack(100*time.Millisecond, "runtime.mallocgc", "runtime.newobject", "encoding/json.(*encodeState).marshal",
		"github.com/tenantctl/tenantctl/pkg/api.encodeJSON")
	stack(60*time.Millisecond, "runtime.memmove+encoding/hex.Encode", "github.com/jackc/pgx/v5/pgtype.(*UUIDCodec).Encode")
	stack(40*time.Millisecond, "runtime.gcBgMarkWorker")
	stack(10*time.Millisecond, "github.com/olekukonko/whatever")
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	shares, total, err := profileShares(&buf)
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

	p.Sample = nil
	buf.Reset()
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if _, _, err := profileShares(&buf); err == nil {
		t.Error("a profile without samples was accepted")
	}
	if _, _, err := profileShares(strings.NewReader("nothing here\n")); err == nil {
		t.Error("text that is no profile was accepted")
	}
}
