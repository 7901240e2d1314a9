package accesslog

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		desc string
		give Settings
		want []string // parts of the error, each of which must be there
	}{
		{desc: "no output", give: Settings{}, want: []string{"accesslog: output: must be set"}},
		{desc: "unknown format", give: Settings{Output: io.Discard, Format: 7}, want: []string{"format 7"}},
		{desc: "negative buffer", give: Settings{Output: io.Discard, Buffer: -1}, want: []string{"buffer -1"}},
		{desc: "negative flush interval", give: Settings{Output: io.Discard, FlushInterval: -time.Second}, want: []string{"flush interval -1s"}},
		{desc: "all errors at once", give: Settings{Buffer: -2, Format: 9}, want: []string{"output", "format 9", "buffer -2"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l, err := New(tt.give)
			if err == nil {
				l.Close()
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLogWritesFormat(t *testing.T) {
	tests := []struct {
		desc string
		give Format
		want string
	}{
		{desc: "zero value is JSON", give: 0, want: wantFullJSON},
		{desc: "JSON", give: FormatJSON, want: wantFullJSON},
		{desc: "common", give: FormatCommon, want: wantFullCommon},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out syncBuffer
			l := mustNew(t, Settings{Output: &out, Format: tt.give})
			if !l.Log(fullEntry()) {
				t.Fatal("Log = false")
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestDocExamples keeps the examples of doc.go those the code writes.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{wantFullJSON, wantFullCommon} {
		if !strings.Contains(string(doc), "//\t"+want) {
			t.Errorf("doc.go lacks the example line\n%s", want)
		}
	}
}

// entryN returns an entry whose request id is prefix and n.
func entryN(prefix string, n int) *Entry {
	e := minimalEntry()
	e.RequestID = strconv.AppendInt([]byte(prefix), int64(n), 10)
	return e
}

// requestIDs decodes the JSON lines and returns their request ids.
func requestIDs(t *testing.T, lines []string) []string {
	t.Helper()
	ids := make([]string, 0, len(lines))
	for _, line := range lines {
		var v struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		ids = append(ids, v.RequestID)
	}
	return ids
}

// TestBlockedWriter stops the writer goroutine in Output.Write: Log must
// keep returning at once, accept exactly Buffer lines, drop and count the
// rest, and after the writer is released every accepted line must be
// written, in order, and Log accept lines again.
func TestBlockedWriter(t *testing.T) {
	const buffer, extra = 8, 5
	out := newBlockingWriter()
	l := mustNew(t, Settings{Output: out, Buffer: buffer})

	if !l.Log(entryN("a", 0)) {
		t.Fatal("first Log = false")
	}
	select { // the writer has taken a0 from the queue and is stuck writing it
	case <-out.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not write the first line")
	}

	start := time.Now()
	for i := 1; i <= buffer; i++ {
		if !l.Log(entryN("a", i)) {
			t.Fatalf("Log of line %d = false with room in the queue", i)
		}
	}
	for i := range extra {
		if l.Log(entryN("dropped", i)) {
			t.Fatalf("Log of extra line %d = true with the queue full", i)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("%d calls of Log took %v with the writer blocked", buffer+extra, took)
	}
	if got := l.Dropped(); got != extra {
		t.Errorf("Dropped = %d, want %d", got, extra)
	}

	close(out.release)
	// Once the writer has taken the waiting lines, there is room again.
	waitFor(t, 5*time.Second, "the waiting lines written", func() bool { return len(out.lines()) == buffer+1 })
	if !l.Log(entryN("a", buffer+1)) {
		t.Error("Log = false after the writer caught up")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := requestIDs(t, out.lines())
	want := make([]string, 0, buffer+2)
	for i := 0; i <= buffer+1; i++ {
		want = append(want, "a"+strconv.Itoa(i))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("written %v, want %v", got, want)
	}
	if got := l.Dropped(); got != extra {
		t.Errorf("Dropped after Close = %d, want %d", got, extra)
	}
}

// TestClose checks that Close flushes a line the flush interval holds
// back, that it is idempotent, and that Log after it returns false.
func TestClose(t *testing.T) {
	var out syncBuffer
	l := mustNew(t, Settings{Output: &out, FlushInterval: time.Hour})
	l.Log(entryN("a", 0))
	waitFor(t, 5*time.Second, "first line written", func() bool { return len(out.lines()) == 1 })
	l.Log(entryN("a", 1)) // within the hour after the first flush: buffered
	time.Sleep(20 * time.Millisecond)
	if n := len(out.lines()); n != 1 {
		t.Fatalf("%d lines written before Close, want 1 (the second is held for FlushInterval)", n)
	}

	var wg sync.WaitGroup
	for range 3 { // concurrent and repeated calls wait for the same end
		wg.Go(func() {
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := requestIDs(t, out.lines()); strings.Join(got, " ") != "a0 a1" {
		t.Errorf("written %v, want [a0 a1]", got)
	}
	if l.Log(entryN("late", 0)) {
		t.Error("Log after Close = true")
	}
	if got := l.Dropped(); got != 1 {
		t.Errorf("Dropped = %d, want 1 (the line after Close)", got)
	}
	if n := len(out.lines()); n != 2 {
		t.Errorf("%d lines after Log on a closed Logger, want 2", n)
	}
}

// TestIdleFlush checks that a line held back by FlushInterval reaches
// Output without Close, and that the writes are batched.
func TestIdleFlush(t *testing.T) {
	var out syncBuffer
	l := mustNew(t, Settings{Output: &out, FlushInterval: 50 * time.Millisecond})
	l.Log(entryN("a", 0))
	waitFor(t, 5*time.Second, "first line written", func() bool { return len(out.lines()) == 1 })
	for i := 1; i <= 10; i++ {
		l.Log(entryN("a", i))
	}
	waitFor(t, 5*time.Second, "lines flushed when idle", func() bool { return len(out.lines()) == 11 })
	out.mu.Lock()
	writes := out.writes
	out.mu.Unlock()
	if writes > 3 {
		t.Errorf("%d writes for 11 lines, want the last 10 batched", writes)
	}
}

// TestIdleLoggerSleeps checks that the writer goroutine does not wake
// while no line waits: an idle gateway with an access log must not
// spend its core on a ticker.
func TestIdleLoggerSleeps(t *testing.T) {
	var out syncBuffer
	l := mustNew(t, Settings{Output: &out, FlushInterval: 5 * time.Millisecond})
	l.Log(entryN("a", 0))
	waitFor(t, 5*time.Second, "first line written", func() bool { return len(out.lines()) == 1 })
	time.Sleep(100 * time.Millisecond) // twenty flush intervals with nothing to write
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// One round for the line, one for Close; a slower machine can only
	// count fewer idle rounds, never more.
	if l.w.rounds > 3 {
		t.Errorf("writer woke %d times for one line and Close, want at most 3", l.w.rounds)
	}
}

// TestCloseDuringLog logs from several goroutines while Close runs: no
// panic, and exactly the accepted lines are written, each goroutine's in
// the order of its calls.
func TestCloseDuringLog(t *testing.T) {
	const goroutines, perGoroutine = 8, 500
	var out syncBuffer
	l := mustNew(t, Settings{Output: &out, Buffer: 64})
	accepted := make([][]int, goroutines)
	var logged atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			prefix := string(rune('a'+g)) + "-"
			for i := range perGoroutine {
				if l.Log(entryN(prefix, i)) {
					accepted[g] = append(accepted[g], i)
				}
				logged.Add(1)
			}
		})
	}
	// Close while the goroutines log: once every one may have started.
	waitFor(t, 5*time.Second, "logging under way", func() bool { return logged.Load() >= goroutines })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	written := make([][]int, goroutines)
	for _, id := range requestIDs(t, out.lines()) {
		g := int(id[0] - 'a')
		i, err := strconv.Atoi(id[2:])
		if err != nil {
			t.Fatal(err)
		}
		written[g] = append(written[g], i)
	}
	total := 0
	for g := range goroutines {
		total += len(accepted[g])
		if a, w := join(accepted[g]), join(written[g]); a != w {
			t.Errorf("goroutine %d: accepted %s\nwritten %s", g, a, w)
		}
	}
	if want := uint64(goroutines*perGoroutine - total); l.Dropped() != want {
		t.Errorf("Dropped = %d, want %d (calls that returned false)", l.Dropped(), want)
	}
}

func join(ns []int) string {
	var b []byte
	for _, n := range ns {
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ',')
	}
	return string(b)
}

// failingWriter fails every write while fail is set.
type failingWriter struct {
	syncBuffer
	mu       sync.Mutex
	fail     bool
	attempts int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	fail := w.fail
	w.attempts++
	w.mu.Unlock()
	if fail {
		return 0, errDiskFull
	}
	return w.syncBuffer.Write(p)
}

// TestWriteError checks that Close reports Output's first error and that
// the writer writes again once Output recovers.
func TestWriteError(t *testing.T) {
	out := &failingWriter{fail: true}
	l := mustNew(t, Settings{Output: out, FlushInterval: time.Millisecond})
	l.Log(entryN("lost", 0))
	waitFor(t, 5*time.Second, "a failed write", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.attempts > 0
	})
	out.mu.Lock()
	out.fail = false
	out.mu.Unlock()
	l.Log(entryN("a", 1))
	err := l.Close()
	if !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "accesslog: write: ") {
		t.Errorf("Close = %v, want accesslog: write: %v", err, errDiskFull)
	}
	if got := requestIDs(t, out.lines()); strings.Join(got, " ") != "a1" {
		t.Errorf("written %v, want [a1]", got)
	}
}
