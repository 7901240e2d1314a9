package gateway

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// frame builds one frame: opcode op, payload of n bytes, masked or not.
func frame(op byte, n int, masked bool) []byte {
	var f []byte
	f = append(f, 0x80|op)
	var m byte
	if masked {
		m = 0x80
	}
	switch {
	case n < 126:
		f = append(f, m|byte(n))
	case n < 1<<16:
		f = append(f, m|126, 0, 0)
		binary.BigEndian.PutUint16(f[2:], uint16(n))
	default:
		f = append(f, m|127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(f[2:], uint64(n))
	}
	if masked {
		f = append(f, 1, 2, 3, 4)
	}
	return append(f, make([]byte, n)...)
}

// TestFrameScannerBoundaries: however a stream of frames is cut into
// reads, the scanner knows where each frame ends, and stops there when
// asked.
func TestFrameScannerBoundaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var stream []byte
		ends := map[int]bool{0: true}
		for range 1 + rng.IntN(8) {
			sizes := []int{0, 1, 125, 126, 127, 300, 65535, 65536, 70000}
			f := frame(byte(rng.IntN(3)), sizes[rng.IntN(len(sizes))], rng.IntN(2) == 0)
			stream = append(stream, f...)
			ends[len(stream)] = true
		}
		var s frameScanner
		pos := 0
		for pos < len(stream) {
			n := min(1+rng.IntN(4000), len(stream)-pos)
			chunk := stream[pos : pos+n]
			if rng.IntN(3) == 0 {
				// Stop at the first boundary after the chunk's start.
				k := s.scan(chunk, true)
				want := n
				for i := 0; i <= n; i++ {
					if ends[pos+i] {
						want = i
						break
					}
				}
				if k != want {
					t.Fatalf("round %d at %d: stopped after %d bytes, want %d", round, pos, k, want)
				}
				if k < n || ends[pos+k] {
					if !s.atBoundary() {
						t.Fatalf("round %d: stopped at %d, not at a boundary", round, pos+k)
					}
				}
				if k == 0 && n > 0 {
					// At a boundary: take the chunk as it is.
					s.scan(chunk, false)
					k = n
				}
				pos += k
				continue
			}
			s.scan(chunk, false)
			pos += n
			if s.atBoundary() != ends[pos] {
				t.Fatalf("round %d at %d: atBoundary %v, want %v", round, pos, s.atBoundary(), ends[pos])
			}
		}
	}
}

func TestFrameScannerSeesClose(t *testing.T) {
	var s frameScanner
	s.scan(frame(0x1, 5, true), false)
	if s.closed {
		t.Fatal("a text frame taken for a close")
	}
	s.scan(frameReload[:1], false)
	if s.closed {
		t.Fatal("half a header taken for a close")
	}
	s.scan(frameReload[1:], false)
	if !s.closed || !s.atBoundary() {
		t.Fatalf("close frame: closed %v, at boundary %v", s.closed, s.atBoundary())
	}
	if got := frameReload; got[0] != 0x88 || got[1] != byte(len(got)-2) || got[2] != 0x03 || got[3] != 0xe9 {
		t.Errorf("close frame % x: want FIN+close, unmasked, status 1001", got[:4])
	}
}
