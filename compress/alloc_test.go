//go:build !race

package compress

import (
	"bytes"
	"io"
	"testing"
)

// TestAllocations: negotiating costs nothing; compressing an answer in
// memory costs nothing once the pools are warm, nor does a streamed one
// beyond what the libraries allocate for each flush (zstd a block header,
// brotli its padding: one or two small arrays per piece handed on).
func TestAllocations(t *testing.T) {
	accept := []byte("gzip, deflate, br;q=0.9, zstd;q=0.8, *;q=0.1")
	offered := []Encoding{Zstd, Brotli, Gzip}
	if n := testing.AllocsPerRun(100, func() { Negotiate(accept, offered) }); n != 0 {
		t.Errorf("Negotiate: %v allocations", n)
	}
	src := bytes.Repeat([]byte(`{"id":12345,"name":"a name","tags":["x","y"]},`), 200)
	perFlush := map[Encoding]float64{Gzip: 0, Zstd: 1, Brotli: 2}
	for _, e := range offered {
		p := mustPool(t, e, defaultLevel(e))
		dst := make([]byte, 0, 64<<10)
		if n := testing.AllocsPerRun(50, func() {
			var err error
			if dst, err = p.AppendCompressed(dst[:0], src); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%v AppendCompressed: %v allocations", e, n)
		}
		r := bytes.NewReader(src)
		if n := testing.AllocsPerRun(50, func() {
			r.Reset(src)
			s := p.NewStream(r, nil)
			if _, err := s.WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}); n > perFlush[e] {
			t.Errorf("%v Stream of one piece: %v allocations, want at most %v", e, n, perFlush[e])
		}
	}
}
