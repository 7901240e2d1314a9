package upstream

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// body is a streamed response body: it reads exactly the body from its
// connection (decoding chunked framing strictly), arms ReadTimeout before
// each read from the network, and on Close gives the connection back to
// the pool if the body was read to its end and keep-alive is allowed, or
// closes it. Bodies are pooled; one must not be used after Close.
type body struct {
	c         *Client
	pc        *conn
	left      int64 // bytes left of the body (fixed) or of the current chunk
	state     uint8
	chunked   bool
	keepAlive bool
	room      int64     // body bytes still allowed by MaxResponseBody (MaxInt64: no bound)
	trailer   int       // trailer bytes read so far
	err       error     // sticky: io.EOF at the end, or a failure
	at        time.Time // last read from the network (or Do's start)
	watch     BodyWatcher
	progress  ProgressWatcher // watch, when it hears of progress too
	// detaching: the next Close is the one Detach has the response make,
	// and is not the end of the body.
	detaching bool
	// ahead holds body bytes Prefetch read from the socket beyond what
	// the connection's buffer held; aheadBuf is the pooled block they sit
	// in. They come after the buffered bytes and before the socket's.
	ahead    []byte
	aheadBuf *[directBlock]byte
	// vw, when set, takes WriteTo's first bytes (WriteFirstTo); vec and
	// bufs are the pieces handed to it.
	vw   VectorWriter
	vec  [2][]byte
	bufs net.Buffers
}

// VectorWriter writes several pieces with one system call (writev), as a
// client connection does that holds the answer's head back to send it
// with them.
type VectorWriter interface {
	WriteBuffers(bufs *net.Buffers) (int64, error)
}

// WriteFirstTo has WriteTo on resp's streamed body from a Client hand the
// body's first bytes, all that the connection's buffer and Prefetch's
// read-ahead hold, to vw in one call, rather than to the writer WriteTo
// is given (which copies what it can buffer and writes the rest in a
// call of its own). It reports false when resp has no such body or it is
// not one of known length.
func WriteFirstTo(resp *fasthttp.Response, vw VectorWriter) bool {
	b, ok := resp.BodyStream().(*body)
	if !ok || b.chunked || b.state != stData || b.left == math.MaxInt64 {
		return false
	}
	b.vw = vw
	return true
}

// BodyWatcher learns how a streamed response body ended; see Watch.
type BodyWatcher interface {
	// BodyEnded is called once, when the body is closed, after its
	// connection was released: err is nil when the body was read to its
	// end, the sentinel error (ErrReset, ErrProtocol, ErrTimeout,
	// ErrTooLarge) when the upstream broke it, or ErrAbandoned when the
	// reader closed it before its end.
	BodyEnded(err error)
}

// ProgressWatcher is a BodyWatcher that also hears of each piece of the
// body before it is handed on (written to the client), so that it can
// give the writing a deadline of its own per piece instead of one for the
// whole body.
type ProgressWatcher interface {
	BodyWatcher
	// BodyProgress is called before each piece of the body is handed on.
	BodyProgress()
}

// ErrAbandoned: a streamed body was closed before its end without an
// error of its own (whoever read it stopped, e.g. the client went away).
// The upstream is not at fault.
var ErrAbandoned = &Error{Other, "upstream: body closed before its end by its reader"}

// WatcherOf returns the watcher of resp's streamed body, nil when none.
// A body that another reader wraps (one that has Unwrap() io.Reader, as
// a compressed stream) is looked for inside it.
func WatcherOf(resp *fasthttp.Response) BodyWatcher {
	if b, ok := bodyOf(resp.BodyStream()); ok {
		return b.watch
	}
	return nil
}

// bodyOf finds the body from a Client in r, or in the reader r wraps.
func bodyOf(r io.Reader) (*body, bool) {
	if w, ok := r.(interface{ Unwrap() io.Reader }); ok {
		r = w.Unwrap()
	}
	b, ok := r.(*body)
	return b, ok
}

// Detach takes resp's streamed body from a Client out of resp without
// closing it, and returns it; resp is left without a body (its headers
// as they were). The caller owns the body: it must be read and closed,
// as fasthttp.Server would have (typically it goes back into resp
// wrapped, by SetBodyStream). nil when resp has no such body.
func Detach(resp *fasthttp.Response) io.ReadCloser {
	b, ok := resp.BodyStream().(*body)
	if !ok {
		return nil
	}
	b.detaching = true
	resp.ResetBody() // closes the stream: Close sees detaching
	return b
}

// Watch makes w learn how resp's streamed body from a Client ends. It
// reports false, and w learns nothing, when resp has no such body. No
// allocation when w is a pointer.
func Watch(resp *fasthttp.Response, w BodyWatcher) bool {
	b, ok := resp.BodyStream().(*body)
	if !ok {
		return false
	}
	b.watch = w
	b.progress, _ = w.(ProgressWatcher)
	return true
}

