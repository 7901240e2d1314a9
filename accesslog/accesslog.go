package accesslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Format is the layout of a log line.
type Format uint8

// The formats of Settings.Format.
const (
	// FormatJSON writes one JSON object per line. It is the default.
	FormatJSON Format = iota
	// FormatCommon writes the NCSA common log format followed by the
	// request id and the duration in milliseconds.
	FormatCommon
)

// String returns "json" or "common".
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatCommon:
		return "common"
	}
	return "unknown"
}

// Defaults that a zero field of Settings stands for.
const (
	DefaultBuffer        = 4096
	DefaultFlushInterval = time.Second
)

const (
	// writeBufferSize is the size of the writer goroutine's bufio.Writer.
	writeBufferSize = 64 << 10
	// lineBufferSize is the capacity a new line buffer starts with.
	lineBufferSize = 1024
	// maxPooledLine: a line buffer that grew beyond this many bytes (a
	// request with huge headers) is left to the garbage collector instead
	// of being pooled.
	maxPooledLine = 64 << 10
)

// Settings configure a Logger. Output is required; every other zero value
// stands for a default.
type Settings struct {
	// Output receives the lines. Required. Only the Logger's writer
	// goroutine calls it, so it needs no lock of its own; while it is slow
	// or blocked, lines queue and then drop, Log never waits for it. The
	// Logger does not close it.
	Output io.Writer
	// Format is the layout of the lines. The zero value is FormatJSON.
	Format Format
	// Buffer is how many lines wait for the writer goroutine at most (in
	// lines); a line logged while Buffer lines wait is dropped. 0 means
	// DefaultBuffer (4096).
	Buffer int
	// FlushInterval is the shortest time between two flushes of a
	// partly filled write buffer to Output: lines reach Output when the
	// 64 KiB buffer fills, or at most FlushInterval after they were
	// collected. 0 means DefaultFlushInterval (1s).
	FlushInterval time.Duration
}

func (s Settings) validate() error {
	var errs []error
	if s.Output == nil {
		errs = append(errs, errors.New("accesslog: output: must be set"))
	}
	if s.Format > FormatCommon {
		errs = append(errs, fmt.Errorf("accesslog: format %d: must be FormatJSON or FormatCommon", s.Format))
	}
	if s.Buffer < 0 {
		errs = append(errs, fmt.Errorf("accesslog: buffer %d: must not be negative", s.Buffer))
	}
	if s.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("accesslog: flush interval %v: must not be negative", s.FlushInterval))
	}
	return errors.Join(errs...)
}

// Logger writes access log lines from a goroutine of its own. It is safe
// for concurrent use. See the package documentation for its guarantees.
type Logger struct {
	queue  chan *lineBuffer
	pool   sync.Pool // of *lineBuffer
	format Format

	// dropped sits on a cache line of its own: in a storm of drops, Log
	// writes it at a high rate, which must not slow the writer
	// goroutine's reads of queue and pool.
	_       [64]byte
	dropped atomic.Uint64
	_       [56]byte

	mu     sync.RWMutex // read-held by Log while it queues, held by Close to close queue
	closed bool         // guarded by mu

	closeOnce sync.Once
	kick      chan struct{} // Log's nudge when the queue is half full
	closing   chan struct{} // closed by Close, after the queue
	done      chan struct{} // closed when the writer goroutine has returned
	w         writer        // the writer goroutine's alone until done is closed
}

// lineBuffer holds one formatted line, newline included.
type lineBuffer struct{ b []byte }

// New starts a Logger and its writer goroutine, or returns the errors of
// s, all of them. The caller must Close the Logger.
func New(s Settings) (*Logger, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.Buffer == 0 {
		s.Buffer = DefaultBuffer
	}
	if s.FlushInterval == 0 {
		s.FlushInterval = DefaultFlushInterval
	}
	l := &Logger{
		queue:   make(chan *lineBuffer, s.Buffer),
		format:  s.Format,
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		w: writer{
			out:      s.Output,
			bw:       bufio.NewWriterSize(s.Output, writeBufferSize),
			interval: s.FlushInterval,
		},
	}
	l.pool.New = func() any { return &lineBuffer{b: make([]byte, 0, lineBufferSize)} }
	go l.run()
	return l, nil
}

