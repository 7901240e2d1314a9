package compress

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

var encodings = []Encoding{Gzip, Brotli, Zstd}

func TestAppendCompressedRoundTrip(t *testing.T) {
	for _, e := range encodings {
		p := mustPool(t, e, defaultLevel(e))
		for _, n := range []int{0, 1, 1000, 300 << 10} {
			src := jsonBody(n)
			// Twice: the second takes the encoder the first gave back.
			for range 2 {
				out, err := p.AppendCompressed([]byte("kept"), src)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(out, []byte("kept")) {
					t.Fatalf("%v: dst's bytes were not kept", e)
				}
				if got := decode(t, e, out[4:]); !bytes.Equal(got, src) {
					t.Fatalf("%v, %d bytes: decoded %d bytes that differ", e, n, len(got))
				}
				if n >= 1000 && len(out)-4 > n/2 {
					t.Errorf("%v: %d bytes of JSON took %d", e, n, len(out)-4)
				}
			}
		}
	}
}

func TestNewPoolLevels(t *testing.T) {
	for _, tt := range []struct {
		e     Encoding
		level int
		ok    bool
	}{{Gzip, 0, false}, {Gzip, 1, true}, {Gzip, 9, true}, {Gzip, 10, false}, {Brotli, 0, true}, {Brotli, 11, true},
		{Brotli, 12, false}, {Zstd, 0, false}, {Zstd, 22, true}, {Zstd, 23, false}, {Identity, 1, false}} {
		_, err := NewPool(tt.e, tt.level)
		if (err == nil) != tt.ok {
			t.Errorf("NewPool(%v, %d): %v", tt.e, tt.level, err)
		}
	}
}

// pieces is a source that hands on its pieces one Write at a time, as an
// upstream body hands on each read from the network, and records how
// much of the compressed stream had been written when each was handed.
type pieces struct {
	parts [][]byte
	out   *bytes.Buffer
	seen  []int // len(out) when each part was handed on
	err   error // returned after the parts
}

func (p *pieces) Read([]byte) (int, error) { return 0, errors.New("Read: WriteTo expected") }

func (p *pieces) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, part := range p.parts {
		p.seen = append(p.seen, p.out.Len())
		m, err := w.Write(part)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, p.err
}

type counted struct{ in, out int64 }

func (c *counted) Compressed(in, out int64) { c.in, c.out = in, out }

// TestStreamFlushesEachPiece: each piece the source hands on is in the
// output, decodable, before the next is asked for; the whole decodes to
// the source; the counter hears both sizes.
func TestStreamFlushesEachPiece(t *testing.T) {
	body := jsonBody(200 << 10)
	for _, e := range encodings {
		t.Run(e.String(), func(t *testing.T) {
			p := mustPool(t, e, defaultLevel(e))
			var out bytes.Buffer
			src := &pieces{out: &out}
			for i := 0; i < len(body); i += 7 << 10 {
				src.parts = append(src.parts, body[i:min(i+7<<10, len(body))])
			}
			var c counted
			s := p.NewStream(src, &c)
			n, err := s.WriteTo(&out)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n != int64(out.Len()) || c.out != n || c.in != int64(len(body)) {
				t.Fatalf("WriteTo %d, wrote %d, counted %d in %d out", n, out.Len(), c.in, c.out)
			}
			if got := decode(t, e, out.Bytes()); !bytes.Equal(got, body) {
				t.Fatal("the stream does not decode to its source")
			}
			// What was written when part i was handed on holds the parts
			// before it, whole.
			for i := 1; i < len(src.parts); i += 5 {
				prefix := decodePrefix(t, e, out.Bytes()[:src.seen[i]])
				if want := i * (7 << 10); len(prefix) < want {
					t.Fatalf("when part %d was handed on, %d bytes of %d were out", i, len(prefix), want)
				}
			}
			if ratio := float64(len(body)) / float64(out.Len()); ratio < 3 {
				t.Errorf("flushing each 7 KiB left a ratio of %.2f", ratio)
			}
		})
	}
}

// decodePrefix decodes what a cut stream holds.
func decodePrefix(t *testing.T, e Encoding, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch e {
	case Gzip:
		return gzipPrefix(t, b)
	default:
		r := prefixReader(t, e, b)
		_, _ = io.Copy(&buf, r) // ends with an unexpected EOF
		return buf.Bytes()
	}
}

// TestStreamErrors: a source that fails mid-stream, or a writer that
// does, ends WriteTo with that error; Close still gives everything back.
func TestStreamErrors(t *testing.T) {
	boom := errors.New("upstream reset")
	for _, e := range encodings {
		p := mustPool(t, e, defaultLevel(e))
		var out bytes.Buffer
		src := &pieces{out: &out, parts: [][]byte{jsonBody(4000)}, err: boom}
		var c counted
		s := p.NewStream(src, &c)
		if _, err := s.WriteTo(&out); !errors.Is(err, boom) {
			t.Fatalf("%v: source failure: %v", e, err)
		}
		s.Close()
		if c.in != 4000 {
			t.Errorf("%v: counted %d in", e, c.in)
		}

		src = &pieces{out: &out, parts: [][]byte{jsonBody(4000), jsonBody(4000)}}
		s = p.NewStream(src, nil)
		if _, err := s.WriteTo(failingWriter{}); err == nil {
			t.Fatalf("%v: a failing writer went unnoticed", e)
		}
		s.Close()
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client gone") }

// TestStreamRead: a reader that does not take WriteTo reads the same
// stream.
func TestStreamRead(t *testing.T) {
	body := jsonBody(100 << 10)
	for _, e := range encodings {
		p := mustPool(t, e, defaultLevel(e))
		s := p.NewStream(io.MultiReader(bytes.NewReader(body[:5000]), bytes.NewReader(body[5000:])), nil)
		var out bytes.Buffer
		buf := make([]byte, 1000)
		for {
			n, err := s.Read(buf)
			out.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if got := decode(t, e, out.Bytes()); !bytes.Equal(got, body) {
			t.Fatalf("%v: Read's stream does not decode to its source", e)
		}
	}
}