// handing is called before a piece of the body is handed on.
func (b *body) handing() {
	if b.progress != nil {
		b.progress.BodyProgress()
	}
}

// States of a body.
const (
	stData    uint8 = iota // body or chunk bytes; left counts them
	stSize                 // expecting a chunk-size line
	stCRLF                 // expecting the CRLF after chunk data
	stTrailer              // expecting trailer lines or the final CRLF
	stDone                 // the body ended
)

var (
	_ io.ReadCloser         = (*body)(nil)
	_ fasthttp.BodyWriterTo = (*body)(nil)
)

var bodyPool = sync.Pool{New: func() any { return new(body) }}

// acquireBody returns a body for pc framed by cl: >= 0 is a Content-Length,
// -1 chunked, anything else until the connection closes.
func acquireBody(c *Client, pc *conn, cl int, keepAlive bool, now time.Time) *body {
	b := bodyPool.Get().(*body)
	*b = body{c: c, pc: pc, keepAlive: keepAlive, at: now, room: math.MaxInt64}
	if c.s.MaxResponseBody > 0 {
		b.room = c.s.MaxResponseBody
	}
	switch {
	case cl >= 0:
		b.left = int64(cl)
		if cl == 0 {
			b.state = stDone
		}
	case cl == -1:
		b.chunked = true
		b.state = stSize
	default:
		b.left = math.MaxInt64
		b.keepAlive = false
	}
	if len(pc.over) > 0 && !b.chunked {
		b.takeOver()
	}
	return b
}

// takeOver makes the bytes the head's read took in past the connection's
// buffer the body's read-ahead. Bytes past the body's end are not the
// body's: they are dropped and the connection is not reused.
func (b *body) takeOver() {
	pc := b.pc
	b.ahead, b.aheadBuf = pc.over, pc.overBuf
	pc.over, pc.overBuf = nil, nil
	if b.left == math.MaxInt64 {
		return
	}
	rest := max(b.left-int64(pc.br.Buffered()), 0)
	if int64(len(b.ahead)) > rest {
		b.ahead = b.ahead[:rest]
		b.keepAlive = false
	}
	if len(b.ahead) == 0 {
		b.dropAhead()
	}
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	buf, err := b.next()
	if err != nil {
		return 0, err
	}
	b.handing()
	n := copy(p, buf)
	b.consume(n)
	return n, nil
}

// WriteTo implements io.WriterTo, writing straight from the connection's
// read buffer. fasthttp.Server uses it (see SupportsBodyWriteTo).
func (b *body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if b.vw != nil {
		n, err := b.writeFirst()
		total += n
		if err != nil {
			return total, err
		}
	}
	for {
		if b.direct() {
			n, err := b.copyDirect(w)
			total += n
			if err != nil {
				return total, err
			}
			continue
		}
		buf, err := b.next()
		if err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		b.handing()
		n, werr := w.Write(buf)
		b.consume(n)
		total += int64(n)
		if werr != nil {
			return total, werr
		}
		if n < len(buf) {
			return total, io.ErrShortWrite
		}
	}
}

// writeFirst writes the bytes here now, reading first if there are none,
// to b.vw in one call: those in the connection's buffer and those read
// ahead after them.
func (b *body) writeFirst() (int64, error) {
	vw := b.vw
	b.vw = nil
	buf, err := b.next()
	if err != nil {
		if err == io.EOF {
			return 0, nil
		}
		return 0, err
	}
	b.vec[0] = buf
	pieces := 1
	if b.pc.br.Buffered() > 0 && len(b.ahead) > 0 {
		a := b.ahead
		if rest := b.left - int64(len(buf)); int64(len(a)) > rest {
			a = a[:rest]
		}
		if int64(len(buf)+len(a)) <= b.room {
			b.vec[1] = a
			pieces = 2
		}
	}
	b.bufs = b.vec[:pieces]
	want := len(buf) + len(b.vec[1])
	b.handing()
	n, werr := vw.WriteBuffers(&b.bufs)
	b.vec, b.bufs = [2][]byte{}, nil
	first := min(int(n), len(buf))
	b.consume(first)
	b.consume(int(n) - first)
	if werr == nil && int(n) < want {
		werr = io.ErrShortWrite
	}
	return n, werr
}

// directMin is the body size left from which WriteTo reads the network in
// large blocks into a shared scratch buffer instead of through the
// connection's header-sized read buffer: fewer, larger reads and writes for
// big bodies, without giving every pooled connection a big buffer.
const (
	directMin   = 32 << 10
	directBlock = 128 << 10
)

