package compress

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	brrr "github.com/molecule-man/go-brrr"
)

// Writer is one encoder: a stream of one encoding. Flush sends on what
// was written so far without ending the stream; Close ends it. Not safe
// for concurrent use.
type Writer interface {
	io.Writer
	Flush() error
	Close() error
	reset(w io.Writer)
}

// The windows of the encoders: how far back a match may reach, which is
// most of what an encoder holds. gzip's is fixed at 32 KiB.
const (
	// BrotliWindowLog: brotli's window is 2^18 = 256 KiB (its default,
	// 4 MiB, would make every pooled encoder hold megabytes).
	BrotliWindowLog = 18
	// ZstdWindow is zstd's window, 512 KiB: its default for the levels
	// used on the fly is 4 to 8 MiB.
	ZstdWindow = 512 << 10
)

// Level ranges, as each library counts.
const (
	MinGzipLevel, MaxGzipLevel     = 1, 9
	MinBrotliLevel, MaxBrotliLevel = 0, 11
	MinZstdLevel, MaxZstdLevel     = 1, 22
)

// Pool holds idle encoders of one encoding and level, so that a
// compressed answer takes one instead of building one (which costs
// hundreds of KiB). Safe for concurrent use; the zero value is not
// usable, see NewPool.
type Pool struct {
	enc     Encoding
	level   int
	p       sync.Pool // of *entry
	streams sync.Pool // of *Stream
}

// entry is a pooled encoder and the buffer it writes into.
type entry struct {
	w   Writer
	out sink
}

// NewPool returns a pool of encoders of e at level: gzip 1 to 9, brotli
// 0 to 11, zstd 1 to 22 (zstd's own levels, mapped to the four the
// encoder has).
func NewPool(e Encoding, level int) (*Pool, error) {
	lo, hi := 0, 0
	switch e {
	case Gzip:
		lo, hi = MinGzipLevel, MaxGzipLevel
	case Brotli:
		lo, hi = MinBrotliLevel, MaxBrotliLevel
	case Zstd:
		lo, hi = MinZstdLevel, MaxZstdLevel
	default:
		return nil, errors.New("compress: no encoder for " + e.String())
	}
	if level < lo || level > hi {
		return nil, fmt.Errorf("compress: %s level %d is not within %d to %d", e, level, lo, hi)
	}
	p := &Pool{enc: e, level: level}
	// Build one now, so that a setting the library refuses fails here.
	w, err := p.make()
	if err != nil {
		return nil, err
	}
	p.p.Put(&entry{w: w})
	return p, nil
}

// Encoding returns the pool's encoding.
func (p *Pool) Encoding() Encoding { return p.enc }

// get returns an entry whose encoder starts a new stream into its sink.
func (p *Pool) get() *entry {
	e, ok := p.p.Get().(*entry)
	if !ok {
		w, err := p.make()
		if err != nil {
			panic(err) // NewPool made one with the same settings
		}
		e = &entry{w: w}
	}
	e.w.reset(&e.out)
	return e
}

// put gives back e, its sink emptied; its stream need not be closed.
func (p *Pool) put(e *entry) {
	e.out = sink{b: e.out.b[:0]}
	if cap(e.out.b) > maxKeptBuffer {
		e.out.b = nil
	}
	p.p.Put(e)
}

// maxKeptBuffer is the largest output buffer a pooled encoder keeps.
const maxKeptBuffer = 64 << 10

// AppendCompressed appends src, compressed as one stream of the pool's
// encoding, to dst. No allocation in steady state beyond dst's growth.
func (p *Pool) AppendCompressed(dst, src []byte) ([]byte, error) {
	e := p.get()
	e.out.b = dst
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	dst = e.out.b
	e.out.b = nil
	p.put(e)
	return dst, err
}

func (p *Pool) make() (Writer, error) {
	switch p.enc {
	case Gzip:
		w, err := gzip.NewWriterLevel(nil, p.level)
		if err != nil {
			return nil, err
		}
		return gzipWriter{w}, nil
	case Brotli:
		w, err := brrr.NewWriterOptions(nil, p.level, brrr.WriterOptions{LGWin: BrotliWindowLog})
		if err != nil {
			return nil, err
		}
		return brotliWriter{w}, nil
	default:
		w, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(p.level)),
			zstd.WithEncoderConcurrency(1), // no goroutines of its own
			zstd.WithWindowSize(ZstdWindow),
			zstd.WithLowerEncoderMem(true),
			zstd.WithEncoderCRC(false), // TCP and TLS check the bytes already
		)
		if err != nil {
			return nil, err
		}
		return zstdWriter{w}, nil
	}
}

type gzipWriter struct{ *gzip.Writer }

func (w gzipWriter) reset(dst io.Writer) { w.Reset(dst) }

type brotliWriter struct{ *brrr.Writer }

func (w brotliWriter) reset(dst io.Writer) { w.Reset(dst) }

type zstdWriter struct{ *zstd.Encoder }

func (w zstdWriter) reset(dst io.Writer) { w.Reset(dst) }
