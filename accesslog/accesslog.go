package accesslog

import (
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
	// batchSize is how many bytes of waiting lines make the writer
	// goroutine take them at once instead of at the next FlushInterval.
	batchSize = 64 << 10
	// stackLine is the line a call of Log formats without a heap
	// allocation; a longer one (huge logged headers) allocates.
	stackLine = 1024
	// bytesPerLine is what Settings.Buffer allows per line on top of
	// batchSize: the lines waiting take at most Buffer KiB plus a batch.
	bytesPerLine = 1 << 10
)

// Settings configure a Logger. Output is required; every other zero value
// stands for a default.
type Settings struct {
	// Output receives the lines. Required. Only the Logger's writer
	// goroutine calls it, so it needs no lock of its own; while it is slow
	// or blocked, lines wait and then drop, Log never waits for it. The
	// Logger does not close it.
	Output io.Writer
	// Format is the layout of the lines. The zero value is FormatJSON.
	Format Format
	// Buffer is how many lines wait for the writer goroutine at most (in
	// lines; they also take at most Buffer KiB plus 64 KiB); a line
	// logged while the buffer is full is dropped. 0 means DefaultBuffer
	// (4096).
	Buffer int
	// FlushInterval is the longest time a line waits before it is
	// handed to Output while fewer than 64 KiB of lines wait: under load
	// lines go out in 64 KiB writes, an idle log is written within
	// FlushInterval. 0 means DefaultFlushInterval (1s).
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
	format   Format
	maxLines int
	maxBytes int

	// mu guards the lines waiting: Log appends a formatted line under
	// it, the writer goroutine swaps the batch out under it. No I/O
	// happens while it is held.
	mu      sync.Mutex
	pending []byte // complete lines, in the order Log accepted them
	lines   int    // lines in pending
	closed  bool

	// full is set while no line fits (or the Logger is closed), so
	// that Log drops without formatting.
	full    atomic.Bool
	dropped atomic.Uint64

	closeOnce sync.Once
	kick      chan struct{} // Log's nudge when a batch is ready
	wake      chan struct{} // Log's nudge when the first line is waiting
	closing   chan struct{} // closed by Close
	done      chan struct{} // closed when the writer goroutine has returned
	w         writer        // the writer goroutine's alone until done is closed
}

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
		format:   s.Format,
		maxLines: s.Buffer,
		maxBytes: s.Buffer*bytesPerLine + batchSize,
		pending:  make([]byte, 0, batchSize+stackLine),
		kick:     make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		w: writer{
			out:      s.Output,
			batch:    make([]byte, 0, batchSize+stackLine),
			interval: s.FlushInterval,
		},
	}
	go l.run()
	return l, nil
}

// Log formats e and appends the line to those waiting for the writer
// goroutine. It returns false when the line was dropped: the buffer was
// full, or the Logger is closed. It never waits for I/O and, in steady
// state, allocates nothing. e and the slices it points to are not
// retained: the caller may reuse them as soon as Log returns.
func (l *Logger) Log(e *Entry) bool {
	if l.full.Load() {
		l.dropped.Add(1)
		return false
	}
	var stack [stackLine]byte
	var line []byte
	if l.format == FormatCommon {
		line = appendCommon(stack[:0], e)
	} else {
		line = appendJSON(stack[:0], e)
	}
	l.mu.Lock()
	if l.closed || l.lines == l.maxLines || len(l.pending)+len(line) > l.maxBytes {
		l.mu.Unlock()
		l.dropped.Add(1)
		return false
	}
	l.pending = append(l.pending, line...)
	l.lines++
	if l.lines == l.maxLines || len(l.pending) > l.maxBytes-stackLine {
		l.full.Store(true)
	}
	first := l.lines == 1
	ready := len(l.pending) >= batchSize || l.lines >= l.maxLines/2
	l.mu.Unlock()
	if first {
		nudge(l.wake)
	}
	if ready {
		nudge(l.kick)
	}
	return true
}

// nudge wakes the writer goroutine through c unless a nudge is waiting.
func nudge(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Dropped returns how many lines were dropped so far: the number of Log
// calls that returned false.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Close stops accepting lines, waits until the writer goroutine has
// written every line already accepted, and returns the first error
// Output returned, if any. While Output blocks, Close waits. It is safe
// to call more than once and from several goroutines; each call waits for
// the same end and returns the same error.
func (l *Logger) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.full.Store(true)
		l.mu.Unlock()
		close(l.closing)
	})
	<-l.done
	return l.w.err
}

// run is the writer goroutine: it takes the waiting lines and writes
// them to Output in one call when a batch is ready (Log's kick), at most
// once per FlushInterval otherwise (at once when the last such write is
// older), and a last time when the Logger closes. It sleeps while no
// line waits: an idle Logger costs no wake-ups.
func (l *Logger) run() {
	defer close(l.done)
	w := &l.w
	t := time.NewTimer(time.Hour)
	t.Stop()
	var (
		flush <-chan time.Time // t's channel while a timed write is due
		last  time.Time        // of the last timed write
	)
	for {
		w.rounds++
		select {
		case <-l.wake:
			if flush != nil {
				continue
			}
			if wait := w.interval - time.Since(last); wait > 0 {
				t.Reset(wait)
				flush = t.C
				continue
			}
		case <-flush:
			flush = nil
		case <-l.kick:
			l.take()
			w.write()
			continue
		case <-l.closing:
			l.take()
			w.write()
			return
		}
		if l.take() {
			last = time.Now()
			w.write()
		}
	}
}

// take swaps the waiting lines into the writer's batch, which must be
// empty, gives Log the batch's buffer to fill, and reports whether any
// line was waiting.
func (l *Logger) take() bool {
	w := &l.w
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == 0 {
		return false
	}
	l.pending, w.batch = w.batch[:0], l.pending
	l.lines = 0
	if !l.closed {
		l.full.Store(false)
	}
	return true
}

// writer is the state of the writer goroutine.
type writer struct {
	out      io.Writer
	batch    []byte // lines taken from Log, being written
	interval time.Duration
	err      error  // the first error of out; read by Close after done
	rounds   uint64 // times the goroutine woke, for tests; read after done
}

// write hands the batch to Output and empties it. When Output fails, the
// first error is kept and the batch is lost; the next batch is tried
// again, so that a full disk that frees up gets lines again.
func (w *writer) write() {
	if len(w.batch) == 0 {
		return
	}
	if _, err := w.out.Write(w.batch); err != nil && w.err == nil {
		w.err = fmt.Errorf("accesslog: write: %w", err)
	}
	w.batch = w.batch[:0]
}
