package compress

import "io"

// sink is what an encoder writes into: a buffer, passed on to dst once it
// holds flushAt bytes when dst is set (Stream.WriteTo), kept otherwise.
type sink struct {
	b   []byte
	dst io.Writer
	// n counts what was passed on to dst.
	n   int64
	err error
}

// flushAt is how much compressed output a stream holds before passing it
// on, at most, between two flushes of its encoder.
const flushAt = 32 << 10

func (s *sink) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	s.b = append(s.b, p...)
	if s.dst != nil && len(s.b) >= flushAt {
		if err := s.drain(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// drain passes what the buffer holds on to dst.
func (s *sink) drain() error {
	if len(s.b) == 0 || s.err != nil {
		return s.err
	}
	n, err := s.dst.Write(s.b)
	s.n += int64(n)
	if err == nil && n < len(s.b) {
		err = io.ErrShortWrite
	}
	s.b = s.b[:0]
	s.err = err
	return err
}

// Counter hears how much a Stream read and how much it wrote, once, when
// the stream is closed.
type Counter interface {
	Compressed(in, out int64)
}

// Stream is a body compressed as it is read from its source: each piece
// the source hands on (an upstream's read from the network) is
// compressed and flushed at once, so that what arrives slowly leaves
// slowly, not held back in the encoder; what arrives fast comes in large
// pieces. It holds one pooled encoder and at most flushAt bytes of its
// output (plus one piece's output between flushes).
//
// It is an io.ReadCloser, and a fasthttp.BodyWriterTo that writes the
// compressed stream to the writer it is given. Close closes the source,
// gives the encoder back and tells the counter; it must be called once,
// whether or not the body was read to its end. Not safe for concurrent
// use.
type Stream struct {
	pool    *Pool
	e       *entry
	src     io.Reader
	counter Counter
	in      int64
	eof     bool
	// feed is what the source writes into (WriteTo).
	feed feeder
	// rd is what Read hands out from: the sink's bytes from off on.
	off     int
	scratch []byte
}

// feeder is the io.Writer a source's WriteTo writes into.
type feeder struct{ s *Stream }

// NewStream returns src compressed by an encoder of p. counter may be
// nil.
func (p *Pool) NewStream(src io.Reader, counter Counter) *Stream {
	s, _ := p.streams.Get().(*Stream)
	if s == nil {
		s = new(Stream)
		s.feed.s = s
	}
	s.pool, s.e, s.src, s.counter = p, p.get(), src, counter
	return s
}

// SupportsBodyWriteTo tells fasthttp that WriteTo may replace Read.
func (s *Stream) SupportsBodyWriteTo() bool { return true }

// WriteTo writes the compressed stream to w: the source's pieces as
// they come, then the end of the stream. It returns the bytes written
// and the first error of the source or of w; after an error the stream
// is cut, not ended, so that the receiver cannot take it for whole.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	out := &s.e.out
	out.dst = w
	defer func() { out.dst = nil }()
	start := out.n
	var err error
	if wt, ok := s.src.(io.WriterTo); ok {
		_, err = wt.WriteTo(&s.feed)
	} else {
		buf := s.buffer()
		for err == nil {
			var n int
			n, err = s.src.Read(buf)
			if n > 0 {
				if _, werr := s.feed.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err == io.EOF {
			err = nil
		}
	}
	if err == nil {
		err = s.end()
	}
	if err == nil {
		err = out.drain()
	}
	return out.n - start, err
}

// Write compresses one piece of the source and passes it on.
func (f *feeder) Write(p []byte) (int, error) {
	s := f.s
	if len(p) == 0 {
		return 0, nil
	}
	s.in += int64(len(p))
	if _, err := s.e.w.Write(p); err != nil {
		return 0, err
	}
	if err := s.e.w.Flush(); err != nil {
		return 0, err
	}
	if s.e.out.dst != nil {
		if err := s.e.out.drain(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// end closes the encoder, which writes the end of the stream.
func (s *Stream) end() error {
	if s.eof {
		return nil
	}
	s.eof = true
	return s.e.w.Close()
}

// Read implements io.Reader, for readers that do not take WriteTo.
func (s *Stream) Read(p []byte) (int, error) {
	out := &s.e.out
	for s.off == len(out.b) {
		if s.eof {
			return 0, io.EOF
		}
		out.b, s.off = out.b[:0], 0
		n, err := s.src.Read(s.buffer())
		if n > 0 {
			if _, werr := s.feed.Write(s.scratch[:n]); werr != nil {
				return 0, werr
			}
		}
		switch {
		case err == io.EOF:
			if err := s.end(); err != nil {
				return 0, err
			}
		case err != nil:
			return 0, err
		}
	}
	n := copy(p, out.b[s.off:])
	s.off += n
	out.n += int64(n)
	return n, nil
}

// Close closes the source, gives the encoder back and tells the counter
// what went in and out.
func (s *Stream) Close() error {
	if s.e == nil {
		return nil
	}
	var err error
	if c, ok := s.src.(io.Closer); ok {
		err = c.Close()
	}
	in, out := s.in, s.e.out.n
	s.pool.put(s.e)
	if s.counter != nil {
		s.counter.Compressed(in, out)
	}
	pool := s.pool
	scratch := s.scratch
	*s = Stream{feed: feeder{s: s}, scratch: scratch}
	pool.streams.Put(s)
	return err
}

// readSize is the size of the buffer a source without WriteTo is read
// into.
const readSize = 16 << 10

func (s *Stream) buffer() []byte {
	if s.scratch == nil {
		s.scratch = make([]byte, readSize)
	}
	return s.scratch
}

var _ io.ReadCloser = (*Stream)(nil)

// Unwrap returns the source the stream compresses (upstream.WatcherOf
// looks through it for the upstream body's watcher).
func (s *Stream) Unwrap() io.Reader { return s.src }
