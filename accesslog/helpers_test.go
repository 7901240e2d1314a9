package accesslog

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/testwait"
)

// mustNew is New for settings a test knows to be valid; the Logger is
// closed when the test ends.
func mustNew(t testing.TB, s Settings) *Logger {
	t.Helper()
	l, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// syncBuffer is a bytes.Buffer that a test may read while the writer
// goroutine writes it.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// lines returns the complete lines written so far, without newlines.
func (w *syncBuffer) lines() []string {
	s := w.String()
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// blockingWriter blocks every Write until release is closed. It sends on
// entered, when someone listens, as a Write begins.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	syncBuffer
}

func newBlockingWriter() *blockingWriter {
	return &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.release
	return w.syncBuffer.Write(p)
}

// waitFor waits until cond holds, for at most limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, limit, what, cond)
}

// arrival is the Time of the test entries.
var arrival = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// fullEntry returns an Entry with every field set.
func fullEntry() *Entry {
	return &Entry{
		Time:             arrival,
		RequestID:        []byte("req-1"),
		TraceID:          []byte("4bf92f3577b34da6a3ce929d0e0e4736"),
		Client:           []byte("203.0.113.7"),
		Method:           []byte("GET"),
		Host:             []byte("api.example.com"),
		Path:             []byte("/users/7"),
		Query:            []byte("fields=name"),
		Proto:            []byte("HTTP/1.1"),
		Route:            "users",
		Status:           200,
		BytesIn:          0,
		BytesOut:         512,
		Duration:         12345 * time.Microsecond,
		Upstream:         "10.0.0.5:8080",
		UpstreamDuration: 11001600 * time.Nanosecond,
		Source:           "upstream",
		Headers:          []Header{{Name: "User-Agent", Value: []byte("curl/8.5.0")}},
	}
}

// minimalEntry returns an Entry with only the fields that are always
// written set, byte counts unknown.
func minimalEntry() *Entry {
	return &Entry{
		Time:     arrival,
		Method:   []byte("GET"),
		Path:     []byte("/"),
		Status:   404,
		BytesIn:  -1,
		BytesOut: -1,
		Duration: 42 * time.Microsecond,
	}
}
