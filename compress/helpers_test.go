package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// defaultLevel is the level config gives each encoding by default.
func defaultLevel(e Encoding) int {
	switch e {
	case Gzip:
		return 5
	case Brotli:
		return 4
	default:
		return 1
	}
}

func mustPool(t testing.TB, e Encoding, level int) *Pool {
	t.Helper()
	p, err := NewPool(e, level)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decode decodes b with a decoder independent of the encoder: the
// standard library's gzip, andybalholm's brotli, klauspost's zstd
// decoder (the encoder is the same module's, the decoder shares no code
// with it).
func decode(t testing.TB, e Encoding, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch e {
	case Gzip:
		zr, err := stdgzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case Brotli:
		r = brotli.NewReader(bytes.NewReader(b))
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%v: decoding %d bytes: %v", e, len(b), err)
	}
	return out
}

// jsonBody is n bytes of JSON records like an API's answer: repetitive
// keys, varied values.
func jsonBody(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user-%x","email":"u%d@example.com","score":%.3f,"active":%t,"tags":["t%d","t%d"]},`,
			i, rng.Uint32(), rng.IntN(100000), rng.Float64()*100, rng.IntN(2) == 0, rng.IntN(50), rng.IntN(50))
	}
	return b.Bytes()[:n]
}

// gzipPrefix decodes what a cut gzip stream holds, with the standard
// library's reader.
func gzipPrefix(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := stdgzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, zr)
	return buf.Bytes()
}

// prefixReader reads a cut brotli or zstd stream.
func prefixReader(t *testing.T, e Encoding, b []byte) io.Reader {
	t.Helper()
	if e == Brotli {
		return brotli.NewReader(bytes.NewReader(b))
	}
	zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zr.Close)
	return zr
}