var directBufs = sync.Pool{New: func() any { return new([directBlock]byte) }}

// direct reports whether the next part of the body may bypass br: a plain
// (not chunked) body with nothing buffered and plenty left.
func (b *body) direct() bool {
	return b.err == nil && b.state == stData && !b.chunked &&
		b.left >= directMin && b.left <= b.room && b.pc.br.Buffered() == 0 && len(b.ahead) == 0 &&
		len(b.pc.over) == 0
}

// copyDirect reads one block of the body straight from the network and
// writes it to w.
func (b *body) copyDirect(w io.Writer) (int64, error) {
	buf := directBufs.Get().(*[directBlock]byte)
	defer directBufs.Put(buf)
	p := buf[:]
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	b.arm()
	n, err := b.pc.nc.Read(p)
	if b.room != math.MaxInt64 {
		b.room -= int64(n)
	}
	if n > 0 && b.left != math.MaxInt64 {
		b.left -= int64(n)
		if b.left == 0 {
			b.state = stDone
		}
	}
	if err != nil {
		if err == io.EOF && b.left == math.MaxInt64 {
			b.state = stDone // until-close body ended
		} else if n == 0 || b.state != stDone {
			return 0, b.fail(err)
		}
	}
	if n == 0 {
		return 0, nil
	}
	b.handing()
	m, werr := w.Write(p[:n])
	if werr == nil && m < n {
		werr = io.ErrShortWrite
	}
	return int64(m), werr
}

// Prefetch waits for the first bytes of resp's streamed body, if it has
// one from a Client, so that an upstream that fails right after its head
// (a reset, a bad first chunk, a body cut short and the connection
// closed) is found while the caller can still answer with an error
// instead of a broken response. It returns nil or one of the sentinel
// errors; after an error the caller resets resp, which closes the
// connection. No allocation.
func Prefetch(resp *fasthttp.Response) error {
	b, ok := resp.BodyStream().(*body)
	if !ok || b.state == stDone {
		return nil
	}
	buf, err := b.next()
	switch {
	case err == io.EOF:
		return nil
	case err != nil:
		return err
	}
	if b.chunked || b.left == math.MaxInt64 {
		return nil
	}
	here := int64(len(buf) + len(b.ahead))
	if b.pc.br.Buffered() == 0 {
		here = int64(len(b.ahead)) // buf is the read-ahead itself
	}
	if here < b.left {
		return b.readAhead(b.left - here)
	}
	return nil
}

// readAhead reads, without blocking, what the socket already holds of the
// rest of a plain body (at most want bytes) into a pooled block, where
// WriteTo and Read find it: if the upstream has closed already, the rest
// never comes and the body fails now; if it has sent more, that read is
// one the body needed anyway, where a mere check would cost a system call
// of its own.
//
// The bytes read go after those read ahead already (by the head's read),
// in the same block while it has room.
func (b *body) readAhead(want int64) error {
	blk, start, end := b.aheadBuf, 0, 0
	if blk == nil {
		blk = directBufs.Get().(*[directBlock]byte)
	} else {
		start = directBlock - cap(b.ahead)
		end = start + len(b.ahead)
	}
	p := blk[end:]
	if int64(len(p)) > want {
		p = p[:want]
	}
	n, ok, err := b.pc.probe.readNow(p)
	switch {
	case err != nil:
		if b.aheadBuf == nil {
			directBufs.Put(blk)
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return b.fail(err)
	case !ok || n == 0:
		if b.aheadBuf == nil {
			directBufs.Put(blk)
		}
		return nil
	}
	b.ahead, b.aheadBuf = blk[start:end+n], blk
	return nil
}

// dropAhead gives the read-ahead block back to its pool.
func (b *body) dropAhead() {
	if b.aheadBuf != nil {
		directBufs.Put(b.aheadBuf)
		b.ahead, b.aheadBuf = nil, nil
	}
}

// SupportsBodyWriteTo tells fasthttp that WriteTo may replace Read.
func (b *body) SupportsBodyWriteTo() bool { return true }

// Close releases the connection: to the pool if the body ended (or its rest
// is already buffered) and keep-alive is allowed, else it is closed.
func (b *body) Close() error {
	if b.detaching {
		b.detaching = false
		return nil
	}
	pc := b.pc
	if pc == nil {
		return nil
	}
	if b.state == stData && !b.chunked && b.err == nil && b.left <= int64(pc.br.Buffered()+len(b.ahead)) {
		// Drain what is already here: the rest is in the buffer and the
		// block read ahead (which never holds more than the body).
		_, _ = pc.br.Discard(int(min(b.left, int64(pc.br.Buffered()))))
		b.state = stDone
	}
	b.dropAhead()
	c := b.c
	if b.state == stDone && b.keepAlive && pc.br.Buffered() == 0 && len(pc.over) == 0 {
		c.put(pc, b.at)
	} else {
		c.drop(pc)
	}
	w, err := b.watch, b.err
	switch {
	case b.state == stDone:
		err = nil
	case err == nil || err == io.EOF:
		err = ErrAbandoned
	}
	*b = body{}
	bodyPool.Put(b)
	if w != nil {
		w.BodyEnded(err)
	}
	return nil
}

// next returns the body bytes now buffered (reading if none are), without
// consuming them, or io.EOF at the end, or the error that ended the body.
func (b *body) next() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	for {
		switch b.state {
		case stData:
			buf, err := b.fill()
			if err != nil {
				if err == io.EOF && b.left == math.MaxInt64 {
					b.state = stDone // until-close body ended
					continue
				}
				return nil, b.fail(err)
			}
			if int64(len(buf)) > b.left {
				buf = buf[:b.left]
			}
			if int64(len(buf)) > b.room {
				return nil, b.fail(ErrTooLarge)
			}
			return buf, nil
		case stSize:
			line, err := b.line()
			if err != nil {
				return nil, b.fail(err)
			}
			n, ok := parseChunkSize(line)
			if !ok {
				return nil, b.fail(ErrProtocol)
			}
			b.left, b.state = n, stData
			if n == 0 {
				b.state = stTrailer
			}
		case stCRLF:
			line, err := b.line()
			if err != nil {
				return nil, b.fail(err)
			}
			if len(line) != 2 {
				return nil, b.fail(ErrProtocol)
			}
			b.state = stSize
		case stTrailer:
			line, err := b.line()
			if err != nil {
				return nil, b.fail(err)
			}
			if len(line) == 2 {
				b.state = stDone
				continue
			}
			b.trailer += len(line)
			if bytes.IndexByte(line, ':') <= 0 || b.trailer > b.c.s.MaxResponseHeaderBytes {
				return nil, b.fail(ErrProtocol)
			}
		default: // stDone
			b.err = io.EOF
			return nil, io.EOF
		}
	}
}