// Log formats e and queues the line for the writer goroutine. It returns
// false when the line was dropped: the queue was full, or the Logger is
// closed. It never blocks and, in steady state, allocates nothing. e and
// the slices it points to are not retained: the caller may reuse them as
// soon as Log returns.
func (l *Logger) Log(e *Entry) bool {
	if len(l.queue) == cap(l.queue) { // full: don't bother formatting
		l.dropped.Add(1)
		return false
	}
	buf := l.pool.Get().(*lineBuffer)
	if l.format == FormatCommon {
		buf.b = appendCommon(buf.b[:0], e)
	} else {
		buf.b = appendJSON(buf.b[:0], e)
	}
	l.mu.RLock()
	queued := false
	if !l.closed {
		select {
		case l.queue <- buf:
			queued = true
			if len(l.queue) >= cap(l.queue)/2 {
				select {
				case l.kick <- struct{}{}:
				default:
				}
			}
		default:
		}
	}
	l.mu.RUnlock()
	if !queued {
		l.release(buf)
		l.dropped.Add(1)
	}
	return queued
}

// Dropped returns how many lines were dropped so far: the number of Log
// calls that returned false.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Close stops accepting lines, waits until the writer goroutine has
// written every line already queued and flushed them to Output, and
// returns the first error Output returned, if any. While Output blocks,
// Close waits. It is safe to call more than once and from several
// goroutines; each call waits for the same end and returns the same
// error.
func (l *Logger) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.queue)
		close(l.closing)
		l.mu.Unlock()
	})
	<-l.done
	return l.w.err
}

// release returns buf to the pool unless it grew too large.
func (l *Logger) release(buf *lineBuffer) {
	if cap(buf.b) > maxPooledLine {
		return
	}
	l.pool.Put(buf)
}

// drainEvery is how often the writer goroutine collects queued lines
// when fewer than half the queue waits. Lines are collected in batches,
// not one wake-up per line: on a busy gateway the writer takes a slice
// of CPU every drainEvery instead of a context switch per request.
const drainEvery = 20 * time.Millisecond

// run is the writer goroutine: every drainEvery, or when Log finds the
// queue half full, it writes the queued lines in order; it flushes them
// to Output at most once per Settings.FlushInterval; when the queue is
// closed it writes what is left, flushes and returns.
func (l *Logger) run() {
	defer close(l.done)
	w := &l.w
	tick := time.NewTicker(min(drainEvery, w.interval))
	defer tick.Stop()
	var lastFlush time.Time // the zero time: the first flush is at once
	for {
		select {
		case <-tick.C:
		case <-l.kick:
		case <-l.closing:
		}
	drain:
		for {
			select {
			case buf, ok := <-l.queue:
				if !ok {
					w.flush()
					return
				}
				w.write(buf.b)
				l.release(buf)
			default:
				break drain
			}
		}
		if now := time.Now(); w.bw.Buffered() > 0 && now.Sub(lastFlush) >= w.interval {
			w.flush()
			lastFlush = now
		}
	}
}

// writer is the state of the writer goroutine.
type writer struct {
	out      io.Writer
	bw       *bufio.Writer
	interval time.Duration
	err      error // the first error of out; read by Close after done
}

func (w *writer) write(p []byte) {
	if _, err := w.bw.Write(p); err != nil {
		w.fail(err)
	}
}

func (w *writer) flush() {
	if w.bw.Buffered() == 0 {
		return
	}
	if err := w.bw.Flush(); err != nil {
		w.fail(err)
	}
}

// fail keeps the first error and starts afresh: a bufio.Writer's error
// is sticky, and a full disk that frees up should get lines again. The
// lines in the failed write are lost.
func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = fmt.Errorf("accesslog: write: %w", err)
	}
	w.bw.Reset(w.out)
}
