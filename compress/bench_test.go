package compress

import (
	"io"
	"strconv"
	"testing"
)

// BenchmarkCompress is the CPU cost of compressing a 64 KiB JSON answer
// in memory at each encoding's default level (config's defaults): ns/op
// over MB/s is the cost per MiB; ratio is what it saves.
func BenchmarkCompress(b *testing.B) {
	src := jsonBody(64 << 10)
	for _, e := range encodings {
		b.Run(e.String(), func(b *testing.B) { benchCompress(b, e, defaultLevel(e), src) })
	}
}

// BenchmarkCompressLevels measures the levels around each default, to
// choose the defaults by: CPU per MiB against ratio.
func BenchmarkCompressLevels(b *testing.B) {
	src := jsonBody(64 << 10)
	levels := map[Encoding][]int{Gzip: {1, 3, 5, 6, 9}, Brotli: {1, 3, 4, 5, 6}, Zstd: {1, 3, 7}}
	for _, e := range encodings {
		for _, l := range levels[e] {
			b.Run(e.String()+"/"+strconv.Itoa(l), func(b *testing.B) { benchCompress(b, e, l, src) })
		}
	}
}

func benchCompress(b *testing.B, e Encoding, level int, src []byte) {
	p := mustPool(b, e, level)
	dst := make([]byte, 0, len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = p.AppendCompressed(dst[:0], src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(src))/float64(len(dst)), "ratio")
}

// BenchmarkStream is a 1 MiB streamed answer compressed as it arrives in
// 16 KiB pieces, each flushed: the cost per MiB of a streamed body.
func BenchmarkStream(b *testing.B) {
	src := jsonBody(1 << 20)
	for _, e := range encodings {
		b.Run(e.String(), func(b *testing.B) {
			p := mustPool(b, e, defaultLevel(e))
			var out countWriter
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				out = 0
				s := p.NewStream(&chunked{b: src, piece: 16 << 10}, nil)
				if _, err := s.WriteTo(&out); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			b.ReportMetric(float64(len(src))/float64(out), "ratio")
		})
	}
}

// BenchmarkNegotiate is the choice of an encoding from a browser's
// Accept-Encoding.
func BenchmarkNegotiate(b *testing.B) {
	accept := []byte("gzip, deflate, br, zstd")
	offered := []Encoding{Zstd, Brotli, Gzip}
	b.ReportAllocs()
	for b.Loop() {
		Negotiate(accept, offered)
	}
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

// chunked hands on b in pieces through WriteTo, as an upstream body does.
type chunked struct {
	b     []byte
	piece int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.b[:min(len(c.b), c.piece)])
	c.b = c.b[n:]
	return n, nil
}

func (c *chunked) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(c.b) > 0 {
		n := min(len(c.b), c.piece)
		m, err := w.Write(c.b[:n])
		total += int64(m)
		if err != nil {
			return total, err
		}
		c.b = c.b[n:]
	}
	return total, nil
}