// consume drops n bytes returned by next.
func (b *body) consume(n int) {
	if n == 0 {
		return
	}
	if b.pc.br.Buffered() > 0 {
		_, _ = b.pc.br.Discard(n)
	} else {
		b.ahead = b.ahead[n:]
		if len(b.ahead) == 0 {
			b.dropAhead()
		}
	}
	if b.room != math.MaxInt64 {
		b.room -= int64(n)
	}
	if b.left == math.MaxInt64 {
		return
	}
	b.left -= int64(n)
	if b.left == 0 {
		b.state = stDone
		if b.chunked {
			b.state = stCRLF
		}
	}
}

// fill returns the buffered bytes, reading from the network first (with a
// fresh ReadTimeout) if there are none.
func (b *body) fill() ([]byte, error) {
	br := b.pc.br
	if br.Buffered() == 0 && len(b.ahead) > 0 {
		return b.ahead, nil
	}
	if br.Buffered() == 0 {
		b.arm()
		if _, err := br.Peek(1); err != nil {
			return nil, err
		}
	}
	return peekBuffered(br), nil
}

// line returns the next line, CRLF included; it must end with CRLF and fit
// in the read buffer.
func (b *body) line() ([]byte, error) {
	br := b.pc.br
	if bytes.IndexByte(peekBuffered(br), '\n') < 0 {
		b.arm()
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			return nil, ErrReset
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, ErrProtocol
	}
	return line, nil
}

// arm sets the read deadline to ReadTimeout from now.
func (b *body) arm() {
	now := time.Now()
	b.at = now
	_ = b.pc.setReadDeadline(now.Add(b.c.s.ReadTimeout), now)
}

// fail records why the body ended early, as one of the sentinels.
func (b *body) fail(err error) error {
	switch {
	case err == ErrProtocol, err == ErrTooLarge:
	case err == bufio.ErrBufferFull:
		err = ErrProtocol
	case isTimeout(err):
		err = ErrTimeout
	default:
		err = ErrReset
	}
	b.err = err
	return err
}

// parseChunkSize parses "1a2b[;ext]\r\n" strictly: hex digits (at most 15),
// optionally whitespace and extensions after a ';', no control bytes.
func parseChunkSize(line []byte) (int64, bool) {
	line = line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if i == 15 {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
rest:
	if i == 0 {
		return 0, false
	}
	for _, c := range line[i:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return 0, false
		}
	}
	ext := bytes.TrimLeft(line[i:], " \t")
	if len(ext) > 0 && ext[0] != ';' {
		return 0, false
	}
	return n, true
}

// peekBuffered returns br's buffered bytes without reading.
func peekBuffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}
